//! The async-std runner of [redress](https://docs.rs/redress).
//!
//! async-std is discontinued (RUSTSEC-2025-0052) but still has users. This
//! crate is a thin adapter: [`AsyncStdSleeper`] (async-std's timers) and the
//! [`SystemClock`] plug into the runtime-agnostic async runner of
//! `redress-core` ([`execute_async`](redress_core::execute_async)); [`call`], [`execute`] and [`retry`]
//! run a call site with them. Cancellation and attempt timeouts behave as in
//! every async runner: dropping the future cancels the call and releases a
//! breaker probe; an attempt that overruns `attempt_timeout` is dropped and
//! counts as `TRANSIENT`.
//!
//! ```
//! use std::time::Duration;
//! use redress_core::{backoff::constant, ErrorClass, Policy};
//!
//! # async_std::task::block_on(async {
//! let policy = Policy::builder()
//!     .classifier(|_: &std::io::Error| ErrorClass::Transient)
//!     .strategy(constant(Duration::from_millis(1)))
//!     .build()?;
//! let mut tries = 0;
//! let value = redress_async_std::call(&policy.bind(), || {
//!     tries += 1;
//!     let attempt = tries;
//!     async move { if attempt < 2 { Err(std::io::Error::other("flaky")) } else { Ok(attempt) } }
//! })
//! .await?;
//! assert_eq!(value, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use redress_core::{
    AsyncHooks, AsyncSleeper, Bound, Classifier, Clock, Hooks, Outcome, Policy, ResultClassifier,
    RetryError, Slot, SystemClock, call_on, execute_on,
};

/// Sleeps with async-std's timers (async-io's `Timer`, which async-std's
/// own `task::sleep` uses).
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStdSleeper;

/// The future [`AsyncStdSleeper`] returns.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Sleep(async_io::Timer);

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl AsyncSleeper for AsyncStdSleeper {
    type Sleep = Sleep;

    #[inline]
    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep(async_io::Timer::after(duration))
    }
}

/// Runs `operation` at the call site on async-std and returns the whole
/// [`Outcome`]. The call site's sleeper and clock default to
/// [`AsyncStdSleeper`] and the [`SystemClock`].
pub async fn execute<C, R, H, S, K, A, T, E, F, Fut>(
    site: &Bound<'_, C, R, H, S, K, A>,
    operation: F,
) -> Outcome<T, E>
where
    C: Classifier<E>,
    R: ResultClassifier<T>,
    H: Hooks,
    A: AsyncHooks,
    S: Slot<AsyncStdSleeper, Value: AsyncSleeper>,
    K: Slot<SystemClock, Value: Clock>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    execute_on(site, &AsyncStdSleeper, &SystemClock, operation).await
}

/// Runs `operation` at the call site on async-std; returns the value, or a
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
    S: Slot<AsyncStdSleeper, Value: AsyncSleeper>,
    K: Slot<SystemClock, Value: Clock>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    call_on(site, &AsyncStdSleeper, &SystemClock, operation).await
}

/// Retries `operation` with the one-line defaults ([`Policy::default`]).
pub async fn retry<T, E, F, Fut>(operation: F) -> Result<T, RetryError<E, T>>
where
    E: std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    call(&Policy::shared_default().bind(), operation).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sleeper_waits_about_as_long_as_asked() {
        async_std::task::block_on(async {
            let start = std::time::Instant::now();
            AsyncStdSleeper.sleep(Duration::from_millis(20)).await;
            let waited = start.elapsed();
            assert!(waited >= Duration::from_millis(20), "{waited:?}");
        });
    }
}
