//! Watching retries: a metric hook counting events by their tags, a log hook
//! printing `key=value` lines, and a captured timeline.
//!
//! `cargo run -p redress-examples --example observability`
#![allow(clippy::print_stdout)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::error::Error;
use std::io;
use std::time::Duration;

use redress::backoff::decorrelated_jitter;
use redress::prelude::*;
use redress::{ManualClock, Tags};

/// A counter family keyed by event name and tags, like a Prometheus
/// `redress_events_total{event, class, stop_reason, operation}`. Every tag
/// value comes from a fixed set, so the number of series stays small.
#[derive(Default)]
struct EventCounter {
    series: RefCell<BTreeMap<String, u64>>,
}

impl EventCounter {
    fn record(&self, event: &str, tags: &Tags<'_>) {
        let mut labels = vec![format!("event=\"{event}\"")];
        labels.extend(
            tags.iter()
                .filter(|(k, _)| *k != "cause")
                .map(|(k, v)| format!("{k}=\"{v}\"")),
        );
        let key = format!("redress_events_total{{{}}}", labels.join(","));
        let mut series = self.series.borrow_mut();
        let count = series.entry(key).or_insert(0);
        *count = count.saturating_add(1);
    }
}

/// Replays a script of I/O outcomes, one per attempt.
fn scripted(script: &[Option<io::ErrorKind>], attempt: &mut usize) -> io::Result<&'static str> {
    let step = script.get(*attempt).copied().flatten();
    *attempt = attempt.saturating_add(1);
    match step {
        Some(kind) => Err(io::Error::from(kind)),
        None => Ok("charged"),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::builder()
        .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
        .max_attempts(4)
        .build()?;

    let counter = EventCounter::default();
    let clock = ManualClock::new();
    let charge = policy
        .bind()
        .operation("charge_card")
        .clock(&clock)
        .sleeper(|d| clock.advance(d))
        .seed(1)
        .on_metric(|event, _attempt, _delay, tags| counter.record(event, tags))
        .on_log(|event, fields| println!("  level=info msg=redress event={event} {fields}"))
        .capture_timeline();

    use io::ErrorKind::{ConnectionReset, PermissionDenied, TimedOut};
    let calls: [(&str, &[Option<io::ErrorKind>]); 4] = [
        ("succeeds at once", &[None]),
        (
            "recovers after two failures",
            &[Some(TimedOut), Some(ConnectionReset), None],
        ),
        ("is refused", &[Some(PermissionDenied)]),
        ("keeps timing out", &[Some(TimedOut); 4]),
    ];

    let mut last_timeline = None;
    for (what, script) in calls {
        println!("a call that {what}:");
        let mut attempt = 0;
        let outcome = charge.execute(|| scripted(script, &mut attempt));
        last_timeline = outcome.timeline;
    }

    println!("\nmetrics:");
    for (series, count) in counter.series.borrow().iter() {
        println!("  {series} {count}");
    }

    println!("\ntimeline of the last call:");
    if let Some(timeline) = last_timeline {
        for entry in timeline.entries() {
            println!(
                "  +{:>9.3?} {:<22} attempt={} class={} delay={:.3?} stop_reason={}",
                entry.elapsed,
                entry.kind.as_str(),
                entry.attempt,
                entry.class.map_or("-", ErrorClass::name),
                entry.delay,
                entry.stop_reason.map_or("-", StopReason::as_str),
            );
        }
    }
    Ok(())
}
