//! Strategies and policy presets for tests.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redress_core::backoff::{Backoff, constant};
use redress_core::{
    BackoffContext, Cause, Classification, ErrorClass, Policy, PolicyBuilder, Rng, Strategy,
};

/// A strategy that returns the delays it was given and records every
/// context it was asked with.
///
/// The delay for attempt `n` (1-based) is the `n`-th given delay; past the
/// list it is the [`otherwise`](Self::otherwise) delay if one was set, else
/// the last given delay (zero for an empty list). So the same delays come
/// back for every call, as with the reference's `DeterministicStrategy`.
///
/// It is a cheap handle (clones share the record): give one clone to the
/// policy (it converts into a [`Backoff`]) and keep one to inspect.
/// Recording is thread-safe.
///
/// ```
/// use std::time::Duration;
/// use redress_core::{ErrorClass, ManualClock, Policy};
/// use redress_sync::BlockingPolicy;
/// use redress_testing::{instant_sleeper, DeterministicStrategy};
///
/// let strategy = DeterministicStrategy::from_millis([100, 250]);
/// let policy = Policy::builder()
///     .classifier(|_: &&str| ErrorClass::ServerError)
///     .strategy(strategy.clone())
///     .max_attempts(4)
///     .build()?;
/// let clock = ManualClock::new();
/// let outcome = policy
///     .bind()
///     .clock(&clock)
///     .sleeper(instant_sleeper(&clock))
///     .execute(|| Err::<(), _>("503"));
///
/// assert_eq!(outcome.elapsed, Duration::from_millis(100 + 250 + 250));
/// let asked = strategy.calls();
/// assert_eq!(asked.len(), 3);
/// assert_eq!(asked[0].attempt, 1);
/// assert_eq!(asked[1].prev_delay, Some(Duration::from_millis(100)));
/// assert_eq!(asked[2].class(), ErrorClass::ServerError);
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct DeterministicStrategy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    delays: Box<[Duration]>,
    otherwise: Option<Duration>,
    calls: Mutex<Vec<RecordedContext>>,
}

impl DeterministicStrategy {
    /// Returns `delays[n - 1]` for attempt `n`, then the last delay.
    pub fn new(delays: impl IntoIterator<Item = Duration>) -> Self {
        DeterministicStrategy {
            inner: Arc::new(Inner {
                delays: delays.into_iter().collect(),
                otherwise: None,
                calls: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Like [`new`](Self::new), with delays in milliseconds.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redress_testing::DeterministicStrategy;
    ///
    /// let s = DeterministicStrategy::from_millis([100, 200]);
    /// assert_eq!(s.delays(), [Duration::from_millis(100), Duration::from_millis(200)]);
    /// ```
    pub fn from_millis(delays: impl IntoIterator<Item = u64>) -> Self {
        Self::new(delays.into_iter().map(Duration::from_millis))
    }

    /// Returns `delay` for every attempt past the given list (instead of
    /// repeating the last given delay). Call it before cloning: it makes a
    /// new handle.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redress_core::{BackoffContext, Classification, ErrorClass, FastRng, Strategy};
    /// use redress_testing::DeterministicStrategy;
    ///
    /// let s = DeterministicStrategy::from_millis([100]).otherwise(Duration::from_secs(1));
    /// let c = Classification::new(ErrorClass::Transient);
    /// let mut rng = FastRng::seeded(0);
    /// assert_eq!(s.delay(&BackoffContext::new(1, &c), &mut rng), Duration::from_millis(100));
    /// assert_eq!(s.delay(&BackoffContext::new(5, &c), &mut rng), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn otherwise(self, delay: Duration) -> Self {
        let calls = self.take_calls();
        DeterministicStrategy {
            inner: Arc::new(Inner {
                delays: self.inner.delays.clone(),
                otherwise: Some(delay),
                calls: Mutex::new(calls),
            }),
        }
    }

    /// The given delays.
    pub fn delays(&self) -> &[Duration] {
        &self.inner.delays
    }

    /// The delay this strategy returns for `attempt` (1-based).
    pub fn delay_for(&self, attempt: u32) -> Duration {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        match self.inner.delays.get(index) {
            Some(delay) => *delay,
            None => self
                .inner
                .otherwise
                .or_else(|| self.inner.delays.last().copied())
                .unwrap_or(Duration::ZERO),
        }
    }

    /// Every context the strategy was asked with, in order.
    pub fn calls(&self) -> Vec<RecordedContext> {
        self.lock().clone()
    }

    /// How many times the strategy was asked for a delay.
    pub fn call_count(&self) -> usize {
        self.lock().len()
    }

    /// The attempts it was asked about, in order.
    ///
    /// ```
    /// use redress_core::{BackoffContext, Classification, ErrorClass, FastRng, Strategy};
    /// use redress_testing::DeterministicStrategy;
    ///
    /// let s = DeterministicStrategy::from_millis([1]);
    /// let c = Classification::new(ErrorClass::Transient);
    /// s.delay(&BackoffContext::new(1, &c), &mut FastRng::seeded(0));
    /// s.delay(&BackoffContext::new(2, &c), &mut FastRng::seeded(0));
    /// assert_eq!(s.attempts(), [1, 2]);
    /// s.reset();
    /// assert_eq!(s.call_count(), 0);
    /// ```
    pub fn attempts(&self) -> Vec<u32> {
        self.lock().iter().map(|c| c.attempt).collect()
    }

    /// Forgets the recorded contexts.
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn take_calls(&self) -> Vec<RecordedContext> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<RecordedContext>> {
        // A panicking test thread must not hide the record from the others.
        self.inner
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Strategy for DeterministicStrategy {
    fn delay(&self, ctx: &BackoffContext<'_>, _rng: &mut dyn Rng) -> Duration {
        self.lock().push(RecordedContext::from(ctx));
        self.delay_for(ctx.attempt)
    }

    fn max_delay(&self) -> Option<Duration> {
        self.inner
            .delays
            .iter()
            .copied()
            .chain(self.inner.otherwise)
            .max()
    }
}

impl From<DeterministicStrategy> for Backoff {
    fn from(strategy: DeterministicStrategy) -> Self {
        Backoff::custom(strategy)
    }
}

/// A [`BackoffContext`] as a strategy saw it, owned so it can be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedContext {
    /// The attempt that had just failed (1-based).
    pub attempt: u32,
    /// How the failure was classified, with its hints.
    pub classification: Classification,
    /// The delay before the failed attempt, if there was one.
    pub prev_delay: Option<Duration>,
    /// Time that was left before the deadline.
    pub remaining: Duration,
    /// Whether the failure was an error or a flagged result.
    pub cause: Cause,
    /// The runner's clock reading.
    pub now: Duration,
}

impl RecordedContext {
    /// The class of the failure.
    pub fn class(&self) -> ErrorClass {
        self.classification.class
    }

    /// The retry-after hint of the failure, if it had one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.classification.retry_after
    }
}

impl From<&BackoffContext<'_>> for RecordedContext {
    fn from(ctx: &BackoffContext<'_>) -> Self {
        RecordedContext {
            attempt: ctx.attempt,
            classification: *ctx.classification,
            prev_delay: ctx.prev_delay,
            remaining: ctx.remaining,
            cause: ctx.cause,
            now: ctx.now,
        }
    }
}

/// A strategy that retries at once: every delay is zero.
///
/// ```
/// use redress_core::{ErrorClass, Policy};
/// use redress_sync::BlockingPolicy;
/// use redress_testing::instant_retries;
///
/// let policy = Policy::builder()
///     .classifier(|_: &&str| ErrorClass::Transient)
///     .strategy(instant_retries())
///     .max_attempts(3)
///     .build()?;
/// let mut tries = 0;
/// let n = policy.call(|| {
///     tries += 1;
///     if tries < 3 { Err("flaky") } else { Ok(tries) }
/// });
/// assert_eq!(n.ok(), Some(3));
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub fn instant_retries() -> Backoff {
    constant(Duration::ZERO).into()
}

/// A policy builder that makes a single attempt and never retries (the
/// default classifier, the default deadline): for code whose retries are
/// not what the test is about. Change the classifier or add a breaker on
/// the builder as usual.
///
/// It is [`PolicyBuilder::no_retries`] on [`Policy::builder`]. Unlike the
/// reference's `no_retries()`, it keeps the default `UNKNOWN` cap, so a
/// failure stops with `MAX_ATTEMPTS_GLOBAL` whatever its class (or
/// `NON_RETRYABLE_CLASS` for permanent ones).
///
/// ```
/// use redress_core::{ErrorClass, StopReason};
/// use redress_sync::BlockingPolicy;
/// use redress_testing::no_retries;
///
/// let policy = no_retries().classifier(|_: &&str| ErrorClass::Transient).build()?;
/// let err = policy.call(|| Err::<(), _>("down")).unwrap_err();
/// assert_eq!(err.attempts, 1);
/// assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub fn no_retries() -> PolicyBuilder {
    Policy::builder().no_retries()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use redress_core::FastRng;

    #[test]
    fn delays_follow_the_attempt_then_repeat() {
        let s = DeterministicStrategy::from_millis([10, 20]);
        assert_eq!(s.delay_for(0), Duration::from_millis(10));
        assert_eq!(s.delay_for(2), Duration::from_millis(20));
        assert_eq!(s.delay_for(9), Duration::from_millis(20));
        assert_eq!(DeterministicStrategy::new([]).delay_for(1), Duration::ZERO);
        assert_eq!(s.max_delay(), Some(Duration::from_millis(20)));
    }

    #[test]
    fn otherwise_keeps_the_record() {
        let s = DeterministicStrategy::from_millis([10]);
        let c = Classification::new(ErrorClass::RateLimit).with_retry_after(Duration::from_secs(2));
        let ctx = BackoffContext::new(1, &c).with_prev_delay(Duration::from_millis(5));
        assert_eq!(
            s.delay(&ctx, &mut FastRng::seeded(1)),
            Duration::from_millis(10)
        );
        let s = s.otherwise(Duration::from_secs(3));
        assert_eq!(s.delay_for(4), Duration::from_secs(3));
        let calls = s.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(calls[0].prev_delay, Some(Duration::from_millis(5)));
    }

    #[test]
    fn the_strategy_is_shareable() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<DeterministicStrategy>();
        let b: Backoff = DeterministicStrategy::from_millis([1]).into();
        assert_eq!(b.kind(), "custom");
        assert_eq!(instant_retries().max_delay(), Some(Duration::ZERO));
        let p = no_retries().build().unwrap();
        assert_eq!(p.retry().max_attempts(), 1);
    }
}
