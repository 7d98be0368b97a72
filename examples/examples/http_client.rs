//! An HTTP client for a flaky dependency, used from several threads: two
//! policies (`get_user`, `list_orders`) share one circuit breaker and one
//! retry budget.
//!
//! `cargo run -p redress-examples --example http_client`
//!
//! The upstream service goes down (503) for three seconds. Watch for:
//!
//! - retries absorbing the odd timeout while the service is healthy;
//! - the shared ratio budget running dry when the outage starts: calls stop
//!   retrying (`BUDGET_EXHAUSTED`) instead of multiplying the load;
//! - the breaker opening: calls fail fast without touching the service, and
//!   the client answers its own callers 503 with a `Retry-After` taken from
//!   `time_until_probe`;
//! - one probe per recovery timeout: failed probes reopen the breaker, the
//!   first one after the service recovers closes it.
//!
//! Time is a `ManualClock` (sleeps advance it; nothing really waits), the
//! jitter is seeded, and the worker threads take turns, so every run prints
//! the same thing. The turns are only there for reproducible output: the
//! policies, the breaker and the budget are lock-free and need no
//! coordination.
#![allow(clippy::print_stdout)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use redress::backoff::decorrelated_jitter;
use redress::prelude::*;
use redress::{
    CircuitBreaker, Classifier, EventKind, ManualClock, NoResultClassifier, RatioBudget,
    strict_classifier,
};
use redress_examples::{FlakyService, HttpError};

const WORKERS: usize = 3;
const REQUESTS_PER_WORKER: usize = 100;
/// Requests arrive on a fixed schedule, 40 per second across all workers
/// (a request whose predecessor overran waits for it).
const SPACING: Duration = Duration::from_millis(25);
const OUTAGE: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(5));

/// What the client answers its own callers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    /// 200: the dependency answered.
    Ok,
    /// 502: the dependency failed and the policy gave up.
    BadGateway(StopReason),
    /// 503 with `Retry-After`: the breaker is open; nothing was sent.
    Unavailable { retry_after: Duration },
}

/// One request, as the summary sees it.
#[derive(Debug)]
struct Record {
    arrived: Duration,
    operation: &'static str,
    answer: Answer,
    attempts: u32,
}

/// A breaker transition, and when it happened.
#[derive(Debug)]
struct Transition {
    at: Duration,
    line: String,
}

/// Runs one request through a call site and turns the result into the
/// answer for our own caller.
fn serve<C, B>(
    site: &B,
    service: &FlakyService<'_>,
    path: &'static str,
    breaker: &CircuitBreaker,
    clock: &ManualClock,
) -> (Answer, u32)
where
    B: BlockingPolicy<C, NoResultClassifier>,
    C: Classifier<HttpError>,
{
    let outcome = site.execute(|| service.get(path));
    let attempts = outcome.attempts;
    let answer = match outcome.into_result() {
        Ok(_response) => Answer::Ok,
        // Rejected without running: tell our callers when to come back.
        Err(err) if err.is_circuit_open() => Answer::Unavailable {
            retry_after: breaker
                .time_until_probe(clock.now())
                .unwrap_or(breaker.recovery_timeout()),
        },
        Err(err) => Answer::BadGateway(err.stop_reason),
    };
    (answer, attempts)
}

fn main() -> Result<(), Box<dyn Error>> {
    let clock = ManualClock::new();
    let service = FlakyService::new(&clock, Duration::from_millis(5))
        .down_between(OUTAGE.0, OUTAGE.1)
        .timeout_every(15);

    // One breaker and one budget for everything that calls this service.
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(8)
            .window(Duration::from_secs(10))
            .recovery_timeout(Duration::from_millis(500))
            .build()?,
    );
    // Retries may be 10% of recent calls, plus 1 per second.
    let budget = Arc::new(
        RatioBudget::builder()
            .ratio(0.1)
            .min_per_second(1)
            .window(Duration::from_secs(10))
            .build()?,
    );
    let classifier = strict_classifier().with_status::<HttpError>();
    let get_user = Policy::builder()
        .classifier(classifier)
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(10))
                .max(Duration::from_millis(50)),
        )
        .deadline(Duration::from_secs(1))
        .max_attempts(4)
        .circuit_breaker(Arc::clone(&breaker))
        .budget(Arc::clone(&budget))
        .build()?;
    let list_orders = Policy::builder()
        .classifier(classifier)
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(20))
                .max(Duration::from_millis(100)),
        )
        .deadline(Duration::from_secs(1))
        .max_attempts(3)
        .circuit_breaker(Arc::clone(&breaker))
        .budget(Arc::clone(&budget))
        .build()?;

    // Whose turn it is: request `i` of worker `w` is number `i * WORKERS + w`.
    let turn = AtomicUsize::new(0);
    let (mut records, mut transitions) = thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (clock, service, turn) = (&clock, &service, &turn);
                let (breaker, get_user, list_orders) = (&*breaker, &get_user, &list_orders);
                s.spawn(move || {
                    let transitions = RefCell::new(Vec::new());
                    let note = |e: &Event<'_>| {
                        if e.kind.is_breaker_event() && e.kind != EventKind::CircuitRejected {
                            let class = e.class.map(|c| format!(" ({c})")).unwrap_or_default();
                            transitions.borrow_mut().push(Transition {
                                at: clock.now(),
                                line: format!(
                                    "{}{class}, in {}",
                                    e.kind,
                                    e.operation.unwrap_or("-")
                                ),
                            });
                        }
                    };
                    let seed = w as u64;
                    let users = get_user
                        .operation("get_user")
                        .clock(clock)
                        .sleeper(|d| clock.advance(d))
                        .seed(seed)
                        .on_event(note);
                    let orders = list_orders
                        .operation("list_orders")
                        .clock(clock)
                        .sleeper(|d| clock.advance(d))
                        .seed(seed)
                        .on_event(note);

                    let mut records = Vec::with_capacity(REQUESTS_PER_WORKER);
                    for i in 0..REQUESTS_PER_WORKER {
                        let mine = i.saturating_mul(WORKERS).saturating_add(w);
                        while turn.load(Ordering::Acquire) != mine {
                            thread::yield_now();
                        }
                        // `set` never moves the clock back.
                        clock.set(SPACING.saturating_mul(mine.saturating_add(1) as u32));
                        let arrived = clock.now();
                        let (operation, (answer, attempts)) = if (i.saturating_add(w)) % 2 == 0 {
                            (
                                "get_user",
                                serve(&users, service, "/users/7", breaker, clock),
                            )
                        } else {
                            (
                                "list_orders",
                                serve(&orders, service, "/users/7/orders", breaker, clock),
                            )
                        };
                        records.push(Record {
                            arrived,
                            operation,
                            answer,
                            attempts,
                        });
                        turn.store(mine.saturating_add(1), Ordering::Release);
                    }
                    (records, transitions.take())
                })
            })
            .collect();
        let mut records = Vec::new();
        let mut transitions = Vec::new();
        for worker in workers {
            let (r, t) = worker.join().map_err(|_| "a worker panicked")?;
            records.extend(r);
            transitions.extend(t);
        }
        Ok::<_, Box<dyn Error>>((records, transitions))
    })?;
    records.sort_by_key(|r| r.arrived);
    transitions.sort_by_key(|t| t.at);

    println!(
        "{WORKERS} workers, {} requests; the service is down (503) from {:?} to {:?}",
        records.len(),
        OUTAGE.0,
        OUTAGE.1
    );
    println!();
    println!("breaker:");
    for t in &transitions {
        println!("  {:>7.3}s  {}", t.at.as_secs_f64(), t.line);
    }

    // Per second of arrival: what the client answered, what the service saw.
    #[derive(Default)]
    struct Second {
        calls: u32,
        ok: u32,
        bad_gateway: u32,
        budget_refused: u32,
        fast_503: u32,
        sent: u32,
    }
    let mut seconds: BTreeMap<u64, Second> = BTreeMap::new();
    for r in &records {
        let s = seconds.entry(r.arrived.as_secs()).or_default();
        s.calls = s.calls.saturating_add(1);
        s.sent = s.sent.saturating_add(r.attempts);
        match r.answer {
            Answer::Ok => s.ok = s.ok.saturating_add(1),
            Answer::BadGateway(reason) => {
                s.bad_gateway = s.bad_gateway.saturating_add(1);
                if reason == StopReason::BudgetExhausted {
                    s.budget_refused = s.budget_refused.saturating_add(1);
                }
            }
            Answer::Unavailable { .. } => s.fast_503 = s.fast_503.saturating_add(1),
        }
    }
    println!();
    println!("answers per second of arrival (502: the policy gave up; 503: the breaker was open)");
    println!("second  calls  200  502  of which budget  503 fast  requests sent");
    for (second, s) in &seconds {
        println!(
            "{second:>6}  {:>5}  {:>3}  {:>3}  {:>15}  {:>8}  {:>13}",
            s.calls, s.ok, s.bad_gateway, s.budget_refused, s.fast_503, s.sent
        );
    }

    if let Some(r) = records
        .iter()
        .find(|r| matches!(r.answer, Answer::Unavailable { .. }))
    {
        if let Answer::Unavailable { retry_after } = r.answer {
            println!();
            println!(
                "first fast failure: {} at {:.3}s -> 503, Retry-After: {:.3}s (no request sent)",
                r.operation,
                r.arrived.as_secs_f64(),
                retry_after.as_secs_f64()
            );
        }
    }

    let sent: u32 = records.iter().map(|r| r.attempts).sum();
    let during: Vec<&Record> = records
        .iter()
        .filter(|r| OUTAGE.0 <= r.arrived && r.arrived < OUTAGE.1)
        .collect();
    let sent_during: u32 = during.iter().map(|r| r.attempts).sum();
    // What the same calls could have sent with neither budget nor breaker.
    let unprotected: u32 = during
        .iter()
        .map(|r| match r.operation {
            "get_user" => get_user.retry().max_attempts(),
            _ => list_orders.retry().max_attempts(),
        })
        .sum();
    println!();
    println!(
        "the service received {} requests for {} calls; during the outage, {sent_during} requests \
         for {} calls (up to {unprotected} without the budget and the breaker)",
        service.requests(),
        records.len(),
        during.len()
    );
    assert_eq!(u64::from(sent), service.requests());
    Ok(())
}
