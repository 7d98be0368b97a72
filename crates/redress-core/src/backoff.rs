//! Backoff strategies: how long to wait before the next attempt.
//!
//! A strategy is asked for a delay with a [`BackoffContext`] (which attempt
//! failed, its classification with any retry-after hint, the previous delay,
//! the time left before the deadline) and a random number generator for
//! jitter. The engine then clamps the answer to `[0, remaining]`, so a
//! strategy can never push a call past its deadline.
//!
//! The built-ins follow the reference formulas (attempt `n` is 1-based):
//!
//! | strategy | delay | defaults |
//! |---|---|---|
//! | [`decorrelated_jitter`] | uniform in `[base, 3 × prev]`, capped at `max` (`prev` starts at `base`) | base 250 ms, max 30 s |
//! | [`equal_jitter`] | `cap = min(max, base × 2ⁿ)`, uniform in `[cap/2, cap]` | base 250 ms, max 30 s |
//! | [`full_jitter`] | uniform in `[0, min(max, base × 2ⁿ)]` | base 250 ms, max 30 s |
//! | [`token_backoff`] | `cap = min(max, base × 1.5ⁿ)`, uniform in `[cap/2, cap]` | base 250 ms, max 20 s |
//! | [`exponential`] | `min(max, base × factorⁿ⁻¹)`, no jitter | base 250 ms, factor 2, max 30 s |
//! | [`constant`] | the same delay every time | |
//! | [`schedule`] | the `n`-th listed delay, then the last one repeats | |
//! | [`retry_after_or`] | the classification's retry-after plus up to `jitter`, else the fallback | jitter 250 ms |
//!
//! Which to pick: decorrelated jitter is the default because it spreads
//! competing clients best while still growing; equal jitter keeps a floor of
//! half the cap; full jitter finishes contended work fastest but may retry
//! immediately; exponential without jitter makes clients retry in lockstep
//! and is there for compatibility and tests. Rate limits should honor the
//! server with [`retry_after_or`].
//!
//! Custom strategies are closures `Fn(&BackoffContext) -> Duration` or
//! implementations of [`Strategy`], wrapped with [`Backoff::custom`].

use core::fmt;
use core::time::Duration;

use rand_core::Rng;

use crate::class::{Cause, Classification, ErrorClass};
use crate::rng::uniform;
use crate::shared::Shared;
use crate::time::secs_to_duration;

/// What a strategy knows when it is asked for a delay.
///
/// ```
/// use core::time::Duration;
/// use redress_core::{BackoffContext, Classification, ErrorClass};
///
/// let rate_limited = Classification::new(ErrorClass::RateLimit);
/// let ctx = BackoffContext::new(2, &rate_limited)
///     .with_prev_delay(Duration::from_millis(300))
///     .with_remaining(Duration::from_secs(5));
/// assert_eq!(ctx.class(), ErrorClass::RateLimit);
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct BackoffContext<'a> {
    /// The attempt that just failed (1-based).
    pub attempt: u32,
    /// How the failure was classified, with its hints.
    pub classification: &'a Classification,
    /// The delay before the failed attempt, if there was one.
    pub prev_delay: Option<Duration>,
    /// Time left before the deadline.
    pub remaining: Duration,
    /// Whether the failure was an error or a flagged result.
    pub cause: Cause,
    /// The runner's clock reading, for strategies that keep time-windowed state.
    pub now: Duration,
}

impl<'a> BackoffContext<'a> {
    /// A context for `attempt` with no previous delay, unlimited remaining
    /// time, an error cause and `now` of zero. Useful to test strategies.
    pub fn new(attempt: u32, classification: &'a Classification) -> Self {
        BackoffContext {
            attempt,
            classification,
            prev_delay: None,
            remaining: Duration::MAX,
            cause: Cause::Error,
            now: Duration::ZERO,
        }
    }

    /// Sets the previous delay.
    #[must_use]
    pub fn with_prev_delay(mut self, prev: Duration) -> Self {
        self.prev_delay = Some(prev);
        self
    }

    /// Sets the time left before the deadline.
    #[must_use]
    pub fn with_remaining(mut self, remaining: Duration) -> Self {
        self.remaining = remaining;
        self
    }

    /// Sets the cause.
    #[must_use]
    pub fn with_cause(mut self, cause: Cause) -> Self {
        self.cause = cause;
        self
    }

    /// Sets the clock reading.
    #[must_use]
    pub fn with_now(mut self, now: Duration) -> Self {
        self.now = now;
        self
    }

    /// The class of the failure.
    pub fn class(&self) -> ErrorClass {
        self.classification.class
    }
}

/// Something a strategy may learn from: the engine reports it to the strategy
/// that handled the failure. Stateless strategies ignore it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observation {
    /// A failure of this class was handed to the strategy.
    Failure(ErrorClass),
    /// A call whose last retry used the strategy succeeded.
    Success,
}

/// Computes the delay before the next attempt.
///
/// Implement it for strategies that closures cannot express (state, or
/// jitter from the supplied generator). The trait is object safe.
///
/// ```
/// use core::time::Duration;
/// use rand_core::Rng;
/// use redress_core::{BackoffContext, Strategy};
///
/// /// Linear backoff: 100 ms more per attempt.
/// struct Linear;
///
/// impl Strategy for Linear {
///     fn delay(&self, ctx: &BackoffContext<'_>, _rng: &mut dyn Rng) -> Duration {
///         Duration::from_millis(100).saturating_mul(ctx.attempt)
///     }
/// }
/// ```
pub trait Strategy {
    /// The delay before the next attempt. The engine clamps it to the time
    /// left before the deadline.
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration;

    /// Learns from an observation at `now`. The default ignores it.
    fn observe(&self, observation: Observation, now: Duration) {
        let _ = (observation, now);
    }

    /// The largest delay this strategy can return, when it is bounded.
    fn max_delay(&self) -> Option<Duration> {
        None
    }
}

impl<F> Strategy for F
where
    F: Fn(&BackoffContext<'_>) -> Duration,
{
    #[inline]
    fn delay(&self, ctx: &BackoffContext<'_>, _rng: &mut dyn Rng) -> Duration {
        self(ctx)
    }
}

/// What is wrong with a strategy's parameters.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StrategyProblem {
    /// `base` is larger than `max`.
    #[error("base ({base:?}) is greater than max ({max:?})")]
    BaseAboveMax {
        /// The configured base.
        base: Duration,
        /// The configured max.
        max: Duration,
    },
    /// The growth factor is not a finite number of at least 1.
    #[error("factor must be a finite number >= 1.0 (got {0})")]
    InvalidFactor(f64),
    /// A schedule lists no delays.
    #[error("a schedule needs at least one delay")]
    EmptySchedule,
}

const DEFAULT_BASE: Duration = Duration::from_millis(250);
const DEFAULT_MAX: Duration = Duration::from_secs(30);
const TOKEN_MAX: Duration = Duration::from_secs(20);

fn check_base_max(base: Duration, max: Duration) -> Result<(), StrategyProblem> {
    if base > max {
        Err(StrategyProblem::BaseAboveMax { base, max })
    } else {
        Ok(())
    }
}

/// `base^exp`, saturating to infinity, without `std`.
fn powu(base: f64, mut exp: u32) -> f64 {
    let mut acc = 1.0;
    let mut b = base;
    while exp > 0 {
        if exp & 1 == 1 {
            acc *= b;
        }
        exp >>= 1;
        if exp > 0 {
            b *= b;
        }
    }
    acc
}

/// `min(max, base * factor^exp)` in seconds.
fn capped_growth(base: Duration, max: Duration, factor: f64, exp: u32) -> f64 {
    let grown = base.as_secs_f64() * powu(factor, exp);
    let max = max.as_secs_f64();
    if grown.is_nan() || grown > max {
        max
    } else {
        grown
    }
}

macro_rules! base_max_setters {
    () => {
        /// Sets the base delay.
        #[must_use]
        pub const fn base(mut self, base: Duration) -> Self {
            self.base = base;
            self
        }

        /// Sets the largest delay.
        #[must_use]
        pub const fn max(mut self, max: Duration) -> Self {
            self.max = max;
            self
        }
    };
}

/// Decorrelated jitter: uniform in `[base, 3 × prev]`, capped at `max`.
///
/// ```
/// use core::time::Duration;
/// use redress_core::backoff::decorrelated_jitter;
///
/// let s = decorrelated_jitter().max(Duration::from_secs(10));
/// assert_eq!(s.base_delay(), Duration::from_millis(250));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecorrelatedJitter {
    base: Duration,
    max: Duration,
}

/// Decorrelated jitter with base 250 ms and max 30 s (AWS's recommendation).
pub const fn decorrelated_jitter() -> DecorrelatedJitter {
    DecorrelatedJitter {
        base: DEFAULT_BASE,
        max: DEFAULT_MAX,
    }
}

impl DecorrelatedJitter {
    base_max_setters!();

    /// The base delay.
    pub const fn base_delay(&self) -> Duration {
        self.base
    }

    fn validate(&self) -> Result<(), StrategyProblem> {
        check_base_max(self.base, self.max)
    }
}

impl Strategy for DecorrelatedJitter {
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        let base = self.base.as_secs_f64();
        let prev = match ctx.prev_delay {
            Some(p) if !p.is_zero() => p.as_secs_f64(),
            _ => base,
        };
        let drawn = uniform(rng, base, prev * 3.0);
        secs_to_duration(drawn.min(self.max.as_secs_f64()))
    }

    fn max_delay(&self) -> Option<Duration> {
        Some(self.max)
    }
}

/// Equal jitter: `cap = min(max, base × 2ⁿ)`, uniform in `[cap/2, cap]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EqualJitter {
    base: Duration,
    max: Duration,
}

/// Equal jitter with base 250 ms and max 30 s.
pub const fn equal_jitter() -> EqualJitter {
    EqualJitter {
        base: DEFAULT_BASE,
        max: DEFAULT_MAX,
    }
}

impl EqualJitter {
    base_max_setters!();

    fn validate(&self) -> Result<(), StrategyProblem> {
        check_base_max(self.base, self.max)
    }
}

impl Strategy for EqualJitter {
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        let cap = capped_growth(self.base, self.max, 2.0, ctx.attempt);
        secs_to_duration(cap / 2.0 + uniform(rng, 0.0, cap / 2.0))
    }

    fn max_delay(&self) -> Option<Duration> {
        Some(self.max)
    }
}

/// Full jitter: uniform in `[0, min(max, base × 2ⁿ)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullJitter {
    base: Duration,
    max: Duration,
}

/// Full jitter with base 250 ms and max 30 s.
pub const fn full_jitter() -> FullJitter {
    FullJitter {
        base: DEFAULT_BASE,
        max: DEFAULT_MAX,
    }
}

impl FullJitter {
    base_max_setters!();

    fn validate(&self) -> Result<(), StrategyProblem> {
        check_base_max(self.base, self.max)
    }
}

impl Strategy for FullJitter {
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        let cap = capped_growth(self.base, self.max, 2.0, ctx.attempt);
        secs_to_duration(uniform(rng, 0.0, cap))
    }

    fn max_delay(&self) -> Option<Duration> {
        Some(self.max)
    }
}

/// Token backoff: `cap = min(max, base × 1.5ⁿ)`, uniform in `[cap/2, cap]`.
///
/// Gentler growth than doubling: responsive for token- or credit-based
/// services without hammering them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBackoff {
    base: Duration,
    max: Duration,
}

/// Token backoff with base 250 ms and max 20 s.
pub const fn token_backoff() -> TokenBackoff {
    TokenBackoff {
        base: DEFAULT_BASE,
        max: TOKEN_MAX,
    }
}

impl TokenBackoff {
    base_max_setters!();

    fn validate(&self) -> Result<(), StrategyProblem> {
        check_base_max(self.base, self.max)
    }
}

impl Strategy for TokenBackoff {
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        let cap = capped_growth(self.base, self.max, 1.5, ctx.attempt);
        secs_to_duration(uniform(rng, cap / 2.0, cap))
    }

    fn max_delay(&self) -> Option<Duration> {
        Some(self.max)
    }
}

/// Exponential backoff without jitter: `min(max, base × factorⁿ⁻¹)`.
///
/// The first retry waits `base`. Without jitter, clients that failed together
/// retry together; prefer a jittered strategy in production.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    base: Duration,
    max: Duration,
    factor: f64,
}

/// Exponential backoff with base 250 ms, factor 2 and max 30 s.
pub const fn exponential() -> Exponential {
    Exponential {
        base: DEFAULT_BASE,
        max: DEFAULT_MAX,
        factor: 2.0,
    }
}

impl Exponential {
    base_max_setters!();

    /// Sets the growth factor (at least 1.0).
    #[must_use]
    pub const fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    fn validate(&self) -> Result<(), StrategyProblem> {
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return Err(StrategyProblem::InvalidFactor(self.factor));
        }
        check_base_max(self.base, self.max)
    }
}

impl Strategy for Exponential {
    fn delay(&self, ctx: &BackoffContext<'_>, _rng: &mut dyn Rng) -> Duration {
        let exp = ctx.attempt.saturating_sub(1);
        secs_to_duration(capped_growth(self.base, self.max, self.factor, exp))
    }

    fn max_delay(&self) -> Option<Duration> {
        Some(self.max)
    }
}

/// The same delay every time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Constant {
    delay: Duration,
}

/// A constant delay.
pub const fn constant(delay: Duration) -> Constant {
    Constant { delay }
}

impl Strategy for Constant {
    #[inline]
    fn delay(&self, _ctx: &BackoffContext<'_>, _rng: &mut dyn Rng) -> Duration {
        self.delay
    }

    fn max_delay(&self) -> Option<Duration> {
        Some(self.delay)
    }
}

/// An explicit list of delays: attempt `n` waits the `n`-th; past the end the
/// last delay repeats.
#[derive(Clone, Debug)]
pub struct Schedule {
    delays: Shared<[Duration]>,
}

/// An explicit schedule of delays (`&'static` slice, `Arc<[Duration]>`, or
/// with `alloc` a `Vec`).
///
/// ```
/// use core::time::Duration;
/// use redress_core::backoff::schedule;
///
/// static DELAYS: [Duration; 3] = [
///     Duration::from_millis(100),
///     Duration::from_millis(200),
///     Duration::from_millis(400),
/// ];
/// let s = schedule(&DELAYS[..]);
/// ```
pub fn schedule(delays: impl Into<Shared<[Duration]>>) -> Schedule {
    Schedule {
        delays: delays.into(),
    }
}

impl Schedule {
    /// The listed delays.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    fn validate(&self) -> Result<(), StrategyProblem> {
        if self.delays.is_empty() {
            Err(StrategyProblem::EmptySchedule)
        } else {
            Ok(())
        }
    }
}

impl Strategy for Schedule {
    fn delay(&self, ctx: &BackoffContext<'_>, _rng: &mut dyn Rng) -> Duration {
        let index = usize::try_from(ctx.attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.delays
            .get(index)
            .or_else(|| self.delays.last())
            .copied()
            .unwrap_or(Duration::ZERO)
    }

    fn max_delay(&self) -> Option<Duration> {
        self.delays.iter().copied().max()
    }
}

/// Honors a classification's retry-after hint, else asks the fallback.
///
/// With a hint, the delay is the hint plus a uniform jitter in
/// `[0, jitter]` (250 ms unless set), so clients told the same time do not
/// all return at once.
#[derive(Clone, Debug)]
pub struct RetryAfterOr {
    fallback: Curve,
    jitter: Duration,
}

/// Honor the server's retry-after hint when the classification has one,
/// otherwise use `fallback`.
///
/// ```
/// use core::time::Duration;
/// use redress_core::backoff::{decorrelated_jitter, retry_after_or};
///
/// let rate_limits = retry_after_or(decorrelated_jitter().max(Duration::from_secs(60)))
///     .jitter(Duration::from_millis(100));
/// ```
pub fn retry_after_or(fallback: impl Into<Backoff>) -> RetryAfterOr {
    RetryAfterOr {
        fallback: fallback.into().curve,
        jitter: DEFAULT_BASE,
    }
}

impl RetryAfterOr {
    /// Sets the largest random amount added to a retry-after hint
    /// (zero for none).
    #[must_use]
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }
}

#[derive(Clone)]
enum Curve {
    Constant(Constant),
    Exponential(Exponential),
    FullJitter(FullJitter),
    EqualJitter(EqualJitter),
    Decorrelated(DecorrelatedJitter),
    Token(TokenBackoff),
    Schedule(Schedule),
    Custom(Shared<dyn Strategy + Send + Sync>),
}

impl fmt::Debug for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Curve::Constant(s) => s.fmt(f),
            Curve::Exponential(s) => s.fmt(f),
            Curve::FullJitter(s) => s.fmt(f),
            Curve::EqualJitter(s) => s.fmt(f),
            Curve::Decorrelated(s) => s.fmt(f),
            Curve::Token(s) => s.fmt(f),
            Curve::Schedule(s) => s.fmt(f),
            Curve::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl Curve {
    #[inline]
    fn strategy(&self) -> &dyn Strategy {
        match self {
            Curve::Constant(s) => s,
            Curve::Exponential(s) => s,
            Curve::FullJitter(s) => s,
            Curve::EqualJitter(s) => s,
            Curve::Decorrelated(s) => s,
            Curve::Token(s) => s,
            Curve::Schedule(s) => s,
            Curve::Custom(s) => &**s,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Curve::Constant(_) => "constant",
            Curve::Exponential(_) => "exponential",
            Curve::FullJitter(_) => "full_jitter",
            Curve::EqualJitter(_) => "equal_jitter",
            Curve::Decorrelated(_) => "decorrelated_jitter",
            Curve::Token(_) => "token_backoff",
            Curve::Schedule(_) => "schedule",
            Curve::Custom(_) => "custom",
        }
    }

    fn validate(&self) -> Result<(), StrategyProblem> {
        match self {
            Curve::Exponential(s) => s.validate(),
            Curve::FullJitter(s) => s.validate(),
            Curve::EqualJitter(s) => s.validate(),
            Curve::Decorrelated(s) => s.validate(),
            Curve::Token(s) => s.validate(),
            Curve::Schedule(s) => s.validate(),
            Curve::Constant(_) | Curve::Custom(_) => Ok(()),
        }
    }
}

/// A strategy as a policy holds it: any built-in, optionally honoring
/// retry-after hints, or a custom strategy.
///
/// Every built-in converts into a `Backoff`, so policy builders take
/// `impl Into<Backoff>`. Cloning is cheap (custom strategies are shared).
///
/// ```
/// use core::time::Duration;
/// use redress_core::backoff::{equal_jitter, Backoff};
///
/// let b: Backoff = equal_jitter().max(Duration::from_secs(5)).into();
/// assert_eq!(b.kind(), "equal_jitter");
/// assert_eq!(b.max_delay(), Some(Duration::from_secs(5)));
/// ```
#[derive(Clone, Debug)]
pub struct Backoff {
    curve: Curve,
    /// When set, retry-after hints win, plus up to this much jitter.
    retry_after_jitter: Option<Duration>,
}

impl Backoff {
    fn plain(curve: Curve) -> Self {
        Backoff {
            curve,
            retry_after_jitter: None,
        }
    }

    /// A custom strategy, shared behind an `Arc`.
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::backoff::Backoff;
    /// use redress_core::BackoffContext;
    ///
    /// let linear = Backoff::custom(|ctx: &BackoffContext<'_>| {
    ///     Duration::from_millis(100).saturating_mul(ctx.attempt)
    /// });
    /// assert_eq!(linear.kind(), "custom");
    /// ```
    #[cfg(feature = "alloc")]
    pub fn custom<S: Strategy + Send + Sync + 'static>(strategy: S) -> Self {
        let shared: alloc::sync::Arc<dyn Strategy + Send + Sync> = alloc::sync::Arc::new(strategy);
        Backoff::plain(Curve::Custom(Shared::Arc(shared)))
    }

    /// A custom strategy that lives for the whole program (no allocation).
    pub fn custom_static(strategy: &'static (dyn Strategy + Send + Sync)) -> Self {
        Backoff::plain(Curve::Custom(Shared::Static(strategy)))
    }

    /// The strategy's kind, as config files and lints name it
    /// (`"decorrelated_jitter"`, ..., `"custom"`). A strategy that honors
    /// retry-after hints reports `"retry_after_or"`.
    pub fn kind(&self) -> &'static str {
        if self.retry_after_jitter.is_some() {
            "retry_after_or"
        } else {
            self.curve.kind()
        }
    }

    /// The kind of the strategy used when there is no retry-after hint.
    pub fn fallback_kind(&self) -> &'static str {
        self.curve.kind()
    }

    /// Whether retry-after hints are honored, and with how much jitter.
    pub fn retry_after_jitter(&self) -> Option<Duration> {
        self.retry_after_jitter
    }

    /// The largest delay the strategy can return, when bounded. Strategies
    /// that honor retry-after hints are unbounded (the server decides); the
    /// engine still clamps every delay to the deadline.
    pub fn max_delay(&self) -> Option<Duration> {
        match self.retry_after_jitter {
            Some(_) => None,
            None => self.curve.strategy().max_delay(),
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), StrategyProblem> {
        self.curve.validate()
    }
}

impl Strategy for Backoff {
    #[inline]
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        if let (Some(jitter), Some(hint)) =
            (self.retry_after_jitter, ctx.classification.retry_after)
        {
            let extra = if jitter.is_zero() {
                0.0
            } else {
                uniform(rng, 0.0, jitter.as_secs_f64())
            };
            return hint.saturating_add(secs_to_duration(extra));
        }
        self.curve.strategy().delay(ctx, rng)
    }

    fn observe(&self, observation: Observation, now: Duration) {
        self.curve.strategy().observe(observation, now);
    }

    fn max_delay(&self) -> Option<Duration> {
        Backoff::max_delay(self)
    }
}

macro_rules! into_backoff {
    ($($ty:ident => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for Backoff {
            fn from(s: $ty) -> Self {
                Backoff::plain(Curve::$variant(s))
            }
        }
    )*};
}

into_backoff! {
    Constant => Constant,
    Exponential => Exponential,
    FullJitter => FullJitter,
    EqualJitter => EqualJitter,
    DecorrelatedJitter => Decorrelated,
    TokenBackoff => Token,
    Schedule => Schedule,
}

impl From<RetryAfterOr> for Backoff {
    fn from(s: RetryAfterOr) -> Self {
        Backoff {
            curve: s.fallback,
            retry_after_jitter: Some(s.jitter),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::FastRng;
    use std::prelude::rust_2024::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn draw(s: &dyn Strategy, attempt: u32, prev: Option<Duration>, rng: &mut FastRng) -> Duration {
        let c = Classification::new(ErrorClass::Transient);
        let mut ctx = BackoffContext::new(attempt, &c);
        ctx.prev_delay = prev;
        s.delay(&ctx, rng)
    }

    #[test]
    fn decorrelated_stays_in_range_and_starts_at_base() {
        let s = decorrelated_jitter().base(ms(100)).max(ms(1000));
        let mut rng = FastRng::seeded(1);
        for _ in 0..1000 {
            let first = draw(&s, 1, None, &mut rng);
            assert!(first >= ms(100) && first <= ms(300), "{first:?}");
            let later = draw(&s, 5, Some(ms(900)), &mut rng);
            assert!(later >= ms(100) && later <= ms(1000), "{later:?}");
        }
        // A zero previous delay counts as "no previous delay", like the reference.
        let after_zero = draw(&s, 2, Some(Duration::ZERO), &mut rng);
        assert!(after_zero >= ms(100) && after_zero <= ms(300));
    }

    #[test]
    fn equal_and_full_jitter_follow_doubling_caps() {
        let eq = equal_jitter().base(ms(100)).max(ms(10_000));
        let full = full_jitter().base(ms(100)).max(ms(10_000));
        let mut rng = FastRng::seeded(2);
        for attempt in 1..=10u32 {
            let cap = ms(100 * (1 << attempt)).min(ms(10_000));
            for _ in 0..200 {
                let e = draw(&eq, attempt, None, &mut rng);
                assert!(
                    e >= cap / 2 && e <= cap,
                    "attempt {attempt}: {e:?} cap {cap:?}"
                );
                let f = draw(&full, attempt, None, &mut rng);
                assert!(f <= cap, "attempt {attempt}: {f:?} cap {cap:?}");
            }
        }
    }

    #[test]
    fn token_backoff_grows_by_one_and_a_half() {
        let s = token_backoff().base(ms(1000)).max(ms(1_000_000));
        let mut rng = FastRng::seeded(3);
        let d = draw(&s, 2, None, &mut rng);
        assert!(d >= ms(1125) && d <= ms(2250), "{d:?}");
    }

    #[test]
    fn exponential_starts_at_base_and_caps() {
        let s = exponential().base(ms(100)).max(ms(1000));
        let mut rng = FastRng::seeded(4);
        let got: Vec<_> = (1..=6).map(|a| draw(&s, a, None, &mut rng)).collect();
        assert_eq!(
            got,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        assert_eq!(draw(&s, u32::MAX, None, &mut rng), ms(1000));
    }

    #[test]
    fn huge_parameters_saturate_instead_of_panicking() {
        let s = exponential()
            .base(Duration::MAX)
            .max(Duration::MAX)
            .factor(1e300);
        let mut rng = FastRng::seeded(5);
        assert_eq!(draw(&s, u32::MAX, None, &mut rng), Duration::MAX);
        let d = decorrelated_jitter().base(Duration::MAX).max(Duration::MAX);
        assert_eq!(draw(&d, 3, Some(Duration::MAX), &mut rng), Duration::MAX);
    }

    #[test]
    fn schedule_repeats_its_last_delay() {
        static DELAYS: [Duration; 3] = [ms_const(100), ms_const(200), ms_const(400)];
        let s = schedule(&DELAYS[..]);
        let mut rng = FastRng::seeded(6);
        let got: Vec<_> = (1..=5).map(|a| draw(&s, a, None, &mut rng)).collect();
        assert_eq!(got, [ms(100), ms(200), ms(400), ms(400), ms(400)]);
        assert_eq!(s.max_delay(), Some(ms(400)));
    }

    const fn ms_const(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn retry_after_wins_when_present() {
        let b: Backoff = retry_after_or(constant(ms(500)))
            .jitter(Duration::ZERO)
            .into();
        let mut rng = FastRng::seeded(7);
        let hinted = Classification::new(ErrorClass::RateLimit).with_retry_after(ms(2000));
        assert_eq!(
            b.delay(&BackoffContext::new(1, &hinted), &mut rng),
            ms(2000)
        );
        let plain = Classification::new(ErrorClass::RateLimit);
        assert_eq!(b.delay(&BackoffContext::new(1, &plain), &mut rng), ms(500));
        assert_eq!(b.kind(), "retry_after_or");
        assert_eq!(b.fallback_kind(), "constant");
        assert_eq!(b.max_delay(), None);

        let jittered: Backoff = retry_after_or(constant(ms(500))).into();
        for _ in 0..100 {
            let d = jittered.delay(&BackoffContext::new(1, &hinted), &mut rng);
            assert!(d >= ms(2000) && d <= ms(2250), "{d:?}");
        }
    }

    #[test]
    fn validation_reports_the_problem() {
        let bad: Backoff = decorrelated_jitter().base(ms(10)).max(ms(5)).into();
        assert_eq!(
            bad.validate(),
            Err(StrategyProblem::BaseAboveMax {
                base: ms(10),
                max: ms(5)
            })
        );
        let factor: Backoff = exponential().factor(0.5).into();
        assert_eq!(factor.validate(), Err(StrategyProblem::InvalidFactor(0.5)));
        let nan: Backoff = exponential().factor(f64::NAN).into();
        assert!(nan.validate().is_err());
        let empty: Backoff = schedule(&[][..]).into();
        assert_eq!(empty.validate(), Err(StrategyProblem::EmptySchedule));
        let ok: Backoff = retry_after_or(token_backoff()).into();
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn closures_and_custom_strategies() {
        let linear = |ctx: &BackoffContext<'_>| ms(10).saturating_mul(ctx.attempt);
        let mut rng = FastRng::seeded(8);
        assert_eq!(draw(&linear, 3, None, &mut rng), ms(30));
        #[cfg(feature = "alloc")]
        {
            let b = Backoff::custom(linear);
            assert_eq!(draw(&b, 4, None, &mut rng), ms(40));
        }
        static FIXED: Constant = constant(ms_const(5));
        let s = Backoff::custom_static(&FIXED);
        assert_eq!(draw(&s, 1, None, &mut rng), ms(5));
        assert_eq!(s.max_delay(), Some(ms(5)));
    }

    #[test]
    fn strategy_trait_is_object_safe() {
        fn _obj_safe(_: &dyn Strategy) {}
    }
}
