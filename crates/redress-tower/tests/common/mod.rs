//! What the tower tests share: policies, a sleeper that shrinks backoffs,
//! and an event recorder.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redress_core::backoff::{constant, retry_after_or};
use redress_core::{AttemptEnd, ErrorClass, Event, EventKind, Policy, PolicyBuilder};

/// The fallback delay: large, so a test that sees it knows no hint was used.
pub const FALLBACK: Duration = Duration::from_secs(30);

/// The attempt timeout of the tests that need one: long enough for a
/// loopback answer on a busy machine, short enough to wait for.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

/// A policy for HTTP calls: rate limits wait for the server's hint (no
/// jitter, so the delay is the hint exactly), everything else `FALLBACK`.
pub fn policy_builder()
-> PolicyBuilder<redress_tower::TransportClassifier, redress_http::ResponseClassifier> {
    Policy::builder()
        .classifier(redress_tower::classifier())
        .result_classifier(redress_http::response_classifier())
        .strategy(constant(FALLBACK))
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(constant(FALLBACK)).jitter(Duration::ZERO),
        )
        .max_attempts(5)
}

/// A sleeper that sleeps a millisecond for a backoff (1 s to `FALLBACK`):
/// real sockets rule out paused time, and the tests check the delay
/// decided, not the time spent. Other sleeps are the timers of attempt
/// time limits, slept for real.
pub fn sleeper() -> impl Fn(Duration) -> tokio::time::Sleep + Clone + Send + Sync + 'static {
    |d| {
        let backoff = d >= Duration::from_secs(1) && d <= FALLBACK;
        tokio::time::sleep(if backoff { Duration::from_millis(1) } else { d })
    }
}

/// An event's kind, class, `err` tag, delay and operation.
pub type SeenEvent = (
    EventKind,
    Option<ErrorClass>,
    Option<&'static str>,
    Duration,
    Option<String>,
);

/// The details of one attempt's failure.
pub type Details = Vec<(&'static str, &'static str)>;

/// What a test saw: the events (with the delays the engine decided) and
/// the details of each attempt's failure.
#[derive(Clone, Default)]
pub struct Seen {
    events: Arc<Mutex<Vec<SeenEvent>>>,
    details: Arc<Mutex<Vec<Details>>>,
}

impl Seen {
    /// An event hook that records here.
    pub fn on_event(&self) -> impl Fn(&Event<'_>) + Clone + Send + Sync + 'static + use<> {
        let events = Arc::clone(&self.events);
        move |e| {
            events.lock().unwrap().push((
                e.kind,
                e.class,
                e.error_type,
                e.delay,
                e.operation.map(str::to_owned),
            ));
        }
    }

    /// An attempt-end hook that records the failure's details here.
    pub fn on_attempt_end(
        &self,
    ) -> impl Fn(&AttemptEnd<'_>) + Clone + Send + Sync + 'static + use<> {
        let details = Arc::clone(&self.details);
        move |end| {
            let seen = end
                .classification
                .map(|c| c.details.iter().collect())
                .unwrap_or_default();
            details.lock().unwrap().push(seen);
        }
    }

    /// `(class, err tag, delay)` of every retry.
    pub fn retries(&self) -> Vec<(Option<ErrorClass>, Option<&'static str>, Duration)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.0 == EventKind::Retry)
            .map(|e| (e.1, e.2, e.3))
            .collect()
    }

    pub fn kinds(&self) -> Vec<EventKind> {
        self.events.lock().unwrap().iter().map(|e| e.0).collect()
    }

    pub fn last(&self) -> SeenEvent {
        self.events.lock().unwrap().last().cloned().unwrap()
    }

    pub fn details(&self) -> Vec<Details> {
        self.details.lock().unwrap().clone()
    }
}
