//! Async call sites: [`AsyncPolicy`] on the runtime the features choose.

#[cfg(any(feature = "tokio", feature = "async-std"))]
use core::future::Future;

#[cfg(any(feature = "tokio", feature = "async-std"))]
use redress_core::Policy;
#[cfg(any(feature = "tokio", feature = "async-std"))]
use redress_core::{AsyncSleeper, Clock, RetryError};

/// The runtime async call sites use unless given a sleeper and clock of
/// their own: tokio's with the `tokio` feature, async-std's with
/// `async-std`, the one the call runs on (`EitherRuntime`) with both,
/// else a marker that makes `call_async` fail to compile with a note naming
/// the fix.
#[cfg(all(feature = "tokio", not(feature = "async-std")))]
pub type DefaultRuntime = redress_tokio::Tokio;

/// The runtime async call sites use unless given a sleeper and clock.
#[cfg(all(not(feature = "tokio"), feature = "async-std"))]
pub type DefaultRuntime = redress_async_std::AsyncStd;

/// The runtime async call sites use unless given a sleeper and clock: with
/// both runtime features, the one the call runs on.
#[cfg(all(feature = "tokio", feature = "async-std"))]
pub type DefaultRuntime = EitherRuntime;

/// The runtime async call sites use: none is enabled.
#[cfg(not(any(feature = "tokio", feature = "async-std")))]
pub type DefaultRuntime = PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock;

/// The value of [`DefaultRuntime`] the entry points run on.
#[cfg(all(feature = "tokio", not(feature = "async-std")))]
pub const DEFAULT_RUNTIME: DefaultRuntime = redress_tokio::Tokio;
/// The value of [`DefaultRuntime`] the entry points run on.
#[cfg(all(not(feature = "tokio"), feature = "async-std"))]
pub const DEFAULT_RUNTIME: DefaultRuntime = redress_async_std::AsyncStd;
/// The value of [`DefaultRuntime`] the entry points run on.
#[cfg(all(feature = "tokio", feature = "async-std"))]
pub const DEFAULT_RUNTIME: DefaultRuntime = EitherRuntime;
/// The value of [`DefaultRuntime`] the entry points run on.
#[cfg(not(any(feature = "tokio", feature = "async-std")))]
pub const DEFAULT_RUNTIME: DefaultRuntime =
    PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock;

/// Sleeps on tokio inside a tokio runtime and on async-std's timers
/// elsewhere, and reads tokio's clock (which is the system clock outside a
/// tokio runtime): the default runtime when both the `tokio` and
/// `async-std` features are enabled, so turning on a second runtime feature
/// (perhaps through another crate) never breaks calls made on the first.
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
pub struct EitherRuntime;

#[cfg(all(feature = "tokio", feature = "async-std"))]
pin_project_lite::pin_project! {
    /// The future [`EitherRuntime`]'s sleep returns.
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
        Tokio { #[pin] sleep: <redress_tokio::Tokio as AsyncSleeper>::Sleep },
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
impl AsyncSleeper for EitherRuntime {
    type Sleep = EitherSleep;

    #[inline]
    fn sleep(&self, duration: core::time::Duration) -> EitherSleep {
        let timer = if redress_tokio::Tokio::runtime_available() {
            Timer::Tokio {
                sleep: redress_tokio::Tokio.sleep(duration),
            }
        } else {
            Timer::AsyncStd {
                sleep: redress_async_std::AsyncStd.sleep(duration),
            }
        };
        EitherSleep { timer }
    }
}

#[cfg(all(feature = "tokio", feature = "async-std"))]
impl Clock for EitherRuntime {
    #[inline]
    fn now(&self) -> core::time::Duration {
        redress_tokio::Tokio.now()
    }
}

/// Stands in for the async runtime when neither the `tokio` nor the
/// `async-std` feature is enabled. It is a sleeper and a clock only under a
/// bound that never holds (`RuntimeFeatureEnabled`), so `call_async` on a
/// policy or a call site without its own sleeper and clock does not
/// compile, and the error names the fix: enable a runtime feature, or set
/// `.sleeper(..)` and `.clock(..)` on the call site.
#[derive(Clone, Copy, Debug, Default)]
pub struct PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock;

/// Implemented by nothing: the bound under which
/// [`PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock`] would be
/// a runtime. Asking for it is what turns a missing runtime feature into a
/// compile error that says what to do.
#[diagnostic::on_unimplemented(
    message = "`call_async` needs an async runtime, and no runtime feature of `redress` is enabled",
    label = "no runtime to sleep on or read the time from",
    note = "enable one in Cargo.toml: `redress = {{ version = \"0.1\", features = [\"tokio\"] }}` (or `\"async-std\"`)",
    note = "or depend on a runtime crate and use its trait: `redress_tokio::AsyncPolicy` or `redress_async_std::AsyncPolicy`",
    note = "or give the call site a sleeper and a clock of your own: `policy.bind().sleeper(..).clock(..).call_async(..)`"
)]
pub trait RuntimeFeatureEnabled {}

impl redress_core::AsyncSleeper for PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock
where
    for<'a> Self: RuntimeFeatureEnabled,
{
    type Sleep = core::future::Ready<()>;

    fn sleep(&self, _duration: core::time::Duration) -> Self::Sleep {
        core::future::ready(())
    }
}

impl redress_core::Clock for PleaseEnableTheTokioOrAsyncStdFeatureOrSetASleeperAndClock
where
    for<'a> Self: RuntimeFeatureEnabled,
{
    fn now(&self) -> core::time::Duration {
        core::time::Duration::ZERO
    }
}

redress_core::async_policy! {
    /// Runs operations under a policy on an async runtime: the async twin
    /// of [`BlockingPolicy`](crate::BlockingPolicy), on every [`Policy`]
    /// and [`Bound`](crate::Bound) call site.
    ///
    /// The runtime is the enabled one ([`DefaultRuntime`]; with both
    /// runtime features, the one the call runs on), or the call site's own
    /// sleeper and clock. These are the methods of `redress_tokio::AsyncPolicy`
    /// and `redress_async_std::AsyncPolicy`, defined once in `redress-core`.
    ///
    /// ```
    /// # #[cfg(feature = "tokio")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use redress::backoff::constant;
    /// use redress::prelude::*;
    ///
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
    /// # #[cfg(not(feature = "tokio"))]
    /// # fn main() {}
    /// ```
    pub trait AsyncPolicy on DefaultRuntime = DEFAULT_RUNTIME
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

/// Asserts at compile time that the default runtime is a sleeper and a
/// clock whenever a runtime feature is on.
#[cfg(any(feature = "tokio", feature = "async-std"))]
const _: fn() = || {
    fn runtime<R: AsyncSleeper + Clock + Default>() {}
    runtime::<DefaultRuntime>();
};
