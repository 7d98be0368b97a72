//! Time as the engine sees it.
//!
//! The engine never reads a clock. Runners read one and pass `now` in: a
//! monotonic [`Duration`] since the clock's own epoch. Only differences
//! between two readings of the *same* clock mean anything, so shared state
//! (a budget or a breaker) must be fed by one clock.
//!
//! Every sum and difference of times saturates: a deadline of
//! [`Duration::MAX`] is valid and never overflows.

use core::time::Duration;

/// A monotonic clock: time since an arbitrary, fixed epoch.
///
/// ```
/// use core::time::Duration;
/// use redress_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_millis(250));
/// assert_eq!(clock.now() - t0, Duration::from_millis(250));
/// ```
pub trait Clock {
    /// The current time since this clock's epoch. Never decreases.
    fn now(&self) -> Duration;
}

/// A reading is a clock stopped at that reading: code that drives the
/// engine by hand passes its `now` where a clock is asked for.
///
/// ```
/// use core::time::Duration;
/// use redress_core::Clock;
///
/// assert_eq!(Duration::from_secs(3).now(), Duration::from_secs(3));
/// ```
impl Clock for Duration {
    #[inline]
    fn now(&self) -> Duration {
        *self
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now(&self) -> Duration {
        (**self).now()
    }
}

/// The system's monotonic clock (`std::time::Instant`).
///
/// All `SystemClock`s in a process share one epoch, so a breaker or budget
/// shared between threads sees consistent times.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[cfg(feature = "std")]
impl SystemClock {
    /// The process-wide epoch every `SystemClock` measures from.
    ///
    /// It is set on first use and backdated by up to a day where the platform
    /// allows, so instants taken shortly before first use (for example the
    /// start of a tokio runtime with paused time) are still after it.
    pub fn epoch() -> std::time::Instant {
        static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        *EPOCH.get_or_init(|| {
            let now = std::time::Instant::now();
            [86_400, 3_600, 60, 1]
                .into_iter()
                .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
                .unwrap_or(now)
        })
    }

    /// Converts an instant into this clock's time scale (saturating at the epoch).
    pub fn since_epoch(instant: std::time::Instant) -> Duration {
        instant.saturating_duration_since(Self::epoch())
    }
}

#[cfg(feature = "std")]
impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Duration {
        Self::since_epoch(std::time::Instant::now())
    }
}

/// The system's monotonic clock read at the kernel's tick: a reading costs
/// a fraction of a [`SystemClock`] reading, for a resolution of one tick.
///
/// A call reads its clock once when it starts, after each failure and
/// after each sleep, for the deadline, the attempts' time limits and the
/// events' `elapsed`. Where a call costs little more than those readings
/// (a service's hot path calling a fast dependency), this clock makes the
/// envelope several times cheaper. The price is resolution: readings move
/// in steps of the kernel's tick (`CLOCK_MONOTONIC_COARSE` on Linux and
/// Android: 1 to 4 ms with the usual `CONFIG_HZ`; the approximate
/// monotonic clock on macOS; `CLOCK_MONOTONIC_FAST` on FreeBSD; the tick
/// count on Windows: 10 to 16 ms). A deadline or an attempt limit may
/// then be measured up to one tick short or long, and a call faster than
/// a tick reports an `elapsed` of zero. Keep [`SystemClock`] (the
/// default) where time limits are tighter than a few ticks.
///
/// Readings share [`SystemClock`]'s epoch (matched once, to within a
/// tick), so call sites on either clock may share a breaker or a budget.
/// On platforms without a monotonic coarse clock it reads
/// [`SystemClock`].
///
/// ```
/// use std::time::Duration;
/// use redress_core::{Clock, CoarseClock, SystemClock};
///
/// let coarse = CoarseClock.now();
/// let exact = SystemClock.now();
/// // One scale: the two agree to within a tick or two.
/// assert!(exact.abs_diff(coarse) < Duration::from_millis(100));
/// ```
///
/// A call site opts in with `Bound::clock`:
/// `policy.bind().clock(CoarseClock).call(..)`.
#[cfg(feature = "coarse-clock")]
#[derive(Clone, Copy, Debug, Default)]
pub struct CoarseClock;

/// Where the coarse clock is monotonic, and cheap.
#[cfg(all(
    feature = "coarse-clock",
    any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "freebsd",
        target_os = "dragonfly",
        windows
    )
))]
mod coarse {
    use core::time::Duration;

    use super::{Clock, SystemClock};

    /// What turns a coarse reading (in the coarse clock's ticks, from its
    /// own origin) into time since [`SystemClock::epoch`]: add the first,
    /// subtract the second (either may be larger: the epoch may be before
    /// the coarse clock's origin, or after).
    fn shift() -> (u64, u64) {
        static SHIFT: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
        *SHIFT.get_or_init(|| {
            let coarse = coarsetime::Instant::now_without_cache_update().as_ticks();
            let since_epoch = coarsetime::Duration::from(SystemClock.now()).as_ticks();
            (
                since_epoch.saturating_sub(coarse),
                coarse.saturating_sub(since_epoch),
            )
        })
    }

    impl Clock for super::CoarseClock {
        #[inline]
        fn now(&self) -> Duration {
            // Not `Instant::now`, which also stores the reading in a cache
            // shared by every thread.
            let ticks = coarsetime::Instant::now_without_cache_update().as_ticks();
            let (add, sub) = shift();
            coarsetime::Duration::from_ticks(ticks.saturating_add(add).saturating_sub(sub)).into()
        }
    }
}

#[cfg(all(
    feature = "coarse-clock",
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "freebsd",
        target_os = "dragonfly",
        windows
    ))
))]
impl Clock for CoarseClock {
    #[inline]
    fn now(&self) -> Duration {
        SystemClock.now()
    }
}

/// A clock that only moves when told to: for tests and simulations.
///
/// It is `Sync` (the reading is one atomic), so it can be shared with the
/// code under test and with a sleeper that advances it.
#[cfg(target_has_atomic = "64")]
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: core::sync::atomic::AtomicU64,
}

#[cfg(target_has_atomic = "64")]
impl ManualClock {
    /// A clock reading zero.
    pub const fn new() -> Self {
        ManualClock {
            nanos: core::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A clock reading `start`.
    pub fn starting_at(start: Duration) -> Self {
        let clock = ManualClock::new();
        clock.set(start);
        clock
    }

    /// Moves the clock forward by `by` (saturating at about 584 years).
    pub fn advance(&self, by: Duration) {
        let by = duration_to_nanos(by);
        let _ = self.nanos.fetch_update(
            core::sync::atomic::Ordering::AcqRel,
            core::sync::atomic::Ordering::Acquire,
            |n| Some(n.saturating_add(by)),
        );
    }

    /// The current reading (the same as [`Clock::now`]).
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(core::sync::atomic::Ordering::Acquire))
    }

    /// Sets the reading; a value earlier than the current one is ignored,
    /// so the clock stays monotonic.
    pub fn set(&self, to: Duration) {
        self.nanos
            .fetch_max(duration_to_nanos(to), core::sync::atomic::Ordering::AcqRel);
    }
}

#[cfg(target_has_atomic = "64")]
impl Clock for ManualClock {
    #[inline]
    fn now(&self) -> Duration {
        ManualClock::now(self)
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (for the atomic clocks,
/// windows and breaker words).
#[cfg(target_has_atomic = "64")]
#[inline]
pub(crate) fn duration_to_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Converts seconds to a duration: NaN and values at or below zero become
/// zero, values past [`Duration::MAX`] saturate.
///
/// Below 2^64 ns (584 years: every delay in practice) it goes through
/// integer nanoseconds, rounded to the nearest: a few instructions where
/// the general conversion takes dozens, and the same nanosecond but for
/// the last bit of the multiplication.
#[inline]
pub(crate) fn secs_to_duration(secs: f64) -> Duration {
    /// 2^64 ns, exactly representable.
    const NANOS_LIMIT: f64 = 18_446_744_073_709_551_616.0;
    if secs > 0.0 {
        let nanos = secs * 1e9 + 0.5;
        if nanos < NANOS_LIMIT {
            // In range and not NaN: the cast truncates the rounded value.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            return Duration::from_nanos(nanos as u64);
        }
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    #[test]
    fn manual_clock_saturates_and_stays_monotonic() {
        let clock = ManualClock::starting_at(Duration::from_secs(10));
        clock.set(Duration::from_secs(5));
        assert_eq!(clock.now(), Duration::from_secs(10));
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn seconds_convert_within_a_nanosecond_of_the_exact_conversion() {
        for secs in [
            1e-9,
            0.25,
            0.3,
            1.0 / 3.0,
            7.5,
            30.0,
            86_400.123_456_789,
            1.8e10,
        ] {
            let fast = secs_to_duration(secs);
            let exact = Duration::from_secs_f64(secs);
            assert!(
                fast.abs_diff(exact) <= Duration::from_nanos(1),
                "{secs}: {fast:?} vs {exact:?}"
            );
        }
        // Past 2^64 ns, the general conversion.
        assert_eq!(secs_to_duration(1e12), Duration::from_secs_f64(1e12));
    }

    #[test]
    fn seconds_conversion_is_total() {
        assert_eq!(secs_to_duration(f64::NAN), Duration::ZERO);
        assert_eq!(secs_to_duration(-1.0), Duration::ZERO);
        assert_eq!(secs_to_duration(f64::INFINITY), Duration::MAX);
        assert_eq!(secs_to_duration(1e300), Duration::MAX);
        assert_eq!(secs_to_duration(0.25), Duration::from_millis(250));
    }

    #[cfg(feature = "coarse-clock")]
    #[test]
    fn the_coarse_clock_moves_forward_on_the_system_clocks_scale() {
        let tick = Duration::from_millis(50); // well above any kernel tick
        let mut last = CoarseClock.now();
        for _ in 0..1_000 {
            let exact = SystemClock.now();
            let coarse = CoarseClock.now();
            assert!(coarse >= last, "never decreases");
            assert!(coarse <= exact + tick, "{coarse:?} vs {exact:?}");
            assert!(exact <= coarse + tick, "{coarse:?} vs {exact:?}");
            last = coarse;
        }
        std::thread::sleep(Duration::from_millis(30));
        assert!(CoarseClock.now() > last, "moves with time");
    }

    #[cfg(feature = "std")]
    #[test]
    fn system_clock_moves_forward() {
        let a = SystemClock.now();
        let b = SystemClock.now();
        assert!(b >= a);
        assert!(a > Duration::ZERO, "the epoch is backdated");
    }
}
