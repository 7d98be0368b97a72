//! A blocking job worker: short waits are slept in place, long ones are
//! handed back to the queue (`sleep_decision` + `next_delay`), and shutdown
//! stops a call mid-retry (`AbortSignal`).
//!
//! `cargo run -p redress-examples --example worker_loop`
//!
//! Time is simulated with a manual clock, so a 30 second rate-limit wait and
//! the SIGTERM that arrives later take no real time.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::time::Duration;

use redress::backoff::{decorrelated_jitter, retry_after_or};
use redress::prelude::*;
use redress::{AbortSignal, Classifier, ManualClock, SleepDecision};

/// Set by the (simulated) SIGTERM handler; every call watches it.
static SHUTDOWN: AbortSignal = AbortSignal::new();

/// Longer waits are not slept by the worker: the job goes back to the queue,
/// and the thread moves on to other work.
const MAX_IN_PLACE_WAIT: Duration = Duration::from_secs(2);

/// A job gets this many runs (each run is one retried call) before it is
/// dead-lettered. redress bounds one call; the queue bounds the job.
const MAX_RUNS: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    SendEmail,
    ChargeCard,
    SyncCrm,
    ResizeImage,
    ExportReport,
}

impl Kind {
    /// The operation name: one per job kind, so metrics stay low-cardinality.
    fn name(self) -> &'static str {
        match self {
            Kind::SendEmail => "send_email",
            Kind::ChargeCard => "charge_card",
            Kind::SyncCrm => "sync_crm",
            Kind::ResizeImage => "resize_image",
            Kind::ExportReport => "export_report",
        }
    }
}

#[derive(Debug)]
struct Job {
    id: u32,
    kind: Kind,
    runs: u32,
}

#[derive(Debug)]
enum JobError {
    Timeout,
    RateLimited { retry_after: Duration },
    Unavailable,
    InvalidInput(&'static str),
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Timeout => f.write_str("timed out"),
            JobError::RateLimited { retry_after } => {
                write!(f, "rate limited, retry after {retry_after:?}")
            }
            JobError::Unavailable => f.write_str("service unavailable"),
            JobError::InvalidInput(why) => write!(f, "invalid input: {why}"),
        }
    }
}

impl Error for JobError {}

fn classify(e: &JobError) -> Classification {
    match e {
        JobError::Timeout => ErrorClass::Transient.into(),
        JobError::RateLimited { retry_after } => {
            Classification::new(ErrorClass::RateLimit).with_retry_after(*retry_after)
        }
        JobError::Unavailable => ErrorClass::ServerError.into(),
        JobError::InvalidInput(_) => ErrorClass::Permanent.into(),
    }
}

/// What each job's dependency does on the `attempt`-th try of a run.
fn perform(job: &Job, attempt: u32) -> Result<&'static str, JobError> {
    match job.kind {
        Kind::SendEmail => Ok("sent"),
        Kind::ChargeCard if attempt < 3 => Err(JobError::Timeout),
        Kind::ChargeCard => Ok("charged"),
        Kind::SyncCrm if job.runs == 1 => Err(JobError::RateLimited {
            retry_after: Duration::from_secs(30),
        }),
        Kind::SyncCrm => Ok("synced"),
        Kind::ResizeImage => Err(JobError::InvalidInput("not an image")),
        Kind::ExportReport => Err(JobError::Unavailable),
    }
}

/// The simulated world: a virtual clock, and a SIGTERM that arrives at a
/// fixed time (in a real worker, a signal handler calls `SHUTDOWN.abort()`).
struct World {
    clock: ManualClock,
    sigterm_at: Duration,
}

impl World {
    fn now(&self) -> Duration {
        redress::Clock::now(&self.clock)
    }

    /// Lets `d` pass (a sleep, or the worker idling).
    fn pass(&self, d: Duration) {
        let before = self.now();
        self.clock.advance(d);
        if before < self.sigterm_at && self.now() >= self.sigterm_at {
            println!("  !! SIGTERM at t={:?}", self.sigterm_at);
            SHUTDOWN.abort();
        }
    }

    fn idle_until(&self, t: Duration) {
        self.pass(t.saturating_sub(self.now()));
    }
}

/// Jobs by due time (then id).
type Queue = BTreeMap<(Duration, u32), Job>;

fn work<C: Classifier<JobError>>(policy: &Policy<C>, world: &World, queue: &mut Queue) {
    while let Some(((due, id), mut job)) = queue.pop_first() {
        world.idle_until(due);
        if SHUTDOWN.is_aborted() {
            println!("worker: shutting down, job {id} stays queued");
            queue.insert((due, id), job);
            return;
        }
        job.runs = job.runs.saturating_add(1);
        println!(
            "t={:.3?} job {id} {} (run {})",
            world.now(),
            job.kind.name(),
            job.runs
        );

        let mut attempt = 0_u32;
        let outcome = policy
            .bind()
            .operation(job.kind.name())
            .clock(&world.clock)
            .sleeper(|d| world.pass(d))
            .seed(
                u64::from(id)
                    .wrapping_mul(100)
                    .wrapping_add(u64::from(job.runs)),
            )
            .hooks(&SHUTDOWN)
            .sleep_decision(|_ctx, delay| {
                if delay > MAX_IN_PLACE_WAIT {
                    SleepDecision::Defer
                } else {
                    SleepDecision::Sleep
                }
            })
            .on_log(|event, fields| println!("    {event}: {fields}"))
            .execute(|| {
                attempt = attempt.saturating_add(1);
                perform(&job, attempt)
            });

        let last_error = || {
            outcome
                .result
                .as_ref()
                .err()
                .and_then(|f| f.error())
                .map_or_else(String::new, ToString::to_string)
        };
        match (outcome.stop_reason, outcome.next_delay) {
            (None, _) => println!("  done"),
            (Some(StopReason::Scheduled), Some(wait)) if job.runs < MAX_RUNS => {
                let at = world.now().saturating_add(wait);
                println!("  deferred: back in the queue at t={at:.3?}");
                queue.insert((at, id), job);
            }
            (Some(StopReason::Scheduled), _) => {
                println!("  dead-lettered after {} runs ({})", job.runs, last_error());
            }
            (Some(StopReason::Aborted), _) => {
                println!(
                    "  aborted after {} attempts ({}): job {id} goes back to the queue",
                    outcome.attempts,
                    last_error()
                );
                queue.insert((world.now(), id), job);
            }
            (Some(reason), _) => {
                println!("  dead-lettered: {reason} ({})", last_error());
            }
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::builder()
        .classifier(classify)
        .strategy(decorrelated_jitter().max(Duration::from_secs(10)))
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(decorrelated_jitter().max(Duration::from_secs(60))),
        )
        .deadline(Duration::from_secs(120))
        .max_attempts(8)
        .build()?;

    let mut queue = Queue::new();
    let kinds = [
        Kind::SendEmail,
        Kind::ChargeCard,
        Kind::SyncCrm,
        Kind::ResizeImage,
        Kind::ExportReport,
    ];
    for (id, kind) in (1..).zip(kinds) {
        queue.insert((Duration::ZERO, id), Job { id, kind, runs: 0 });
    }

    let world = World {
        clock: ManualClock::new(),
        sigterm_at: Duration::from_secs(3),
    };
    work(&policy, &world, &mut queue);

    let left: Vec<String> = queue
        .values()
        .map(|job| format!("{} {}", job.id, job.kind.name()))
        .collect();
    println!("still queued for the next worker: {}", left.join(", "));
    Ok(())
}
