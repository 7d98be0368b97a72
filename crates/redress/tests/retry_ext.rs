//! `operation.retry(&policy)` runs exactly what `policy.call(operation)`
//! runs, blocking and async, with the call site's settings chained on.

#![cfg(feature = "sync")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::cell::{Cell, RefCell};
use std::io;
use std::time::Duration;

use redress::backoff::{constant, decorrelated_jitter};
use redress::prelude::*;
use redress::{AbortSignal, ManualClock};

fn timed_out() -> io::Error {
    io::Error::from(io::ErrorKind::TimedOut)
}

/// An operation that fails `failures` times, then returns its attempt
/// number.
fn flaky(tries: &Cell<u32>, failures: u32) -> impl FnMut() -> io::Result<u32> + '_ {
    move || {
        tries.set(tries.get() + 1);
        if tries.get() <= failures {
            Err(timed_out())
        } else {
            Ok(tries.get())
        }
    }
}

fn policy() -> Policy {
    Policy::builder()
        .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
        .build()
        .unwrap()
}

/// What a call reported: every event's kind, attempt and delay.
type Trace = Vec<(EventKind, u32, Duration)>;

#[test]
fn a_closure_retries_itself_until_it_succeeds() {
    let policy = policy();
    let clock = ManualClock::new();
    let tries = Cell::new(0);
    let value = flaky(&tries, 2)
        .retry(&policy)
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .call()
        .unwrap();
    assert_eq!(value, 3);
    assert_eq!(tries.get(), 3);
    // The sleeps went through the call site's sleeper.
    assert!(clock.now() >= Duration::from_millis(500));
}

#[test]
fn the_same_call_as_policy_call_event_for_event() {
    let policy = policy();
    let run = |through_ext: bool| -> (Trace, Result<u32, StopReason>) {
        let clock = ManualClock::new();
        let trace = RefCell::new(Trace::new());
        let record = |e: &Event<'_>| trace.borrow_mut().push((e.kind, e.attempt, e.delay));
        let tries = Cell::new(0);
        let result = if through_ext {
            flaky(&tries, 8)
                .retry(&policy)
                .clock(&clock)
                .sleeper(|d| clock.advance(d))
                .seed(11)
                .on_event(record)
                .call()
        } else {
            policy
                .bind()
                .clock(&clock)
                .sleeper(|d| clock.advance(d))
                .seed(11)
                .on_event(record)
                .call(flaky(&tries, 8))
        };
        (trace.take(), result.map_err(|e| e.stop_reason))
    };
    let (ext_trace, ext_result) = run(true);
    let (call_trace, call_result) = run(false);
    assert_eq!(ext_result, Err(StopReason::MaxAttemptsGlobal));
    assert_eq!(ext_result, call_result);
    assert_eq!(ext_trace.len(), 6);
    assert_eq!(ext_trace, call_trace);
}

#[test]
fn a_fn_item_retries_too_and_a_permanent_error_comes_back_at_once() {
    fn missing() -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::NotFound, "no such user"))
    }
    let policy = policy();
    let err = missing.retry(&policy).call().unwrap_err();
    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(err.attempts, 1);
    let last = err.into_last_error().unwrap();
    assert_eq!(last.to_string(), "no such user");
}

#[test]
fn execute_returns_the_whole_outcome() {
    let policy = Policy::builder()
        .strategy(constant(Duration::from_secs(4)))
        .deadline(Duration::from_secs(10))
        .max_attempts(100)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let outcome = (|| Err::<(), _>(timed_out()))
        .retry(&policy)
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .execute();
    assert_eq!(outcome.attempts, 4);
    assert_eq!(outcome.elapsed, Duration::from_secs(10));
    assert_eq!(outcome.stop_reason, Some(StopReason::DeadlineExceeded));
    assert_eq!(
        outcome.last_error().map(io::Error::kind),
        Some(io::ErrorKind::TimedOut)
    );
}

#[test]
fn a_bound_call_site_is_used_as_it_is() {
    let policy = Policy::builder()
        .strategy(constant(Duration::ZERO))
        .build()
        .unwrap();
    let operations = RefCell::new(Vec::new());
    let site = policy
        .operation("fetch_user")
        .on_event(|e| operations.borrow_mut().push(e.operation.map(str::to_owned)));
    let tries = Cell::new(0);
    assert_eq!(flaky(&tries, 1).retry(site).call().unwrap(), 2);
    let fetch_user = Some("fetch_user".to_owned());
    assert_eq!(*operations.borrow(), [fetch_user.clone(), fetch_user]);

    // `.operation(..)` on the `Retry` renames it.
    let tries = Cell::new(0);
    flaky(&tries, 0)
        .retry(site)
        .operation("load_profile")
        .call()
        .unwrap();
    assert_eq!(
        operations.borrow().last(),
        Some(&Some("load_profile".to_owned()))
    );
}

#[test]
fn notify_sees_retries_only_and_hooks_compose() {
    let policy = Policy::builder()
        .strategy(constant(Duration::from_millis(3)))
        .build()
        .unwrap();
    let notified = RefCell::new(Vec::new());
    let all = Cell::new(0);
    let tries = Cell::new(0);
    let value = flaky(&tries, 2)
        .retry(&policy)
        .sleeper(|_| {})
        .notify(|e| notified.borrow_mut().push((e.kind, e.attempt, e.delay)))
        .on_event(|_| all.set(all.get() + 1))
        .call()
        .unwrap();
    assert_eq!(value, 3);
    let delay = Duration::from_millis(3);
    assert_eq!(
        *notified.borrow(),
        [(EventKind::Retry, 1, delay), (EventKind::Retry, 2, delay)]
    );
    // Two retries and a success.
    assert_eq!(all.get(), 3);
}

#[test]
fn an_abort_signal_stops_the_call_with_the_last_error() {
    static SHUTDOWN: AbortSignal = AbortSignal::new();
    let policy = Policy::builder()
        .strategy(constant(Duration::ZERO))
        .build()
        .unwrap();
    let err = (|| {
        SHUTDOWN.abort();
        Err::<(), _>(timed_out())
    })
    .retry(&policy)
    .hooks(&SHUTDOWN)
    .call()
    .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::Aborted);
    assert_eq!(err.attempts, 1);
    assert_eq!(
        err.last_error().map(io::Error::kind),
        Some(io::ErrorKind::TimedOut)
    );
}

#[test]
fn the_same_seed_draws_the_same_delays() {
    let policy = policy();
    let delays = |seed| {
        let delays = RefCell::new(Vec::new());
        let _ = (|| Err::<(), _>(timed_out()))
            .retry(&policy)
            .sleeper(|_| {})
            .seed(seed)
            .notify(|e| delays.borrow_mut().push(e.delay))
            .call();
        delays.take()
    };
    assert_eq!(delays(3), delays(3));
    assert_eq!(delays(3).len(), 5);
}

#[test]
fn the_parts_stay_reachable() {
    let policy = policy();
    let retry = (|| Ok::<_, io::Error>(1)).retry(&policy).operation("parts");
    assert_eq!(retry.call_site().operation_name(), Some("parts"));
    assert_eq!(
        format!("{retry:?}"),
        "Retry { operation: Some(\"parts\"), .. }"
    );
    let (operation, site) = retry.into_parts();
    assert_eq!(operation().unwrap(), 1);
    assert_eq!(site.operation_name(), Some("parts"));
}

#[cfg(feature = "tokio")]
mod on_tokio {
    use std::rc::Rc;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn flaky_async(
        tries: &AtomicU32,
        failures: u32,
    ) -> impl Future<Output = io::Result<u32>> + use<> {
        let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n <= failures {
                Err(timed_out())
            } else {
                Ok(n)
            }
        }
    }

    fn assert_send<T: Send>(value: T) -> T {
        value
    }

    #[tokio::test(start_paused = true)]
    async fn awaiting_runs_the_async_call_on_tokio_time() {
        let policy = Policy::builder()
            .strategy(constant(Duration::from_secs(2)))
            .build()
            .unwrap();
        let tries = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let value = (|| flaky_async(&tries, 2))
            .retry(&policy)
            .operation("fetch")
            .await
            .unwrap();
        assert_eq!(value, 3);
        // Two sleeps of 2 s, on paused time.
        assert_eq!(start.elapsed(), Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn the_awaited_future_is_send_and_can_be_spawned() {
        static POLICY: std::sync::LazyLock<Policy> = std::sync::LazyLock::new(|| {
            Policy::builder()
                .strategy(constant(Duration::from_millis(10)))
                .build()
                .unwrap()
        });
        let tries = Arc::new(AtomicU32::new(0));
        let retries = Arc::new(AtomicU32::new(0));
        let (t, r) = (Arc::clone(&tries), Arc::clone(&retries));
        let task = tokio::spawn(async move {
            let call = (move || flaky_async(&t, 1))
                .retry(&*POLICY)
                .notify(move |_| {
                    r.fetch_add(1, Ordering::SeqCst);
                })
                .into_future();
            assert_send(call).await
        });
        assert_eq!(task.await.unwrap().unwrap(), 2);
        assert_eq!(tries.load(Ordering::SeqCst), 2);
        assert_eq!(retries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn call_async_takes_operations_that_are_not_send() {
        let policy = Policy::builder()
            .strategy(constant(Duration::from_millis(10)))
            .max_attempts(3)
            .build()
            .unwrap();
        let tries = Rc::new(Cell::new(0));
        let seen = RefCell::new(Vec::new());
        let err = (|| {
            let tries = Rc::clone(&tries);
            async move {
                tries.set(tries.get() + 1);
                tokio::task::yield_now().await;
                Err::<(), _>(timed_out())
            }
        })
        .retry(&policy)
        .on_event(|e| seen.borrow_mut().push(e.kind))
        .call_async()
        .await
        .unwrap_err();
        assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
        assert_eq!(tries.get(), 3);
        assert_eq!(
            *seen.borrow(),
            [
                EventKind::Retry,
                EventKind::Retry,
                EventKind::MaxAttemptsExceeded
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn async_closures_and_execute_async() {
        let policy = Policy::builder()
            .strategy(constant(Duration::from_millis(10)))
            .build()
            .unwrap();
        let tries = AtomicU32::new(0);
        let tries = &tries;
        let fetch = async || flaky_async(tries, 1).await;
        assert_eq!(fetch.retry(&policy).await.unwrap(), 2);

        let tries = AtomicU32::new(0);
        let outcome = (|| flaky_async(&tries, 2))
            .retry(&policy)
            .execute_async()
            .await;
        assert_eq!(outcome.result.ok(), Some(3));
        assert_eq!(outcome.attempts, 3);
        assert_eq!(outcome.elapsed, Duration::from_millis(20));
    }

    #[tokio::test(start_paused = true)]
    async fn async_calls_match_policy_call_async() {
        let policy = policy();
        let trace = |through_ext: bool| {
            let trace = Arc::new(std::sync::Mutex::new(Trace::new()));
            let sink = Arc::clone(&trace);
            let record = move |e: &Event<'_>| {
                sink.lock().unwrap().push((e.kind, e.attempt, e.delay));
            };
            let policy = &policy;
            async move {
                let tries = AtomicU32::new(0);
                let result = if through_ext {
                    (|| flaky_async(&tries, 3))
                        .retry(policy)
                        .seed(5)
                        .on_event(record)
                        .await
                } else {
                    policy
                        .bind()
                        .seed(5)
                        .on_event(record)
                        .call_async(|| flaky_async(&tries, 3))
                        .await
                };
                let trace = trace.lock().unwrap().clone();
                (trace, result.unwrap())
            }
        };
        let (ext, ext_value) = trace(true).await;
        let (call, call_value) = trace(false).await;
        assert_eq!((ext_value, call_value), (4, 4));
        assert_eq!(ext.len(), 4);
        assert_eq!(ext, call);
    }
}
