//! Sleeping, as runners do it.
//!
//! The engine only says how long to wait. Runners sleep: the blocking runner
//! with a [`BlockingSleeper`], async runners with an async sleeper. A
//! [`Bound`](crate::Bound) carries `()` to mean "the runner's own sleeper and
//! clock", or a [`Custom`] one set with
//! [`Bound::sleeper`](crate::Bound::sleeper) or
//! [`Bound::clock`](crate::Bound::clock).

use core::time::Duration;

/// Blocks the current thread for a while.
///
/// Closures `Fn(Duration)` are sleepers, which makes tests instant:
///
/// ```
/// use core::time::Duration;
/// use redress_core::{BlockingSleeper, ManualClock};
///
/// let clock = ManualClock::new();
/// let sleeper = |d: Duration| clock.advance(d);
/// sleeper.sleep(Duration::from_secs(30));
/// assert_eq!(redress_core::Clock::now(&clock), Duration::from_secs(30));
/// ```
pub trait BlockingSleeper {
    /// Sleeps for `duration`.
    fn sleep(&self, duration: Duration);
}

impl<F: Fn(Duration)> BlockingSleeper for F {
    #[inline]
    fn sleep(&self, duration: Duration) {
        self(duration);
    }
}

/// Sleeps with `std::thread::sleep` (a zero delay returns at once).
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadSleeper;

#[cfg(feature = "std")]
impl BlockingSleeper for ThreadSleeper {
    #[inline]
    fn sleep(&self, duration: Duration) {
        if !duration.is_zero() {
            std::thread::sleep(duration);
        }
    }
}

/// A sleeper or clock chosen by the caller, as opposed to `()`, the runner's
/// own.
#[derive(Clone, Copy, Debug, Default)]
pub struct Custom<T>(pub T);

/// How a runner finds a call site's sleeper or clock: `()` resolves to the
/// runner's default `D`, [`Custom`] to the caller's value.
///
/// ```
/// use redress_core::{Custom, Slot, SystemClock, ManualClock};
///
/// fn now<K: Slot<SystemClock>>(slot: &K) -> &K::Value {
///     slot.resolve(&SystemClock)
/// }
/// let clock = ManualClock::new();
/// let _default: &SystemClock = now(&());
/// let _custom: &ManualClock = now(&Custom(clock));
/// ```
pub trait Slot<D> {
    /// What the slot resolves to.
    type Value;

    /// The caller's value, or `default`.
    fn resolve<'a>(&'a self, default: &'a D) -> &'a Self::Value;
}

impl<D> Slot<D> for () {
    type Value = D;

    #[inline]
    fn resolve<'a>(&'a self, default: &'a D) -> &'a D {
        default
    }
}

impl<D, T> Slot<D> for Custom<T> {
    type Value = T;

    #[inline]
    fn resolve<'a>(&'a self, _default: &'a D) -> &'a T {
        &self.0
    }
}
