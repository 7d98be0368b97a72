//! Counts gathered between syncs, kept with their age until a sync
//! delivers them (across a store outage too).

use core::time::Duration;
use std::collections::VecDeque;
use std::time::Instant;

/// At most this many entries: counts closer together than a sixteenth of
/// the window share one, so an outage of any length keeps about a window's
/// worth, in at most 17 entries.
const MAX_ENTRIES: usize = 17;

/// Counts (a fixed number of them per entry) tagged with when they were
/// gathered; entries older than the window are dropped, since the store
/// would not count them anyway.
#[derive(Debug)]
pub(crate) struct Backlog {
    window: Duration,
    grain: Duration,
    entries: VecDeque<(Instant, Vec<u64>)>,
}

impl Backlog {
    pub(crate) fn new(window: Duration) -> Self {
        Backlog {
            window,
            grain: window.checked_div(16).unwrap_or_default(),
            entries: VecDeque::new(),
        }
    }

    /// Adds `counts` gathered by `at` (nothing if they are all zero).
    pub(crate) fn add(&mut self, at: Instant, counts: &[u64]) {
        if counts.iter().all(|c| *c == 0) {
            return;
        }
        if let Some((last, sums)) = self.entries.back_mut()
            && at.saturating_duration_since(*last) < self.grain
            && sums.len() == counts.len()
        {
            for (sum, c) in sums.iter_mut().zip(counts) {
                *sum = sum.saturating_add(*c);
            }
            return;
        }
        self.entries.push_back((at, counts.to_vec()));
        while self.entries.len() > MAX_ENTRIES {
            // The oldest two merge, under the younger one's time: a count
            // is remembered longer, never shorter.
            let Some((_, oldest)) = self.entries.pop_front() else {
                break;
            };
            if let Some((_, next)) = self.entries.front_mut() {
                for (sum, c) in next.iter_mut().zip(&oldest) {
                    *sum = sum.saturating_add(*c);
                }
            }
        }
    }

    /// Drops what is older than the window at `now`.
    pub(crate) fn prune(&mut self, now: Instant) {
        while let Some((at, _)) = self.entries.front() {
            if now.saturating_duration_since(*at) > self.window {
                self.entries.pop_front();
            } else {
                break;
            }
        }
    }

    /// The entries as `(age in ms, counts)`, oldest first.
    pub(crate) fn aged(&self, now: Instant) -> impl Iterator<Item = (u64, &[u64])> + '_ {
        self.entries.iter().map(move |(at, counts)| {
            let age = now.saturating_duration_since(*at).as_millis();
            (u64::try_from(age).unwrap_or(u64::MAX), counts.as_slice())
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_counts_share_an_entry_and_old_ones_go() {
        let start = Instant::now();
        let mut b = Backlog::new(Duration::from_secs(16));
        b.add(start, &[1, 0]);
        b.add(start + Duration::from_millis(500), &[2, 1]);
        b.add(start + Duration::from_secs(2), &[0, 0]);
        assert_eq!(b.len(), 1);
        b.add(start + Duration::from_secs(2), &[5, 5]);
        assert_eq!(b.len(), 2);
        let aged: Vec<_> = b
            .aged(start + Duration::from_secs(3))
            .map(|(age, c)| (age, c.to_vec()))
            .collect();
        assert_eq!(aged, [(3000, vec![3, 1]), (1000, vec![5, 5])]);
        b.prune(start + Duration::from_millis(16_001));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn a_long_outage_keeps_a_bounded_backlog() {
        let start = Instant::now();
        let mut b = Backlog::new(Duration::from_secs(16));
        for s in 0..1000u64 {
            b.add(start + Duration::from_secs(s), &[1]);
        }
        assert!(b.len() <= MAX_ENTRIES);
        let total: u64 = b.aged(start).map(|(_, c)| c[0]).sum();
        assert_eq!(total, 1000, "merged, never lost before pruning");
    }
}
