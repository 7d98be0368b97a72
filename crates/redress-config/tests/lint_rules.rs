//! Every lint rule: a config that triggers it and a close one that does not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use core::time::Duration;
use std::sync::Arc;

use redress_config::{Lint, PolicyConfig, RULES, Severity};
use redress_core::backoff::{Backoff, constant, decorrelated_jitter, exponential};
use redress_core::budget::RollingBudget;
use redress_core::{BackoffContext, CircuitBreaker, ErrorClass, Policy};

/// A sane policy: no findings.
const SANE: &str = r#"
deadline = "10s"
max_attempts = 5
strategy = { kind = "decorrelated_jitter", base = "100ms", max = "2s" }
strategies.RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "decorrelated_jitter", max = "5s" } }
"#;

fn config(text: &str) -> PolicyConfig {
    PolicyConfig::from_toml_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `SANE` with `extra` lines appended.
fn sane_with(extra: &str) -> String {
    format!("{SANE}{extra}\n")
}

/// The sane policy with `key` replaced by `line`.
fn sane_replacing(key: &str, line: &str) -> String {
    let mut out: Vec<String> = SANE
        .lines()
        .filter(|l| !l.starts_with(&format!("{key} ")))
        .map(str::to_owned)
        .collect();
    out.push(line.to_owned());
    out.join("\n") + "\n"
}

struct Case {
    code: &'static str,
    triggers: String,
    passes: String,
}

fn case(code: &'static str, triggers: String, passes: String) -> Case {
    Case {
        code,
        triggers,
        passes,
    }
}

fn cases() -> Vec<Case> {
    let strategy = |s: &str| sane_replacing("strategy", &format!("strategy = {s}"));
    let budget = |b: &str| sane_with(&format!("[budget]\n{b}"));
    let breaker = |b: &str| sane_with(&format!("[circuit_breaker]\n{b}"));
    vec![
        case(
            "E001",
            sane_replacing("max_attempts", "max_attempts = 0"),
            sane_replacing("max_attempts", "max_attempts = 2"),
        ),
        case(
            "E002",
            sane_replacing("deadline", r#"deadline = "0s""#),
            sane_replacing("deadline", r#"deadline = "1s""#),
        ),
        case(
            "E003",
            sane_with(r#"attempt_timeout = "0s""#),
            sane_with(r#"attempt_timeout = "1s""#),
        ),
        case("E004", "max_attempts = 3\n".into(), SANE.into()),
        case(
            "E005",
            strategy(r#"{ kind = "equal_jitter", base = "3s", max = "2s" }"#),
            strategy(r#"{ kind = "equal_jitter", base = "2s", max = "2s" }"#),
        ),
        case(
            "E006",
            strategy(r#"{ kind = "full_jitter", base = "0s", max = "2s" }"#),
            strategy(r#"{ kind = "full_jitter", base = "1ms", max = "2s" }"#),
        ),
        case(
            "E007",
            strategy(r#"{ kind = "exponential", factor = 0.5, max = "2s" }"#),
            strategy(r#"{ kind = "exponential", factor = 1, max = "2s" }"#),
        ),
        case(
            "E008",
            strategy(r#"{ kind = "schedule", delays = [] }"#),
            strategy(r#"{ kind = "schedule", delays = ["1s"] }"#),
        ),
        case(
            "E009",
            strategy(
                r#"{ kind = "adaptive", fallback = { kind = "constant", delay = "100ms" }, target_success = 0 }"#,
            ),
            strategy(
                r#"{ kind = "adaptive", fallback = { kind = "constant", delay = "100ms" }, target_success = 0.5 }"#,
            ),
        ),
        case(
            "E010",
            budget("max_retries = 10\nwindow = \"0s\""),
            budget("max_retries = 10\nwindow = \"60s\""),
        ),
        case(
            "E011",
            budget("ratio = -1.0"),
            budget("ratio = 0.2\nwindow = \"10s\""),
        ),
        case(
            "E012",
            budget("max_retries = 0\nwindow = \"60s\""),
            budget("max_retries = 1\nwindow = \"60s\""),
        ),
        case(
            "E013",
            breaker("failure_threshold = 0"),
            breaker("failure_threshold = 1"),
        ),
        case(
            "E014",
            breaker(r#"window = "0s""#),
            breaker(r#"window = "1s""#),
        ),
        case(
            "E015",
            breaker(r#"recovery_timeout = "0s""#),
            breaker(r#"recovery_timeout = "1s""#),
        ),
        case(
            "W001",
            sane_replacing("deadline", r#"deadline = "90ms""#),
            sane_replacing("deadline", r#"deadline = "300ms""#),
        ),
        case(
            "W002",
            sane_with(r#"attempt_timeout = "10s""#),
            sane_with(r#"attempt_timeout = "2s""#),
        ),
        case(
            "W003",
            sane_with("per_class_max_attempts.TRANSIENT = 5"),
            sane_with("per_class_max_attempts.TRANSIENT = 4"),
        ),
        case(
            "W004",
            sane_with("max_unknown_attempts = 6"),
            sane_with("max_unknown_attempts = 5"),
        ),
        case(
            "W005",
            sane_with(r#"strategies.AUTH = { kind = "constant", delay = "1s" }"#),
            sane_with(r#"strategies.TRANSIENT = { kind = "constant", delay = "1s" }"#),
        ),
        case(
            "W006",
            sane_with("per_class_max_attempts.PERMANENT = 1"),
            sane_with("per_class_max_attempts.TRANSIENT = 1"),
        ),
        case(
            "W007",
            strategy(r#"{ kind = "decorrelated_jitter", max = "30s" }"#),
            strategy(r#"{ kind = "decorrelated_jitter", max = "10s" }"#),
        ),
        case(
            "W008",
            sane_with(r#"max_unknown_attempts = "unlimited""#),
            sane_with("max_unknown_attempts = 3"),
        ),
        case(
            "W009",
            sane_replacing("max_attempts", "max_attempts = 21"),
            sane_replacing("max_attempts", "max_attempts = 20"),
        ),
        case(
            "W010",
            strategy(r#"{ kind = "exponential", max = "2s" }"#),
            strategy(r#"{ kind = "equal_jitter", max = "2s" }"#),
        ),
        case(
            "W011",
            budget("max_retries = 10\nwindow = \"5s\""),
            budget("max_retries = 10\nwindow = \"10s\""),
        ),
        case(
            "W012",
            sane_with("attempt_timeout = \"2s\"\n[circuit_breaker]\nrecovery_timeout = \"1s\""),
            sane_with("attempt_timeout = \"2s\"\n[circuit_breaker]\nrecovery_timeout = \"2s\""),
        ),
        case(
            "W013",
            sane_replacing("strategies.RATE_LIMIT", ""),
            SANE.into(),
        ),
        case(
            "W014",
            sane_with(r#"strategies.CONCURRENCY = { kind = "constant", delay = "0s" }"#),
            sane_with(r#"strategies.CONCURRENCY = { kind = "constant", delay = "50ms" }"#),
        ),
        case(
            "W015",
            sane_replacing("max_attempts", "max_attempts = 1"),
            sane_replacing("max_attempts", "max_attempts = 1\n[circuit_breaker]"),
        ),
        case("W016", sane_replacing("strategy", ""), SANE.into()),
        case(
            "W017",
            breaker("trip_on = []"),
            breaker(r#"trip_on = ["SERVER_ERROR"]"#),
        ),
        case(
            "W018",
            budget("ratio = 2.0"),
            budget("ratio = 1.0\nwindow = \"10s\""),
        ),
        case(
            "W019",
            breaker("failure_threshold = 5\nclass_thresholds = { RATE_LIMIT = 5 }"),
            breaker("failure_threshold = 5\nclass_thresholds = { RATE_LIMIT = 4 }"),
        ),
    ]
}

#[test]
fn the_sane_policy_is_clean() {
    let report = config(SANE).lint();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn every_rule_triggers_and_a_close_config_passes() {
    let mut failures = Vec::new();
    for c in cases() {
        let hit = config(&c.triggers).lint();
        if !hit.contains(c.code) {
            failures.push(format!(
                "{} did not trigger on:\n{}\nreport:\n{hit}",
                c.code, c.triggers
            ));
        }
        let miss = config(&c.passes).lint();
        if miss.contains(c.code) {
            failures.push(format!(
                "{} triggered on:\n{}\nreport:\n{miss}",
                c.code, c.passes
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_lint_rule_has_a_case_and_every_finding_has_help() {
    let covered: Vec<&str> = cases().iter().map(|c| c.code).collect();
    for rule in RULES.iter().filter(|r| !r.code.starts_with("E1")) {
        assert!(covered.contains(&rule.code), "no case for {}", rule.code);
    }
    for c in cases() {
        for d in config(&c.triggers).lint().diagnostics {
            assert!(d.help.is_some(), "{} has no help", d.code);
            let rule = RULES.iter().find(|r| r.code == d.code).unwrap();
            assert_eq!(rule.severity, d.severity, "{}", d.code);
            assert_eq!(
                d.code.starts_with('E'),
                d.severity == Severity::Error,
                "{}",
                d.code
            );
        }
    }
}

#[test]
fn findings_name_the_key() {
    let report = config(&sane_with(
        r#"strategies.CONCURRENCY = { kind = "exponential", base = "3s", max = "2s" }"#,
    ))
    .lint();
    let e005 = report.errors().find(|d| d.code == "E005").unwrap();
    assert_eq!(e005.path, "strategies.CONCURRENCY.base");
    assert_eq!(e005.message, "base (3s) is above max (2s)");
    let nested = config(&sane_replacing(
        "strategies.RATE_LIMIT",
        r#"strategies.RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "decorrelated_jitter", max = "60s" } }"#,
    ))
    .lint();
    let w007 = nested.warnings().find(|d| d.code == "W007").unwrap();
    assert_eq!(w007.path, "strategies.RATE_LIMIT.fallback.max");
}

#[test]
fn a_config_that_cannot_retry_at_all_says_why() {
    let report = config(
        r#"
        deadline = "100ms"
        strategy = { kind = "constant", delay = "1s" }
        [budget]
        max_retries = 0
        window = "1m"
        "#,
    )
    .lint();
    assert!(report.contains("E012"), "{report}");
    assert!(report.contains("W001"), "{report}");
}

#[test]
fn params_errors_do_not_also_raise_timing_warnings() {
    // base above max and above the deadline: one finding, the error.
    let report = config(&sane_replacing(
        "strategy",
        r#"strategy = { kind = "equal_jitter", base = "20s", max = "1s" }"#,
    ))
    .lint();
    assert!(report.contains("E005"));
    assert!(
        !report.contains("W001") && !report.contains("W007"),
        "{report}"
    );
}

#[test]
fn code_built_policies_are_linted_by_the_same_rules() {
    let clean = Policy::builder()
        .strategy(decorrelated_jitter().max(Duration::from_secs(2)))
        .class_strategy(
            ErrorClass::RateLimit,
            redress_core::backoff::retry_after_or(
                decorrelated_jitter().max(Duration::from_secs(5)),
            ),
        )
        .deadline(Duration::from_secs(10))
        .budget(Arc::new(
            RollingBudget::new(100, Duration::from_secs(60)).unwrap(),
        ))
        .circuit_breaker(Arc::new(CircuitBreaker::builder().build().unwrap()))
        .build()
        .unwrap();
    let report = clean.lint();
    assert!(report.is_clean(), "{report}");

    let flagged = Policy::builder()
        .strategy(exponential())
        .deadline(Duration::from_secs(5))
        .budget(Arc::new(
            RollingBudget::new(0, Duration::from_secs(1)).unwrap(),
        ))
        .unlimited_unknown_attempts()
        .build()
        .unwrap();
    let report = flagged.lint();
    for code in ["E012", "W007", "W008", "W010", "W011", "W013"] {
        assert!(report.contains(code), "{code} missing from:\n{report}");
    }
}

#[test]
fn custom_strategies_are_opaque_but_their_cap_counts() {
    struct Slow;
    impl redress_core::Strategy for Slow {
        fn delay(&self, _: &BackoffContext<'_>, _: &mut dyn redress_core::Rng) -> Duration {
            Duration::from_secs(1)
        }
        fn max_delay(&self) -> Option<Duration> {
            Some(Duration::from_secs(90))
        }
    }
    let policy = Policy::builder()
        .strategy(Backoff::custom(Slow))
        .class_strategy(
            ErrorClass::RateLimit,
            redress_core::backoff::retry_after_or(constant(Duration::from_secs(1))),
        )
        .build()
        .unwrap();
    let report = policy.lint();
    let w007 = report.warnings().find(|d| d.code == "W007").unwrap();
    assert_eq!(w007.path, "strategy");
    assert_eq!(report.diagnostics.len(), 1, "{report}");
}
