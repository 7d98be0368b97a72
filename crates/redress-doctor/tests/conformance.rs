//! The conformance suite: every scenario in `conformance/scenarios/` played
//! through the engine (in-process and through the `redress` binary) must
//! produce the trace the reference produced, in `conformance/expected/`.
//!
//! Traces are compared the way the shared `compare.py` does: the same number
//! of (non-blank) lines, the same keys, equal values, numbers within 1e-6.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use redress_doctor::scenario::Scenario;
use redress_doctor::simulate::simulate;
use serde_json::Value;

/// Scenarios on which the engine disagrees with the reference, each with the
/// reason. A test checks they still disagree, so a fix shows up as a failure
/// that asks to move the scenario back into the suite.
const KNOWN_DISAGREEMENTS: &[(&str, &str)] = &[];

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

fn scenario_path(name: &str) -> PathBuf {
    conformance_dir()
        .join("scenarios")
        .join(format!("{name}.json"))
}

fn expected_path(name: &str) -> PathBuf {
    conformance_dir()
        .join("expected")
        .join(format!("{name}.jsonl"))
}

/// The stems of the files in `dir` ending with `.ext`, sorted.
fn stems(dir: &Path, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn scenario_names() -> Vec<String> {
    let names = stems(&conformance_dir().join("scenarios"), "json");
    assert!(!names.is_empty(), "no scenarios found");
    names
}

fn is_pending(name: &str) -> bool {
    KNOWN_DISAGREEMENTS.iter().any(|(n, _)| *n == name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Equality as `compare.py` defines it.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() <= 1e-6
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

/// Compares a trace with the expected one; the error names the first
/// differing line and shows both.
fn compare(name: &str, expected: &str, got: &str) -> Result<(), String> {
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (expected, got) = (lines(expected), lines(got));
    let parse = |line: &str, which: &str| -> Result<Value, String> {
        serde_json::from_str(line)
            .map_err(|e| format!("{name}: {which} line is not JSON ({e}): {line}"))
    };
    for i in 0..expected.len().max(got.len()) {
        let (e, g) = (expected.get(i), got.get(i));
        let equal = match (e, g) {
            (Some(e), Some(g)) => same(&parse(e, "expected")?, &parse(g, "produced")?),
            _ => false,
        };
        if !equal {
            return Err(format!(
                "scenario {name}, line {}:\n  expected: {}\n  got:      {}",
                i + 1,
                e.map_or("<end of trace>", String::as_str),
                g.map_or("<end of trace>", String::as_str),
            ));
        }
    }
    Ok(())
}

fn run_binary(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redress"))
        .args(args)
        .output()
        .expect("the redress binary runs")
}

fn simulate_with_binary(path: &Path) -> Output {
    run_binary(&["simulate".as_ref(), path.as_os_str()])
}

fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} scenario(s) differ from the reference:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_scenario_has_an_expected_trace_and_back() {
    let scenarios: BTreeSet<String> = scenario_names().into_iter().collect();
    let expected: BTreeSet<String> = stems(&conformance_dir().join("expected"), "jsonl")
        .into_iter()
        .collect();
    assert_eq!(
        scenarios, expected,
        "conformance/scenarios and conformance/expected must pair up"
    );
    for name in KNOWN_DISAGREEMENTS.iter().map(|(n, _)| n) {
        assert!(
            scenarios.contains(*name),
            "pending scenario {name} does not exist"
        );
    }
}

#[test]
fn budget_and_breaker_scenarios_are_in_the_suite() {
    // Shared state (a budget, a breaker) is what the suite must not skip.
    let using: Vec<String> = scenario_names()
        .into_iter()
        .filter(|name| {
            let doc: Value = serde_json::from_str(&read(&scenario_path(name))).unwrap();
            ["budget", "circuit_breaker"]
                .iter()
                .any(|key| doc["policy"].get(key).is_some_and(|v| !v.is_null()))
        })
        .collect();
    assert!(using.len() >= 3, "{using:?}");
    assert!(using.iter().all(|name| !is_pending(name)), "{using:?}");
}

#[test]
fn library_traces_match_the_reference() {
    let mut failures = Vec::new();
    for name in scenario_names() {
        let scenario = Scenario::load(&scenario_path(&name))
            .unwrap_or_else(|e| panic!("scenario {name} does not load: {e}"));
        let result = simulate(&scenario);
        if is_pending(&name) {
            continue;
        }
        let trace = result.unwrap_or_else(|e| panic!("scenario {name} does not run: {e}"));
        if let Err(diff) = compare(&name, &read(&expected_path(&name)), &trace.to_jsonl()) {
            failures.push(diff);
        }
    }
    report(&failures);
}

#[test]
fn binary_traces_match_the_reference() {
    let mut failures = Vec::new();
    for name in scenario_names() {
        let out = simulate_with_binary(&scenario_path(&name));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        if is_pending(&name) {
            continue;
        }
        assert!(
            out.status.success(),
            "scenario {name}: exit {:?}: {stderr}",
            out.status.code()
        );
        if let Err(diff) = compare(&name, &read(&expected_path(&name)), &stdout) {
            failures.push(diff);
        }
    }
    report(&failures);
}

/// Stronger than `compare.py`: the output is the reference's text byte for
/// byte (sorted keys, Python separators and float forms), so `diff` works.
#[test]
fn binary_output_is_the_reference_text() {
    for name in scenario_names().iter().filter(|n| !is_pending(n)) {
        let out = simulate_with_binary(&scenario_path(name));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let expected = read(&expected_path(name));
        for (i, (e, g)) in expected.lines().zip(stdout.lines()).enumerate() {
            assert_eq!(
                e,
                g,
                "scenario {name}, line {}: same values, different text",
                i + 1
            );
        }
        assert_eq!(expected.lines().count(), stdout.lines().count(), "{name}");
    }
}

#[test]
fn known_disagreements_still_disagree() {
    for (name, why) in KNOWN_DISAGREEMENTS {
        let scenario = Scenario::load(&scenario_path(name)).unwrap();
        let trace = simulate(&scenario).unwrap();
        assert!(
            compare(name, &read(&expected_path(name)), &trace.to_jsonl()).is_err(),
            "{name} now matches the reference (listed because: {why}): remove it from KNOWN_DISAGREEMENTS"
        );
    }
}

#[test]
fn the_comparison_reports_scenario_line_and_both_lines() {
    let expected = "{\"a\": 1, \"b\": 0.5}\n{\"a\": 2}\n";
    assert!(
        compare(
            "s",
            expected,
            "{\"b\": 0.5000001, \"a\": 1.0}\n{\"a\": 2}\n"
        )
        .is_ok()
    );
    let diff = compare("s", expected, "{\"a\": 1, \"b\": 0.5}\n{\"a\": 3}\n").unwrap_err();
    assert_eq!(
        diff,
        "scenario s, line 2:\n  expected: {\"a\": 2}\n  got:      {\"a\": 3}"
    );
    let short = compare("s", expected, "{\"a\": 1, \"b\": 0.5}\n").unwrap_err();
    assert!(short.ends_with("got:      <end of trace>"), "{short}");
    assert!(compare("s", "{\"ok\": true}", "{\"ok\": 1}").is_err());
    assert!(compare("s", "{\"a\": null}", "{\"b\": null}").is_err());
}

// ---- error paths ----

fn write_scenario(file: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-errors");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `redress simulate` on `path`, expects exit 2 and no output, and
/// returns the one-line message.
fn rejected(path: &Path) -> String {
    let out = simulate_with_binary(path);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&path.display().to_string()),
        "names the file: {stderr}"
    );
    stderr
}

#[test]
fn a_missing_file_is_rejected() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-scenario.json");
    let msg = rejected(&path);
    assert!(msg.contains("cannot read the scenario"), "{msg}");
}

#[test]
fn a_file_that_is_not_json_is_rejected() {
    let msg = rejected(&write_scenario("not_json.json", "{\"policy\": [1, 2,"));
    assert!(msg.contains("not valid JSON"), "{msg}");
}

#[test]
fn an_unknown_class_is_rejected_with_its_key() {
    let msg = rejected(&write_scenario(
        "unknown_class.json",
        r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 1}},
            "calls": [{"attempts": [{"error": "TRANSIENT"}, {"error": "TIMEOUT"}]}]}"#,
    ));
    assert!(
        msg.contains(r#"calls[0].attempts[1].error: unknown error class "TIMEOUT""#),
        "{msg}"
    );
    assert!(msg.contains("SERVER_ERROR"), "lists the classes: {msg}");
}

#[test]
fn an_unknown_strategy_kind_is_rejected_with_its_key() {
    let msg = rejected(&write_scenario(
        "unknown_kind.json",
        r#"{"policy": {"strategies": {"RATE_LIMIT": {"kind": "exponential", "base_s": 1}}},
            "calls": [{"attempts": [{"ok": true}]}]}"#,
    ));
    // A kind the engine has, but not one the reference runner plays.
    assert!(
        msg.contains(
            "policy.strategies.RATE_LIMIT.kind: error[E105]: strategy kind `exponential` is not available in a scenario"
        ),
        "{msg}"
    );
    assert!(msg.contains("constant, sequence, retry_after_or"), "{msg}");
}

#[test]
fn unknown_keys_and_bad_numbers_are_rejected() {
    let msg = rejected(&write_scenario(
        "unknown_key.json",
        r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 1}, "max_atempts": 3},
            "calls": []}"#,
    ));
    assert!(
        msg.contains("policy.max_atempts: error[E101]: unknown key `max_atempts`"),
        "{msg}"
    );
    assert!(msg.contains("did you mean `max_attempts`?"), "{msg}");
    let msg = rejected(&write_scenario(
        "bad_number.json",
        r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 1}},
            "calls": [{"at_s": -2, "attempts": [{"ok": true}]}]}"#,
    ));
    assert!(
        msg.contains("calls[0].at_s: -2 is not a valid number of seconds"),
        "{msg}"
    );
}

#[test]
fn a_policy_the_engine_refuses_is_rejected_with_its_key() {
    let msg = rejected(&write_scenario(
        "refused.json",
        r#"{"policy": {"deadline_s": 0, "strategy": {"kind": "constant", "delay_s": 1}},
            "calls": [{"attempts": [{"ok": true}]}]}"#,
    ));
    assert!(
        msg.contains("policy.deadline_s: error[E002]: the deadline is zero"),
        "{msg}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let out = run_binary(&["simulate".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_binary(&["frobnicate".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_binary(&["--help".as_ref()]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("simulate"), "{help}");
}
