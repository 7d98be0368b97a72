//! The decorator's twins on async functions: the one-line helper
//! `redress::retry_async`, and `operation.retry(&policy)` for a policy of
//! your own (blocking functions get the same `.retry(&policy).call()`).
//!
//! `cargo run -p redress-examples --example async_retry`

#![allow(clippy::print_stdout)]

use std::error::Error;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use redress::backoff::decorrelated_jitter;
use redress::prelude::*;

static CALLS: AtomicU32 = AtomicU32::new(0);

/// An async function that is refused once, then connects.
async fn connect() -> Result<&'static str, std::io::Error> {
    if CALLS.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
        return Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    }
    Ok("connected")
}

/// An async function that fails for good: NotFound is PERMANENT.
async fn lookup() -> Result<(), std::io::Error> {
    Err(std::io::Error::from(std::io::ErrorKind::NotFound))
}

/// A blocking function, reset once in three calls.
fn read_profile(calls: &mut u32) -> Result<String, std::io::Error> {
    *calls = calls.saturating_add(1);
    if *calls == 1 {
        return Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    }
    Ok(format!("profile (call {calls})"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // `@retry`: the default classifier, decorrelated jitter capped at 5 s,
    // a 60 s deadline and 6 attempts.
    let status = redress::retry_async(connect).await?;
    println!("{status} after {} calls", CALLS.load(Ordering::SeqCst));

    if let Err(err) = redress::retry_async(lookup).await {
        println!("gave up at once: {err}");
    }

    // `@retry(strategy=...)`: the function retries itself under a policy
    // of your own, with a name and a hook for each retry.
    let policy = Policy::builder()
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(20))
                .max(Duration::from_millis(200)),
        )
        .deadline(Duration::from_secs(5))
        .build()?;
    let status = connect
        .retry(&policy)
        .operation("connect")
        .notify(|retry| {
            let class = retry.class.map_or("-", ErrorClass::name);
            println!("retry {} in {:?} after {class}", retry.attempt, retry.delay);
        })
        .await?;
    println!(
        "{status} again, {} calls in all",
        CALLS.load(Ordering::SeqCst)
    );

    // The same on a blocking function.
    let mut calls = 0;
    let profile = (|| read_profile(&mut calls))
        .retry(&policy)
        .operation("read_profile")
        .call()?;
    println!("{profile}");
    Ok(())
}
