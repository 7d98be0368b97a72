//! A strategy and a cap per error class, and a rate limit that honors the
//! server's Retry-After.
//!
//! `cargo run -p redress-examples --example per_class`
//!
//! The delays are production-sized (seconds); a manual clock and a sleeper
//! that advances it make them instant and the output exact.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::time::Duration;

use redress::backoff::{constant, decorrelated_jitter, equal_jitter, retry_after_or};
use redress::prelude::*;
use redress::{Classifier, ConfigError, ManualClock, strict_classifier};
use redress_examples::{FakeEndpoint, HttpError, Reply};

/// The policy of an API client: one answer per kind of failure.
fn api_policy() -> Result<Policy<impl Classifier<HttpError>>, ConfigError> {
    Policy::builder()
        // Status codes of `HttpError` map to classes; transport errors are
        // classified by their `io::Error` source.
        .classifier(strict_classifier().with_status::<HttpError>())
        // Timeouts and anything else retryable: the default.
        .strategy(decorrelated_jitter().max(Duration::from_secs(10)))
        // A 409 means someone else wrote first: re-read and retry soon.
        .class_strategy(ErrorClass::Concurrency, constant(Duration::from_millis(50)))
        .class_max_attempts(ErrorClass::Concurrency, 5)
        // A 429 says when to come back: do so (plus a little jitter).
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(decorrelated_jitter().max(Duration::from_secs(60))),
        )
        .class_max_attempts(ErrorClass::RateLimit, 2)
        // A 5xx: give the server room, never less than half the cap.
        .class_strategy(
            ErrorClass::ServerError,
            equal_jitter().max(Duration::from_secs(30)),
        )
        .deadline(Duration::from_secs(30))
        .max_attempts(8)
        .build()
}

fn run<C>(title: &str, policy: &Policy<C>, endpoint: &FakeEndpoint)
where
    C: Classifier<HttpError>,
{
    println!("{title}");
    let clock = ManualClock::new();
    let outcome = policy
        .bind()
        .operation("get_order")
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .seed(11)
        .on_event(|e| {
            let class = e.class.map_or("-", ErrorClass::name);
            let hint = e
                .classification
                .and_then(|c| c.retry_after)
                .map(|ra| format!(" (server asked for {ra:?})"))
                .unwrap_or_default();
            println!(
                "  t={:>8.3?} {:<22} attempt={} class={class:<12} delay={:.3?}{hint}",
                e.elapsed,
                e.kind.as_str(),
                e.attempt,
                e.delay
            );
        })
        .execute(|| endpoint.get_checked());
    match &outcome.result {
        Ok(response) => println!(
            "  -> ok {} {:?}, attempts={}, elapsed={:.3?}",
            response.status, response.body, outcome.attempts, outcome.elapsed
        ),
        Err(failure) => println!(
            "  -> gave up: {:?}, attempts={}, elapsed={:.3?}, last error: {}",
            outcome.stop_reason,
            outcome.attempts,
            outcome.elapsed,
            failure
                .error()
                .map_or_else(String::new, ToString::to_string)
        ),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let policy = api_policy()?;

    run(
        "1. each failure gets its class's strategy",
        &policy,
        &FakeEndpoint::new([
            Reply::Status(409, "version conflict"),
            Reply::RetryAfter(429, Duration::from_secs(2)),
            Reply::Status(503, "overloaded"),
            Reply::Timeout,
            Reply::Status(200, "order #1234"),
        ]),
    );

    run(
        "2. rate limited again and again: the per-class cap stops it",
        &policy,
        &FakeEndpoint::new([Reply::RetryAfter(429, Duration::from_secs(1))]),
    );

    run(
        "3. the server asks for more time than the deadline leaves",
        &policy,
        &FakeEndpoint::new([Reply::RetryAfter(429, Duration::from_secs(90))]),
    );

    run(
        "4. a 404 is PERMANENT: one attempt, no retry",
        &policy,
        &FakeEndpoint::new([Reply::Status(404, "no such order")]),
    );
    Ok(())
}
