//! Retry budgets: a cap on retries shared by every call of a service.
//!
//! # Why budgets beat large attempt counts
//!
//! `max_attempts` bounds one call. It does nothing about a thousand calls
//! failing at once: each retries, the load on the struggling dependency
//! multiplies by the attempt count exactly when it can least take it, and the
//! retry storm keeps it down. A budget bounds retries *across* calls: when a
//! dependency is healthy, the few failures get their retries; when it is not,
//! the budget runs dry and calls fail fast with `BUDGET_EXHAUSTED` instead of
//! piling on.
//!
//! Two budgets are provided, both lock-free and allocation-free (a
//! withdrawal is one compare-and-swap, one sequentially consistent fence and
//! a pass over the 17 buckets of its window; a refusal takes itself back
//! with one more compare-and-swap):
//!
//! - [`RollingBudget`] (the reference's): at most `max_retries` retries in
//!   any rolling `window`. Simple and predictable, but a fixed count is too
//!   strict for a busy service and too loose for a quiet one.
//! - [`RatioBudget`] (the Finagle/tower and Google SRE design): retries may be
//!   at most a fraction of recent calls (say 20%), plus a small floor per
//!   second so a quiet service can still retry. It scales with traffic.
//!
//! Share one budget between the policies that call one dependency, through an
//! `Arc` (or a `&'static`).
//!
//! # Lagging readings
//!
//! Callers pass the time they read from their clock, and readings taken by
//! different threads reach the budget out of order. A budget's promise holds
//! for the readings themselves: no `window`-long stretch of readings holds
//! more granted retries than the budget allows, whatever order they arrive
//! in. A reading that arrives after the budget has seen one later by more
//! than the history it keeps (15 of its 16 buckets, about 15/16 of the
//! window) is refused, since the retries it would have to count may be
//! forgotten already. Such a lag means a thread stalled for most of a window
//! between reading its clock and asking; see `docs/resilience.md` for the
//! precision of the windows.

use core::fmt;
use core::time::Duration;

use crate::policy::{Component, ConfigError, first_problem};
use crate::window::{Ordering, Window, fence};

/// A shared allowance of retries.
///
/// The engine calls [`on_call`](Budget::on_call) when a call starts and
/// [`try_withdraw`](Budget::try_withdraw) before each retry; a refusal stops
/// the call with `BUDGET_EXHAUSTED`. Implementations must be cheap and must
/// not block: they run on every call.
pub trait Budget {
    /// A call started at `now` (ratio budgets earn retries from calls).
    fn on_call(&self, now: Duration) {
        let _ = now;
    }

    /// Asks for one retry at `now`; `false` refuses it.
    fn try_withdraw(&self, now: Duration) -> bool;

    /// How many retries would be granted at `now`, if the budget can tell.
    fn remaining(&self, now: Duration) -> Option<u64> {
        let _ = now;
        None
    }

    /// The rolling window the budget counts over, if it has one (for lints).
    fn window(&self) -> Option<Duration> {
        None
    }

    /// This budget as a [`RollingBudget`], when it is one (for lints and for
    /// writing a policy back out as configuration).
    fn as_rolling(&self) -> Option<&RollingBudget> {
        None
    }

    /// This budget as a [`RatioBudget`], when it is one.
    fn as_ratio(&self) -> Option<&RatioBudget> {
        None
    }
}

impl fmt::Debug for dyn Budget + Send + Sync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dyn Budget")
    }
}

impl<B: Budget + ?Sized> Budget for &B {
    fn on_call(&self, now: Duration) {
        (**self).on_call(now);
    }
    fn try_withdraw(&self, now: Duration) -> bool {
        (**self).try_withdraw(now)
    }
    fn remaining(&self, now: Duration) -> Option<u64> {
        (**self).remaining(now)
    }
    fn window(&self) -> Option<Duration> {
        (**self).window()
    }
    fn as_rolling(&self) -> Option<&RollingBudget> {
        (**self).as_rolling()
    }
    fn as_ratio(&self) -> Option<&RatioBudget> {
        (**self).as_ratio()
    }
}

/// At most `max_retries` retries in any rolling `window` (the reference's
/// budget).
///
/// The cap is exact under contention and for readings that lag each other:
/// no `window`-long stretch of readings ever holds more than `max_retries`
/// granted withdrawals. A withdrawal counts itself, then checks the total of
/// its window and takes itself back if it went over; a fence between the two
/// makes the second of two racing withdrawals see the first, so concurrent
/// callers can never exceed the cap together (at the boundary both may be
/// refused). A reading that lags the newest one the budget has seen by more
/// than about 15/16 of the window is refused: the history it would need is
/// gone (see [lagging readings](crate::budget#lagging-readings)).
///
/// ```
/// use core::time::Duration;
/// use redress_core::budget::{Budget, RollingBudget};
///
/// let budget = RollingBudget::new(2, Duration::from_secs(60))?;
/// let now = Duration::ZERO;
/// assert!(budget.try_withdraw(now));
/// assert!(budget.try_withdraw(now));
/// assert!(!budget.try_withdraw(now));
/// assert!(budget.try_withdraw(Duration::from_secs(70)));
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct RollingBudget {
    max_retries: u64,
    window: Duration,
    spent: Window,
}

impl RollingBudget {
    /// A budget of `max_retries` per rolling `window`. A zero window is
    /// refused ([`ConfigError::ZeroWindow`], `E010`). `max_retries` of 0
    /// is legal, as in the reference, and refuses every retry (`redress
    /// doctor` warns about it).
    pub fn new(max_retries: u32, window: Duration) -> Result<Self, ConfigError> {
        if window.is_zero() {
            return Err(ConfigError::ZeroWindow {
                component: Component::Budget,
            });
        }
        Ok(RollingBudget {
            max_retries: u64::from(max_retries),
            window,
            spent: Window::new(window),
        })
    }

    /// The cap.
    pub fn max_retries(&self) -> u64 {
        self.max_retries
    }

    /// Retries that would be granted at `now`.
    pub fn available(&self, now: Duration) -> u64 {
        self.max_retries.saturating_sub(self.spent.sum(now))
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }
}

impl Budget for RollingBudget {
    fn try_withdraw(&self, now: Duration) -> bool {
        if self.max_retries == 0 {
            return false;
        }
        withdraw(&self.spent, self.spent.epoch(now), |spent| {
            spent <= self.max_retries
        })
    }

    fn remaining(&self, now: Duration) -> Option<u64> {
        Some(self.max_retries.saturating_sub(self.spent.sum(now)))
    }

    fn window(&self) -> Option<Duration> {
        Some(self.window)
    }

    fn as_rolling(&self) -> Option<&RollingBudget> {
        Some(self)
    }
}

/// Counts a withdrawal in `spent` at `reading` (from [`Window::epoch`]) and
/// keeps it if `within` accepts the total the window then holds; otherwise
/// takes it back and refuses.
#[inline]
fn withdraw(spent: &Window, reading: u64, within: impl FnOnce(u64) -> bool) -> bool {
    // A full bucket (`u32::MAX` withdrawals) cannot count one more: refuse.
    let Some(epoch) = spent.add_at(reading) else {
        return false;
    };
    // Orders this withdrawal's count before its look at the others', and
    // the looks of all withdrawals in one total order: of two racing
    // withdrawals, the later one to pass the fence sees the other's count.
    fence(Ordering::SeqCst);
    match spent.sum_exact_at(reading) {
        Some(total) if within(total) => true,
        _ => {
            spent.remove(epoch);
            false
        }
    }
}

/// Retries limited to a fraction of recent calls, plus a floor per second
/// (Finagle's and tower's budget; the Google SRE book's "retry budget").
///
/// Over the rolling `window`, retries may not exceed
/// `min_per_second × window_seconds + ratio × calls`. The default (ratio 0.2,
/// 10 per second, 10 s window) lets a busy service retry one call in five and
/// a quiet one ten times a second.
///
/// ```
/// use core::time::Duration;
/// use redress_core::budget::{Budget, RatioBudget};
///
/// // 10% of calls, no floor.
/// let budget = RatioBudget::builder().ratio(0.1).min_per_second(0).build()?;
/// let now = Duration::ZERO;
/// assert!(!budget.try_withdraw(now));
/// for _ in 0..10 {
///     budget.on_call(now);
/// }
/// assert!(budget.try_withdraw(now));
/// assert!(!budget.try_withdraw(now));
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct RatioBudget {
    ratio: f64,
    min_per_second: u32,
    reserve: u64,
    window: Duration,
    calls: Window,
    retries: Window,
}

impl RatioBudget {
    /// The default ratio of retries to calls: 0.2.
    pub const DEFAULT_RATIO: f64 = 0.2;
    /// The default floor: 10 retries per second.
    pub const DEFAULT_MIN_PER_SECOND: u32 = 10;
    /// The default window: 10 seconds.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

    /// A builder with the defaults.
    pub fn builder() -> RatioBudgetBuilder {
        RatioBudgetBuilder {
            ratio: RatioBudget::DEFAULT_RATIO,
            min_per_second: RatioBudget::DEFAULT_MIN_PER_SECOND,
            window: RatioBudget::DEFAULT_WINDOW,
        }
    }

    /// The ratio of retries to calls.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Retries always allowed per second.
    pub fn min_per_second(&self) -> u32 {
        self.min_per_second
    }

    /// Retries that would be granted at `now`.
    pub fn available(&self, now: Duration) -> u64 {
        self.allowance(now).saturating_sub(self.retries.sum(now))
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn allowance(&self, now: Duration) -> u64 {
        self.allowance_at(self.calls.epoch(now))
    }

    /// The allowance at a reading of either window (they have one length,
    /// so one geometry).
    #[inline]
    fn allowance_at(&self, reading: u64) -> u64 {
        let earned = self.calls.sum_at(reading) as f64 * self.ratio;
        // `earned` is finite and non-negative; `as` saturates.
        self.reserve.saturating_add(earned as u64)
    }
}

impl Budget for RatioBudget {
    fn on_call(&self, now: Duration) {
        self.calls.add(now);
    }

    fn try_withdraw(&self, now: Duration) -> bool {
        let reading = self.retries.epoch(now);
        // Within the floor, the calls need not be counted.
        withdraw(&self.retries, reading, |retries| {
            retries <= self.reserve || retries <= self.allowance_at(reading)
        })
    }

    fn remaining(&self, now: Duration) -> Option<u64> {
        Some(self.allowance(now).saturating_sub(self.retries.sum(now)))
    }

    fn window(&self) -> Option<Duration> {
        Some(self.window)
    }

    fn as_ratio(&self) -> Option<&RatioBudget> {
        Some(self)
    }
}

/// Builds a [`RatioBudget`].
#[derive(Clone, Copy, Debug)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct RatioBudgetBuilder {
    ratio: f64,
    min_per_second: u32,
    window: Duration,
}

impl RatioBudgetBuilder {
    /// Retries allowed per call (0.2: one retry per five calls). At most
    /// 1000.
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// Retries always allowed per second of the window, whatever the
    /// traffic.
    pub fn min_per_second(mut self, min: u32) -> Self {
        self.min_per_second = min;
        self
    }

    /// How long a call or a retry is remembered.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Calls `f` with every problem of the configuration: a ratio that is
    /// not a finite number in `[0, 1000]` (`E011`), a zero window (`E010`).
    /// A budget that earns no retries (ratio 0 and no floor) is legal.
    pub fn problems(&self, mut f: impl FnMut(&ConfigError)) {
        if !(self.ratio.is_finite() && (0.0..=1000.0).contains(&self.ratio)) {
            f(&ConfigError::InvalidRatio(self.ratio));
        }
        if self.window.is_zero() {
            f(&ConfigError::ZeroWindow {
                component: Component::Budget,
            });
        }
    }

    /// Validates and builds: every problem [`problems`](Self::problems)
    /// reports is refused, the first returned.
    pub fn build(self) -> Result<RatioBudget, ConfigError> {
        first_problem(|f| self.problems(f))?;
        let reserve = (f64::from(self.min_per_second) * self.window.as_secs_f64()) as u64;
        Ok(RatioBudget {
            ratio: self.ratio,
            min_per_second: self.min_per_second,
            reserve,
            window: self.window,
            calls: Window::new(self.window),
            retries: Window::new(self.window),
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn rolling_budget_refuses_past_the_cap_and_recovers() {
        let b = RollingBudget::new(3, Duration::from_secs(16)).unwrap();
        let t = Duration::from_secs(1);
        assert!((0..3).all(|_| b.try_withdraw(t)));
        assert!(!b.try_withdraw(t));
        assert_eq!(b.remaining(t), Some(0));
        // Refusals are not counted.
        assert!(!b.try_withdraw(t));
        assert_eq!(b.remaining(Duration::from_secs(19)), Some(3));
    }

    #[test]
    fn caps_beyond_two_to_the_24_are_exact() {
        for cap in [20_000_000, u32::MAX] {
            let b = RollingBudget::new(cap, Duration::from_secs(16)).unwrap();
            let t = Duration::from_secs(1);
            // All but one of the cap spent at one instant, in one bucket.
            b.spent.add_many(t, u64::from(cap) - 1);
            assert_eq!(b.remaining(t), Some(1), "cap {cap}");
            assert!(b.try_withdraw(t), "cap {cap}");
            assert!(!b.try_withdraw(t), "cap {cap}");
            assert_eq!(b.remaining(t), Some(0), "cap {cap}");
        }
    }

    #[test]
    fn ratio_budgets_count_past_two_to_the_24() {
        let b = RatioBudget::builder()
            .ratio(1.0)
            .min_per_second(0)
            .window(Duration::from_secs(16))
            .build()
            .unwrap();
        let t = Duration::from_secs(1);
        b.calls.add_many(t, 30_000_000);
        b.retries.add_many(t, 29_999_999);
        assert!(b.try_withdraw(t));
        assert!(!b.try_withdraw(t));
    }

    #[test]
    fn a_budget_refills_after_any_idle_gap() {
        // Buckets of 1 us; idle for 2^40 and more buckets (about 13 days and
        // beyond), up to the end of the clock's range.
        let b = RollingBudget::new(2, Duration::from_micros(16)).unwrap();
        let mut t = Duration::from_millis(1);
        for gap in [1u64 << 40, 1 << 37, 1 << 45, u64::MAX] {
            assert!(b.try_withdraw(t) && b.try_withdraw(t));
            assert!(!b.try_withdraw(t));
            t = t.saturating_add(Duration::from_micros(gap));
            assert_eq!(b.remaining(t), Some(2), "after {gap} buckets");
            assert!(b.try_withdraw(t), "after {gap} buckets");
            t = t.saturating_add(Duration::from_micros(17));
        }
    }

    #[test]
    fn zero_max_retries_refuses_everything() {
        let b = RollingBudget::new(0, Duration::from_secs(1)).unwrap();
        assert!(!b.try_withdraw(Duration::ZERO));
    }

    #[test]
    fn budgets_that_refuse_every_retry_are_legal() {
        // As in the reference: a lint warns about them, building does not
        // refuse them.
        assert!(RollingBudget::new(0, Duration::from_secs(1)).is_ok());
        let none = RatioBudget::builder()
            .ratio(0.0)
            .min_per_second(0)
            .build()
            .unwrap();
        assert!(!none.try_withdraw(Duration::ZERO));
    }

    #[test]
    fn ratio_problems_are_all_reported_with_codes() {
        let builder = RatioBudget::builder()
            .ratio(f64::NAN)
            .window(Duration::ZERO);
        let mut codes = std::vec::Vec::new();
        builder.problems(|e| codes.push(e.code()));
        assert_eq!(codes, ["E011", "E010"]);
        assert_eq!(
            RollingBudget::new(1, Duration::ZERO).unwrap_err().code(),
            "E010"
        );
    }

    #[test]
    fn invalid_budgets_are_typed_errors() {
        assert_eq!(
            RollingBudget::new(1, Duration::ZERO).unwrap_err(),
            ConfigError::ZeroWindow {
                component: Component::Budget
            }
        );
        for bad in [f64::NAN, -0.1, 1000.5, f64::INFINITY] {
            assert!(matches!(
                RatioBudget::builder().ratio(bad).build(),
                Err(ConfigError::InvalidRatio(_))
            ));
        }
        assert!(
            RatioBudget::builder()
                .window(Duration::ZERO)
                .build()
                .is_err()
        );
    }

    #[test]
    fn ratio_budget_has_a_floor_and_scales_with_calls() {
        let b = RatioBudget::builder()
            .ratio(0.5)
            .min_per_second(1)
            .window(Duration::from_secs(2))
            .build()
            .unwrap();
        let t = Duration::ZERO;
        // Floor: 1/s over 2 s.
        assert!(b.try_withdraw(t));
        assert!(b.try_withdraw(t));
        assert!(!b.try_withdraw(t));
        for _ in 0..4 {
            b.on_call(t);
        }
        assert_eq!(b.remaining(t), Some(2));
        assert!(b.try_withdraw(t));
        assert!(b.try_withdraw(t));
        assert!(!b.try_withdraw(t));
    }
}
