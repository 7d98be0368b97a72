//! `MetricsHooks` allocates nothing per event once its series exist.
//!
//! A counting global allocator (`allocation-counter`, which counts the
//! measuring thread only) watches: a warm-up pass
//! registers every series (that allocates: labels, keys, the recorder's
//! cells), then the same events and a whole call through the blocking
//! runner must make zero allocations. The recorder here is lock-free and
//! allocation-free itself, so what is measured is the hooks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use redress_core::backoff::constant;
use redress_core::{
    CallEnd, CallStatus, CircuitState, ErrorClass, Event, EventKind, Hooks, ManualClock, Policy,
    StopReason,
};
use redress_metrics::MetricsHooks;
use redress_sync::BlockingPolicy;
use redress_testing::{ScriptedClassifier, ScriptedOperation, instant_sleeper};

/// Counts samples and their sum, without allocating.
#[derive(Default)]
struct Tally {
    count: AtomicU64,
    sum_bits: AtomicU64,
}

impl HistogramFn for Tally {
    fn record(&self, value: f64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum_bits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }
}

/// Every counter is one shared atomic, every histogram one shared tally.
#[derive(Default)]
struct Flat {
    counter: Arc<AtomicU64>,
    gauge: Arc<AtomicU64>,
    histogram: Arc<Tally>,
}

impl Recorder for Flat {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::clone(&self.counter))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::clone(&self.gauge))
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::clone(&self.histogram))
    }
}

fn events() -> Vec<Event<'static>> {
    let mut retry = Event::new(EventKind::Retry, 1);
    retry.class = Some(ErrorClass::Transient);
    retry.delay = Duration::from_millis(100);
    retry.operation = Some("fetch_user");
    let mut stop = Event::new(EventKind::MaxAttemptsExceeded, 3);
    stop.class = Some(ErrorClass::Transient);
    stop.stop_reason = Some(StopReason::MaxAttemptsGlobal);
    stop.operation = Some("fetch_user");
    let mut opened = Event::new(EventKind::CircuitOpened, 0);
    opened.state = Some(CircuitState::Open);
    opened.operation = Some("fetch_user");
    let mut success = Event::new(EventKind::Success, 2);
    success.operation = Some("fetch_user");
    let anonymous = Event::new(EventKind::Success, 1);
    vec![retry, stop, opened, success, anonymous]
}

#[test]
fn events_allocate_nothing_once_registered() {
    let recorder = Flat::default();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let hooks = MetricsHooks::new();
    let events = events();

    let mut ends = [
        CallEnd::new(
            CallStatus::Stopped(StopReason::MaxAttemptsGlobal),
            3,
            Duration::from_secs(1),
        ),
        CallEnd::new(CallStatus::Succeeded, 2, Duration::from_millis(300)),
        CallEnd::new(CallStatus::Cancelled, 1, Duration::from_millis(10)),
    ];
    for end in &mut ends {
        end.operation = Some("fetch_user");
    }

    // Warm up: registers every series.
    for e in &events {
        hooks.on_event(e);
    }
    for end in &ends {
        hooks.on_call_end(end);
    }
    let stats = allocation_counter::measure(|| {
        for _ in 0..100 {
            for e in &events {
                hooks.on_event(e);
            }
            for end in &ends {
                hooks.on_call_end(end);
            }
        }
    });
    assert_eq!(
        (stats.count_total, stats.count_current),
        (0, 0),
        "events allocated: {stats:?}"
    );
    // Every event counted, and every call end.
    assert_eq!(recorder.counter.load(Ordering::Relaxed), 101 * (5 + 3));

    // A whole call through the runner, hooks attached, allocates nothing.
    let policy = Policy::builder()
        .classifier(ScriptedClassifier)
        .strategy(constant(Duration::from_millis(10)))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let site = policy
        .bind()
        .operation("fetch_user")
        .clock(&clock)
        .sleeper(instant_sleeper(&clock))
        .hooks(&hooks);
    let run = || {
        let op = ScriptedOperation::new()
            .fail(ErrorClass::Transient)
            .fail(ErrorClass::Transient)
            .succeed(1_u32);
        // Only the call is measured, not building the script.
        let mut value = None;
        let stats = allocation_counter::measure(|| value = Some(site.call(|| op.call()).unwrap()));
        (value.unwrap(), stats)
    };
    let _ = run();
    let (value, stats) = run();
    assert_eq!(value, 1);
    assert_eq!(
        (stats.count_total, stats.count_current),
        (0, 0),
        "a call with metrics hooks allocated: {stats:?}"
    );
    assert_eq!(clock.now(), Duration::from_millis(40));
}
