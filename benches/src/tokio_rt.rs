//! Scenarios 2 and 3 on tokio's current-thread runtime: each function
//! returns one library's retry future for one call, unpolled, so the
//! footprint bench can measure its size and the criterion benches can
//! await it.
//!
//! Scenario 2 uses each library's tokio sleeper (never used: the first
//! attempt succeeds). Scenario 3 fails three times then succeeds with
//! [`InstantSleeper`] where a library takes a sleeper. tokio-retry and
//! tokio-retry2 always sleep on tokio's timer, so they get zero delays, as
//! does tower-resilience (its retry service sleeps with
//! `tokio::time::sleep`); a tower retry policy is user code, and ours
//! returns a ready future. tower-resilience's services need an operation
//! that is `Send + 'static`: [`SharedScript`].

use std::future::{Future, Ready, ready};
use std::time::Duration;

use backon::Retryable;
use redress::{AsyncPolicy, RetryError};
use tower::{Layer, ServiceExt};
use tower_resilience::retry::{ExponentialRandomBackoff, RetryLayer};

use crate::{
    Flaky, FlakyClassifier, InstantSleeper, RETRIES, Script, SharedScript, backoff_backoff,
    backon_builder, redress_policy,
};

/// tower-resilience's retry layer: four attempts; exponential backoff
/// from 250 ms with a randomization of ±50 % (its closest to the others'
/// jitter), capped at 30 s, or zero delays.
fn tower_resilience_layer(base: Duration) -> RetryLayer<(), u32, Flaky> {
    let builder =
        RetryLayer::<(), u32, Flaky>::builder().max_attempts(RETRIES.saturating_add(1) as usize);
    let builder = if base.is_zero() {
        builder.fixed_backoff(Duration::ZERO)
    } else {
        match ExponentialRandomBackoff::new(base, 0.5) {
            Ok(backoff) => builder.backoff(backoff.max_interval(Duration::from_secs(30))),
            Err(error) => unreachable!("the bench backoff is valid: {error}"),
        }
    };
    builder.build()
}

/// A tokio current-thread runtime with timers, as the scenarios run on.
pub fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => unreachable!("a current-thread runtime builds: {error}"),
    }
}

/// A tower retry policy: up to three retries, each after a ready (zero)
/// delay. tower leaves attempt counting and backoff to the policy.
#[derive(Clone, Copy, Debug)]
pub struct TowerAttempts(pub u32);

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for TowerAttempts {
    type Future = Ready<()>;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => None,
            Err(_) if self.0 > 0 => {
                self.0 = self.0.saturating_sub(1);
                Some(ready(()))
            }
            Err(_) => None,
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

/// The tokio-retry strategy: 250 ms doubling to a 30 s cap, full jitter,
/// three retries (`base` zero: zero delays, jitter still drawn).
fn tokio_retry_strategy(base_ms: u64) -> impl Iterator<Item = Duration> {
    tokio_retry::strategy::ExponentialBackoff::from_millis(2)
        .factor(base_ms / 2)
        .max_delay(Duration::from_secs(30))
        .map(tokio_retry::strategy::jitter)
        .take(RETRIES as usize)
}

/// The tokio-retry2 strategy: the same with its own types.
fn tokio_retry2_strategy(base_ms: u64) -> impl Iterator<Item = Duration> {
    tokio_retry2::strategy::ExponentialFactorBackoff::from_millis(base_ms, 2.0)
        .max_delay(Duration::from_secs(30))
        .map(tokio_retry2::strategy::jitter_with_bounds(0.0, 1.0))
        .take(RETRIES as usize)
}

/// Each library, configured once and reused by every call.
pub struct Tokio {
    redress: redress::Policy<FlakyClassifier>,
    backon: backon::ExponentialBuilder,
    backoff: backoff::ExponentialBackoff,
    backoff_zero: backoff::ExponentialBackoff,
    tower_resilience: RetryLayer<(), u32, Flaky>,
    tower_resilience_zero: RetryLayer<(), u32, Flaky>,
}

impl std::fmt::Debug for Tokio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokio").finish_non_exhaustive()
    }
}

impl Default for Tokio {
    fn default() -> Self {
        Tokio::new()
    }
}

impl Tokio {
    /// The libraries with the settings of scenarios 2 and 3.
    pub fn new() -> Self {
        Tokio {
            redress: redress_policy(),
            backon: backon_builder(),
            backoff: backoff_backoff(Duration::from_millis(250)),
            backoff_zero: backoff_backoff(Duration::ZERO),
            tower_resilience: tower_resilience_layer(Duration::from_millis(250)),
            tower_resilience_zero: tower_resilience_layer(Duration::ZERO),
        }
    }

    /// The floor: the operation awaited once, or at most four times in a
    /// bare loop.
    pub fn direct<'a>(&'a self, op: &'a Script) -> impl Future<Output = Option<u32>> + 'a {
        op.reset();
        async move {
            for _ in 0..RETRIES {
                if let Ok(value) = ready(op.attempt()).await {
                    return Some(value);
                }
            }
            ready(op.attempt()).await.ok()
        }
    }

    /// redress: `policy.call_async(..)` (tokio sleeper and clock).
    pub fn redress<'a>(
        &'a self,
        op: &'a Script,
    ) -> impl Future<Output = Result<u32, RetryError<Flaky, u32>>> + 'a {
        op.reset();
        self.redress.call_async(move || ready(op.attempt()))
    }

    /// redress with an instant sleeper bound at the call site.
    pub fn redress_instant<'a>(
        &'a self,
        op: &'a Script,
    ) -> impl Future<Output = Result<u32, RetryError<Flaky, u32>>> + 'a {
        op.reset();
        async move {
            self.redress
                .bind()
                .sleeper(InstantSleeper)
                .call_async(move || ready(op.attempt()))
                .await
        }
    }

    /// redress reading the coarse clock ([`redress::CoarseClock`]) instead
    /// of the system's, sleeping on tokio, or not at all when `instant`.
    pub fn redress_coarse_clock<'a>(
        &'a self,
        op: &'a Script,
        instant: bool,
    ) -> impl Future<Output = Result<u32, RetryError<Flaky, u32>>> + 'a {
        op.reset();
        async move {
            let site = self.redress.bind().clock(redress::CoarseClock);
            if instant {
                site.sleeper(InstantSleeper)
                    .call_async(move || ready(op.attempt()))
                    .await
            } else {
                site.call_async(move || ready(op.attempt())).await
            }
        }
    }

    /// backon: `op.retry(builder)` (tokio sleeper).
    pub fn backon<'a>(&'a self, op: &'a Script) -> impl Future<Output = Result<u32, Flaky>> + 'a {
        op.reset();
        (move || ready(op.attempt())).retry(self.backon)
    }

    /// backon with an instant sleeper.
    pub fn backon_instant<'a>(
        &'a self,
        op: &'a Script,
    ) -> impl Future<Output = Result<u32, Flaky>> + 'a {
        op.reset();
        (move || ready(op.attempt()))
            .retry(self.backon)
            .sleep(InstantSleeper)
    }

    /// backoff: `backoff::future::retry(policy, op)` (tokio sleeper).
    pub fn backoff<'a>(&'a self, op: &'a Script) -> impl Future<Output = Result<u32, Flaky>> + 'a {
        op.reset();
        backoff::future::retry(self.backoff.clone(), move || {
            ready(op.attempt().map_err(backoff::Error::transient))
        })
    }

    /// backoff with an instant sleeper (and a zero first delay).
    pub fn backoff_instant<'a>(
        &'a self,
        op: &'a Script,
    ) -> impl Future<Output = Result<u32, Flaky>> + 'a {
        op.reset();
        let mut policy = self.backoff_zero.clone();
        backoff::backoff::Backoff::reset(&mut policy);
        backoff::future::Retry::new(
            InstantSleeper,
            policy,
            |_: Flaky, _: Duration| {},
            move || ready(op.attempt().map_err(backoff::Error::transient)),
        )
    }

    /// tokio-retry: `Retry::start(strategy, op)` (tokio timer).
    pub fn tokio_retry<'a>(
        &'a self,
        op: &'a Script,
        base_ms: u64,
    ) -> impl Future<Output = Result<u32, Flaky>> + 'a {
        op.reset();
        tokio_retry::Retry::start(tokio_retry_strategy(base_ms), move || ready(op.attempt()))
    }

    /// tokio-retry2: `Retry::spawn(strategy, op)` (tokio timer).
    pub fn tokio_retry2<'a>(
        &'a self,
        op: &'a Script,
        base_ms: u64,
    ) -> impl Future<Output = Result<u32, Flaky>> + 'a {
        op.reset();
        tokio_retry2::Retry::spawn(tokio_retry2_strategy(base_ms), move || {
            ready(op.attempt().map_err(tokio_retry2::RetryError::transient))
        })
    }

    /// tower: a `Retry` service around a `service_fn`, called once.
    pub fn tower<'a>(&'a self, op: &'a Script) -> impl Future<Output = Result<u32, Flaky>> + 'a {
        op.reset();
        let service = tower::service_fn(move |()| ready(op.attempt()));
        tower::retry::Retry::new(TowerAttempts(RETRIES), service).oneshot(())
    }

    /// tower-resilience: its `Retry` service around a `service_fn`, called
    /// once (tokio timer; zero delays when `zero`). Its future is boxed.
    pub fn tower_resilience(
        &self,
        op: &SharedScript,
        zero: bool,
    ) -> impl Future<Output = Result<u32, Flaky>> + 'static {
        op.reset();
        let op = op.clone();
        let layer = if zero {
            &self.tower_resilience_zero
        } else {
            &self.tower_resilience
        };
        layer
            .layer(tower::service_fn(move |()| ready(op.attempt())))
            .oneshot(())
    }
}
