//! The one-line helper on async functions: `redress::retry_async`.
//!
//! `cargo run -p redress-examples --example async_retry`

#![allow(clippy::print_stdout)]

use std::error::Error;
use std::sync::atomic::{AtomicU32, Ordering};

static CALLS: AtomicU32 = AtomicU32::new(0);

/// An async function that is refused once, then connects.
async fn connect() -> Result<&'static str, std::io::Error> {
    if CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    }
    Ok("connected")
}

/// An async function that fails for good: NotFound is PERMANENT.
async fn lookup() -> Result<(), std::io::Error> {
    Err(std::io::Error::from(std::io::ErrorKind::NotFound))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // The default classifier, decorrelated jitter capped at 5 s, a 60 s
    // deadline and 6 attempts.
    let status = redress::retry_async(connect).await?;
    println!("{status} after {} calls", CALLS.load(Ordering::SeqCst));

    if let Err(err) = redress::retry_async(lookup).await {
        println!("gave up at once: {err}");
    }
    Ok(())
}
