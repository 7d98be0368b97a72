//! The kit on the runtime-agnostic async runner (`execute_async`): calls on
//! virtual time finish on their first poll, with any executor; here a
//! no-op waker polls them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use redress_core::backoff::constant;
use redress_core::{
    CallStatus, ErrorClass, Failure, ManualClock, Policy, StopReason, execute_async,
};
use redress_testing::{
    DeterministicStrategy, FakeBreaker, ScriptedClassifier, ScriptedOperation, TraceRecorder,
    assert_events, assert_stop_reason, instant_sleeper,
};

/// Polls `f` once: virtual time never leaves a future pending unless it
/// hangs on purpose.
fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn an_async_call_on_virtual_time_is_ready_at_once() {
    let strategy = DeterministicStrategy::new([secs(1), secs(2), secs(4)]);
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(strategy.clone())
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let recorder = TraceRecorder::new();
    let site = policy.bind().operation("upload").hooks(recorder.clone());
    let op = ScriptedOperation::new()
        .fail_times(3, ErrorClass::Transient)
        .succeed("etag")
        .each_taking(Duration::from_millis(250), &clock);

    let outcome = poll_once(execute_async(
        &site,
        &instant_sleeper(&clock),
        &clock,
        || op.call_async(),
    ))
    .expect("virtual time never waits");
    assert_eq!(outcome.value(), Some(&"etag"));
    assert_eq!(outcome.elapsed, secs(7) + Duration::from_secs(1));
    assert_events!(recorder, [Retry, Retry, Retry, Success]);
    assert_eq!(strategy.call_count(), 3);
}

#[test]
fn a_hanging_attempt_times_out_on_virtual_time() {
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(constant(secs(1)))
        .attempt_timeout(secs(5))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let recorder = TraceRecorder::new();
    let site = policy.bind().hooks(recorder.clone());
    let op = ScriptedOperation::new().hang().hang().succeed(42);

    let outcome = poll_once(execute_async(
        &site,
        &instant_sleeper(&clock),
        &clock,
        || op.call_async(),
    ))
    .unwrap();
    assert_eq!(outcome.value(), Some(&42));
    // Two 5 s timeouts and two 1 s sleeps; the third attempt's timer was
    // never polled, so it did not move the clock.
    assert_eq!(clock.now(), secs(12));
    assert_eq!(
        recorder.compact(),
        ["retry#1 TRANSIENT 1s", "retry#2 TRANSIENT 1s", "success#3"]
    );
    assert_eq!(
        recorder.trace().events()[0].error_type,
        Some("TimeoutError")
    );
}

#[test]
fn the_last_timeout_is_reported() {
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(constant(secs(1)))
        .attempt_timeout(secs(2))
        .max_attempts(2)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let op = ScriptedOperation::<()>::new().hang();
    let outcome = poll_once(execute_async(
        &policy.bind().capture_timeline(),
        &instant_sleeper(&clock),
        &clock,
        || op.call_async(),
    ))
    .unwrap();
    assert!(matches!(outcome.result, Err(Failure::TimedOut(d)) if d == secs(2)));
    assert_stop_reason!(outcome, MaxAttemptsGlobal);
    assert_events!(outcome, [Retry, MaxAttemptsExceeded]);
}

#[test]
fn a_hanging_attempt_without_a_timeout_ends_at_the_deadline() {
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(constant(secs(1)))
        .deadline(secs(10))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let op = ScriptedOperation::<()>::new().hang();
    // On virtual time the deadline's timer fires as soon as it is polled.
    let outcome = poll_once(execute_async(
        &policy.bind().capture_timeline(),
        &instant_sleeper(&clock),
        &clock,
        || op.call_async(),
    ))
    .unwrap();
    assert_stop_reason!(outcome, DeadlineExceeded);
    assert!(matches!(outcome.result, Err(Failure::TimedOut(d)) if d == secs(10)));
    assert_eq!(outcome.elapsed, secs(10));
    assert_eq!(clock.now(), secs(10));
    assert_events!(outcome, [DeadlineExceeded]);
}

#[test]
fn a_dropped_probe_is_a_cancellation() {
    let breaker = Arc::new(FakeBreaker::new().then_probe());
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(constant(secs(1)))
        .circuit_breaker(Arc::clone(&breaker))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let recorder = TraceRecorder::new();
    let site = policy.bind().hooks(recorder.clone());
    // The attempt hangs and its timer never fires: the call is still
    // running after the poll, and dropping it cancels it.
    let never = |_: Duration| core::future::pending::<()>();
    let op = ScriptedOperation::<()>::new().hang();
    let pending = poll_once(execute_async(&site, &never, &clock, || op.call_async()));
    assert!(pending.is_none());
    assert_eq!(breaker.cancellations(), 1);
    assert_eq!(op.calls(), 1);
    let call = recorder.last_call().unwrap();
    assert_events!(call, [CircuitHalfOpen]);
    assert_eq!(call.end(), Some(CallStatus::Cancelled));
    assert_eq!(call.stop_reason(), None::<StopReason>);
}

#[test]
fn owned_clocks_serve_static_futures() {
    fn assert_static<T: 'static>(_: &T) {}
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(constant(secs(3)))
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::new());
    let sleeper = instant_sleeper(Arc::clone(&clock));
    assert_static(&sleeper);
    let op = ScriptedOperation::new()
        .fail(ErrorClass::ServerError)
        .succeed(());
    let site = policy.bind();
    let outcome = poll_once(execute_async(&site, &sleeper, &*clock, || op.call_async())).unwrap();
    assert!(outcome.is_ok());
    assert_eq!(clock.now(), secs(3));
}
