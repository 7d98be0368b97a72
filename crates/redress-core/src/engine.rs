//! The sans-I/O engine: every retry decision, in one place.
//!
//! An [`Execution`] is one call's state machine. A runner feeds it facts
//! (the clock's `now`, each attempt's result) and does what it answers;
//! it holds no decision of its own:
//!
//! ```text
//! let mut exec = site.execution(clock.now());
//! let mut action = exec.begin(clock.now());
//! loop {
//!     action = match action {
//!         // Run the operation; cancel it at `attempt.time_limit()` if you can.
//!         Action::Attempt(attempt) => match run(operation, attempt.time_limit()) {
//!             Some(result) => exec.record(result, &clock, &mut rng),
//!             None => exec.record_timeout(clock.now(), &mut rng),
//!         },
//!         // Run the call site's sleep hooks, then report their decision.
//!         Action::SleepHooks => {
//!             let decision = exec.pending_sleep().run_hooks_blocking();
//!             exec.sleep_decided(decision, clock.now())
//!         }
//!         // Sleep exactly this long (already cut to the deadline).
//!         Action::Sleep(delay) => {
//!             sleep(delay);
//!             exec.resume(clock.now())
//!         }
//!         Action::Done => break exec.finish(),
//!     };
//! }
//! ```
//!
//! The blocking runner, the one async runner (every runtime) and `redress
//! simulate` are all that loop; they differ only in how they call, cancel,
//! sleep and read time. The engine never allocates (unless a timeline is
//! captured), never locks, and never panics.
//!
//! # Decision order
//!
//! When attempt `n` fails (an error, or a value the result classifier flags),
//! the first matching rule decides, exactly as the reference does:
//!
//! 1. the failure is recorded (last class, cause);
//! 2. the class's count goes up; over its cap: stop `MAX_ATTEMPTS_PER_CLASS`;
//! 3. `PERMANENT`, `AUTH`, `PERMISSION`: stop `NON_RETRYABLE_CLASS`;
//! 4. `UNKNOWN`: the unknown count goes up; over its cap: stop
//!    `MAX_UNKNOWN_ATTEMPTS`;
//! 5. elapsed > deadline: stop `DEADLINE_EXCEEDED`;
//! 6. no strategy for the class: stop `NO_STRATEGY`;
//! 7. no time left: stop `DEADLINE_EXCEEDED`;
//! 8. `n >= max_attempts`: stop `MAX_ATTEMPTS_GLOBAL` (no delay is computed);
//!    with [`stop_when_retry_after_exceeds_deadline`](crate::PolicyBuilder::stop_when_retry_after_exceeds_deadline),
//!    a retry-after hint longer than the time left, for a strategy that
//!    honours hints: stop `RETRY_AFTER_BEYOND_DEADLINE`;
//! 9. the strategy's delay, clamped to the time left;
//! 10. then the `retry` event, the abort check, and the sleep hooks (sleep,
//!     defer: stop `SCHEDULED`, or abort: stop `ABORTED`).
//!
//! The abort check also runs before every attempt and after every failure.
//! After a sleep (or after sleep hooks that took time), a call whose
//! deadline passed stops with `DEADLINE_EXCEEDED`.
//!
//! # Time limits
//!
//! Each [`Action::Attempt`] carries the attempt's [`Attempt::time_limit`]:
//! the policy's attempt timeout, never past the deadline. Runners that can
//! cancel an attempt (the async one) cancel it there and report
//! [`Execution::record_timeout`]; one cut by the attempt timeout is a
//! `TRANSIENT` failure that goes through the rules above, one cut by the
//! deadline stops the call with `DEADLINE_EXCEEDED`. So an async call never
//! ends later than its deadline plus its timer's resolution. Runners that
//! cannot cancel (the blocking one) hand the limit to the operation.
//!
//! # Hooks
//!
//! Observing hooks (`on_event`, `on_attempt_start`, `on_attempt_end`,
//! `on_call_end`) and the abort check run inside the engine. Sleep hooks
//! (`decide_sleep`, `before_sleep`, sync and async) may take time, so the
//! engine asks the runner to run them ([`Action::SleepHooks`]) and is told
//! the time afterwards; it then cuts the sleep to the time left. Their order
//! is fixed by [`PendingSleep::run_hooks`]: the synchronous sleep
//! decision, the async one, then (when the decision is to sleep) the
//! synchronous before-sleep hook and the async one. `on_attempt_end` runs
//! once per attempt, when its fate is certain (for a retried attempt that
//! is after the sleep, as in the reference); `on_call_end` runs once per
//! call, last, also when the call is dropped before it ends.

use core::time::Duration;

use rand_core::Rng;

use crate::asynchronous::AsyncHooks;
use crate::backoff::{BackoffContext, Observation, Strategy};
use crate::bind::CallSite;
#[cfg(target_has_atomic = "64")]
use crate::breaker::{Admission, Breaker, CallResult, Transition};
use crate::class::{Cause, Classification, ErrorClass, PerClass};
use crate::classify::{Classifier, ResultClassifier, short_type_name};
#[cfg(target_has_atomic = "64")]
use crate::event::CircuitState;
use crate::event::{Event, EventKind, StopReason};
use crate::hooks::{
    AttemptDecision, AttemptEnd, AttemptStart, CallEnd, CallStatus, Hooks, SleepDecision,
};
use crate::outcome::{Failure, Outcome};
use crate::policy::{Policy, RetryConfig};
use crate::time::Clock;

/// The `err` tag of errors of type `E`: its short type name.
fn error_type_name<E>() -> &'static str {
    short_type_name(core::any::type_name::<E>())
}

/// The attempt about to run, as a runner and the operation may want to know
/// it.
///
/// ```
/// use core::time::Duration;
/// use redress_core::Attempt;
///
/// fn io_timeout(attempt: &Attempt) -> Duration {
///     // Never wait longer than the attempt may run, or than the call has left.
///     attempt.time_limit().min(Duration::from_secs(10))
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Attempt {
    /// The attempt's number (1-based).
    pub number: u32,
    /// Time left before the call's deadline, when the attempt starts.
    pub remaining: Duration,
    /// The policy's attempt timeout, if it has one.
    pub timeout: Option<Duration>,
}

impl Attempt {
    /// An attempt description (for runners' and operations' tests).
    pub const fn new(number: u32, remaining: Duration, timeout: Option<Duration>) -> Self {
        Attempt {
            number,
            remaining,
            timeout,
        }
    }

    /// The longest this attempt may run: the attempt timeout, if any, and
    /// never past the deadline. Every runner uses this same number.
    #[inline]
    pub fn time_limit(&self) -> Duration {
        match self.timeout {
            Some(t) => t.min(self.remaining),
            None => self.remaining,
        }
    }

    /// Whether the deadline, not the attempt timeout, sets the
    /// [`time_limit`](Self::time_limit): an attempt cut there ends the call.
    #[inline]
    pub fn limited_by_deadline(&self) -> bool {
        self.timeout.is_none_or(|t| self.remaining <= t)
    }
}

/// What the runner should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub enum Action {
    /// Run the operation once, then pass its result to
    /// [`Execution::record`]. A runner that can cancel the attempt cancels
    /// it at [`Attempt::time_limit`] and calls
    /// [`Execution::record_timeout`] instead.
    Attempt(Attempt),
    /// Run the call site's sleep hooks for the pending retry
    /// ([`Execution::pending_sleep`], then
    /// [`run_hooks`](PendingSleep::run_hooks), or
    /// [`run_hooks_blocking`](PendingSleep::run_hooks_blocking) without
    /// async hooks), then pass their decision and the time to
    /// [`Execution::sleep_decided`].
    SleepHooks,
    /// Sleep exactly this long (already cut to the deadline; never zero),
    /// then call [`Execution::resume`].
    Sleep(Duration),
    /// The call is over: collect it with [`Execution::finish`].
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Created; [`Execution::begin`] not called yet.
    Created,
    Attempting,
    /// Waiting for the runner to run the sleep hooks.
    Deciding,
    Sleeping,
    Done,
}

/// How a runner reports a finished call: the whole [`Outcome`]
/// ([`ToOutcome`], for `execute`) or the value or a
/// [`RetryError`](crate::RetryError) ([`ToResult`], for `call`). The report
/// also says whether a success needs its `elapsed` measured: `call` drops
/// it, so a success nobody observes reads no clock.
pub trait Report<T, E> {
    /// What the runner returns.
    type Output;
    /// Whether the outcome of a success reports a measured `elapsed`.
    const MEASURES_SUCCESS: bool;
    /// Ends the call and reports it.
    fn report<C, R, H: Hooks>(exec: &mut Execution<'_, C, R, H, T, E>) -> Self::Output;
}

/// Ends a call with its whole [`Outcome`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ToOutcome;

/// Ends a call with its value, or a [`RetryError`](crate::RetryError).
#[derive(Clone, Copy, Debug, Default)]
pub struct ToResult;

impl<T, E> Report<T, E> for ToOutcome {
    type Output = Outcome<T, E>;
    const MEASURES_SUCCESS: bool = true;

    #[inline(always)]
    fn report<C, R, H: Hooks>(exec: &mut Execution<'_, C, R, H, T, E>) -> Outcome<T, E> {
        exec.take_outcome()
    }
}

impl<T, E> Report<T, E> for ToResult {
    type Output = Result<T, crate::outcome::RetryError<E, T>>;
    const MEASURES_SUCCESS: bool = false;

    #[inline(always)]
    fn report<C, R, H: Hooks>(exec: &mut Execution<'_, C, R, H, T, E>) -> Self::Output {
        exec.take_result()
    }
}

/// What the call has learned from its failures: nothing exists before the
/// first one, so a call that succeeds at once never builds it.
#[derive(Clone, Debug)]
struct Failures {
    per_class: PerClass<u32>,
    unknown: u32,
    /// The last failure's classification and cause.
    last: Classification,
    cause: Cause,
    /// The class whose strategy decided the last delay, told of a success.
    strategy_class: Option<ErrorClass>,
    prev_delay: Option<Duration>,
    /// The previous delay as the strategy saw it when deciding the pending one.
    decided_prev: Option<Duration>,
    /// The `err` tag of the last failure caused by an error, looked up only
    /// when an event needs it.
    error_type: Option<fn() -> &'static str>,
}

impl Failures {
    #[inline]
    fn new(last: Classification, cause: Cause) -> Self {
        Failures {
            per_class: PerClass::default(),
            unknown: 0,
            last,
            cause,
            strategy_class: None,
            prev_delay: None,
            decided_prev: None,
            error_type: None,
        }
    }

    /// Rules 2 to 9 of the decision order, for attempt `attempt` (rule 1,
    /// remembering the failure, is [`Execution::remember`]).
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        retry: &RetryConfig,
        classification: &Classification,
        cause: Cause,
        attempt: u32,
        elapsed: Duration,
        now: Duration,
        rng: &mut dyn Rng,
    ) -> Result<Duration, (StopReason, Option<Duration>)> {
        let class = classification.class;
        let count = self.per_class.get_mut(class);
        *count = count.saturating_add(1);
        if let Some(cap) = retry.class_max_attempts(class) {
            if *count > cap {
                return Err((StopReason::MaxAttemptsPerClass, None));
            }
        }

        if !class.is_retryable() {
            return Err((StopReason::NonRetryableClass, None));
        }

        if class == ErrorClass::Unknown {
            self.unknown = self.unknown.saturating_add(1);
            if let Some(cap) = retry.max_unknown_attempts() {
                if self.unknown > cap {
                    return Err((StopReason::MaxUnknownAttempts, None));
                }
            }
        }

        if elapsed > retry.deadline() {
            return Err((StopReason::DeadlineExceeded, None));
        }

        let Some(strategy) = retry.strategy_for(class) else {
            return Err((StopReason::NoStrategy, None));
        };
        strategy.observe(Observation::Failure(class), now);
        self.strategy_class = Some(class);

        let remaining = retry.deadline().saturating_sub(elapsed);
        if remaining.is_zero() {
            return Err((StopReason::DeadlineExceeded, None));
        }

        if attempt >= retry.max_attempts() {
            return Err((StopReason::MaxAttemptsGlobal, None));
        }

        if retry.stops_when_retry_after_exceeds_deadline() {
            if let (Some(hint), Some(_)) =
                (classification.retry_after, strategy.retry_after_jitter())
            {
                if hint > remaining {
                    return Err((StopReason::RetryAfterBeyondDeadline, Some(hint)));
                }
            }
        }

        let ctx = BackoffContext {
            attempt,
            classification,
            prev_delay: self.prev_delay,
            remaining,
            cause,
            now,
        };
        let delay = strategy.delay(&ctx, rng).min(remaining);

        #[cfg(target_has_atomic = "64")]
        if let Some(budget) = retry.budget() {
            if !budget.try_withdraw(now) {
                return Err((StopReason::BudgetExhausted, None));
            }
        }

        self.decided_prev = self.prev_delay;
        self.prev_delay = Some(delay);
        Ok(delay)
    }
}

/// What the call holds of its operation's results: the value it succeeded
/// with, or its last failure.
enum Held<T, E> {
    Nothing,
    Value(T),
    Error(E),
    Flagged(T),
    TimedOut(Duration),
}

/// A retry waiting for its sleep hooks, from
/// [`Execution::pending_sleep`]: the context the strategy saw (its
/// `remaining` and `now` as of the decision), the delay, and the call
/// site's hooks, which [`run_hooks`](Self::run_hooks) runs in the engine's
/// order.
///
/// It borrows only the hooks and the failure's classification, so a
/// runner's future that awaits async hooks stays `Send` whenever the hooks
/// are `Sync`.
#[derive(Debug)]
pub struct PendingSleep<'e, H> {
    hooks: &'e H,
    pending: Option<(BackoffContext<'e>, Duration)>,
}

impl<H: Hooks> PendingSleep<'_, H> {
    /// The context the strategy saw, and the delay it chose (`None` when
    /// no retry is waiting for its hooks).
    pub fn context(&self) -> Option<(&BackoffContext<'_>, Duration)> {
        self.pending.as_ref().map(|(ctx, delay)| (ctx, *delay))
    }

    /// Runs the synchronous sleep hooks: the sleep decision, then, when it
    /// is to sleep, the before-sleep hook. For call sites without async
    /// hooks (the blocking runner).
    pub fn run_hooks_blocking(self) -> SleepDecision {
        let Some((ctx, delay)) = self.pending else {
            return SleepDecision::Sleep;
        };
        let decision = self.hooks.decide_sleep(&ctx, delay);
        if decision == SleepDecision::Sleep {
            self.hooks.before_sleep(&ctx, delay);
        }
        decision
    }

    /// Runs every sleep hook of the call site in the engine's order: the
    /// synchronous sleep decision, then the async one (the first that is
    /// not `Sleep` wins), then, when it is to sleep, the synchronous
    /// before-sleep hook and the async one.
    #[allow(clippy::manual_async_fn)] // an `async fn` would hold `self` twice
    pub fn run_hooks<A: AsyncHooks>(self, async_hooks: &A) -> impl Future<Output = SleepDecision> {
        // An `async` block keeps the pending retry once, where an `async fn`
        // would hold it twice; the context is borrowed from it, not copied.
        async move {
            let Some((ctx, delay)) = &self.pending else {
                return SleepDecision::Sleep;
            };
            let mut decision = self.hooks.decide_sleep(ctx, *delay);
            if decision == SleepDecision::Sleep {
                decision = async_hooks.decide_sleep(ctx, *delay).await;
            }
            if decision == SleepDecision::Sleep {
                self.hooks.before_sleep(ctx, *delay);
                async_hooks.before_sleep(ctx, *delay).await;
            }
            decision
        }
    }
}

/// One call in progress: the engine's state machine.
///
/// Runners create it with [`Bound::execution`](crate::Bound::execution) (or
/// [`Execution::new`] at any [`CallSite`]) and drive it as the
/// [module docs](self) show. `T` and `E` are the operation's value and
/// error types; the execution keeps the last error or flagged value so
/// [`finish`](Execution::finish) can hand it back.
///
/// Its state is small and built lazily: what a call learns from failures
/// exists only after the first one, and a call that succeeds at once with
/// nobody watching does no more than admit it, count the attempt and keep
/// the value.
///
/// Dropping an execution before the call ended (a dropped future, a
/// panic) ends the call as [`CallStatus::Cancelled`]: `on_call_end` runs
/// and a half-open breaker probe it held is released.
pub struct Execution<'a, C, R, H: Hooks, T, E> {
    policy: &'a Policy<C, R>,
    hooks: &'a H,
    operation: Option<&'a str>,
    /// Boxed: only calls that capture a timeline pay for its size.
    #[cfg(feature = "alloc")]
    recorder: Option<alloc::boxed::Box<crate::timeline::Recorder>>,
    /// The breaker's admission of this call, until its outcome is recorded.
    #[cfg(target_has_atomic = "64")]
    admission: Option<Admission>,
    start: Duration,
    /// The latest time the engine was told; during an attempt, when it
    /// started.
    now: Duration,
    next_delay: Option<Duration>,
    failures: Option<Failures>,
    held: Held<T, E>,
    attempt: u32,
    phase: Phase,
    stop: Option<StopReason>,
    /// The call site has async sleep hooks: the engine asks for
    /// [`Action::SleepHooks`] even when its synchronous hooks have none.
    async_sleep_hooks: bool,
    /// Whether a success reads the time for the outcome's `elapsed` even
    /// when nothing else needs it.
    measure_success: bool,
    /// Whether `on_call_end` ran.
    ended: bool,
}

impl<C, R, H: Hooks, T, E> core::fmt::Debug for Execution<'_, C, R, H, T, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Execution")
            .field("operation", &self.operation)
            .field("attempt", &self.attempt)
            .field("phase", &self.phase)
            .field("stop_reason", &self.stop)
            .finish_non_exhaustive()
    }
}

impl<C, R, H: Hooks, T, E> Drop for Execution<'_, C, R, H, T, E> {
    #[inline]
    fn drop(&mut self) {
        if !self.ended && self.phase != Phase::Created {
            self.cancel();
        }
    }
}

impl<'a, C, R, H: Hooks, T, E> Execution<'a, C, R, H, T, E> {
    /// One call at `site`, starting at `now`, not begun yet: call
    /// [`begin`](Self::begin) for its first action.
    #[inline]
    pub fn new<Site>(site: &'a Site, now: Duration) -> Self
    where
        Site: CallSite<C, R, Hooks = H> + ?Sized,
    {
        Execution {
            policy: site.policy(),
            hooks: site.hooks(),
            operation: site.operation_name(),
            #[cfg(feature = "alloc")]
            recorder: if site.captures_timeline() {
                Some(alloc::boxed::Box::default())
            } else {
                None
            },
            #[cfg(target_has_atomic = "64")]
            admission: None,
            start: now,
            now,
            next_delay: None,
            failures: None,
            held: Held::Nothing,
            attempt: 0,
            phase: Phase::Created,
            stop: None,
            async_sleep_hooks: <Site::AsyncHooks as AsyncHooks>::SLEEP_HOOKS,
            measure_success: true,
            ended: false,
        }
    }

    #[inline]
    fn retry(&self) -> &'a RetryConfig {
        self.policy.retry()
    }

    /// Whether a call that succeeds reads the time for its outcome's
    /// `elapsed` (the default). Runners whose caller discards the outcome
    /// of a success (`call` returns only the value) turn it off: a success
    /// that nothing observes is then recorded without a clock reading, and
    /// its outcome's `elapsed` is not measured.
    #[inline]
    pub fn measure_success(&mut self, measure: bool) {
        self.measure_success = measure;
    }

    /// The first action of the call: the breaker's admission, then the
    /// first attempt. Calling it again has no effect beyond returning the
    /// current action.
    #[inline(always)]
    pub fn begin(&mut self, now: Duration) -> Action {
        if self.phase != Phase::Created {
            return self.current_action();
        }
        self.now = now;
        #[cfg(target_has_atomic = "64")]
        if let Some(breaker) = self.policy.circuit_breaker() {
            if let Some(rejected) = self.admit(breaker, now) {
                return rejected;
            }
        }
        #[cfg(target_has_atomic = "64")]
        if let Some(budget) = self.retry().budget() {
            budget.on_call(now);
        }
        self.begin_attempt(now)
    }

    /// Asks the breaker to admit the call; `Some(Action::Done)` when it
    /// refuses.
    #[cfg(target_has_atomic = "64")]
    #[cold]
    fn admit(&mut self, breaker: &(dyn Breaker + Send + Sync), now: Duration) -> Option<Action> {
        match breaker.acquire(now) {
            Err(rejected) => {
                self.stop = Some(StopReason::CircuitOpen);
                self.next_delay = rejected.retry_in;
                self.phase = Phase::Done;
                let mut event = Event::new(EventKind::CircuitRejected, 0);
                event.state = Some(rejected.state);
                self.emit(event, now);
                Some(Action::Done)
            }
            Ok(admission) => {
                if let Some(transition) = admission.transition {
                    self.emit_transition(transition, now);
                }
                self.admission = Some(admission);
                None
            }
        }
    }

    /// Whether recording a success needs the current time: the outcome
    /// reports `elapsed`, hooks observe the call, a timeline is recorded, a
    /// strategy learns from the success, or a breaker records it.
    #[inline]
    fn success_needs_time(&self) -> bool {
        #[cfg(target_has_atomic = "64")]
        if self.admission.is_some() {
            return true;
        }
        self.measure_success || self.observed() || self.failures.is_some()
    }

    /// The attempts started so far.
    #[inline]
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The operation name.
    pub fn operation(&self) -> Option<&'a str> {
        self.operation
    }

    /// Time since the call started.
    #[inline]
    pub fn elapsed(&self, now: Duration) -> Duration {
        now.saturating_sub(self.start)
    }

    /// The time left before the deadline.
    #[inline]
    pub fn remaining(&self, now: Duration) -> Duration {
        self.retry().deadline().saturating_sub(self.elapsed(now))
    }

    /// Feeds the result of the attempt the engine asked for, with the
    /// runner's `clock` (any [`Clock`]; a `Duration` is a clock stopped at
    /// that reading).
    ///
    /// Errors are classified with the policy's classifier, successful values
    /// with its result classifier. The clock is read once, unless the
    /// result is a success that nothing needs the time of (see
    /// [`measure_success`](Self::measure_success)). Called when no attempt
    /// is pending, it changes nothing and returns the current action.
    #[inline]
    pub fn record(&mut self, result: Result<T, E>, clock: impl Clock, rng: &mut dyn Rng) -> Action
    where
        C: Classifier<E>,
        R: ResultClassifier<T>,
    {
        if self.phase != Phase::Attempting {
            return self.current_action();
        }
        match result {
            Ok(value) => match self.policy.result_classifier().classify(&value) {
                None => {
                    if self.success_needs_time() {
                        self.now = clock.now();
                    }
                    self.succeed(value)
                }
                Some(classification) => {
                    self.held = Held::Flagged(value);
                    self.fail(&classification, Cause::Result, None, clock.now(), rng)
                }
            },
            Err(error) => {
                let classification = self.policy.classifier().classify(&error);
                self.held = Held::Error(error);
                let error_type = Some(error_type_name::<E> as fn() -> &'static str);
                self.fail(&classification, Cause::Error, error_type, clock.now(), rng)
            }
        }
    }

    /// The attempt now running, as the last [`Action::Attempt`] described
    /// it (number 0 before the first).
    #[inline]
    pub fn attempt(&self) -> Attempt {
        Attempt::new(
            self.attempt,
            self.remaining(self.now),
            self.retry().attempt_timeout(),
        )
    }

    /// When the current attempt started, on the runner's clock: with
    /// [`Attempt::time_limit`], when a runner that can cancel it must.
    #[inline]
    pub fn attempt_started(&self) -> Duration {
        self.now
    }

    /// Feeds an attempt the runner cancelled at its
    /// [`time_limit`](Attempt::time_limit), reported as
    /// [`Failure::TimedOut`] with the `err` tag `TimeoutError`.
    ///
    /// Cut by the attempt timeout, it is a `TRANSIENT` failure that goes
    /// through the decision order (the reference hands its `TimeoutError`
    /// to the classifier, which the default classifier maps to `TRANSIENT`;
    /// here the timeout is not a value of the operation's error type, so
    /// the classifier cannot see it). Cut by the deadline, the call stops
    /// with `DEADLINE_EXCEEDED`.
    pub fn record_timeout(&mut self, now: Duration, rng: &mut dyn Rng) -> Action {
        if self.phase != Phase::Attempting {
            return self.current_action();
        }
        let attempt = self.attempt();
        self.held = Held::TimedOut(attempt.time_limit());
        let timed_out = Classification::new(ErrorClass::Transient);
        let error_type = Some((|| "TimeoutError") as fn() -> &'static str);
        if attempt.limited_by_deadline() {
            self.now = now;
            self.remember(&timed_out, Cause::Error, error_type);
            if self.hooks.should_abort() {
                self.abort(now);
            } else {
                self.stop_after_failure(StopReason::DeadlineExceeded, now);
            }
            return Action::Done;
        }
        self.fail(&timed_out, Cause::Error, error_type, now, rng)
    }

    /// Feeds a failure the runner classified itself, with the error to keep
    /// as the last one.
    pub fn record_failure(
        &mut self,
        error: E,
        classification: &Classification,
        now: Duration,
        rng: &mut dyn Rng,
    ) -> Action {
        if self.phase != Phase::Attempting {
            return self.current_action();
        }
        self.held = Held::Error(error);
        let error_type = Some(error_type_name::<E> as fn() -> &'static str);
        self.fail(classification, Cause::Error, error_type, now, rng)
    }

    /// The retry the engine waits on while it asks for
    /// [`Action::SleepHooks`]: its context and delay, and the call site's
    /// hooks to run for it.
    pub fn pending_sleep(&self) -> PendingSleep<'_, H> {
        let pending = match (self.phase, self.failures.as_ref()) {
            (Phase::Deciding, Some(f)) => Some((
                BackoffContext {
                    attempt: self.attempt,
                    classification: &f.last,
                    prev_delay: f.decided_prev,
                    remaining: self.remaining(self.now),
                    cause: f.cause,
                    now: self.now,
                },
                f.prev_delay.unwrap_or_default(),
            )),
            _ => None,
        };
        PendingSleep {
            hooks: self.hooks,
            pending,
        }
    }

    /// Continues after the sleep hooks ran, with their decision and the
    /// time: `Sleep` sleeps what is left of the delay before the deadline,
    /// `Defer` stops with `SCHEDULED`, `Abort` with `ABORTED`.
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::backoff::constant;
    /// use redress_core::{Action, Clock, ErrorClass, FastRng, ManualClock, Policy};
    ///
    /// let policy = Policy::builder()
    ///     .classifier(|_: &&str| ErrorClass::Transient)
    ///     .strategy(constant(Duration::from_secs(4)))
    ///     .deadline(Duration::from_secs(5))
    ///     .build()?;
    /// let clock = ManualClock::new();
    /// // A before-sleep hook that takes 3 s.
    /// let site = policy.bind().before_sleep(|_, _| clock.advance(Duration::from_secs(3)));
    /// let mut rng = FastRng::seeded(1);
    /// let (mut exec, action) = site.start::<(), &str>(clock.now());
    /// assert!(matches!(action, Action::Attempt(_)));
    /// let action = exec.record(Err("busy"), &clock, &mut rng);
    /// assert_eq!(action, Action::SleepHooks);
    /// let decision = exec.pending_sleep().run_hooks_blocking();
    /// // The hook took 3 s of the 5 s deadline: 2 s of the 4 s delay are left.
    /// let action = exec.sleep_decided(decision, clock.now());
    /// assert_eq!(action, Action::Sleep(Duration::from_secs(2)));
    /// # Ok::<(), redress_core::ConfigError>(())
    /// ```
    pub fn sleep_decided(&mut self, decision: SleepDecision, now: Duration) -> Action {
        if self.phase != Phase::Deciding {
            return self.current_action();
        }
        self.now = now;
        match decision {
            SleepDecision::Sleep => {
                if self.elapsed(now) > self.retry().deadline() {
                    // The hooks took the rest of the call.
                    self.stop_after_failure(StopReason::DeadlineExceeded, now);
                    return Action::Done;
                }
                self.sleep(now)
            }
            SleepDecision::Defer => {
                let delay = self.pending_delay();
                self.stop = Some(StopReason::Scheduled);
                self.next_delay = Some(delay);
                self.phase = Phase::Done;
                let mut event = self.failure_event(EventKind::Scheduled);
                event.delay = delay;
                event.stop_reason = Some(StopReason::Scheduled);
                self.emit(event, now);
                self.attempt_end(AttemptDecision::Scheduled, Some(delay), now);
                Action::Done
            }
            SleepDecision::Abort => {
                self.abort(now);
                Action::Done
            }
        }
    }

    /// Continues after the sleep the engine asked for.
    #[inline]
    pub fn resume(&mut self, now: Duration) -> Action {
        if self.phase != Phase::Sleeping {
            return self.current_action();
        }
        self.now = now;
        if self.elapsed(now) > self.retry().deadline() {
            self.stop_after_failure(StopReason::DeadlineExceeded, now);
            return Action::Done;
        }
        // The attempt that failed ends once its retry is certain: after the
        // sleep, as in the reference.
        if self.observed() {
            let delay = self.failures.as_ref().and_then(|f| f.prev_delay);
            self.attempt_end(AttemptDecision::Retry, delay, now);
        }
        self.begin_attempt(now)
    }

    /// Ends the call and reports it (at the latest time the engine was
    /// told). A call that is not done yet (its runner stopped driving it)
    /// reports the last failure with the stop reason `ABORTED`.
    pub fn finish(mut self) -> Outcome<T, E> {
        self.take_outcome()
    }

    /// Like [`finish`](Self::finish), in place: runners that keep the
    /// execution where it is (a pinned future) end the call with this. The
    /// execution is spent afterwards.
    #[inline(always)]
    pub fn take_outcome(&mut self) -> Outcome<T, E> {
        let result = self.conclude();
        #[cfg(feature = "alloc")]
        let timeline = self
            .recorder
            .take()
            .map(|recorder| recorder.into_timeline());
        let (last_class, cause) = self.last_failure(result.is_ok());
        Outcome {
            result,
            stop_reason: self.stop,
            attempts: self.attempt,
            last_class,
            cause,
            elapsed: self.elapsed(self.now),
            next_delay: self.next_delay,
            #[cfg(feature = "alloc")]
            timeline,
        }
    }

    /// Like [`take_outcome`](Self::take_outcome), as `call` reports it:
    /// the value, or a [`RetryError`](crate::RetryError).
    #[inline(always)]
    pub fn take_result(&mut self) -> Result<T, crate::outcome::RetryError<E, T>> {
        match self.conclude() {
            Ok(value) => Ok(value),
            Err(failure) => {
                let (last_class, cause) = self.last_failure(false);
                Err(crate::outcome::RetryError {
                    failure,
                    stop_reason: self.stop.unwrap_or(StopReason::Aborted),
                    attempts: self.attempt,
                    last_class,
                    cause,
                    elapsed: self.elapsed(self.now),
                    next_delay: self.next_delay,
                })
            }
        }
    }

    /// Ends the call (breaker record, `on_call_end`) and takes its result.
    #[inline(always)]
    fn conclude(&mut self) -> Result<T, Failure<E, T>> {
        if self.phase != Phase::Done && !self.ended {
            // Abandoned by its runner before the engine said it was done.
            self.stop = Some(StopReason::Aborted);
            self.phase = Phase::Done;
        }
        let result = match core::mem::replace(&mut self.held, Held::Nothing) {
            Held::Value(value) => Ok(value),
            Held::Error(error) => Err(Failure::Error(error)),
            Held::Flagged(value) => Err(Failure::Value(value)),
            Held::TimedOut(limit) => Err(Failure::TimedOut(limit)),
            Held::Nothing => Err(Failure::NotAttempted),
        };
        if result.is_ok() {
            self.stop = None;
        } else if self.stop.is_none() {
            self.stop = Some(StopReason::Aborted);
        }
        #[cfg(target_has_atomic = "64")]
        if self.admission.is_some() {
            self.record_in_breaker(result.is_ok());
        }
        if !self.ended {
            let status = match self.stop {
                None => CallStatus::Succeeded,
                Some(reason) => CallStatus::Stopped(reason),
            };
            self.end_call(status);
        }
        result
    }

    /// The class and cause of the last failure of a call that failed.
    #[inline]
    fn last_failure(&self, ok: bool) -> (Option<ErrorClass>, Option<Cause>) {
        match (ok, &self.failures) {
            (false, Some(f)) => (Some(f.last.class), Some(f.cause)),
            _ => (None, None),
        }
    }

    /// The call was dropped before it ended: its breaker admission counts
    /// neither way, and `on_call_end` says so.
    #[cold]
    fn cancel(&mut self) {
        #[cfg(target_has_atomic = "64")]
        if let (Some(admission), Some(breaker)) =
            (self.admission.take(), self.policy.circuit_breaker())
        {
            let _ = breaker.record(&admission, CallResult::Cancelled, self.now);
        }
        self.end_call(CallStatus::Cancelled);
    }

    /// Reports the end of the call, once.
    #[inline]
    fn end_call(&mut self, status: CallStatus) {
        self.ended = true;
        if self.observed() {
            self.report_end(status);
        }
    }

    #[cold]
    fn report_end(&self, status: CallStatus) {
        let last = match status {
            CallStatus::Succeeded => None,
            _ => self.failures.as_ref(),
        };
        let end = CallEnd {
            status,
            operation: self.operation,
            attempts: self.attempt,
            elapsed: self.elapsed(self.now),
            class: last.map(|f| f.last.class),
            cause: last.map(|f| f.cause),
            error_type: last.and_then(Failures::err_tag),
        };
        #[cfg(feature = "alloc")]
        if let Some(recorder) = &self.recorder {
            recorder.on_call_end(&end);
        }
        self.hooks.on_call_end(&end);
    }

    /// One record per call: success, cancellation (aborted), or a failure of
    /// the last class.
    #[cfg(target_has_atomic = "64")]
    #[cold]
    fn record_in_breaker(&mut self, succeeded: bool) {
        let (Some(admission), Some(breaker)) =
            (self.admission.take(), self.policy.circuit_breaker())
        else {
            return;
        };
        let result = if succeeded {
            CallResult::Success
        } else if matches!(self.stop, Some(StopReason::Aborted) | None) {
            CallResult::Cancelled
        } else {
            CallResult::Failure(
                self.failures
                    .as_ref()
                    .map_or(ErrorClass::Unknown, |f| f.last.class),
            )
        };
        if let Some(transition) = breaker.record(&admission, result, self.now) {
            self.emit_transition(transition, self.now);
        }
    }

    #[cfg(target_has_atomic = "64")]
    fn emit_transition(&self, transition: Transition, now: Duration) {
        let kind = match transition.to {
            CircuitState::Open => EventKind::CircuitOpened,
            CircuitState::HalfOpen => EventKind::CircuitHalfOpen,
            CircuitState::Closed => EventKind::CircuitClosed,
        };
        let mut event = Event::new(kind, 0);
        event.state = Some(transition.to);
        event.class = transition.class;
        self.emit(event, now);
    }

    /// Whether anything reads events and records: the hooks, a timeline, or
    /// `tracing`. When nothing does, none are built.
    #[inline]
    fn observed(&self) -> bool {
        H::OBSERVES || self.events_read()
    }

    /// Whether anything but the hooks reads events: a timeline, or `tracing`.
    #[inline]
    fn events_read(&self) -> bool {
        if cfg!(feature = "tracing") {
            return true;
        }
        #[cfg(feature = "alloc")]
        return self.recorder.is_some();
        #[cfg(not(feature = "alloc"))]
        return false;
    }

    /// The delay decided for the pending retry.
    #[inline]
    fn pending_delay(&self) -> Duration {
        self.failures
            .as_ref()
            .and_then(|f| f.prev_delay)
            .unwrap_or_default()
    }

    fn current_action(&self) -> Action {
        match self.phase {
            Phase::Attempting => Action::Attempt(self.attempt()),
            Phase::Deciding => Action::SleepHooks,
            Phase::Sleeping => Action::Sleep(self.pending_delay().min(self.remaining(self.now))),
            Phase::Created | Phase::Done => Action::Done,
        }
    }

    #[inline(always)]
    fn begin_attempt(&mut self, now: Duration) -> Action {
        if self.hooks.should_abort() {
            self.abort(now);
            return Action::Done;
        }
        self.attempt = self.attempt.saturating_add(1);
        self.phase = Phase::Attempting;
        let attempt = self.attempt();
        if self.observed() {
            self.report_start(&attempt, now);
        }
        Action::Attempt(attempt)
    }

    #[cold]
    fn report_start(&self, attempt: &Attempt, now: Duration) {
        let start = AttemptStart {
            attempt: attempt.number,
            operation: self.operation,
            elapsed: self.elapsed(now),
            time_limit: attempt.time_limit(),
        };
        #[cfg(feature = "alloc")]
        if let Some(recorder) = &self.recorder {
            recorder.on_attempt_start(&start);
        }
        self.hooks.on_attempt_start(&start);
    }

    #[inline]
    fn succeed(&mut self, value: T) -> Action {
        self.held = Held::Value(value);
        self.phase = Phase::Done;
        if self.failures.is_some() || self.observed() {
            self.report_success();
        }
        Action::Done
    }

    /// Tells the strategy that handled the last failure, and the observers.
    #[cold]
    fn report_success(&self) {
        let now = self.now;
        if let Some(strategy) = self
            .failures
            .as_ref()
            .and_then(|f| f.strategy_class)
            .and_then(|class| self.retry().strategy_for(class))
        {
            strategy.observe(Observation::Success, now);
        }
        self.emit(Event::new(EventKind::Success, self.attempt), now);
        self.attempt_end(AttemptDecision::Success, None, now);
    }

    /// Remembers a failure as the last one (before the first, that builds
    /// what a call learns from failures).
    #[inline]
    fn remember(
        &mut self,
        classification: &Classification,
        cause: Cause,
        error_type: Option<fn() -> &'static str>,
    ) -> &mut Failures {
        let failures = match &mut self.failures {
            Some(failures) => {
                failures.last = *classification;
                failures.cause = cause;
                failures
            }
            slot @ None => slot.insert(Failures::new(*classification, cause)),
        };
        failures.error_type = error_type;
        failures
    }

    fn fail(
        &mut self,
        classification: &Classification,
        cause: Cause,
        error_type: Option<fn() -> &'static str>,
        now: Duration,
        rng: &mut dyn Rng,
    ) -> Action {
        self.now = now;
        let retry = self.retry();
        let attempt = self.attempt;
        let elapsed = self.elapsed(now);
        let abort = self.hooks.should_abort();
        let failures = self.remember(classification, cause, error_type);
        if abort {
            // The failure is recorded first so the outcome reports it.
            self.abort(now);
            return Action::Done;
        }
        let delay = match failures.decide(retry, classification, cause, attempt, elapsed, now, rng)
        {
            Ok(delay) => delay,
            Err((reason, next_delay)) => {
                self.next_delay = next_delay;
                self.stop_after_failure(reason, now);
                return Action::Done;
            }
        };
        if self.observed() {
            let mut event: Event<'_> = self.failure_event(EventKind::Retry);
            event.delay = delay;
            event.classification = Some(*classification);
            self.emit(event, now);
        }
        if self.hooks.should_abort() {
            self.abort(now);
            return Action::Done;
        }
        if H::SLEEP_HOOKS || self.async_sleep_hooks {
            self.phase = Phase::Deciding;
            return Action::SleepHooks;
        }
        self.sleep(now)
    }

    /// Asks for the pending retry's sleep, cut to the time left at `now`; a
    /// zero sleep is skipped.
    #[inline]
    fn sleep(&mut self, now: Duration) -> Action {
        let delay = self.pending_delay().min(self.remaining(now));
        self.phase = Phase::Sleeping;
        if delay.is_zero() {
            return self.resume(now);
        }
        Action::Sleep(delay)
    }

    /// Stops with `reason`, reporting the last failure in the event.
    fn stop_after_failure(&mut self, reason: StopReason, now: Duration) {
        self.stop = Some(reason);
        self.phase = Phase::Done;
        if self.observed() {
            let mut event = self.failure_event(reason.event_kind());
            event.stop_reason = Some(reason);
            self.emit(event, now);
            self.attempt_end(AttemptDecision::Stop, None, now);
        }
    }

    #[cold]
    fn abort(&mut self, now: Duration) {
        self.now = now;
        // An attempt whose fate was not yet reported ends here.
        let attempt_running = matches!(
            self.phase,
            Phase::Attempting | Phase::Deciding | Phase::Sleeping
        );
        self.stop = Some(StopReason::Aborted);
        self.phase = Phase::Done;
        let mut event = Event::new(EventKind::Aborted, self.attempt);
        event.stop_reason = Some(StopReason::Aborted);
        self.emit(event, now);
        if attempt_running {
            self.attempt_end(AttemptDecision::Aborted, None, now);
        }
    }

    fn failure_event(&self, kind: EventKind) -> Event<'static> {
        let mut event = Event::new(kind, self.attempt);
        if let Some(f) = &self.failures {
            event.class = Some(f.last.class);
            event.cause = Some(f.cause);
            if self.observed() {
                event.error_type = f.err_tag();
            }
        }
        event
    }

    #[inline]
    fn emit<'e>(&self, mut event: Event<'e>, now: Duration)
    where
        'a: 'e,
    {
        if !self.observed() {
            return;
        }
        event.operation = self.operation;
        event.elapsed = self.elapsed(now);
        #[cfg(feature = "alloc")]
        if let Some(recorder) = &self.recorder {
            recorder.on_event(&event);
        }
        #[cfg(feature = "tracing")]
        crate::trace::event(&event);
        self.hooks.on_event(&event);
    }

    #[inline]
    fn attempt_end(&self, decision: AttemptDecision, delay: Option<Duration>, now: Duration) {
        if !self.observed() {
            return;
        }
        let last = match decision {
            AttemptDecision::Success => None,
            _ => self.failures.as_ref(),
        };
        let end = AttemptEnd {
            attempt: self.attempt,
            operation: self.operation,
            elapsed: self.elapsed(now),
            decision,
            classification: last.map(|f| &f.last),
            cause: last.map(|f| f.cause),
            stop_reason: self.stop,
            delay,
        };
        #[cfg(feature = "alloc")]
        if let Some(recorder) = &self.recorder {
            recorder.on_attempt_end(&end);
        }
        self.hooks.on_attempt_end(&end);
    }
}

impl Failures {
    /// The `err` tag of the last failure: the classifier's tag, else the
    /// error's type name.
    fn err_tag(&self) -> Option<&'static str> {
        match (self.last.tag, self.cause) {
            (Some(tag), _) => Some(tag),
            (None, Cause::Error) => self.error_type.map(|name| name()),
            (None, Cause::Result) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::constant;
    use crate::policy::Policy;
    use crate::rng::FastRng;
    use core::cell::RefCell;
    use std::prelude::rust_2024::*;

    /// The `err` tag of each event of a call whose attempts fail with `errors`.
    fn err_tags(classify: fn(&&'static str) -> Classification) -> Vec<Option<&'static str>> {
        let policy = Policy::builder()
            .classifier(classify)
            .strategy(constant(Duration::ZERO))
            .max_attempts(2)
            .build()
            .unwrap();
        let tags = RefCell::new(Vec::new());
        let site = policy
            .bind()
            .on_event(|e| tags.borrow_mut().push(e.error_type));
        let mut rng = FastRng::seeded(1);
        let (mut exec, mut action) = site.start::<(), &'static str>(Duration::ZERO);
        while action != Action::Done {
            action = match action {
                Action::Attempt(_) => exec.record(Err("reset"), Duration::ZERO, &mut rng),
                _ => exec.resume(Duration::ZERO),
            };
        }
        drop(exec);
        tags.take()
    }

    #[test]
    fn a_classifier_tag_names_the_failure_in_events() {
        let tagged = err_tags(|_| Classification::new(ErrorClass::Transient).with_tag("reset"));
        assert_eq!(tagged, [Some("reset"), Some("reset")]);
        let untagged = err_tags(|_| ErrorClass::Transient.into());
        assert_eq!(untagged, [Some("&str"), Some("&str")]);
    }

    use crate::breaker::CircuitBreaker;
    use crate::hooks::CallStatus;

    fn transient(_: &&'static str) -> Classification {
        ErrorClass::Transient.into()
    }

    #[test]
    fn the_time_limit_is_the_attempt_timeout_never_past_the_deadline() {
        let policy = Policy::builder()
            .classifier(transient as fn(&&'static str) -> Classification)
            .strategy(constant(Duration::from_millis(200)))
            .deadline(Duration::from_millis(1500))
            .attempt_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let site = policy.bind();
        let mut rng = FastRng::seeded(1);
        let (mut exec, action) = site.start::<(), &str>(Duration::ZERO);
        let Action::Attempt(first) = action else {
            unreachable!("{action:?}")
        };
        assert_eq!(first.time_limit(), Duration::from_secs(1));
        assert!(!first.limited_by_deadline());
        // Cut by the attempt timeout: a TRANSIENT failure, retried.
        let action = exec.record_timeout(Duration::from_secs(1), &mut rng);
        assert_eq!(action, Action::Sleep(Duration::from_millis(200)));
        let Action::Attempt(second) = exec.resume(Duration::from_millis(1200)) else {
            unreachable!()
        };
        // 300 ms of the deadline are left: the deadline sets the limit.
        assert_eq!(second.time_limit(), Duration::from_millis(300));
        assert!(second.limited_by_deadline());
        assert_eq!(exec.attempt_started(), Duration::from_millis(1200));
        // Cut there, the call is over.
        assert_eq!(
            exec.record_timeout(Duration::from_millis(1500), &mut rng),
            Action::Done
        );
        let outcome = exec.finish();
        assert_eq!(outcome.stop_reason, Some(StopReason::DeadlineExceeded));
        assert_eq!(outcome.elapsed, Duration::from_millis(1500));
        assert_eq!(outcome.last_class, Some(ErrorClass::Transient));
        assert!(matches!(
            outcome.result,
            Err(Failure::TimedOut(limit)) if limit == Duration::from_millis(300)
        ));
    }

    #[test]
    fn without_sleep_hooks_the_engine_never_stops_for_them_nor_sleeps_zero() {
        let policy = Policy::builder()
            .classifier(transient as fn(&&'static str) -> Classification)
            .strategy(constant(Duration::ZERO))
            .max_attempts(3)
            .build()
            .unwrap();
        let site = policy.bind();
        let mut rng = FastRng::seeded(1);
        let (mut exec, action) = site.start::<u8, &str>(Duration::ZERO);
        assert!(matches!(action, Action::Attempt(a) if a.number == 1));
        // A zero delay: the next attempt follows at once.
        let action = exec.record(Err("reset"), Duration::ZERO, &mut rng);
        assert!(
            matches!(action, Action::Attempt(a) if a.number == 2),
            "{action:?}"
        );
        let action = exec.record(Ok(7), Duration::ZERO, &mut rng);
        assert_eq!(action, Action::Done);
        assert_eq!(exec.finish().result.ok(), Some(7));
    }

    fn count_ends<'a>(
        ends: &'a RefCell<Vec<CallStatus>>,
    ) -> impl Fn(&crate::hooks::CallEnd<'_>) + 'a {
        move |end| ends.borrow_mut().push(end.status)
    }

    #[test]
    fn the_call_end_is_reported_once_for_every_ending() {
        let breaker = CircuitBreaker::builder()
            .failure_threshold(1)
            .build()
            .unwrap();
        let policy = Policy::builder()
            .classifier(transient as fn(&&'static str) -> Classification)
            .strategy(constant(Duration::from_secs(1)))
            .max_attempts(2)
            .circuit_breaker(std::sync::Arc::new(breaker))
            .build()
            .unwrap();
        let ends = RefCell::new(Vec::new());
        let site = policy.bind().on_call_end(count_ends(&ends));
        let mut rng = FastRng::seeded(1);

        // A success.
        let (mut exec, _) = site.start::<u8, &str>(Duration::ZERO);
        let _ = exec.record(Ok(1), Duration::ZERO, &mut rng);
        let _ = exec.finish();
        // A call dropped in the middle of its sleep: cancelled, and the
        // breaker is not told a failure.
        let (mut exec, _) = site.start::<u8, &str>(Duration::ZERO);
        let action = exec.record(Err("reset"), Duration::ZERO, &mut rng);
        assert_eq!(action, Action::Sleep(Duration::from_secs(1)));
        drop(exec);
        // A call that fails: it opens the breaker.
        let (mut exec, mut action) = site.start::<u8, &str>(Duration::ZERO);
        while let Action::Attempt(_) | Action::Sleep(_) = action {
            action = match action {
                Action::Sleep(_) => exec.resume(Duration::from_secs(1)),
                _ => exec.record(Err("reset"), Duration::from_secs(1), &mut rng),
            };
        }
        let _ = exec.finish();
        // Rejected: CIRCUIT_OPEN on the call end itself.
        let (exec, action) = site.start::<u8, &str>(Duration::from_secs(2));
        assert_eq!(action, Action::Done);
        let outcome = exec.finish();
        assert_eq!(outcome.stop_reason, Some(StopReason::CircuitOpen));
        // An execution never begun reports nothing.
        drop(site.execution::<u8, &str>(Duration::ZERO));

        assert_eq!(
            ends.take(),
            [
                CallStatus::Succeeded,
                CallStatus::Cancelled,
                CallStatus::Stopped(StopReason::MaxAttemptsGlobal),
                CallStatus::Stopped(StopReason::CircuitOpen),
            ]
        );
    }

    #[test]
    fn hooks_that_take_the_rest_of_the_call_end_it_at_the_deadline() {
        let policy = Policy::builder()
            .classifier(transient as fn(&&'static str) -> Classification)
            .strategy(constant(Duration::from_secs(1)))
            .deadline(Duration::from_secs(2))
            .build()
            .unwrap();
        let site = policy.bind().before_sleep(|_, _| {});
        let mut rng = FastRng::seeded(1);
        let (mut exec, _) = site.start::<u8, &str>(Duration::ZERO);
        assert_eq!(
            exec.record(Err("reset"), Duration::ZERO, &mut rng),
            Action::SleepHooks
        );
        let pending = exec.pending_sleep();
        let (ctx, delay) = pending.context().unwrap();
        assert_eq!((ctx.attempt, delay), (1, Duration::from_secs(1)));
        let decision = pending.run_hooks_blocking();
        assert_eq!(
            exec.sleep_decided(decision, Duration::from_secs(3)),
            Action::Done
        );
        assert_eq!(
            exec.finish().stop_reason,
            Some(StopReason::DeadlineExceeded)
        );
    }

    #[test]
    fn a_hint_beyond_the_deadline_stops_at_once_when_asked() {
        use crate::backoff::retry_after_or;
        fn limited(_: &&'static str) -> Classification {
            Classification::new(ErrorClass::RateLimit).with_retry_after(Duration::from_secs(30))
        }
        let run = |stop: bool| {
            let mut builder = Policy::builder()
                .classifier(limited as fn(&&'static str) -> Classification)
                .strategy(retry_after_or(constant(Duration::from_secs(1))))
                .deadline(Duration::from_secs(10));
            if stop {
                builder = builder.stop_when_retry_after_exceeds_deadline();
            }
            let policy = builder.build().unwrap();
            let site = policy.bind();
            let mut rng = FastRng::seeded(1);
            let (mut exec, _) = site.start::<u8, &str>(Duration::ZERO);
            let action = exec.record(Err("429"), Duration::from_secs(2), &mut rng);
            (action, exec.finish())
        };
        // The reference: sleep the 8 s left, then one more request.
        let (action, _) = run(false);
        assert!(
            matches!(action, Action::Sleep(d) if d > Duration::from_secs(7)),
            "{action:?}"
        );
        // Asked to stop: at once, with the server's hint as the next delay.
        let (action, outcome) = run(true);
        assert_eq!(action, Action::Done);
        assert_eq!(
            outcome.stop_reason,
            Some(StopReason::RetryAfterBeyondDeadline)
        );
        assert_eq!(outcome.next_delay, Some(Duration::from_secs(30)));
        assert_eq!(outcome.elapsed, Duration::from_secs(2));
    }
}
