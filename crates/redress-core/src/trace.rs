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
//! Every event has the target `redress` and the fields `event`, `attempt`,
//! `delay_s`, `elapsed_s`, and, when set, `class`, `err`, `cause`,
//! `stop_reason`, `state`. The span is `redress.call` at DEBUG with the
//! field `operation`; runners enter it around the whole call, so events of
//! the operation itself nest inside it. Nothing is evaluated when the level
//! is disabled.

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
            delay_s = $e.delay.as_secs_f64(),
            elapsed_s = $e.elapsed.as_secs_f64(),
            class = $e.class.map(|c| c.name()),
            err = $e.error_type,
            cause = $e.cause.map(|c| c.as_str()),
            stop_reason = $e.stop_reason.map(|r| r.as_str()),
            state = $e.state.map(|s| s.as_str()),
            "{}",
            $e.kind.as_str(),
        )
    };
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
