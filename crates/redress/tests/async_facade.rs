//! The facade's async call sites read like the blocking ones.

#![cfg(feature = "tokio")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;

fn flaky(
    tries: &AtomicU32,
    failures: u32,
) -> impl Future<Output = Result<u32, std::io::Error>> + use<> {
    let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
    async move {
        if n <= failures {
            Err(std::io::Error::from(std::io::ErrorKind::TimedOut))
        } else {
            Ok(n)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn policy_and_call_site_run_async() {
    let policy = Policy::builder()
        .strategy(constant(Duration::from_millis(100)))
        .build()
        .unwrap();
    let tries = AtomicU32::new(0);
    assert_eq!(policy.call_async(|| flaky(&tries, 2)).await.unwrap(), 3);

    let retries = AtomicU32::new(0);
    let site = policy.operation("fetch").on_event(|e| {
        if e.kind == EventKind::Retry {
            retries.fetch_add(1, Ordering::SeqCst);
        }
    });
    let tries = AtomicU32::new(0);
    let outcome = site.execute_async(|| flaky(&tries, 1)).await;
    assert!(outcome.is_ok());
    assert_eq!(retries.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_async_one_liner_uses_the_defaults() {
    let tries = AtomicU32::new(0);
    assert_eq!(redress::retry_async(|| flaky(&tries, 1)).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_are_send() {
    let policy = Arc::new(
        Policy::builder()
            .strategy(constant(Duration::from_millis(1)))
            .build()
            .unwrap(),
    );
    let task = tokio::spawn(async move {
        let tries = AtomicU32::new(0);
        policy.call_async(|| flaky(&tries, 2)).await
    });
    assert_eq!(task.await.unwrap().unwrap(), 3);
}

#[test]
fn a_custom_sleeper_and_clock_run_without_a_runtime_timer() {
    // Any executor works with a call site's own sleeper and clock.
    let clock = redress::ManualClock::new();
    let policy = Policy::builder()
        .strategy(constant(Duration::from_secs(2)))
        .build()
        .unwrap();
    let site = policy.bind().clock(&clock).sleeper(|d: Duration| {
        clock.advance(d);
        std::future::ready(())
    });
    let tries = AtomicU32::new(0);
    let value = futures_block_on(site.call_async(|| flaky(&tries, 3))).unwrap();
    assert_eq!(value, 4);
    assert_eq!(clock.now(), Duration::from_secs(6));
}

fn futures_block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// With both runtime features on, the default sleeper follows the runtime
/// the call runs on: async-std gets async-std's timers, never a tokio panic.
#[cfg(feature = "async-std")]
#[test]
fn both_runtime_features_serve_async_std_callers() {
    let policy = Policy::builder()
        .strategy(constant(Duration::from_millis(2)))
        .build()
        .unwrap();
    let tries = AtomicU32::new(0);
    let started = std::time::Instant::now();
    let value = async_std::task::block_on(policy.call_async(|| flaky(&tries, 2)));
    assert_eq!(value.unwrap(), 3);
    // Two real 2 ms sleeps happened on async-std's timers.
    assert!(started.elapsed() >= Duration::from_millis(4));
}

/// ... and tokio callers keep tokio's timers, so paused time still works.
#[cfg(feature = "async-std")]
#[tokio::test(start_paused = true)]
async fn both_runtime_features_keep_tokio_paused_time() {
    let policy = Policy::builder()
        .strategy(constant(Duration::from_secs(3600)))
        .deadline(Duration::from_secs(86_400))
        .build()
        .unwrap();
    let tries = AtomicU32::new(0);
    let started = tokio::time::Instant::now();
    // Were the hour-long sleeps on async-std's timers, paused time would
    // not reach them, and the timeout would fire instead.
    let call = tokio::time::timeout(
        Duration::from_secs(3 * 3600),
        policy.call_async(|| flaky(&tries, 2)),
    );
    assert_eq!(call.await.unwrap().unwrap(), 3);
    assert_eq!(started.elapsed(), Duration::from_secs(7200));
}
