//! Several breakers and budgets in one process, each with a store of its
//! own (as separate processes would have), against the shared Redis.
//! The same scenarios across real processes are in `fleet_processes.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redress_core::breaker::{Breaker, CallResult};
use redress_core::{Budget, CircuitState, ErrorClass};
use redress_redis::{FleetBreaker, FleetBudget, FleetStore};

/// A prefix no other test run uses.
fn prefix(test: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t-{test}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn store(url: &str, prefix: &str) -> FleetStore {
    FleetStore::builder(url).prefix(prefix).build().unwrap()
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not reached within 20 s: {what}");
}

fn fail(b: &FleetBreaker, now: Duration) {
    let admission = b.acquire(now).unwrap();
    let _ = b.record(&admission, CallResult::Failure(ErrorClass::Transient), now);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_spread_over_replicas_open_the_fleet_breaker() {
    let Some(url) = redress_test_services::redis_url() else {
        return;
    };
    let prefix = prefix("open");
    let replicas: Vec<FleetBreaker> = (0..3)
        .map(|_| {
            FleetBreaker::builder("upstream")
                .failure_threshold(6)
                .recovery_timeout(Duration::from_millis(500))
                .sync_interval(Duration::from_millis(50))
                .probe_lease(Duration::from_secs(30))
                .build(&store(&url, &prefix))
                .unwrap()
        })
        .collect();
    eventually("first syncs", || {
        replicas.iter().all(|r| r.store_available())
    })
    .await;
    let now = Duration::from_secs(1);
    // Five failures, fewer than any threshold: nobody opens.
    for (i, r) in replicas.iter().enumerate() {
        for _ in 0..(if i == 0 { 1 } else { 2 }) {
            fail(r, now);
        }
    }
    eventually("the fleet count", || {
        replicas.iter().all(|r| r.fleet_failures() == 5)
    })
    .await;
    assert!(replicas.iter().all(|r| r.state() == CircuitState::Closed));
    // The sixth opens the fleet's breaker, everywhere.
    fail(&replicas[0], now);
    eventually("open everywhere", || {
        replicas.iter().all(|r| r.state() != CircuitState::Closed)
    })
    .await;
    for r in &replicas {
        assert!(r.acquire(now).is_err());
    }
    // After the recovery timeout, exactly one replica gets the probe.
    let mut probe = None;
    for _ in 0..2000 {
        for (i, r) in replicas.iter().enumerate() {
            if let Ok(admission) = r.acquire(now) {
                assert!(admission.probe, "only a probe is admitted");
                assert!(probe.is_none(), "a second probe");
                probe = Some((i, admission));
            }
        }
        if probe.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (prober, admission) = probe.expect("a probe within 20 s");
    // Nobody else probes meanwhile, over many syncs.
    for _ in 0..30 {
        for r in &replicas {
            assert!(r.acquire(now).is_err());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let closed = replicas[prober].record(&admission, CallResult::Success, now);
    assert_eq!(closed.map(|t| t.to), Some(CircuitState::Closed));
    eventually("closed everywhere", || {
        replicas.iter().all(|r| r.state() == CircuitState::Closed)
    })
    .await;
    for r in &replicas {
        let a = r.acquire(now).unwrap();
        assert!(!a.probe);
        let _ = r.record(&a, CallResult::Success, now);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_budget() {
    let Some(url) = redress_test_services::redis_url() else {
        return;
    };
    let prefix = prefix("budget");
    let replicas: Vec<FleetBudget> = (0..3)
        .map(|_| {
            FleetBudget::rolling("upstream", 20, Duration::from_secs(60))
                .lease(2)
                .sync_interval(Duration::from_millis(50))
                .build(&store(&url, &prefix))
                .unwrap()
        })
        .collect();
    eventually("first syncs", || {
        replicas.iter().all(|r| r.sync_counts().0 > 0)
    })
    .await;
    let now = Duration::from_secs(1);
    let mut granted = 0;
    for _ in 0..300 {
        for r in &replicas {
            granted += usize::from(r.try_withdraw(now));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The budget, plus at most 3 leases per replica of slack.
    assert!((20..=20 + 3 * 2 * 3).contains(&granted), "{granted}");
    eventually("the fleet sees it spent", || {
        replicas.iter().all(|r| r.fleet_room() <= 0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_whose_process_dies_frees_the_slot_after_its_lease() {
    let Some(url) = redress_test_services::redis_url() else {
        return;
    };
    let prefix = prefix("lease");
    let replica = || {
        FleetBreaker::builder("upstream")
            .failure_threshold(1)
            .recovery_timeout(Duration::from_millis(200))
            .sync_interval(Duration::from_millis(50))
            .probe_lease(Duration::from_millis(500))
            .build(&store(&url, &prefix))
            .unwrap()
    };
    let (dying, survivor) = (replica(), replica());
    eventually("first syncs", || {
        dying.store_available() && survivor.store_available()
    })
    .await;
    let now = Duration::from_secs(1);
    fail(&dying, now);
    eventually("open everywhere", || {
        survivor.state() != CircuitState::Closed
    })
    .await;
    // The dying replica (the only one with calls) takes the probe, then
    // goes away mid-probe.
    let mut probe = None;
    for _ in 0..2000 {
        if let Ok(admission) = dying.acquire(now) {
            probe = Some(admission);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(probe.expect("a probe within 20 s").probe);
    drop(dying);
    assert_eq!(
        survivor.acquire(now).unwrap_err().state,
        CircuitState::HalfOpen,
        "the probe's token is still taken"
    );
    // Once its lease runs out, the survivor probes, and closes the breaker.
    let mut admitted = None;
    for _ in 0..2000 {
        if let Ok(admission) = survivor.acquire(now) {
            admitted = Some(admission);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let admission = admitted.expect("the slot freed within 20 s");
    assert!(admission.probe);
    let closed = survivor.record(&admission, CallResult::Success, now);
    assert_eq!(closed.map(|t| t.to), Some(CircuitState::Closed));
}
