//! Exhaustive interleaving checks of the lock-free shared state, with loom.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p redress-core --test loom --release`
//! (`.ci/run` does, in its own target directory).

#![cfg(loom)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use redress_core::breaker::CircuitBreaker;
use redress_core::budget::{Budget, RollingBudget};
use redress_core::{CircuitState, ErrorClass};

/// Runs `f` under loom with a preemption bound: every interleaving with up
/// to three preemptions (which covers the two-thread races below) is
/// explored.
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

fn open_breaker(t: Duration) -> CircuitBreaker {
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let p = b.try_acquire(t).unwrap();
    assert!(p.record_failure(ErrorClass::Transient, t).is_some());
    b
}

#[test]
fn only_one_caller_becomes_the_probe() {
    model(|| {
        let b = Arc::new(open_breaker(Duration::ZERO));
        let probes = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (b, probes) = (b.clone(), probes.clone());
                thread::spawn(move || {
                    let later = Duration::from_secs(2);
                    if let Ok(p) = b.try_acquire(later) {
                        assert!(p.is_probe());
                        assert_eq!(p.transition().map(|t| t.to), Some(CircuitState::HalfOpen));
                        probes.fetch_add(1, Ordering::SeqCst);
                        std::mem::forget(p);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(probes.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_cancelled_probe_lets_exactly_one_more_in() {
    model(|| {
        let b = Arc::new(open_breaker(Duration::ZERO));
        let later = Duration::from_secs(2);
        let first = b.try_acquire(later).unwrap();
        let b2 = b.clone();
        let waiter = thread::spawn(move || {
            b2.try_acquire(later).map(|p| {
                let probe = p.is_probe();
                std::mem::forget(p);
                probe
            })
        });
        first.cancel(later);
        let after = b.try_acquire(later).map(|p| {
            let probe = p.is_probe();
            std::mem::forget(p);
            probe
        });
        let waited = waiter.join().unwrap();
        // Exactly one of the two later callers got the freed probe slot.
        assert_eq!(
            u8::from(waited == Ok(true)) + u8::from(after == Ok(true)),
            1,
            "{waited:?} {after:?}"
        );
    });
}

#[test]
fn concurrent_failures_open_the_breaker_once() {
    model(|| {
        let b = Arc::new(
            CircuitBreaker::builder()
                .failure_threshold(2)
                .build()
                .unwrap(),
        );
        let opened = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (b, opened) = (b.clone(), opened.clone());
                thread::spawn(move || {
                    let t = Duration::from_secs(1);
                    let p = b.try_acquire(t).unwrap();
                    if p.record_failure(ErrorClass::ServerError, t).is_some() {
                        opened.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1);
        assert_eq!(b.state(), CircuitState::Open);
    });
}

#[test]
fn probe_outcome_and_reset_race_cleanly() {
    model(|| {
        let b = Arc::new(open_breaker(Duration::ZERO));
        let later = Duration::from_secs(2);
        let probe = b.try_acquire(later).unwrap();
        let b2 = b.clone();
        let resetter = thread::spawn(move || b2.reset());
        let transition = probe.record_failure(ErrorClass::Transient, later);
        resetter.join().unwrap();
        // Either the reopen happened before the reset (then reset closed it),
        // or the reset won and the stale probe changed nothing.
        assert_eq!(b.state(), CircuitState::Closed, "{transition:?}");
    });
}

#[test]
fn a_budget_of_one_is_granted_once() {
    model(|| {
        let budget = Arc::new(RollingBudget::new(1, Duration::from_secs(60)).unwrap());
        let granted = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (budget, granted) = (budget.clone(), granted.clone());
                thread::spawn(move || {
                    if budget.try_withdraw(Duration::from_secs(1)) {
                        granted.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(granted.load(Ordering::SeqCst) <= 1);
        // The cap is never exceeded, and refusals take themselves back.
        assert!(budget.remaining(Duration::from_secs(1)).unwrap() <= 1);
        assert_eq!(
            budget.remaining(Duration::from_secs(1)).unwrap() as usize
                + granted.load(Ordering::SeqCst),
            1
        );
    });
}
