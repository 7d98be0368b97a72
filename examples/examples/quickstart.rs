//! A flaky operation that succeeds after retries: the README's first example.
//!
//! `cargo run -p redress-examples --example quickstart`
#![allow(clippy::print_stdout)]

use std::cell::Cell;
use std::error::Error;
use std::io;
use std::time::Duration;

use redress::backoff::decorrelated_jitter;
use redress::prelude::*;
use redress::{Failure, Tags};

/// A dependency that times out, then resets the connection, then answers.
struct FlakyService {
    calls: Cell<u32>,
}

impl FlakyService {
    fn fetch_user(&self, id: u64) -> io::Result<String> {
        let call = self.calls.get().saturating_add(1);
        self.calls.set(call);
        match call {
            1 => Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out")),
            2 => Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            )),
            _ => Ok(format!("user {id}")),
        }
    }
}

/// Prints one event as the metric hook receives it.
fn print_metric(event: &str, attempt: u32, delay: Duration, tags: &Tags<'_>) {
    let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    // Only retries sleep; the other events report a zero delay.
    let delay = if delay.is_zero() {
        String::new()
    } else {
        format!(" delay={delay:.1?}")
    };
    println!(
        "  event={event} attempt={attempt}{delay} {}",
        tags.join(" ")
    );
}

fn main() -> Result<(), Box<dyn Error>> {
    // In production keep the default base of 250 ms; tiny delays keep this
    // example instant. The default classifier knows `io::Error` kinds.
    let policy = Policy::builder()
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(5))
                .max(Duration::from_millis(50)),
        )
        .deadline(Duration::from_secs(5))
        .build()?;

    // One call site: its name tags every event; the seed makes the jitter,
    // and so this output, reproducible.
    let fetch_user = policy
        .bind()
        .operation("fetch_user")
        .seed(7)
        .on_metric(print_metric);

    let service = FlakyService {
        calls: Cell::new(0),
    };

    println!("execute: the whole outcome");
    let outcome = fetch_user.execute(|| service.fetch_user(42));
    match &outcome.result {
        Ok(user) => println!("  -> ok: {user:?} after {} attempts", outcome.attempts),
        Err(failure) => println!("  -> failed: {failure:?}"),
    }

    println!("call: the value, or a RetryError");
    let user = fetch_user.call(|| service.fetch_user(7))?;
    println!("  -> {user:?}");

    println!("a permanent failure is not retried, and comes back intact");
    let outcome = fetch_user
        .execute(|| Err::<String, _>(io::Error::new(io::ErrorKind::NotFound, "no user 404")));
    if let Err(Failure::Error(e)) = &outcome.result {
        println!(
            "  -> stop_reason={:?} attempts={} last_class={:?} error={e}",
            outcome.stop_reason, outcome.attempts, outcome.last_class
        );
    }
    if let Err(err) = outcome.into_result() {
        println!("  -> as a RetryError: {err}");
    }
    Ok(())
}
