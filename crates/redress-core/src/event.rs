//! Events, stop reasons and their low-cardinality tags.
//!
//! The engine reports every decision as an [`Event`]. Names and tag values
//! are fixed strings, so they can be used as metric labels directly:
//!
//! | tag | values |
//! |---|---|
//! | `class` | an [`ErrorClass`] name (`RATE_LIMIT`, ...) |
//! | `err` | the classifier's tag for the last failure ([`Classification::tag`]: `timeout`, `5xx`, ...), else the short type name of the last error (`Error`, `TimeoutError`, ...) on failures caused by an error |
//! | `cause` | `exception` or `result` |
//! | `stop_reason` | a [`StopReason`] name (`MAX_ATTEMPTS_GLOBAL`, ...) |
//! | `state` | `closed`, `open` or `half_open` (breaker events) |
//! | `operation` | the name the caller gave the call site |
//!
//! The operation name is the only value the caller chooses: keep it to a
//! fixed set (one per call site), never a user id or URL.

use core::fmt;
use core::time::Duration;

use crate::class::{Cause, Classification, ErrorClass};

/// Why a call stopped without success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "SCREAMING_SNAKE_CASE"))]
#[non_exhaustive]
pub enum StopReason {
    /// The attempt limit (`max_attempts`) was reached.
    MaxAttemptsGlobal,
    /// A class went over its own attempt cap.
    MaxAttemptsPerClass,
    /// The deadline passed, or no time was left to wait.
    DeadlineExceeded,
    /// Too many failures classified [`Unknown`](ErrorClass::Unknown).
    MaxUnknownAttempts,
    /// The failure's class is never retried (permanent, auth, permission).
    NonRetryableClass,
    /// No strategy is configured for the failure's class.
    NoStrategy,
    /// The retry budget refused another retry.
    BudgetExhausted,
    /// The sleep hook deferred the retry to the caller; see
    /// [`Outcome::next_delay`](crate::Outcome::next_delay).
    Scheduled,
    /// The call was aborted (abort predicate or sleep hook).
    Aborted,
    /// The circuit breaker rejected the call before any attempt.
    CircuitOpen,
    /// The server's retry-after hint is longer than the time left, and the
    /// policy stops at once rather than sleep to its deadline
    /// ([`PolicyBuilder::stop_when_retry_after_exceeds_deadline`](crate::PolicyBuilder::stop_when_retry_after_exceeds_deadline));
    /// the outcome's `next_delay` is the hint.
    RetryAfterBeyondDeadline,
}

impl StopReason {
    /// The SCREAMING_SNAKE_CASE name used in events and traces.
    pub const fn as_str(self) -> &'static str {
        match self {
            StopReason::MaxAttemptsGlobal => "MAX_ATTEMPTS_GLOBAL",
            StopReason::MaxAttemptsPerClass => "MAX_ATTEMPTS_PER_CLASS",
            StopReason::DeadlineExceeded => "DEADLINE_EXCEEDED",
            StopReason::MaxUnknownAttempts => "MAX_UNKNOWN_ATTEMPTS",
            StopReason::NonRetryableClass => "NON_RETRYABLE_CLASS",
            StopReason::NoStrategy => "NO_STRATEGY",
            StopReason::BudgetExhausted => "BUDGET_EXHAUSTED",
            StopReason::Scheduled => "SCHEDULED",
            StopReason::Aborted => "ABORTED",
            StopReason::CircuitOpen => "CIRCUIT_OPEN",
            StopReason::RetryAfterBeyondDeadline => "RETRY_AFTER_BEYOND_DEADLINE",
        }
    }

    /// What the reason means, in words, for messages to people:
    /// `"the deadline passed"`, `"the retry budget is exhausted"`, ...
    ///
    /// ```
    /// use redress_core::StopReason;
    ///
    /// assert_eq!(StopReason::MaxAttemptsGlobal.describe(), "the attempt limit was reached");
    /// ```
    pub const fn describe(self) -> &'static str {
        match self {
            StopReason::MaxAttemptsGlobal => "the attempt limit was reached",
            StopReason::MaxAttemptsPerClass => "the failure's class reached its own attempt cap",
            StopReason::DeadlineExceeded => "the deadline passed",
            StopReason::MaxUnknownAttempts => "too many failures could not be classified",
            StopReason::NonRetryableClass => "the failure is not retryable",
            StopReason::NoStrategy => "no backoff strategy handles the failure's class",
            StopReason::BudgetExhausted => "the retry budget is exhausted",
            StopReason::Scheduled => "the retry was deferred to the caller",
            StopReason::Aborted => "the call was aborted",
            StopReason::CircuitOpen => "the circuit breaker is open",
            StopReason::RetryAfterBeyondDeadline => {
                "the server asked to wait longer than the time left"
            }
        }
    }

    /// The event emitted when a call stops for this reason.
    pub const fn event_kind(self) -> EventKind {
        match self {
            StopReason::MaxAttemptsGlobal | StopReason::MaxAttemptsPerClass => {
                EventKind::MaxAttemptsExceeded
            }
            StopReason::DeadlineExceeded | StopReason::RetryAfterBeyondDeadline => {
                EventKind::DeadlineExceeded
            }
            StopReason::MaxUnknownAttempts => EventKind::MaxUnknownAttemptsExceeded,
            StopReason::NonRetryableClass => EventKind::PermanentFail,
            StopReason::NoStrategy => EventKind::NoStrategyConfigured,
            StopReason::BudgetExhausted => EventKind::BudgetExhausted,
            StopReason::Scheduled => EventKind::Scheduled,
            StopReason::Aborted => EventKind::Aborted,
            StopReason::CircuitOpen => EventKind::CircuitRejected,
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CircuitState {
    /// Calls flow; failures are counted.
    Closed,
    /// Calls are rejected until the recovery timeout passes.
    Open,
    /// One probe call is allowed to test recovery.
    HalfOpen,
}

impl CircuitState {
    /// `"closed"`, `"open"` or `"half_open"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum EventKind {
    /// An attempt succeeded; the call is done.
    Success,
    /// An attempt failed and another will follow after `delay`.
    Retry,
    /// The failure's class is never retried.
    PermanentFail,
    /// The deadline stopped the call.
    DeadlineExceeded,
    /// The global or a per-class attempt cap stopped the call.
    MaxAttemptsExceeded,
    /// The unknown-class cap stopped the call.
    MaxUnknownAttemptsExceeded,
    /// No strategy for the failure's class.
    NoStrategyConfigured,
    /// The retry budget refused a retry.
    BudgetExhausted,
    /// The sleep hook deferred the retry.
    Scheduled,
    /// The call was aborted.
    Aborted,
    /// The breaker opened.
    CircuitOpened,
    /// The breaker let a probe through.
    CircuitHalfOpen,
    /// The breaker closed after a successful probe.
    CircuitClosed,
    /// The breaker rejected a call.
    CircuitRejected,
}

impl EventKind {
    /// Every event kind.
    pub const ALL: [EventKind; 14] = [
        EventKind::Success,
        EventKind::Retry,
        EventKind::PermanentFail,
        EventKind::DeadlineExceeded,
        EventKind::MaxAttemptsExceeded,
        EventKind::MaxUnknownAttemptsExceeded,
        EventKind::NoStrategyConfigured,
        EventKind::BudgetExhausted,
        EventKind::Scheduled,
        EventKind::Aborted,
        EventKind::CircuitOpened,
        EventKind::CircuitHalfOpen,
        EventKind::CircuitClosed,
        EventKind::CircuitRejected,
    ];

    /// The snake_case event name (`"retry"`, `"max_attempts_exceeded"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Success => "success",
            EventKind::Retry => "retry",
            EventKind::PermanentFail => "permanent_fail",
            EventKind::DeadlineExceeded => "deadline_exceeded",
            EventKind::MaxAttemptsExceeded => "max_attempts_exceeded",
            EventKind::MaxUnknownAttemptsExceeded => "max_unknown_attempts_exceeded",
            EventKind::NoStrategyConfigured => "no_strategy_configured",
            EventKind::BudgetExhausted => "budget_exhausted",
            EventKind::Scheduled => "scheduled",
            EventKind::Aborted => "aborted",
            EventKind::CircuitOpened => "circuit_opened",
            EventKind::CircuitHalfOpen => "circuit_half_open",
            EventKind::CircuitClosed => "circuit_closed",
            EventKind::CircuitRejected => "circuit_rejected",
        }
    }

    /// A short sentence for a log line's message: what happened, in words
    /// (the name itself is a field of its own).
    ///
    /// ```
    /// use redress_core::EventKind;
    ///
    /// assert_eq!(EventKind::Retry.describe(), "attempt failed, retrying");
    /// ```
    pub const fn describe(self) -> &'static str {
        match self {
            EventKind::Success => "call succeeded",
            EventKind::Retry => "attempt failed, retrying",
            EventKind::PermanentFail => "gave up: the failure is not retryable",
            EventKind::DeadlineExceeded => "gave up: no time left before the deadline",
            EventKind::MaxAttemptsExceeded => "gave up: attempt cap reached",
            EventKind::MaxUnknownAttemptsExceeded => {
                "gave up: cap on unclassified failures reached"
            }
            EventKind::NoStrategyConfigured => "gave up: no backoff for this class of failure",
            EventKind::BudgetExhausted => "gave up: the retry budget is spent",
            EventKind::Scheduled => "retry handed to a scheduler",
            EventKind::Aborted => "call aborted",
            EventKind::CircuitOpened => "circuit opened: shedding calls",
            EventKind::CircuitHalfOpen => "circuit half-open: letting a probe through",
            EventKind::CircuitClosed => "circuit closed: the probe succeeded",
            EventKind::CircuitRejected => "call rejected: the circuit is open",
        }
    }

    /// Whether this is a circuit breaker event.
    pub const fn is_breaker_event(self) -> bool {
        matches!(
            self,
            EventKind::CircuitOpened
                | EventKind::CircuitHalfOpen
                | EventKind::CircuitClosed
                | EventKind::CircuitRejected
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One decision the engine made, with everything an observer may want.
///
/// Breaker events carry `attempt` 0 and a zero delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// The attempt the event is about (1-based; 0 for breaker events and for
    /// an abort before the first attempt).
    pub attempt: u32,
    /// The delay before the next attempt (`retry`, `scheduled`), else zero.
    pub delay: Duration,
    /// The class of the last failure, when there is one.
    pub class: Option<ErrorClass>,
    /// Whether the last failure was an error or a flagged result.
    pub cause: Option<Cause>,
    /// The `err` tag: the classification's [`tag`](Classification::tag)
    /// when the classifier set one, else the short type name of the last
    /// error (the reference's `err` tag) when the last failure was an error.
    pub error_type: Option<&'static str>,
    /// Why the call stopped, on stop events.
    pub stop_reason: Option<StopReason>,
    /// The breaker state, on breaker events.
    pub state: Option<CircuitState>,
    /// The operation name the caller gave.
    pub operation: Option<&'a str>,
    /// Time since the call started.
    pub elapsed: Duration,
    /// The full classification of the failure (with hints), on `retry`
    /// events.
    pub classification: Option<Classification>,
}

impl<'a> Event<'a> {
    /// An event of `kind` about `attempt` with every optional field empty.
    pub const fn new(kind: EventKind, attempt: u32) -> Self {
        Event {
            kind,
            attempt,
            delay: Duration::ZERO,
            class: None,
            cause: None,
            error_type: None,
            stop_reason: None,
            state: None,
            operation: None,
            elapsed: Duration::ZERO,
            classification: None,
        }
    }

    /// The event's low-cardinality tags.
    pub fn tags(&self) -> Tags<'a> {
        Tags {
            class: self.class,
            err: self.error_type,
            cause: self.cause,
            stop_reason: self.stop_reason,
            state: self.state,
            operation: self.operation,
        }
    }

    /// The event's fields for a structured log line.
    pub fn log_fields(&self) -> LogFields<'_, 'a> {
        LogFields { event: self }
    }

    /// The event without its operation name: an owned copy to keep after
    /// the call (a timeline, a test recorder). Keep the name beside it if
    /// you need it.
    pub const fn without_operation(&self) -> Event<'static> {
        Event {
            kind: self.kind,
            attempt: self.attempt,
            delay: self.delay,
            class: self.class,
            cause: self.cause,
            error_type: self.error_type,
            stop_reason: self.stop_reason,
            state: self.state,
            operation: None,
            elapsed: self.elapsed,
            classification: self.classification,
        }
    }

    /// The retry-after hint of the failure, on `retry` events that had one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            EventKind::Retry => self.classification.and_then(|c| c.retry_after),
            _ => None,
        }
    }

    /// A compact, stable one-line form for assertions and logs:
    /// `kind#attempt`, then the class, the delay (`retry` and `scheduled`),
    /// the stop reason, and the state (`circuit_rejected`), each when
    /// present. Breaker events carry no attempt.
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::{ErrorClass, Event, EventKind, StopReason};
    ///
    /// let mut retry = Event::new(EventKind::Retry, 1);
    /// retry.class = Some(ErrorClass::Transient);
    /// retry.delay = Duration::from_millis(100);
    /// assert_eq!(retry.compact().to_string(), "retry#1 TRANSIENT 100ms");
    ///
    /// let mut stop = Event::new(EventKind::MaxAttemptsExceeded, 3);
    /// stop.class = Some(ErrorClass::ServerError);
    /// stop.stop_reason = Some(StopReason::MaxAttemptsGlobal);
    /// assert_eq!(stop.compact().to_string(), "max_attempts_exceeded#3 SERVER_ERROR MAX_ATTEMPTS_GLOBAL");
    /// ```
    pub fn compact(&self) -> Compact<'_, 'a> {
        Compact { event: self }
    }
}

/// An event in its compact one-line form; see [`Event::compact`].
#[derive(Clone, Copy, Debug)]
pub struct Compact<'e, 'a> {
    event: &'e Event<'a>,
}

impl fmt::Display for Compact<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.event;
        f.write_str(e.kind.as_str())?;
        if !e.kind.is_breaker_event() {
            write!(f, "#{}", e.attempt)?;
        }
        if let Some(class) = e.class {
            write!(f, " {class}")?;
        }
        if matches!(e.kind, EventKind::Retry | EventKind::Scheduled) {
            write!(f, " {:?}", e.delay)?;
        }
        if let Some(reason) = e.stop_reason {
            write!(f, " {reason}")?;
        }
        if e.kind == EventKind::CircuitRejected {
            if let Some(state) = e.state {
                write!(f, " {state}")?;
            }
        }
        Ok(())
    }
}

/// The low-cardinality tags of an event: only the ones that are set.
///
/// ```
/// use redress_core::{ErrorClass, Event, EventKind};
///
/// let mut e = Event::new(EventKind::Retry, 1);
/// e.class = Some(ErrorClass::RateLimit);
/// e.operation = Some("fetch_user");
/// let tags: Vec<_> = e.tags().iter().collect();
/// assert_eq!(tags, [("class", "RATE_LIMIT"), ("operation", "fetch_user")]);
/// assert_eq!(e.tags().get("class"), Some("RATE_LIMIT"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tags<'a> {
    /// `class`.
    pub class: Option<ErrorClass>,
    /// `err`.
    pub err: Option<&'static str>,
    /// `cause`.
    pub cause: Option<Cause>,
    /// `stop_reason`.
    pub stop_reason: Option<StopReason>,
    /// `state`.
    pub state: Option<CircuitState>,
    /// `operation`.
    pub operation: Option<&'a str>,
}

impl<'a> Tags<'a> {
    /// The set tags as `(name, value)` pairs, in the reference's order:
    /// `class`, `err`, `stop_reason`, `cause`, `state`, `operation`.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'a str)> + use<'a> {
        [
            ("class", self.class.map(ErrorClass::name)),
            ("err", self.err),
            ("stop_reason", self.stop_reason.map(StopReason::as_str)),
            ("cause", self.cause.map(Cause::as_str)),
            ("state", self.state.map(CircuitState::as_str)),
            ("operation", self.operation),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }

    /// The value of one tag.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// An event as `key=value` log fields: `attempt`, `sleep_s`, the set tags,
/// and `retry_after_s` on a retry whose classification had a hint.
///
/// ```
/// use core::time::Duration;
/// use redress_core::{Event, EventKind};
///
/// let mut e = Event::new(EventKind::Retry, 2);
/// e.delay = Duration::from_millis(1500);
/// assert_eq!(e.log_fields().to_string(), "attempt=2 sleep_s=1.5");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LogFields<'e, 'a> {
    event: &'e Event<'a>,
}

/// The value of one log field.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldValue<'a> {
    /// A count (`attempt`).
    Count(u32),
    /// Seconds (`sleep_s`, `retry_after_s`).
    Seconds(f64),
    /// A tag value.
    Str(&'a str),
}

impl fmt::Display for FieldValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Count(n) => write!(f, "{n}"),
            FieldValue::Seconds(s) => write!(f, "{s}"),
            FieldValue::Str(s) => f.write_str(s),
        }
    }
}

impl<'a> LogFields<'_, 'a> {
    /// Every field as `(name, value)`, in the order `Display` prints them:
    /// `attempt`, `sleep_s`, the set tags, then `retry_after_s` when present.
    ///
    /// ```
    /// use redress_core::{Event, EventKind, FieldValue};
    ///
    /// let e = Event::new(EventKind::Success, 3);
    /// let fields: Vec<_> = e.log_fields().iter().collect();
    /// assert_eq!(fields, [("attempt", FieldValue::Count(3)), ("sleep_s", FieldValue::Seconds(0.0))]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, FieldValue<'a>)> + use<'a> {
        let head = [
            ("attempt", FieldValue::Count(self.event.attempt)),
            (
                "sleep_s",
                FieldValue::Seconds(self.event.delay.as_secs_f64()),
            ),
        ];
        let tags = self
            .event
            .tags()
            .iter()
            .map(|(k, v)| (k, FieldValue::Str(v)));
        let retry_after = self
            .retry_after()
            .map(|ra| ("retry_after_s", FieldValue::Seconds(ra.as_secs_f64())));
        head.into_iter().chain(tags).chain(retry_after)
    }

    /// The retry-after hint, reported on `retry` events that had one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.event.retry_after()
    }
}

impl fmt::Display for LogFields<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    #[test]
    fn stop_reasons_map_to_reference_events() {
        use StopReason::*;
        let pairs = [
            (MaxAttemptsGlobal, "max_attempts_exceeded"),
            (MaxAttemptsPerClass, "max_attempts_exceeded"),
            (DeadlineExceeded, "deadline_exceeded"),
            (MaxUnknownAttempts, "max_unknown_attempts_exceeded"),
            (NonRetryableClass, "permanent_fail"),
            (NoStrategy, "no_strategy_configured"),
            (BudgetExhausted, "budget_exhausted"),
            (Scheduled, "scheduled"),
            (Aborted, "aborted"),
            (CircuitOpen, "circuit_rejected"),
            (RetryAfterBeyondDeadline, "deadline_exceeded"),
        ];
        for (reason, event) in pairs {
            assert_eq!(reason.event_kind().as_str(), event);
        }
    }

    #[test]
    fn log_fields_include_tags_and_retry_after() {
        let c = Classification::new(ErrorClass::RateLimit).with_retry_after(Duration::from_secs(2));
        let mut e = Event::new(EventKind::Retry, 1);
        e.delay = Duration::from_millis(2100);
        e.class = Some(ErrorClass::RateLimit);
        e.cause = Some(Cause::Error);
        e.classification = Some(c);
        assert_eq!(
            e.log_fields().to_string(),
            "attempt=1 sleep_s=2.1 class=RATE_LIMIT cause=exception retry_after_s=2"
        );
        e.kind = EventKind::Scheduled;
        assert_eq!(e.log_fields().retry_after(), None);
    }

    #[test]
    fn breaker_events_are_flagged() {
        let breaker: Vec<_> = EventKind::ALL
            .into_iter()
            .filter(|k| k.is_breaker_event())
            .map(EventKind::as_str)
            .collect();
        assert_eq!(
            breaker,
            [
                "circuit_opened",
                "circuit_half_open",
                "circuit_closed",
                "circuit_rejected"
            ]
        );
    }
}
