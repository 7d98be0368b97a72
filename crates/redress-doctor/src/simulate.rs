//! Playing a scenario through the real engine under virtual time.
//!
//! [`simulate`] builds a [`redress_core::Policy`] from the scenario's policy
//! and drives one [`redress_core::Execution`] per call, exactly as the
//! runners do, except that time is a [`ManualClock`] that only moves when the
//! script says so:
//!
//! - virtual time starts at 0; a call starts at its `at_s`, or when the
//!   previous call ended if that is later;
//! - each attempt takes the next script entry (the last one repeats) and
//!   advances the clock by its `duration_s`; a sleep advances it by exactly
//!   the delay the engine asked for;
//! - scripted errors carry their class and retry-after hint, and the
//!   policy's classifier returns them; scripted results are flagged by the
//!   result classifier the same way.
//!
//! Every event the engine emits becomes a trace line, followed by one
//! outcome line per call. No decision is made here: that is the point of
//! the conformance suite.

use core::cell::RefCell;
use core::fmt;
use core::time::Duration;
use std::sync::Arc;

use redress_core::backoff::{Backoff, constant, retry_after_or, schedule};
use redress_core::breaker::CircuitBreaker;
use redress_core::budget::RollingBudget;
use redress_core::{
    Action, Classification, ConfigError, ErrorClass, Event, FastRng, ManualClock, Policy,
    PolicyBuilder,
};

use crate::scenario::{CallSpec, PolicySpec, Scenario, ScriptedOutcome, StrategySpec};
use crate::trace::{EventLine, OutcomeLine, Trace, TraceLine};

/// Why a scenario could not be simulated.
#[derive(Debug)]
#[non_exhaustive]
pub enum SimulateError {
    /// The engine refused the policy.
    Config(ConfigError),
    /// A call scripts no attempt.
    EmptyScript {
        /// The call's index.
        call: usize,
    },
}

impl fmt::Display for SimulateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimulateError::Config(e) => write!(f, "policy: the engine refuses it: {e}"),
            SimulateError::EmptyScript { call } => {
                write!(
                    f,
                    "calls[{call}].attempts: must script at least one attempt"
                )
            }
        }
    }
}

impl std::error::Error for SimulateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SimulateError::Config(e) => Some(e),
            _ => None,
        }
    }
}

/// Plays `scenario` through the engine and returns its trace.
///
/// ```
/// use redress_doctor::{scenario::Scenario, simulate::simulate};
///
/// let scenario = Scenario::from_json(r#"{
///     "policy": {"max_attempts": 2, "strategy": {"kind": "constant", "delay_s": 0.5}},
///     "calls": [{"attempts": [{"error": "TRANSIENT", "duration_s": 0.25}]}]
/// }"#)?;
/// let trace = simulate(&scenario)?.to_jsonl();
/// let lines: Vec<&str> = trace.lines().collect();
/// assert_eq!(lines.len(), 3);
/// assert!(lines[0].contains(r#""event": "retry""#) && lines[0].contains(r#""sleep_s": 0.5"#));
/// assert!(lines[2].contains(r#""elapsed_s": 1.0"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate(scenario: &Scenario) -> Result<Trace, SimulateError> {
    let policy = build_policy(&scenario.policy)?;
    let clock = ManualClock::new();
    // Strategies are deterministic; the generator only has to exist.
    let mut rng = FastRng::seeded(0);
    let lines = RefCell::new(Vec::new());
    for (index, call) in scenario.calls.iter().enumerate() {
        clock.set(call.at);
        let outcome = run_call(&policy, index, call, &clock, &lines, &mut rng)?;
        lines.borrow_mut().push(TraceLine::Outcome(outcome));
    }
    Ok(Trace {
        lines: lines.into_inner(),
    })
}

/// A scripted failure's class and retry-after hint.
#[derive(Clone, Copy, Debug)]
struct Scripted {
    class: ErrorClass,
    retry_after: Option<Duration>,
}

impl Scripted {
    fn classification(self) -> Classification {
        let c = Classification::new(self.class);
        match self.retry_after {
            Some(hint) => c.with_retry_after(hint),
            None => c,
        }
    }
}

/// The error a scripted attempt fails with.
#[derive(Clone, Copy, Debug)]
struct ScriptedError(Scripted);

impl fmt::Display for ScriptedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scripted {} error", self.0.class)
    }
}

impl std::error::Error for ScriptedError {}

/// The value a scripted attempt returns: flagged as a failure, or a plain
/// success.
#[derive(Clone, Copy, Debug)]
struct ScriptedValue(Option<Scripted>);

type ErrorClassifierFn = fn(&ScriptedError) -> Classification;
type ResultClassifierFn = fn(&ScriptedValue) -> Option<Classification>;
type ScenarioPolicy = Policy<ErrorClassifierFn, ResultClassifierFn>;
type ScenarioPolicyBuilder = PolicyBuilder<ErrorClassifierFn, ResultClassifierFn>;

fn classify_error(error: &ScriptedError) -> Classification {
    error.0.classification()
}

fn classify_value(value: &ScriptedValue) -> Option<Classification> {
    value.0.map(Scripted::classification)
}

fn scripted_result(outcome: ScriptedOutcome) -> Result<ScriptedValue, ScriptedError> {
    match outcome {
        ScriptedOutcome::Error { class, retry_after } => {
            Err(ScriptedError(Scripted { class, retry_after }))
        }
        ScriptedOutcome::Result { class, retry_after } => {
            Ok(ScriptedValue(Some(Scripted { class, retry_after })))
        }
        ScriptedOutcome::Ok => Ok(ScriptedValue(None)),
    }
}

fn backoff(spec: &StrategySpec) -> Backoff {
    match spec {
        StrategySpec::Constant { delay } => constant(*delay).into(),
        StrategySpec::Sequence { delays } => schedule(delays.clone()).into(),
        StrategySpec::RetryAfterOr { fallback } => retry_after_or(backoff(fallback))
            .jitter(Duration::ZERO)
            .into(),
    }
}

fn build_policy(spec: &PolicySpec) -> Result<ScenarioPolicy, SimulateError> {
    let mut builder = Policy::builder()
        .classifier(classify_error as ErrorClassifierFn)
        .result_classifier(classify_value as ResultClassifierFn)
        .deadline(spec.deadline)
        .max_attempts(spec.max_attempts);
    builder = match spec.max_unknown_attempts {
        Some(cap) => builder.max_unknown_attempts(cap),
        None => builder.unlimited_unknown_attempts(),
    };
    for (class, cap) in &spec.per_class_max_attempts {
        builder = builder.class_max_attempts(*class, *cap);
    }
    if let Some(strategy) = &spec.strategy {
        builder = builder.strategy(backoff(strategy));
    }
    for (class, strategy) in &spec.strategies {
        builder = builder.class_strategy(*class, backoff(strategy));
    }
    with_shared_state(builder, spec)?
        .build()
        .map_err(SimulateError::Config)
}

/// Adds the scenario's budget and circuit breaker to the policy. Both live
/// in the policy, so every call of the scenario shares them, and the engine
/// reads them with the same virtual `now` as everything else. A call the
/// breaker rejects ends at once, and [`run_call`] reports it with the
/// engine's stop reason (`CIRCUIT_OPEN`) and no operation call.
fn with_shared_state(
    mut builder: ScenarioPolicyBuilder,
    spec: &PolicySpec,
) -> Result<ScenarioPolicyBuilder, SimulateError> {
    if let Some(budget) = &spec.budget {
        let budget =
            RollingBudget::new(budget.max_retries, budget.window).map_err(SimulateError::Config)?;
        builder = builder.budget(Arc::new(budget));
    }
    if let Some(breaker) = &spec.circuit_breaker {
        let mut b = CircuitBreaker::builder()
            .failure_threshold(breaker.failure_threshold)
            .window(breaker.window)
            .recovery_timeout(breaker.recovery_timeout)
            .trip_on(breaker.trip_on.iter().copied());
        for (class, threshold) in &breaker.class_thresholds {
            b = b.class_threshold(*class, *threshold);
        }
        builder = builder.circuit_breaker(Arc::new(b.build().map_err(SimulateError::Config)?));
    }
    Ok(builder)
}

fn event_line(call: usize, event: &Event<'_>) -> EventLine {
    let mut line = EventLine::new(call, event.kind, event.attempt);
    line.sleep = event.delay;
    line.class = event.class;
    line.cause = event.cause;
    line.stop_reason = event.stop_reason;
    line.state = event.state;
    line
}

/// Runs one call from the clock's current time; its events go to `lines`.
fn run_call(
    policy: &ScenarioPolicy,
    index: usize,
    call: &CallSpec,
    clock: &ManualClock,
    lines: &RefCell<Vec<TraceLine>>,
    rng: &mut FastRng,
) -> Result<OutcomeLine, SimulateError> {
    let mut site = policy.bind();
    if let Some(name) = call.operation.as_deref() {
        site = site.operation(name);
    }
    let site = site.on_event(|event| {
        lines
            .borrow_mut()
            .push(TraceLine::Event(event_line(index, event)))
    });

    let mut operation_calls: u32 = 0;
    let (mut exec, mut action) = site.start::<ScriptedValue, ScriptedError>(clock.now());
    let outcome = loop {
        action = match action {
            Action::Attempt => {
                let entry = usize::try_from(operation_calls)
                    .ok()
                    .and_then(|i| call.entry(i))
                    .ok_or(SimulateError::EmptyScript { call: index })?;
                operation_calls = operation_calls.saturating_add(1);
                clock.advance(entry.duration);
                exec.record(scripted_result(entry.outcome), clock.now(), rng)
            }
            Action::Sleep(delay) => {
                clock.advance(delay);
                exec.resume(clock.now())
            }
            Action::Done => break exec.finish(clock.now()),
        };
    };

    let mut line = OutcomeLine::new(index);
    line.ok = outcome.is_ok();
    line.stop_reason = outcome.stop_reason;
    line.attempts = outcome.attempts;
    line.last_class = outcome.last_class;
    line.cause = outcome.cause;
    line.elapsed = outcome.elapsed;
    line.operation_calls = operation_calls;
    Ok(line)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use redress_core::{EventKind, StopReason};

    fn run(json: &str) -> Trace {
        simulate(&Scenario::from_json(json).unwrap()).unwrap()
    }

    #[test]
    fn calls_start_at_their_time_or_after_the_previous_one() {
        // Call 0 runs from 0 to 3; call 1 asks for 1 but starts at 3; call 2
        // starts at 10. Each call's elapsed time is its own.
        let trace = run(r#"{
            "policy": {"strategy": {"kind": "constant", "delay_s": 1}},
            "calls": [
                {"attempts": [{"error": "TRANSIENT", "duration_s": 1}, {"ok": true, "duration_s": 1}]},
                {"at_s": 1, "operation": "b", "attempts": [{"ok": true, "duration_s": 0.5}]},
                {"at_s": 10, "attempts": [{"result": "SERVER_ERROR", "retry_after_s": 9}, {"ok": true}]}
            ]}"#);
        let outcomes: Vec<OutcomeLine> = trace
            .lines
            .iter()
            .filter_map(|l| match l {
                TraceLine::Outcome(o) => Some(*o),
                TraceLine::Event(_) => None,
            })
            .collect();
        assert_eq!(outcomes.len(), 3);
        assert_eq!(outcomes[0].elapsed, Duration::from_secs(3));
        assert_eq!(outcomes[1].elapsed, Duration::from_millis(500));
        assert_eq!(outcomes[2].elapsed, Duration::from_secs(1));
        assert!(outcomes.iter().all(|o| o.ok));
        assert_eq!(outcomes[2].operation_calls, 2);
    }

    #[test]
    fn scripted_failures_keep_their_class_cause_and_hint() {
        let trace = run(r#"{
            "policy": {"max_attempts": 2,
                       "strategy": {"kind": "retry_after_or", "fallback": {"kind": "constant", "delay_s": 0.5}}},
            "calls": [{"attempts": [{"result": "RATE_LIMIT", "retry_after_s": 3}, {"error": "SERVER_ERROR"}]}]}"#);
        let TraceLine::Event(retry) = trace.lines[0] else {
            unreachable!()
        };
        assert_eq!(retry.event, EventKind::Retry);
        assert_eq!(retry.sleep, Duration::from_secs(3));
        assert_eq!(retry.class, Some(ErrorClass::RateLimit));
        assert_eq!(retry.cause, Some(redress_core::Cause::Result));
        let TraceLine::Outcome(end) = trace.lines[2] else {
            unreachable!()
        };
        assert_eq!(end.stop_reason, Some(StopReason::MaxAttemptsGlobal));
        assert_eq!(end.last_class, Some(ErrorClass::ServerError));
        assert_eq!(end.cause, Some(redress_core::Cause::Error));
    }

    #[test]
    fn budget_and_breaker_are_shared_by_the_calls() {
        let scenario = Scenario::from_json(
            r#"{"policy": {"max_attempts": 2, "strategy": {"kind": "constant", "delay_s": 0.1},
                "budget": {"max_retries": 1, "window_s": 60.0},
                "circuit_breaker": {"failure_threshold": 2}},
                "calls": [{"attempts": [{"error": "TRANSIENT"}]},
                          {"attempts": [{"error": "TRANSIENT"}]},
                          {"attempts": [{"ok": true}]}]}"#,
        )
        .unwrap();
        let jsonl = simulate(&scenario).unwrap().to_jsonl();
        // The first call spends the only retry; the second is refused one,
        // which opens the breaker; the third is rejected.
        assert!(jsonl.contains(r#""event": "budget_exhausted""#), "{jsonl}");
        assert!(jsonl.contains(r#""event": "circuit_opened""#), "{jsonl}");
        assert!(
            jsonl.contains(r#""stop_reason": "CIRCUIT_OPEN""#),
            "{jsonl}"
        );
    }
}
