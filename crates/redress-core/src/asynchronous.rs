//! Running a policy on any async runtime.
//!
//! There is one async runner: the loop in this module, around the same
//! engine as the blocking runner, awaiting the operation, its time limit
//! and the sleeps instead of blocking. It is generic over a runtime, which
//! is two small traits: an [`AsyncSleeper`] (a timer) and a [`Clock`]. The
//! `redress-tokio` and `redress-async-std` crates supply them, and any
//! runtime plugs in with a few lines:
//!
//! ```
//! use core::future::Future;
//! use core::time::Duration;
//! use redress_core::{AsyncSleeper, Clock};
//!
//! /// A runtime whose timer is `my_rt::sleep` and clock `my_rt::now`.
//! #[derive(Clone, Copy, Debug, Default)]
//! struct MyRuntime;
//!
//! impl AsyncSleeper for MyRuntime {
//!     type Sleep = core::future::Ready<()>; // your runtime's sleep future
//!     fn sleep(&self, _duration: Duration) -> Self::Sleep {
//!         core::future::ready(())
//!     }
//! }
//!
//! impl Clock for MyRuntime {
//!     fn now(&self) -> Duration {
//!         Duration::ZERO // your runtime's monotonic time
//!     }
//! }
//!
//! // `policy.call_async(..)` and friends, running on `MyRuntime`:
//! redress_core::async_policy! {
//!     /// Runs operations on my runtime.
//!     pub trait MyAsyncPolicy on MyRuntime = MyRuntime
//! }
//! ```
//!
//! The entry points (`call_async`, `execute_async` and their `_with` forms)
//! are defined once, by [`async_policy!`](crate::async_policy); each runtime
//! crate instantiates them for its runtime, so `redress_tokio::AsyncPolicy`
//! and the facade's `redress::AsyncPolicy` are the same methods. They run
//! through [`AsyncSite`], which resolves a call site's own sleeper and
//! clock (set with `Bound::sleeper` and `Bound::clock`) against the
//! runtime's.
//!
//! # Time limits and cancellation
//!
//! Each attempt runs under its [`time_limit`](crate::Attempt::time_limit):
//! the policy's attempt timeout, never past the deadline. An attempt still
//! running at its limit is dropped (cancelled): cut by the attempt timeout,
//! it is a `TRANSIENT` failure ([`Failure::TimedOut`](crate::Failure::TimedOut));
//! cut by the deadline, the call stops with `DEADLINE_EXCEEDED`. So a call
//! never ends later than its deadline plus the timer's resolution. The
//! timer is only created when an attempt does not complete on its first
//! poll, so an attempt that is ready at once costs no timer.
//!
//! Dropping the call's future at any await point (in the middle of an
//! attempt or of a sleep) cancels the call and leaves nothing behind: the
//! attempt's future is dropped, a half-open breaker probe held by the call
//! is released, and `on_call_end` reports the call as cancelled. For a
//! cooperative stop that reports what was last seen, use an abort predicate
//! or an [`AbortSignal`](crate::AbortSignal) instead.
//!
//! With a virtual-time sleeper (the testing kit's instant sleeper), a
//! timer fires as soon as it is polled, so an attempt that is still pending
//! on its first poll is cut at its limit at once; use the runtime's own
//! paused time (tokio's) for operations that really wait.
//!
//! # `Send`
//!
//! The future holds the operation's futures, the sleeper's, a reference to
//! the call site, and nothing boxed, so it is `Send` when those are (hooks
//! must then be `Sync`).

use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use crate::backoff::BackoffContext;
use crate::bind::{Bound, CallSite};
use crate::classify::{Classifier, ResultClassifier};
use crate::engine::{Action, Attempt, Execution, Report, ToOutcome};
use crate::hooks::{Hooks, SleepDecision};
use crate::outcome::Outcome;
use crate::policy::Policy;
use crate::sleep::Slot;
use crate::time::Clock;

/// Makes futures that complete after a while: a runtime's timer.
///
/// Closures `Fn(Duration) -> impl Future<Output = ()>` are sleepers.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an async sleeper",
    note = "enable the `tokio` or `async-std` feature of `redress`, or give the call site a sleeper and a clock with `.sleeper(..)` and `.clock(..)`"
)]
pub trait AsyncSleeper {
    /// The future `sleep` returns.
    type Sleep: Future<Output = ()>;

    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Self::Sleep;
}

impl<F, Fut> AsyncSleeper for F
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    type Sleep = Fut;

    fn sleep(&self, duration: Duration) -> Fut {
        self(duration)
    }
}

/// Hooks that may await: an async sleep decision and an async before-sleep
/// hook. Only async runners call them; a call site that has them cannot be
/// run by the blocking runner.
#[allow(async_fn_in_trait)] // whether the futures are `Send` is up to the hooks
pub trait AsyncHooks {
    /// Decides what to do with a retry delay (default: sleep).
    async fn decide_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) -> SleepDecision {
        let _ = (ctx, delay);
        SleepDecision::Sleep
    }

    /// Runs just before the runner sleeps `delay`.
    async fn before_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) {
        let _ = (ctx, delay);
    }

    /// Whether any hook here does something: when no async hook of a call
    /// site does (and its synchronous hooks have no sleep hooks either),
    /// the engine does not stop before each sleep to run them.
    const SLEEP_HOOKS: bool = true;
}

/// No async hooks: each hook is a ready future of no size, so a call
/// site without async hooks carries nothing for them.
impl AsyncHooks for () {
    #[inline]
    fn decide_sleep(
        &self,
        _: &BackoffContext<'_>,
        _: Duration,
    ) -> impl Future<Output = SleepDecision> {
        core::future::ready(SleepDecision::Sleep)
    }

    #[inline]
    fn before_sleep(&self, _: &BackoffContext<'_>, _: Duration) -> impl Future<Output = ()> {
        core::future::ready(())
    }

    const SLEEP_HOOKS: bool = false;
}

/// Both sets run, the first one first; the first decision that is not
/// `Sleep` wins.
impl<A: AsyncHooks, B: AsyncHooks> AsyncHooks for (A, B) {
    async fn decide_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) -> SleepDecision {
        match self.0.decide_sleep(ctx, delay).await {
            SleepDecision::Sleep => self.1.decide_sleep(ctx, delay).await,
            other => other,
        }
    }

    async fn before_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) {
        self.0.before_sleep(ctx, delay).await;
        self.1.before_sleep(ctx, delay).await;
    }

    const SLEEP_HOOKS: bool = A::SLEEP_HOOKS || B::SLEEP_HOOKS;
}

/// An async sleep decision hook: `async |ctx, delay| -> SleepDecision`.
#[derive(Clone, Copy)]
pub struct AsyncDecideSleep<F>(pub F);

/// An async before-sleep hook: `async |ctx, delay| { .. }`.
#[derive(Clone, Copy)]
pub struct AsyncBeforeSleep<F>(pub F);

impl<F> core::fmt::Debug for AsyncDecideSleep<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AsyncDecideSleep")
    }
}

impl<F> core::fmt::Debug for AsyncBeforeSleep<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AsyncBeforeSleep")
    }
}

impl<F: AsyncFn(&BackoffContext<'_>, Duration) -> SleepDecision> AsyncHooks
    for AsyncDecideSleep<F>
{
    async fn decide_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) -> SleepDecision {
        (self.0)(ctx, delay).await
    }
}

impl<F: AsyncFn(&BackoffContext<'_>, Duration)> AsyncHooks for AsyncBeforeSleep<F> {
    async fn before_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) {
        (self.0)(ctx, delay).await;
    }
}

/// A call site that can run on the runtime `Rt`: a [`Bound`] whose own
/// sleeper and clock (its `Custom` slots) or `Rt`'s are an [`AsyncSleeper`]
/// and a [`Clock`], or a [`Policy`] when `Rt` is both.
///
/// The entry points of [`async_policy!`](crate::async_policy) run through
/// [`run_on`], which any runner can call with a runtime value it holds.
#[diagnostic::on_unimplemented(
    message = "this call site cannot run on `{Rt}`",
    note = "the runtime (or the call site's own `.sleeper(..)` and `.clock(..)`) must be an `AsyncSleeper` and a `Clock`: enable the `tokio` or `async-std` feature of `redress`, or set both on the call site"
)]
pub trait AsyncSite<C, R, Rt>: CallSite<C, R> {
    /// The sleeper the call site uses on `Rt`.
    type Sleeper: AsyncSleeper;
    /// The clock the call site uses on `Rt`.
    type Clock: Clock;

    /// The call site's sleeper, or the runtime's.
    fn sleeper<'a>(&'a self, runtime: &'a Rt) -> &'a Self::Sleeper;

    /// The call site's clock, or the runtime's.
    fn clock<'a>(&'a self, runtime: &'a Rt) -> &'a Self::Clock;
}

impl<C, R, H, S, K, A, Rt> AsyncSite<C, R, Rt> for Bound<'_, C, R, H, S, K, A>
where
    H: Hooks,
    A: AsyncHooks,
    S: Slot<Rt, Value: AsyncSleeper>,
    K: Slot<Rt, Value: Clock>,
{
    type Sleeper = S::Value;
    type Clock = K::Value;

    #[inline]
    fn sleeper<'a>(&'a self, runtime: &'a Rt) -> &'a S::Value {
        self.sleeper_ref().resolve(runtime)
    }

    #[inline]
    fn clock<'a>(&'a self, runtime: &'a Rt) -> &'a K::Value {
        self.clock_ref().resolve(runtime)
    }
}

impl<C, R, Rt> AsyncSite<C, R, Rt> for Policy<C, R>
where
    Rt: AsyncSleeper + Clock,
{
    type Sleeper = Rt;
    type Clock = Rt;

    #[inline]
    fn sleeper<'a>(&'a self, runtime: &'a Rt) -> &'a Rt {
        runtime
    }

    #[inline]
    fn clock<'a>(&'a self, runtime: &'a Rt) -> &'a Rt {
        runtime
    }
}

/// Runs `operation` at `site` on `runtime` until it succeeds or the policy
/// stops it, and ends the call as `End` says (its whole
/// [`Outcome`], [`ToOutcome`], or the value or a
/// [`RetryError`](crate::RetryError), [`ToResult`](crate::ToResult)): the async runner,
/// which every async entry point calls.
///
/// ```
/// use core::time::Duration;
/// use redress_core::asynchronous::run_on;
/// use redress_core::{backoff::constant, ErrorClass, ManualClock, Policy, ToResult};
///
/// let policy = Policy::builder()
///     .classifier(|_: &&str| ErrorClass::Transient)
///     .strategy(constant(Duration::ZERO))
///     .build()?;
/// let clock = ManualClock::new();
/// let site = policy.bind().clock(&clock).sleeper(|_| core::future::ready(()));
/// let call = run_on::<ToResult, _, _, _, _, _, _, _, _>(&site, &(), |attempt| {
///     core::future::ready(if attempt.number < 2 { Err("reset") } else { Ok(attempt.number) })
/// });
/// # let value = {
/// #     let mut call = core::pin::pin!(call);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let core::task::Poll::Ready(v) = call.as_mut().poll(&mut cx) { break v; } }
/// # };
/// assert_eq!(value.ok(), Some(2));
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub fn run_on<End, Site, C, R, Rt, T, E, F, Fut>(
    site: &Site,
    runtime: &Rt,
    operation: F,
) -> impl Future<Output = End::Output>
where
    End: Report<T, E>,
    Site: AsyncSite<C, R, Rt> + ?Sized,
    C: Classifier<E>,
    R: ResultClassifier<T>,
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let timers = OnRuntime {
        site,
        runtime,
        classes: PhantomData,
    };
    traced::<End, _, _, _, _, _, _, _, _>(site, timers, operation)
}

/// Where a run takes its sleeper and clock from. Resolved inside the
/// runner's future, so the future holds what it resolves from once.
trait Timers {
    type Sleeper: AsyncSleeper;
    type Clock: Clock;
    fn sleeper(&self) -> &Self::Sleeper;
    fn clock(&self) -> &Self::Clock;
}

/// A call site's own sleeper and clock, or its runtime's.
struct OnRuntime<'s, 'r, Site: ?Sized, C, R, Rt> {
    site: &'s Site,
    runtime: &'r Rt,
    /// Ties the classifiers' lifetimes to this value's.
    classes: PhantomData<fn() -> (C, R)>,
}

impl<Site: AsyncSite<C, R, Rt> + ?Sized, C, R, Rt> Timers for OnRuntime<'_, '_, Site, C, R, Rt> {
    type Sleeper = Site::Sleeper;
    type Clock = Site::Clock;

    #[inline(always)]
    fn sleeper(&self) -> &Site::Sleeper {
        self.site.sleeper(self.runtime)
    }

    #[inline(always)]
    fn clock(&self) -> &Site::Clock {
        self.site.clock(self.runtime)
    }
}

/// A sleeper and a clock given as they are.
struct Given<'a, Sl, Cl> {
    sleeper: &'a Sl,
    clock: &'a Cl,
}

impl<Sl: AsyncSleeper, Cl: Clock> Timers for Given<'_, Sl, Cl> {
    type Sleeper = Sl;
    type Clock = Cl;

    #[inline(always)]
    fn sleeper(&self) -> &Sl {
        self.sleeper
    }

    #[inline(always)]
    fn clock(&self) -> &Cl {
        self.clock
    }
}

/// Defines the async entry points for a runtime: a trait `$name<C, R>`
/// with `call_async`, `execute_async`, `call_async_with` and
/// `execute_async_with`, implemented for [`Policy`] and [`Bound`], running
/// on `$runtime` (a `Default` type that is an [`AsyncSleeper`] and a
/// [`Clock`]) through [`AsyncSite`].
///
/// The runtime crates instantiate it (`redress_tokio::AsyncPolicy`,
/// `redress_async_std::AsyncPolicy`, and the facade's `redress::AsyncPolicy`
/// for the runtime its features choose); a custom runtime can too, see the
/// [module docs](crate::asynchronous).
#[macro_export]
macro_rules! async_policy {
    ($(#[$attr:meta])* $vis:vis trait $name:ident on $runtime:ty = $value:expr $(;)?) => {
        $(#[$attr])*
        $vis trait $name<C, R> {
            /// Runs `operation` until it succeeds or the policy stops it;
            /// resolves to the value, or a [`RetryError`]($crate::RetryError)
            /// with the stop reason and the last error or flagged value.
            fn call_async<T, E, F, Fut>(
                &self,
                mut operation: F,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<T, $crate::RetryError<E, T>>>
            where
                Self: $crate::AsyncSite<C, R, $runtime>,
                C: $crate::Classifier<E>,
                R: $crate::ResultClassifier<T>,
                F: FnMut() -> Fut,
                Fut: ::core::future::Future<Output = ::core::result::Result<T, E>>,
            {
                let operation = move |_: $crate::Attempt| operation();
                $crate::asynchronous::run_on::<$crate::ToResult, _, _, _, _, _, _, _, _>(self, {
                    const RUNTIME: &$runtime = &$value;
                    RUNTIME
                }, operation)
            }

            /// Runs `operation` like [`call_async`](Self::call_async) and
            /// resolves to the whole [`Outcome`]($crate::Outcome).
            fn execute_async<T, E, F, Fut>(
                &self,
                mut operation: F,
            ) -> impl ::core::future::Future<Output = $crate::Outcome<T, E>>
            where
                Self: $crate::AsyncSite<C, R, $runtime>,
                C: $crate::Classifier<E>,
                R: $crate::ResultClassifier<T>,
                F: FnMut() -> Fut,
                Fut: ::core::future::Future<Output = ::core::result::Result<T, E>>,
            {
                let operation = move |_: $crate::Attempt| operation();
                $crate::asynchronous::run_on::<$crate::ToOutcome, _, _, _, _, _, _, _, _>(self, {
                    const RUNTIME: &$runtime = &$value;
                    RUNTIME
                }, operation)
            }

            /// Like [`call_async`](Self::call_async), handing each attempt
            /// its [`Attempt`]($crate::Attempt) (number, time left, time
            /// limit).
            fn call_async_with<T, E, F, Fut>(
                &self,
                operation: F,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<T, $crate::RetryError<E, T>>>
            where
                Self: $crate::AsyncSite<C, R, $runtime>,
                C: $crate::Classifier<E>,
                R: $crate::ResultClassifier<T>,
                F: FnMut($crate::Attempt) -> Fut,
                Fut: ::core::future::Future<Output = ::core::result::Result<T, E>>,
            {
                $crate::asynchronous::run_on::<$crate::ToResult, _, _, _, _, _, _, _, _>(self, {
                    const RUNTIME: &$runtime = &$value;
                    RUNTIME
                }, operation)
            }

            /// Like [`execute_async`](Self::execute_async), handing each
            /// attempt its [`Attempt`]($crate::Attempt).
            fn execute_async_with<T, E, F, Fut>(
                &self,
                operation: F,
            ) -> impl ::core::future::Future<Output = $crate::Outcome<T, E>>
            where
                Self: $crate::AsyncSite<C, R, $runtime>,
                C: $crate::Classifier<E>,
                R: $crate::ResultClassifier<T>,
                F: FnMut($crate::Attempt) -> Fut,
                Fut: ::core::future::Future<Output = ::core::result::Result<T, E>>,
            {
                $crate::asynchronous::run_on::<$crate::ToOutcome, _, _, _, _, _, _, _, _>(self, {
                    const RUNTIME: &$runtime = &$value;
                    RUNTIME
                }, operation)
            }
        }

        impl<C, R, H, S, K, A> $name<C, R> for $crate::Bound<'_, C, R, H, S, K, A> {}

        impl<C, R> $name<C, R> for $crate::Policy<C, R> {}
    };
}

/// Runs `operation` at `site` with `sleeper` for delays and time limits
/// and `clock` for time, and resolves to the whole [`Outcome`]: the async
/// runner without a runtime crate, for custom runtimes and virtual time.
///
/// ```
/// use core::time::Duration;
/// use redress_core::{backoff::constant, execute_async, ErrorClass, ManualClock, Policy};
///
/// let policy = Policy::builder()
///     .classifier(|_: &&str| ErrorClass::Transient)
///     .strategy(constant(Duration::from_millis(100)))
///     .build()?;
/// let clock = ManualClock::new();
/// let sleeper = |d: Duration| {
///     clock.advance(d);
///     core::future::ready(())
/// };
/// let bound = policy.bind();
/// let mut tries = 0;
/// let call = execute_async(&bound, &sleeper, &clock, || {
///     tries += 1;
///     let result = if tries < 3 { Err("reset") } else { Ok(tries) };
///     core::future::ready(result)
/// });
/// // Any executor works; this future never waits on a real timer.
/// let outcome = block_on(call);
/// assert_eq!(outcome.result.ok(), Some(3));
/// assert_eq!(clock.now(), Duration::from_millis(200));
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop {
/// #         if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
/// #     }
/// # }
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub fn execute_async<'s, C, R, H, S, K, A, T, E, F, Fut, Sl, Cl>(
    site: &'s Bound<'_, C, R, H, S, K, A>,
    sleeper: &'s Sl,
    clock: &'s Cl,
    mut operation: F,
) -> impl Future<Output = Outcome<T, E>>
where
    C: Classifier<E>,
    R: ResultClassifier<T>,
    H: Hooks,
    A: AsyncHooks,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    Sl: AsyncSleeper,
    Cl: Clock,
{
    let operation = move |_: Attempt| operation();
    traced::<ToOutcome, _, _, _, _, _, _, _, _>(site, Given { sleeper, clock }, operation)
}

/// The runner inside the call's `tracing` span.
fn traced<End, Site, C, R, T, E, F, Fut, Tm>(
    site: &Site,
    timers: Tm,
    operation: F,
) -> impl Future<Output = End::Output>
where
    End: Report<T, E>,
    Site: CallSite<C, R> + ?Sized,
    C: Classifier<E>,
    R: ResultClassifier<T>,
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    Tm: Timers,
{
    #[cfg(feature = "tracing")]
    {
        use tracing::Instrument;
        let span = crate::trace::call_span(site.operation_name());
        run::<End, _, _, _, _, _, _, _, _>(site, timers, operation).instrument(span)
    }
    #[cfg(not(feature = "tracing"))]
    {
        run::<End, _, _, _, _, _, _, _, _>(site, timers, operation)
    }
}

/// The async runner: calls, cancels at the time limit, runs the sleep
/// hooks, sleeps, and tells the engine; every decision is the engine's.
///
/// An `async` block, not an `async fn`: the block keeps what it captures
/// in place, where an `async fn` would hold its arguments twice.
#[allow(clippy::manual_async_fn)] // on purpose: see above
fn run<End, Site, C, R, T, E, F, Fut, Tm>(
    site: &Site,
    timers: Tm,
    mut operation: F,
) -> impl Future<Output = End::Output>
where
    End: Report<T, E>,
    Site: CallSite<C, R> + ?Sized,
    C: Classifier<E>,
    R: ResultClassifier<T>,
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    Tm: Timers,
{
    async move {
        let mut rng = site.rng();
        let start = timers.clock().now();
        // The execution stays where it is, in this future.
        let mut exec = Execution::new(site, start);
        exec.measure_success(End::MEASURES_SUCCESS);
        let mut action = exec.begin(start);
        loop {
            // The attempt's description ends with this match, so the future
            // does not carry it while the attempt runs.
            let limited = match action {
                Action::Attempt(attempt) => Limited::new(
                    operation(attempt),
                    start_plus(exec.attempt_started(), attempt.time_limit()),
                    &timers,
                ),
                Action::SleepHooks => {
                    let decision = exec.pending_sleep().run_hooks(site.async_hooks()).await;
                    action = exec.sleep_decided(decision, timers.clock().now());
                    continue;
                }
                Action::Sleep(delay) => {
                    timers.sleeper().sleep(delay).await;
                    action = exec.resume(timers.clock().now());
                    continue;
                }
                Action::Done => return End::report(&mut exec),
            };
            action = match limited.await {
                Some(result) => exec.record(result, timers.clock(), &mut rng),
                None => exec.record_timeout(timers.clock().now(), &mut rng),
            };
        }
    }
}

/// A limit this far away is no limit: no timer is set.
const NO_LIMIT: Duration = Duration::from_secs(1 << 40);

/// `at + limit` on the clock's scale, `None` when the limit is no limit.
fn start_plus(at: Duration, limit: Duration) -> Option<Duration> {
    if limit >= NO_LIMIT {
        return None;
    }
    at.checked_add(limit)
}

pin_project_lite::pin_project! {
    /// Runs `work` until it completes (`Some(output)`) or the clock reaches
    /// `until` (`None`; the work is dropped with this future). The timer is
    /// only made when the work is still pending after its first poll, for
    /// the time left then; with no `until` there is no timer at all.
    struct Limited<'r, W, Tm: Timers> {
        #[pin]
        work: W,
        #[pin]
        timer: Option<<Tm::Sleeper as AsyncSleeper>::Sleep>,
        until: Option<Duration>,
        timers: &'r Tm,
    }
}

impl<'r, W, Tm: Timers> Limited<'r, W, Tm> {
    #[inline]
    fn new(work: W, until: Option<Duration>, timers: &'r Tm) -> Self {
        Limited {
            work,
            timer: None,
            until,
            timers,
        }
    }
}

impl<W: Future, Tm: Timers> Future for Limited<'_, W, Tm> {
    type Output = Option<W::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(output) = this.work.poll(cx) {
            return Poll::Ready(Some(output));
        }
        let Some(until) = *this.until else {
            return Poll::Pending;
        };
        if this.timer.is_none() {
            let left = until.saturating_sub(this.timers.clock().now());
            this.timer.set(Some(this.timers.sleeper().sleep(left)));
        }
        match this.timer.as_pin_mut().map(|timer| timer.poll(cx)) {
            Some(Poll::Pending) => Poll::Pending,
            _ => Poll::Ready(None),
        }
    }
}
