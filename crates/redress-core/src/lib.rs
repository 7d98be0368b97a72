//! The sans-I/O core of [redress]: classifier-driven retries.
//!
//! Every failure is classified into one of eight [`ErrorClass`]es; each class
//! gets its own [backoff strategy](backoff) and caps, inside a deterministic
//! envelope (deadline, attempt caps), and every decision is an [`Event`].
//!
//! This crate holds the decisions and nothing else: the [`Execution`] state
//! machine is fed `now` and attempt results and answers with an [`Action`].
//! It never reads a clock, sleeps, or calls your operation. Runners do:
//! `redress-sync` (blocking) and the async runners, all through the
//! [redress] facade, which is what most users want.
//!
//! ```
//! use core::time::Duration;
//! use redress_core::backoff::constant;
//! use redress_core::{Action, ErrorClass, FastRng, Policy, StopReason};
//!
//! let policy = Policy::builder()
//!     .classifier(|_: &&str| ErrorClass::Transient)
//!     .strategy(constant(Duration::from_millis(100)))
//!     .max_attempts(3)
//!     .build()?;
//!
//! // Drive the engine by hand with a virtual clock: every attempt fails.
//! let bound = policy.bind();
//! let mut now = Duration::ZERO;
//! let mut rng = FastRng::seeded(1);
//! let (mut exec, mut action) = bound.start::<(), &str>(now);
//! let outcome = loop {
//!     action = match action {
//!         Action::Attempt(_) => exec.record(Err("connection reset"), now, &mut rng),
//!         Action::SleepHooks => exec.sleep_decided(exec.pending_sleep().run_hooks_blocking(), now),
//!         Action::Sleep(d) => { now += d; exec.resume(now) }
//!         Action::Done => break exec.finish(),
//!     };
//! };
//! assert_eq!(outcome.stop_reason, Some(StopReason::MaxAttemptsGlobal));
//! assert_eq!(outcome.attempts, 3);
//! assert_eq!(outcome.elapsed, Duration::from_millis(200));
//! # Ok::<(), redress_core::ConfigError>(())
//! ```
//!
//! # Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `std` | yes | `std::io::Error` classification, [`SystemClock`], [`ThreadSleeper`], thread-local RNG seeding; implies `alloc` |
//! | `alloc` | via `std` | `Arc`-shared custom strategies and schedules, marker errors wrapping a source, timelines |
//! | `serde` | no | `Serialize`/`Deserialize` for classes, causes, stop reasons, event kinds, breaker states |
//! | `tracing` | no | a `tracing` span per call and an event per decision, at sensible levels (see [`call_span`]); implies `alloc` |
//!
//! Without features the crate needs neither `std` nor an allocator.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85 (edition 2024). Raising it is a minor-version change.
//!
//! [redress]: https://docs.rs/redress

#![no_std]
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

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod asynchronous;
pub mod backoff;
mod bind;
#[cfg(target_has_atomic = "64")]
pub mod breaker;
#[cfg(target_has_atomic = "64")]
pub mod budget;
mod class;
mod classify;
pub mod engine;
mod event;
mod hooks;
mod outcome;
mod policy;
mod rng;
mod shared;
mod sleep;
mod time;
#[cfg(feature = "alloc")]
mod timeline;
#[cfg(feature = "tracing")]
mod trace;
#[cfg(target_has_atomic = "64")]
mod window;

pub use asynchronous::{
    AsyncBeforeSleep, AsyncDecideSleep, AsyncHooks, AsyncSite, AsyncSleeper, execute_async,
};
pub use backoff::{
    Backoff, BackoffContext, CurveSpec, LocatedProblem, Observation, Strategy, StrategyKind,
    StrategyProblem,
};
pub use bind::{Bound, CallSite};
#[cfg(target_has_atomic = "64")]
pub use breaker::{Breaker, CircuitBreaker};
#[cfg(target_has_atomic = "64")]
pub use budget::{Budget, RatioBudget, RollingBudget};
pub use class::{Cause, Classification, Details, ErrorClass, PerClass, UnknownClassError};
#[allow(deprecated)]
pub use classify::StatusCode;
pub use classify::{
    Classifier, ConcurrencyError, DynErrors, ErrorClassifier, HasStatus, NoResultClassifier,
    PermanentError, RateLimitError, ResultClassifier, ServerError, StatusError, StatusLookup,
    StatusOf, class_for_status, default_classifier, strict_classifier,
};
#[cfg(feature = "std")]
pub use classify::{io_kind_class, io_kind_classification};
pub use engine::{Action, Attempt, Execution, PendingSleep, Report, ToOutcome, ToResult};
pub use event::{CircuitState, Compact, Event, EventKind, FieldValue, LogFields, StopReason, Tags};
pub use hooks::{
    AbortIf, AbortSignal, AttemptDecision, AttemptEnd, AttemptStart, BeforeSleep, CallEnd,
    CallStatus, DecideSleep, Hooks, OnAttemptEnd, OnAttemptStart, OnCallEnd, OnEvent, OnLog,
    OnMetric, SleepDecision,
};
pub use outcome::{Failure, Outcome, RetryError};
pub use policy::{
    Component, ConfigError, Policy, PolicyBuilder, RetryConfig, RetryPolicy, Setting,
};
#[cfg(target_has_atomic = "64")]
pub use policy::{IntoSharedBreaker, IntoSharedBudget};
pub use rand_core::Rng;
pub use rng::FastRng;
pub use shared::Shared;
#[cfg(feature = "std")]
pub use sleep::ThreadSleeper;
pub use sleep::{BlockingSleeper, Custom, Slot};
pub use time::Clock;
#[cfg(feature = "coarse-clock")]
pub use time::CoarseClock;
#[cfg(target_has_atomic = "64")]
pub use time::ManualClock;
#[cfg(feature = "std")]
pub use time::SystemClock;
#[cfg(feature = "alloc")]
pub use timeline::{AttemptRecord, Timeline};
#[cfg(feature = "tracing")]
pub use trace::call_span;

/// Whether calls run in a `tracing` span (the `tracing` feature), which
/// their futures then carry: for tests that pin future sizes exactly.
#[doc(hidden)]
pub const TRACING: bool = cfg!(feature = "tracing");
