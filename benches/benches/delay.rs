//! Scenario 4: delay computation alone, for each strategy and the peers'
//! equivalents (see `redress_benches::delay` for the mapping). Each
//! iteration computes the delays of one call that retries
//! `SCHEDULE_LEN` times; the reported time is per delay.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use redress_benches::delay::Delays;
use redress_benches::{SCHEDULE_LEN, group, lib};

/// Times `schedule()`, reporting the time per delay.
fn per_delay(b: &mut Bencher<'_>, mut schedule: impl FnMut() -> Duration) {
    b.iter_custom(|iters| {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(schedule());
        }
        start
            .elapsed()
            .checked_div(SCHEDULE_LEN)
            .unwrap_or_default()
    });
}

fn delays(c: &mut Criterion) {
    let d = Delays::new();

    let mut g = c.benchmark_group(group::DELAY_EXPONENTIAL);
    g.bench_function(lib::REDRESS, |b| {
        per_delay(b, || black_box(&d).redress_exponential())
    });
    g.bench_function(lib::BACKON, |b| {
        per_delay(b, || black_box(&d).backon_exponential())
    });
    g.bench_function(lib::BACKOFF, |b| {
        per_delay(b, || black_box(&d).backoff_exponential())
    });
    g.bench_function(lib::TOKIO_RETRY, |b| {
        per_delay(b, || black_box(&d).tokio_retry_exponential());
    });
    g.bench_function(lib::TOKIO_RETRY2, |b| {
        per_delay(b, || black_box(&d).tokio_retry2_exponential());
    });
    g.bench_function(lib::TOWER_RESILIENCE, |b| {
        per_delay(b, || black_box(&d).tower_resilience_exponential());
    });
    g.finish();

    let mut g = c.benchmark_group(group::DELAY_FULL);
    g.bench_function(lib::REDRESS, |b| {
        per_delay(b, || black_box(&d).redress_full())
    });
    g.bench_function(lib::BACKOFF, |b| {
        per_delay(b, || black_box(&d).backoff_full())
    });
    g.bench_function(lib::TOKIO_RETRY, |b| {
        per_delay(b, || black_box(&d).tokio_retry_full())
    });
    g.bench_function(lib::TOKIO_RETRY2, |b| {
        per_delay(b, || black_box(&d).tokio_retry2_full())
    });
    g.bench_function(lib::TOWER_RESILIENCE, |b| {
        per_delay(b, || black_box(&d).tower_resilience_full())
    });
    g.finish();

    let mut g = c.benchmark_group(group::DELAY_EQUAL);
    g.bench_function(lib::REDRESS, |b| {
        per_delay(b, || black_box(&d).redress_equal())
    });
    g.bench_function(lib::BACKON, |b| {
        per_delay(b, || black_box(&d).backon_equal())
    });
    g.bench_function(lib::BACKOFF, |b| {
        per_delay(b, || black_box(&d).backoff_equal())
    });
    g.bench_function(lib::TOKIO_RETRY2, |b| {
        per_delay(b, || black_box(&d).tokio_retry2_equal());
    });
    g.bench_function(lib::TOWER_RESILIENCE, |b| {
        per_delay(b, || black_box(&d).tower_resilience_equal())
    });
    g.finish();

    let mut g = c.benchmark_group(group::DELAY_DECORRELATED);
    g.bench_function(lib::REDRESS, |b| {
        per_delay(b, || black_box(&d).redress_decorrelated())
    });
    g.finish();
}

criterion_group! {
    name = delay;
    config = redress_benches::criterion();
    targets = delays
}
criterion_main!(delay);
