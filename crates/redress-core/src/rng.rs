//! Randomness for jitter.
//!
//! Strategies draw from any [`rand_core::Rng`] the caller supplies, so tests
//! can seed it and reproduce a run exactly. When the caller supplies none,
//! runners use [`FastRng`]: a 64-bit wyrand generator, seeded per call without
//! a system call or a shared lock. Jitter needs spread, not secrecy.

use core::convert::Infallible;

use rand_core::{Rng, SeedableRng, TryRng};

/// A small, fast, seedable generator (wyrand) for jitter.
///
/// Not cryptographically secure. [`FastRng::new`] picks a fresh seed cheaply
/// (from a thread-local stream with `std`, a global counter without);
/// [`FastRng::seeded`] makes a run reproducible.
///
/// ```
/// use rand_core::Rng;
/// use redress_core::FastRng;
///
/// let mut a = FastRng::seeded(7);
/// let mut b = FastRng::seeded(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastRng {
    state: u64,
}

impl FastRng {
    /// A generator with a fresh seed, drawn when it first draws a number
    /// (making one costs nothing, so a call that never jitters never seeds
    /// one).
    ///
    /// With `std`, seeds come from a per-thread stream started from the
    /// process's random hash keys, so processes and threads differ. Without
    /// `std` they come from a global counter that starts at the same value
    /// on every device: call [`FastRng::add_entropy`] once at startup with
    /// something that differs between devices (a serial number, a hardware
    /// random number), or devices that fail together retry together.
    #[inline]
    pub const fn new() -> Self {
        FastRng { state: UNSEEDED }
    }

    /// Mixes `entropy` into the seeds of every [`FastRng::new`] that has
    /// not drawn yet (in every thread). Without `std`, call it once at startup with something
    /// that differs between devices; with `std` it is rarely needed.
    ///
    /// Only on targets with 64-bit atomics: elsewhere there is nowhere to
    /// keep it, and fresh seeds do not vary at all (give the engine a
    /// generator of your own there).
    ///
    /// ```
    /// use redress_core::FastRng;
    ///
    /// # let serial_number = 0x00c0_ffee_u64;
    /// // Once at startup, before the first call that draws jitter.
    /// FastRng::add_entropy(serial_number);
    /// let _rng = FastRng::new();
    /// ```
    #[cfg(target_has_atomic = "64")]
    pub fn add_entropy(entropy: u64) {
        ENTROPY.fetch_xor(splitmix64(entropy), core::sync::atomic::Ordering::Relaxed);
    }

    /// A generator with a fixed seed: the same seed gives the same stream.
    #[inline]
    pub const fn seeded(seed: u64) -> Self {
        FastRng {
            state: seeded_state(seed),
        }
    }

    #[inline]
    fn step(&mut self) -> u64 {
        if self.state == UNSEEDED {
            self.state = seeded_state(fresh_seed());
        }
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let product =
            u128::from(self.state).wrapping_mul(u128::from(self.state ^ 0xe703_7ed1_a0b4_28db));
        // Fold the 128-bit product: high word xor low word.
        ((product >> 64) as u64) ^ (product as u64)
    }
}

impl Default for FastRng {
    fn default() -> Self {
        FastRng::new()
    }
}

impl TryRng for FastRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.step() >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.step())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.step().to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(bytes) {
                *d = s;
            }
        }
        Ok(())
    }
}

impl SeedableRng for FastRng {
    type Seed = [u8; 8];

    fn from_seed(seed: [u8; 8]) -> Self {
        FastRng::seeded(u64::from_le_bytes(seed))
    }

    fn seed_from_u64(state: u64) -> Self {
        FastRng::seeded(state)
    }
}

/// The state of a generator that has not drawn its fresh seed yet.
const UNSEEDED: u64 = 0;

/// The state a seed starts from: never [`UNSEEDED`].
#[inline]
const fn seeded_state(seed: u64) -> u64 {
    match splitmix64(seed) {
        UNSEEDED => 0x5eed_5eed_5eed_5eed,
        state => state,
    }
}

/// A uniform draw from `[0, 1)` with 53 bits of precision.
#[inline]
pub(crate) fn unit(rng: &mut dyn Rng) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (rng.next_u64() >> 11) as f64 * SCALE
}

/// A uniform draw between `a` and `b` (either order), like Python's
/// `random.uniform`.
#[inline]
pub(crate) fn uniform(rng: &mut dyn Rng, a: f64, b: f64) -> f64 {
    a + (b - a) * unit(rng)
}

#[inline]
const fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Entropy mixed into every fresh seed ([`FastRng::add_entropy`]).
#[cfg(target_has_atomic = "64")]
static ENTROPY: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// A fresh seed from the next value of a seed stream and the entropy added
/// so far: the one place both seed streams go through.
#[cfg(target_has_atomic = "64")]
fn mix(stream: u64) -> u64 {
    splitmix64(stream ^ ENTROPY.load(core::sync::atomic::Ordering::Relaxed))
}

#[cfg(not(target_has_atomic = "64"))]
fn mix(stream: u64) -> u64 {
    splitmix64(stream)
}

#[cfg(feature = "std")]
fn fresh_seed() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    std::thread_local! {
        // Seeded once per thread from std's per-process random hash keys.
        static STREAM: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x5eed);
            h.finish()
        });
    }
    STREAM.with(|s| {
        let next = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(next);
        mix(next)
    })
}

#[cfg(all(not(feature = "std"), target_has_atomic = "64"))]
fn fresh_seed() -> u64 {
    use core::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0x5eed_5eed);
    mix(COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed))
}

#[cfg(all(not(feature = "std"), not(target_has_atomic = "64")))]
fn fresh_seed() -> u64 {
    // No atomics to advance a stream: every call starts from the same seed.
    // Supply your own generator on such targets for varied jitter.
    mix(0x5eed_5eed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    #[test]
    fn seeded_streams_repeat_and_differ_by_seed() {
        let a: Vec<u64> = {
            let mut r = FastRng::seeded(1);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = FastRng::seeded(1);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = FastRng::seeded(2);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn fresh_generators_differ() {
        let (mut a, mut b) = (FastRng::new(), FastRng::new());
        // Unseeded until they draw, so making them costs nothing.
        assert_eq!(a, b);
        assert_ne!(a.next_u64(), b.next_u64());
        assert_ne!(a, b);
    }

    #[test]
    fn added_entropy_changes_every_later_seed() {
        // Two devices whose seed streams are at the same point draw the same
        // seed, unless entropy was added in between.
        let before = mix(7);
        assert_eq!(before, mix(7));
        FastRng::add_entropy(0x00c0_ffee);
        assert_ne!(mix(7), before);
    }

    #[test]
    fn unit_draws_stay_in_range_and_spread() {
        let mut r = FastRng::seeded(42);
        let mut low = 0;
        for _ in 0..10_000 {
            let u = unit(&mut r);
            assert!((0.0..1.0).contains(&u));
            if u < 0.5 {
                low += 1;
            }
        }
        assert!((4_500..5_500).contains(&low), "{low}");
    }

    #[test]
    fn uniform_accepts_either_order() {
        let mut r = FastRng::seeded(3);
        for _ in 0..1000 {
            let x = uniform(&mut r, 5.0, 2.0);
            assert!((2.0..=5.0).contains(&x));
        }
    }

    #[test]
    fn fill_bytes_fills_partial_chunks() {
        let mut r = FastRng::seeded(9);
        let mut buf = [0u8; 13];
        r.fill_bytes(&mut buf);
        assert!(buf.iter().any(|b| *b != 0));
    }
}
