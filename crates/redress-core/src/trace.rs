//! `tracing` integration (feature `tracing`): a span per call and one event
//! per decision.
//!
//! Levels are those an operator would pick:
//!
//! | event | level |
//! |---|---|
//! | `retry`, `success`, `circuit_rejected` | DEBUG (routine; frequent under load) |
//! | `permanent_fail`, `scheduled`, `aborted`, `circuit_half_open`, `circuit_closed` | INFO (a decision worth seeing) |
//! | `max_attempts_exceeded`, `max_unknown_attempts_exceeded`, `deadline_exceeded`, `budget_exhausted`, `no_strategy_configured`, `circuit_opened` | WARN (a call gave up, or a dependency is being shed) |
//!
//! Every event has the target `redress`, a message that says what happened
//! in words ([`EventKind::describe`]), and the fields `event`, `attempt`,
//! `delay_s`, `elapsed_s`, and, when set, `class`, `err`, `cause`,
//! `stop_reason`, `state` and `retry_after_s` (the server's hint, on a
//! `retry`). Seconds are cut to the microsecond, so a log line reads
//! `elapsed_s=0.250013`, not `elapsed_s=0.25001337400000003`. The span is `redress.call` at DEBUG with the
//! field `operation`; runners enter it around the whole call, so events of
//! the operation itself nest inside it. Nothing is evaluated when the level
//! is disabled.

use core::time::Duration;

use crate::event::{Event, EventKind};

/// The span of one call: `redress.call` at DEBUG, with the `operation` field
/// (empty when the call site has no name).
pub fn call_span(operation: Option<&str>) -> tracing::Span {
    tracing::debug_span!(target: "redress", "redress.call", operation = operation.unwrap_or(""))
}

macro_rules! emit_at {
    ($level:expr, $e:expr) => {
        tracing::event!(
            target: "redress",
            $level,
            event = $e.kind.as_str(),
            attempt = $e.attempt,
            delay_s = seconds($e.delay),
            elapsed_s = seconds($e.elapsed),
            class = $e.class.map(|c| c.name()),
            err = $e.error_type,
            cause = $e.cause.map(|c| c.as_str()),
            stop_reason = $e.stop_reason.map(|r| r.as_str()),
            state = $e.state.map(|s| s.as_str()),
            retry_after_s = $e.retry_after().map(seconds),
            "{}",
            $e.kind.describe(),
        )
    };
}

/// `d` in seconds, cut to the microsecond: a clean number in a log line.
fn seconds(d: Duration) -> f64 {
    // Below 2^53 microseconds (285 years) the conversion is exact.
    d.as_micros() as f64 / 1e6
}

/// Emits `event` at its level.
pub(crate) fn event(e: &Event<'_>) {
    match e.kind {
        EventKind::Retry | EventKind::Success | EventKind::CircuitRejected => {
            emit_at!(tracing::Level::DEBUG, e)
        }
        EventKind::PermanentFail
        | EventKind::Scheduled
        | EventKind::Aborted
        | EventKind::CircuitHalfOpen
        | EventKind::CircuitClosed => emit_at!(tracing::Level::INFO, e),
        EventKind::MaxAttemptsExceeded
        | EventKind::MaxUnknownAttemptsExceeded
        | EventKind::DeadlineExceeded
        | EventKind::BudgetExhausted
        | EventKind::NoStrategyConfigured
        | EventKind::CircuitOpened => emit_at!(tracing::Level::WARN, e),
    }
}
