//! Scenarios 1 and 3 on the calling thread: one complete call through each
//! library that has a blocking API (tokio-retry and tower are async only).
//!
//! Scenario 1 uses each library's ordinary sleeper (it never sleeps: the
//! first attempt succeeds). Scenario 3 fails three times then succeeds, with
//! [`InstantSleeper`] where a library takes a sleeper and zero delays where it
//! does not (backoff sleeps with `std::thread::sleep`, which returns at once
//! for a zero duration).

use std::time::Duration;

use backon::BlockingRetryable;
use redress::BlockingPolicy;

use crate::{
    FlakyClassifier, InstantSleeper, RETRIES, Script, backoff_backoff, backon_builder,
    redress_policy,
};

/// Each library, configured once and reused by every call.
pub struct Blocking {
    redress: redress::Policy<FlakyClassifier>,
    backon: backon::ExponentialBuilder,
    backoff: backoff::ExponentialBackoff,
    backoff_zero: backoff::ExponentialBackoff,
}

impl std::fmt::Debug for Blocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking").finish_non_exhaustive()
    }
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking::new()
    }
}

impl Blocking {
    /// The libraries with the settings of scenarios 1 and 3.
    pub fn new() -> Self {
        Blocking {
            redress: redress_policy(),
            backon: backon_builder(),
            backoff: backoff_backoff(Duration::from_millis(250)),
            backoff_zero: backoff_backoff(Duration::ZERO),
        }
    }

    /// The floor: the operation called once, or (when it fails) at most four
    /// times in a bare loop.
    #[inline]
    pub fn direct(&self, op: &Script) -> Option<u32> {
        op.reset();
        for _ in 0..RETRIES {
            if let Ok(value) = op.attempt() {
                return Some(value);
            }
        }
        op.attempt().ok()
    }

    /// redress: `policy.call(..)` (system clock, thread sleeper).
    #[inline]
    pub fn redress(&self, op: &Script) -> Option<u32> {
        op.reset();
        self.redress.call(|| op.attempt()).ok()
    }

    /// redress with an instant sleeper bound at the call site.
    #[inline]
    pub fn redress_instant(&self, op: &Script) -> Option<u32> {
        op.reset();
        self.redress
            .bind()
            .sleeper(InstantSleeper)
            .call(|| op.attempt())
            .ok()
    }

    /// redress reading a virtual clock (an atomic load) instead of the
    /// system's, with an instant sleeper: the engine's own cost, without
    /// the clock readings its deadline envelope needs.
    #[inline]
    pub fn redress_virtual_clock(&self, op: &Script) -> Option<u32> {
        static CLOCK: redress::ManualClock = redress::ManualClock::new();
        op.reset();
        self.redress
            .bind()
            .clock(&CLOCK)
            .sleeper(InstantSleeper)
            .call(|| op.attempt())
            .ok()
    }

    /// redress reading the coarse clock ([`redress::CoarseClock`]), with the
    /// thread sleeper, or an instant one when `instant`.
    #[inline]
    pub fn redress_coarse_clock(&self, op: &Script, instant: bool) -> Option<u32> {
        op.reset();
        let site = self.redress.bind().clock(redress::CoarseClock);
        if instant {
            site.sleeper(InstantSleeper).call(|| op.attempt()).ok()
        } else {
            site.call(|| op.attempt()).ok()
        }
    }

    /// backon: `op.retry(builder).call()` (thread sleeper).
    #[inline]
    pub fn backon(&self, op: &Script) -> Option<u32> {
        op.reset();
        (|| op.attempt()).retry(self.backon).call().ok()
    }

    /// backon with an instant sleeper.
    #[inline]
    pub fn backon_instant(&self, op: &Script) -> Option<u32> {
        op.reset();
        (|| op.attempt())
            .retry(self.backon)
            .sleep(InstantSleeper)
            .call()
            .ok()
    }

    /// backoff: `backoff::retry(policy, op)` (thread sleeper).
    #[inline]
    pub fn backoff(&self, op: &Script) -> Option<u32> {
        op.reset();
        backoff::retry(self.backoff.clone(), || {
            op.attempt().map_err(backoff::Error::transient)
        })
        .ok()
    }

    /// backoff with zero delays (it takes no custom sleeper).
    #[inline]
    pub fn backoff_zero(&self, op: &Script) -> Option<u32> {
        op.reset();
        backoff::retry(self.backoff_zero.clone(), || {
            op.attempt().map_err(backoff::Error::transient)
        })
        .ok()
    }
}
