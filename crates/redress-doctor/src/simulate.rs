//! Playing a scenario through the real engine under virtual time.
//!
//! [`simulate`] builds a [`redress_core::Policy`] from the scenario's policy
//! (a [`PolicyConfig`], built like any config, with the scripted
//! classifiers: [`build_policy`]) and drives one [`redress_core::Execution`]
//! per call, exactly as the runners do, except that time is a
//! [`ManualClock`] that only moves when the script says so:
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
//!
//! [`simulate_config`] plays the same kind of calls (from a failure
//! [script](crate::script)) through a policy loaded from a config file;
//! its jittered strategies draw from a generator seeded by the caller, so a
//! run is reproducible.
//!
//! A policy may allow billions of attempts (`max_attempts = 4294967295`
//! with no delay), so the `_into` forms ([`simulate_into`],
//! [`simulate_config_into`], [`play_into`]) hand each trace line to a sink
//! as soon as the engine emits it and keep nothing; the sink may stop the
//! play (`redress simulate --limit`), and the engine stops at the next
//! attempt: the work done is bounded by what the sink accepts.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::ops::ControlFlow;
use core::time::Duration;

use redress_config::{BuildError, PolicyConfig};
use redress_core::{
    Action, Bound, Classification, ConfigError, ErrorClass, FastRng, Hooks, ManualClock, Outcome,
    Policy,
};

use crate::scenario::{CallSpec, Scenario, ScriptedOutcome};
use crate::trace::{EventLine, OutcomeLine, Trace, TraceLine};

/// Why a scenario could not be simulated.
#[derive(Debug)]
#[non_exhaustive]
pub enum SimulateError {
    /// The engine refused the policy.
    Config(ConfigError),
    /// The config could not be built into a policy.
    Build(BuildError),
}

impl fmt::Display for SimulateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimulateError::Config(e) => write!(f, "policy: the engine refuses it: {e}"),
            SimulateError::Build(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SimulateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SimulateError::Config(e) => Some(e),
            SimulateError::Build(e) => Some(e),
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
    // Strategies are deterministic; the generator only has to exist.
    Ok(play(&policy, &scenario.calls, &mut Engine::new(0), ()))
}

/// Plays `scenario`, handing each trace line to `sink` as it is emitted;
/// the sink stops the play by returning [`ControlFlow::Break`].
///
/// ```
/// use core::ops::ControlFlow;
/// use redress_doctor::{scenario::Scenario, simulate::{simulate_into, Played}};
///
/// // Four billion attempts, no delay: only the lines taken are played.
/// let scenario = Scenario::from_json(r#"{
///     "policy": {"max_attempts": 4294967295, "strategy": {"kind": "constant", "delay_s": 0}},
///     "calls": [{"attempts": [{"error": "TRANSIENT"}]}]
/// }"#)?;
/// let mut lines = 0;
/// let played = simulate_into(&scenario, &mut |_| {
///     if lines == 1000 {
///         return ControlFlow::Break(());
///     }
///     lines += 1;
///     ControlFlow::Continue(())
/// })?;
/// assert_eq!(played, Played::Stopped { call: 0 });
/// assert_eq!(lines, 1000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate_into(
    scenario: &Scenario,
    sink: &mut dyn FnMut(TraceLine) -> ControlFlow<()>,
) -> Result<Played, SimulateError> {
    let policy = build_policy(&scenario.policy)?;
    Ok(play_into(
        &policy,
        &scenario.calls,
        &mut Engine::new(0),
        (),
        sink,
    ))
}

/// Plays `calls` through the policy `config` describes, drawing jitter
/// from a generator seeded with `seed`.
///
/// ```
/// use redress_config::PolicyConfig;
/// use redress_doctor::script::Script;
/// use redress_doctor::simulate::simulate_config;
///
/// let config = PolicyConfig::from_toml_str(r#"strategy = { kind = "constant", delay = "1s" }"#)?;
/// let script = Script::from_inline(&["SERVER_ERROR x2, ok"])?;
/// let trace = simulate_config(&config, &script.calls, 1)?;
/// assert_eq!(trace.to_jsonl().lines().count(), 4); // 2 retries, a success, the outcome
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate_config(
    config: &PolicyConfig,
    calls: &[CallSpec],
    seed: u64,
) -> Result<Trace, SimulateError> {
    let policy = build_policy(config)?;
    Ok(play(&policy, calls, &mut Engine::new(seed), ()))
}

/// [`simulate_config`], handing each trace line to `sink` as it is
/// emitted (see [`simulate_into`]).
pub fn simulate_config_into(
    config: &PolicyConfig,
    calls: &[CallSpec],
    seed: u64,
    sink: &mut dyn FnMut(TraceLine) -> ControlFlow<()>,
) -> Result<Played, SimulateError> {
    let policy = build_policy(config)?;
    Ok(play_into(&policy, calls, &mut Engine::new(seed), (), sink))
}

/// A scripted failure's class and retry-after hint.
#[derive(Clone, Copy, Debug)]
pub struct Scripted {
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
pub struct ScriptedError(Scripted);

impl fmt::Display for ScriptedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scripted {} error", self.0.class)
    }
}

impl std::error::Error for ScriptedError {}

/// The value a scripted attempt returns: flagged as a failure, or a plain
/// success.
#[derive(Clone, Copy, Debug)]
pub struct ScriptedValue(Option<Scripted>);

/// The classifier of a scenario's policy: the class a scripted error carries.
pub type ErrorClassifierFn = fn(&ScriptedError) -> Classification;
/// The result classifier of a scenario's policy: flags scripted results.
pub type ResultClassifierFn = fn(&ScriptedValue) -> Option<Classification>;
/// A policy built from a scenario.
pub type ScenarioPolicy = Policy<ErrorClassifierFn, ResultClassifierFn>;

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

/// Builds the policy of a scenario or a config, with the scripted
/// classifiers: [`PolicyConfig::builder`] (so the one set of rules refuses
/// what cannot run) plus the classifiers. Its budget and circuit breaker
/// live in the policy, so every call played through it shares them, and
/// the engine reads them with the same virtual `now` as everything else.
/// A call the breaker rejects ends at once, and [`play`] reports it with
/// the engine's stop reason (`CIRCUIT_OPEN`) and no operation call.
pub fn build_policy(config: &PolicyConfig) -> Result<ScenarioPolicy, SimulateError> {
    config
        .builder()
        .map_err(SimulateError::Build)?
        .classifier(classify_error as ErrorClassifierFn)
        .result_classifier(classify_value as ResultClassifierFn)
        .build()
        .map_err(SimulateError::Config)
}

/// One call of a scenario, as a runner plays it: each invocation of the
/// operation takes the next script entry (the last one repeats).
#[derive(Debug)]
pub struct ScriptedCall<'a> {
    spec: &'a CallSpec,
    played: Cell<u32>,
    stop: Option<&'a Cell<bool>>,
}

impl<'a> ScriptedCall<'a> {
    /// The call `spec`, not played yet.
    pub fn new(spec: &'a CallSpec) -> Self {
        ScriptedCall {
            spec,
            played: Cell::new(0),
            stop: None,
        }
    }

    /// Whether whoever takes the trace has stopped taking it: a runner that
    /// can end a call early (the [`Engine`]) ends it before its next
    /// attempt.
    pub fn stopped(&self) -> bool {
        self.stop.is_some_and(Cell::get)
    }

    /// Plays the next attempt: how long it takes and how it ends.
    pub fn next(&self) -> (Duration, Result<ScriptedValue, ScriptedError>) {
        let index = usize::try_from(self.played.get()).unwrap_or(usize::MAX);
        self.played.set(self.played.get().saturating_add(1));
        match self.spec.entry(index) {
            Some(entry) => (entry.duration, scripted_result(entry.outcome)),
            // The parser never lets a call have no attempts.
            None => (Duration::ZERO, Ok(ScriptedValue(None))),
        }
    }

    /// How many attempts were played (the operation's invocations).
    pub fn invocations(&self) -> u32 {
        self.played.get()
    }
}

/// The call site a runner is handed: the scenario's policy, with the trace
/// hooks (and any extra hooks) attached.
pub type ScenarioSite<'a, H> = Bound<'a, ErrorClassifierFn, ResultClassifierFn, H>;

/// Something that runs a scenario's calls: the engine driven by hand
/// ([`Engine`], which `simulate` uses), or a real runner. Every runner must
/// produce the same trace for the same scenario; that is the parity test.
pub trait Runner {
    /// Waits until `at` (since the scenario started) if that is later than
    /// the runner's current time.
    fn wait_until(&mut self, at: Duration);

    /// Runs one call through `site`, whose operation plays `call`: each
    /// attempt takes its scripted time on the runner's clock, then ends as
    /// scripted. A runner that can enforce the policy's attempt timeout
    /// cuts attempts that overrun it.
    fn run<H: Hooks + Clone>(
        &mut self,
        site: &ScenarioSite<'_, H>,
        call: &ScriptedCall<'_>,
    ) -> Outcome<ScriptedValue, ScriptedError>;
}

/// The engine driven by hand on a [`ManualClock`]: no runner code at all,
/// the reference point of the parity test.
///
/// As the reference does, it plays each attempt to completion unless an
/// attempt timeout applies; [`Engine::cancelling`] plays it the way the
/// async runners do, cut at its time limit (the deadline included).
#[derive(Debug)]
pub struct Engine {
    clock: ManualClock,
    rng: FastRng,
    cancels: bool,
}

impl Engine {
    /// An engine on a clock at zero, drawing jitter from `seed`, playing
    /// attempts as the reference does.
    pub fn new(seed: u64) -> Self {
        Engine {
            clock: ManualClock::new(),
            rng: FastRng::seeded(seed),
            cancels: false,
        }
    }

    /// An engine that cuts every attempt at its
    /// [`time_limit`](redress_core::Attempt::time_limit), as a runner that
    /// can cancel attempts does: an attempt that would run past the
    /// deadline ends there.
    pub fn cancelling(seed: u64) -> Self {
        Engine {
            cancels: true,
            ..Engine::new(seed)
        }
    }
}

impl Runner for Engine {
    fn wait_until(&mut self, at: Duration) {
        self.clock.set(at);
    }

    fn run<H: Hooks + Clone>(
        &mut self,
        site: &ScenarioSite<'_, H>,
        call: &ScriptedCall<'_>,
    ) -> Outcome<ScriptedValue, ScriptedError> {
        let clock = &self.clock;
        let (mut exec, mut action) = site.start::<ScriptedValue, ScriptedError>(clock.now());
        loop {
            action = match action {
                // The trace is no longer taken: end the call here (as an
                // abandoned call ends), whatever the policy still allows.
                Action::Attempt(_) if call.stopped() => return exec.finish(),
                Action::Attempt(attempt) => {
                    let (took, result) = call.next();
                    let limit = attempt.time_limit();
                    // Played to completion, as the reference does, unless
                    // an attempt timeout applies (or this engine cancels
                    // like the async runners): then it is cut at its limit.
                    if (self.cancels || attempt.timeout.is_some()) && took > limit {
                        clock.advance(limit);
                        exec.record_timeout(clock.now(), &mut self.rng)
                    } else {
                        clock.advance(took);
                        exec.record(result, clock, &mut self.rng)
                    }
                }
                Action::SleepHooks => {
                    let decision = exec.pending_sleep().run_hooks_blocking();
                    exec.sleep_decided(decision, clock.now())
                }
                Action::Sleep(delay) => {
                    clock.advance(delay);
                    exec.resume(clock.now())
                }
                Action::Done => return exec.finish(),
            };
        }
    }
}

/// Plays every call of `calls` through `policy` and `runner`, with `extra`
/// hooks on every call site, and returns the trace.
pub fn play<Rn: Runner, X: Hooks + Clone>(
    policy: &ScenarioPolicy,
    calls: &[CallSpec],
    runner: &mut Rn,
    extra: X,
) -> Trace {
    let mut lines = Vec::new();
    play_into(policy, calls, runner, extra, &mut |line| {
        lines.push(line);
        ControlFlow::Continue(())
    });
    Trace { lines }
}

/// How a [`play_into`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Played {
    /// Every call was played to its end.
    Complete,
    /// The sink stopped taking lines during call `call` (0-based): that
    /// call's outcome and the calls after it are not in the trace.
    Stopped {
        /// The call that was playing.
        call: usize,
    },
}

/// [`play`], handing each trace line to `sink` as it is emitted, keeping
/// none. When the sink returns [`ControlFlow::Break`], nothing more is
/// handed to it; a runner that can end a call early (the [`Engine`]) ends
/// it before its next attempt, and no later call is played.
pub fn play_into<Rn: Runner, X: Hooks + Clone>(
    policy: &ScenarioPolicy,
    calls: &[CallSpec],
    runner: &mut Rn,
    extra: X,
    sink: &mut dyn FnMut(TraceLine) -> ControlFlow<()>,
) -> Played {
    let stop = Cell::new(false);
    let sink = RefCell::new(sink);
    let emit = |line: TraceLine| {
        if !stop.get() && (sink.borrow_mut())(line).is_break() {
            stop.set(true);
        }
    };
    for (index, spec) in calls.iter().enumerate() {
        runner.wait_until(spec.at);
        let mut site = policy.bind();
        if let Some(name) = spec.operation.as_deref() {
            site = site.operation(name);
        }
        let site = site
            .on_event(|event| emit(TraceLine::Event(EventLine::new(index, event))))
            .hooks(extra.clone());
        let mut call = ScriptedCall::new(spec);
        call.stop = Some(&stop);
        let outcome = runner.run(&site, &call);
        if stop.get() {
            return Played::Stopped { call: index };
        }
        let mut line = OutcomeLine::new(index);
        line.ok = outcome.is_ok();
        line.stop_reason = outcome.stop_reason;
        line.attempts = outcome.attempts;
        line.last_class = outcome.last_class;
        line.cause = outcome.cause;
        line.elapsed = outcome.elapsed;
        line.operation_calls = call.invocations();
        emit(TraceLine::Outcome(line));
        if stop.get() {
            return Played::Stopped { call: index };
        }
    }
    Played::Complete
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
        assert_eq!(retry.event.kind, EventKind::Retry);
        assert_eq!(retry.event.delay, Duration::from_secs(3));
        assert_eq!(retry.event.class, Some(ErrorClass::RateLimit));
        assert_eq!(retry.event.cause, Some(redress_core::Cause::Result));
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
