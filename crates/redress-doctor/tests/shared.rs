//! `redress doctor` on files that declare shared breakers and budgets.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use redress_doctor::Status;
use redress_doctor::doctor::{DoctorOptions, Target, run};
use serde_json::Value;

const POLICY: &str = r#"strategy = { kind = "decorrelated_jitter", max = "2s" }
strategies.RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "decorrelated_jitter", max = "5s" } }
stop_when_retry_after_exceeds_deadline = true
deadline = "10s"
"#;

fn write(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shared");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn doctor(path: &std::path::Path, json: bool, deny_warnings: bool) -> (Status, String) {
    let mut options = DoctorOptions::default();
    options.json = json;
    options.deny_warnings = deny_warnings;
    let mut out = Vec::new();
    let status = run(&Target::parse(&path.to_string_lossy()), &options, &mut out).unwrap();
    (status, String::from_utf8(out).unwrap())
}

#[test]
fn shared_declarations_pass_and_an_unused_one_is_a_warning() {
    let text = format!(
        "[breakers.upstream]\nfailure_threshold = 3\nstore = \"redis://127.0.0.1:6379\"\nsync_interval = \"500ms\"\n\n\
         [budgets.spare]\nmax_retries = 5\nwindow = \"60s\"\n\n\
         [policies.reads]\n{POLICY}circuit_breaker = \"upstream\"\n\n\
         [policies.writes]\n{POLICY}circuit_breaker = \"upstream\"\n"
    );
    let path = write("unused", &text);
    let (status, out) = doctor(&path, false, false);
    assert_eq!(status, Status::Passed, "{out}");
    assert!(
        out.contains("warning[W022]: `[budgets.spare]` is declared, and no policy names it"),
        "{out}"
    );
    assert!(out.contains(":6:1 (budgets.spare)"), "{out}");
    let (status, _) = doctor(&path, false, true);
    assert_eq!(status, Status::Failed, "warnings denied");
    let (_, json) = doctor(&path, true, false);
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["diagnostics"][0]["code"], "W022");
    assert_eq!(report["diagnostics"][0]["line"], 6);
    // Checking one policy leaves the file's findings out.
    let mut named = path.to_string_lossy().into_owned();
    named.push_str(":reads");
    let mut out = Vec::new();
    let status = run(&Target::parse(&named), &DoctorOptions::default(), &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(status, Status::Passed, "{out}");
    assert!(!out.contains("W022"), "{out}");
}

#[test]
fn a_sync_slower_than_the_window_is_a_warning_of_each_policy() {
    let text = format!(
        "[breakers.upstream]\nwindow = \"2s\"\nrecovery_timeout = \"2s\"\nstore = \"redis://127.0.0.1:6379\"\nsync_interval = \"3s\"\n\n\
         [policies.reads]\n{POLICY}circuit_breaker = \"upstream\"\n"
    );
    let (status, out) = doctor(&write("slow_sync", &text), false, false);
    assert_eq!(status, Status::Passed, "{out}");
    assert!(out.contains("warning[W023]"), "{out}");
    assert!(out.contains("warning[W024]"), "{out}");
}

#[test]
fn an_unknown_name_fails_the_check() {
    let text = format!(
        "[breakers.upstream]\n\n[policies.reads]\n{POLICY}circuit_breaker = \"upstraem\"\n"
    );
    let (status, out) = doctor(&write("unknown", &text), false, false);
    assert_eq!(status, Status::Failed, "{out}");
    assert!(
        out.contains("error[E110]: no `[breakers.upstraem]` is declared"),
        "{out}"
    );
    assert!(out.contains("did you mean `upstream`?"), "{out}");
}
