//! Scenario 5: the state shared by every call of a service.
//!
//! Circuit breakers on the closed fast path: admit a call, record its
//! success. redress takes the time from its caller (the runner reads the
//! clock once per call anyway); the `redress` rows read [`SystemClock`]
//! per operation like failsafe does internally, the `(now given)` rows show
//! the breaker alone. recloser only offers `call(f)`, which is admit and
//! record around a closure. tower-resilience's breaker is a tower service
//! only: its row is one call through it (admission and record inside, a
//! boxed future and an async mutex around them), driven on the calling
//! thread.
//!
//! Retry budgets, granting: redress's [`RollingBudget`] withdraws only (it
//! counts retries); its [`RatioBudget`] and tower's `TpsBudget` earn from
//! calls, so each operation is one call plus one withdrawal, at a ratio of
//! 1 so every withdrawal is granted.

use std::time::Duration;

use failsafe::backoff::EqualJittered;
use failsafe::failure_policy::{ConsecutiveFailures, OrElse, SuccessRateOverTimeWindow};
use redress::breaker::CircuitBreaker;
use redress::budget::{Budget, RatioBudget, RollingBudget};
use redress::{Clock, SystemClock};
use tower::retry::budget::Budget as _;

use std::future::{Ready, ready};

use tower::ServiceExt;
use tower_resilience::circuitbreaker::{CircuitBreakerLayer, DefaultClassifier};

use crate::Flaky;

/// The service tower-resilience's breaker wraps: answers at once.
type Answer = tower::util::ServiceFn<fn(()) -> Ready<Result<(), Flaky>>>;

fn answer((): ()) -> Ready<Result<(), Flaky>> {
    ready(Ok(()))
}

/// The row of redress's breaker fed the caller's `now`.
pub const NOW_GIVEN: &str = "redress (now given)";
/// The row of redress's rolling budget.
pub const ROLLING: &str = "redress RollingBudget";
/// The row of redress's ratio budget.
pub const RATIO: &str = "redress RatioBudget";
/// The row of tower's budget.
pub const TPS: &str = "tower TpsBudget";

type FailsafeDefault = failsafe::StateMachine<
    OrElse<SuccessRateOverTimeWindow<EqualJittered>, ConsecutiveFailures<EqualJittered>>,
    (),
>;

/// One breaker of each library, default settings.
pub struct Breakers {
    redress: CircuitBreaker,
    failsafe: FailsafeDefault,
    recloser: recloser::Recloser,
    tower_resilience: tower_resilience::circuitbreaker::CircuitBreaker<Answer, DefaultClassifier>,
}

impl std::fmt::Debug for Breakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breakers").finish_non_exhaustive()
    }
}

impl Default for Breakers {
    fn default() -> Self {
        Breakers::new()
    }
}

impl Breakers {
    /// Closed breakers with each library's defaults.
    pub fn new() -> Self {
        let redress = match CircuitBreaker::builder().build() {
            Ok(breaker) => breaker,
            Err(error) => unreachable!("the default breaker is valid: {error}"),
        };
        let tower_resilience = match CircuitBreakerLayer::builder().build() {
            Ok(layer) => layer.layer_fn(tower::service_fn(answer as fn(()) -> _)),
            Err(error) => unreachable!("the default breaker is valid: {error}"),
        };
        Breakers {
            redress,
            failsafe: failsafe::Config::new().build(),
            recloser: recloser::Recloser::default(),
            tower_resilience,
        }
    }

    /// redress: `try_acquire(now)` then `record_success(now)`, with `now`
    /// read from the system clock.
    #[inline]
    pub fn redress(&self) -> bool {
        self.redress_at(SystemClock.now())
    }

    /// redress with the caller's `now`.
    #[inline]
    pub fn redress_at(&self, now: Duration) -> bool {
        match self.redress.try_acquire(now) {
            Ok(permit) => {
                let _ = permit.record_success(now);
                true
            }
            Err(_) => false,
        }
    }

    /// failsafe: `is_call_permitted()` then `on_success()`.
    #[inline]
    pub fn failsafe(&self) -> bool {
        if self.failsafe.is_call_permitted() {
            self.failsafe.on_success();
            true
        } else {
            false
        }
    }

    /// recloser: `call(f)` with a succeeding `f`.
    #[inline]
    pub fn recloser(&self) -> bool {
        self.recloser.call(|| Ok::<(), Flaky>(())).is_ok()
    }

    /// tower-resilience: one call through a clone of its breaker service
    /// (clones share the breaker), completed on this thread.
    #[inline]
    pub fn tower_resilience(&self) -> bool {
        futures_executor::block_on(self.tower_resilience.clone().oneshot(())).is_ok()
    }
}

/// One retry budget of each kind, every withdrawal granted.
pub struct Budgets {
    rolling: RollingBudget,
    ratio: RatioBudget,
    tower: tower::retry::budget::TpsBudget,
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets").finish_non_exhaustive()
    }
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets::new()
    }
}

impl Budgets {
    /// A rolling budget that never runs dry, and ratio budgets at 1 retry per
    /// call over 10 s with a floor of 10 per second (tower's shape).
    pub fn new() -> Self {
        let rolling = RollingBudget::new(u32::MAX, Duration::from_secs(10));
        let ratio = RatioBudget::builder()
            .ratio(1.0)
            .min_per_second(10)
            .window(Duration::from_secs(10))
            .build();
        match (rolling, ratio) {
            (Ok(rolling), Ok(ratio)) => Budgets {
                rolling,
                ratio,
                tower: tower::retry::budget::TpsBudget::new(Duration::from_secs(10), 10, 1.0),
            },
            (Err(error), _) | (_, Err(error)) => {
                unreachable!("the bench budgets are valid: {error}")
            }
        }
    }

    /// redress `RollingBudget::try_withdraw(now)`, `now` from the system
    /// clock.
    #[inline]
    pub fn redress_rolling(&self) -> bool {
        self.rolling.try_withdraw(SystemClock.now())
    }

    /// redress `RatioBudget`: `on_call(now)` then `try_withdraw(now)`.
    #[inline]
    pub fn redress_ratio(&self) -> bool {
        let now = SystemClock.now();
        self.ratio.on_call(now);
        self.ratio.try_withdraw(now)
    }

    /// tower `TpsBudget`: `deposit()` then `withdraw()`.
    #[inline]
    pub fn tower(&self) -> bool {
        self.tower.deposit();
        self.tower.withdraw()
    }
}
