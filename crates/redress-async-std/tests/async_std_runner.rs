//! The async-std runner on real (short) time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use redress_async_std::AsyncPolicy;
use redress_core::backoff::constant;
use redress_core::breaker::CircuitBreaker;
use redress_core::{CircuitState, ErrorClass, Failure, Policy, StopReason};

#[derive(Debug, PartialEq)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

fn transient(_: &Boom) -> ErrorClass {
    ErrorClass::Transient
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[async_std::test]
async fn retries_then_succeeds_and_sleeps_for_real() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(10)))
        .build()
        .unwrap();
    let tries = AtomicU32::new(0);
    let start = std::time::Instant::now();
    let outcome = AsyncPolicy::execute_async(&policy.bind(), || {
        let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
        async move { if n < 3 { Err(Boom) } else { Ok(n) } }
    })
    .await;
    assert_eq!(outcome.result.ok(), Some(3));
    assert_eq!(outcome.attempts, 3);
    assert!(start.elapsed() >= ms(20));
    assert!(outcome.elapsed >= ms(20));
}

#[async_std::test]
async fn attempt_timeouts_cancel_the_attempt() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(1)))
        .attempt_timeout(ms(20))
        .max_attempts(2)
        .build()
        .unwrap();
    let err = AsyncPolicy::call_async(&policy.bind(), || async {
        async_std::task::sleep(Duration::from_secs(60)).await;
        Ok::<(), Boom>(())
    })
    .await
    .unwrap_err();
    assert_eq!(err.failure, Failure::TimedOut(ms(20)));
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
}

#[async_std::test]
async fn dropping_the_call_releases_a_probe() {
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .recovery_timeout(ms(10))
            .build()
            .unwrap(),
    );
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(1)))
        .max_attempts(1)
        .circuit_breaker(breaker.clone())
        .build()
        .unwrap();
    let _ = AsyncPolicy::execute_async(&policy.bind(), || async { Err::<(), _>(Boom) }).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    async_std::task::sleep(ms(15)).await;
    let site = policy.bind();
    let probe = AsyncPolicy::execute_async(&site, || async {
        std::future::pending::<Result<(), Boom>>().await
    });
    assert!(async_std::future::timeout(ms(20), probe).await.is_err());
    let next = AsyncPolicy::execute_async(&policy.bind(), || async { Ok::<_, Boom>(1) }).await;
    assert!(next.is_ok());
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[test]
fn the_one_line_helper_uses_the_defaults() {
    let tries = AtomicU32::new(0);
    let n = async_std::task::block_on(redress_async_std::retry(|| {
        let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n < 2 {
                Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
            } else {
                Ok(n)
            }
        }
    }))
    .unwrap();
    assert_eq!(n, 2);
}

/// Real time, short durations: the attempt would hang for 10 s.
#[async_std::test]
async fn an_attempt_that_never_completes_ends_at_the_deadline() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(10)))
        .deadline(ms(50))
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    let outcome = policy
        .execute_async(|| async {
            async_std::task::sleep(Duration::from_secs(10)).await;
            Err::<(), _>(Boom)
        })
        .await;
    assert_eq!(outcome.stop_reason, Some(StopReason::DeadlineExceeded));
    assert_eq!(outcome.attempts, 1);
    assert!(matches!(outcome.result, Err(Failure::TimedOut(d)) if d <= ms(50)));
    assert!(outcome.elapsed >= ms(50), "{:?}", outcome.elapsed);
    // Cut at the deadline, not after the attempt's 10 s.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[async_std::test]
async fn an_attempt_timeout_inside_the_deadline_never_outlives_it() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(10)))
        .deadline(ms(150))
        .attempt_timeout(ms(100))
        .build()
        .unwrap();
    let limits = std::sync::Mutex::new(Vec::new());
    let start = std::time::Instant::now();
    let outcome = policy
        .execute_async_with(|attempt| {
            limits.lock().unwrap().push(attempt.time_limit());
            async {
                async_std::task::sleep(Duration::from_secs(10)).await;
                Err::<(), _>(Boom)
            }
        })
        .await;
    let limits = limits.into_inner().unwrap();
    // Cut by the 100 ms timeout, then by what is left of the 150 ms deadline.
    let [first, second] = limits[..] else {
        panic!("two attempts: {limits:?}");
    };
    assert_eq!(first, ms(100));
    assert!(second < ms(50), "{limits:?}");
    assert_eq!(outcome.stop_reason, Some(StopReason::DeadlineExceeded));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
