//! Shared fixtures for the benchmarks of redress against its Rust peers.
//!
//! Every scenario is written once, here, as one function per library that
//! makes one complete call. The criterion benches (`benches/call.rs`,
//! `benches/delay.rs`, `benches/shared_state.rs`, `benches/middleware.rs`)
//! time these functions; the
//! `footprint` bench runs the very same functions under a counting allocator
//! and measures the size of each library's retry future. `cargo xtask bench`
//! runs all of them and writes `docs/benchmarks.md`.
//!
//! Settings are equivalent across libraries: the same operation, the same
//! attempt cap (four attempts: one call and three retries), each library's
//! exponential backoff with jitter where it has one, and, where the scenario
//! asks for zero delays, a sleeper that returns at once (or a zero delay
//! where a library cannot take a sleeper).

use std::cell::Cell;
use std::fmt;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use redress::{Classification, Classifier, ErrorClass};

pub mod blocking;
pub mod delay;
pub mod middleware;
pub mod shared;
pub mod tokio_rt;

/// Criterion group ids, shared by the benches, the footprint bench and the
/// report (`cargo xtask bench` knows them by these names).
pub mod group {
    /// Scenario 1: success on the first attempt, blocking.
    pub const SUCCESS_BLOCKING: &str = "1-success-blocking";
    /// Scenario 2: success on the first attempt, tokio current-thread runtime.
    pub const SUCCESS_TOKIO: &str = "2-success-tokio";
    /// Scenario 3: three failures then success, zero delays, blocking.
    pub const RETRIES_BLOCKING: &str = "3-retries-blocking";
    /// Scenario 3: three failures then success, zero delays, tokio.
    pub const RETRIES_TOKIO: &str = "3-retries-tokio";
    /// Scenario 4: exponential backoff without jitter.
    pub const DELAY_EXPONENTIAL: &str = "4-delay-exponential";
    /// Scenario 4: full jitter.
    pub const DELAY_FULL: &str = "4-delay-full-jitter";
    /// Scenario 4: equal jitter.
    pub const DELAY_EQUAL: &str = "4-delay-equal-jitter";
    /// Scenario 4: decorrelated jitter.
    pub const DELAY_DECORRELATED: &str = "4-delay-decorrelated-jitter";
    /// Scenario 5: circuit breaker, allow + record success, one thread.
    pub const BREAKER_1: &str = "5-breaker-1-thread";
    /// Scenario 5: the same, two threads sharing one breaker.
    pub const BREAKER_2: &str = "5-breaker-2-threads";
    /// Scenario 5: retry budget withdrawal, one thread.
    pub const BUDGET_1: &str = "5-budget-1-thread";
    /// Scenario 5: the same, two threads sharing one budget.
    pub const BUDGET_2: &str = "5-budget-2-threads";
    /// Scenario 7: one reqwest call through a retry middleware, loopback.
    pub const REQWEST_MIDDLEWARE: &str = "7-reqwest-middleware";
}

/// Library names, as the tables show them.
pub mod lib {
    /// The operation called directly, without any library: the floor.
    pub const DIRECT: &str = "direct call";
    /// redress.
    pub const REDRESS: &str = "redress";
    /// redress on a virtual clock: its decisions without clock readings.
    pub const REDRESS_VIRTUAL_CLOCK: &str = "redress (virtual clock)";
    /// backon.
    pub const BACKON: &str = "backon";
    /// backoff.
    pub const BACKOFF: &str = "backoff";
    /// tokio-retry.
    pub const TOKIO_RETRY: &str = "tokio-retry";
    /// tokio-retry2.
    pub const TOKIO_RETRY2: &str = "tokio-retry2";
    /// tower's `retry` middleware.
    pub const TOWER: &str = "tower";
    /// failsafe.
    pub const FAILSAFE: &str = "failsafe";
    /// recloser.
    pub const RECLOSER: &str = "recloser";
    /// tower-resilience: its retry and circuit-breaker services.
    pub const TOWER_RESILIENCE: &str = "tower-resilience";
    /// redress reading [`CoarseClock`](redress::CoarseClock): the kernel's
    /// tick-resolution clock, opted into per call site.
    pub const REDRESS_COARSE_CLOCK: &str = "redress (coarse clock)";
}

/// Delays computed per iteration of the delay benches: the schedule of one
/// call that retries this often. Reported times are per delay.
pub const SCHEDULE_LEN: u32 = 8;

/// Retries allowed per call (four attempts in all).
pub const RETRIES: u32 = 3;

/// The criterion configuration of every bench: short runs (the suite must
/// finish in a few minutes on a shared machine); command-line options such
/// as `--measurement-time` still override it.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(50)
        .nresamples(10_000)
        .without_plots()
        .configure_from_args()
}

/// The error every scenario's operation fails with: small, `Copy`, and
/// allocation-free, so only the libraries' own costs show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flaky;

impl fmt::Display for Flaky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("flaky")
    }
}

impl std::error::Error for Flaky {}

/// redress's classifier for [`Flaky`]: always `TRANSIENT` (retryable).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlakyClassifier;

impl Classifier<Flaky> for FlakyClassifier {
    #[inline]
    fn classify(&self, _error: &Flaky) -> Classification {
        Classification::new(ErrorClass::Transient)
    }
}

/// An operation that fails a fixed number of times per call, then succeeds
/// with the attempt number.
#[derive(Debug)]
pub struct Script {
    failures: u32,
    calls: Cell<u32>,
}

impl Script {
    /// An operation failing `failures` times per call. The count goes
    /// through `black_box` so the compiler cannot specialize on it.
    pub fn new(failures: u32) -> Self {
        Script {
            failures: black_box(failures),
            calls: Cell::new(0),
        }
    }

    /// Starts a new call.
    #[inline]
    pub fn reset(&self) {
        self.calls.set(0);
    }

    /// One attempt.
    #[inline]
    pub fn attempt(&self) -> Result<u32, Flaky> {
        let n = self.calls.get().wrapping_add(1);
        self.calls.set(n);
        if n <= self.failures {
            Err(Flaky)
        } else {
            Ok(n)
        }
    }
}

/// [`Script`] for peers whose services must be `Send + 'static` (tower
/// services behind a boxed future): the same count in an atomic, shared by
/// clones.
#[derive(Clone, Debug)]
pub struct SharedScript {
    failures: u32,
    calls: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl SharedScript {
    /// An operation failing `failures` times per call.
    pub fn new(failures: u32) -> Self {
        SharedScript {
            failures: black_box(failures),
            calls: std::sync::Arc::default(),
        }
    }

    /// Starts a new call.
    #[inline]
    pub fn reset(&self) {
        self.calls.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// One attempt.
    #[inline]
    pub fn attempt(&self) -> Result<u32, Flaky> {
        let n = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_add(1);
        if n <= self.failures {
            Err(Flaky)
        } else {
            Ok(n)
        }
    }
}

/// A sleeper that returns at once, for every library that accepts one:
/// redress (blocking and async), backon (blocking and async) and backoff
/// (async). It turns retries into pure decision cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct InstantSleeper;

impl redress::BlockingSleeper for InstantSleeper {
    #[inline]
    fn sleep(&self, _duration: Duration) {}
}

impl redress::AsyncSleeper for InstantSleeper {
    type Sleep = std::future::Ready<()>;

    #[inline]
    fn sleep(&self, _duration: Duration) -> Self::Sleep {
        std::future::ready(())
    }
}

impl backon::BlockingSleeper for InstantSleeper {
    #[inline]
    fn sleep(&self, _duration: Duration) {}
}

impl backon::Sleeper for InstantSleeper {
    type Sleep = std::future::Ready<()>;

    #[inline]
    fn sleep(&self, _duration: Duration) -> Self::Sleep {
        std::future::ready(())
    }
}

impl backoff::future::Sleeper for InstantSleeper {
    type Sleep = std::future::Ready<()>;

    #[inline]
    fn sleep(&self, _duration: Duration) -> Self::Sleep {
        std::future::ready(())
    }
}

/// The redress policy of scenarios 1 to 3: the default strategy
/// (decorrelated jitter, 250 ms base, 30 s cap) and four attempts.
pub fn redress_policy() -> redress::Policy<FlakyClassifier> {
    let built = redress::Policy::builder()
        .classifier(FlakyClassifier)
        .strategy(redress::backoff::decorrelated_jitter())
        .max_attempts(RETRIES.saturating_add(1))
        .build();
    match built {
        Ok(policy) => policy,
        Err(error) => unreachable!("the bench policy is valid: {error}"),
    }
}

/// backon's counterpart: exponential backoff with jitter, 250 ms first
/// delay, 30 s cap, three retries.
pub fn backon_builder() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::new()
        .with_jitter()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(30))
        .with_max_times(RETRIES as usize)
}

/// backoff's counterpart: its exponential backoff (randomized ±50%) with a
/// 250 ms first delay and a 30 s cap; `initial` zero gives zero delays.
/// backoff has no attempt cap (only a time limit); the scenarios never
/// reach one.
pub fn backoff_backoff(initial: Duration) -> backoff::ExponentialBackoff {
    backoff::ExponentialBackoffBuilder::new()
        .with_initial_interval(initial)
        .with_randomization_factor(0.5)
        .with_multiplier(2.0)
        .with_max_interval(Duration::from_secs(30))
        .build()
}
