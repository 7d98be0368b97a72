//! The async quick start: a flaky async operation recovering on tokio.
//!
//! `cargo run -p redress-examples --example async_quickstart`

#![allow(clippy::print_stdout)]

use std::error::Error;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use redress::backoff::decorrelated_jitter;
use redress::prelude::*;

/// Fails twice with a timeout, then answers.
async fn fetch_user(tries: &AtomicU32, id: u32) -> Result<String, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if tries.fetch_add(1, Ordering::SeqCst) < 2 {
        return Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
    }
    Ok(format!("user {id}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::builder()
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(10))
                .max(Duration::from_millis(100)),
        )
        .deadline(Duration::from_secs(5))
        .build()?;

    let tries = AtomicU32::new(0);
    let site = policy
        .operation("fetch_user")
        .seed(7)
        .on_metric(|event, attempt, delay, tags| {
            println!(
                "{event:<8} attempt={attempt} delay={delay:?} {}",
                tags.get("class").unwrap_or("-")
            );
        });
    let outcome = site.execute_async(|| fetch_user(&tries, 42)).await;
    println!(
        "ok={} attempts={} value={:?}",
        outcome.is_ok(),
        outcome.attempts,
        outcome.value()
    );

    // `call_async` returns the value, or a RetryError with the last error.
    let tries = AtomicU32::new(0);
    let user = policy.call_async(|| fetch_user(&tries, 7)).await?;
    println!("call_async -> {user}");
    Ok(())
}
