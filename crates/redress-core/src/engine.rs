//! The sans-I/O engine: every retry decision, in one place.
//!
//! An [`Execution`] is one call's state machine. A runner feeds it facts
//! (the clock's `now`, each attempt's result) and does what it answers:
//!
//! ```text
//! let (mut exec, mut action) = bound.start(clock.now());
//! loop {
//!     action = match action {
//!         Action::Attempt => exec.record(operation(), clock.now(), &mut rng),
//!         Action::Sleep(delay) => {
//!             sleep(exec.sleep_time(delay, || clock.now()));
//!             exec.resume(clock.now())
//!         }
//!         Action::Done => break exec.finish(clock.now()),
//!     };
//! }
//! ```
//!
//! The blocking and async runners and `redress simulate` are all that loop;
//! they differ only in how they call, sleep and read time. The engine never
//! allocates (unless a timeline is captured), never locks, and never panics.
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
//! 9. the strategy's delay, clamped to the time left;
//! 10. then the `retry` event, the abort check, and the sleep hook (sleep,
//!     defer: stop `SCHEDULED`, or abort: stop `ABORTED`).
//!
//! The abort check also runs before every attempt and after every failure.
//! After a sleep, a call whose deadline passed (the sleeper overslept) stops
//! with `DEADLINE_EXCEEDED`.
//!
//! Hooks: `on_attempt_end` runs once per attempt, when its fate is certain
//! (for a retried attempt that is after the sleep, as in the reference);
//! `decide_sleep` and `before_sleep` receive the same [`BackoffContext`]
//! the strategy did. Hooks that take time before a sleep never push a call
//! past its deadline: runners cut the sleep to the time left
//! ([`Execution::sleep_time`]).

use core::time::Duration;

use rand_core::Rng;

use crate::asynchronous::AsyncHooks;
use crate::backoff::{BackoffContext, Observation, Strategy};
use crate::bind::Bound;
#[cfg(target_has_atomic = "64")]
use crate::breaker::{Breaker, CallResult, Permit, Transition};
use crate::class::{Cause, Classification, ErrorClass, PerClass};
use crate::classify::{Classifier, ResultClassifier, short_type_name};
#[cfg(target_has_atomic = "64")]
use crate::event::CircuitState;
use crate::event::{Event, EventKind, StopReason};
use crate::hooks::{AttemptDecision, AttemptEnd, AttemptStart, Hooks, SleepDecision};
use crate::outcome::{Failure, Outcome};
use crate::policy::RetryConfig;

/// The `err` tag of errors of type `E`: its short type name.
fn error_type_name<E>() -> &'static str {
    short_type_name(core::any::type_name::<E>())
}

/// The attempt about to run, as an operation may want to know it.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// The attempt's number (1-based).
    pub number: u32,
    /// Time left before the call's deadline.
    pub remaining: Duration,
    /// The policy's attempt timeout, if it has one.
    pub timeout: Option<Duration>,
}

impl Attempt {
    /// The longest this attempt should run: the attempt timeout, if any,
    /// and never past the deadline.
    pub fn time_limit(&self) -> Duration {
        match self.timeout {
            Some(t) => t.min(self.remaining),
            None => self.remaining,
        }
    }
}

/// What the runner should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub enum Action {
    /// Run the operation once, then pass its result to
    /// [`Execution::record`].
    Attempt,
    /// Sleep this long, then call [`Execution::resume`]. When sleep hooks
    /// may have taken time, [`Execution::sleep_time`] says how much of it
    /// is still left.
    Sleep(Duration),
    /// The call is over: collect it with [`Execution::finish`].
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Ready,
    Attempting,
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
    /// When the current attempt started.
    attempt_started: Duration,
    attempt: u32,
    prev_delay: Option<Duration>,
    /// The previous delay as the strategy saw it when deciding the pending one.
    decided_prev: Option<Duration>,
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
            attempt_started: start,
            attempt: 0,
            prev_delay: None,
            decided_prev: None,
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

        if self.attempt >= retry.max_attempts() {
            return Decision::Stop(StopReason::MaxAttemptsGlobal);
        }

        let ctx = BackoffContext {
            attempt: self.attempt,
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

/// One call in progress: the engine's state machine.
///
/// Runners create it with [`Bound::start`](crate::Bound::start) and drive it
/// as the [module docs](self) show. `T` and `E` are the operation's value
/// and error types; the execution keeps the last error or flagged value so
/// [`finish`](Execution::finish) can hand it back.
pub struct Execution<'a, C, R, H, T, E> {
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
    /// The call site has async sleep hooks: its runner runs the synchronous
    /// `before_sleep` hook after the async decision, not the engine.
    awaits_sleep_hooks: bool,
    /// The `err` tag of the last failure caused by an error, looked up only
    /// when an event needs it.
    last_error_type: Option<fn() -> &'static str>,
    value: Option<T>,
}

impl<C, R, H, T, E> core::fmt::Debug for Execution<'_, C, R, H, T, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Execution")
            .field("operation", &self.operation)
            .field("attempt", &self.run.attempt)
            .field("phase", &self.phase)
            .field("stop_reason", &self.run.stop)
            .finish_non_exhaustive()
    }
}

impl<'a, C, R, H: Hooks, T, E> Execution<'a, C, R, H, T, E> {
    #[inline]
    pub(crate) fn new<S, K, A: AsyncHooks>(
        bound: &'a Bound<'a, C, R, H, S, K, A>,
        now: Duration,
    ) -> Self {
        let policy = bound.policy();
        Execution {
            retry: policy.retry(),
            classifier: policy.classifier(),
            result_classifier: policy.result_classifier(),
            hooks: bound.hooks_ref(),
            operation: bound.operation_name(),
            #[cfg(feature = "alloc")]
            recorder: bound
                .captures_timeline()
                .then(alloc::boxed::Box::<crate::timeline::Recorder>::default),
            #[cfg(target_has_atomic = "64")]
            breaker: policy.circuit_breaker(),
            #[cfg(target_has_atomic = "64")]
            permit: None,
            run: Run::new(now),
            phase: Phase::Ready,
            last: Failure::NotAttempted,
            awaits_sleep_hooks: !bound.async_hooks_ref().is_empty(),
            last_error_type: None,
            value: None,
        }
    }

    /// The first action of the call: the breaker's admission, then the
    /// first attempt. Calling it again has no effect beyond returning the
    /// current action.
    #[inline]
    pub fn begin(&mut self, now: Duration) -> Action {
        if self.phase != Phase::Ready {
            return self.current_action();
        }
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

    /// Whether recording a success needs the current time: hooks observe
    /// the call, a timeline is recorded, a strategy learns from the
    /// success, or a breaker records it.
    #[inline]
    fn success_needs_time(&self) -> bool {
        #[cfg(target_has_atomic = "64")]
        if self.permit.is_some() {
            return true;
        }
        self.observed() || self.run.last_strategy_class.is_some()
    }

    /// The attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.run.attempt
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

    /// Feeds the result of the attempt the engine asked for.
    ///
    /// Errors are classified with the policy's classifier, successful values
    /// with its result classifier. Called when no attempt is pending, it
    /// changes nothing and returns the current action.
    #[inline]
    pub fn record(&mut self, result: Result<T, E>, now: Duration, rng: &mut dyn Rng) -> Action
    where
        C: Classifier<E>,
        R: ResultClassifier<T>,
    {
        self.record_with(result, || now, true, rng)
    }

    /// Like [`record`](Self::record), asking `now` for the time only when
    /// the result needs it. A failure (an error, or a value the result
    /// classifier flags) always does: every decision sees the real time. A
    /// success does when `wants_elapsed` (the caller reports the outcome's
    /// `elapsed`), or when hooks observe it, a timeline or `tracing`
    /// records it, a strategy learns from it, or a breaker records it;
    /// otherwise it is recorded at the time its attempt started, sparing
    /// the success path a clock reading.
    #[inline]
    pub fn record_with(
        &mut self,
        result: Result<T, E>,
        now: impl FnOnce() -> Duration,
        wants_elapsed: bool,
        rng: &mut dyn Rng,
    ) -> Action
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
                    let at = if wants_elapsed || self.success_needs_time() {
                        now()
                    } else {
                        self.run.attempt_started
                    };
                    self.succeed(value, at)
                }
                Some(classification) => {
                    self.last = Failure::Value(value);
                    self.fail(&classification, Cause::Result, now(), rng)
                }
            },
            Err(error) => {
                let classification = self.classifier.classify(&error);
                self.last = Failure::Error(error);
                self.last_error_type = Some(error_type_name::<E>);
                self.fail(&classification, Cause::Error, now(), rng)
            }
        }
    }

    /// What the attempt about to run should know: its number, the time
    /// left before the deadline, and its own time limit. Runners that cannot
    /// cancel an attempt (the blocking one) hand this to the operation.
    #[inline]
    pub fn attempt(&self, now: Duration) -> Attempt {
        Attempt {
            number: self.run.attempt,
            remaining: self.remaining(now),
            timeout: self.retry.attempt_timeout(),
        }
    }

    /// The attempt timeout the runner should enforce, if the policy has one.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.retry.attempt_timeout()
    }

    /// Feeds an attempt the runner cancelled because it overran the attempt
    /// timeout: always a `TRANSIENT` failure, reported as
    /// [`Failure::TimedOut`] with the `err` tag `TimeoutError`. (The
    /// reference hands its `TimeoutError` to the classifier, which the
    /// default classifier maps to `TRANSIENT`; here the timeout is not a
    /// value of the operation's error type, so the classifier cannot see it.)
    pub fn record_timeout(&mut self, now: Duration, rng: &mut dyn Rng) -> Action {
        if self.phase != Phase::Attempting {
            return self.current_action();
        }
        let limit = self.retry.attempt_timeout().unwrap_or_default();
        self.last = Failure::TimedOut(limit);
        self.last_error_type = Some(|| "TimeoutError");
        self.fail(
            &Classification::new(ErrorClass::Transient),
            Cause::Error,
            now,
            rng,
        )
    }

    /// While the engine waits for a sleep: the context the strategy saw and
    /// the delay, for hooks that decide asynchronously (see
    /// [`decide_sleep`](Self::decide_sleep)).
    pub fn sleep_context(&self, now: Duration) -> Option<(BackoffContext<'_>, Duration)> {
        if self.phase != Phase::Sleeping {
            return None;
        }
        let (classification, cause) = self.run.last.as_ref()?;
        let ctx = BackoffContext {
            attempt: self.run.attempt,
            classification,
            prev_delay: self.run.decided_prev,
            remaining: self.remaining(now),
            cause: *cause,
            now,
        };
        Some((ctx, self.run.prev_delay.unwrap_or_default()))
    }

    /// How long to sleep for the pending [`Action::Sleep(delay)`](Action::Sleep):
    /// `delay` itself, unless sleep hooks ran since it was decided (a
    /// synchronous one that is not a no-op, or async ones) and may have
    /// taken time. Then the clock is read (`read` is called only then) and
    /// the sleep is cut to the time left, so hooks never push a call past
    /// its deadline.
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
    /// assert_eq!(action, Action::Attempt);
    /// let action = exec.record(Err("busy"), clock.now(), &mut rng);
    /// assert_eq!(action, Action::Sleep(Duration::from_secs(4)));
    /// // The hook ran; 2 s of the deadline are left.
    /// let sleep = exec.sleep_time(Duration::from_secs(4), || clock.now());
    /// assert_eq!(sleep, Duration::from_secs(2));
    /// # Ok::<(), redress_core::ConfigError>(())
    /// ```
    #[inline]
    pub fn sleep_time(&self, delay: Duration, read: impl FnOnce() -> Duration) -> Duration {
        if H::SLEEP_HOOKS || self.awaits_sleep_hooks {
            let left = self.remaining(read());
            self.run.prev_delay.unwrap_or_default().min(left)
        } else {
            delay
        }
    }

    /// Runs the synchronous `before_sleep` hook for the pending sleep: for
    /// async runners, once their async sleep decision says to sleep (the
    /// engine runs it itself when the call site has no async sleep hooks).
    pub fn before_sleep(&self, now: Duration) {
        if let Some((ctx, delay)) = self.sleep_context(now) {
            self.hooks.before_sleep(&ctx, delay);
        }
    }

    /// Overrides the pending sleep: `Defer` stops with `SCHEDULED`, `Abort`
    /// with `ABORTED`, `Sleep` keeps it. For async sleep-decision hooks;
    /// synchronous ones are consulted by the engine itself.
    pub fn decide_sleep(&mut self, decision: SleepDecision, now: Duration) -> Action {
        if self.phase != Phase::Sleeping {
            return self.current_action();
        }
        let delay = self.run.prev_delay.unwrap_or_default();
        self.apply_sleep_decision(decision, delay, now)
    }

    /// Feeds a failure the runner classified itself (for example an attempt
    /// timeout, which is `TRANSIENT`), with the error to keep as the last one.
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

    /// Continues after the sleep the engine asked for.
    pub fn resume(&mut self, now: Duration) -> Action {
        if self.phase != Phase::Sleeping {
            return self.current_action();
        }
        if self.run.elapsed(now) > self.retry.deadline() {
            self.stop_after_failure(StopReason::DeadlineExceeded, now);
            return Action::Done;
        }
        // The attempt that failed ends once its retry is certain: after the
        // sleep, as in the reference.
        self.attempt_end(AttemptDecision::Retry, self.run.prev_delay, now);
        self.phase = Phase::Ready;
        self.begin_attempt(now)
    }

    /// Ends the call and reports it. A call that is not done yet (its runner
    /// stopped driving it) reports the last failure with the stop reason
    /// `ABORTED`.
    pub fn finish(mut self, now: Duration) -> Outcome<T, E> {
        self.take_outcome(now)
    }

    /// Like [`finish`](Self::finish), in place: runners that keep the
    /// execution where it is (it is large) end the call with this. The
    /// execution is spent afterwards.
    #[inline]
    pub fn take_outcome(&mut self, now: Duration) -> Outcome<T, E> {
        #[cfg(target_has_atomic = "64")]
        self.record_in_breaker(now);
        let elapsed = self.run.elapsed(now);
        #[cfg(feature = "alloc")]
        let timeline = self
            .recorder
            .take()
            .map(|recorder| recorder.into_timeline());
        let result = match self.value.take() {
            Some(value) => Ok(value),
            None => Err(core::mem::replace(&mut self.last, Failure::NotAttempted)),
        };
        let ok = result.is_ok();
        let (last_class, cause) = match (ok, self.run.last) {
            (false, Some((c, cause))) => (Some(c.class), Some(cause)),
            _ => (None, None),
        };
        Outcome {
            result,
            stop_reason: if ok {
                None
            } else {
                Some(self.run.stop.unwrap_or(StopReason::Aborted))
            },
            attempts: self.run.attempt,
            last_class,
            cause,
            elapsed,
            next_delay: self.run.next_delay,
            #[cfg(feature = "alloc")]
            timeline,
        }
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

    /// Whether anything reads events and attempt records: the hooks, a
    /// timeline, or `tracing`. When nothing does, none are built.
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
            Phase::Ready | Phase::Attempting => Action::Attempt,
            Phase::Sleeping => Action::Sleep(self.run.prev_delay.unwrap_or_default()),
            Phase::Done => Action::Done,
        }
    }

    fn begin_attempt(&mut self, now: Duration) -> Action {
        if self.hooks.should_abort() {
            self.abort(now);
            return Action::Done;
        }
        self.run.attempt = self.run.attempt.saturating_add(1);
        self.run.attempt_started = now;
        self.phase = Phase::Attempting;
        if !self.observed() {
            return Action::Attempt;
        }
        let start = AttemptStart {
            attempt: self.run.attempt,
            operation: self.operation,
            elapsed: self.run.elapsed(now),
        };
        #[cfg(feature = "alloc")]
        if let Some(recorder) = &self.recorder {
            recorder.on_attempt_start(&start);
        }
        self.hooks.on_attempt_start(&start);
        Action::Attempt
    }

    fn succeed(&mut self, value: T, now: Duration) -> Action {
        if let Some(strategy) = self
            .run
            .last_strategy_class
            .and_then(|class| self.retry.strategy_for(class))
        {
            strategy.observe(Observation::Success, now);
        }
        self.value = Some(value);
        self.phase = Phase::Done;
        self.emit(Event::new(EventKind::Success, self.run.attempt), now);
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
        if self.hooks.should_abort() {
            // The failure is recorded first so the outcome reports it.
            self.run.last = Some((*classification, cause));
            self.abort(now);
            return Action::Done;
        }
        let prev_delay = self.run.prev_delay;
        let delay = match self.run.decide(self.retry, classification, cause, now, rng) {
            Decision::Stop(reason) => {
                self.stop_after_failure(reason, now);
                return Action::Done;
            }
            Decision::Retry(delay) => delay,
        };
        let mut event: Event<'_> = self.failure_event(EventKind::Retry);
        event.delay = delay;
        event.classification = Some(classification);
        self.emit(event, now);

        if self.hooks.should_abort() {
            self.abort(now);
            return Action::Done;
        }
        // The hooks see what the strategy saw.
        let ctx = BackoffContext {
            attempt: self.run.attempt,
            classification,
            prev_delay,
            remaining: self.remaining(now),
            cause,
            now,
        };
        let decision = self.hooks.decide_sleep(&ctx, delay);
        if decision == SleepDecision::Sleep && !self.awaits_sleep_hooks {
            self.hooks.before_sleep(&ctx, delay);
        }
        self.phase = Phase::Sleeping;
        self.apply_sleep_decision(decision, delay, now)
    }

    fn apply_sleep_decision(
        &mut self,
        decision: SleepDecision,
        delay: Duration,
        now: Duration,
    ) -> Action {
        match decision {
            SleepDecision::Sleep => Action::Sleep(delay),
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
        // An attempt whose fate was not yet reported ends here.
        let attempt_running = matches!(self.phase, Phase::Attempting | Phase::Sleeping);
        self.run.stop = Some(StopReason::Aborted);
        self.phase = Phase::Done;
        let mut event = Event::new(EventKind::Aborted, self.run.attempt);
        event.stop_reason = Some(StopReason::Aborted);
        self.emit(event, now);
        if attempt_running {
            self.attempt_end(AttemptDecision::Aborted, None, now);
        }
    }

    fn failure_event(&self, kind: EventKind) -> Event<'static> {
        let mut event = Event::new(kind, self.run.attempt);
        if let Some((c, cause)) = &self.run.last {
            event.class = Some(c.class);
            event.cause = Some(*cause);
            // A classifier's own tag wins; the type name is only looked up
            // when something reads events.
            event.error_type = c.tag;
            if c.tag.is_none() && *cause == Cause::Error && self.observed() {
                event.error_type = self.last_error_type.map(|name| name());
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
            attempt: self.run.attempt,
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
                Action::Attempt => exec.record(Err("reset"), Duration::ZERO, &mut rng),
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
}
