//! The configuration types: a policy, its strategies, budget and breaker,
//! and a file of policies.
//!
//! Every value is explicit: what a file leaves out is filled in with the
//! reference defaults when it is loaded, so a loaded config says exactly
//! what the policy will do, and writing it back out makes every default
//! visible.

use core::fmt;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use redress_core::backoff::{
    Backoff, CurveSpec, ParamKind, StrategyKind, adaptive, constant, decorrelated_jitter,
    equal_jitter, exponential, full_jitter, retry_after_or, token_backoff,
};
use redress_core::{CircuitBreaker, ErrorClass, Policy, RatioBudget};

use crate::duration::format_duration;
use crate::load::Origin;
use crate::shared::SharedRef;

/// One retry policy as data: the envelope, the strategies, and optionally a
/// retry budget and a circuit breaker. How failures are classified is not
/// data: the application supplies its classifier when it
/// [builds](PolicyConfig::build_with) the policy.
///
/// [`Default`] is the reference's envelope (deadline 60 s, 6 attempts, 2
/// unknown failures) with no strategy, which does not build until one is
/// added.
///
/// ```
/// use core::time::Duration;
/// use redress_config::{PolicyConfig, StrategyConfig};
///
/// let mut config = PolicyConfig::default();
/// config.deadline = Duration::from_secs(10);
/// config.strategy = Some(StrategyConfig::decorrelated_jitter());
/// let policy = config.build()?;
/// assert_eq!(policy.retry().deadline(), Duration::from_secs(10));
/// # Ok::<(), redress_config::BuildError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PolicyConfig {
    /// Total time allowed for a call, attempts and waits included
    /// (`deadline`, default 60 s).
    pub deadline: Duration,
    /// Attempts allowed in all, the first included (`max_attempts`, default 6).
    pub max_attempts: u32,
    /// `UNKNOWN` failures tolerated (`max_unknown_attempts`, default 2;
    /// `None` is `"unlimited"`).
    pub max_unknown_attempts: Option<u32>,
    /// How long one attempt may run (`attempt_timeout`, default none).
    pub attempt_timeout: Option<Duration>,
    /// Whether a retry-after hint longer than the time left stops the call
    /// at once instead of sleeping to the deadline
    /// (`stop_when_retry_after_exceeds_deadline`, default `false`, as in
    /// the reference).
    pub stop_when_retry_after_exceeds_deadline: bool,
    /// Failures tolerated per class (`per_class_max_attempts`).
    pub per_class_max_attempts: BTreeMap<ErrorClass, u32>,
    /// The default strategy (`strategy`).
    pub strategy: Option<StrategyConfig>,
    /// Per-class strategies, which win over the default (`strategies`).
    pub strategies: BTreeMap<ErrorClass, StrategyConfig>,
    /// A retry budget (`budget`).
    pub budget: Option<BudgetConfig>,
    /// A circuit breaker (`circuit_breaker`).
    pub circuit_breaker: Option<BreakerConfig>,
    /// Where it was loaded from, for errors building it: not part of what
    /// the policy is (equality ignores it).
    pub(crate) origin: Origin,
    /// Set when `budget` names a declared budget (`budget = "NAME"`):
    /// which one. `budget` then holds its settings.
    pub shared_budget: Option<SharedRef>,
    /// Set when `circuit_breaker` names a declared breaker
    /// (`circuit_breaker = "NAME"`): which one. `circuit_breaker` then
    /// holds its settings.
    pub shared_breaker: Option<SharedRef>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            deadline: Policy::DEFAULT_DEADLINE,
            max_attempts: Policy::DEFAULT_MAX_ATTEMPTS,
            max_unknown_attempts: Some(Policy::DEFAULT_MAX_UNKNOWN_ATTEMPTS),
            attempt_timeout: None,
            stop_when_retry_after_exceeds_deadline: false,
            per_class_max_attempts: BTreeMap::new(),
            strategy: None,
            strategies: BTreeMap::new(),
            budget: None,
            circuit_breaker: None,
            origin: Origin::default(),
            shared_budget: None,
            shared_breaker: None,
        }
    }
}

impl PolicyConfig {
    /// The strategy that handles `class`: its own, else the default.
    pub fn strategy_for(&self, class: ErrorClass) -> Option<&StrategyConfig> {
        self.strategies.get(&class).or(self.strategy.as_ref())
    }
}

/// A backoff strategy: every built-in of [`redress_core::backoff`], with
/// all its parameters (`kind = "..."` in a file). The variants are
/// core's [`StrategyKind`]s, and their fields its parameters, named and
/// defaulted as [`StrategyKind::params`] says.
///
/// Nesting is free in the data; a policy whose `retry_after_or` falls back
/// to another `retry_after_or`, or whose `adaptive` wraps `retry_after_or`
/// or `adaptive`, is refused when it is linted or built (`E108`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum StrategyConfig {
    /// `decorrelated_jitter`: uniform between `base` and 3 × the previous
    /// delay, capped at `max` (defaults 250 ms, 30 s).
    DecorrelatedJitter {
        /// The first delay's lower bound.
        base: Duration,
        /// The cap.
        max: Duration,
    },
    /// `equal_jitter`: `cap = min(max, base × 2ⁿ)`, uniform in
    /// `[cap/2, cap]` (defaults 250 ms, 30 s).
    EqualJitter {
        /// The base delay.
        base: Duration,
        /// The cap.
        max: Duration,
    },
    /// `full_jitter`: uniform in `[0, min(max, base × 2ⁿ)]` (defaults
    /// 250 ms, 30 s).
    FullJitter {
        /// The base delay.
        base: Duration,
        /// The cap.
        max: Duration,
    },
    /// `token_backoff`: `cap = min(max, base × 1.5ⁿ)`, uniform in
    /// `[cap/2, cap]` (defaults 250 ms, 20 s).
    TokenBackoff {
        /// The base delay.
        base: Duration,
        /// The cap.
        max: Duration,
    },
    /// `exponential`: `min(max, base × factorⁿ⁻¹)`, no jitter (defaults
    /// 250 ms, 30 s, factor 2).
    Exponential {
        /// The first delay.
        base: Duration,
        /// The cap.
        max: Duration,
        /// The growth factor.
        factor: f64,
    },
    /// `constant`: the same `delay` every time (required).
    Constant {
        /// The delay.
        delay: Duration,
    },
    /// `schedule`: attempt `n` waits the `n`-th of `delays`, then the last
    /// one repeats.
    Schedule {
        /// The delays (required).
        delays: Vec<Duration>,
    },
    /// `retry_after_or`: the server's retry-after hint plus up to `jitter`
    /// (default 250 ms), else the `fallback` (required).
    RetryAfterOr {
        /// Used when there is no hint.
        fallback: Box<StrategyConfig>,
        /// The largest random amount added to a hint.
        jitter: Duration,
    },
    /// `adaptive`: the `fallback`'s delays (required) stretched by a
    /// multiplier that rises with the recent failure rate (defaults: window
    /// 60 s, target success 0.9, multipliers 1 to 5).
    Adaptive {
        /// The strategy whose delays are stretched.
        fallback: Box<StrategyConfig>,
        /// How far back successes and failures are remembered.
        window: Duration,
        /// The success rate below which delays stretch.
        target_success: f64,
        /// The multiplier when healthy.
        min_multiplier: f64,
        /// The multiplier when everything fails.
        max_multiplier: f64,
    },
}

/// The default of `kind`'s duration parameter `name` (zero if it has
/// none: never, for the names asked for here).
pub(crate) fn default_duration(kind: StrategyKind, name: &str) -> Duration {
    match kind.param(name).map(|p| p.kind) {
        Some(ParamKind::Duration(Some(d))) => d,
        _ => Duration::ZERO,
    }
}

/// The default of `kind`'s number parameter `name`.
pub(crate) fn default_number(kind: StrategyKind, name: &str) -> f64 {
    match kind.param(name).map(|p| p.kind) {
        Some(ParamKind::Number(x)) => x,
        _ => f64::NAN,
    }
}

impl StrategyConfig {
    /// `kind` with its defaults; `None` for a kind with a required
    /// parameter (`constant`, `schedule`, the two that take a fallback).
    ///
    /// ```
    /// use redress_config::StrategyConfig;
    /// use redress_core::StrategyKind;
    ///
    /// let s = StrategyConfig::with_defaults(StrategyKind::TokenBackoff).unwrap();
    /// assert_eq!(s.to_string(), "token_backoff(base = 250ms, max = 20s)");
    /// assert_eq!(StrategyConfig::with_defaults(StrategyKind::Constant), None);
    /// ```
    pub fn with_defaults(kind: StrategyKind) -> Option<Self> {
        let base = default_duration(kind, "base");
        let max = default_duration(kind, "max");
        Some(match kind {
            StrategyKind::DecorrelatedJitter => StrategyConfig::DecorrelatedJitter { base, max },
            StrategyKind::EqualJitter => StrategyConfig::EqualJitter { base, max },
            StrategyKind::FullJitter => StrategyConfig::FullJitter { base, max },
            StrategyKind::TokenBackoff => StrategyConfig::TokenBackoff { base, max },
            StrategyKind::Exponential => StrategyConfig::Exponential {
                base,
                max,
                factor: default_number(kind, "factor"),
            },
            _ => return None,
        })
    }

    /// Decorrelated jitter with the reference defaults (250 ms, 30 s).
    pub fn decorrelated_jitter() -> Self {
        StrategyConfig::from_curve(decorrelated_jitter().into())
    }

    /// Equal jitter with the reference defaults (250 ms, 30 s).
    pub fn equal_jitter() -> Self {
        StrategyConfig::from_curve(equal_jitter().into())
    }

    /// Full jitter with the defaults (250 ms, 30 s).
    pub fn full_jitter() -> Self {
        StrategyConfig::from_curve(full_jitter().into())
    }

    /// Token backoff with the reference defaults (250 ms, 20 s).
    pub fn token_backoff() -> Self {
        StrategyConfig::from_curve(token_backoff().into())
    }

    /// Exponential backoff with the defaults (250 ms, 30 s, factor 2).
    pub fn exponential() -> Self {
        StrategyConfig::from_curve(exponential().into())
    }

    /// A built-in curve read back from core (never custom here).
    fn from_curve(backoff: Backoff) -> Self {
        StrategyConfig::from_backoff(&backoff).unwrap_or(StrategyConfig::Constant {
            delay: Duration::ZERO,
        })
    }

    /// A constant delay.
    pub fn constant(delay: Duration) -> Self {
        StrategyConfig::Constant { delay }
    }

    /// An explicit schedule.
    pub fn schedule(delays: Vec<Duration>) -> Self {
        StrategyConfig::Schedule { delays }
    }

    /// Honors retry-after hints (with the default 250 ms jitter), else
    /// `fallback`.
    pub fn retry_after_or(fallback: StrategyConfig) -> Self {
        StrategyConfig::RetryAfterOr {
            fallback: Box::new(fallback),
            jitter: default_duration(StrategyKind::RetryAfterOr, "jitter"),
        }
    }

    /// Adaptive scaling of `fallback` with the reference defaults.
    pub fn adaptive(fallback: StrategyConfig) -> Self {
        let kind = StrategyKind::Adaptive;
        StrategyConfig::Adaptive {
            fallback: Box::new(fallback),
            window: default_duration(kind, "window"),
            target_success: default_number(kind, "target_success"),
            min_multiplier: default_number(kind, "min_multiplier"),
            max_multiplier: default_number(kind, "max_multiplier"),
        }
    }

    /// The kind (its [`name`](StrategyKind::name) is what files write).
    pub fn kind(&self) -> StrategyKind {
        match self {
            StrategyConfig::DecorrelatedJitter { .. } => StrategyKind::DecorrelatedJitter,
            StrategyConfig::EqualJitter { .. } => StrategyKind::EqualJitter,
            StrategyConfig::FullJitter { .. } => StrategyKind::FullJitter,
            StrategyConfig::TokenBackoff { .. } => StrategyKind::TokenBackoff,
            StrategyConfig::Exponential { .. } => StrategyKind::Exponential,
            StrategyConfig::Constant { .. } => StrategyKind::Constant,
            StrategyConfig::Schedule { .. } => StrategyKind::Schedule,
            StrategyConfig::RetryAfterOr { .. } => StrategyKind::RetryAfterOr,
            StrategyConfig::Adaptive { .. } => StrategyKind::Adaptive,
        }
    }

    /// The strategy as the engine runs it. Parameters and nesting are not
    /// checked here: [`PolicyConfig::build`] checks them (with core's
    /// rules, as [`Backoff::problems`] reports them).
    pub fn to_backoff(&self) -> Backoff {
        match self {
            StrategyConfig::DecorrelatedJitter { base, max } => {
                decorrelated_jitter().base(*base).max(*max).into()
            }
            StrategyConfig::EqualJitter { base, max } => {
                equal_jitter().base(*base).max(*max).into()
            }
            StrategyConfig::FullJitter { base, max } => full_jitter().base(*base).max(*max).into(),
            StrategyConfig::TokenBackoff { base, max } => {
                token_backoff().base(*base).max(*max).into()
            }
            StrategyConfig::Exponential { base, max, factor } => {
                exponential().base(*base).max(*max).factor(*factor).into()
            }
            StrategyConfig::Constant { delay } => constant(*delay).into(),
            StrategyConfig::Schedule { delays } => {
                redress_core::backoff::schedule(delays.clone()).into()
            }
            StrategyConfig::RetryAfterOr { fallback, jitter } => {
                retry_after_or(fallback.to_backoff()).jitter(*jitter).into()
            }
            StrategyConfig::Adaptive {
                fallback,
                window,
                target_success,
                min_multiplier,
                max_multiplier,
            } => adaptive(fallback.to_backoff())
                .window(*window)
                .target_success(*target_success)
                .min_multiplier(*min_multiplier)
                .max_multiplier(*max_multiplier)
                .into(),
        }
    }

    /// The configuration of a built strategy; `None` for a custom strategy
    /// (code cannot be written out as data).
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::backoff::{equal_jitter, Backoff};
    /// use redress_config::StrategyConfig;
    ///
    /// let b: Backoff = equal_jitter().max(Duration::from_secs(5)).into();
    /// assert_eq!(
    ///     StrategyConfig::from_backoff(&b),
    ///     Some(StrategyConfig::EqualJitter { base: Duration::from_millis(250), max: Duration::from_secs(5) })
    /// );
    /// assert_eq!(StrategyConfig::from_backoff(&Backoff::custom(|_: &redress_core::BackoffContext<'_>| Duration::ZERO)), None);
    /// ```
    pub fn from_backoff(backoff: &Backoff) -> Option<StrategyConfig> {
        let curve = match backoff.curve() {
            CurveSpec::DecorrelatedJitter { base, max } => {
                StrategyConfig::DecorrelatedJitter { base, max }
            }
            CurveSpec::EqualJitter { base, max } => StrategyConfig::EqualJitter { base, max },
            CurveSpec::FullJitter { base, max } => StrategyConfig::FullJitter { base, max },
            CurveSpec::TokenBackoff { base, max } => StrategyConfig::TokenBackoff { base, max },
            CurveSpec::Exponential { base, max, factor } => {
                StrategyConfig::Exponential { base, max, factor }
            }
            CurveSpec::Constant { delay } => StrategyConfig::Constant { delay },
            CurveSpec::Schedule { delays } => StrategyConfig::Schedule {
                delays: delays.to_vec(),
            },
            _ => return None,
        };
        let scaled = match backoff.adaptive_state() {
            Some(state) => {
                let (min_multiplier, max_multiplier) = state.multipliers();
                StrategyConfig::Adaptive {
                    fallback: Box::new(curve),
                    window: state.window(),
                    target_success: state.target_success(),
                    min_multiplier,
                    max_multiplier,
                }
            }
            None => curve,
        };
        Some(match backoff.retry_after_jitter() {
            Some(jitter) => StrategyConfig::RetryAfterOr {
                fallback: Box::new(scaled),
                jitter,
            },
            None => scaled,
        })
    }
}

/// A parameter's value, as [`StrategyConfig::param_values`] lists it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ParamValue<'a> {
    Duration(Duration),
    Number(f64),
    Delays(&'a [Duration]),
    Fallback(&'a StrategyConfig),
}

impl StrategyConfig {
    /// Every parameter with its value, named and ordered as core's
    /// [`StrategyKind::params`] (a test holds the two together): what
    /// printing and writing out a strategy follow.
    pub(crate) fn param_values(&self) -> Vec<(&'static str, ParamValue<'_>)> {
        use ParamValue::{Delays, Duration as D, Fallback, Number};
        match self {
            StrategyConfig::DecorrelatedJitter { base, max }
            | StrategyConfig::EqualJitter { base, max }
            | StrategyConfig::FullJitter { base, max }
            | StrategyConfig::TokenBackoff { base, max } => {
                vec![("base", D(*base)), ("max", D(*max))]
            }
            StrategyConfig::Exponential { base, max, factor } => vec![
                ("base", D(*base)),
                ("max", D(*max)),
                ("factor", Number(*factor)),
            ],
            StrategyConfig::Constant { delay } => vec![("delay", D(*delay))],
            StrategyConfig::Schedule { delays } => vec![("delays", Delays(delays))],
            StrategyConfig::RetryAfterOr { fallback, jitter } => {
                vec![("fallback", Fallback(fallback)), ("jitter", D(*jitter))]
            }
            StrategyConfig::Adaptive {
                fallback,
                window,
                target_success,
                min_multiplier,
                max_multiplier,
            } => vec![
                ("fallback", Fallback(fallback)),
                ("window", D(*window)),
                ("target_success", Number(*target_success)),
                ("min_multiplier", Number(*min_multiplier)),
                ("max_multiplier", Number(*max_multiplier)),
            ],
        }
    }
}

/// One line, with every parameter:
/// `retry_after_or(fallback = constant(delay = 1s), jitter = 250ms)`.
impl fmt::Display for StrategyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.kind())?;
        for (i, (name, value)) in self.param_values().into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name} = ")?;
            match value {
                ParamValue::Duration(d) => f.write_str(&format_duration(d))?,
                ParamValue::Number(x) => write!(f, "{x:?}")?,
                ParamValue::Delays(delays) => {
                    let list: Vec<String> = delays.iter().map(|d| format_duration(*d)).collect();
                    write!(f, "[{}]", list.join(", "))?;
                }
                ParamValue::Fallback(s) => s.fmt(f)?,
            }
        }
        f.write_str(")")
    }
}

/// A retry budget shared by the calls of the built policy.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum BudgetConfig {
    /// `kind = "rolling"` (the default kind; the reference's budget): at
    /// most `max_retries` retries in any rolling `window`. Both required.
    Rolling {
        /// Retries allowed per window.
        max_retries: u32,
        /// The window.
        window: Duration,
    },
    /// `kind = "ratio"`: retries at most `ratio` × recent calls plus
    /// `min_per_second` × the window's seconds (defaults 0.2, 10, 10 s).
    Ratio {
        /// Retries allowed per call.
        ratio: f64,
        /// Retries always allowed per second.
        min_per_second: u32,
        /// The window.
        window: Duration,
    },
}

impl BudgetConfig {
    /// The kinds, as files name them.
    pub const KINDS: [&'static str; 2] = ["rolling", "ratio"];

    /// A ratio budget with the defaults (0.2, 10 per second, 10 s).
    pub fn ratio() -> Self {
        BudgetConfig::Ratio {
            ratio: RatioBudget::DEFAULT_RATIO,
            min_per_second: RatioBudget::DEFAULT_MIN_PER_SECOND,
            window: RatioBudget::DEFAULT_WINDOW,
        }
    }

    /// The kind, as files name it.
    pub fn kind(&self) -> &'static str {
        match self {
            BudgetConfig::Rolling { .. } => "rolling",
            BudgetConfig::Ratio { .. } => "ratio",
        }
    }

    /// The window.
    pub fn window(&self) -> Duration {
        match self {
            BudgetConfig::Rolling { window, .. } | BudgetConfig::Ratio { window, .. } => *window,
        }
    }
}

impl fmt::Display for BudgetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetConfig::Rolling {
                max_retries,
                window,
            } => write!(
                f,
                "rolling(max_retries = {max_retries}, window = {})",
                format_duration(*window)
            ),
            BudgetConfig::Ratio {
                ratio,
                min_per_second,
                window,
            } => write!(
                f,
                "ratio(ratio = {ratio:?}, min_per_second = {min_per_second}, window = {})",
                format_duration(*window)
            ),
        }
    }
}

/// A circuit breaker guarding the built policy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerConfig {
    /// Failures within the window that open it (default 5).
    pub failure_threshold: u32,
    /// The rolling window failures are counted over (default 60 s).
    pub window: Duration,
    /// How long it stays open before a probe (default 30 s).
    pub recovery_timeout: Duration,
    /// The classes whose failures count (default `TRANSIENT`,
    /// `SERVER_ERROR`; classes with their own threshold always count).
    pub trip_on: BTreeSet<ErrorClass>,
    /// Thresholds of a class's own.
    pub class_thresholds: BTreeMap<ErrorClass, u32>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: CircuitBreaker::DEFAULT_FAILURE_THRESHOLD,
            window: CircuitBreaker::DEFAULT_WINDOW,
            recovery_timeout: CircuitBreaker::DEFAULT_RECOVERY_TIMEOUT,
            trip_on: CircuitBreaker::DEFAULT_TRIP_ON.into_iter().collect(),
            class_thresholds: BTreeMap::new(),
        }
    }
}

/// The policies of one file: a single policy at the top level, or several
/// under `[policies.NAME]`.
///
/// ```
/// use redress_config::ConfigFile;
///
/// let file = ConfigFile::from_toml_str(r#"
///     [policies.payments]
///     strategy = { kind = "decorrelated_jitter", max = "5s" }
///
///     [policies.search]
///     max_attempts = 3
///     strategy = "full_jitter"
/// "#)?;
/// assert_eq!(file.names(), ["payments", "search"]);
/// assert_eq!(file.policy("search")?.max_attempts, 3);
/// assert!(file.policy("serch").unwrap_err().to_string().contains("did you mean `search`?"));
/// # Ok::<(), redress_config::LoadError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigFile {
    /// The file is one policy.
    Single(Box<PolicyConfig>),
    /// The file holds named policies.
    Named(BTreeMap<String, PolicyConfig>),
}

impl ConfigFile {
    /// The policy names (empty for a single policy).
    pub fn names(&self) -> Vec<&str> {
        match self {
            ConfigFile::Single(_) => Vec::new(),
            ConfigFile::Named(map) => map.keys().map(String::as_str).collect(),
        }
    }

    /// Every policy, with its name (`None` for a single policy).
    pub fn policies(&self) -> Vec<(Option<&str>, &PolicyConfig)> {
        match self {
            ConfigFile::Single(p) => vec![(None, p)],
            ConfigFile::Named(map) => map.iter().map(|(n, p)| (Some(n.as_str()), p)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, clippy::unwrap_used)]

    use super::*;

    /// A strategy of every kind core declares; a kind this crate does not
    /// know fails here.
    fn example(kind: StrategyKind) -> StrategyConfig {
        let one = Duration::from_secs(1);
        match kind {
            StrategyKind::Constant => StrategyConfig::constant(one),
            StrategyKind::Schedule => StrategyConfig::schedule(vec![one, one]),
            StrategyKind::RetryAfterOr => {
                StrategyConfig::retry_after_or(StrategyConfig::constant(one))
            }
            StrategyKind::Adaptive => StrategyConfig::adaptive(StrategyConfig::constant(one)),
            other => StrategyConfig::with_defaults(other)
                .unwrap_or_else(|| panic!("redress-config does not know the kind {other}")),
        }
    }

    #[test]
    fn every_kind_follows_cores_table() {
        for kind in StrategyKind::ALL {
            let s = example(kind);
            assert_eq!(s.kind(), kind);
            let names: Vec<&str> = s.param_values().into_iter().map(|(n, _)| n).collect();
            let declared: Vec<&str> = kind.params().iter().map(|p| p.name).collect();
            assert_eq!(names, declared, "{kind}");
            let backoff = s.to_backoff();
            assert_eq!(backoff.strategy_kind(), Some(kind));
            assert_eq!(StrategyConfig::from_backoff(&backoff), Some(s.clone()));
            assert!(s.to_string().starts_with(&format!("{kind}(")), "{s}");
            // Loading it back from its own TOML gives it back.
            let config = PolicyConfig {
                strategy: Some(s.clone()),
                ..PolicyConfig::default()
            };
            let loaded = PolicyConfig::from_toml_str(&config.to_toml_string()).unwrap();
            assert_eq!(loaded.strategy, Some(s));
        }
    }

    #[test]
    fn defaults_are_cores() {
        for kind in StrategyKind::ALL {
            let Some(s) = StrategyConfig::with_defaults(kind) else {
                continue;
            };
            // A kind with only defaults loads from its bare name.
            let text = format!("strategy = \"{}\"", kind.name());
            let loaded = PolicyConfig::from_toml_str(&text).unwrap();
            assert_eq!(loaded.strategy, Some(s.clone()), "{kind}");
            assert_eq!(
                StrategyConfig::from_backoff(&s.to_backoff()),
                Some(s),
                "{kind}"
            );
        }
        assert_eq!(
            StrategyConfig::with_defaults(StrategyKind::DecorrelatedJitter),
            Some(StrategyConfig::decorrelated_jitter())
        );
        assert_eq!(
            StrategyConfig::with_defaults(StrategyKind::Exponential),
            Some(StrategyConfig::exponential())
        );
    }
}
