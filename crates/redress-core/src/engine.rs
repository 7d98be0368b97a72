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
use crate::breaker::{Breaker, CallResult, Permit, Transition};
use crate::class::{Cause, Classification, ErrorClass, PerClass};
use crate::classify::{Classifier, ResultClassifier, short_type_name};
#[cfg(target_has_atomic = "64")]
use crate::event::CircuitState;
use crate::event::{Event, EventKind, StopReason};
use crate::hooks::{
    AttemptDecision, AttemptEnd, AttemptStart, CallEnd, CallStatus, Hooks, SleepDecision,
};
use crate::outcome::{Failure, Outcome};
use crate::policy::RetryConfig;
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

enum Decision {
    Retry(Duration),
    Stop(StopReason),
}

/// The per-call counters and the decision rules; independent of the
/// operation's types so it is compiled once.
#[derive(Clone, Debug)]
struct Run {
    start: Duration,
    /// The latest time the engine was told.
    now: Duration,
    /// When the current attempt started.
    attempt_started: Duration,
    /// The current attempt, as the runner was told it.
    current: Attempt,
    prev_delay: Option<Duration>,
    /// The previous delay as the strategy saw it when deciding the pending one.
    decided_prev: Option<Duration>,
    /// The sleep the runner was asked for.
    sleep: Duration,
    unknown: u32,
    per_class: PerClass<u32>,
    last: Option<(Classification, Cause)>,
    last_strategy_class: Option<ErrorClass>,
    stop: Option<StopReason>,
    next_delay: Option<Duration>,
}

impl Run {
    #[inline]
    fn new(start: Duration) -> Self {
        Run {
            start,
            now: start,
            attempt_started: start,
            current: Attempt::new(0, Duration::ZERO, None),
            prev_delay: None,
            decided_prev: None,
            sleep: Duration::ZERO,
            unknown: 0,
            per_class: PerClass::default(),
            last: None,
            last_strategy_class: None,
            stop: None,
            next_delay: None,
        }
    }

    #[inline]
    fn elapsed(&self, now: Duration) -> Duration {
        now.saturating_sub(self.start)
    }

    /// Rules 1 to 9 of the decision order.
    fn decide(
        &mut self,
        retry: &RetryConfig,
        classification: &Classification,
        cause: Cause,
        now: Duration,
        rng: &mut dyn Rng,
    ) -> Decision {
        let class = classification.class;
        self.last = Some((*classification, cause));

        let count = self.per_class.get_mut(class);
        *count = count.saturating_add(1);
        if let Some(cap) = retry.class_max_attempts(class) {
            if *count > cap {
                return Decision::Stop(StopReason::MaxAttemptsPerClass);
            }
        }

        if !class.is_retryable() {
            return Decision::Stop(StopReason::NonRetryableClass);
        }

        if class == ErrorClass::Unknown {
            self.unknown = self.unknown.saturating_add(1);
            if let Some(cap) = retry.max_unknown_attempts() {
                if self.unknown > cap {
                    return Decision::Stop(StopReason::MaxUnknownAttempts);
                }
            }
        }

        let elapsed = self.elapsed(now);
        if elapsed > retry.deadline() {
            return Decision::Stop(StopReason::DeadlineExceeded);
        }

        let Some(strategy) = retry.strategy_for(class) else {
            return Decision::Stop(StopReason::NoStrategy);
        };
        strategy.observe(Observation::Failure(class), now);
        self.last_strategy_class = Some(class);

        let remaining = retry.deadline().saturating_sub(elapsed);
        if remaining.is_zero() {
            return Decision::Stop(StopReason::DeadlineExceeded);
        }

        if self.current.number >= retry.max_attempts() {
            return Decision::Stop(StopReason::MaxAttemptsGlobal);
        }

        if retry.stops_when_retry_after_exceeds_deadline() {
            if let (Some(hint), Some(_)) =
                (classification.retry_after, strategy.retry_after_jitter())
            {
                if hint > remaining {
                    self.next_delay = Some(hint);
                    return Decision::Stop(StopReason::RetryAfterBeyondDeadline);
                }
            }
        }

        let ctx = BackoffContext {
            attempt: self.current.number,
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
                return Decision::Stop(StopReason::BudgetExhausted);
            }
        }

        self.decided_prev = self.prev_delay;
        self.prev_delay = Some(delay);
        Decision::Retry(delay)
    }
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
    pub async fn run_hooks<A: AsyncHooks>(self, async_hooks: &A) -> SleepDecision {
        let Some((ctx, delay)) = self.pending else {
            return SleepDecision::Sleep;
        };
        let mut decision = self.hooks.decide_sleep(&ctx, delay);
        if decision == SleepDecision::Sleep {
            decision = async_hooks.decide_sleep(&ctx, delay).await;
        }
        if decision == SleepDecision::Sleep {
            self.hooks.before_sleep(&ctx, delay);
            async_hooks.before_sleep(&ctx, delay).await;
        }
        decision
    }
}

/// One call in progress: the engine's state machine.
///
/// Runners create it with [`Bound::execution`](crate::Bound::execution) (or
/// [`Execution::new`] at any [`CallSite`]) and drive it as the
/// [module docs](self) show. `T` and `E` are the
/// operation's value and error types; the execution keeps the last error or
/// flagged value so [`finish`](Execution::finish) can hand it back.
///
/// Dropping an execution before the call ended (a dropped future, a
/// panic) ends the call as [`CallStatus::Cancelled`]: `on_call_end` runs
/// and a half-open breaker probe it held is released.
pub struct Execution<'a, C, R, H: Hooks, T, E> {
    retry: &'a RetryConfig,
    classifier: &'a C,
    result_classifier: &'a R,
    hooks: &'a H,
    operation: Option<&'a str>,
    /// Boxed: only calls that capture a timeline pay for its size.
    #[cfg(feature = "alloc")]
    recorder: Option<alloc::boxed::Box<crate::timeline::Recorder>>,
    #[cfg(target_has_atomic = "64")]
    breaker: Option<&'a (dyn Breaker + Send + Sync)>,
    #[cfg(target_has_atomic = "64")]
    permit: Option<Permit<'a>>,
    run: Run,
    phase: Phase,
    last: Failure<E, T>,
    /// The call site has async sleep hooks: the engine asks for
    /// [`Action::SleepHooks`] even when its synchronous hooks have none.
    async_sleep_hooks: bool,
    /// Whether a success reads the time for the outcome's `elapsed` even
    /// when nothing else needs it.
    success_elapsed: bool,
    /// Whether `on_call_end` ran.
    ended: bool,
    /// The `err` tag of the last failure caused by an error, looked up only
    /// when an event needs it.
    last_error_type: Option<fn() -> &'static str>,
    value: Option<T>,
}

impl<C, R, H: Hooks, T, E> core::fmt::Debug for Execution<'_, C, R, H, T, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Execution")
            .field("operation", &self.operation)
            .field("attempt", &self.run.current.number)
            .field("phase", &self.phase)
            .field("stop_reason", &self.run.stop)
            .finish_non_exhaustive()
    }
}

impl<C, R, H: Hooks, T, E> Drop for Execution<'_, C, R, H, T, E> {
    fn drop(&mut self) {
        if self.ended || self.phase == Phase::Created {
            return;
        }
        // The call was abandoned: release a breaker permit (it counts
        // neither way), then say the call ended.
        #[cfg(target_has_atomic = "64")]
        if let Some(permit) = self.permit.take() {
            permit.cancel(self.run.now);
        }
        self.end_call(CallStatus::Cancelled);
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
        let policy = site.policy();
        Execution {
            retry: policy.retry(),
            classifier: policy.classifier(),
            result_classifier: policy.result_classifier(),
            hooks: site.hooks(),
            operation: site.operation_name(),
            #[cfg(feature = "alloc")]
            recorder: site
                .captures_timeline()
                .then(alloc::boxed::Box::<crate::timeline::Recorder>::default),
            #[cfg(target_has_atomic = "64")]
            breaker: policy.circuit_breaker(),
            #[cfg(target_has_atomic = "64")]
            permit: None,
            run: Run::new(now),
            phase: Phase::Created,
            last: Failure::NotAttempted,
            async_sleep_hooks: <Site::AsyncHooks as AsyncHooks>::SLEEP_HOOKS,
            success_elapsed: true,
            ended: false,
            last_error_type: None,
            value: None,
        }
    }

    /// Whether a call that succeeds reads the time for its outcome's
    /// `elapsed` (the default). Runners whose caller discards the outcome
    /// of a success (`call` returns only the value) turn it off: a success
    /// that nothing observes is then recorded without a clock reading, and
    /// its outcome's `elapsed` is not measured.
    #[inline]
    pub fn measure_success(&mut self, measure: bool) {
        self.success_elapsed = measure;
    }

    /// The first action of the call: the breaker's admission, then the
    /// first attempt. Calling it again has no effect beyond returning the
    /// current action.
    #[inline]
    pub fn begin(&mut self, now: Duration) -> Action {
        if self.phase != Phase::Created {
            return self.current_action();
        }
        self.run.now = now;
        #[cfg(target_has_atomic = "64")]
        if let Some(breaker) = self.breaker {
            match Permit::acquire(breaker, now) {
                Err(rejected) => {
                    self.run.stop = Some(StopReason::CircuitOpen);
                    self.run.next_delay = rejected.retry_in;
                    self.phase = Phase::Done;
                    let mut event = Event::new(EventKind::CircuitRejected, 0);
                    event.state = Some(rejected.state);
                    self.emit(event, now);
                    return Action::Done;
                }
                Ok(permit) => {
                    if let Some(transition) = permit.transition() {
                        self.emit_transition(transition, now);
                    }
                    self.permit = Some(permit);
                }
            }
        }
        #[cfg(target_has_atomic = "64")]
        if let Some(budget) = self.retry.budget() {
            budget.on_call(now);
        }
        self.begin_attempt(now)
    }

    /// Whether recording a success needs the current time: the outcome
    /// reports `elapsed`, hooks observe the call, a timeline is recorded, a
    /// strategy learns from the success, or a breaker records it.
    #[inline]
    fn success_needs_time(&self) -> bool {
        #[cfg(target_has_atomic = "64")]
        if self.permit.is_some() {
            return true;
        }
        self.success_elapsed || self.observed() || self.run.last_strategy_class.is_some()
    }

    /// The attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.run.current.number
    }

    /// The operation name.
    pub fn operation(&self) -> Option<&'a str> {
        self.operation
    }

    /// Time since the call started.
    #[inline]
    pub fn elapsed(&self, now: Duration) -> Duration {
        self.run.elapsed(now)
    }

    /// The time left before the deadline.
    #[inline]
    pub fn remaining(&self, now: Duration) -> Duration {
        self.retry.deadline().saturating_sub(self.run.elapsed(now))
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
            Ok(value) => match self.result_classifier.classify(&value) {
                None => {
                    let at = if self.success_needs_time() {
                        clock.now()
                    } else {
                        self.run.attempt_started
                    };
                    self.succeed(value, at)
                }
                Some(classification) => {
                    self.last = Failure::Value(value);
                    self.fail(&classification, Cause::Result, clock.now(), rng)
                }
            },
            Err(error) => {
                let classification = self.classifier.classify(&error);
                self.last = Failure::Error(error);
                self.last_error_type = Some(error_type_name::<E>);
                self.fail(&classification, Cause::Error, clock.now(), rng)
            }
        }
    }

    /// The attempt now running, as the last [`Action::Attempt`] described
    /// it (number 0 before the first).
    #[inline]
    pub fn attempt(&self) -> Attempt {
        self.run.current
    }

    /// When the current attempt started, on the runner's clock: with
    /// [`Attempt::time_limit`], when a runner that can cancel it must.
    #[inline]
    pub fn attempt_started(&self) -> Duration {
        self.run.attempt_started
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
        let attempt = self.run.current;
        self.last = Failure::TimedOut(attempt.time_limit());
        self.last_error_type = Some(|| "TimeoutError");
        let timed_out = Classification::new(ErrorClass::Transient);
        if attempt.limited_by_deadline() {
            self.run.now = now;
            self.run.last = Some((timed_out, Cause::Error));
            if self.hooks.should_abort() {
                self.abort(now);
            } else {
                self.stop_after_failure(StopReason::DeadlineExceeded, now);
            }
            return Action::Done;
        }
        self.fail(&timed_out, Cause::Error, now, rng)
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
        self.last = Failure::Error(error);
        self.last_error_type = Some(error_type_name::<E>);
        self.fail(classification, Cause::Error, now, rng)
    }

    /// The retry the engine waits on while it asks for
    /// [`Action::SleepHooks`]: its context and delay, and the call site's
    /// hooks to run for it.
    pub fn pending_sleep(&self) -> PendingSleep<'_, H> {
        let pending = match (self.phase, self.run.last.as_ref()) {
            (Phase::Deciding, Some((classification, cause))) => Some((
                BackoffContext {
                    attempt: self.run.current.number,
                    classification,
                    prev_delay: self.run.decided_prev,
                    remaining: self.remaining(self.run.now),
                    cause: *cause,
                    now: self.run.now,
                },
                self.run.prev_delay.unwrap_or_default(),
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
        self.run.now = now;
        let delay = self.run.prev_delay.unwrap_or_default();
        match decision {
            SleepDecision::Sleep => {
                if self.run.elapsed(now) > self.retry.deadline() {
                    // The hooks took the rest of the call.
                    self.stop_after_failure(StopReason::DeadlineExceeded, now);
                    return Action::Done;
                }
                self.sleep(now)
            }
            SleepDecision::Defer => {
                self.run.stop = Some(StopReason::Scheduled);
                self.run.next_delay = Some(delay);
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
    pub fn resume(&mut self, now: Duration) -> Action {
        if self.phase != Phase::Sleeping {
            return self.current_action();
        }
        self.run.now = now;
        if self.run.elapsed(now) > self.retry.deadline() {
            self.stop_after_failure(StopReason::DeadlineExceeded, now);
            return Action::Done;
        }
        // The attempt that failed ends once its retry is certain: after the
        // sleep, as in the reference.
        self.attempt_end(AttemptDecision::Retry, self.run.prev_delay, now);
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
    #[inline]
    pub fn take_outcome(&mut self) -> Outcome<T, E> {
        let now = self.run.now;
        if self.phase != Phase::Done && !self.ended {
            // Abandoned by its runner before the engine said it was done.
            self.run.stop = Some(StopReason::Aborted);
            self.phase = Phase::Done;
        }
        #[cfg(target_has_atomic = "64")]
        self.record_in_breaker(now);
        let result = match self.value.take() {
            Some(value) => Ok(value),
            None => Err(core::mem::replace(&mut self.last, Failure::NotAttempted)),
        };
        let ok = result.is_ok();
        let status = match (ok, self.run.stop) {
            (true, _) => CallStatus::Succeeded,
            (false, reason) => CallStatus::Stopped(reason.unwrap_or(StopReason::Aborted)),
        };
        if !self.ended {
            self.end_call(status);
        }
        #[cfg(feature = "alloc")]
        let timeline = self
            .recorder
            .take()
            .map(|recorder| recorder.into_timeline());
        let (last_class, cause) = match (ok, self.run.last) {
            (false, Some((c, cause))) => (Some(c.class), Some(cause)),
            _ => (None, None),
        };
        Outcome {
            result,
            stop_reason: status.stop_reason(),
            attempts: self.run.current.number,
            last_class,
            cause,
            elapsed: self.run.elapsed(now),
            next_delay: self.run.next_delay,
            #[cfg(feature = "alloc")]
            timeline,
        }
    }

    /// Reports the end of the call, once.
    fn end_call(&mut self, status: CallStatus) {
        self.ended = true;
        if !self.observed() {
            return;
        }
        let last = match status {
            CallStatus::Succeeded => None,
            _ => self.run.last,
        };
        let end = CallEnd {
            status,
            operation: self.operation,
            attempts: self.run.current.number,
            elapsed: self.run.elapsed(self.run.now),
            class: last.map(|(c, _)| c.class),
            cause: last.map(|(_, cause)| cause),
            error_type: last.and_then(|(c, cause)| self.err_tag(&c, cause)),
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
    fn record_in_breaker(&mut self, now: Duration) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let result = if self.value.is_some() {
            CallResult::Success
        } else if matches!(self.run.stop, Some(StopReason::Aborted) | None) {
            CallResult::Cancelled
        } else {
            CallResult::Failure(self.run.last.map_or(ErrorClass::Unknown, |(c, _)| c.class))
        };
        let transition = permit.record(result, now);
        if let Some(transition) = transition {
            self.emit_transition(transition, now);
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

    fn current_action(&self) -> Action {
        match self.phase {
            Phase::Attempting => Action::Attempt(self.run.current),
            Phase::Deciding => Action::SleepHooks,
            Phase::Sleeping => Action::Sleep(self.run.sleep),
            Phase::Created | Phase::Done => Action::Done,
        }
    }

    fn begin_attempt(&mut self, now: Duration) -> Action {
        if self.hooks.should_abort() {
            self.abort(now);
            return Action::Done;
        }
        let number = self.run.current.number.saturating_add(1);
        self.run.current = Attempt::new(number, self.remaining(now), self.retry.attempt_timeout());
        self.run.attempt_started = now;
        self.phase = Phase::Attempting;
        if self.observed() {
            let start = AttemptStart {
                attempt: number,
                operation: self.operation,
                elapsed: self.run.elapsed(now),
                time_limit: self.run.current.time_limit(),
            };
            #[cfg(feature = "alloc")]
            if let Some(recorder) = &self.recorder {
                recorder.on_attempt_start(&start);
            }
            self.hooks.on_attempt_start(&start);
        }
        Action::Attempt(self.run.current)
    }

    fn succeed(&mut self, value: T, now: Duration) -> Action {
        self.run.now = now;
        if let Some(strategy) = self
            .run
            .last_strategy_class
            .and_then(|class| self.retry.strategy_for(class))
        {
            strategy.observe(Observation::Success, now);
        }
        self.value = Some(value);
        self.phase = Phase::Done;
        self.emit(Event::new(EventKind::Success, self.run.current.number), now);
        self.attempt_end(AttemptDecision::Success, None, now);
        Action::Done
    }

    fn fail(
        &mut self,
        classification: &Classification,
        cause: Cause,
        now: Duration,
        rng: &mut dyn Rng,
    ) -> Action {
        self.run.now = now;
        if self.hooks.should_abort() {
            // The failure is recorded first so the outcome reports it.
            self.run.last = Some((*classification, cause));
            self.abort(now);
            return Action::Done;
        }
        let delay = match self.run.decide(self.retry, classification, cause, now, rng) {
            Decision::Stop(reason) => {
                self.stop_after_failure(reason, now);
                return Action::Done;
            }
            Decision::Retry(delay) => delay,
        };
        let mut event: Event<'_> = self.failure_event(EventKind::Retry);
        event.delay = delay;
        event.classification = Some(*classification);
        self.emit(event, now);

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
    fn sleep(&mut self, now: Duration) -> Action {
        let delay = self
            .run
            .prev_delay
            .unwrap_or_default()
            .min(self.remaining(now));
        self.phase = Phase::Sleeping;
        if delay.is_zero() {
            return self.resume(now);
        }
        self.run.sleep = delay;
        Action::Sleep(delay)
    }

    /// Stops with `reason`, reporting the last failure in the event.
    fn stop_after_failure(&mut self, reason: StopReason, now: Duration) {
        self.run.stop = Some(reason);
        self.phase = Phase::Done;
        let mut event = self.failure_event(reason.event_kind());
        event.stop_reason = Some(reason);
        self.emit(event, now);
        self.attempt_end(AttemptDecision::Stop, None, now);
    }

    fn abort(&mut self, now: Duration) {
        self.run.now = now;
        // An attempt whose fate was not yet reported ends here.
        let attempt_running = matches!(
            self.phase,
            Phase::Attempting | Phase::Deciding | Phase::Sleeping
        );
        self.run.stop = Some(StopReason::Aborted);
        self.phase = Phase::Done;
        let mut event = Event::new(EventKind::Aborted, self.run.current.number);
        event.stop_reason = Some(StopReason::Aborted);
        self.emit(event, now);
        if attempt_running {
            self.attempt_end(AttemptDecision::Aborted, None, now);
        }
    }

    /// The `err` tag of a failure: the classifier's tag, else the error's
    /// type name (looked up only when something reads events).
    fn err_tag(&self, classification: &Classification, cause: Cause) -> Option<&'static str> {
        match (classification.tag, cause) {
            (Some(tag), _) => Some(tag),
            (None, Cause::Error) => self.last_error_type.map(|name| name()),
            (None, Cause::Result) => None,
        }
    }

    fn failure_event(&self, kind: EventKind) -> Event<'static> {
        let mut event = Event::new(kind, self.run.current.number);
        if let Some((c, cause)) = &self.run.last {
            event.class = Some(c.class);
            event.cause = Some(*cause);
            if self.observed() {
                event.error_type = self.err_tag(c, *cause);
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
        event.elapsed = self.run.elapsed(now);
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
            _ => self.run.last.as_ref(),
        };
        let end = AttemptEnd {
            attempt: self.run.current.number,
            operation: self.operation,
            elapsed: self.run.elapsed(now),
            decision,
            classification: last.map(|(c, _)| c),
            cause: last.map(|(_, cause)| *cause),
            stop_reason: self.run.stop,
            delay,
        };
        #[cfg(feature = "alloc")]
        if let Some(recorder) = &self.recorder {
            recorder.on_attempt_end(&end);
        }
        self.hooks.on_attempt_end(&end);
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
