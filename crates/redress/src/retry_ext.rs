//! `operation.retry(&policy)`: a closure that retries itself.
//!
//! [`RetryExt`] gives every closure (and every `fn`) a `.retry(..)` method,
//! the way a decorator gives a Python function its retries. It returns a
//! [`Retry`]: the operation and its call site, which runs blocking with
//! [`.call()`](Retry::call), or asynchronously when awaited.
//!
//! ```
//! use std::io;
//! use std::time::Duration;
//!
//! use redress::backoff::constant;
//! use redress::prelude::*;
//!
//! let policy = Policy::builder().strategy(constant(Duration::from_millis(1))).build()?;
//!
//! let mut tries = 0;
//! let mut fetch_user = || {
//!     tries += 1;
//!     if tries < 3 { Err(io::Error::from(io::ErrorKind::TimedOut)) } else { Ok("ada") }
//! };
//!
//! let user = fetch_user.retry(&policy).operation("fetch_user").call()?;
//! assert_eq!((user, tries), ("ada", 3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Nothing here is a retry loop of its own: `.call()` and `.execute()` are
//! [`BlockingPolicy::call`](crate::BlockingPolicy::call) and
//! [`execute`](crate::BlockingPolicy::execute) on the call site, and the
//! async forms are [`AsyncPolicy::call_async`]
//! and [`execute_async`](crate::AsyncPolicy::execute_async), so the
//! classification, the envelope, the budget, the breaker and every event
//! are exactly those of `policy.call(..)`.
//!
//! The chainable settings are those of a call site ([`Bound`]):
//! [`operation`](Retry::operation), [`on_event`](Retry::on_event),
//! [`notify`](Retry::notify) (retries only), [`hooks`](Retry::hooks),
//! [`sleeper`](Retry::sleeper), [`clock`](Retry::clock) and
//! [`seed`](Retry::seed); for anything else, bind the call site yourself and
//! hand it over: `fetch.retry(policy.bind().on_log(..))`.
//!
//! # Coming from backon
//!
//! | backon | redress |
//! |---|---|
//! | `fetch.retry(ExponentialBuilder::default())` | `fetch.retry(&policy)`: the policy holds the backoff (per class), the deadline, the caps |
//! | `.call()` (blocking), `.await` (async) | the same |
//! | `.when(\|e\| ..)` | the policy's classifier: a class that is never retried (`PERMANENT`, `AUTH`, `PERMISSION`) stops at once |
//! | `.notify(\|err, dur\| ..)` | [`.notify(\|event\| ..)`](Retry::notify): the retry event, with its delay, class and error type |
//! | `.adjust(..)` for `Retry-After` | a classification's `retry_after` hint and the `retry_after_or` strategy |
//! | `.sleep(..)` | [`.sleeper(..)`](Retry::sleeper) (and [`.clock(..)`](Retry::clock)) |
//!
//! What comes back differs too: the value, or a [`RetryError`] that says
//! why the call stopped and holds the last error (or flagged value).

use core::fmt;
use core::future::Future;
#[cfg(feature = "alloc")]
use core::future::IntoFuture;
#[cfg(feature = "alloc")]
use core::pin::Pin;

use redress_core::{
    AsyncSite, Bound, Classifier, Custom, Event, EventKind, Hooks, OnEvent, Outcome, Policy,
    ResultClassifier, RetryError,
};
#[cfg(feature = "alloc")]
use redress_core::{AsyncSleeper, Clock, Slot};

#[cfg(feature = "alloc")]
use alloc::boxed::Box;

use crate::runtime::{AsyncPolicy, DefaultRuntime};

/// Lets a closure (or a `fn`) retry itself under a policy:
/// `fetch.retry(&policy)`. Implemented for every `FnMut() -> O`; see the
/// [module docs](crate::retry_ext).
///
/// A blocking operation returns a `Result`, an async one a future that
/// resolves to one (a new future per attempt, as `call_async` takes it):
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use redress::backoff::constant;
/// use redress::prelude::*;
///
/// async fn fetch_user(id: u64) -> Result<String, std::io::Error> {
///     Ok(format!("user {id}"))
/// }
///
/// let policy = Policy::builder().strategy(constant(Duration::from_millis(100))).build()?;
/// let user = (|| fetch_user(7)).retry(&policy).operation("fetch_user").await?;
/// assert_eq!(user, "user 7");
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
pub trait RetryExt<O>: FnMut() -> O + Sized {
    /// This operation under `site`: a policy (`&policy`) or a call site
    /// bound from one (`policy.bind()...`). Nothing runs until the
    /// [`Retry`] is called or awaited.
    fn retry<'a, C, R, H, S, K, A>(
        self,
        site: impl IntoCallSite<'a, C, R, H, S, K, A>,
    ) -> Retry<'a, Self, C, R, H, S, K, A> {
        Retry {
            operation: self,
            site: site.into_call_site(),
        }
    }
}

impl<F: FnMut() -> O, O> RetryExt<O> for F {}

/// What [`RetryExt::retry`] accepts: a `&Policy` (bound fresh) or a
/// [`Bound`] call site (used as it is).
pub trait IntoCallSite<'a, C, R, H, S, K, A> {
    /// The call site.
    fn into_call_site(self) -> Bound<'a, C, R, H, S, K, A>;
}

impl<'a, C, R> IntoCallSite<'a, C, R, (), (), (), ()> for &'a Policy<C, R> {
    #[inline]
    fn into_call_site(self) -> Bound<'a, C, R> {
        self.bind()
    }
}

impl<'a, C, R, H, S, K, A> IntoCallSite<'a, C, R, H, S, K, A> for Bound<'a, C, R, H, S, K, A> {
    #[inline]
    fn into_call_site(self) -> Self {
        self
    }
}

/// An operation and the call site it retries at, made by
/// [`RetryExt::retry`]. Run it with [`call`](Self::call) or
/// [`execute`](Self::execute) (blocking), or await it (async; also
/// [`call_async`](Self::call_async) and
/// [`execute_async`](Self::execute_async)).
#[must_use = "a `Retry` does nothing until it is called or awaited"]
pub struct Retry<'a, F, C, R, H = (), S = (), K = (), A = ()> {
    operation: F,
    site: Bound<'a, C, R, H, S, K, A>,
}

impl<F, C, R, H, S, K, A> fmt::Debug for Retry<'_, F, C, R, H, S, K, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("operation", &self.site.operation_name())
            .finish_non_exhaustive()
    }
}

/// Calls `F(&Event)` for each `retry` event: just before the runner sleeps
/// before the next attempt ([`Retry::notify`]).
#[derive(Clone, Copy)]
pub struct Notify<F>(pub F);

impl<F> fmt::Debug for Notify<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Notify")
    }
}

impl<F: Fn(&Event<'_>)> Hooks for Notify<F> {
    const SLEEP_HOOKS: bool = false;

    #[inline]
    fn on_event(&self, event: &Event<'_>) {
        if event.kind == EventKind::Retry {
            (self.0)(event);
        }
    }
}

impl<'a, F, C, R, H, S, K, A> Retry<'a, F, C, R, H, S, K, A> {
    /// Names the call site: the `operation` tag of every event.
    #[inline]
    pub fn operation(self, name: &'a str) -> Self {
        Retry {
            operation: self.operation,
            site: self.site.operation(name),
        }
    }

    /// Adds a hook called with every event ([`Bound::on_event`]).
    #[inline]
    pub fn on_event<G: Fn(&Event<'_>)>(
        self,
        hook: G,
    ) -> Retry<'a, F, C, R, (H, OnEvent<G>), S, K, A> {
        Retry {
            operation: self.operation,
            site: self.site.on_event(hook),
        }
    }

    /// Adds a hook called before each retry, with the `retry` event: its
    /// attempt, the delay about to be slept, the class, the error type and
    /// any retry-after hint. The error itself stays with the engine, which
    /// hands the last one back when the call gives up.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::io;
    /// use std::time::Duration;
    ///
    /// use redress::backoff::constant;
    /// use redress::prelude::*;
    ///
    /// let policy = Policy::builder().strategy(constant(Duration::from_millis(1))).max_attempts(3).build()?;
    /// let seen = RefCell::new(Vec::new());
    /// let err = (|| Err::<(), _>(io::Error::from(io::ErrorKind::ConnectionReset)))
    ///     .retry(&policy)
    ///     .notify(|retry| seen.borrow_mut().push((retry.attempt, retry.delay, retry.class)))
    ///     .call()
    ///     .unwrap_err();
    /// assert_eq!(err.attempts, 3);
    /// let ms = Duration::from_millis(1);
    /// let transient = Some(ErrorClass::Transient);
    /// assert_eq!(*seen.borrow(), [(1, ms, transient), (2, ms, transient)]);
    /// # Ok::<(), redress::ConfigError>(())
    /// ```
    #[inline]
    pub fn notify<G: Fn(&Event<'_>)>(self, hook: G) -> Retry<'a, F, C, R, (H, Notify<G>), S, K, A> {
        Retry {
            operation: self.operation,
            site: self.site.hooks(Notify(hook)),
        }
    }

    /// Adds any [`Hooks`] ([`Bound::hooks`]): a metrics recorder, an
    /// [`AbortSignal`](crate::AbortSignal), ...
    #[inline]
    pub fn hooks<H2: Hooks>(self, hooks: H2) -> Retry<'a, F, C, R, (H, H2), S, K, A> {
        Retry {
            operation: self.operation,
            site: self.site.hooks(hooks),
        }
    }

    /// Sleeps with `sleeper` instead of the runner's own
    /// ([`Bound::sleeper`]): a `Fn(Duration)` for blocking calls, a
    /// `Fn(Duration) -> impl Future<Output = ()>` for async ones.
    #[inline]
    pub fn sleeper<S2>(self, sleeper: S2) -> Retry<'a, F, C, R, H, Custom<S2>, K, A> {
        Retry {
            operation: self.operation,
            site: self.site.sleeper(sleeper),
        }
    }

    /// Reads the time from `clock` instead of the runner's own
    /// ([`Bound::clock`]).
    #[inline]
    pub fn clock<K2>(self, clock: K2) -> Retry<'a, F, C, R, H, S, Custom<K2>, A> {
        Retry {
            operation: self.operation,
            site: self.site.clock(clock),
        }
    }

    /// Draws the jitter from a generator seeded with `seed` (tests only;
    /// [`Bound::seed`]).
    #[inline]
    pub fn seed(self, seed: u64) -> Self {
        Retry {
            operation: self.operation,
            site: self.site.seed(seed),
        }
    }

    /// The call site the operation runs at.
    #[inline]
    pub fn call_site(&self) -> &Bound<'a, C, R, H, S, K, A> {
        &self.site
    }

    /// Takes the operation and the call site apart.
    #[inline]
    pub fn into_parts(self) -> (F, Bound<'a, C, R, H, S, K, A>) {
        (self.operation, self.site)
    }
}

#[cfg(feature = "sync")]
impl<'a, F, C, R, H, S, K, A> Retry<'a, F, C, R, H, S, K, A> {
    /// Runs the operation on the blocking runner until it succeeds or the
    /// policy stops it, and returns the value, or a [`RetryError`] with the
    /// stop reason and the last error or flagged value
    /// ([`BlockingPolicy::call`](crate::BlockingPolicy::call) on the call
    /// site).
    #[inline]
    pub fn call<T, E>(self) -> Result<T, RetryError<E, T>>
    where
        F: FnMut() -> Result<T, E>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
        Bound<'a, C, R, H, S, K, A>: crate::BlockingPolicy<C, R>,
    {
        crate::BlockingPolicy::call(&self.site, self.operation)
    }

    /// Runs the operation like [`call`](Self::call) and returns the whole
    /// [`Outcome`] ([`BlockingPolicy::execute`](crate::BlockingPolicy::execute)).
    #[inline]
    pub fn execute<T, E>(self) -> Outcome<T, E>
    where
        F: FnMut() -> Result<T, E>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
        Bound<'a, C, R, H, S, K, A>: crate::BlockingPolicy<C, R>,
    {
        crate::BlockingPolicy::execute(&self.site, self.operation)
    }
}

impl<'a, F, C, R, H, S, K, A> Retry<'a, F, C, R, H, S, K, A> {
    /// Runs the async operation on the enabled runtime (or the call site's
    /// own sleeper and clock) until it succeeds or the policy stops it
    /// ([`AsyncPolicy::call_async`] on the call site). Awaiting the `Retry`
    /// does the same through one allocation and needs its parts to be
    /// `Send`; this future allocates nothing and is `Send` exactly when they
    /// are.
    pub fn call_async<T, E, Fut>(self) -> impl Future<Output = Result<T, RetryError<E, T>>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
        Bound<'a, C, R, H, S, K, A>: AsyncSite<C, R, DefaultRuntime>,
    {
        let Retry { operation, site } = self;
        async move { site.call_async(operation).await }
    }

    /// Runs the async operation like [`call_async`](Self::call_async) and
    /// resolves to the whole [`Outcome`] ([`AsyncPolicy::execute_async`]).
    pub fn execute_async<T, E, Fut>(self) -> impl Future<Output = Outcome<T, E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
        Bound<'a, C, R, H, S, K, A>: AsyncSite<C, R, DefaultRuntime>,
    {
        let Retry { operation, site } = self;
        async move { site.execute_async(operation).await }
    }
}

/// `retry.await`: [`call_async`](Retry::call_async), boxed so that its type
/// has a name (`IntoFuture` needs one). The future is `Send`, so it can be
/// awaited inside spawned tasks and axum handlers; for operations, hooks or
/// sleepers that are not `Send` (or `Sync`), or to save the allocation, use
/// `.call_async().await`.
///
/// When the compiler says a `Retry` "is not a future", one of these is
/// missing: an async operation (`|| async { .. }`), a runtime (the `tokio`
/// or `async-std` feature, or the call site's own sleeper and clock), or
/// `Send` parts; `.call_async().await` reports which.
#[cfg(feature = "alloc")]
impl<'a, F, C, R, H, S, K, T, E, Fut> IntoFuture for Retry<'a, F, C, R, H, S, K>
where
    F: FnMut() -> Fut + Send + 'a,
    Fut: Future<Output = Result<T, E>> + Send + 'a,
    T: Send + 'a,
    E: Send + 'a,
    C: Classifier<E> + Send + Sync + 'a,
    R: ResultClassifier<T> + Send + Sync + 'a,
    H: Hooks + Send + Sync + 'a,
    S: Slot<DefaultRuntime, Value: AsyncSleeper<Sleep: Send> + Sync> + Send + Sync + 'a,
    K: Slot<DefaultRuntime, Value: Clock + Sync> + Send + Sync + 'a,
{
    type Output = Result<T, RetryError<E, T>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, RetryError<E, T>>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.call_async())
    }
}
