//! Lint rules for retry policies, on a config or on a built policy.
//!
//! Errors (`E0xx`, and `E108` for a nesting) are configurations that cannot
//! work: they are exactly what redress-core's validation refuses
//! ([`ConfigError`], with its [`code`](ConfigError::code)), here given the
//! key they are about, a message and a help in config terms. Building
//! refuses them, and nothing else. Warnings (`W0xx`) are this crate's own:
//! configurations that work, but not the way their author most likely
//! meant: a cap that never binds, a strategy that is never consulted,
//! clients that retry in lockstep, a budget that refuses every retry.
//! Every finding has a stable code, the key it is about, and a one-line
//! help; [`RULES`] lists them all. (Problems found while *loading* a file
//! are `E1xx`; see [`load`](crate::load).)
//!
//! A policy built in code is linted through the same rules ([`Lint`] is
//! implemented for [`Policy`]), so a unit test can hold a code-built policy
//! to the standard CI holds config files to. Parts the rules cannot see
//! into (custom strategies, budgets and breakers) are skipped, except for
//! what they report about themselves (a custom strategy's largest delay).

use core::time::Duration;
use std::collections::BTreeMap;

use redress_core::{
    Component, ConfigError, ErrorClass, Policy, Setting, StrategyKind, StrategyProblem,
};

use crate::diagnostic::{Diagnostic, Report, Severity};
use crate::dialect::Dialect;
use crate::duration::format_duration as fmt_d;
use crate::load::join_path;
use crate::model::{BreakerConfig, BudgetConfig, PolicyConfig, StrategyConfig};

/// Lints a policy: see the [module docs](self) and [`RULES`].
///
/// ```
/// use core::time::Duration;
/// use redress_core::backoff::exponential;
/// use redress_core::Policy;
/// use redress_config::Lint;
///
/// // A code-built policy, checked in a unit test.
/// let policy = Policy::builder()
///     .strategy(exponential().max(Duration::from_secs(5)))
///     .deadline(Duration::from_secs(2))
///     .build()?;
/// let report = policy.lint();
/// assert!(!report.has_errors());
/// assert!(report.contains("W010")); // exponential backoff without jitter
/// assert!(report.contains("W007")); // the 5 s cap is above the 2 s deadline
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub trait Lint {
    /// The findings, errors first.
    fn lint(&self) -> Report;
}

impl Lint for PolicyConfig {
    fn lint(&self) -> Report {
        let mut out = Vec::new();
        self.problems(|e| out.push(core_error(e)));
        View::of_config(self).warnings(&mut out);
        crate::shared::warnings(self, &mut out);
        Report::new(out)
    }
}

impl<C, R> Lint for Policy<C, R> {
    fn lint(&self) -> Report {
        // A built policy passed core's validation: this finds nothing,
        // and is here so the two lints cannot drift apart.
        let mut out = Vec::new();
        self.retry().problems(|e| out.push(core_error(e)));
        View::of_policy(self).warnings(&mut out);
        Report::new(out)
    }
}

/// The key a core problem is about, as config files name it
/// (`strategies.RATE_LIMIT.fallback.base`).
pub(crate) fn setting_path(setting: Setting) -> String {
    match setting {
        Setting::Policy(key) => key.to_owned(),
        Setting::Strategy {
            class,
            depth,
            param,
        } => {
            let mut path = match class {
                None => "strategy".to_owned(),
                Some(class) => format!("strategies.{}", class.name()),
            };
            for _ in 0..depth {
                path.push_str(".fallback");
            }
            join_path(&path, param)
        }
        Setting::Budget(key) => join_path("budget", key),
        Setting::CircuitBreaker {
            class: Some(class), ..
        } => format!("circuit_breaker.class_thresholds.{}", class.name()),
        Setting::CircuitBreaker { setting, .. } => join_path("circuit_breaker", setting),
        _ => String::new(),
    }
}

/// A core problem as a finding: its code and key from core, a message and
/// help in config terms.
pub(crate) fn core_error(e: &ConfigError) -> Diagnostic {
    core_error_in(e, Dialect::Config)
}

/// A core problem as a finding, its key and examples written in `dialect`.
fn core_error_in(e: &ConfigError, dialect: Dialect) -> Diagnostic {
    let (message, help) = describe(e, dialect);
    let path = dialect.path(&setting_path(e.setting()));
    Diagnostic::error(e.code(), path, message).with_help(help)
}

impl PolicyConfig {
    /// The errors of its [`lint`](Lint::lint), exactly what redress-core's
    /// validation refuses, with their keys and help written in `dialect`
    /// and under `prefix` (a scenario's `policy`). For a file of another
    /// format that embeds a policy: `redress simulate` checks a
    /// scenario's policy with it.
    ///
    /// ```
    /// use redress_config::{Dialect, PolicyConfig};
    ///
    /// let value = serde_json::json!({"deadline_s": 0, "strategy": {"kind": "constant", "delay_s": 1}});
    /// let config = PolicyConfig::from_json_value(&value, Dialect::Scenario, "policy")?;
    /// let errors = config.errors_in(Dialect::Scenario, "policy");
    /// assert_eq!(errors[0].to_string(), "policy.deadline_s: error[E002]: the deadline is zero: \
    ///     no attempt could run (help: give the whole call a positive time budget, e.g. \"deadline_s\": 30.0)");
    /// # Ok::<(), redress_config::LoadError>(())
    /// ```
    pub fn errors_in(&self, dialect: Dialect, prefix: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        self.problems(|e| {
            let mut d = core_error_in(e, dialect);
            d.path = join_path(prefix, &d.path);
            out.push(d);
        });
        Report::new(out).diagnostics
    }
}

fn describe(e: &ConfigError, dialect: Dialect) -> (String, String) {
    let fixed = |message: &str, help: &str| (message.to_owned(), help.to_owned());
    // `key = value` as the dialect writes it (durations as TOML strings or
    // as seconds).
    let set = |key: &str, config: &str, scenario: &str| match dialect {
        Dialect::Scenario => format!("\"{}\": {scenario}", dialect.key(key)),
        _ => format!("`{key} = {config}`"),
    };
    match e {
        ConfigError::ZeroMaxAttempts => fixed(
            "max_attempts is 0: not even one attempt would run",
            "max_attempts counts the first attempt: use 1 for a single attempt with no retries",
        ),
        ConfigError::ZeroDeadline => (
            "the deadline is zero: no attempt could run".to_owned(),
            format!(
                "give the whole call a positive time budget, e.g. {}",
                set("deadline", "\"30s\"", "30.0")
            ),
        ),
        ConfigError::ZeroAttemptTimeout => fixed(
            "attempt_timeout is zero: every attempt would time out at once",
            "remove attempt_timeout for no per-attempt limit, or give it a positive duration",
        ),
        ConfigError::NoStrategy => (
            "no backoff strategy: the policy has no way to wait between attempts".to_owned(),
            match dialect {
                Dialect::Scenario => "add `\"strategy\": {\"kind\": \"constant\", \"delay_s\": 0.5}`, or per-class `strategies`".to_owned(),
                _ => "add `strategy = { kind = \"decorrelated_jitter\", max = \"5s\" }`, or per-class `strategies`".to_owned(),
            },
        ),
        ConfigError::InvalidStrategy { kind, problem, .. } => {
            describe_strategy(*kind, problem, dialect)
        }
        ConfigError::ZeroWindow {
            component: Component::Budget,
        } => (
            "the budget window is zero".to_owned(),
            format!(
                "give it a positive window, e.g. {}",
                set("window", "\"60s\"", "60.0")
            ),
        ),
        ConfigError::ZeroWindow { .. } => (
            "the breaker window is zero".to_owned(),
            format!(
                "give it a positive window, e.g. {}",
                set("window", "\"60s\"", "60.0")
            ),
        ),
        ConfigError::InvalidRatio(ratio) => (
            format!("the budget ratio {ratio} is not a number from 0 to 1000"),
            "use a small share of calls, e.g. `ratio = 0.2` (one retry per five calls)".to_owned(),
        ),
        ConfigError::ZeroFailureThreshold { class: None } => fixed(
            "failure_threshold is 0: the breaker could never close",
            "use at least 1 (5 is the default)",
        ),
        ConfigError::ZeroFailureThreshold { class: Some(class) } => (
            format!("the {class} threshold is 0"),
            "use at least 1".to_owned(),
        ),
        ConfigError::ZeroRecoveryTimeout => (
            "recovery_timeout is zero: an open breaker would probe at once".to_owned(),
            format!(
                "give the dependency time to recover, e.g. {}",
                set("recovery_timeout", "\"30s\"", "30.0")
            ),
        ),
        other => (
            other.to_string(),
            format!("see {} in `redress doctor --list-rules`", other.code()),
        ),
    }
}

fn describe_strategy(
    kind: StrategyKind,
    problem: &StrategyProblem,
    dialect: Dialect,
) -> (String, String) {
    let fixed = |message: &str, help: &str| (message.to_owned(), help.to_owned());
    match problem {
        StrategyProblem::BaseAboveMax { base, max } => (
            format!("base ({}) is above max ({})", fmt_d(*base), fmt_d(*max)),
            "base is the first delay and max the cap: lower base or raise max".to_owned(),
        ),
        StrategyProblem::ZeroBase => (
            format!("base is 0: every `{kind}` delay would be 0"),
            "give base a positive duration (250ms is the default)".to_owned(),
        ),
        StrategyProblem::InvalidFactor(factor) => (
            format!("factor {factor} makes delays shrink or explode"),
            "use a finite factor of at least 1.0 (2.0 doubles each delay)".to_owned(),
        ),
        StrategyProblem::EmptySchedule => (
            "the schedule lists no delays".to_owned(),
            match dialect {
                Dialect::Scenario => "list at least one: \"delays_s\": [0.1, 0.5, 2.0]",
                _ => "list at least one: `delays = [\"100ms\", \"500ms\", \"2s\"]`",
            }
            .to_owned(),
        ),
        StrategyProblem::ZeroAdaptiveWindow => fixed(
            "the adaptive window is zero",
            "give it a positive window (60s is the default)",
        ),
        StrategyProblem::InvalidTargetSuccess(target) => (
            format!("target_success {target} is not in (0, 1]"),
            "it is a success rate: 0.9 means stretch delays below 90% success".to_owned(),
        ),
        StrategyProblem::InvalidMultipliers { min, max } => (
            format!("multipliers {min} to {max} are not finite with 1 <= min <= max"),
            "use `min_multiplier = 1.0` and a larger `max_multiplier` (5.0 is the default)"
                .to_owned(),
        ),
        StrategyProblem::Nested { outer, inner } => {
            let help = match (outer, inner) {
                (StrategyKind::RetryAfterOr, _) => {
                    "`retry_after_or` cannot fall back to another `retry_after_or`: one already honors the hint"
                }
                (_, StrategyKind::RetryAfterOr) => {
                    "put `retry_after_or` outside: `{ kind = \"retry_after_or\", fallback = { kind = \"adaptive\", fallback = { kind = \"equal_jitter\" } } }`"
                }
                _ => "an `adaptive` strategy cannot stretch another `adaptive` one",
            };
            (
                format!("a `{inner}` strategy cannot be used here"),
                help.to_owned(),
            )
        }
        other => (
            other.to_string(),
            format!("see {} in `redress doctor --list-rules`", other.code()),
        ),
    }
}

/// A lint rule, for documentation and tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    /// The stable code.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// What triggers it.
    pub summary: &'static str,
}

const fn error(code: &'static str, summary: &'static str) -> Rule {
    Rule {
        code,
        severity: Severity::Error,
        summary,
    }
}

const fn warning(code: &'static str, summary: &'static str) -> Rule {
    Rule {
        code,
        severity: Severity::Warning,
        summary,
    }
}

/// Every rule: the lints (`E0xx`, `W0xx`) and the problems loading a file
/// reports (`E1xx`). The errors a lint reports are redress-core's
/// [`ConfigError::CODES`] (a test holds the two lists together): `E001` to
/// `E015` and `E108`. `E012` is retired: a budget that refuses every retry
/// is legal, as in the reference, and is the warning `W020`.
pub const RULES: &[Rule] = &[
    error("E001", "max_attempts is 0"),
    error("E002", "the deadline is zero"),
    error("E003", "attempt_timeout is zero"),
    error(
        "E004",
        "no strategy at all: neither `strategy` nor `strategies`",
    ),
    error("E005", "a strategy's base is above its max"),
    error(
        "E006",
        "a jittered or exponential strategy's base is zero: every delay is 0",
    ),
    error(
        "E007",
        "an exponential factor below 1 or not a finite number",
    ),
    error("E008", "a schedule with no delays"),
    error(
        "E009",
        "adaptive parameters out of range (window, target_success, multipliers)",
    ),
    error("E010", "a budget window of zero"),
    error(
        "E011",
        "a ratio budget's ratio not a finite number in [0, 1000]",
    ),
    error(
        "E013",
        "a circuit breaker threshold (overall or per class) below 1",
    ),
    error("E014", "a circuit breaker window of zero"),
    error("E015", "a circuit breaker recovery_timeout of zero"),
    error(
        "E100",
        "the file is not valid TOML or JSON (reported by `redress doctor`)",
    ),
    error("E101", "an unknown key (with the nearest valid one)"),
    error("E102", "a value of the wrong type"),
    error(
        "E103",
        "a malformed duration (durations are strings with a unit: \"250ms\")",
    ),
    error(
        "E104",
        "an unknown error class name (with the nearest valid one)",
    ),
    error(
        "E105",
        "an unknown strategy or budget kind (with the nearest valid one)",
    ),
    error(
        "E106",
        "a count out of range (negative, or above 4294967295)",
    ),
    error(
        "E107",
        "a required key is missing (`kind`, `delay`, `fallback`, ...)",
    ),
    error(
        "E108",
        "a strategy nested where the engine cannot run it (found by the lint, like E0xx)",
    ),
    error("E109", "`[policies]` holds no policy"),
    error(
        "E110",
        "a policy names a breaker or budget the file does not declare (with the nearest declared one)",
    ),
    error(
        "E111",
        "a declaration's `store` that is not a URL, or a `sync_interval` below 1ms",
    ),
    error(
        "E112",
        "`sync_interval` or `on_store_error` in a declaration without a `store`",
    ),
    warning(
        "W001",
        "the deadline cannot fit even the first retry's minimum delay",
    ),
    warning("W002", "attempt_timeout is at or above the deadline"),
    warning(
        "W003",
        "a per-class cap at or above max_attempts (no effect)",
    ),
    warning(
        "W004",
        "max_unknown_attempts above max_attempts (no effect)",
    ),
    warning("W005", "a strategy for a class that is never retried"),
    warning("W006", "a per-class cap for a class that is never retried"),
    warning("W007", "a strategy's largest delay is above the deadline"),
    warning("W008", "no cap on UNKNOWN failures"),
    warning("W009", "a very large max_attempts (above 20)"),
    warning(
        "W010",
        "exponential backoff without jitter (thundering herd)",
    ),
    warning("W011", "a budget window shorter than the deadline"),
    warning("W012", "breaker recovery shorter than one attempt timeout"),
    warning("W013", "RATE_LIMIT is retried without honoring Retry-After"),
    warning(
        "W014",
        "a strategy whose every delay is zero (a hot retry loop)",
    ),
    warning(
        "W015",
        "max_attempts is 1 and there is no circuit breaker: the policy does nothing",
    ),
    warning(
        "W016",
        "no default strategy: some retryable classes are never retried",
    ),
    warning("W017", "a circuit breaker that no class can trip"),
    warning(
        "W018",
        "a ratio budget above 1 retry per call (no protection from retry storms)",
    ),
    warning(
        "W019",
        "a breaker class threshold at or above failure_threshold (no effect)",
    ),
    warning(
        "W020",
        "a budget that refuses every retry (max_retries = 0, or a ratio budget that earns none)",
    ),
    warning(
        "W021",
        "a strategy honours Retry-After, but a hint longer than the time left still makes the call sleep to its deadline",
    ),
    warning(
        "W022",
        "a declared breaker or budget that no policy names (found for the whole file)",
    ),
    warning(
        "W023",
        "a shared breaker's or budget's sync_interval longer than its window",
    ),
    warning(
        "W024",
        "a shared breaker's sync_interval at or above its recovery_timeout",
    ),
];

/// Above this, `max_attempts` is flagged.
const LARGE_MAX_ATTEMPTS: u32 = 20;

/// A strategy as the rules see it.
#[derive(Clone, Debug)]
enum Strat {
    Known(StrategyConfig),
    /// A custom strategy: only what it says about itself.
    Opaque {
        max_delay: Option<Duration>,
        honors_retry_after: bool,
    },
}

#[derive(Clone, Debug)]
enum BudgetView {
    Known(BudgetConfig),
    Opaque { window: Option<Duration> },
}

/// A policy as the rules see it: a config, or a built policy whose custom
/// parts are opaque.
#[derive(Clone, Debug)]
struct View {
    deadline: Duration,
    max_attempts: u32,
    max_unknown: Option<u32>,
    attempt_timeout: Option<Duration>,
    stop_on_long_hint: bool,
    caps: BTreeMap<ErrorClass, u32>,
    default: Option<Strat>,
    strategies: BTreeMap<ErrorClass, Strat>,
    budget: Option<BudgetView>,
    breaker: Option<Option<BreakerConfig>>,
}

impl View {
    fn of_config(c: &PolicyConfig) -> View {
        View {
            deadline: c.deadline,
            max_attempts: c.max_attempts,
            max_unknown: c.max_unknown_attempts,
            attempt_timeout: c.attempt_timeout,
            stop_on_long_hint: c.stop_when_retry_after_exceeds_deadline,
            caps: c.per_class_max_attempts.clone(),
            default: c.strategy.clone().map(Strat::Known),
            strategies: c
                .strategies
                .iter()
                .map(|(k, s)| (*k, Strat::Known(s.clone())))
                .collect(),
            budget: c.budget.clone().map(BudgetView::Known),
            breaker: c.circuit_breaker.clone().map(Some),
        }
    }

    fn of_policy<C, R>(p: &Policy<C, R>) -> View {
        let retry = p.retry();
        let strat = |b: &redress_core::Backoff| match StrategyConfig::from_backoff(b) {
            Some(s) => Strat::Known(s),
            None => Strat::Opaque {
                max_delay: b.max_delay(),
                honors_retry_after: b.retry_after_jitter().is_some(),
            },
        };
        View {
            deadline: retry.deadline(),
            max_attempts: retry.max_attempts(),
            max_unknown: retry.max_unknown_attempts(),
            attempt_timeout: retry.attempt_timeout(),
            stop_on_long_hint: retry.stops_when_retry_after_exceeds_deadline(),
            caps: ErrorClass::ALL
                .into_iter()
                .filter_map(|c| Some((c, retry.class_max_attempts(c)?)))
                .collect(),
            default: retry.default_strategy().map(strat),
            strategies: ErrorClass::ALL
                .into_iter()
                .filter_map(|c| Some((c, strat(retry.class_strategy(c)?))))
                .collect(),
            budget: retry.budget().map(crate::export::budget_view).map(
                |(known, window)| match known {
                    Some(b) => BudgetView::Known(b),
                    None => BudgetView::Opaque { window },
                },
            ),
            breaker: p.circuit_breaker().map(crate::export::breaker_config),
        }
    }

    fn strategy_for(&self, class: ErrorClass) -> Option<&Strat> {
        self.strategies.get(&class).or(self.default.as_ref())
    }

    /// Whether a failure of `class` can ever lead to a retry.
    fn retried(&self, class: ErrorClass) -> bool {
        self.max_attempts > 1 && self.can_retry_class(class) && self.strategy_for(class).is_some()
    }

    /// Whether the class's own rules allow a retry (ignoring strategies and
    /// `max_attempts`).
    fn can_retry_class(&self, class: ErrorClass) -> bool {
        class.is_retryable()
            && self.caps.get(&class) != Some(&0)
            && !(class == ErrorClass::Unknown && self.max_unknown == Some(0))
    }

    /// The strategies that some retried class uses, with their paths.
    fn used_strategies(&self) -> Vec<(String, &Strat)> {
        let mut used = Vec::new();
        if let Some(s) = &self.default {
            if ErrorClass::ALL
                .into_iter()
                .any(|c| self.retried(c) && !self.strategies.contains_key(&c))
            {
                used.push(("strategy".to_owned(), s));
            }
        }
        for (class, s) in &self.strategies {
            if self.retried(*class) {
                used.push((format!("strategies.{}", class.name()), s));
            }
        }
        used
    }

    /// Every configured strategy, with its path.
    fn all_strategies(&self) -> Vec<(String, &Strat)> {
        let mut all: Vec<(String, &Strat)> = self
            .default
            .iter()
            .map(|s| ("strategy".to_owned(), s))
            .collect();
        all.extend(
            self.strategies
                .iter()
                .map(|(c, s)| (format!("strategies.{}", c.name()), s)),
        );
        all
    }

    /// The warnings (the errors are core's).
    fn warnings(&self, out: &mut Vec<Diagnostic>) {
        self.envelope(out);
        self.budget_rules(out);
        self.breaker_rules(out);
        self.class_rules(out);
        self.timing_rules(out);
    }

    fn envelope(&self, out: &mut Vec<Diagnostic>) {
        if self.max_attempts > LARGE_MAX_ATTEMPTS {
            out.push(
                Diagnostic::warning(
                    "W009",
                    "max_attempts",
                    format!("max_attempts is {}: a failing dependency gets hit that many times per call", self.max_attempts),
                )
                .with_help("keep attempts few (3 to 6) and let the deadline and a budget bound the rest"),
            );
        }
        if self.max_attempts == 1 && self.breaker.is_none() {
            out.push(
                Diagnostic::warning("W015", "max_attempts", "max_attempts is 1 and there is no circuit breaker: the policy never retries and guards nothing")
                    .with_help("raise max_attempts to allow retries, or add a circuit_breaker if a single attempt is intended"),
            );
        }
        if let Some(cap) = self.max_unknown {
            if self.max_attempts > 1 && cap > self.max_attempts {
                out.push(
                    Diagnostic::warning(
                        "W004",
                        "max_unknown_attempts",
                        format!(
                            "max_unknown_attempts ({cap}) is above max_attempts ({}): it can never stop a call",
                            self.max_attempts
                        ),
                    )
                    .with_help("lower it below max_attempts (2 is the default), or remove it"),
                );
            }
        } else if self.retried(ErrorClass::Unknown) && !self.caps.contains_key(&ErrorClass::Unknown)
        {
            out.push(
                Diagnostic::warning("W008", "max_unknown_attempts", "UNKNOWN failures are not capped: an unclassified bug is retried like an outage")
                    .with_help("cap them (`max_unknown_attempts = 2` is the default) and classify the errors you expect"),
            );
        }
    }

    fn budget_rules(&self, out: &mut Vec<Diagnostic>) {
        let Some(budget) = &self.budget else {
            return;
        };
        let window = match budget {
            BudgetView::Known(b) => Some(b.window()),
            BudgetView::Opaque { window } => *window,
        };
        if let BudgetView::Known(b) = budget {
            match b {
                BudgetConfig::Rolling { max_retries: 0, .. } => out.push(
                    Diagnostic::warning("W020", "budget.max_retries", "the budget allows 0 retries: every retry is refused")
                        .with_help("allow some retries per window (e.g. `max_retries = 100`), or remove the budget"),
                ),
                BudgetConfig::Ratio { ratio, min_per_second, window } => {
                    // A ratio out of range is core's error (E011).
                    if ratio.is_finite() && (0.0..=1000.0).contains(ratio) {
                        let reserve = f64::from(*min_per_second) * window.as_secs_f64();
                        if *ratio == 0.0 && reserve < 1.0 {
                            out.push(
                                Diagnostic::warning("W020", "budget.ratio", "the budget earns no retries: ratio is 0 and min_per_second gives none per window")
                                    .with_help("raise ratio (e.g. 0.2) or min_per_second, or remove the budget"),
                            );
                        }
                        if *ratio > 1.0 {
                            out.push(
                                Diagnostic::warning("W018", "budget.ratio", format!("the budget allows {ratio} retries per call: retries may outnumber calls"))
                                    .with_help("a retry budget protects a dependency when it is small: 0.1 to 0.2"),
                            );
                        }
                    }
                }
                BudgetConfig::Rolling { .. } => {}
            }
        }
        if let Some(window) = window {
            if !window.is_zero() && window < self.deadline {
                out.push(
                    Diagnostic::warning(
                        "W011",
                        "budget.window",
                        format!(
                            "the budget window ({}) is shorter than the deadline ({}): one slow call can outlive the budget's memory",
                            fmt_d(window),
                            fmt_d(self.deadline)
                        ),
                    )
                    .with_help("make the window at least as long as the deadline"),
                );
            }
        }
    }

    fn breaker_rules(&self, out: &mut Vec<Diagnostic>) {
        let Some(Some(b)) = &self.breaker else {
            return;
        };
        for (class, threshold) in &b.class_thresholds {
            let path = format!("circuit_breaker.class_thresholds.{}", class.name());
            // A threshold of 0 is core's error (E013).
            if *threshold > 0 && b.failure_threshold > 0 && *threshold >= b.failure_threshold {
                out.push(
                    Diagnostic::warning(
                        "W019",
                        path,
                        format!(
                            "the {class} threshold ({threshold}) is not below failure_threshold ({}): {class} failures count toward both, so it never trips first",
                            b.failure_threshold
                        ),
                    )
                    .with_help("lower the class threshold, or remove it and list the class in trip_on"),
                );
            }
        }
        if b.trip_on.is_empty() && b.class_thresholds.is_empty() {
            out.push(
                Diagnostic::warning("W017", "circuit_breaker.trip_on", "trip_on is empty and no class has a threshold: the breaker can never open")
                    .with_help("list the classes that mean the dependency is down, e.g. `trip_on = [\"TRANSIENT\", \"SERVER_ERROR\"]`"),
            );
        }
        if let Some(timeout) = self.attempt_timeout {
            if !timeout.is_zero() && !b.recovery_timeout.is_zero() && b.recovery_timeout < timeout {
                out.push(
                    Diagnostic::warning(
                        "W012",
                        "circuit_breaker.recovery_timeout",
                        format!(
                            "recovery_timeout ({}) is shorter than one attempt_timeout ({}): the breaker probes again before a hung attempt would even time out",
                            fmt_d(b.recovery_timeout),
                            fmt_d(timeout)
                        ),
                    )
                    .with_help("make recovery_timeout longer than attempt_timeout"),
                );
            }
        }
    }

    fn class_rules(&self, out: &mut Vec<Diagnostic>) {
        for (class, cap) in &self.caps {
            let path = format!("per_class_max_attempts.{}", class.name());
            if !class.is_retryable() {
                out.push(
                    Diagnostic::warning(
                        "W006",
                        path,
                        format!("{class} is never retried, so a cap on it has no effect"),
                    )
                    .with_help(
                        "remove it: AUTH, PERMISSION and PERMANENT failures stop the call at once",
                    ),
                );
            } else if self.max_attempts > 0 && *cap >= self.max_attempts {
                out.push(
                    Diagnostic::warning(
                        "W003",
                        path,
                        format!(
                            "the {class} cap ({cap}) is not below max_attempts ({}): it can never stop a call",
                            self.max_attempts
                        ),
                    )
                    .with_help(format!(
                        "a cap limits failures of one class: lower it below {}, or remove it",
                        self.max_attempts
                    )),
                );
            }
        }
        for class in self.strategies.keys() {
            let why = if !class.is_retryable() {
                Some(format!("{class} is never retried"))
            } else if self.caps.get(class) == Some(&0) {
                Some(format!("the {class} cap is 0, so it is never retried"))
            } else if *class == ErrorClass::Unknown && self.max_unknown == Some(0) {
                Some("max_unknown_attempts is 0, so UNKNOWN is never retried".to_owned())
            } else {
                None
            };
            if let Some(why) = why {
                out.push(
                    Diagnostic::warning(
                        "W005",
                        format!("strategies.{}", class.name()),
                        format!("{why}: its strategy is never used"),
                    )
                    .with_help("remove the strategy, or the rule that stops the class"),
                );
            }
        }
        if self.default.is_none() && !self.strategies.is_empty() {
            let orphans: Vec<&str> = ErrorClass::ALL
                .into_iter()
                .filter(|c| self.can_retry_class(*c) && !self.strategies.contains_key(c))
                .map(ErrorClass::name)
                .collect();
            if !orphans.is_empty() {
                out.push(
                    Diagnostic::warning(
                        "W016",
                        "strategy",
                        format!(
                            "no default strategy: {} failures are never retried (they stop with NO_STRATEGY)",
                            orphans.join(", ")
                        ),
                    )
                    .with_help("add a default `strategy`, or strategies for those classes"),
                );
            }
        }
        if !self.stop_on_long_hint {
            if let Some((path, _)) = self
                .used_strategies()
                .into_iter()
                .find(|(_, s)| honors_hints(s))
            {
                out.push(
                    Diagnostic::warning(
                        "W021",
                        path,
                        "this strategy honours Retry-After, but a hint longer than the time left makes the call sleep to its deadline and send one last request the server will most likely refuse",
                    )
                    .with_help("set `stop_when_retry_after_exceeds_deadline = true` to stop at once (RETRY_AFTER_BEYOND_DEADLINE), with the hint as the outcome's next_delay"),
                );
            }
        }
        if self.retried(ErrorClass::RateLimit) {
            let own = self.strategies.contains_key(&ErrorClass::RateLimit);
            let honors = self
                .strategy_for(ErrorClass::RateLimit)
                .is_none_or(honors_hints);
            if !honors {
                let path = if own {
                    "strategies.RATE_LIMIT"
                } else {
                    "strategy"
                };
                out.push(
                    Diagnostic::warning("W013", path, "RATE_LIMIT failures are retried without honoring the server's Retry-After")
                        .with_help("set `strategies.RATE_LIMIT = { kind = \"retry_after_or\", fallback = { kind = \"decorrelated_jitter\", max = \"30s\" } }`"),
                );
            }
        }
    }

    fn timing_rules(&self, out: &mut Vec<Diagnostic>) {
        if let Some(timeout) = self.attempt_timeout {
            if !timeout.is_zero() && !self.deadline.is_zero() && timeout >= self.deadline {
                out.push(
                    Diagnostic::warning(
                        "W002",
                        "attempt_timeout",
                        format!(
                            "attempt_timeout ({}) is not below the deadline ({}): one slow attempt uses up the whole call",
                            fmt_d(timeout),
                            fmt_d(self.deadline)
                        ),
                    )
                    .with_help("make attempt_timeout a fraction of the deadline, so a retry has time to run"),
                );
            }
        }
        if self.deadline.is_zero() {
            return;
        }
        for (path, strat) in self.used_strategies() {
            let Strat::Known(s) = strat else {
                if let Strat::Opaque {
                    max_delay: Some(max),
                    ..
                } = strat
                {
                    if *max > self.deadline {
                        out.push(cap_above_deadline(&path, *max, self.deadline));
                    }
                }
                continue;
            };
            // A strategy core refuses gets its error, not timing warnings.
            if s.to_backoff().validate().is_err() {
                continue;
            }
            let first = first_min(s);
            if first >= self.deadline {
                out.push(
                    Diagnostic::warning(
                        "W001",
                        path.clone(),
                        format!(
                            "the deadline ({}) cannot fit the first retry's minimum delay ({}): at most one retry, cut short",
                            fmt_d(self.deadline),
                            fmt_d(first)
                        ),
                    )
                    .with_help("raise the deadline, or lower the strategy's base delay"),
                );
            } else if let Some((max_path, max)) = largest_delay(s, &path) {
                if max > self.deadline {
                    out.push(cap_above_deadline(&max_path, max, self.deadline));
                }
            }
            if all_zero(s) {
                out.push(
                    Diagnostic::warning(
                        "W014",
                        path.clone(),
                        "every delay of this strategy is zero: retries run back to back",
                    )
                    .with_help(
                        "wait between attempts (even 10ms of jitter), or set `max_attempts = 1`",
                    ),
                );
            }
        }
        for (path, strat) in self.all_strategies() {
            if let Strat::Known(s) = strat {
                walk(s, &path, &mut |s, p| {
                    if matches!(s, StrategyConfig::Exponential { .. }) {
                        out.push(
                            Diagnostic::warning("W010", p.to_owned(), "exponential backoff without jitter: clients that fail together retry together")
                                .with_help("use a jittered strategy: decorrelated_jitter, equal_jitter or full_jitter"),
                        );
                    }
                });
            }
        }
    }
}

/// Whether a strategy honours retry-after hints (a `retry_after_or` at any
/// depth, or a custom strategy that says it does).
fn honors_hints(strategy: &Strat) -> bool {
    match strategy {
        Strat::Known(s) => {
            let mut honors = false;
            walk(s, "", &mut |s, _| {
                honors |= matches!(s, StrategyConfig::RetryAfterOr { .. });
            });
            honors
        }
        Strat::Opaque {
            honors_retry_after, ..
        } => *honors_retry_after,
    }
}

fn cap_above_deadline(path: &str, max: Duration, deadline: Duration) -> Diagnostic {
    Diagnostic::warning(
        "W007",
        path,
        format!(
            "the strategy can wait up to {}, more than the deadline ({}): one wait can use up the whole call",
            fmt_d(max),
            fmt_d(deadline)
        ),
    )
    .with_help("cap the strategy well below the deadline, or raise the deadline")
}

/// Calls `f` on `s` and every strategy nested in it, with its path.
fn walk(s: &StrategyConfig, path: &str, f: &mut impl FnMut(&StrategyConfig, &str)) {
    f(s, path);
    if let StrategyConfig::RetryAfterOr { fallback, .. }
    | StrategyConfig::Adaptive { fallback, .. } = s
    {
        walk(fallback, &join_path(path, "fallback"), f);
    }
}

fn secs(x: f64) -> Duration {
    if x.is_nan() || x <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(x).unwrap_or(Duration::MAX)
    }
}

fn half(d: Duration) -> Duration {
    d.checked_div(2).unwrap_or_default()
}

/// The smallest delay the first retry can get (without a retry-after hint).
fn first_min(s: &StrategyConfig) -> Duration {
    match s {
        StrategyConfig::DecorrelatedJitter { base, max }
        | StrategyConfig::Exponential { base, max, .. } => (*base).min(*max),
        StrategyConfig::EqualJitter { base, max } => half(base.saturating_mul(2).min(*max)),
        StrategyConfig::TokenBackoff { base, max } => {
            half(secs(base.as_secs_f64() * 1.5).min(*max))
        }
        StrategyConfig::FullJitter { .. } => Duration::ZERO,
        StrategyConfig::Constant { delay } => *delay,
        StrategyConfig::Schedule { delays } => delays.first().copied().unwrap_or_default(),
        StrategyConfig::RetryAfterOr { fallback, .. } => first_min(fallback),
        StrategyConfig::Adaptive {
            fallback,
            min_multiplier,
            ..
        } => secs(first_min(fallback).as_secs_f64() * min_multiplier),
    }
}

/// The largest delay the strategy can return (without hints), and the
/// key that sets it.
fn largest_delay(s: &StrategyConfig, path: &str) -> Option<(String, Duration)> {
    match s {
        StrategyConfig::DecorrelatedJitter { max, .. }
        | StrategyConfig::EqualJitter { max, .. }
        | StrategyConfig::FullJitter { max, .. }
        | StrategyConfig::TokenBackoff { max, .. }
        | StrategyConfig::Exponential { max, .. } => Some((join_path(path, "max"), *max)),
        StrategyConfig::Constant { delay } => Some((join_path(path, "delay"), *delay)),
        StrategyConfig::Schedule { delays } => {
            Some((join_path(path, "delays"), delays.iter().copied().max()?))
        }
        StrategyConfig::RetryAfterOr { fallback, .. } => {
            largest_delay(fallback, &join_path(path, "fallback"))
        }
        StrategyConfig::Adaptive {
            fallback,
            max_multiplier,
            ..
        } => {
            let (inner_path, inner) = largest_delay(fallback, &join_path(path, "fallback"))?;
            let stretched = secs(inner.as_secs_f64() * max_multiplier);
            let key = if stretched > inner {
                join_path(path, "max_multiplier")
            } else {
                inner_path
            };
            Some((key, stretched))
        }
    }
}

/// Whether every delay (without hints) is zero.
fn all_zero(s: &StrategyConfig) -> bool {
    match s {
        StrategyConfig::Constant { delay } => delay.is_zero(),
        StrategyConfig::Schedule { delays } => {
            !delays.is_empty() && delays.iter().all(Duration::is_zero)
        }
        StrategyConfig::RetryAfterOr { fallback, .. }
        | StrategyConfig::Adaptive { fallback, .. } => all_zero(fallback),
        // A zero base is core's error (E006).
        _ => false,
    }
}
