//! Metrics for [redress] through the [`metrics`] facade.
//!
//! [`MetricsHooks`] turns every event of every call into counters,
//! histograms and a gauge, recorded with whatever [`metrics`] recorder the
//! program installed: `metrics-exporter-prometheus` for a Prometheus scrape
//! endpoint, `metrics-exporter-dogstatsd` for StatsD and Datadog, a recorder
//! bridging `metrics` to OpenTelemetry for OTLP. Names and units
//! follow the Prometheus conventions (`_total` counters, base units in
//! seconds).
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `redress_events_total` | counter | `event`, `class`, `stop_reason`, `operation` | every event the engine emits |
//! | `redress_calls_total` | counter | `outcome`, `stop_reason`, `operation` | finished calls, by how they ended (from `on_call_end`: cancelled calls included) |
//! | `redress_call_attempts` | histogram | `outcome`, `operation` | attempts per finished call (calls that made at least one) |
//! | `redress_call_duration_seconds` | histogram | `outcome`, `operation` | time per finished call, sleeps included (calls that made at least one attempt) |
//! | `redress_retry_delay_seconds` | histogram | `class`, `operation` | the delay before each retry |
//! | `redress_circuit_state` | gauge | `circuit` | 0 closed, 1 half-open, 2 open; set on breaker events |
//!
//! A label is left out when the event has no value for it (a `success` has
//! no `class`; a call site without a name has no `operation`); Prometheus
//! treats a missing label like an empty one. Every value is one of a fixed
//! set (see [`names`] and the tag table of `docs/observability.md`) except
//! the operation, which is the name you give each call site: keep it to one
//! name per call site, never an id or a URL.
//!
//! ```
//! use std::time::Duration;
//! use redress_core::{backoff::decorrelated_jitter, Policy};
//! use redress_metrics::MetricsHooks;
//! use redress_sync::BlockingPolicy;
//!
//! // One set of hooks for the whole program; it caches a handle per series.
//! static METRICS: MetricsHooks = MetricsHooks::new();
//!
//! // Install the recorder first, e.g.:
//! // metrics_exporter_prometheus::PrometheusBuilder::new().install()?;
//!
//! let policy = Policy::builder().strategy(decorrelated_jitter().max(Duration::from_secs(5))).build()?;
//! let fetch_user = policy.bind().operation("fetch_user").hooks(&METRICS);
//! let user = fetch_user.call(|| Ok::<_, std::io::Error>("ada"))?;
//! # assert_eq!(user, "ada");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Cost
//!
//! Each series is registered with the recorder once, on its first event,
//! and its handle is cached; after that an event costs a read lock, a few
//! map lookups and the recorder's own update, and allocates nothing. So
//! install the recorder *before* the first call: as with any `metrics`
//! handle, a series registered while no recorder was installed stays a
//! no-op.
//!
//! [redress]: https://docs.rs/redress

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Unit};
use redress_core::{
    CallEnd, CallStatus, CircuitState, ErrorClass, Event, EventKind, Hooks, StopReason,
};

/// The metric and label names.
pub mod names {
    /// Counter: every event, labelled `event`, `class`, `stop_reason`,
    /// `operation`.
    pub const EVENTS_TOTAL: &str = "redress_events_total";
    /// Counter: finished calls, labelled `outcome`, `stop_reason`,
    /// `operation`.
    pub const CALLS_TOTAL: &str = "redress_calls_total";
    /// Histogram: attempts per finished call, labelled `outcome`,
    /// `operation`.
    pub const CALL_ATTEMPTS: &str = "redress_call_attempts";
    /// Histogram: seconds per finished call, labelled `outcome`,
    /// `operation`.
    pub const CALL_DURATION_SECONDS: &str = "redress_call_duration_seconds";
    /// Histogram: seconds of delay before each retry, labelled `class`,
    /// `operation`.
    pub const RETRY_DELAY_SECONDS: &str = "redress_retry_delay_seconds";
    /// Gauge: the breaker state (0 closed, 1 half-open, 2 open), labelled
    /// `circuit`.
    pub const CIRCUIT_STATE: &str = "redress_circuit_state";

    /// Label: the event name (`retry`, `success`, ...).
    pub const EVENT: &str = "event";
    /// Label: the error class (`RATE_LIMIT`, ...).
    pub const CLASS: &str = "class";
    /// Label: the stop reason (`MAX_ATTEMPTS_GLOBAL`, ...).
    pub const STOP_REASON: &str = "stop_reason";
    /// Label: the call site's name.
    pub const OPERATION: &str = "operation";
    /// Label: how a call ended (see [`CallOutcome`](crate::CallOutcome)).
    pub const OUTCOME: &str = "outcome";
    /// Label: the breaker's name (see [`MetricsHooks::circuit`](crate::MetricsHooks::circuit)).
    pub const CIRCUIT: &str = "circuit";
}

static METADATA: Metadata<'static> = Metadata::new("redress", Level::INFO, Some(module_path!()));

/// How a finished call ended: the `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CallOutcome {
    /// An attempt succeeded.
    Success,
    /// The policy stopped the call after a failure (attempt caps, deadline,
    /// a non-retryable class, no strategy, the budget).
    Failure,
    /// The sleep hook deferred the retry to the caller.
    Scheduled,
    /// The call was aborted.
    Aborted,
    /// The circuit breaker rejected the call.
    Rejected,
    /// The call was dropped before it ended (its future dropped).
    Cancelled,
}

impl CallOutcome {
    /// `"success"`, `"failure"`, `"scheduled"`, `"aborted"`, `"rejected"`
    /// or `"cancelled"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Success => "success",
            CallOutcome::Failure => "failure",
            CallOutcome::Scheduled => "scheduled",
            CallOutcome::Aborted => "aborted",
            CallOutcome::Rejected => "rejected",
            CallOutcome::Cancelled => "cancelled",
        }
    }

    /// The outcome label of a call that ended as `end` says.
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::{CallEnd, CallStatus, StopReason};
    /// use redress_metrics::CallOutcome;
    ///
    /// let of = |status| CallOutcome::of(&CallEnd::new(status, 1, Duration::ZERO));
    /// assert_eq!(of(CallStatus::Succeeded), CallOutcome::Success);
    /// assert_eq!(of(CallStatus::Stopped(StopReason::DeadlineExceeded)), CallOutcome::Failure);
    /// assert_eq!(of(CallStatus::Stopped(StopReason::CircuitOpen)), CallOutcome::Rejected);
    /// assert_eq!(of(CallStatus::Cancelled), CallOutcome::Cancelled);
    /// ```
    pub fn of(end: &CallEnd<'_>) -> CallOutcome {
        match end.status {
            CallStatus::Succeeded => CallOutcome::Success,
            CallStatus::Stopped(StopReason::CircuitOpen) => CallOutcome::Rejected,
            CallStatus::Stopped(StopReason::Scheduled) => CallOutcome::Scheduled,
            CallStatus::Stopped(StopReason::Aborted) => CallOutcome::Aborted,
            CallStatus::Cancelled => CallOutcome::Cancelled,
            _ => CallOutcome::Failure,
        }
    }
}

impl fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of `redress_circuit_state` for `state`: 0 closed, 1
/// half-open, 2 open.
pub const fn circuit_state_value(state: CircuitState) -> f64 {
    match state {
        CircuitState::Closed => 0.0,
        CircuitState::HalfOpen => 1.0,
        CircuitState::Open => 2.0,
    }
}

/// Describes the metrics (type, unit, help text) to the current recorder.
/// [`MetricsHooks`] does it by itself before registering its first series;
/// call it yourself to have the descriptions before any call ran.
pub fn describe_metrics() {
    metrics::with_recorder(|r| {
        r.describe_counter(
            names::EVENTS_TOTAL.into(),
            Some(Unit::Count),
            "Retry events emitted by redress, by event, class, stop reason and operation.".into(),
        );
        r.describe_counter(
            names::CALLS_TOTAL.into(),
            Some(Unit::Count),
            "Calls finished by redress, by outcome, stop reason and operation.".into(),
        );
        r.describe_histogram(
            names::CALL_ATTEMPTS.into(),
            Some(Unit::Count),
            "Attempts made per finished call.".into(),
        );
        r.describe_histogram(
            names::CALL_DURATION_SECONDS.into(),
            Some(Unit::Seconds),
            "Time per finished call, attempts and sleeps included.".into(),
        );
        r.describe_histogram(
            names::RETRY_DELAY_SECONDS.into(),
            Some(Unit::Seconds),
            "Delay before each retry.".into(),
        );
        r.describe_gauge(
            names::CIRCUIT_STATE.into(),
            None,
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.".into(),
        );
    });
}

/// One series of one metric, apart from its operation (or circuit) label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    /// `redress_events_total{event, class, stop_reason}`.
    Event(&'static str, Option<&'static str>, Option<&'static str>),
    /// `redress_calls_total{outcome, stop_reason}`.
    Call(&'static str, Option<&'static str>),
    /// `redress_call_attempts{outcome}`.
    Attempts(&'static str),
    /// `redress_call_duration_seconds{outcome}`.
    Duration(&'static str),
    /// `redress_retry_delay_seconds{class}`.
    Delay(Option<&'static str>),
    /// `redress_circuit_state` (labelled by circuit, not operation).
    Circuit,
}

#[derive(Clone)]
enum Handle {
    Counter(Counter),
    Histogram(Histogram),
    Gauge(Gauge),
}

impl Slot {
    fn register(self, scope: Option<&str>) -> Handle {
        let mut labels: Vec<Label> = Vec::with_capacity(4);
        let mut push = |key: &'static str, value: Option<&'static str>| {
            if let Some(value) = value {
                labels.push(Label::from_static_parts(key, value));
            }
        };
        let name = match self {
            Slot::Event(event, class, stop) => {
                push(names::EVENT, Some(event));
                push(names::CLASS, class);
                push(names::STOP_REASON, stop);
                names::EVENTS_TOTAL
            }
            Slot::Call(outcome, stop) => {
                push(names::OUTCOME, Some(outcome));
                push(names::STOP_REASON, stop);
                names::CALLS_TOTAL
            }
            Slot::Attempts(outcome) => {
                push(names::OUTCOME, Some(outcome));
                names::CALL_ATTEMPTS
            }
            Slot::Duration(outcome) => {
                push(names::OUTCOME, Some(outcome));
                names::CALL_DURATION_SECONDS
            }
            Slot::Delay(class) => {
                push(names::CLASS, class);
                names::RETRY_DELAY_SECONDS
            }
            Slot::Circuit => names::CIRCUIT_STATE,
        };
        if let Some(scope) = scope {
            let key = match self {
                Slot::Circuit => names::CIRCUIT,
                _ => names::OPERATION,
            };
            labels.push(Label::new(key, scope.to_owned()));
        }
        let key = Key::from_parts(name, labels);
        metrics::with_recorder(|r| match self {
            Slot::Event(..) | Slot::Call(..) => {
                Handle::Counter(r.register_counter(&key, &METADATA))
            }
            Slot::Attempts(_) | Slot::Duration(_) | Slot::Delay(_) => {
                Handle::Histogram(r.register_histogram(&key, &METADATA))
            }
            Slot::Circuit => Handle::Gauge(r.register_gauge(&key, &METADATA)),
        })
    }
}

type Series = BTreeMap<Slot, Handle>;

/// The handles registered so far, by operation (or circuit) name.
struct Cache {
    described: bool,
    unnamed: Series,
    named: BTreeMap<Box<str>, Series>,
}

impl Cache {
    fn get(&self, scope: Option<&str>, slot: Slot) -> Option<&Handle> {
        match scope {
            None => self.unnamed.get(&slot),
            Some(name) => self.named.get(name)?.get(&slot),
        }
    }

    fn get_or_register(&mut self, scope: Option<&str>, slot: Slot) -> &Handle {
        if !self.described {
            self.described = true;
            describe_metrics();
        }
        let series = match scope {
            None => &mut self.unnamed,
            Some(name) => self.named.entry(Box::from(name)).or_default(),
        };
        series.entry(slot).or_insert_with(|| slot.register(scope))
    }

    fn len(&self) -> usize {
        self.named
            .values()
            .map(BTreeMap::len)
            .fold(self.unnamed.len(), usize::saturating_add)
    }
}

/// [`Hooks`] that record every event through the [`metrics`] facade (see
/// the [crate docs](crate) for the metrics and labels).
///
/// One value can serve every call site of a program: the operation label
/// comes from each event. It is `Sync`, so share it by reference (a
/// `static` is simplest, [`new`](Self::new) is `const`).
///
/// ```
/// use redress_core::{Hooks, Event, EventKind};
/// use redress_metrics::MetricsHooks;
///
/// let hooks = MetricsHooks::new().circuit("payments-api");
/// hooks.on_event(&Event::new(EventKind::Success, 1)); // recorded by the installed recorder
/// assert_eq!(hooks.circuit_name(), Some("payments-api"));
/// ```
pub struct MetricsHooks {
    circuit: Option<Cow<'static, str>>,
    cache: RwLock<Cache>,
}

impl fmt::Debug for MetricsHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsHooks")
            .field("circuit", &self.circuit)
            .field("cached_series", &self.read().len())
            .finish()
    }
}

impl Default for MetricsHooks {
    fn default() -> Self {
        MetricsHooks::new()
    }
}

impl MetricsHooks {
    /// Hooks with nothing registered yet; the breaker gauge is labelled
    /// with the operation name.
    pub const fn new() -> Self {
        MetricsHooks {
            circuit: None,
            cache: RwLock::new(Cache {
                described: false,
                unnamed: BTreeMap::new(),
                named: BTreeMap::new(),
            }),
        }
    }

    /// Labels `redress_circuit_state` with `name` instead of the operation
    /// name. A breaker shared by several call sites is one circuit: give
    /// each of their hooks the same name, so its state is one series that
    /// every transition updates, whichever call caused it.
    #[must_use]
    pub fn circuit(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.circuit = Some(name.into());
        self
    }

    /// The circuit name set with [`circuit`](Self::circuit).
    pub fn circuit_name(&self) -> Option<&str> {
        self.circuit.as_deref()
    }

    fn read(&self) -> RwLockReadGuard<'_, Cache> {
        // A panic while registering leaves the cache usable.
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the handle of `slot` in `scope`, registering it first if
    /// needed.
    fn with_handle(&self, scope: Option<&str>, slot: Slot, f: impl FnOnce(&Handle)) {
        {
            let cache = self.read();
            if let Some(handle) = cache.get(scope, slot) {
                f(handle);
                return;
            }
        }
        let mut cache = self.write();
        f(cache.get_or_register(scope, slot));
    }

    fn count(&self, scope: Option<&str>, slot: Slot) {
        self.with_handle(scope, slot, |h| {
            if let Handle::Counter(c) = h {
                c.increment(1);
            }
        });
    }

    fn observe(&self, scope: Option<&str>, slot: Slot, value: f64) {
        self.with_handle(scope, slot, |h| {
            if let Handle::Histogram(hist) = h {
                hist.record(value);
            }
        });
    }

    fn set(&self, scope: Option<&str>, slot: Slot, value: f64) {
        self.with_handle(scope, slot, |h| {
            if let Handle::Gauge(g) = h {
                g.set(value);
            }
        });
    }
}

impl Hooks for MetricsHooks {
    const SLEEP_HOOKS: bool = false;

    fn on_event(&self, event: &Event<'_>) {
        let operation = event.operation;
        let class = event.class.map(ErrorClass::name);
        let stop = event.stop_reason.map(StopReason::as_str);
        self.count(operation, Slot::Event(event.kind.as_str(), class, stop));

        if event.kind == EventKind::Retry {
            self.observe(operation, Slot::Delay(class), event.delay.as_secs_f64());
        }

        if event.kind.is_breaker_event() {
            if let Some(state) = event.state {
                let circuit = self.circuit.as_deref().or(operation);
                self.set(circuit, Slot::Circuit, circuit_state_value(state));
            }
        }
    }

    fn on_call_end(&self, end: &CallEnd<'_>) {
        let operation = end.operation;
        let outcome = CallOutcome::of(end).as_str();
        let stop = end.stop_reason().map(StopReason::as_str);
        self.count(operation, Slot::Call(outcome, stop));
        if end.attempts > 0 {
            self.observe(operation, Slot::Attempts(outcome), f64::from(end.attempts));
            self.observe(
                operation,
                Slot::Duration(outcome),
                end.elapsed.as_secs_f64(),
            );
        }
    }
}
