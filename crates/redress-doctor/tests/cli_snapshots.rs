//! The CLI's output, as committed snapshots: each case runs the `redress`
//! binary from this crate's directory and compares its exit status, stdout
//! and stderr with `tests/snapshots/NAME.txt`.
//!
//! After an intended change of the output, rewrite the snapshots with
//! `REDRESS_BLESS=1 cargo test -p redress-doctor --test cli_snapshots` and
//! review the diff.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

const CASES: &[(&str, &[&str])] = &[
    // The three new-user cases.
    ("doctor_typo", &["doctor", "tests/fixtures/typo.toml"]),
    (
        "doctor_cannot_retry",
        &["doctor", "tests/fixtures/cannot_retry.toml"],
    ),
    ("doctor_sane", &["doctor", "tests/fixtures/sane.toml"]),
    // What the engine refuses to build, the doctor refuses too.
    ("doctor_refused", &["doctor", "tests/fixtures/refused.toml"]),
    // Options.
    (
        "doctor_show",
        &["doctor", "--show", "tests/fixtures/sane.toml:payments"],
    ),
    (
        "doctor_schedule",
        &[
            "doctor",
            "--schedule",
            "--samples",
            "500",
            "tests/fixtures/sane.toml:payments",
        ],
    ),
    (
        "doctor_schedule_rate_limit",
        &[
            "doctor",
            "tests/fixtures/sane.toml:payments",
            "--schedule",
            "--class",
            "RATE_LIMIT",
            "--retry-after",
            "2s",
            "--samples",
            "200",
        ],
    ),
    (
        "doctor_schedule_deadline",
        &[
            "doctor",
            "--schedule",
            "--class",
            "TRANSIENT",
            "--samples",
            "200",
            "--seed",
            "7",
            "tests/fixtures/short_deadline.toml",
        ],
    ),
    (
        "doctor_schedule_never_retried",
        &[
            "doctor",
            "--schedule",
            "--class",
            "AUTH",
            "tests/fixtures/sane.toml",
        ],
    ),
    (
        "doctor_warnings",
        &["doctor", "tests/fixtures/warnings.toml"],
    ),
    (
        "doctor_deny_warnings",
        &["doctor", "--deny-warnings", "tests/fixtures/warnings.toml"],
    ),
    (
        "doctor_allow",
        &[
            "doctor",
            "--deny-warnings",
            "--allow",
            "W003",
            "--allow",
            "W006",
            "--allow",
            "W007",
            "--allow",
            "W008",
            "--allow",
            "W013",
            "tests/fixtures/warnings.toml",
        ],
    ),
    ("doctor_multi", &["doctor", "tests/fixtures/multi.toml"]),
    (
        "doctor_multi_one",
        &["doctor", "tests/fixtures/multi.toml:search"],
    ),
    (
        "doctor_json_file",
        &["doctor", "tests/fixtures/policy.json"],
    ),
    (
        "doctor_json_output",
        &[
            "doctor",
            "--format",
            "json",
            "tests/fixtures/cannot_retry.toml",
        ],
    ),
    (
        "doctor_json_show_schedule",
        &[
            "doctor",
            "--format",
            "json",
            "--show",
            "--schedule",
            "--samples",
            "20",
            "tests/fixtures/sane.toml:payments",
        ],
    ),
    (
        "doctor_json_load_problems",
        &["doctor", "--format", "json", "tests/fixtures/typo.toml"],
    ),
    // Files that cannot be checked: exit 2.
    (
        "doctor_no_such_policy",
        &["doctor", "tests/fixtures/sane.toml:paymnts"],
    ),
    (
        "doctor_no_such_file",
        &["doctor", "tests/fixtures/missing.toml"],
    ),
    ("doctor_syntax", &["doctor", "tests/fixtures/syntax.toml"]),
    (
        "doctor_syntax_json",
        &["doctor", "--format", "json", "tests/fixtures/syntax.toml"],
    ),
    (
        "doctor_structure",
        &["doctor", "tests/fixtures/structure.toml"],
    ),
    // Usage.
    ("doctor_list_rules", &["doctor", "--list-rules"]),
    ("doctor_help", &["doctor", "--help"]),
    (
        "doctor_bad_class",
        &[
            "doctor",
            "tests/fixtures/sane.toml",
            "--schedule",
            "--class",
            "SERVR_ERROR",
        ],
    ),
    // A file is read as far as it can be: syntax errors with the findings
    // of the policies they leave whole; load problems with lint errors.
    ("doctor_partial", &["doctor", "tests/fixtures/partial.toml"]),
    (
        "doctor_partial_json",
        &["doctor", "--format", "json", "tests/fixtures/partial.toml"],
    ),
    (
        "doctor_problems_and_errors",
        &["doctor", "tests/fixtures/problems_and_errors.toml"],
    ),
    // JSON findings are located, their help written in JSON.
    (
        "doctor_json_problems",
        &["doctor", "tests/fixtures/problems.json"],
    ),
    // Policy names with colons, empty, or with terminal escapes.
    ("doctor_names", &["doctor", "tests/fixtures/names.toml"]),
    (
        "doctor_name_with_colon",
        &["doctor", "tests/fixtures/names.toml:payments:v2"],
    ),
    (
        "doctor_empty_name",
        &["doctor", "tests/fixtures/names.toml:"],
    ),
    // Colour on request.
    (
        "doctor_color",
        &["doctor", "--color", "always", "tests/fixtures/typo.toml"],
    ),
    // A policy with billions of attempts: bounded output, and a notice.
    (
        "doctor_schedule_limit",
        &[
            "doctor",
            "--schedule",
            "--samples",
            "10",
            "--schedule-limit",
            "4",
            "tests/fixtures/huge.toml",
        ],
    ),
    (
        "simulate_limit",
        &[
            "simulate",
            "tests/fixtures/huge.toml",
            "--fail",
            "SERVER_ERROR",
            "--limit",
            "5",
        ],
    ),
    (
        "simulate_limit_json",
        &[
            "simulate",
            "tests/fixtures/huge.toml",
            "--fail",
            "SERVER_ERROR",
            "--fail",
            "ok",
            "--limit",
            "3",
            "--format",
            "json",
        ],
    ),
    // Scripts: located problems, in order, options once.
    (
        "simulate_script_backwards",
        &[
            "simulate",
            "tests/fixtures/sane.toml:payments",
            "--script",
            "tests/fixtures/backwards.toml",
        ],
    ),
    (
        "simulate_repeated_option",
        &[
            "simulate",
            "tests/fixtures/sane.toml:payments",
            "--fail",
            "SERVER_ERROR x2 x3",
        ],
    ),
    ("help", &["--help"]),
    ("simulate_help", &["simulate", "--help"]),
    // Simulate with a config.
    (
        "simulate_script",
        &[
            "simulate",
            "tests/fixtures/sane.toml:payments",
            "--script",
            "tests/fixtures/outage.toml",
        ],
    ),
    (
        "simulate_fail_json",
        &[
            "simulate",
            "tests/fixtures/sane.toml:payments",
            "--fail",
            "SERVER_ERROR x2, ok",
            "--fail",
            "CONCURRENCY x9",
            "--format",
            "json",
        ],
    ),
    (
        "simulate_json_config",
        &[
            "simulate",
            "tests/fixtures/policy.json",
            "--fail",
            "RATE_LIMIT x3",
            "--fail",
            "RATE_LIMIT x3",
            "--fail",
            "RATE_LIMIT x3",
            "--fail",
            "RATE_LIMIT x3",
        ],
    ),
    (
        "simulate_needs_a_script",
        &["simulate", "tests/fixtures/sane.toml"],
    ),
    (
        "simulate_bad_script",
        &[
            "simulate",
            "tests/fixtures/sane.toml:payments",
            "--fail",
            "SERVER_EROR",
        ],
    ),
    (
        "simulate_invalid_config",
        &["simulate", "tests/fixtures/refused.toml", "--fail", "ok"],
    ),
    (
        "simulate_pick_a_policy",
        &["simulate", "tests/fixtures/multi.toml", "--fail", "ok"],
    ),
    (
        "simulate_one_of_several",
        &[
            "simulate",
            "tests/fixtures/multi.toml:search",
            "--fail",
            "TRANSIENT x2, ok",
        ],
    ),
    (
        "simulate_scenario_text",
        &[
            "simulate",
            "--format",
            "text",
            "../../conformance/scenarios/budget_and_breaker_together.json",
        ],
    ),
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn render(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_redress"))
        .args(args)
        .current_dir(crate_dir())
        .output()
        .expect("the redress binary runs");
    let quoted: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                (*a).to_owned()
            }
        })
        .collect();
    let mut text = format!(
        "$ redress {}\nexit: {}\n",
        quoted.join(" "),
        out.status
            .code()
            .map_or("signal".to_owned(), |c| c.to_string())
    );
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        if !bytes.is_empty() {
            text.push_str(&format!("--- {name}\n{}", String::from_utf8_lossy(bytes)));
        }
    }
    text
}

fn snapshot_path(name: &str) -> PathBuf {
    crate_dir()
        .join("tests/snapshots")
        .join(format!("{name}.txt"))
}

#[test]
fn cli_output_matches_the_snapshots() {
    let bless = std::env::var_os("REDRESS_BLESS").is_some();
    let mut failures = Vec::new();
    for (name, args) in CASES {
        let got = render(args);
        let path = snapshot_path(name);
        if bless {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != got {
            failures.push(format!(
                "{name} ({}) differs.\n--- expected\n{expected}\n--- got\n{got}",
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} snapshot(s) differ (REDRESS_BLESS=1 rewrites them):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_snapshot_has_a_case() {
    let names: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
    for entry in std::fs::read_dir(crate_dir().join("tests/snapshots")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            names.contains(&stem.as_str()),
            "{} has no case: remove it",
            path.display()
        );
    }
}

#[test]
fn exit_statuses_follow_the_contract() {
    let code = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_redress"))
            .args(args)
            .current_dir(crate_dir())
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(code(&["doctor", "tests/fixtures/sane.toml"]), Some(0));
    assert_eq!(code(&["doctor", "tests/fixtures/warnings.toml"]), Some(0));
    assert_eq!(
        code(&["doctor", "--deny-warnings", "tests/fixtures/warnings.toml"]),
        Some(1)
    );
    // A budget of zero is legal (warnings); a zero base is not.
    assert_eq!(
        code(&["doctor", "tests/fixtures/cannot_retry.toml"]),
        Some(0)
    );
    assert_eq!(code(&["doctor", "tests/fixtures/refused.toml"]), Some(1));
    assert_eq!(code(&["doctor", "tests/fixtures/typo.toml"]), Some(1));
    assert_eq!(code(&["doctor", "tests/fixtures/syntax.toml"]), Some(2));
    assert_eq!(code(&["doctor", "tests/fixtures/sane.toml:nope"]), Some(2));
    assert_eq!(code(&["doctor", "tests/fixtures/missing.toml"]), Some(2));
}

/// The example configs of the repository stay clean.
#[test]
fn the_example_configs_pass_with_no_warnings() {
    let dir = crate_dir().join("../../examples/configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.extension().is_some_and(|e| e == "toml" || e == "json") {
            continue;
        }
        seen += 1;
        let out = Command::new(env!("CARGO_BIN_EXE_redress"))
            .args([
                "doctor".as_ref(),
                "--deny-warnings".as_ref(),
                path.as_os_str(),
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert!(seen > 0, "no example configs in {}", dir.display());
    let _ = Path::new("");
}
