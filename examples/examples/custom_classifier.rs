//! Classifying your own errors: a domain error enum with a closure
//! classifier, and an API error that exposes its status code through
//! `HasStatus`, registered with `with_status`.
//!
//! `cargo run -p redress-examples --example custom_classifier`
#![allow(clippy::print_stdout)]

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::time::Duration;

use redress::backoff::{constant, decorrelated_jitter, retry_after_or};
use redress::prelude::*;
use redress::{Classifier, HasStatus, default_classifier, strict_classifier};

// --- 1. A domain error enum, classified by a closure --------------------

/// Errors of a (pretend) database driver.
#[derive(Debug)]
enum DbError {
    Deadlock,
    SerializationFailure,
    TooManyConnections { retry_in: Duration },
    ConnectionLost,
    UniqueViolation { constraint: &'static str },
    SyntaxError,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Deadlock => f.write_str("deadlock detected"),
            DbError::SerializationFailure => f.write_str("could not serialize access"),
            DbError::TooManyConnections { .. } => f.write_str("too many connections"),
            DbError::ConnectionLost => f.write_str("connection lost"),
            DbError::UniqueViolation { constraint } => {
                write!(f, "duplicate key violates {constraint}")
            }
            DbError::SyntaxError => f.write_str("syntax error"),
        }
    }
}

impl Error for DbError {}

/// The driver's errors, mapped to classes. Each variant is decided here,
/// once, instead of by guessing from names at run time. Details are small
/// static hints that reach strategies and `on_event` hooks.
fn classify_db(e: &DbError) -> Classification {
    match e {
        DbError::Deadlock => {
            Classification::new(ErrorClass::Concurrency).with_detail("sqlstate", "40P01")
        }
        DbError::SerializationFailure => {
            Classification::new(ErrorClass::Concurrency).with_detail("sqlstate", "40001")
        }
        DbError::TooManyConnections { retry_in } => {
            Classification::new(ErrorClass::RateLimit).with_retry_after(*retry_in)
        }
        DbError::ConnectionLost => ErrorClass::Transient.into(),
        DbError::UniqueViolation { .. } | DbError::SyntaxError => ErrorClass::Permanent.into(),
    }
}

// --- 2. An API error with a status code ---------------------------------

/// An error from a payment provider's API.
#[derive(Debug)]
struct ApiError {
    status: u16,
    retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payment API returned {}", self.status)
    }
}

impl Error for ApiError {}

impl HasStatus for ApiError {
    fn status_code(&self) -> Option<u16> {
        Some(self.status)
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// The application's error: wraps the API error as its `source()`. The
/// classifier walks the chain and finds the status code underneath.
#[derive(Debug)]
enum CheckoutError {
    Payment(ApiError),
}

impl fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckoutError::Payment(_) => f.write_str("checkout failed: payment"),
        }
    }
}

impl Error for CheckoutError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CheckoutError::Payment(e) => Some(e),
        }
    }
}

fn describe(c: &Classification) -> String {
    let mut s = c.class.name().to_string();
    if let Some(after) = c.retry_after {
        s.push_str(&format!(" retry_after={after:?}"));
    }
    for (k, v) in c.details.iter() {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("1. a closure classifier for a domain enum");
    let db_errors = [
        DbError::Deadlock,
        DbError::SerializationFailure,
        DbError::TooManyConnections {
            retry_in: Duration::from_millis(20),
        },
        DbError::ConnectionLost,
        DbError::UniqueViolation {
            constraint: "users_email_key",
        },
        DbError::SyntaxError,
    ];
    for e in &db_errors {
        println!(
            "  {:<50} -> {}",
            format!("{e:?}"),
            describe(&classify_db(e))
        );
    }

    let db_policy = Policy::builder()
        .classifier(classify_db)
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(1))
                .max(Duration::from_millis(10)),
        )
        // Conflicts clear as soon as the other transaction finishes.
        .class_strategy(ErrorClass::Concurrency, constant(Duration::from_millis(1)))
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(constant(Duration::from_millis(5))),
        )
        .build()?;

    let attempts = Cell::new(0_u32);
    let id = db_policy.call(|| {
        attempts.set(attempts.get().saturating_add(1));
        match attempts.get() {
            1 => Err(DbError::Deadlock),
            2 => Err(DbError::SerializationFailure),
            _ => Ok(42_u64),
        }
    })?;
    println!(
        "  insert after two conflicts -> id {id} ({} attempts)",
        attempts.get()
    );

    if let Err(err) = db_policy.call(|| {
        Err::<u64, _>(DbError::UniqueViolation {
            constraint: "users_email_key",
        })
    }) {
        println!("  duplicate email -> {err}");
    }

    println!("2. a HasStatus type, registered with with_status");
    let registered = strict_classifier().with_status::<ApiError>();
    let api_errors = [
        CheckoutError::Payment(ApiError {
            status: 402,
            retry_after: None,
        }),
        CheckoutError::Payment(ApiError {
            status: 403,
            retry_after: None,
        }),
        CheckoutError::Payment(ApiError {
            status: 409,
            retry_after: None,
        }),
        CheckoutError::Payment(ApiError {
            status: 429,
            retry_after: Some(Duration::from_secs(1)),
        }),
        CheckoutError::Payment(ApiError {
            status: 502,
            retry_after: None,
        }),
    ];
    println!(
        "  {:<20} {:<28} default_classifier() (not registered)",
        "error", "strict + with_status"
    );
    for e in &api_errors {
        let CheckoutError::Payment(api) = e;
        println!(
            "  {:<20} {:<28} {}",
            format!("CheckoutError({})", api.status),
            describe(&registered.classify(e)),
            describe(&default_classifier().classify(e)),
        );
    }
    println!("  (402 has no class of its own: UNKNOWN, capped by max_unknown_attempts;");
    println!("   without registration the classifier cannot see the status at all)");

    let api_policy = Policy::builder()
        .classifier(registered)
        .strategy(constant(Duration::from_millis(1)))
        .build()?;
    let outcome = api_policy.execute(|| {
        Err::<(), _>(CheckoutError::Payment(ApiError {
            status: 403,
            retry_after: None,
        }))
    });
    println!(
        "  a 403 is never retried -> {:?} after {} attempt(s), class {:?}",
        outcome.stop_reason, outcome.attempts, outcome.last_class
    );
    Ok(())
}
