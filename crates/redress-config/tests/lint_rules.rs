//! Every lint rule: a config that triggers it and a close one that does not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use core::time::Duration;
use std::sync::Arc;

use proptest::prelude::*;
use redress_config::{
    BreakerConfig, BudgetConfig, BuildError, Lint, PolicyConfig, RULES, Severity, StrategyConfig,
};
use redress_core::backoff::{Backoff, constant, decorrelated_jitter, exponential};
use redress_core::budget::{RatioBudget, RollingBudget};
use redress_core::{BackoffContext, CircuitBreaker, ConfigError, ErrorClass, Policy};

/// A sane policy: no findings.
const SANE: &str = r#"
deadline = "10s"
max_attempts = 5
stop_when_retry_after_exceeds_deadline = true
strategy = { kind = "decorrelated_jitter", base = "100ms", max = "2s" }
strategies.RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "decorrelated_jitter", max = "5s" } }
"#;

/// The rules a lint reports (not those of loading, `E1xx`, except the
/// nesting, which core's validation finds; nor `W022`, about a whole file:
/// `shared_declarations.rs` covers it).
fn is_lint_rule(code: &str) -> bool {
    (!code.starts_with("E1") || code == "E108") && code != "W022"
}

/// The sane policy as `[policies.p]`, after `declarations`, with `extra`
/// lines in the policy.
fn sane_sharing(declarations: &str, extra: &str) -> String {
    format!("{declarations}\n[policies.p]\n{SANE}{extra}\n")
}

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
            "E108",
            strategy(
                r#"{ kind = "retry_after_or", fallback = { kind = "retry_after_or", fallback = { kind = "constant", delay = "1s" } } }"#,
            ),
            strategy(
                r#"{ kind = "retry_after_or", fallback = { kind = "adaptive", fallback = { kind = "constant", delay = "1s" } } }"#,
            ),
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
        case(
            "W020",
            budget("max_retries = 0\nwindow = \"60s\""),
            budget("max_retries = 1\nwindow = \"60s\""),
        ),
        case(
            "W020",
            budget("ratio = 0.0\nmin_per_second = 0"),
            budget("ratio = 0.0\nmin_per_second = 1"),
        ),
        case(
            "W021",
            sane_replacing(
                "stop_when_retry_after_exceeds_deadline",
                "stop_when_retry_after_exceeds_deadline = false",
            ),
            SANE.to_owned(),
        ),
        case(
            "W023",
            sane_sharing(
                "[breakers.up]\nwindow = \"1s\"\nstore = \"redis://127.0.0.1:6379\"\nsync_interval = \"2s\"",
                "circuit_breaker = \"up\"",
            ),
            sane_sharing(
                "[breakers.up]\nwindow = \"10s\"\nstore = \"redis://127.0.0.1:6379\"\nsync_interval = \"2s\"",
                "circuit_breaker = \"up\"",
            ),
        ),
        case(
            "W024",
            sane_sharing(
                "[breakers.up]\nrecovery_timeout = \"1s\"\nstore = \"redis://127.0.0.1:6379\"",
                "circuit_breaker = \"up\"",
            ),
            sane_sharing(
                "[breakers.up]\nrecovery_timeout = \"1s\"\nstore = \"redis://127.0.0.1:6379\"\nsync_interval = \"100ms\"",
                "circuit_breaker = \"up\"",
            ),
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
    for rule in RULES.iter().filter(|r| is_lint_rule(r.code)) {
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
    // A budget of zero is legal (as in the reference): a warning.
    assert!(report.contains("W020"), "{report}");
    assert!(!report.has_errors(), "{report}");
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
        .stop_when_retry_after_exceeds_deadline()
        .budget(Arc::new(
            RollingBudget::new(100, Duration::from_secs(60)).unwrap(),
        ))
        .circuit_breaker(Arc::new(CircuitBreaker::builder().build().unwrap()))
        .build()
        .unwrap();
    let report = clean.lint();
    assert!(report.is_clean(), "{report}");
    // Without the setting, the RATE_LIMIT strategy sleeps to the deadline
    // for a long hint: W021.
    let sleeps_to_the_deadline = Policy::builder()
        .strategy(decorrelated_jitter().max(Duration::from_secs(2)))
        .class_strategy(
            ErrorClass::RateLimit,
            redress_core::backoff::retry_after_or(
                decorrelated_jitter().max(Duration::from_secs(5)),
            ),
        )
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    let w021 = sleeps_to_the_deadline.lint();
    assert!(w021.contains("W021"), "{w021}");
    assert_eq!(w021.diagnostics.len(), 1, "{w021}");

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
    assert!(!report.has_errors(), "{report}");
    for code in ["W007", "W008", "W010", "W011", "W013", "W020"] {
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
        .stop_when_retry_after_exceeds_deadline()
        .build()
        .unwrap();
    let report = policy.lint();
    let w007 = report.warnings().find(|d| d.code == "W007").unwrap();
    assert_eq!(w007.path, "strategy");
    assert_eq!(report.diagnostics.len(), 1, "{report}");
}

// ---- One set of rules: the lint's errors are core's validation ----

/// `config` built through the Rust builder API (core's builders, not this
/// crate's): the error core's `build()` returns first.
fn build_in_code(c: &PolicyConfig) -> Result<(), ConfigError> {
    let mut b = Policy::builder()
        .deadline(c.deadline)
        .max_attempts(c.max_attempts);
    b = match c.max_unknown_attempts {
        Some(cap) => b.max_unknown_attempts(cap),
        None => b.unlimited_unknown_attempts(),
    };
    if let Some(t) = c.attempt_timeout {
        b = b.attempt_timeout(t);
    }
    for (class, cap) in &c.per_class_max_attempts {
        b = b.class_max_attempts(*class, *cap);
    }
    if let Some(s) = &c.strategy {
        b = b.strategy(s.to_backoff());
    }
    for (class, s) in &c.strategies {
        b = b.class_strategy(*class, s.to_backoff());
    }
    match &c.budget {
        Some(BudgetConfig::Rolling {
            max_retries,
            window,
        }) => b = b.budget(Arc::new(RollingBudget::new(*max_retries, *window)?)),
        Some(BudgetConfig::Ratio {
            ratio,
            min_per_second,
            window,
        }) => {
            let budget = RatioBudget::builder()
                .ratio(*ratio)
                .min_per_second(*min_per_second)
                .window(*window)
                .build()?;
            b = b.budget(Arc::new(budget));
        }
        Some(other) => panic!("a budget kind this test does not know: {other:?}"),
        None => {}
    }
    if let Some(br) = &c.circuit_breaker {
        let mut builder = CircuitBreaker::builder()
            .failure_threshold(br.failure_threshold)
            .window(br.window)
            .recovery_timeout(br.recovery_timeout)
            .trip_on(br.trip_on.iter().copied());
        for (class, n) in &br.class_thresholds {
            builder = builder.class_threshold(*class, *n);
        }
        b = b.circuit_breaker(Arc::new(builder.build()?));
    }
    b.build().map(drop)
}

/// The codes of every problem core's builders report for `config`.
fn core_codes(c: &PolicyConfig) -> Vec<&'static str> {
    let mut codes = Vec::new();
    let mut b = Policy::builder()
        .deadline(c.deadline)
        .max_attempts(c.max_attempts);
    if let Some(t) = c.attempt_timeout {
        b = b.attempt_timeout(t);
    }
    if let Some(s) = &c.strategy {
        b = b.strategy(s.to_backoff());
    }
    for (class, s) in &c.strategies {
        b = b.class_strategy(*class, s.to_backoff());
    }
    b.problems(|e| codes.push(e.code()));
    match &c.budget {
        Some(BudgetConfig::Rolling {
            max_retries,
            window,
        }) => codes.extend(
            RollingBudget::new(*max_retries, *window)
                .err()
                .map(|e| e.code()),
        ),
        Some(BudgetConfig::Ratio {
            ratio,
            min_per_second,
            window,
        }) => RatioBudget::builder()
            .ratio(*ratio)
            .min_per_second(*min_per_second)
            .window(*window)
            .problems(|e| codes.push(e.code())),
        _ => {}
    }
    if let Some(br) = &c.circuit_breaker {
        let mut builder = CircuitBreaker::builder()
            .failure_threshold(br.failure_threshold)
            .window(br.window)
            .recovery_timeout(br.recovery_timeout);
        for (class, n) in &br.class_thresholds {
            builder = builder.class_threshold(*class, *n);
        }
        builder.problems(|e| codes.push(e.code()));
    }
    codes.sort_unstable();
    codes
}

fn lint_error_codes(c: &PolicyConfig) -> Vec<&'static str> {
    let mut codes: Vec<&str> = c.lint().errors().map(|d| d.code).collect();
    codes.sort_unstable();
    codes
}

#[test]
fn the_lint_errors_are_exactly_cores_codes() {
    let lint_errors: Vec<&str> = RULES
        .iter()
        .filter(|r| r.severity == Severity::Error && is_lint_rule(r.code))
        .map(|r| r.code)
        .collect();
    assert_eq!(lint_errors, ConfigError::CODES);
    assert!(
        !RULES.iter().any(|r| r.code == "E012"),
        "E012 is retired: a budget of zero is legal (W020)"
    );
}

/// The walk over the rule list: for every error rule, a config that breaks
/// only it; the lint reports that code (and building refuses it with the
/// report), and the same config built through core's builder API fails
/// with a `ConfigError` of the same code. The close config passes both.
#[test]
fn every_error_rule_is_refused_by_the_lint_and_by_build_alike() {
    let cases = cases();
    for code in ConfigError::CODES {
        let case = cases
            .iter()
            .find(|c| c.code == code)
            .unwrap_or_else(|| panic!("no case breaks {code}"));
        let bad = config(&case.triggers);
        assert_eq!(lint_error_codes(&bad), [code], "{}", case.triggers);
        let e = build_in_code(&bad).unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        match bad.build() {
            Err(BuildError::Invalid(report)) => assert!(report.contains(code), "{report}"),
            other => panic!("{code}: {other:?}"),
        }
        let good = config(&case.passes);
        assert_eq!(lint_error_codes(&good), [] as [&str; 0], "{}", case.passes);
        build_in_code(&good).unwrap_or_else(|e| panic!("{code}: {e}"));
        good.build().unwrap_or_else(|e| panic!("{code}: {e}"));
    }
}

#[test]
fn core_errors_are_reported_at_their_key() {
    let report = config(
        r#"
        strategy = { kind = "constant", delay = "1s" }
        strategies.RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "adaptive", window = "0s", fallback = { kind = "equal_jitter", base = "0s" } } }
        strategies.SERVER_ERROR = { kind = "adaptive", fallback = { kind = "retry_after_or", fallback = "full_jitter" } }
        [circuit_breaker]
        class_thresholds = { AUTH = 0 }
        "#,
    )
    .lint();
    let errors: Vec<(&str, &str)> = report.errors().map(|d| (d.code, d.path.as_str())).collect();
    assert_eq!(
        errors,
        [
            ("E006", "strategies.RATE_LIMIT.fallback.fallback.base"),
            ("E009", "strategies.RATE_LIMIT.fallback.window"),
            ("E013", "circuit_breaker.class_thresholds.AUTH"),
            ("E108", "strategies.SERVER_ERROR.fallback.kind"),
        ],
        "{report}"
    );
    let nested = report.errors().find(|d| d.code == "E108").unwrap();
    assert!(
        nested
            .help
            .as_deref()
            .unwrap()
            .starts_with("put `retry_after_or` outside"),
        "{nested}"
    );
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_millis(1)),
        Just(Duration::from_millis(250)),
        Just(Duration::from_secs(2)),
        Just(Duration::from_secs(90)),
    ]
}

fn number(values: &'static [f64]) -> impl Strategy<Value = f64> {
    proptest::sample::select(values)
}

fn any_strategy() -> impl Strategy<Value = StrategyConfig> {
    let factor = number(&[0.5, 1.0, 2.0, f64::NAN, f64::INFINITY]);
    let leaf = prop_oneof![
        (duration(), duration())
            .prop_map(|(base, max)| StrategyConfig::DecorrelatedJitter { base, max }),
        (duration(), duration()).prop_map(|(base, max)| StrategyConfig::EqualJitter { base, max }),
        (duration(), duration()).prop_map(|(base, max)| StrategyConfig::FullJitter { base, max }),
        (duration(), duration()).prop_map(|(base, max)| StrategyConfig::TokenBackoff { base, max }),
        (duration(), duration(), factor)
            .prop_map(|(base, max, factor)| StrategyConfig::Exponential { base, max, factor }),
        duration().prop_map(|delay| StrategyConfig::Constant { delay }),
        proptest::collection::vec(duration(), 0..3)
            .prop_map(|delays| StrategyConfig::Schedule { delays }),
    ];
    leaf.prop_recursive(3, 8, 1, |inner| {
        prop_oneof![
            (inner.clone(), duration()).prop_map(|(fallback, jitter)| {
                StrategyConfig::RetryAfterOr {
                    fallback: Box::new(fallback),
                    jitter,
                }
            }),
            (
                inner,
                duration(),
                number(&[0.0, 0.5, 0.9, 1.0, 1.5, f64::NAN]),
                number(&[0.5, 1.0, 2.0, f64::NAN]),
                number(&[1.0, 5.0, 0.5, f64::INFINITY]),
            )
                .prop_map(|(fallback, window, target_success, lo, hi)| {
                    StrategyConfig::Adaptive {
                        fallback: Box::new(fallback),
                        window,
                        target_success,
                        min_multiplier: lo,
                        max_multiplier: hi,
                    }
                }),
        ]
    })
}

fn any_budget() -> impl Strategy<Value = BudgetConfig> {
    prop_oneof![
        (0u32..3, duration()).prop_map(|(max_retries, window)| BudgetConfig::Rolling {
            max_retries,
            window
        }),
        (
            number(&[-1.0, 0.0, 0.2, 2.0, 2000.0, f64::NAN]),
            0u32..2,
            duration()
        )
            .prop_map(|(ratio, min_per_second, window)| BudgetConfig::Ratio {
                ratio,
                min_per_second,
                window
            }),
    ]
}

fn any_breaker() -> impl Strategy<Value = BreakerConfig> {
    (
        0u32..3,
        duration(),
        duration(),
        proptest::collection::btree_map(
            proptest::sample::select(ErrorClass::ALL.to_vec()),
            0u32..3,
            0..2,
        ),
    )
        .prop_map(|(threshold, window, recovery, class_thresholds)| {
            let mut b = BreakerConfig::default();
            b.failure_threshold = threshold;
            b.window = window;
            b.recovery_timeout = recovery;
            b.class_thresholds = class_thresholds;
            b
        })
}

fn any_config() -> impl Strategy<Value = PolicyConfig> {
    (
        duration(),
        0u32..3,
        proptest::option::of(duration()),
        proptest::option::of(any_strategy()),
        proptest::collection::btree_map(
            proptest::sample::select(vec![ErrorClass::RateLimit, ErrorClass::ServerError]),
            any_strategy(),
            0..2,
        ),
        proptest::option::of(any_budget()),
        proptest::option::of(any_breaker()),
    )
        .prop_map(
            |(deadline, max_attempts, attempt_timeout, strategy, strategies, budget, breaker)| {
                let mut c = PolicyConfig::default();
                c.deadline = deadline;
                c.max_attempts = max_attempts;
                c.attempt_timeout = attempt_timeout;
                c.strategy = strategy;
                c.strategies = strategies;
                c.budget = budget;
                c.circuit_breaker = breaker;
                c
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Conversely: whatever the config, the lint's errors are one for one
    /// the problems core's builders report, a config core accepts gets no
    /// error, and building (here and through core) agree.
    #[test]
    fn the_lint_and_core_agree_on_any_config(c in any_config()) {
        let lint = lint_error_codes(&c);
        prop_assert_eq!(&lint, &core_codes(&c));
        let in_code = build_in_code(&c);
        prop_assert_eq!(in_code.is_ok(), lint.is_empty(), "{:?}", in_code);
        if let Err(e) = &in_code {
            prop_assert!(lint.contains(&e.code()), "{} not in {:?}", e, lint);
        }
        prop_assert_eq!(c.build().is_ok(), lint.is_empty());
    }
}
