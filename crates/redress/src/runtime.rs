//! Async call sites: [`AsyncPolicy`] and the default runtime.

use core::future::Future;

use redress_core::{
    AsyncHooks, AsyncSleeper, Bound, Classifier, Clock, Hooks, Outcome, Policy, ResultClassifier,
    RetryError, Slot, call_on, execute_on,
};

/// The sleeper async call sites use unless given one: tokio's with the
/// `tokio` feature, async-std's with `async-std`, the one of the runtime the
/// call runs on ([`EitherRuntimeSleeper`]) with both, else a marker that
/// makes `call_async` fail to compile with a note naming the fix.
#[cfg(all(feature = "tokio", not(feature = "async-std")))]
pub type DefaultAsyncSleeper = redress_tokio::TokioSleeper;
/// The clock async call sites use unless given one.
#[cfg(feature = "tokio")]
pub type DefaultAsyncClock = redress_tokio::TokioClock;

/// The sleeper async call sites use unless given one.
#[cfg(all(not(feature = "tokio"), feature = "async-std"))]
pub type DefaultAsyncSleeper = redress_async_std::AsyncStdSleeper;
/// The clock async call sites use unless given one.
#[cfg(all(not(feature = "tokio"), feature = "async-std"))]
pub type DefaultAsyncClock = redress_core::SystemClock;

/// The sleeper async call sites use unless given one: with both runtime
/// features, the one the call runs on.
#[cfg(all(feature = "tokio", feature = "async-std"))]
pub type DefaultAsyncSleeper = EitherRuntimeSleeper;

/// Sleeps on tokio inside a tokio runtime and on async-std's timers
/// elsewhere: the default sleeper when both the `tokio` and `async-std`
/// features are enabled, so turning on a second runtime feature (perhaps
/// through another crate) never breaks calls made on the first.
///
/// The clock stays [`TokioClock`](redress_tokio::TokioClock), which reads
/// tokio's paused time inside a tokio runtime and the system clock outside
/// one.
///
/// ```
/// use std::time::Duration;
/// use redress::backoff::constant;
/// use redress::prelude::*;
///
/// let policy = Policy::builder().strategy(constant(Duration::from_millis(1))).build()?;
/// let mut tries = 0;
/// // On async-std, with the tokio feature on as well: no tokio runtime needed.
/// let n = async_std::task::block_on(policy.call_async(|| {
///     tries += 1;
///     let attempt = tries;
///     async move {
///         if attempt < 3 { Err(std::io::Error::from(std::io::ErrorKind::TimedOut)) } else { Ok(attempt) }
///     }
/// }))?;
/// assert_eq!(n, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(all(feature = "tokio", feature = "async-std"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct EitherRuntimeSleeper;

#[cfg(all(feature = "tokio", feature = "async-std"))]
pin_project_lite::pin_project! {
    /// The future [`EitherRuntimeSleeper`] returns.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct EitherSleep {
        #[pin]
        timer: Timer,
    }
}

#[cfg(all(feature = "tokio", feature = "async-std"))]
pin_project_lite::pin_project! {
    #[project = TimerProjection]
    #[derive(Debug)]
    enum Timer {
        Tokio { #[pin] sleep: <redress_tokio::TokioSleeper as AsyncSleeper>::Sleep },
        AsyncStd { #[pin] sleep: redress_async_std::Sleep },
    }
}

#[cfg(all(feature = "tokio", feature = "async-std"))]
impl Future for EitherSleep {
    type Output = ();

    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<()> {
        match self.project().timer.project() {
            TimerProjection::Tokio { sleep } => sleep.poll(cx),
            TimerProjection::AsyncStd { sleep } => sleep.poll(cx),
        }
    }
}

#[cfg(all(feature = "tokio", feature = "async-std"))]
impl AsyncSleeper for EitherRuntimeSleeper {
    type Sleep = EitherSleep;

    #[inline]
    fn sleep(&self, duration: core::time::Duration) -> EitherSleep {
        let timer = if redress_tokio::TokioSleeper::runtime_available() {
            Timer::Tokio {
                sleep: redress_tokio::TokioSleeper.sleep(duration),
            }
        } else {
            Timer::AsyncStd {
                sleep: redress_async_std::AsyncStdSleeper.sleep(duration),
            }
        };
        EitherSleep { timer }
    }
}

/// The sleeper async call sites use unless given one: none is enabled.
#[cfg(not(any(feature = "tokio", feature = "async-std")))]
pub type DefaultAsyncSleeper = PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock;
/// The clock async call sites use unless given one: none is enabled.
#[cfg(not(any(feature = "tokio", feature = "async-std")))]
pub type DefaultAsyncClock = PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock;

/// Stands in for the async runtime when neither the `tokio` nor the
/// `async-std` feature is enabled. It is neither a sleeper nor a clock, so
/// `call_async` on a call site without its own does not compile: enable a
/// runtime feature, or set `.sleeper(..)` and `.clock(..)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock;

/// Runs operations under a policy on an async runtime: the async twin of
/// [`BlockingPolicy`](crate::BlockingPolicy).
///
/// Implemented for [`Policy`] and for [`Bound`] call sites; the runtime is
/// the enabled one (with both features, the one the call runs on), or the
/// call site's own sleeper and clock.
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # {
/// use std::time::Duration;
/// use redress::backoff::constant;
/// use redress::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = Policy::builder().strategy(constant(Duration::from_millis(100))).build()?;
/// let mut tries = 0;
/// let n = policy
///     .call_async(|| {
///         tries += 1;
///         let attempt = tries;
///         async move {
///             if attempt < 3 { Err(std::io::Error::from(std::io::ErrorKind::TimedOut)) } else { Ok(attempt) }
///         }
///     })
///     .await?;
/// assert_eq!(n, 3);
/// # Ok(())
/// # }
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
pub trait AsyncPolicy<C, R> {
    /// Runs `operation` until it succeeds or the policy stops it; resolves
    /// to the value, or a [`RetryError`] with the stop reason and the last
    /// error or flagged value.
    fn call_async<T, E, F, Fut>(
        &self,
        operation: F,
    ) -> impl Future<Output = Result<T, RetryError<E, T>>>
    where
        C: Classifier<E>,
        R: ResultClassifier<T>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>;

    /// Runs `operation` like [`call_async`](Self::call_async) and resolves
    /// to the whole [`Outcome`].
    fn execute_async<T, E, F, Fut>(&self, operation: F) -> impl Future<Output = Outcome<T, E>>
    where
        C: Classifier<E>,
        R: ResultClassifier<T>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>;
}

impl<C, R, H, S, K, A> AsyncPolicy<C, R> for Bound<'_, C, R, H, S, K, A>
where
    H: Hooks,
    A: AsyncHooks,
    S: Slot<DefaultAsyncSleeper, Value: AsyncSleeper>,
    K: Slot<DefaultAsyncClock, Value: Clock>,
{
    async fn call_async<T, E, F, Fut>(&self, operation: F) -> Result<T, RetryError<E, T>>
    where
        C: Classifier<E>,
        R: ResultClassifier<T>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let defaults = (DefaultAsyncSleeper::default(), DefaultAsyncClock::default());
        call_on(self, &defaults.0, &defaults.1, operation).await
    }

    async fn execute_async<T, E, F, Fut>(&self, operation: F) -> Outcome<T, E>
    where
        C: Classifier<E>,
        R: ResultClassifier<T>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let defaults = (DefaultAsyncSleeper::default(), DefaultAsyncClock::default());
        execute_on(self, &defaults.0, &defaults.1, operation).await
    }
}

impl<C, R> AsyncPolicy<C, R> for Policy<C, R>
where
    for<'x> Bound<'x, C, R>: AsyncPolicy<C, R>,
{
    async fn call_async<T, E, F, Fut>(&self, operation: F) -> Result<T, RetryError<E, T>>
    where
        C: Classifier<E>,
        R: ResultClassifier<T>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.bind().call_async(operation).await
    }

    async fn execute_async<T, E, F, Fut>(&self, operation: F) -> Outcome<T, E>
    where
        C: Classifier<E>,
        R: ResultClassifier<T>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.bind().execute_async(operation).await
    }
}

/// Retries `operation` on the enabled async runtime with the one-line
/// defaults ([`Policy::default`]: the default classifier, decorrelated
/// jitter capped at 5 s, a 60 s deadline, 6 attempts): the async twin of
/// [`retry`](crate::retry).
#[cfg(any(feature = "tokio", feature = "async-std"))]
pub async fn retry_async<T, E, F, Fut>(operation: F) -> Result<T, RetryError<E, T>>
where
    E: core::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    Policy::shared_default().call_async(operation).await
}
