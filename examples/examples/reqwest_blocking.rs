//! The sync httpx and requests example, with `reqwest::blocking`:
//! `BlockingPolicy::call` around each request, against a scripted server on
//! loopback (it runs on a thread of its own).
//!
//! `cargo run -p redress-examples --example reqwest_blocking`
//!
//! Watch for:
//!
//! - a 503, a connection cut mid-body and a 429 with `Retry-After: 1`, each
//!   retried with its own class and `err` tag, before the answer;
//! - a dependency that stays down: the call gives up after its attempts
//!   and the last response (a 503, body intact) comes back inside the
//!   `RetryError`.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::time::Duration;

use redress::backoff::{decorrelated_jitter, retry_after_or};
use redress::prelude::*;
use redress::reqwest::{HintedError, ResponseExt};
use redress_test_http::{Script, Step, TestServer};

fn print_event(event: &Event<'_>) {
    println!("    {:<22} {}", event.kind, event.log_fields());
}

fn main() -> Result<(), Box<dyn Error>> {
    let builder = Policy::builder()
        .classifier(redress::reqwest::classifier())
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(50))
                .max(Duration::from_millis(500)),
        )
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(decorrelated_jitter().max(Duration::from_secs(5)))
                .jitter(Duration::from_millis(20)),
        )
        .deadline(Duration::from_secs(10));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;

    // 1. Statuses become errors that keep their hint; the body is read
    //    inside the call, so a cut body is retried too.
    let server = TestServer::start(
        Script::new()
            .then(Step::status(503))
            .then(Step::close_mid_body("{\"total\":42}"))
            .then(Step::status(429).retry_after_secs(1))
            .then(Step::ok("{\"total\":42}")),
    )?;
    let policy = builder.clone().build()?;
    println!("GET /totals:");
    let body = policy.operation("totals").on_event(print_event).call(|| {
        let response = client
            .get(server.url_of("/totals"))
            .send()?
            .error_for_status_with_hint()?;
        Ok::<_, HintedError>(response.text()?)
    })?;
    println!("  -> {body} after {} requests\n", server.requests());

    // 2. Responses flagged by the result classifier: when the policy gives
    //    up, the last response is handed back.
    let server = TestServer::start(Script::new().then(Step::status(503).body("maintenance")))?;
    let policy = builder
        .result_classifier(redress::reqwest::response_classifier())
        .max_attempts(3)
        .build()?;
    println!("GET /status while the dependency is down:");
    match policy
        .operation("status")
        .on_event(print_event)
        .call(|| client.get(server.url_of("/status")).send())
    {
        Ok(response) => println!("  -> {}", response.status()),
        Err(err) => {
            println!("  -> {err}");
            if let Some(last) = err.into_last_value() {
                println!("     last response: {} {}", last.status(), last.text()?);
            }
        }
    }
    Ok(())
}
