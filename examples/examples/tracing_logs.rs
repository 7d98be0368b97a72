//! Logs through `tracing`: with the `tracing` feature, each call is a
//! `redress.call` span and each decision an event, no hook needed.
//!
//! `cargo run -p redress-examples --example tracing_logs`

#![allow(clippy::arithmetic_side_effects)]

use std::error::Error;
use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;
use tracing_subscriber::filter::LevelFilter;

fn main() -> Result<(), Box<dyn Error>> {
    // DEBUG shows the retries; at INFO or WARN only the give-ups remain.
    tracing_subscriber::fmt()
        .with_max_level(LevelFilter::DEBUG)
        .without_time()
        .init();

    let policy = Policy::builder()
        .strategy(constant(Duration::from_millis(5)))
        .max_attempts(3)
        .build()?;

    // Two timeouts, then success: two DEBUG retries and a DEBUG success.
    let mut tries = 0;
    policy.operation("fetch_user").call(|| {
        tries += 1;
        if tries < 3 {
            Err(std::io::Error::from(std::io::ErrorKind::TimedOut))
        } else {
            Ok(tries)
        }
    })?;

    // Always failing: the give-up is a WARN with its stop reason.
    let _ = policy
        .operation("fetch_orders")
        .call(|| Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
    Ok(())
}
