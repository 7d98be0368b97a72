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
    Backoff, CurveSpec, adaptive, constant, decorrelated_jitter, equal_jitter, exponential,
    full_jitter, retry_after_or, token_backoff,
};
use redress_core::{CircuitBreaker, ErrorClass, Policy, RatioBudget};

use crate::duration::format_duration;

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
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            deadline: Policy::DEFAULT_DEADLINE,
            max_attempts: Policy::DEFAULT_MAX_ATTEMPTS,
            max_unknown_attempts: Some(Policy::DEFAULT_MAX_UNKNOWN_ATTEMPTS),
            attempt_timeout: None,
            per_class_max_attempts: BTreeMap::new(),
            strategy: None,
            strategies: BTreeMap::new(),
            budget: None,
            circuit_breaker: None,
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
/// all its parameters (`kind = "..."` in a file).
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

/// The parameters core's constructors start from, read back from core so
/// the two never disagree.
pub(crate) struct Defaults;

impl Defaults {
    pub(crate) fn base_max(kind: &str) -> (Duration, Duration) {
        let backoff: Backoff = match kind {
            "equal_jitter" => equal_jitter().into(),
            "full_jitter" => full_jitter().into(),
            "token_backoff" => token_backoff().into(),
            "exponential" => exponential().into(),
            _ => decorrelated_jitter().into(),
        };
        match backoff.curve() {
            CurveSpec::EqualJitter { base, max }
            | CurveSpec::FullJitter { base, max }
            | CurveSpec::TokenBackoff { base, max }
            | CurveSpec::DecorrelatedJitter { base, max }
            | CurveSpec::Exponential { base, max, .. } => (base, max),
            _ => (Duration::ZERO, Duration::ZERO),
        }
    }

    pub(crate) fn factor() -> f64 {
        match Backoff::from(exponential()).curve() {
            CurveSpec::Exponential { factor, .. } => factor,
            _ => 2.0,
        }
    }

    pub(crate) fn retry_after_jitter() -> Duration {
        Backoff::from(retry_after_or(constant(Duration::ZERO)))
            .retry_after_jitter()
            .unwrap_or(Duration::ZERO)
    }

    /// (window, target_success, min_multiplier, max_multiplier)
    pub(crate) fn adaptive() -> (Duration, f64, f64, f64) {
        let backoff: Backoff = adaptive(constant(Duration::ZERO)).into();
        match backoff.adaptive_state() {
            Some(state) => {
                let (min, max) = state.multipliers();
                (state.window(), state.target_success(), min, max)
            }
            None => (Duration::from_secs(60), 0.9, 1.0, 5.0),
        }
    }
}

impl StrategyConfig {
    /// Every kind, as files name them.
    pub const KINDS: [&'static str; 9] = [
        "decorrelated_jitter",
        "equal_jitter",
        "full_jitter",
        "token_backoff",
        "exponential",
        "constant",
        "schedule",
        "retry_after_or",
        "adaptive",
    ];

    /// Decorrelated jitter with the reference defaults (250 ms, 30 s).
    pub fn decorrelated_jitter() -> Self {
        let (base, max) = Defaults::base_max("decorrelated_jitter");
        StrategyConfig::DecorrelatedJitter { base, max }
    }

    /// Equal jitter with the reference defaults (250 ms, 30 s).
    pub fn equal_jitter() -> Self {
        let (base, max) = Defaults::base_max("equal_jitter");
        StrategyConfig::EqualJitter { base, max }
    }

    /// Full jitter with the defaults (250 ms, 30 s).
    pub fn full_jitter() -> Self {
        let (base, max) = Defaults::base_max("full_jitter");
        StrategyConfig::FullJitter { base, max }
    }

    /// Token backoff with the reference defaults (250 ms, 20 s).
    pub fn token_backoff() -> Self {
        let (base, max) = Defaults::base_max("token_backoff");
        StrategyConfig::TokenBackoff { base, max }
    }

    /// Exponential backoff with the defaults (250 ms, 30 s, factor 2).
    pub fn exponential() -> Self {
        let (base, max) = Defaults::base_max("exponential");
        StrategyConfig::Exponential {
            base,
            max,
            factor: Defaults::factor(),
        }
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
            jitter: Defaults::retry_after_jitter(),
        }
    }

    /// Adaptive scaling of `fallback` with the reference defaults.
    pub fn adaptive(fallback: StrategyConfig) -> Self {
        let (window, target_success, min_multiplier, max_multiplier) = Defaults::adaptive();
        StrategyConfig::Adaptive {
            fallback: Box::new(fallback),
            window,
            target_success,
            min_multiplier,
            max_multiplier,
        }
    }

    /// The kind, as files name it.
    pub fn kind(&self) -> &'static str {
        match self {
            StrategyConfig::DecorrelatedJitter { .. } => "decorrelated_jitter",
            StrategyConfig::EqualJitter { .. } => "equal_jitter",
            StrategyConfig::FullJitter { .. } => "full_jitter",
            StrategyConfig::TokenBackoff { .. } => "token_backoff",
            StrategyConfig::Exponential { .. } => "exponential",
            StrategyConfig::Constant { .. } => "constant",
            StrategyConfig::Schedule { .. } => "schedule",
            StrategyConfig::RetryAfterOr { .. } => "retry_after_or",
            StrategyConfig::Adaptive { .. } => "adaptive",
        }
    }

    /// The strategy as the engine runs it. Parameters are not checked here:
    /// [`PolicyConfig::build`] checks them.
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

/// One line, with every parameter:
/// `retry_after_or(fallback = constant(delay = 1s), jitter = 250ms)`.
impl fmt::Display for StrategyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: &Duration| format_duration(*d);
        match self {
            StrategyConfig::DecorrelatedJitter { base, max }
            | StrategyConfig::EqualJitter { base, max }
            | StrategyConfig::FullJitter { base, max }
            | StrategyConfig::TokenBackoff { base, max } => {
                write!(f, "{}(base = {}, max = {})", self.kind(), d(base), d(max))
            }
            StrategyConfig::Exponential { base, max, factor } => write!(
                f,
                "exponential(base = {}, max = {}, factor = {factor:?})",
                d(base),
                d(max)
            ),
            StrategyConfig::Constant { delay } => write!(f, "constant(delay = {})", d(delay)),
            StrategyConfig::Schedule { delays } => {
                let list: Vec<String> = delays.iter().map(d).collect();
                write!(f, "schedule(delays = [{}])", list.join(", "))
            }
            StrategyConfig::RetryAfterOr { fallback, jitter } => write!(
                f,
                "retry_after_or(fallback = {fallback}, jitter = {})",
                d(jitter)
            ),
            StrategyConfig::Adaptive {
                fallback,
                window,
                target_success,
                min_multiplier,
                max_multiplier,
            } => write!(
                f,
                "adaptive(fallback = {fallback}, window = {}, target_success = {target_success:?}, \
                 min_multiplier = {min_multiplier:?}, max_multiplier = {max_multiplier:?})",
                d(window)
            ),
        }
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
