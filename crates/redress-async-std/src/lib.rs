//! The async-std runner of [redress](https://docs.rs/redress).
//!
//! async-std is discontinued (RUSTSEC-2025-0052) but still has users. This
//! crate is a thin adapter: [`AsyncStd`] is async-std's timers and the
//! system clock as redress's async runner needs them, and [`AsyncPolicy`]
//! adds `call_async`, `execute_async` and their `_with` forms to every
//! policy and call site, running on async-std. Cancellation and time
//! limits behave as in every async runner: dropping the future cancels the
//! call and releases a breaker probe; an attempt that overruns
//! `attempt_timeout` is dropped and counts as `TRANSIENT`, and one that
//! reaches the deadline ends the call with `DEADLINE_EXCEEDED`.
//!
//! ```
//! use std::time::Duration;
//! use redress_core::{backoff::constant, ErrorClass, Policy};
//! use redress_async_std::AsyncPolicy;
//!
//! # async_std::task::block_on(async {
//! let policy = Policy::builder()
//!     .classifier(|_: &std::io::Error| ErrorClass::Transient)
//!     .strategy(constant(Duration::from_millis(1)))
//!     .build()?;
//! let mut tries = 0;
//! let value = policy
//!     .call_async(|| {
//!         tries += 1;
//!         let attempt = tries;
//!         async move { if attempt < 2 { Err(std::io::Error::other("flaky")) } else { Ok(attempt) } }
//!     })
//!     .await?;
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

use redress_core::{AsyncSleeper, Clock, Policy, RetryError, SystemClock};

/// async-std's timers (async-io's `Timer`, which async-std's own
/// `task::sleep` uses) and the [`SystemClock`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStd;

/// The future [`AsyncStd`]'s sleep returns.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Sleep(async_io::Timer);

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl AsyncSleeper for AsyncStd {
    type Sleep = Sleep;

    #[inline]
    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep(async_io::Timer::after(duration))
    }
}

impl Clock for AsyncStd {
    #[inline]
    fn now(&self) -> Duration {
        SystemClock.now()
    }
}

redress_core::async_policy! {
    /// Runs operations under a policy on async-std: `call_async`,
    /// `execute_async` and their `_with` forms, on every [`Policy`] and
    /// [`Bound`](redress_core::Bound) call site. A call site's own
    /// `.sleeper(..)` and `.clock(..)` replace [`AsyncStd`]'s.
    pub trait AsyncPolicy on AsyncStd = AsyncStd
}

/// Retries `operation` with the one-line defaults ([`Policy::default`]).
pub async fn retry<T, E, F, Fut>(operation: F) -> Result<T, RetryError<E, T>>
where
    E: std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    Policy::shared_default().call_async(operation).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sleeper_waits_about_as_long_as_asked() {
        async_std::task::block_on(async {
            let start = std::time::Instant::now();
            AsyncStd.sleep(Duration::from_millis(20)).await;
            let waited = start.elapsed();
            assert!(waited >= Duration::from_millis(20), "{waited:?}");
        });
    }
}
