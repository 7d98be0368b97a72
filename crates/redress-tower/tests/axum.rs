//! `RedressLayer` in axum servers on loopback: around a whole router, and
//! per route, each route with its own policy. The handlers count their
//! calls, so the tests assert exact attempt counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::convert::Infallible;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use bytes::Bytes;
use common::{ATTEMPT_TIMEOUT, FALLBACK, Seen, policy_builder, sleeper};
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use redress_core::{CircuitBreaker, ErrorClass, EventKind, OnAttemptEnd, Policy};
use redress_http::ResponseClassifier;
use redress_tower::{EmptyBody, Error, NOT_RETRIED, RedressLayer, TransportClassifier};
use tower::{Layer, ServiceBuilder};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Serves `router` on `127.0.0.1:0` until the test's runtime ends.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, router).into_future());
    addr
}

/// `(status, body)` of a request to `addr`.
async fn send(addr: SocketAddr, method: &str, path: &str, body: &'static str) -> (u16, Bytes) {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(Full::from(body))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// A handler that answers 503 `failures` times, then 200; `calls` counts
/// its calls.
fn flaky(
    calls: &Arc<AtomicU32>,
    failures: u32,
) -> impl Fn() -> std::future::Ready<Response> + Clone + use<> {
    let calls = Arc::clone(calls);
    move || {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if n < failures {
            (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
        } else {
            "ok".into_response()
        })
    }
}

/// The answer when a policy gives up without a response.
async fn no_response(error: Error<Infallible>) -> Response {
    error.into_no_response().to_response::<Body>()
}

/// A method router made of `route` under `policy`, named `name`,
/// recording into `seen`; a call without a response is answered by the
/// layer.
fn retried(
    route: MethodRouter,
    policy: Policy<TransportClassifier, ResponseClassifier>,
    name: &'static str,
    seen: &Seen,
) -> MethodRouter {
    route.layer(
        RedressLayer::new(policy)
            .operation(name)
            .clone_requests_with(EmptyBody)
            .sleeper(sleeper())
            .on_event(seen.on_event())
            .hooks(OnAttemptEnd(seen.on_attempt_end()))
            .answer_no_response(),
    )
}

#[tokio::test]
async fn a_whole_router_under_one_policy() {
    let users = Arc::new(AtomicU32::new(0));
    let health = Arc::new(AtomicU32::new(0));
    let app = Router::new()
        .route("/users", get(flaky(&users, 2)))
        .route("/health", get(flaky(&health, 0)));
    let seen = Seen::default();
    let policy = policy_builder().build().unwrap();
    // The router itself is the service the layer wraps.
    let wrapped = RedressLayer::new(policy)
        .clone_requests_with(EmptyBody)
        .sleeper(sleeper())
        .on_event(seen.on_event())
        .answer_no_response()
        .layer(app);
    let addr = serve(Router::new().fallback_service(wrapped)).await;

    assert_eq!(send(addr, "GET", "/users", "").await, (200, "ok".into()));
    assert_eq!(users.load(Ordering::SeqCst), 3);
    assert_eq!(send(addr, "GET", "/health", "").await, (200, "ok".into()));
    assert_eq!(health.load(Ordering::SeqCst), 1);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::ServerError), Some("5xx"), FALLBACK); 2]
    );
}

#[tokio::test]
async fn each_route_runs_under_its_own_policy() {
    let fast = Arc::new(AtomicU32::new(0));
    let patient = Arc::new(AtomicU32::new(0));
    let plain = Arc::new(AtomicU32::new(0));
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/fast",
            retried(
                get(flaky(&fast, u32::MAX)),
                policy_builder().max_attempts(2).build().unwrap(),
                "fast",
                &seen,
            ),
        )
        .route(
            "/patient",
            retried(
                get(flaky(&patient, u32::MAX)),
                policy_builder().max_attempts(4).build().unwrap(),
                "patient",
                &seen,
            ),
        )
        .route("/plain", get(flaky(&plain, u32::MAX)));
    let addr = serve(app).await;

    // Each route gives up on its own terms and hands back the last 503.
    assert_eq!(send(addr, "GET", "/fast", "").await, (503, "busy".into()));
    assert_eq!(fast.load(Ordering::SeqCst), 2);
    assert_eq!(
        send(addr, "GET", "/patient", "").await,
        (503, "busy".into())
    );
    assert_eq!(patient.load(Ordering::SeqCst), 4);
    assert_eq!(send(addr, "GET", "/plain", "").await, (503, "busy".into()));
    assert_eq!(plain.load(Ordering::SeqCst), 1);
    let gave_up: Vec<_> = seen
        .kinds()
        .into_iter()
        .filter(|k| *k == EventKind::MaxAttemptsExceeded)
        .collect();
    assert_eq!(gave_up.len(), 2);
}

#[tokio::test]
async fn a_route_layer_covers_every_route_added_before_it() {
    // Here the layer's error reaches axum's `HandleErrorLayer`, the other
    // way to answer a call without a response.
    let a = Arc::new(AtomicU32::new(0));
    let b = Arc::new(AtomicU32::new(0));
    let later = Arc::new(AtomicU32::new(0));
    let seen = Seen::default();
    let app = Router::new()
        .route("/a", get(flaky(&a, 1)))
        .route("/b", get(flaky(&b, 1)))
        .route_layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(no_response))
                .layer(
                    RedressLayer::new(policy_builder().build().unwrap())
                        .clone_requests_with(EmptyBody)
                        .sleeper(sleeper())
                        .on_event(seen.on_event()),
                ),
        )
        .route("/later", get(flaky(&later, 1)));
    let addr = serve(app).await;

    assert_eq!(send(addr, "GET", "/a", "").await.0, 200);
    assert_eq!(send(addr, "GET", "/b", "").await.0, 200);
    assert_eq!(send(addr, "GET", "/later", "").await.0, 503);
    assert_eq!(
        [
            a.load(Ordering::SeqCst),
            b.load(Ordering::SeqCst),
            later.load(Ordering::SeqCst)
        ],
        [2, 2, 1]
    );
}

#[tokio::test]
async fn a_slow_handler_is_cut_by_the_attempt_timeout() {
    let slow = Arc::new(AtomicU32::new(0));
    let stuck = Arc::new(AtomicU32::new(0));
    /// A handler that takes an hour the first `slow_calls` times.
    fn sleepy(
        calls: &Arc<AtomicU32>,
        slow_calls: u32,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = &'static str> + Send>> + Clone + use<>
    {
        let calls = Arc::clone(calls);
        move || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n < slow_calls {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                "done"
            })
        }
    }
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/slow",
            retried(
                get(sleepy(&slow, 1)),
                policy_builder()
                    .attempt_timeout(ATTEMPT_TIMEOUT)
                    .build()
                    .unwrap(),
                "slow",
                &seen,
            ),
        )
        .route(
            "/stuck",
            retried(
                get(sleepy(&stuck, u32::MAX)),
                policy_builder()
                    .attempt_timeout(Duration::from_millis(100))
                    .max_attempts(2)
                    .build()
                    .unwrap(),
                "stuck",
                &seen,
            ),
        );
    let addr = serve(app).await;

    assert_eq!(send(addr, "GET", "/slow", "").await, (200, "done".into()));
    assert_eq!(slow.load(Ordering::SeqCst), 2);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("TimeoutError"), FALLBACK)]
    );
    // Both attempts cut: no response from the handler, a 504 in its place.
    let (status, _) = send(addr, "GET", "/stuck", "").await;
    assert_eq!(status, 504);
    assert_eq!(stuck.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_request_with_a_body_is_sent_once() {
    let posts = Arc::new(AtomicU32::new(0));
    let gets = Arc::new(AtomicU32::new(0));
    let seen = Seen::default();
    let app = Router::new().route(
        "/orders",
        retried(
            post(flaky(&posts, 1)).get(flaky(&gets, 1)),
            policy_builder().build().unwrap(),
            "orders",
            &seen,
        ),
    );
    let addr = serve(app).await;

    // A POST with a body cannot be copied: one call, its 503 handed back.
    assert_eq!(
        send(addr, "POST", "/orders", "{\"item\":7}").await,
        (503, "busy".into())
    );
    assert_eq!(posts.load(Ordering::SeqCst), 1);
    assert_eq!(seen.details(), [vec![NOT_RETRIED]]);
    // A GET has no body: copied, so retried.
    assert_eq!(send(addr, "GET", "/orders", "").await, (200, "ok".into()));
    assert_eq!(gets.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_open_breaker_answers_through_handle_error_layer() {
    let calls = Arc::new(AtomicU32::new(0));
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .build()
            .unwrap(),
    );
    let policy = policy_builder()
        .max_attempts(2)
        .circuit_breaker(breaker)
        .build()
        .unwrap();
    let seen = Seen::default();
    let app = Router::new().route(
        "/down",
        get(flaky(&calls, u32::MAX)).layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(no_response))
                .layer(
                    RedressLayer::new(policy)
                        .clone_requests_with(EmptyBody)
                        .sleeper(sleeper())
                        .on_event(seen.on_event()),
                ),
        ),
    );
    let addr = serve(app).await;

    // The first call fails twice and opens the breaker: its last 503 back.
    assert_eq!(send(addr, "GET", "/down", "").await, (503, "busy".into()));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The second is rejected without running the handler: the layer's
    // NoResponse, answered by HandleErrorLayer (503, empty body).
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .request(
            http::Request::get(format!("http://{addr}/down"))
                .body(Full::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(seen.kinds().last(), Some(&EventKind::CircuitRejected));
}
