//! The circuit breaker: stop calling a dependency that keeps failing.
//!
//! A breaker sees one outcome per call, after the call's retries, not one per
//! attempt. While **closed** it counts failures of the classes in `trip_on`
//! (by default `TRANSIENT` and `SERVER_ERROR`, plus every class given its own
//! threshold) over a rolling `window`; at `failure_threshold` failures (or a
//! class's own threshold) it **opens**. An open breaker rejects calls without
//! running them (`CIRCUIT_OPEN`) until `recovery_timeout` has passed; the next
//! call is then the single **half-open** probe. The probe's success closes the
//! breaker, its failure opens it again, and a probe that is cancelled (its
//! call dropped or aborted) frees the slot for the next call.
//!
//! # Cycles
//!
//! Every admission remembers the cycle it was admitted in. A call admitted
//! while closed counts only if the breaker is still in that closed cycle
//! when it ends: once the breaker has opened or been reset since, its
//! failure is ignored, even if the breaker has closed again by then, so a
//! slow call from before an outage never counts toward the next one and a
//! freshly closed breaker starts from zero. Only the probe's result moves a
//! half-open breaker, and only the probe of the current half-open cycle: a
//! call admitted while closed, a cancelled probe or a probe from before a
//! reset resolves nothing. (The reference judges each record by the state at
//! record time, so such calls could close, reopen or count.) Successes of
//! calls admitted while closed change nothing either way.
//!
//! # Concurrency
//!
//! The state, the probe flag and a 61-bit payload live in one `AtomicU64`,
//! changed only by compare-and-swap, so at most one probe is ever in flight
//! and each transition happens (and is reported) exactly once. The payload
//! is the time the breaker opened while open, and otherwise the generation
//! of the current closed or half-open cycle, taken from one of two counters
//! (so every cycle's word is unique). Admitting a call while closed is a
//! single atomic load, whose value the admission keeps as its cycle;
//! recording a success while closed touches nothing; recording a failure
//! checks the cycle and adds to lock-free rolling windows. Nothing
//! allocates.
//!
//! A failure is counted under its cycle's *stamp* (the low 8 bits of the
//! generation, different for consecutive closed cycles) and every count and
//! check looks at the current stamp only. A failure that passed its cycle
//! check just before the cycle ended is therefore never seen by the next
//! one, wherever it lands; entering a closed cycle (a probe's success, a
//! reset) clears the older stamps' counts. The one case left: a failure
//! stalled between its check and its count while the breaker goes through
//! about 256 more closed cycles could land in one with the same stamp.
//!
//! The cost over a breaker without cycles: two more words (the generation
//! counters), touched only when a probe is admitted, the breaker closes or
//! is reset; and a clearing pass over the nine windows (overall and per
//! class, 32 slots each) when a closed cycle begins. The closed hot paths
//! are unchanged: one load to admit, nothing for a success, and for a
//! failure the same load of the state word as before.
//!
//! # Time
//!
//! The opening time lives in the state word, exactly to the nanosecond for
//! readings below 2^61 - 2^54 ns (about 72 years after the clock's epoch),
//! so the recovery timeout is exact there; for later readings, up to
//! `u64::MAX` nanoseconds (about 584 years), it is kept to 1024 ns, rounded
//! up, so the timeout lasts at most 1023 ns longer, never shorter. Later
//! readings saturate at `u64::MAX` ns; a breaker opened there stays open
//! until [`reset`](CircuitBreaker::reset), since no reading can show time
//! passing. Failures are counted in rolling windows with the precision
//! described in `docs/resilience.md`.

use core::fmt;
use core::time::Duration;

use crate::class::{ErrorClass, PerClass};
use crate::event::CircuitState;
use crate::policy::{Component, ConfigError, first_problem};
use crate::time::duration_to_nanos;
use crate::window::{AtomicU64, Counted, Ordering, Window, fence};

const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
const ISOLATED: u64 = 3;
const STATE_MASK: u64 = 0b11;
const PROBE: u64 = 0b100;
const PAYLOAD_SHIFT: u32 = 3;
const PAYLOAD_MAX: u64 = u64::MAX >> PAYLOAD_SHIFT;
/// An open word keeps its opening time in nanoseconds below this reading
/// (2^61 - 2^54 ns, about 72 years after the clock's epoch)...
const EXACT_BELOW: u64 = (1 << 61) - (1 << 54);
/// ...and in grains of `1 << GRAIN_SHIFT` (1024) ns from there on, so the 61
/// bits hold every `u64` reading: the last one, `u64::MAX`, rounds up to
/// `EXACT_BELOW + (2^54 - 2^51 + 2^44) × 1024`, still below `PAYLOAD_MAX`.
const GRAIN_SHIFT: u32 = 10;
const _: () = assert!(
    EXACT_BELOW + (u64::MAX - EXACT_BELOW).div_ceil(1 << GRAIN_SHIFT) < PAYLOAD_MAX,
    "every reading's opening time fits the payload"
);

/// A word: the state, the probe flag and 61 bits of payload (a generation
/// while closed or half-open, the opening time while open).
#[inline]
fn pack(state: u64, probe: bool, payload: u64) -> u64 {
    (payload.min(PAYLOAD_MAX) << PAYLOAD_SHIFT) | if probe { PROBE } else { 0 } | state
}

/// The open word for an opening at `now`: exact below [`EXACT_BELOW`],
/// rounded up to the next grain beyond, so the recovery timeout is never
/// cut short.
#[inline]
fn opened(now: Duration) -> u64 {
    let nanos = duration_to_nanos(now);
    let payload = match nanos.checked_sub(EXACT_BELOW) {
        None => nanos,
        Some(beyond) => EXACT_BELOW.saturating_add(beyond.div_ceil(1 << GRAIN_SHIFT)),
    };
    pack(OPEN, false, payload)
}

/// When the breaker of open word `word` opened, in nanoseconds; the grain
/// that `u64::MAX` rounds up to stands for `u64::MAX` itself, where readings
/// saturate.
#[inline]
fn opened_at_of(word: u64) -> u64 {
    let payload = payload_of(word);
    match payload.checked_sub(EXACT_BELOW) {
        None => payload,
        Some(grains) => EXACT_BELOW.saturating_add(grains.saturating_mul(1 << GRAIN_SHIFT)),
    }
}

#[inline]
fn state_of(word: u64) -> u64 {
    word & STATE_MASK
}

#[inline]
fn probe_of(word: u64) -> bool {
    word & PROBE != 0
}

#[inline]
fn payload_of(word: u64) -> u64 {
    word >> PAYLOAD_SHIFT
}

/// No cycle: the admission of another breaker (see [`Admission::normal`]).
/// It is an isolated word with the probe flag, which no cycle ever has.
const NO_CYCLE: u64 = u64::MAX;

/// The stamp of closed word `word` in the failure windows: the low byte of
/// its generation, which differs between consecutive closed cycles.
#[inline]
fn stamp_of(word: u64) -> u8 {
    payload_of(word).to_le_bytes()[0]
}

/// Takes the next generation from `counter` (a closed or a probe cycle's:
/// each is unique among the words of its state).
#[inline]
fn next_generation(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1) & PAYLOAD_MAX
}

fn public_state(word: u64) -> CircuitState {
    match state_of(word) {
        CLOSED => CircuitState::Closed,
        HALF_OPEN => CircuitState::HalfOpen,
        _ => CircuitState::Open,
    }
}

/// A change of breaker state, to be reported as an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition {
    /// The new state.
    pub to: CircuitState,
    /// The class of the failure that opened the breaker (from closed).
    pub class: Option<ErrorClass>,
}

impl Transition {
    /// A transition to `to`; `class` is the failure that caused an opening.
    /// For [`Breaker`] implementations outside this crate.
    pub const fn new(to: CircuitState, class: Option<ErrorClass>) -> Self {
        Transition { to, class }
    }
}

/// Why a call was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejected {
    /// The breaker's state: `Open`, or `HalfOpen` while a probe is in flight.
    pub state: CircuitState,
    /// How long until a probe will be admitted (`None` while a probe is in
    /// flight or the breaker is isolated). Useful as a `Retry-After` for
    /// your own callers.
    pub retry_in: Option<Duration>,
}

impl Rejected {
    /// A rejection in `state`, with the time until a probe when known. For
    /// [`Breaker`] implementations outside this crate.
    pub const fn new(state: CircuitState, retry_in: Option<Duration>) -> Self {
        Rejected { state, retry_in }
    }
}

/// How a call ended, as a breaker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallResult {
    /// The call succeeded.
    Success,
    /// The call failed; its last failure had this class.
    Failure(ErrorClass),
    /// The call was cancelled or aborted: it counts neither way.
    Cancelled,
}

/// A breaker's answer to "may this call run?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Admission {
    /// Whether the call is the half-open probe.
    pub probe: bool,
    /// The transition admitting the call caused (open to half-open).
    pub transition: Option<Transition>,
    /// For a [`CircuitBreaker`] admission: the breaker's word when it was
    /// admitted (a closed cycle, or a probe's half-open cycle), so that only
    /// calls of the current cycle move the breaker.
    cycle: u64,
}

impl Admission {
    /// An ordinary admission (closed breaker), for [`Breaker`]
    /// implementations outside this crate. It carries no cycle: handed to a
    /// [`CircuitBreaker`], its failure is judged by the state at record
    /// time (counted if the breaker is closed then).
    pub const fn normal() -> Self {
        Admission {
            probe: false,
            transition: None,
            cycle: NO_CYCLE,
        }
    }

    /// The half-open probe, with the transition that made it one, if any.
    pub const fn probe(transition: Option<Transition>) -> Self {
        Admission {
            probe: true,
            transition,
            cycle: NO_CYCLE,
        }
    }
}

/// A circuit breaker as the engine uses it: admit or reject a call, then
/// take one record of its outcome.
///
/// [`CircuitBreaker`] is the implementation; the trait exists so tests can
/// substitute a scripted breaker. It is object safe; implementations must
/// be cheap and must not block.
pub trait Breaker {
    /// Asks to run a call at `now`.
    fn acquire(&self, now: Duration) -> Result<Admission, Rejected>;

    /// Records the outcome of a call admitted with `admission`; returns the
    /// transition it caused, if any. Called exactly once per admission.
    fn record(
        &self,
        admission: &Admission,
        result: CallResult,
        now: Duration,
    ) -> Option<Transition>;

    /// The current state.
    fn state(&self) -> CircuitState;

    /// This breaker as a [`CircuitBreaker`], when it is one (for lints and
    /// metrics that read its configuration).
    fn as_circuit_breaker(&self) -> Option<&CircuitBreaker> {
        None
    }
}

impl fmt::Debug for dyn Breaker + Send + Sync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_circuit_breaker() {
            Some(b) => b.fmt(f),
            None => f
                .debug_struct("dyn Breaker")
                .field("state", &self.state())
                .finish(),
        }
    }
}

/// Permission to run one call; report its outcome with
/// [`record_success`](Permit::record_success) or
/// [`record_failure`](Permit::record_failure). Dropping it unrecorded
/// cancels it, which frees the half-open probe slot.
///
/// `B` is the breaker: [`CircuitBreaker::try_acquire`] gives a permit of
/// the concrete breaker (its calls are direct, no virtual dispatch);
/// [`Permit::acquire`] takes any breaker, a trait object included, and
/// `Permit<'_>` names a permit of a `dyn Breaker`.
#[must_use = "a permit must be recorded (or dropped to cancel the call)"]
pub struct Permit<'b, B: ?Sized + Breaker = dyn Breaker + Send + Sync + 'b> {
    breaker: &'b B,
    admission: Admission,
    recorded: bool,
}

impl<B: ?Sized + Breaker> fmt::Debug for Permit<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("admission", &self.admission)
            .field("recorded", &self.recorded)
            .finish()
    }
}

impl<'b, B: ?Sized + Breaker + 'b> Permit<'b, B> {
    /// Asks `breaker` to run a call at `now`.
    #[inline]
    pub fn acquire(breaker: &'b B, now: Duration) -> Result<Self, Rejected> {
        breaker.acquire(now).map(|admission| Permit {
            breaker,
            admission,
            recorded: false,
        })
    }

    /// Whether this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.admission.probe
    }

    /// The transition admitting this call caused (open to half-open).
    pub fn transition(&self) -> Option<Transition> {
        self.admission.transition
    }

    /// The call succeeded. Returns the transition it caused, if any.
    #[inline]
    pub fn record_success(self, now: Duration) -> Option<Transition> {
        self.record(CallResult::Success, now)
    }

    /// The call failed with `class`. Returns the transition it caused, if any.
    #[inline]
    pub fn record_failure(self, class: ErrorClass, now: Duration) -> Option<Transition> {
        self.record(CallResult::Failure(class), now)
    }

    /// The call was cancelled or aborted: it counts neither way.
    pub fn cancel(self, now: Duration) {
        let _ = self.record(CallResult::Cancelled, now);
    }

    /// Records `result` (once).
    #[inline]
    pub fn record(mut self, result: CallResult, now: Duration) -> Option<Transition> {
        self.recorded = true;
        self.breaker.record(&self.admission, result, now)
    }
}

impl<B: ?Sized + Breaker> Drop for Permit<'_, B> {
    #[inline]
    fn drop(&mut self) {
        if !self.recorded {
            // Dropped without a record (a panic, a dropped future): the call
            // was cancelled. No time is known here; cancelling needs none.
            let _ = self
                .breaker
                .record(&self.admission, CallResult::Cancelled, Duration::ZERO);
        }
    }
}

/// A circuit breaker shared by the calls to one dependency (see the
/// [module docs](self)).
///
/// ```
/// use core::time::Duration;
/// use redress_core::breaker::CircuitBreaker;
/// use redress_core::{CircuitState, ErrorClass};
///
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(2)
///     .recovery_timeout(Duration::from_secs(30))
///     .build()?;
/// let t = Duration::from_secs(1);
/// for _ in 0..2 {
///     let permit = breaker.try_acquire(t).expect("closed");
///     permit.record_failure(ErrorClass::ServerError, t);
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
/// let rejected = breaker.try_acquire(t).unwrap_err();
/// assert_eq!(rejected.retry_in, Some(Duration::from_secs(30)));
///
/// let probe = breaker.try_acquire(Duration::from_secs(31)).expect("probe");
/// assert!(probe.is_probe());
/// probe.record_success(Duration::from_secs(31));
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub struct CircuitBreaker {
    word: AtomicU64,
    /// The last generation a closed cycle took.
    closed_cycles: AtomicU64,
    /// The last generation a probe's half-open cycle took.
    probe_cycles: AtomicU64,
    failure_threshold: u64,
    window: Duration,
    recovery_timeout: Duration,
    trip_on: PerClass<bool>,
    class_thresholds: PerClass<Option<u32>>,
    failures: Window,
    class_failures: PerClass<Window>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("failure_threshold", &self.failure_threshold)
            .field("window", &self.window)
            .field("recovery_timeout", &self.recovery_timeout)
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    /// The default failure threshold: 5.
    pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
    /// The default window: 60 seconds.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
    /// The default recovery timeout: 30 seconds.
    pub const DEFAULT_RECOVERY_TIMEOUT: Duration = Duration::from_secs(30);
    /// The classes that trip the breaker by default.
    pub const DEFAULT_TRIP_ON: [ErrorClass; 2] = [ErrorClass::Transient, ErrorClass::ServerError];

    /// A builder with the defaults.
    pub fn builder() -> CircuitBreakerBuilder {
        CircuitBreakerBuilder {
            failure_threshold: CircuitBreaker::DEFAULT_FAILURE_THRESHOLD,
            window: CircuitBreaker::DEFAULT_WINDOW,
            recovery_timeout: CircuitBreaker::DEFAULT_RECOVERY_TIMEOUT,
            trip_on: PerClass::from_fn(|c| CircuitBreaker::DEFAULT_TRIP_ON.contains(&c)),
            class_thresholds: PerClass::default(),
        }
    }

    /// The current state. An open breaker whose recovery timeout has passed
    /// still reports `Open` until a call is admitted as the probe; an
    /// isolated breaker reports `Open`.
    pub fn state(&self) -> CircuitState {
        public_state(self.word.load(Ordering::Acquire))
    }

    /// Whether the breaker was forced open with [`isolate`](Self::isolate).
    pub fn is_isolated(&self) -> bool {
        state_of(self.word.load(Ordering::Acquire)) == ISOLATED
    }

    /// How long until a probe will be admitted: `Some(ZERO)` when the next
    /// call would be the probe, `None` while closed, half-open or isolated.
    pub fn time_until_probe(&self, now: Duration) -> Option<Duration> {
        let word = self.word.load(Ordering::Acquire);
        (state_of(word) == OPEN).then(|| self.open_remaining(word, now))
    }

    /// Failures of the current closed cycle counted toward opening at
    /// `now` (zero unless closed).
    pub fn failures(&self, now: Duration) -> u64 {
        let word = self.word.load(Ordering::Acquire);
        if state_of(word) == CLOSED {
            self.failures.sum_stamped(now, stamp_of(word))
        } else {
            0
        }
    }

    /// The failure threshold.
    pub fn failure_threshold(&self) -> u64 {
        self.failure_threshold
    }

    /// The rolling window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The recovery timeout.
    pub fn recovery_timeout(&self) -> Duration {
        self.recovery_timeout
    }

    /// Whether failures of `class` count toward opening.
    pub fn trips_on(&self, class: ErrorClass) -> bool {
        *self.trip_on.get(class)
    }

    /// The threshold of `class`'s own, if it has one.
    pub fn class_threshold(&self, class: ErrorClass) -> Option<u32> {
        *self.class_thresholds.get(class)
    }

    /// Asks to run a call at `now`.
    ///
    /// Closed: admitted. Open: rejected until the recovery timeout has
    /// passed, then the first caller becomes the half-open probe (its
    /// permit's [`transition`](Permit::transition) says so). Half-open:
    /// admitted as the probe only if no probe is in flight.
    #[inline]
    pub fn try_acquire(&self, now: Duration) -> Result<Permit<'_, Self>, Rejected> {
        Permit::acquire(self, now)
    }

    #[inline]
    fn admit(&self, now: Duration) -> Result<Admission, Rejected> {
        let mut word = self.word.load(Ordering::Acquire);
        // The probe's cycle, taken once it is needed.
        let mut probe_cycle = None;
        loop {
            let transition = match state_of(word) {
                CLOSED => {
                    return Ok(Admission {
                        probe: false,
                        transition: None,
                        cycle: word,
                    });
                }
                ISOLATED => {
                    return Err(Rejected {
                        state: CircuitState::Open,
                        retry_in: None,
                    });
                }
                OPEN => {
                    let remaining = self.open_remaining(word, now);
                    if !remaining.is_zero() {
                        return Err(Rejected {
                            state: CircuitState::Open,
                            retry_in: Some(remaining),
                        });
                    }
                    let to_half_open = Transition {
                        to: CircuitState::HalfOpen,
                        class: None,
                    };
                    Some(to_half_open)
                }
                _ => {
                    if probe_of(word) {
                        return Err(Rejected {
                            state: CircuitState::HalfOpen,
                            retry_in: None,
                        });
                    }
                    None
                }
            };
            // Every probe gets a cycle of its own, so a probe that was
            // cancelled, or admitted before a reset, never resolves another.
            let cycle = *probe_cycle.get_or_insert_with(|| next_generation(&self.probe_cycles));
            let next = pack(HALF_OPEN, true, cycle);
            match self
                .word
                .compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    return Ok(Admission {
                        cycle: next,
                        ..Admission::probe(transition)
                    });
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Forces the breaker open until [`reset`](Self::reset): every call is
    /// rejected and no probe is admitted (for maintenance, or to shed a
    /// dependency by hand).
    pub fn isolate(&self) {
        // A read-modify-write, so it is totally ordered with the transitions.
        self.word.swap(pack(ISOLATED, false, 0), Ordering::AcqRel);
    }

    /// Closes the breaker and forgets every failure. Calls admitted before
    /// the reset no longer count, whenever they end.
    pub fn reset(&self) {
        let closed = pack(CLOSED, false, next_generation(&self.closed_cycles));
        // A read-modify-write, so it is totally ordered with the transitions:
        // a probe's outcome lands either before the reset (and is undone by
        // it) or after it (and finds no probe to resolve).
        self.word.swap(closed, Ordering::AcqRel);
        self.clear_failures(closed);
    }

    fn open_remaining(&self, word: u64, now: Duration) -> Duration {
        let elapsed = duration_to_nanos(now).saturating_sub(opened_at_of(word));
        self.recovery_timeout
            .saturating_sub(Duration::from_nanos(elapsed))
    }

    /// Moves from `from` (exactly) to `to`; `true` if this call did it.
    fn transition(&self, from: u64, to: u64) -> bool {
        self.word
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The word a probe admitted as `admission` holds, if the breaker is
    /// still in that probe's cycle; a probe from an earlier cycle (before a
    /// `reset`, say) resolves nothing.
    fn current_probe(&self, admission: &Admission) -> Option<u64> {
        let cycle = admission.cycle;
        let valid = state_of(cycle) == HALF_OPEN && probe_of(cycle);
        (valid && self.word.load(Ordering::Acquire) == cycle).then_some(cycle)
    }

    fn probe_succeeded(&self, admission: &Admission) -> Option<Transition> {
        let cycle = self.current_probe(admission)?;
        let closed = pack(CLOSED, false, next_generation(&self.closed_cycles));
        self.transition(cycle, closed).then(|| {
            self.clear_failures(closed);
            Transition {
                to: CircuitState::Closed,
                class: None,
            }
        })
    }

    fn probe_failed(
        &self,
        admission: &Admission,
        class: ErrorClass,
        now: Duration,
    ) -> Option<Transition> {
        let cycle = self.current_probe(admission)?;
        self.transition(cycle, opened(now)).then_some(Transition {
            to: CircuitState::Open,
            class: Some(class),
        })
    }

    fn release_probe(&self, admission: &Admission) {
        if let Some(cycle) = self.current_probe(admission) {
            // Fails only if the cycle moved on meanwhile: nothing to release.
            let _ = self.transition(cycle, cycle & !PROBE);
        }
    }

    /// A failure of a call admitted while closed: counted if the breaker is
    /// still in the closed cycle the call was admitted in, ignored if it has
    /// left it since (opened, or was reset), even for a moment.
    fn closed_failure(
        &self,
        admission: &Admission,
        class: ErrorClass,
        now: Duration,
    ) -> Option<Transition> {
        let word = self.word.load(Ordering::Acquire);
        // An admission of another breaker carries no cycle: it belongs to
        // the current one.
        let cycle = match admission.cycle {
            NO_CYCLE => word,
            cycle => cycle,
        };
        if word != cycle || state_of(word) != CLOSED || !self.trips_on(class) {
            return None;
        }
        let stamp = stamp_of(cycle);
        let current = || self.word.load(Ordering::Acquire) == cycle;
        let class_window = self
            .class_threshold(class)
            .map(|threshold| (self.class_failures.get(class), u64::from(threshold)));
        // A failure counts under its cycle's stamp, so if the cycle ends
        // before it is counted, the next cycle never sees it. A full bucket
        // (`u32::MAX` failures, at least any threshold) cannot count one
        // more; the sums below trip on it anyway.
        if self.failures.add_stamped(now, stamp, current) == Counted::Stale {
            return None;
        }
        if let Some((window, _)) = class_window {
            if window.add_stamped(now, stamp, current) == Counted::Stale {
                return None;
            }
        }
        // Of two racing failures, the later one to pass the fence sees the
        // other's count, so the threshold is reached by one of them.
        fence(Ordering::SeqCst);
        let mut trip = self.failures.sum_stamped(now, stamp) >= self.failure_threshold;
        if let Some((window, threshold)) = class_window {
            trip |= window.sum_stamped(now, stamp) >= threshold;
        }
        // Only the caller whose compare-and-swap wins reports the opening;
        // it fails if the cycle ended meanwhile.
        (trip && self.transition(cycle, opened(now))).then_some(Transition {
            to: CircuitState::Open,
            class: Some(class),
        })
    }

    /// Forgets the failures of every closed cycle before `closed` (the one
    /// just entered), unless it ended meanwhile: the next cycle's closer
    /// clears for it.
    fn clear_failures(&self, closed: u64) {
        let (stamp, current) = (stamp_of(closed), || {
            self.word.load(Ordering::Acquire) == closed
        });
        self.failures.clear_except(stamp, current);
        for (_, window) in self.class_failures.iter() {
            window.clear_except(stamp, current);
        }
    }
}

impl Breaker for CircuitBreaker {
    #[inline]
    fn acquire(&self, now: Duration) -> Result<Admission, Rejected> {
        self.admit(now)
    }

    #[inline]
    fn record(
        &self,
        admission: &Admission,
        result: CallResult,
        now: Duration,
    ) -> Option<Transition> {
        match (admission.probe, result) {
            (true, CallResult::Success) => self.probe_succeeded(admission),
            (true, CallResult::Failure(class)) => self.probe_failed(admission, class, now),
            (true, CallResult::Cancelled) => {
                self.release_probe(admission);
                None
            }
            (false, CallResult::Failure(class)) => self.closed_failure(admission, class, now),
            (false, CallResult::Success | CallResult::Cancelled) => None,
        }
    }

    fn state(&self) -> CircuitState {
        CircuitBreaker::state(self)
    }

    fn as_circuit_breaker(&self) -> Option<&CircuitBreaker> {
        Some(self)
    }
}

/// Builds a [`CircuitBreaker`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct CircuitBreakerBuilder {
    failure_threshold: u32,
    window: Duration,
    recovery_timeout: Duration,
    trip_on: PerClass<bool>,
    class_thresholds: PerClass<Option<u32>>,
}

impl CircuitBreakerBuilder {
    /// Failures within the window that open the breaker (default 5).
    pub fn failure_threshold(mut self, threshold: u32) -> Self {
        self.failure_threshold = threshold;
        self
    }

    /// The rolling window failures are counted over (default 60 s).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How long the breaker stays open before admitting a probe (default
    /// 30 s).
    pub fn recovery_timeout(mut self, timeout: Duration) -> Self {
        self.recovery_timeout = timeout;
        self
    }

    /// The classes whose failures count (replacing the default `TRANSIENT`
    /// and `SERVER_ERROR`). Classes given their own threshold always count.
    pub fn trip_on(mut self, classes: impl IntoIterator<Item = ErrorClass>) -> Self {
        self.trip_on = PerClass::default();
        for class in classes {
            self.trip_on.set(class, true);
        }
        self
    }

    /// Opens the breaker after `threshold` failures of `class` alone within
    /// the window (they also count toward the overall threshold).
    pub fn class_threshold(mut self, class: ErrorClass, threshold: u32) -> Self {
        self.class_thresholds.set(class, Some(threshold));
        self
    }

    /// Calls `f` with every problem of the configuration, in rule order
    /// (`E013` a threshold of 0, `E014` a zero window, `E015` a zero
    /// recovery timeout, then per-class thresholds of 0); [`build`](Self::build)
    /// refuses the first.
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::CircuitBreaker;
    ///
    /// let builder = CircuitBreaker::builder().failure_threshold(0).window(Duration::ZERO);
    /// let mut codes = Vec::new();
    /// builder.problems(|e| codes.push(e.code()));
    /// assert_eq!(codes, ["E013", "E014"]);
    /// ```
    pub fn problems(&self, mut f: impl FnMut(&ConfigError)) {
        if self.failure_threshold == 0 {
            f(&ConfigError::ZeroFailureThreshold { class: None });
        }
        if self.window.is_zero() {
            f(&ConfigError::ZeroWindow {
                component: Component::CircuitBreaker,
            });
        }
        if self.recovery_timeout.is_zero() {
            f(&ConfigError::ZeroRecoveryTimeout);
        }
        for (class, threshold) in self.class_thresholds.iter() {
            if *threshold == Some(0) {
                f(&ConfigError::ZeroFailureThreshold { class: Some(class) });
            }
        }
    }

    /// Validates and builds: every problem [`problems`](Self::problems)
    /// reports is refused, the first returned.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        first_problem(|f| self.problems(f))?;
        let mut trip_on = self.trip_on;
        for (class, threshold) in self.class_thresholds.iter() {
            if threshold.is_some() {
                trip_on.set(class, true);
            }
        }
        Ok(CircuitBreaker {
            word: AtomicU64::new(pack(CLOSED, false, 0)),
            closed_cycles: AtomicU64::new(0),
            probe_cycles: AtomicU64::new(0),
            failure_threshold: u64::from(self.failure_threshold),
            window: self.window,
            recovery_timeout: self.recovery_timeout,
            trip_on,
            class_thresholds: self.class_thresholds,
            failures: Window::new(self.window),
            class_failures: PerClass::from_fn(|_| Window::new(self.window)),
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn breaker(threshold: u32) -> CircuitBreaker {
        CircuitBreaker::builder()
            .failure_threshold(threshold)
            .window(s(60))
            .recovery_timeout(s(30))
            .build()
            .unwrap()
    }

    fn fail(b: &CircuitBreaker, class: ErrorClass, at: Duration) -> Option<Transition> {
        b.try_acquire(at).unwrap().record_failure(class, at)
    }

    #[test]
    fn opens_at_threshold_of_tripping_classes_only() {
        let b = breaker(2);
        assert_eq!(fail(&b, ErrorClass::RateLimit, s(0)), None);
        assert_eq!(fail(&b, ErrorClass::ServerError, s(0)), None);
        let t = fail(&b, ErrorClass::Transient, s(1)).unwrap();
        assert_eq!(t.to, CircuitState::Open);
        assert_eq!(t.class, Some(ErrorClass::Transient));
        let r = b.try_acquire(s(5)).unwrap_err();
        assert_eq!(
            r,
            Rejected {
                state: CircuitState::Open,
                retry_in: Some(s(26))
            }
        );
        assert_eq!(b.time_until_probe(s(5)), Some(s(26)));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let b = breaker(2);
        fail(&b, ErrorClass::ServerError, s(0));
        assert_eq!(fail(&b, ErrorClass::ServerError, s(70)), None);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn single_probe_then_close_or_reopen() {
        let b = breaker(1);
        fail(&b, ErrorClass::ServerError, s(0));
        let probe = b.try_acquire(s(30)).unwrap();
        assert!(probe.is_probe());
        assert_eq!(
            probe.transition().map(|t| t.to),
            Some(CircuitState::HalfOpen)
        );
        let second = b.try_acquire(s(30)).unwrap_err();
        assert_eq!(second.state, CircuitState::HalfOpen);
        assert_eq!(
            probe
                .record_failure(ErrorClass::Permanent, s(31))
                .map(|t| t.to),
            Some(CircuitState::Open)
        );
        assert!(b.try_acquire(s(40)).is_err());
        let probe = b.try_acquire(s(61)).unwrap();
        assert_eq!(
            probe.record_success(s(61)).map(|t| t.to),
            Some(CircuitState::Closed)
        );
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.failures(s(61)), 0);
    }

    #[test]
    fn a_dropped_probe_frees_the_slot() {
        let b = breaker(1);
        fail(&b, ErrorClass::Transient, s(0));
        {
            let _probe = b.try_acquire(s(30)).unwrap();
            assert!(b.try_acquire(s(30)).is_err());
        }
        let next = b.try_acquire(s(30)).unwrap();
        assert!(next.is_probe());
        assert_eq!(next.transition(), None);
        next.cancel(s(30));
        assert!(b.try_acquire(s(30)).unwrap().is_probe());
    }

    #[test]
    fn stale_permits_do_not_move_a_half_open_breaker() {
        let b = breaker(1);
        let early = b.try_acquire(s(0)).unwrap();
        fail(&b, ErrorClass::Transient, s(0));
        let probe = b.try_acquire(s(30)).unwrap();
        assert_eq!(early.record_success(s(31)), None);
        assert_eq!(b.state(), CircuitState::HalfOpen);
        probe.cancel(s(31));
    }

    #[test]
    fn thresholds_beyond_two_to_the_24_are_reached() {
        for threshold in [20_000_000, u32::MAX] {
            let b = breaker(threshold);
            // All but one of the failures at one instant, in one bucket.
            b.failures.add_many(s(1), u64::from(threshold) - 1);
            assert_eq!(b.failures(s(1)), u64::from(threshold) - 1);
            assert_eq!(b.state(), CircuitState::Closed);
            assert_eq!(
                fail(&b, ErrorClass::Transient, s(1)).map(|t| t.to),
                Some(CircuitState::Open),
                "threshold {threshold}"
            );
        }
        let b = CircuitBreaker::builder()
            .class_threshold(ErrorClass::RateLimit, 20_000_000)
            .failure_threshold(u32::MAX)
            .build()
            .unwrap();
        b.class_failures
            .get(ErrorClass::RateLimit)
            .add_many(s(1), 19_999_999);
        assert!(fail(&b, ErrorClass::RateLimit, s(1)).is_some());
    }

    #[test]
    fn class_thresholds_trip_on_their_own() {
        let b = CircuitBreaker::builder()
            .failure_threshold(10)
            .trip_on([ErrorClass::Transient])
            .class_threshold(ErrorClass::RateLimit, 1)
            .build()
            .unwrap();
        assert!(b.trips_on(ErrorClass::RateLimit));
        assert_eq!(
            fail(&b, ErrorClass::RateLimit, s(0)).map(|t| t.to),
            Some(CircuitState::Open)
        );
    }

    #[test]
    fn a_call_admitted_before_an_outage_does_not_count_after_it() {
        let b = breaker(2);
        // A slow call admitted while closed...
        let slow = b.try_acquire(s(0)).unwrap();
        let slow_success = b.try_acquire(s(0)).unwrap();
        // ...outlives an outage: two failures open the breaker, the probe
        // closes it.
        fail(&b, ErrorClass::Transient, s(1));
        assert!(fail(&b, ErrorClass::Transient, s(1)).is_some());
        let probe = b.try_acquire(s(31)).unwrap();
        assert!(probe.record_success(s(31)).is_some());
        // Its failure belongs to the closed cycle it was admitted in: it is
        // not counted in the new one, and neither result moves anything.
        assert_eq!(slow.record_failure(ErrorClass::Transient, s(32)), None);
        assert_eq!(slow_success.record_success(s(32)), None);
        assert_eq!(b.failures(s(32)), 0);
        // One fresh failure does not reopen the breaker; a second does.
        assert_eq!(fail(&b, ErrorClass::Transient, s(33)), None);
        assert_eq!(b.state(), CircuitState::Closed);
        assert!(fail(&b, ErrorClass::Transient, s(34)).is_some());
    }

    #[test]
    fn a_call_admitted_before_a_reset_does_not_count_after_it() {
        let b = breaker(2);
        let before = b.try_acquire(s(0)).unwrap();
        fail(&b, ErrorClass::Transient, s(0));
        b.reset();
        assert_eq!(before.record_failure(ErrorClass::Transient, s(1)), None);
        assert_eq!(fail(&b, ErrorClass::Transient, s(1)), None);
        assert_eq!(b.failures(s(1)), 1);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn calls_of_the_current_closed_cycle_count() {
        // Admissions taken before other calls' failures, in the same closed
        // cycle, count as usual.
        let b = breaker(3);
        let permits: std::vec::Vec<_> = (0..3).map(|_| b.try_acquire(s(0)).unwrap()).collect();
        let mut opened = None;
        for p in permits {
            opened = p.record_failure(ErrorClass::ServerError, s(1));
        }
        assert_eq!(opened.map(|t| t.to), Some(CircuitState::Open));
    }

    /// Trips `b`, admits a probe, resets, trips again and admits the
    /// current cycle's probe: returns (stale probe, current probe).
    fn two_cycles(b: &CircuitBreaker) -> (Permit<'_, CircuitBreaker>, Permit<'_, CircuitBreaker>) {
        fail(b, ErrorClass::Transient, s(0));
        let stale = b.try_acquire(s(30)).unwrap();
        assert!(stale.is_probe());
        b.reset();
        fail(b, ErrorClass::Transient, s(40));
        let current = b.try_acquire(s(70)).unwrap();
        assert!(current.is_probe());
        (stale, current)
    }

    #[test]
    fn a_probe_from_before_a_reset_cannot_close_the_breaker() {
        let b = breaker(1);
        let (stale, current) = two_cycles(&b);
        assert_eq!(stale.record_success(s(71)), None);
        assert_eq!(b.state(), CircuitState::HalfOpen);
        // The current probe's outcome still counts.
        assert_eq!(
            current
                .record_failure(ErrorClass::Transient, s(72))
                .map(|t| t.to),
            Some(CircuitState::Open)
        );
    }

    #[test]
    fn a_dropped_probe_from_before_a_reset_frees_no_slot() {
        let b = breaker(1);
        let (stale, current) = two_cycles(&b);
        drop(stale);
        let second = b.try_acquire(s(71));
        assert_eq!(
            second.unwrap_err().state,
            CircuitState::HalfOpen,
            "one probe at a time"
        );
        assert_eq!(
            current.record_success(s(72)).map(|t| t.to),
            Some(CircuitState::Closed)
        );
    }

    #[test]
    fn isolate_and_reset() {
        let b = breaker(5);
        b.isolate();
        assert!(b.is_isolated());
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(b.try_acquire(s(1000)).unwrap_err().retry_in, None);
        b.reset();
        assert!(b.try_acquire(s(1000)).is_ok());
    }

    #[test]
    fn invalid_configs_are_typed_errors() {
        let e = CircuitBreaker::builder()
            .failure_threshold(0)
            .build()
            .unwrap_err();
        assert_eq!(e, ConfigError::ZeroFailureThreshold { class: None });
        let e = CircuitBreaker::builder()
            .class_threshold(ErrorClass::Transient, 0)
            .build()
            .unwrap_err();
        assert_eq!(
            e,
            ConfigError::ZeroFailureThreshold {
                class: Some(ErrorClass::Transient)
            }
        );
        assert!(
            CircuitBreaker::builder()
                .window(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(
            CircuitBreaker::builder()
                .recovery_timeout(Duration::ZERO)
                .build()
                .is_err()
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_code() {
        let builder = CircuitBreaker::builder()
            .failure_threshold(0)
            .window(Duration::ZERO)
            .recovery_timeout(Duration::ZERO)
            .class_threshold(ErrorClass::RateLimit, 0);
        let mut found = std::vec::Vec::new();
        builder.problems(|e| found.push((e.code(), e.clone())));
        assert_eq!(
            found
                .iter()
                .map(|(code, _)| *code)
                .collect::<std::vec::Vec<_>>(),
            ["E013", "E014", "E015", "E013"]
        );
        assert_eq!(
            found[3].1,
            ConfigError::ZeroFailureThreshold {
                class: Some(ErrorClass::RateLimit)
            }
        );
        assert_eq!(
            builder.build().unwrap_err(),
            ConfigError::ZeroFailureThreshold { class: None }
        );
    }

    #[test]
    fn the_recovery_timeout_is_exact_at_any_nanosecond() {
        // Opened at arbitrary nanoseconds (as a clock on a runtime's paused
        // time reads), the probe is admitted exactly `recovery_timeout`
        // later, not a nanosecond sooner or later.
        for opened in [
            1_000_000_003u64,
            86_400_000_000_007,
            (1 << 61) - (1 << 54) - 1,
        ] {
            let b = breaker(1);
            let t = Duration::from_nanos(opened);
            fail(&b, ErrorClass::Transient, t);
            assert_eq!(b.time_until_probe(t + s(10)), Some(s(20)), "{opened}");
            let early = t + s(30) - Duration::from_nanos(1);
            assert!(b.try_acquire(early).is_err(), "opened at {opened}");
            assert!(b.try_acquire(t + s(30)).unwrap().is_probe(), "{opened}");
        }
    }

    #[test]
    fn the_recovery_timeout_holds_at_any_time() {
        // Openings past 2^61 ns (a clock counting from the Unix epoch gets
        // there in 2043) up to the end of the range. Beyond about 72 years
        // the opening time is kept to 1024 ns, rounded up: the timeout may
        // last up to 1023 ns longer there, never shorter.
        let nanos = Duration::from_nanos;
        for opened in [
            1u64 << 61,
            (1 << 61) + 3,
            1 << 63,
            u64::MAX - 60_000_000_000,
            u64::MAX - 30_000_004_099,
        ] {
            let b = breaker(1);
            let t = nanos(opened);
            fail(&b, ErrorClass::Transient, t);
            let grains_from = (1u64 << 61) - (1 << 54);
            let rounded = grains_from + (opened - grains_from).next_multiple_of(1024);
            let slack = nanos(rounded - opened);
            let retry_in = b.try_acquire(t + s(10)).unwrap_err().retry_in.unwrap();
            assert_eq!(retry_in, s(20) + slack, "opened at {opened}");
            assert_eq!(b.time_until_probe(t + s(10)), Some(retry_in));
            let early = t + s(30) + slack - nanos(1);
            assert!(b.try_acquire(early).is_err(), "opened at {opened}");
            let probe = b.try_acquire(t + s(30) + slack).unwrap();
            assert!(probe.is_probe(), "opened at {opened}");
            // A failed probe reopens it for another timeout, however late.
            probe.record_failure(ErrorClass::Transient, t + s(30) + slack);
            assert!(b.try_acquire(t + s(59)).is_err(), "opened at {opened}");
        }
    }

    #[test]
    fn time_stands_still_past_the_end_of_the_range() {
        // Readings past u64::MAX ns saturate: a breaker opened there stays
        // open (until reset), since no later reading can show time passing.
        let b = breaker(1);
        fail(&b, ErrorClass::Transient, Duration::MAX);
        assert_eq!(b.state(), CircuitState::Open);
        let rejected = b.try_acquire(Duration::MAX).unwrap_err();
        assert_eq!(rejected.retry_in, Some(s(30)));
        b.reset();
        assert!(b.try_acquire(Duration::MAX).is_ok());
    }
}
