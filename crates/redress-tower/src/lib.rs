//! tower for [redress]: [`RedressLayer`], a `Layer` that runs any tower
//! service under a redress policy (retries with per-class backoff, the
//! server's `Retry-After`, attempt timeouts, the deadline, a retry budget
//! and a circuit breaker), with the policy's events.
//!
//! - [`RedressLayer`] and its service, [`Redress`]: the layer holds no
//!   decision. For each attempt it copies the request ([`CloneRequest`]),
//!   polls the inner service ready, calls it, and lets the policy's
//!   classifiers judge the response or the error; the engine decides
//!   whether and when to try again, and the async runner sleeps on tokio.
//! - [`classifier()`]: errors of hyper and hyper-util clients (timeouts,
//!   refused connections, resets), with `err` tags; responses are flagged
//!   by `redress_http::response_classifier()` (5xx, 429, 408, 409, with
//!   `Retry-After`).
//! - [`Error`]: the inner service's last error, or [`NoResponse`] when the
//!   call ended without one (attempts cut by the attempt timeout, the
//!   breaker open).
//!
//! It works with hyper-util's client (`Client<_, B>` with a `Clone` body
//! such as `Full<Bytes>`), with axum routers and single routes, and with
//! any other `Service` whose requests can be copied. A route gets a policy
//! of its own by carrying its own layer; [`EmptyBody`] copies axum's
//! requests (those without a body), and
//! [`answer_no_response`](RedressLayer::answer_no_response) answers a call
//! that ends without a response with a 504 or 503, so the route's error
//! stays `Infallible`:
//!
//! ```
//! use std::time::Duration;
//! use axum::routing::get;
//! use axum::Router;
//! use redress_core::{backoff::constant, Policy};
//! use redress_tower::{EmptyBody, RedressLayer};
//!
//! let fast = Policy::builder()
//!     .result_classifier(redress_http::response_classifier())
//!     .strategy(constant(Duration::from_millis(20)))
//!     .max_attempts(3)
//!     .build()?;
//! let patient = fast.to_builder().max_attempts(6).attempt_timeout(Duration::from_secs(2)).build()?;
//! let per_route = |policy, name| {
//!     RedressLayer::new(policy)
//!         .operation(name)
//!         .clone_requests_with(EmptyBody)
//!         .answer_no_response()
//! };
//!
//! let router: Router = Router::new()
//!     .route("/users", get(|| async { "ada" }).layer(per_route(fast, "users")))
//!     .route("/reports", get(|| async { "q3" }).layer(per_route(patient, "reports")))
//!     .route("/health", get(|| async { "ok" })); // no policy
//! # let _ = router;
//! # Ok::<(), redress_core::ConfigError>(())
//! ```
//!
//! Without `answer_no_response`, the layer's error is [`Error`], which a
//! route turns into a response with axum's `HandleErrorLayer` (see
//! [`Error`]'s docs).
//!
//! `docs/http.md` in the repository compares this layer with tower's own
//! `retry` middleware and with reqwest-retry.
//!
//! # The future type
//!
//! [`Redress`]'s future is boxed ([`ResponseFuture`], a
//! `Pin<Box<dyn Future + Send>>`): the retry loop's future has no name to
//! put in `Service::Future`, and `Send + 'static` is what axum, hyper and
//! `tower::buffer` ask of a service's future. The box is one allocation
//! per call, next to the network round trip it wraps.
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

mod classify;
mod clone;
mod error;
mod layer;

pub use classify::{TransportClassifier, classifier};
pub use clone::{ByClone, CloneRequest, EmptyBody};
pub use error::Error;
pub use layer::{NoResponseAsError, NoResponseAsResponse, Redress, RedressLayer, ResponseFuture};
pub use redress_http::NoResponse;
pub use redress_http::client::NOT_RETRIED;
