//! reqwest's async client through `AsyncPolicy` against a scripted server
//! on loopback: exact attempt counts, Retry-After honoured in both forms,
//! resets and timeouts retried, the last response or error handed back,
//! and the events' `err` tags.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use redress::backoff::{constant, retry_after_or};
use redress::prelude::*;
use redress::{Cause, Classifier};
use redress_reqwest::{HintedError, ResponseExt, classifier, response_classifier};
use redress_test_http::{Script, Step, TestServer};

/// The fallback delay: large, so a test that sees it knows no hint was used.
const FALLBACK: Duration = Duration::from_secs(30);

/// A policy for HTTP calls: rate limits wait for the server's hint (no
/// jitter, so the delay is the hint exactly), everything else `FALLBACK`.
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

/// An event's kind, class, `err` tag and delay.
type SeenEvent = (
    EventKind,
    Option<ErrorClass>,
    Option<&'static str>,
    Duration,
);

/// What a test saw: the events, with the delays the engine decided.
#[derive(Clone, Default)]
struct Seen {
    events: Arc<Mutex<Vec<SeenEvent>>>,
}

impl Seen {
    /// A sleeper that sleeps a millisecond for a backoff (at most
    /// `FALLBACK`): real sockets rule out paused time, and the tests check
    /// the delay decided, not the time spent. Longer sleeps are the
    /// attempts' time limits (the time left before the deadline), which it
    /// sleeps for real: they never fire in these tests.
    fn sleeper(&self) -> impl Fn(Duration) -> tokio::time::Sleep + use<> {
        |d| {
            tokio::time::sleep(if d <= FALLBACK {
                Duration::from_millis(1)
            } else {
                d
            })
        }
    }

    fn on_event(&self) -> impl Fn(&Event<'_>) + use<> {
        let events = Arc::clone(&self.events);
        move |e| {
            events
                .lock()
                .unwrap()
                .push((e.kind, e.class, e.error_type, e.delay));
        }
    }

    /// The delays of the retries, as the engine decided them.
    fn delays(&self) -> Vec<Duration> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(kind, ..)| *kind == EventKind::Retry)
            .map(|e| e.3)
            .collect()
    }

    /// The `(class, err tag)` of every retry event.
    fn retries(&self) -> Vec<(Option<ErrorClass>, Option<&'static str>)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(kind, ..)| *kind == EventKind::Retry)
            .map(|(_, class, tag, _)| (*class, *tag))
            .collect()
    }

    fn kinds(&self) -> Vec<EventKind> {
        self.events.lock().unwrap().iter().map(|e| e.0).collect()
    }
}

#[tokio::test]
async fn server_errors_then_success_take_exactly_the_scripted_attempts() {
    let server = TestServer::start(
        Script::new()
            .times(3, Step::status(503).body("busy"))
            .then(Step::ok("hello")),
    )
    .unwrap();
    let policy = policy_builder()
        .result_classifier(response_classifier())
        .build()
        .unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let outcome = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .execute_async(|| client.get(server.url()).send())
        .await;

    assert_eq!(outcome.attempts, 4);
    assert_eq!(server.requests(), 4);
    assert_eq!(seen.delays(), [FALLBACK; 3]);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::ServerError), Some("5xx")); 3]
    );
    let response = outcome.into_result().unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn retry_after_in_seconds_sets_the_delay() {
    let server = TestServer::start(
        Script::new()
            .then(Step::status(429).retry_after_secs(1))
            .then(Step::ok("ok")),
    )
    .unwrap();
    let policy = policy_builder()
        .result_classifier(response_classifier())
        .build()
        .unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let response = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| client.get(server.url()).send())
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(server.requests(), 2);
    assert_eq!(seen.delays(), [Duration::from_secs(1)]);
    assert_eq!(seen.retries(), [(Some(ErrorClass::RateLimit), Some("429"))]);
}

#[tokio::test]
async fn retry_after_as_an_http_date_sets_the_delay() {
    // The client's wall clock is fixed, so the date is exactly 5 s away.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let server = TestServer::start(
        Script::new()
            .then(Step::status(429).retry_after_date(now + Duration::from_secs(5)))
            .then(Step::status(503).retry_after_date(now + Duration::from_secs(2)))
            .then(Step::ok("ok")),
    )
    .unwrap();
    // 503 waits for its hint too when SERVER_ERROR uses retry_after_or.
    let policy = policy_builder()
        .class_strategy(
            ErrorClass::ServerError,
            retry_after_or(constant(FALLBACK)).jitter(Duration::ZERO),
        )
        .result_classifier(response_classifier().wall_clock(move || now))
        .build()
        .unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let response = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| client.get(server.url()).send())
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(server.requests(), 3);
    assert_eq!(
        seen.delays(),
        [Duration::from_secs(5), Duration::from_secs(2)]
    );
}

#[tokio::test]
async fn status_errors_keep_the_hint_with_error_for_status_with_hint() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let script = || {
        Script::new()
            .then(Step::status(429).retry_after_date(now + Duration::from_secs(7)))
            .then(Step::status(429).retry_after_secs(1))
            .then(Step::ok("ok"))
    };
    let policy = policy_builder().build().unwrap();

    // With the hint kept: the delays are the server's.
    let server = TestServer::start(script()).unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let body = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| async {
            let response = client.get(server.url()).send().await?;
            let ok = response.error_for_status_with_hint_at(now)?;
            Ok::<_, HintedError>(ok.text().await?)
        })
        .await
        .unwrap();
    assert_eq!(body, "ok");
    assert_eq!(server.requests(), 3);
    assert_eq!(
        seen.delays(),
        [Duration::from_secs(7), Duration::from_secs(1)]
    );
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::RateLimit), Some("429")); 2]
    );

    // With reqwest's own `error_for_status` the class is right but the
    // headers, and so the hint, are gone: the fallback applies.
    let server = TestServer::start(script()).unwrap();
    let seen = Seen::default();
    policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| async {
            let response = client.get(server.url()).send().await?;
            response.error_for_status()?.text().await
        })
        .await
        .unwrap();
    assert_eq!(server.requests(), 3);
    assert_eq!(seen.delays(), [FALLBACK; 2]);
}

#[tokio::test]
async fn a_connection_closed_mid_body_is_transient_and_retried() {
    let server = TestServer::start(
        Script::new()
            .then(Step::close_mid_body("0123456789"))
            .then(Step::ok("0123456789")),
    )
    .unwrap();
    let policy = policy_builder().build().unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let body = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| async {
            let response = client.get(server.url()).send().await?;
            response.error_for_status()?.bytes().await
        })
        .await
        .unwrap();

    assert_eq!(&body[..], b"0123456789");
    assert_eq!(server.requests(), 2);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("reset"))]
    );
}

#[tokio::test]
async fn a_connection_closed_before_the_response_is_transient_and_retried() {
    let server = TestServer::start(
        Script::new()
            .then(Step::close_before_response())
            .then(Step::ok("ok")),
    )
    .unwrap();
    let policy = policy_builder().build().unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let response = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| client.get(server.url()).send())
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(server.requests(), 2);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("reset"))]
    );
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_transient_and_retried() {
    // The first answer would take an hour; the client gives up after a
    // second (the one real wait in this file) and the retry is answered.
    let server = TestServer::start(
        Script::new()
            .then(Step::ok("late").delay(Duration::from_secs(3600)))
            .then(Step::ok("on time")),
    )
    .unwrap();
    let policy = policy_builder().build().unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let body = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| async { client.get(server.url()).send().await?.text().await })
        .await
        .unwrap();

    assert_eq!(body, "on time");
    assert_eq!(server.requests(), 2);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("timeout"))]
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_failure_and_the_last_error_comes_back() {
    // A port nobody listens on, held so no other test's server takes it.
    let closed = redress_test_http::ClosedPort::new().unwrap();
    let policy = policy_builder().max_attempts(3).build().unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let err = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| client.get(closed.url()).send())
        .await
        .unwrap_err();

    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.attempts, 3);
    assert_eq!(err.last_class, Some(ErrorClass::Transient));
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("connect")); 2]
    );
    let last = err.into_last_error().unwrap();
    assert!(last.is_connect(), "{last:?}");
}

#[tokio::test]
async fn the_last_response_comes_back_when_retries_run_out() {
    let server = TestServer::start(
        Script::new().then(Step::status(503).retry_after_secs(1).body("still busy")),
    )
    .unwrap();
    let policy = policy_builder()
        .max_attempts(3)
        .result_classifier(response_classifier())
        .build()
        .unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let err = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| client.get(server.url()).send())
        .await
        .unwrap_err();

    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.attempts, 3);
    assert_eq!(err.cause, Some(Cause::Result));
    assert_eq!(server.requests(), 3);
    assert_eq!(seen.kinds().last(), Some(&EventKind::MaxAttemptsExceeded));
    let response = err.into_last_value().unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.text().await.unwrap(), "still busy");
}

#[tokio::test]
async fn the_last_status_error_comes_back_when_retries_run_out() {
    let server = TestServer::start(Script::new().then(Step::status(502))).unwrap();
    let policy = policy_builder().max_attempts(2).build().unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let err = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| async {
            client
                .get(server.url())
                .send()
                .await?
                .error_for_status_with_hint()
        })
        .await
        .unwrap_err();

    assert_eq!(err.attempts, 2);
    assert_eq!(server.requests(), 2);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::ServerError), Some("5xx"))]
    );
    let last = err.into_last_error().unwrap();
    assert_eq!(last.status(), Some(reqwest::StatusCode::BAD_GATEWAY));
}

#[tokio::test]
async fn non_retryable_statuses_are_answers_or_stop_at_once() {
    let server =
        TestServer::start(Script::new().then(Step::status(404).body("no such user"))).unwrap();
    let client = reqwest::Client::new();

    // By default a 404 is the answer: one request, handed back as `Ok`.
    let policy = policy_builder()
        .result_classifier(response_classifier())
        .build()
        .unwrap();
    let response = policy
        .call_async(|| client.get(server.url()).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(server.requests(), 1);

    // Flagged, it stops at once as PERMANENT, the response inside.
    let policy = policy_builder()
        .result_classifier(response_classifier().flag_non_retryable())
        .build()
        .unwrap();
    let err = policy
        .call_async(|| client.get(server.url()).send())
        .await
        .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(err.last_class, Some(ErrorClass::Permanent));
    assert_eq!(server.requests(), 2);
    let response = err.into_last_value().unwrap();
    assert_eq!(response.text().await.unwrap(), "no such user");

    // As an error, a 404 is PERMANENT too.
    let err = client
        .get(server.url())
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    let c = classifier().classify(&err);
    assert_eq!((c.class, c.tag), (ErrorClass::Permanent, Some("4xx")));
}

#[tokio::test]
async fn a_body_that_does_not_decode_is_permanent_and_not_retried() {
    let server = TestServer::start(Script::new().then(Step::ok("not json"))).unwrap();
    let policy = policy_builder().build().unwrap();
    let seen = Seen::default();
    let client = reqwest::Client::new();
    let err = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event())
        .call_async(|| async {
            client
                .get(server.url())
                .send()
                .await?
                .json::<Vec<u32>>()
                .await
        })
        .await
        .unwrap_err();

    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(err.attempts, 1);
    assert_eq!(server.requests(), 1);
    assert!(seen.delays().is_empty());
    let last = err.into_last_error().unwrap();
    assert!(last.is_decode(), "{last:?}");
    let c = classifier().classify(&last);
    assert_eq!((c.class, c.tag), (ErrorClass::Permanent, Some("decode")));
}
