//! The blocking runner allocates nothing per call.
//!
//! A counting global allocator (`allocation-counter`) watches each
//! scenario: the policy is built and the call site bound first, one warm-up
//! call runs (it may initialize lazily created process or thread state: the
//! system clock's epoch, the thread's seed stream), and then the measured
//! call must make exactly zero allocations and deallocations (a
//! reallocation counts as both). Only the measuring thread's allocations
//! count, so other test threads cannot disturb a measurement.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::cell::Cell;
use std::fmt;
use std::io;
use std::time::Duration;

use redress_core::backoff::{constant, decorrelated_jitter, retry_after_or};
use redress_core::{
    Classification, ErrorClass, EventKind, ManualClock, Policy, SleepDecision, StopReason,
};
use redress_sync::BlockingPolicy;

/// What one measured run allocated and freed, on this thread.
#[derive(Clone, Copy, Debug)]
struct Stats {
    allocations: u64,
    deallocations: u64,
}

/// A plain error that allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Flaky {
    class: ErrorClass,
}

impl fmt::Display for Flaky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flaky ({})", self.class)
    }
}

impl std::error::Error for Flaky {}

/// Runs `f` once to warm up, then again under a fresh region; returns what
/// the second run allocated.
fn measure<R>(mut f: impl FnMut() -> R) -> (R, Stats) {
    drop(f());
    let mut r = None;
    let info = allocation_counter::measure(|| r = Some(f()));
    let stats = Stats {
        allocations: info.count_total,
        deallocations: info.count_total - info.count_current.max(0) as u64,
    };
    (r.unwrap(), stats)
}

fn allocated(stats: &Stats) -> bool {
    stats.allocations != 0 || stats.deallocations != 0
}

/// An operation failing `failures` times with `class`, then succeeding.
fn fails_then_ok(calls: &Cell<u32>, failures: u32, class: ErrorClass) -> Result<u32, Flaky> {
    let n = calls.get() + 1;
    calls.set(n);
    if n <= failures {
        Err(Flaky { class })
    } else {
        Ok(n)
    }
}

#[test]
fn calls_allocate_nothing() {
    let mut report: Vec<(&'static str, Stats)> = Vec::new();

    // The counter works: a box is one allocation and one deallocation.
    let ((), stats) = measure(|| drop(std::hint::black_box(Box::new(1u64))));
    assert_eq!((stats.allocations, stats.deallocations), (1, 1));

    let policy = Policy::builder()
        .classifier(|e: &Flaky| e.class)
        .strategy(constant(Duration::from_millis(10)))
        .max_attempts(4)
        .build()
        .unwrap();

    // 1. A successful call through `policy.call` (system clock, thread sleeper).
    let (r, stats) = measure(|| policy.call(|| Ok::<_, Flaky>(42)));
    assert_eq!(r.unwrap(), 42);
    report.push(("policy.call success", stats));

    // 2. Three failures, then success, with a sleeper that does nothing ...
    let noop = policy.bind().sleeper(|_: Duration| {});
    let calls = Cell::new(0);
    let (r, stats) = measure(|| {
        calls.set(0);
        noop.call(|| fails_then_ok(&calls, 3, ErrorClass::Transient))
    });
    assert_eq!(r.unwrap(), 4);
    report.push(("3 failures then success, no-op sleeper", stats));

    // ... and with a manual clock the sleeper advances.
    let clock = ManualClock::new();
    let manual = policy
        .bind()
        .clock(&clock)
        .sleeper(|d: Duration| clock.advance(d));
    let (r, stats) = measure(|| {
        calls.set(0);
        manual.call(|| fails_then_ok(&calls, 3, ErrorClass::ServerError))
    });
    assert_eq!(r.unwrap(), 4);
    report.push(("3 failures then success, manual clock", stats));

    // 3. The same with closure hooks that do not allocate.
    let events = Cell::new(0u32);
    let metrics = Cell::new(Duration::ZERO);
    let starts = Cell::new(0u32);
    let ends = Cell::new(0u32);
    let logged = Cell::new(0u32);
    let hooked = policy
        .bind()
        .operation("fetch")
        .clock(&clock)
        .sleeper(|d: Duration| clock.advance(d))
        .on_event(|e| {
            if e.kind == EventKind::Retry {
                events.set(events.get() + 1);
            }
        })
        .on_metric(|name, attempt, delay, tags| {
            if name == "retry" && tags.get("class") == Some("TRANSIENT") {
                metrics.set(metrics.get() + delay * attempt);
            }
        })
        .on_log(|_, fields| {
            if fields.retry_after().is_none() {
                logged.set(logged.get() + 1);
            }
        })
        .abort_if(|| false)
        .on_attempt_start(|a| starts.set(starts.get() + a.attempt))
        .on_attempt_end(|a| {
            if a.delay.is_some() {
                ends.set(ends.get() + 1);
            }
        })
        .before_sleep(|ctx, _| assert!(ctx.attempt >= 1))
        .sleep_decision(|_, _| SleepDecision::Sleep)
        .seed(7);
    let (r, stats) = measure(|| {
        calls.set(0);
        hooked.call(|| fails_then_ok(&calls, 3, ErrorClass::Transient))
    });
    assert_eq!(r.unwrap(), 4);
    assert_eq!(events.get(), 6, "3 retries per call, two calls");
    assert_eq!(starts.get(), 2 * (1 + 2 + 3 + 4));
    assert_eq!(ends.get(), 6);
    assert_eq!(logged.get(), 8);
    assert_eq!(metrics.get(), Duration::from_millis(2 * 10 * (1 + 2 + 3)));
    report.push(("3 failures then success, closure hooks", stats));

    // 4. A call that exhausts its attempts and returns a RetryError.
    let (r, stats) = measure(|| {
        manual.call(|| {
            Err::<u32, _>(Flaky {
                class: ErrorClass::Transient,
            })
        })
    });
    let err = r.unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.attempts, 4);
    assert_eq!(
        err.last_error(),
        Some(&Flaky {
            class: ErrorClass::Transient
        })
    );
    report.push(("exhausted attempts -> RetryError", stats));

    // 5. The default classifier on std::io::Error kinds, unseeded jitter.
    let io_policy = Policy::builder()
        .strategy(decorrelated_jitter().base(Duration::from_millis(1)))
        .build()
        .unwrap();
    let io_bound = io_policy
        .bind()
        .clock(&clock)
        .sleeper(|d: Duration| clock.advance(d));
    let (r, stats) =
        measure(|| io_bound.call(|| Err::<(), _>(io::Error::from(io::ErrorKind::ConnectionReset))));
    assert_eq!(r.unwrap_err().stop_reason, StopReason::MaxAttemptsGlobal);
    report.push(("io::Error via default_classifier, exhausted", stats));

    // 6. Result classification, retry-after hints and a deferred retry.
    let rl = Classification::new(ErrorClass::RateLimit).with_retry_after(Duration::from_secs(1));
    let result_policy = Policy::builder()
        .classifier(|e: &Flaky| e.class)
        .result_classifier(move |v: &u32| (*v < 3).then_some(rl))
        .strategy(retry_after_or(constant(Duration::from_millis(5))))
        .build()
        .unwrap();
    let deferred = result_policy
        .bind()
        .clock(&clock)
        .sleeper(|d: Duration| clock.advance(d))
        .sleep_decision(|ctx, _| {
            if ctx.attempt >= 2 {
                SleepDecision::Defer
            } else {
                SleepDecision::Sleep
            }
        });
    let (r, stats) = measure(|| {
        calls.set(0);
        deferred.call(|| fails_then_ok(&calls, 0, ErrorClass::Transient))
    });
    let err = r.unwrap_err();
    assert_eq!(err.stop_reason, StopReason::Scheduled);
    assert_eq!(err.last_value(), Some(&2));
    report.push(("flagged results, deferred retry", stats));

    // 7. `execute` with an outcome (no timeline requested).
    let (outcome, stats) = measure(|| {
        calls.set(0);
        manual.execute(|| fails_then_ok(&calls, 1, ErrorClass::Concurrency))
    });
    assert!(outcome.is_ok());
    report.push(("execute, 1 failure then success", stats));

    // Capturing a timeline is the documented exception: it allocates.
    let capturing = policy
        .bind()
        .clock(&clock)
        .sleeper(|d: Duration| clock.advance(d))
        .capture_timeline();
    let (outcome, stats) = measure(|| {
        calls.set(0);
        capturing.execute(|| fails_then_ok(&calls, 1, ErrorClass::Transient))
    });
    assert_eq!(outcome.timeline.map(|t| t.len()), Some(2));
    assert!(stats.allocations > 0);

    assert!(clock.now() > Duration::ZERO);
    let allocating: Vec<_> = report.iter().filter(|(_, s)| allocated(s)).collect();
    assert!(
        allocating.is_empty(),
        "scenarios that allocated: {allocating:#?}"
    );
}
