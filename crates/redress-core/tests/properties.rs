//! Property tests for the engine and the built-in strategies.
//!
//! The engine is driven by hand under a virtual clock (a `Duration` the
//! driver advances by each attempt's duration and each sleep), exactly as
//! the crate docs show. Every decision is checked against an independent
//! model of the reference decision order (rules 1 to 8 of `engine.rs`), and
//! every delay against the documented bounds.
//!
//! Nothing here needs `alloc` from the library: schedules and the recording
//! strategy are leaked into `'static` memory, so the file also runs under
//! `--no-default-features`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use core::cell::RefCell;
use core::time::Duration;
use std::sync::Mutex;

use proptest::prelude::*;
use redress_core::backoff::{
    Backoff, constant, decorrelated_jitter, equal_jitter, exponential, full_jitter, retry_after_or,
    schedule, token_backoff,
};
use redress_core::{
    Action, BackoffContext, Cause, Classification, Classifier, ConfigError, ErrorClass, Event,
    EventKind, Failure, FastRng, PerClass, Policy, ResultClassifier, Rng, SleepDecision,
    StopReason, Strategy as BackoffStrategy, StrategyKind, StrategyProblem,
};

// ---------------------------------------------------------------------------
// The operation's types and classifiers
// ---------------------------------------------------------------------------

/// An error carrying its own classification and the attempt that made it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Fail {
    id: u32,
    class: Classification,
}

/// A value carrying the attempt that made it and, when it is to be retried,
/// its classification.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Resp {
    id: u32,
    flag: Option<Classification>,
}

#[derive(Clone, Copy, Debug)]
struct ByField;

impl Classifier<Fail> for ByField {
    fn classify(&self, error: &Fail) -> Classification {
        error.class
    }
}

impl ResultClassifier<Resp> for ByField {
    fn classify(&self, value: &Resp) -> Option<Classification> {
        value.flag
    }
}

type TestPolicy = Policy<ByField, ByField>;

// ---------------------------------------------------------------------------
// Strategy and configuration specs
// ---------------------------------------------------------------------------

/// A strategy as data, so proptest can shrink it and the model can reason
/// about it.
#[derive(Clone, Debug)]
enum Spec {
    Constant(Duration),
    Exponential(Duration, Duration, f64),
    Full(Duration, Duration),
    Equal(Duration, Duration),
    Decorrelated(Duration, Duration),
    Token(Duration, Duration),
    Schedule(Vec<Duration>),
    /// `retry_after_or(fallback)`, with the default jitter when `None`.
    RetryAfterOr(Box<Spec>, Option<Duration>),
}

fn leak_schedule(delays: &[Duration]) -> &'static [Duration] {
    Box::leak(delays.to_vec().into_boxed_slice())
}

impl Spec {
    fn backoff(&self) -> Backoff {
        match self {
            Spec::Constant(d) => constant(*d).into(),
            Spec::Exponential(b, m, f) => exponential().base(*b).max(*m).factor(*f).into(),
            Spec::Full(b, m) => full_jitter().base(*b).max(*m).into(),
            Spec::Equal(b, m) => equal_jitter().base(*b).max(*m).into(),
            Spec::Decorrelated(b, m) => decorrelated_jitter().base(*b).max(*m).into(),
            Spec::Token(b, m) => token_backoff().base(*b).max(*m).into(),
            Spec::Schedule(d) => schedule(leak_schedule(d)).into(),
            Spec::RetryAfterOr(fallback, jitter) => {
                let s = retry_after_or(fallback.backoff());
                match jitter {
                    Some(j) => s.jitter(*j).into(),
                    None => s.into(),
                }
            }
        }
    }

    /// What `Policy::build` must say about this strategy: the kind at
    /// fault, how many fallbacks deep it is, and the problem.
    fn problem(&self) -> Option<(StrategyKind, u8, StrategyProblem)> {
        let base_max = |b: &Duration, m: &Duration| {
            if b > m {
                Some(StrategyProblem::BaseAboveMax { base: *b, max: *m })
            } else {
                b.is_zero().then_some(StrategyProblem::ZeroBase)
            }
        };
        let problem = match self {
            Spec::Constant(_) => None,
            Spec::Exponential(b, m, f) => {
                if !(f.is_finite() && *f >= 1.0) {
                    Some(StrategyProblem::InvalidFactor(*f))
                } else {
                    base_max(b, m)
                }
            }
            Spec::Full(b, m) | Spec::Equal(b, m) | Spec::Decorrelated(b, m) | Spec::Token(b, m) => {
                base_max(b, m)
            }
            Spec::Schedule(d) => d.is_empty().then_some(StrategyProblem::EmptySchedule),
            Spec::RetryAfterOr(fallback, _) => {
                return fallback
                    .problem()
                    .map(|(kind, depth, problem)| (kind, depth + 1, problem));
            }
        };
        problem.map(|p| (self.kind(), 0, p))
    }

    fn kind(&self) -> StrategyKind {
        match self {
            Spec::Constant(_) => StrategyKind::Constant,
            Spec::Exponential(..) => StrategyKind::Exponential,
            Spec::Full(..) => StrategyKind::FullJitter,
            Spec::Equal(..) => StrategyKind::EqualJitter,
            Spec::Decorrelated(..) => StrategyKind::DecorrelatedJitter,
            Spec::Token(..) => StrategyKind::TokenBackoff,
            Spec::Schedule(_) => StrategyKind::Schedule,
            Spec::RetryAfterOr(..) => StrategyKind::RetryAfterOr,
        }
    }
}

#[derive(Clone, Debug)]
struct Cfg {
    deadline: Duration,
    max_attempts: u32,
    unknown_cap: Option<u32>,
    class_caps: [Option<u32>; 8],
    default: Option<Spec>,
    per_class: [Option<Spec>; 8],
}

impl Cfg {
    fn builder(&self) -> redress_core::PolicyBuilder<ByField, ByField> {
        let mut b = Policy::builder()
            .classifier(ByField)
            .result_classifier(ByField)
            .deadline(self.deadline)
            .max_attempts(self.max_attempts);
        b = match self.unknown_cap {
            Some(cap) => b.max_unknown_attempts(cap),
            None => b.unlimited_unknown_attempts(),
        };
        for (class, cap) in ErrorClass::ALL.into_iter().zip(self.class_caps) {
            if let Some(cap) = cap {
                b = b.class_max_attempts(class, cap);
            }
        }
        if let Some(spec) = &self.default {
            b = b.strategy(spec.backoff());
        }
        for (class, spec) in ErrorClass::ALL.into_iter().zip(&self.per_class) {
            if let Some(spec) = spec {
                b = b.class_strategy(class, spec.backoff());
            }
        }
        b
    }

    fn class_cap(&self, class: ErrorClass) -> Option<u32> {
        self.class_caps[class_index(class)]
    }
}

fn class_index(class: ErrorClass) -> usize {
    ErrorClass::ALL.iter().position(|c| *c == class).unwrap()
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

fn small_duration() -> impl Strategy<Value = Duration> {
    (0u64..=5_000_000_000).prop_map(Duration::from_nanos)
}

/// Mostly small, sometimes anything up to and including `Duration::MAX`.
fn any_duration() -> BoxedStrategy<Duration> {
    prop_oneof![
        6 => small_duration(),
        2 => (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        1 => Just(Duration::ZERO),
        1 => Just(Duration::MAX),
    ]
    .boxed()
}

/// A valid base and max: the base not above the max, and not zero.
fn ordered_pair(d: BoxedStrategy<Duration>) -> impl Strategy<Value = (Duration, Duration)> {
    let least = Duration::from_nanos(1);
    (d.clone(), d).prop_map(move |(a, b)| {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        (lo.max(least), hi.max(least))
    })
}

fn valid_factor() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 1.0f64..=4.0,
        1 => Just(1.0),
        1 => 1.0f64..1e300,
    ]
}

/// A valid plain strategy of any built-in kind, with durations from `d`.
fn plain_spec(d: BoxedStrategy<Duration>) -> BoxedStrategy<Spec> {
    prop_oneof![
        d.clone().prop_map(Spec::Constant),
        (ordered_pair(d.clone()), valid_factor())
            .prop_map(|((b, m), f)| Spec::Exponential(b, m, f)),
        ordered_pair(d.clone()).prop_map(|(b, m)| Spec::Full(b, m)),
        ordered_pair(d.clone()).prop_map(|(b, m)| Spec::Equal(b, m)),
        ordered_pair(d.clone()).prop_map(|(b, m)| Spec::Decorrelated(b, m)),
        ordered_pair(d.clone()).prop_map(|(b, m)| Spec::Token(b, m)),
        proptest::collection::vec(d, 1..6).prop_map(Spec::Schedule),
    ]
    .boxed()
}

/// A valid strategy of any built-in kind, `retry_after_or` included.
fn valid_spec_from(d: BoxedStrategy<Duration>) -> BoxedStrategy<Spec> {
    prop_oneof![
        6 => plain_spec(d.clone()),
        2 => (plain_spec(d.clone()), proptest::option::of(d))
            .prop_map(|(f, j)| Spec::RetryAfterOr(Box::new(f), j)),
    ]
    .boxed()
}

/// Valid strategies with parameters anywhere in `Duration`'s range.
fn valid_spec() -> BoxedStrategy<Spec> {
    valid_spec_from(any_duration())
}

/// Parameters for engine runs: mostly delays that let a call make many
/// attempts inside its deadline, sometimes huge ones.
fn engine_duration() -> BoxedStrategy<Duration> {
    prop_oneof![
        8 => (0u64..=200_000_000).prop_map(Duration::from_nanos),
        2 => small_duration(),
        1 => any_duration(),
    ]
    .boxed()
}

fn any_factor() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => valid_factor(),
        1 => any::<f64>(),
        1 => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-1.0),
            Just(0.0),
            Just(0.999_999),
            Just(f64::MIN_POSITIVE),
        ],
    ]
}

/// Any strategy, valid or not: base above max, bad factors, empty schedules.
fn any_spec() -> BoxedStrategy<Spec> {
    let plain = prop_oneof![
        any_duration().prop_map(Spec::Constant),
        (any_duration(), any_duration(), any_factor())
            .prop_map(|(b, m, f)| Spec::Exponential(b, m, f)),
        (any_duration(), any_duration()).prop_map(|(b, m)| Spec::Full(b, m)),
        (any_duration(), any_duration()).prop_map(|(b, m)| Spec::Equal(b, m)),
        (any_duration(), any_duration()).prop_map(|(b, m)| Spec::Decorrelated(b, m)),
        (any_duration(), any_duration()).prop_map(|(b, m)| Spec::Token(b, m)),
        proptest::collection::vec(any_duration(), 0..4).prop_map(Spec::Schedule),
    ];
    prop_oneof![
        4 => plain.clone(),
        1 => (plain, proptest::option::of(any_duration()))
            .prop_map(|(f, j)| Spec::RetryAfterOr(Box::new(f), j)),
    ]
    .boxed()
}

fn deadline() -> BoxedStrategy<Duration> {
    prop_oneof![
        4 => (1_000_000u64..=10_000_000_000).prop_map(Duration::from_nanos),
        2 => (1_000_000u64..=u64::MAX).prop_map(Duration::from_nanos),
        1 => (any::<u64>(), 0u32..1_000_000_000)
            .prop_map(|(s, n)| Duration::new(s, n).max(Duration::from_millis(1))),
        1 => Just(Duration::MAX),
    ]
    .boxed()
}

fn max_attempts() -> impl Strategy<Value = u32> {
    prop_oneof![
        12 => 1u32..=50,
        1 => 51u32..=u32::MAX,
        1 => Just(u32::MAX),
    ]
}

fn valid_cfg() -> BoxedStrategy<Cfg> {
    (
        deadline(),
        max_attempts(),
        proptest::option::weighted(0.7, 0u32..=8),
        proptest::array::uniform8(proptest::option::weighted(0.15, 0u32..=6)),
        proptest::option::weighted(0.9, valid_spec_from(engine_duration())),
        proptest::array::uniform8(proptest::option::weighted(
            0.2,
            valid_spec_from(engine_duration()),
        )),
    )
        .prop_map(
            |(deadline, max_attempts, unknown_cap, class_caps, default, per_class)| {
                let mut cfg = Cfg {
                    deadline,
                    max_attempts,
                    unknown_cap,
                    class_caps,
                    default,
                    per_class,
                };
                // A valid config needs some strategy; keep classes without one
                // possible (they stop with NO_STRATEGY).
                if cfg.default.is_none() && cfg.per_class.iter().all(Option::is_none) {
                    cfg.per_class[class_index(ErrorClass::Transient)] =
                        Some(Spec::Constant(Duration::from_millis(10)));
                }
                cfg
            },
        )
        .boxed()
}

fn error_class() -> impl Strategy<Value = ErrorClass> {
    prop_oneof![
        12 => Just(ErrorClass::Transient),
        6 => Just(ErrorClass::RateLimit),
        6 => Just(ErrorClass::ServerError),
        3 => Just(ErrorClass::Concurrency),
        4 => Just(ErrorClass::Unknown),
        1 => prop_oneof![
            Just(ErrorClass::Permanent),
            Just(ErrorClass::Auth),
            Just(ErrorClass::Permission),
        ],
    ]
}

#[derive(Clone, Copy, Debug)]
enum StepKind {
    Error(Classification),
    Flagged(Classification),
    Success,
}

#[derive(Clone, Copy, Debug)]
struct Step {
    kind: StepKind,
    took: Duration,
}

fn classification() -> BoxedStrategy<Classification> {
    (
        error_class(),
        proptest::option::weighted(0.3, any_duration()),
    )
        .prop_map(|(class, ra)| {
            let c = Classification::new(class);
            match ra {
                Some(ra) => c.with_retry_after(ra),
                None => c,
            }
        })
        .boxed()
}

fn took() -> BoxedStrategy<Duration> {
    prop_oneof![
        5 => Just(Duration::ZERO),
        5 => (0u64..=50_000_000).prop_map(Duration::from_nanos),
        1 => (0u64..=5_000_000_000).prop_map(Duration::from_nanos),
        1 => any_duration(),
    ]
    .boxed()
}

fn failure_step() -> BoxedStrategy<Step> {
    (classification(), any::<bool>(), took())
        .prop_map(|(c, as_result, took)| Step {
            kind: if as_result {
                StepKind::Flagged(c)
            } else {
                StepKind::Error(c)
            },
            took,
        })
        .boxed()
}

/// Failures, then (maybe) a success. Without a success the failures repeat.
fn script() -> BoxedStrategy<Vec<Step>> {
    (
        proptest::collection::vec(failure_step(), 1..50),
        proptest::option::weighted(0.5, took()),
    )
        .prop_map(|(mut steps, success)| {
            if let Some(took) = success {
                steps.push(Step {
                    kind: StepKind::Success,
                    took,
                });
            }
            steps
        })
        .boxed()
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

/// The owned part of an event.
#[derive(Clone, Debug, PartialEq)]
struct Ev {
    kind: EventKind,
    attempt: u32,
    delay: Duration,
    class: Option<ErrorClass>,
    cause: Option<Cause>,
    stop_reason: Option<StopReason>,
    elapsed: Duration,
    retry_after: Option<Duration>,
}

impl Ev {
    fn of(e: &Event<'_>) -> Self {
        Ev {
            kind: e.kind,
            attempt: e.attempt,
            delay: e.delay,
            class: e.class,
            cause: e.cause,
            stop_reason: e.stop_reason,
            elapsed: e.elapsed,
            retry_after: e.classification.and_then(|c| c.retry_after),
        }
    }
}

/// What the driver fed the engine for one attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Fed {
    attempt: u32,
    /// Time since the start when the result was recorded.
    elapsed: Duration,
    /// How long the attempt took.
    took: Duration,
    kind: StepKind,
}

impl PartialEq for StepKind {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StepKind::Error(a), StepKind::Error(b))
            | (StepKind::Flagged(a), StepKind::Flagged(b)) => a == b,
            (StepKind::Success, StepKind::Success) => true,
            _ => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Slept {
    /// The attempt that failed before this sleep.
    after_attempt: u32,
    /// Time since the start when the engine asked for the sleep.
    elapsed: Duration,
    delay: Duration,
}

#[derive(Debug, PartialEq)]
struct Trace {
    events: Vec<Ev>,
    starts: Vec<(u32, Duration)>,
    fed: Vec<Fed>,
    slept: Vec<Slept>,
    ok: Option<Resp>,
    failure: Option<Failure<Fail, Resp>>,
    stop_reason: Option<StopReason>,
    attempts: u32,
    last_class: Option<ErrorClass>,
    cause: Option<Cause>,
    elapsed: Duration,
    next_delay: Option<Duration>,
}

/// After this many attempts the driver answers with a success, so scripts
/// without one terminate under huge `max_attempts` and deadlines.
const ATTEMPT_LIMIT: usize = 300;

fn drive(policy: &TestPolicy, steps: &[Step], start: Duration, seed: u64) -> Trace {
    let events = RefCell::new(Vec::new());
    let starts = RefCell::new(Vec::new());
    let bound = policy
        .bind()
        .seed(seed)
        .on_event(|e| events.borrow_mut().push(Ev::of(e)))
        .on_attempt_start(|a| starts.borrow_mut().push((a.attempt, a.elapsed)));
    let mut rng = bound.rng();
    let mut fed = Vec::new();
    let mut slept = Vec::new();
    let mut now = start;
    let (mut exec, mut action) = bound.start::<Resp, Fail>(now);
    let outcome = loop {
        action = match action {
            Action::Attempt(_) => {
                let i = fed.len();
                let step = if i >= ATTEMPT_LIMIT {
                    Step {
                        kind: StepKind::Success,
                        took: Duration::ZERO,
                    }
                } else {
                    steps[i % steps.len()]
                };
                let id = u32::try_from(i + 1).unwrap();
                now = now.saturating_add(step.took);
                fed.push(Fed {
                    attempt: exec.attempts(),
                    elapsed: now.saturating_sub(start),
                    took: step.took,
                    kind: step.kind,
                });
                let result = match step.kind {
                    StepKind::Error(class) => Err(Fail { id, class }),
                    StepKind::Flagged(c) => Ok(Resp { id, flag: Some(c) }),
                    StepKind::Success => Ok(Resp { id, flag: None }),
                };
                exec.record(result, now, &mut rng)
            }
            Action::SleepHooks => unreachable!("no sleep hooks at this call site"),
            Action::Sleep(delay) => {
                assert!(!delay.is_zero(), "the engine never asks for a zero sleep");
                slept.push(Slept {
                    after_attempt: exec.attempts(),
                    elapsed: now.saturating_sub(start),
                    delay,
                });
                now = now.saturating_add(delay);
                exec.resume(now)
            }
            Action::Done => break exec.finish(),
        };
    };
    let (ok, failure) = match outcome.result {
        Ok(v) => (Some(v), None),
        Err(f) => (None, Some(f)),
    };
    Trace {
        events: events.into_inner(),
        starts: starts.into_inner(),
        fed,
        slept,
        ok,
        failure,
        stop_reason: outcome.stop_reason,
        attempts: outcome.attempts,
        last_class: outcome.last_class,
        cause: outcome.cause,
        elapsed: outcome.elapsed,
        next_delay: outcome.next_delay,
    }
}

// ---------------------------------------------------------------------------
// The model of the decision order
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Decision {
    Retry { remaining: Duration },
    Stop(StopReason),
}

#[derive(Default)]
struct Model {
    per_class: PerClass<u32>,
    unknown: u32,
}

impl Model {
    /// Rules 1 to 8 for attempt `n` failing with `class` at `elapsed`.
    fn decide(
        &mut self,
        cfg: &Cfg,
        policy: &TestPolicy,
        n: u32,
        class: ErrorClass,
        elapsed: Duration,
    ) -> Decision {
        let count = self.per_class.get_mut(class);
        *count += 1;
        if cfg.class_cap(class).is_some_and(|cap| *count > cap) {
            return Decision::Stop(StopReason::MaxAttemptsPerClass);
        }
        if matches!(
            class,
            ErrorClass::Permanent | ErrorClass::Auth | ErrorClass::Permission
        ) {
            return Decision::Stop(StopReason::NonRetryableClass);
        }
        if class == ErrorClass::Unknown {
            self.unknown += 1;
            if cfg.unknown_cap.is_some_and(|cap| self.unknown > cap) {
                return Decision::Stop(StopReason::MaxUnknownAttempts);
            }
        }
        if elapsed > cfg.deadline {
            return Decision::Stop(StopReason::DeadlineExceeded);
        }
        if policy.retry().strategy_for(class).is_none() {
            return Decision::Stop(StopReason::NoStrategy);
        }
        let remaining = cfg.deadline - elapsed;
        if remaining.is_zero() {
            return Decision::Stop(StopReason::DeadlineExceeded);
        }
        if n >= cfg.max_attempts {
            return Decision::Stop(StopReason::MaxAttemptsGlobal);
        }
        Decision::Retry { remaining }
    }
}

fn failure_of(kind: StepKind) -> Option<(Classification, Cause)> {
    match kind {
        StepKind::Error(c) => Some((c, Cause::Error)),
        StepKind::Flagged(c) => Some((c, Cause::Result)),
        StepKind::Success => None,
    }
}

/// Delays never exceed a bound: strategies clamp after computing in `f64`
/// (see `float_round_trip_never_exceeds_max`).
fn at_most(d: Duration, max: Duration) -> bool {
    d <= max
}

/// Checks one run against the model and the documented bounds.
fn check_run(cfg: &Cfg, policy: &TestPolicy, t: &Trace) -> Result<(), TestCaseError> {
    // Attempts: one start hook and one recorded result per attempt, numbered
    // 1..=n, and never more than max_attempts.
    prop_assert!(t.attempts >= 1);
    prop_assert!(
        t.attempts <= cfg.max_attempts,
        "{} > {}",
        t.attempts,
        cfg.max_attempts
    );
    prop_assert_eq!(t.fed.len(), t.attempts as usize);
    prop_assert_eq!(t.starts.len(), t.attempts as usize);
    for (i, ((n, _), fed)) in t.starts.iter().zip(&t.fed).enumerate() {
        prop_assert_eq!(*n as usize, i + 1);
        prop_assert_eq!(fed.attempt as usize, i + 1);
    }

    // Walk the attempts through the model and the event stream in lockstep.
    let mut model = Model::default();
    let mut events = t.events.iter();
    let mut sleeps = t.slept.iter();
    for (i, fed) in t.fed.iter().enumerate() {
        let last = i + 1 == t.fed.len();
        let Some((c, cause)) = failure_of(fed.kind) else {
            let e = events.next().expect("a success event");
            prop_assert_eq!(e.kind, EventKind::Success);
            prop_assert_eq!(e.attempt, fed.attempt);
            prop_assert!(last, "the call goes on after a success");
            continue;
        };
        let decision = model.decide(cfg, policy, fed.attempt, c.class, fed.elapsed);
        let e = events.next().expect("an event per failed attempt");
        prop_assert_eq!(e.attempt, fed.attempt);
        prop_assert_eq!(e.class, Some(c.class));
        prop_assert_eq!(e.cause, Some(cause));
        prop_assert_eq!(e.elapsed, fed.elapsed);
        match decision {
            Decision::Stop(reason) => {
                prop_assert!(
                    last,
                    "model stops at attempt {} ({reason}) but the call went on",
                    fed.attempt
                );
                prop_assert_eq!(e.kind, reason.event_kind());
                prop_assert_eq!(e.stop_reason, Some(reason));
                prop_assert_eq!(t.stop_reason, Some(reason));
                prop_assert_eq!(e.delay, Duration::ZERO);
            }
            Decision::Retry { remaining } => {
                prop_assert_eq!(
                    e.kind,
                    EventKind::Retry,
                    "model retries attempt {}",
                    fed.attempt
                );
                prop_assert!(!last, "the model retries but the call stopped");
                prop_assert_eq!(e.stop_reason, None);
                prop_assert_eq!(e.retry_after, c.retry_after);
                // A zero delay is no sleep: the next attempt follows at once.
                let delay = e.delay;
                if !delay.is_zero() {
                    let s = sleeps.next().expect("a sleep after a retry event");
                    prop_assert_eq!(s.after_attempt, fed.attempt);
                    prop_assert_eq!(s.elapsed, fed.elapsed);
                    prop_assert_eq!(s.delay, delay);
                }

                // Every delay is a `Duration`, so finite and non-negative by
                // construction (a NaN or negative strategy result cannot get
                // through the type). It is clamped to the time left: sleeping
                // never carries the call past its deadline.
                prop_assert!(delay <= remaining, "{delay:?} > remaining {remaining:?}");
                prop_assert!(fed.elapsed.saturating_add(delay) <= cfg.deadline);

                // At most the strategy's own maximum, when it has one.
                let strategy = policy.retry().strategy_for(c.class).unwrap();
                if let Some(max) = strategy.max_delay() {
                    prop_assert!(at_most(delay, max), "{delay:?} above max_delay {max:?}");
                }
                // A retry-after hint wins, plus at most the jitter.
                if let (Some(j), Some(hint)) = (strategy.retry_after_jitter(), c.retry_after) {
                    prop_assert!(delay >= hint.min(remaining), "{delay:?} < hint {hint:?}");
                    let top = hint.saturating_add(j);
                    prop_assert!(
                        delay <= top.min(remaining),
                        "{delay:?} > hint {hint:?} + {j:?}"
                    );
                }
            }
        }
    }
    prop_assert!(
        events.next().is_none(),
        "events after the end: {:?}",
        t.events
    );
    prop_assert!(sleeps.next().is_none());

    // Per-class caps. The exact bound: a class with cap `c` has at most
    // `c + 1` failures recorded, and at most `c` of them retried. Rule 2
    // counts every failure of the class (rule 1 records it first) and stops
    // as soon as the count exceeds the cap, so the (c+1)-th failure is
    // recorded and ends the call with MAX_ATTEMPTS_PER_CLASS; `c + 1` is
    // reached only that way. A cap of 0 stops at the first failure.
    // UNKNOWN has two caps: rule 2 runs before rule 4, so UNKNOWN failures
    // number at most `min(class cap, max_unknown_attempts) + 1`. A
    // non-retryable class stops at its first failure (rule 2 or 3), so the
    // call records at most one such failure, as its last.
    let mut counts = PerClass::<u32>::default();
    let mut retried = PerClass::<u32>::default();
    for (i, fed) in t.fed.iter().enumerate() {
        if let Some((c, _)) = failure_of(fed.kind) {
            *counts.get_mut(c.class) += 1;
            if i + 1 < t.fed.len() {
                *retried.get_mut(c.class) += 1;
            }
        }
    }
    for class in ErrorClass::ALL {
        if let Some(cap) = cfg.class_cap(class) {
            prop_assert!(*counts.get(class) <= cap + 1);
            prop_assert!(*retried.get(class) <= cap);
            if *counts.get(class) == cap + 1 {
                prop_assert_eq!(t.last_class, Some(class));
                prop_assert_eq!(t.stop_reason, Some(StopReason::MaxAttemptsPerClass));
            }
        }
        if !class.is_retryable() {
            prop_assert_eq!(*retried.get(class), 0);
        }
    }
    if let Some(cap) = cfg.unknown_cap {
        prop_assert!(*counts.get(ErrorClass::Unknown) <= cap + 1);
        prop_assert!(*retried.get(ErrorClass::Unknown) <= cap);
    }
    let non_retryable: u32 = ErrorClass::ALL
        .into_iter()
        .filter(|c| !c.is_retryable())
        .map(|c| *counts.get(c))
        .sum();
    prop_assert!(non_retryable <= 1);

    // The stop reason agrees with the counters.
    let last = t.fed.last().unwrap();
    match t.stop_reason {
        None => {
            prop_assert!(t.ok.is_some());
            prop_assert_eq!(last.kind, StepKind::Success);
            prop_assert_eq!(t.last_class, None);
            prop_assert_eq!(t.cause, None);
        }
        Some(reason) => {
            let (c, cause) = failure_of(last.kind).expect("a failed call ends on a failure");
            prop_assert_eq!(t.last_class, Some(c.class));
            prop_assert_eq!(t.cause, Some(cause));
            match reason {
                StopReason::MaxAttemptsGlobal => prop_assert_eq!(t.attempts, cfg.max_attempts),
                StopReason::MaxAttemptsPerClass => {
                    prop_assert_eq!(
                        Some(*counts.get(c.class)),
                        cfg.class_cap(c.class).map(|x| x + 1)
                    );
                }
                StopReason::NonRetryableClass => prop_assert!(!c.class.is_retryable()),
                StopReason::MaxUnknownAttempts => {
                    prop_assert_eq!(c.class, ErrorClass::Unknown);
                    prop_assert_eq!(
                        Some(*counts.get(ErrorClass::Unknown)),
                        cfg.unknown_cap.map(|x| x + 1)
                    );
                }
                StopReason::DeadlineExceeded => prop_assert!(last.elapsed >= cfg.deadline),
                StopReason::NoStrategy => {
                    prop_assert!(policy.retry().strategy_for(c.class).is_none());
                }
                other => prop_assert!(false, "unexpected stop reason without hooks: {other}"),
            }
            // Nothing is lost: the last error or flagged value comes back.
            let id = u32::try_from(t.fed.len()).unwrap();
            match (last.kind, &t.failure) {
                (StepKind::Error(class), Some(Failure::Error(e))) => {
                    prop_assert_eq!(*e, Fail { id, class });
                }
                (StepKind::Flagged(c), Some(Failure::Value(v))) => {
                    prop_assert_eq!(*v, Resp { id, flag: Some(c) });
                }
                (kind, failure) => prop_assert!(false, "{kind:?} came back as {failure:?}"),
            }
        }
    }
    if let Some(v) = &t.ok {
        prop_assert_eq!(v.id, u32::try_from(t.fed.len()).unwrap());
    }
    prop_assert_eq!(t.next_delay, None);

    // With instant attempts, the whole call stays inside the deadline.
    if t.fed.iter().all(|f| f.took.is_zero()) {
        prop_assert!(t.elapsed <= cfg.deadline);
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn start_time() -> impl Strategy<Value = Duration> {
    prop_oneof![
        2 => Just(Duration::ZERO),
        2 => small_duration(),
        1 => (0u64..=u64::MAX / 2).prop_map(Duration::from_secs),
    ]
}

proptest! {
    #![proptest_config(config(192))]

    /// The engine follows the reference decision order, its counters and
    /// stop reasons agree, and its delays respect every documented bound.
    #[test]
    fn engine_follows_the_decision_order_and_bounds(
        cfg in valid_cfg(),
        steps in script(),
        start in start_time(),
        seed in any::<u64>(),
    ) {
        let policy = cfg.builder().build().expect("valid config");
        let trace = drive(&policy, &steps, start, seed);
        check_run(&cfg, &policy, &trace)?;

        // Same seed, same trace (events, delays, outcome).
        let again = drive(&policy, &steps, start, seed);
        prop_assert_eq!(&trace, &again);
    }
}

// ---------------------------------------------------------------------------
// Driving the engine out of order
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Call {
    Begin,
    Record(Step),
    RecordFailure(Classification),
    Timeout,
    SleepDecided(SleepDecision),
    Resume,
}

fn calls() -> BoxedStrategy<Vec<(Call, Duration)>> {
    let call = prop_oneof![
        1 => Just(Call::Begin),
        4 => failure_step().prop_map(Call::Record),
        1 => took().prop_map(|took| Call::Record(Step { kind: StepKind::Success, took })),
        1 => classification().prop_map(Call::RecordFailure),
        1 => Just(Call::Timeout),
        1 => prop_oneof![
            Just(SleepDecision::Sleep),
            Just(SleepDecision::Defer),
            Just(SleepDecision::Abort)
        ]
        .prop_map(Call::SleepDecided),
        3 => Just(Call::Resume),
    ];
    // `now` may jump anywhere, backwards included.
    proptest::collection::vec((call, any_duration()), 0..60).boxed()
}

proptest! {
    #![proptest_config(config(128))]

    /// A runner that calls the engine out of order, or with a clock that
    /// jumps backwards, gets answers, never a panic, and never more attempts
    /// than allowed.
    #[test]
    fn driving_out_of_order_never_panics(
        cfg in valid_cfg(),
        calls in calls(),
        seed in any::<u64>(),
    ) {
        let policy = cfg.builder().build().expect("valid config");
        // A sleep hook, so the engine also waits for sleep decisions.
        let bound = policy.bind().before_sleep(|_, _| {});
        let mut rng = FastRng::seeded(seed);
        let (mut exec, mut action) = bound.start::<Resp, Fail>(Duration::ZERO);
        for (i, (call, now)) in calls.into_iter().enumerate() {
            let id = u32::try_from(i).unwrap();
            action = match call {
                Call::Begin => exec.begin(now),
                Call::Record(step) => {
                    let result = match step.kind {
                        StepKind::Error(class) => Err(Fail { id, class }),
                        StepKind::Flagged(c) => Ok(Resp { id, flag: Some(c) }),
                        StepKind::Success => Ok(Resp { id, flag: None }),
                    };
                    exec.record(result, now, &mut rng)
                }
                Call::RecordFailure(class) => {
                    exec.record_failure(Fail { id, class }, &class, now, &mut rng)
                }
                Call::Timeout => exec.record_timeout(now, &mut rng),
                Call::SleepDecided(decision) => exec.sleep_decided(decision, now),
                Call::Resume => exec.resume(now),
            };
            prop_assert!(exec.attempts() <= cfg.max_attempts);
            prop_assert!(exec.remaining(now) <= cfg.deadline);
            let _ = exec.elapsed(now);
        }
        let done = action == Action::Done;
        let outcome = exec.finish();
        prop_assert!(outcome.attempts <= cfg.max_attempts);
        prop_assert!(outcome.attempts >= 1);
        match &outcome.result {
            Ok(_) => prop_assert_eq!(outcome.stop_reason, None),
            // No result was ever recorded (the runner stopped mid-attempt).
            Err(Failure::NotAttempted) => {
                prop_assert_eq!(outcome.stop_reason, Some(StopReason::Aborted));
                prop_assert_eq!(outcome.last_class, None);
            }
            Err(_) => {
                prop_assert!(outcome.stop_reason.is_some());
                prop_assert!(outcome.last_class.is_some());
                // A call its runner stopped driving reports ABORTED.
                if !done {
                    prop_assert_eq!(outcome.stop_reason, Some(StopReason::Aborted));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// What strategies are told
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
struct Seen {
    attempt: u32,
    class: ErrorClass,
    retry_after: Option<Duration>,
    prev_delay: Option<Duration>,
    remaining: Duration,
    cause: Cause,
    now: Duration,
}

/// Records every context it is asked with, then asks the wrapped strategy.
struct Recording {
    inner: Backoff,
    seen: Mutex<Vec<Seen>>,
}

impl BackoffStrategy for Recording {
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        self.seen.lock().unwrap().push(Seen {
            attempt: ctx.attempt,
            class: ctx.class(),
            retry_after: ctx.classification.retry_after,
            prev_delay: ctx.prev_delay,
            remaining: ctx.remaining,
            cause: ctx.cause,
            now: ctx.now,
        });
        self.inner.delay(ctx, rng)
    }

    fn max_delay(&self) -> Option<Duration> {
        self.inner.max_delay()
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// The strategy sees the reference's context: the failed attempt, its
    /// classification and cause, the previous (clamped) delay, the time left.
    #[test]
    fn strategies_see_the_reference_context(
        mut cfg in valid_cfg(),
        inner in valid_spec(),
        steps in script(),
        start in start_time(),
        seed in any::<u64>(),
    ) {
        let recording: &'static Recording = Box::leak(Box::new(Recording {
            inner: inner.backoff(),
            seen: Mutex::new(Vec::new()),
        }));
        cfg.default = None;
        cfg.per_class = Default::default();
        let policy = cfg
            .builder()
            .strategy(Backoff::custom_static(recording))
            .build()
            .expect("valid config");
        let t = drive(&policy, &steps, start, seed);
        let seen = recording.seen.lock().unwrap().clone();
        // One strategy call per retry, none for the final failure (rule 8:
        // no delay is computed when the attempts are used up).
        let retries: Vec<_> = t.events.iter().filter(|e| e.kind == EventKind::Retry).collect();
        prop_assert_eq!(seen.len(), retries.len());
        let mut prev = None;
        for (s, retry) in seen.iter().zip(&retries) {
            let fed = t.fed[retry.attempt as usize - 1];
            let (c, cause) = failure_of(fed.kind).unwrap();
            prop_assert_eq!(s.attempt, fed.attempt);
            prop_assert_eq!(s.class, c.class);
            prop_assert_eq!(s.retry_after, c.retry_after);
            prop_assert_eq!(s.cause, cause);
            prop_assert_eq!(s.prev_delay, prev);
            prop_assert_eq!(s.remaining, cfg.deadline - fed.elapsed);
            prop_assert_eq!(s.now, start.saturating_add(fed.elapsed));
            prev = Some(retry.delay);
        }
    }
}

// ---------------------------------------------------------------------------
// Each strategy inside its documented range
// ---------------------------------------------------------------------------

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `d` lies in `[lo, hi]` seconds, up to the f64 rounding of the formulas.
fn within(d: Duration, lo: f64, hi: f64) -> bool {
    let x = secs(d);
    let tol = |v: f64| v.abs() * 1e-9 + 2e-9;
    x >= lo - tol(lo) && x <= hi + tol(hi)
}

/// `min(max, base × factor^exp)` as the docs define it (a zero base stays
/// zero), and whether `factor^exp` overflowed.
fn doc_cap(base: Duration, max: Duration, factor: f64, exp: u32) -> f64 {
    if base.is_zero() {
        return 0.0;
    }
    (secs(base) * factor.powf(f64::from(exp))).min(secs(max))
}

fn attempt_number() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..=70, 1 => any::<u32>()]
}

fn draw(
    b: &Backoff,
    c: &Classification,
    attempt: u32,
    prev: Option<Duration>,
    rng: &mut FastRng,
) -> Duration {
    let mut ctx = BackoffContext::new(attempt, c);
    ctx.prev_delay = prev;
    b.delay(&ctx, rng)
}

/// The range a plain strategy's delay must lie in, in seconds (`None` when
/// the strategy has no documented range).
fn documented_range(spec: &Spec, attempt: u32, prev: Option<Duration>) -> Option<(f64, f64)> {
    match spec {
        Spec::Constant(d) => Some((secs(*d), secs(*d))),
        Spec::Exponential(b, m, f) => {
            let cap = doc_cap(*b, *m, *f, attempt.saturating_sub(1));
            Some((cap, cap))
        }
        Spec::Full(b, m) => {
            let cap = doc_cap(*b, *m, 2.0, attempt);
            Some((0.0, cap))
        }
        Spec::Equal(b, m) => {
            let cap = doc_cap(*b, *m, 2.0, attempt);
            Some((cap / 2.0, cap))
        }
        Spec::Token(b, m) => {
            let cap = doc_cap(*b, *m, 1.5, attempt);
            Some((cap / 2.0, cap))
        }
        Spec::Decorrelated(b, m) => {
            // Uniform between base and 3 × prev (prev starts at base; a zero
            // previous delay counts as none), capped at max. Like Python's
            // `random.uniform`, the bounds may come in either order: after a
            // delay shortened by the deadline, 3 × prev can be below base.
            let base = secs(*b);
            let prev = match prev {
                Some(p) if !p.is_zero() => secs(p),
                _ => base,
            };
            let (lo, hi) = (base.min(prev * 3.0), base.max(prev * 3.0));
            Some((lo.min(secs(*m)), hi.min(secs(*m))))
        }
        Spec::Schedule(d) => {
            let i = usize::try_from(attempt.saturating_sub(1)).unwrap();
            let v = secs(*d.get(i).or(d.last()).unwrap());
            Some((v, v))
        }
        Spec::RetryAfterOr(..) => unreachable!("handled by the caller"),
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Every built-in (and `retry_after_or` around each) stays inside its
    /// documented range for arbitrary parameters, attempts and previous
    /// delays, and never above its `max_delay()`.
    #[test]
    fn strategies_stay_in_their_documented_ranges(
        spec in valid_spec(),
        attempt in attempt_number(),
        prev in proptest::option::of(any_duration()),
        hint in proptest::option::weighted(0.5, any_duration()),
        seed in any::<u64>(),
    ) {
        let b = spec.backoff();
        let mut c = Classification::new(ErrorClass::RateLimit);
        if let Some(h) = hint {
            c = c.with_retry_after(h);
        }
        let mut rng = FastRng::seeded(seed);
        for _ in 0..8 {
            let d = draw(&b, &c, attempt, prev, &mut rng);
            if let Some(max) = b.max_delay() {
                prop_assert!(at_most(d, max), "{d:?} above max_delay {max:?}");
            }
            let (plain, jitter) = match &spec {
                Spec::RetryAfterOr(fallback, j) => (&**fallback, Some(j.unwrap_or(Duration::from_millis(250)))),
                other => (other, None),
            };
            match (jitter, hint) {
                (Some(j), Some(h)) => {
                    // The hint plus a uniform jitter in [0, jitter].
                    prop_assert!(d >= h, "{d:?} < hint {h:?}");
                    prop_assert!(d == Duration::MAX || secs(d - h) <= secs(j) + secs(j) * 1e-9 + 2e-9,
                        "{d:?} > hint {h:?} + jitter {j:?}");
                }
                _ => {
                    if let Some((lo, hi)) = documented_range(plain, attempt, prev) {
                        prop_assert!(within(d, lo, hi), "{spec:?} attempt {attempt} prev {prev:?}: {d:?} not in [{lo}, {hi}]");
                    } else {
                        // The known bug: the delay is at least bounded by max.
                        let max = plain.backoff().max_delay().unwrap();
                        prop_assert!(at_most(d, max), "{d:?} above max {max:?}");
                    }
                }
            }
        }
    }

    /// Jittered strategies draw different values: the range is actually used.
    #[test]
    fn jitter_spreads_over_the_range(
        (base, max) in (1u64..=1_000u64, 1u64..=1_000u64)
            .prop_map(|(a, b)| (Duration::from_millis(a.min(b)), Duration::from_millis(4 * a.max(b) + 10))),
        seed in any::<u64>(),
    ) {
        let c = Classification::new(ErrorClass::Transient);
        for b in [
            Backoff::from(full_jitter().base(base).max(max)),
            equal_jitter().base(base).max(max).into(),
            token_backoff().base(base).max(max).into(),
            decorrelated_jitter().base(base).max(max).into(),
        ] {
            let mut rng = FastRng::seeded(seed);
            let first = draw(&b, &c, 3, Some(base), &mut rng);
            let spread = (0..32).any(|_| draw(&b, &c, 3, Some(base), &mut rng) != first);
            prop_assert!(spread, "{} always drew {first:?}", b.kind());
        }
    }
}

// ---------------------------------------------------------------------------
// Arbitrary builder input
// ---------------------------------------------------------------------------

/// The error `build` must return, in the order `build` checks.
fn expected_error(
    max_attempts: u32,
    deadline: Duration,
    default: &Option<Spec>,
    per_class: &[Option<Spec>; 8],
) -> Option<ConfigError> {
    if max_attempts == 0 {
        return Some(ConfigError::ZeroMaxAttempts);
    }
    if deadline.is_zero() {
        return Some(ConfigError::ZeroDeadline);
    }
    let all = default.iter().map(|s| (None, s)).chain(
        ErrorClass::ALL
            .into_iter()
            .zip(per_class)
            .filter_map(|(c, s)| Some((Some(c), s.as_ref()?))),
    );
    let mut any = false;
    for (class, spec) in all {
        any = true;
        if let Some((kind, depth, problem)) = spec.problem() {
            return Some(ConfigError::InvalidStrategy {
                class,
                kind,
                depth,
                problem,
            });
        }
    }
    (!any).then_some(ConfigError::NoStrategy)
}

fn same_error(a: &ConfigError, b: &ConfigError) -> bool {
    match (a, b) {
        (
            ConfigError::InvalidStrategy {
                class: c1,
                kind: k1,
                depth: d1,
                problem: StrategyProblem::InvalidFactor(f1),
            },
            ConfigError::InvalidStrategy {
                class: c2,
                kind: k2,
                depth: d2,
                problem: StrategyProblem::InvalidFactor(f2),
            },
        ) => c1 == c2 && k1 == k2 && d1 == d2 && (f1 == f2 || (f1.is_nan() && f2.is_nan())),
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Any builder input gives `Ok` or the right typed `ConfigError`, never a
    /// panic; a config that built runs without panicking; and even an
    /// invalid strategy asked for a delay directly does not panic.
    #[test]
    fn builder_input_gives_ok_or_a_typed_error(
        max_attempts in prop_oneof![Just(0u32), Just(1u32), any::<u32>()],
        deadline in prop_oneof![Just(Duration::ZERO), any_duration()],
        unknown_cap in proptest::option::of(any::<u32>()),
        class_caps in proptest::array::uniform8(proptest::option::weighted(0.3, prop_oneof![Just(0u32), any::<u32>()])),
        default in proptest::option::of(any_spec()),
        per_class in proptest::array::uniform8(proptest::option::weighted(0.2, any_spec())),
        steps in script(),
        attempt in attempt_number(),
        prev in proptest::option::of(any_duration()),
        seed in any::<u64>(),
    ) {
        let expected = expected_error(max_attempts, deadline, &default, &per_class);
        let cfg = Cfg { deadline, max_attempts, unknown_cap, class_caps, default, per_class };
        match (cfg.builder().build(), expected) {
            (Ok(policy), None) => {
                let t = drive(&policy, &steps, Duration::ZERO, seed);
                check_run(&cfg, &policy, &t)?;
            }
            (Err(got), Some(want)) => {
                prop_assert!(same_error(&got, &want), "got {got:?}, want {want:?}");
                // Every error renders a message.
                prop_assert!(!got.to_string().is_empty());
            }
            (Ok(_), Some(want)) => prop_assert!(false, "built, but want {want:?}"),
            (Err(got), None) => prop_assert!(false, "unexpected {got:?}"),
        }
        let mut rng = FastRng::seeded(seed);
        let c = Classification::new(ErrorClass::Transient).with_retry_after(Duration::MAX);
        for spec in cfg.default.iter().chain(cfg.per_class.iter().flatten()) {
            let b = spec.backoff();
            let _ = draw(&b, &c, attempt, prev, &mut rng);
            let _ = draw(&b, &Classification::new(ErrorClass::Unknown), attempt, prev, &mut rng);
            let _ = b.max_delay();
            let _ = b.validate();
        }
    }
}

// ---------------------------------------------------------------------------
// Regressions: bugs these properties found, reduced to minimal reproductions
// ---------------------------------------------------------------------------

/// Strategies compute in `f64` seconds and convert back; for a large `max`
/// with a nanosecond part the round trip used to round *up*, past
/// `max_delay()`.
#[test]
fn float_round_trip_never_exceeds_max() {
    let m = Duration::new(10_000_000_000, 999_999_999);
    let b: Backoff = exponential().base(m).max(m).into();
    let c = Classification::new(ErrorClass::Transient);
    let d = draw(&b, &c, 1, None, &mut FastRng::seeded(1));
    assert_eq!(b.max_delay(), Some(m));
    assert!(d <= m, "{d:?} > max {m:?}");
}

/// With a zero base, `min(max, 0 × 2ⁿ)` is 0, but once `2ⁿ` overflowed to
/// infinity `0 × ∞` was NaN, which used to be treated as "above max".
#[test]
fn zero_base_stays_zero_when_growth_overflows() {
    let c = Classification::new(ErrorClass::Transient);
    let mut rng = FastRng::seeded(1);
    let exp: Backoff = exponential().base(Duration::ZERO).into();
    assert_eq!(draw(&exp, &c, 3, None, &mut rng), Duration::ZERO);
    assert_eq!(draw(&exp, &c, 2000, None, &mut rng), Duration::ZERO);
    let full: Backoff = full_jitter().base(Duration::ZERO).into();
    assert_eq!(draw(&full, &c, 2000, None, &mut rng), Duration::ZERO);
    let big_factor: Backoff = exponential().base(Duration::ZERO).factor(1e300).into();
    assert_eq!(draw(&big_factor, &c, 3, None, &mut rng), Duration::ZERO);
}
