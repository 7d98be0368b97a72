//! Hooks: how callers observe and steer a call.
//!
//! The engine calls one [`Hooks`] value at each decision point. Every method
//! has a default that does nothing, `()` is the empty set of hooks, and a
//! pair `(A, B)` runs both, so hooks compose without allocation. The closure
//! adapters ([`OnEvent`], [`OnMetric`], [`OnLog`], ...) are what
//! [`Bound`](crate::Bound)'s `on_*` methods build.
//!
//! # Panics in hooks
//!
//! Hooks run on the caller's stack. A hook that panics unwinds out of the
//! call like a panic in the operation would: the call ends there, its
//! per-call state is dropped, and nothing shared with other calls is left
//! half-updated (the engine changes shared state only through atomic steps
//! that complete before a hook runs). The panic reaches the caller; redress
//! does not catch it, because a retry library that swallowed panics would
//! hide bugs.

use core::fmt;
use core::time::Duration;

use crate::backoff::BackoffContext;
use crate::class::{Cause, Classification, ErrorClass};
use crate::event::{Event, LogFields, StopReason, Tags};

/// What to do with a computed retry delay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SleepDecision {
    /// Sleep, then attempt again.
    #[default]
    Sleep,
    /// Don't sleep here: stop with [`StopReason::Scheduled`] and hand the
    /// delay back in the outcome, so the caller can reschedule the work
    /// (for example re-enqueue a job).
    Defer,
    /// Stop now with [`StopReason::Aborted`].
    Abort,
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttemptDecision {
    /// It succeeded.
    Success,
    /// It failed and another attempt follows after `delay`.
    Retry,
    /// It failed and the call stops.
    Stop,
    /// It failed and the retry was deferred to the caller.
    Scheduled,
    /// It failed and the call was aborted.
    Aborted,
}

impl AttemptDecision {
    /// `"success"`, `"retry"`, `"stop"`, `"scheduled"` or `"aborted"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AttemptDecision::Success => "success",
            AttemptDecision::Retry => "retry",
            AttemptDecision::Stop => "stop",
            AttemptDecision::Scheduled => "scheduled",
            AttemptDecision::Aborted => "aborted",
        }
    }
}

/// Passed to [`Hooks::on_attempt_start`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct AttemptStart<'a> {
    /// The attempt about to run (1-based).
    pub attempt: u32,
    /// The operation name, if the call has one.
    pub operation: Option<&'a str>,
    /// Time since the call started.
    pub elapsed: Duration,
    /// The longest the attempt may run: the attempt timeout, never past the
    /// deadline ([`Attempt::time_limit`](crate::Attempt::time_limit)).
    pub time_limit: Duration,
}

impl<'a> AttemptStart<'a> {
    /// The start of `attempt` at `elapsed` into a call, allowed to run for
    /// `time_limit` (for tests of hooks).
    pub const fn new(
        attempt: u32,
        operation: Option<&'a str>,
        elapsed: Duration,
        time_limit: Duration,
    ) -> Self {
        AttemptStart {
            attempt,
            operation,
            elapsed,
            time_limit,
        }
    }
}

/// Passed to [`Hooks::on_attempt_end`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct AttemptEnd<'a> {
    /// The attempt that ended (1-based).
    pub attempt: u32,
    /// The operation name, if the call has one.
    pub operation: Option<&'a str>,
    /// Time since the call started.
    pub elapsed: Duration,
    /// What the engine decided.
    pub decision: AttemptDecision,
    /// The failure's classification (`None` on success).
    pub classification: Option<&'a Classification>,
    /// The failure's cause (`None` on success).
    pub cause: Option<Cause>,
    /// Why the call stops, when it does.
    pub stop_reason: Option<StopReason>,
    /// The delay before the next attempt (retry), or the deferred delay
    /// (scheduled).
    pub delay: Option<Duration>,
}

/// How a call ended, as [`CallEnd`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallStatus {
    /// An attempt succeeded.
    Succeeded,
    /// The call stopped without success, for this reason
    /// ([`StopReason::CircuitOpen`] when the breaker rejected it).
    Stopped(StopReason),
    /// The call was dropped before it ended: its future was dropped (a
    /// `select!`, a timeout around it, an aborted task), or the thread
    /// running it unwound from a panic.
    Cancelled,
}

impl CallStatus {
    /// The stop reason, when the call stopped.
    pub const fn stop_reason(self) -> Option<StopReason> {
        match self {
            CallStatus::Stopped(reason) => Some(reason),
            CallStatus::Succeeded | CallStatus::Cancelled => None,
        }
    }

    /// `"succeeded"`, the stop reason's name (`"DEADLINE_EXCEEDED"`, ...),
    /// or `"cancelled"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CallStatus::Succeeded => "succeeded",
            CallStatus::Stopped(reason) => reason.as_str(),
            CallStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Passed to [`Hooks::on_call_end`], exactly once per call, after every
/// other event of the call (the breaker transition the call caused
/// included).
///
/// ```
/// use core::time::Duration;
/// use redress_core::{CallEnd, CallStatus, StopReason};
///
/// let end = CallEnd::new(CallStatus::Stopped(StopReason::CircuitOpen), 0, Duration::ZERO);
/// assert_eq!(end.stop_reason(), Some(StopReason::CircuitOpen));
/// assert!(!end.succeeded());
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct CallEnd<'a> {
    /// How the call ended.
    pub status: CallStatus,
    /// The operation name, if the call has one.
    pub operation: Option<&'a str>,
    /// Attempts started (0 when none ran).
    pub attempts: u32,
    /// Time from the start of the call to its end. For a cancelled call:
    /// to the last moment the engine was told the time (the end of its
    /// last attempt or sleep), since nothing reads a clock when a future is
    /// dropped.
    pub elapsed: Duration,
    /// The class of the last failure (`None` on success).
    pub class: Option<ErrorClass>,
    /// The cause of the last failure (`None` on success).
    pub cause: Option<Cause>,
    /// The `err` tag of the last failure, as events report it.
    pub error_type: Option<&'static str>,
}

impl<'a> CallEnd<'a> {
    /// An end with `status` after `attempts` and `elapsed`, every other
    /// field empty (for tests of hooks).
    pub const fn new(status: CallStatus, attempts: u32, elapsed: Duration) -> Self {
        CallEnd {
            status,
            operation: None,
            attempts,
            elapsed,
            class: None,
            cause: None,
            error_type: None,
        }
    }

    /// Why the call stopped (`None` when it succeeded or was cancelled).
    pub const fn stop_reason(&self) -> Option<StopReason> {
        self.status.stop_reason()
    }

    /// Whether the call succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == CallStatus::Succeeded
    }
}

/// Callbacks the engine invokes during a call. Every method defaults to
/// doing nothing.
///
/// ```
/// use core::cell::Cell;
/// use redress_core::{Event, EventKind, Hooks};
///
/// #[derive(Default)]
/// struct CountRetries(Cell<u32>);
///
/// impl Hooks for CountRetries {
///     fn on_event(&self, event: &Event<'_>) {
///         if event.kind == EventKind::Retry {
///             self.0.set(self.0.get() + 1);
///         }
///     }
/// }
/// ```
pub trait Hooks {
    /// Whether these hooks read events or records
    /// ([`on_event`](Self::on_event), [`on_attempt_start`](Self::on_attempt_start),
    /// [`on_attempt_end`](Self::on_attempt_end), [`on_call_end`](Self::on_call_end)).
    /// When no hook of a call does (and no timeline or `tracing` does
    /// either), the engine builds none of them. The other hooks are always
    /// called. Leave it `true` unless those four methods keep their empty
    /// defaults.
    const OBSERVES: bool = true;

    /// Whether [`decide_sleep`](Self::decide_sleep) or
    /// [`before_sleep`](Self::before_sleep) do anything. When they may
    /// (and may take time), the engine asks the runner to run them
    /// ([`Action::SleepHooks`](crate::Action::SleepHooks)) and reads the
    /// time again afterwards, so a sleep never ends past the deadline.
    /// Leave it `true` unless both keep their defaults.
    const SLEEP_HOOKS: bool = true;

    /// Every event, in order.
    fn on_event(&self, event: &Event<'_>) {
        let _ = event;
    }

    /// Asked before each attempt, after each failure, and after each retry
    /// decision; `true` stops the call with [`StopReason::Aborted`].
    fn should_abort(&self) -> bool {
        false
    }

    /// Just before an attempt runs.
    fn on_attempt_start(&self, attempt: &AttemptStart<'_>) {
        let _ = attempt;
    }

    /// When an attempt's fate is decided.
    fn on_attempt_end(&self, attempt: &AttemptEnd<'_>) {
        let _ = attempt;
    }

    /// Once per call, when it ends: success, every stop reason (a call the
    /// breaker rejected included), or cancellation (see [`CallEnd`]).
    fn on_call_end(&self, end: &CallEnd<'_>) {
        let _ = end;
    }

    /// Decides what to do with a retry delay (default: sleep).
    fn decide_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) -> SleepDecision {
        let _ = (ctx, delay);
        SleepDecision::Sleep
    }

    /// Just before the runner sleeps `delay`.
    fn before_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) {
        let _ = (ctx, delay);
    }
}

/// Forwards every hook (and both consts) of `H` through a pointer to it.
macro_rules! forward_hooks {
    ($(#[$attr:meta])* $pointer:ty) => {
        $(#[$attr])*
        impl<H: Hooks + ?Sized> Hooks for $pointer {
            const OBSERVES: bool = H::OBSERVES;
            const SLEEP_HOOKS: bool = H::SLEEP_HOOKS;
            #[inline]
            fn on_event(&self, event: &Event<'_>) {
                (**self).on_event(event);
            }
            #[inline]
            fn should_abort(&self) -> bool {
                (**self).should_abort()
            }
            #[inline]
            fn on_attempt_start(&self, attempt: &AttemptStart<'_>) {
                (**self).on_attempt_start(attempt);
            }
            #[inline]
            fn on_attempt_end(&self, attempt: &AttemptEnd<'_>) {
                (**self).on_attempt_end(attempt);
            }
            #[inline]
            fn on_call_end(&self, end: &CallEnd<'_>) {
                (**self).on_call_end(end);
            }
            #[inline]
            fn decide_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) -> SleepDecision {
                (**self).decide_sleep(ctx, delay)
            }
            #[inline]
            fn before_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) {
                (**self).before_sleep(ctx, delay);
            }
        }
    };
}

impl Hooks for () {
    const SLEEP_HOOKS: bool = false;
    const OBSERVES: bool = false;
}

// References to hooks are hooks.
forward_hooks!(&H);

/// Both hook sets run, the first one first. An abort from either aborts; the
/// first sleep decision that is not `Sleep` wins.
impl<A: Hooks, B: Hooks> Hooks for (A, B) {
    const SLEEP_HOOKS: bool = A::SLEEP_HOOKS || B::SLEEP_HOOKS;
    const OBSERVES: bool = A::OBSERVES || B::OBSERVES;
    #[inline]
    fn on_event(&self, event: &Event<'_>) {
        self.0.on_event(event);
        self.1.on_event(event);
    }
    #[inline]
    fn should_abort(&self) -> bool {
        self.0.should_abort() || self.1.should_abort()
    }
    #[inline]
    fn on_attempt_start(&self, attempt: &AttemptStart<'_>) {
        self.0.on_attempt_start(attempt);
        self.1.on_attempt_start(attempt);
    }
    #[inline]
    fn on_attempt_end(&self, attempt: &AttemptEnd<'_>) {
        self.0.on_attempt_end(attempt);
        self.1.on_attempt_end(attempt);
    }
    #[inline]
    fn on_call_end(&self, end: &CallEnd<'_>) {
        self.0.on_call_end(end);
        self.1.on_call_end(end);
    }
    #[inline]
    fn decide_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) -> SleepDecision {
        match self.0.decide_sleep(ctx, delay) {
            SleepDecision::Sleep => self.1.decide_sleep(ctx, delay),
            other => other,
        }
    }
    #[inline]
    fn before_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) {
        self.0.before_sleep(ctx, delay);
        self.1.before_sleep(ctx, delay);
    }
}

macro_rules! closure_hook {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<F>(pub F);

        impl<F> fmt::Debug for $name<F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

closure_hook!(
    /// Calls `F(&Event)` for every event.
    OnEvent
);
closure_hook!(
    /// The metric hook of the reference: `F(event, attempt, delay, &tags)`.
    OnMetric
);
closure_hook!(
    /// The log hook of the reference: `F(event, &fields)`.
    OnLog
);
closure_hook!(
    /// An abort predicate: `F() -> bool`.
    AbortIf
);
closure_hook!(
    /// Calls `F(&AttemptStart)` before each attempt.
    OnAttemptStart
);
closure_hook!(
    /// Calls `F(&AttemptEnd)` after each attempt.
    OnAttemptEnd
);
closure_hook!(
    /// Calls `F(&CallEnd)` once per call, when it ends.
    OnCallEnd
);
closure_hook!(
    /// The sleep decision hook: `F(&BackoffContext, delay) -> SleepDecision`.
    DecideSleep
);
closure_hook!(
    /// Calls `F(&BackoffContext, delay)` before each sleep.
    BeforeSleep
);

impl<F: Fn(&Event<'_>)> Hooks for OnEvent<F> {
    const SLEEP_HOOKS: bool = false;
    #[inline]
    fn on_event(&self, event: &Event<'_>) {
        (self.0)(event);
    }
}

impl<F: Fn(&str, u32, Duration, &Tags<'_>)> Hooks for OnMetric<F> {
    const SLEEP_HOOKS: bool = false;
    #[inline]
    fn on_event(&self, event: &Event<'_>) {
        (self.0)(
            event.kind.as_str(),
            event.attempt,
            event.delay,
            &event.tags(),
        );
    }
}

impl<F: Fn(&str, &LogFields<'_, '_>)> Hooks for OnLog<F> {
    const SLEEP_HOOKS: bool = false;
    #[inline]
    fn on_event(&self, event: &Event<'_>) {
        (self.0)(event.kind.as_str(), &event.log_fields());
    }
}

impl<F: Fn() -> bool> Hooks for AbortIf<F> {
    const SLEEP_HOOKS: bool = false;
    const OBSERVES: bool = false;
    #[inline]
    fn should_abort(&self) -> bool {
        (self.0)()
    }
}

impl<F: Fn(&AttemptStart<'_>)> Hooks for OnAttemptStart<F> {
    const SLEEP_HOOKS: bool = false;
    #[inline]
    fn on_attempt_start(&self, attempt: &AttemptStart<'_>) {
        (self.0)(attempt);
    }
}

impl<F: Fn(&AttemptEnd<'_>)> Hooks for OnAttemptEnd<F> {
    const SLEEP_HOOKS: bool = false;
    #[inline]
    fn on_attempt_end(&self, attempt: &AttemptEnd<'_>) {
        (self.0)(attempt);
    }
}

impl<F: Fn(&CallEnd<'_>)> Hooks for OnCallEnd<F> {
    const SLEEP_HOOKS: bool = false;
    #[inline]
    fn on_call_end(&self, end: &CallEnd<'_>) {
        (self.0)(end);
    }
}

impl<F: Fn(&BackoffContext<'_>, Duration) -> SleepDecision> Hooks for DecideSleep<F> {
    const OBSERVES: bool = false;
    #[inline]
    fn decide_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) -> SleepDecision {
        (self.0)(ctx, delay)
    }
}

impl<F: Fn(&BackoffContext<'_>, Duration)> Hooks for BeforeSleep<F> {
    const OBSERVES: bool = false;
    #[inline]
    fn before_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) {
        (self.0)(ctx, delay);
    }
}

/// A cooperative abort flag: set it from anywhere (another thread or task)
/// and the calls watching it stop with [`StopReason::Aborted`] at their next
/// check (before an attempt, after a failure, after a retry decision).
///
/// ```
/// use redress_core::{AbortSignal, Hooks};
///
/// static SHUTDOWN: AbortSignal = AbortSignal::new();
/// assert!(!(&SHUTDOWN).should_abort());
/// SHUTDOWN.abort();
/// assert!((&SHUTDOWN).should_abort());
/// ```
#[derive(Debug, Default)]
pub struct AbortSignal {
    aborted: core::sync::atomic::AtomicBool,
}

impl AbortSignal {
    /// A signal that is not set.
    pub const fn new() -> Self {
        AbortSignal {
            aborted: core::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Sets the signal.
    pub fn abort(&self) {
        self.aborted
            .store(true, core::sync::atomic::Ordering::Release);
    }

    /// Clears the signal.
    pub fn reset(&self) {
        self.aborted
            .store(false, core::sync::atomic::Ordering::Release);
    }

    /// Whether the signal is set.
    pub fn is_aborted(&self) -> bool {
        self.aborted.load(core::sync::atomic::Ordering::Acquire)
    }
}

impl Hooks for AbortSignal {
    const SLEEP_HOOKS: bool = false;
    const OBSERVES: bool = false;
    #[inline]
    fn should_abort(&self) -> bool {
        self.is_aborted()
    }
}

// Shared hooks (an `Arc` of a metrics recorder, of an `AbortSignal`) and
// boxed ones are hooks.
forward_hooks!(#[cfg(feature = "alloc")] alloc::sync::Arc<H>);
forward_hooks!(#[cfg(feature = "alloc")] alloc::boxed::Box<H>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::ErrorClass;
    use crate::event::EventKind;
    use core::cell::Cell;
    use std::prelude::rust_2024::*;

    #[test]
    fn only_hooks_that_read_events_observe() {
        const fn observes<H: Hooks>(_: &H) -> bool {
            H::OBSERVES
        }
        let abort = AbortIf(|| false);
        let on_event = OnEvent(|_: &Event<'_>| {});
        assert!(!observes(&()));
        assert!(!observes(&abort));
        assert!(!observes(&AbortSignal::new()));
        assert!(observes(&on_event));
        assert!(observes(&(abort, on_event)));
        assert!(!observes(&(AbortIf(|| true), ())));
    }

    #[test]
    fn shared_and_boxed_hooks_forward_everything() {
        use core::sync::atomic::{AtomicU32, Ordering};
        struct Counting(AtomicU32);
        impl Hooks for Counting {
            const SLEEP_HOOKS: bool = false;
            fn on_event(&self, _: &Event<'_>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
            fn should_abort(&self) -> bool {
                self.0.load(Ordering::Relaxed) >= 2
            }
        }
        const fn consts<H: Hooks>(_: &H) -> (bool, bool) {
            (H::OBSERVES, H::SLEEP_HOOKS)
        }
        let shared = std::sync::Arc::new(Counting(AtomicU32::new(0)));
        let boxed: Box<Counting> = Box::new(Counting(AtomicU32::new(0)));
        assert_eq!(consts(&shared), (true, false));
        assert_eq!(consts(&boxed), (true, false));
        assert_eq!(consts(&std::sync::Arc::new(())), (false, false));

        let event = Event::new(EventKind::Retry, 1);
        std::sync::Arc::clone(&shared).on_event(&event);
        shared.on_event(&event);
        assert_eq!(shared.0.load(Ordering::Relaxed), 2);
        assert!(Hooks::should_abort(&shared));
        boxed.on_event(&event);
        assert!(!Hooks::should_abort(&boxed));
    }

    #[test]
    fn pairs_run_both_and_combine_decisions() {
        let seen = Cell::new(0);
        let a = OnEvent(|_: &Event<'_>| seen.set(seen.get() + 1));
        let b = OnEvent(|_: &Event<'_>| seen.set(seen.get() + 10));
        let pair = (a, (b, AbortIf(|| true)));
        pair.on_event(&Event::new(EventKind::Retry, 1));
        assert_eq!(seen.get(), 11);
        assert!(pair.should_abort());

        let c = Classification::new(ErrorClass::Transient);
        let ctx = BackoffContext::new(1, &c);
        let defer_second = (
            DecideSleep(|_: &BackoffContext<'_>, _| SleepDecision::Sleep),
            DecideSleep(|_: &BackoffContext<'_>, _| SleepDecision::Defer),
        );
        assert_eq!(
            defer_second.decide_sleep(&ctx, Duration::ZERO),
            SleepDecision::Defer
        );
        assert_eq!(().decide_sleep(&ctx, Duration::ZERO), SleepDecision::Sleep);
    }

    #[test]
    fn metric_and_log_hooks_receive_reference_shapes() {
        let got = core::cell::RefCell::new(std::vec::Vec::new());
        let metric = OnMetric(
            |event: &str, attempt: u32, delay: Duration, tags: &Tags<'_>| {
                got.borrow_mut().push(std::format!(
                    "{event} {attempt} {delay:?} {:?}",
                    tags.get("class")
                ));
            },
        );
        let log = OnLog(|event: &str, fields: &LogFields<'_, '_>| {
            got.borrow_mut().push(std::format!("{event}: {fields}"));
        });
        let mut e = Event::new(EventKind::Retry, 2);
        e.class = Some(ErrorClass::ServerError);
        e.delay = Duration::from_millis(500);
        (metric, log).on_event(&e);
        assert_eq!(
            *got.borrow(),
            [
                "retry 2 500ms Some(\"SERVER_ERROR\")",
                "retry: attempt=2 sleep_s=0.5 class=SERVER_ERROR"
            ]
        );
    }
}
