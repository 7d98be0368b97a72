//! Classifier-driven retries for Rust services.
//!
//! Every failure is classified into a small, fixed set of [`ErrorClass`]es
//! (rate limit, server error, transient, concurrency, permanent, auth,
//! permission, unknown); each class gets its own [backoff](backoff) and caps;
//! every call runs inside a deterministic envelope (deadline, attempt caps)
//! and reports each decision as a structured [`Event`].
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
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The README (repository root) walks through every feature; `docs/` holds
//! the concepts and the exact semantics.
//!
//! # Crates and features
//!
//! `redress` re-exports the workspace's crates behind features:
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sync` | yes | the blocking runner (`redress-sync`): [`BlockingPolicy`] (`policy.call`, `policy.execute`) and [`retry`] |
//! | `std` | via `sync` | `std::io::Error` classification, [`SystemClock`], [`ThreadSleeper`] |
//! | `alloc` | via `std` | `Arc`-shared custom strategies, owned schedules, timelines |
//! | `serde` | no | `Serialize`/`Deserialize` for classes, stop reasons, event kinds |
//!
//! With `default-features = false` (and no `std`) the engine works on
//! `no_std` targets without an allocator; drive [`Execution`] from your own
//! runner.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85. Raising it is a minor-version change.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use redress_core::*;

#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
#[doc(inline)]
pub use redress_sync::{BlockingPolicy, ClockSlot, SleeperSlot, quick_policy, retry};

/// The traits and types most call sites need: `use redress::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "sync")]
    pub use crate::BlockingPolicy;
    pub use crate::{
        Classification, ErrorClass, Event, EventKind, Outcome, Policy, RetryError, StopReason,
    };
}

/// Every code snippet of the repository README, compiled and run as a
/// doctest.
#[cfg(all(doctest, feature = "sync"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
