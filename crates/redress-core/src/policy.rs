//! Policies: the retry envelope, its strategies, and how failures are
//! classified.
//!
//! A [`Policy`] is built once (it validates its configuration then) and
//! shared by every call. Each call runs inside the policy's *envelope*:
//!
//! - `deadline` (default 60 s): total time for the call, attempts and sleeps
//!   included. No sleep ever extends past it.
//! - `max_attempts` (default 6): attempts in all, the first included.
//! - `max_unknown_attempts` (default 2): how many `UNKNOWN` failures are
//!   tolerated before giving up; unknown failures are the ones most likely to
//!   be bugs rather than weather.
//! - per-class caps (none by default): e.g. at most 3 `RATE_LIMIT` failures.
//!
//! Per-class strategies win over the default strategy; a class with neither
//! stops the call with `NO_STRATEGY`.
//!
//! # Validation
//!
//! Building checks the configuration once, with the one set of rules
//! `redress doctor` and `redress-config` apply too: every [`ConfigError`]
//! has the stable code the doctor reports ([`ConfigError::code`]) and names
//! the [`Setting`] to change. [`PolicyBuilder::problems`] lists them all;
//! [`build`](PolicyBuilder::build) refuses the first.

use core::fmt;
use core::time::Duration;

use crate::backoff::{Backoff, StrategyKind, StrategyProblem, constant, decorrelated_jitter};
#[cfg(target_has_atomic = "64")]
use crate::breaker::Breaker;
#[cfg(target_has_atomic = "64")]
use crate::budget::Budget;
use crate::class::{ErrorClass, PerClass};
use crate::classify::{ErrorClassifier, NoResultClassifier, default_classifier};
#[cfg(target_has_atomic = "64")]
use crate::shared::Shared;

/// A validation failure when building a [`Policy`], a
/// [`CircuitBreaker`](crate::CircuitBreaker) or a budget.
///
/// Each has the stable code `redress doctor` reports for it
/// ([`code`](Self::code), `E001` to `E015` and `E108`) and says which
/// [`Setting`] to change.
///
/// ```
/// use core::time::Duration;
/// use redress_core::backoff::{equal_jitter, retry_after_or};
/// use redress_core::{ConfigError, ErrorClass, Policy, Setting};
///
/// let err = Policy::builder()
///     .class_strategy(ErrorClass::RateLimit, retry_after_or(equal_jitter().base(Duration::ZERO)))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.code(), "E006");
/// assert_eq!(
///     err.setting(),
///     Setting::Strategy { class: Some(ErrorClass::RateLimit), depth: 1, param: "base" }
/// );
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_attempts` was zero.
    #[error("max_attempts must be at least 1 (got 0); use 1 for a single attempt with no retries")]
    ZeroMaxAttempts,
    /// The deadline was zero.
    #[error("deadline must be greater than zero")]
    ZeroDeadline,
    /// Neither a default nor any per-class strategy was given.
    #[error(
        "no backoff strategy configured: set a default with `.strategy(..)` \
         or per-class strategies with `.class_strategy(..)`"
    )]
    NoStrategy,
    /// A strategy's parameters are invalid, or it is nested where the
    /// engine cannot run it.
    #[error("invalid {kind} strategy{}{}: {problem}", ForClass(*.class), InFallback(*.depth))]
    InvalidStrategy {
        /// The class the strategy was configured for (`None`: the default).
        class: Option<ErrorClass>,
        /// The kind of the strategy at fault (the fallback's, when it is
        /// one).
        kind: StrategyKind,
        /// How many `fallback`s deep the strategy at fault is (0: the
        /// configured strategy itself).
        depth: u8,
        /// What is wrong.
        problem: StrategyProblem,
    },
    /// A rolling window (of a budget or a breaker) was zero.
    #[error("the {component} window must be greater than zero")]
    ZeroWindow {
        /// The budget or the circuit breaker.
        component: Component,
    },
    /// A breaker threshold was zero.
    #[error("circuit breaker threshold{} must be at least 1", ForClass(*.class))]
    ZeroFailureThreshold {
        /// The class of a per-class threshold (`None`: the overall one).
        class: Option<ErrorClass>,
    },
    /// The attempt timeout was zero.
    #[error("attempt_timeout must be greater than zero (leave it unset for no timeout)")]
    ZeroAttemptTimeout,
    /// The breaker's recovery timeout was zero.
    #[error("circuit breaker recovery_timeout must be greater than zero")]
    ZeroRecoveryTimeout,
    /// A ratio budget's ratio is not a finite number in `[0, 1000]`.
    #[error("budget ratio must be a finite number between 0 and 1000 (got {0})")]
    InvalidRatio(f64),
}

/// What a [`ConfigError::ZeroWindow`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Component {
    /// A retry budget.
    Budget,
    /// A circuit breaker.
    CircuitBreaker,
}

/// `budget` or `circuit breaker`.
impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Component::Budget => "budget",
            Component::CircuitBreaker => "circuit breaker",
        })
    }
}

/// Where a [`ConfigError`] is: the setting to change, named like the
/// builder method that sets it (config files use the same names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// A setting of the policy: `max_attempts`, `deadline`,
    /// `attempt_timeout`, or `strategy` when no strategy is set at all.
    Policy(&'static str),
    /// A parameter of a strategy.
    Strategy {
        /// The class the strategy is for (`None`: the default strategy).
        class: Option<ErrorClass>,
        /// How many `fallback`s deep the parameter's strategy is (0: the
        /// configured strategy itself).
        depth: u8,
        /// The parameter: `base`, `factor`, `delays`, `window`,
        /// `target_success`, `min_multiplier`, `max_multiplier`, or `kind`
        /// for a strategy nested where it cannot be.
        param: &'static str,
    },
    /// A setting of a budget: `window` or `ratio`.
    Budget(&'static str),
    /// A setting of a circuit breaker: `failure_threshold`, `window`,
    /// `recovery_timeout`, or `class_threshold` (of `class`).
    CircuitBreaker {
        /// The setting.
        setting: &'static str,
        /// The class of a per-class threshold.
        class: Option<ErrorClass>,
    },
}

impl ConfigError {
    /// Every code [`code`](Self::code) can return, in rule order. (`E012`,
    /// a budget that refuses every retry, is legal: the reference allows
    /// it, and `redress doctor` warns about it instead.)
    pub const CODES: [&'static str; 15] = [
        "E001", "E002", "E003", "E004", "E005", "E006", "E007", "E008", "E009", "E010", "E011",
        "E013", "E014", "E015", "E108",
    ];

    /// The stable code `redress doctor` and `redress-config`'s lint report
    /// this problem under.
    pub const fn code(&self) -> &'static str {
        match self {
            ConfigError::ZeroMaxAttempts => "E001",
            ConfigError::ZeroDeadline => "E002",
            ConfigError::ZeroAttemptTimeout => "E003",
            ConfigError::NoStrategy => "E004",
            ConfigError::InvalidStrategy { problem, .. } => problem.code(),
            ConfigError::ZeroWindow {
                component: Component::Budget,
            } => "E010",
            ConfigError::InvalidRatio(_) => "E011",
            ConfigError::ZeroFailureThreshold { .. } => "E013",
            ConfigError::ZeroWindow {
                component: Component::CircuitBreaker,
            } => "E014",
            ConfigError::ZeroRecoveryTimeout => "E015",
        }
    }

    /// The setting to change.
    pub fn setting(&self) -> Setting {
        match self {
            ConfigError::ZeroMaxAttempts => Setting::Policy("max_attempts"),
            ConfigError::ZeroDeadline => Setting::Policy("deadline"),
            ConfigError::ZeroAttemptTimeout => Setting::Policy("attempt_timeout"),
            ConfigError::NoStrategy => Setting::Policy("strategy"),
            ConfigError::InvalidStrategy {
                class,
                depth,
                problem,
                ..
            } => Setting::Strategy {
                class: *class,
                depth: *depth,
                param: problem.param(),
            },
            ConfigError::ZeroWindow {
                component: Component::Budget,
            } => Setting::Budget("window"),
            ConfigError::InvalidRatio(_) => Setting::Budget("ratio"),
            ConfigError::ZeroWindow {
                component: Component::CircuitBreaker,
            } => Setting::CircuitBreaker {
                setting: "window",
                class: None,
            },
            ConfigError::ZeroFailureThreshold { class: None } => Setting::CircuitBreaker {
                setting: "failure_threshold",
                class: None,
            },
            ConfigError::ZeroFailureThreshold { class } => Setting::CircuitBreaker {
                setting: "class_threshold",
                class: *class,
            },
            ConfigError::ZeroRecoveryTimeout => Setting::CircuitBreaker {
                setting: "recovery_timeout",
                class: None,
            },
        }
    }
}

/// The first problem `problems` reports, as an error.
pub(crate) fn first_problem(
    problems: impl FnOnce(&mut dyn FnMut(&ConfigError)),
) -> Result<(), ConfigError> {
    let mut first = None;
    problems(&mut |e| {
        if first.is_none() {
            first = Some(e.clone());
        }
    });
    first.map_or(Ok(()), Err)
}

struct ForClass(Option<ErrorClass>);

/// ` (as a fallback)` when the strategy at fault is one.
struct InFallback(u8);

impl fmt::Display for InFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            1 => f.write_str(" (as a fallback)"),
            n => write!(f, " (as a fallback, {n} deep)"),
        }
    }
}

impl fmt::Display for ForClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(class) => write!(f, " for {class}"),
            None => Ok(()),
        }
    }
}

/// The retry envelope and strategies of a policy (everything except how
/// failures are classified).
#[derive(Clone, Debug)]
pub struct RetryConfig {
    pub(crate) deadline: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) max_unknown_attempts: Option<u32>,
    pub(crate) class_max_attempts: PerClass<Option<u32>>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) stop_on_retry_after_beyond_deadline: bool,
    pub(crate) default_strategy: Option<Backoff>,
    pub(crate) class_strategies: PerClass<Option<Backoff>>,
    #[cfg(target_has_atomic = "64")]
    pub(crate) budget: Option<Shared<dyn Budget + Send + Sync>>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            deadline: Policy::DEFAULT_DEADLINE,
            max_attempts: Policy::DEFAULT_MAX_ATTEMPTS,
            max_unknown_attempts: Some(Policy::DEFAULT_MAX_UNKNOWN_ATTEMPTS),
            class_max_attempts: PerClass::default(),
            attempt_timeout: None,
            stop_on_retry_after_beyond_deadline: false,
            default_strategy: None,
            class_strategies: PerClass::default(),
            #[cfg(target_has_atomic = "64")]
            budget: None,
        }
    }
}

impl RetryConfig {
    /// Total time allowed for a call.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Attempts allowed in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// `UNKNOWN` failures tolerated (`None`: no cap).
    pub fn max_unknown_attempts(&self) -> Option<u32> {
        self.max_unknown_attempts
    }

    /// The failures of `class` tolerated (`None`: no cap of its own).
    pub fn class_max_attempts(&self, class: ErrorClass) -> Option<u32> {
        *self.class_max_attempts.get(class)
    }

    /// How long one attempt may run before async runners cancel it (`None`:
    /// no limit).
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }

    /// Whether a retry-after hint longer than the time left stops the call
    /// at once (`RETRY_AFTER_BEYOND_DEADLINE`) instead of sleeping to the
    /// deadline; see
    /// [`PolicyBuilder::stop_when_retry_after_exceeds_deadline`].
    pub fn stops_when_retry_after_exceeds_deadline(&self) -> bool {
        self.stop_on_retry_after_beyond_deadline
    }

    /// The default strategy.
    pub fn default_strategy(&self) -> Option<&Backoff> {
        self.default_strategy.as_ref()
    }

    /// The strategy configured for `class` itself (not the default).
    pub fn class_strategy(&self, class: ErrorClass) -> Option<&Backoff> {
        self.class_strategies.get(class).as_ref()
    }

    /// The shared retry budget, if any.
    #[cfg(target_has_atomic = "64")]
    pub fn budget(&self) -> Option<&(dyn Budget + Send + Sync)> {
        self.budget.as_deref()
    }

    /// The strategy that handles `class`: its own, else the default.
    #[inline]
    pub fn strategy_for(&self, class: ErrorClass) -> Option<&Backoff> {
        self.class_strategies
            .get(class)
            .as_ref()
            .or(self.default_strategy.as_ref())
    }

    /// Calls `f` with every problem of the configuration, in rule order
    /// (the envelope, then each strategy: the default, then the classes'),
    /// as [`PolicyBuilder::problems`] does. A built policy has none.
    pub fn problems(&self, mut f: impl FnMut(&ConfigError)) {
        if self.max_attempts == 0 {
            f(&ConfigError::ZeroMaxAttempts);
        }
        if self.deadline.is_zero() {
            f(&ConfigError::ZeroDeadline);
        }
        if self.attempt_timeout.is_some_and(|t| t.is_zero()) {
            f(&ConfigError::ZeroAttemptTimeout);
        }
        let per_class = self
            .class_strategies
            .iter()
            .filter_map(|(c, s)| Some((Some(c), s.as_ref()?)));
        let mut any = false;
        for (class, strategy) in self
            .default_strategy
            .iter()
            .map(|s| (None, s))
            .chain(per_class)
        {
            any = true;
            strategy.problems(|p| {
                f(&ConfigError::InvalidStrategy {
                    class,
                    kind: p.kind,
                    depth: p.depth,
                    problem: p.problem,
                });
            });
        }
        if !any {
            f(&ConfigError::NoStrategy);
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        first_problem(|f| self.problems(f))
    }
}

/// A validated retry policy: envelope, strategies, and classifiers.
///
/// `C` classifies errors ([`default_classifier`] unless set); `R` flags
/// successful values to retry ([`NoResultClassifier`] unless set). Runners
/// (`redress-sync` and the async ones) add `call` and `execute`.
///
/// ```
/// use core::time::Duration;
/// use redress_core::backoff::{decorrelated_jitter, retry_after_or};
/// use redress_core::{ErrorClass, Policy};
///
/// let policy = Policy::builder()
///     .strategy(decorrelated_jitter().max(Duration::from_secs(10)))
///     .class_strategy(ErrorClass::RateLimit, retry_after_or(decorrelated_jitter().max(Duration::from_secs(60))))
///     .class_max_attempts(ErrorClass::RateLimit, 3)
///     .deadline(Duration::from_secs(30))
///     .max_attempts(5)
///     .build()?;
/// assert_eq!(policy.retry().max_attempts(), 5);
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Policy<C = ErrorClassifier, R = NoResultClassifier> {
    pub(crate) retry: RetryConfig,
    #[cfg(target_has_atomic = "64")]
    pub(crate) breaker: Option<Shared<dyn Breaker + Send + Sync>>,
    pub(crate) classifier: C,
    pub(crate) result_classifier: R,
}

/// The name the reference uses for a retry-only policy; the same type.
pub type RetryPolicy<C = ErrorClassifier, R = NoResultClassifier> = Policy<C, R>;

impl Policy {
    /// The default deadline: 60 seconds.
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
    /// The default attempt limit: 6.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 6;
    /// The default cap on `UNKNOWN` failures: 2.
    pub const DEFAULT_MAX_UNKNOWN_ATTEMPTS: u32 = 2;
    /// The default strategy's cap in [`Policy::quick`]: 5 seconds.
    pub const QUICK_MAX_DELAY: Duration = Duration::from_secs(5);

    /// A builder with the default envelope and classifier and no strategy.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder {
            retry: RetryConfig::default(),
            #[cfg(target_has_atomic = "64")]
            breaker: None,
            classifier: default_classifier(),
            result_classifier: NoResultClassifier,
        }
    }

    /// A builder preset like the one-line `retry` helper: the default
    /// classifier and decorrelated jitter capped at 5 s.
    ///
    /// ```
    /// let policy = redress_core::Policy::quick().max_attempts(3).build()?;
    /// assert_eq!(policy.retry().default_strategy().map(|s| s.kind()), Some("decorrelated_jitter"));
    /// # Ok::<(), redress_core::ConfigError>(())
    /// ```
    pub fn quick() -> PolicyBuilder {
        Policy::builder().strategy(decorrelated_jitter().max(Policy::QUICK_MAX_DELAY))
    }
}

/// The one-line helper's policy: [`Policy::quick`] with nothing changed.
///
/// ```
/// let policy = redress_core::Policy::default();
/// assert_eq!(policy.retry().max_attempts(), 6);
/// ```
impl Default for Policy {
    fn default() -> Self {
        Policy {
            retry: RetryConfig {
                default_strategy: Some(decorrelated_jitter().max(Policy::QUICK_MAX_DELAY).into()),
                ..RetryConfig::default()
            },
            #[cfg(target_has_atomic = "64")]
            breaker: None,
            classifier: default_classifier(),
            result_classifier: NoResultClassifier,
        }
    }
}

#[cfg(feature = "std")]
impl Policy {
    /// The one-line helpers' policy ([`Policy::default`]), built once per
    /// process and shared.
    pub fn shared_default() -> &'static Policy {
        static SHARED: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        SHARED.get_or_init(Policy::default)
    }
}

impl<C, R> Policy<C, R> {
    /// The envelope and strategies.
    pub fn retry(&self) -> &RetryConfig {
        &self.retry
    }

    /// The circuit breaker, if any.
    #[cfg(target_has_atomic = "64")]
    pub fn circuit_breaker(&self) -> Option<&(dyn Breaker + Send + Sync)> {
        self.breaker.as_deref()
    }

    /// The error classifier.
    pub fn classifier(&self) -> &C {
        &self.classifier
    }

    /// The result classifier.
    pub fn result_classifier(&self) -> &R {
        &self.result_classifier
    }

    /// A builder holding this policy's configuration, to derive a variant.
    pub fn to_builder(&self) -> PolicyBuilder<C, R>
    where
        C: Clone,
        R: Clone,
    {
        PolicyBuilder {
            retry: self.retry.clone(),
            #[cfg(target_has_atomic = "64")]
            breaker: self.breaker.clone(),
            classifier: self.classifier.clone(),
            result_classifier: self.result_classifier.clone(),
        }
    }
}

/// Builds a [`Policy`]; invalid values are reported by [`build`](Self::build),
/// never by a panic.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct PolicyBuilder<C = ErrorClassifier, R = NoResultClassifier> {
    retry: RetryConfig,
    #[cfg(target_has_atomic = "64")]
    breaker: Option<Shared<dyn Breaker + Send + Sync>>,
    classifier: C,
    result_classifier: R,
}

impl<C, R> PolicyBuilder<C, R> {
    /// Sets the error classifier (a closure `Fn(&E) -> impl Into<Classification>`
    /// or any [`Classifier`](crate::Classifier)).
    pub fn classifier<C2>(self, classifier: C2) -> PolicyBuilder<C2, R> {
        PolicyBuilder {
            retry: self.retry,
            #[cfg(target_has_atomic = "64")]
            breaker: self.breaker,
            classifier,
            result_classifier: self.result_classifier,
        }
    }

    /// Sets the result classifier: successful values it flags are retried
    /// like failures of the class it returns.
    pub fn result_classifier<R2>(self, result_classifier: R2) -> PolicyBuilder<C, R2> {
        PolicyBuilder {
            retry: self.retry,
            #[cfg(target_has_atomic = "64")]
            breaker: self.breaker,
            classifier: self.classifier,
            result_classifier,
        }
    }

    /// Sets the default strategy (used by classes without their own).
    pub fn strategy(mut self, strategy: impl Into<Backoff>) -> Self {
        self.retry.default_strategy = Some(strategy.into());
        self
    }

    /// Sets the strategy for one class.
    pub fn class_strategy(mut self, class: ErrorClass, strategy: impl Into<Backoff>) -> Self {
        self.retry
            .class_strategies
            .set(class, Some(strategy.into()));
        self
    }

    /// Sets the total time allowed for a call (default 60 s).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.retry.deadline = deadline;
        self
    }

    /// Cancels an attempt that runs longer than `timeout`; it counts as a
    /// `TRANSIENT` failure ([`Failure::TimedOut`](crate::Failure::TimedOut)),
    /// and the deadline still bounds the whole call. Async runners enforce
    /// it by dropping the attempt's future. A blocking runner cannot
    /// interrupt a thread: it hands the limit to the operation instead (see
    /// `redress-sync`).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.retry.attempt_timeout = Some(timeout);
        self
    }

    /// Stops a call at once, with `RETRY_AFTER_BEYOND_DEADLINE`, when the
    /// server's retry-after hint is longer than the time left and the
    /// failure's strategy honours hints (`retry_after_or`).
    ///
    /// By default (as in the reference) such a delay is clamped to the time
    /// left: the call sleeps to its deadline and sends one last request the
    /// server has already said it will refuse. With this setting the caller
    /// learns at once, and the outcome's `next_delay` is the server's hint,
    /// to pass on or to reschedule with.
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::backoff::{constant, retry_after_or};
    /// use redress_core::{Classification, ErrorClass, Policy};
    ///
    /// let policy = Policy::builder()
    ///     .classifier(|_: &&str| Classification::new(ErrorClass::RateLimit).with_retry_after(Duration::from_secs(120)))
    ///     .strategy(retry_after_or(constant(Duration::from_secs(1))))
    ///     .deadline(Duration::from_secs(10))
    ///     .stop_when_retry_after_exceeds_deadline()
    ///     .build()?;
    /// assert!(policy.retry().stops_when_retry_after_exceeds_deadline());
    /// # Ok::<(), redress_core::ConfigError>(())
    /// ```
    pub fn stop_when_retry_after_exceeds_deadline(mut self) -> Self {
        self.retry.stop_on_retry_after_beyond_deadline = true;
        self
    }

    /// Sets the number of attempts allowed, the first included (default 6).
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.retry.max_attempts = max_attempts;
        self
    }

    /// Sets how many `UNKNOWN` failures are tolerated (default 2); the next
    /// one stops the call.
    pub fn max_unknown_attempts(mut self, max: u32) -> Self {
        self.retry.max_unknown_attempts = Some(max);
        self
    }

    /// Removes the cap on `UNKNOWN` failures.
    pub fn unlimited_unknown_attempts(mut self) -> Self {
        self.retry.max_unknown_attempts = None;
        self
    }

    /// Caps the failures of one class; the next one stops the call with
    /// `MAX_ATTEMPTS_PER_CLASS`. A cap of 0 stops at the first failure.
    pub fn class_max_attempts(mut self, class: ErrorClass, max: u32) -> Self {
        self.retry.class_max_attempts.set(class, Some(max));
        self
    }

    /// A single attempt and no retries: for a policy that only wants a
    /// [circuit breaker](Self::circuit_breaker) and the events and outcome.
    /// Sets `max_attempts` to 1 and, when no strategy is set, a zero
    /// constant one (never consulted: rule 8 stops first).
    pub fn no_retries(mut self) -> Self {
        self.retry.max_attempts = 1;
        if self.retry.default_strategy.is_none() {
            self.retry.default_strategy = Some(constant(Duration::ZERO).into());
        }
        self
    }

    /// Shares a retry budget with this policy: each retry must be granted by
    /// it, or the call stops with `BUDGET_EXHAUSTED`. Pass an `Arc` of any
    /// [`Budget`] (or a `&'static` one).
    ///
    #[cfg_attr(feature = "alloc", doc = "```")]
    #[cfg_attr(not(feature = "alloc"), doc = "```ignore")]
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use redress_core::budget::RollingBudget;
    /// use redress_core::Policy;
    ///
    /// let budget = Arc::new(RollingBudget::new(100, Duration::from_secs(60))?);
    /// let policy = Policy::quick().budget(budget.clone()).build()?;
    /// let other = Policy::quick().max_attempts(3).budget(budget).build()?;
    /// # Ok::<(), redress_core::ConfigError>(())
    /// ```
    #[cfg(target_has_atomic = "64")]
    pub fn budget(mut self, budget: impl IntoSharedBudget) -> Self {
        self.retry.budget = Some(budget.into_shared());
        self
    }

    /// Guards the policy with a circuit breaker: calls are rejected with
    /// `CIRCUIT_OPEN` while it is open, and each call's final outcome is
    /// recorded in it. Share one breaker (an `Arc` or a `&'static` of a
    /// [`CircuitBreaker`](crate::CircuitBreaker), or of any [`Breaker`])
    /// between the policies that call one dependency.
    #[cfg(target_has_atomic = "64")]
    pub fn circuit_breaker(mut self, breaker: impl IntoSharedBreaker) -> Self {
        self.breaker = Some(breaker.into_shared());
        self
    }

    /// Calls `f` with every problem of the configuration, in rule order;
    /// [`build`](Self::build) refuses the first. (A budget or breaker
    /// handed to the builder was validated when it was built.)
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::backoff::exponential;
    /// use redress_core::Policy;
    ///
    /// let builder = Policy::builder()
    ///     .max_attempts(0)
    ///     .strategy(exponential().base(Duration::ZERO).factor(0.5));
    /// let mut codes = Vec::new();
    /// builder.problems(|e| codes.push(e.code()));
    /// assert_eq!(codes, ["E001", "E007", "E006"]);
    /// assert_eq!(builder.build().unwrap_err().code(), "E001");
    /// ```
    pub fn problems(&self, f: impl FnMut(&ConfigError)) {
        self.retry.problems(f);
    }

    /// Validates the configuration and builds the policy: every problem
    /// [`problems`](Self::problems) reports is refused, the first returned.
    pub fn build(self) -> Result<Policy<C, R>, ConfigError> {
        self.retry.validate()?;
        Ok(Policy {
            retry: self.retry,
            #[cfg(target_has_atomic = "64")]
            breaker: self.breaker,
            classifier: self.classifier,
            result_classifier: self.result_classifier,
        })
    }
}

/// A budget that can be shared by policies: an `Arc` of any [`Budget`]
/// (with `alloc`), or a `&'static` one, of a concrete type or a
/// `dyn Budget + Send + Sync`.
#[cfg(target_has_atomic = "64")]
pub trait IntoSharedBudget {
    /// The shared handle.
    fn into_shared(self) -> Shared<dyn Budget + Send + Sync>;
}

/// A breaker that can be shared by policies: an `Arc` of any [`Breaker`]
/// (with `alloc`), or a `&'static` one, of a concrete type or a
/// `dyn Breaker + Send + Sync`.
#[cfg(target_has_atomic = "64")]
pub trait IntoSharedBreaker {
    /// The shared handle.
    fn into_shared(self) -> Shared<dyn Breaker + Send + Sync>;
}

/// The four ways to share a `$capability`: a `&'static` or an `Arc` of a
/// concrete one, or of a trait object.
macro_rules! into_shared {
    ($into:ident, $capability:ident) => {
        #[cfg(target_has_atomic = "64")]
        impl<B: $capability + Send + Sync + 'static> $into for &'static B {
            fn into_shared(self) -> Shared<dyn $capability + Send + Sync> {
                Shared::Static(self)
            }
        }

        #[cfg(target_has_atomic = "64")]
        impl $into for &'static (dyn $capability + Send + Sync) {
            fn into_shared(self) -> Shared<dyn $capability + Send + Sync> {
                Shared::Static(self)
            }
        }

        #[cfg(all(target_has_atomic = "64", feature = "alloc"))]
        impl<B: $capability + Send + Sync + 'static> $into for alloc::sync::Arc<B> {
            fn into_shared(self) -> Shared<dyn $capability + Send + Sync> {
                Shared::Arc(self)
            }
        }

        #[cfg(all(target_has_atomic = "64", feature = "alloc"))]
        impl $into for alloc::sync::Arc<dyn $capability + Send + Sync> {
            fn into_shared(self) -> Shared<dyn $capability + Send + Sync> {
                Shared::Arc(self)
            }
        }
    };
}

into_shared!(IntoSharedBudget, Budget);
into_shared!(IntoSharedBreaker, Breaker);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::{
        constant, equal_jitter, exponential, full_jitter, retry_after_or, schedule,
    };
    use std::prelude::rust_2024::*;

    #[test]
    fn defaults_match_the_reference() {
        let p = Policy::builder()
            .strategy(constant(Duration::ZERO))
            .build()
            .unwrap();
        assert_eq!(p.retry().deadline(), Duration::from_secs(60));
        assert_eq!(p.retry().max_attempts(), 6);
        assert_eq!(p.retry().max_unknown_attempts(), Some(2));
        for class in ErrorClass::ALL {
            assert_eq!(p.retry().class_max_attempts(class), None);
        }
    }

    #[test]
    fn invalid_values_are_typed_errors() {
        let s = || constant(Duration::from_millis(1));
        assert_eq!(
            Policy::builder()
                .strategy(s())
                .max_attempts(0)
                .build()
                .unwrap_err(),
            ConfigError::ZeroMaxAttempts
        );
        assert_eq!(
            Policy::builder()
                .strategy(s())
                .deadline(Duration::ZERO)
                .build()
                .unwrap_err(),
            ConfigError::ZeroDeadline
        );
        assert_eq!(
            Policy::builder().build().unwrap_err(),
            ConfigError::NoStrategy
        );
        let err = Policy::builder()
            .class_strategy(ErrorClass::RateLimit, exponential().factor(0.0))
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid exponential strategy for RATE_LIMIT: factor must be a finite number >= 1.0 (got 0)"
        );
    }

    #[test]
    fn a_zero_base_and_a_bad_nesting_are_refused_by_build() {
        let zero = Policy::builder()
            .strategy(constant(Duration::from_millis(1)))
            .class_strategy(ErrorClass::Transient, full_jitter().base(Duration::ZERO))
            .build()
            .unwrap_err();
        assert_eq!(
            zero,
            ConfigError::InvalidStrategy {
                class: Some(ErrorClass::Transient),
                kind: StrategyKind::FullJitter,
                depth: 0,
                problem: StrategyProblem::ZeroBase,
            }
        );
        assert_eq!(zero.code(), "E006");
        assert_eq!(
            zero.to_string(),
            "invalid full_jitter strategy for TRANSIENT: base is 0, so every delay would be 0 \
             (250ms is the default)"
        );

        let nested = Policy::builder()
            .strategy(retry_after_or(retry_after_or(constant(
                Duration::from_secs(1),
            ))))
            .build()
            .unwrap_err();
        assert_eq!(nested.code(), "E108");
        assert_eq!(
            nested.setting(),
            Setting::Strategy {
                class: None,
                depth: 1,
                param: "kind"
            }
        );
        assert!(
            nested
                .to_string()
                .starts_with("invalid retry_after_or strategy (as a fallback): "),
            "{nested}"
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn adaptive_inside_out_is_refused_and_the_right_way_builds() {
        use crate::backoff::adaptive;
        let s = || equal_jitter().max(Duration::from_secs(1));
        for wrong in [
            Backoff::from(adaptive(retry_after_or(s()))),
            Backoff::from(adaptive(adaptive(s()))),
        ] {
            let err = Policy::builder().strategy(wrong).build().unwrap_err();
            assert_eq!(err.code(), "E108", "{err}");
        }
        assert!(
            Policy::builder()
                .strategy(retry_after_or(adaptive(s())))
                .build()
                .is_ok()
        );
    }

    #[test]
    fn problems_lists_every_problem_and_build_refuses_the_first() {
        let builder = Policy::builder()
            .max_attempts(0)
            .deadline(Duration::ZERO)
            .attempt_timeout(Duration::ZERO)
            .strategy(exponential().factor(f64::NAN).base(Duration::ZERO))
            .class_strategy(ErrorClass::RateLimit, schedule(&[][..]));
        let mut found = Vec::new();
        builder.problems(|e| found.push((e.code(), e.setting())));
        let strategy = |class, param| Setting::Strategy {
            class,
            depth: 0,
            param,
        };
        assert_eq!(
            found,
            [
                ("E001", Setting::Policy("max_attempts")),
                ("E002", Setting::Policy("deadline")),
                ("E003", Setting::Policy("attempt_timeout")),
                ("E007", strategy(None, "factor")),
                ("E006", strategy(None, "base")),
                ("E008", strategy(Some(ErrorClass::RateLimit), "delays")),
            ]
        );
        assert_eq!(builder.build().unwrap_err(), ConfigError::ZeroMaxAttempts);
        let mut none = Vec::new();
        Policy::builder().problems(|e| none.push(e.code()));
        assert_eq!(none, ["E004"]);
        let mut clean = 0;
        Policy::quick().problems(|_| clean += 1);
        assert_eq!(clean, 0);
    }

    #[test]
    fn every_error_has_a_listed_code_and_a_setting() {
        let errors = [
            (
                ConfigError::ZeroMaxAttempts,
                Setting::Policy("max_attempts"),
            ),
            (ConfigError::ZeroDeadline, Setting::Policy("deadline")),
            (
                ConfigError::ZeroAttemptTimeout,
                Setting::Policy("attempt_timeout"),
            ),
            (ConfigError::NoStrategy, Setting::Policy("strategy")),
            (
                ConfigError::ZeroWindow {
                    component: Component::Budget,
                },
                Setting::Budget("window"),
            ),
            (ConfigError::InvalidRatio(-1.0), Setting::Budget("ratio")),
            (
                ConfigError::ZeroFailureThreshold { class: None },
                Setting::CircuitBreaker {
                    setting: "failure_threshold",
                    class: None,
                },
            ),
            (
                ConfigError::ZeroFailureThreshold {
                    class: Some(ErrorClass::Auth),
                },
                Setting::CircuitBreaker {
                    setting: "class_threshold",
                    class: Some(ErrorClass::Auth),
                },
            ),
            (
                ConfigError::ZeroWindow {
                    component: Component::CircuitBreaker,
                },
                Setting::CircuitBreaker {
                    setting: "window",
                    class: None,
                },
            ),
            (
                ConfigError::ZeroRecoveryTimeout,
                Setting::CircuitBreaker {
                    setting: "recovery_timeout",
                    class: None,
                },
            ),
        ];
        let mut codes: Vec<&str> = errors.iter().map(|(e, _)| e.code()).collect();
        for (e, setting) in &errors {
            assert_eq!(e.setting(), *setting, "{e}");
            assert!(ConfigError::CODES.contains(&e.code()), "{e}");
        }
        for problem in [
            StrategyProblem::BaseAboveMax {
                base: Duration::from_secs(2),
                max: Duration::from_secs(1),
            },
            StrategyProblem::ZeroBase,
            StrategyProblem::InvalidFactor(0.0),
            StrategyProblem::EmptySchedule,
            StrategyProblem::ZeroAdaptiveWindow,
            StrategyProblem::Nested {
                outer: StrategyKind::RetryAfterOr,
                inner: StrategyKind::RetryAfterOr,
            },
        ] {
            codes.push(problem.code());
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes, ConfigError::CODES);
    }

    #[test]
    fn class_strategies_win_over_the_default() {
        let p = Policy::builder()
            .strategy(constant(Duration::from_secs(1)))
            .class_strategy(ErrorClass::Concurrency, exponential())
            .build()
            .unwrap();
        assert_eq!(
            p.retry()
                .strategy_for(ErrorClass::Concurrency)
                .unwrap()
                .kind(),
            "exponential"
        );
        assert_eq!(
            p.retry()
                .strategy_for(ErrorClass::Transient)
                .unwrap()
                .kind(),
            "constant"
        );

        let only_class = Policy::builder()
            .class_strategy(ErrorClass::RateLimit, constant(Duration::ZERO))
            .build()
            .unwrap();
        assert!(
            only_class
                .retry()
                .strategy_for(ErrorClass::Transient)
                .is_none()
        );
    }

    #[test]
    fn the_default_policy_is_the_validated_quick_preset() {
        let quick = Policy::quick().build().unwrap();
        let default = Policy::default();
        assert!(default.retry().validate().is_ok());
        assert_eq!(
            format!("{:?}", quick.retry()),
            format!("{:?}", default.retry())
        );
    }

    #[cfg(all(target_has_atomic = "64", feature = "alloc"))]
    #[test]
    fn trait_objects_are_accepted_as_budget_and_breaker() {
        use crate::breaker::{Breaker, CircuitBreaker};
        use crate::budget::{Budget, RollingBudget};
        use alloc::sync::Arc;
        let budget: Arc<dyn Budget + Send + Sync> =
            Arc::new(RollingBudget::new(1, Duration::from_secs(1)).unwrap());
        let breaker: Arc<dyn Breaker + Send + Sync> =
            Arc::new(CircuitBreaker::builder().build().unwrap());
        let p = Policy::quick()
            .budget(budget)
            .circuit_breaker(breaker)
            .build()
            .unwrap();
        assert!(p.retry().budget().is_some() && p.circuit_breaker().is_some());
    }

    #[test]
    fn huge_values_are_accepted() {
        let p = Policy::builder()
            .strategy(constant(Duration::MAX))
            .deadline(Duration::MAX)
            .max_attempts(u32::MAX)
            .build();
        assert!(p.is_ok());
    }
}
