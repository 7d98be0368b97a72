//! Recording what a call did, and asserting on it.

use core::fmt;
use core::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redress_core::{
    Bound, CallEnd, CallStatus, ErrorClass, ErrorClassifier, Event, EventKind, Hooks,
    NoResultClassifier, Outcome, Policy, StopReason, Timeline,
};

/// One event, kept: the engine's [`Event`] itself, and the operation name
/// it carried (an event only borrows it). It dereferences to the event, so
/// `recorded.kind`, `recorded.attempt`, `recorded.retry_after()` read it
/// directly.
///
/// Its `Display` is the event's [compact form](Event::compact):
///
/// ```text
/// retry#1 TRANSIENT 100ms
/// success#3
/// max_attempts_exceeded#3 SERVER_ERROR MAX_ATTEMPTS_GLOBAL
/// scheduled#1 RATE_LIMIT 2s SCHEDULED
/// circuit_opened SERVER_ERROR
/// circuit_rejected open
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedEvent {
    /// The event, without its operation name.
    pub event: Event<'static>,
    /// The operation name the event carried.
    pub operation: Option<String>,
}

impl Deref for RecordedEvent {
    type Target = Event<'static>;

    fn deref(&self) -> &Event<'static> {
        &self.event
    }
}

impl From<&Event<'_>> for RecordedEvent {
    fn from(e: &Event<'_>) -> Self {
        RecordedEvent {
            event: e.without_operation(),
            operation: e.operation.map(str::to_owned),
        }
    }
}

impl From<Event<'static>> for RecordedEvent {
    fn from(event: Event<'static>) -> Self {
        RecordedEvent {
            operation: event.operation.map(str::to_owned),
            event,
        }
    }
}

impl fmt::Display for RecordedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.event.compact().fmt(f)
    }
}

/// A sequence of events: one call's, or everything a recorder saw.
///
/// ```
/// use redress_core::{EventKind, StopReason};
/// use redress_testing::TraceRecorder;
/// # use redress_core::{ErrorClass, Policy};
/// # use redress_sync::BlockingPolicy;
/// # use redress_testing::instant_retries;
/// # let policy = Policy::builder().classifier(|_: &&str| ErrorClass::Transient)
/// #     .strategy(instant_retries()).max_attempts(2).build()?;
///
/// let recorder = TraceRecorder::new();
/// let _ = policy.bind().hooks(recorder.clone()).execute(|| Err::<(), _>("down"));
/// let trace = recorder.trace();
/// assert_eq!(trace.kinds(), [EventKind::Retry, EventKind::MaxAttemptsExceeded]);
/// assert_eq!(trace.stop_reason(), Some(StopReason::MaxAttemptsGlobal));
/// assert_eq!(trace.attempts(), 2);
/// assert_eq!(trace.to_string(), "retry#1 TRANSIENT 0ns\nmax_attempts_exceeded#2 TRANSIENT MAX_ATTEMPTS_GLOBAL");
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    events: Vec<RecordedEvent>,
    end: Option<CallStatus>,
}

impl Trace {
    /// A trace of these events (of a call that has not ended, or whose end
    /// was not recorded).
    pub fn from_events(events: impl IntoIterator<Item = RecordedEvent>) -> Self {
        Trace {
            events: events.into_iter().collect(),
            end: None,
        }
    }

    /// How the (last) call ended, as its `on_call_end` said; `None` while
    /// it runs, or when the trace was built from events alone.
    pub fn end(&self) -> Option<CallStatus> {
        self.end
    }

    /// The events, in order.
    pub fn events(&self) -> &[RecordedEvent] {
        &self.events
    }

    /// The event kinds, in order.
    pub fn kinds(&self) -> Vec<EventKind> {
        self.events.iter().map(|e| e.kind).collect()
    }

    /// The events in their compact form (see [`RecordedEvent`]), for
    /// `assert_eq!(trace.compact(), ["retry#1 TRANSIENT 100ms", "success#2"])`.
    pub fn compact(&self) -> Vec<String> {
        self.events.iter().map(ToString::to_string).collect()
    }

    /// The number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The delays of the `retry` events, in order.
    pub fn delays(&self) -> Vec<Duration> {
        self.events
            .iter()
            .filter(|e| e.kind == EventKind::Retry)
            .map(|e| e.delay)
            .collect()
    }

    /// The event that ended the (last) call, if it ended: `success` or the
    /// stop event.
    pub fn terminal(&self) -> Option<&RecordedEvent> {
        self.events
            .iter()
            .rev()
            .find(|e| e.kind == EventKind::Success || e.stop_reason.is_some())
    }

    /// Whether the (last) call ended.
    pub fn is_finished(&self) -> bool {
        self.end.is_some() || self.terminal().is_some()
    }

    /// Whether the (last) call ended in success.
    pub fn is_success(&self) -> bool {
        match self.end {
            Some(end) => end == CallStatus::Succeeded,
            None => self
                .terminal()
                .is_some_and(|e| e.kind == EventKind::Success),
        }
    }

    /// Why the (last) call stopped: `None` on success, after a
    /// cancellation or while unfinished; `CIRCUIT_OPEN` when the breaker
    /// rejected it.
    pub fn stop_reason(&self) -> Option<StopReason> {
        match self.end {
            Some(end) => end.stop_reason(),
            None => self.terminal().and_then(|e| e.stop_reason),
        }
    }

    /// The attempts the (last) call made: the highest attempt its events
    /// name.
    pub fn attempts(&self) -> u32 {
        self.events.iter().map(|e| e.attempt).max().unwrap_or(0)
    }

    /// The class of the last failure seen.
    pub fn last_class(&self) -> Option<ErrorClass> {
        self.events.iter().rev().find_map(|e| e.class)
    }

    /// The elapsed time of the last event.
    pub fn elapsed(&self) -> Duration {
        self.events.last().map_or(Duration::ZERO, |e| e.elapsed)
    }

    fn push(&mut self, event: RecordedEvent) {
        self.events.push(event);
    }
}

impl fmt::Display for Trace {
    /// One compact event per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<&Timeline> for Trace {
    fn from(timeline: &Timeline) -> Self {
        Trace {
            events: timeline.entries().iter().map(RecordedEvent::from).collect(),
            end: timeline.end(),
        }
    }
}

/// [`Hooks`] that record every event, and split them into calls.
///
/// It is a cheap handle: clones share one record, so hand a clone to the
/// call site (`.hooks(recorder.clone())`) and assert on the original. It is
/// thread-safe, but splitting into calls assumes the calls it watches run
/// one at a time; give concurrent calls a recorder each.
///
/// A call's events run from its first event to its end, which the engine
/// reports once per call (`on_call_end`), after every other event of the
/// call (the breaker transition its outcome caused included): a success, a
/// stop (`CIRCUIT_OPEN` for a rejected call), or a cancellation (its future
/// dropped).
///
/// ```
/// use std::time::Duration;
/// use redress_core::{ErrorClass, Policy};
/// use redress_sync::BlockingPolicy;
/// use redress_testing::{
///     assert_events, assert_stop_reason, instant_retries, ScriptedClassifier, ScriptedOperation,
///     TraceRecorder,
/// };
///
/// let policy = Policy::builder()
///     .classifier(ScriptedClassifier)
///     .strategy(instant_retries())
///     .build()?;
/// let recorder = TraceRecorder::new();
/// let site = policy.bind().operation("charge").hooks(recorder.clone());
///
/// let flaky = ScriptedOperation::new().fail(ErrorClass::Transient).succeed(());
/// site.call(|| flaky.call()).unwrap();
/// let broken = ScriptedOperation::<()>::failing(ErrorClass::Permanent);
/// site.call(|| broken.call()).unwrap_err();
///
/// assert_eq!(recorder.call_count(), 2);
/// assert_events!(recorder.calls()[0], [Retry, Success]);
/// assert_stop_reason!(recorder, NonRetryableClass); // the last call
/// assert_eq!(recorder.compact(), [
///     "retry#1 TRANSIENT 0ns",
///     "success#2",
///     "permanent_fail#1 PERMANENT NON_RETRYABLE_CLASS",
/// ]);
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TraceRecorder {
    inner: Arc<Mutex<Recording>>,
}

#[derive(Debug, Default)]
struct Recording {
    all: Trace,
    /// The calls that ended.
    done: Vec<Trace>,
    /// The call running now.
    current: Option<Trace>,
}

impl Recording {
    fn calls(&self) -> impl Iterator<Item = &Trace> {
        self.done.iter().chain(&self.current)
    }
}

impl TraceRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event recorded, in order, across calls.
    pub fn trace(&self) -> Trace {
        self.lock().all.clone()
    }

    /// The calls recorded, in order, each with its events and end.
    pub fn calls(&self) -> Vec<Trace> {
        self.lock().calls().cloned().collect()
    }

    /// The `n`-th call recorded (0-based).
    pub fn call(&self, n: usize) -> Option<Trace> {
        self.lock().calls().nth(n).cloned()
    }

    /// The last call recorded (perhaps still running).
    pub fn last_call(&self) -> Option<Trace> {
        self.lock().calls().last().cloned()
    }

    /// How many calls were recorded.
    pub fn call_count(&self) -> usize {
        self.lock().calls().count()
    }

    /// Every event kind recorded, in order.
    pub fn kinds(&self) -> Vec<EventKind> {
        self.lock().all.kinds()
    }

    /// Every event recorded, in compact form (see [`RecordedEvent`]).
    pub fn compact(&self) -> Vec<String> {
        self.lock().all.compact()
    }

    /// Forgets everything recorded.
    pub fn clear(&self) {
        *self.lock() = Recording::default();
    }

    fn lock(&self) -> MutexGuard<'_, Recording> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Hooks for TraceRecorder {
    const SLEEP_HOOKS: bool = false;

    fn on_event(&self, event: &Event<'_>) {
        let event = RecordedEvent::from(event);
        let mut rec = self.lock();
        if rec.current.is_none() {
            // A new call: the whole trace's end is now this call's.
            rec.all.end = None;
        }
        rec.all.push(event.clone());
        rec.current.get_or_insert_with(Trace::default).push(event);
    }

    fn on_call_end(&self, end: &CallEnd<'_>) {
        let mut rec = self.lock();
        rec.all.end = Some(end.status);
        let mut call = rec.current.take().unwrap_or_default();
        call.end = Some(end.status);
        rec.done.push(call);
    }
}

/// A policy whose every call site records its calls: the reference's
/// `RecordingPolicy`, for any runner.
///
/// [`bind`](Self::bind) and [`operation`](Self::operation) return call
/// sites with a [`TraceRecorder`] attached, which the blocking and async
/// runners run like any other.
///
/// ```
/// use redress_core::{ErrorClass, Policy, StopReason};
/// use redress_sync::BlockingPolicy;
/// use redress_testing::{instant_retries, RecordingPolicy, ScriptedClassifier, ScriptedOperation};
///
/// let policy = RecordingPolicy::new(
///     Policy::builder().classifier(ScriptedClassifier).strategy(instant_retries()).max_attempts(2).build()?,
/// );
/// let op = ScriptedOperation::<()>::failing(ErrorClass::ServerError);
/// let _ = policy.operation("sync_orders").call(|| op.call());
///
/// let call = policy.last_call().unwrap();
/// assert_eq!(call.stop_reason(), Some(StopReason::MaxAttemptsGlobal));
/// assert_eq!(call.events()[0].operation.as_deref(), Some("sync_orders"));
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct RecordingPolicy<C = ErrorClassifier, R = NoResultClassifier> {
    policy: Policy<C, R>,
    recorder: TraceRecorder,
}

impl<C, R> RecordingPolicy<C, R> {
    /// Wraps `policy`.
    pub fn new(policy: Policy<C, R>) -> Self {
        RecordingPolicy {
            policy,
            recorder: TraceRecorder::new(),
        }
    }

    /// A call site that records its calls.
    pub fn bind(&self) -> Bound<'_, C, R, ((), TraceRecorder)> {
        self.policy.bind().hooks(self.recorder.clone())
    }

    /// A named call site that records its calls.
    pub fn operation<'a>(&'a self, name: &'a str) -> Bound<'a, C, R, ((), TraceRecorder)> {
        self.bind().operation(name)
    }

    /// The wrapped policy (its own call sites do not record).
    pub fn policy(&self) -> &Policy<C, R> {
        &self.policy
    }

    /// The recorder shared by the call sites.
    pub fn recorder(&self) -> &TraceRecorder {
        &self.recorder
    }

    /// The calls recorded, in order.
    pub fn calls(&self) -> Vec<Trace> {
        self.recorder.calls()
    }

    /// The last call recorded.
    pub fn last_call(&self) -> Option<Trace> {
        self.recorder.last_call()
    }

    /// Unwraps the policy.
    pub fn into_inner(self) -> Policy<C, R> {
        self.policy
    }
}

/// Anything the assertion helpers can read events from: a [`Trace`], a
/// [`TraceRecorder`] (every event it saw, and its last call's stop reason),
/// a [`RecordingPolicy`], a core [`Timeline`], or an [`Outcome`] captured
/// with `.capture_timeline()`.
pub trait AsTrace {
    /// The events, as a trace.
    fn to_trace(&self) -> Trace;

    /// Why the (last) call stopped (`None` on success).
    fn final_stop_reason(&self) -> Option<StopReason> {
        self.to_trace().stop_reason()
    }

    /// Whether the (last) call succeeded.
    fn succeeded(&self) -> bool {
        self.to_trace().is_success()
    }
}

impl<A: AsTrace + ?Sized> AsTrace for &A {
    fn to_trace(&self) -> Trace {
        (**self).to_trace()
    }

    fn final_stop_reason(&self) -> Option<StopReason> {
        (**self).final_stop_reason()
    }

    fn succeeded(&self) -> bool {
        (**self).succeeded()
    }
}

impl AsTrace for Trace {
    fn to_trace(&self) -> Trace {
        self.clone()
    }
}

impl AsTrace for [RecordedEvent] {
    fn to_trace(&self) -> Trace {
        Trace::from_events(self.iter().cloned())
    }
}

impl AsTrace for Vec<RecordedEvent> {
    fn to_trace(&self) -> Trace {
        self.as_slice().to_trace()
    }
}

impl AsTrace for TraceRecorder {
    fn to_trace(&self) -> Trace {
        self.trace()
    }

    fn final_stop_reason(&self) -> Option<StopReason> {
        self.last_call().and_then(|call| call.stop_reason())
    }
}

impl<C, R> AsTrace for RecordingPolicy<C, R> {
    fn to_trace(&self) -> Trace {
        self.recorder.to_trace()
    }

    fn final_stop_reason(&self) -> Option<StopReason> {
        self.recorder.final_stop_reason()
    }
}

impl AsTrace for Timeline {
    fn to_trace(&self) -> Trace {
        Trace::from(self)
    }
}

impl<T, E> AsTrace for Outcome<T, E> {
    /// The captured timeline (empty when none was captured).
    fn to_trace(&self) -> Trace {
        self.timeline.as_ref().map(Trace::from).unwrap_or_default()
    }

    fn final_stop_reason(&self) -> Option<StopReason> {
        self.stop_reason
    }

    fn succeeded(&self) -> bool {
        self.is_ok()
    }
}

/// Asserts that `actual`'s events are exactly of the `expected` kinds, in
/// order. On failure the message shows both and the whole trace.
///
/// The [`assert_events!`](macro@crate::assert_events) macro is the short form.
///
/// # Panics
///
/// When the kinds differ: that is the assertion.
#[allow(clippy::panic)] // an assertion helper fails by panicking
#[track_caller]
pub fn assert_events(actual: &(impl AsTrace + ?Sized), expected: &[EventKind]) {
    let trace = actual.to_trace();
    let kinds = trace.kinds();
    if kinds != expected {
        let hint = if trace.is_empty() {
            "\n(no events recorded: attach a TraceRecorder with `.hooks(..)`, \
             or bind with `.capture_timeline()` to read an Outcome)"
        } else {
            ""
        };
        panic!(
            "event kinds differ\n  expected: {}\n    actual: {}\ntrace:\n{}{hint}",
            names(expected),
            names(&kinds),
            indent(&trace),
        );
    }
}

/// Asserts that the (last) call stopped for `expected`.
///
/// The [`assert_stop_reason!`](macro@crate::assert_stop_reason) macro is the
/// short form.
///
/// # Panics
///
/// When it did not: that is the assertion.
#[allow(clippy::panic)] // an assertion helper fails by panicking
#[track_caller]
pub fn assert_stop_reason(actual: &(impl AsTrace + ?Sized), expected: StopReason) {
    let got = actual.final_stop_reason();
    if got != Some(expected) {
        let got = got.map_or("none (it succeeded or did not finish)", StopReason::as_str);
        panic!(
            "stop reason differs\n  expected: {expected}\n    actual: {got}\ntrace:\n{}",
            indent(&actual.to_trace()),
        );
    }
}

/// Asserts that the (last) call succeeded.
///
/// ```
/// use redress_core::Policy;
/// use redress_sync::BlockingPolicy;
/// use redress_testing::{assert_success, instant_retries, TraceRecorder};
///
/// let policy = Policy::builder().strategy(instant_retries()).build()?;
/// let recorder = TraceRecorder::new();
/// policy.bind().hooks(recorder.clone()).call(|| Ok::<_, std::io::Error>(1)).unwrap();
/// assert_success(&recorder);
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
///
/// # Panics
///
/// When it did not: that is the assertion.
#[allow(clippy::panic)] // an assertion helper fails by panicking
#[track_caller]
pub fn assert_success(actual: &(impl AsTrace + ?Sized)) {
    if !actual.succeeded() {
        let outcome = match actual.final_stop_reason() {
            Some(reason) => format!("it stopped ({reason})"),
            None => "it did not finish (or nothing was recorded)".to_owned(),
        };
        panic!(
            "expected success, but {outcome}\ntrace:\n{}",
            indent(&actual.to_trace())
        );
    }
}

fn names(kinds: &[EventKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    format!("[{}]", names.join(", "))
}

fn indent(trace: &Trace) -> String {
    if trace.is_empty() {
        return "  (empty)".to_owned();
    }
    trace
        .compact()
        .iter()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use redress_core::{CircuitState, Classification};

    fn event(kind: EventKind, attempt: u32) -> Event<'static> {
        Event::new(kind, attempt)
    }

    #[test]
    fn compact_form() {
        let c = Classification::new(ErrorClass::RateLimit).with_retry_after(Duration::from_secs(2));
        let mut e = event(EventKind::Scheduled, 1);
        e.class = Some(ErrorClass::RateLimit);
        e.delay = Duration::from_secs(2);
        e.stop_reason = Some(StopReason::Scheduled);
        e.classification = Some(c);
        let r = RecordedEvent::from(&e);
        assert_eq!(r.to_string(), "scheduled#1 RATE_LIMIT 2s SCHEDULED");
        assert_eq!(
            r.classification.and_then(|c| c.retry_after),
            Some(Duration::from_secs(2))
        );
        let mut e = event(EventKind::CircuitRejected, 0);
        e.state = Some(CircuitState::HalfOpen);
        assert_eq!(
            RecordedEvent::from(&e).to_string(),
            "circuit_rejected half_open"
        );
        let mut e = event(EventKind::CircuitOpened, 0);
        e.class = Some(ErrorClass::Transient);
        e.state = Some(CircuitState::Open);
        assert_eq!(
            RecordedEvent::from(&e).to_string(),
            "circuit_opened TRANSIENT"
        );
    }

    fn poll_once<F: core::future::Future>(f: F) -> Option<F::Output> {
        let mut f = core::pin::pin!(f);
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            core::task::Poll::Ready(v) => Some(v),
            core::task::Poll::Pending => None,
        }
    }

    #[test]
    fn calls_are_split_at_their_ends() {
        use crate::{FakeBreaker, ScriptedClassifier, ScriptedOperation, instant_retries};
        use redress_core::{ManualClock, execute_async};

        let breaker = Arc::new(
            FakeBreaker::new()
                .trip_on_failure()
                .then_admit()
                .then_reject()
                .then_probe()
                .then_probe(),
        );
        let policy = Policy::builder()
            .classifier(ScriptedClassifier)
            .strategy(instant_retries())
            .max_attempts(1)
            .circuit_breaker(Arc::clone(&breaker))
            .build()
            .unwrap();
        let rec = TraceRecorder::new();
        let site = policy.bind().hooks(rec.clone());
        let clock = ManualClock::new();
        // A timer that never fires: the hanging attempt stays pending.
        let sleeper = |_: Duration| core::future::pending::<()>();
        let op = ScriptedOperation::new()
            .fail(ErrorClass::Transient)
            .hang()
            .succeed(());
        let run = || execute_async(&site, &sleeper, &clock, || op.call_async());
        // Call 1: fails, then opens the breaker.
        assert!(poll_once(run()).is_some());
        // Call 2: rejected.
        assert!(poll_once(run()).is_some());
        // Call 3: a probe whose attempt hangs; abandoned.
        assert!(poll_once(run()).is_none());
        // Call 4: a probe that succeeds.
        assert!(poll_once(run()).unwrap().is_ok());

        let calls = rec.calls();
        assert_eq!(calls.len(), 4, "{calls:#?}");
        assert_eq!(
            calls[0].compact(),
            [
                "max_attempts_exceeded#1 TRANSIENT MAX_ATTEMPTS_GLOBAL",
                "circuit_opened TRANSIENT"
            ]
        );
        assert_eq!(calls[1].stop_reason(), Some(StopReason::CircuitOpen));
        assert_eq!(calls[2].kinds(), [EventKind::CircuitHalfOpen]);
        assert_eq!(calls[2].end(), Some(CallStatus::Cancelled));
        assert_eq!(calls[2].stop_reason(), None);
        assert_eq!(
            calls[3].kinds(),
            [
                EventKind::CircuitHalfOpen,
                EventKind::Success,
                EventKind::CircuitClosed
            ]
        );
        assert_eq!(rec.final_stop_reason(), None);
        assert_eq!(rec.kinds().len(), 7);
        rec.clear();
        assert_eq!(rec.call_count(), 0);
    }

    #[test]
    #[should_panic(expected = "expected: [retry, success]")]
    fn assert_events_explains() {
        let rec = TraceRecorder::new();
        rec.on_event(&event(EventKind::Success, 1));
        assert_events(&rec, &[EventKind::Retry, EventKind::Success]);
    }

    #[test]
    #[should_panic(expected = "it did not finish")]
    fn an_empty_recorder_did_not_succeed() {
        assert_success(&TraceRecorder::new());
    }

    #[test]
    #[should_panic(expected = "expected: DEADLINE_EXCEEDED")]
    fn assert_stop_reason_explains() {
        assert_stop_reason(&Trace::default(), StopReason::DeadlineExceeded);
    }
}
