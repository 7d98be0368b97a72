//! Lock-free rolling windows of counts, the shared-state machinery behind
//! budgets, the circuit breaker and the adaptive strategy.
//!
//! A window of length `W` is tracked in [`SLOTS`] buckets of width
//! `W / BUCKETS`. Each bucket is one `AtomicU64` packing the bucket's epoch
//! (which `W / BUCKETS`-long stretch of time it counts) and its count, so
//! adding to a window is one compare-and-swap and reading it is a pass over
//! the buckets: no lock, no allocation.
//!
//! An event counts for between `W` and `W + W / BUCKETS` after it happened:
//! the window errs on the side of remembering a little longer, so a budget
//! never grants early and a breaker never forgets a failure early.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};

use core::time::Duration;

use crate::time::duration_to_nanos;

/// Buckets per window length.
#[cfg(not(loom))]
pub(crate) const BUCKETS: u64 = 16;
/// Under loom the logic is the same with fewer buckets, so the model checker
/// can explore every interleaving.
#[cfg(loom)]
pub(crate) const BUCKETS: u64 = 2;
/// Buckets kept: one more than a window, for the one being filled.
pub(crate) const SLOTS: usize = BUCKETS as usize + 1;

const COUNT_BITS: u32 = 24;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const EPOCH_MASK: u64 = (1 << (64 - COUNT_BITS)) - 1;

#[inline]
fn pack(epoch: u64, count: u64) -> u64 {
    ((epoch & EPOCH_MASK) << COUNT_BITS) | count.min(COUNT_MAX)
}

#[inline]
fn unpack(word: u64) -> (u64, u64) {
    (word >> COUNT_BITS, word & COUNT_MAX)
}

/// How far `epoch` lies behind `now_epoch` (0 when equal or ahead: a
/// reading from a thread whose clock read came slightly later).
#[inline]
fn age(now_epoch: u64, epoch: u64) -> u64 {
    let behind = now_epoch.wrapping_sub(epoch) & EPOCH_MASK;
    if behind > EPOCH_MASK / 2 { 0 } else { behind }
}

/// A rolling count of events.
#[derive(Debug)]
pub(crate) struct Window {
    width_nanos: u64,
    slots: [AtomicU64; SLOTS],
}

impl Window {
    /// An empty window of length `window` (which must be non-zero; a zero
    /// length behaves like one nanosecond).
    #[cfg(not(loom))]
    pub(crate) const fn new(window: Duration) -> Self {
        Window {
            width_nanos: width(window),
            slots: [const { AtomicU64::new(0) }; SLOTS],
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(window: Duration) -> Self {
        Window {
            width_nanos: width(window),
            slots: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    #[inline]
    fn epoch(&self, now: Duration) -> u64 {
        duration_to_nanos(now)
            .checked_div(self.width_nanos)
            .unwrap_or(0)
            & EPOCH_MASK
    }

    #[inline]
    fn slot(&self, epoch: u64) -> &AtomicU64 {
        let index = usize::try_from(epoch.checked_rem(SLOTS as u64).unwrap_or(0)).unwrap_or(0);
        // `index < SLOTS` by construction; fall back to the first slot
        // rather than panic.
        match self.slots.get(index) {
            Some(slot) => slot,
            None => &self.slots[0],
        }
    }

    /// Counts one event at `now`; returns the epoch it was counted under,
    /// for [`Window::remove`].
    pub(crate) fn add(&self, now: Duration) -> u64 {
        let epoch = self.epoch(now);
        let slot = self.slot(epoch);
        let mut word = slot.load(Ordering::Acquire);
        loop {
            let (slot_epoch, count) = unpack(word);
            let (new, counted_under) = if age(epoch, slot_epoch) == 0 {
                // Same bucket, or one a slightly later reading already
                // started: count there.
                (pack(slot_epoch, count.saturating_add(1)), slot_epoch)
            } else {
                // The bucket holds an expired stretch of time: start over.
                (pack(epoch, 1), epoch)
            };
            match slot.compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return counted_under,
                Err(actual) => word = actual,
            }
        }
    }

    /// Takes back one event counted under `epoch` (a no-op once that bucket
    /// has expired).
    pub(crate) fn remove(&self, epoch: u64) {
        let slot = self.slot(epoch);
        let mut word = slot.load(Ordering::Acquire);
        loop {
            let (slot_epoch, count) = unpack(word);
            if slot_epoch != epoch || count == 0 {
                return;
            }
            let new = pack(slot_epoch, count.saturating_sub(1));
            match slot.compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// The events counted in the window ending at `now`.
    pub(crate) fn sum(&self, now: Duration) -> u64 {
        let epoch = self.epoch(now);
        self.slots
            .iter()
            .map(|slot| unpack(slot.load(Ordering::Acquire)))
            .filter(|(slot_epoch, _)| age(epoch, *slot_epoch) < SLOTS as u64)
            .fold(0u64, |sum, (_, count)| sum.saturating_add(count))
    }

    /// Forgets every event.
    pub(crate) fn clear(&self) {
        for slot in &self.slots {
            slot.store(0, Ordering::Release);
        }
    }
}

const fn width(window: Duration) -> u64 {
    let nanos = window.as_nanos();
    let nanos = if nanos > u64::MAX as u128 {
        u64::MAX
    } else {
        nanos as u64
    };
    let w = nanos / BUCKETS;
    if w == 0 { 1 } else { w }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn counts_within_the_window_and_forgets_after() {
        let w = Window::new(ms(1600)); // 100 ms buckets
        w.add(ms(0));
        w.add(ms(50));
        w.add(ms(150));
        assert_eq!(w.sum(ms(150)), 3);
        // At 1600 ms the first bucket is 16 buckets old: still counted.
        assert_eq!(w.sum(ms(1650)), 3);
        // One bucket later it has expired.
        assert_eq!(w.sum(ms(1750)), 1);
        assert_eq!(w.sum(ms(1850)), 0);
    }

    #[test]
    fn an_event_counts_for_at_least_the_window() {
        let w = Window::new(ms(1600));
        for start in [0u64, 37, 99, 100, 1234] {
            w.clear();
            w.add(ms(start));
            assert_eq!(w.sum(ms(start + 1599)), 1, "start {start}");
            assert_eq!(w.sum(ms(start + 1700)), 0, "start {start}");
        }
    }

    #[test]
    fn reused_slots_start_over() {
        let w = Window::new(ms(1600));
        w.add(ms(0));
        w.add(ms(0));
        // 17 buckets later the same slot is reused.
        w.add(ms(1700));
        assert_eq!(w.sum(ms(1700)), 1);
    }

    #[test]
    fn remove_takes_back_only_its_own_event() {
        let w = Window::new(ms(1600));
        let e = w.add(ms(10));
        w.add(ms(20));
        w.remove(e);
        assert_eq!(w.sum(ms(20)), 1);
        // Removing after the bucket was reused does nothing.
        let stale = w.add(ms(30));
        w.add(ms(30 + 1700));
        w.remove(stale);
        assert_eq!(w.sum(ms(1730)), 1);
    }

    #[test]
    fn late_readers_count_into_the_newer_bucket() {
        let w = Window::new(ms(1600));
        w.add(ms(1000));
        // A thread whose clock read happened earlier lands in the same slot
        // only if 17 buckets apart; a slightly earlier reading uses its own.
        w.add(ms(990));
        assert_eq!(w.sum(ms(1000)), 2);
    }

    #[test]
    fn extreme_windows_do_not_panic() {
        let w = Window::new(Duration::MAX);
        w.add(Duration::MAX);
        assert_eq!(w.sum(Duration::MAX), 1);
        let tiny = Window::new(Duration::ZERO);
        tiny.add(Duration::from_nanos(5));
        assert_eq!(tiny.sum(Duration::from_nanos(5)), 1);
        assert_eq!(tiny.sum(Duration::from_nanos(100)), 0);
    }

    #[test]
    fn counts_saturate() {
        let w = Window::new(ms(1600));
        let slot = w.slot(0);
        slot.store(pack(0, COUNT_MAX), Ordering::Relaxed);
        w.add(ms(0));
        assert_eq!(w.sum(ms(0)), COUNT_MAX);
    }
}
