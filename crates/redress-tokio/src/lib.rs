//! The tokio runner of [redress](https://docs.rs/redress).
//!
//! A thin adapter: [`TokioSleeper`] and [`TokioClock`] plug `tokio::time`
//! into the runtime-agnostic async runner of `redress-core`
//! ([`execute_async`](redress_core::execute_async)), and [`call`], [`execute`] and [`retry`] run a call
//! site with them. Every decision is the engine's, so a policy behaves the
//! same here as in the blocking runner.
//!
//! ```
//! use std::time::Duration;
//! use redress_core::{backoff::constant, ErrorClass, Policy};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::builder()
//!     .classifier(|_: &std::io::Error| ErrorClass::Transient)
//!     .strategy(constant(Duration::from_secs(1)))
//!     .build()?;
//!
//! let mut tries = 0;
//! let value = redress_tokio::call(&policy.bind(), || {
//!     tries += 1;
//!     let attempt = tries;
//!     async move {
//!         if attempt < 3 { Err(std::io::Error::other("flaky")) } else { Ok(attempt) }
//!     }
//! })
//! .await?;
//! assert_eq!(value, 3);
//! # Ok(())
//! # }
//! ```
//!
//! # Time
//!
//! Sleeps use `tokio::time::sleep` and time is read from
//! `tokio::time::Instant`, so `#[tokio::test(start_paused = true)]` runs a
//! 60-second envelope in microseconds, deterministically.
//!
//! # Cancellation and timeouts
//!
//! Dropping the returned future (for example in a `select!`, or with
//! `tokio::time::timeout`) cancels the call at once: the attempt's future is
//! dropped and a half-open breaker probe is released. With a policy
//! `attempt_timeout`, an attempt that overruns is dropped and counts as a
//! `TRANSIENT` failure; the deadline still bounds the whole call.
//!
//! # `Send`
//!
//! The future is `Send` when the operation's futures are and the call
//! site's hooks are `Sync`, so it can be `tokio::spawn`ed. It holds no box:
//! measured on x86-64, a call is about 1 KB plus the operation's future
//! (the engine's per-call state and one tokio `Sleep`, which is 112 bytes;
//! a test guards the size).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::future::Future;
use std::time::Duration;

use redress_core::{
    AsyncHooks, AsyncSleeper, Bound, Classifier, Clock, Hooks, Outcome, Policy, ResultClassifier,
    RetryError, Slot, SystemClock, call_on, execute_on,
};

/// Sleeps with `tokio::time::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

impl TokioSleeper {
    /// Whether the current thread runs inside a tokio runtime, where
    /// `tokio::time::sleep` works (outside one it panics). Code that can
    /// run on more than one runtime checks this before choosing a sleeper.
    ///
    /// ```
    /// use redress_tokio::TokioSleeper;
    ///
    /// assert!(!TokioSleeper::runtime_available());
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    /// runtime.block_on(async { assert!(TokioSleeper::runtime_available()) });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn runtime_available() -> bool {
        tokio::runtime::Handle::try_current().is_ok()
    }
}

impl AsyncSleeper for TokioSleeper {
    type Sleep = tokio::time::Sleep;

    #[inline]
    fn sleep(&self, duration: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(duration)
    }
}

/// Reads `tokio::time::Instant`, so paused test time is followed.
///
/// Readings share the [`SystemClock`]'s epoch: a breaker or budget can be
/// shared between tokio and blocking calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    #[inline]
    fn now(&self) -> Duration {
        SystemClock::since_epoch(tokio::time::Instant::now().into_std())
    }
}

/// Runs `operation` at the call site on tokio and returns the whole
/// [`Outcome`].
///
/// The call site's sleeper and clock default to [`TokioSleeper`] and
/// [`TokioClock`].
pub async fn execute<C, R, H, S, K, A, T, E, F, Fut>(
    site: &Bound<'_, C, R, H, S, K, A>,
    operation: F,
) -> Outcome<T, E>
where
    C: Classifier<E>,
    R: ResultClassifier<T>,
    H: Hooks,
    A: AsyncHooks,
    S: Slot<TokioSleeper, Value: AsyncSleeper>,
    K: Slot<TokioClock, Value: Clock>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    execute_on(site, &TokioSleeper, &TokioClock, operation).await
}

/// Runs `operation` at the call site on tokio; returns the value, or a
/// [`RetryError`] with the stop reason and the last error or flagged value.
pub async fn call<C, R, H, S, K, A, T, E, F, Fut>(
    site: &Bound<'_, C, R, H, S, K, A>,
    operation: F,
) -> Result<T, RetryError<E, T>>
where
    C: Classifier<E>,
    R: ResultClassifier<T>,
    H: Hooks,
    A: AsyncHooks,
    S: Slot<TokioSleeper, Value: AsyncSleeper>,
    K: Slot<TokioClock, Value: Clock>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    call_on(site, &TokioSleeper, &TokioClock, operation).await
}

/// Retries `operation` with the one-line defaults ([`Policy::default`]: the
/// default classifier, decorrelated jitter capped at 5 s, a 60 s deadline
/// and 6 attempts).
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut tries = 0;
/// let n = redress_tokio::retry(|| {
///     tries += 1;
///     let attempt = tries;
///     async move {
///         if attempt == 1 {
///             Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
///         } else {
///             Ok(attempt)
///         }
///     }
/// })
/// .await?;
/// assert_eq!(n, 2);
/// # Ok(())
/// # }
/// ```
pub async fn retry<T, E, F, Fut>(operation: F) -> Result<T, RetryError<E, T>>
where
    E: std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    call(&Policy::shared_default().bind(), operation).await
}
