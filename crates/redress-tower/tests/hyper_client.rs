//! `RedressLayer` around hyper-util's client against a scripted server on
//! loopback: exact request counts, Retry-After in both forms, resets and
//! refused connections, slow responses cut by the attempt timeout, bodies
//! that cannot be copied sent once, readiness polled before every attempt,
//! and the last response or error handed back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::{ATTEMPT_TIMEOUT, FALLBACK, Seen, policy_builder, sleeper};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use redress_core::{Classifier, ErrorClass, EventKind, OnAttemptEnd, Policy, StopReason};
use redress_http::ResponseClassifier;
use redress_test_http::{Script, Step, TestServer};
use redress_tower::{
    ByClone, CloneRequest, EmptyBody, Error, NOT_RETRIED, RedressLayer, ResponseFuture,
    TransportClassifier,
};
use tower::limit::ConcurrencyLimit;
use tower::{Layer, Service, ServiceExt};

type Body = Full<Bytes>;
type HttpClient = Client<HttpConnector, Body>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn get(url: &str) -> Request<Body> {
    Request::get(url).body(Body::default()).unwrap()
}

async fn text(response: Response<Incoming>) -> Bytes {
    response.into_body().collect().await.unwrap().to_bytes()
}

/// `inner` under `policy`, copying requests with `clone_request`,
/// recording into `seen`.
fn wrap<Svc, Q>(
    seen: &Seen,
    policy: Policy<TransportClassifier, ResponseClassifier>,
    clone_request: Q,
    inner: Svc,
) -> impl Service<
    Request<Body>,
    Response = Response<Incoming>,
    Error = Error<Svc::Error>,
    Future = ResponseFuture<Response<Incoming>, Svc::Error>,
> + Clone
+ Send
+ use<Svc, Q>
where
    Svc: Service<Request<Body>, Response = Response<Incoming>> + Clone + Send + 'static,
    Svc::Error: StdError + Send + 'static,
    Svc::Future: Send + 'static,
    Q: CloneRequest<Request<Body>> + Clone + Send + Sync + 'static,
{
    RedressLayer::new(policy)
        .operation("upstream")
        .clone_requests_with(clone_request)
        .sleeper(sleeper())
        .on_event(seen.on_event())
        .hooks(OnAttemptEnd(seen.on_attempt_end()))
        .layer(inner)
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
    let service = wrap(&seen, policy_builder().build().unwrap(), ByClone, client());

    let response = service.oneshot(get(&server.url())).await.unwrap();
    assert_eq!(text(response).await, "hello");
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
    let policy = policy_builder().max_attempts(3).build().unwrap();
    let service = wrap(&seen, policy, ByClone, client());

    let response = service.oneshot(get(&server.url())).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(text(response).await, "still busy");
    assert_eq!(server.requests(), 3);
    assert_eq!(seen.kinds().last(), Some(&EventKind::MaxAttemptsExceeded));
}

#[tokio::test]
async fn retry_after_in_seconds_and_as_an_http_date_set_the_delays() {
    // The classifier's wall clock is fixed, so the date is exactly 5 s away.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let server = TestServer::start(
        Script::new()
            .then(Step::status(429).retry_after_secs(1))
            .then(Step::status(429).retry_after_date(now + Duration::from_secs(5)))
            .then(Step::ok("ok")),
    )
    .unwrap();
    let policy = policy_builder()
        .result_classifier(redress_http::response_classifier().wall_clock(move || now))
        .build()
        .unwrap();
    let seen = Seen::default();
    let service = RedressLayer::new(policy)
        .sleeper(sleeper())
        .on_event(seen.on_event())
        .layer(client());

    let response = service.oneshot(get(&server.url())).await.unwrap();
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
async fn a_connection_reset_is_retried_and_the_last_error_comes_back() {
    let server = TestServer::start(
        Script::new()
            .then(Step::close_before_response())
            .then(Step::ok("ok")),
    )
    .unwrap();
    let seen = Seen::default();
    let service = wrap(&seen, policy_builder().build().unwrap(), ByClone, client());
    let response = service.oneshot(get(&server.url())).await.unwrap();
    assert_eq!(text(response).await, "ok");
    assert_eq!(server.requests(), 2);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("reset"), FALLBACK)]
    );

    // Reset every time: the last error is the client's own.
    let server = TestServer::start(Script::new().then(Step::close_before_response())).unwrap();
    let seen = Seen::default();
    let policy = policy_builder().max_attempts(2).build().unwrap();
    let service = wrap(&seen, policy, ByClone, client());
    let err = service.oneshot(get(&server.url())).await.unwrap_err();
    assert_eq!(server.requests(), 2);
    let Error::Service(last) = err else {
        panic!("expected the client's error, got {err:?}");
    };
    assert_eq!(
        redress_tower::classifier().classify(&last).tag,
        Some("reset")
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_failure() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let seen = Seen::default();
    let policy = policy_builder().max_attempts(2).build().unwrap();
    let service = wrap(&seen, policy, ByClone, client());
    let err = service
        .oneshot(get(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(err.service_error().unwrap().is_connect(), "{err:?}");
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("connect"), FALLBACK)]
    );
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
    let service = wrap(&seen, policy, ByClone, client());
    let response = service.oneshot(get(&server.url())).await.unwrap();
    assert_eq!(text(response).await, "on time");
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
    let service = wrap(&seen, policy, ByClone, client());
    let err = service.oneshot(get(&server.url())).await.unwrap_err();
    assert_eq!(server.requests(), 2);
    let no_response = err.no_response().unwrap();
    assert_eq!(no_response.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(no_response.attempts, 2);
    assert_eq!(
        no_response.timed_out_after,
        Some(Duration::from_millis(100))
    );
    assert_eq!(no_response.status(), 504);
}

#[tokio::test]
async fn a_request_that_cannot_be_copied_is_sent_once() {
    let script = || {
        Script::new()
            .then(Step::status(503).body("busy"))
            .then(Step::ok("ok"))
    };

    // EmptyBody refuses a request with a body: one request, the 503 handed
    // back, the reason in the failure's details; the tags stay the status's.
    let server = TestServer::start(script()).unwrap();
    let seen = Seen::default();
    let service = wrap(
        &seen,
        policy_builder().build().unwrap(),
        EmptyBody,
        client(),
    );
    let post = Request::post(server.url())
        .body(Body::from("payload"))
        .unwrap();
    let response = service.oneshot(post).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(server.requests(), 1);
    let (kind, class, tag, ..) = seen.last();
    assert_eq!(kind, EventKind::MaxAttemptsExceeded);
    assert_eq!((class, tag), (Some(ErrorClass::ServerError), Some("5xx")));
    assert_eq!(seen.details(), [vec![NOT_RETRIED]]);

    // A request without a body is copied, so retried.
    let server = TestServer::start(script()).unwrap();
    let seen = Seen::default();
    let service = wrap(
        &seen,
        policy_builder().build().unwrap(),
        EmptyBody,
        client(),
    );
    let response = service.oneshot(get(&server.url())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests(), 2);
    assert_eq!(seen.details(), [vec![], vec![]]);
}

/// A service that counts `poll_ready` calls and calls, and how many calls
/// came without a successful `poll_ready` since the last call (readiness
/// is per instance and per call, as tower says).
#[derive(Clone)]
struct Readiness<S> {
    inner: S,
    ready: bool,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    polls: AtomicU32,
    calls: AtomicU32,
    unready_calls: AtomicU32,
}

impl<S, Req> Service<Req> for Readiness<S>
where
    S: Service<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.counts.polls.fetch_add(1, Ordering::SeqCst);
        let polled = self.inner.poll_ready(cx);
        self.ready = matches!(polled, Poll::Ready(Ok(())));
        polled
    }

    fn call(&mut self, request: Req) -> S::Future {
        self.counts.calls.fetch_add(1, Ordering::SeqCst);
        if !std::mem::replace(&mut self.ready, false) {
            self.counts.unready_calls.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.call(request)
    }
}

#[tokio::test]
async fn readiness_is_polled_before_every_attempt() {
    let server = TestServer::start(
        Script::new()
            .times(2, Step::status(503))
            .then(Step::ok("ok")),
    )
    .unwrap();
    let counts = Arc::new(Counts::default());
    let inner = Readiness {
        inner: client(),
        ready: false,
        counts: Arc::clone(&counts),
    };
    let seen = Seen::default();
    let mut service = wrap(&seen, policy_builder().build().unwrap(), ByClone, inner);

    // Two calls through one service, as a server would make them.
    for _ in 0..2 {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(get(&server.url()))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Three attempts, then one.
    assert_eq!(server.requests(), 4);
    assert_eq!(counts.calls.load(Ordering::SeqCst), 4);
    assert_eq!(counts.unready_calls.load(Ordering::SeqCst), 0);
    assert!(counts.polls.load(Ordering::SeqCst) >= 4);
}

#[tokio::test]
async fn a_concurrency_limit_admits_each_attempt() {
    // `ConcurrencyLimit` panics when called without a permit from
    // `poll_ready`, and with a limit of one it would wait forever if an
    // attempt's permit were still held when the next attempt asks.
    let server = TestServer::start(
        Script::new()
            .times(3, Step::status(503))
            .then(Step::ok("ok")),
    )
    .unwrap();
    let seen = Seen::default();
    let limited = ConcurrencyLimit::new(client(), 1);
    let service = wrap(&seen, policy_builder().build().unwrap(), ByClone, limited);
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let service = service.clone();
            let request = get(&server.url());
            tokio::spawn(async move { service.oneshot(request).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().status(), 200);
    }
    // The three 503s went to one call or the other, then each got its 200:
    // every attempt reached the server exactly once.
    assert_eq!(server.requests(), 5);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::ServerError), Some("5xx"), FALLBACK); 3]
    );
}
