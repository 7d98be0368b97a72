//! `RedressMiddleware` in a `reqwest_middleware` client against a scripted
//! server on loopback: exact request counts, Retry-After in both forms,
//! bodies that cannot be copied sent once, resets retried, slow responses
//! cut by the attempt timeout, the last response or error handed back, and
//! the events' tags.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use redress::backoff::{constant, retry_after_or};
use redress::prelude::*;
use redress::{AttemptEnd, CircuitBreaker, Classifier, OnAttemptEnd};
use redress_http::NoResponse;
use redress_reqwest::{NOT_RETRIED, RedressMiddleware, classifier, response_classifier};
use redress_test_http::{Script, Step, TestServer};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

/// The fallback delay: large, so a test that sees it knows no hint was used.
const FALLBACK: Duration = Duration::from_secs(30);

/// The attempt timeout of the tests that need one: long enough for a
/// loopback answer on a busy machine, short enough to wait for.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

fn policy_builder()
-> redress::PolicyBuilder<redress_reqwest::ReqwestClassifier, redress_reqwest::ResponseClassifier> {
    Policy::builder()
        .classifier(classifier())
        .result_classifier(response_classifier())
        .strategy(constant(FALLBACK))
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(constant(FALLBACK)).jitter(Duration::ZERO),
        )
        .max_attempts(5)
}

/// A sleeper that sleeps a millisecond for a backoff (1 s to `FALLBACK`):
/// real sockets rule out paused time, and the tests check the delay
/// decided, not the time spent. Other sleeps are the timers of attempt
/// time limits, slept for real.
fn sleeper() -> impl Fn(Duration) -> tokio::time::Sleep + Clone + Send + Sync + 'static {
    |d| {
        let backoff = d >= Duration::from_secs(1) && d <= FALLBACK;
        tokio::time::sleep(if backoff { Duration::from_millis(1) } else { d })
    }
}

/// An event's kind, class, `err` tag, delay and operation.
type SeenEvent = (
    EventKind,
    Option<ErrorClass>,
    Option<&'static str>,
    Duration,
    Option<String>,
);

/// The details of one attempt's failure.
type Details = Vec<(&'static str, &'static str)>;

/// What a test saw: the events (with the delays the engine decided) and
/// the details of each attempt's failure.
#[derive(Clone, Default)]
struct Seen {
    events: Arc<Mutex<Vec<SeenEvent>>>,
    details: Arc<Mutex<Vec<Details>>>,
}

impl Seen {
    /// A client whose middleware runs `policy` with [`sleeper`], recording
    /// events and attempt ends.
    fn client<C, R>(&self, policy: Policy<C, R>) -> ClientWithMiddleware
    where
        C: Classifier<reqwest_middleware::Error> + Clone + Send + Sync + 'static,
        R: redress::ResultClassifier<reqwest::Response> + Clone + Send + Sync + 'static,
    {
        let events = Arc::clone(&self.events);
        let details = Arc::clone(&self.details);
        let middleware = RedressMiddleware::new(policy)
            .operation("upstream")
            .sleeper(sleeper())
            .on_event(move |e: &Event<'_>| {
                events.lock().unwrap().push((
                    e.kind,
                    e.class,
                    e.error_type,
                    e.delay,
                    e.operation.map(str::to_owned),
                ));
            })
            .hooks(OnAttemptEnd(move |end: &AttemptEnd<'_>| {
                let seen = end
                    .classification
                    .map(|c| c.details.iter().collect())
                    .unwrap_or_default();
                details.lock().unwrap().push(seen);
            }));
        ClientBuilder::new(reqwest::Client::new())
            .with(middleware)
            .build()
    }

    fn retries(&self) -> Vec<(Option<ErrorClass>, Option<&'static str>, Duration)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.0 == EventKind::Retry)
            .map(|e| (e.1, e.2, e.3))
            .collect()
    }

    fn kinds(&self) -> Vec<EventKind> {
        self.events.lock().unwrap().iter().map(|e| e.0).collect()
    }

    fn last(&self) -> SeenEvent {
        self.events.lock().unwrap().last().cloned().unwrap()
    }

    fn details(&self) -> Vec<Details> {
        self.details.lock().unwrap().clone()
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
    let seen = Seen::default();
    let client = seen.client(policy_builder().build().unwrap());

    let response = client.get(server.url()).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");
    assert_eq!(server.requests(), 4);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::ServerError), Some("5xx"), FALLBACK); 3]
    );
    let (kind, .., operation) = seen.last();
    assert_eq!(kind, EventKind::Success);
    assert_eq!(operation.as_deref(), Some("upstream"));
}

#[tokio::test]
async fn the_last_response_comes_back_when_retries_run_out() {
    let server =
        TestServer::start(Script::new().then(Step::status(503).body("still busy"))).unwrap();
    let seen = Seen::default();
    let client = seen.client(policy_builder().max_attempts(3).build().unwrap());

    // As with reqwest itself, an error status is a response, not an error.
    let response = client.get(server.url()).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.text().await.unwrap(), "still busy");
    assert_eq!(server.requests(), 3);
    assert_eq!(seen.kinds().last(), Some(&EventKind::MaxAttemptsExceeded));
}

#[tokio::test]
async fn retry_after_in_seconds_and_as_an_http_date_set_the_delays() {
    // The client's wall clock is fixed, so the date is exactly 5 s away.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let server = TestServer::start(
        Script::new()
            .then(Step::status(429).retry_after_secs(1))
            .then(Step::status(429).retry_after_date(now + Duration::from_secs(5)))
            .then(Step::ok("ok")),
    )
    .unwrap();
    let policy = policy_builder()
        .result_classifier(response_classifier().wall_clock(move || now))
        .build()
        .unwrap();
    let seen = Seen::default();
    let client = seen.client(policy);

    let response = client.get(server.url()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests(), 3);
    assert_eq!(
        seen.retries(),
        [
            (
                Some(ErrorClass::RateLimit),
                Some("429"),
                Duration::from_secs(1)
            ),
            (
                Some(ErrorClass::RateLimit),
                Some("429"),
                Duration::from_secs(5)
            ),
        ]
    );
}

#[tokio::test]
async fn a_body_that_cannot_be_copied_is_sent_once() {
    let script = || {
        Script::new()
            .then(Step::status(503).body("busy"))
            .then(Step::ok("ok"))
    };

    // A streaming body: one request, the 503 handed back, the reason in
    // the failure's details; the tags stay the status's.
    let server = TestServer::start(script()).unwrap();
    let seen = Seen::default();
    let client = seen.client(policy_builder().build().unwrap());
    let response = client
        .post(server.url())
        .body(reqwest::Body::wrap(String::from("payload")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(server.requests(), 1);
    let (kind, class, tag, ..) = seen.last();
    assert_eq!(kind, EventKind::MaxAttemptsExceeded);
    assert_eq!((class, tag), (Some(ErrorClass::ServerError), Some("5xx")));
    assert_eq!(seen.details(), [vec![NOT_RETRIED]]);

    // The same request with bytes for a body is retried.
    let server = TestServer::start(script()).unwrap();
    let seen = Seen::default();
    let client = seen.client(policy_builder().build().unwrap());
    let response = client
        .post(server.url())
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests(), 2);
    assert_eq!(seen.details(), [vec![], vec![]]);
}

#[tokio::test]
async fn a_connection_reset_is_retried_and_the_last_error_comes_back() {
    let server = TestServer::start(
        Script::new()
            .then(Step::close_before_response())
            .then(Step::ok("ok")),
    )
    .unwrap();
    let seen = Seen::default();
    let client = seen.client(policy_builder().build().unwrap());
    let response = client.get(server.url()).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_eq!(server.requests(), 2);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("reset"), FALLBACK)]
    );

    // Reset every time: the last error is reqwest's own.
    let server = TestServer::start(Script::new().then(Step::close_before_response())).unwrap();
    let seen = Seen::default();
    let client = seen.client(policy_builder().max_attempts(2).build().unwrap());
    let err = client.get(server.url()).send().await.unwrap_err();
    assert_eq!(server.requests(), 2);
    assert!(
        matches!(err, reqwest_middleware::Error::Reqwest(_)),
        "{err:?}"
    );
    assert_eq!(classifier().classify(&err).tag, Some("reset"));
}

#[tokio::test]
async fn a_connection_cut_mid_body_reaches_the_caller_after_the_middleware() {
    // The middleware sees the head (a 200) and returns it; the body is
    // read afterwards, so the cut is the caller's error, not retried.
    // Reading the body inside a policy (docs/http.md) retries it.
    let server = TestServer::start(
        Script::new()
            .then(Step::close_mid_body("0123456789"))
            .then(Step::ok("0123456789")),
    )
    .unwrap();
    let seen = Seen::default();
    let client = seen.client(policy_builder().build().unwrap());
    let response = client.get(server.url()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let err = response.bytes().await.unwrap_err();
    assert_eq!(classifier().classify(&err).tag, Some("reset"));
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_response_slower_than_the_attempt_timeout_is_cut_and_retried() {
    let server = TestServer::start(
        Script::new()
            .then(Step::ok("late").delay(Duration::from_secs(3600)))
            .then(Step::ok("on time")),
    )
    .unwrap();
    let policy = policy_builder()
        .attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
        .unwrap();
    let seen = Seen::default();
    let client = seen.client(policy);
    let response = client.get(server.url()).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "on time");
    assert_eq!(server.requests(), 2);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("TimeoutError"), FALLBACK)]
    );
}

#[tokio::test]
async fn attempts_that_all_time_out_end_with_no_response() {
    let server =
        TestServer::start(Script::new().then(Step::ok("late").delay(Duration::from_secs(3600))))
            .unwrap();
    let policy = policy_builder()
        .attempt_timeout(Duration::from_millis(100))
        .max_attempts(2)
        .build()
        .unwrap();
    let seen = Seen::default();
    let client = seen.client(policy);
    let err = client.get(server.url()).send().await.unwrap_err();
    assert_eq!(server.requests(), 2);
    let reqwest_middleware::Error::Middleware(inner) = err else {
        panic!("expected a middleware error, got {err:?}");
    };
    let no_response = inner.downcast_ref::<NoResponse>().unwrap();
    assert_eq!(no_response.attempts, 2);
    assert_eq!(no_response.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(
        no_response.timed_out_after,
        Some(Duration::from_millis(100))
    );
    assert_eq!(no_response.status(), 504);
}

#[tokio::test]
async fn an_open_breaker_answers_without_a_request() {
    let server = TestServer::start(Script::new().then(Step::status(503))).unwrap();
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .build()
            .unwrap(),
    );
    let policy = policy_builder()
        .max_attempts(2)
        .circuit_breaker(Arc::clone(&breaker))
        .build()
        .unwrap();
    let seen = Seen::default();
    let client = seen.client(policy);

    // The first call fails twice and opens the breaker for every clone of
    // the policy: the second never reaches the server.
    assert_eq!(client.get(server.url()).send().await.unwrap().status(), 503);
    assert_eq!(server.requests(), 2);
    let err = client.get(server.url()).send().await.unwrap_err();
    assert_eq!(server.requests(), 2);
    let reqwest_middleware::Error::Middleware(inner) = err else {
        panic!("expected a middleware error, got {err:?}");
    };
    let no_response = inner.downcast_ref::<NoResponse>().unwrap();
    assert!(no_response.is_circuit_open());
    assert_eq!(no_response.attempts, 0);
    let answer = no_response.to_response::<String>();
    assert_eq!(answer.status(), 503);
    assert!(answer.headers().contains_key("retry-after"));
    assert_eq!(seen.kinds().last(), Some(&EventKind::CircuitRejected));
}

#[tokio::test]
async fn extensions_reach_the_inner_middleware_on_every_attempt() {
    #[derive(Clone)]
    struct Tag(&'static str);

    /// Counts the attempts that saw the extension a caller set.
    struct Inner(Arc<AtomicU32>);

    #[async_trait::async_trait]
    impl reqwest_middleware::Middleware for Inner {
        async fn handle(
            &self,
            req: reqwest::Request,
            extensions: &mut http::Extensions,
            next: reqwest_middleware::Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            if extensions.get::<Tag>().is_some_and(|t| t.0 == "mine") {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
            next.run(req, extensions).await
        }
    }

    let server =
        TestServer::start(Script::new().then(Step::status(503)).then(Step::ok("ok"))).unwrap();
    let saw = Arc::new(AtomicU32::new(0));
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RedressMiddleware::new(policy_builder().build().unwrap()).sleeper(sleeper()))
        .with(Inner(Arc::clone(&saw)))
        .build();
    let response = client
        .get(server.url())
        .with_extension(Tag("mine"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(saw.load(Ordering::SeqCst), 2);
}
