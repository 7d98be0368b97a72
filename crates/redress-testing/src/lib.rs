//! The testing kit of [redress]: test retry policies instantly and
//! deterministically, and assert on what they did.
//!
//! A retry policy is code with timing in it: backoff delays, deadlines,
//! attempt caps, a circuit breaker's recovery timeout. Testing it against
//! the wall clock makes tests slow and flaky. redress's engine never reads
//! a clock nor sleeps by itself, so a test can run the *real* engine and
//! runner on virtual time:
//!
//! | piece | what it does |
//! |---|---|
//! | [`instant_sleeper`] | a sleeper (blocking and async) that advances a [`ManualClock`] instead of waiting |
//! | [`DeterministicStrategy`] | returns the delays you give it and records every [`BackoffContext`](redress_core::BackoffContext) it is asked with |
//! | [`instant_retries`], [`no_retries`] | a zero-delay strategy; a single-attempt policy builder |
//! | [`ScriptedOperation`] | fails with these classes (with retry-after hints, flagged values, hangs), then succeeds; counts invocations; can take time on the clock |
//! | [`FakeBreaker`] | a circuit breaker with scripted decisions that records every call |
//! | [`TraceRecorder`], [`RecordingPolicy`] | hooks that record every event, split into calls |
//! | [`assert_events!`], [`assert_stop_reason!`], [`assert_success`] | assertions with readable failure messages |
//!
//! ```
//! use std::time::Duration;
//! use redress_core::{backoff::constant, ErrorClass, ManualClock, Policy};
//! use redress_sync::BlockingPolicy;
//! use redress_testing::{
//!     assert_events, instant_sleeper, ScriptedClassifier, ScriptedOperation, TraceRecorder,
//! };
//!
//! let policy = Policy::builder()
//!     .classifier(ScriptedClassifier)
//!     .strategy(constant(Duration::from_secs(5)))
//!     .build()?;
//!
//! let clock = ManualClock::new();
//! let recorder = TraceRecorder::new();
//! let site = policy
//!     .bind()
//!     .clock(&clock)
//!     .sleeper(instant_sleeper(&clock))
//!     .hooks(recorder.clone());
//!
//! let op = ScriptedOperation::new()
//!     .fail(ErrorClass::Transient)
//!     .fail(ErrorClass::Transient)
//!     .succeed("ok");
//! assert_eq!(site.call(|| op.call()).unwrap(), "ok");
//!
//! assert_events!(recorder, [Retry, Retry, Success]);
//! assert_eq!(clock.now(), Duration::from_secs(10)); // two 5 s sleeps, instantly
//! # Ok::<(), redress_core::ConfigError>(())
//! ```
//!
//! Through the facade this crate is `redress::testing` (feature
//! `testing`). The guide "testing your retry policy" (`docs/testing.md`)
//! walks through it, async code and tokio's paused time included.
//!
//! # Async code
//!
//! [`InstantSleeper`] is also an [`AsyncSleeper`](redress_core::AsyncSleeper)
//! and [`ScriptedOperation::call_async`] returns a ready future, so an async
//! call on virtual time completes on its first poll, on any executor. With
//! the tokio runner, `#[tokio::test(start_paused = true)]` is the other way:
//! the runner reads tokio's clock, which then jumps over every sleep.
//!
//! [redress]: https://docs.rs/redress

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod breaker;
mod scripted;
mod strategy;
mod time;
mod trace;

pub use breaker::{BreakerDecision, BreakerRecord, FakeBreaker};
pub use redress_core::ManualClock;
pub use scripted::{ScriptedClassifier, ScriptedError, ScriptedFuture, ScriptedOperation, Step};
pub use strategy::{DeterministicStrategy, RecordedContext, instant_retries, no_retries};
pub use time::{InstantSleep, InstantSleeper, instant_sleeper};
pub use trace::{
    AsTrace, RecordedEvent, RecordingPolicy, Trace, TraceRecorder, assert_events,
    assert_stop_reason, assert_success,
};

/// Asserts the kinds of the events of a trace, a recorder, a recording
/// policy, a timeline or an outcome (see [`AsTrace`]), naming the
/// [`EventKind`](redress_core::EventKind) variants:
///
/// ```
/// # use redress_core::Policy;
/// # use redress_sync::BlockingPolicy;
/// # use redress_testing::{assert_events, instant_retries, TraceRecorder};
/// # let policy = Policy::builder().strategy(instant_retries()).build()?;
/// let recorder = TraceRecorder::new();
/// policy.bind().hooks(recorder.clone()).call(|| Ok::<_, std::io::Error>(()))?;
/// assert_events!(recorder, [Success]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// It is [`assert_events`](fn@crate::assert_events) with the names spelled short.
#[macro_export]
macro_rules! assert_events {
    ($trace:expr, [$($kind:ident),* $(,)?] $(,)?) => {
        $crate::assert_events(
            &$trace,
            &[$($crate::__private::EventKind::$kind),*],
        )
    };
}

/// Asserts why the (last) call stopped, naming the
/// [`StopReason`](redress_core::StopReason) variant:
///
/// ```
/// # use redress_core::{ErrorClass, Policy};
/// # use redress_sync::BlockingPolicy;
/// # use redress_testing::{assert_stop_reason, no_retries};
/// let policy = no_retries().classifier(|_: &&str| ErrorClass::Transient).build()?;
/// let outcome = policy.bind().capture_timeline().execute(|| Err::<(), _>("down"));
/// assert_stop_reason!(outcome, MaxAttemptsGlobal);
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
///
/// It is [`assert_stop_reason`](fn@crate::assert_stop_reason) with the name
/// spelled short.
#[macro_export]
macro_rules! assert_stop_reason {
    ($trace:expr, $reason:ident $(,)?) => {
        $crate::assert_stop_reason(&$trace, $crate::__private::StopReason::$reason)
    };
}

#[doc(hidden)]
pub mod __private {
    pub use redress_core::{EventKind, StopReason};
}
