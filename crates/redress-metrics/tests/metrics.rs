//! `MetricsHooks` against a recorder that captures every value, on calls
//! run by the blocking runner on virtual time (with the testing kit).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::float_cmp
)]

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use metrics::Unit;
use redress_core::{
    CallEnd, CallStatus, CircuitState, ErrorClass, Event, EventKind, Hooks, ManualClock, Policy,
    StopReason, execute_async,
};
use redress_metrics::{CallOutcome, MetricsHooks, circuit_state_value, names};
use redress_sync::BlockingPolicy;
use redress_testing::{
    DeterministicStrategy, FakeBreaker, ScriptedClassifier, ScriptedOperation, instant_retries,
    instant_sleeper,
};
use support::Capture;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn retries_then_success() {
    let capture = Capture::default();
    let hooks = MetricsHooks::new();
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(DeterministicStrategy::from_millis([100, 250]))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let op = ScriptedOperation::new()
        .fail(ErrorClass::Transient)
        .fail_with_retry_after(ErrorClass::RateLimit, Duration::from_secs(9))
        .succeed(7)
        .each_taking(ms(50), &clock);

    metrics::with_local_recorder(&capture, || {
        let site = policy
            .bind()
            .operation("fetch_user")
            .clock(&clock)
            .sleeper(instant_sleeper(&clock))
            .hooks(&hooks);
        assert_eq!(site.call(|| op.call()).unwrap(), 7);
    });

    let op_label = ("operation", "fetch_user");
    assert_eq!(
        capture.counter(
            names::EVENTS_TOTAL,
            &[("event", "retry"), ("class", "TRANSIENT"), op_label]
        ),
        Some(1)
    );
    assert_eq!(
        capture.counter(
            names::EVENTS_TOTAL,
            &[("event", "retry"), ("class", "RATE_LIMIT"), op_label]
        ),
        Some(1)
    );
    assert_eq!(
        capture.counter(names::EVENTS_TOTAL, &[("event", "success"), op_label]),
        Some(1)
    );
    assert_eq!(
        capture.counter(names::CALLS_TOTAL, &[("outcome", "success"), op_label]),
        Some(1)
    );
    assert_eq!(
        capture.histogram(names::CALL_ATTEMPTS, &[("outcome", "success"), op_label]),
        [3.0]
    );
    // Three 50 ms attempts, sleeps of 100 ms and 250 ms.
    let duration = capture.histogram(
        names::CALL_DURATION_SECONDS,
        &[("outcome", "success"), op_label],
    );
    assert_eq!(duration.len(), 1);
    assert!((duration[0] - 0.5).abs() < 1e-9, "{duration:?}");
    assert_eq!(
        capture.histogram(
            names::RETRY_DELAY_SECONDS,
            &[("class", "TRANSIENT"), op_label]
        ),
        [0.1]
    );
    assert_eq!(
        capture.histogram(
            names::RETRY_DELAY_SECONDS,
            &[("class", "RATE_LIMIT"), op_label]
        ),
        [0.25]
    );
    // No breaker, no gauge.
    assert!(capture.series_of(names::CIRCUIT_STATE).is_empty());
}

#[test]
fn stop_reasons_and_outcomes_are_labelled() {
    let capture = Capture::default();
    let hooks = MetricsHooks::new();
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(instant_retries())
        .max_attempts(3)
        .build()
        .unwrap();
    let clock = ManualClock::new();

    metrics::with_local_recorder(&capture, || {
        let site = policy
            .bind()
            .clock(&clock)
            .sleeper(instant_sleeper(&clock))
            .hooks(&hooks);
        let down = ScriptedOperation::<()>::failing(ErrorClass::ServerError);
        site.call(|| down.call()).unwrap_err();
        let denied = ScriptedOperation::<()>::failing(ErrorClass::Auth);
        site.call(|| denied.call()).unwrap_err();
        site.call(|| denied.call()).unwrap_err();
    });

    // No operation name: no operation label.
    assert_eq!(
        capture.counter(
            names::EVENTS_TOTAL,
            &[
                ("event", "max_attempts_exceeded"),
                ("class", "SERVER_ERROR"),
                ("stop_reason", "MAX_ATTEMPTS_GLOBAL"),
            ]
        ),
        Some(1)
    );
    assert_eq!(
        capture.counter(
            names::EVENTS_TOTAL,
            &[("event", "retry"), ("class", "SERVER_ERROR")]
        ),
        Some(2)
    );
    assert_eq!(
        capture.counter(
            names::CALLS_TOTAL,
            &[
                ("outcome", "failure"),
                ("stop_reason", "MAX_ATTEMPTS_GLOBAL")
            ]
        ),
        Some(1)
    );
    assert_eq!(
        capture.counter(
            names::CALLS_TOTAL,
            &[
                ("outcome", "failure"),
                ("stop_reason", "NON_RETRYABLE_CLASS")
            ]
        ),
        Some(2)
    );
    assert_eq!(
        capture.histogram(names::CALL_ATTEMPTS, &[("outcome", "failure")]),
        [3.0, 1.0, 1.0]
    );
    let mut series = capture.series_of(names::CALLS_TOTAL);
    series.sort();
    assert_eq!(
        series,
        [
            "outcome=failure,stop_reason=MAX_ATTEMPTS_GLOBAL",
            "outcome=failure,stop_reason=NON_RETRYABLE_CLASS"
        ]
    );
}

#[test]
fn breaker_state_is_a_gauge_per_circuit() {
    let capture = Capture::default();
    let hooks = MetricsHooks::new().circuit("payments");
    let breaker = Arc::new(
        FakeBreaker::new()
            .trip_on_failure()
            .then_reject_for(Duration::from_secs(30))
            .then_probe()
            .then_admit(),
    );
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(instant_retries())
        .no_retries()
        .circuit_breaker(Arc::clone(&breaker))
        .build()
        .unwrap();
    let ok = ScriptedOperation::new().succeed(());
    let down = ScriptedOperation::<()>::failing(ErrorClass::Transient);
    let gauge = || capture.gauge(names::CIRCUIT_STATE, &[("circuit", "payments")]);

    metrics::with_local_recorder(&capture, || {
        let site = policy.bind().operation("charge").hooks(&hooks);
        // Rejected: never runs.
        let err = site.call(|| ok.call()).unwrap_err();
        assert_eq!(err.stop_reason, StopReason::CircuitOpen);
        assert_eq!(gauge(), Some(2.0));
        // The probe succeeds: half-open, then closed.
        site.call(|| ok.call()).unwrap();
        assert_eq!(gauge(), Some(0.0));
        // A failure trips it.
        site.call(|| down.call()).unwrap_err();
        assert_eq!(gauge(), Some(2.0));
    });

    let op = ("operation", "charge");
    for event in ["circuit_rejected", "circuit_half_open", "circuit_closed"] {
        assert_eq!(
            capture.counter(names::EVENTS_TOTAL, &[("event", event), op]),
            Some(1),
            "{event}"
        );
    }
    assert_eq!(
        capture.counter(
            names::EVENTS_TOTAL,
            &[("event", "circuit_opened"), ("class", "TRANSIENT"), op]
        ),
        Some(1)
    );
    assert_eq!(
        capture.counter(
            names::CALLS_TOTAL,
            &[("outcome", "rejected"), ("stop_reason", "CIRCUIT_OPEN"), op]
        ),
        Some(1)
    );
    // A rejected call made no attempt: it is not in the histograms.
    assert!(
        capture
            .histogram(names::CALL_ATTEMPTS, &[("outcome", "rejected"), op])
            .is_empty()
    );
    assert_eq!(
        capture.histogram(names::CALL_ATTEMPTS, &[("outcome", "success"), op]),
        [1.0]
    );
    assert_eq!(breaker.acquire_count(), 3);
    assert_eq!(breaker.failures(), [ErrorClass::Transient]);
}

#[test]
fn the_circuit_label_defaults_to_the_operation() {
    let capture = Capture::default();
    let hooks = MetricsHooks::new();
    metrics::with_local_recorder(&capture, || {
        let mut opened = Event::new(EventKind::CircuitOpened, 0);
        opened.state = Some(CircuitState::Open);
        opened.operation = Some("inventory");
        hooks.on_event(&opened);
        let mut rejected = Event::new(EventKind::CircuitRejected, 0);
        rejected.state = Some(CircuitState::HalfOpen);
        rejected.operation = Some("inventory");
        hooks.on_event(&rejected);
    });
    assert_eq!(
        capture.gauge(names::CIRCUIT_STATE, &[("circuit", "inventory")]),
        Some(circuit_state_value(CircuitState::HalfOpen))
    );
}

#[test]
fn scheduled_and_aborted_calls_have_their_outcome() {
    use redress_core::SleepDecision;

    let capture = Capture::default();
    let hooks = MetricsHooks::new();
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(DeterministicStrategy::from_millis([2_000]))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let op = ScriptedOperation::<()>::failing(ErrorClass::RateLimit);

    metrics::with_local_recorder(&capture, || {
        let base = policy
            .bind()
            .operation("jobs")
            .clock(&clock)
            .sleeper(instant_sleeper(&clock))
            .hooks(&hooks);
        let deferred = base.sleep_decision(|_, _| SleepDecision::Defer);
        let outcome = deferred.execute(|| op.call());
        assert_eq!(outcome.next_delay, Some(Duration::from_secs(2)));
        let aborted = base.abort_if(|| true);
        let _ = aborted.execute(|| op.call());
    });

    let op_label = ("operation", "jobs");
    assert_eq!(
        capture.counter(
            names::CALLS_TOTAL,
            &[
                ("outcome", "scheduled"),
                ("stop_reason", "SCHEDULED"),
                op_label
            ]
        ),
        Some(1)
    );
    assert_eq!(
        capture.counter(
            names::CALLS_TOTAL,
            &[("outcome", "aborted"), ("stop_reason", "ABORTED"), op_label]
        ),
        Some(1)
    );
    // The deferred call's delay counts as a retry delay: it was decided.
    assert_eq!(
        capture.histogram(
            names::RETRY_DELAY_SECONDS,
            &[("class", "RATE_LIMIT"), op_label]
        ),
        [2.0]
    );
    // Aborted before its first attempt: no attempt histogram sample.
    assert!(
        capture
            .histogram(names::CALL_ATTEMPTS, &[("outcome", "aborted"), op_label])
            .is_empty()
    );
}

#[test]
fn a_dropped_async_call_is_counted_as_cancelled() {
    let capture = Capture::default();
    let hooks = MetricsHooks::new();
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(instant_retries())
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let op = ScriptedOperation::<()>::new()
        .fail(ErrorClass::Transient)
        .hang();
    // A timer that never fires: the second attempt hangs until dropped.
    let never = |_: Duration| std::future::pending::<()>();
    metrics::with_local_recorder(&capture, || {
        let site = policy.bind().operation("upload").hooks(&hooks);
        let mut call = std::pin::pin!(execute_async(&site, &never, &clock, || op.call_async()));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(call.as_mut().poll(&mut cx).is_pending());
    });
    let op_label = ("operation", "upload");
    assert_eq!(
        capture.counter(names::CALLS_TOTAL, &[("outcome", "cancelled"), op_label]),
        Some(1)
    );
    assert_eq!(
        capture.histogram(names::CALL_ATTEMPTS, &[("outcome", "cancelled"), op_label]),
        [2.0]
    );
}

#[test]
fn metrics_are_described_once_with_units() {
    let capture = Capture::default();
    let hooks = MetricsHooks::new();
    metrics::with_local_recorder(&capture, || {
        for _ in 0..3 {
            hooks.on_event(&Event::new(EventKind::Success, 1));
            hooks.on_call_end(&CallEnd::new(CallStatus::Succeeded, 1, Duration::ZERO));
        }
    });
    let described = capture.descriptions();
    assert_eq!(described.len(), 6, "{described:?}");
    assert!(described.contains(&(names::RETRY_DELAY_SECONDS.to_owned(), Some(Unit::Seconds))));
    assert!(described.contains(&(names::EVENTS_TOTAL.to_owned(), Some(Unit::Count))));
    // Three events, three series registered once each (events, calls,
    // attempts, duration).
    assert_eq!(capture.registrations(), 4);
    assert_eq!(
        capture.counter(names::EVENTS_TOTAL, &[("event", "success")]),
        Some(3)
    );
    assert!(format!("{hooks:?}").contains("cached_series: 4"));
}

#[test]
fn outcome_names() {
    let all = [
        CallOutcome::Success,
        CallOutcome::Failure,
        CallOutcome::Scheduled,
        CallOutcome::Aborted,
        CallOutcome::Rejected,
        CallOutcome::Cancelled,
    ];
    let names: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "success",
            "failure",
            "scheduled",
            "aborted",
            "rejected",
            "cancelled"
        ]
    );
}
