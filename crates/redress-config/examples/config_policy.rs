//! A retry policy loaded from a config file, linted, and called through.
//!
//! `cargo run -p redress-config --example config_policy`
//!
//! The policy is `examples/configs/payments.toml`; the application adds
//! what is code, not data: how its errors are classified. A manual clock
//! and a sleeper that advances it make the waits instant and the output
//! exact.
#![allow(clippy::print_stdout)]

use std::cell::Cell;
use std::error::Error;
use std::fmt;

use redress_config::{Lint, PolicyConfig};
use redress_core::{Classification, ErrorClass, ManualClock};
use redress_sync::BlockingPolicy;

/// The config, as the application would read it at start-up.
const PAYMENTS_TOML: &str = include_str!("../../../examples/configs/payments.toml");

/// A payment provider's errors.
#[derive(Debug)]
enum ProviderError {
    /// HTTP 429, with the provider's Retry-After in seconds.
    Throttled { retry_after_s: u64 },
    /// HTTP 503.
    Unavailable,
    /// HTTP 402: the card was declined; retrying will not help.
    Declined,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl Error for ProviderError {}

/// The code half of the policy: which class each error is.
fn classify(e: &ProviderError) -> Classification {
    match e {
        ProviderError::Throttled { retry_after_s } => Classification::new(ErrorClass::RateLimit)
            .with_retry_after(std::time::Duration::from_secs(*retry_after_s)),
        ProviderError::Unavailable => ErrorClass::ServerError.into(),
        ProviderError::Declined => ErrorClass::Permanent.into(),
    }
}

/// One call through `policy`, the provider answering from `script`.
fn charge<C: redress_core::Classifier<ProviderError>>(
    policy: &redress_core::Policy<C>,
    script: &[&str],
) {
    println!("charge, the provider answering {script:?}:");
    let next = Cell::new(0usize);
    let clock = ManualClock::new();
    let outcome = policy
        .bind()
        .operation("charge")
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .seed(7)
        .on_event(|e| {
            println!(
                "  {:<14} attempt {} {:<12} wait {:?}",
                e.kind.as_str(),
                e.attempt,
                e.class.map_or("", ErrorClass::name),
                e.delay
            );
        })
        .execute(|| {
            let i = next.get();
            next.set(i.saturating_add(1));
            match script.get(i).copied().unwrap_or("unavailable") {
                "ok" => Ok("charge accepted"),
                "throttled" => Err(ProviderError::Throttled { retry_after_s: 2 }),
                "declined" => Err(ProviderError::Declined),
                _ => Err(ProviderError::Unavailable),
            }
        });
    println!(
        "  => ok={} attempts={} elapsed={:?} stop={:?}\n",
        outcome.is_ok(),
        outcome.attempts,
        outcome.elapsed,
        outcome.stop_reason.map(|r| r.as_str())
    );
}

fn main() -> Result<(), Box<dyn Error>> {
    // Load: a typo or a bad value is an error naming its key and line.
    let config = PolicyConfig::from_toml_str(PAYMENTS_TOML)?;

    // Lint: the same rules `redress doctor` runs in CI.
    let report = config.lint();
    println!("lint: {report}");

    // Build, with the application's classifier.
    let policy = config.build_with(classify)?;

    // Call through it: throttled, unavailable, then charged...
    charge(&policy, &["throttled", "unavailable", "ok"]);
    // ...and a declined card, which no retry fixes.
    charge(&policy, &["declined"]);

    // And the policy written back out, every default explicit.
    println!("\n{}", PolicyConfig::from_policy(&policy)?.to_toml_string());
    Ok(())
}
