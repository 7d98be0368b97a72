//! `redress doctor` and building agree on every rule: walking the rule
//! list, a config that breaks only one error rule fails the doctor with
//! that code, and building it (as `redress simulate` does) is refused with
//! the same code; every other rule the doctor reports is a warning, which
//! never stops a build.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use redress_config::{BuildError, PolicyConfig, RULES, Severity};
use redress_core::ConfigError;
use redress_doctor::Status;
use redress_doctor::doctor::{DoctorOptions, Target, run};
use redress_doctor::simulate::{SimulateError, build_policy};
use serde_json::Value;

const SANE_STRATEGY: &str = r#"{ kind = "decorrelated_jitter", max = "2s" }"#;
const RATE_LIMIT: &str = r#"strategies.RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "decorrelated_jitter", max = "5s" } }"#;

/// A config breaking only `code`: a sane policy with one thing changed.
fn breaking(code: &str) -> String {
    let (mut deadline, mut max_attempts) = ("\"10s\"", "5");
    let (mut strategy, mut rate_limit, mut extra) = (Some(SANE_STRATEGY), true, "");
    match code {
        "E001" => max_attempts = "0",
        "E002" => deadline = "\"0s\"",
        "E003" => extra = "attempt_timeout = \"0s\"\n",
        "E004" => (strategy, rate_limit) = (None, false),
        "E005" => strategy = Some(r#"{ kind = "equal_jitter", base = "3s", max = "2s" }"#),
        "E006" => strategy = Some(r#"{ kind = "token_backoff", base = "0s", max = "2s" }"#),
        "E007" => strategy = Some(r#"{ kind = "exponential", factor = 0.5, max = "2s" }"#),
        "E008" => strategy = Some(r#"{ kind = "schedule", delays = [] }"#),
        "E009" => {
            strategy = Some(
                r#"{ kind = "adaptive", fallback = { kind = "constant", delay = "1s" }, min_multiplier = 0.5 }"#,
            );
        }
        "E010" => extra = "[budget]\nmax_retries = 10\nwindow = \"0s\"\n",
        "E011" => extra = "[budget]\nratio = nan\n",
        "E013" => extra = "[circuit_breaker]\nclass_thresholds = { TRANSIENT = 0 }\n",
        "E014" => extra = "[circuit_breaker]\nwindow = \"0s\"\n",
        "E015" => extra = "[circuit_breaker]\nrecovery_timeout = \"0s\"\n",
        "E108" => {
            strategy = Some(
                r#"{ kind = "adaptive", fallback = { kind = "adaptive", fallback = { kind = "constant", delay = "1s" } } }"#,
            );
        }
        other => panic!("no config breaks {other}: add one"),
    }
    let mut text = format!("deadline = {deadline}\nmax_attempts = {max_attempts}\n");
    if let Some(s) = strategy {
        text.push_str(&format!("strategy = {s}\n"));
    }
    if rate_limit {
        text.push_str(RATE_LIMIT);
        text.push('\n');
    }
    text.push_str(extra);
    text
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The doctor's verdict and the codes of its errors.
fn doctor(path: &std::path::Path) -> (Status, Vec<String>) {
    let mut options = DoctorOptions::default();
    options.json = true;
    let mut out = Vec::new();
    let status = run(&Target::parse(&path.to_string_lossy()), &options, &mut out).unwrap();
    let report: Value = serde_json::from_slice(&out).unwrap();
    let errors = report["policies"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect();
    (status, errors)
}

#[test]
fn the_doctor_and_build_agree_on_every_rule() {
    // Every error rule a lint reports is one core refuses, and back.
    let lint_errors: Vec<&str> = RULES
        .iter()
        .filter(|r| r.severity == Severity::Error)
        .filter(|r| !r.code.starts_with("E1") || r.code == "E108")
        .map(|r| r.code)
        .collect();
    assert_eq!(lint_errors, ConfigError::CODES);

    for code in ConfigError::CODES {
        let text = breaking(code);
        let path = write(code, &text);
        let (status, errors) = doctor(&path);
        assert_eq!(status, Status::Failed, "{code}:\n{text}");
        assert_eq!(errors, [code], "{code}:\n{text}");
        let config = PolicyConfig::load(&path).unwrap();
        match build_policy(&config) {
            Err(SimulateError::Build(BuildError::Invalid(report))) => {
                let refused: Vec<&str> = report.errors().map(|d| d.code).collect();
                assert_eq!(refused, [code], "{code}");
            }
            other => panic!("{code}: built or refused otherwise: {:?}", other.err()),
        }
    }
}

#[test]
fn warnings_never_stop_a_build() {
    // A config with many warnings and no error: the doctor passes it and
    // it builds.
    let text = r#"
deadline = "1s"
max_attempts = 25
max_unknown_attempts = "unlimited"
strategy = { kind = "exponential", max = "30s" }
strategies.AUTH = { kind = "constant", delay = "0s" }
[budget]
max_retries = 0
window = "500ms"
"#;
    let path = write("warnings_only", text);
    let (status, errors) = doctor(&path);
    assert_eq!(status, Status::Passed);
    assert!(errors.is_empty(), "{errors:?}");
    let config = PolicyConfig::load(&path).unwrap();
    build_policy(&config).unwrap();
}
