//! A scripted circuit breaker that records what it was asked.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redress_core::breaker::{Admission, CallResult, Rejected, Transition};
use redress_core::{Breaker, CircuitState, ErrorClass};

/// What a [`FakeBreaker`] answers when a call asks to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerDecision {
    /// Run the call (the state is unchanged).
    Admit,
    /// Run the call as the half-open probe: the state becomes half-open
    /// and the engine reports `circuit_half_open`.
    Probe,
    /// Reject the call as an open breaker would, reporting `retry_in`
    /// (`None`, or zero, reports no wait); the state becomes open.
    Reject {
        /// The wait the rejection reports.
        retry_in: Option<Duration>,
    },
    /// Reject the call as a half-open breaker whose probe is in flight;
    /// the state becomes half-open.
    RejectProbeInFlight,
}

/// One outcome a [`FakeBreaker`] was told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerRecord {
    /// How the call ended.
    pub result: CallResult,
    /// Whether the call was the half-open probe.
    pub probe: bool,
    /// When it was recorded (the runner's clock).
    pub now: Duration,
    /// The transition the fake answered with.
    pub transition: Option<Transition>,
}

/// A [`Breaker`] whose admissions are scripted and whose every call is
/// recorded: for testing how code behaves when the circuit opens, without
/// driving a real breaker through its thresholds.
///
/// It admits every call unless told otherwise. Scripted decisions are used
/// in order ([`then_reject`](Self::then_reject), [`then_probe`](Self::then_probe),
/// ...); when they run out, the [`otherwise`](Self::otherwise) decision
/// applies (admit, by default). Recorded outcomes move it like a real
/// breaker's probe does: the probe's success closes it, its failure opens
/// it; with [`trip_on_failure`](Self::trip_on_failure), any failure while
/// closed opens it too.
///
/// Share it with the policy through an `Arc` and keep a clone to inspect.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use redress_core::{CircuitState, ErrorClass, Policy, StopReason};
/// use redress_sync::BlockingPolicy;
/// use redress_testing::{instant_retries, FakeBreaker, ScriptedClassifier, ScriptedOperation};
///
/// let breaker = Arc::new(FakeBreaker::new().then_reject_for(Duration::from_secs(30)).then_probe());
/// let policy = Policy::builder()
///     .classifier(ScriptedClassifier)
///     .strategy(instant_retries())
///     .circuit_breaker(Arc::clone(&breaker))
///     .build()?;
/// let op = ScriptedOperation::new().succeed(());
///
/// let rejected = policy.call(|| op.call()).unwrap_err();
/// assert_eq!(rejected.stop_reason, StopReason::CircuitOpen);
/// assert_eq!(rejected.next_delay, Some(Duration::from_secs(30)));
/// assert_eq!(op.calls(), 0); // a rejected call never runs
///
/// policy.call(|| op.call()).unwrap(); // the probe succeeds
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// assert_eq!(breaker.acquire_count(), 2);
/// assert_eq!(breaker.successes(), 1);
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct FakeBreaker {
    inner: Mutex<FakeState>,
}

#[derive(Debug)]
struct FakeState {
    state: CircuitState,
    script: VecDeque<BreakerDecision>,
    otherwise: BreakerDecision,
    trip_on_failure: bool,
    acquires: Vec<Duration>,
    records: Vec<BreakerRecord>,
}

impl Default for FakeBreaker {
    fn default() -> Self {
        FakeBreaker::new()
    }
}

impl FakeBreaker {
    /// A closed breaker that admits every call.
    pub fn new() -> Self {
        FakeBreaker {
            inner: Mutex::new(FakeState {
                state: CircuitState::Closed,
                script: VecDeque::new(),
                otherwise: BreakerDecision::Admit,
                trip_on_failure: false,
                acquires: Vec::new(),
                records: Vec::new(),
            }),
        }
    }

    /// Starts in `state` (what [`Breaker::state`] reports until a decision
    /// or a record changes it).
    #[must_use]
    pub fn with_state(self, state: CircuitState) -> Self {
        self.set_state(state);
        self
    }

    /// Adds a decision to the script.
    #[must_use]
    pub fn then(self, decision: BreakerDecision) -> Self {
        self.push_decision(decision);
        self
    }

    /// Adds an admission to the script.
    #[must_use]
    pub fn then_admit(self) -> Self {
        self.then(BreakerDecision::Admit)
    }

    /// Adds a half-open probe admission to the script.
    #[must_use]
    pub fn then_probe(self) -> Self {
        self.then(BreakerDecision::Probe)
    }

    /// Adds a rejection reporting no wait to the script.
    #[must_use]
    pub fn then_reject(self) -> Self {
        self.then(BreakerDecision::Reject { retry_in: None })
    }

    /// Adds a rejection reporting a wait of `retry_in` to the script.
    #[must_use]
    pub fn then_reject_for(self, retry_in: Duration) -> Self {
        self.then(BreakerDecision::Reject {
            retry_in: Some(retry_in),
        })
    }

    /// The decision once the script runs out (default: admit).
    ///
    /// ```
    /// use redress_core::{Breaker, CircuitState};
    /// use redress_testing::{BreakerDecision, FakeBreaker};
    ///
    /// let open = FakeBreaker::new().otherwise(BreakerDecision::Reject { retry_in: None });
    /// assert!(open.acquire(std::time::Duration::ZERO).is_err());
    /// assert_eq!(open.state(), CircuitState::Open);
    /// ```
    #[must_use]
    pub fn otherwise(self, decision: BreakerDecision) -> Self {
        self.lock().otherwise = decision;
        self
    }

    /// Any failure recorded while closed opens the breaker (as a real one
    /// does at its threshold), reporting `circuit_opened`.
    #[must_use]
    pub fn trip_on_failure(self) -> Self {
        self.lock().trip_on_failure = true;
        self
    }

    /// Adds a decision to the script of a breaker already shared.
    pub fn push_decision(&self, decision: BreakerDecision) {
        self.lock().script.push_back(decision);
    }

    /// Sets the state of a breaker already shared.
    pub fn set_state(&self, state: CircuitState) {
        self.lock().state = state;
    }

    /// The state it reports (the same as [`Breaker::state`]).
    pub fn state(&self) -> CircuitState {
        self.lock().state
    }

    /// The times at which calls asked to run, in order.
    pub fn acquires(&self) -> Vec<Duration> {
        self.lock().acquires.clone()
    }

    /// How many calls asked to run.
    pub fn acquire_count(&self) -> usize {
        self.lock().acquires.len()
    }

    /// Every outcome recorded, in order.
    pub fn records(&self) -> Vec<BreakerRecord> {
        self.lock().records.clone()
    }

    /// The recorded results, in order.
    pub fn results(&self) -> Vec<CallResult> {
        self.lock().records.iter().map(|r| r.result).collect()
    }

    /// How many successes were recorded.
    pub fn successes(&self) -> usize {
        self.count(|r| r == CallResult::Success)
    }

    /// The classes of the recorded failures, in order.
    pub fn failures(&self) -> Vec<ErrorClass> {
        self.lock()
            .records
            .iter()
            .filter_map(|r| match r.result {
                CallResult::Failure(class) => Some(class),
                _ => None,
            })
            .collect()
    }

    /// How many cancelled (or aborted) calls were recorded.
    pub fn cancellations(&self) -> usize {
        self.count(|r| r == CallResult::Cancelled)
    }

    /// Forgets the recorded calls (the script and state stay).
    pub fn clear_records(&self) {
        let mut inner = self.lock();
        inner.acquires.clear();
        inner.records.clear();
    }

    fn count(&self, f: impl Fn(CallResult) -> bool) -> usize {
        self.lock().records.iter().filter(|r| f(r.result)).count()
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Breaker for FakeBreaker {
    fn acquire(&self, now: Duration) -> Result<Admission, Rejected> {
        let mut inner = self.lock();
        inner.acquires.push(now);
        let decision = inner.script.pop_front().unwrap_or(inner.otherwise);
        let (state, answer) = match decision {
            BreakerDecision::Admit => (inner.state, Ok(Admission::normal())),
            BreakerDecision::Probe => (
                CircuitState::HalfOpen,
                Ok(Admission::probe(Some(Transition::new(
                    CircuitState::HalfOpen,
                    None,
                )))),
            ),
            BreakerDecision::Reject { retry_in } => (
                CircuitState::Open,
                Err(Rejected::new(CircuitState::Open, retry_in)),
            ),
            BreakerDecision::RejectProbeInFlight => (
                CircuitState::HalfOpen,
                Err(Rejected::new(CircuitState::HalfOpen, None)),
            ),
        };
        inner.state = state;
        answer
    }

    fn record(
        &self,
        admission: &Admission,
        result: CallResult,
        now: Duration,
    ) -> Option<Transition> {
        let mut inner = self.lock();
        let transition = match result {
            CallResult::Success if admission.probe && inner.state != CircuitState::Closed => {
                inner.state = CircuitState::Closed;
                Some(Transition::new(CircuitState::Closed, None))
            }
            CallResult::Failure(class)
                if inner.state != CircuitState::Open
                    && (admission.probe
                        || (inner.trip_on_failure && inner.state == CircuitState::Closed)) =>
            {
                inner.state = CircuitState::Open;
                Some(Transition::new(CircuitState::Open, Some(class)))
            }
            _ => None,
        };
        inner.records.push(BreakerRecord {
            result,
            probe: admission.probe,
            now,
            transition,
        });
        transition
    }

    fn state(&self) -> CircuitState {
        FakeBreaker::state(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn decisions_follow_the_script_then_the_default() {
        let b = FakeBreaker::new()
            .then_reject()
            .then(BreakerDecision::RejectProbeInFlight)
            .then_probe();
        let r = b.acquire(Duration::from_secs(1)).unwrap_err();
        assert_eq!((r.state, r.retry_in), (CircuitState::Open, None));
        let r = b.acquire(Duration::from_secs(2)).unwrap_err();
        assert_eq!(r.state, CircuitState::HalfOpen);
        let probe = b.acquire(Duration::from_secs(3)).unwrap();
        assert!(probe.probe);
        assert_eq!(probe.transition.map(|t| t.to), Some(CircuitState::HalfOpen));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        let t = b.record(
            &probe,
            CallResult::Failure(ErrorClass::ServerError),
            Duration::from_secs(4),
        );
        assert_eq!(
            t.map(|t| (t.to, t.class)),
            Some((CircuitState::Open, Some(ErrorClass::ServerError)))
        );
        assert_eq!(b.state(), CircuitState::Open);
        // Script done: admit (the state stays as it was).
        let normal = b.acquire(Duration::from_secs(5)).unwrap();
        assert!(!normal.probe);
        assert_eq!(
            b.record(&normal, CallResult::Cancelled, Duration::from_secs(5)),
            None
        );
        assert_eq!(b.acquire_count(), 4);
        assert_eq!(b.failures(), [ErrorClass::ServerError]);
        assert_eq!(b.cancellations(), 1);
        assert_eq!(b.records()[0].now, Duration::from_secs(4));
        b.clear_records();
        assert!(b.acquires().is_empty() && b.results().is_empty());
    }

    #[test]
    fn trip_on_failure_opens_a_closed_breaker_once() {
        let b = FakeBreaker::new().trip_on_failure();
        let a = b.acquire(Duration::ZERO).unwrap();
        let failure = CallResult::Failure(ErrorClass::Transient);
        assert_eq!(
            b.record(&a, failure, Duration::ZERO).map(|t| t.to),
            Some(CircuitState::Open)
        );
        assert_eq!(b.record(&a, failure, Duration::ZERO), None);
        // Without the flag, a closed breaker ignores failures.
        let b = FakeBreaker::default();
        let a = b.acquire(Duration::ZERO).unwrap();
        assert_eq!(b.record(&a, failure, Duration::ZERO), None);
        assert_eq!(b.state(), CircuitState::Closed);
    }
}
