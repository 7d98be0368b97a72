//! Failure scripts: the calls `redress simulate CONFIG` plays through a
//! policy loaded from a config file.
//!
//! A script is a TOML (or JSON) file:
//!
//! ```toml
//! attempt_time = "100ms"        # optional: how long each attempt takes (default 0s)
//!
//! [[calls]]                     # one table per call, played in order
//! attempts = ["SERVER_ERROR x3", "ok"]
//!
//! [[calls]]
//! at = "30s"                    # optional: when it starts (default: when the previous call ended)
//! operation = "charge"          # optional: the operation name events carry
//! attempts = [
//!   "RATE_LIMIT retry_after=2s",
//!   { result = "SERVER_ERROR", time = "1.5s" },
//!   "ok",
//! ]
//! ```
//!
//! Each attempt is a string or a table. The string form is a word then
//! options separated by spaces:
//!
//! - `ok`: the attempt succeeds; `CLASS` (`SERVER_ERROR`, ...): it fails
//!   with an error of that class; `result:CLASS`: it returns a value the
//!   result classifier flags as that class;
//! - `xN`: the same attempt N times; `retry_after=DURATION`: the failure
//!   carries a retry-after hint; `time=DURATION`: the attempt takes that
//!   long.
//!
//! The table form has the same fields: one of `ok = true`, `error =
//! "CLASS"`, `result = "CLASS"`, and optionally `repeat`, `retry_after`,
//! `time`. When a call's attempts run out, its last one repeats.
//!
//! Calls play in the order written, so an `at` earlier than a previous
//! call's `at` is refused, as is an option given twice (`x2 x3`). A script
//! file is read like a config (the size cap, duplicate keys refused), and
//! every problem in it is located: `outage.toml:7:6: calls[1].at: ...`.
//!
//! On the command line, `--fail "SERVER_ERROR x3, ok"` is one call whose
//! attempts are separated by commas.

// A script error carries its place in the file; it is returned once per
// command, so its size does not matter.
#![allow(clippy::result_large_err)]

use core::fmt;
use core::time::Duration;
use std::path::{Path, PathBuf};

use redress_config::{
    Format, LoadError, Location, SourceValue, format_duration, parse_duration, suggest,
};
use redress_core::ErrorClass;
use serde_json::Value;

use crate::scenario::{AttemptSpec, CallSpec, ScriptedOutcome};

/// The most a single attempt may be repeated with `xN` / `repeat`.
const MAX_REPEAT: u32 = 1000;

/// A parsed failure script.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Script {
    /// The calls, in order.
    pub calls: Vec<CallSpec>,
}

/// Why a script could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub struct ScriptError {
    /// The file, when loading from one.
    pub file: Option<PathBuf>,
    /// The offending key (`calls[1].attempts[0]`), or where on the command
    /// line (`--fail 2`).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Where the offending key is in the file.
    pub location: Option<Location>,
    /// Whether the problem is the key itself (not its value).
    at_key: bool,
}

impl ScriptError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ScriptError {
            file: None,
            path: path.into(),
            message: message.into(),
            help: None,
            location: None,
            at_key: false,
        }
    }

    /// A file that could not be read or parsed.
    fn load(e: LoadError) -> Self {
        let location = match &e {
            LoadError::Syntax { location, .. } => *location,
            _ => None,
        };
        let message = match e {
            LoadError::Read { error, .. } => format!("cannot read the script: {error}"),
            LoadError::Syntax {
                format, message, ..
            } => format!("not valid {}: {message}", format.name()),
            // The file is named by the error's own prefix.
            other => {
                let text = other.to_string();
                let prefix = other.file().map(|f| format!("{}: ", f.display()));
                prefix
                    .and_then(|p| text.strip_prefix(&p).map(str::to_owned))
                    .unwrap_or(text)
            }
        };
        ScriptError {
            location,
            ..ScriptError::new("", message)
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, &self.location) {
            (Some(file), Some(at)) => write!(f, "{}:{}:{}: ", file.display(), at.line, at.column)?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(at)) => write!(f, "{}:{}: ", at.line, at.column)?,
            (None, None) => {}
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

impl Script {
    /// Reads a script file (JSON for `.json`, TOML otherwise), with the size
    /// cap of [`redress_config::read_file`]; errors name the file and where
    /// in it.
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let in_file = |mut e: ScriptError| {
            e.file = Some(path.to_owned());
            e
        };
        let text = redress_config::read_file(path).map_err(|e| in_file(ScriptError::load(e)))?;
        Script::parse(&text, Format::of_path(path)).map_err(in_file)
    }

    /// Parses a TOML script.
    ///
    /// ```
    /// use redress_doctor::script::Script;
    ///
    /// let e = Script::from_toml("[[calls]]\nat = \"30s\"\nattempts = [\"ok\"]\n[[calls]]\nat = \"10s\"\nattempts = [\"ok\"]\n").unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "5:6: calls[1].at: `at` (10s) is before the previous call's `at` (30s): calls play in the order written \
    ///      (help: order the calls by `at`, or leave `at` out to start a call when the previous one ends)"
    /// );
    /// ```
    pub fn from_toml(text: &str) -> Result<Script, ScriptError> {
        Script::parse(text, Format::Toml)
    }

    /// Parses a JSON script.
    pub fn from_json(text: &str) -> Result<Script, ScriptError> {
        Script::parse(text, Format::Json)
    }

    fn parse(text: &str, format: Format) -> Result<Script, ScriptError> {
        let source = SourceValue::parse(text, format).map_err(ScriptError::load)?;
        Script::from_value(source.value()).map_err(|mut e| {
            let key = e.at_key.then(|| source.locate_key(&e.path)).flatten();
            e.location = key.or_else(|| source.locate(&e.path));
            e
        })
    }

    /// One call per `--fail` argument, attempts separated by commas.
    ///
    /// ```
    /// use redress_doctor::script::Script;
    ///
    /// let script = Script::from_inline(&["SERVER_ERROR x3, ok", "RATE_LIMIT retry_after=2s"])?;
    /// assert_eq!(script.calls.len(), 2);
    /// assert_eq!(script.calls[0].attempts.len(), 4);
    /// # Ok::<(), redress_doctor::script::ScriptError>(())
    /// ```
    pub fn from_inline<S: AsRef<str>>(calls: &[S]) -> Result<Script, ScriptError> {
        let calls = calls
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let where_ = format!("--fail {}", i.saturating_add(1));
                let mut attempts = Vec::new();
                for item in spec.as_ref().split(',') {
                    attempts.extend(attempt_words(item.trim(), &where_, Duration::ZERO)?);
                }
                call(attempts, &where_, Duration::ZERO, None)
            })
            .collect::<Result<_, _>>()?;
        Ok(Script { calls })
    }

    fn from_value(value: &Value) -> Result<Script, ScriptError> {
        let top = object(value, "", &["attempt_time", "calls"], "a script")?;
        let default_time = match top.get("attempt_time") {
            Some(v) => duration(v, "attempt_time")?,
            None => Duration::ZERO,
        };
        let Some(calls) = top.get("calls") else {
            return Err(ScriptError::new("calls", "missing: a script needs calls")
                .help("add [[calls]] tables with `attempts = [\"SERVER_ERROR\", \"ok\"]`"));
        };
        let Value::Array(calls) = calls else {
            return Err(ScriptError::new("calls", "must be a list of call tables")
                .help("write each call as a [[calls]] table"));
        };
        let calls = calls
            .iter()
            .enumerate()
            .map(|(i, c)| call_table(c, &format!("calls[{i}]"), default_time))
            .collect::<Result<Vec<_>, _>>()?;
        // Calls play in order: a call cannot start before an earlier one.
        let mut latest: Option<Duration> = None;
        for (i, (call, written)) in calls.iter().enumerate() {
            if !written {
                continue;
            }
            if let Some(before) = latest.filter(|before| call.at < *before) {
                return Err(ScriptError::new(
                    format!("calls[{i}].at"),
                    format!(
                        "`at` ({}) is before the previous call's `at` ({}): calls play in the order written",
                        format_duration(call.at),
                        format_duration(before)
                    ),
                )
                .help("order the calls by `at`, or leave `at` out to start a call when the previous one ends"));
            }
            latest = Some(call.at);
        }
        Ok(Script {
            calls: calls.into_iter().map(|(call, _)| call).collect(),
        })
    }
}

fn object<'v>(
    value: &'v Value,
    path: &str,
    allowed: &[&str],
    what: &str,
) -> Result<&'v serde_json::Map<String, Value>, ScriptError> {
    let Value::Object(map) = value else {
        return Err(ScriptError::new(path, format!("must be {what} (a table)")));
    };
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let help = match suggest(key, allowed.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("{what} takes: {}", allowed.join(", ")),
            };
            let mut e = ScriptError::new(at, format!("unknown key `{key}` in {what}")).help(help);
            e.at_key = true;
            return Err(e);
        }
    }
    Ok(map)
}

fn duration(value: &Value, path: &str) -> Result<Duration, ScriptError> {
    match value {
        Value::String(s) => parse_duration(s).map_err(|e| {
            ScriptError::new(path, format!("not a valid duration: {e}"))
                .help("write a number and a unit: \"250ms\", \"1.5s\"")
        }),
        other => Err(
            ScriptError::new(path, format!("must be a duration string, not {other}"))
                .help("write a number and a unit: \"250ms\", \"1.5s\""),
        ),
    }
}

fn class(name: &str, path: &str) -> Result<ErrorClass, ScriptError> {
    ErrorClass::from_name(name).ok_or_else(|| {
        let names = ErrorClass::ALL.map(ErrorClass::name);
        let help = match suggest(name, names) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("the classes are: {}", names.join(", ")),
        };
        ScriptError::new(path, format!("unknown error class `{name}`")).help(help)
    })
}

fn call(
    attempts: Vec<AttemptSpec>,
    path: &str,
    at: Duration,
    operation: Option<String>,
) -> Result<CallSpec, ScriptError> {
    if attempts.is_empty() {
        return Err(ScriptError::new(path, "a call needs at least one attempt")
            .help("e.g. attempts = [\"SERVER_ERROR x2\", \"ok\"]"));
    }
    Ok(CallSpec {
        at,
        operation,
        attempts,
    })
}

/// A call, and whether its `at` was written.
fn call_table(
    value: &Value,
    path: &str,
    default_time: Duration,
) -> Result<(CallSpec, bool), ScriptError> {
    let map = object(
        value,
        path,
        &["at", "operation", "attempt_time", "attempts"],
        "a call",
    )?;
    let at = match map.get("at") {
        Some(v) => duration(v, &format!("{path}.at"))?,
        None => Duration::ZERO,
    };
    let time = match map.get("attempt_time") {
        Some(v) => duration(v, &format!("{path}.attempt_time"))?,
        None => default_time,
    };
    let operation = match map.get("operation") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ScriptError::new(
                format!("{path}.operation"),
                "must be a string",
            ));
        }
        None => None,
    };
    let list_path = format!("{path}.attempts");
    let Some(Value::Array(items)) = map.get("attempts") else {
        return Err(ScriptError::new(list_path, "missing or not a list")
            .help("e.g. attempts = [\"SERVER_ERROR x2\", \"ok\"]"));
    };
    let mut attempts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{list_path}[{i}]");
        match item {
            Value::String(words) => attempts.extend(attempt_words(words, &item_path, time)?),
            Value::Object(_) => attempts.extend(attempt_table(item, &item_path, time)?),
            other => {
                return Err(ScriptError::new(item_path, format!("must be a string or a table, not {other}"))
                    .help("e.g. \"SERVER_ERROR\", \"ok\", or { error = \"RATE_LIMIT\", retry_after = \"2s\" }"));
            }
        }
    }
    Ok((call(attempts, path, at, operation)?, map.contains_key("at")))
}

fn repeated(spec: AttemptSpec, times: u32) -> Vec<AttemptSpec> {
    (0..times).map(|_| spec.clone()).collect()
}

fn repeat_count(text: &str, path: &str) -> Result<u32, ScriptError> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_REPEAT).contains(&n) => Ok(n),
        _ => Err(ScriptError::new(
            path,
            format!("repeat `{text}` is not a count from 1 to {MAX_REPEAT}"),
        )),
    }
}

/// `CLASS [xN] [retry_after=D] [time=D]`, `result:CLASS ...` or `ok ...`.
fn attempt_words(
    words: &str,
    path: &str,
    default_time: Duration,
) -> Result<Vec<AttemptSpec>, ScriptError> {
    let mut tokens = words.split_whitespace();
    let Some(head) = tokens.next() else {
        return Err(ScriptError::new(path, "an empty attempt")
            .help("write `ok`, a class like `SERVER_ERROR`, or `result:CLASS`"));
    };
    let mut times = 1;
    let mut retry_after = None;
    let mut duration_ = default_time;
    let mut seen: Vec<&str> = Vec::new();
    for token in tokens {
        let option = token
            .split_once('=')
            .map_or(token.get(..1).unwrap_or(token), |(name, _)| name);
        if seen.contains(&option) {
            let written = if option == "x" { "xN" } else { option };
            return Err(ScriptError::new(
                path,
                format!("option `{written}` given twice in `{words}`"),
            )
            .help("give each option once: xN (repeat), retry_after=DURATION, time=DURATION"));
        }
        seen.push(option);
        if let Some(n) = token.strip_prefix('x') {
            times = repeat_count(n, path)?;
        } else if let Some(d) = token.strip_prefix("retry_after=") {
            retry_after = Some(duration(&Value::String(d.to_owned()), path)?);
        } else if let Some(d) = token.strip_prefix("time=") {
            duration_ = duration(&Value::String(d.to_owned()), path)?;
        } else {
            return Err(
                ScriptError::new(path, format!("unknown option `{token}` in `{words}`"))
                    .help("options: xN (repeat), retry_after=DURATION, time=DURATION"),
            );
        }
    }
    let outcome = if head.eq_ignore_ascii_case("ok") {
        if retry_after.is_some() {
            return Err(ScriptError::new(
                path,
                "`retry_after` only applies to a failure",
            ));
        }
        ScriptedOutcome::Ok
    } else if let Some(name) = head.strip_prefix("result:") {
        ScriptedOutcome::Result {
            class: class(name, path)?,
            retry_after,
        }
    } else {
        ScriptedOutcome::Error {
            class: class(head, path)?,
            retry_after,
        }
    };
    Ok(repeated(
        AttemptSpec {
            duration: duration_,
            outcome,
        },
        times,
    ))
}

fn attempt_table(
    value: &Value,
    path: &str,
    default_time: Duration,
) -> Result<Vec<AttemptSpec>, ScriptError> {
    let map = object(
        value,
        path,
        &["ok", "error", "result", "retry_after", "time", "repeat"],
        "an attempt",
    )?;
    let retry_after = match map.get("retry_after") {
        Some(v) => Some(duration(v, &format!("{path}.retry_after"))?),
        None => None,
    };
    let time = match map.get("time") {
        Some(v) => duration(v, &format!("{path}.time"))?,
        None => default_time,
    };
    let times = match map.get("repeat") {
        Some(Value::Number(n)) => repeat_count(&n.to_string(), &format!("{path}.repeat"))?,
        Some(_) => {
            return Err(ScriptError::new(
                format!("{path}.repeat"),
                "must be a whole number",
            ));
        }
        None => 1,
    };
    let class_of = |key: &str| -> Result<ErrorClass, ScriptError> {
        match map.get(key) {
            Some(Value::String(name)) => class(name, &format!("{path}.{key}")),
            _ => Err(ScriptError::new(
                format!("{path}.{key}"),
                "must be an error class name",
            )),
        }
    };
    let outcome = match (
        map.contains_key("ok"),
        map.contains_key("error"),
        map.contains_key("result"),
    ) {
        (true, false, false) => {
            if map.get("ok") != Some(&Value::Bool(true)) {
                return Err(ScriptError::new(format!("{path}.ok"), "must be true")
                    .help("script a failure with `error` or `result`"));
            }
            if retry_after.is_some() {
                return Err(ScriptError::new(
                    format!("{path}.retry_after"),
                    "only applies to a failure",
                ));
            }
            ScriptedOutcome::Ok
        }
        (false, true, false) => ScriptedOutcome::Error {
            class: class_of("error")?,
            retry_after,
        },
        (false, false, true) => ScriptedOutcome::Result {
            class: class_of("result")?,
            retry_after,
        },
        _ => {
            return Err(ScriptError::new(
                path,
                "needs exactly one of `ok`, `error` or `result`",
            ));
        }
    };
    Ok(repeated(
        AttemptSpec {
            duration: time,
            outcome,
        },
        times,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn strings_and_tables() {
        let script = Script::from_toml(
            r#"
            attempt_time = "100ms"
            [[calls]]
            attempts = ["SERVER_ERROR x3", "ok"]
            [[calls]]
            at = "30s"
            operation = "charge"
            attempts = ["RATE_LIMIT retry_after=2s time=1s", { result = "TRANSIENT", repeat = 2 }, { ok = true }]
            "#,
        )
        .unwrap();
        assert_eq!(script.calls.len(), 2);
        let first = &script.calls[0];
        assert_eq!(first.attempts.len(), 4);
        assert_eq!(first.attempts[0].duration, Duration::from_millis(100));
        assert_eq!(first.attempts[3].outcome, ScriptedOutcome::Ok);
        let second = &script.calls[1];
        assert_eq!(second.at, Duration::from_secs(30));
        assert_eq!(second.operation.as_deref(), Some("charge"));
        assert_eq!(
            second.attempts[0],
            AttemptSpec {
                duration: Duration::from_secs(1),
                outcome: ScriptedOutcome::Error {
                    class: ErrorClass::RateLimit,
                    retry_after: Some(Duration::from_secs(2))
                }
            }
        );
        assert_eq!(second.attempts.len(), 4);
        assert!(matches!(
            second.attempts[1].outcome,
            ScriptedOutcome::Result {
                class: ErrorClass::Transient,
                ..
            }
        ));
    }

    #[test]
    fn errors_name_the_place_and_the_fix() {
        let e = Script::from_inline(&["SERVER_EROR, ok"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--fail 1: unknown error class `SERVER_EROR` (help: did you mean `SERVER_ERROR`?)"
        );
        let e = Script::from_toml("[[calls]]\nattempt = [\"ok\"]\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "2:1: calls[0].attempt: unknown key `attempt` in a call (help: did you mean `attempts`?)"
        );
        let e = Script::from_toml("[[calls]]\nattempts = [\"ok x0\"]\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("2:13: calls[0].attempts[0]: repeat `0`"),
            "{e}"
        );
        let e = Script::from_inline(&["ok retry_after=1s"]).unwrap_err();
        assert!(e.to_string().contains("only applies to a failure"));
        let e = Script::from_toml("[[calls]]\nattempts = []\n").unwrap_err();
        assert!(
            e.to_string().starts_with("1:1: calls[0]: a call needs"),
            "{e}"
        );
        let e = Script::from_json(r#"{"calls": [{"attempts": [{"error": "AUTH", "ok": true}]}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("exactly one of"));
    }

    #[test]
    fn problems_in_a_file_are_located() {
        let e = Script::from_toml("[[calls]]\nattempts = [\"ok\", \"SERVR_ERROR\"]\n").unwrap_err();
        assert_eq!(e.location.map(|l| (l.line, l.column)), Some((2, 19)));
        assert!(
            e.to_string()
                .starts_with("2:19: calls[0].attempts[1]: unknown error class"),
            "{e}"
        );
        let e =
            Script::from_json("{\"calls\": [\n  {\"attempts\": [\"ok\"], \"at\": \"1h1h\"}\n]}")
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "2:30: calls[0].at: not a valid duration: the unit `h` is given twice (help: write a number and a unit: \"250ms\", \"1.5s\")"
        );
        let e = Script::from_toml("[[calls]]\nattempts = [\"ok\"\n").unwrap_err();
        assert!(
            e.to_string().starts_with("2:") && e.to_string().contains("not valid TOML"),
            "{e}"
        );
    }

    #[test]
    fn json_scripts_refuse_duplicate_keys_and_accept_a_byte_order_mark() {
        let e =
            Script::from_json("{\"calls\": [{\"attempts\": [\"ok\"], \"attempts\": [\"AUTH\"]}]}")
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "1:33: not valid JSON: duplicate key `attempts`"
        );
        let s = Script::from_json("\u{feff}{\"calls\": [{\"attempts\": [\"ok\"]}]}").unwrap();
        assert_eq!(s.calls.len(), 1);
    }

    #[test]
    fn options_are_given_once() {
        for (words, option) in [
            ("SERVER_ERROR x2 x3", "xN"),
            ("RATE_LIMIT retry_after=1s retry_after=2s", "retry_after"),
            ("ok time=1s time=2s", "time"),
        ] {
            let e = Script::from_inline(&[words]).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "--fail 1: option `{option}` given twice in `{words}` (help: give each option once: xN (repeat), retry_after=DURATION, time=DURATION)"
                )
            );
        }
        let e = Script::from_toml("[[calls]]\nattempts = [\"ok\", \"AUTH x1 x1\"]\n").unwrap_err();
        assert_eq!(e.location.map(|l| (l.line, l.column)), Some((2, 19)));
    }

    #[test]
    fn calls_do_not_go_back_in_time() {
        let ok = Script::from_toml(
            "[[calls]]\nat = \"1s\"\nattempts = [\"ok\"]\n[[calls]]\nattempts = [\"ok\"]\n[[calls]]\nat = \"1s\"\nattempts = [\"ok\"]\n",
        )
        .unwrap();
        assert_eq!(ok.calls.len(), 3);
        let e = Script::from_json(
            "{\"calls\": [{\"at\": \"5s\", \"attempts\": [\"ok\"]},\n {\"attempts\": [\"ok\"]},\n {\"at\": \"2s\", \"attempts\": [\"ok\"]}]}",
        )
        .unwrap_err();
        assert_eq!(e.path, "calls[2].at");
        assert_eq!(e.location.map(|l| (l.line, l.column)), Some((3, 9)));
    }
}
