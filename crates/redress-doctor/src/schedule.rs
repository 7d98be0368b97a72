//! The envelope of a policy: what it does when one class fails every
//! attempt (`redress doctor --schedule`).
//!
//! The policy is built from its config and run through the real engine
//! many times under virtual time, every attempt failing with the chosen
//! class (and, optionally, a retry-after hint); jitter draws from one
//! generator seeded by the caller, so the result is reproducible. Each run
//! gets a fresh budget, breaker and adaptive state: the envelope is one
//! call's, with nothing spent yet.
//!
//! Per attempt it reports how many runs reached it, when it started (the
//! cumulative time) and the wait after it (minimum, median, 99th percentile
//! and maximum, nearest-rank), and per stop reason after which attempt the
//! runs ended.
//!
//! A policy may allow billions of attempts, so each run is followed for at
//! most [`ScheduleOptions::limit`] attempts (100 by default; `redress
//! doctor --schedule-limit`), and all runs together for at most
//! [`MAX_SCHEDULE_ATTEMPTS`]: the envelope says how many runs were still
//! going when the limit cut them ([`Envelope::cut`]).

use core::time::Duration;

use redress_config::{BuildError, PolicyConfig};
use redress_core::{Action, Classification, ErrorClass, FastRng, StopReason};

/// The most attempts [`sample`] follows in all its runs together: a run is
/// followed for at most `MAX_SCHEDULE_ATTEMPTS / runs` attempts, whatever
/// its [`limit`](ScheduleOptions::limit). It bounds the memory and time a
/// schedule takes (a few hundred megabytes at most).
pub const MAX_SCHEDULE_ATTEMPTS: u64 = 10_000_000;

/// How to sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScheduleOptions {
    /// The class every attempt fails with.
    pub class: ErrorClass,
    /// How many calls to sample.
    pub runs: u32,
    /// The generator's seed.
    pub seed: u64,
    /// How long each attempt takes.
    pub attempt_time: Duration,
    /// A retry-after hint every failure carries.
    pub retry_after: Option<Duration>,
    /// The most attempts a run is followed for: a run still retrying there
    /// is cut and counted in [`Envelope::cut`].
    pub limit: u32,
}

impl ScheduleOptions {
    /// `class` failing every attempt: 1000 runs, seed 1, attempts taking no
    /// time, no hint, each run followed for at most 100 attempts.
    pub fn new(class: ErrorClass) -> Self {
        ScheduleOptions {
            class,
            runs: 1000,
            seed: 1,
            attempt_time: Duration::ZERO,
            retry_after: None,
            limit: 100,
        }
    }

    /// The most attempts each run is really followed for: the
    /// [`limit`](ScheduleOptions::limit), lowered so that all runs together
    /// stay within [`MAX_SCHEDULE_ATTEMPTS`].
    pub fn attempts_followed(&self) -> u32 {
        let share = MAX_SCHEDULE_ATTEMPTS
            .checked_div(u64::from(self.runs))
            .unwrap_or(MAX_SCHEDULE_ATTEMPTS);
        u32::try_from(share)
            .map_or(self.limit, |share| self.limit.min(share))
            .max(1)
    }
}

/// Minimum, median, 99th percentile and maximum of some durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The smallest.
    pub min: Duration,
    /// The median (nearest rank).
    pub p50: Duration,
    /// The 99th percentile (nearest rank).
    pub p99: Duration,
    /// The largest.
    pub max: Duration,
}

impl Stats {
    /// The statistics of `values` (`None` when empty).
    pub fn of(values: &mut [Duration]) -> Option<Stats> {
        values.sort_unstable();
        let rank = |pct: usize| -> Option<Duration> {
            // Nearest rank: the ceil(pct% × n)-th smallest, 1-based.
            let n = values.len();
            let index = pct.saturating_mul(n).div_ceil(100).max(1).saturating_sub(1);
            values.get(index).copied()
        };
        Some(Stats {
            min: *values.first()?,
            p50: rank(50)?,
            p99: rank(99)?,
            max: *values.last()?,
        })
    }
}

/// One attempt of the envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptRow {
    /// The attempt (1-based).
    pub attempt: u32,
    /// Runs that made it.
    pub reached: u32,
    /// When it started, from the call's start.
    pub start: Stats,
    /// The wait after it, in the runs that retried.
    pub wait: Option<Stats>,
    /// Runs that retried after it.
    pub retried: u32,
    /// Runs whose wait after it was cut short by the deadline.
    pub cut_by_deadline: u32,
}

/// Runs that stopped the same way after the same attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopRow {
    /// The last attempt.
    pub after_attempt: u32,
    /// Why it stopped.
    pub reason: Option<StopReason>,
    /// How many runs.
    pub runs: u32,
}

/// The sampled envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// How it was sampled.
    pub options: ScheduleOptions,
    /// Per attempt.
    pub attempts: Vec<AttemptRow>,
    /// How runs ended, by last attempt then reason.
    pub stops: Vec<StopRow>,
    /// When runs gave up, from the call's start (runs cut at the limit
    /// did not give up, and are not counted).
    pub gave_up: Option<Stats>,
    /// Runs still retrying when the limit cut them, after
    /// [`attempts_followed`](ScheduleOptions::attempts_followed) attempts;
    /// they are in no [`stops`](Envelope::stops) row.
    pub cut: u32,
}

/// Never fails on its own: the class comes from the classifier.
#[derive(Clone, Copy, Debug)]
struct Failing;

struct Run {
    starts: Vec<Duration>,
    waits: Vec<(Duration, bool)>,
    attempts: u32,
    reason: Option<StopReason>,
    elapsed: Duration,
    cut: bool,
}

/// Samples the envelope of `config` under `options`.
///
/// ```
/// use core::time::Duration;
/// use redress_config::PolicyConfig;
/// use redress_core::ErrorClass;
/// use redress_doctor::schedule::{sample, ScheduleOptions};
///
/// let config = PolicyConfig::from_toml_str(r#"
///     max_attempts = 3
///     strategy = { kind = "constant", delay = "1s" }
/// "#)?;
/// let envelope = sample(&config, &ScheduleOptions::new(ErrorClass::ServerError))?;
/// assert_eq!(envelope.attempts.len(), 3);
/// assert_eq!(envelope.attempts[2].start.max, Duration::from_secs(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sample(config: &PolicyConfig, options: &ScheduleOptions) -> Result<Envelope, BuildError> {
    let mut classification = Classification::new(options.class);
    if let Some(hint) = options.retry_after {
        classification = classification.with_retry_after(hint);
    }
    let mut rng = FastRng::seeded(options.seed);
    let mut runs = Vec::new();
    let followed = usize::try_from(options.attempts_followed()).unwrap_or(usize::MAX);
    for _ in 0..options.runs.max(1) {
        // Fresh shared state (budget, breaker, adaptive) for every run.
        let policy = config.build_with(move |_: &Failing| classification)?;
        // Every retry's wait, from its event (a zero wait is no sleep).
        let waits = core::cell::RefCell::new(Vec::new());
        let bound = policy.bind().on_event(|e| {
            if e.kind == redress_core::EventKind::Retry {
                let woke = e.elapsed.saturating_add(e.delay);
                waits.borrow_mut().push((e.delay, woke >= config.deadline));
            }
        });
        let mut now = Duration::ZERO;
        let mut run = Run {
            starts: Vec::new(),
            waits: Vec::new(),
            attempts: 0,
            reason: None,
            elapsed: Duration::ZERO,
            cut: false,
        };
        let (mut exec, mut action) = bound.start::<(), Failing>(now);
        let outcome = loop {
            action = match action {
                Action::Attempt(_) if run.starts.len() >= followed => {
                    run.cut = true;
                    break exec.finish();
                }
                Action::Attempt(_) => {
                    run.starts.push(now);
                    now = now.saturating_add(options.attempt_time);
                    exec.record(Err(Failing), now, &mut rng)
                }
                Action::SleepHooks => {
                    exec.sleep_decided(exec.pending_sleep().run_hooks_blocking(), now)
                }
                Action::Sleep(delay) => {
                    now = now.saturating_add(delay);
                    exec.resume(now)
                }
                Action::Done => break exec.finish(),
            };
        };
        run.waits = waits.take();
        run.attempts = outcome.attempts;
        run.reason = outcome.stop_reason;
        run.elapsed = outcome.elapsed;
        runs.push(run);
    }
    Ok(aggregate(*options, &runs))
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn aggregate(options: ScheduleOptions, runs: &[Run]) -> Envelope {
    let longest = runs.iter().map(|r| r.starts.len()).max().unwrap_or(0);
    let mut attempts = Vec::new();
    for index in 0..longest {
        let mut starts: Vec<Duration> = runs
            .iter()
            .filter_map(|r| r.starts.get(index).copied())
            .collect();
        let waits: Vec<(Duration, bool)> = runs
            .iter()
            .filter_map(|r| r.waits.get(index).copied())
            .collect();
        let mut wait_values: Vec<Duration> = waits.iter().map(|(d, _)| *d).collect();
        let Some(start) = Stats::of(&mut starts) else {
            continue;
        };
        attempts.push(AttemptRow {
            attempt: count(index.saturating_add(1)),
            reached: count(starts.len()),
            start,
            wait: Stats::of(&mut wait_values),
            retried: count(waits.len()),
            cut_by_deadline: count(waits.iter().filter(|(_, cut)| *cut).count()),
        });
    }
    let mut stops: Vec<StopRow> = Vec::new();
    for run in runs.iter().filter(|r| !r.cut) {
        match stops
            .iter_mut()
            .find(|s| s.after_attempt == run.attempts && s.reason == run.reason)
        {
            Some(row) => row.runs = row.runs.saturating_add(1),
            None => stops.push(StopRow {
                after_attempt: run.attempts,
                reason: run.reason,
                runs: 1,
            }),
        }
    }
    stops.sort_by_key(|s| (s.after_attempt, s.reason.map(StopReason::as_str)));
    let mut elapsed: Vec<Duration> = runs.iter().filter(|r| !r.cut).map(|r| r.elapsed).collect();
    Envelope {
        options,
        attempts,
        stops,
        gave_up: Stats::of(&mut elapsed),
        cut: count(runs.iter().filter(|r| r.cut).count()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_statistics() {
        let mut values: Vec<Duration> = (1..=100).rev().map(ms).collect();
        let s = Stats::of(&mut values).unwrap();
        assert_eq!(
            (s.min, s.p50, s.p99, s.max),
            (ms(1), ms(50), ms(99), ms(100))
        );
        let one = Stats::of(&mut [ms(7)]).unwrap();
        assert_eq!(
            (one.min, one.p50, one.p99, one.max),
            (ms(7), ms(7), ms(7), ms(7))
        );
        assert_eq!(Stats::of(&mut []), None);
    }

    #[test]
    fn the_deadline_cuts_the_last_wait() {
        let config = PolicyConfig::from_toml_str(
            r#"
            deadline = "2.5s"
            strategy = { kind = "constant", delay = "1s" }
            "#,
        )
        .unwrap();
        let e = sample(
            &config,
            &ScheduleOptions {
                runs: 3,
                ..ScheduleOptions::new(ErrorClass::Transient)
            },
        )
        .unwrap();
        let waits: Vec<Duration> = e
            .attempts
            .iter()
            .filter_map(|a| a.wait.map(|w| w.max))
            .collect();
        assert_eq!(waits, [ms(1000), ms(1000), ms(500)]);
        assert_eq!(e.attempts[2].cut_by_deadline, 3);
        assert_eq!(e.stops.len(), 1);
        assert_eq!(e.stops[0].reason, Some(StopReason::DeadlineExceeded));
        assert_eq!(e.stops[0].after_attempt, 4);
    }

    #[test]
    fn caps_and_never_retried_classes_stop_early() {
        let config = PolicyConfig::from_toml_str(
            r#"
            strategy = { kind = "decorrelated_jitter", max = "1s" }
            per_class_max_attempts = { RATE_LIMIT = 2 }
            "#,
        )
        .unwrap();
        let rate = sample(
            &config,
            &ScheduleOptions {
                runs: 50,
                ..ScheduleOptions::new(ErrorClass::RateLimit)
            },
        )
        .unwrap();
        assert_eq!(rate.stops[0].reason, Some(StopReason::MaxAttemptsPerClass));
        assert_eq!(rate.stops[0].after_attempt, 3);
        let auth = sample(&config, &ScheduleOptions::new(ErrorClass::Auth)).unwrap();
        assert_eq!(auth.attempts.len(), 1);
        assert_eq!(auth.attempts[0].wait, None);
        assert_eq!(auth.stops[0].reason, Some(StopReason::NonRetryableClass));
    }

    #[test]
    fn runs_are_followed_up_to_the_limit() {
        // Four billion attempts with no delay: without a limit, each run
        // would never end (and the samples would fill memory).
        let config = PolicyConfig::from_toml_str(
            r#"
            max_attempts = 4294967295
            strategy = { kind = "constant", delay = "0s" }
            "#,
        )
        .unwrap();
        let opts = ScheduleOptions {
            runs: 20,
            limit: 7,
            ..ScheduleOptions::new(ErrorClass::ServerError)
        };
        let e = sample(&config, &opts).unwrap();
        assert_eq!(e.attempts.len(), 7);
        assert_eq!(e.cut, 20);
        assert!(e.stops.is_empty());
        assert_eq!(e.attempts[6].reached, 20);
        assert_eq!(e.gave_up, None);
        // All runs together stay within the bound: a larger limit is
        // lowered to fit.
        let many = ScheduleOptions {
            runs: 100_000,
            limit: 1000,
            ..opts
        };
        assert_eq!(many.attempts_followed(), 100);
        assert_eq!(
            ScheduleOptions::new(ErrorClass::ServerError).attempts_followed(),
            100
        );
        // A run that stops on its own within the limit is not cut.
        let short = PolicyConfig::from_toml_str(
            r#"max_attempts = 3
            strategy = { kind = "constant", delay = "0s" }"#,
        )
        .unwrap();
        let e = sample(&short, &opts).unwrap();
        assert_eq!((e.cut, e.attempts.len()), (0, 3));
    }

    #[test]
    fn sampling_is_reproducible() {
        let config = PolicyConfig::from_toml_str(r#"strategy = "decorrelated_jitter""#).unwrap();
        let opts = ScheduleOptions {
            runs: 200,
            ..ScheduleOptions::new(ErrorClass::ServerError)
        };
        assert_eq!(
            sample(&config, &opts).unwrap(),
            sample(&config, &opts).unwrap()
        );
        let other = ScheduleOptions { seed: 2, ..opts };
        assert_ne!(
            sample(&config, &opts).unwrap(),
            sample(&config, &other).unwrap()
        );
    }
}
