//! reqwest for [redress]: classifiers for `reqwest::Error` and
//! `reqwest::Response` that know timeouts, connect failures, resets and
//! statuses, and keep the server's `Retry-After` hint.
//!
//! - [`classifier()`]: errors. Timeouts and connect failures are
//!   `TRANSIENT`, a connection closed or reset mid-response is `TRANSIENT`,
//!   status errors go by redress's status table, body, decode and builder
//!   errors are `PERMANENT` (table: [`classify_error`]).
//! - [`response_classifier()`]: responses. A retryable status (408, 409,
//!   429, 5xx) is a flagged value with the `Retry-After` hint; when retries
//!   run out, the caller gets the last response back.
//! - [`ResponseExt::error_for_status_with_hint`]: `error_for_status` that
//!   keeps the hint, for code that turns statuses into errors.
//!
//! - [`RedressMiddleware`] (feature `middleware`): a `reqwest_middleware`
//!   middleware, so one `ClientBuilder::with(RedressMiddleware::new(policy))`
//!   runs every request of a client under the policy (a request whose body
//!   cannot be copied is sent once).
//!
//! Every classification carries a low-cardinality tag that events report
//! as `err`: `timeout`, `connect`, `reset`, `5xx`, `429`, `4xx`, `body`,
//! `decode`, `builder`, `redirect`, `request`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use redress::backoff::{constant, retry_after_or};
//! use redress::prelude::*;
//! use redress_test_http::{Script, Step, TestServer};
//!
//! // A real server on loopback: two 503s, then an answer.
//! let server = TestServer::start(Script::new().times(2, Step::status(503)).then(Step::ok("hello")))?;
//!
//! let policy = Policy::builder()
//!     .classifier(redress_reqwest::classifier())
//!     .result_classifier(redress_reqwest::response_classifier())
//!     .strategy(constant(Duration::from_millis(10)))
//!     .class_strategy(ErrorClass::RateLimit, retry_after_or(constant(Duration::from_secs(1))))
//!     .build()?;
//!
//! let client = reqwest::Client::new();
//! let response = policy.call_async(|| client.get(server.url()).send()).await?;
//! assert_eq!(response.text().await?, "hello");
//! assert_eq!(server.requests(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! # TLS and other reqwest features
//!
//! This crate depends on reqwest with `default-features = false`: no TLS,
//! no HTTP/2, nothing to build that you did not ask for. Turn on what you
//! need in your own reqwest dependency (`reqwest = { version = "0.13",
//! features = ["rustls"] }`); Cargo unifies the features, and the
//! classifiers work the same.
//!
//! # Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `blocking` | no | the same for `reqwest::blocking` (with `BlockingPolicy::call`) |
//! | `middleware` | no | [`RedressMiddleware`] for `reqwest_middleware` 0.5 (its `default-features = false`), sleeping on tokio |
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

mod error;
#[cfg(feature = "middleware")]
mod middleware;
mod response;

pub use error::{HintedError, ReqwestClassifier, ResponseExt, classifier, classify_error};
#[cfg(feature = "middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "middleware")))]
pub use middleware::{NOT_RETRIED, RedressMiddleware};
pub use response::{ResponseClassifier, response_classifier};

/// The snippets of `docs/http.md`, compiled and run as doctests (against the
/// scripted loopback server), the middleware's and the tower layer's
/// included.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/http.md")]
pub struct HttpDoctests;
