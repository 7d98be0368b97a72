//! Circuit breakers and retry budgets through the blocking runner: the
//! unified policy, end to end.
//!
//! Every call runs on a [`ManualClock`] with a sleeper that advances it, so
//! no test sleeps for real and every time is exact.

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
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use redress_core::backoff::constant;
use redress_core::{
    BackoffContext, Budget, CircuitBreaker, CircuitState, ErrorClass, Event, EventKind, Failure,
    ManualClock, Policy, PolicyBuilder, RatioBudget, RollingBudget, SleepDecision, StopReason,
};
use redress_sync::BlockingPolicy;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The operation's error: it carries the class it should be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fault(ErrorClass);

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault {}", self.0)
    }
}

impl Error for Fault {}

type ByClass = fn(&Fault) -> ErrorClass;

fn by_class(e: &Fault) -> ErrorClass {
    e.0
}

/// Faults classified by their class, 3 attempts, a constant 100 ms backoff.
fn builder() -> PolicyBuilder<ByClass> {
    Policy::builder()
        .classifier(by_class as ByClass)
        .strategy(constant(ms(100)))
        .max_attempts(3)
}

/// A breaker that opens at `threshold` failures in 60 s and probes after
/// 30 s.
fn breaker(threshold: u32) -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(threshold)
            .window(secs(60))
            .recovery_timeout(secs(30))
            .build()
            .unwrap(),
    )
}

/// An operation that replays a script: `Some(class)` fails with that class,
/// `None` succeeds; the last step repeats. It counts its invocations.
struct Op {
    script: Vec<Option<ErrorClass>>,
    runs: Cell<u32>,
}

impl Op {
    fn new(script: &[Option<ErrorClass>]) -> Self {
        Op {
            script: script.to_vec(),
            runs: Cell::new(0),
        }
    }

    fn failing(class: ErrorClass) -> Self {
        Op::new(&[Some(class)])
    }

    fn ok() -> Self {
        Op::new(&[None])
    }

    /// Runs once; succeeds with the number of this run.
    fn run(&self) -> Result<u32, Fault> {
        let n = self.runs.get();
        self.runs.set(n + 1);
        let step = self
            .script
            .get(n as usize)
            .or(self.script.last())
            .copied()
            .flatten();
        match step {
            Some(class) => Err(Fault(class)),
            None => Ok(n + 1),
        }
    }

    fn runs(&self) -> u32 {
        self.runs.get()
    }
}

const SE: Option<ErrorClass> = Some(ErrorClass::ServerError);

/// An event as one comparable line: kind, attempt, delay and tags.
fn line(e: &Event<'_>) -> String {
    let mut s = format!("{} #{}", e.kind, e.attempt);
    if !e.delay.is_zero() {
        s.push_str(&format!(" delay={:?}", e.delay));
    }
    for (k, v) in e.tags().iter() {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}

/// Collects event lines.
#[derive(Default)]
struct Log(RefCell<Vec<String>>);

impl Log {
    fn push(&self, e: &Event<'_>) {
        self.0.borrow_mut().push(line(e));
    }

    fn take(&self) -> Vec<String> {
        self.0.take()
    }
}

/// A call site on the manual clock that logs every event; more hooks can be
/// chained onto it.
macro_rules! site {
    ($policy:expr, $clock:expr, $log:expr) => {
        $policy
            .bind()
            .operation("get")
            .clock(&$clock)
            .sleeper(|d| $clock.advance(d))
            .on_event(|e| $log.push(e))
    };
}

/// Opens `breaker` (threshold 1) with one failed call through `policy`.
fn trip<P: BlockingPolicy<ByClass, redress_core::NoResultClassifier>>(site: &P) {
    let op = Op::failing(ErrorClass::ServerError);
    let err = site.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
}

// ---------------------------------------------------------------------------
// Admission and rejection
// ---------------------------------------------------------------------------

#[test]
fn a_rejected_call_never_runs_the_operation() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);

    // Three failed attempts, then one breaker record: it opens.
    let op = Op::failing(ErrorClass::ServerError);
    let err = site.call(|| op.run()).unwrap_err();
    assert_eq!(op.runs(), 3);
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.attempts, 3);
    assert!(!err.is_circuit_open());
    assert_eq!(
        log.take(),
        [
            "retry #1 delay=100ms class=SERVER_ERROR err=Fault cause=exception operation=get",
            "retry #2 delay=100ms class=SERVER_ERROR err=Fault cause=exception operation=get",
            "max_attempts_exceeded #3 class=SERVER_ERROR err=Fault stop_reason=MAX_ATTEMPTS_GLOBAL cause=exception operation=get",
            "circuit_opened #0 class=SERVER_ERROR state=open operation=get",
        ]
    );
    assert_eq!(breaker.state(), CircuitState::Open);
    // It opened when the call ended, at 200 ms.
    assert_eq!(clock.now(), ms(200));

    clock.advance(secs(5));
    let op = Op::ok();
    let err = site.call(|| op.run()).unwrap_err();
    assert_eq!(op.runs(), 0, "a rejected call never runs the operation");
    assert!(err.is_circuit_open());
    assert_eq!(err.stop_reason, StopReason::CircuitOpen);
    assert!(matches!(err.failure, Failure::NotAttempted));
    assert_eq!(err.attempts, 0);
    assert_eq!(err.last_class, None);
    assert_eq!(err.cause, None);
    assert_eq!(err.last_error(), None);
    assert_eq!(err.elapsed, Duration::ZERO);
    // The time until a probe, to hand on as a Retry-After.
    assert_eq!(err.next_delay, Some(secs(25)));
    assert_eq!(err.next_delay, breaker.time_until_probe(clock.now()));
    assert_eq!(err.source().map(|e| e.to_string()), None);
    assert_eq!(
        err.to_string(),
        "not attempted: the circuit breaker is open"
    );
    assert_eq!(log.take(), ["circuit_rejected #0 state=open operation=get"]);
}

#[test]
fn execute_reports_a_rejection_as_an_outcome() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::starting_at(secs(1_000));
    let log = Log::default();
    let site = site!(policy, clock, log);
    trip(&site);
    log.take();

    clock.advance(secs(29));
    let op = Op::ok();
    let outcome = site.execute(|| op.run());
    assert_eq!(op.runs(), 0);
    assert!(!outcome.is_ok());
    assert_eq!(outcome.stop_reason, Some(StopReason::CircuitOpen));
    assert_eq!(outcome.attempts, 0);
    assert!(matches!(outcome.result, Err(Failure::NotAttempted)));
    assert_eq!(outcome.last_error(), None);
    assert_eq!(outcome.last_class, None);
    // Opened at 1000.2 s, now 1029.2 s.
    assert_eq!(outcome.next_delay, Some(secs(1)));
    assert_eq!(log.take(), ["circuit_rejected #0 state=open operation=get"]);

    // `into_result` gives what `call` returns.
    assert!(outcome.into_result().unwrap_err().is_circuit_open());
}

#[test]
fn a_probe_in_flight_rejects_other_calls_as_half_open() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);
    trip(&site);
    clock.advance(secs(30));
    log.take();

    // While the probe runs, a second call (made from inside the probe's
    // operation) is rejected: only one probe at a time.
    let inner = RefCell::new(None);
    let inner_op = Op::ok();
    let outcome = site.execute(|| {
        *inner.borrow_mut() = Some(site.execute(|| inner_op.run()));
        Ok::<_, Fault>(7)
    });
    assert_eq!(outcome.result.ok(), Some(7));
    let inner = inner.take().unwrap();
    assert_eq!(inner_op.runs(), 0);
    assert_eq!(inner.stop_reason, Some(StopReason::CircuitOpen));
    // No probe time to give while a probe is in flight.
    assert_eq!(inner.next_delay, None);
    assert_eq!(
        log.take(),
        [
            "circuit_half_open #0 state=half_open operation=get",
            "circuit_rejected #0 state=half_open operation=get",
            "success #1 operation=get",
            "circuit_closed #0 state=closed operation=get",
        ]
    );
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[test]
fn isolate_rejects_without_a_probe_time_until_reset() {
    let breaker = breaker(5);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);

    breaker.isolate();
    clock.advance(secs(3_600));
    let op = Op::ok();
    let err = site.call(|| op.run()).unwrap_err();
    assert!(err.is_circuit_open());
    assert_eq!(err.next_delay, None);
    assert_eq!(op.runs(), 0);
    assert_eq!(log.take(), ["circuit_rejected #0 state=open operation=get"]);

    breaker.reset();
    assert_eq!(site.call(|| op.run()).unwrap(), 1);
    assert_eq!(log.take(), ["success #1 operation=get"]);
}

// ---------------------------------------------------------------------------
// The probe
// ---------------------------------------------------------------------------

#[test]
fn a_successful_probe_closes_the_breaker() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);
    trip(&site);
    log.take();

    // One nanosecond early: still rejected.
    clock.advance(secs(30) - Duration::from_nanos(1));
    let op = Op::new(&[SE, None]);
    assert!(site.call(|| op.run()).unwrap_err().is_circuit_open());
    assert_eq!(
        breaker.time_until_probe(clock.now()),
        Some(Duration::from_nanos(1))
    );
    clock.advance(Duration::from_nanos(1));
    assert_eq!(breaker.time_until_probe(clock.now()), Some(Duration::ZERO));
    log.take();

    // The probe is a whole call: it may retry; its outcome is recorded once.
    let value = site.call(|| op.run()).unwrap();
    assert_eq!(value, 2);
    assert_eq!(
        log.take(),
        [
            "circuit_half_open #0 state=half_open operation=get",
            "retry #1 delay=100ms class=SERVER_ERROR err=Fault cause=exception operation=get",
            "success #2 operation=get",
            "circuit_closed #0 state=closed operation=get",
        ]
    );
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.failures(clock.now()), 0);
    assert_eq!(breaker.time_until_probe(clock.now()), None);
}

#[test]
fn a_failed_probe_reopens_the_breaker_whatever_its_class() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);
    trip(&site);
    clock.advance(secs(30));
    log.take();

    // PERMANENT does not trip a closed breaker, but it fails a probe.
    let op = Op::failing(ErrorClass::Permanent);
    let err = site.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(
        log.take(),
        [
            "circuit_half_open #0 state=half_open operation=get",
            "permanent_fail #1 class=PERMANENT err=Fault stop_reason=NON_RETRYABLE_CLASS cause=exception operation=get",
            "circuit_opened #0 class=PERMANENT state=open operation=get",
        ]
    );
    assert_eq!(breaker.state(), CircuitState::Open);
    // The recovery timeout starts again from the probe's end.
    assert_eq!(breaker.time_until_probe(clock.now()), Some(secs(30)));
}

#[test]
fn a_panicking_probe_releases_the_slot() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);
    trip(&site);
    clock.advance(secs(30));
    log.take();

    let ran = Cell::new(0);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        site.call(|| -> Result<(), Fault> {
            ran.set(ran.get() + 1);
            panic!("the probe's operation panics");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(ran.get(), 1);
    assert_eq!(
        log.take(),
        ["circuit_half_open #0 state=half_open operation=get"]
    );
    // Still half-open, but the probe slot is free again.
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    // The next call is admitted as the probe (no second half_open event:
    // the breaker did not change state) and closes the breaker.
    let op = Op::ok();
    assert_eq!(site.call(|| op.run()).unwrap(), 1);
    assert_eq!(
        log.take(),
        [
            "success #1 operation=get",
            "circuit_closed #0 state=closed operation=get",
        ]
    );
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[test]
fn a_panic_while_closed_counts_neither_way() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);

    let op = Op::failing(ErrorClass::ServerError);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        site.call(|| -> Result<(), Fault> {
            if op.run().is_err() && op.runs() == 2 {
                panic!("second attempt panics");
            }
            Err(Fault(ErrorClass::ServerError))
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.failures(clock.now()), 0);
}

#[test]
fn an_aborted_probe_releases_the_slot() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);
    trip(&site);
    clock.advance(secs(30));
    log.take();

    // Aborted before its first attempt: the operation never runs.
    let op = Op::ok();
    let outcome = site.abort_if(|| true).execute(|| op.run());
    assert_eq!(outcome.stop_reason, Some(StopReason::Aborted));
    assert_eq!(outcome.attempts, 0);
    assert_eq!(op.runs(), 0);
    assert_eq!(
        log.take(),
        [
            "circuit_half_open #0 state=half_open operation=get",
            "aborted #0 stop_reason=ABORTED operation=get",
        ]
    );
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    // Aborted after a failed attempt: released too.
    let stop = AtomicBool::new(false);
    let failing = Op::failing(ErrorClass::ServerError);
    let outcome = site.abort_if(|| stop.load(Ordering::Relaxed)).execute(|| {
        stop.store(true, Ordering::Relaxed);
        failing.run()
    });
    assert_eq!(outcome.stop_reason, Some(StopReason::Aborted));
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.last_class, Some(ErrorClass::ServerError));
    assert_eq!(log.take(), ["aborted #1 stop_reason=ABORTED operation=get"]);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    // The next call is the probe.
    assert_eq!(site.call(|| op.run()).unwrap(), 1);
    assert_eq!(
        log.take(),
        [
            "success #1 operation=get",
            "circuit_closed #0 state=closed operation=get",
        ]
    );
}

#[test]
fn an_aborted_call_while_closed_counts_neither_way() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);

    let stop = AtomicBool::new(false);
    let op = Op::failing(ErrorClass::ServerError);
    let outcome = site.abort_if(|| stop.load(Ordering::Relaxed)).execute(|| {
        stop.store(true, Ordering::Relaxed);
        op.run()
    });
    assert_eq!(outcome.stop_reason, Some(StopReason::Aborted));
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.failures(clock.now()), 0);
}

// ---------------------------------------------------------------------------
// What the breaker counts
// ---------------------------------------------------------------------------

#[test]
fn one_breaker_record_per_call_after_its_retries() {
    let breaker = breaker(2);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);

    // Two failures, then a success: the call succeeded, nothing is counted.
    let op = Op::new(&[SE, SE, None]);
    assert_eq!(site.call(|| op.run()).unwrap(), 3);
    assert_eq!(breaker.failures(clock.now()), 0);

    // Three failed attempts: one failure.
    let op = Op::failing(ErrorClass::ServerError);
    site.call(|| op.run()).unwrap_err();
    assert_eq!(op.runs(), 3);
    assert_eq!(breaker.failures(clock.now()), 1);
    assert_eq!(breaker.state(), CircuitState::Closed);

    // Classes outside `trip_on` are not counted.
    let op = Op::failing(ErrorClass::RateLimit);
    site.call(|| op.run()).unwrap_err();
    assert_eq!(breaker.failures(clock.now()), 1);

    // The call's *last* class is what counts: a TRANSIENT failure after a
    // rate limit trips it.
    log.take();
    let op = Op::new(&[Some(ErrorClass::RateLimit), Some(ErrorClass::Transient)]);
    site.call(|| op.run()).unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(
        log.take().last().map(String::as_str),
        Some("circuit_opened #0 class=TRANSIENT state=open operation=get")
    );
}

#[test]
fn a_slow_call_from_before_an_outage_does_not_count_after_it() {
    let breaker = breaker(2);
    let policy = builder()
        .max_attempts(1)
        .circuit_breaker(breaker.clone())
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let (started, wait_for_start) = mpsc::channel();
    let (finish, wait_to_finish) = mpsc::channel::<()>();
    thread::scope(|scope| {
        // A slow call, admitted while the breaker is closed.
        let (policy, clock) = (&policy, &clock);
        let slow = scope.spawn(move || {
            let site = policy.bind().clock(clock).sleeper(|d| clock.advance(d));
            site.call(|| {
                started.send(()).unwrap();
                wait_to_finish.recv().unwrap();
                Err::<(), _>(Fault(ErrorClass::ServerError))
            })
        });
        wait_for_start.recv().unwrap();
        let log = Log::default();
        let site = site!(policy, clock, log);
        // Meanwhile an outage: two failed calls open the breaker, and the
        // probe closes it 30 s later.
        for _ in 0..2 {
            let op = Op::failing(ErrorClass::ServerError);
            site.call(|| op.run()).unwrap_err();
        }
        assert_eq!(breaker.state(), CircuitState::Open);
        clock.advance(secs(30));
        let op = Op::ok();
        site.call(|| op.run()).unwrap();
        assert_eq!(breaker.state(), CircuitState::Closed);
        log.take();

        // The slow call fails only now: its failure belongs to the closed
        // cycle it was admitted in, and is not counted in the new one.
        finish.send(()).unwrap();
        let err = slow.join().unwrap().unwrap_err();
        assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
        assert_eq!(breaker.failures(clock.now()), 0);

        // So one fresh failure does not reopen the breaker; a second does.
        let op = Op::failing(ErrorClass::ServerError);
        site.call(|| op.run()).unwrap_err();
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert!(!log.take().iter().any(|l| l.starts_with("circuit_opened")));
        site.call(|| op.run()).unwrap_err();
        assert_eq!(breaker.state(), CircuitState::Open);
    });
}

#[test]
fn class_thresholds_open_on_their_own() {
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(100)
            .class_threshold(ErrorClass::RateLimit, 2)
            .build()
            .unwrap(),
    );
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);

    let op = Op::failing(ErrorClass::RateLimit);
    site.call(|| op.run()).unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Closed);
    log.take();
    site.call(|| op.run()).unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(
        log.take().last().map(String::as_str),
        Some("circuit_opened #0 class=RATE_LIMIT state=open operation=get")
    );
}

#[test]
fn failures_older_than_the_window_are_forgotten() {
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(2)
            .window(secs(16))
            .build()
            .unwrap(),
    );
    let policy = builder()
        .no_retries()
        .circuit_breaker(breaker.clone())
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);
    let op = Op::failing(ErrorClass::ServerError);

    site.call(|| op.run()).unwrap_err();
    // Bucketed window: an event counts for between W and W + W/16.
    clock.advance(secs(17));
    assert_eq!(breaker.failures(clock.now()), 0);
    site.call(|| op.run()).unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Closed);
    clock.advance(secs(15));
    site.call(|| op.run()).unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[test]
fn a_deferred_call_counts_as_a_failure() {
    let breaker = breaker(2);
    let policy = builder().circuit_breaker(breaker.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log).sleep_decision(|_, _| SleepDecision::Defer);
    let op = Op::failing(ErrorClass::Transient);

    let outcome = site.execute(|| op.run());
    assert_eq!(outcome.stop_reason, Some(StopReason::Scheduled));
    assert_eq!(outcome.next_delay, Some(ms(100)));
    assert_eq!(breaker.failures(clock.now()), 1);
    assert_eq!(breaker.state(), CircuitState::Closed);
    log.take();

    let outcome = site.execute(|| op.run());
    assert_eq!(outcome.stop_reason, Some(StopReason::Scheduled));
    assert_eq!(
        log.take(),
        [
            "retry #1 delay=100ms class=TRANSIENT err=Fault cause=exception operation=get",
            "scheduled #1 delay=100ms class=TRANSIENT err=Fault stop_reason=SCHEDULED cause=exception operation=get",
            "circuit_opened #0 class=TRANSIENT state=open operation=get",
        ]
    );
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(op.runs(), 2);
}

#[test]
fn timelines_include_breaker_events() {
    let breaker = breaker(1);
    let policy = builder().circuit_breaker(breaker).build().unwrap();
    let clock = ManualClock::new();
    let site = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .capture_timeline();
    let op = Op::failing(ErrorClass::ServerError);
    let outcome = site.execute(|| op.run());
    let kinds: Vec<_> = outcome.timeline.unwrap().kinds().collect();
    assert_eq!(
        kinds,
        [
            EventKind::Retry,
            EventKind::Retry,
            EventKind::MaxAttemptsExceeded,
            EventKind::CircuitOpened,
        ]
    );
    let outcome = site.execute(|| op.run());
    let kinds: Vec<_> = outcome.timeline.unwrap().kinds().collect();
    assert_eq!(kinds, [EventKind::CircuitRejected]);
}

#[test]
fn a_breaker_only_policy_with_no_retries() {
    let breaker = breaker(2);
    // No strategy needed: `no_retries` makes a single-attempt policy.
    let policy = Policy::builder()
        .classifier(by_class as ByClass)
        .no_retries()
        .circuit_breaker(breaker.clone())
        .build()
        .unwrap();
    assert_eq!(policy.retry().max_attempts(), 1);
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);

    let op = Op::failing(ErrorClass::ServerError);
    let err = site.call(|| op.run()).unwrap_err();
    assert_eq!(err.attempts, 1);
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.last_error(), Some(&Fault(ErrorClass::ServerError)));
    site.call(|| op.run()).unwrap_err();
    assert_eq!(op.runs(), 2);
    let rejected = site.call(|| op.run()).unwrap_err();
    assert!(rejected.is_circuit_open());
    assert_eq!(op.runs(), 2);
    assert_eq!(
        log.take(),
        [
            "max_attempts_exceeded #1 class=SERVER_ERROR err=Fault stop_reason=MAX_ATTEMPTS_GLOBAL cause=exception operation=get",
            "max_attempts_exceeded #1 class=SERVER_ERROR err=Fault stop_reason=MAX_ATTEMPTS_GLOBAL cause=exception operation=get",
            "circuit_opened #0 class=SERVER_ERROR state=open operation=get",
            "circuit_rejected #0 state=open operation=get",
        ]
    );

    // `no_retries` keeps a strategy that was set.
    let kept = builder().no_retries().build().unwrap();
    assert_eq!(kept.retry().max_attempts(), 1);
    assert_eq!(
        kept.retry().default_strategy().map(|s| s.kind()),
        Some("constant")
    );
}

// ---------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------

#[test]
fn a_budget_shared_by_two_policies_stops_both() {
    let budget = Arc::new(RollingBudget::new(2, secs(16)).unwrap());
    let users = builder()
        .max_attempts(5)
        .budget(budget.clone())
        .build()
        .unwrap();
    let orders = builder().budget(budget.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let get_user = site!(users, clock, log);
    let list_orders = site!(orders, clock, log);

    // Two retries granted, the third refused.
    let op = Op::failing(ErrorClass::ServerError);
    let err = get_user.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::BudgetExhausted);
    assert_eq!(err.attempts, 3);
    assert_eq!(op.runs(), 3);
    // Nothing is lost: the last error comes back.
    assert_eq!(err.last_error(), Some(&Fault(ErrorClass::ServerError)));
    assert_eq!(err.last_class, Some(ErrorClass::ServerError));
    assert_eq!(
        err.to_string(),
        "gave up after 3 attempts: the retry budget is exhausted (last failure: SERVER_ERROR)"
    );
    assert_eq!(
        log.take(),
        [
            "retry #1 delay=100ms class=SERVER_ERROR err=Fault cause=exception operation=get",
            "retry #2 delay=100ms class=SERVER_ERROR err=Fault cause=exception operation=get",
            "budget_exhausted #3 class=SERVER_ERROR err=Fault stop_reason=BUDGET_EXHAUSTED cause=exception operation=get",
        ]
    );
    assert_eq!(budget.remaining(clock.now()), Some(0));

    // The other policy shares the budget: no retry left for it either.
    let op = Op::new(&[SE, None]);
    let outcome = list_orders.execute(|| op.run());
    assert_eq!(outcome.stop_reason, Some(StopReason::BudgetExhausted));
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.last_error(), Some(&Fault(ErrorClass::ServerError)));

    // A success needs no token.
    let op = Op::ok();
    assert_eq!(list_orders.call(|| op.run()).unwrap(), 1);

    // Once the window has passed, retries are granted again.
    clock.advance(secs(17));
    assert_eq!(budget.remaining(clock.now()), Some(2));
    let op = Op::new(&[SE, None]);
    assert_eq!(list_orders.call(|| op.run()).unwrap(), 2);
    assert_eq!(budget.remaining(clock.now()), Some(1));
}

#[test]
fn the_budget_is_asked_after_the_delay_and_never_when_attempts_run_out() {
    static DELAYS_COMPUTED: AtomicU32 = AtomicU32::new(0);
    let budget = Arc::new(RollingBudget::new(10, secs(60)).unwrap());
    let policy = Policy::builder()
        .classifier(by_class as ByClass)
        .strategy(|_: &BackoffContext<'_>| {
            DELAYS_COMPUTED.fetch_add(1, Ordering::Relaxed);
            ms(100)
        })
        .max_attempts(3)
        .budget(budget.clone())
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);

    // Rule 8 (MAX_ATTEMPTS_GLOBAL) stops the third failure before any delay
    // is computed or any token spent: 2 retries, 2 tokens.
    let op = Op::failing(ErrorClass::ServerError);
    let err = site.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(DELAYS_COMPUTED.load(Ordering::Relaxed), 2);
    assert_eq!(budget.remaining(clock.now()), Some(8));

    // Non-retryable classes spend nothing either.
    let op = Op::failing(ErrorClass::Permanent);
    site.call(|| op.run()).unwrap_err();
    assert_eq!(budget.remaining(clock.now()), Some(8));

    // Drain the budget; a refusal comes after the delay is computed (rule 9
    // before rule 10), and the refused retry takes no token.
    for _ in 0..8 {
        assert!(budget.try_withdraw(clock.now()));
    }
    let before = DELAYS_COMPUTED.load(Ordering::Relaxed);
    let err = site.call(|| op_failing_once().run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::BudgetExhausted);
    assert_eq!(err.attempts, 1);
    assert_eq!(DELAYS_COMPUTED.load(Ordering::Relaxed), before + 1);
    assert_eq!(budget.remaining(clock.now()), Some(0));
}

#[test]
fn a_deferred_retry_has_spent_its_token() {
    let budget = Arc::new(RollingBudget::new(5, secs(60)).unwrap());
    let policy = builder().budget(budget.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let deferring = site!(policy, clock, log).sleep_decision(|_, _| SleepDecision::Defer);
    let outcome = deferring.execute(|| op_failing_once().run());
    assert_eq!(outcome.stop_reason, Some(StopReason::Scheduled));
    // Rule 10 (the budget) comes before the sleep decision.
    assert_eq!(budget.remaining(clock.now()), Some(4));

    let aborting = site!(policy, clock, log).sleep_decision(|_, _| SleepDecision::Abort);
    let outcome = aborting.execute(|| op_failing_once().run());
    assert_eq!(outcome.stop_reason, Some(StopReason::Aborted));
    assert_eq!(budget.remaining(clock.now()), Some(3));
}

fn op_failing_once() -> Op {
    Op::new(&[SE, None])
}

#[test]
fn a_ratio_budget_earns_retries_from_calls() {
    // One retry per two calls, no floor.
    let budget = Arc::new(
        RatioBudget::builder()
            .ratio(0.5)
            .min_per_second(0)
            .window(secs(10))
            .build()
            .unwrap(),
    );
    let reads = builder().budget(budget.clone()).build().unwrap();
    let writes = builder().budget(budget.clone()).build().unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let read = site!(reads, clock, log);
    let write = site!(writes, clock, log);

    // The first call: 1 call earns 0.5 retries, rounded down.
    let err = read.call(|| op_failing_once().run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::BudgetExhausted);
    assert_eq!(err.attempts, 1);

    // Three more calls (from the other policy): 4 calls, 2 retries.
    for _ in 0..3 {
        write.call(|| Op::ok().run()).unwrap();
    }
    assert_eq!(budget.remaining(clock.now()), Some(2));
    // The 5th call may retry twice.
    let op = Op::new(&[SE, SE, None]);
    assert_eq!(read.call(|| op.run()).unwrap(), 3);
    assert_eq!(budget.remaining(clock.now()), Some(0));

    // The 6th call earns half a retry: 3 allowed in all, 2 spent.
    let op = Op::new(&[SE, SE, None]);
    let err = write.call(|| op.run()).unwrap_err();
    assert_eq!(err.stop_reason, StopReason::BudgetExhausted);
    assert_eq!(err.attempts, 2);
}

#[test]
fn rejected_calls_earn_no_ratio_budget_and_spend_none() {
    let budget = Arc::new(
        RatioBudget::builder()
            .ratio(1.0)
            .min_per_second(0)
            .build()
            .unwrap(),
    );
    let breaker = breaker(1);
    let policy = builder()
        .no_retries()
        .budget(budget.clone())
        .circuit_breaker(breaker)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let log = Log::default();
    let site = site!(policy, clock, log);
    site.call(|| Op::failing(ErrorClass::ServerError).run())
        .unwrap_err();
    // One call started: one retry earned (unused: no_retries).
    assert_eq!(budget.remaining(clock.now()), Some(1));
    for _ in 0..10 {
        assert!(site.call(|| Op::ok().run()).unwrap_err().is_circuit_open());
    }
    assert_eq!(budget.remaining(clock.now()), Some(1));
}

// ---------------------------------------------------------------------------
// Many threads, one policy
// ---------------------------------------------------------------------------

/// Counts of events and outcomes, shared by the threads.
#[derive(Default)]
struct Tally {
    events: [AtomicU64; EventKind::ALL.len()],
    invocations: AtomicU64,
    attempts: AtomicU64,
    ok: AtomicU64,
    stops: [AtomicU64; 10],
    expected_retries: AtomicU64,
}

fn kind_index(kind: EventKind) -> usize {
    EventKind::ALL.iter().position(|k| *k == kind).unwrap()
}

const STOPS: [StopReason; 10] = [
    StopReason::MaxAttemptsGlobal,
    StopReason::MaxAttemptsPerClass,
    StopReason::DeadlineExceeded,
    StopReason::MaxUnknownAttempts,
    StopReason::NonRetryableClass,
    StopReason::NoStrategy,
    StopReason::BudgetExhausted,
    StopReason::Scheduled,
    StopReason::Aborted,
    StopReason::CircuitOpen,
];

impl Tally {
    fn event(&self, kind: EventKind) -> u64 {
        self.events[kind_index(kind)].load(Ordering::Relaxed)
    }

    fn stop(&self, reason: StopReason) -> u64 {
        let i = STOPS.iter().position(|r| *r == reason).unwrap();
        self.stops[i].load(Ordering::Relaxed)
    }
}

#[test]
fn threads_sharing_one_policy_reconcile_exactly() {
    const THREADS: u64 = 4;
    const CALLS: u64 = 10_000;
    const TOKENS: u32 = 1_000;
    const RECOVERY: Duration = Duration::from_millis(2);

    let clock = ManualClock::new();
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(5)
            .window(secs(1))
            .recovery_timeout(RECOVERY)
            .build()
            .unwrap(),
    );
    // A window longer than the whole run: tokens spent are never returned.
    let budget = Arc::new(RollingBudget::new(TOKENS, secs(1_000_000)).unwrap());
    let policy = Arc::new(
        builder()
            .strategy(constant(ms(1)))
            .deadline(secs(1_000_000))
            .circuit_breaker(breaker.clone())
            .budget(budget.clone())
            .build()
            .unwrap(),
    );
    let tally = Tally::default();

    thread::scope(|s| {
        for t in 0..THREADS {
            let (policy, clock, tally) = (Arc::clone(&policy), &clock, &tally);
            s.spawn(move || {
                let call_events = RefCell::new(Vec::new());
                let site = policy
                    .bind()
                    .operation("stress")
                    .clock(clock)
                    .sleeper(|d| clock.advance(d))
                    .seed(t)
                    .on_event(|e| {
                        tally.events[kind_index(e.kind)].fetch_add(1, Ordering::Relaxed);
                        call_events.borrow_mut().push(e.kind);
                    });
                for i in 0..CALLS {
                    // Requests arrive 20 µs apart, whatever happens to them.
                    clock.advance(Duration::from_micros(20));
                    let outage = (i / 500) % 4 == 0;
                    let runs = Cell::new(0u32);
                    let outcome = site.execute(|| {
                        runs.set(runs.get() + 1);
                        tally.invocations.fetch_add(1, Ordering::Relaxed);
                        clock.advance(Duration::from_micros(50));
                        let first = runs.get() == 1;
                        if outage || (first && i % 5 == 0) {
                            Err(Fault(ErrorClass::ServerError))
                        } else if i % 97 == 0 {
                            Err(Fault(ErrorClass::Permanent))
                        } else {
                            Ok(i)
                        }
                    });

                    // Per call: attempts are exactly the operation's runs.
                    assert_eq!(outcome.attempts, runs.get());
                    tally
                        .attempts
                        .fetch_add(u64::from(outcome.attempts), Ordering::Relaxed);
                    let events = call_events.take();
                    if outcome.attempts > 0 {
                        tally
                            .expected_retries
                            .fetch_add(u64::from(outcome.attempts - 1), Ordering::Relaxed);
                    }
                    match outcome.stop_reason {
                        None => {
                            assert_eq!(outcome.result.as_ref().ok(), Some(&i));
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(reason) => {
                            let idx = STOPS.iter().position(|r| *r == reason).unwrap();
                            tally.stops[idx].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if outcome.stop_reason == Some(StopReason::CircuitOpen) {
                        assert_eq!(outcome.attempts, 0);
                        assert!(matches!(outcome.result, Err(Failure::NotAttempted)));
                        assert!(outcome.next_delay.is_none_or(|d| d <= RECOVERY));
                        assert_eq!(events, [EventKind::CircuitRejected]);
                        continue;
                    }
                    assert!(outcome.attempts >= 1);
                    // A probe's call ends by closing or reopening the breaker.
                    if events.first() == Some(&EventKind::CircuitHalfOpen) {
                        let expected = if outcome.is_ok() {
                            EventKind::CircuitClosed
                        } else {
                            EventKind::CircuitOpened
                        };
                        assert_eq!(events.last(), Some(&expected), "{events:?}");
                    } else {
                        assert!(!events.contains(&EventKind::CircuitClosed));
                        assert!(!events.contains(&EventKind::CircuitHalfOpen));
                    }
                    if let Some(reason) = outcome.stop_reason {
                        assert!(outcome.last_error().is_some(), "{reason}");
                    }
                }
            });
        }
    });

    let total = THREADS * CALLS;
    let invocations = tally.invocations.load(Ordering::Relaxed);
    assert_eq!(invocations, tally.attempts.load(Ordering::Relaxed));

    // Every outcome is accounted for, and by exactly one terminal event.
    let ok = tally.ok.load(Ordering::Relaxed);
    let stops: u64 = STOPS.iter().map(|r| tally.stop(*r)).sum();
    assert_eq!(ok + stops, total);
    for reason in STOPS {
        let expected = match reason {
            StopReason::MaxAttemptsGlobal
            | StopReason::NonRetryableClass
            | StopReason::BudgetExhausted
            | StopReason::CircuitOpen => continue,
            _ => 0,
        };
        assert_eq!(tally.stop(reason), expected, "{reason}");
    }
    assert_eq!(tally.event(EventKind::Success), ok);
    assert_eq!(
        tally.event(EventKind::MaxAttemptsExceeded),
        tally.stop(StopReason::MaxAttemptsGlobal)
    );
    assert_eq!(
        tally.event(EventKind::PermanentFail),
        tally.stop(StopReason::NonRetryableClass)
    );
    assert_eq!(
        tally.event(EventKind::BudgetExhausted),
        tally.stop(StopReason::BudgetExhausted)
    );
    assert_eq!(
        tally.event(EventKind::CircuitRejected),
        tally.stop(StopReason::CircuitOpen)
    );

    // Every retry took exactly one token, and each led to one more attempt.
    let retries = tally.event(EventKind::Retry);
    assert_eq!(retries, tally.expected_retries.load(Ordering::Relaxed));
    assert_eq!(
        budget.remaining(clock.now()),
        Some(u64::from(TOKENS) - retries)
    );

    // The scenario exercised everything it is meant to.
    assert!(tally.stop(StopReason::CircuitOpen) > 0);
    assert!(tally.stop(StopReason::BudgetExhausted) > 0);
    assert!(tally.stop(StopReason::MaxAttemptsGlobal) > 0);
    assert!(tally.stop(StopReason::NonRetryableClass) > 0);
    assert!(ok > 1_000, "{ok} successes");

    // Transitions: closed -> open -> half-open -> (closed | open) ...
    let opened = tally.event(EventKind::CircuitOpened);
    let half_open = tally.event(EventKind::CircuitHalfOpen);
    let closed = tally.event(EventKind::CircuitClosed);
    assert!(opened > 0 && closed > 0);
    match breaker.state() {
        CircuitState::Open => assert_eq!(half_open + 1, opened),
        CircuitState::HalfOpen | CircuitState::Closed => assert_eq!(half_open, opened),
    }
    if breaker.state() == CircuitState::Closed {
        // Each open episode that began from closed ended with one close.
        assert!(closed <= half_open);
    }
}
