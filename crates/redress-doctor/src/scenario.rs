//! The scenario model: a policy plus a script of calls and attempt outcomes.
//!
//! The format is the one of the shared conformance suite (see
//! `conformance/README.md` at the repository root). Parsing is strict: an
//! unknown key, an unknown class name, an unknown strategy kind or a number
//! out of range is an error that names the offending key by its path
//! (`policy.strategies.RATE_LIMIT.kind`, `calls[0].attempts[2].error`), so a
//! typo never silently changes what a scenario tests.
//!
//! Times are seconds in the file and [`Duration`]s here, converted by
//! rounding to the nearest nanosecond: `0.3` is exactly 300 ms, and sums of
//! decimal times stay exact (the reference sums floats instead; scenarios
//! should not depend on the difference).

use core::fmt;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use redress_core::ErrorClass;
use serde_json::{Map, Value};

/// A parsed, validated scenario.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Scenario {
    /// The scenario's name (informative; the file name identifies it).
    pub name: Option<String>,
    /// What the scenario checks, for readers (not part of the shared format:
    /// an extension of this suite, ignored by the reference runner).
    pub description: Option<String>,
    /// The policy every call runs under.
    pub policy: PolicySpec,
    /// The calls, in order.
    pub calls: Vec<CallSpec>,
}

/// The policy of a scenario.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PolicySpec {
    /// Total time allowed per call (`deadline_s`, default 60 s; never zero).
    pub deadline: Duration,
    /// Attempts allowed per call, the first included (default 6; at least 1).
    pub max_attempts: u32,
    /// `UNKNOWN` failures tolerated (default 2; `None` when the file says
    /// `null`: no cap).
    pub max_unknown_attempts: Option<u32>,
    /// Per-class caps on failures.
    pub per_class_max_attempts: BTreeMap<ErrorClass, u32>,
    /// How long one attempt may run (`attempt_timeout_s`; an extension of the
    /// shared format: the reference has the setting, `reference.py` does not
    /// pass it). An attempt scripted to take longer times out.
    pub attempt_timeout: Option<Duration>,
    /// The default strategy.
    pub strategy: Option<StrategySpec>,
    /// Per-class strategies (they win over the default).
    pub strategies: BTreeMap<ErrorClass, StrategySpec>,
    /// A retry budget shared by all calls.
    pub budget: Option<BudgetSpec>,
    /// A circuit breaker shared by all calls.
    pub circuit_breaker: Option<BreakerSpec>,
}

/// A deterministic backoff strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StrategySpec {
    /// `{"kind": "constant", "delay_s": D}`: the same delay every time.
    Constant {
        /// The delay.
        delay: Duration,
    },
    /// `{"kind": "sequence", "delays_s": [..]}`: attempt `n` waits the
    /// `n`-th delay, then the last one repeats. Never empty.
    Sequence {
        /// The delays.
        delays: Vec<Duration>,
    },
    /// `{"kind": "retry_after_or", "fallback": {..}}`: the classification's
    /// retry-after hint (no jitter) when present, else the fallback.
    RetryAfterOr {
        /// Used when there is no hint.
        fallback: Box<StrategySpec>,
    },
}

impl StrategySpec {
    /// The strategy kinds a scenario may name.
    pub const KINDS: [&'static str; 3] = ["constant", "sequence", "retry_after_or"];
}

/// A retry budget: at most `max_retries` retries per rolling `window`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetSpec {
    /// Retries allowed in one window (`max_retries`).
    pub max_retries: u32,
    /// The window's length (`window_s`, more than zero).
    pub window: Duration,
}

/// A circuit breaker.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerSpec {
    /// Failures in the window that open the breaker (default 5; at least 1).
    pub failure_threshold: u32,
    /// The rolling window failures are counted in (default 60 s).
    pub window: Duration,
    /// How long the breaker stays open before a probe (default 30 s).
    pub recovery_timeout: Duration,
    /// The classes whose failures count (default `TRANSIENT`,
    /// `SERVER_ERROR`).
    pub trip_on: BTreeSet<ErrorClass>,
    /// Classes with a threshold of their own (each at least 1).
    pub class_thresholds: BTreeMap<ErrorClass, u32>,
}

/// One call of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallSpec {
    /// When the call starts (`at_s`, default 0), or when the previous call
    /// ended if that is later.
    pub at: Duration,
    /// The operation name the call is made under.
    pub operation: Option<String>,
    /// The scripted attempts; when they run out the last one repeats. Never
    /// empty.
    pub attempts: Vec<AttemptSpec>,
}

impl CallSpec {
    /// The script entry for the attempt with 0-based index `index`: the last
    /// entry repeats past the end.
    pub fn entry(&self, index: usize) -> Option<&AttemptSpec> {
        self.attempts.get(index).or_else(|| self.attempts.last())
    }
}

/// One scripted attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptSpec {
    /// Virtual time the attempt takes (`duration_s`, default 0).
    pub duration: Duration,
    /// How it ends.
    pub outcome: ScriptedOutcome,
}

/// How a scripted attempt ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptedOutcome {
    /// `{"ok": true}`: success.
    Ok,
    /// `{"error": CLASS}`: an error that classifies as `class`.
    Error {
        /// Its class.
        class: ErrorClass,
        /// Its retry-after hint (`retry_after_s`).
        retry_after: Option<Duration>,
    },
    /// `{"result": CLASS}`: a value the result classifier flags as `class`.
    Result {
        /// Its class.
        class: ErrorClass,
        /// Its retry-after hint (`retry_after_s`).
        retry_after: Option<Duration>,
    },
}

/// Why a scenario could not be loaded.
#[derive(Debug)]
pub struct ScenarioError {
    file: Option<PathBuf>,
    kind: ScenarioErrorKind,
}

/// What went wrong in a [`ScenarioError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ScenarioErrorKind {
    /// The file could not be read.
    Read(std::io::Error),
    /// The text is not JSON.
    Json(serde_json::Error),
    /// The JSON is not a valid scenario.
    Invalid {
        /// The offending key, as a path (`policy.strategy.kind`); empty for
        /// the document itself.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl ScenarioError {
    /// The file the scenario came from, when it came from one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &ScenarioErrorKind {
        &self.kind
    }

    /// The offending key's path, when the JSON was read but is not a valid
    /// scenario.
    pub fn key(&self) -> Option<&str> {
        match &self.kind {
            ScenarioErrorKind::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    fn invalid(key: &str, problem: impl Into<String>) -> Self {
        ScenarioError {
            file: None,
            kind: ScenarioErrorKind::Invalid {
                key: key.to_owned(),
                problem: problem.into(),
            },
        }
    }

    fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_owned());
        self
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        match &self.kind {
            ScenarioErrorKind::Read(e) => write!(f, "cannot read the scenario: {e}"),
            ScenarioErrorKind::Json(e) => write!(f, "not valid JSON: {e}"),
            ScenarioErrorKind::Invalid { key, problem } if key.is_empty() => f.write_str(problem),
            ScenarioErrorKind::Invalid { key, problem } => write!(f, "{key}: {problem}"),
        }
    }
}

impl std::error::Error for ScenarioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ScenarioErrorKind::Read(e) => Some(e),
            ScenarioErrorKind::Json(e) => Some(e),
            ScenarioErrorKind::Invalid { .. } => None,
        }
    }
}

impl Scenario {
    /// Reads and validates the scenario in `path`; errors name the file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: Some(path.to_owned()),
            kind: ScenarioErrorKind::Read(e),
        })?;
        Scenario::from_json(&text).map_err(|e| e.in_file(path))
    }

    /// Parses and validates a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ScenarioError {
            file: None,
            kind: ScenarioErrorKind::Json(e),
        })?;
        Scenario::from_value(&value)
    }

    /// Validates a scenario already parsed as JSON.
    pub fn from_value(value: &Value) -> Result<Scenario, ScenarioError> {
        let doc = Obj::new(
            value,
            "",
            &["name", "description", "policy", "calls"],
            "a scenario",
        )?;
        let name = doc.opt("name").map(|v| v.string()).transpose()?;
        let description = doc.opt("description").map(|v| v.string()).transpose()?;
        let policy = policy(&doc.req("policy")?)?;
        let calls = doc
            .req("calls")?
            .array()?
            .into_iter()
            .map(|call| call_spec(&call))
            .collect::<Result<_, _>>()?;
        Ok(Scenario {
            name,
            description,
            policy,
            calls,
        })
    }

    /// The sections of the scenario's policy that keep state shared by all
    /// calls (`budget`, `circuit_breaker`).
    pub fn shared_state_sections(&self) -> Vec<&'static str> {
        self.policy.shared_state_sections()
    }
}

impl PolicySpec {
    /// The sections present that keep state shared by all calls: `budget`
    /// and `circuit_breaker`.
    pub fn shared_state_sections(&self) -> Vec<&'static str> {
        let mut used = Vec::new();
        if self.budget.is_some() {
            used.push("budget");
        }
        if self.circuit_breaker.is_some() {
            used.push("circuit_breaker");
        }
        used
    }
}

fn policy(node: &Node<'_>) -> Result<PolicySpec, ScenarioError> {
    let p = node.object(
        &[
            "deadline_s",
            "max_attempts",
            "max_unknown_attempts",
            "per_class_max_attempts",
            "attempt_timeout_s",
            "strategy",
            "strategies",
            "budget",
            "circuit_breaker",
        ],
        "a policy",
    )?;
    let deadline = match p.opt("deadline_s") {
        Some(v) => v.positive_seconds()?,
        None => Duration::from_secs(60),
    };
    let max_attempts = match p.opt("max_attempts") {
        Some(v) => {
            let n = v.count()?;
            if n == 0 {
                return Err(v.problem(
                    "must be at least 1 (the first attempt counts); use 1 for no retries",
                ));
            }
            n
        }
        None => 6,
    };
    // `null` is meaningful here: no cap.
    let max_unknown_attempts = match p.raw("max_unknown_attempts") {
        None => Some(2),
        Some(v) if v.value.is_null() => None,
        Some(v) => Some(v.count()?),
    };
    let per_class_max_attempts = match p.opt("per_class_max_attempts") {
        Some(v) => v.class_map(|n| n.count())?,
        None => BTreeMap::new(),
    };
    let attempt_timeout = p
        .opt("attempt_timeout_s")
        .map(|v| v.positive_seconds())
        .transpose()?;
    let default_strategy = p.opt("strategy").map(|v| strategy(&v)).transpose()?;
    let strategies = match p.opt("strategies") {
        Some(v) => v.class_map(strategy)?,
        None => BTreeMap::new(),
    };
    if default_strategy.is_none() && strategies.is_empty() {
        return Err(node.problem(
            "needs a default `strategy` or per-class `strategies` (or both), like the reference",
        ));
    }
    let budget = p.opt("budget").map(|v| budget(&v)).transpose()?;
    let circuit_breaker = p.opt("circuit_breaker").map(|v| breaker(&v)).transpose()?;
    Ok(PolicySpec {
        deadline,
        max_attempts,
        max_unknown_attempts,
        per_class_max_attempts,
        attempt_timeout,
        strategy: default_strategy,
        strategies,
        budget,
        circuit_breaker,
    })
}

fn strategy(node: &Node<'_>) -> Result<StrategySpec, ScenarioError> {
    // Keys are checked once the kind is known, against that kind's keys.
    let obj = node.object(&[], "a strategy")?;
    let kind_node = obj.req("kind")?;
    let kind = kind_node.str()?;
    let allowed: &[&str] = match kind {
        "constant" => &["kind", "delay_s"],
        "sequence" => &["kind", "delays_s"],
        "retry_after_or" => &["kind", "fallback"],
        other => {
            return Err(kind_node.problem(format!(
                "unknown strategy kind {other:?} (expected one of: {})",
                StrategySpec::KINDS.join(", ")
            )));
        }
    };
    obj.only(allowed, &format!("a `{kind}` strategy"))?;
    Ok(match kind {
        "constant" => StrategySpec::Constant {
            delay: obj.req("delay_s")?.seconds()?,
        },
        "sequence" => {
            let list = obj.req("delays_s")?;
            let delays = list
                .array()?
                .iter()
                .map(Node::seconds)
                .collect::<Result<Vec<_>, _>>()?;
            if delays.is_empty() {
                return Err(list.problem("must list at least one delay"));
            }
            StrategySpec::Sequence { delays }
        }
        _ => StrategySpec::RetryAfterOr {
            fallback: Box::new(strategy(&obj.req("fallback")?)?),
        },
    })
}

fn budget(node: &Node<'_>) -> Result<BudgetSpec, ScenarioError> {
    let b = node.object(&["max_retries", "window_s"], "a budget")?;
    Ok(BudgetSpec {
        max_retries: b.req("max_retries")?.count()?,
        window: b.req("window_s")?.positive_seconds()?,
    })
}

fn breaker(node: &Node<'_>) -> Result<BreakerSpec, ScenarioError> {
    let b = node.object(
        &[
            "failure_threshold",
            "window_s",
            "recovery_timeout_s",
            "trip_on",
            "class_thresholds",
        ],
        "a circuit breaker",
    )?;
    if b.map.is_empty() {
        // The reference runner treats an empty section as no breaker at all;
        // refuse it rather than guess.
        return Err(node.problem(
            "is empty (the reference ignores an empty breaker): give at least one field or remove it",
        ));
    }
    let failure_threshold = match b.opt("failure_threshold") {
        Some(v) => v.threshold()?,
        None => 5,
    };
    let window = match b.opt("window_s") {
        Some(v) => v.positive_seconds()?,
        None => Duration::from_secs(60),
    };
    let recovery_timeout = match b.opt("recovery_timeout_s") {
        Some(v) => v.positive_seconds()?,
        None => Duration::from_secs(30),
    };
    let trip_on = match b.opt("trip_on") {
        Some(v) => v
            .array()?
            .iter()
            .map(Node::class)
            .collect::<Result<_, _>>()?,
        None => [ErrorClass::Transient, ErrorClass::ServerError]
            .into_iter()
            .collect(),
    };
    let class_thresholds = match b.opt("class_thresholds") {
        Some(v) => v.class_map(|n| n.threshold())?,
        None => BTreeMap::new(),
    };
    Ok(BreakerSpec {
        failure_threshold,
        window,
        recovery_timeout,
        trip_on,
        class_thresholds,
    })
}

fn call_spec(node: &Node<'_>) -> Result<CallSpec, ScenarioError> {
    let c = node.object(&["at_s", "operation", "attempts"], "a call")?;
    let at = match c.opt("at_s") {
        Some(v) => v.seconds()?,
        None => Duration::ZERO,
    };
    let operation = c.opt("operation").map(|v| v.string()).transpose()?;
    let list = c.req("attempts")?;
    let attempts = list
        .array()?
        .iter()
        .map(attempt_spec)
        .collect::<Result<Vec<_>, _>>()?;
    if attempts.is_empty() {
        return Err(list.problem("must script at least one attempt"));
    }
    Ok(CallSpec {
        at,
        operation,
        attempts,
    })
}

fn attempt_spec(node: &Node<'_>) -> Result<AttemptSpec, ScenarioError> {
    let a = node.object(
        &["error", "result", "ok", "retry_after_s", "duration_s"],
        "an attempt",
    )?;
    let duration = match a.opt("duration_s") {
        Some(v) => v.seconds()?,
        None => Duration::ZERO,
    };
    let retry_after = a.opt("retry_after_s").map(|v| v.seconds()).transpose()?;
    let outcome = match (a.opt("error"), a.opt("result"), a.opt("ok")) {
        (Some(e), None, None) => ScriptedOutcome::Error {
            class: e.class()?,
            retry_after,
        },
        (None, Some(r), None) => ScriptedOutcome::Result {
            class: r.class()?,
            retry_after,
        },
        (None, None, Some(ok)) => {
            if ok.value != &Value::Bool(true) {
                return Err(ok.problem(format!(
                    "must be true (got {}); script a failure with `error` or `result`",
                    ok.value
                )));
            }
            if retry_after.is_some() {
                return Err(ScenarioError::invalid(
                    &a.path_of("retry_after_s"),
                    "only applies to an `error` or `result` attempt",
                ));
            }
            ScriptedOutcome::Ok
        }
        (None, None, None) => {
            return Err(node.problem("needs one of `error`, `result` or `ok`"));
        }
        _ => {
            return Err(node.problem(
                "has more than one of `error`, `result` and `ok`: an attempt ends one way",
            ));
        }
    };
    Ok(AttemptSpec { duration, outcome })
}

/// A JSON value and the path of the key it was found under.
struct Node<'a> {
    path: String,
    value: &'a Value,
}

/// A JSON object whose keys were checked against the allowed ones.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    /// `value` as an object whose keys are all in `allowed` (not checked
    /// when `allowed` is empty).
    fn new(
        value: &'a Value,
        path: &str,
        allowed: &[&str],
        what: &str,
    ) -> Result<Obj<'a>, ScenarioError> {
        let Value::Object(map) = value else {
            return Err(ScenarioError::invalid(
                path,
                format!("expected {what} (a JSON object), got {}", describe(value)),
            ));
        };
        let obj = Obj {
            path: path.to_owned(),
            map,
        };
        if !allowed.is_empty() {
            obj.only(allowed, what)?;
        }
        Ok(obj)
    }

    /// Fails on the first key not in `allowed`.
    fn only(&self, allowed: &[&str], what: &str) -> Result<(), ScenarioError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(ScenarioError::invalid(
                &self.path_of(key),
                format!(
                    "unknown key in {what} (expected one of: {})",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value under `key`, `null` included.
    fn raw(&self, key: &str) -> Option<Node<'a>> {
        self.map.get(key).map(|value| Node {
            path: self.path_of(key),
            value,
        })
    }

    /// The value under `key`; `null` counts as absent, as in the reference.
    fn opt(&self, key: &str) -> Option<Node<'a>> {
        self.raw(key).filter(|n| !n.value.is_null())
    }

    fn req(&self, key: &str) -> Result<Node<'a>, ScenarioError> {
        self.opt(key)
            .ok_or_else(|| ScenarioError::invalid(&self.path_of(key), "missing (required)"))
    }
}

impl<'a> Node<'a> {
    fn problem(&self, problem: impl Into<String>) -> ScenarioError {
        ScenarioError::invalid(&self.path, problem)
    }

    fn mismatch(&self, expected: &str) -> ScenarioError {
        self.problem(format!("expected {expected}, got {}", describe(self.value)))
    }

    fn object(&self, allowed: &[&str], what: &str) -> Result<Obj<'a>, ScenarioError> {
        Obj::new(self.value, &self.path, allowed, what)
    }

    fn array(&self) -> Result<Vec<Node<'a>>, ScenarioError> {
        let Value::Array(items) = self.value else {
            return Err(self.mismatch("a list"));
        };
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                path: format!("{}[{i}]", self.path),
                value,
            })
            .collect())
    }

    fn str(&self) -> Result<&'a str, ScenarioError> {
        self.value.as_str().ok_or_else(|| self.mismatch("a string"))
    }

    fn string(&self) -> Result<String, ScenarioError> {
        self.str().map(str::to_owned)
    }

    fn class(&self) -> Result<ErrorClass, ScenarioError> {
        let name = self.str()?;
        parse_class(name).map_err(|problem| self.problem(problem))
    }

    /// A whole number from 0 to `u32::MAX`.
    fn count(&self) -> Result<u32, ScenarioError> {
        self.value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.mismatch("a whole number from 0 to 4294967295"))
    }

    /// A whole number of at least 1.
    fn threshold(&self) -> Result<u32, ScenarioError> {
        match self.count()? {
            0 => Err(self.problem("must be at least 1")),
            n => Ok(n),
        }
    }

    /// Seconds, at least zero.
    fn seconds(&self) -> Result<Duration, ScenarioError> {
        let Some(secs) = self.value.as_f64() else {
            return Err(self.mismatch("a number of seconds"));
        };
        seconds_to_duration(secs).ok_or_else(|| {
            self.problem(format!(
                "{secs} is not a valid number of seconds (expected a finite number from 0 to {MAX_SECONDS})"
            ))
        })
    }

    /// Seconds, more than zero.
    fn positive_seconds(&self) -> Result<Duration, ScenarioError> {
        let d = self.seconds()?;
        if d.is_zero() {
            return Err(self.problem("must be more than zero seconds"));
        }
        Ok(d)
    }

    /// An object keyed by class names.
    fn class_map<T>(
        &self,
        mut each: impl FnMut(&Node<'a>) -> Result<T, ScenarioError>,
    ) -> Result<BTreeMap<ErrorClass, T>, ScenarioError> {
        let Value::Object(map) = self.value else {
            return Err(self.mismatch("an object keyed by error class"));
        };
        map.iter()
            .map(|(key, value)| {
                let node = Node {
                    path: format!("{}.{key}", self.path),
                    value,
                };
                let class = parse_class(key).map_err(|problem| node.problem(problem))?;
                Ok((class, each(&node)?))
            })
            .collect()
    }
}

fn parse_class(name: &str) -> Result<ErrorClass, String> {
    ErrorClass::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.name()).collect();
        format!(
            "unknown error class {name:?} (expected one of: {})",
            names.join(", ")
        )
    })
}

fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    let text = value.to_string();
    if text.len() <= 40 {
        format!("{kind} ({text})")
    } else {
        kind.to_owned()
    }
}

/// The largest number of seconds a scenario may give (about 31,700 years):
/// far beyond any test, and small enough that every sum of times stays exact.
pub const MAX_SECONDS: f64 = 1e12;

/// Converts seconds to a duration, rounding to the nearest nanosecond (so
/// `0.3` is exactly 300 ms). `None` for negative, non-finite or larger than
/// [`MAX_SECONDS`] values.
///
/// ```
/// use core::time::Duration;
/// use redress_doctor::scenario::seconds_to_duration;
///
/// assert_eq!(seconds_to_duration(0.3), Some(Duration::from_millis(300)));
/// assert_eq!(seconds_to_duration(-1.0), None);
/// ```
pub fn seconds_to_duration(secs: f64) -> Option<Duration> {
    if !(secs.is_finite() && (0.0..=MAX_SECONDS).contains(&secs)) {
        return None;
    }
    let whole = secs.trunc();
    // Exact: the fractional part of a float is representable.
    let nanos = ((secs - whole) * 1e9).round();
    // Both casts are in range: 0 <= whole <= 1e12 and 0 <= nanos <= 1e9.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (whole, nanos) = (whole as u64, nanos as u64);
    Duration::from_secs(whole).checked_add(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn err(json: &str) -> String {
        Scenario::from_json(json).unwrap_err().to_string()
    }

    const OK_POLICY: &str = r#""policy": {"strategy": {"kind": "constant", "delay_s": 1}}"#;

    #[test]
    fn seconds_round_to_the_nearest_nanosecond() {
        assert_eq!(seconds_to_duration(0.3), Some(Duration::from_millis(300)));
        assert_eq!(seconds_to_duration(0.7), Some(Duration::from_millis(700)));
        assert_eq!(
            seconds_to_duration(2.999_999_999_9),
            Some(Duration::from_secs(3))
        );
        assert_eq!(seconds_to_duration(0.0), Some(Duration::ZERO));
        assert_eq!(seconds_to_duration(-0.0), Some(Duration::ZERO));
        assert_eq!(seconds_to_duration(-1.0), None);
        assert_eq!(seconds_to_duration(f64::NAN), None);
        assert_eq!(seconds_to_duration(f64::INFINITY), None);
        assert_eq!(seconds_to_duration(1e300), None);
        assert_eq!(
            seconds_to_duration(MAX_SECONDS),
            Some(Duration::from_secs(1_000_000_000_000))
        );
        let sum: Duration = [0.1, 0.2, 0.7]
            .into_iter()
            .map(|s| seconds_to_duration(s).unwrap())
            .sum();
        assert_eq!(sum, Duration::from_secs(1));
    }

    #[test]
    fn defaults_follow_the_reference() {
        let s = Scenario::from_json(&format!(
            r#"{{"name": "x", {OK_POLICY}, "calls": [{{"attempts": [{{"ok": true}}]}}]}}"#
        ))
        .unwrap();
        assert_eq!(s.policy.deadline, Duration::from_secs(60));
        assert_eq!(s.policy.max_attempts, 6);
        assert_eq!(s.policy.max_unknown_attempts, Some(2));
        assert!(s.policy.budget.is_none() && s.policy.circuit_breaker.is_none());
        assert_eq!(s.calls[0].at, Duration::ZERO);
        assert_eq!(s.calls[0].attempts[0].outcome, ScriptedOutcome::Ok);
        assert!(s.shared_state_sections().is_empty());
    }

    #[test]
    fn null_unknown_cap_means_no_cap() {
        let s = Scenario::from_json(
            r#"{"policy": {"max_unknown_attempts": null, "strategy": {"kind": "constant", "delay_s": 0}},
                "calls": []}"#,
        )
        .unwrap();
        assert_eq!(s.policy.max_unknown_attempts, None);
    }

    #[test]
    fn budget_and_breaker_are_parsed_in_full() {
        let s = Scenario::from_json(
            r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.1},
                "budget": {"max_retries": 3, "window_s": 60.0},
                "circuit_breaker": {"failure_threshold": 2, "window_s": 10, "recovery_timeout_s": 5.5,
                                    "trip_on": ["RATE_LIMIT"], "class_thresholds": {"AUTH": 1}}},
                "calls": []}"#,
        )
        .unwrap();
        assert_eq!(
            s.policy.budget,
            Some(BudgetSpec {
                max_retries: 3,
                window: Duration::from_secs(60)
            })
        );
        let b = s.policy.circuit_breaker.clone().unwrap();
        assert_eq!(b.failure_threshold, 2);
        assert_eq!(b.window, Duration::from_secs(10));
        assert_eq!(b.recovery_timeout, Duration::from_millis(5500));
        assert_eq!(b.trip_on, [ErrorClass::RateLimit].into_iter().collect());
        assert_eq!(b.class_thresholds.get(&ErrorClass::Auth), Some(&1));
        assert_eq!(s.shared_state_sections(), ["budget", "circuit_breaker"]);

        let d = Scenario::from_json(
            r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.1},
                "circuit_breaker": {"failure_threshold": 2}}, "calls": []}"#,
        )
        .unwrap();
        let b = d.policy.circuit_breaker.unwrap();
        assert_eq!(
            b.trip_on,
            [ErrorClass::Transient, ErrorClass::ServerError]
                .into_iter()
                .collect()
        );
        assert_eq!(b.recovery_timeout, Duration::from_secs(30));
    }

    #[test]
    fn errors_name_the_key_and_value() {
        let e = err(r#"{"policy": {"strategy": {"kind": "linear"}}, "calls": []}"#);
        assert_eq!(
            e,
            r#"policy.strategy.kind: unknown strategy kind "linear" (expected one of: constant, sequence, retry_after_or)"#
        );
        let e = err(&format!(
            r#"{{{OK_POLICY}, "calls": [{{"attempts": [{{"ok": true}}, {{"error": "SERVR_ERROR"}}]}}]}}"#
        ));
        assert!(
            e.starts_with(r#"calls[0].attempts[1].error: unknown error class "SERVR_ERROR""#),
            "{e}"
        );
        let e = err(
            r#"{"policy": {"strategies": {"RATE_LIMITS": {"kind": "constant", "delay_s": 1}}}, "calls": []}"#,
        );
        assert!(
            e.starts_with(r#"policy.strategies.RATE_LIMITS: unknown error class"#),
            "{e}"
        );
        let e = err(&format!(r#"{{{OK_POLICY}, "calls": [], "cals": []}}"#));
        assert!(e.starts_with("cals: unknown key in a scenario"), "{e}");
        let e =
            err(r#"{"policy": {"strategy": {"kind": "constant", "delay_s": -1}}, "calls": []}"#);
        assert!(
            e.starts_with("policy.strategy.delay_s: -1 is not a valid number of seconds"),
            "{e}"
        );
        let e =
            err(r#"{"policy": {"strategy": {"kind": "constant", "delays_s": [1]}}, "calls": []}"#);
        assert!(
            e.starts_with("policy.strategy.delays_s: unknown key in a `constant` strategy"),
            "{e}"
        );
        let e = err(
            r#"{"policy": {"max_attempts": 2.5, "strategy": {"kind": "constant", "delay_s": 1}}, "calls": []}"#,
        );
        assert_eq!(
            e,
            "policy.max_attempts: expected a whole number from 0 to 4294967295, got a number (2.5)"
        );
        let e = err(
            r#"{"policy": {"max_attempts": 0, "strategy": {"kind": "constant", "delay_s": 1}}, "calls": []}"#,
        );
        assert!(
            e.starts_with("policy.max_attempts: must be at least 1"),
            "{e}"
        );
        let e = err(r#"{"policy": {"deadline_s": 0}, "calls": []}"#);
        assert_eq!(e, "policy.deadline_s: must be more than zero seconds");
        let e = err(r#"{"policy": {}, "calls": []}"#);
        assert!(e.starts_with("policy: needs a default `strategy`"), "{e}");
        let e = err(&format!(r#"{{{OK_POLICY}}}"#));
        assert_eq!(e, "calls: missing (required)");
        let e = err(&format!(
            r#"{{{OK_POLICY}, "calls": [{{"attempts": []}}]}}"#
        ));
        assert_eq!(e, "calls[0].attempts: must script at least one attempt");
        let e = err(&format!(
            r#"{{{OK_POLICY}, "calls": [{{"attempts": [{{"ok": false}}]}}]}}"#
        ));
        assert!(
            e.starts_with("calls[0].attempts[0].ok: must be true"),
            "{e}"
        );
        let e = err(&format!(
            r#"{{{OK_POLICY}, "calls": [{{"attempts": [{{"error": "AUTH", "ok": true}}]}}]}}"#
        ));
        assert!(
            e.starts_with("calls[0].attempts[0]: has more than one of"),
            "{e}"
        );
        let e = err(r#"[1, 2]"#);
        assert_eq!(e, "expected a scenario (a JSON object), got a list ([1,2])");
        let e =
            err(r#"{"policy": {"strategy": {"kind": "sequence", "delays_s": []}}, "calls": []}"#);
        assert_eq!(e, "policy.strategy.delays_s: must list at least one delay");
        let e = err(
            r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 1}, "circuit_breaker": {}}, "calls": []}"#,
        );
        assert!(e.starts_with("policy.circuit_breaker: is empty"), "{e}");
        let e = err(
            r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 1}, "budget": {"max_retries": 1}}, "calls": []}"#,
        );
        assert_eq!(e, "policy.budget.window_s: missing (required)");
        assert!(err("{").starts_with("not valid JSON: "));
    }

    #[test]
    fn load_names_the_file() {
        let e = Scenario::load(Path::new("/nonexistent/dir/x.json")).unwrap_err();
        assert_eq!(e.file(), Some(Path::new("/nonexistent/dir/x.json")));
        assert!(
            e.to_string()
                .starts_with("/nonexistent/dir/x.json: cannot read the scenario: "),
            "{e}"
        );
        assert!(matches!(e.kind(), ScenarioErrorKind::Read(_)));
        assert_eq!(e.key(), None);
    }
}
