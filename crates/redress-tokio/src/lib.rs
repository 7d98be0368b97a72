//! The tokio runner of [redress](https://docs.rs/redress).
//!
//! A thin adapter: [`Tokio`] is tokio's timer and clock as redress's async
//! runner needs them, and [`AsyncPolicy`] adds `call_async`,
//! `execute_async` and their `_with` forms to every policy and call site,
//! running on tokio. The loop itself and every decision are
//! `redress-core`'s, so a policy behaves the same here as in the blocking
//! runner. (Through the facade, `redress::AsyncPolicy` is the same
//! methods.)
//!
//! ```
//! use std::time::Duration;
//! use redress_core::{backoff::constant, ErrorClass, Policy};
//! use redress_tokio::AsyncPolicy;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::builder()
//!     .classifier(|_: &std::io::Error| ErrorClass::Transient)
//!     .strategy(constant(Duration::from_secs(1)))
//!     .build()?;
//!
//! let mut tries = 0;
//! let value = policy
//!     .call_async(|| {
//!         tries += 1;
//!         let attempt = tries;
//!         async move {
//!             if attempt < 3 { Err(std::io::Error::other("flaky")) } else { Ok(attempt) }
//!         }
//!     })
//!     .await?;
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
//! # Cancellation and time limits
//!
//! Dropping the returned future (for example in a `select!`, or with
//! `tokio::time::timeout`) cancels the call at once: the attempt's future is
//! dropped, a half-open breaker probe is released, and the call ends as
//! cancelled. Each attempt runs under its time limit (the policy's
//! `attempt_timeout`, never past the deadline): one that overruns the
//! attempt timeout is dropped and counts as a `TRANSIENT` failure, one that
//! reaches the deadline ends the call with `DEADLINE_EXCEEDED`, so a call
//! never outlives its deadline.
//!
//! # `Send`
//!
//! The future is `Send` when the operation's futures are and the call
//! site's hooks are `Sync`, so it can be `tokio::spawn`ed. It holds no box;
//! a test guards its size.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::time::Duration;

use redress_core::{AsyncSleeper, Clock, Policy, RetryError, SystemClock};

/// tokio's timer and clock: sleeps with `tokio::time::sleep`, reads
/// `tokio::time::Instant` (so paused test time is followed).
///
/// Readings share the [`SystemClock`]'s epoch: a breaker or budget can be
/// shared between tokio and blocking calls. A call site can use it as its
/// own sleeper or clock too (`.sleeper(Tokio)`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokio;

impl Tokio {
    /// Whether the current thread runs inside a tokio runtime, where
    /// `tokio::time::sleep` works (outside one it panics). Code that can
    /// run on more than one runtime checks this before choosing a sleeper.
    ///
    /// ```
    /// use redress_tokio::Tokio;
    ///
    /// assert!(!Tokio::runtime_available());
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    /// runtime.block_on(async { assert!(Tokio::runtime_available()) });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn runtime_available() -> bool {
        tokio::runtime::Handle::try_current().is_ok()
    }
}

impl AsyncSleeper for Tokio {
    type Sleep = tokio::time::Sleep;

    #[inline]
    fn sleep(&self, duration: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(duration)
    }
}

impl Clock for Tokio {
    #[inline]
    fn now(&self) -> Duration {
        SystemClock::since_epoch(tokio::time::Instant::now().into_std())
    }
}

redress_core::async_policy! {
    /// Runs operations under a policy on tokio: `call_async`,
    /// `execute_async` and their `_with` forms, on every [`Policy`] and
    /// [`Bound`](redress_core::Bound) call site. A call site's own
    /// `.sleeper(..)` and `.clock(..)` replace [`Tokio`]'s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redress_core::{backoff::constant, ErrorClass, Policy};
    /// use redress_tokio::AsyncPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let policy = Policy::builder()
    ///     .classifier(|_: &std::io::Error| ErrorClass::Transient)
    ///     .strategy(constant(Duration::from_secs(1)))
    ///     .attempt_timeout(Duration::from_secs(2))
    ///     .build()?;
    /// let outcome = policy
    ///     .bind()
    ///     .operation("fetch")
    ///     .execute_async_with(|attempt| async move {
    ///         // Each attempt knows its number and time limit.
    ///         Ok::<_, std::io::Error>((attempt.number, attempt.time_limit()))
    ///     })
    ///     .await;
    /// assert_eq!(outcome.result.ok(), Some((1, Duration::from_secs(2))));
    /// # Ok(())
    /// # }
    /// ```
    pub trait AsyncPolicy on Tokio = Tokio
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
    Fut: std::future::Future<Output = Result<T, E>>,
{
    Policy::shared_default().call_async(operation).await
}
