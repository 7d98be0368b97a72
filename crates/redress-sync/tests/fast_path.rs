//! The fast path of `call` (fewer clock readings when nothing watches) must
//! not change a decision.

#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use std::time::Duration;

use redress_core::backoff::constant;
use redress_core::{ErrorClass, ManualClock, Policy, StopReason};
use redress_sync::BlockingPolicy;

#[derive(Debug)]
struct Never;

/// Flagged `Ok` values are failures: the deadline must see their real time,
/// even though `call` skips the clock after unflagged successes.
#[test]
fn flagged_values_are_judged_at_their_real_time() {
    let policy = Policy::builder()
        .classifier(|_: &Never| ErrorClass::Unknown)
        .result_classifier(|v: &u32| (*v >= 500).then_some(ErrorClass::ServerError))
        .strategy(constant(Duration::ZERO))
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let site = policy.bind().clock(&clock).sleeper(|d| clock.advance(d));
    let mut calls = 0;
    let err = site
        .call(|| {
            calls += 1;
            clock.advance(Duration::from_millis(600));
            Ok::<u32, Never>(503)
        })
        .unwrap_err();
    // Attempt 1 ends at 0.6 s (retry), attempt 2 at 1.2 s: past the deadline.
    assert_eq!(err.stop_reason, StopReason::DeadlineExceeded);
    assert_eq!((err.attempts, calls), (2, 2));
    assert_eq!(err.last_value(), Some(&503));
}

/// The first attempt is the sharpest case: no strategy has been used yet.
#[test]
fn a_first_flagged_value_past_the_deadline_stops_the_call() {
    let policy = Policy::builder()
        .classifier(|_: &Never| ErrorClass::Unknown)
        .result_classifier(|v: &u32| (*v >= 500).then_some(ErrorClass::ServerError))
        .strategy(constant(Duration::ZERO))
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let site = policy.bind().clock(&clock).sleeper(|d| clock.advance(d));
    let err = site
        .call(|| {
            clock.advance(Duration::from_millis(1200));
            Ok::<u32, Never>(503)
        })
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::DeadlineExceeded);
    assert_eq!(err.attempts, 1);
    assert_eq!(err.elapsed, Duration::from_millis(1200));
}

/// A retry delay is clamped to the time really left: a stale reading would
/// let the sleep run past the deadline.
#[test]
fn delays_after_flagged_values_are_clamped_to_the_real_time_left() {
    let policy = Policy::builder()
        .classifier(|_: &Never| ErrorClass::Unknown)
        .result_classifier(|v: &u32| (*v >= 500).then_some(ErrorClass::ServerError))
        .strategy(constant(Duration::from_millis(500)))
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let slept = std::cell::Cell::new(Duration::ZERO);
    let site = policy.bind().clock(&clock).sleeper(|d| {
        slept.set(slept.get() + d);
        clock.advance(d);
    });
    let err = site
        .call(|| {
            clock.advance(Duration::from_millis(900));
            Ok::<u32, Never>(503)
        })
        .unwrap_err();
    // 0.9 s attempt, a sleep clamped to the 0.1 s left, a second 0.9 s attempt.
    assert_eq!(slept.get(), Duration::from_millis(100));
    assert_eq!(err.attempts, 2);
    assert_eq!(err.elapsed, Duration::from_millis(1900));
    assert_eq!(err.stop_reason, StopReason::DeadlineExceeded);
}

/// A success that nobody watches still reports the right time through
/// `execute`, and `call` returns the value.
#[test]
fn unwatched_successes_keep_their_outcome() {
    let policy = Policy::builder()
        .classifier(|_: &Never| ErrorClass::Unknown)
        .strategy(constant(Duration::ZERO))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let site = policy.bind().clock(&clock).sleeper(|d| clock.advance(d));
    let outcome = site.execute(|| {
        clock.advance(Duration::from_millis(250));
        Ok::<_, Never>(7)
    });
    assert_eq!(outcome.elapsed, Duration::from_millis(250));
    assert_eq!(site.call(|| Ok::<_, Never>(8)).unwrap(), 8);
}
