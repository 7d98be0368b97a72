//! The async httpx example, with reqwest: a client whose every request runs
//! under a policy (`RedressMiddleware` in a `reqwest_middleware` client),
//! against a scripted server on loopback.
//!
//! `cargo run -p redress-examples --example reqwest_async`
//!
//! Watch for:
//!
//! - two 503s retried after short backoffs, then a 429 whose
//!   `Retry-After: 1` sets the wait (about a second), then the answer;
//! - a body read inside `call_async`, so a connection cut mid-body is one
//!   more retried attempt (the middleware returns before the body is read);
//! - a request whose body is a stream: sent once, not retried.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::time::Duration;

use redress::backoff::{decorrelated_jitter, retry_after_or};
use redress::prelude::*;
use redress::reqwest::{HintedError, RedressMiddleware, ResponseExt};
use redress_test_http::{Script, Step, TestServer};
use reqwest_middleware::ClientBuilder;

/// Prints one event as a log line: `retry attempt=1 sleep_s=0.07 class=...`.
fn print_event(event: &Event<'_>) {
    println!("    {:<22} {}", event.kind, event.log_fields());
}

/// Errors classified by reqwest's error kinds; add a result classifier to
/// retry responses too.
fn builder() -> redress::PolicyBuilder<redress::reqwest::ReqwestClassifier> {
    Policy::builder()
        .classifier(redress::reqwest::classifier())
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(50))
                .max(Duration::from_millis(500)),
        )
        // Rate limits wait as long as the server says.
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(decorrelated_jitter().max(Duration::from_secs(5)))
                .jitter(Duration::from_millis(20)),
        )
        .attempt_timeout(Duration::from_secs(2))
        .deadline(Duration::from_secs(10))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // 1. Every request of this client runs under the policy.
    let server = TestServer::start(
        Script::new()
            .times(2, Step::status(503))
            .then(Step::status(429).retry_after_secs(1))
            .then(Step::ok("{\"id\":7,\"name\":\"ada\"}")),
    )?;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(
            // The middleware sees responses: flag 5xx, 429, 408 and 409.
            RedressMiddleware::new(
                builder()
                    .result_classifier(redress::reqwest::response_classifier())
                    .build()?,
            )
            .operation("users_api")
            .on_event(print_event),
        )
        .build();
    println!("GET /users/7 through the middleware:");
    let response = client.get(server.url_of("/users/7")).send().await?;
    println!(
        "  -> {} {} after {} requests\n",
        response.status(),
        response.text().await?,
        server.requests()
    );

    // 2. The body read inside the policy: a connection cut mid-body is
    //    TRANSIENT (`reset`) and retried.
    let server = TestServer::start(
        Script::new()
            .then(Step::close_mid_body("0123456789"))
            .then(Step::ok("0123456789")),
    )?;
    let plain = reqwest::Client::new();
    let policy = builder().build()?;
    println!("GET /report with the body read inside call_async:");
    let body = policy
        .operation("report")
        .on_event(print_event)
        .call_async(|| async {
            let response = plain
                .get(server.url_of("/report"))
                .send()
                .await?
                .error_for_status_with_hint()?;
            Ok::<_, HintedError>(response.bytes().await?)
        })
        .await?;
    println!(
        "  -> {} bytes after {} requests\n",
        body.len(),
        server.requests()
    );

    // 3. A streaming body cannot be sent twice: one attempt, the 503 back.
    let server = TestServer::start(Script::new().then(Step::status(503)).then(Step::ok("")))?;
    println!("POST /uploads with a streaming body:");
    let response = client
        .post(server.url_of("/uploads"))
        .body(reqwest::Body::wrap(String::from("a large upload")))
        .send()
        .await?;
    println!(
        "  -> {} after {} request (not retried: the body cannot be copied)",
        response.status(),
        server.requests()
    );
    Ok(())
}
