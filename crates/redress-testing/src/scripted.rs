//! Scripted operations: fail with these classes, then succeed.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redress_core::{Classification, Classifier, ErrorClass, ManualClock};

/// The error a [`ScriptedOperation`] returns: it carries the class it
/// should be classified as (and an optional retry-after hint), which
/// [`ScriptedClassifier`] reads back.
///
/// ```
/// use std::time::Duration;
/// use redress_core::{Classifier, ErrorClass};
/// use redress_testing::{ScriptedClassifier, ScriptedError};
///
/// let e = ScriptedError::new(ErrorClass::RateLimit).with_retry_after(Duration::from_secs(2));
/// let c = ScriptedClassifier.classify(&e);
/// assert_eq!(c.class, ErrorClass::RateLimit);
/// assert_eq!(c.retry_after, Some(Duration::from_secs(2)));
/// assert_eq!(e.to_string(), "scripted RATE_LIMIT failure");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ScriptedError {
    /// The class to classify it as.
    pub class: ErrorClass,
    /// The retry-after hint to report.
    pub retry_after: Option<Duration>,
    /// Which invocation of the operation returned it (1-based), for errors
    /// added with the `fail*` methods of [`ScriptedOperation`]; 0 otherwise.
    pub call: u32,
}

impl ScriptedError {
    /// An error of `class` with no hint.
    pub const fn new(class: ErrorClass) -> Self {
        ScriptedError {
            class,
            retry_after: None,
            call: 0,
        }
    }

    /// Adds a retry-after hint.
    #[must_use]
    pub const fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// The classification it stands for.
    pub fn classification(&self) -> Classification {
        let c = Classification::new(self.class);
        match self.retry_after {
            Some(hint) => c.with_retry_after(hint),
            None => c,
        }
    }
}

impl fmt::Display for ScriptedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scripted {} failure", self.class)?;
        if self.call > 0 {
            write!(f, " (call {})", self.call)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptedError {}

/// Classifies a [`ScriptedError`] as the class (and hint) it carries.
///
/// ```
/// use redress_core::Policy;
/// use redress_testing::{instant_retries, ScriptedClassifier};
///
/// let policy = Policy::builder()
///     .classifier(ScriptedClassifier)
///     .strategy(instant_retries())
///     .build()?;
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptedClassifier;

impl Classifier<ScriptedError> for ScriptedClassifier {
    fn classify(&self, error: &ScriptedError) -> Classification {
        error.classification()
    }
}

/// What one invocation of a [`ScriptedOperation`] does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step<T, E> {
    /// Return `Ok(value)`: a success, or a failure if the policy's result
    /// classifier flags the value.
    Ok(T),
    /// Return `Err(error)`.
    Err(E),
    /// Never finish (async only): for attempt timeouts. The blocking
    /// runner cannot interrupt an attempt, so `call` panics on this step.
    Hang,
}

#[derive(Clone, Debug)]
struct Entry<T, E> {
    step: Step<T, E>,
    takes: Option<Duration>,
}

/// An operation that plays a script: fail with these classes, return
/// these values, then succeed. Each invocation takes the next step; the
/// last step repeats once the script is done. It counts its invocations
/// and, given a clock, advances it by each attempt's duration.
///
/// It works through `&self`, so `|| op.call()` is the operation for the
/// blocking runner and `|| op.call_async()` for async runners, and the
/// operation can still be inspected afterwards. It is `Sync`.
///
/// ```
/// use std::time::Duration;
/// use redress_core::{ErrorClass, ManualClock, Policy, StopReason};
/// use redress_sync::BlockingPolicy;
/// use redress_testing::{instant_sleeper, ScriptedClassifier, ScriptedOperation};
/// use redress_core::backoff::constant;
///
/// let policy = Policy::builder()
///     .classifier(ScriptedClassifier)
///     .strategy(constant(Duration::from_millis(100)))
///     .build()?;
/// let clock = ManualClock::new();
/// let op = ScriptedOperation::new()
///     .fail(ErrorClass::Transient)
///     .fail(ErrorClass::ServerError)
///     .succeed("done")
///     .each_taking(Duration::from_millis(50), &clock);
///
/// let outcome = policy
///     .bind()
///     .clock(&clock)
///     .sleeper(instant_sleeper(&clock))
///     .execute(|| op.call());
/// assert_eq!(outcome.value(), Some(&"done"));
/// assert_eq!(op.calls(), 3);
/// // Three 50 ms attempts and two 100 ms sleeps.
/// assert_eq!(outcome.elapsed, Duration::from_millis(350));
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub struct ScriptedOperation<'c, T = (), E = ScriptedError> {
    script: Mutex<Script<T, E>>,
    clock: Option<&'c ManualClock>,
    each_takes: Duration,
    /// Records the invocation in errors that can hold it ([`ScriptedError`]).
    stamp: Option<fn(&mut E, u32)>,
}

struct Script<T, E> {
    steps: VecDeque<Entry<T, E>>,
    calls: u32,
}

impl<T, E> fmt::Debug for ScriptedOperation<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let script = self.lock();
        f.debug_struct("ScriptedOperation")
            .field("calls", &script.calls)
            .field("steps_left", &script.steps.len())
            .field("each_takes", &self.each_takes)
            .finish_non_exhaustive()
    }
}

impl<T, E> Default for ScriptedOperation<'_, T, E> {
    fn default() -> Self {
        ScriptedOperation {
            script: Mutex::new(Script {
                steps: VecDeque::new(),
                calls: 0,
            }),
            clock: None,
            each_takes: Duration::ZERO,
            stamp: None,
        }
    }
}

impl<T> ScriptedOperation<'_, T, ScriptedError> {
    /// An empty script whose errors are [`ScriptedError`]s; add steps with
    /// the builder methods. For another error type, start from
    /// [`default`](Default::default) and add errors with
    /// [`error`](Self::error).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a step failing with a [`ScriptedError`] of `class`.
    #[must_use]
    pub fn fail(self, class: ErrorClass) -> Self {
        self.push_scripted(ScriptedError::new(class))
    }

    fn push_scripted(mut self, error: ScriptedError) -> Self {
        self.stamp = Some(|e: &mut ScriptedError, call| e.call = call);
        self.then(Step::Err(error))
    }

    /// Adds `times` steps failing with `class`.
    #[must_use]
    pub fn fail_times(mut self, times: u32, class: ErrorClass) -> Self {
        for _ in 0..times {
            self = self.fail(class);
        }
        self
    }

    /// Adds a step failing with `class` and a retry-after hint.
    #[must_use]
    pub fn fail_with_retry_after(self, class: ErrorClass, retry_after: Duration) -> Self {
        self.push_scripted(ScriptedError::new(class).with_retry_after(retry_after))
    }

    /// Adds one failing step per class, in order.
    ///
    /// ```
    /// use redress_core::ErrorClass::{RateLimit, Transient};
    /// use redress_testing::ScriptedOperation;
    ///
    /// let op = ScriptedOperation::new().fail_with([Transient, RateLimit]).succeed(1);
    /// assert_eq!(op.call().unwrap_err().class, Transient);
    /// assert_eq!(op.call().unwrap_err().class, RateLimit);
    /// assert_eq!(op.call(), Ok(1));
    /// assert_eq!(op.call(), Ok(1)); // the last step repeats
    /// ```
    #[must_use]
    pub fn fail_with(mut self, classes: impl IntoIterator<Item = ErrorClass>) -> Self {
        for class in classes {
            self = self.fail(class);
        }
        self
    }

    /// An operation that always fails with `class`.
    pub fn failing(class: ErrorClass) -> Self {
        Self::new().fail(class)
    }
}

impl<'c, T, E> ScriptedOperation<'c, T, E> {
    /// Adds a step returning `Ok(value)` (the last step, usually).
    #[must_use]
    pub fn succeed(self, value: T) -> Self {
        self.then(Step::Ok(value))
    }

    /// Adds a step returning `Ok(value)` that the policy's result
    /// classifier is expected to flag. The same as [`succeed`](Self::succeed);
    /// the name says what the test means.
    #[must_use]
    pub fn flagged(self, value: T) -> Self {
        self.then(Step::Ok(value))
    }

    /// Adds a step returning `Err(error)`.
    #[must_use]
    pub fn error(self, error: E) -> Self {
        self.then(Step::Err(error))
    }

    /// Adds a step that never finishes (async runners only: an attempt
    /// timeout cancels it).
    #[must_use]
    pub fn hang(self) -> Self {
        self.then(Step::Hang)
    }

    /// Adds any step.
    #[must_use]
    pub fn then(self, step: Step<T, E>) -> Self {
        self.lock().steps.push_back(Entry { step, takes: None });
        self
    }

    /// Makes the last step added take `duration` on the clock given to
    /// [`each_taking`](Self::each_taking) (overriding its duration for that
    /// step).
    #[must_use]
    pub fn taking(self, duration: Duration) -> Self {
        if let Some(last) = self.lock().steps.back_mut() {
            last.takes = Some(duration);
        }
        self
    }

    /// Every invocation advances `clock` by `duration` (steps given their
    /// own with [`taking`](Self::taking) keep theirs): attempts that take
    /// time, on virtual time.
    ///
    /// The clock moves when the attempt starts and the attempt then
    /// finishes at once, so an async attempt timeout never cuts a slow
    /// step short; script a [`hang`](Self::hang) to test timeouts.
    #[must_use]
    pub fn each_taking(mut self, duration: Duration, clock: &'c ManualClock) -> Self {
        self.each_takes = duration;
        self.clock = Some(clock);
        self
    }

    /// How many times the operation was invoked.
    pub fn calls(&self) -> u32 {
        self.lock().calls
    }

    /// The steps not yet played (the last one stays until the end).
    pub fn steps_left(&self) -> usize {
        self.lock().steps.len()
    }

    /// Invokes the operation: plays the next step.
    ///
    /// # Panics
    ///
    /// If the script is empty, or the step is [`Step::Hang`] (a blocking
    /// call cannot hang and be cancelled): both are mistakes in the test.
    #[allow(clippy::panic)] // a broken script is a bug in the test; say so loudly
    #[track_caller]
    pub fn call(&self) -> Result<T, E>
    where
        T: Clone,
        E: Clone,
    {
        match self.next() {
            Some(result) => result,
            None => panic!("ScriptedOperation::call played a `hang` step; use `call_async`"),
        }
    }

    /// Invokes the operation from async code: plays the next step. The
    /// future is ready at once, except for a [`Step::Hang`], which never
    /// completes.
    ///
    /// ```
    /// use core::future::Future;
    /// use core::task::{Context, Poll, Waker};
    /// use redress_core::ErrorClass;
    /// use redress_testing::ScriptedOperation;
    ///
    /// let op = ScriptedOperation::new().hang().succeed(7);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let mut first = std::pin::pin!(op.call_async());
    /// assert!(first.as_mut().poll(&mut cx).is_pending());
    /// let mut second = std::pin::pin!(op.call_async());
    /// assert!(matches!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(7))));
    /// ```
    ///
    /// # Panics
    ///
    /// If the script is empty: a mistake in the test.
    #[track_caller]
    pub fn call_async(&self) -> ScriptedFuture<T, E>
    where
        T: Clone,
        E: Clone,
    {
        ScriptedFuture {
            result: self.next(),
        }
    }

    #[allow(clippy::panic)] // an empty script is a bug in the test
    #[track_caller]
    fn next(&self) -> Option<Result<T, E>>
    where
        T: Clone,
        E: Clone,
    {
        let (entry, call) = {
            let mut script = self.lock();
            script.calls = script.calls.saturating_add(1);
            let entry = if script.steps.len() > 1 {
                script.steps.pop_front()
            } else {
                script.steps.front().cloned()
            };
            match entry {
                Some(entry) => (entry, script.calls),
                None => {
                    panic!("ScriptedOperation has no steps: add some with `fail`, `succeed`, ...")
                }
            }
        };
        if let Some(clock) = self.clock {
            clock.advance(entry.takes.unwrap_or(self.each_takes));
        }
        match entry.step {
            Step::Ok(value) => Some(Ok(value)),
            Step::Err(mut error) => {
                if let Some(stamp) = self.stamp {
                    stamp(&mut error, call);
                }
                Some(Err(error))
            }
            Step::Hang => None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Script<T, E>> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The future of [`ScriptedOperation::call_async`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct ScriptedFuture<T, E> {
    result: Option<Result<T, E>>,
}

impl<T, E> Unpin for ScriptedFuture<T, E> {}

impl<T, E> Future for ScriptedFuture<T, E> {
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        match self.get_mut().result.take() {
            Some(result) => Poll::Ready(result),
            // A hang: never ready (and never wakes; a timer racing it does).
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn steps_play_in_order_and_the_last_repeats() {
        let clock = ManualClock::new();
        let op: ScriptedOperation<'_, u8> = ScriptedOperation::new()
            .fail_with_retry_after(ErrorClass::RateLimit, Duration::from_secs(1))
            .taking(Duration::from_secs(2))
            .fail_times(2, ErrorClass::Unknown)
            .succeed(9)
            .each_taking(Duration::from_millis(10), &clock);
        let e = op.call().unwrap_err();
        assert_eq!(
            (e.class, e.retry_after, e.call),
            (ErrorClass::RateLimit, Some(Duration::from_secs(1)), 1)
        );
        assert_eq!(clock.now(), Duration::from_secs(2));
        assert_eq!(op.call().unwrap_err().call, 2);
        assert_eq!(
            op.call().unwrap_err().to_string(),
            "scripted UNKNOWN failure (call 3)"
        );
        assert_eq!(op.call(), Ok(9));
        assert_eq!(op.call(), Ok(9));
        assert_eq!(op.calls(), 5);
        assert_eq!(op.steps_left(), 1);
        assert_eq!(clock.now(), Duration::from_millis(2040));
    }

    #[test]
    fn custom_error_types_work() {
        let op: ScriptedOperation<'_, u8, &'static str> =
            ScriptedOperation::default().error("reset").succeed(1);
        assert_eq!(op.call(), Err("reset"));
        assert_eq!(op.call(), Ok(1));
        assert!(format!("{op:?}").contains("calls: 2"));
    }

    #[test]
    #[should_panic(expected = "has no steps")]
    fn an_empty_script_is_a_test_bug() {
        let op: ScriptedOperation<'_> = ScriptedOperation::new();
        let _ = op.call();
    }

    #[test]
    #[should_panic(expected = "use `call_async`")]
    fn hanging_needs_an_async_runner() {
        let op: ScriptedOperation<'_> = ScriptedOperation::new().hang();
        let _ = op.call();
    }
}
