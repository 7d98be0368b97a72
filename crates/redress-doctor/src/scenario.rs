//! The scenario model: a policy plus a script of calls and attempt outcomes.
//!
//! The format is the one of the shared conformance suite (see
//! `conformance/README.md` at the repository root). The policy is
//! [`redress_config`]'s [`PolicyConfig`], read by its loader in the
//! scenario [`Dialect`] (seconds under `_s` keys, `sequence`, `null` for no
//! unknown cap) and checked with the same rules as every policy (redress-core's
//! validation, as the lint reports it); the calls are parsed here. Parsing
//! is strict: an unknown key, an unknown class name, an unknown strategy
//! kind, a number out of range or a policy the engine refuses is an error
//! that names the offending key by its path
//! (`policy.strategies.RATE_LIMIT.kind`, `calls[0].attempts[2].error`), so a
//! typo never silently changes what a scenario tests.
//!
//! The JSON is read like a config file's: with the size cap of
//! [`redress_config::read_file`], duplicate keys refused and a UTF-8
//! byte-order mark allowed.
//!
//! Times are seconds in the file and [`Duration`]s here, converted by
//! rounding to the nearest nanosecond ([`seconds_to_duration`]): `0.3` is
//! exactly 300 ms, and sums of decimal times stay exact (the reference sums
//! floats instead; scenarios should not depend on the difference).

use core::fmt;
use core::time::Duration;
use std::path::{Path, PathBuf};

use redress_config::{Diagnostic, Dialect, Format, LoadError, Location, PolicyConfig, SourceValue};
use redress_core::ErrorClass;
use serde_json::{Map, Value};

pub use redress_config::{MAX_SECONDS, seconds_to_duration};

/// A parsed, validated scenario.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Scenario {
    /// The scenario's name (informative; the file name identifies it).
    pub name: Option<String>,
    /// What the scenario checks, for readers (not part of the shared format:
    /// an extension of this suite, ignored by the reference runner).
    pub description: Option<String>,
    /// The policy every call runs under (the budget and breaker it
    /// describes are shared by the calls).
    pub policy: PolicyConfig,
    /// The calls, in order.
    pub calls: Vec<CallSpec>,
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
    /// The text is not JSON (or repeats a key).
    Syntax {
        /// The parser's message.
        message: String,
        /// Where.
        location: Option<Location>,
    },
    /// The JSON is not a valid scenario.
    Invalid {
        /// The offending key, as a path (`calls[0].at_s`); empty for the
        /// document itself.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The policy does not load, or the engine refuses it: every problem,
    /// each naming its key (`policy.strategy.kind`) and its rule's code.
    Policy(Vec<Diagnostic>),
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
            ScenarioErrorKind::Policy(problems) => problems.first().map(|d| d.path.as_str()),
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
            ScenarioErrorKind::Syntax { message, location } => {
                if let Some(at) = location {
                    write!(f, "{}:{}: ", at.line, at.column)?;
                }
                write!(f, "not valid JSON: {message}")
            }
            ScenarioErrorKind::Invalid { key, problem } if key.is_empty() => f.write_str(problem),
            ScenarioErrorKind::Invalid { key, problem } => write!(f, "{key}: {problem}"),
            ScenarioErrorKind::Policy(problems) => match problems.as_slice() {
                [one] => one.fmt(f),
                many => {
                    write!(f, "{} problems in the policy:", many.len())?;
                    for d in many {
                        write!(f, "\n  {d}")?;
                    }
                    Ok(())
                }
            },
        }
    }
}

impl std::error::Error for ScenarioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ScenarioErrorKind::Read(e) => Some(e),
            ScenarioErrorKind::Syntax { .. }
            | ScenarioErrorKind::Invalid { .. }
            | ScenarioErrorKind::Policy(_) => None,
        }
    }
}

impl Scenario {
    /// Reads and validates the scenario in `path`; errors name the file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = redress_config::read_file(path).map_err(|e| {
            let error = match e {
                LoadError::Read { error, .. } => error,
                other => std::io::Error::other(other.to_string().replacen(
                    &format!("{}: ", path.display()),
                    "",
                    1,
                )),
            };
            ScenarioError {
                file: Some(path.to_owned()),
                kind: ScenarioErrorKind::Read(error),
            }
        })?;
        Scenario::from_json(&text).map_err(|e| e.in_file(path))
    }

    /// Parses and validates a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let source = SourceValue::parse(text, Format::Json).map_err(|e| {
            let (message, location) = match e {
                LoadError::Syntax {
                    message, location, ..
                } => (message, location),
                other => (other.to_string(), None),
            };
            ScenarioError {
                file: None,
                kind: ScenarioErrorKind::Syntax { message, location },
            }
        })?;
        Scenario::from_value(source.value())
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
        let mut used = Vec::new();
        if self.policy.budget.is_some() {
            used.push("budget");
        }
        if self.policy.circuit_breaker.is_some() {
            used.push("circuit_breaker");
        }
        used
    }
}

/// The scenario's policy: read by redress-config's loader in the scenario
/// dialect, then held to redress-core's rules (the lint's errors), every
/// problem named by its key as the scenario writes it.
fn policy(node: &Node<'_>) -> Result<PolicyConfig, ScenarioError> {
    let invalid = |problems| ScenarioError {
        file: None,
        kind: ScenarioErrorKind::Policy(problems),
    };
    let config = match PolicyConfig::from_json_value(node.value, Dialect::Scenario, &node.path) {
        Ok(config) => config,
        Err(LoadError::Invalid { problems, .. }) => return Err(invalid(problems)),
        Err(other) => return Err(node.problem(other.to_string())),
    };
    let errors = config.errors_in(Dialect::Scenario, &node.path);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(invalid(errors))
    }
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

    /// The value under `key`; `null` counts as absent, as in the reference.
    fn opt(&self, key: &str) -> Option<Node<'a>> {
        self.map
            .get(key)
            .filter(|value| !value.is_null())
            .map(|value| Node {
                path: self.path_of(key),
                value,
            })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    fn err(json: &str) -> String {
        Scenario::from_json(json).unwrap_err().to_string()
    }

    const OK_POLICY: &str = r#""policy": {"strategy": {"kind": "constant", "delay_s": 1}}"#;

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
            Some(redress_config::BudgetConfig::Rolling {
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
        // The policy's problems are redress-config's loader's and
        // redress-core's rules', named by the scenario's keys.
        let e = err(r#"{"policy": {"strategy": {"kind": "linear"}}, "calls": []}"#);
        assert_eq!(
            e,
            "policy.strategy.kind: error[E105]: unknown strategy kind `linear` \
             (help: the kinds are: constant, sequence, retry_after_or)"
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
            e.starts_with(r#"policy.strategies.RATE_LIMITS: error[E104]: unknown error class"#),
            "{e}"
        );
        let e = err(&format!(r#"{{{OK_POLICY}, "calls": [], "cals": []}}"#));
        assert!(e.starts_with("cals: unknown key in a scenario"), "{e}");
        let e =
            err(r#"{"policy": {"strategy": {"kind": "constant", "delay_s": -1}}, "calls": []}"#);
        assert!(
            e.starts_with(
                "policy.strategy.delay_s: error[E103]: `delay_s` is not a valid number of seconds: -1"
            ),
            "{e}"
        );
        let e =
            err(r#"{"policy": {"strategy": {"kind": "constant", "delays_s": [1]}}, "calls": []}"#);
        assert!(
            e.contains(
                "policy.strategy.delays_s: error[E101]: `delays_s` does not apply to a `constant` strategy"
            ),
            "{e}"
        );
        let e = err(
            r#"{"policy": {"max_attempts": 2.5, "strategy": {"kind": "constant", "delay_s": 1}}, "calls": []}"#,
        );
        assert_eq!(
            e,
            "policy.max_attempts: error[E102]: `max_attempts` must be a whole number, not the number 2.5"
        );
        let e = err(
            r#"{"policy": {"max_attempts": 0, "strategy": {"kind": "constant", "delay_s": 1}}, "calls": []}"#,
        );
        assert!(
            e.starts_with("policy.max_attempts: error[E001]: max_attempts is 0"),
            "{e}"
        );
        let e = err(r#"{"policy": {"deadline_s": 0}, "calls": []}"#);
        assert!(
            e.starts_with(
                "2 problems in the policy:\n  policy.deadline_s: error[E002]: the deadline is zero"
            ),
            "{e}"
        );
        let e = err(r#"{"policy": {}, "calls": []}"#);
        assert!(
            e.starts_with("policy.strategy: error[E004]: no backoff strategy"),
            "{e}"
        );
        // Nesting `retry_after_or` twice is refused, as the engine refuses it.
        let e = err(
            r#"{"policy": {"strategy": {"kind": "retry_after_or", "fallback":
                {"kind": "retry_after_or", "fallback": {"kind": "constant", "delay_s": 1}}}},
                "calls": []}"#,
        );
        assert!(
            e.starts_with("policy.strategy.fallback.kind: error[E108]"),
            "{e}"
        );
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
        assert!(
            e.starts_with("policy.strategy.delays_s: error[E008]: the schedule lists no delays"),
            "{e}"
        );
        let e = err(
            r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 1}, "circuit_breaker": {}}, "calls": []}"#,
        );
        assert!(
            e.starts_with("policy.circuit_breaker: error[E107]: an empty `circuit_breaker`"),
            "{e}"
        );
        let e = err(
            r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 1}, "budget": {"max_retries": 1}}, "calls": []}"#,
        );
        assert!(
            e.starts_with("policy.budget.window_s: error[E107]: a budget needs `window_s`"),
            "{e}"
        );
        let e = err(r#"{"policy": [1], "calls": []}"#);
        assert!(e.starts_with("policy: error[E102]"), "{e}");
        assert!(
            err("{").starts_with("1:1: not valid JSON: "),
            "{}",
            err("{")
        );
        assert_eq!(
            err(r#"{"calls": [], "calls": []}"#),
            "1:15: not valid JSON: duplicate key `calls`"
        );
        let bom = format!("\u{feff}{{{OK_POLICY}, \"calls\": []}}");
        assert!(Scenario::from_json(&bom).is_ok());
    }

    #[test]
    fn a_budget_of_zero_is_legal_as_in_the_reference() {
        let s = Scenario::from_json(
            r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.1},
                "budget": {"max_retries": 0, "window_s": 60}}, "calls": []}"#,
        )
        .unwrap();
        assert_eq!(
            s.policy.budget,
            Some(redress_config::BudgetConfig::Rolling {
                max_retries: 0,
                window: Duration::from_secs(60)
            })
        );
    }

    #[test]
    fn policy_errors_keep_every_problem_and_name_the_first_key() {
        let e = Scenario::from_json(
            r#"{"policy": {"max_attempts": 0, "strategy": {"kind": "sequence", "delays_s": []}},
                "calls": []}"#,
        )
        .unwrap_err();
        let ScenarioErrorKind::Policy(problems) = e.kind() else {
            panic!("{e:?}")
        };
        let codes: Vec<&str> = problems.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["E001", "E008"]);
        assert_eq!(e.key(), Some("policy.max_attempts"));
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
