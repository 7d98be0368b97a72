//! The scenario dialect: the conformance scenarios' `policy` object, read
//! by the one loader into the same model.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use core::time::Duration;

use redress_config::{
    BudgetConfig, Diagnostic, Dialect, Lint, LoadError, PolicyConfig, StrategyConfig,
};
use redress_core::ErrorClass;
use serde_json::json;

fn load(value: serde_json::Value) -> PolicyConfig {
    PolicyConfig::from_json_value(&value, Dialect::Scenario, "policy")
        .unwrap_or_else(|e| panic!("{e}"))
}

fn problems(value: serde_json::Value) -> Vec<Diagnostic> {
    match PolicyConfig::from_json_value(&value, Dialect::Scenario, "policy") {
        Err(LoadError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

fn one(value: serde_json::Value) -> (String, &'static str, String) {
    let all = problems(value);
    assert_eq!(all.len(), 1, "{all:#?}");
    let d = &all[0];
    (d.path.clone(), d.code, d.message.clone())
}

#[test]
fn the_reference_format_loads_into_the_config_model() {
    let config = load(json!({
        "deadline_s": 2.5,
        "max_attempts": 4,
        "max_unknown_attempts": null,
        "attempt_timeout_s": 0.3,
        "per_class_max_attempts": {"RATE_LIMIT": 2},
        "strategy": {"kind": "sequence", "delays_s": [0.1, 1]},
        "strategies": {"RATE_LIMIT": {"kind": "retry_after_or",
                                      "fallback": {"kind": "constant", "delay_s": 0.5}}},
        "budget": {"max_retries": 3, "window_s": 60.0},
        "circuit_breaker": {"failure_threshold": 2, "window_s": 10, "recovery_timeout_s": 5.5,
                            "trip_on": ["RATE_LIMIT"], "class_thresholds": {"AUTH": 1}},
    }));
    assert_eq!(config.deadline, Duration::from_millis(2500));
    assert_eq!(config.max_attempts, 4);
    assert_eq!(config.max_unknown_attempts, None);
    assert_eq!(config.attempt_timeout, Some(Duration::from_millis(300)));
    assert_eq!(config.per_class_max_attempts[&ErrorClass::RateLimit], 2);
    assert_eq!(
        config.strategy,
        Some(StrategyConfig::schedule(vec![
            Duration::from_millis(100),
            Duration::from_secs(1)
        ]))
    );
    // The reference runner's retry_after_or has no jitter.
    assert_eq!(
        config.strategies[&ErrorClass::RateLimit],
        StrategyConfig::RetryAfterOr {
            fallback: Box::new(StrategyConfig::constant(Duration::from_millis(500))),
            jitter: Duration::ZERO,
        }
    );
    assert_eq!(
        config.budget,
        Some(BudgetConfig::Rolling {
            max_retries: 3,
            window: Duration::from_secs(60)
        })
    );
    let b = config.circuit_breaker.unwrap();
    assert_eq!(b.recovery_timeout, Duration::from_millis(5500));
    assert_eq!(b.trip_on, [ErrorClass::RateLimit].into_iter().collect());
    assert_eq!(b.class_thresholds[&ErrorClass::Auth], 1);
}

#[test]
fn defaults_and_nulls_follow_the_reference() {
    let config = load(json!({"strategy": {"kind": "constant", "delay_s": 0},
                             "deadline_s": null, "budget": null}));
    assert_eq!(config.deadline, Duration::from_secs(60));
    assert_eq!(config.max_attempts, 6);
    assert_eq!(config.max_unknown_attempts, Some(2));
    assert_eq!(config.budget, None);
    let breaker = load(json!({"strategy": {"kind": "constant", "delay_s": 0},
                              "circuit_breaker": {"failure_threshold": 3}}))
    .circuit_breaker
    .unwrap();
    assert_eq!(breaker.window, Duration::from_secs(60));
    assert_eq!(breaker.recovery_timeout, Duration::from_secs(30));
}

#[test]
fn problems_name_the_key_as_the_scenario_writes_it() {
    let (path, code, message) = one(json!({"strategy": {"kind": "exponential", "base_s": 1}}));
    assert_eq!((path.as_str(), code), ("policy.strategy.kind", "E105"));
    assert_eq!(
        message,
        "strategy kind `exponential` is not available in a scenario"
    );
    let all = problems(json!({"strategy": {"kind": "linear"}}));
    assert_eq!(all[0].message, "unknown strategy kind `linear`");
    assert_eq!(
        all[0].help.as_deref(),
        Some("the kinds are: constant, sequence, retry_after_or")
    );

    let all = problems(json!({"strategy": {"kind": "constant", "delay": "1s"}}));
    assert_eq!(
        (all[0].path.as_str(), all[0].help.as_deref()),
        ("policy.strategy.delay", Some("did you mean `delay_s`?"))
    );
    let (path, code, _) = one(json!({"strategy": {"kind": "constant"}}));
    assert_eq!((path.as_str(), code), ("policy.strategy.delay_s", "E107"));
    let all =
        problems(json!({"deadline_s": -1, "strategy": {"kind": "constant", "delay_s": "1s"}}));
    let found: Vec<(&str, &str)> = all.iter().map(|d| (d.path.as_str(), d.code)).collect();
    assert_eq!(
        found,
        [
            ("policy.deadline_s", "E103"),
            ("policy.strategy.delay_s", "E102")
        ]
    );
    assert_eq!(
        all[0].message,
        "`deadline_s` is not a valid number of seconds: -1"
    );
    let (path, _, _) = one(json!({"strategy": {"kind": "retry_after_or", "jitter_s": 0,
                                               "fallback": {"kind": "constant", "delay_s": 1}}}));
    assert_eq!(path, "policy.strategy.jitter_s");
    let (path, code, _) = one(json!({"strategy": {"kind": "constant", "delay_s": 1},
                                     "max_unknown_attempts": "unlimited"}));
    assert_eq!(
        (path.as_str(), code),
        ("policy.max_unknown_attempts", "E102")
    );
    let (path, code, _) = one(json!({"strategy": {"kind": "constant", "delay_s": 1},
                                     "budget": {"kind": "rolling", "max_retries": 1, "window_s": 1}}));
    assert_eq!((path.as_str(), code), ("policy.budget.kind", "E101"));
    let (path, code, _) = one(json!({"strategy": {"kind": "constant", "delay_s": 1},
                                     "circuit_breaker": {}}));
    assert_eq!((path.as_str(), code), ("policy.circuit_breaker", "E107"));
}

#[test]
fn values_that_cannot_work_are_cores_errors_at_the_scenarios_keys() {
    let config = load(json!({"deadline_s": 0, "max_attempts": 0,
                             "strategy": {"kind": "sequence", "delays_s": []},
                             "circuit_breaker": {"recovery_timeout_s": 0}}));
    let found: Vec<(String, &str)> = config
        .lint()
        .errors()
        .map(|d| (Dialect::Scenario.path(&d.path), d.code))
        .collect();
    assert_eq!(
        found,
        [
            ("max_attempts".to_owned(), "E001"),
            ("deadline_s".to_owned(), "E002"),
            ("strategy.delays_s".to_owned(), "E008"),
            ("circuit_breaker.recovery_timeout_s".to_owned(), "E015"),
        ]
    );
    // A budget of zero is legal in the reference: a warning.
    let zero = load(json!({"strategy": {"kind": "constant", "delay_s": 1},
                           "budget": {"max_retries": 0, "window_s": 60}}));
    assert!(!zero.lint().has_errors());
    assert!(zero.lint().contains("W020"));
    // Nesting retry_after_or twice is core's error.
    let nested = load(json!({"strategy": {"kind": "retry_after_or", "fallback":
        {"kind": "retry_after_or", "fallback": {"kind": "constant", "delay_s": 1}}}}));
    let e108 = nested.lint();
    let e108 = e108.errors().next().unwrap();
    assert_eq!(
        (e108.code, e108.path.as_str()),
        ("E108", "strategy.fallback.kind")
    );
}
