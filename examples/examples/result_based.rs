//! Retrying on values: an HTTP-like client returns `Ok(response)` for any
//! status, and a result classifier flags the 503s and 429s.
//!
//! `cargo run -p redress-examples --example result_based`
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::time::Duration;

use redress::backoff::{decorrelated_jitter, retry_after_or};
use redress::prelude::*;
use redress::{Failure, ManualClock, strict_classifier};
use redress_examples::{FakeEndpoint, Reply, Response};

/// Which responses are worth another try. `None`: hand it to the caller,
/// whatever the status (a 404 is an answer, not a failure to retry).
fn flag_response(r: &Response) -> Option<Classification> {
    match r.status {
        429 => {
            let c = Classification::new(ErrorClass::RateLimit);
            Some(match r.retry_after {
                Some(after) => c.with_retry_after(after),
                None => c,
            })
        }
        500..=599 => Some(ErrorClass::ServerError.into()),
        _ => None,
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::builder()
        // Transport errors (timeouts) are still classified as errors.
        .classifier(strict_classifier())
        .result_classifier(flag_response)
        .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(decorrelated_jitter()).jitter(Duration::ZERO),
        )
        .max_attempts(4)
        .build()?;

    let clock = ManualClock::new();
    let get = policy
        .bind()
        .operation("get_report")
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .seed(5)
        .on_log(|event, fields| println!("  {event}: {fields}"));

    println!("1. 503, then 429 with Retry-After: 3, then 200");
    let endpoint = FakeEndpoint::new([
        Reply::Status(503, "warming up"),
        Reply::RetryAfter(429, Duration::from_secs(3)),
        Reply::Status(200, "report ready"),
    ]);
    let response = get.call(|| endpoint.get())?;
    println!("  -> {} {:?}", response.status, response.body);

    println!("2. a 404 is not flagged: it is the caller's to handle");
    let endpoint = FakeEndpoint::new([Reply::Status(404, "no such report")]);
    let response = get.call(|| endpoint.get())?;
    println!("  -> {} {:?}", response.status, response.body);

    println!("3. always 503: the call gives up and returns the last response");
    let endpoint = FakeEndpoint::new([Reply::Status(503, "down for maintenance")]);
    let outcome = get.execute(|| endpoint.get());
    if let Err(Failure::Value(last)) = &outcome.result {
        println!(
            "  -> {:?} after {} attempts (cause {:?}); last response: {} {:?}",
            outcome.stop_reason, outcome.attempts, outcome.cause, last.status, last.body
        );
    }

    // Through `call`, the same response comes back inside the RetryError
    // (a second call site, without the log hook, to keep the output short).
    let quiet = policy.bind().clock(&clock).sleeper(|d| clock.advance(d));
    if let Err(err) = quiet.call(|| endpoint.get()) {
        println!("  -> {err}");
        if let Some(last) = err.into_last_value() {
            println!("  -> the caller can still show: {:?}", last.body);
        }
    }
    Ok(())
}
