//! Running a policy on any async runtime.
//!
//! [`execute_async`] is the async runner: the same three-arm loop as the
//! blocking one, around the same engine, awaiting the operation and the
//! sleeps instead of blocking. It is generic over an [`AsyncSleeper`] and a
//! [`Clock`], so any runtime plugs in with a few lines (tokio and async-std
//! adapters are in `redress-tokio` and `redress-async-std`):
//!
//! ```
//! use core::future::Future;
//! use core::time::Duration;
//! use redress_core::{AsyncSleeper, Clock};
//!
//! /// A sleeper for a runtime whose timer is `my_rt::sleep`.
//! struct MySleeper;
//!
//! impl AsyncSleeper for MySleeper {
//!     type Sleep = core::future::Ready<()>; // your runtime's sleep future
//!     fn sleep(&self, _duration: Duration) -> Self::Sleep {
//!         core::future::ready(())
//!     }
//! }
//! ```
//!
//! # Cancellation
//!
//! Dropping the future returned by [`execute_async`] at any await point (in
//! the middle of an attempt or of a sleep) cancels the call and leaves
//! nothing behind: the attempt's future is dropped, and a half-open breaker
//! probe held by the call is released. For a cooperative stop that reports
//! what was last seen, use an abort predicate or an
//! [`AbortSignal`](crate::AbortSignal) instead.
//!
//! # Attempt timeouts
//!
//! With a policy `attempt_timeout`, each attempt races a timer from the same
//! sleeper; an attempt that loses is dropped and recorded as a `TRANSIENT`
//! failure ([`Failure::TimedOut`](crate::Failure::TimedOut)).
//!
//! # `Send`
//!
//! The future holds the operation's futures, the sleeper's, a reference to
//! the [`Bound`] call site, and nothing boxed, so it is `Send` when those
//! are (hooks must then be `Sync`).

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;
use core::time::Duration;

use crate::backoff::BackoffContext;
use crate::bind::Bound;
use crate::classify::{Classifier, ResultClassifier};
use crate::engine::Action;
use crate::hooks::{Hooks, SleepDecision};
use crate::outcome::Outcome;
use crate::sleep::Slot;
use crate::time::Clock;

/// Makes futures that complete after a while: a runtime's timer.
///
/// Closures `Fn(Duration) -> impl Future<Output = ()>` are sleepers.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an async sleeper",
    note = "enable the `tokio` or `async-std` feature of `redress`, or give the call site a sleeper with `.sleeper(..)`"
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

    /// Whether any hook here does something (the runner skips the calls
    /// otherwise).
    fn is_empty(&self) -> bool {
        false
    }
}

impl AsyncHooks for () {
    fn is_empty(&self) -> bool {
        true
    }
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

    fn is_empty(&self) -> bool {
        self.0.is_empty() && self.1.is_empty()
    }
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

/// Runs `operation` under the call site's policy on an async runtime, with
/// `sleeper` for delays and attempt timeouts and `clock` for time.
///
/// Runtime adapters call this with their sleeper and clock; see the
/// [module docs](self) for cancellation, timeouts and `Send`.
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
/// let outcome = futures_lite_block_on(call);
/// assert_eq!(outcome.result.ok(), Some(3));
/// assert_eq!(clock.now(), Duration::from_millis(200));
/// # fn futures_lite_block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let waker = core::task::Waker::noop();
/// #     let mut cx = core::task::Context::from_waker(waker);
/// #     loop {
/// #         if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
/// #     }
/// # }
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub async fn execute_async<C, R, H, S, K, A, T, E, F, Fut, Sl, Cl>(
    bound: &Bound<'_, C, R, H, S, K, A>,
    sleeper: &Sl,
    clock: &Cl,
    operation: F,
) -> Outcome<T, E>
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
    traced(bound, sleeper, clock, operation, true).await
}

/// The runner inside the call's `tracing` span. `success_elapsed: false`
/// lets a call that succeeds with nobody watching skip its last clock
/// reading (its outcome's `elapsed` is then not measured: `call` discards
/// it on success).
async fn traced<C, R, H, S, K, A, T, E, F, Fut, Sl, Cl>(
    bound: &Bound<'_, C, R, H, S, K, A>,
    sleeper: &Sl,
    clock: &Cl,
    operation: F,
    success_elapsed: bool,
) -> Outcome<T, E>
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
    #[cfg(feature = "tracing")]
    {
        use tracing::Instrument;
        let span = crate::trace::call_span(bound.operation_name());
        run(bound, sleeper, clock, operation, success_elapsed)
            .instrument(span)
            .await
    }
    #[cfg(not(feature = "tracing"))]
    {
        run(bound, sleeper, clock, operation, success_elapsed).await
    }
}

async fn run<C, R, H, S, K, A, T, E, F, Fut, Sl, Cl>(
    bound: &Bound<'_, C, R, H, S, K, A>,
    sleeper: &Sl,
    clock: &Cl,
    mut operation: F,
    success_elapsed: bool,
) -> Outcome<T, E>
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
    let mut rng = bound.rng();
    let async_hooks = bound.async_hooks_ref();
    // One clock reading per step; the call ends at the last one. The
    // execution stays where it is (it is large).
    let mut now = clock.now();
    let mut exec = bound.execution(now);
    let mut action = exec.begin(now);
    loop {
        action = match action {
            Action::Attempt => match exec.attempt_timeout() {
                None => {
                    let result = operation().await;
                    let read = || {
                        now = clock.now();
                        now
                    };
                    exec.record_with(result, read, success_elapsed, &mut rng)
                }
                Some(limit) => {
                    let raced = race(operation(), sleeper.sleep(limit)).await;
                    now = clock.now();
                    match raced {
                        Some(result) => exec.record(result, now, &mut rng),
                        None => exec.record_timeout(now, &mut rng),
                    }
                }
            },
            Action::Sleep(delay) => {
                if !async_hooks.is_empty() {
                    now = clock.now();
                    let decision = match exec.sleep_context(now) {
                        Some((ctx, delay)) => {
                            let decision = async_hooks.decide_sleep(&ctx, delay).await;
                            if decision == SleepDecision::Sleep {
                                // Both before-sleep hooks, once it is certain
                                // the runner sleeps.
                                exec.before_sleep(now);
                                async_hooks.before_sleep(&ctx, delay).await;
                            }
                            decision
                        }
                        None => SleepDecision::Sleep,
                    };
                    if decision != SleepDecision::Sleep {
                        now = clock.now();
                        action = exec.decide_sleep(decision, now);
                        continue;
                    }
                }
                // Sleep hooks may have taken time: never sleep past the
                // deadline.
                let delay = exec.sleep_time(delay, || clock.now());
                if !delay.is_zero() {
                    sleeper.sleep(delay).await;
                }
                now = clock.now();
                exec.resume(now)
            }
            Action::Done => return exec.take_outcome(now),
        };
    }
}

/// Runs `operation` at `site` with the site's own sleeper and clock, or the
/// runtime's `default_sleeper` and `default_clock` where it has none (its
/// `()` slots): what an async runtime adapter calls.
pub async fn execute_on<C, R, H, S, K, A, T, E, F, Fut, DS, DK>(
    site: &Bound<'_, C, R, H, S, K, A>,
    default_sleeper: &DS,
    default_clock: &DK,
    operation: F,
) -> Outcome<T, E>
where
    C: Classifier<E>,
    R: ResultClassifier<T>,
    H: Hooks,
    A: AsyncHooks,
    S: Slot<DS, Value: AsyncSleeper>,
    K: Slot<DK, Value: Clock>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let sleeper = site.sleeper_ref().resolve(default_sleeper);
    let clock = site.clock_ref().resolve(default_clock);
    traced(site, sleeper, clock, operation, true).await
}

/// [`execute_on`] for `call`: resolves to the value or a [`RetryError`],
/// and a call that succeeds with nobody watching reads the clock once.
#[doc(hidden)]
pub async fn call_on<C, R, H, S, K, A, T, E, F, Fut, DS, DK>(
    site: &Bound<'_, C, R, H, S, K, A>,
    default_sleeper: &DS,
    default_clock: &DK,
    operation: F,
) -> Result<T, crate::outcome::RetryError<E, T>>
where
    C: Classifier<E>,
    R: ResultClassifier<T>,
    H: Hooks,
    A: AsyncHooks,
    S: Slot<DS, Value: AsyncSleeper>,
    K: Slot<DK, Value: Clock>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let sleeper = site.sleeper_ref().resolve(default_sleeper);
    let clock = site.clock_ref().resolve(default_clock);
    traced(site, sleeper, clock, operation, false)
        .await
        .into_result()
}

/// Polls `work` and `timer` together: `Some(output)` if the work finished
/// first, `None` if the timer did. The loser is dropped.
async fn race<W: Future, Ti: Future<Output = ()>>(work: W, timer: Ti) -> Option<W::Output> {
    let mut work = pin!(work);
    let mut timer = pin!(timer);
    poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}
