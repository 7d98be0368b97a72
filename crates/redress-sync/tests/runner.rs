//! Integration tests of the blocking runner on virtual time.
//!
//! Every call runs with a [`ManualClock`] and a sleeper that advances it, so
//! no test sleeps for real and every elapsed time and delay is exact.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::io;
use std::time::Duration;

use redress_core::backoff::{constant, decorrelated_jitter, exponential, retry_after_or, schedule};
use redress_core::{
    AbortSignal, AttemptDecision, AttemptEnd, AttemptStart, BackoffContext, Cause, Classification,
    ErrorClass, Event, EventKind, Failure, LogFields, ManualClock, Policy, PolicyBuilder,
    RateLimitError, SleepDecision, StopReason, Tags,
};
use redress_sync::{BlockingPolicy, quick_policy, retry};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The operation's error: it says how it should be classified.
#[derive(Clone, Debug, PartialEq)]
struct Boom {
    n: u32,
    class: ErrorClass,
    retry_after: Option<Duration>,
}

impl Boom {
    fn new(n: u32, class: ErrorClass) -> Self {
        Boom {
            n,
            class,
            retry_after: None,
        }
    }
}

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "boom #{}", self.n)
    }
}

impl Error for Boom {}

fn by_class(e: &Boom) -> Classification {
    let c = Classification::new(e.class);
    match e.retry_after {
        Some(ra) => c.with_retry_after(ra),
        None => c,
    }
}

type ByClass = fn(&Boom) -> Classification;

/// A policy builder classifying [`Boom`]s by their class, with a constant
/// 100 ms backoff.
fn builder() -> PolicyBuilder<ByClass> {
    Policy::builder()
        .classifier(by_class as ByClass)
        .strategy(constant(ms(100)))
}

/// An operation that fails with `classes` in turn (advancing the clock by
/// `took` per attempt), then succeeds with the attempt number.
struct Script<'a> {
    clock: &'a ManualClock,
    took: Duration,
    classes: Vec<Classification>,
    calls: Cell<u32>,
}

impl<'a> Script<'a> {
    fn new(clock: &'a ManualClock, classes: &[ErrorClass]) -> Self {
        Script {
            clock,
            took: Duration::ZERO,
            classes: classes.iter().map(|c| Classification::new(*c)).collect(),
            calls: Cell::new(0),
        }
    }

    fn taking(mut self, took: Duration) -> Self {
        self.took = took;
        self
    }

    fn with(clock: &'a ManualClock, classes: Vec<Classification>) -> Self {
        Script {
            clock,
            took: Duration::ZERO,
            classes,
            calls: Cell::new(0),
        }
    }

    fn run(&self) -> Result<u32, Boom> {
        let n = self.calls.get() + 1;
        self.calls.set(n);
        self.clock.advance(self.took);
        match self.classes.get(n as usize - 1) {
            Some(c) => Err(Boom {
                n,
                class: c.class,
                retry_after: c.retry_after,
            }),
            None => Ok(n),
        }
    }

    fn calls(&self) -> u32 {
        self.calls.get()
    }
}

/// An operation that always fails with `class`.
fn always(clock: &ManualClock, class: ErrorClass) -> Script<'_> {
    Script::new(clock, &[class; 64])
}

/// An event as one comparable line: kind, attempt, delay, elapsed, tags.
fn line(e: &Event<'_>) -> String {
    let mut s = format!(
        "{} #{} delay={:?} at={:?}",
        e.kind, e.attempt, e.delay, e.elapsed
    );
    for (k, v) in e.tags().iter() {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}

/// Collects every event of the calls it watches.
#[derive(Default)]
struct Events(RefCell<Vec<String>>);

impl Events {
    fn push(&self, e: &Event<'_>) {
        self.0.borrow_mut().push(line(e));
    }

    fn take(&self) -> Vec<String> {
        self.0.take()
    }
}

// ---------------------------------------------------------------------------
// Success and retries
// ---------------------------------------------------------------------------

#[test]
fn success_on_the_first_attempt() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .operation("fetch")
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));
    let op = Script::new(&clock, &[]).taking(ms(7));

    let outcome = bound.execute(|| op.run());
    assert!(outcome.is_ok());
    assert_eq!(outcome.stop_reason, None);
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.last_class, None);
    assert_eq!(outcome.cause, None);
    assert_eq!(outcome.elapsed, ms(7));
    assert_eq!(outcome.next_delay, None);
    assert!(outcome.timeline.is_none());
    assert_eq!(outcome.result.ok(), Some(1));
    assert_eq!(
        events.take(),
        ["success #1 delay=0ns at=7ms operation=fetch"]
    );

    // `call` gives the value itself.
    let op = Script::new(&clock, &[]);
    assert_eq!(bound.call(|| op.run()).unwrap(), 1);
}

#[test]
fn retries_then_success_with_exact_events() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::starting_at(Duration::from_secs(1_000));
    let events = Events::default();
    let bound = policy
        .bind()
        .operation("fetch")
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));
    let op = Script::new(&clock, &[ErrorClass::Transient, ErrorClass::ServerError]).taking(ms(10));

    let outcome = bound.execute(|| op.run());
    assert_eq!(outcome.result.ok(), Some(3));
    assert_eq!(outcome.attempts, 3);
    assert_eq!(outcome.elapsed, ms(230));
    assert_eq!(clock.now(), Duration::from_secs(1_000) + ms(230));
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=10ms class=TRANSIENT err=Boom cause=exception operation=fetch",
            "retry #2 delay=100ms at=120ms class=SERVER_ERROR err=Boom cause=exception operation=fetch",
            "success #3 delay=0ns at=230ms operation=fetch",
        ]
    );
}

#[test]
fn policy_call_and_execute_without_binding() {
    // The policy's own runner uses the system clock and thread sleep: only
    // paths that never sleep are exercised here.
    let policy = builder().build().unwrap();
    assert_eq!(policy.call(|| Ok::<_, Boom>(5)).unwrap(), 5);
    let err = policy
        .call(|| Err::<(), _>(Boom::new(1, ErrorClass::Auth)))
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(err.attempts, 1);
    let outcome = policy.execute(|| Ok::<_, Boom>("done"));
    assert!(outcome.is_ok());
    assert_eq!(outcome.attempts, 1);
}

// ---------------------------------------------------------------------------
// Every stop reason the blocking runner can reach
// ---------------------------------------------------------------------------

#[test]
fn stop_max_attempts_global() {
    let policy = builder().max_attempts(3).build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));
    let op = always(&clock, ErrorClass::Transient);

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.attempts, 3);
    assert_eq!(op.calls(), 3);
    assert_eq!(err.last_class, Some(ErrorClass::Transient));
    assert_eq!(err.cause, Some(Cause::Error));
    assert_eq!(err.last_error().map(|e| e.n), Some(3));
    assert_eq!(err.elapsed, ms(200));
    assert_eq!(err.next_delay, None);
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=TRANSIENT err=Boom cause=exception",
            "retry #2 delay=100ms at=100ms class=TRANSIENT err=Boom cause=exception",
            "max_attempts_exceeded #3 delay=0ns at=200ms class=TRANSIENT err=Boom stop_reason=MAX_ATTEMPTS_GLOBAL cause=exception",
        ]
    );
}

#[test]
fn stop_max_attempts_per_class() {
    let policy = builder()
        .class_max_attempts(ErrorClass::RateLimit, 1)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));
    // Other classes in between do not count against the RATE_LIMIT cap.
    let op = Script::new(
        &clock,
        &[
            ErrorClass::RateLimit,
            ErrorClass::Transient,
            ErrorClass::RateLimit,
        ],
    );

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsPerClass);
    assert_eq!(err.attempts, 3);
    assert_eq!(err.last_class, Some(ErrorClass::RateLimit));
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=RATE_LIMIT err=Boom cause=exception",
            "retry #2 delay=100ms at=100ms class=TRANSIENT err=Boom cause=exception",
            "max_attempts_exceeded #3 delay=0ns at=200ms class=RATE_LIMIT err=Boom stop_reason=MAX_ATTEMPTS_PER_CLASS cause=exception",
        ]
    );

    // A cap of 0 stops at the first failure of the class.
    let zero = builder()
        .class_max_attempts(ErrorClass::Transient, 0)
        .build()
        .unwrap();
    let op = always(&clock, ErrorClass::Transient);
    let err = zero
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .call(|| op.run())
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsPerClass);
    assert_eq!(err.attempts, 1);
}

#[test]
fn stop_deadline_exceeded_after_clamping_the_last_sleep() {
    let policy = builder()
        .strategy(constant(ms(400)))
        .deadline(Duration::from_secs(1))
        .max_attempts(10)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));
    let op = always(&clock, ErrorClass::ServerError);

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::DeadlineExceeded);
    assert_eq!(err.attempts, 4);
    // The sleeps add up to the deadline exactly, never past it.
    assert_eq!(err.elapsed, Duration::from_secs(1));
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=400ms at=0ns class=SERVER_ERROR err=Boom cause=exception",
            "retry #2 delay=400ms at=400ms class=SERVER_ERROR err=Boom cause=exception",
            "retry #3 delay=200ms at=800ms class=SERVER_ERROR err=Boom cause=exception",
            "deadline_exceeded #4 delay=0ns at=1s class=SERVER_ERROR err=Boom stop_reason=DEADLINE_EXCEEDED cause=exception",
        ]
    );
}

#[test]
fn stop_deadline_exceeded_by_a_slow_attempt() {
    let policy = builder().deadline(Duration::from_secs(1)).build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));
    let op = always(&clock, ErrorClass::Transient).taking(Duration::from_secs(2));

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::DeadlineExceeded);
    assert_eq!(err.attempts, 1);
    assert_eq!(
        events.take(),
        [
            "deadline_exceeded #1 delay=0ns at=2s class=TRANSIENT err=Boom stop_reason=DEADLINE_EXCEEDED cause=exception"
        ]
    );
}

#[test]
fn a_sleeper_that_oversleeps_stops_with_deadline_exceeded() {
    let policy = builder().deadline(ms(150)).build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d * 2))
        .on_event(|e| events.push(e));
    let op = always(&clock, ErrorClass::Transient);

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::DeadlineExceeded);
    assert_eq!(err.attempts, 1);
    assert_eq!(op.calls(), 1);
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=TRANSIENT err=Boom cause=exception",
            "deadline_exceeded #1 delay=0ns at=200ms class=TRANSIENT err=Boom stop_reason=DEADLINE_EXCEEDED cause=exception",
        ]
    );
}

#[test]
fn stop_max_unknown_attempts() {
    let policy = builder().max_unknown_attempts(1).build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));
    let op = always(&clock, ErrorClass::Unknown);

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxUnknownAttempts);
    assert_eq!(err.attempts, 2);
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=UNKNOWN err=Boom cause=exception",
            "max_unknown_attempts_exceeded #2 delay=0ns at=100ms class=UNKNOWN err=Boom stop_reason=MAX_UNKNOWN_ATTEMPTS cause=exception",
        ]
    );

    // The default tolerates two UNKNOWN failures: the third stops.
    let default = builder().build().unwrap();
    let op = always(&clock, ErrorClass::Unknown);
    let err = default
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .call(|| op.run())
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxUnknownAttempts);
    assert_eq!(err.attempts, 3);

    // Without a cap, UNKNOWN failures run into max_attempts.
    let unlimited = builder().unlimited_unknown_attempts().build().unwrap();
    let op = always(&clock, ErrorClass::Unknown);
    let err = unlimited
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .call(|| op.run())
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.attempts, 6);
}

#[test]
fn stop_non_retryable_class() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::new();
    for (class, name) in [
        (ErrorClass::Permanent, "PERMANENT"),
        (ErrorClass::Auth, "AUTH"),
        (ErrorClass::Permission, "PERMISSION"),
    ] {
        let events = Events::default();
        let bound = policy
            .bind()
            .clock(&clock)
            .sleeper(|d| clock.advance(d))
            .on_event(|e| events.push(e));
        let op = Script::new(&clock, &[ErrorClass::Transient, class]);
        let err = bound.call(|| op.run()).unwrap_err();
        assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
        assert_eq!(err.attempts, 2);
        assert_eq!(err.last_class, Some(class));
        assert_eq!(
            events.take(),
            [
                "retry #1 delay=100ms at=0ns class=TRANSIENT err=Boom cause=exception".to_string(),
                format!(
                    "permanent_fail #2 delay=0ns at=100ms class={name} err=Boom stop_reason=NON_RETRYABLE_CLASS cause=exception"
                ),
            ]
        );
    }
}

#[test]
fn stop_no_strategy() {
    let policy = Policy::builder()
        .classifier(by_class as ByClass)
        .class_strategy(ErrorClass::RateLimit, constant(ms(100)))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));
    let op = Script::new(&clock, &[ErrorClass::RateLimit, ErrorClass::Transient]);

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::NoStrategy);
    assert_eq!(err.attempts, 2);
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=RATE_LIMIT err=Boom cause=exception",
            "no_strategy_configured #2 delay=0ns at=100ms class=TRANSIENT err=Boom stop_reason=NO_STRATEGY cause=exception",
        ]
    );
}

#[test]
fn class_strategies_and_retry_after_hints() {
    static DELAYS: [Duration; 2] = [Duration::from_millis(10), Duration::from_millis(20)];
    let policy = builder()
        .class_strategy(ErrorClass::Concurrency, schedule(&DELAYS[..]))
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(exponential().base(ms(50))).jitter(Duration::ZERO),
        )
        .max_attempts(10)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));
    let rl = Classification::new(ErrorClass::RateLimit);
    let op = Script::with(
        &clock,
        vec![
            ErrorClass::Concurrency.into(),
            ErrorClass::Concurrency.into(),
            ErrorClass::Concurrency.into(),
            rl.with_retry_after(Duration::from_secs(2)),
            rl,
            ErrorClass::Transient.into(),
        ],
    );

    let outcome = bound.execute(|| op.run());
    assert_eq!(outcome.result.ok(), Some(7));
    let delays: Vec<String> = events
        .take()
        .iter()
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        delays,
        [
            // Schedule: the n-th delay, then the last one repeats.
            "retry #1 delay=10ms",
            "retry #2 delay=20ms",
            "retry #3 delay=20ms",
            // The hint wins; without one, the fallback (attempt 5: 50ms × 2⁴).
            "retry #4 delay=2s",
            "retry #5 delay=800ms",
            // Other classes use the default.
            "retry #6 delay=100ms",
            "success #7 delay=0ns",
        ]
    );
}

// ---------------------------------------------------------------------------
// Abort
// ---------------------------------------------------------------------------

#[test]
fn abort_before_the_first_attempt() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let starts = Cell::new(0);
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e))
        .on_attempt_start(|_| starts.set(starts.get() + 1))
        .abort_if(|| true);
    let op = Script::new(&clock, &[]);

    let outcome = bound.execute(|| op.run());
    assert_eq!(op.calls(), 0, "the operation never runs");
    assert_eq!(starts.get(), 0);
    assert_eq!(outcome.attempts, 0);
    assert_eq!(outcome.stop_reason, Some(StopReason::Aborted));
    assert!(matches!(outcome.result, Err(Failure::NotAttempted)));
    assert_eq!(outcome.last_class, None);
    assert_eq!(
        events.take(),
        ["aborted #0 delay=0ns at=0ns stop_reason=ABORTED"]
    );

    let err = bound.call(|| op.run()).unwrap_err();
    assert!(matches!(err.failure, Failure::NotAttempted));
    assert_eq!(err.to_string(), "not attempted: the call was aborted");
    assert!(err.source().is_none());
}

#[test]
fn abort_mid_call_after_a_failure() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let stop = Cell::new(false);
    let ends = RefCell::new(Vec::new());
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e))
        .on_attempt_end(|a| ends.borrow_mut().push((a.attempt, a.decision)))
        .abort_if(|| stop.get());
    let op = always(&clock, ErrorClass::Transient);

    let err = bound
        .call(|| {
            let r = op.run();
            // The second attempt asks to stop: checked right after it fails.
            if op.calls() == 2 {
                stop.set(true);
            }
            r
        })
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::Aborted);
    assert_eq!(err.attempts, 2);
    assert_eq!(err.last_error().map(|e| e.n), Some(2));
    assert_eq!(err.last_class, Some(ErrorClass::Transient));
    assert_eq!(clock.now(), ms(100), "no sleep after the abort");
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=TRANSIENT err=Boom cause=exception",
            "aborted #2 delay=0ns at=100ms stop_reason=ABORTED",
        ]
    );
    assert_eq!(
        ends.take(),
        [(1, AttemptDecision::Retry), (2, AttemptDecision::Aborted)]
    );
}

#[test]
fn abort_requested_by_a_retry_event_skips_the_sleep() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let stop = Cell::new(false);
    let slept = Cell::new(0);
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| {
            slept.set(slept.get() + 1);
            clock.advance(d);
        })
        .on_event(|e| {
            events.push(e);
            if e.kind == EventKind::Retry {
                stop.set(true);
            }
        })
        .abort_if(|| stop.get());
    let op = always(&clock, ErrorClass::Transient);

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::Aborted);
    assert_eq!(err.attempts, 1);
    assert_eq!(slept.get(), 0);
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=TRANSIENT err=Boom cause=exception",
            "aborted #1 delay=0ns at=0ns stop_reason=ABORTED",
        ]
    );
}

#[test]
fn abort_signal_stops_calls_until_reset() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::new();
    let signal = AbortSignal::new();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .hooks(&signal);

    let op = always(&clock, ErrorClass::Transient);
    let err = bound
        .call(|| {
            if op.calls() == 2 {
                signal.abort();
            }
            op.run()
        })
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::Aborted);
    assert_eq!(err.attempts, 3);

    // Still set: the next call never runs.
    let op = Script::new(&clock, &[]);
    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.attempts, 0);
    assert_eq!(op.calls(), 0);

    signal.reset();
    assert_eq!(bound.call(|| op.run()).unwrap(), 1);

    // Set from another thread while the call sleeps.
    let shared = std::sync::Arc::new(AbortSignal::new());
    let remote = std::sync::Arc::clone(&shared);
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| {
            let remote = std::sync::Arc::clone(&remote);
            std::thread::spawn(move || remote.abort()).join().unwrap();
            clock.advance(d);
        })
        .hooks(shared);
    let op = always(&clock, ErrorClass::Transient);
    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::Aborted);
    assert_eq!(err.attempts, 1, "checked before the second attempt");
}

// ---------------------------------------------------------------------------
// The sleep decision and before_sleep
// ---------------------------------------------------------------------------

#[test]
fn sleep_decision_defer_stops_scheduled_with_the_next_delay() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let before = Cell::new(0);
    let ends = RefCell::new(Vec::new());
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e))
        .on_attempt_end(|a| ends.borrow_mut().push((a.decision, a.delay, a.stop_reason)))
        .before_sleep(|_, _| before.set(before.get() + 1))
        .sleep_decision(|ctx, delay| {
            assert_eq!(delay, ms(100));
            if ctx.attempt >= 2 {
                SleepDecision::Defer
            } else {
                SleepDecision::Sleep
            }
        });
    let op = always(&clock, ErrorClass::RateLimit);

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::Scheduled);
    assert_eq!(err.next_delay, Some(ms(100)));
    assert_eq!(err.attempts, 2);
    assert_eq!(
        err.last_error().map(|e| e.n),
        Some(2),
        "the last error comes back"
    );
    assert_eq!(err.last_class, Some(ErrorClass::RateLimit));
    assert_eq!(clock.now(), ms(100), "a deferred retry does not sleep");
    assert_eq!(before.get(), 1, "before_sleep only runs before real sleeps");
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=RATE_LIMIT err=Boom cause=exception",
            "retry #2 delay=100ms at=100ms class=RATE_LIMIT err=Boom cause=exception",
            "scheduled #2 delay=100ms at=100ms class=RATE_LIMIT err=Boom stop_reason=SCHEDULED cause=exception",
        ]
    );
    assert_eq!(
        ends.take(),
        [
            (AttemptDecision::Retry, Some(ms(100)), None),
            (
                AttemptDecision::Scheduled,
                Some(ms(100)),
                Some(StopReason::Scheduled)
            ),
        ]
    );

    // `execute` reports the same.
    let op = always(&clock, ErrorClass::RateLimit);
    let outcome = bound.execute(|| op.run());
    assert_eq!(outcome.stop_reason, Some(StopReason::Scheduled));
    assert_eq!(outcome.next_delay, Some(ms(100)));
}

#[test]
fn sleep_decision_abort() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e))
        .sleep_decision(|_, _| SleepDecision::Abort);
    let op = always(&clock, ErrorClass::Transient);

    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::Aborted);
    assert_eq!(err.attempts, 1);
    assert_eq!(err.next_delay, None);
    assert_eq!(err.last_error().map(|e| e.n), Some(1));
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=TRANSIENT err=Boom cause=exception",
            "aborted #1 delay=0ns at=0ns stop_reason=ABORTED",
        ]
    );
}

#[derive(Debug, PartialEq)]
struct SeenCtx {
    attempt: u32,
    class: ErrorClass,
    retry_after: Option<Duration>,
    remaining: Duration,
    cause: Cause,
    delay: Duration,
}

fn seen(ctx: &BackoffContext<'_>, delay: Duration) -> SeenCtx {
    SeenCtx {
        attempt: ctx.attempt,
        class: ctx.class(),
        retry_after: ctx.classification.retry_after,
        remaining: ctx.remaining,
        cause: ctx.cause,
        delay,
    }
}

#[test]
fn before_sleep_receives_the_context_and_the_delay() {
    let policy = builder()
        .strategy(exponential().base(ms(100)))
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let before = RefCell::new(Vec::new());
    let decided = RefCell::new(Vec::new());
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .sleep_decision(|ctx, d| {
            decided.borrow_mut().push(seen(ctx, d));
            SleepDecision::Sleep
        })
        .before_sleep(|ctx, d| before.borrow_mut().push(seen(ctx, d)));
    let hinted = Classification::new(ErrorClass::RateLimit).with_retry_after(ms(1));
    let op = Script::with(&clock, vec![ErrorClass::Transient.into(), hinted]).taking(ms(5));

    assert_eq!(bound.call(|| op.run()).unwrap(), 3);
    let want = [
        SeenCtx {
            attempt: 1,
            class: ErrorClass::Transient,
            retry_after: None,
            remaining: ms(9_995),
            cause: Cause::Error,
            delay: ms(100),
        },
        SeenCtx {
            attempt: 2,
            class: ErrorClass::RateLimit,
            retry_after: Some(ms(1)),
            remaining: ms(9_890),
            cause: Cause::Error,
            delay: ms(200),
        },
    ];
    assert_eq!(before.take(), want);
    assert_eq!(decided.take(), want);
}

/// The reference hands `before_sleep` and the sleep handler the strategy's
/// own context, whose `prev_sleep_s` is the delay *before* the failed
/// attempt (`None` on the first retry), as `BackoffContext::prev_delay`
/// documents. The engine builds a second context after storing the new
/// delay, so the hooks see the delay they are about to sleep instead.
#[test]
fn sleep_hooks_see_the_previous_delay() {
    let policy = builder()
        .strategy(exponential().base(ms(100)))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let prev = RefCell::new(Vec::new());
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .before_sleep(|ctx, _| prev.borrow_mut().push(ctx.prev_delay));
    let op = Script::new(&clock, &[ErrorClass::Transient, ErrorClass::Transient]);
    assert_eq!(bound.call(|| op.run()).unwrap(), 3);
    // Today: [Some(100ms), Some(200ms)].
    assert_eq!(prev.take(), [None, Some(ms(100))]);
}

// ---------------------------------------------------------------------------
// Attempt hooks
// ---------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct End {
    attempt: u32,
    operation: Option<String>,
    elapsed: Duration,
    decision: AttemptDecision,
    class: Option<ErrorClass>,
    cause: Option<Cause>,
    stop_reason: Option<StopReason>,
    delay: Option<Duration>,
}

impl End {
    fn of(a: &AttemptEnd<'_>) -> Self {
        End {
            attempt: a.attempt,
            operation: a.operation.map(str::to_string),
            elapsed: a.elapsed,
            decision: a.decision,
            class: a.classification.map(|c| c.class),
            cause: a.cause,
            stop_reason: a.stop_reason,
            delay: a.delay,
        }
    }
}

#[test]
fn attempt_start_and_end_hooks() {
    let policy = builder().max_attempts(3).build().unwrap();
    let clock = ManualClock::new();
    let starts = RefCell::new(Vec::new());
    let ends = RefCell::new(Vec::new());
    let bound = policy
        .bind()
        .operation("charge")
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_attempt_start(|a: &AttemptStart<'_>| {
            starts
                .borrow_mut()
                .push((a.attempt, a.operation.map(str::to_string), a.elapsed));
        })
        .on_attempt_end(|a| ends.borrow_mut().push(End::of(a)));
    let op = Script::new(&clock, &[ErrorClass::Transient]).taking(ms(1));

    assert_eq!(bound.call(|| op.run()).unwrap(), 2);
    let op_name = Some("charge".to_string());
    assert_eq!(
        starts.take(),
        [(1, op_name.clone(), ms(0)), (2, op_name.clone(), ms(101))]
    );
    assert_eq!(
        ends.take(),
        [
            End {
                attempt: 1,
                operation: op_name.clone(),
                // Reported once the retry is certain: after the sleep.
                elapsed: ms(101),
                decision: AttemptDecision::Retry,
                class: Some(ErrorClass::Transient),
                cause: Some(Cause::Error),
                stop_reason: None,
                delay: Some(ms(100)),
            },
            End {
                attempt: 2,
                operation: op_name.clone(),
                elapsed: ms(102),
                decision: AttemptDecision::Success,
                class: None,
                cause: None,
                stop_reason: None,
                delay: None,
            },
        ]
    );

    // A call that stops: the last attempt ends with `stop` and the reason.
    let op = always(&clock, ErrorClass::ServerError);
    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.attempts, 3);
    assert_eq!(starts.take().len(), 3);
    let ends = ends.take();
    assert_eq!(
        ends.iter().map(|e| e.decision).collect::<Vec<_>>(),
        [
            AttemptDecision::Retry,
            AttemptDecision::Retry,
            AttemptDecision::Stop
        ]
    );
    let last = ends.last().unwrap();
    assert_eq!(last.stop_reason, Some(StopReason::MaxAttemptsGlobal));
    assert_eq!(last.class, Some(ErrorClass::ServerError));
    assert_eq!(last.delay, None);
    assert_eq!(AttemptDecision::Stop.as_str(), "stop");
}

// ---------------------------------------------------------------------------
// Seeds, result classification, timelines
// ---------------------------------------------------------------------------

#[test]
fn seed_makes_delays_reproducible() {
    let policy = builder()
        .strategy(
            decorrelated_jitter()
                .base(ms(10))
                .max(Duration::from_secs(10)),
        )
        .max_attempts(8)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let delays = |seed: u64| {
        let got = RefCell::new(Vec::new());
        let bound = policy.bind().seed(seed).clock(&clock).sleeper(|d| {
            got.borrow_mut().push(d);
            clock.advance(d);
        });
        let op = always(&clock, ErrorClass::Transient);
        let err = bound.call(|| op.run()).unwrap_err();
        assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
        got.take()
    };
    let a = delays(42);
    assert_eq!(a.len(), 7);
    assert_eq!(a, delays(42));
    assert_ne!(a, delays(43));
    // Decorrelated jitter: each delay in [base, 3 × previous], capped.
    let mut prev = ms(10);
    for d in &a {
        assert!(*d >= ms(10) && *d <= prev * 3, "{d:?} after {prev:?}");
        prev = *d;
    }

    // Without a seed, two calls draw differently.
    let unseeded = |_: u64| {
        let got = RefCell::new(Vec::new());
        let bound = policy.bind().clock(&clock).sleeper(|d| {
            got.borrow_mut().push(d);
            clock.advance(d);
        });
        let op = always(&clock, ErrorClass::Transient);
        let _ = bound.call(|| op.run());
        got.take()
    };
    assert_ne!(unseeded(0), unseeded(0));
}

#[derive(Clone, Debug, PartialEq)]
struct Response {
    status: u16,
}

#[test]
fn result_based_retries_return_the_last_flagged_value() {
    let policy = builder()
        .result_classifier(|r: &Response| (r.status >= 500).then_some(ErrorClass::ServerError))
        .max_attempts(3)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e));

    let statuses = [503, 502, 500];
    let n = Cell::new(0);
    let err = bound
        .call(|| {
            n.set(n.get() + 1);
            Ok::<_, Boom>(Response {
                status: statuses[n.get() - 1],
            })
        })
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.cause, Some(Cause::Result));
    assert_eq!(err.last_value(), Some(&Response { status: 500 }));
    assert!(err.last_error().is_none());
    assert!(err.source().is_none());
    assert_eq!(
        err.to_string(),
        "gave up after 3 attempts: the attempt limit was reached (the last result was flagged as SERVER_ERROR)"
    );
    assert_eq!(
        events.take(),
        [
            "retry #1 delay=100ms at=0ns class=SERVER_ERROR cause=result",
            "retry #2 delay=100ms at=100ms class=SERVER_ERROR cause=result",
            "max_attempts_exceeded #3 delay=0ns at=200ms class=SERVER_ERROR stop_reason=MAX_ATTEMPTS_GLOBAL cause=result",
        ]
    );
    assert_eq!(err.into_last_value(), Some(Response { status: 500 }));

    // A flagged value then a good one: the good one is returned.
    let n = Cell::new(0);
    let ok = bound
        .call(|| {
            n.set(n.get() + 1);
            Ok::<_, Boom>(Response {
                status: if n.get() == 1 { 503 } else { 200 },
            })
        })
        .unwrap();
    assert_eq!(ok, Response { status: 200 });

    // Errors and flagged values mix; the last failure decides what comes back.
    let n = Cell::new(0);
    let outcome = bound.execute(|| {
        n.set(n.get() + 1);
        match n.get() {
            1 => Ok(Response { status: 503 }),
            _ => Err(Boom::new(n.get() as u32, ErrorClass::Transient)),
        }
    });
    assert_eq!(outcome.cause, Some(Cause::Error));
    assert!(matches!(
        outcome.result,
        Err(Failure::Error(Boom { n: 3, .. }))
    ));
}

#[test]
fn timeline_capture() {
    let policy = builder().max_attempts(3).build().unwrap();
    let clock = ManualClock::new();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .capture_timeline();
    let op = always(&clock, ErrorClass::ServerError).taking(ms(5));

    let outcome = bound.execute(|| op.run());
    let timeline = outcome.timeline.expect("a timeline was requested");
    assert_eq!(timeline.len(), 3);
    assert_eq!(
        timeline.kinds().collect::<Vec<_>>(),
        [
            EventKind::Retry,
            EventKind::Retry,
            EventKind::MaxAttemptsExceeded
        ]
    );
    let entries = timeline.entries();
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.attempt, e.elapsed, e.delay))
            .collect::<Vec<_>>(),
        [
            (1, ms(5), ms(100)),
            (2, ms(110), ms(100)),
            (3, ms(215), Duration::ZERO)
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.class == Some(ErrorClass::ServerError))
    );
    assert!(entries.iter().all(|e| e.cause == Some(Cause::Error)));
    assert_eq!(entries[2].stop_reason, Some(StopReason::MaxAttemptsGlobal));
    assert_eq!(entries[0].stop_reason, None);

    // A fresh timeline per call.
    let op = Script::new(&clock, &[]);
    let outcome = bound.execute(|| op.run());
    let timeline = outcome.timeline.unwrap();
    assert_eq!(timeline.kinds().collect::<Vec<_>>(), [EventKind::Success]);

    // Not captured unless asked.
    let outcome = policy.bind().clock(&clock).execute(|| Ok::<_, Boom>(()));
    assert!(outcome.timeline.is_none());
}

// ---------------------------------------------------------------------------
// std::io::Error through the default classifier
// ---------------------------------------------------------------------------

#[test]
fn io_errors_are_classified_end_to_end() {
    let policy = Policy::builder()
        .strategy(constant(ms(100)))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let run = |kind: io::ErrorKind| {
        let events = Events::default();
        let bound = policy
            .bind()
            .clock(&clock)
            .sleeper(|d| clock.advance(d))
            .on_event(|e| events.push(e));
        let calls = Cell::new(0);
        let err = bound
            .call(|| {
                calls.set(calls.get() + 1);
                Err::<(), _>(io::Error::from(kind))
            })
            .unwrap_err();
        assert_eq!(err.last_error().map(io::Error::kind), Some(kind));
        (err.stop_reason, err.last_class, calls.get(), events.take())
    };

    for kind in [
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::TimedOut,
        io::ErrorKind::ConnectionRefused,
        io::ErrorKind::BrokenPipe,
        io::ErrorKind::Interrupted,
    ] {
        let (reason, class, calls, _) = run(kind);
        assert_eq!(class, Some(ErrorClass::Transient), "{kind:?}");
        assert_eq!(reason, StopReason::MaxAttemptsGlobal, "{kind:?}");
        assert_eq!(calls, 6, "{kind:?}");
    }
    let (reason, class, calls, events) = run(io::ErrorKind::PermissionDenied);
    assert_eq!(
        (reason, class, calls),
        (
            StopReason::NonRetryableClass,
            Some(ErrorClass::Permission),
            1
        )
    );
    assert_eq!(
        events,
        [
            "permanent_fail #1 delay=0ns at=0ns class=PERMISSION err=permission_denied stop_reason=NON_RETRYABLE_CLASS cause=exception"
        ]
    );
    for kind in [
        io::ErrorKind::NotFound,
        io::ErrorKind::InvalidInput,
        io::ErrorKind::InvalidData,
    ] {
        let (reason, class, calls, _) = run(kind);
        assert_eq!(
            (reason, class, calls),
            (
                StopReason::NonRetryableClass,
                Some(ErrorClass::Permanent),
                1
            ),
            "{kind:?}"
        );
    }
    // A kind that says nothing is UNKNOWN: two are tolerated, the third stops.
    let (reason, class, calls, _) = run(io::ErrorKind::Other);
    assert_eq!(
        (reason, class, calls),
        (StopReason::MaxUnknownAttempts, Some(ErrorClass::Unknown), 3)
    );

    // A marker inside an io::Error is found, with its retry-after hint.
    let events = Events::default();
    let calls = Cell::new(0);
    let err = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| events.push(e))
        .call(|| {
            calls.set(calls.get() + 1);
            Err::<(), _>(io::Error::other(
                RateLimitError::new("slow down").retry_after(Duration::from_secs(3)),
            ))
        })
        .unwrap_err();
    assert_eq!(err.last_class, Some(ErrorClass::RateLimit));
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(calls.get(), 6);
    assert!(events.take()[0].starts_with("retry #1 delay=100ms"));
}

// ---------------------------------------------------------------------------
// Panics in hooks
// ---------------------------------------------------------------------------

#[test]
fn a_panicking_hook_propagates_and_the_handle_still_works() {
    let policy = builder().build().unwrap();
    let clock = ManualClock::new();
    let explode = Cell::new(true);
    let events = Events::default();
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e| {
            events.push(e);
            if explode.get() && e.kind == EventKind::Retry {
                panic!("hook exploded");
            }
        });

    let op = Script::new(&clock, &[ErrorClass::Transient]);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bound.call(|| op.run())));
    let payload = caught.expect_err("the panic reaches the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"hook exploded"));
    assert_eq!(op.calls(), 1, "the call ended at the panic");
    assert_eq!(events.take().len(), 1);

    // The same bound handle and policy work normally afterwards.
    explode.set(false);
    let op = Script::new(&clock, &[ErrorClass::Transient, ErrorClass::Transient]);
    assert_eq!(bound.call(|| op.run()).unwrap(), 3);
    assert_eq!(events.take().len(), 3);
    let op = Script::new(&clock, &[ErrorClass::Transient]);
    assert_eq!(
        policy
            .bind()
            .clock(&clock)
            .sleeper(|d| clock.advance(d))
            .call(|| op.run())
            .unwrap(),
        2
    );

    // Panics from other hooks and from the operation propagate the same way.
    let once = Cell::new(true);
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .before_sleep(|_, _| {
            if once.replace(false) {
                panic!("before_sleep exploded");
            }
        });
    let op = always(&clock, ErrorClass::Transient);
    assert!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bound.call(|| op.run()))).is_err()
    );
    let op = Script::new(&clock, &[ErrorClass::Transient]);
    assert_eq!(bound.call(|| op.run()).unwrap(), 2);

    let bound = policy.bind().clock(&clock).sleeper(|d| clock.advance(d));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        bound.call(|| -> Result<(), Boom> { panic!("operation exploded") })
    }));
    assert!(caught.is_err());
    assert_eq!(bound.call(|| Ok::<_, Boom>(1)).unwrap(), 1);
}

// ---------------------------------------------------------------------------
// The one-line helper
// ---------------------------------------------------------------------------

#[test]
fn retry_helper_uses_the_reference_defaults() {
    // Paths that never sleep (the helper sleeps for real between attempts).
    assert_eq!(retry(|| Ok::<_, io::Error>(7)).unwrap(), 7);

    let calls = Cell::new(0);
    let err = retry(|| {
        calls.set(calls.get() + 1);
        Err::<(), _>(io::Error::from(io::ErrorKind::PermissionDenied))
    })
    .unwrap_err();
    assert_eq!(calls.get(), 1);
    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(err.last_class, Some(ErrorClass::Permission));
    assert_eq!(
        err.into_last_error().map(|e| e.kind()),
        Some(io::ErrorKind::PermissionDenied)
    );

    let q = quick_policy();
    assert_eq!(q.retry().deadline(), Duration::from_secs(60));
    assert_eq!(q.retry().max_attempts(), 6);
    assert_eq!(q.retry().max_unknown_attempts(), Some(2));
    let s = q.retry().default_strategy().unwrap();
    assert_eq!(s.kind(), "decorrelated_jitter");
    assert_eq!(s.max_delay(), Some(Duration::from_secs(5)));
    assert!(std::ptr::eq(q, quick_policy()), "built once");

    // `?` into Box<dyn Error>.
    fn via_question_mark() -> Result<(), Box<dyn Error>> {
        retry(|| Err::<(), _>(io::Error::from(io::ErrorKind::NotFound)))?;
        Ok(())
    }
    let boxed = via_question_mark().unwrap_err();
    assert!(
        boxed
            .to_string()
            .starts_with("gave up after 1 attempt: the failure is not retryable")
    );
}

// ---------------------------------------------------------------------------
// RetryError
// ---------------------------------------------------------------------------

#[test]
fn retry_error_display_and_source() {
    let policy = builder().max_attempts(2).build().unwrap();
    let clock = ManualClock::new();
    let bound = policy.bind().clock(&clock).sleeper(|d| clock.advance(d));

    let op = always(&clock, ErrorClass::Transient);
    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gave up after 2 attempts: the attempt limit was reached (last failure: TRANSIENT)"
    );
    let source = err.source().expect("the last error is the source");
    assert_eq!(source.to_string(), "boom #2");
    assert_eq!(source.downcast_ref::<Boom>().map(|b| b.n), Some(2));
    assert!(format!("{err:?}").contains("MaxAttemptsGlobal"));

    let op = always(&clock, ErrorClass::Permanent);
    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gave up after 1 attempt: the failure is not retryable (last failure: PERMANENT)"
    );
    assert!(!err.is_circuit_open());
    assert_eq!(err.into_last_error().map(|b| b.n), Some(1));
}

// ---------------------------------------------------------------------------
// Metric and log hooks
// ---------------------------------------------------------------------------

#[test]
fn metric_and_log_hooks_receive_the_reference_shapes() {
    let policy = builder()
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(constant(ms(1))).jitter(Duration::ZERO),
        )
        .max_attempts(3)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let metrics = RefCell::new(Vec::new());
    let logs = RefCell::new(Vec::new());
    let bound = policy
        .bind()
        .operation("sync_user")
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_metric(
            |event: &str, attempt: u32, delay: Duration, tags: &Tags<'_>| {
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                metrics
                    .borrow_mut()
                    .push(format!("{event} {attempt} {delay:?} [{}]", tags.join(", ")));
            },
        )
        .on_log(|event: &str, fields: &LogFields<'_, '_>| {
            logs.borrow_mut().push(format!("{event}: {fields}"));
        });
    let op = Script::with(
        &clock,
        vec![
            Classification::new(ErrorClass::RateLimit).with_retry_after(ms(1_500)),
            ErrorClass::Transient.into(),
        ],
    );
    assert_eq!(bound.call(|| op.run()).unwrap(), 3);
    assert_eq!(
        metrics.take(),
        [
            "retry 1 1.5s [class=RATE_LIMIT, err=Boom, cause=exception, operation=sync_user]",
            "retry 2 100ms [class=TRANSIENT, err=Boom, cause=exception, operation=sync_user]",
            "success 3 0ns [operation=sync_user]",
        ]
    );
    assert_eq!(
        logs.take(),
        [
            "retry: attempt=1 sleep_s=1.5 class=RATE_LIMIT err=Boom cause=exception operation=sync_user retry_after_s=1.5",
            "retry: attempt=2 sleep_s=0.1 class=TRANSIENT err=Boom cause=exception operation=sync_user",
            "success: attempt=3 sleep_s=0 operation=sync_user",
        ]
    );

    // Stop events carry the stop reason tag.
    let op = always(&clock, ErrorClass::Permanent);
    let _ = bound.call(|| op.run());
    assert_eq!(
        metrics.take(),
        [
            "permanent_fail 1 0ns [class=PERMANENT, err=Boom, stop_reason=NON_RETRYABLE_CLASS, cause=exception, operation=sync_user]"
        ]
    );
    assert_eq!(
        logs.take(),
        [
            "permanent_fail: attempt=1 sleep_s=0 class=PERMANENT err=Boom stop_reason=NON_RETRYABLE_CLASS cause=exception operation=sync_user"
        ]
    );
}

/// The reference calls the attempt-end hook once per attempt, after the
/// sleep (so a deadline found passed after sleeping is that attempt's
/// `stop`). The engine reports `retry` before sleeping and then, when the
/// sleeper overslept the deadline, a second `stop` for the same attempt.
#[test]
fn attempt_end_fires_once_per_attempt_even_when_a_sleep_overruns() {
    let policy = builder().deadline(ms(150)).build().unwrap();
    let clock = ManualClock::new();
    let ends = RefCell::new(Vec::new());
    let bound = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d * 2))
        .on_attempt_end(|a| ends.borrow_mut().push((a.attempt, a.decision)));
    let op = always(&clock, ErrorClass::Transient);
    let err = bound.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::DeadlineExceeded);
    assert_eq!(err.attempts, 1);
    // Today: [(1, Retry), (1, Stop)].
    assert_eq!(ends.take().len(), 1);
}
