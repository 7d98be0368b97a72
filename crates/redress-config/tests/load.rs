//! Loading: every problem located, named, and corrected when it is a typo.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use core::time::Duration;
use std::collections::BTreeSet;

use redress_config::{
    BreakerConfig, BudgetConfig, ConfigFile, Diagnostic, Document, Format, LoadError, PolicyConfig,
    StrategyConfig,
};
use redress_core::ErrorClass;

fn problems(text: &str) -> Vec<Diagnostic> {
    match ConfigFile::from_toml_str(text) {
        Err(LoadError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

fn one_problem(text: &str) -> Diagnostic {
    let mut all = problems(text);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

fn at(d: &Diagnostic) -> (usize, usize) {
    let l = d.location.expect("a location");
    (l.line, l.column)
}

const ISSUE_EXAMPLE: &str = r#"
# one policy at the top level, or several under [policies.NAME]
[policies.payments]
deadline = "10s"               # durations as "250ms", "1.5s", "2m"
max_attempts = 5
max_unknown_attempts = 2       # an integer, or "unlimited"
attempt_timeout = "2s"         # optional
strategy = { kind = "decorrelated_jitter", base = "250ms", max = "5s" }
per_class_max_attempts = { RATE_LIMIT = 3 }

[policies.payments.strategies]
RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "decorrelated_jitter", max = "60s" } }
CONCURRENCY = { kind = "constant", delay = "50ms" }

[policies.payments.budget]
max_retries = 100
window = "60s"

[policies.payments.circuit_breaker]
failure_threshold = 5
window = "60s"
recovery_timeout = "30s"
trip_on = ["TRANSIENT", "SERVER_ERROR"]
"#;

#[test]
fn the_issue_example_loads_with_every_default_filled_in() {
    let file = ConfigFile::from_toml_str(ISSUE_EXAMPLE).unwrap();
    let p = file.policy("payments").unwrap();
    let s = Duration::from_secs;
    assert_eq!(p.deadline, s(10));
    assert_eq!(p.max_attempts, 5);
    assert_eq!(p.max_unknown_attempts, Some(2));
    assert_eq!(p.attempt_timeout, Some(s(2)));
    assert_eq!(
        p.strategy,
        Some(StrategyConfig::DecorrelatedJitter {
            base: Duration::from_millis(250),
            max: s(5)
        })
    );
    assert_eq!(p.per_class_max_attempts[&ErrorClass::RateLimit], 3);
    assert_eq!(
        p.strategies[&ErrorClass::RateLimit],
        StrategyConfig::RetryAfterOr {
            fallback: Box::new(StrategyConfig::DecorrelatedJitter {
                base: Duration::from_millis(250),
                max: s(60)
            }),
            jitter: Duration::from_millis(250),
        }
    );
    assert_eq!(
        p.strategies[&ErrorClass::Concurrency],
        StrategyConfig::constant(Duration::from_millis(50))
    );
    assert_eq!(
        p.budget,
        Some(BudgetConfig::Rolling {
            max_retries: 100,
            window: s(60)
        })
    );
    let breaker = p.circuit_breaker.clone().unwrap();
    assert_eq!(breaker.recovery_timeout, s(30));
    assert_eq!(
        breaker.trip_on,
        BTreeSet::from([ErrorClass::Transient, ErrorClass::ServerError])
    );
    assert!(p.build().is_ok());
}

#[test]
fn json_with_the_same_structure_loads_the_same() {
    let toml_file = ConfigFile::from_toml_str(ISSUE_EXAMPLE).unwrap();
    let json = toml_file.to_json_string();
    assert_eq!(ConfigFile::from_json_str(&json).unwrap(), toml_file);
    let single = PolicyConfig::from_json_str(
        r#"{"max_attempts": 3, "strategy": {"kind": "full_jitter", "max": "2s"}}"#,
    )
    .unwrap();
    assert_eq!(single.max_attempts, 3);
}

#[test]
fn every_kind_with_its_defaults() {
    let file = ConfigFile::from_toml_str(
        r#"
        [policies.p.strategies]
        AUTH = "decorrelated_jitter"
        PERMISSION = "equal_jitter"
        PERMANENT = "full_jitter"
        CONCURRENCY = "token_backoff"
        RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "adaptive", fallback = "exponential" } }
        SERVER_ERROR = { kind = "schedule", delays = ["100ms", "1s"] }
        TRANSIENT = { kind = "constant", delay = "1.5s" }
        UNKNOWN = { kind = "adaptive", fallback = "equal_jitter", target_success = 0.5, max_multiplier = 3 }
        "#,
    )
    .unwrap();
    let s = &file.policy("p").unwrap().strategies;
    assert_eq!(s[&ErrorClass::Auth], StrategyConfig::decorrelated_jitter());
    assert_eq!(s[&ErrorClass::Permission], StrategyConfig::equal_jitter());
    assert_eq!(s[&ErrorClass::Permanent], StrategyConfig::full_jitter());
    assert_eq!(s[&ErrorClass::Concurrency], StrategyConfig::token_backoff());
    assert_eq!(
        s[&ErrorClass::RateLimit],
        StrategyConfig::retry_after_or(StrategyConfig::adaptive(StrategyConfig::exponential()))
    );
    assert_eq!(
        s[&ErrorClass::ServerError],
        StrategyConfig::schedule(vec![Duration::from_millis(100), Duration::from_secs(1)])
    );
    let StrategyConfig::Adaptive {
        target_success,
        max_multiplier,
        min_multiplier,
        window,
        ..
    } = &s[&ErrorClass::Unknown]
    else {
        panic!()
    };
    assert_eq!(
        (*target_success, *min_multiplier, *max_multiplier, *window),
        (0.5, 1.0, 3.0, Duration::from_secs(60))
    );
    let token_defaults = StrategyConfig::token_backoff();
    assert_eq!(
        token_defaults,
        StrategyConfig::TokenBackoff {
            base: Duration::from_millis(250),
            max: Duration::from_secs(20)
        }
    );
}

#[test]
fn unknown_keys_are_located_and_corrected() {
    let d = one_problem("[policies.p]\nstrategy = \"full_jitter\"\nmax_atempts = 5\n");
    assert_eq!(d.code, "E101");
    assert_eq!(d.path, "policies.p.max_atempts");
    assert_eq!(at(&d), (3, 1));
    assert_eq!(d.message, "unknown key `max_atempts` in a policy");
    assert_eq!(d.help.as_deref(), Some("did you mean `max_attempts`?"));

    let d = one_problem("strategy = { kind = \"constant\", delay = \"1s\", base = \"1s\" }");
    assert_eq!(d.path, "strategy.base");
    assert_eq!(d.message, "`base` does not apply to a `constant` strategy");
    assert_eq!(
        d.help.as_deref(),
        Some("a `constant` strategy takes: delay")
    );
    assert_eq!(at(&d), (1, 47));

    let d = one_problem("[circuit_breaker]\nfailure_treshold = 3\n");
    assert_eq!(d.help.as_deref(), Some("did you mean `failure_threshold`?"));

    // A misspelled `policies` in a file meant to hold several.
    let d = one_problem("[policy.payments]\nstrategy = \"full_jitter\"\n");
    assert_eq!(d.help.as_deref(), Some("did you mean `policies`?"));

    let d = one_problem("deadline = \"1s\"\n[policies.a]\nstrategy = \"full_jitter\"\n");
    assert_eq!(d.path, "deadline");
    assert_eq!(
        d.help.as_deref(),
        Some("with `[policies.NAME]`, `deadline` belongs inside each policy")
    );
}

#[test]
fn unknown_classes_and_kinds_are_corrected() {
    let d = one_problem("strategy = \"full_jitter\"\nper_class_max_attempts = { RATE_LIMT = 3 }\n");
    assert_eq!(d.code, "E104");
    assert_eq!(d.path, "per_class_max_attempts.RATE_LIMT");
    assert_eq!(d.help.as_deref(), Some("did you mean `RATE_LIMIT`?"));
    assert_eq!(at(&d), (2, 28));

    let d = one_problem("strategy = { kind = \"decorelated_jitter\" }");
    assert_eq!(d.code, "E105");
    assert_eq!(d.path, "strategy.kind");
    assert_eq!(
        d.help.as_deref(),
        Some("did you mean `decorrelated_jitter`?")
    );

    let d = one_problem("strategy = \"linear\"");
    assert!(
        d.help
            .unwrap()
            .starts_with("the kinds are: decorrelated_jitter, ")
    );

    let d = one_problem(
        "strategy = \"full_jitter\"\n[circuit_breaker]\ntrip_on = [\"TRANSIENT\", \"server_error\"]\n",
    );
    assert_eq!(d.path, "circuit_breaker.trip_on[1]");
    assert_eq!(d.help.as_deref(), Some("did you mean `SERVER_ERROR`?"));

    let d = one_problem("strategy = \"full_jitter\"\n[budget]\nkind = \"ratoi\"\n");
    assert_eq!(d.help.as_deref(), Some("did you mean `ratio`?"));
}

#[test]
fn values_of_the_wrong_shape() {
    let d = one_problem("strategy = \"full_jitter\"\ndeadline = 10\n");
    assert_eq!(d.code, "E103");
    assert_eq!(
        d.message,
        "`deadline` must be a duration with a unit, not the bare number 10"
    );
    assert_eq!(
        d.help.as_deref(),
        Some("write `deadline = \"10s\"` (or `\"10ms\"`); units: ns, us, ms, s, m, h")
    );
    assert_eq!(at(&d), (2, 12));

    let d = one_problem("strategy = \"full_jitter\"\ndeadline = \"10 seconds\"\n");
    assert_eq!(d.code, "E103");
    assert_eq!(d.help.as_deref(), Some("write `s`: \"10s\""));
    let d = one_problem("strategy = \"full_jitter\"\ndeadline = \"10 s\"\n");
    assert_eq!(d.help.as_deref(), Some("write it without a space: \"10s\""));

    let d = one_problem("strategy = \"full_jitter\"\ndeadline = \"10sec\"\n");
    assert_eq!(d.help.as_deref(), Some("write `s`: \"10s\""));

    let d = one_problem("strategy = \"full_jitter\"\nmax_attempts = -1\n");
    assert_eq!(d.code, "E106");
    assert_eq!(
        d.message,
        "`max_attempts` must be a whole number from 0 to 4294967295, not -1"
    );

    let d = one_problem("strategy = \"full_jitter\"\nmax_attempts = \"5\"\n");
    assert_eq!(d.code, "E102");
    assert_eq!(
        d.help.as_deref(),
        Some("write it without quotes: `max_attempts = 5`")
    );

    let d = one_problem("strategy = \"full_jitter\"\nmax_unknown_attempts = \"unlimted\"\n");
    assert_eq!(d.help.as_deref(), Some("did you mean \"unlimited\"?"));

    let d = one_problem("strategy = 5");
    assert_eq!(d.code, "E102");

    let d = one_problem("strategy = \"full_jitter\"\n[circuit_breaker]\ntrip_on = \"TRANSIENT\"\n");
    assert_eq!(
        d.help.as_deref(),
        Some("write a list: `trip_on = [\"TRANSIENT\"]`")
    );
}

#[test]
fn missing_and_misplaced_strategies() {
    let d = one_problem("strategy = { base = \"1s\" }");
    assert_eq!((d.code, d.path.as_str()), ("E107", "strategy.kind"));

    let d = one_problem("strategy = \"constant\"");
    assert_eq!((d.code, d.path.as_str()), ("E107", "strategy.delay"));

    let d = one_problem("strategy = { kind = \"retry_after_or\" }");
    assert_eq!((d.code, d.path.as_str()), ("E107", "strategy.fallback"));

    // A nesting the engine cannot run loads (the model holds it), and is
    // core's error, reported by the lint at the inner strategy's kind.
    let nested = |text: &str| {
        let doc = Document::parse(text, Format::Toml).unwrap();
        let report = doc.lint(&doc.entries()[0]);
        let errors: Vec<Diagnostic> = report.errors().cloned().collect();
        assert_eq!(errors.len(), 1, "{report}");
        errors.into_iter().next().unwrap()
    };
    let d = nested(
        "strategy = { kind = \"retry_after_or\", fallback = { kind = \"retry_after_or\", fallback = \"full_jitter\" } }",
    );
    assert_eq!(
        (d.code, d.path.as_str()),
        ("E108", "strategy.fallback.kind")
    );
    assert_eq!(at(&d), (1, 59));

    let d = nested(
        "strategy = { kind = \"adaptive\", fallback = { kind = \"retry_after_or\", fallback = \"full_jitter\" } }",
    );
    assert_eq!(d.code, "E108");
    assert!(d.help.unwrap().starts_with("put `retry_after_or` outside"));

    // Fallbacks nested deeper than any policy could run stop loading.
    let mut deep = "\"full_jitter\"".to_owned();
    for _ in 0..12 {
        deep = format!("{{ kind = \"retry_after_or\", fallback = {deep} }}");
    }
    let d = one_problem(&format!("strategy = {deep}"));
    assert_eq!(d.code, "E108");
    assert!(d.message.contains("nested more than"), "{d}");

    let d = one_problem("strategy = \"full_jitter\"\n[budget]\nmax_retries = 3\n");
    assert_eq!((d.code, d.path.as_str()), ("E107", "budget.window"));

    let d = one_problem("[policies]\n");
    assert_eq!(d.code, "E109");
}

#[test]
fn every_problem_is_reported_at_once() {
    let all = problems(
        r#"
        [policies.a]
        deadlin = "10s"
        strategy = { kind = "decorrelated_jitter", max = "5 s" }
        [policies.b]
        max_attempts = "three"
        strategy = "full_jitter"
        "#,
    );
    let paths: Vec<&str> = all.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "policies.a.deadlin",
            "policies.a.strategy.max",
            "policies.b.max_attempts"
        ]
    );
}

#[test]
fn documents_keep_problems_per_policy_and_locate_lints() {
    let doc = Document::parse(
        "[policies.bad]\nmax_atempts = 1\n\n[policies.good]\nmax_attempts = 0\nstrategy = \"full_jitter\"\n",
        Format::Toml,
    )
    .unwrap();
    assert!(!doc.is_single());
    let bad = doc.entry("bad").unwrap();
    assert!(bad.result.is_err());
    let good = doc.entry("good").unwrap();
    let report = doc.lint(good);
    let e001 = report.errors().next().unwrap();
    assert_eq!(e001.path, "policies.good.max_attempts");
    assert_eq!(at(e001), (5, 16));
    // A default (not written) is located at the nearest written key.
    assert_eq!(
        doc.locate("policies.good.circuit_breaker.window")
            .map(|l| l.line),
        Some(4)
    );
    let missing = doc.entry("god").unwrap_err();
    assert_eq!(missing.suggestion(), Some("good"));
    assert_eq!(
        missing.to_string(),
        "no policy named `god` (did you mean `good`?); policies: bad, good"
    );
}

#[test]
fn syntax_errors_are_located() {
    let e = ConfigFile::from_toml_str("deadline = 10s\n").unwrap_err();
    let LoadError::Syntax { location, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(location.map(|l| l.line), Some(1));
    assert!(e.to_string().starts_with("1:"), "{e}");

    let e = ConfigFile::from_json_str("{\n  \"deadline\": \"1s\",\n}").unwrap_err();
    let LoadError::Syntax {
        location, message, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(location.map(|l| l.line), Some(3));
    assert!(!message.contains("at line"), "{message}");
}

#[test]
fn files_name_themselves_in_errors() {
    let dir = std::env::temp_dir().join(format!("redress-config-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("retry.toml");
    std::fs::write(
        &path,
        "[policies.a]\nstrategy = \"full_jitter\"\n[policies.b]\nstrategy = \"full_jitter\"\n",
    )
    .unwrap();
    let file = ConfigFile::load(&path).unwrap();
    assert_eq!(file.names(), ["a", "b"]);
    let e = PolicyConfig::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the file holds several policies; pick one of: a, b",
            path.display()
        )
    );
    let e = ConfigFile::load(dir.join("nope.toml")).unwrap_err();
    assert!(matches!(e, LoadError::Read { .. }));
    std::fs::write(&path, "deadline = \"1\"\n").unwrap();
    let e = PolicyConfig::load(&path).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:1:12: deadline: error[E103]", path.display())),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn policies_embed_in_application_configs() {
    #[derive(serde::Deserialize)]
    struct App {
        retry: PolicyConfig,
        #[allow(dead_code)]
        name: String,
    }
    let app: App =
        toml::from_str("name = \"svc\"\n[retry]\nmax_attempts = 2\nstrategy = \"full_jitter\"\n")
            .unwrap();
    assert_eq!(app.retry.max_attempts, 2);
    let err = toml::from_str::<App>("name = \"svc\"\n[retry]\nmax_atempts = 2\n")
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("did you mean `max_attempts`?"),
        "{err}"
    );
    let json: App =
        serde_json::from_str(r#"{"name": "x", "retry": {"strategy": "equal_jitter"}}"#).unwrap();
    assert_eq!(json.retry.strategy, Some(StrategyConfig::equal_jitter()));
}

#[test]
fn breaker_defaults_are_the_reference_ones() {
    let p = PolicyConfig::from_toml_str("strategy = \"full_jitter\"\n[circuit_breaker]\n").unwrap();
    assert_eq!(p.circuit_breaker, Some(BreakerConfig::default()));
    let ratio =
        PolicyConfig::from_toml_str("strategy = \"full_jitter\"\nbudget = { ratio = 0.1 }\n")
            .unwrap();
    assert_eq!(
        ratio.budget,
        Some(BudgetConfig::Ratio {
            ratio: 0.1,
            min_per_second: 10,
            window: Duration::from_secs(10)
        })
    );
}
