//! Scenarios 1 to 3: one complete call through each library.
//!
//! 1. success on the first attempt, blocking, against a direct call;
//! 2. the same on tokio's current-thread runtime;
//! 3. three failures then success with zero delays, blocking and on tokio,
//!    so the per-retry decision cost shows.
//!
//! Async calls run back to back inside one `block_on`, so the runtime's
//! entry cost is not counted.

use std::future::Future;
use std::hint::black_box;
use std::time::Instant;

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use redress_benches::blocking::Blocking;
use redress_benches::tokio_rt::{self, Tokio};
use redress_benches::{RETRIES, Script, SharedScript, group, lib};
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

fn success_blocking(c: &mut Criterion) {
    let libs = Blocking::new();
    let op = Script::new(0);
    let mut g = c.benchmark_group(group::SUCCESS_BLOCKING);
    g.bench_function(lib::DIRECT, |b| b.iter(|| black_box(&libs).direct(&op)));
    g.bench_function(lib::REDRESS, |b| b.iter(|| black_box(&libs).redress(&op)));
    g.bench_function(lib::REDRESS_COARSE_CLOCK, |b| {
        b.iter(|| black_box(&libs).redress_coarse_clock(&op, false))
    });
    g.bench_function(lib::REDRESS_VIRTUAL_CLOCK, |b| {
        b.iter(|| black_box(&libs).redress_virtual_clock(&op))
    });
    g.bench_function(lib::BACKON, |b| b.iter(|| black_box(&libs).backon(&op)));
    g.bench_function(lib::BACKOFF, |b| b.iter(|| black_box(&libs).backoff(&op)));
    g.finish();
}

fn success_tokio(c: &mut Criterion) {
    let rt = tokio_rt::runtime();
    let libs = Tokio::new();
    let op = Script::new(0);
    let mut g = c.benchmark_group(group::SUCCESS_TOKIO);
    g.bench_function(lib::DIRECT, |b| {
        on_tokio(b, &rt, || black_box(&libs).direct(&op))
    });
    g.bench_function(lib::REDRESS, |b| {
        on_tokio(b, &rt, || black_box(&libs).redress(&op))
    });
    g.bench_function(lib::REDRESS_COARSE_CLOCK, |b| {
        on_tokio(b, &rt, || black_box(&libs).redress_coarse_clock(&op, false))
    });
    g.bench_function(lib::BACKON, |b| {
        on_tokio(b, &rt, || black_box(&libs).backon(&op))
    });
    g.bench_function(lib::BACKOFF, |b| {
        on_tokio(b, &rt, || black_box(&libs).backoff(&op))
    });
    g.bench_function(lib::TOKIO_RETRY, |b| {
        on_tokio(b, &rt, || black_box(&libs).tokio_retry(&op, 250));
    });
    g.bench_function(lib::TOKIO_RETRY2, |b| {
        on_tokio(b, &rt, || black_box(&libs).tokio_retry2(&op, 250));
    });
    g.bench_function(lib::TOWER, |b| {
        on_tokio(b, &rt, || black_box(&libs).tower(&op))
    });
    let shared = SharedScript::new(0);
    g.bench_function(lib::TOWER_RESILIENCE, |b| {
        on_tokio(b, &rt, || black_box(&libs).tower_resilience(&shared, false))
    });
    g.finish();
}

fn retries_blocking(c: &mut Criterion) {
    let libs = Blocking::new();
    let op = Script::new(RETRIES);
    let mut g = c.benchmark_group(group::RETRIES_BLOCKING);
    g.bench_function(lib::DIRECT, |b| b.iter(|| black_box(&libs).direct(&op)));
    g.bench_function(lib::REDRESS, |b| {
        b.iter(|| black_box(&libs).redress_instant(&op))
    });
    g.bench_function(lib::REDRESS_COARSE_CLOCK, |b| {
        b.iter(|| black_box(&libs).redress_coarse_clock(&op, true))
    });
    g.bench_function(lib::REDRESS_VIRTUAL_CLOCK, |b| {
        b.iter(|| black_box(&libs).redress_virtual_clock(&op))
    });
    g.bench_function(lib::BACKON, |b| {
        b.iter(|| black_box(&libs).backon_instant(&op))
    });
    g.bench_function(lib::BACKOFF, |b| {
        b.iter(|| black_box(&libs).backoff_zero(&op))
    });
    g.finish();
}

fn retries_tokio(c: &mut Criterion) {
    let rt = tokio_rt::runtime();
    let libs = Tokio::new();
    let op = Script::new(RETRIES);
    let mut g = c.benchmark_group(group::RETRIES_TOKIO);
    g.bench_function(lib::DIRECT, |b| {
        on_tokio(b, &rt, || black_box(&libs).direct(&op))
    });
    g.bench_function(lib::REDRESS, |b| {
        on_tokio(b, &rt, || black_box(&libs).redress_instant(&op));
    });
    g.bench_function(lib::REDRESS_COARSE_CLOCK, |b| {
        on_tokio(b, &rt, || black_box(&libs).redress_coarse_clock(&op, true));
    });
    g.bench_function(lib::BACKON, |b| {
        on_tokio(b, &rt, || black_box(&libs).backon_instant(&op));
    });
    g.bench_function(lib::BACKOFF, |b| {
        on_tokio(b, &rt, || black_box(&libs).backoff_instant(&op));
    });
    g.bench_function(lib::TOKIO_RETRY, |b| {
        on_tokio(b, &rt, || black_box(&libs).tokio_retry(&op, 0));
    });
    g.bench_function(lib::TOKIO_RETRY2, |b| {
        on_tokio(b, &rt, || black_box(&libs).tokio_retry2(&op, 0));
    });
    g.bench_function(lib::TOWER, |b| {
        on_tokio(b, &rt, || black_box(&libs).tower(&op))
    });
    let shared = SharedScript::new(RETRIES);
    g.bench_function(lib::TOWER_RESILIENCE, |b| {
        on_tokio(b, &rt, || black_box(&libs).tower_resilience(&shared, true))
    });
    g.finish();
}

criterion_group! {
    name = call;
    config = redress_benches::criterion();
    targets = success_blocking, success_tokio, retries_blocking, retries_tokio
}
criterion_main!(call);
