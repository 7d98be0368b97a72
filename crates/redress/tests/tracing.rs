//! With the `tracing` feature, each call is a `redress.call` span and each
//! decision an event with structured fields.

#![cfg(all(feature = "tracing", feature = "sync", feature = "tokio"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;
use redress::{ErrorClass, ManualClock, Policy, StopReason};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Debug, PartialEq)]
struct Captured {
    level: Level,
    span: Option<String>,
    fields: BTreeMap<String, String>,
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

/// Each span's name and fields.
type Spans = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;

#[derive(Clone, Default)]
struct Capture {
    events: Arc<Mutex<Vec<Captured>>>,
    spans: Spans,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        self.spans
            .lock()
            .unwrap()
            .push((attrs.metadata().name().to_string(), fields.0));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "redress" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = ctx.event_span(event).map(|s| s.name().to_string());
        self.events.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            span,
            fields: fields.0,
        });
    }
}

#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reset")
    }
}

impl std::error::Error for Reset {}

#[test]
fn a_failing_then_succeeding_call_is_one_span_with_its_events() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let policy = Policy::builder()
        .classifier(|_: &Reset| ErrorClass::Transient)
        .strategy(constant(Duration::from_millis(250)))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let site = policy
        .operation("fetch_user")
        .clock(&clock)
        .sleeper(|d| clock.advance(d));

    let mut tries = 0;
    let value = tracing::subscriber::with_default(subscriber, || {
        site.call(|| {
            tries += 1;
            tracing::info!(target: "app", tries, "inside the operation");
            if tries < 3 { Err(Reset) } else { Ok(tries) }
        })
    })
    .unwrap();
    assert_eq!(value, 3);

    let spans = capture.spans.lock().unwrap().clone();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].0, "redress.call");
    assert_eq!(spans[0].1["operation"], "fetch_user");

    let events = capture.events.lock().unwrap().clone();
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.level,
                e.fields["event"].as_str(),
                e.fields["attempt"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Level::DEBUG, "retry", "1"),
            (Level::DEBUG, "retry", "2"),
            (Level::DEBUG, "success", "3"),
        ]
    );
    let first = &events[0];
    assert_eq!(first.span.as_deref(), Some("redress.call"));
    assert_eq!(first.fields["class"], "TRANSIENT");
    assert_eq!(first.fields["err"], "Reset");
    assert_eq!(first.fields["cause"], "exception");
    assert_eq!(first.fields["delay_s"], "0.25");
    assert_eq!(events[2].fields["elapsed_s"], "0.5");
    // Unset fields are left out, not recorded as empty.
    assert!(!events[2].fields.contains_key("class"));
}

#[test]
fn giving_up_is_a_warning_with_the_stop_reason() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let policy = Policy::builder()
        .classifier(|_: &Reset| ErrorClass::Transient)
        .strategy(constant(Duration::ZERO))
        .max_attempts(2)
        .build()
        .unwrap();
    let err = tracing::subscriber::with_default(subscriber, || {
        policy.bind().sleeper(|_| {}).call(|| Err::<(), _>(Reset))
    })
    .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    let events = capture.events.lock().unwrap().clone();
    let last = events.last().unwrap();
    assert_eq!(last.level, Level::WARN);
    assert_eq!(last.fields["event"], "max_attempts_exceeded");
    assert_eq!(last.fields["stop_reason"], "MAX_ATTEMPTS_GLOBAL");
    // With no subscriber at all, nothing is recorded and nothing breaks.
    assert!(
        policy
            .bind()
            .sleeper(|_| {})
            .call(|| Ok::<_, Reset>(1))
            .is_ok()
    );
}

#[test]
fn messages_are_words_hints_are_fields_and_seconds_are_clean() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let policy = Policy::builder()
        .classifier(|_: &Reset| {
            redress::Classification::new(ErrorClass::RateLimit)
                .with_retry_after(Duration::from_millis(1500))
        })
        .strategy(redress::backoff::retry_after_or(constant(Duration::ZERO)).jitter(Duration::ZERO))
        .max_attempts(2)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let site = policy.bind().clock(&clock).sleeper(|d| clock.advance(d));
    let _ = tracing::subscriber::with_default(subscriber, || {
        site.call(|| {
            // An attempt that takes a time no float prints cleanly.
            clock.advance(Duration::from_nanos(250_013_374));
            Err::<(), _>(Reset)
        })
    });
    let events = capture.events.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:?}");
    let retry = &events[0];
    // The message says what happened; the name is the `event` field.
    assert_eq!(retry.fields["message"], "attempt failed, retrying");
    assert_eq!(retry.fields["event"], "retry");
    assert_eq!(retry.fields["retry_after_s"], "1.5");
    assert_eq!(retry.fields["delay_s"], "1.5");
    assert_eq!(retry.fields["elapsed_s"], "0.250013");
    let give_up = &events[1];
    assert_eq!(give_up.fields["message"], "gave up: attempt cap reached");
    assert_eq!(give_up.fields["elapsed_s"], "2.000026");
    // The hint belongs to the retry, not to the give-up.
    assert!(!give_up.fields.contains_key("retry_after_s"));
}

#[tokio::test(start_paused = true)]
async fn async_calls_are_instrumented_with_the_same_span() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let policy = Policy::builder()
        .classifier(|_: &Reset| ErrorClass::Transient)
        .strategy(constant(Duration::from_millis(100)))
        .build()
        .unwrap();
    let mut tries = 0;
    let value = policy
        .operation("sync_orders")
        .call_async(|| {
            tries += 1;
            let n = tries;
            async move { if n < 2 { Err(Reset) } else { Ok(n) } }
        })
        .await
        .unwrap();
    assert_eq!(value, 2);
    let spans = capture.spans.lock().unwrap().clone();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].1["operation"], "sync_orders");
    let events = capture.events.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.span.as_deref() == Some("redress.call"))
    );
    assert_eq!(events[0].fields["delay_s"], "0.1");
}
