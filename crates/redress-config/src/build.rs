//! Building: a [`PolicyConfig`] to a [`PolicyBuilder`] or a [`Policy`].

use core::fmt;
use core::time::Duration;
use std::sync::Arc;

use redress_core::breaker::CircuitBreakerBuilder;
use redress_core::budget::RatioBudgetBuilder;
use redress_core::{
    Budget, CircuitBreaker, ConfigError, ErrorClassifier, NoResultClassifier, Policy,
    PolicyBuilder, RatioBudget, RollingBudget,
};

use crate::diagnostic::Report;
use crate::lint::Lint;
use crate::model::{BreakerConfig, BudgetConfig, PolicyConfig};

/// Why a config could not be built into a policy.
///
/// A config loaded from a file keeps where it came from: its errors name
/// the file, the full key (`policies.payments.max_attempts`) and the line
/// and column, as `redress doctor` shows them. Its [`Debug`](fmt::Debug)
/// form is its [`Display`](fmt::Display) form, so `main` returning it
/// prints that report.
///
/// ```
/// use redress_config::ConfigFile;
///
/// let file = ConfigFile::from_toml_str("[policies.payments]\nmax_attempts = 0\nstrategy = \"full_jitter\"\n")?;
/// let err = file.policy("payments")?.build().unwrap_err();
/// assert_eq!(
///     format!("{err:?}"),
///     "invalid retry policy: 2:16: policies.payments.max_attempts: error[E001]: max_attempts is 0: \
///      not even one attempt would run (help: max_attempts counts the first attempt: use 1 for a single attempt with no retries)"
/// );
/// # Ok::<(), redress_config::LoadError>(())
/// ```
#[non_exhaustive]
pub enum BuildError {
    /// The config has lint errors: every problem redress-core's validation
    /// finds, each with its key (the report also holds the warnings). For a
    /// config loaded from a file, the report names the file, and each
    /// finding its full key and its location.
    Invalid(Report),
    /// The engine refused a value. Lint errors are exactly what the engine
    /// refuses, so a config gets this only through the
    /// [`PolicyBuilder`] it was given, not from [`PolicyConfig::build`].
    Engine(ConfigError),
    /// The policy names a declared breaker or budget (`circuit_breaker =
    /// "NAME"`): build it with a [`SharedState`](crate::SharedState), which
    /// gives every policy naming it the same one.
    NeedsSharedState {
        /// The declaration's name.
        name: String,
    },
    /// A declaration has a `store`, and the [`SharedState`](crate::SharedState)
    /// has no resolver to build it with.
    NoResolver {
        /// The declaration's name.
        name: String,
        /// Its store.
        url: String,
    },
    /// The resolver could not build a declaration kept in a store.
    Store {
        /// The declaration's name.
        name: String,
        /// Why.
        error: crate::shared::ResolveError,
    },
}

/// The report, as [`Display`](fmt::Display) writes it.
impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Invalid(report) => {
                let file = report.file.as_deref();
                let errors: Vec<_> = report.errors().collect();
                match errors.as_slice() {
                    [one] => write!(f, "invalid retry policy: {}", one.in_file(file)),
                    many => {
                        write!(f, "invalid retry policy ({} errors):", many.len())?;
                        for e in many {
                            write!(f, "\n  {}", e.in_file(file))?;
                        }
                        Ok(())
                    }
                }
            }
            BuildError::Engine(e) => write!(f, "invalid retry policy: {e}"),
            BuildError::NeedsSharedState { name } => write!(
                f,
                "the policy names the shared `{name}`: build it with a SharedState, so that every policy naming it shares one"
            ),
            BuildError::NoResolver { name, url } => write!(
                f,
                "`{name}` is kept in the store `{url}`, and no store resolver was given: use SharedState::with_resolver (redress_redis::ConfigResolver for redis://)"
            ),
            BuildError::Store { name, error } => {
                write!(f, "cannot build the shared `{name}`: {error}")
            }
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Engine(e) => Some(e),
            BuildError::Store { error, .. } => Some(&**error),
            BuildError::Invalid(_)
            | BuildError::NeedsSharedState { .. }
            | BuildError::NoResolver { .. } => None,
        }
    }
}

impl From<ConfigError> for BuildError {
    fn from(e: ConfigError) -> Self {
        BuildError::Engine(e)
    }
}

impl PolicyConfig {
    /// Calls `f` with every problem redress-core's validation finds in the
    /// config: the policy builder's (envelope and strategies), the
    /// budget's and the breaker's. These, and nothing else, are the lint
    /// errors, and what building refuses.
    pub(crate) fn problems(&self, mut f: impl FnMut(&ConfigError)) {
        self.core_builder().problems(&mut f);
        match &self.budget {
            Some(BudgetConfig::Rolling {
                max_retries,
                window,
            }) => {
                if let Err(e) = RollingBudget::new(*max_retries, *window) {
                    f(&e);
                }
            }
            Some(BudgetConfig::Ratio {
                ratio,
                min_per_second,
                window,
            }) => ratio_builder(*ratio, *min_per_second, *window).problems(&mut f),
            None => {}
        }
        if let Some(breaker) = &self.circuit_breaker {
            breaker.core_builder().problems(&mut f);
        }
    }

    /// Core's builder with the envelope and strategies (no budget or
    /// breaker: those are created by [`builder`](Self::builder)).
    fn core_builder(&self) -> PolicyBuilder {
        let mut b = Policy::builder()
            .deadline(self.deadline)
            .max_attempts(self.max_attempts);
        b = match self.max_unknown_attempts {
            Some(cap) => b.max_unknown_attempts(cap),
            None => b.unlimited_unknown_attempts(),
        };
        if let Some(timeout) = self.attempt_timeout {
            b = b.attempt_timeout(timeout);
        }
        if self.stop_when_retry_after_exceeds_deadline {
            b = b.stop_when_retry_after_exceeds_deadline();
        }
        for (class, cap) in &self.per_class_max_attempts {
            b = b.class_max_attempts(*class, *cap);
        }
        if let Some(strategy) = &self.strategy {
            b = b.strategy(strategy.to_backoff());
        }
        for (class, strategy) in &self.strategies {
            b = b.class_strategy(*class, strategy.to_backoff());
        }
        b
    }

    /// A [`PolicyBuilder`] holding this configuration, with the default
    /// classifier: set yours with
    /// [`.classifier(..)`](PolicyBuilder::classifier) (and a result
    /// classifier, hooks, ...) and [`build`](PolicyBuilder::build).
    ///
    /// The config is linted first; a lint error (a problem redress-core's
    /// validation reports, with its key) refuses it, warnings do not. The
    /// budget and breaker are created here, one each: clone the built
    /// policy to share them between call sites.
    ///
    /// ```
    /// use redress_config::PolicyConfig;
    /// use redress_core::{Classification, ErrorClass};
    ///
    /// #[derive(Debug)]
    /// enum ApiError { Throttled, Down, BadRequest }
    ///
    /// let config = PolicyConfig::from_toml_str(r#"
    ///     max_attempts = 4
    ///     strategy = { kind = "decorrelated_jitter", max = "2s" }
    ///     strategies.RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "equal_jitter", max = "10s" } }
    /// "#)?;
    /// let policy = config
    ///     .builder()?
    ///     .classifier(|e: &ApiError| match e {
    ///         ApiError::Throttled => ErrorClass::RateLimit,
    ///         ApiError::Down => ErrorClass::ServerError,
    ///         ApiError::BadRequest => ErrorClass::Permanent,
    ///     })
    ///     .build()?;
    /// assert_eq!(policy.retry().max_attempts(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(&self) -> Result<PolicyBuilder, BuildError> {
        if let Some(r) = self.shared_breaker.as_ref().or(self.shared_budget.as_ref()) {
            return Err(BuildError::NeedsSharedState {
                name: r.name.clone(),
            });
        }
        let report = self.lint();
        if report.has_errors() {
            return Err(BuildError::Invalid(self.origin.place(report)));
        }
        let mut b = self.core_builder();
        match &self.budget {
            Some(BudgetConfig::Rolling {
                max_retries,
                window,
            }) => b = b.budget(Arc::new(RollingBudget::new(*max_retries, *window)?)),
            Some(BudgetConfig::Ratio {
                ratio,
                min_per_second,
                window,
            }) => {
                let budget = ratio_builder(*ratio, *min_per_second, *window).build()?;
                b = b.budget(Arc::new(budget));
            }
            None => {}
        }
        if let Some(breaker) = &self.circuit_breaker {
            b = b.circuit_breaker(Arc::new(breaker.build()?));
        }
        Ok(b)
    }

    /// Builds the policy with the default classifier.
    ///
    /// ```
    /// use redress_config::PolicyConfig;
    ///
    /// let policy = PolicyConfig::from_toml_str(r#"strategy = "full_jitter""#)?.build()?;
    /// assert_eq!(policy.retry().max_attempts(), 6);
    ///
    /// let err = PolicyConfig::from_toml_str("max_attempts = 0")?.build().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid retry policy (2 errors):\n  \
    ///     1:16: max_attempts: error[E001]: max_attempts is 0: not even one attempt would run (help: max_attempts counts the first attempt: use 1 for a single attempt with no retries)\n  \
    ///     strategy: error[E004]: no backoff strategy: the policy has no way to wait between attempts (help: add `strategy = { kind = \"decorrelated_jitter\", max = \"5s\" }`, or per-class `strategies`)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(&self) -> Result<Policy<ErrorClassifier, NoResultClassifier>, BuildError> {
        Ok(self.builder()?.build()?)
    }

    /// Builds the policy with the application's error classifier.
    pub fn build_with<C>(
        &self,
        classifier: C,
    ) -> Result<Policy<C, NoResultClassifier>, BuildError> {
        Ok(self.builder()?.classifier(classifier).build()?)
    }
}

fn ratio_builder(ratio: f64, min_per_second: u32, window: Duration) -> RatioBudgetBuilder {
    RatioBudget::builder()
        .ratio(ratio)
        .min_per_second(min_per_second)
        .window(window)
}

impl BudgetConfig {
    /// The budget this config describes, kept in this process.
    pub(crate) fn build_local(&self) -> Result<Arc<dyn Budget + Send + Sync>, ConfigError> {
        Ok(match self {
            BudgetConfig::Rolling {
                max_retries,
                window,
            } => Arc::new(RollingBudget::new(*max_retries, *window)?),
            BudgetConfig::Ratio {
                ratio,
                min_per_second,
                window,
            } => Arc::new(ratio_builder(*ratio, *min_per_second, *window).build()?),
        })
    }
}

impl BreakerConfig {
    /// The circuit breaker this config describes.
    pub fn build(&self) -> Result<CircuitBreaker, ConfigError> {
        self.core_builder().build()
    }

    fn core_builder(&self) -> CircuitBreakerBuilder {
        let mut b = CircuitBreaker::builder()
            .failure_threshold(self.failure_threshold)
            .window(self.window)
            .recovery_timeout(self.recovery_timeout)
            .trip_on(self.trip_on.iter().copied());
        for (class, threshold) in &self.class_thresholds {
            b = b.class_threshold(*class, *threshold);
        }
        b
    }
}
