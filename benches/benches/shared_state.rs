//! Scenario 5: circuit breakers (admit + record success, closed) and retry
//! budgets (granted withdrawals), on one thread and on two threads sharing
//! one instance. With two threads, each runs the operation `iters` times at
//! once; the reported time is the wall time per operation per thread, so it
//! equals the one-thread time when sharing costs nothing.

use std::hint::black_box;
use std::thread;
use std::time::Instant;

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use redress::{Clock, SystemClock};
use redress_benches::shared::{Breakers, Budgets, NOW_GIVEN, RATIO, ROLLING, TPS};
use redress_benches::{group, lib};

fn two_threads<F: Fn() -> bool + Sync>(b: &mut Bencher<'_>, op: F) {
    b.iter_custom(|iters| {
        thread::scope(|s| {
            let start = Instant::now();
            let other = s.spawn(|| {
                for _ in 0..iters {
                    black_box(op());
                }
            });
            for _ in 0..iters {
                black_box(op());
            }
            let _ = other.join();
            start.elapsed()
        })
    });
}

fn breakers(c: &mut Criterion) {
    let breakers = Breakers::new();
    let now = SystemClock.now();

    let mut g = c.benchmark_group(group::BREAKER_1);
    g.bench_function(lib::REDRESS, |b| b.iter(|| black_box(&breakers).redress()));
    g.bench_function(NOW_GIVEN, |b| {
        b.iter(|| black_box(&breakers).redress_at(now))
    });
    g.bench_function(lib::FAILSAFE, |b| {
        b.iter(|| black_box(&breakers).failsafe())
    });
    g.bench_function(lib::RECLOSER, |b| {
        b.iter(|| black_box(&breakers).recloser())
    });
    g.bench_function(lib::TOWER_RESILIENCE, |b| {
        b.iter(|| black_box(&breakers).tower_resilience())
    });
    g.finish();

    let mut g = c.benchmark_group(group::BREAKER_2);
    g.bench_function(lib::REDRESS, |b| {
        two_threads(b, || black_box(&breakers).redress())
    });
    g.bench_function(NOW_GIVEN, |b| {
        two_threads(b, || black_box(&breakers).redress_at(now))
    });
    g.bench_function(lib::FAILSAFE, |b| {
        two_threads(b, || black_box(&breakers).failsafe())
    });
    g.bench_function(lib::RECLOSER, |b| {
        two_threads(b, || black_box(&breakers).recloser())
    });
    g.bench_function(lib::TOWER_RESILIENCE, |b| {
        two_threads(b, || black_box(&breakers).tower_resilience())
    });
    g.finish();
}

fn budgets(c: &mut Criterion) {
    let budgets = Budgets::new();

    let mut g = c.benchmark_group(group::BUDGET_1);
    g.bench_function(ROLLING, |b| {
        b.iter(|| black_box(&budgets).redress_rolling())
    });
    g.bench_function(RATIO, |b| b.iter(|| black_box(&budgets).redress_ratio()));
    g.bench_function(TPS, |b| b.iter(|| black_box(&budgets).tower()));
    g.finish();

    let mut g = c.benchmark_group(group::BUDGET_2);
    g.bench_function(ROLLING, |b| {
        two_threads(b, || black_box(&budgets).redress_rolling())
    });
    g.bench_function(RATIO, |b| {
        two_threads(b, || black_box(&budgets).redress_ratio())
    });
    g.bench_function(TPS, |b| two_threads(b, || black_box(&budgets).tower()));
    g.finish();
}

criterion_group! {
    name = shared_state;
    config = redress_benches::criterion();
    targets = breakers, budgets
}
criterion_main!(shared_state);
