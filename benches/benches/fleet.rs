//! Scenario 8: the fleet breaker of `redress-redis` against the local one.
//!
//! 8a. Closed-path admission (admit + record success at a given time), the
//! local `CircuitBreaker` and the `FleetBreaker`, one thread. The fleet
//! breaker never calls Redis here; its cost over the local one is the read
//! of the fleet's mode.
//!
//! 8b (printed, not timed). Redis commands per call at a steady load: one
//! thread calls through a policy with a fleet breaker and a fleet budget at
//! 1000 calls a second for 3 s, one call in ten failing once and retried,
//! and the store's command count is divided by the calls. With
//! `REDRESS_FLEET_OUT` set, the counts (calls, commands) go to that file
//! for `cargo xtask bench`'s report.
//!
//! With `REDRESS_REDIS_URL` set (`cargo xtask services up`), both use that
//! Redis. Without it, 8a builds the fleet breaker on a store where nothing
//! listens (its closed path is the same) and 8b is skipped.

#![allow(
    clippy::print_stdout,
    clippy::arithmetic_side_effects,
    clippy::expect_used
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use redress::backoff::constant;
use redress::breaker::{Breaker, CallResult};
use redress::redis::{FleetBreaker, FleetBudget, FleetStore};
use redress::{BlockingPolicy, CircuitBreaker, Clock, Policy, SystemClock};
use redress_benches::{Flaky, FlakyClassifier};

/// The criterion group.
const GROUP: &str = "8-fleet-breaker-closed";

fn prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("bench-fleet-{}-{nanos}", std::process::id())
}

fn admit_and_succeed(breaker: &dyn Breaker, now: Duration) -> bool {
    match breaker.acquire(now) {
        Ok(admission) => breaker
            .record(&admission, CallResult::Success, now)
            .is_none(),
        Err(_) => false,
    }
}

fn closed_admission(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let url = std::env::var("REDRESS_REDIS_URL").unwrap_or_else(|_| {
        println!("fleet: REDRESS_REDIS_URL is not set: the fleet breaker runs against no store");
        "redis://127.0.0.1:1".to_owned()
    });
    let store = FleetStore::builder(url.as_str())
        .prefix(prefix())
        .runtime(runtime.handle().clone())
        .build()
        .expect("a store");
    let fleet = FleetBreaker::builder("closed")
        .build(&store)
        .expect("a fleet breaker");
    let local = CircuitBreaker::builder().build().expect("a breaker");
    let now = SystemClock.now();

    let mut g = c.benchmark_group(GROUP);
    g.bench_function("CircuitBreaker (local)", |b| {
        b.iter(|| admit_and_succeed(black_box(&local), now))
    });
    g.bench_function("FleetBreaker", |b| {
        b.iter(|| admit_and_succeed(black_box(&fleet), now))
    });
    g.finish();

    if std::env::var("REDRESS_REDIS_URL").is_ok() {
        commands_per_call(&runtime, &url);
    } else {
        println!("fleet: commands per call skipped (needs REDRESS_REDIS_URL)");
    }
}

/// 8b: Redis commands per call at 1000 calls a second.
fn commands_per_call(runtime: &tokio::runtime::Runtime, url: &str) {
    let store = FleetStore::builder(url)
        .prefix(prefix())
        .runtime(runtime.handle().clone())
        .build()
        .expect("a store");
    let breaker = Arc::new(
        FleetBreaker::builder("steady")
            .failure_threshold(1000)
            .build(&store)
            .expect("a fleet breaker"),
    );
    let budget = Arc::new(
        FleetBudget::rolling("steady", 10_000, Duration::from_secs(60))
            .build(&store)
            .expect("a fleet budget"),
    );
    let policy = Policy::builder()
        .classifier(FlakyClassifier)
        .strategy(constant(Duration::ZERO))
        .max_attempts(2)
        .circuit_breaker(breaker)
        .budget(budget)
        .build()
        .expect("a policy");
    let before = store.commands();
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_secs(3) {
        let mut fail_first = calls.is_multiple_of(10);
        let result = policy.call(|| {
            if std::mem::replace(&mut fail_first, false) {
                Err(Flaky)
            } else {
                Ok(())
            }
        });
        black_box(result.is_ok());
        calls += 1;
        // 1000 calls a second.
        let due = start + Duration::from_millis(calls);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let commands = store.commands() - before;
    if let Some(path) = std::env::var_os("REDRESS_FLEET_OUT") {
        let line = format!("{calls}\t{commands}\n");
        if let Err(error) = std::fs::write(&path, line) {
            println!("fleet: cannot write {}: {error}", path.to_string_lossy());
        }
    }
    println!(
        "fleet: steady load: {calls} calls in {:.1} s, {commands} Redis commands: {:.4} commands per call",
        start.elapsed().as_secs_f64(),
        commands as f64 / calls as f64
    );
}

criterion_group! {
    name = fleet;
    config = redress_benches::criterion();
    targets = closed_admission
}
criterion_main!(fleet);
