//! Writing out: a built [`Policy`] back to a [`PolicyConfig`], and configs
//! to TOML and JSON.
//!
//! Everything built in is data and can be written out; a custom strategy,
//! budget or breaker is code and cannot, which [`ExportError`] says
//! (naming the key).

use core::fmt;
use core::fmt::Write as _;
use core::time::Duration;

use redress_core::{Breaker, Budget, ErrorClass, Policy};
use serde::ser::{SerializeMap, Serializer};

use crate::duration::format_duration;
use crate::load::{POLICY_KEYS, join_path, segment, toml_quoted};
use crate::model::{
    BreakerConfig, BudgetConfig, ConfigFile, ParamValue, PolicyConfig, StrategyConfig,
};

/// Why a policy cannot be written out as configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportError {
    /// A custom strategy (a closure or a [`Strategy`](redress_core::Strategy)
    /// implementation) is code, not data.
    CustomStrategy {
        /// Its key: `strategy` or `strategies.CLASS`.
        path: String,
    },
    /// A custom [`Budget`] implementation.
    CustomBudget,
    /// A custom [`Breaker`] implementation.
    CustomBreaker,
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::CustomStrategy { path } => write!(
                f,
                "{path}: a custom strategy is code and cannot be written as configuration \
                 (only the built-in strategies can)"
            ),
            ExportError::CustomBudget => f.write_str(
                "budget: a custom budget cannot be written as configuration \
                 (only the rolling and ratio budgets can)",
            ),
            ExportError::CustomBreaker => f.write_str(
                "circuit_breaker: a custom breaker cannot be written as configuration \
                 (only CircuitBreaker can)",
            ),
        }
    }
}

impl std::error::Error for ExportError {}

/// A budget's config when it is a built-in one, and its window either way.
pub(crate) fn budget_view(
    budget: &(dyn Budget + Send + Sync),
) -> (Option<BudgetConfig>, Option<Duration>) {
    let known = if let Some(b) = budget.as_rolling() {
        Some(BudgetConfig::Rolling {
            max_retries: u32::try_from(b.max_retries()).unwrap_or(u32::MAX),
            window: b.window(),
        })
    } else {
        budget.as_ratio().map(|b| BudgetConfig::Ratio {
            ratio: b.ratio(),
            min_per_second: b.min_per_second(),
            window: b.window(),
        })
    };
    (known, budget.window())
}

/// A breaker's config when it is a [`CircuitBreaker`](redress_core::CircuitBreaker).
pub(crate) fn breaker_config(breaker: &(dyn Breaker + Send + Sync)) -> Option<BreakerConfig> {
    let b = breaker.as_circuit_breaker()?;
    Some(BreakerConfig {
        failure_threshold: u32::try_from(b.failure_threshold()).unwrap_or(u32::MAX),
        window: b.window(),
        recovery_timeout: b.recovery_timeout(),
        trip_on: ErrorClass::ALL
            .into_iter()
            .filter(|c| b.trips_on(*c))
            .collect(),
        class_thresholds: ErrorClass::ALL
            .into_iter()
            .filter_map(|c| Some((c, b.class_threshold(c)?)))
            .collect(),
    })
}

impl PolicyConfig {
    /// The configuration of a built policy (its classifiers are code and
    /// are left out). Classes a breaker has a threshold for are listed in
    /// its `trip_on`, as the engine counts them.
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::backoff::{decorrelated_jitter, retry_after_or};
    /// use redress_core::{ErrorClass, Policy};
    /// use redress_config::PolicyConfig;
    ///
    /// let policy = Policy::builder()
    ///     .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
    ///     .class_strategy(ErrorClass::RateLimit, retry_after_or(decorrelated_jitter()))
    ///     .max_attempts(4)
    ///     .build()?;
    /// let config = PolicyConfig::from_policy(&policy)?;
    /// assert_eq!(config.max_attempts, 4);
    /// assert!(config.to_toml_string().starts_with("deadline = \"1m\"\nmax_attempts = 4\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_policy<C, R>(policy: &Policy<C, R>) -> Result<PolicyConfig, ExportError> {
        let retry = policy.retry();
        let strategy = |b: &redress_core::Backoff, path: String| {
            StrategyConfig::from_backoff(b).ok_or(ExportError::CustomStrategy { path })
        };
        let mut config = PolicyConfig {
            deadline: retry.deadline(),
            max_attempts: retry.max_attempts(),
            max_unknown_attempts: retry.max_unknown_attempts(),
            attempt_timeout: retry.attempt_timeout(),
            stop_when_retry_after_exceeds_deadline: retry.stops_when_retry_after_exceeds_deadline(),
            ..PolicyConfig::default()
        };
        for class in ErrorClass::ALL {
            if let Some(cap) = retry.class_max_attempts(class) {
                config.per_class_max_attempts.insert(class, cap);
            }
            if let Some(b) = retry.class_strategy(class) {
                let path = format!("strategies.{}", class.name());
                config.strategies.insert(class, strategy(b, path)?);
            }
        }
        if let Some(b) = retry.default_strategy() {
            config.strategy = Some(strategy(b, "strategy".to_owned())?);
        }
        if let Some(budget) = retry.budget() {
            config.budget = Some(budget_view(budget).0.ok_or(ExportError::CustomBudget)?);
        }
        if let Some(breaker) = policy.circuit_breaker() {
            config.circuit_breaker =
                Some(breaker_config(breaker).ok_or(ExportError::CustomBreaker)?);
        }
        Ok(config)
    }

    /// The policy as TOML (the settings at the top level), every value
    /// explicit. Loading the text gives the same config back.
    pub fn to_toml_string(&self) -> String {
        let mut out = String::new();
        write_policy(&mut out, self, "");
        out
    }

    /// The policy as pretty JSON, every value explicit (the structure of
    /// the TOML form).
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl ConfigFile {
    /// The file as TOML, every value explicit.
    ///
    /// ```
    /// use redress_config::ConfigFile;
    ///
    /// let file = ConfigFile::from_toml_str(r#"
    ///     [policies.search]
    ///     strategy = "full_jitter"
    /// "#)?;
    /// let text = file.to_toml_string();
    /// assert!(text.starts_with("[policies.search]\ndeadline = \"1m\"\n"));
    /// assert_eq!(ConfigFile::from_toml_str(&text)?, file);
    /// # Ok::<(), redress_config::LoadError>(())
    /// ```
    pub fn to_toml_string(&self) -> String {
        match self {
            ConfigFile::Single(config) => config.to_toml_string(),
            ConfigFile::Named(map) => {
                let mut out = String::new();
                for (name, config) in map {
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    let prefix = join_path("policies", &segment(name));
                    let _ = writeln!(out, "[{prefix}]");
                    write_policy(&mut out, config, &prefix);
                }
                out
            }
        }
    }

    /// The file as pretty JSON.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn quoted(s: &str) -> String {
    toml_quoted(s)
}

fn float(x: f64) -> String {
    if x.is_nan() {
        "nan".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{x:?}")
    }
}

fn duration(d: Duration) -> String {
    quoted(&format_duration(d))
}

/// A strategy as a TOML inline table.
fn inline_strategy(s: &StrategyConfig) -> String {
    let mut fields = vec![format!("kind = {}", quoted(s.kind().name()))];
    for (name, value) in s.param_values() {
        let value = match value {
            ParamValue::Duration(d) => duration(d),
            ParamValue::Number(x) => float(x),
            ParamValue::Delays(delays) => {
                let list: Vec<String> = delays.iter().map(|d| duration(*d)).collect();
                format!("[{}]", list.join(", "))
            }
            ParamValue::Fallback(fallback) => inline_strategy(fallback),
        };
        fields.push(format!("{name} = {value}"));
    }
    format!("{{ {} }}", fields.join(", "))
}

fn class_table<T>(
    map: &std::collections::BTreeMap<ErrorClass, T>,
    value: impl Fn(&T) -> String,
) -> String {
    let fields: Vec<String> = map
        .iter()
        .map(|(class, v)| format!("{} = {}", class.name(), value(v)))
        .collect();
    if fields.is_empty() {
        "{}".to_owned()
    } else {
        format!("{{ {} }}", fields.join(", "))
    }
}

fn write_policy(out: &mut String, c: &PolicyConfig, prefix: &str) {
    let _ = writeln!(out, "deadline = {}", duration(c.deadline));
    let _ = writeln!(out, "max_attempts = {}", c.max_attempts);
    match c.max_unknown_attempts {
        Some(cap) => {
            let _ = writeln!(out, "max_unknown_attempts = {cap}");
        }
        None => out.push_str("max_unknown_attempts = \"unlimited\"\n"),
    }
    if let Some(timeout) = c.attempt_timeout {
        let _ = writeln!(out, "attempt_timeout = {}", duration(timeout));
    }
    if c.stop_when_retry_after_exceeds_deadline {
        out.push_str("stop_when_retry_after_exceeds_deadline = true\n");
    }
    if let Some(s) = &c.strategy {
        let _ = writeln!(out, "strategy = {}", inline_strategy(s));
    }
    if !c.per_class_max_attempts.is_empty() {
        let caps = class_table(&c.per_class_max_attempts, u32::to_string);
        let _ = writeln!(out, "per_class_max_attempts = {caps}");
    }
    if !c.strategies.is_empty() {
        let _ = writeln!(out, "\n[{}]", join_path(prefix, "strategies"));
        for (class, s) in &c.strategies {
            let _ = writeln!(out, "{} = {}", class.name(), inline_strategy(s));
        }
    }
    if let Some(budget) = &c.budget {
        let _ = writeln!(out, "\n[{}]", join_path(prefix, "budget"));
        let _ = writeln!(out, "kind = {}", quoted(budget.kind()));
        match budget {
            BudgetConfig::Rolling {
                max_retries,
                window,
            } => {
                let _ = writeln!(out, "max_retries = {max_retries}");
                let _ = writeln!(out, "window = {}", duration(*window));
            }
            BudgetConfig::Ratio {
                ratio,
                min_per_second,
                window,
            } => {
                let _ = writeln!(out, "ratio = {}", float(*ratio));
                let _ = writeln!(out, "min_per_second = {min_per_second}");
                let _ = writeln!(out, "window = {}", duration(*window));
            }
        }
    }
    if let Some(b) = &c.circuit_breaker {
        let _ = writeln!(out, "\n[{}]", join_path(prefix, "circuit_breaker"));
        let _ = writeln!(out, "failure_threshold = {}", b.failure_threshold);
        let _ = writeln!(out, "window = {}", duration(b.window));
        let _ = writeln!(out, "recovery_timeout = {}", duration(b.recovery_timeout));
        let trip_on: Vec<String> = b.trip_on.iter().map(|c| quoted(c.name())).collect();
        let _ = writeln!(out, "trip_on = [{}]", trip_on.join(", "));
        let _ = writeln!(
            out,
            "class_thresholds = {}",
            class_table(&b.class_thresholds, u32::to_string)
        );
    }
}

/// Durations as strings, as files write them.
struct AsDuration(Duration);

impl serde::Serialize for AsDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

/// Class-keyed maps with class names as keys.
struct ByClass<'a, T>(&'a std::collections::BTreeMap<ErrorClass, T>);

impl<T: serde::Serialize> serde::Serialize for ByClass<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (class, value) in self.0 {
            map.serialize_entry(class.name(), value)?;
        }
        map.end()
    }
}

/// The structure of the TOML form: keys in file order, durations as
/// strings, `"unlimited"` for no unknown cap, empty tables kept.
impl serde::Serialize for PolicyConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        // Declared once, in `POLICY_KEYS` order.
        for key in POLICY_KEYS {
            match key {
                "deadline" => map.serialize_entry(key, &AsDuration(self.deadline))?,
                "max_attempts" => map.serialize_entry(key, &self.max_attempts)?,
                "max_unknown_attempts" => match self.max_unknown_attempts {
                    Some(cap) => map.serialize_entry(key, &cap)?,
                    None => map.serialize_entry(key, "unlimited")?,
                },
                "attempt_timeout" => {
                    if let Some(t) = self.attempt_timeout {
                        map.serialize_entry(key, &AsDuration(t))?;
                    }
                }
                "stop_when_retry_after_exceeds_deadline" => {
                    if self.stop_when_retry_after_exceeds_deadline {
                        map.serialize_entry(key, &true)?;
                    }
                }
                "per_class_max_attempts" => {
                    map.serialize_entry(key, &ByClass(&self.per_class_max_attempts))?;
                }
                "strategy" => {
                    if let Some(strategy) = &self.strategy {
                        map.serialize_entry(key, strategy)?;
                    }
                }
                "strategies" => map.serialize_entry(key, &ByClass(&self.strategies))?,
                "budget" => {
                    if let Some(budget) = &self.budget {
                        map.serialize_entry(key, budget)?;
                    }
                }
                _ => {
                    if let Some(breaker) = &self.circuit_breaker {
                        map.serialize_entry(key, breaker)?;
                    }
                }
            }
        }
        map.end()
    }
}

impl serde::Serialize for StrategyConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("kind", self.kind().name())?;
        for (name, value) in self.param_values() {
            match value {
                ParamValue::Duration(d) => map.serialize_entry(name, &AsDuration(d))?,
                ParamValue::Number(x) => map.serialize_entry(name, &x)?,
                ParamValue::Delays(delays) => {
                    let list: Vec<String> = delays.iter().map(|d| format_duration(*d)).collect();
                    map.serialize_entry(name, &list)?;
                }
                ParamValue::Fallback(fallback) => map.serialize_entry(name, fallback)?,
            }
        }
        map.end()
    }
}

impl serde::Serialize for BudgetConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("kind", self.kind())?;
        match self {
            BudgetConfig::Rolling {
                max_retries,
                window,
            } => {
                map.serialize_entry("max_retries", max_retries)?;
                map.serialize_entry("window", &AsDuration(*window))?;
            }
            BudgetConfig::Ratio {
                ratio,
                min_per_second,
                window,
            } => {
                map.serialize_entry("ratio", ratio)?;
                map.serialize_entry("min_per_second", min_per_second)?;
                map.serialize_entry("window", &AsDuration(*window))?;
            }
        }
        map.end()
    }
}

impl serde::Serialize for BreakerConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("failure_threshold", &self.failure_threshold)?;
        map.serialize_entry("window", &AsDuration(self.window))?;
        map.serialize_entry("recovery_timeout", &AsDuration(self.recovery_timeout))?;
        let trip_on: Vec<&str> = self.trip_on.iter().map(|c| c.name()).collect();
        map.serialize_entry("trip_on", &trip_on)?;
        map.serialize_entry("class_thresholds", &ByClass(&self.class_thresholds))?;
        map.end()
    }
}

/// A single policy as its settings; named ones under `policies`.
impl serde::Serialize for ConfigFile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ConfigFile::Single(config) => config.serialize(s),
            ConfigFile::Named(policies) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("policies", policies)?;
                map.end()
            }
        }
    }
}
