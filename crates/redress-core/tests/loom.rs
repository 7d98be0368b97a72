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
use redress_core::breaker::{Admission, Breaker, CallResult, CircuitBreaker};
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

/// Withdraws from `budget` at `now` on a new thread.
fn withdraw_on_thread(budget: &Arc<RollingBudget>, now: Duration) -> thread::JoinHandle<bool> {
    let budget = budget.clone();
    thread::spawn(move || budget.try_withdraw(now))
}

#[test]
fn a_lagging_reading_sees_the_whole_window_before_its_time() {
    // Under loom a window is two buckets (of 1 s here) plus the slots the
    // lag allowance needs. Two retries were granted at 0.9 s, so nothing
    // more may be granted before 2.9 s: the reading at 2.1 s must be
    // refused, whether or not a reading at 3.0 s (a bucket later, which
    // retires the first bucket for readings that recent) withdrew first.
    //
    // The later reading is either a bucket later or, after a long gap, so
    // much later that the window moves on past all it keeps (the lagging
    // reading is then refused for lack of history, if it comes second).
    for later in [Duration::from_millis(3000), Duration::from_secs(1 << 40)] {
        model(move || {
            let budget = Arc::new(RollingBudget::new(2, Duration::from_secs(2)).unwrap());
            let early = Duration::from_millis(900);
            assert!(budget.try_withdraw(early) && budget.try_withdraw(early));
            let lagging = withdraw_on_thread(&budget, Duration::from_millis(2100));
            let later = withdraw_on_thread(&budget, later);
            let (lagging, later) = (lagging.join().unwrap(), later.join().unwrap());
            assert!(!lagging, "three grants within one window");
            // The later reading is more than a window after 0.9 s, and the
            // refused one took itself back (or was never seen): granted.
            assert!(later);
        });
    }
}

#[test]
fn withdrawals_in_different_buckets_see_each_other() {
    // Readings 1 s apart fall in different buckets (different slots) of
    // one 2 s window: at most one of them may be granted a budget of one.
    model(|| {
        let budget = Arc::new(RollingBudget::new(1, Duration::from_secs(2)).unwrap());
        let first = withdraw_on_thread(&budget, Duration::from_millis(1500));
        let second = withdraw_on_thread(&budget, Duration::from_millis(2500));
        let granted = u8::from(first.join().unwrap()) + u8::from(second.join().unwrap());
        assert!(granted <= 1, "{granted} grants within one window");
    });
}

#[test]
fn failures_in_different_buckets_open_the_breaker() {
    // Two failures 1 s apart, in different buckets of a 2 s window, reach a
    // threshold of two: whatever the interleaving, one of them opens it.
    model(|| {
        let b = Arc::new(
            CircuitBreaker::builder()
                .failure_threshold(2)
                .window(Duration::from_secs(2))
                .build()
                .unwrap(),
        );
        let handles: Vec<_> = [1500, 2500]
            .into_iter()
            .map(|at| {
                let b = b.clone();
                thread::spawn(move || {
                    let t = Duration::from_millis(at);
                    let p = b.try_acquire(t).unwrap();
                    p.record_failure(ErrorClass::ServerError, t).is_some()
                })
            })
            .collect();
        let opened: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(opened.iter().filter(|&&o| o).count(), 1, "{opened:?}");
        assert_eq!(b.state(), CircuitState::Open);
    });
}

/// A breaker opening at two failures, probing after one second.
fn breaker_of_two() -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(2)
            .recovery_timeout(Duration::from_secs(1))
            .build()
            .unwrap(),
    )
}

/// Records a failure of `admission` at `now` on a new thread.
fn fail_on_thread(
    b: &Arc<CircuitBreaker>,
    admission: Admission,
    now: Duration,
) -> thread::JoinHandle<()> {
    let b = b.clone();
    thread::spawn(move || {
        let _ = b.record(&admission, CallResult::Failure(ErrorClass::Transient), now);
    })
}

/// Admits a call at `now`, records a failure and says whether it opened the
/// breaker.
fn fresh_failure(b: &CircuitBreaker, now: Duration) -> bool {
    let admission = Breaker::acquire(b, now).unwrap();
    b.record(&admission, CallResult::Failure(ErrorClass::Transient), now)
        .is_some()
}

#[test]
fn a_call_from_before_an_outage_never_counts_after_it() {
    // Three calls are admitted while the breaker is closed. A slow one's
    // failure races the other two failing (which opens the breaker) and a
    // probe closing it again. Wherever it lands, the new closed cycle starts
    // from zero: one fresh failure does not reopen the breaker.
    model(|| {
        let b = breaker_of_two();
        let t = Duration::from_secs(1);
        let slow = Breaker::acquire(&*b, t).unwrap();
        let first = Breaker::acquire(&*b, t).unwrap();
        let second = Breaker::acquire(&*b, t).unwrap();
        let late = fail_on_thread(&b, slow, Duration::from_secs(4));
        let failure = CallResult::Failure(ErrorClass::Transient);
        let _ = b.record(&first, failure, t);
        let _ = b.record(&second, failure, t);
        assert_eq!(b.state(), CircuitState::Open);
        // The slow call's failure may be the one that opened it, at 4 s.
        let later = Duration::from_secs(6);
        let probe = Breaker::acquire(&*b, later).unwrap();
        assert!(probe.probe);
        assert!(b.record(&probe, CallResult::Success, later).is_some());
        assert!(!fresh_failure(&b, later), "one fresh failure reopened it");
        late.join().unwrap();
        assert_eq!(b.state(), CircuitState::Closed);
    });
}

#[test]
fn a_call_from_before_a_reset_never_counts_after_it() {
    model(|| {
        let b = breaker_of_two();
        let t = Duration::from_secs(1);
        let before = Breaker::acquire(&*b, t).unwrap();
        let late = fail_on_thread(&b, before, t);
        b.reset();
        late.join().unwrap();
        assert!(!fresh_failure(&b, t), "one fresh failure reopened it");
        assert_eq!(b.state(), CircuitState::Closed);
    });
}
