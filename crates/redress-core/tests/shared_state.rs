//! Stress tests: threads sharing one breaker or one budget for hundreds of
//! thousands of operations. Every count must reconcile exactly, and the
//! breaker must never have two half-open probes in flight.

#![cfg(feature = "std")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use redress_core::breaker::CircuitBreaker;
use redress_core::budget::{Budget, RatioBudget, RollingBudget};
use redress_core::{CircuitState, ErrorClass, FastRng, ManualClock, Rng};

const THREADS: usize = 4;

#[derive(Default)]
struct Tally {
    admitted: AtomicU64,
    rejected: AtomicU64,
    opens_from_closed: AtomicU64,
    opens_from_probe: AtomicU64,
    half_opens: AtomicU64,
    closes: AtomicU64,
    probes_in_flight: AtomicUsize,
    max_probes_in_flight: AtomicUsize,
}

#[test]
fn breaker_transitions_are_reported_exactly_once_and_probes_are_single() {
    const CALLS_PER_THREAD: u64 = 60_000;
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(3)
            .window(Duration::from_millis(50))
            .recovery_timeout(Duration::from_millis(5))
            .build()
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new());
    let tally = Arc::new(Tally::default());

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (breaker, clock, tally) = (breaker.clone(), clock.clone(), tally.clone());
            thread::spawn(move || {
                let mut rng = FastRng::seeded(t as u64);
                for _ in 0..CALLS_PER_THREAD {
                    // Time moves forward in small steps from every thread.
                    clock.advance(Duration::from_micros(rng.next_u64() % 50));
                    let now = clock.now();
                    let permit = match breaker.try_acquire(now) {
                        Ok(p) => p,
                        Err(_) => {
                            tally.rejected.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    tally.admitted.fetch_add(1, Ordering::Relaxed);
                    let probe = permit.is_probe();
                    if permit.transition().is_some() {
                        tally.half_opens.fetch_add(1, Ordering::Relaxed);
                    }
                    if probe {
                        // In flight from admission until its outcome is
                        // recorded (which frees the slot).
                        let before = tally.probes_in_flight.fetch_add(1, Ordering::AcqRel);
                        tally
                            .max_probes_in_flight
                            .fetch_max(before + 1, Ordering::AcqRel);
                        thread::yield_now();
                        tally.probes_in_flight.fetch_sub(1, Ordering::AcqRel);
                    }
                    let now = clock.now();
                    match rng.next_u64() % 10 {
                        0..=5 => {
                            if permit.record_success(now).is_some() {
                                assert!(probe, "only a probe closes the breaker");
                                tally.closes.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        6..=8 => {
                            if let Some(t) = permit.record_failure(ErrorClass::ServerError, now) {
                                assert_eq!(t.to, CircuitState::Open);
                                let counter = if probe {
                                    &tally.opens_from_probe
                                } else {
                                    &tally.opens_from_closed
                                };
                                counter.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        _ => permit.cancel(now),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    assert_eq!(
        get(&tally.admitted) + get(&tally.rejected),
        THREADS as u64 * CALLS_PER_THREAD
    );
    assert_eq!(
        tally.max_probes_in_flight.load(Ordering::Relaxed),
        1,
        "one probe at a time, and some probes ran"
    );
    let opens = get(&tally.opens_from_closed) + get(&tally.opens_from_probe);
    let (half_opens, closes) = (get(&tally.half_opens), get(&tally.closes));
    assert!(
        opens > 10 && closes > 10,
        "the test must exercise every transition: {opens} opens, {closes} closes"
    );

    // Every open is followed by exactly one half-open, unless still open;
    // every half-open ends in a close or a reopen, unless still half-open.
    let state = breaker.state();
    let still_open = u64::from(state == CircuitState::Open);
    let still_half_open = u64::from(state == CircuitState::HalfOpen);
    assert_eq!(half_opens, opens - still_open, "state {state:?}");
    assert_eq!(
        closes + get(&tally.opens_from_probe),
        half_opens - still_half_open,
        "state {state:?}"
    );
}

#[test]
fn a_rolling_budget_never_grants_more_than_its_cap() {
    const ATTEMPTS_PER_THREAD: u64 = 50_000;
    const CAP: u32 = 1_000;
    let budget = Arc::new(RollingBudget::new(CAP, Duration::from_secs(3600)).unwrap());
    let granted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (budget, granted, refused) = (budget.clone(), granted.clone(), refused.clone());
            thread::spawn(move || {
                for i in 0..ATTEMPTS_PER_THREAD {
                    let now = Duration::from_micros(i);
                    if budget.try_withdraw(now) {
                        granted.fetch_add(1, Ordering::Relaxed);
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let (g, r) = (
        granted.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    assert_eq!(g + r, THREADS as u64 * ATTEMPTS_PER_THREAD);
    assert_eq!(g, u64::from(CAP), "exactly the cap is granted");
    assert_eq!(budget.remaining(Duration::from_secs(1)), Some(0));
}

/// The grants of a budget of `cap` per `window`, read from one clock that
/// every thread advances, never exceed the cap in any window of their
/// readings, however the readings lag each other.
fn grants_never_exceed_the_cap_per_window(threads: usize, cap: u32, window: Duration) {
    const WITHDRAWALS_PER_THREAD: usize = 20_000;
    let budget = Arc::new(RollingBudget::new(cap, window).unwrap());
    let clock = Arc::new(ManualClock::new());
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (budget, clock) = (budget.clone(), clock.clone());
            thread::spawn(move || {
                let mut rng = FastRng::seeded(t as u64 + 1);
                let mut grants = Vec::new();
                for _ in 0..WITHDRAWALS_PER_THREAD {
                    // Steps of up to a fiftieth of the window, so the
                    // window rolls over many times.
                    let step = window.as_nanos() as u64 / 50;
                    clock.advance(Duration::from_nanos(rng.next_u64() % step));
                    let now = clock.now();
                    if rng.next_u64() % 4 == 0 {
                        // Let the other threads move the clock on first.
                        thread::yield_now();
                    }
                    if budget.try_withdraw(now) {
                        grants.push(now);
                    }
                }
                grants
            })
        })
        .collect();
    let mut grants: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    grants.sort();
    let windows = clock.now().as_nanos() / window.as_nanos();
    assert!(
        windows >= 20 && grants.len() as u128 >= windows * u128::from(cap) / 4,
        "the budget must refill many times: {} grants over {windows} windows",
        grants.len()
    );
    // For every grant, the grants read in the window starting at it.
    let mut end = 0;
    for (start, &at) in grants.iter().enumerate() {
        while end < grants.len() && grants[end] < at + window {
            end += 1;
        }
        assert!(
            end - start <= cap as usize,
            "{} grants read within {window:?} of {at:?}",
            end - start
        );
    }
}

#[test]
fn a_rolling_budget_never_exceeds_its_cap_in_any_window_of_readings() {
    grants_never_exceed_the_cap_per_window(8, 50, Duration::from_millis(10));
    grants_never_exceed_the_cap_per_window(THREADS, 3, Duration::from_micros(160));
}

#[test]
fn a_rolling_budget_refills_as_the_window_moves() {
    let budget = Arc::new(RollingBudget::new(100, Duration::from_millis(160)).unwrap());
    let clock = Arc::new(ManualClock::new());
    let granted = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (budget, clock, granted) = (budget.clone(), clock.clone(), granted.clone());
            thread::spawn(move || {
                for _ in 0..50_000 {
                    clock.advance(Duration::from_micros(1));
                    if budget.try_withdraw(clock.now()) {
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // 200 ms of virtual time, 100 per (at least) 160 ms: at most two windows'
    // worth, and the budget must have refilled at least once.
    let g = granted.load(Ordering::Relaxed);
    let elapsed = clock.now();
    assert!(elapsed >= Duration::from_millis(200));
    let windows = elapsed.as_nanos() / Duration::from_millis(160).as_nanos() + 1;
    assert!(
        g > 100 && g <= 100 * windows as u64,
        "granted {g} in {elapsed:?}"
    );
}

#[test]
fn a_ratio_budget_tracks_calls_exactly() {
    const CALLS_PER_THREAD: u64 = 40_000;
    let budget = Arc::new(
        RatioBudget::builder()
            .ratio(0.25)
            .min_per_second(0)
            .window(Duration::from_secs(3600))
            .build()
            .unwrap(),
    );
    let granted = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (budget, granted) = (budget.clone(), granted.clone());
            thread::spawn(move || {
                let now = Duration::from_secs(1);
                for _ in 0..CALLS_PER_THREAD {
                    budget.on_call(now);
                    // Every call wants one retry; a quarter of them get it.
                    if budget.try_withdraw(now) {
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let calls = THREADS as u64 * CALLS_PER_THREAD;
    let g = granted.load(Ordering::Relaxed);
    assert!(g <= calls / 4, "granted {g} of {calls}");
    // Refusals only happen at the cap, so it is reached up to the last few
    // concurrent attempts.
    assert!(g + THREADS as u64 >= calls / 4, "granted {g} of {calls}");
    assert_eq!(
        budget.remaining(Duration::from_secs(1)),
        Some(calls / 4 - g)
    );
}
