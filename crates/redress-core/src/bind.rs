//! A call site's settings, fixed once and reused: [`Bound`].

use core::time::Duration;

use crate::asynchronous::{AsyncBeforeSleep, AsyncDecideSleep, AsyncHooks};
use crate::backoff::BackoffContext;
use crate::engine::{Action, Execution};
use crate::event::{Event, LogFields, Tags};
use crate::hooks::{
    AbortIf, AttemptEnd, AttemptStart, BeforeSleep, CallEnd, DecideSleep, Hooks, OnAttemptEnd,
    OnAttemptStart, OnCallEnd, OnEvent, OnLog, OnMetric, SleepDecision,
};
use crate::policy::Policy;
use crate::rng::FastRng;
use crate::sleep::Custom;

/// A policy bound to one call site: its operation name, hooks, sleeper,
/// clock and seed, reused for every call made through it (the reference's
/// `policy.context(...)`).
///
/// Each `on_*` method adds a hook; they compose without allocation. The
/// runners add `call` and `execute` to it.
///
/// ```
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use redress_core::{backoff::constant, EventKind, Policy};
///
/// let retries = AtomicU32::new(0);
/// let policy = Policy::builder().strategy(constant(core::time::Duration::ZERO)).build()?;
/// let fetch_user = policy
///     .bind()
///     .operation("fetch_user")
///     .on_event(|e| {
///         if e.kind == EventKind::Retry {
///             retries.fetch_add(1, Ordering::Relaxed);
///         }
///     });
/// assert_eq!(fetch_user.operation_name(), Some("fetch_user"));
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[must_use = "a bound handle does nothing until a runner calls through it"]
pub struct Bound<'a, C, R, H = (), S = (), K = (), A = ()> {
    policy: &'a Policy<C, R>,
    operation: Option<&'a str>,
    hooks: H,
    sleeper: S,
    clock: K,
    async_hooks: A,
    seed: Option<u64>,
    capture_timeline: bool,
}

// Manual impls: the policy is only borrowed, so `C` and `R` need not be
// `Clone` for the handle to be.
impl<C, R, H: Clone, S: Clone, K: Clone, A: Clone> Clone for Bound<'_, C, R, H, S, K, A> {
    fn clone(&self) -> Self {
        Bound {
            policy: self.policy,
            operation: self.operation,
            hooks: self.hooks.clone(),
            sleeper: self.sleeper.clone(),
            clock: self.clock.clone(),
            async_hooks: self.async_hooks.clone(),
            seed: self.seed,
            capture_timeline: self.capture_timeline,
        }
    }
}

impl<C, R, H: Copy, S: Copy, K: Copy, A: Copy> Copy for Bound<'_, C, R, H, S, K, A> {}

impl<C, R, H: core::fmt::Debug, S: core::fmt::Debug, K: core::fmt::Debug, A: core::fmt::Debug>
    core::fmt::Debug for Bound<'_, C, R, H, S, K, A>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Bound")
            .field("operation", &self.operation)
            .field("hooks", &self.hooks)
            .field("sleeper", &self.sleeper)
            .field("clock", &self.clock)
            .field("async_hooks", &self.async_hooks)
            .field("seed", &self.seed)
            .field("capture_timeline", &self.capture_timeline)
            .finish_non_exhaustive()
    }
}

impl<C, R> Policy<C, R> {
    /// A handle for one call site with no hooks, the runner's sleeper and
    /// clock, and fresh randomness per call.
    pub fn bind(&self) -> Bound<'_, C, R> {
        Bound {
            policy: self,
            operation: None,
            hooks: (),
            sleeper: (),
            clock: (),
            async_hooks: (),
            seed: None,
            capture_timeline: false,
        }
    }

    /// Shorthand for `bind().operation(name)`.
    pub fn operation<'a>(&'a self, name: &'a str) -> Bound<'a, C, R> {
        self.bind().operation(name)
    }
}

impl<'a, C, R, H, S, K, A> Bound<'a, C, R, H, S, K, A> {
    /// Names the call site; the name is the `operation` tag of every event.
    /// Keep it low-cardinality (one name per call site).
    pub fn operation(mut self, name: &'a str) -> Self {
        self.operation = Some(name);
        self
    }

    /// Adds any [`Hooks`] implementation.
    pub fn hooks<H2: Hooks>(self, hooks: H2) -> Bound<'a, C, R, (H, H2), S, K, A> {
        Bound {
            policy: self.policy,
            operation: self.operation,
            hooks: (self.hooks, hooks),
            sleeper: self.sleeper,
            clock: self.clock,
            async_hooks: self.async_hooks,
            seed: self.seed,
            capture_timeline: self.capture_timeline,
        }
    }

    /// Calls `f` with every event.
    pub fn on_event<F: Fn(&Event<'_>)>(self, f: F) -> Bound<'a, C, R, (H, OnEvent<F>), S, K, A> {
        self.hooks(OnEvent(f))
    }

    /// The reference's metric hook: `f(event, attempt, delay, &tags)`.
    pub fn on_metric<F: Fn(&str, u32, Duration, &Tags<'_>)>(
        self,
        f: F,
    ) -> Bound<'a, C, R, (H, OnMetric<F>), S, K, A> {
        self.hooks(OnMetric(f))
    }

    /// The reference's log hook: `f(event, &fields)`.
    pub fn on_log<F: Fn(&str, &LogFields<'_, '_>)>(
        self,
        f: F,
    ) -> Bound<'a, C, R, (H, OnLog<F>), S, K, A> {
        self.hooks(OnLog(f))
    }

    /// Calls `f` before each attempt.
    pub fn on_attempt_start<F: Fn(&AttemptStart<'_>)>(
        self,
        f: F,
    ) -> Bound<'a, C, R, (H, OnAttemptStart<F>), S, K, A> {
        self.hooks(OnAttemptStart(f))
    }

    /// Calls `f` when each attempt's fate is decided.
    pub fn on_attempt_end<F: Fn(&AttemptEnd<'_>)>(
        self,
        f: F,
    ) -> Bound<'a, C, R, (H, OnAttemptEnd<F>), S, K, A> {
        self.hooks(OnAttemptEnd(f))
    }

    /// Calls `f` once per call, when it ends (success, any stop, or
    /// cancellation); see [`CallEnd`](crate::CallEnd).
    pub fn on_call_end<F: Fn(&CallEnd<'_>)>(
        self,
        f: F,
    ) -> Bound<'a, C, R, (H, OnCallEnd<F>), S, K, A> {
        self.hooks(OnCallEnd(f))
    }

    /// Stops the call with `ABORTED` when `f` returns `true` (checked before
    /// each attempt, after each failure and after each retry decision).
    pub fn abort_if<F: Fn() -> bool>(self, f: F) -> Bound<'a, C, R, (H, AbortIf<F>), S, K, A> {
        self.hooks(AbortIf(f))
    }

    /// Decides, for each retry, whether to sleep, defer the retry to the
    /// caller, or abort.
    pub fn sleep_decision<F: Fn(&BackoffContext<'_>, Duration) -> SleepDecision>(
        self,
        f: F,
    ) -> Bound<'a, C, R, (H, DecideSleep<F>), S, K, A> {
        self.hooks(DecideSleep(f))
    }

    /// Calls `f` just before each sleep.
    pub fn before_sleep<F: Fn(&BackoffContext<'_>, Duration)>(
        self,
        f: F,
    ) -> Bound<'a, C, R, (H, BeforeSleep<F>), S, K, A> {
        self.hooks(BeforeSleep(f))
    }

    /// An async sleep decision hook (async runners only): `async |ctx, delay|
    /// -> SleepDecision`.
    pub fn sleep_decision_async<F>(self, f: F) -> Bound<'a, C, R, H, S, K, (A, AsyncDecideSleep<F>)>
    where
        F: AsyncFn(&BackoffContext<'_>, Duration) -> SleepDecision,
    {
        self.with_async_hooks(AsyncDecideSleep(f))
    }

    /// An async hook run just before each sleep (async runners only).
    pub fn before_sleep_async<F>(self, f: F) -> Bound<'a, C, R, H, S, K, (A, AsyncBeforeSleep<F>)>
    where
        F: AsyncFn(&BackoffContext<'_>, Duration),
    {
        self.with_async_hooks(AsyncBeforeSleep(f))
    }

    /// Adds any [`AsyncHooks`] implementation (async runners only).
    pub fn with_async_hooks<A2: AsyncHooks>(self, hooks: A2) -> Bound<'a, C, R, H, S, K, (A, A2)> {
        Bound {
            policy: self.policy,
            operation: self.operation,
            hooks: self.hooks,
            sleeper: self.sleeper,
            clock: self.clock,
            async_hooks: (self.async_hooks, hooks),
            seed: self.seed,
            capture_timeline: self.capture_timeline,
        }
    }

    /// The async hooks.
    pub fn async_hooks_ref(&self) -> &A {
        &self.async_hooks
    }

    /// Sleeps with `sleeper` instead of the runner's own.
    pub fn sleeper<S2>(self, sleeper: S2) -> Bound<'a, C, R, H, Custom<S2>, K, A> {
        Bound {
            policy: self.policy,
            operation: self.operation,
            hooks: self.hooks,
            sleeper: Custom(sleeper),
            clock: self.clock,
            async_hooks: self.async_hooks,
            seed: self.seed,
            capture_timeline: self.capture_timeline,
        }
    }

    /// Reads time from `clock` instead of the runner's own.
    pub fn clock<K2>(self, clock: K2) -> Bound<'a, C, R, H, S, Custom<K2>, A> {
        Bound {
            policy: self.policy,
            operation: self.operation,
            hooks: self.hooks,
            sleeper: self.sleeper,
            clock: Custom(clock),
            async_hooks: self.async_hooks,
            seed: self.seed,
            capture_timeline: self.capture_timeline,
        }
    }

    /// Seeds the jitter: every call through this handle then draws the same
    /// delays for the same failures. For tests and reproductions: in
    /// production leave it unset, or calls that fail together retry
    /// together, which is what jitter exists to prevent.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Records every event of each call in [`Outcome::timeline`](crate::Outcome::timeline).
    #[cfg(feature = "alloc")]
    pub fn capture_timeline(mut self) -> Self {
        self.capture_timeline = true;
        self
    }

    /// Whether each call records a timeline.
    pub fn captures_timeline(&self) -> bool {
        self.capture_timeline
    }

    /// The policy.
    pub fn policy(&self) -> &'a Policy<C, R> {
        self.policy
    }

    /// The operation name.
    pub fn operation_name(&self) -> Option<&'a str> {
        self.operation
    }

    /// The hooks.
    pub fn hooks_ref(&self) -> &H {
        &self.hooks
    }

    /// The sleeper (`()` for the runner's own).
    pub fn sleeper_ref(&self) -> &S {
        &self.sleeper
    }

    /// The clock (`()` for the runner's own).
    pub fn clock_ref(&self) -> &K {
        &self.clock
    }

    /// The generator for one call: seeded when [`seed`](Self::seed) was set,
    /// fresh otherwise.
    pub fn rng(&self) -> FastRng {
        match self.seed {
            Some(seed) => FastRng::seeded(seed),
            None => FastRng::new(),
        }
    }
}

/// What a runner needs of a call site: the policy, the hooks, the
/// operation name, the randomness and whether to capture a timeline.
///
/// [`Bound`] is a call site; so is a [`Policy`] itself (no hooks, no name,
/// fresh randomness per call). Runners are written against this trait, so
/// both run without building one from the other.
pub trait CallSite<C, R> {
    /// The call site's hooks.
    type Hooks: Hooks;
    /// The call site's async hooks (`()` when it has none).
    type AsyncHooks: AsyncHooks;

    /// The policy.
    fn policy(&self) -> &Policy<C, R>;
    /// The hooks.
    fn hooks(&self) -> &Self::Hooks;
    /// The async hooks.
    fn async_hooks(&self) -> &Self::AsyncHooks;
    /// The operation name, the `operation` tag of every event.
    fn operation_name(&self) -> Option<&str>;
    /// The generator for one call.
    fn rng(&self) -> FastRng;
    /// Whether each call records a timeline.
    fn captures_timeline(&self) -> bool;
}

impl<C, R, H: Hooks, S, K, A: AsyncHooks> CallSite<C, R> for Bound<'_, C, R, H, S, K, A> {
    type Hooks = H;
    type AsyncHooks = A;

    #[inline]
    fn policy(&self) -> &Policy<C, R> {
        self.policy
    }
    #[inline]
    fn hooks(&self) -> &H {
        &self.hooks
    }
    #[inline]
    fn async_hooks(&self) -> &A {
        &self.async_hooks
    }
    #[inline]
    fn operation_name(&self) -> Option<&str> {
        self.operation
    }
    #[inline]
    fn rng(&self) -> FastRng {
        Bound::rng(self)
    }
    #[inline]
    fn captures_timeline(&self) -> bool {
        self.capture_timeline
    }
}

impl<C, R> CallSite<C, R> for Policy<C, R> {
    type Hooks = ();
    type AsyncHooks = ();

    #[inline]
    fn policy(&self) -> &Policy<C, R> {
        self
    }
    #[inline]
    fn hooks(&self) -> &() {
        &()
    }
    #[inline]
    fn async_hooks(&self) -> &() {
        &()
    }
    #[inline]
    fn operation_name(&self) -> Option<&str> {
        None
    }
    #[inline]
    fn rng(&self) -> FastRng {
        FastRng::new()
    }
    #[inline]
    fn captures_timeline(&self) -> bool {
        false
    }
}

impl<'a, C, R, H: Hooks, S, K, A: AsyncHooks> Bound<'a, C, R, H, S, K, A> {
    /// One call at `now`, not begun yet: call [`Execution::begin`] for its
    /// first action. Runners that keep the (large) execution in place use
    /// this rather than [`start`](Self::start).
    #[inline]
    pub fn execution<T, E>(&self, now: Duration) -> Execution<'_, C, R, H, T, E> {
        Execution::new(self, now)
    }

    /// Starts one call at `now`: the engine's state machine and its first
    /// action. Runners drive it; see [`Execution`].
    #[inline]
    pub fn start<T, E>(&self, now: Duration) -> (Execution<'_, C, R, H, T, E>, Action) {
        let mut exec = Execution::new(self, now);
        let action = exec.begin(now);
        (exec, action)
    }
}
