//! Writing out: TOML and JSON read back the same, and built policies read
//! back their config.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use core::time::Duration;
use std::sync::Arc;

use redress_config::{ConfigFile, ExportError, Lint, PolicyConfig};
use redress_core::backoff::{Backoff, decorrelated_jitter};
use redress_core::{BackoffContext, Breaker, ErrorClass, Policy};

const EVERYTHING: &str = r#"
[policies.payments]
deadline = "10s"
max_attempts = 5
attempt_timeout = "2s"
strategy = { kind = "decorrelated_jitter", base = "250ms", max = "5s" }
per_class_max_attempts = { RATE_LIMIT = 3, UNKNOWN = 1 }

[policies.payments.strategies]
RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "adaptive", fallback = { kind = "equal_jitter", max = "8s" }, max_multiplier = 2 }, jitter = "100ms" }
CONCURRENCY = { kind = "constant", delay = "50ms" }
SERVER_ERROR = { kind = "schedule", delays = ["100ms", "1.5s", "3s"] }
TRANSIENT = { kind = "token_backoff", base = "100ms", max = "4s" }
UNKNOWN = { kind = "full_jitter", max = "1s" }

[policies.payments.budget]
max_retries = 100
window = "60s"

[policies.payments.circuit_breaker]
failure_threshold = 5
window = "60s"
recovery_timeout = "30s"
trip_on = ["TRANSIENT", "SERVER_ERROR"]
class_thresholds = { RATE_LIMIT = 3 }

[policies."search.v2"]
deadline = "1m30s"
max_unknown_attempts = "unlimited"
strategy = { kind = "exponential", base = "10ms", max = "1s", factor = 1.5 }
budget = { kind = "ratio", ratio = 0.1, min_per_second = 5, window = "20s" }
"#;

#[test]
fn toml_round_trips_with_every_value_explicit() {
    let file = ConfigFile::from_toml_str(EVERYTHING).unwrap();
    let text = file.to_toml_string();
    assert_eq!(ConfigFile::from_toml_str(&text).unwrap(), file, "{text}");
    assert!(text.contains("[policies.\"search.v2\"]\n"), "{text}");
    assert!(
        text.contains("max_unknown_attempts = \"unlimited\"\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "RATE_LIMIT = { kind = \"retry_after_or\", fallback = { kind = \"adaptive\", fallback = { kind = \"equal_jitter\", base = \"250ms\", max = \"8s\" }, window = \"1m\", target_success = 0.9, min_multiplier = 1.0, max_multiplier = 2.0 }, jitter = \"100ms\" }\n"
        ),
        "{text}"
    );
}

#[test]
fn json_round_trips() {
    let file = ConfigFile::from_toml_str(EVERYTHING).unwrap();
    let json = file.to_json_string();
    assert_eq!(ConfigFile::from_json_str(&json).unwrap(), file, "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["policies"]["payments"]["deadline"], "10s");
    assert_eq!(
        value["policies"]["payments"]["strategy"]["kind"],
        "decorrelated_jitter"
    );
    assert_eq!(
        value["policies"]["search.v2"]["max_unknown_attempts"],
        "unlimited"
    );
}

#[test]
fn a_built_policy_reads_back_its_config() {
    let file = ConfigFile::from_toml_str(EVERYTHING).unwrap();
    for (name, config) in file.policies() {
        let policy = config.build().unwrap();
        let mut back = PolicyConfig::from_policy(&policy).unwrap();
        // The engine counts classes with a threshold as tripping.
        if let (Some(b), Some(orig)) = (&mut back.circuit_breaker, &config.circuit_breaker) {
            for class in orig.class_thresholds.keys() {
                if !orig.trip_on.contains(class) {
                    b.trip_on.remove(class);
                }
            }
        }
        assert_eq!(&back, config, "{name:?}");
        // And lints the same way.
        assert_eq!(policy.lint(), config.lint(), "{name:?}");
    }
}

#[test]
fn custom_parts_cannot_be_written_out() {
    let custom = Policy::builder()
        .strategy(decorrelated_jitter())
        .class_strategy(
            ErrorClass::Concurrency,
            Backoff::custom(|ctx: &BackoffContext<'_>| {
                Duration::from_millis(10).saturating_mul(ctx.attempt)
            }),
        )
        .build()
        .unwrap();
    let err = PolicyConfig::from_policy(&custom).unwrap_err();
    assert_eq!(
        err,
        ExportError::CustomStrategy {
            path: "strategies.CONCURRENCY".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "strategies.CONCURRENCY: a custom strategy is code and cannot be written as configuration (only the built-in strategies can)"
    );

    struct AlwaysClosed;
    impl Breaker for AlwaysClosed {
        fn acquire(
            &self,
            _: Duration,
        ) -> Result<redress_core::breaker::Admission, redress_core::breaker::Rejected> {
            Ok(redress_core::breaker::Admission::normal())
        }
        fn record(
            &self,
            _: &redress_core::breaker::Admission,
            _: redress_core::breaker::CallResult,
            _: Duration,
        ) -> Option<redress_core::breaker::Transition> {
            None
        }
        fn state(&self) -> redress_core::CircuitState {
            redress_core::CircuitState::Closed
        }
    }
    let breaker = Policy::quick()
        .circuit_breaker(Arc::new(AlwaysClosed))
        .build()
        .unwrap();
    assert_eq!(
        PolicyConfig::from_policy(&breaker).unwrap_err(),
        ExportError::CustomBreaker
    );
    // Lint still works on it.
    assert!(!breaker.lint().has_errors());
}

#[test]
fn the_default_policy_is_written_out_in_full() {
    let config = PolicyConfig::from_policy(&Policy::default()).unwrap();
    assert_eq!(
        config.to_toml_string(),
        "deadline = \"1m\"\nmax_attempts = 6\nmax_unknown_attempts = 2\n\
         strategy = { kind = \"decorrelated_jitter\", base = \"250ms\", max = \"5s\" }\n"
    );
}

/// Found by fuzzing (`config_json`): a policy name holding a character
/// Rust's `{:?}` escapes (a byte-order mark, a control character) was
/// exported as `\u{feff}`, which TOML refuses.
#[test]
fn names_with_any_character_export_to_toml_that_loads() {
    for name in [
        "s\u{feff}x",
        "tab\there",
        "bell\u{7}",
        "quote\"and\\slash",
        "dot.ted",
        "é ü 漢",
        "del\u{7f}c1\u{85}",
    ] {
        let json = serde_json::json!({ "policies": { name: { "max_attempts": 2 } } }).to_string();
        let file = ConfigFile::from_json_str(&json).unwrap();
        let toml = file.to_toml_string();
        let again =
            ConfigFile::from_toml_str(&toml).unwrap_or_else(|e| panic!("{name:?}: {e}\n{toml}"));
        assert_eq!(again, file, "{name:?}");
        assert_eq!(again.names(), [name]);
    }
}
