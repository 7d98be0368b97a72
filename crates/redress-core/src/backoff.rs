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
//! | [`decorrelated_jitter`] | uniform between `base` and `3 × prev`, capped at `max` (`prev` starts at `base`) | base 250 ms, max 30 s |
//! | [`equal_jitter`] | `cap = min(max, base × 2ⁿ)`, uniform in `[cap/2, cap]` | base 250 ms, max 30 s |
//! | [`full_jitter`] | uniform in `[0, min(max, base × 2ⁿ)]` | base 250 ms, max 30 s |
//! | [`token_backoff`] | `cap = min(max, base × 1.5ⁿ)`, uniform in `[cap/2, cap]` | base 250 ms, max 20 s |
//! | [`exponential`] | `min(max, base × factorⁿ⁻¹)`, no jitter | base 250 ms, factor 2, max 30 s |
//! | [`constant`] | the same delay every time | |
//! | [`schedule`] | the `n`-th listed delay, then the last one repeats | |
//! | [`retry_after_or`] | the classification's retry-after plus up to `jitter`, else the fallback | jitter 250 ms |
//! | [`adaptive`] | the fallback's delay × a multiplier that rises with the recent failure rate | window 60 s, target success 0.9, multiplier 1 to 5 |
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
#[cfg(target_has_atomic = "64")]
use crate::window::Window;

mod kind;

#[cfg(all(feature = "alloc", target_has_atomic = "64"))]
use kind::{ADAPTIVE_WINDOW, MAX_MULTIPLIER, MIN_MULTIPLIER, TARGET_SUCCESS};
use kind::{DEFAULT_BASE, DEFAULT_FACTOR, DEFAULT_JITTER, DEFAULT_MAX, TOKEN_MAX};
pub use kind::{Param, ParamKind, StrategyKind};

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
    /// The adaptive window is zero.
    #[error("the adaptive window must be greater than zero")]
    ZeroAdaptiveWindow,
    /// The adaptive success target is not in `(0, 1]`.
    #[error("target_success must be in (0, 1] (got {0})")]
    InvalidTargetSuccess(f64),
    /// The adaptive multipliers are not finite with `1 <= min <= max`.
    #[error("multipliers must be finite with 1.0 <= min ({min}) <= max ({max})")]
    InvalidMultipliers {
        /// The configured minimum.
        min: f64,
        /// The configured maximum.
        max: f64,
    },
    /// A jittered or exponential strategy's `base` is zero: every delay
    /// would be zero.
    #[error("base is 0, so every delay would be 0 (250ms is the default)")]
    ZeroBase,
    /// A strategy nested where the engine cannot run it: `retry_after_or`
    /// falling back to another `retry_after_or`, or `adaptive` wrapping
    /// `retry_after_or` or another `adaptive`.
    #[error(
        "`{outer}` cannot wrap `{inner}` ({}): nest them as retry_after_or(adaptive(..)), \
         `retry_after_or` outside and `adaptive` inside, each at most once",
        nesting_reason(*.outer, *.inner)
    )]
    Nested {
        /// The wrapping kind.
        outer: StrategyKind,
        /// The kind it wraps, which it cannot.
        inner: StrategyKind,
    },
}

fn nesting_reason(outer: StrategyKind, inner: StrategyKind) -> &'static str {
    match (outer, inner) {
        (StrategyKind::Adaptive, StrategyKind::Adaptive) => {
            "one multiplier already stretches the delays"
        }
        (StrategyKind::Adaptive, _) => "a server's retry-after hint is never stretched",
        _ => "the outer one already honors retry-after hints",
    }
}

impl StrategyProblem {
    /// The problem's stable code, as `redress doctor` reports it: `E005`
    /// (base above max), `E006` (zero base), `E007` (factor), `E008`
    /// (empty schedule), `E009` (adaptive parameters), `E108` (nesting).
    ///
    /// ```
    /// use redress_core::backoff::{exponential, Backoff};
    ///
    /// let b: Backoff = exponential().factor(0.5).into();
    /// assert_eq!(b.validate().unwrap_err().code(), "E007");
    /// ```
    pub const fn code(&self) -> &'static str {
        match self {
            StrategyProblem::BaseAboveMax { .. } => "E005",
            StrategyProblem::ZeroBase => "E006",
            StrategyProblem::InvalidFactor(_) => "E007",
            StrategyProblem::EmptySchedule => "E008",
            StrategyProblem::ZeroAdaptiveWindow
            | StrategyProblem::InvalidTargetSuccess(_)
            | StrategyProblem::InvalidMultipliers { .. } => "E009",
            StrategyProblem::Nested { .. } => "E108",
        }
    }

    /// The parameter to change, named like its builder method and config
    /// key (`"base"`, `"factor"`, `"delays"`, `"window"`,
    /// `"target_success"`, `"min_multiplier"` or `"max_multiplier"`;
    /// `"kind"` for a nesting).
    pub fn param(&self) -> &'static str {
        match self {
            StrategyProblem::BaseAboveMax { .. } | StrategyProblem::ZeroBase => "base",
            StrategyProblem::InvalidFactor(_) => "factor",
            StrategyProblem::EmptySchedule => "delays",
            StrategyProblem::ZeroAdaptiveWindow => "window",
            StrategyProblem::InvalidTargetSuccess(_) => "target_success",
            StrategyProblem::InvalidMultipliers { min, .. } => {
                if min.is_finite() && *min >= 1.0 {
                    "max_multiplier"
                } else {
                    "min_multiplier"
                }
            }
            StrategyProblem::Nested { .. } => "kind",
        }
    }
}

/// A problem of a strategy, and where in the strategy it is.
///
/// `depth` counts the `fallback`s above it: 0 is the strategy itself, 1 the
/// fallback of a `retry_after_or` or an `adaptive`, 2 the fallback's
/// fallback. In config terms the problem is at
/// `strategy` + `.fallback` × depth + `.` + [`problem.param()`](StrategyProblem::param).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct LocatedProblem {
    /// The kind of the strategy at fault.
    pub kind: StrategyKind,
    /// How many `fallback`s deep it is.
    pub depth: u8,
    /// What is wrong.
    pub problem: StrategyProblem,
}

/// `base` above `max` (E005), else a zero `base` (E006).
fn base_problems(base: Duration, max: Duration, f: &mut impl FnMut(StrategyProblem)) {
    if base > max {
        f(StrategyProblem::BaseAboveMax { base, max });
    } else if base.is_zero() {
        f(StrategyProblem::ZeroBase);
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
    if base.is_zero() {
        // Zero stays zero, even when `factor^exp` overflows to infinity.
        return 0.0;
    }
    let grown = base.as_secs_f64() * powu(factor, exp);
    let max = max.as_secs_f64();
    if grown.is_nan() || grown > max {
        max
    } else {
        grown
    }
}

/// Seconds to a duration, never above `max` (seconds lose precision past
/// 2^53 ns, so a round trip through `f64` can land just above it).
#[inline]
fn at_most(secs: f64, max: Duration) -> Duration {
    secs_to_duration(secs).min(max)
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

/// Decorrelated jitter: uniform between `base` and `3 × prev`, capped at
/// `max`. (When the previous delay was clamped below `base / 3`, the draw
/// lies between `3 × prev` and `base`, as in the reference.)
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

    fn problems(&self, f: &mut impl FnMut(StrategyProblem)) {
        base_problems(self.base, self.max, f);
    }
}

impl Strategy for DecorrelatedJitter {
    #[inline]
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        let base = self.base.as_secs_f64();
        let prev = match ctx.prev_delay {
            Some(p) if !p.is_zero() => p.as_secs_f64(),
            _ => base,
        };
        let drawn = uniform(rng, base, prev * 3.0);
        at_most(drawn, self.max)
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

    fn problems(&self, f: &mut impl FnMut(StrategyProblem)) {
        base_problems(self.base, self.max, f);
    }
}

impl Strategy for EqualJitter {
    #[inline]
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        let cap = capped_growth(self.base, self.max, 2.0, ctx.attempt);
        at_most(cap / 2.0 + uniform(rng, 0.0, cap / 2.0), self.max)
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

    fn problems(&self, f: &mut impl FnMut(StrategyProblem)) {
        base_problems(self.base, self.max, f);
    }
}

impl Strategy for FullJitter {
    #[inline]
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        let cap = capped_growth(self.base, self.max, 2.0, ctx.attempt);
        at_most(uniform(rng, 0.0, cap), self.max)
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

    fn problems(&self, f: &mut impl FnMut(StrategyProblem)) {
        base_problems(self.base, self.max, f);
    }
}

impl Strategy for TokenBackoff {
    #[inline]
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        let cap = capped_growth(self.base, self.max, 1.5, ctx.attempt);
        at_most(uniform(rng, cap / 2.0, cap), self.max)
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
        factor: DEFAULT_FACTOR,
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

    fn problems(&self, f: &mut impl FnMut(StrategyProblem)) {
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            f(StrategyProblem::InvalidFactor(self.factor));
        }
        base_problems(self.base, self.max, f);
    }
}

impl Strategy for Exponential {
    #[inline]
    fn delay(&self, ctx: &BackoffContext<'_>, _rng: &mut dyn Rng) -> Duration {
        let exp = ctx.attempt.saturating_sub(1);
        if self.factor == 2.0 {
            // Doubling is exact in integers: no float round trip. Past 2^31
            // the loop takes over; it stops at the cap, so it runs at most
            // ~94 times (2^94 ns is about `Duration::MAX`).
            if self.base.is_zero() {
                return Duration::ZERO;
            }
            // Base and cap below 2^64 ns (584 years): one shift in integer
            // nanoseconds; a shift past the top is past the cap.
            if let (Ok(base), Ok(max)) = (
                u64::try_from(self.base.as_nanos()),
                u64::try_from(self.max.as_nanos()),
            ) {
                return match exp < base.leading_zeros() {
                    true => Duration::from_nanos((base << exp).min(max)),
                    false => self.max,
                };
            }
            if let Some(growth) = 1u32.checked_shl(exp) {
                return self.base.saturating_mul(growth).min(self.max);
            }
            let mut delay = self.base.min(self.max);
            for _ in 0..exp {
                if delay >= self.max {
                    break;
                }
                delay = delay.saturating_mul(2).min(self.max);
            }
            return delay;
        }
        at_most(
            capped_growth(self.base, self.max, self.factor, exp),
            self.max,
        )
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

    fn problems(&self, f: &mut impl FnMut(StrategyProblem)) {
        if self.delays.is_empty() {
            f(StrategyProblem::EmptySchedule);
        }
    }
}

impl Strategy for Schedule {
    #[inline]
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
    fallback: Backoff,
    jitter: Duration,
}

/// Honor the server's retry-after hint when the classification has one,
/// otherwise use `fallback`.
///
/// `fallback` may be a plain curve or an `adaptive` one, not another
/// `retry_after_or`: a policy with that nesting does not build (`E108`).
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
        fallback: fallback.into(),
        jitter: DEFAULT_JITTER,
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

/// A strategy's curve with its parameters, as [`Backoff::curve`] reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum CurveSpec<'a> {
    /// [`constant`].
    Constant {
        /// The delay.
        delay: Duration,
    },
    /// [`exponential`].
    Exponential {
        /// The first delay.
        base: Duration,
        /// The cap.
        max: Duration,
        /// The growth factor.
        factor: f64,
    },
    /// [`full_jitter`].
    FullJitter {
        /// The base delay.
        base: Duration,
        /// The cap.
        max: Duration,
    },
    /// [`equal_jitter`].
    EqualJitter {
        /// The base delay.
        base: Duration,
        /// The cap.
        max: Duration,
    },
    /// [`decorrelated_jitter`].
    DecorrelatedJitter {
        /// The base delay.
        base: Duration,
        /// The cap.
        max: Duration,
    },
    /// [`token_backoff`].
    TokenBackoff {
        /// The base delay.
        base: Duration,
        /// The cap.
        max: Duration,
    },
    /// [`schedule`].
    Schedule {
        /// The listed delays.
        delays: &'a [Duration],
    },
    /// A custom strategy (opaque).
    Custom,
}

impl CurveSpec<'_> {
    /// The kind's name (`"decorrelated_jitter"`, ..., `"custom"`), as
    /// config files use it.
    pub fn kind(&self) -> &'static str {
        self.strategy_kind().map_or("custom", StrategyKind::name)
    }

    /// The kind (`None` for a custom strategy).
    pub fn strategy_kind(&self) -> Option<StrategyKind> {
        Some(match self {
            CurveSpec::Constant { .. } => StrategyKind::Constant,
            CurveSpec::Exponential { .. } => StrategyKind::Exponential,
            CurveSpec::FullJitter { .. } => StrategyKind::FullJitter,
            CurveSpec::EqualJitter { .. } => StrategyKind::EqualJitter,
            CurveSpec::DecorrelatedJitter { .. } => StrategyKind::DecorrelatedJitter,
            CurveSpec::TokenBackoff { .. } => StrategyKind::TokenBackoff,
            CurveSpec::Schedule { .. } => StrategyKind::Schedule,
            CurveSpec::Custom => return None,
        })
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
    /// The curve's delay, dispatched statically so each built-in strategy
    /// inlines.
    #[inline]
    fn delay(&self, ctx: &BackoffContext<'_>, rng: &mut dyn Rng) -> Duration {
        match self {
            Curve::Constant(s) => s.delay(ctx, rng),
            Curve::Exponential(s) => s.delay(ctx, rng),
            Curve::FullJitter(s) => s.delay(ctx, rng),
            Curve::EqualJitter(s) => s.delay(ctx, rng),
            Curve::Decorrelated(s) => s.delay(ctx, rng),
            Curve::Token(s) => s.delay(ctx, rng),
            Curve::Schedule(s) => s.delay(ctx, rng),
            Curve::Custom(s) => s.delay(ctx, rng),
        }
    }

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

    fn problems(&self, f: &mut impl FnMut(StrategyProblem)) {
        match self {
            Curve::Exponential(s) => s.problems(f),
            Curve::FullJitter(s) => s.problems(f),
            Curve::EqualJitter(s) => s.problems(f),
            Curve::Decorrelated(s) => s.problems(f),
            Curve::Token(s) => s.problems(f),
            Curve::Schedule(s) => s.problems(f),
            Curve::Constant(_) | Curve::Custom(_) => {}
        }
    }
}

/// How a [`Backoff`] was written, which flattening into one value would
/// otherwise forget: how deep its curve and its adaptive layer were, and a
/// nesting the engine cannot run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Layers {
    /// How many strategies wrap the curve.
    curve_depth: u8,
    /// How many strategies wrap the adaptive layer, when there is one.
    adaptive_depth: u8,
    /// The depth and kind of a strategy its wrapper cannot hold, and the
    /// wrapper's kind.
    nested: Option<(u8, StrategyKind, StrategyKind)>,
}

impl Layers {
    /// The layers one `fallback` deeper, under a new wrapper.
    fn wrapped(self) -> Layers {
        Layers {
            curve_depth: self.curve_depth.saturating_add(1),
            adaptive_depth: self.adaptive_depth.saturating_add(1),
            nested: self
                .nested
                .map(|(depth, outer, inner)| (depth.saturating_add(1), outer, inner)),
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
    /// When set, the curve's delays are scaled by this state's multiplier.
    #[cfg(target_has_atomic = "64")]
    adaptive: Option<Shared<AdaptiveState>>,
    /// When set, retry-after hints win, plus up to this much jitter.
    retry_after_jitter: Option<Duration>,
    /// How it was nested.
    layers: Layers,
}

impl Backoff {
    fn plain(curve: Curve) -> Self {
        Backoff {
            curve,
            #[cfg(target_has_atomic = "64")]
            adaptive: None,
            retry_after_jitter: None,
            layers: Layers::default(),
        }
    }

    /// `fallback` scaled by the multiplier of a shared, program-long
    /// adaptive state (no allocation); with `alloc`, `adaptive(..)` is
    /// simpler. Adaptive backoff needs 64-bit atomics.
    ///
    /// `fallback` must be a plain curve: an `adaptive` or `retry_after_or`
    /// fallback is refused when the policy is built (`E108`); put
    /// `retry_after_or` outside instead.
    #[cfg(target_has_atomic = "64")]
    pub fn adaptive_static(fallback: impl Into<Backoff>, state: &'static AdaptiveState) -> Self {
        fallback.into().under_adaptive(Shared::Static(state))
    }

    /// `self` as the fallback of an adaptive layer with `state`.
    #[cfg(target_has_atomic = "64")]
    fn under_adaptive(mut self, state: Shared<AdaptiveState>) -> Self {
        let inner = self.top_kind();
        let mut layers = self.layers.wrapped();
        layers.adaptive_depth = 0;
        if let Some(inner @ (StrategyKind::RetryAfterOr | StrategyKind::Adaptive)) = inner {
            layers.nested = Some((1, StrategyKind::Adaptive, inner));
        }
        self.adaptive = Some(state);
        self.layers = layers;
        self
    }

    /// The kind as written at the top: the outermost wrapper, or the
    /// curve's (`None` for a custom curve).
    fn top_kind(&self) -> Option<StrategyKind> {
        if self.layers.curve_depth == 0 {
            self.curve().strategy_kind()
        } else if self.is_adaptive() && self.layers.adaptive_depth == 0 {
            Some(StrategyKind::Adaptive)
        } else {
            Some(StrategyKind::RetryAfterOr)
        }
    }

    /// The adaptive state, when the strategy is adaptive.
    #[cfg(target_has_atomic = "64")]
    pub fn adaptive_state(&self) -> Option<&AdaptiveState> {
        self.adaptive.as_deref()
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

    /// The underlying curve and its parameters (for lints, printing and
    /// writing a policy back out as configuration).
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::backoff::{equal_jitter, Backoff, CurveSpec};
    ///
    /// let b: Backoff = equal_jitter().max(Duration::from_secs(5)).into();
    /// assert_eq!(
    ///     b.curve(),
    ///     CurveSpec::EqualJitter { base: Duration::from_millis(250), max: Duration::from_secs(5) }
    /// );
    /// ```
    pub fn curve(&self) -> CurveSpec<'_> {
        match &self.curve {
            Curve::Constant(s) => CurveSpec::Constant { delay: s.delay },
            Curve::Exponential(s) => CurveSpec::Exponential {
                base: s.base,
                max: s.max,
                factor: s.factor,
            },
            Curve::FullJitter(s) => CurveSpec::FullJitter {
                base: s.base,
                max: s.max,
            },
            Curve::EqualJitter(s) => CurveSpec::EqualJitter {
                base: s.base,
                max: s.max,
            },
            Curve::Decorrelated(s) => CurveSpec::DecorrelatedJitter {
                base: s.base,
                max: s.max,
            },
            Curve::Token(s) => CurveSpec::TokenBackoff {
                base: s.base,
                max: s.max,
            },
            Curve::Schedule(s) => CurveSpec::Schedule { delays: s.delays() },
            Curve::Custom(_) => CurveSpec::Custom,
        }
    }

    /// The strategy's kind, as config files and lints name it
    /// (`"decorrelated_jitter"`, ..., `"custom"`). A strategy that honors
    /// retry-after hints reports `"retry_after_or"`.
    pub fn kind(&self) -> &'static str {
        self.top_kind().map_or("custom", StrategyKind::name)
    }

    /// The kind as [`kind`](Self::kind) names it (`None` for a custom
    /// strategy).
    pub fn strategy_kind(&self) -> Option<StrategyKind> {
        self.top_kind()
    }

    #[cfg(target_has_atomic = "64")]
    fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    #[cfg(not(target_has_atomic = "64"))]
    fn is_adaptive(&self) -> bool {
        false
    }

    /// The kind of the underlying curve (without retry-after or adaptive
    /// scaling).
    pub fn fallback_kind(&self) -> &'static str {
        self.curve().kind()
    }

    /// Whether retry-after hints are honored, and with how much jitter.
    pub fn retry_after_jitter(&self) -> Option<Duration> {
        self.retry_after_jitter
    }

    /// The largest delay the strategy can return, when bounded. Strategies
    /// that honor retry-after hints are unbounded (the server decides); the
    /// engine still clamps every delay to the deadline.
    pub fn max_delay(&self) -> Option<Duration> {
        if self.retry_after_jitter.is_some() {
            return None;
        }
        let max = self.curve.strategy().max_delay()?;
        #[cfg(target_has_atomic = "64")]
        if let Some(state) = &self.adaptive {
            return Some(secs_to_duration(max.as_secs_f64() * state.max_multiplier));
        }
        Some(max)
    }

    /// Checks the parameters and the nesting: the first problem of
    /// [`problems`](Self::problems).
    pub fn validate(&self) -> Result<(), StrategyProblem> {
        let mut first = None;
        self.problems(|p| {
            first.get_or_insert(p.problem);
        });
        first.map_or(Ok(()), Err)
    }

    /// Calls `f` with every problem of the strategy, and where it is: a
    /// nesting the engine cannot run, the adaptive layer's parameters, the
    /// curve's parameters. A policy with any of them does not build.
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::backoff::{exponential, retry_after_or, Backoff, StrategyKind};
    ///
    /// let b: Backoff = retry_after_or(exponential().base(Duration::ZERO).factor(0.5)).into();
    /// let mut found = Vec::new();
    /// b.problems(|p| found.push((p.kind, p.depth, p.problem.code(), p.problem.param())));
    /// assert_eq!(found, [
    ///     (StrategyKind::Exponential, 1, "E007", "factor"),
    ///     (StrategyKind::Exponential, 1, "E006", "base"),
    /// ]);
    /// ```
    pub fn problems(&self, mut f: impl FnMut(LocatedProblem)) {
        if let Some((depth, outer, inner)) = self.layers.nested {
            f(LocatedProblem {
                kind: inner,
                depth,
                problem: StrategyProblem::Nested { outer, inner },
            });
        }
        #[cfg(target_has_atomic = "64")]
        if let Some(state) = &self.adaptive {
            let depth = self.layers.adaptive_depth;
            state.problems(&mut |problem| {
                f(LocatedProblem {
                    kind: StrategyKind::Adaptive,
                    depth,
                    problem,
                });
            });
        }
        if let Some(kind) = self.curve().strategy_kind() {
            let depth = self.layers.curve_depth;
            self.curve.problems(&mut |problem| {
                f(LocatedProblem {
                    kind,
                    depth,
                    problem,
                });
            });
        }
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
            return hint.saturating_add(at_most(extra, jitter));
        }
        let delay = self.curve.delay(ctx, rng);
        #[cfg(target_has_atomic = "64")]
        if let Some(state) = &self.adaptive {
            return secs_to_duration(delay.as_secs_f64() * state.multiplier(ctx.now));
        }
        delay
    }

    fn observe(&self, observation: Observation, now: Duration) {
        #[cfg(target_has_atomic = "64")]
        if let Some(state) = &self.adaptive {
            state.record(observation, now);
        }
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

/// Closures are strategies: `.strategy(|ctx: &BackoffContext<'_>| ..)`.
#[cfg(feature = "alloc")]
impl<F> From<F> for Backoff
where
    F: Fn(&BackoffContext<'_>) -> Duration + Send + Sync + 'static,
{
    fn from(f: F) -> Self {
        Backoff::custom(f)
    }
}

/// Flattens into one value; a fallback that is itself a `retry_after_or`
/// is recorded, and refused when the policy is built (`E108`).
impl From<RetryAfterOr> for Backoff {
    fn from(s: RetryAfterOr) -> Self {
        let fallback = s.fallback;
        let mut layers = fallback.layers.wrapped();
        if fallback.top_kind() == Some(StrategyKind::RetryAfterOr) {
            layers.nested = Some((1, StrategyKind::RetryAfterOr, StrategyKind::RetryAfterOr));
        }
        Backoff {
            curve: fallback.curve,
            #[cfg(target_has_atomic = "64")]
            adaptive: fallback.adaptive,
            retry_after_jitter: Some(s.jitter),
            layers,
        }
    }
}

/// The shared state of an [`adaptive`] strategy: recent successes and
/// failures over a rolling window, lock-free.
///
/// The multiplier is `min` while the failure rate is at or below
/// `1 - target_success`, and rises linearly to `max` as the failure rate
/// approaches 100%. Like the reference, it learns from the calls that
/// needed it: a failure handed to the strategy, and the success of a call
/// that had retried with it.
///
/// Adaptive backoff needs 64-bit atomics (`target_has_atomic = "64"`).
#[cfg(target_has_atomic = "64")]
#[derive(Debug)]
pub struct AdaptiveState {
    window: Duration,
    target_success: f64,
    min_multiplier: f64,
    max_multiplier: f64,
    successes: Window,
    failures: Window,
}

#[cfg(target_has_atomic = "64")]
impl AdaptiveState {
    /// A state with the given window, success target and multiplier range.
    /// Parameters are checked when a policy using it is built.
    #[cfg(not(loom))]
    pub const fn new(
        window: Duration,
        target_success: f64,
        min_multiplier: f64,
        max_multiplier: f64,
    ) -> Self {
        AdaptiveState {
            window,
            target_success,
            min_multiplier,
            max_multiplier,
            successes: Window::new(window),
            failures: Window::new(window),
        }
    }

    /// A state with the given window, success target and multiplier range.
    #[cfg(loom)]
    pub fn new(
        window: Duration,
        target_success: f64,
        min_multiplier: f64,
        max_multiplier: f64,
    ) -> Self {
        AdaptiveState {
            window,
            target_success,
            min_multiplier,
            max_multiplier,
            successes: Window::new(window),
            failures: Window::new(window),
        }
    }

    /// The current multiplier.
    pub fn multiplier(&self, now: Duration) -> f64 {
        let failures = self.failures.sum(now) as f64;
        let total = failures + self.successes.sum(now) as f64;
        if total == 0.0 {
            return self.min_multiplier;
        }
        let failure_rate = failures / total;
        let target_failure = 1.0 - self.target_success;
        if failure_rate <= target_failure {
            return self.min_multiplier;
        }
        if target_failure >= 1.0 {
            return self.max_multiplier;
        }
        let frac = (failure_rate - target_failure) / (1.0 - target_failure);
        let m = self.min_multiplier + frac * (self.max_multiplier - self.min_multiplier);
        // `max`/`min` rather than `clamp`: unvalidated parameters (min above
        // max, NaN) give a number instead of a panic.
        m.max(self.min_multiplier).min(self.max_multiplier)
    }

    /// The rolling window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The success rate below which backoff stretches.
    pub fn target_success(&self) -> f64 {
        self.target_success
    }

    /// The multiplier range.
    pub fn multipliers(&self) -> (f64, f64) {
        (self.min_multiplier, self.max_multiplier)
    }

    fn record(&self, observation: Observation, now: Duration) {
        match observation {
            Observation::Success => {
                self.successes.add(now);
            }
            Observation::Failure(_) => {
                self.failures.add(now);
            }
        }
    }

    fn problems(&self, f: &mut impl FnMut(StrategyProblem)) {
        if self.window.is_zero() {
            f(StrategyProblem::ZeroAdaptiveWindow);
        }
        if !(self.target_success > 0.0 && self.target_success <= 1.0) {
            f(StrategyProblem::InvalidTargetSuccess(self.target_success));
        }
        let (min, max) = (self.min_multiplier, self.max_multiplier);
        if !(min.is_finite() && max.is_finite() && min >= 1.0 && max >= min) {
            f(StrategyProblem::InvalidMultipliers { min, max });
        }
    }
}

/// Adaptive backoff: a fallback strategy whose delays stretch as the recent
/// failure rate rises (the reference's `adaptive`).
///
/// Defaults: window 60 s, target success 0.9, multipliers 1.0 to 5.0.
/// Retry-after hints, when honored, are not stretched: the server said when.
///
/// ```
/// use core::time::Duration;
/// use redress_core::backoff::{adaptive, equal_jitter, Backoff};
///
/// let b: Backoff = adaptive(equal_jitter()).target_success(0.95).max_multiplier(4.0).into();
/// assert_eq!(b.kind(), "adaptive");
/// ```
#[cfg(all(feature = "alloc", target_has_atomic = "64"))]
#[derive(Clone, Debug)]
pub struct Adaptive {
    fallback: Backoff,
    window: Duration,
    target_success: f64,
    min_multiplier: f64,
    max_multiplier: f64,
}

/// Wraps `fallback` in adaptive scaling; see [`Adaptive`]. (Without
/// `alloc`, use [`Backoff::adaptive_static`].)
///
/// `fallback` must be a plain curve: a policy whose adaptive strategy wraps
/// `retry_after_or` or another `adaptive` does not build (`E108`). To
/// honor retry-after hints too, put `retry_after_or` outside:
/// `retry_after_or(adaptive(curve))`.
///
/// ```
/// use redress_core::backoff::{adaptive, equal_jitter, retry_after_or};
/// use redress_core::Policy;
///
/// let inside_out = Policy::builder().strategy(adaptive(retry_after_or(equal_jitter()))).build();
/// assert_eq!(inside_out.unwrap_err().code(), "E108");
/// let right = Policy::builder().strategy(retry_after_or(adaptive(equal_jitter()))).build();
/// assert!(right.is_ok());
/// ```
#[cfg(all(feature = "alloc", target_has_atomic = "64"))]
pub fn adaptive(fallback: impl Into<Backoff>) -> Adaptive {
    Adaptive {
        fallback: fallback.into(),
        window: ADAPTIVE_WINDOW,
        target_success: TARGET_SUCCESS,
        min_multiplier: MIN_MULTIPLIER,
        max_multiplier: MAX_MULTIPLIER,
    }
}

#[cfg(all(feature = "alloc", target_has_atomic = "64"))]
impl Adaptive {
    /// How far back successes and failures are remembered (default 60 s).
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The success rate below which delays stretch (default 0.9).
    #[must_use]
    pub fn target_success(mut self, target: f64) -> Self {
        self.target_success = target;
        self
    }

    /// The multiplier when healthy (default 1.0, at least 1.0).
    #[must_use]
    pub fn min_multiplier(mut self, min: f64) -> Self {
        self.min_multiplier = min;
        self
    }

    /// The multiplier when everything fails (default 5.0).
    #[must_use]
    pub fn max_multiplier(mut self, max: f64) -> Self {
        self.max_multiplier = max;
        self
    }
}

#[cfg(all(feature = "alloc", target_has_atomic = "64"))]
impl From<Adaptive> for Backoff {
    fn from(a: Adaptive) -> Self {
        let state = AdaptiveState::new(
            a.window,
            a.target_success,
            a.min_multiplier,
            a.max_multiplier,
        );
        a.fallback
            .under_adaptive(Shared::Arc(alloc::sync::Arc::new(state)))
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
    fn doubling_is_exact_and_saturates() {
        let mut rng = FastRng::seeded(1);
        let cap = Duration::from_secs(3600);
        for base in [
            ms(1),
            ms(250),
            ms(333),
            Duration::from_nanos(7),
            Duration::ZERO,
        ] {
            let s = exponential().base(base).max(cap);
            for attempt in [1u32, 2, 5, 10, 20, 31, 32, 33, 64, u32::MAX] {
                let got = draw(&s, attempt, None, &mut rng);
                let exact = 2u128
                    .checked_pow(attempt - 1)
                    .map(|g| base.as_nanos().saturating_mul(g))
                    .map_or(cap, |n| Duration::from_nanos(n.min(cap.as_nanos()) as u64));
                let exact = if base.is_zero() {
                    Duration::ZERO
                } else {
                    exact
                };
                assert_eq!(got, exact, "{base:?} attempt {attempt}");
            }
        }
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

    #[cfg(feature = "alloc")]
    #[test]
    fn adaptive_stretches_with_the_failure_rate() {
        let b: Backoff = adaptive(constant(ms(100)))
            .target_success(0.5)
            .min_multiplier(1.0)
            .max_multiplier(3.0)
            .into();
        assert_eq!(b.kind(), "adaptive");
        assert_eq!(b.max_delay(), Some(ms(300)));
        let mut rng = FastRng::seeded(1);
        let c = Classification::new(ErrorClass::Transient);
        let at = |now| BackoffContext::new(1, &c).with_now(now);
        let t = Duration::from_secs(1);
        // No history: the minimum.
        assert_eq!(b.delay(&at(t), &mut rng), ms(100));
        // 50% failures: at the target, still the minimum.
        b.observe(Observation::Failure(ErrorClass::Transient), t);
        b.observe(Observation::Success, t);
        assert_eq!(b.delay(&at(t), &mut rng), ms(100));
        // 100% failures in the window: the maximum.
        let later = Duration::from_secs(200);
        b.observe(Observation::Failure(ErrorClass::Transient), later);
        assert_eq!(b.delay(&at(later), &mut rng), ms(300));
        // 75% failures: halfway from 1.0 to 3.0.
        b.observe(Observation::Failure(ErrorClass::Transient), later);
        b.observe(Observation::Failure(ErrorClass::Transient), later);
        b.observe(Observation::Success, later);
        assert_eq!(b.delay(&at(later), &mut rng), ms(200));
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn adaptive_parameters_are_validated() {
        let bad: Backoff = adaptive(constant(ms(1))).target_success(0.0).into();
        assert_eq!(
            bad.validate(),
            Err(StrategyProblem::InvalidTargetSuccess(0.0))
        );
        let bad: Backoff = adaptive(constant(ms(1))).max_multiplier(0.5).into();
        assert!(matches!(
            bad.validate(),
            Err(StrategyProblem::InvalidMultipliers { .. })
        ));
        let bad: Backoff = adaptive(constant(ms(1))).window(Duration::ZERO).into();
        assert_eq!(bad.validate(), Err(StrategyProblem::ZeroAdaptiveWindow));
    }

    #[test]
    fn unvalidated_adaptive_parameters_never_panic() {
        static INVERTED: AdaptiveState = AdaptiveState::new(Duration::from_secs(60), 0.5, 5.0, 1.0);
        static NAN: AdaptiveState =
            AdaptiveState::new(Duration::from_secs(60), f64::NAN, f64::NAN, 1.0);
        let c = Classification::new(ErrorClass::Transient);
        let mut rng = FastRng::seeded(1);
        for state in [&INVERTED, &NAN] {
            state.record(Observation::Failure(ErrorClass::Transient), Duration::ZERO);
            let b = Backoff::adaptive_static(constant(ms_const(10)), state);
            assert!(b.validate().is_err());
            let _ = b.delay(&BackoffContext::new(1, &c), &mut rng);
        }
    }

    #[test]
    fn adaptive_without_an_allocator_uses_a_static_state() {
        static STATE: AdaptiveState = AdaptiveState::new(Duration::from_secs(60), 0.9, 1.0, 2.0);
        let b = Backoff::adaptive_static(constant(ms_const(10)), &STATE);
        assert_eq!(b.validate(), Ok(()));
        assert_eq!(b.max_delay(), Some(ms(20)));
    }

    #[test]
    fn retry_after_hints_are_not_stretched() {
        static STATE: AdaptiveState = AdaptiveState::new(Duration::from_secs(60), 0.9, 1.0, 2.0);
        let b: Backoff = retry_after_or(Backoff::adaptive_static(constant(ms_const(10)), &STATE))
            .jitter(Duration::ZERO)
            .into();
        STATE.record(Observation::Failure(ErrorClass::RateLimit), Duration::ZERO);
        let mut rng = FastRng::seeded(1);
        let hinted = Classification::new(ErrorClass::RateLimit).with_retry_after(ms(500));
        assert_eq!(b.delay(&BackoffContext::new(1, &hinted), &mut rng), ms(500));
        let plain = Classification::new(ErrorClass::RateLimit);
        assert_eq!(b.delay(&BackoffContext::new(1, &plain), &mut rng), ms(20));
    }

    fn located(b: &Backoff) -> Vec<(StrategyKind, u8, StrategyProblem)> {
        let mut found = Vec::new();
        b.problems(|p| found.push((p.kind, p.depth, p.problem)));
        found
    }

    #[test]
    fn a_zero_base_is_a_problem_of_every_growing_curve() {
        let zero = Duration::ZERO;
        let cases: [(Backoff, StrategyKind); 5] = [
            (
                decorrelated_jitter().base(zero).into(),
                StrategyKind::DecorrelatedJitter,
            ),
            (equal_jitter().base(zero).into(), StrategyKind::EqualJitter),
            (full_jitter().base(zero).into(), StrategyKind::FullJitter),
            (
                token_backoff().base(zero).into(),
                StrategyKind::TokenBackoff,
            ),
            (exponential().base(zero).into(), StrategyKind::Exponential),
        ];
        for (b, kind) in cases {
            assert_eq!(b.validate(), Err(StrategyProblem::ZeroBase), "{kind}");
            assert_eq!(located(&b), [(kind, 0, StrategyProblem::ZeroBase)]);
        }
        // A zero max with a zero base is still the base's problem; a
        // constant or a schedule of zeros is legal (a lint warns).
        let both: Backoff = full_jitter().base(zero).max(zero).into();
        assert_eq!(both.validate(), Err(StrategyProblem::ZeroBase));
        assert_eq!(Backoff::from(constant(zero)).validate(), Ok(()));
        assert_eq!(Backoff::from(exponential().base(ms(1))).validate(), Ok(()));
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn nestings_the_engine_cannot_run_are_problems() {
        use StrategyKind::{Adaptive, Exponential, RetryAfterOr};
        let c = || constant(ms(10));
        let nested = |outer, inner| StrategyProblem::Nested { outer, inner };

        let twice: Backoff = retry_after_or(retry_after_or(c())).into();
        assert_eq!(
            located(&twice),
            [(RetryAfterOr, 1, nested(RetryAfterOr, RetryAfterOr))]
        );
        let inside_out: Backoff = adaptive(retry_after_or(c())).into();
        assert_eq!(
            located(&inside_out),
            [(RetryAfterOr, 1, nested(Adaptive, RetryAfterOr))]
        );
        assert_eq!(inside_out.kind(), "adaptive");
        let stacked: Backoff = adaptive(adaptive(c())).into();
        assert_eq!(
            located(&stacked),
            [(Adaptive, 1, nested(Adaptive, Adaptive))]
        );
        static STATE: AdaptiveState = AdaptiveState::new(Duration::from_secs(60), 0.9, 1.0, 2.0);
        let static_inside_out = Backoff::adaptive_static(retry_after_or(c()), &STATE);
        assert_eq!(
            located(&static_inside_out),
            [(RetryAfterOr, 1, nested(Adaptive, RetryAfterOr))]
        );
        // Deeper: the problem is where it was written.
        let deep: Backoff = retry_after_or(adaptive(retry_after_or(c()))).into();
        assert_eq!(
            located(&deep),
            [(RetryAfterOr, 2, nested(Adaptive, RetryAfterOr))]
        );
        assert_eq!(deep.kind(), "retry_after_or");

        // The right way round is fine, and its problems are located.
        let right: Backoff = retry_after_or(adaptive(c())).into();
        assert_eq!(right.validate(), Ok(()));
        assert_eq!(right.kind(), "retry_after_or");
        let bad_inside: Backoff = retry_after_or(
            adaptive(exponential().base(Duration::ZERO))
                .window(Duration::ZERO)
                .target_success(2.0),
        )
        .into();
        assert_eq!(
            located(&bad_inside),
            [
                (Adaptive, 1, StrategyProblem::ZeroAdaptiveWindow),
                (Adaptive, 1, StrategyProblem::InvalidTargetSuccess(2.0)),
                (Exponential, 2, StrategyProblem::ZeroBase),
            ]
        );
    }

    #[test]
    fn the_nesting_message_says_how_to_nest() {
        let b: Backoff = retry_after_or(retry_after_or(constant(ms(1)))).into();
        let problem = b.validate().unwrap_err();
        assert_eq!((problem.code(), problem.param()), ("E108", "kind"));
        let text = problem.to_string();
        assert!(
            text.contains("`retry_after_or` outside and `adaptive` inside"),
            "{text}"
        );
    }

    #[test]
    fn problems_name_their_code_and_parameter() {
        let cases = [
            (
                StrategyProblem::BaseAboveMax {
                    base: ms(2),
                    max: ms(1),
                },
                "E005",
                "base",
            ),
            (StrategyProblem::ZeroBase, "E006", "base"),
            (StrategyProblem::InvalidFactor(0.5), "E007", "factor"),
            (StrategyProblem::EmptySchedule, "E008", "delays"),
            (StrategyProblem::ZeroAdaptiveWindow, "E009", "window"),
            (
                StrategyProblem::InvalidTargetSuccess(0.0),
                "E009",
                "target_success",
            ),
            (
                StrategyProblem::InvalidMultipliers { min: 0.5, max: 2.0 },
                "E009",
                "min_multiplier",
            ),
            (
                StrategyProblem::InvalidMultipliers { min: 2.0, max: 1.5 },
                "E009",
                "max_multiplier",
            ),
        ];
        for (problem, code, param) in cases {
            assert_eq!(
                (problem.code(), problem.param()),
                (code, param),
                "{problem}"
            );
        }
    }

    #[test]
    fn every_kind_is_named_once_and_its_defaults_are_the_constructors() {
        for kind in StrategyKind::ALL {
            assert_eq!(StrategyKind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.to_string(), kind.name());
            assert_eq!(kind.takes_fallback(), kind.param("fallback").is_some());
        }
        let names: std::collections::BTreeSet<_> =
            StrategyKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), StrategyKind::ALL.len());
        assert_eq!(StrategyKind::from_name("custom"), None);

        let duration = |kind: StrategyKind, name| match kind.param(name).map(|p| p.kind) {
            Some(ParamKind::Duration(d)) => d,
            other => std::panic!("{kind} {name}: {other:?}"),
        };
        let number = |kind: StrategyKind, name| match kind.param(name).map(|p| p.kind) {
            Some(ParamKind::Number(x)) => x,
            other => std::panic!("{kind} {name}: {other:?}"),
        };
        let curves: [Backoff; 5] = [
            decorrelated_jitter().into(),
            equal_jitter().into(),
            full_jitter().into(),
            token_backoff().into(),
            exponential().into(),
        ];
        for b in curves {
            let kind = b.strategy_kind().unwrap();
            let (base, max) = match b.curve() {
                CurveSpec::DecorrelatedJitter { base, max }
                | CurveSpec::EqualJitter { base, max }
                | CurveSpec::FullJitter { base, max }
                | CurveSpec::TokenBackoff { base, max }
                | CurveSpec::Exponential { base, max, .. } => (base, max),
                other => std::panic!("{other:?}"),
            };
            assert_eq!(duration(kind, "base"), Some(base), "{kind}");
            assert_eq!(duration(kind, "max"), Some(max), "{kind}");
            if let CurveSpec::Exponential { factor, .. } = b.curve() {
                assert_eq!(number(kind, "factor"), factor);
            }
            assert_eq!(b.curve().strategy_kind(), Some(kind));
        }
        assert_eq!(duration(StrategyKind::Constant, "delay"), None);
        assert_eq!(
            StrategyKind::Schedule.param("delays").map(|p| p.kind),
            Some(ParamKind::Delays)
        );
        let honoring: Backoff = retry_after_or(constant(ms(1))).into();
        assert_eq!(
            duration(StrategyKind::RetryAfterOr, "jitter"),
            honoring.retry_after_jitter()
        );
        #[cfg(feature = "alloc")]
        {
            let scaled: Backoff = adaptive(constant(ms(1))).into();
            let state = scaled.adaptive_state().unwrap();
            let a = StrategyKind::Adaptive;
            assert_eq!(duration(a, "window"), Some(state.window()));
            assert_eq!(number(a, "target_success"), state.target_success());
            assert_eq!(
                (number(a, "min_multiplier"), number(a, "max_multiplier")),
                state.multipliers()
            );
        }
    }

    #[test]
    fn strategy_trait_is_object_safe() {
        fn _obj_safe(_: &dyn Strategy) {}
    }
}
