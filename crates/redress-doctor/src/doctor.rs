//! `redress doctor PATH[:NAME]`: lint the retry policies of a config file.
//!
//! Every policy of the file (or the one named) is loaded and linted with
//! [`redress_config`]'s rules; `--show` adds a normalized snapshot of its
//! values, `--schedule` its [envelope](crate::schedule). The verdict is the
//! exit status: [`Status::Passed`] (warnings allowed), [`Status::Failed`]
//! (a policy has errors, or warnings under `--deny-warnings`),
//! [`Status::Unusable`] (the file cannot be read or parsed, or has no
//! policy by that name).
//!
//! Output is text for people (diagnostics point at the line, like a
//! compiler's, in colour on a terminal) or JSON for machines; both are
//! deterministic. Text is written policy by policy as each is checked.
//!
//! A TOML file with syntax errors is read as far as it can be: the syntax
//! errors are reported with the findings of every policy they leave whole,
//! and the policies they fall in are named as not checked (exit 2).

use core::fmt::Write as _;
use core::time::Duration;
use std::io;
use std::path::{Path, PathBuf};

use redress_config::{
    Diagnostic, Document, Entry, Format, LineIndex, LoadError, PolicyConfig, RULES, Report,
    format_duration, read_file,
};
use redress_core::{ErrorClass, StopReason};
use serde_json::{Value, json};

use crate::render::{Source, Style, approx, bar, diagnostic, escape, plural};
use crate::schedule::{Envelope, ScheduleOptions, Stats, sample};

/// How a check ended, as the process's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Every check passed (warnings allowed): exit 0.
    Passed,
    /// A policy has errors (or warnings, when they are denied): exit 1.
    Failed,
    /// The file cannot be read or parsed, or the named policy does not
    /// exist: exit 2.
    Unusable,
}

impl Status {
    /// The exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Passed => 0,
            Status::Failed => 1,
            Status::Unusable => 2,
        }
    }
}

/// What to check and print.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DoctorOptions {
    /// Print a normalized snapshot of each policy.
    pub show: bool,
    /// Print each policy's envelope under sustained failure.
    pub schedule: Option<ScheduleOptions>,
    /// Warnings fail the check.
    pub deny_warnings: bool,
    /// Codes of findings to leave out.
    pub allow: Vec<String>,
    /// JSON instead of text.
    pub json: bool,
    /// How text is styled (colour or not).
    pub style: Style,
}

/// `PATH` or `PATH:NAME`, as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// The file.
    pub path: PathBuf,
    /// The policy, when named.
    pub name: Option<String>,
}

impl Target {
    /// Splits `PATH:NAME`: the whole text is a path when it names a file
    /// that exists; otherwise the name follows the first colon whose left
    /// side is an existing file, so a policy name may hold colons
    /// (`retry.toml:payments:v2`) or be empty (`retry.toml:` names the
    /// policy `""`). For a file that does not exist, the text splits on
    /// its last colon (unless what follows looks like a path), so the
    /// error names the file.
    ///
    /// ```
    /// use redress_doctor::doctor::Target;
    ///
    /// let t = Target::parse("configs/retry.toml:payments");
    /// assert_eq!(t.path.to_str(), Some("configs/retry.toml"));
    /// assert_eq!(t.name.as_deref(), Some("payments"));
    /// assert_eq!(Target::parse("retry.toml").name, None);
    /// ```
    pub fn parse(text: &str) -> Target {
        let whole = Target {
            path: PathBuf::from(text),
            name: None,
        };
        if Path::new(text).exists() {
            return whole;
        }
        for (at, _) in text.match_indices(':') {
            let (path, rest) = text.split_at(at);
            if !path.is_empty() && Path::new(path).is_file() {
                return Target {
                    path: PathBuf::from(path),
                    name: Some(rest.get(1..).unwrap_or_default().to_owned()),
                };
            }
        }
        match text.rsplit_once(':') {
            Some((path, name))
                if !path.is_empty() && !name.is_empty() && !name.contains(['/', '\\']) =>
            {
                Target {
                    path: PathBuf::from(path),
                    name: Some(name.to_owned()),
                }
            }
            _ => whole,
        }
    }
}

/// One policy's check.
struct Checked<'d> {
    entry: &'d Entry,
    label: String,
    report: Report,
    envelope: Option<Result<Envelope, String>>,
}

impl Checked<'_> {
    fn errors(&self) -> usize {
        self.report.errors().count()
    }

    fn warnings(&self) -> usize {
        self.report.warnings().count()
    }

    fn failed(&self, deny_warnings: bool) -> bool {
        self.errors() > 0 || (deny_warnings && self.warnings() > 0)
    }

    fn config(&self) -> Option<&PolicyConfig> {
        self.entry.result.as_ref().ok()
    }
}

/// Checks `target` and writes the report to `out`, policy by policy.
pub fn run(
    target: &Target,
    options: &DoctorOptions,
    out: &mut dyn io::Write,
) -> io::Result<Status> {
    let file = target.path.display().to_string();
    let text = match read_file(&target.path) {
        Ok(text) => text,
        Err(e) => {
            let message = match &e {
                LoadError::Read { error, .. } => format!("cannot read `{file}`: {error}"),
                other => other.to_string(),
            };
            let lines = LineIndex::default();
            let source = Source {
                name: &file,
                text: "",
                lines: &lines,
            };
            return unusable(out, options, &source, &message, &[], &[]);
        }
    };
    let doc = match Document::parse_partial(&text, Format::of_path(&target.path)) {
        Ok(doc) => doc,
        Err(e) => {
            let (message, problems) = load_problems(&e);
            let lines = LineIndex::new(&text);
            let source = Source {
                name: &file,
                text: &text,
                lines: &lines,
            };
            return unusable(out, options, &source, &message, &problems, &[]);
        }
    };
    let source = Source {
        name: &file,
        text: doc.text(),
        lines: doc.lines(),
    };
    let entries: Vec<&Entry> = match &target.name {
        Some(name) => match doc.entry(name) {
            Ok(entry) => vec![entry],
            Err(e) => {
                let message = if doc.skipped().contains(name) {
                    format!("{file}: policy `{name}` could not be read: a syntax error falls in it")
                } else {
                    format!("{file}: {e}")
                };
                return unusable(out, options, &source, &message, doc.problems(), &[]);
            }
        },
        None => doc.entries().iter().collect(),
    };
    // The file's own problems: syntax errors, keys outside any policy.
    let file_problem = (!doc.problems().is_empty()).then(|| file_message(doc.problems()));
    if entries.is_empty() {
        if let Some(message) = &file_problem {
            return unusable(
                out,
                options,
                &source,
                message,
                doc.problems(),
                doc.skipped(),
            );
        }
    }
    let allow: Vec<&str> = options.allow.iter().map(String::as_str).collect();
    let mut failures = 0_usize;
    let mut policies = Vec::new();
    let mut text_out = String::new();
    if !options.json {
        for d in doc.problems() {
            diagnostic(&mut text_out, d, &source, options.style);
            text_out.push('\n');
        }
    }
    for (i, entry) in entries.iter().copied().enumerate() {
        let report = doc.lint(entry).allow(&allow);
        let label = match &entry.name {
            Some(name) => format!("{file}:{name}"),
            None => file.clone(),
        };
        let envelope = match (&options.schedule, &entry.result) {
            (Some(opts), Ok(config)) if !report.has_errors() => {
                Some(sample(config, opts).map_err(|e| e.to_string()))
            }
            _ => None,
        };
        let c = Checked {
            entry,
            label,
            report,
            envelope,
        };
        failures = failures.saturating_add(usize::from(c.failed(options.deny_warnings)));
        if options.json {
            policies.push(policy_json(&c, options));
            continue;
        }
        if i > 0 {
            text_out.push('\n');
        }
        policy_text(&mut text_out, &c, options, &source);
        out.write_all(text_out.as_bytes())?;
        text_out.clear();
    }
    // Findings about the file's declarations as a whole (a shared breaker
    // or budget no policy names), when the whole file is checked.
    let shared = match &target.name {
        None => doc.lint_shared().allow(&allow).in_file_order(),
        Some(_) => Report::new(Vec::new()),
    };
    let shared_failed =
        shared.has_errors() || (options.deny_warnings && shared.warnings().next().is_some());
    if !options.json {
        for d in &shared.diagnostics {
            text_out.push('\n');
            diagnostic(&mut text_out, d, &source, options.style);
        }
    }
    let status = if file_problem.is_some() {
        Status::Unusable
    } else if failures > 0 || shared_failed {
        Status::Failed
    } else {
        Status::Passed
    };
    if options.json {
        let report = json!({
            "file": file,
            "ok": status == Status::Passed,
            "exit_code": status.code(),
            "error": file_problem,
            "diagnostics": doc
                .problems()
                .iter()
                .chain(&shared.diagnostics)
                .map(diagnostic_json)
                .collect::<Vec<_>>(),
            "policies": policies,
            "not_checked": doc.skipped(),
        });
        push_json(&mut text_out, &report);
    } else {
        let style = options.style;
        if entries.len() > 1 {
            let _ = writeln!(
                text_out,
                "\n{} policies checked in '{}': {} passed, {} failed.",
                entries.len(),
                escape(&file),
                entries.len().saturating_sub(failures),
                failures
            );
        }
        if let Some(message) = &file_problem {
            let skipped = if doc.skipped().is_empty() {
                String::new()
            } else {
                let names: Vec<String> = doc
                    .skipped()
                    .iter()
                    .map(|n| escape(n).into_owned())
                    .collect();
                format!("; not checked: {}", names.join(", "))
            };
            let _ = writeln!(
                text_out,
                "\n{} '{}' could not be checked in full: {}{skipped}.",
                style.error("FAILED:"),
                escape(&file),
                escape(message),
            );
        }
    }
    out.write_all(text_out.as_bytes())?;
    out.flush()?;
    Ok(status)
}

/// What the file's own problems amount to, in a few words.
fn file_message(problems: &[Diagnostic]) -> String {
    let syntax: Vec<&Diagnostic> = problems.iter().filter(|d| d.code == "E100").collect();
    let outside = problems.len().saturating_sub(syntax.len());
    let mut parts = match syntax.as_slice() {
        [] => Vec::new(),
        [one] => vec![one.message.clone()],
        many => vec![plural(many.len(), "syntax error")],
    };
    if outside > 0 {
        parts.push(format!("{} outside any policy", plural(outside, "problem")));
    }
    parts.join("; ")
}

fn push_json(out: &mut String, value: &Value) {
    out.push_str(&serde_json::to_string_pretty(value).unwrap_or_default());
    out.push('\n');
}

/// The message and located problems of a file that could not be loaded.
fn load_problems(e: &LoadError) -> (String, Vec<Diagnostic>) {
    match e {
        LoadError::Syntax {
            format,
            message,
            location,
            ..
        } => {
            let first = message.lines().next().unwrap_or(message);
            let d = Diagnostic::error("E100", "", format!("not valid {}: {first}", format.name()))
                .at(*location);
            (d.message.clone(), vec![d])
        }
        LoadError::Invalid { problems, .. } => (
            format!(
                "not a redress config: {}",
                plural(problems.len(), "problem")
            ),
            Report::new(problems.clone()).in_file_order().diagnostics,
        ),
        other => (other.to_string(), Vec::new()),
    }
}

fn unusable(
    out: &mut dyn io::Write,
    options: &DoctorOptions,
    source: &Source<'_>,
    message: &str,
    problems: &[Diagnostic],
    skipped: &[String],
) -> io::Result<Status> {
    let mut text = String::new();
    if options.json {
        let report = json!({
            "file": source.name,
            "ok": false,
            "exit_code": Status::Unusable.code(),
            "error": message,
            "diagnostics": problems.iter().map(diagnostic_json).collect::<Vec<_>>(),
            "policies": [],
            "not_checked": skipped,
        });
        push_json(&mut text, &report);
    } else {
        let style = options.style;
        if problems.is_empty() {
            let _ = writeln!(text, "{}: {}", style.error("error"), escape(message));
        }
        for d in problems {
            diagnostic(&mut text, d, source, style);
            text.push('\n');
        }
        let _ = writeln!(
            text,
            "{} '{}' could not be checked.",
            style.error("FAILED:"),
            escape(source.name)
        );
    }
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(Status::Unusable)
}

fn diagnostic_json(d: &Diagnostic) -> Value {
    json!({
        "severity": d.severity.as_str(),
        "code": d.code,
        "path": d.path,
        "message": d.message,
        "help": d.help,
        "line": d.location.map(|l| l.line),
        "column": d.location.map(|l| l.column),
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn stats_json(s: &Stats) -> Value {
    json!({"min": secs(s.min), "p50": secs(s.p50), "p99": secs(s.p99), "max": secs(s.max)})
}

fn envelope_json(e: &Envelope) -> Value {
    let o = &e.options;
    json!({
        "class": o.class.name(),
        "runs": o.runs,
        "seed": o.seed,
        "attempt_time_s": secs(o.attempt_time),
        "retry_after_s": o.retry_after.map(secs),
        "attempts": e.attempts.iter().map(|a| json!({
            "attempt": a.attempt,
            "reached": a.reached,
            "start_s": stats_json(&a.start),
            "wait_s": a.wait.as_ref().map(stats_json),
            "retried": a.retried,
            "cut_by_deadline": a.cut_by_deadline,
        })).collect::<Vec<_>>(),
        "stops": e.stops.iter().map(|s| json!({
            "after_attempt": s.after_attempt,
            "reason": s.reason.map(StopReason::as_str),
            "runs": s.runs,
        })).collect::<Vec<_>>(),
        "gave_up_s": e.gave_up.as_ref().map(stats_json),
        "attempts_followed": o.attempts_followed(),
        "cut": e.cut,
    })
}

fn policy_json(c: &Checked<'_>, options: &DoctorOptions) -> Value {
    let mut v = json!({
        "name": c.entry.name,
        "source": c.label,
        "ok": !c.failed(options.deny_warnings),
        "errors": c.errors(),
        "warnings": c.warnings(),
        "diagnostics": c.report.diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
    });
    if let Value::Object(map) = &mut v {
        if options.show {
            map.insert(
                "config".to_owned(),
                c.config()
                    .and_then(|config| serde_json::to_value(config).ok())
                    .unwrap_or(Value::Null),
            );
        }
        if options.schedule.is_some() {
            let schedule = match &c.envelope {
                Some(Ok(e)) => envelope_json(e),
                Some(Err(e)) => json!({ "error": e }),
                None => Value::Null,
            };
            map.insert("schedule".to_owned(), schedule);
        }
    }
    v
}

fn policy_text(out: &mut String, c: &Checked<'_>, options: &DoctorOptions, source: &Source<'_>) {
    let label = escape(&c.label);
    if options.show {
        if let Some(config) = c.config() {
            snapshot(out, &label, config);
            out.push('\n');
        }
    }
    if let (Some(envelope), Some(config)) = (&c.envelope, c.config()) {
        match envelope {
            Ok(e) => schedule_text(out, &label, config, e),
            Err(e) => {
                let _ = writeln!(out, "Schedule: cannot build the policy: {e}");
            }
        }
        out.push('\n');
    }
    let style = options.style;
    for d in &c.report.diagnostics {
        diagnostic(out, d, source, style);
        out.push('\n');
    }
    let (errors, warnings) = (c.errors(), c.warnings());
    let (failed, ok) = (style.error("FAILED:"), style.ok("OK:"));
    let _ = if errors > 0 {
        let also = if warnings > 0 {
            format!(", {}", plural(warnings, "warning"))
        } else {
            String::new()
        };
        writeln!(
            out,
            "{failed} '{label}': {}{also}.",
            plural(errors, "error")
        )
    } else if warnings > 0 && options.deny_warnings {
        writeln!(
            out,
            "{failed} '{label}': {}, denied by --deny-warnings.",
            plural(warnings, "warning")
        )
    } else if warnings > 0 {
        writeln!(
            out,
            "{ok} '{label}' passed config checks with {}.",
            plural(warnings, "warning")
        )
    } else {
        writeln!(out, "{ok} '{label}' passed config checks.")
    };
}

/// The seed's `--show` output, every default explicit, plus how each class
/// is handled.
fn snapshot(out: &mut String, label: &str, c: &PolicyConfig) {
    let d = |d: Duration| format_duration(d);
    let _ = writeln!(out, "Config snapshot:");
    let _ = writeln!(out, "  source: {label}");
    let _ = writeln!(out, "  deadline: {}", d(c.deadline));
    let _ = writeln!(
        out,
        "  attempt_timeout: {}",
        c.attempt_timeout.map_or_else(|| "none".to_owned(), d)
    );
    let _ = writeln!(out, "  max_attempts: {}", c.max_attempts);
    let _ = writeln!(
        out,
        "  max_unknown_attempts: {}",
        c.max_unknown_attempts
            .map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
    );
    let _ = writeln!(
        out,
        "  default_strategy: {}",
        c.strategy
            .as_ref()
            .map_or_else(|| "none".to_owned(), ToString::to_string)
    );
    let _ = writeln!(out, "  class_strategies:");
    if c.strategies.is_empty() {
        let _ = writeln!(out, "    (none)");
    }
    for (class, s) in &c.strategies {
        let _ = writeln!(out, "    {class}: {s}");
    }
    let _ = writeln!(out, "  per_class_max_attempts:");
    if c.per_class_max_attempts.is_empty() {
        let _ = writeln!(out, "    (none)");
    }
    for (class, cap) in &c.per_class_max_attempts {
        let _ = writeln!(out, "    {class}: {cap}");
    }
    let _ = writeln!(
        out,
        "  budget: {}",
        c.budget
            .as_ref()
            .map_or_else(|| "none".to_owned(), ToString::to_string)
    );
    match &c.circuit_breaker {
        None => {
            let _ = writeln!(out, "  circuit_breaker: none");
        }
        Some(b) => {
            let _ = writeln!(out, "  circuit_breaker:");
            let _ = writeln!(out, "    failure_threshold: {}", b.failure_threshold);
            let _ = writeln!(out, "    window: {}", d(b.window));
            let _ = writeln!(out, "    recovery_timeout: {}", d(b.recovery_timeout));
            let trip_on: Vec<&str> = b.trip_on.iter().map(|c| c.name()).collect();
            let _ = writeln!(
                out,
                "    trip_on: {}",
                if trip_on.is_empty() {
                    "(none)".to_owned()
                } else {
                    trip_on.join(", ")
                }
            );
            let thresholds: Vec<String> = b
                .class_thresholds
                .iter()
                .map(|(c, n)| format!("{c} = {n}"))
                .collect();
            let _ = writeln!(
                out,
                "    class_thresholds: {}",
                if thresholds.is_empty() {
                    "(none)".to_owned()
                } else {
                    thresholds.join(", ")
                }
            );
        }
    }
    let _ = writeln!(out, "  per class:");
    let width = ErrorClass::ALL
        .iter()
        .map(|c| c.name().len())
        .max()
        .unwrap_or(0);
    for class in ErrorClass::ALL {
        let _ = writeln!(out, "    {:width$}  {}", class.name(), handling(c, class));
    }
}

/// How `class` is handled, in a few words.
fn handling(c: &PolicyConfig, class: ErrorClass) -> String {
    if !class.is_retryable() {
        return "never retried".to_owned();
    }
    let mut parts = Vec::new();
    let cap = match (class, c.per_class_max_attempts.get(&class)) {
        (_, Some(cap)) => Some(*cap),
        (ErrorClass::Unknown, None) => c.max_unknown_attempts,
        _ => None,
    };
    if cap == Some(0) || c.max_attempts <= 1 {
        return "never retried (its cap is 0, or max_attempts is 1)".to_owned();
    }
    match (c.strategies.get(&class), &c.strategy) {
        (Some(_), _) => parts.push("own strategy".to_owned()),
        (None, Some(_)) => parts.push("default strategy".to_owned()),
        (None, None) => return "never retried (no strategy: NO_STRATEGY)".to_owned(),
    }
    if let Some(cap) = cap {
        parts.push(format!("at most {}", plural(cap as usize, "failure")));
    }
    if let Some(b) = &c.circuit_breaker {
        if b.trip_on.contains(&class) || b.class_thresholds.contains_key(&class) {
            parts.push("trips the breaker".to_owned());
        }
    }
    parts.join(", ")
}

fn percent(part: u32, whole: u32) -> String {
    if whole == 0 {
        return "-".to_owned();
    }
    let pct = f64::from(part) * 100.0 / f64::from(whole);
    if pct.fract() == 0.0 {
        format!("{pct:.0}%")
    } else {
        format!("{pct:.1}%")
    }
}

/// Why runs stopped, in the policy's own terms.
fn stop_cause(c: &PolicyConfig, class: ErrorClass, reason: Option<StopReason>) -> String {
    match reason {
        Some(StopReason::MaxAttemptsGlobal) => format!("max_attempts = {}", c.max_attempts),
        Some(StopReason::MaxAttemptsPerClass) => match c.per_class_max_attempts.get(&class) {
            Some(cap) => format!("per_class_max_attempts.{class} = {cap}"),
            None => "a per-class cap".to_owned(),
        },
        Some(StopReason::DeadlineExceeded) => format!("deadline = {}", format_duration(c.deadline)),
        Some(StopReason::MaxUnknownAttempts) => match c.max_unknown_attempts {
            Some(n) => format!("max_unknown_attempts = {n}"),
            None => "max_unknown_attempts".to_owned(),
        },
        Some(StopReason::NonRetryableClass) => format!("{class} is never retried"),
        Some(StopReason::NoStrategy) => format!("no strategy handles {class}"),
        Some(StopReason::BudgetExhausted) => "the budget refused a retry".to_owned(),
        Some(other) => other.as_str().to_owned(),
        None => "succeeded".to_owned(),
    }
}

fn schedule_text(out: &mut String, label: &str, c: &PolicyConfig, e: &Envelope) {
    let o = &e.options;
    let runs = o.runs.max(1);
    let hint = o
        .retry_after
        .map(|h| format!(", each with retry-after {}", format_duration(h)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Schedule of '{label}': {} failing every attempt{hint}",
        o.class
    );
    let strategy = if o.class.is_retryable() {
        c.strategy_for(o.class)
            .map_or_else(|| "none".to_owned(), ToString::to_string)
    } else {
        format!("none ({} is never retried)", o.class)
    };
    let _ = writeln!(out, "  strategy: {strategy}");
    let _ = writeln!(
        out,
        "  {} sampled (seed {}), attempts take {}; deadline {}, max_attempts {}",
        plural(runs as usize, "run"),
        o.seed,
        format_duration(o.attempt_time),
        format_duration(c.deadline),
        c.max_attempts
    );
    out.push('\n');
    let headers = [
        "attempt", "reached", "p50", "max", "min", "p50", "p99", "max",
    ];
    let widest_wait = e
        .attempts
        .iter()
        .filter_map(|a| a.wait.map(|w| w.p50))
        .max()
        .unwrap_or_default();
    let mut rows: Vec<(Vec<String>, String)> = Vec::new();
    let mut any_cut = false;
    for a in &e.attempts {
        let mut cells = vec![
            a.attempt.to_string(),
            percent(a.reached, runs),
            approx(a.start.p50),
            approx(a.start.max),
        ];
        match &a.wait {
            Some(w) => {
                let cut = if a.cut_by_deadline > 0 {
                    any_cut = true;
                    "*"
                } else {
                    ""
                };
                cells.extend([
                    approx(w.min),
                    approx(w.p50),
                    approx(w.p99),
                    format!("{}{cut}", approx(w.max)),
                ]);
                rows.push((cells, bar(w.p50, widest_wait, 20)));
            }
            None => {
                cells.extend([
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                ]);
                rows.push((cells, String::new()));
            }
        }
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for (cells, _) in &rows {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Each group label fits over its columns.
    for (label, first, last) in [("starts at", 2, 3), ("then waits", 4, 7)] {
        let span = widths.get(first..=last).map_or(0, |w| {
            w.iter()
                .sum::<usize>()
                .saturating_add(w.len().saturating_sub(1).saturating_mul(2))
        });
        if let Some(w) = widths.get_mut(last) {
            *w = w.saturating_add(label.len().saturating_sub(span));
        }
    }
    // Cells are right-aligned, two spaces apart, after a two-space indent.
    let line = |cells: &[String], tail: &str| -> String {
        let mut s = String::new();
        for (cell, w) in cells.iter().zip(&widths) {
            let pad = w.saturating_sub(cell.chars().count());
            let _ = write!(s, "  {}{cell}", " ".repeat(pad));
        }
        if !tail.is_empty() {
            let _ = write!(s, "  {tail}");
        }
        s.trim_end().to_owned()
    };
    // Group labels over the columns they head: starts at (p50, max), then
    // waits (min, p50, p99, max).
    let column_start = |index: usize| -> usize {
        widths
            .iter()
            .take(index)
            .map(|w| w.saturating_add(2))
            .sum::<usize>()
            .saturating_add(2)
    };
    let mut groups = " ".repeat(column_start(2));
    groups.push_str("starts at");
    let waits_at = column_start(4);
    groups = format!("{groups:waits_at$}then waits");
    let _ = writeln!(out, "{groups}");
    let header_cells: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let _ = writeln!(out, "{}", line(&header_cells, ""));
    for (cells, tail) in &rows {
        let _ = writeln!(out, "{}", line(cells, tail));
    }
    if any_cut {
        let _ = writeln!(out, "  * the deadline cut this wait short in some runs");
    }
    out.push('\n');
    for s in &e.stops {
        let _ = writeln!(
            out,
            "  stops after attempt {}: {} in {} of runs ({})",
            s.after_attempt,
            s.reason.map_or("none", StopReason::as_str),
            percent(s.runs, runs),
            stop_cause(c, o.class, s.reason)
        );
    }
    if e.cut > 0 {
        let _ = writeln!(
            out,
            "  still retrying after attempt {} in {} of runs: not followed further (--schedule-limit {}; the policy allows {})",
            o.attempts_followed(),
            percent(e.cut, runs),
            o.limit,
            plural(c.max_attempts as usize, "attempt")
        );
    }
    if let Some(g) = &e.gave_up {
        let _ = writeln!(
            out,
            "  gives up after: min {}, p50 {}, p99 {}, max {}",
            approx(g.min),
            approx(g.p50),
            approx(g.p99),
            approx(g.max)
        );
    }
}

/// The rule table: `--list-rules`.
pub fn list_rules(out: &mut String, json: bool) {
    if json {
        let rules: Vec<Value> = RULES
            .iter()
            .map(|r| json!({"code": r.code, "severity": r.severity.as_str(), "summary": r.summary}))
            .collect();
        push_json(out, &Value::Array(rules));
        return;
    }
    let _ = writeln!(out, "code  severity  triggered by");
    for r in RULES {
        let _ = writeln!(out, "{}  {:8}  {}", r.code, r.severity.as_str(), r.summary);
    }
}
