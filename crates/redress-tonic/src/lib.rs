//! gRPC for [redress]: tonic's status codes to error classes (one
//! documented table), the server's `RetryInfo` and pushback hints as the
//! delay to wait, and unary calls retried with one line.
//!
//! - [`code_class`]: the table, gRPC code to class, and why.
//! - [`classify_status`]: a `tonic::Status` to a classification: its code's
//!   class, the code's name as the `err` tag (`UNAVAILABLE`, ...), and the
//!   server's hint, from a `google.rpc.RetryInfo` detail or the
//!   `grpc-retry-pushback-ms` trailer, as `retry_after` (a pushback that
//!   says not to retry stops the call).
//! - [`classifier()`]: the policy's classifier for `Status` and for errors
//!   that wrap one.
//! - [`unary`]: retries a unary call, a fresh request per attempt carrying
//!   the attempt's time limit as its gRPC deadline. Streaming calls are
//!   not retried (see [`unary`] for why).
//! - [`response_classifier()`]: the result classifier for stacks that see
//!   gRPC calls as `http::Response`s (a tower layer over an HTTP/2
//!   client, a proxy): it flags *Trailers-Only* failures, with the same
//!   table and hints. Such a stack can only retry requests whose body it
//!   can send again; tonic's own channel streams request bodies, which is
//!   why [`unary`] retries above the channel instead.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use redress::backoff::{constant, retry_after_or};
//! use redress::{ErrorClass, Policy};
//! use redress_test_grpc::{Script, Step, TestServer};
//! use tonic::Code;
//! use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
//!
//! // A real gRPC server on loopback: throttled once (with a RetryInfo of
//! // 50 ms), unavailable once, then an answer.
//! let script = Script::new()
//!     .then(Step::fail(Code::ResourceExhausted).retry_info(Duration::from_millis(50)))
//!     .then(Step::fail(Code::Unavailable))
//!     .then(Step::serving());
//! let server = TestServer::start(script)?;
//! let client = HealthClient::new(tonic::transport::Endpoint::from_shared(server.url())?.connect_lazy());
//!
//! let policy = Policy::builder()
//!     .classifier(redress_tonic::classifier())
//!     .strategy(constant(Duration::from_millis(10)))
//!     .class_strategy(ErrorClass::RateLimit, retry_after_or(constant(Duration::from_secs(1))))
//!     .build()?;
//!
//! let request = HealthCheckRequest { service: String::new() };
//! let reply = redress_tonic::unary(&policy, &client, &request, async |mut c, r| c.check(r).await).await?;
//! assert_eq!(reply.into_inner().status, 1); // SERVING
//! assert_eq!(server.requests(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! # Dependencies
//!
//! tonic without default features: no transport, no TLS, no codegen. The
//! classifiers need only `tonic::Status`; bring your own channel (and its
//! TLS) in your tonic dependency. `tonic-types` decodes `RetryInfo`.
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

mod classifier;
mod code;
mod response;
mod status;
mod unary;

pub use classifier::{GrpcClassifier, classifier};
pub use code::{code_class, code_name};
pub use response::{GrpcResponseClassifier, classify_response_head, response_classifier};
pub use status::{PUSHBACK_KEY, Pushback, classify_status, pushback, retry_info_delay};
pub use unary::{PREVIOUS_ATTEMPTS_KEY, execute_unary, unary};

/// The snippets of `docs/grpc.md`, compiled and run as doctests (against
/// the scripted loopback server).
#[cfg(doctest)]
#[doc = include_str!("../../../docs/grpc.md")]
pub struct GrpcDoctests;
