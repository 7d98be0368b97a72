//! The tokio runner on paused time: timeouts, cancellation, abort, async
//! hooks, `Send`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redress_core::backoff::constant;
use redress_core::breaker::CircuitBreaker;
use redress_core::{
    AbortSignal, CircuitState, ErrorClass, EventKind, Failure, Policy, SleepDecision, StopReason,
};
use redress_tokio::AsyncPolicy;
use tokio::time::Instant;

#[derive(Debug, PartialEq)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn transient(_: &Boom) -> ErrorClass {
    ErrorClass::Transient
}

#[tokio::test(start_paused = true)]
async fn a_sixty_second_envelope_runs_on_paused_time() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(Duration::from_secs(7)))
        .deadline(Duration::from_secs(60))
        .max_attempts(100)
        .build()
        .unwrap();
    let wall = std::time::Instant::now();
    let start = Instant::now();
    let outcome = AsyncPolicy::execute_async(&policy.bind(), || async { Err::<(), _>(Boom) }).await;
    assert_eq!(outcome.stop_reason, Some(StopReason::DeadlineExceeded));
    // 8 sleeps of 7 s, then a last one clamped to the 4 s left: the deadline
    // is hit exactly at 60 s of virtual time.
    assert_eq!(outcome.attempts, 10);
    assert_eq!(outcome.elapsed, Duration::from_secs(60));
    assert_eq!(start.elapsed(), Duration::from_secs(60));
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "paused time must not sleep"
    );
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_overruns_its_timeout_is_dropped_and_retried() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(100)))
        .attempt_timeout(ms(250))
        .max_attempts(3)
        .build()
        .unwrap();
    let attempts = AtomicU32::new(0);
    let events = Mutex::new(Vec::new());
    let site = policy
        .bind()
        .on_event(|e| events.lock().unwrap().push((e.kind, e.class, e.error_type)));
    let start = Instant::now();
    let value = AsyncPolicy::call_async(&site, || {
        let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n < 3 {
                // Hangs far past the attempt timeout.
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok::<_, Boom>(n)
        }
    })
    .await
    .unwrap();
    assert_eq!(value, 3);
    // Two timeouts of 250 ms and two sleeps of 100 ms.
    assert_eq!(start.elapsed(), ms(700));
    let events = events.into_inner().unwrap();
    assert_eq!(
        events,
        [
            (
                EventKind::Retry,
                Some(ErrorClass::Transient),
                Some("TimeoutError")
            ),
            (
                EventKind::Retry,
                Some(ErrorClass::Transient),
                Some("TimeoutError")
            ),
            (EventKind::Success, None, None),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn timeouts_that_exhaust_the_policy_report_timed_out() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(10)))
        .attempt_timeout(ms(50))
        .max_attempts(2)
        .build()
        .unwrap();
    let err = AsyncPolicy::call_async(&policy.bind(), || async {
        std::future::pending::<Result<(), Boom>>().await
    })
    .await
    .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.failure, Failure::TimedOut(ms(50)));
    assert_eq!(err.attempts, 2);
    assert_eq!(
        err.to_string(),
        "gave up after 2 attempts: the attempt limit was reached (the last attempt timed out after 50ms)"
    );
}

/// Opens a breaker with one failure and returns it with the policy using it.
type TestPolicy = Policy<fn(&Boom) -> ErrorClass>;

fn open_breaker_policy() -> (Arc<CircuitBreaker>, TestPolicy) {
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .recovery_timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    );
    let policy = Policy::builder()
        .classifier(transient as fn(&Boom) -> ErrorClass)
        .strategy(constant(Duration::from_secs(1)))
        .max_attempts(3)
        .circuit_breaker(breaker.clone())
        .build()
        .unwrap();
    (breaker, policy)
}

#[tokio::test(start_paused = true)]
async fn dropping_a_probe_mid_attempt_releases_the_breaker() {
    let (breaker, policy) = open_breaker_policy();
    let tripped =
        AsyncPolicy::execute_async(&policy.bind().seed(1), || async { Err::<(), _>(Boom) }).await;
    assert_eq!(tripped.stop_reason, Some(StopReason::MaxAttemptsGlobal));
    assert_eq!(breaker.state(), CircuitState::Open);

    tokio::time::sleep(Duration::from_secs(10)).await;
    // The probe hangs in its first attempt; the caller gives up after 1 s.
    let site = policy.bind();
    let probe = AsyncPolicy::execute_async(&site, || async {
        std::future::pending::<Result<(), Boom>>().await
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(1), probe)
            .await
            .is_err()
    );
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    // The dropped probe freed its slot: the next call is the probe.
    let outcome = AsyncPolicy::execute_async(&policy.bind(), || async { Ok::<_, Boom>(7) }).await;
    assert_eq!(outcome.result.ok(), Some(7));
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_call_mid_sleep_leaves_nothing_behind() {
    let (breaker, policy) = open_breaker_policy();
    let _ = AsyncPolicy::execute_async(&policy.bind(), || async { Err::<(), _>(Boom) }).await;
    tokio::time::sleep(Duration::from_secs(10)).await;

    let attempts = AtomicU32::new(0);
    let site = policy.bind();
    // The probe fails once, then sleeps 1 s before retrying; the caller
    // gives up after 500 ms, in the middle of that sleep.
    let probe = AsyncPolicy::execute_async(&site, || {
        attempts.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(Boom) }
    });
    assert!(tokio::time::timeout(ms(500), probe).await.is_err());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    // Nothing kept running after the drop.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert!(
        breaker
            .try_acquire(redress_core::Clock::now(&redress_tokio::Tokio))
            .unwrap()
            .is_probe()
    );
}

#[tokio::test(start_paused = true)]
async fn an_abort_signal_from_another_task_stops_the_call() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(Duration::from_secs(1)))
        .max_attempts(100)
        .deadline(Duration::from_secs(600))
        .build()
        .unwrap();
    let signal = Arc::new(AbortSignal::new());
    let trigger = {
        let signal = signal.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(3500)).await;
            signal.abort();
        })
    };
    let site = policy.bind().hooks(signal.clone());
    let outcome = AsyncPolicy::execute_async(&site, || async { Err::<(), _>(Boom) }).await;
    trigger.await.unwrap();
    assert_eq!(outcome.stop_reason, Some(StopReason::Aborted));
    // Attempts at 0, 1, 2 and 3 s; the signal is seen before the fifth.
    assert_eq!(outcome.attempts, 4);
    assert_eq!(outcome.last_error(), Some(&Boom));
}

#[tokio::test(start_paused = true)]
async fn async_hooks_can_defer_and_observe() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(Duration::from_secs(30)))
        .deadline(Duration::from_secs(600))
        .build()
        .unwrap();
    let seen = Mutex::new(Vec::new());
    let site = policy
        .bind()
        .before_sleep_async(async |ctx, delay| {
            seen.lock().unwrap().push((ctx.attempt, delay));
        })
        .sleep_decision_async(async |ctx, delay| {
            // Consult something slow before deciding.
            tokio::time::sleep(ms(5)).await;
            if ctx.attempt >= 2 && delay > Duration::from_secs(10) {
                SleepDecision::Defer
            } else {
                SleepDecision::Sleep
            }
        });
    let outcome = AsyncPolicy::execute_async(&site, || async { Err::<(), _>(Boom) }).await;
    assert_eq!(outcome.stop_reason, Some(StopReason::Scheduled));
    assert_eq!(outcome.next_delay, Some(Duration::from_secs(30)));
    assert_eq!(outcome.attempts, 2);
    // The before-sleep hook ran once, for the sleep that happened.
    assert_eq!(*seen.lock().unwrap(), [(1, Duration::from_secs(30))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_can_be_spawned() {
    let policy = Arc::new(
        Policy::builder()
            .classifier(transient)
            .strategy(constant(ms(1)))
            .build()
            .unwrap(),
    );
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let policy = policy.clone();
            tokio::spawn(async move {
                let tries = AtomicU32::new(0);
                AsyncPolicy::call_async(&policy.bind().operation("spawned"), || {
                    let n = tries.fetch_add(1, Ordering::SeqCst);
                    async move { if n < 2 { Err(Boom) } else { Ok(i) } }
                })
                .await
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.await.unwrap().unwrap(), i);
    }
}

#[test]
fn the_retry_future_is_small() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(1)))
        .build()
        .unwrap();
    let site = policy.bind();
    let future = AsyncPolicy::call_async(&site, || async { Ok::<u32, Boom>(1) });
    let size = std::mem::size_of_val(&future);
    // The engine state plus the operation's and the sleep's futures; no box.
    // Reported in the crate docs; this guards against it growing unnoticed.
    assert!(size <= 1024, "retry future is {size} bytes");
}

#[test]
#[ignore = "prints the size for the docs; run with --ignored --nocapture"]
#[allow(clippy::print_stdout)]
fn print_future_sizes() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(1)))
        .attempt_timeout(ms(5))
        .build()
        .unwrap();
    let site = policy.bind();
    let ready = AsyncPolicy::call_async(&site, || async { Ok::<u32, Boom>(1) });
    println!(
        "call, ready operation: {} bytes",
        std::mem::size_of_val(&ready)
    );
    let op_size = std::mem::size_of_val(&async { Ok::<u32, Boom>(1) });
    println!(
        "  (operation future: {op_size} bytes; tokio Sleep: {} bytes)",
        std::mem::size_of::<tokio::time::Sleep>()
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_async_decision_shortens_the_sleep_instead_of_overrunning() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(Duration::from_secs(4)))
        .deadline(Duration::from_secs(10))
        .max_attempts(10)
        .build()
        .unwrap();
    let site = policy.bind().sleep_decision_async(async |_, _| {
        tokio::time::sleep(Duration::from_secs(3)).await;
        SleepDecision::Sleep
    });
    let outcome = AsyncPolicy::execute_async(&site, || async { Err::<(), _>(Boom) }).await;
    assert_eq!(outcome.stop_reason, Some(StopReason::DeadlineExceeded));
    assert_eq!(outcome.attempts, 3);
    assert_eq!(outcome.elapsed, Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn before_sleep_runs_only_when_the_runner_sleeps() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(Duration::from_secs(1)))
        .build()
        .unwrap();
    let before = AtomicU32::new(0);
    let site = policy
        .bind()
        .before_sleep(|_, _| {
            before.fetch_add(1, Ordering::SeqCst);
        })
        .sleep_decision_async(async |ctx, _| {
            if ctx.attempt >= 2 {
                SleepDecision::Defer
            } else {
                SleepDecision::Sleep
            }
        });
    let outcome = AsyncPolicy::execute_async(&site, || async { Err::<(), _>(Boom) }).await;
    assert_eq!(outcome.stop_reason, Some(StopReason::Scheduled));
    // Attempt 1 slept (one before_sleep); attempt 2 was deferred (none).
    assert_eq!(before.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_never_completes_ends_at_the_deadline() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(100)))
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let outcome = policy
        .execute_async(std::future::pending::<Result<(), Boom>>)
        .await;
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(outcome.elapsed, Duration::from_secs(1));
    assert_eq!(outcome.stop_reason, Some(StopReason::DeadlineExceeded));
    assert_eq!(outcome.attempts, 1);
    assert!(matches!(outcome.result, Err(Failure::TimedOut(d)) if d == Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_inside_the_deadline_never_outlives_it() {
    let policy = Policy::builder()
        .classifier(transient)
        .strategy(constant(ms(100)))
        .deadline(ms(1500))
        .attempt_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let limits = Mutex::new(Vec::new());
    let start = Instant::now();
    let outcome = policy
        .execute_async_with(|attempt| {
            limits.lock().unwrap().push(attempt.time_limit());
            std::future::pending::<Result<(), Boom>>()
        })
        .await;
    // The first attempt is cut by its 1 s timeout and retried after 100 ms;
    // the second has 400 ms left and is cut by the deadline.
    assert_eq!(*limits.lock().unwrap(), [Duration::from_secs(1), ms(400)]);
    assert_eq!(start.elapsed(), ms(1500));
    assert_eq!(outcome.elapsed, ms(1500));
    assert_eq!(outcome.stop_reason, Some(StopReason::DeadlineExceeded));
    assert!(matches!(outcome.result, Err(Failure::TimedOut(d)) if d == ms(400)));
}
