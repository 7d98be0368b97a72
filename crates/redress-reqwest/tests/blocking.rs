//! reqwest's blocking client through `BlockingPolicy::call` against a
//! scripted server on loopback; time is a `ManualClock` that the sleeper
//! advances, so nothing really waits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::time::{Duration, SystemTime};

use redress::backoff::{constant, retry_after_or};
use redress::prelude::*;
use redress::{Cause, ManualClock};
use redress_reqwest::{HintedError, ResponseExt, classifier, response_classifier};
use redress_test_http::{Script, Step, TestServer};

/// The fallback delay: long enough to tell from a hint.
const FALLBACK: Duration = Duration::from_secs(10);

fn policy_builder() -> redress::PolicyBuilder<redress_reqwest::ReqwestClassifier> {
    Policy::builder()
        .classifier(classifier())
        .strategy(constant(FALLBACK))
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(constant(FALLBACK)).jitter(Duration::ZERO),
        )
        .max_attempts(5)
}

#[test]
fn server_errors_and_rate_limits_then_success() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let server = TestServer::start(
        Script::new()
            .times(2, Step::status(503))
            .then(Step::status(429).retry_after_secs(1))
            .then(Step::status(429).retry_after_date(now + Duration::from_secs(4)))
            .then(Step::ok("hello")),
    )
    .unwrap();
    let policy = policy_builder()
        .result_classifier(response_classifier().wall_clock(move || now))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let tags = RefCell::new(Vec::new());
    let client = reqwest::blocking::Client::new();
    let response = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .on_event(|e: &Event<'_>| {
            if e.kind == EventKind::Retry {
                tags.borrow_mut().push(e.error_type);
            }
        })
        .call(|| client.get(server.url()).send())
        .unwrap();

    assert_eq!(response.text().unwrap(), "hello");
    assert_eq!(server.requests(), 5);
    // Two fallback waits for the 503s, then the two hints.
    assert_eq!(
        clock.now(),
        FALLBACK * 2 + Duration::from_secs(1) + Duration::from_secs(4)
    );
    assert_eq!(
        *tags.borrow(),
        [Some("5xx"), Some("5xx"), Some("429"), Some("429")]
    );
}

#[test]
fn errors_keep_the_hint_and_the_last_one_comes_back() {
    let server = TestServer::start(
        Script::new()
            .then(Step::close_mid_body("0123456789"))
            .then(Step::status(429).retry_after_secs(2)),
    )
    .unwrap();
    let policy = policy_builder().max_attempts(3).build().unwrap();
    let clock = ManualClock::new();
    let client = reqwest::blocking::Client::new();
    let err = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .call(|| {
            let response = client.get(server.url()).send()?;
            Ok::<_, HintedError>(response.error_for_status_with_hint()?.bytes()?)
        })
        .unwrap_err();

    assert_eq!(err.attempts, 3);
    assert_eq!(err.cause, Some(Cause::Error));
    assert_eq!(err.last_class, Some(ErrorClass::RateLimit));
    assert_eq!(server.requests(), 3);
    // The reset waits the fallback, the first 429 its hint.
    assert_eq!(clock.now(), FALLBACK + Duration::from_secs(2));
    let last = err.into_last_error().unwrap();
    assert_eq!(last.status(), Some(reqwest::StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(last.retry_after(), Some(Duration::from_secs(2)));
}

#[test]
fn the_last_response_comes_back_when_retries_run_out() {
    let server = TestServer::start(Script::new().then(Step::status(500).body("down"))).unwrap();
    let policy = policy_builder()
        .max_attempts(2)
        .result_classifier(response_classifier())
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let client = reqwest::blocking::Client::new();
    let err = policy
        .bind()
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .call(|| client.get(server.url()).send())
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(server.requests(), 2);
    let response = err.into_last_value().unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.text().unwrap(), "down");
}
