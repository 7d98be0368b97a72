//! Classifier-driven retries for Rust services.
//!
//! Every failure is classified into a small, fixed set of [`ErrorClass`]es
//! (rate limit, server error, transient, concurrency, permanent, auth,
//! permission, unknown); each class gets its own [backoff] and caps;
//! every call runs inside a deterministic envelope (deadline, attempt caps,
//! an optional retry [`Budget`] and [`CircuitBreaker`]) and reports each
//! decision as a structured [`Event`].
//!
//! # Blocking
//!
//! ```
//! use std::time::Duration;
//! use redress::prelude::*;
//! use redress::backoff::{decorrelated_jitter, retry_after_or};
//!
//! let policy = Policy::builder()
//!     .strategy(decorrelated_jitter().max(Duration::from_secs(10)))
//!     .class_strategy(ErrorClass::RateLimit, retry_after_or(decorrelated_jitter().max(Duration::from_secs(60))))
//!     .deadline(Duration::from_secs(30))
//!     .build()?;
//!
//! let body = policy.call(|| fetch("https://example.test/users/7"))?;
//! # fn fetch(_: &str) -> Result<String, std::io::Error> { Ok(String::new()) }
//!
//! // Or let the operation retry itself, with a name for its events.
//! let body = (|| fetch("https://example.test/users/7")).retry(&policy).operation("fetch_user").call()?;
//! # let _ = body;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`call`](BlockingPolicy::call) returns the value, or a [`RetryError`]
//! that says why the call stopped and holds the last error;
//! [`execute`](BlockingPolicy::execute) returns the whole [`Outcome`].
//! [`retry`] runs a closure under the one-line defaults, and
//! [`.retry(&policy)`](RetryExt) makes any closure retry itself
//! (module [`retry_ext`]).
//!
//! # Async
//!
//! With the `tokio` (or `async-std`) feature the same policy runs async
//! operations: a closure that makes a new future for each attempt.
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use redress::backoff::decorrelated_jitter;
//! use redress::prelude::*;
//!
//! async fn fetch(url: &str) -> Result<String, std::io::Error> {
//!     Ok(format!("body of {url}"))
//! }
//!
//! let policy = Policy::builder()
//!     .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
//!     .build()?;
//!
//! let body = policy.call_async(|| fetch("https://example.test/users/7")).await?;
//! assert_eq!(body, "body of https://example.test/users/7");
//!
//! // The same call, the operation retrying itself.
//! let body = (|| fetch("https://example.test/users/8")).retry(&policy).operation("fetch_user").await?;
//! assert_eq!(body, "body of https://example.test/users/8");
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```
//!
//! Sleeps follow the runtime's clock (tokio's paused time in tests), each
//! attempt is cancelled at its time limit, and dropping the future cancels
//! the call. Any other runtime plugs in with a sleeper and a clock
//! ([`AsyncSleeper`], [`Clock`]).
//!
//! # Policies as data
//!
//! With the `config` feature, policies live in TOML or JSON files that the
//! application loads and CI lints (`redress doctor`) with the same rules;
//! the classifier stays code:
//!
//! ```
//! # #[cfg(feature = "config")]
//! # {
//! use redress::config::{ConfigFile, Lint};
//! use redress::ErrorClass;
//!
//! let file = ConfigFile::from_toml_str(r#"
//!     [policies.payments]
//!     deadline = "10s"
//!     max_attempts = 5
//!     strategy = { kind = "decorrelated_jitter", max = "2s" }
//!     strategies.RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "decorrelated_jitter", max = "5s" } }
//! "#)?;
//!
//! # struct ApiError { status: u16 }
//! let policy = file.policy("payments")?.build_with(|e: &ApiError| match e.status {
//!     429 => ErrorClass::RateLimit,
//!     500..=599 => ErrorClass::ServerError,
//!     _ => ErrorClass::Permanent,
//! })?;
//! assert_eq!(policy.retry().max_attempts(), 5);
//! assert!(!policy.lint().has_errors());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Documentation
//!
//! The guides live in the repository's `docs/` directory (linked here by
//! their address on GitHub, from the `repository` of `Cargo.toml`); every
//! snippet in them is compiled and run as a test of this crate:
//!
//! - [Getting started](https://github.com/redress-rs/redress/blob/main/docs/getting-started.md):
//!   installing, a first policy and call, reading the outcome, the one-line
//!   helpers, testing without sleeping.
//! - [Concepts](https://github.com/redress-rs/redress/blob/main/docs/concepts.md):
//!   classes and classifiers, which strategy to pick, the envelope, events,
//!   hooks, call sites, the `no_std` engine.
//! - [Budgets, circuit breakers and the unified policy](https://github.com/redress-rs/redress/blob/main/docs/resilience.md).
//! - [Runtimes, cancellation and timeouts](https://github.com/redress-rs/redress/blob/main/docs/runtimes.md).
//! - [Policies as data and `redress doctor`](https://github.com/redress-rs/redress/blob/main/docs/doctor.md).
//! - [HTTP](https://github.com/redress-rs/redress/blob/main/docs/http.md),
//!   [gRPC](https://github.com/redress-rs/redress/blob/main/docs/grpc.md),
//!   [databases](https://github.com/redress-rs/redress/blob/main/docs/databases.md).
//! - [Observability](https://github.com/redress-rs/redress/blob/main/docs/observability.md)
//!   and [testing your retry policy](https://github.com/redress-rs/redress/blob/main/docs/testing.md).
//! - [Semantics](https://github.com/redress-rs/redress/blob/main/docs/semantics.md):
//!   the exact decision order, and where this crate differs from Python
//!   redress 1.4.2.
//! - The [README](https://github.com/redress-rs/redress#readme) and the
//!   [runnable examples](https://github.com/redress-rs/redress/tree/main/examples/examples).
//!
//! # Crates and features
//!
//! `redress` re-exports the workspace's crates behind features:
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sync` | yes | the blocking runner (`redress-sync`): [`BlockingPolicy`] (`policy.call`, `policy.execute`) and [`retry`] |
//! | `tokio` | no | the tokio runner (`redress-tokio`): [`AsyncPolicy`] (`policy.call_async`, `policy.execute_async`) runs on tokio, [`retry_async`], module [`tokio`] |
//! | `async-std` | no | the async-std runner (`redress-async-std`, discontinued upstream): the same on async-std, module [`async_std`] |
//! | `std` | via `sync` | `std::io::Error` classification, [`SystemClock`], [`ThreadSleeper`] |
//! | `alloc` | via `std` | `Arc`-shared custom strategies, owned schedules, timelines, awaiting a [`Retry`] |
//! | `coarse-clock` | no | `CoarseClock`: the monotonic clock at the kernel's tick, several times cheaper to read than [`SystemClock`], for call sites that opt in with `.clock(CoarseClock)` |
//! | `serde` | no | `Serialize`/`Deserialize` for classes, stop reasons, event kinds |
//! | `testing` | no | the testing kit, module [`testing`]: virtual time, deterministic strategies, scripted operations, a fake breaker, trace assertions |
//! | `config` | no | module [`config`]: policies as TOML/JSON data, loading with located errors, building, writing out, and the `redress doctor` lints as a library call |
//! | `metrics` | no | module [`metrics`]: events, calls, attempts, delays and breaker state through the `metrics` facade, named for Prometheus |
//! | `tracing` | no | a `tracing` span per call (`redress.call`, with the operation) and an event per retry, stop and breaker transition, at DEBUG/INFO/WARN (see [`call_span`]) |
//! | `http` | no | module [`http`]: HTTP statuses to classes (one table), `Retry-After` in seconds and as an HTTP-date, a result classifier for `http::Response` (`redress-http`) |
//! | `reqwest` | no | module [`reqwest`]: classifiers for `reqwest::Error` and `reqwest::Response`, `error_for_status_with_hint` (`redress-reqwest`; no TLS: enable it in your own reqwest dependency) |
//! | `reqwest-blocking` | no | the same for `reqwest::blocking` |
//! | `reqwest-middleware` | no | `redress::reqwest::RedressMiddleware`: every request of a `reqwest_middleware` client under a policy, on tokio |
//! | `tower` | no | module [`tower`]: `RedressLayer`, a tower `Layer` that runs any service under a policy (hyper-util clients, axum routers and routes), on tokio (`redress-tower`) |
//! | `tonic` | no | module [`tonic`]: gRPC status codes to classes (one table), `RetryInfo` and `grpc-retry-pushback-ms` as the delay, `unary(..)` to retry a unary call in one line (`redress-tonic`; no transport: bring your channel) |
//! | `postgres` | no | module [`postgres`]: SQLSTATEs to classes (one table), the classifier for `tokio_postgres` errors, `transaction(..)` that retries whole transactions (`redress-postgres`; no TLS) |
//! | `postgres-blocking` | no | `postgres::blocking`: the same helper for the blocking `postgres` client |
//! | `sqlx` | no | the classifier for `sqlx::Error` in module [`postgres`] (sqlx 0.9 needs Rust 1.94) |
//! | `redis` | no | module [`redis`]: fleet-wide circuit breakers and retry budgets shared through Redis, no Redis on the hot path (`redress-redis`; redis-rs 1.x needs Rust 1.88); with `config`, the resolver for `store = "redis://..."` declarations |
//!
//! On docs.rs every feature is enabled; in a build without one, the links
//! above to what it adds lead to docs.rs.
//!
//! With `default-features = false` (and no `std`) the engine works on
//! `no_std` targets without an allocator; drive [`Execution`] from your own
//! runner.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85. Raising it is a minor-version change.
//!
//! <!-- Link targets for what a feature adds, when it is off in this build. -->

// Without a feature, what it adds is not in this build: its links lead to
// docs.rs, where every feature is enabled.
#![cfg_attr(
    not(any(feature = "tokio", feature = "async-std")),
    doc = "[`retry_async`]: https://docs.rs/redress/latest/redress/fn.retry_async.html"
)]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "[`tokio`]: https://docs.rs/redress/latest/redress/tokio/index.html"
)]
#![cfg_attr(
    not(feature = "async-std"),
    doc = "[`async_std`]: https://docs.rs/redress/latest/redress/async_std/index.html"
)]
#![cfg_attr(
    not(feature = "testing"),
    doc = "[`testing`]: https://docs.rs/redress/latest/redress/testing/index.html"
)]
#![cfg_attr(
    not(feature = "config"),
    doc = "[`config`]: https://docs.rs/redress/latest/redress/config/index.html"
)]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "[`metrics`]: https://docs.rs/redress/latest/redress/metrics/index.html"
)]
#![cfg_attr(
    not(feature = "tracing"),
    doc = "[`call_span`]: https://docs.rs/redress/latest/redress/fn.call_span.html"
)]
#![cfg_attr(
    not(feature = "http"),
    doc = "[`http`]: https://docs.rs/redress/latest/redress/http/index.html"
)]
#![cfg_attr(
    not(feature = "reqwest"),
    doc = "[`reqwest`]: https://docs.rs/redress/latest/redress/reqwest/index.html"
)]
#![cfg_attr(
    not(feature = "tower"),
    doc = "[`tower`]: https://docs.rs/redress/latest/redress/tower/index.html"
)]
#![cfg_attr(
    not(feature = "tonic"),
    doc = "[`tonic`]: https://docs.rs/redress/latest/redress/tonic/index.html"
)]
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlx")),
    doc = "[`postgres`]: https://docs.rs/redress/latest/redress/postgres/index.html"
)]
#![cfg_attr(
    not(feature = "redis"),
    doc = "[`redis`]: https://docs.rs/redress/latest/redress/redis/index.html"
)]
#![cfg_attr(
    not(feature = "sync"),
    doc = "[`BlockingPolicy`]: https://docs.rs/redress/latest/redress/trait.BlockingPolicy.html"
)]
#![cfg_attr(
    not(feature = "sync"),
    doc = "[`retry`]: https://docs.rs/redress/latest/redress/fn.retry.html"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "[`SystemClock`]: https://docs.rs/redress/latest/redress/struct.SystemClock.html"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "[`ThreadSleeper`]: https://docs.rs/redress/latest/redress/struct.ThreadSleeper.html"
)]
#![cfg_attr(
    not(feature = "sync"),
    doc = "[BlockingPolicy::call]: https://docs.rs/redress/latest/redress/trait.BlockingPolicy.html#method.call"
)]
#![cfg_attr(
    not(feature = "sync"),
    doc = "[BlockingPolicy::execute]: https://docs.rs/redress/latest/redress/trait.BlockingPolicy.html#method.execute"
)]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;

#[doc(inline)]
pub use redress_core::*;

#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
#[doc(inline)]
pub use redress_sync::{BlockingPolicy, quick_policy, retry};

pub mod retry_ext;
mod runtime;

#[doc(inline)]
pub use retry_ext::{IntoCallSite, Retry, RetryExt};
#[cfg(any(feature = "tokio", feature = "async-std"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "tokio", feature = "async-std"))))]
pub use runtime::retry_async;
pub use runtime::{
    AsyncPolicy, DEFAULT_RUNTIME, DefaultRuntime,
    PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock,
};
#[cfg(all(feature = "tokio", feature = "async-std"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tokio", feature = "async-std"))))]
pub use runtime::{EitherRuntime, EitherSleep};

/// The tokio runner (`redress-tokio`): its sleeper, clock, and free
/// functions.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio {
    #[doc(inline)]
    pub use redress_tokio::*;
}

/// The async-std runner (`redress-async-std`): its sleeper and free
/// functions.
#[cfg(feature = "async-std")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-std")))]
pub mod async_std {
    #[doc(inline)]
    pub use redress_async_std::*;
}

/// The testing kit (`redress-testing`): virtual time, deterministic
/// strategies, scripted operations, a fake circuit breaker and trace
/// assertions. See `docs/testing.md`.
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing {
    #[doc(inline)]
    pub use redress_testing::*;
}

/// Policies as data (`redress-config`): load TOML or JSON configs with
/// located errors, build policies from them, write them back out, and lint
/// them (the rules of `redress doctor`). See `docs/doctor.md`.
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub mod config {
    #[doc(inline)]
    pub use redress_config::*;
}

/// Metrics through the `metrics` facade (`redress-metrics`). See
/// `docs/observability.md`.
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics {
    #[doc(inline)]
    pub use redress_metrics::*;
}

/// HTTP (`redress-http`): the status table, `Retry-After` parsing and a
/// result classifier for `http::Response`. See `docs/http.md`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use redress::ErrorClass;
/// use redress::http::parse_retry_after;
///
/// assert_eq!(parse_retry_after(b"120", SystemTime::now()), Some(Duration::from_secs(120)));
/// assert_eq!(redress::class_for_status(503), Some(ErrorClass::ServerError));
/// ```
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http {
    #[doc(inline)]
    pub use redress_http::*;
}

/// reqwest (`redress-reqwest`): classifiers for its errors and responses
/// that keep the `Retry-After` hint. See `docs/http.md`.
///
/// ```
/// use std::time::Duration;
/// use redress::backoff::{decorrelated_jitter, retry_after_or};
/// use redress::prelude::*;
///
/// let policy = Policy::builder()
///     .classifier(redress::reqwest::classifier())
///     .result_classifier(redress::reqwest::response_classifier())
///     .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
///     .class_strategy(ErrorClass::RateLimit, retry_after_or(decorrelated_jitter().max(Duration::from_secs(30))))
///     .build()?;
/// # Ok::<(), redress::ConfigError>(())
/// ```
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod reqwest {
    #[doc(inline)]
    pub use redress_reqwest::*;
}

/// tower (`redress-tower`): [`RedressLayer`](tower::RedressLayer), a
/// `Layer` that runs any tower service under a policy, polling it ready
/// before every attempt. See `docs/http.md`.
///
/// ```
/// use std::time::Duration;
/// use redress::backoff::constant;
/// use redress::prelude::*;
/// use redress::tower::RedressLayer;
///
/// let policy = Policy::builder()
///     .classifier(redress::tower::classifier())
///     .result_classifier(redress::http::response_classifier())
///     .strategy(constant(Duration::from_millis(50)))
///     .build()?;
/// let layer = RedressLayer::new(policy).operation("upstream");
/// # let _ = layer;
/// # Ok::<(), redress::ConfigError>(())
/// ```
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower {
    #[doc(inline)]
    pub use redress_tower::*;
}

/// gRPC with tonic (`redress-tonic`): status codes to classes (one
/// table), the server's `RetryInfo` and pushback hints, and retried unary
/// calls. See `docs/grpc.md`.
///
/// ```
/// use std::time::Duration;
/// use redress::backoff::{decorrelated_jitter, retry_after_or};
/// use redress::prelude::*;
///
/// let policy = Policy::builder()
///     .classifier(redress::tonic::classifier())
///     .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
///     .class_strategy(ErrorClass::RateLimit, retry_after_or(decorrelated_jitter().max(Duration::from_secs(30))))
///     .build()?;
/// // redress::tonic::unary(&policy, &client, &request, async |mut c, r| c.say_hello(r).await).await?;
/// # Ok::<(), redress::ConfigError>(())
/// ```
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic {
    #[doc(inline)]
    pub use redress_tonic::*;
}

/// PostgreSQL (`redress-postgres`): the SQLSTATE table, classifiers for
/// `tokio_postgres`, `postgres` and `sqlx` errors, and helpers that retry
/// whole transactions. See `docs/databases.md`.
///
/// ```
/// use redress::ErrorClass;
/// use redress::postgres::sqlstate_class;
///
/// assert_eq!(sqlstate_class("40001"), ErrorClass::Concurrency);
/// assert_eq!(sqlstate_class("53300"), ErrorClass::RateLimit);
/// ```
#[cfg(any(feature = "postgres", feature = "sqlx"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "postgres", feature = "sqlx"))))]
pub mod postgres {
    #[doc(inline)]
    pub use redress_postgres::*;
}

/// Fleet-wide circuit breakers and retry budgets, shared through Redis
/// (`redress-redis`): each process keeps the local lock-free breaker as its
/// fast path and syncs with Redis in the background. See `docs/fleet.md`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use redress::Policy;
/// use redress::redis::{FleetBreaker, FleetStore};
///
/// // Building connects to nothing: the background sync does.
/// let store = FleetStore::builder("redis://127.0.0.1:6379").build()?;
/// let breaker = Arc::new(FleetBreaker::builder("payments").build(&store)?);
/// let policy = Policy::quick().circuit_breaker(breaker).build()?;
/// # let _ = policy;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis {
    #[doc(inline)]
    pub use redress_redis::*;
}

/// The traits and types most call sites need: `use redress::prelude::*;`.
pub mod prelude {
    pub use crate::AsyncPolicy;
    #[cfg(feature = "sync")]
    pub use crate::BlockingPolicy;
    pub use crate::{
        Classification, ErrorClass, Event, EventKind, Outcome, Policy, RetryError, RetryExt,
        StopReason,
    };
}

/// Every code snippet of the repository README, compiled and run as a
/// doctest.
#[cfg(all(doctest, feature = "sync"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The snippets of `docs/getting-started.md`, compiled and run as doctests.
#[cfg(all(doctest, feature = "sync"))]
#[doc = include_str!("../../../docs/getting-started.md")]
pub struct GettingStartedDoctests;

/// The snippets of `docs/concepts.md`, compiled and run as doctests.
#[cfg(all(doctest, feature = "sync"))]
#[doc = include_str!("../../../docs/concepts.md")]
pub struct ConceptsDoctests;

/// The snippets of `docs/resilience.md`, compiled and run as doctests.
#[cfg(all(doctest, feature = "sync"))]
#[doc = include_str!("../../../docs/resilience.md")]
pub struct ResilienceDoctests;

/// The snippets of `docs/semantics.md`, compiled and run as doctests.
#[cfg(all(doctest, feature = "sync"))]
#[doc = include_str!("../../../docs/semantics.md")]
pub struct SemanticsDoctests;

/// The snippets of `docs/doctor.md`, compiled and run as doctests.
#[cfg(all(doctest, feature = "sync", feature = "config"))]
#[doc = include_str!("../../../docs/doctor.md")]
pub struct DoctorDoctests;

/// The snippets of `docs/runtimes.md`, compiled and run as doctests.
#[cfg(all(doctest, feature = "sync"))]
#[doc = include_str!("../../../docs/runtimes.md")]
pub struct RuntimesDoctests;

/// The snippets of `docs/testing.md`, compiled and run as doctests.
#[cfg(all(doctest, feature = "sync", feature = "testing"))]
#[doc = include_str!("../../../docs/testing.md")]
pub struct TestingDoctests;

/// The snippets of `docs/observability.md`, compiled and run as doctests.
#[cfg(all(doctest, feature = "sync", feature = "metrics"))]
#[doc = include_str!("../../../docs/observability.md")]
pub struct ObservabilityDoctests;
