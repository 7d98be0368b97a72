//! Sleep hooks that take time never push a call past its deadline.

#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use std::cell::Cell;
use std::time::Duration;

use redress_core::backoff::constant;
use redress_core::{ErrorClass, ManualClock, Policy, StopReason};
use redress_sync::BlockingPolicy;

#[derive(Debug)]
struct Boom;

#[test]
fn a_slow_before_sleep_hook_shortens_the_sleep_instead_of_overrunning() {
    let policy = Policy::builder()
        .classifier(|_: &Boom| ErrorClass::Transient)
        .strategy(constant(Duration::from_secs(4)))
        .deadline(Duration::from_secs(10))
        .max_attempts(10)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let slept = Cell::new(Duration::ZERO);
    let outcome = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| {
            slept.set(slept.get() + d);
            clock.advance(d);
        })
        // The hook takes 3 s of the call's time before every sleep.
        .before_sleep(|_, _| clock.advance(Duration::from_secs(3)))
        .execute(|| Err::<(), _>(Boom));
    // 0 s: attempt 1; hook to 3 s; sleep 4 s to 7 s; attempt 2; hook to
    // 10 s; the sleep is cut to the 0 s left; attempt 3 at the deadline.
    assert_eq!(outcome.stop_reason, Some(StopReason::DeadlineExceeded));
    assert_eq!(outcome.attempts, 3);
    assert_eq!(outcome.elapsed, Duration::from_secs(10));
    assert_eq!(slept.get(), Duration::from_secs(4));
}
