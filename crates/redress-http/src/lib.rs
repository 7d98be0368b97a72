//! HTTP for [redress], on the [`http`] crate's types.
//!
//! - [`status_class`], [`classify_status`], [`classify_error_status`]: HTTP
//!   statuses to error classes through redress's one status table
//!   ([`class_for_status`](redress_core::class_for_status)), with a
//!   low-cardinality tag for events ([`status_tag`]: `"5xx"`, `"429"`,
//!   `"4xx"`, ...);
//! - [`retry_after`], [`parse_retry_after`]: the `Retry-After` header, in
//!   seconds or as an HTTP-date, to a [`Duration`](core::time::Duration);
//!   malformed values are `None`, never a panic;
//! - [`ResponseClassifier`]: a result classifier for `http::Response<B>` that
//!   flags retryable statuses and carries the `Retry-After` hint, so a
//!   [`retry_after_or`](redress_core::backoff::retry_after_or) strategy
//!   waits as long as the server asked;
//! - [`Ending`], [`NoResponse`]: how a call ends in a client's terms (the
//!   response, the last flagged response, the last error, or no response
//!   at all), for integrations that hand back what a client returns.
//!
//! Clients built on `http` (hyper, a tower stack, your own) use this crate
//! directly; `redress-reqwest` builds on it for reqwest. `docs/http.md` in
//! the repository explains the table and how a hint flows into a delay.
//!
//! ```
//! use std::cell::Cell;
//! use std::time::Duration;
//! use http::Response;
//! use redress_core::backoff::{constant, retry_after_or};
//! use redress_core::{ErrorClass, ManualClock, Policy};
//! use redress_sync::BlockingPolicy;
//!
//! let policy = Policy::builder()
//!     .result_classifier(redress_http::response_classifier())
//!     .strategy(constant(Duration::from_millis(100)))
//!     .class_strategy(ErrorClass::RateLimit, retry_after_or(constant(Duration::from_secs(1))).jitter(Duration::ZERO))
//!     .build()?;
//!
//! // A server that is rate limited once (come back in 7 s), then answers.
//! let sent = Cell::new(0);
//! let send = || -> Result<Response<&str>, http::Error> {
//!     sent.set(sent.get() + 1);
//!     match sent.get() {
//!         1 => Response::builder().status(429).header("retry-after", "7").body(""),
//!         _ => Response::builder().status(200).body("hello"),
//!     }
//! };
//!
//! let clock = ManualClock::new();
//! let response = policy.bind().clock(&clock).sleeper(|d| clock.advance(d)).call(send)?;
//! assert_eq!(response.body(), &"hello");
//! assert_eq!(clock.now(), Duration::from_secs(7)); // waited what the server asked
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85. Raising it is a minor-version change.
//!
//! [redress]: https://docs.rs/redress

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod client;
mod no_response;
mod response;
mod retry_after;
mod status;

pub use no_response::{Ending, NoResponse, ToEnding};
pub use response::{ResponseClassifier, response_classifier};
pub use retry_after::{parse_retry_after, retry_after};
pub use status::{classify_error_status, classify_status, status_class, status_tag};
