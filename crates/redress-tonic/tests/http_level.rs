//! gRPC calls seen as HTTP/2 exchanges, as a tower stack or a proxy sees
//! them: a buffered unary request sent with hyper's client to the real
//! tonic server, and `response_classifier()` judging each response head.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use redress::backoff::{constant, retry_after_or};
use redress::prelude::*;
use redress_test_grpc::{Script, Step, TestServer};
use tonic::Code;

const FALLBACK: Duration = Duration::from_secs(30);

/// `grpc.health.v1.Health/Check` with an empty `HealthCheckRequest`: one
/// uncompressed message of zero bytes. The body is buffered, so the
/// request can be sent again.
fn check_request(server: &TestServer) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("{}/grpc.health.v1.Health/Check", server.url()))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .unwrap()
}

#[tokio::test]
async fn trailers_only_failures_are_retried_with_the_servers_hints() {
    let server = TestServer::start(
        Script::new()
            .then(Step::fail(Code::Unavailable).pushback_ms(700))
            .then(Step::fail(Code::ResourceExhausted).retry_info(Duration::from_secs(3)))
            .then(Step::serving()),
    )
    .unwrap();
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let policy = Policy::builder()
        .result_classifier(redress_tonic::response_classifier())
        .strategy(constant(FALLBACK))
        .class_strategy(
            ErrorClass::Transient,
            retry_after_or(constant(FALLBACK)).jitter(Duration::ZERO),
        )
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(constant(FALLBACK)).jitter(Duration::ZERO),
        )
        .build()
        .unwrap();
    let delays = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&delays);
    let request = check_request(&server);

    let response = policy
        .bind()
        // Backoffs sleep a millisecond: the test checks the delays decided.
        .sleeper(|d: Duration| {
            tokio::time::sleep(if d <= FALLBACK {
                Duration::from_millis(1)
            } else {
                d
            })
        })
        .on_event(move |e: &Event<'_>| {
            if e.kind == EventKind::Retry {
                seen.lock().unwrap().push((e.error_type, e.delay));
            }
        })
        .call_async(|| client.request(request.clone()))
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(server.requests(), 3);
    assert_eq!(
        *delays.lock().unwrap(),
        [
            (Some("UNAVAILABLE"), Duration::from_millis(700)),
            (Some("RESOURCE_EXHAUSTED"), Duration::from_secs(3)),
        ]
    );
    // The success's status is in the trailers, after the message.
    let body = response.into_body().collect().await.unwrap();
    assert_eq!(body.trailers().unwrap().get("grpc-status").unwrap(), "0");
}

#[tokio::test]
async fn the_last_failing_response_comes_back_when_the_policy_gives_up() {
    let server = TestServer::start(Script::new().then(Step::fail(Code::PermissionDenied))).unwrap();
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let policy = Policy::builder()
        .result_classifier(redress_tonic::response_classifier())
        .strategy(constant(Duration::from_millis(1)))
        .build()
        .unwrap();
    let request = check_request(&server);

    let err = policy
        .call_async(|| client.request(request.clone()))
        .await
        .unwrap_err();

    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(err.last_class, Some(ErrorClass::Permission));
    let response = err.last_value().unwrap();
    assert_eq!(response.headers().get("grpc-status").unwrap(), "7");
    assert_eq!(server.requests(), 1);
}
