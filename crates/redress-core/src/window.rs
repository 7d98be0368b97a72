//! Lock-free rolling windows of counts, the shared-state machinery behind
//! budgets, the circuit breaker and the adaptive strategy.
//!
//! # Buckets
//!
//! A window of length `W` counts events in buckets of `⌈W / 16⌉`
//! nanoseconds; bucket `n` (its *epoch*) holds the events whose reading
//! `now` falls in `[n × width, (n + 1) × width)`. A reading at epoch `e`
//! sees the `buckets` buckets before its own (`buckets × width ≥ W`, 16 for
//! any `W` of at least 256 ns) and every later one. An event therefore
//! counts for at least `W` after it happened and for less than
//! `W + 2 × ⌈W / 16⌉` (exactly up to `W + W / 16` when `W` is a multiple of
//! 16 ns): the window errs on the side of remembering longer, so a budget
//! never grants early and a breaker never forgets a failure early.
//!
//! # Layout
//!
//! The window keeps [`SLOTS`] buckets, one `AtomicU64` each: a 32-bit count
//! (saturating at `u32::MAX`, which no budget cap or breaker threshold
//! exceeds), an 8-bit *stamp* and a 24-bit tag of the bucket's *lap*
//! (`epoch / SLOTS`), which with the slot index (`epoch % SLOTS`) identifies
//! the epoch. Two more words hold the full 64-bit epoch of the newest bucket
//! (`latest`) and how far the slots have been swept for it (`swept`), so
//! time never wraps: any reading up to `u64::MAX` nanoseconds (about 584
//! years; later readings saturate there) and any idle gap work.
//!
//! The stamp lets one window serve successive *cycles* (the breaker's closed
//! cycles): counts and sums of one stamp ignore buckets of another, and a
//! bucket of another stamp is replaced only after the caller confirmed its
//! own cycle is still current. A late event of an ended cycle therefore
//! never shows in the next one; budgets and adaptive strategies use stamp 0
//! throughout.
//!
//! # Moving forward
//!
//! The first event of a new epoch publishes it in `latest`, then *sweeps*
//! the slots of the buckets that just fell out of the kept range (at most
//! all of them, after a long idle gap) to empty, and marks the sweep done in
//! `swept`. Nobody counts or reads while a sweep is pending: they finish it
//! first, so a slot never holds a bucket more than one lap old and a tag
//! never matches a bucket it does not hold.
//!
//! # Lagging readings
//!
//! Readings from different threads lag each other: a thread may count an
//! event or read the window after another one already moved it past its
//! `now`. The window keeps `SLOTS - 1 - buckets` (15 or more) buckets of
//! history beyond what the newest reading needs, so a reading that lags the
//! newest bucket by up to that many buckets still sees exactly the buckets
//! its own time needs (plus all later ones). A reading that lags further
//! cannot be answered exactly: its event is counted in the oldest kept
//! bucket (remembered longer), a plain sum answers for that bucket, and an
//! exact sum ([`Window::sum_exact_at`]) refuses to answer.
//!
//! # Cost
//!
//! Counting an event is one compare-and-swap, after three loads (`latest`,
//! `swept`, the slot) and one more of `latest`; once per bucket width, the
//! first event of a new bucket also publishes it and empties the slot it
//! takes over. Reading is a pass over the buckets in view (17 for a current
//! reading) between two loads of `latest`. No lock, no allocation: 37
//! words per window (34 atomic ones and the window's geometry).
//!
//! # Finite tags
//!
//! A count lands only by a compare-and-swap against the slot word it read,
//! and the sweep replaces every slot's word each time the window passes
//! it, so a stale view of a slot never succeeds. The tags are finite,
//! though: a thread stalled between reading a slot and its compare-and-swap
//! while the window moves on by 2^29 buckets (2^24 laps: over nine hours for
//! a 1 ms window, whose buckets are 62.5 us) could find the same word again
//! and count its event once in the wrong bucket; likewise for a stamp whose
//! owner goes through 256 cycles meanwhile.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU64, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering, fence};

use core::time::Duration;

use crate::time::duration_to_nanos;

/// The most buckets a view spans besides the reading's own.
#[cfg(not(loom))]
const BUCKETS: u64 = 16;
/// Under loom the logic is the same with fewer buckets and slots, so the
/// model checker can explore every interleaving.
#[cfg(loom)]
const BUCKETS: u64 = 2;

/// log2 of the slots kept.
#[cfg(not(loom))]
const SLOT_BITS: u32 = 5;
#[cfg(loom)]
const SLOT_BITS: u32 = 2;

/// Buckets kept: a view and the history a lagging reading may need.
const SLOTS: u64 = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS - 1;
const SLOT_COUNT: usize = SLOTS as usize;

const COUNT_BITS: u32 = 32;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const STAMP_SHIFT: u32 = COUNT_BITS;
const TAG_SHIFT: u32 = STAMP_SHIFT + 8;
const TAG_MASK: u64 = u64::MAX >> TAG_SHIFT;

/// The tag of `epoch`'s lap.
#[inline]
fn tag(epoch: u64) -> u64 {
    (epoch >> SLOT_BITS) & TAG_MASK
}

#[inline]
fn pack(epoch: u64, stamp: u8, count: u64) -> u64 {
    (tag(epoch) << TAG_SHIFT) | (u64::from(stamp) << STAMP_SHIFT) | count.min(COUNT_MAX)
}

#[inline]
fn tag_of(word: u64) -> u64 {
    word >> TAG_SHIFT
}

#[inline]
fn stamp_of(word: u64) -> u8 {
    // The stamp is the byte above the count.
    (word >> STAMP_SHIFT).to_le_bytes()[0]
}

#[inline]
fn count_of(word: u64) -> u64 {
    word & COUNT_MAX
}

/// Whether `word` holds `stamp`'s count of `epoch`'s bucket.
#[inline]
fn holds(word: u64, epoch: u64, stamp: u8) -> bool {
    // Tag and stamp in one comparison: they are the word's upper half.
    word >> STAMP_SHIFT == (tag(epoch) << (TAG_SHIFT - STAMP_SHIFT)) | u64::from(stamp)
}

/// What became of an event counted with a stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    /// Counted under this epoch.
    At(u64),
    /// Not counted: its bucket already holds `u32::MAX` events.
    Full,
    /// Not counted: the caller's cycle has ended.
    Stale,
}

/// A rolling count of events.
#[derive(Debug)]
pub(crate) struct Window {
    /// Bucket width in nanoseconds, at least 1.
    width: u64,
    /// Buckets before its own that a reading sees (`buckets × width ≥ W`).
    buckets: u64,
    /// How many buckets a reading may lag the newest and still be exact.
    lag: u64,
    /// The newest epoch anything was counted under.
    latest: AtomicU64,
    /// The epoch the slots were last swept for; equal to `latest` except
    /// while a sweep is pending.
    swept: AtomicU64,
    slots: [AtomicU64; SLOT_COUNT],
}

/// The bucket width and the buckets a view spans, for a window of `window`.
const fn geometry(window: Duration) -> (u64, u64) {
    let nanos = window.as_nanos();
    let nanos = if nanos > u64::MAX as u128 {
        u64::MAX
    } else if nanos == 0 {
        1
    } else {
        nanos as u64
    };
    let width = nanos.div_ceil(BUCKETS);
    (width, nanos.div_ceil(width))
}

impl Window {
    /// An empty window of length `window` (which must be non-zero; a zero
    /// length behaves like one nanosecond).
    #[cfg(not(loom))]
    pub(crate) const fn new(window: Duration) -> Self {
        let (width, buckets) = geometry(window);
        Window {
            width,
            buckets,
            lag: SLOT_MASK.saturating_sub(buckets),
            latest: AtomicU64::new(0),
            swept: AtomicU64::new(0),
            slots: [const { AtomicU64::new(0) }; SLOT_COUNT],
        }
    }

    /// An empty window of length `window`.
    #[cfg(loom)]
    pub(crate) fn new(window: Duration) -> Self {
        let (width, buckets) = geometry(window);
        Window {
            width,
            buckets,
            lag: SLOT_MASK.saturating_sub(buckets),
            latest: AtomicU64::new(0),
            swept: AtomicU64::new(0),
            slots: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// The epoch of the bucket `now` falls in: the *reading* the `_at`
    /// methods take, so windows of one length (a budget's calls and
    /// retries) divide once per operation, not once per window.
    #[inline]
    pub(crate) fn epoch(&self, now: Duration) -> u64 {
        duration_to_nanos(now).checked_div(self.width).unwrap_or(0)
    }

    #[inline]
    fn slot(&self, epoch: u64) -> &AtomicU64 {
        // `epoch & SLOT_MASK < SLOTS` always; fall back to the first slot
        // rather than panic.
        let index = usize::try_from(epoch & SLOT_MASK).unwrap_or(0);
        match self.slots.get(index) {
            Some(slot) => slot,
            None => &self.slots[0],
        }
    }

    /// The newest epoch, with its sweep done (helping to finish a pending
    /// one).
    fn settle(&self) -> u64 {
        loop {
            let latest = self.latest.load(Ordering::Acquire);
            let swept = self.swept.load(Ordering::Acquire);
            if swept == latest {
                return latest;
            }
            if swept < latest {
                self.sweep(swept, latest);
                let _ =
                    self.swept
                        .compare_exchange(swept, latest, Ordering::AcqRel, Ordering::Acquire);
            }
            // `swept > latest`: both moved on between the two loads.
        }
    }

    /// Empties the slots that the move of `latest` from `from` to `to`
    /// took over, unless the sweep is finished meanwhile (then the slots
    /// may already hold the new buckets).
    fn sweep(&self, from: u64, to: u64) {
        let taken = to.saturating_sub(from).min(SLOTS);
        for k in 1..=taken {
            let entering = from.saturating_add(k);
            // The bucket this slot holds from now on: `entering` itself,
            // or after a gap of more than `SLOTS` the one of its lap that
            // is still in range.
            let held = to.saturating_sub(to.saturating_sub(entering) & SLOT_MASK);
            let empty = pack(held, 0, 0);
            let slot = self.slot(entering);
            loop {
                let word = slot.load(Ordering::Acquire);
                if self.swept.load(Ordering::Acquire) != from {
                    return;
                }
                // Replacing even an empty word makes a compare-and-swap
                // that read it before the move fail and start over.
                if word == empty
                    || slot
                        .compare_exchange(word, empty, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    break;
                }
            }
        }
    }

    /// Counts one event at `now`; returns the epoch it was counted under
    /// (for [`Window::remove`]), or `None` if its bucket is full
    /// (`u32::MAX` events) and it could not be counted.
    pub(crate) fn add(&self, now: Duration) -> Option<u64> {
        self.add_at(self.epoch(now))
    }

    /// [`Window::add`] at a reading from [`Window::epoch`].
    #[inline]
    pub(crate) fn add_at(&self, reading: u64) -> Option<u64> {
        match self.add_stamped_at(reading, 0, || true) {
            Counted::At(epoch) => Some(epoch),
            Counted::Full | Counted::Stale => None,
        }
    }

    /// Counts one event of the cycle stamped `stamp` at `now`. Before
    /// replacing a bucket that holds another stamp's count, asks `current`
    /// whether the caller's cycle is still the current one; if not, the
    /// event is dropped ([`Counted::Stale`]).
    pub(crate) fn add_stamped(
        &self,
        now: Duration,
        stamp: u8,
        current: impl Fn() -> bool,
    ) -> Counted {
        self.add_stamped_at(self.epoch(now), stamp, current)
    }

    fn add_stamped_at(&self, reading: u64, stamp: u8, current: impl Fn() -> bool) -> Counted {
        loop {
            let latest = self.settle();
            if reading > latest {
                // A new bucket: publish it (the next turn sweeps).
                let _ = self.latest.compare_exchange(
                    latest,
                    reading,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                continue;
            }
            // A reading lagging more than the kept history counts in the
            // oldest bucket kept.
            let epoch = reading.max(latest.saturating_sub(self.lag));
            let slot = self.slot(epoch);
            let word = slot.load(Ordering::Acquire);
            // Unmoved `latest`: the slot holds `epoch`'s bucket or an
            // expired one, never a newer one.
            if self.latest.load(Ordering::Acquire) != latest {
                continue;
            }
            let next = if holds(word, epoch, stamp) {
                if count_of(word) >= COUNT_MAX {
                    return Counted::Full;
                }
                pack(epoch, stamp, count_of(word).saturating_add(1))
            } else {
                // Another stamp's count of this very bucket may belong to a
                // newer cycle: the word was read first, so if it does, the
                // caller sees its cycle ended.
                if tag_of(word) == tag(epoch) && count_of(word) != 0 && !current() {
                    return Counted::Stale;
                }
                pack(epoch, stamp, 1)
            };
            if slot
                .compare_exchange(word, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Counted::At(epoch);
            }
        }
    }

    /// Takes back one event counted under `epoch` (a no-op once that bucket
    /// has left the window).
    pub(crate) fn remove(&self, epoch: u64) {
        let slot = self.slot(epoch);
        let mut word = slot.load(Ordering::Acquire);
        loop {
            if !holds(word, epoch, 0) || count_of(word) == 0 {
                return;
            }
            let next = pack(epoch, 0, count_of(word).saturating_sub(1));
            match slot.compare_exchange(word, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// The events counted in the window seen from `now`. A reading lagging
    /// more than the kept history is answered as of the oldest bucket
    /// kept.
    pub(crate) fn sum(&self, now: Duration) -> u64 {
        self.sum_at(self.epoch(now))
    }

    /// [`Window::sum`] at a reading from [`Window::epoch`].
    #[inline]
    pub(crate) fn sum_at(&self, reading: u64) -> u64 {
        self.view(reading, 0, false).unwrap_or(0)
    }

    /// [`Window::sum`] of the cycle stamped `stamp`.
    pub(crate) fn sum_stamped(&self, now: Duration, stamp: u8) -> u64 {
        self.view(self.epoch(now), stamp, false).unwrap_or(0)
    }

    /// The events counted in the window seen from `reading` (from
    /// [`Window::epoch`]), or `None` if it lags the newest reading by more
    /// than the kept history, so the buckets it needs may be gone.
    #[inline]
    pub(crate) fn sum_exact_at(&self, reading: u64) -> Option<u64> {
        self.view(reading, 0, true)
    }

    fn view(&self, reading: u64, stamp: u8, exact: bool) -> Option<u64> {
        loop {
            let latest = self.settle();
            let oldest_exact = latest.saturating_sub(self.lag);
            let epoch = if reading < oldest_exact {
                if exact {
                    return None;
                }
                oldest_exact
            } else {
                reading
            };
            let first = epoch.saturating_sub(self.buckets);
            let mut total = 0u64;
            if let Some(span) = latest.checked_sub(first) {
                // At most `SLOTS` buckets (`first > latest - SLOTS`), each
                // below 2^32: the sum cannot overflow. Branch-free, on the
                // hot path of every budget and breaker reading.
                for k in 0..span.min(SLOT_MASK).wrapping_add(1) {
                    let bucket = first.wrapping_add(k);
                    let word = self.slot(bucket).load(Ordering::Acquire);
                    let count = if holds(word, bucket, stamp) {
                        count_of(word)
                    } else {
                        0
                    };
                    total = total.wrapping_add(count);
                }
            }
            // A move of `latest` during the pass took over the slots of the
            // buckets up to `moved - SLOTS`; the pass stands if it needed
            // none of them.
            let moved = self.latest.load(Ordering::Acquire);
            if moved == latest || moved.checked_sub(SLOTS).is_none_or(|gone| first > gone) {
                return Some(total);
            }
        }
    }

    /// Forgets the events of every stamp but `keep`, for as long as
    /// `current` says `keep`'s cycle is current (a later cycle's events are
    /// left alone).
    pub(crate) fn clear_except(&self, keep: u8, current: impl Fn() -> bool) {
        for slot in &self.slots {
            let mut word = slot.load(Ordering::Acquire);
            while count_of(word) != 0 && stamp_of(word) != keep {
                // The word was read first: if it is a later cycle's, the
                // check below sees that cycle.
                if !current() {
                    return;
                }
                match slot.compare_exchange(
                    word,
                    word & !COUNT_MAX,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    Err(actual) => word = actual,
                }
            }
        }
    }

    /// Counts `n` events at `now` at once (tests reaching large counts).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn add_many(&self, now: Duration, n: u64) {
        let epoch = self.add(now).unwrap();
        let slot = self.slot(epoch);
        let word = slot.load(Ordering::Acquire);
        slot.store(
            pack(epoch, stamp_of(word), count_of(word) + n - 1),
            Ordering::Release,
        );
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ns(n: u64) -> Duration {
        Duration::from_nanos(n)
    }

    #[test]
    fn counts_within_the_window_and_forgets_after() {
        let w = Window::new(ms(1600)); // 100 ms buckets
        w.add(ms(0));
        w.add(ms(50));
        w.add(ms(150));
        assert_eq!(w.sum(ms(150)), 3);
        // At 1650 ms the first bucket is 16 buckets old: still counted.
        assert_eq!(w.sum(ms(1650)), 3);
        // One bucket later it has left the window.
        assert_eq!(w.sum(ms(1750)), 1);
        assert_eq!(w.sum(ms(1850)), 0);
    }

    #[test]
    fn an_event_counts_for_at_least_the_window() {
        // Lengths that are and are not multiples of 16 ns.
        for window in [ms(1600), ns(1_000_000_015), ns(17), ns(5), ns(1)] {
            let w = Window::new(window);
            let step = window.as_nanos() as u64 / 7 + 1;
            for start in (0..5).map(|k| 1_000 + k * step) {
                w.clear_except(1, || true);
                w.add(ns(start));
                let last = start + window.as_nanos() as u64 - 1;
                assert_eq!(w.sum(ns(last)), 1, "{window:?} from {start}");
                // And for less than `W + 2 × ⌈W / 16⌉`.
                let width = (window.as_nanos() as u64).div_ceil(16);
                let gone = start + window.as_nanos() as u64 + 2 * width;
                assert_eq!(w.sum(ns(gone)), 0, "{window:?} from {start}");
            }
        }
    }

    #[test]
    fn reused_slots_start_over() {
        let w = Window::new(ms(1600));
        w.add(ms(0));
        w.add(ms(0));
        // 32 buckets later the same slot is reused.
        w.add(ms(3200));
        assert_eq!(w.sum(ms(3200)), 1);
    }

    #[test]
    fn remove_takes_back_only_its_own_event() {
        let w = Window::new(ms(1600));
        let e = w.add(ms(10)).unwrap();
        w.add(ms(20));
        w.remove(e);
        assert_eq!(w.sum(ms(20)), 1);
        // Removing after the bucket was reused does nothing.
        let stale = w.add(ms(30)).unwrap();
        w.add(ms(30 + 3200));
        w.remove(stale);
        assert_eq!(w.sum(ms(3230)), 1);
    }

    #[test]
    fn lagging_readings_see_their_own_window() {
        let w = Window::new(ms(1600));
        w.add(ms(1000));
        // A reading that lags the newest counts in its own bucket and sees
        // everything in its window, later buckets included.
        w.add(ms(990));
        assert_eq!(w.sum(ms(1000)), 2);
        // A bucket 1.5 windows later does not hide the early buckets from
        // a reading that still needs them...
        w.add(ms(3400));
        assert_eq!(w.sum_exact_at(w.epoch(ms(2500))), Some(3));
        // ...but from a reading later than that they have left the window.
        assert_eq!(w.sum(ms(3400)), 1);
        // A reading lagging more than the kept history is not exact.
        w.add(ms(4900));
        assert_eq!(w.sum_exact_at(w.epoch(ms(1700))), None);
        // A plain sum answers for the oldest bucket kept (4900 - 1500 ms),
        // and a late event is counted there.
        assert_eq!(w.sum(ms(1700)), 2);
        w.add(ms(100));
        assert_eq!(w.sum(ms(4900)), 3);
        assert_eq!(w.sum(ms(5000)), 3);
        assert_eq!(w.sum(ms(5100)), 1);
    }

    #[test]
    fn stamps_keep_cycles_apart() {
        let w = Window::new(ms(1600));
        assert_eq!(w.add_stamped(ms(0), 1, || true), Counted::At(0));
        assert_eq!(w.add_stamped(ms(0), 1, || true), Counted::At(0));
        assert_eq!(w.add_stamped(ms(100), 1, || true), Counted::At(1));
        assert_eq!(w.sum_stamped(ms(100), 1), 3);
        assert_eq!(w.sum_stamped(ms(100), 2), 0);
        assert_eq!(w.sum(ms(100)), 0);
        // A late event of an ended cycle may not replace a newer cycle's
        // count of the same bucket...
        assert_eq!(w.add_stamped(ms(10), 2, || false), Counted::Stale);
        assert_eq!(w.sum_stamped(ms(100), 1), 3);
        // ...but where the bucket is free it is counted under its own
        // stamp, which the newer cycle does not see.
        assert_eq!(w.add_stamped(ms(250), 2, || false), Counted::At(2));
        assert_eq!(w.sum_stamped(ms(250), 1), 3);
        assert_eq!(w.sum_stamped(ms(250), 2), 1);
        // The current cycle replaces an older one's count.
        assert_eq!(w.add_stamped(ms(250), 1, || true), Counted::At(2));
        assert_eq!(w.sum_stamped(ms(250), 1), 4);
        assert_eq!(w.sum_stamped(ms(250), 2), 0);
    }

    #[test]
    fn a_clear_for_an_ended_cycle_leaves_the_next_ones_counts() {
        let w = Window::new(ms(1600));
        w.add_stamped(ms(0), 1, || true);
        w.add_stamped(ms(100), 2, || true);
        // Cycle 1's clear running after cycle 2 began: it stops at the
        // first count it would take from another cycle.
        w.clear_except(1, || false);
        assert_eq!(w.sum_stamped(ms(100), 1), 1);
        assert_eq!(w.sum_stamped(ms(100), 2), 1);
        // Cycle 2's clear, while current, forgets everything else.
        w.clear_except(2, || true);
        assert_eq!(w.sum_stamped(ms(100), 1), 0);
        assert_eq!(w.sum_stamped(ms(100), 2), 1);
    }

    #[test]
    fn counts_reach_u32_max() {
        let w = Window::new(ms(1600));
        w.add_many(ms(0), 20_000_000);
        w.add_many(ms(100), 30_000_000);
        assert_eq!(w.sum(ms(100)), 50_000_000);
        w.add_many(ms(100), u64::from(u32::MAX) - 30_000_001);
        assert_eq!(w.add(ms(100)), Some(1));
        assert_eq!(w.sum(ms(100)), 20_000_000 + u64::from(u32::MAX));
        // A full bucket refuses rather than miscounts...
        assert_eq!(w.add(ms(100)), None);
        assert_eq!(w.sum(ms(100)), 20_000_000 + u64::from(u32::MAX));
        // ...and the next bucket counts on.
        assert_eq!(w.add(ms(200)), Some(2));
    }

    #[test]
    fn long_idle_gaps_forget_everything() {
        // Buckets of 1 ms; gaps of 2^40 and more buckets, and gaps that are
        // exact multiples of the slots and of every tag width.
        let w = Window::new(ms(16));
        let bucket = 1_000_000u64;
        let mut at = 5 * bucket;
        for gap in [1u64 << 40, 1 << 37, (1 << 37) + 32, 1 << 32, 32, 3 << 50] {
            w.add(ns(at));
            w.add(ns(at));
            assert_eq!(w.sum(ns(at)), 2, "before a gap of {gap} buckets");
            at = at.saturating_add(gap.saturating_mul(bucket));
            assert_eq!(w.sum(ns(at)), 0, "after a gap of {gap} buckets");
            w.add(ns(at));
            assert_eq!(w.sum(ns(at)), 1, "after a gap of {gap} buckets");
            at = at.saturating_add(40 * bucket);
        }
    }

    #[test]
    fn one_nanosecond_windows_roll_at_the_end_of_time() {
        let w = Window::new(ns(1));
        for at in [0, 1u64 << 40, u64::MAX - 5] {
            w.add(ns(at));
            assert_eq!(w.sum(ns(at)), 1);
            assert_eq!(w.sum(ns(at + 1)), 1);
            assert_eq!(w.sum(ns(at + 2)), 0);
        }
        // Readings past `u64::MAX` ns saturate: time stands still there.
        w.add(Duration::MAX);
        w.add(ns(u64::MAX));
        assert_eq!(w.sum(Duration::MAX), 2);
    }

    #[test]
    fn extreme_windows_do_not_panic() {
        let w = Window::new(Duration::MAX);
        w.add(Duration::ZERO);
        w.add(Duration::MAX);
        assert_eq!(w.sum(Duration::MAX), 2);
        assert_eq!(w.sum_exact_at(w.epoch(Duration::ZERO)), Some(2));
        let tiny = Window::new(Duration::ZERO);
        tiny.add(ns(5));
        assert_eq!(tiny.sum(ns(5)), 1);
        assert_eq!(tiny.sum(ns(100)), 0);
    }
}
