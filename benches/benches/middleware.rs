//! Scenario 7: one reqwest call through a retry middleware (redress's
//! `RedressMiddleware`, reqwest-retry's `RetryTransientMiddleware`) and
//! through reqwest alone, against one scripted server on loopback.
//!
//! Calls run back to back inside one `block_on` on a current-thread
//! runtime; the server answers on a thread of its own.

use std::future::Future;
use std::hint::black_box;
use std::time::Instant;

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use redress_benches::middleware::{self, Clients};
use redress_benches::{group, lib};
use tokio::runtime::Runtime;

/// Times `call()` awaited back to back on `rt`.
fn on_tokio<F, Fut>(b: &mut Bencher<'_>, rt: &Runtime, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: Future,
{
    b.iter_custom(|iters| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(call().await);
            }
            start.elapsed()
        })
    });
}

fn reqwest_middleware(c: &mut Criterion) {
    let rt = middleware::runtime();
    let clients = Clients::new();
    let mut g = c.benchmark_group(group::REQWEST_MIDDLEWARE);
    g.bench_function(lib::DIRECT, |b| {
        on_tokio(b, &rt, || black_box(&clients).direct())
    });
    g.bench_function(lib::REDRESS, |b| {
        on_tokio(b, &rt, || black_box(&clients).redress())
    });
    g.bench_function(middleware::lib::REQWEST_RETRY, |b| {
        on_tokio(b, &rt, || black_box(&clients).reqwest_retry())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = redress_benches::criterion();
    targets = reqwest_middleware
}
criterion_main!(benches);
