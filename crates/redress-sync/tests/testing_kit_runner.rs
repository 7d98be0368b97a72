//! The blocking runner, tested with the testing kit (`redress-testing`):
//! virtual time, scripted operations, deterministic strategies, a fake
//! breaker and trace assertions. These tests are also the kit's own
//! dogfooding: each one is what a user's test of their policy looks like.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use redress_core::backoff::{constant, exponential, retry_after_or};
use redress_core::breaker::CallResult;
use redress_core::{
    Cause, CircuitState, ErrorClass, EventKind, ManualClock, Policy, SleepDecision, StopReason,
};
use redress_sync::BlockingPolicy;
use redress_testing::{
    DeterministicStrategy, FakeBreaker, RecordingPolicy, ScriptedClassifier, ScriptedError,
    ScriptedOperation, TraceRecorder, assert_events, assert_stop_reason, assert_success,
    instant_retries, instant_sleeper, no_retries,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn a_sixty_second_envelope_runs_instantly() {
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(constant(secs(10)))
        .max_attempts(100)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let recorder = TraceRecorder::new();
    let site = policy
        .bind()
        .operation("sync_ledger")
        .clock(&clock)
        .sleeper(instant_sleeper(&clock))
        .hooks(recorder.clone());
    let op = ScriptedOperation::<()>::failing(ErrorClass::ServerError);

    let started = Instant::now();
    let err = site.call(|| op.call()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "slept for real");

    // Attempts at 0, 10, ..., 60 s; at 60 s no time is left.
    assert_eq!(err.stop_reason, StopReason::DeadlineExceeded);
    assert_eq!(err.attempts, 7);
    assert_eq!(err.elapsed, secs(60));
    assert_eq!(clock.now(), secs(60));
    assert_eq!(op.calls(), 7);
    assert_eq!(err.last_error().map(|e| e.call), Some(7));
    assert_events!(
        recorder,
        [Retry, Retry, Retry, Retry, Retry, Retry, DeadlineExceeded]
    );
    assert_stop_reason!(recorder, DeadlineExceeded);
    let trace = recorder.trace();
    assert_eq!(trace.delays(), [secs(10); 6]);
    assert_eq!(
        trace.compact().last().map(String::as_str),
        Some("deadline_exceeded#7 SERVER_ERROR DEADLINE_EXCEEDED")
    );
    assert!(
        trace
            .events()
            .iter()
            .all(|e| e.operation.as_deref() == Some("sync_ledger"))
    );
}

#[test]
fn slow_attempts_spend_the_deadline() {
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(constant(secs(1)))
        .deadline(secs(30))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let site = policy
        .bind()
        .clock(&clock)
        .sleeper(instant_sleeper(&clock))
        .capture_timeline();
    // Each attempt takes 12 s: it fails at 12 s, sleeps 1 s, fails at 25 s,
    // sleeps 1 s, fails at 38 s, past the 30 s deadline.
    let op = ScriptedOperation::<()>::failing(ErrorClass::Transient).each_taking(secs(12), &clock);

    let outcome = site.execute(|| op.call());
    assert_stop_reason!(outcome, DeadlineExceeded);
    assert_events!(outcome, [Retry, Retry, DeadlineExceeded]);
    assert_eq!(outcome.attempts, 3);
    assert_eq!(outcome.elapsed, secs(38));
}

#[test]
fn the_strategy_sees_every_failure_in_order() {
    let strategy = DeterministicStrategy::from_millis([100, 200, 400]);
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .result_classifier(|status: &u16| (*status >= 500).then_some(ErrorClass::ServerError))
        .strategy(strategy.clone())
        .build()
        .unwrap();
    let clock = ManualClock::starting_at(secs(1_000));
    let site = policy.bind().clock(&clock).sleeper(instant_sleeper(&clock));
    let op = ScriptedOperation::new()
        .fail(ErrorClass::Transient)
        .flagged(503)
        .fail_with_retry_after(ErrorClass::RateLimit, secs(2))
        .succeed(200);

    assert_eq!(site.call(|| op.call()).unwrap(), 200);

    let asked = strategy.calls();
    assert_eq!(strategy.attempts(), [1, 2, 3]);
    assert_eq!(
        asked.iter().map(|c| c.class()).collect::<Vec<_>>(),
        [
            ErrorClass::Transient,
            ErrorClass::ServerError,
            ErrorClass::RateLimit
        ]
    );
    assert_eq!(
        asked.iter().map(|c| c.cause).collect::<Vec<_>>(),
        [Cause::Error, Cause::Result, Cause::Error]
    );
    assert_eq!(
        asked.iter().map(|c| c.prev_delay).collect::<Vec<_>>(),
        [None, Some(ms(100)), Some(ms(200))]
    );
    assert_eq!(asked[2].retry_after(), Some(secs(2)));
    // The runner's clock reading and the time left are what the engine saw.
    assert_eq!(asked[1].now, secs(1_000) + ms(100));
    assert_eq!(asked[1].remaining, secs(60) - ms(100));
    assert_eq!(clock.now(), secs(1_000) + ms(700));
}

#[test]
fn retry_after_hints_are_honored() {
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(retry_after_or(exponential()).jitter(Duration::ZERO))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let recorder = TraceRecorder::new();
    let site = policy
        .bind()
        .clock(&clock)
        .sleeper(instant_sleeper(&clock))
        .hooks(recorder.clone());
    let op = ScriptedOperation::new()
        .fail_with_retry_after(ErrorClass::RateLimit, secs(7))
        .fail(ErrorClass::Transient)
        .succeed(());

    site.call(|| op.call()).unwrap();
    assert_success(&recorder);
    assert_eq!(
        recorder.compact(),
        [
            "retry#1 RATE_LIMIT 7s",
            "retry#2 TRANSIENT 500ms",
            "success#3"
        ]
    );
    assert_eq!(recorder.trace().events()[0].retry_after(), Some(secs(7)));
    assert_eq!(clock.now(), ms(7_500));
}

#[test]
fn caps_stop_where_the_reference_stops() {
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(instant_retries())
        .class_max_attempts(ErrorClass::RateLimit, 1)
        .build()
        .unwrap();
    let recorder = TraceRecorder::new();
    let site = policy.bind().hooks(recorder.clone());

    let unknown = ScriptedOperation::<()>::failing(ErrorClass::Unknown);
    site.call(|| unknown.call()).unwrap_err();
    assert_stop_reason!(recorder, MaxUnknownAttempts);
    assert_eq!(unknown.calls(), 3);

    let limited = ScriptedOperation::<()>::failing(ErrorClass::RateLimit);
    site.call(|| limited.call()).unwrap_err();
    assert_stop_reason!(recorder, MaxAttemptsPerClass);

    let permanent = ScriptedOperation::new()
        .fail(ErrorClass::Permission)
        .succeed(());
    let err = site.call(|| permanent.call()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(permanent.calls(), 1);

    let calls = recorder.calls();
    assert_eq!(calls.len(), 3);
    assert_events!(calls[0], [Retry, Retry, MaxUnknownAttemptsExceeded]);
    assert_events!(calls[1], [Retry, MaxAttemptsExceeded]);
    assert_events!(calls[2], [PermanentFail]);
}

#[test]
fn no_retries_makes_one_attempt() {
    let policy = no_retries().classifier(ScriptedClassifier).build().unwrap();
    let recorder = TraceRecorder::new();
    let op = ScriptedOperation::new()
        .fail(ErrorClass::Transient)
        .succeed(1);
    let err = policy
        .bind()
        .hooks(recorder.clone())
        .call(|| op.call())
        .unwrap_err();
    assert_eq!(err.attempts, 1);
    let last: &ScriptedError = err.last_error().unwrap();
    assert_eq!((last.class, last.call), (ErrorClass::Transient, 1));
    assert_events!(recorder, [MaxAttemptsExceeded]);
}

#[test]
fn a_deferred_retry_hands_back_its_delay() {
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(DeterministicStrategy::from_millis([1_500]))
        .build()
        .unwrap();
    let recorder = TraceRecorder::new();
    let op = ScriptedOperation::<()>::failing(ErrorClass::ServerError);
    let outcome = policy
        .bind()
        .hooks(recorder.clone())
        .sleep_decision(|_, _| SleepDecision::Defer)
        .execute(|| op.call());
    assert_eq!(outcome.next_delay, Some(ms(1_500)));
    assert_eq!(
        recorder.compact(),
        [
            "retry#1 SERVER_ERROR 1.5s",
            "scheduled#1 SERVER_ERROR 1.5s SCHEDULED"
        ]
    );
    assert_stop_reason!(recorder, Scheduled);
}

#[test]
fn an_open_circuit_rejects_without_running() {
    let breaker = Arc::new(
        FakeBreaker::new()
            .with_state(CircuitState::Open)
            .then_reject_for(secs(20))
            .then_probe()
            .then_probe(),
    );
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(instant_retries())
        .max_attempts(2)
        .circuit_breaker(Arc::clone(&breaker))
        .build()
        .unwrap();
    let clock = ManualClock::starting_at(secs(5));
    let recorder = TraceRecorder::new();
    let site = policy
        .bind()
        .operation("payments")
        .clock(&clock)
        .sleeper(instant_sleeper(&clock))
        .hooks(recorder.clone());

    // 1: rejected, with the wait as the next delay; the operation never ran.
    let op = ScriptedOperation::new()
        .fail(ErrorClass::ServerError)
        .fail(ErrorClass::ServerError)
        .succeed(());
    let err = site.call(|| op.call()).unwrap_err();
    assert!(err.is_circuit_open());
    assert_eq!(err.next_delay, Some(secs(20)));
    assert_eq!(op.calls(), 0);

    // 2: the probe fails (after its retries): the circuit opens again.
    site.call(|| op.call()).unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Open);

    // 3: the next probe succeeds: closed.
    site.call(|| op.call()).unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed);

    let calls = recorder.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].compact(), ["circuit_rejected open"]);
    assert_eq!(calls[0].stop_reason(), Some(StopReason::CircuitOpen));
    assert_events!(
        calls[1],
        [CircuitHalfOpen, Retry, MaxAttemptsExceeded, CircuitOpened]
    );
    assert_events!(calls[2], [CircuitHalfOpen, Success, CircuitClosed]);

    // The breaker was asked three times and told two outcomes.
    assert_eq!(breaker.acquires(), [secs(5); 3]);
    let records = breaker.records();
    assert_eq!(
        records
            .iter()
            .map(|r| (r.result, r.probe))
            .collect::<Vec<_>>(),
        [
            (CallResult::Failure(ErrorClass::ServerError), true),
            (CallResult::Success, true)
        ]
    );
}

#[test]
fn an_aborted_call_is_a_cancellation_for_the_breaker() {
    let breaker = Arc::new(FakeBreaker::new());
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(instant_retries())
        .circuit_breaker(Arc::clone(&breaker))
        .build()
        .unwrap();
    let op = ScriptedOperation::<()>::failing(ErrorClass::Transient);
    let recorder = TraceRecorder::new();
    let outcome = policy
        .bind()
        .hooks(recorder.clone())
        .sleep_decision(|_, _| SleepDecision::Abort)
        .execute(|| op.call());
    assert_eq!(outcome.stop_reason, Some(StopReason::Aborted));
    assert_eq!(breaker.cancellations(), 1);
    assert!(breaker.failures().is_empty());
    assert_events!(recorder, [Retry, Aborted]);
}

#[test]
fn a_recording_policy_records_every_call_site() {
    let policy = RecordingPolicy::new(
        Policy::builder()
            .classifier(ScriptedClassifier)
            .strategy(instant_retries())
            .build()
            .unwrap(),
    );
    let fetch = ScriptedOperation::new()
        .fail(ErrorClass::Concurrency)
        .succeed("row");
    let save = ScriptedOperation::<()>::failing(ErrorClass::Permanent);

    assert_eq!(
        policy.operation("fetch").call(|| fetch.call()).unwrap(),
        "row"
    );
    policy.operation("save").call(|| save.call()).unwrap_err();
    // The wrapped policy's own call sites do not record.
    let _ = policy.policy().bind().call(|| fetch.call());

    let calls = policy.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls[0].is_success());
    assert_eq!(calls[0].attempts(), 2);
    assert_eq!(calls[1].stop_reason(), Some(StopReason::NonRetryableClass));
    assert_eq!(
        calls
            .iter()
            .map(|c| c.events()[0].operation.clone().unwrap())
            .collect::<Vec<_>>(),
        ["fetch", "save"]
    );
    assert_stop_reason!(policy, NonRetryableClass);
    assert_eq!(
        policy.recorder().kinds(),
        [
            EventKind::Retry,
            EventKind::Success,
            EventKind::PermanentFail
        ]
    );
}

#[test]
#[should_panic(expected = "event kinds differ")]
fn a_failed_assertion_shows_the_trace() {
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(instant_retries())
        .build()
        .unwrap();
    let recorder = TraceRecorder::new();
    let op = ScriptedOperation::new()
        .fail(ErrorClass::Transient)
        .succeed(());
    policy
        .bind()
        .hooks(recorder.clone())
        .call(|| op.call())
        .unwrap();
    assert_events!(recorder, [Success]);
}
