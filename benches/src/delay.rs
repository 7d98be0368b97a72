//! Scenario 4: delay computation alone.
//!
//! Each function computes the delays of one call that retries
//! [`SCHEDULE_LEN`] times, as the library does it per call: redress asks a
//! stateless strategy (through [`Backoff`], as the engine does) with a fresh
//! [`FastRng`]; the peers build their per-call iterator or backoff state and
//! step it. The sum is returned so nothing is optimized away; the benches
//! report the time per delay.
//!
//! Peers' equivalents, base 250 ms doubling to a 30 s cap:
//!
//! | redress | backon | backoff | tokio-retry | tokio-retry2 | tower-resilience |
//! |---|---|---|---|---|---|
//! | exponential | no jitter | randomization 0 | `ExponentialBackoff` | `ExponentialFactorBackoff` | `ExponentialBackoff` |
//! | full jitter | (none) | randomization 1: uniform in `[0, 2d]` | `.map(jitter)` | `.map(jitter_with_bounds(0, 1))` | `ExponentialRandomBackoff`, randomization 1 |
//! | equal jitter | `with_jitter`: uniform in `[d, 2d]` | randomization 1/3 | (none) | `.map(jitter_with_bounds(0.5, 1))` | `ExponentialRandomBackoff`, randomization 1/3 |
//! | decorrelated jitter | (none) | (none) | (none) | (none) | (none) |
//!
//! tower-resilience's interval functions are stateless (the delay of retry
//! `n` from `n`), like redress's strategies.

use std::time::Duration;

use backoff::backoff::Backoff as _;
use backon::BackoffBuilder;
use redress::backoff::{Backoff, decorrelated_jitter, equal_jitter, exponential, full_jitter};
use redress::{BackoffContext, Classification, ErrorClass, FastRng, Strategy};
use tower_resilience::retry::{ExponentialBackoff, ExponentialRandomBackoff, IntervalFunction};

use crate::SCHEDULE_LEN;

const BASE: Duration = Duration::from_millis(250);
const CAP: Duration = Duration::from_secs(30);

/// The strategies of scenario 4, configured once.
pub struct Delays {
    class: Classification,
    exponential: Backoff,
    full: Backoff,
    equal: Backoff,
    decorrelated: Backoff,
    backon_exponential: backon::ExponentialBuilder,
    backon_equal: backon::ExponentialBuilder,
    backoff_exponential: backoff::ExponentialBackoff,
    backoff_full: backoff::ExponentialBackoff,
    backoff_equal: backoff::ExponentialBackoff,
    tokio_retry: tokio_retry::strategy::ExponentialBackoff,
    tokio_retry2: tokio_retry2::strategy::ExponentialFactorBackoff,
    tower_resilience_exponential: ExponentialBackoff,
    tower_resilience_full: ExponentialRandomBackoff,
    tower_resilience_equal: ExponentialRandomBackoff,
}

impl std::fmt::Debug for Delays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delays").finish_non_exhaustive()
    }
}

impl Default for Delays {
    fn default() -> Self {
        Delays::new()
    }
}

fn backoff_with(randomization: f64) -> backoff::ExponentialBackoff {
    backoff::ExponentialBackoffBuilder::new()
        .with_initial_interval(BASE)
        .with_randomization_factor(randomization)
        .with_multiplier(2.0)
        .with_max_interval(CAP)
        .with_max_elapsed_time(None)
        .build()
}

fn tower_resilience_random(randomization: f64) -> ExponentialRandomBackoff {
    match ExponentialRandomBackoff::new(BASE, randomization) {
        Ok(backoff) => backoff.max_interval(CAP),
        Err(error) => unreachable!("the bench backoff is valid: {error}"),
    }
}

fn backon_exponential() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::new()
        .with_min_delay(BASE)
        .with_max_delay(CAP)
        .without_max_times()
}

/// Steps `delays` [`SCHEDULE_LEN`] times and sums what it yields.
#[inline]
fn sum(delays: impl Iterator<Item = Duration>) -> Duration {
    delays
        .take(SCHEDULE_LEN as usize)
        .fold(Duration::ZERO, Duration::saturating_add)
}

impl Delays {
    /// The strategies with base 250 ms and cap 30 s.
    pub fn new() -> Self {
        Delays {
            class: Classification::new(ErrorClass::Transient),
            exponential: exponential().base(BASE).max(CAP).into(),
            full: full_jitter().base(BASE).max(CAP).into(),
            equal: equal_jitter().base(BASE).max(CAP).into(),
            decorrelated: decorrelated_jitter().base(BASE).max(CAP).into(),
            backon_exponential: backon_exponential(),
            backon_equal: backon_exponential().with_jitter(),
            backoff_exponential: backoff_with(0.0),
            backoff_full: backoff_with(1.0),
            backoff_equal: backoff_with(1.0 / 3.0),
            tokio_retry: tokio_retry::strategy::ExponentialBackoff::from_millis(2)
                .factor(125)
                .max_delay(CAP),
            tokio_retry2: tokio_retry2::strategy::ExponentialFactorBackoff::from_millis(250, 2.0)
                .max_delay(CAP),
            tower_resilience_exponential: ExponentialBackoff::new(BASE).max_interval(CAP),
            tower_resilience_full: tower_resilience_random(1.0),
            tower_resilience_equal: tower_resilience_random(1.0 / 3.0),
        }
    }

    fn redress(&self, strategy: &Backoff) -> Duration {
        let mut rng = FastRng::new();
        let mut prev = None;
        let mut total = Duration::ZERO;
        for attempt in 1..=SCHEDULE_LEN {
            let mut ctx = BackoffContext::new(attempt, &self.class);
            if let Some(prev) = prev {
                ctx = ctx.with_prev_delay(prev);
            }
            let delay = strategy.delay(&ctx, &mut rng);
            prev = Some(delay);
            total = total.saturating_add(delay);
        }
        total
    }

    fn tower_resilience(interval: &impl IntervalFunction) -> Duration {
        (0..SCHEDULE_LEN as usize)
            .map(|retry| interval.next_interval(retry))
            .fold(Duration::ZERO, Duration::saturating_add)
    }

    /// tower-resilience's exponential backoff.
    pub fn tower_resilience_exponential(&self) -> Duration {
        Delays::tower_resilience(&self.tower_resilience_exponential)
    }

    /// tower-resilience's exponential backoff randomized by ±100%.
    pub fn tower_resilience_full(&self) -> Duration {
        Delays::tower_resilience(&self.tower_resilience_full)
    }

    /// tower-resilience's exponential backoff randomized by ±1/3.
    pub fn tower_resilience_equal(&self) -> Duration {
        Delays::tower_resilience(&self.tower_resilience_equal)
    }

    fn backoff(policy: &backoff::ExponentialBackoff) -> Duration {
        let mut policy = policy.clone();
        policy.reset();
        sum(std::iter::from_fn(|| policy.next_backoff()))
    }

    /// redress `exponential`.
    pub fn redress_exponential(&self) -> Duration {
        self.redress(&self.exponential)
    }

    /// redress `full_jitter`.
    pub fn redress_full(&self) -> Duration {
        self.redress(&self.full)
    }

    /// redress `equal_jitter`.
    pub fn redress_equal(&self) -> Duration {
        self.redress(&self.equal)
    }

    /// redress `decorrelated_jitter`.
    pub fn redress_decorrelated(&self) -> Duration {
        self.redress(&self.decorrelated)
    }

    /// backon's exponential builder without jitter.
    pub fn backon_exponential(&self) -> Duration {
        sum(self.backon_exponential.build())
    }

    /// backon's exponential builder with its jitter (uniform in `[d, 2d]`).
    pub fn backon_equal(&self) -> Duration {
        sum(self.backon_equal.build())
    }

    /// backoff's exponential backoff without randomization.
    pub fn backoff_exponential(&self) -> Duration {
        Delays::backoff(&self.backoff_exponential)
    }

    /// backoff's exponential backoff randomized by ±100%.
    pub fn backoff_full(&self) -> Duration {
        Delays::backoff(&self.backoff_full)
    }

    /// backoff's exponential backoff randomized by ±1/3.
    pub fn backoff_equal(&self) -> Duration {
        Delays::backoff(&self.backoff_equal)
    }

    /// tokio-retry's exponential backoff.
    pub fn tokio_retry_exponential(&self) -> Duration {
        sum(self.tokio_retry.clone())
    }

    /// tokio-retry's exponential backoff with its (full) jitter.
    pub fn tokio_retry_full(&self) -> Duration {
        sum(self.tokio_retry.clone().map(tokio_retry::strategy::jitter))
    }

    /// tokio-retry2's exponential backoff.
    pub fn tokio_retry2_exponential(&self) -> Duration {
        sum(self.tokio_retry2.clone())
    }

    /// tokio-retry2's exponential backoff with jitter in `[0, 1] × d`.
    pub fn tokio_retry2_full(&self) -> Duration {
        sum(self
            .tokio_retry2
            .clone()
            .map(tokio_retry2::strategy::jitter_with_bounds(0.0, 1.0)))
    }

    /// tokio-retry2's exponential backoff with jitter in `[0.5, 1] × d`.
    pub fn tokio_retry2_equal(&self) -> Duration {
        sum(self
            .tokio_retry2
            .clone()
            .map(tokio_retry2::strategy::jitter_with_bounds(0.5, 1.0)))
    }
}
