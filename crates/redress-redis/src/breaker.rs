//! The fleet breaker: the local breaker's fast path, the fleet's state.

use core::fmt;
use core::time::Duration;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use redress_core::breaker::{Admission, Breaker, CallResult, Rejected, Transition};
use redress_core::{CircuitBreaker, CircuitState, ErrorClass, PerClass};
use tokio::sync::Notify;

use crate::backlog::Backlog;
use crate::error::{FleetError, StoreError};
use crate::event::{FleetEvent, OnStoreError};
use crate::scripts;
use crate::store::{FleetStore, StoreShared, check_name};

// The modes of this process's view of the fleet's breaker.
/// Closed: the local breaker admits and counts.
const CLOSED: u8 = 0;
/// Open until `open_until`.
const OPEN: u8 = 1;
/// Half-open, and the probe belongs to another process (or nobody has
/// asked for it yet).
const HALF_OPEN: u8 = 2;
/// Half-open, and this process holds the fleet's probe token (or, with the
/// store unreachable, probes on its own): the probe breaker admits it.
const PROBING: u8 = 3;
/// The store is unreachable and the breaker fails open.
const FAIL_OPEN: u8 = 4;
/// The store is unreachable and the breaker fails closed.
const FAIL_CLOSED: u8 = 5;

// Transitions this process made, not yet delivered to the fleet.
const TRIPPED: u8 = 1;
const PROBE_OK: u8 = 2;
const PROBE_FAILED: u8 = 4;
// Requests about the probe token (sent, never pending).
const WANT_PROBE: u8 = 8;
const RELEASE_PROBE: u8 = 16;

/// Buckets per window in the store, as in the local windows.
const SPAN: u64 = 16;
/// The shortest sync interval, window and recovery timeout: the store
/// counts in milliseconds.
const MIN_DURATION: Duration = Duration::from_millis(1);

/// A circuit breaker shared by every process that uses the same name on
/// the same store: failures are counted fleet-wide, it opens fleet-wide at
/// the threshold, one process at a time runs the half-open probe, and the
/// probe's success closes it everywhere.
///
/// Calls never wait for Redis. Each process keeps a local lock-free
/// [`CircuitBreaker`] as the fast path (admitting a call while closed is
/// two atomic loads), and a background task syncs with Redis every
/// `sync_interval`: it pushes the failures counted since the last sync,
/// pulls the fleet's state and failure count, and takes or gives back
/// the probe token. A transition this process makes (its own failures
/// reach the threshold, its probe ends) and a failure that brings the
/// fleet's last known count to the threshold wake the task at once. How
/// stale a process can be is bounded by `sync_interval` (see
/// `docs/fleet.md`); when Redis is unreachable, the breaker goes on as
/// [`OnStoreError`] says and merges its local state back when Redis
/// returns.
///
/// Share it like a local breaker: an `Arc` handed to every policy that
/// calls the dependency.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use redress::{AsyncPolicy, ErrorClass, Policy};
/// use redress::backoff::constant;
/// use redress_redis::{FleetBreaker, FleetStore};
///
/// # let Some(url) = redress_test_services::redis_url() else { return Ok(()) };
/// // let url = std::env::var("REDIS_URL")?;
/// let store = FleetStore::builder(url).prefix("doc-breaker").build()?;
/// let breaker = Arc::new(
///     FleetBreaker::builder("payments")
///         .failure_threshold(5)
///         .window(Duration::from_secs(60))
///         .recovery_timeout(Duration::from_secs(30))
///         .sync_interval(Duration::from_millis(500))
///         .build(&store)?,
/// );
/// let policy = Policy::builder()
///     .classifier(|_: &std::io::Error| ErrorClass::Transient)
///     .strategy(constant(Duration::from_millis(10)))
///     .max_attempts(2)
///     .circuit_breaker(breaker.clone())
///     .build()?;
/// let answer = policy.call_async(|| async { Ok::<_, std::io::Error>(42) }).await?;
/// assert_eq!(answer, 42);
/// assert_eq!(breaker.state(), redress::CircuitState::Closed);
/// # Ok(())
/// # }
/// ```
pub struct FleetBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    key: String,
    client: String,
    store: Arc<StoreShared>,
    /// Counts this process's failures while the fleet is closed; opens when
    /// they alone reach the threshold. Its recovery timeout is endless:
    /// the fleet decides when to probe.
    counting: CircuitBreaker,
    /// Admits this process's half-open probe, one at a time, and tells a
    /// probe of an earlier round from the current one. Threshold 1, a
    /// nanosecond of recovery: tripped when this process gets the probe
    /// token, reset when it loses it.
    probe: CircuitBreaker,
    mode: AtomicU8,
    /// While open: when the fleet's breaker will admit a probe (store
    /// nanoseconds).
    open_until: AtomicU64,
    /// A call was rejected while open or half-open: ask for the probe.
    demand: AtomicBool,
    /// This process's probe is running.
    probe_out: AtomicBool,
    flags: AtomicU8,
    /// When this process's own failures opened it (store nanoseconds).
    tripped_at: AtomicU64,
    pending_total: AtomicU64,
    pending: PerClass<AtomicU64>,
    /// Pending failures that bring the fleet's last known count to the
    /// threshold: at this many, the task is woken at once.
    push_at: AtomicU64,
    class_push_at: PerClass<AtomicU64>,
    fleet_failures: AtomicU64,
    /// When the task last ran (store nanoseconds).
    heartbeat: AtomicU64,
    available: AtomicBool,
    syncs: AtomicU64,
    store_errors: AtomicU64,
    wake: Arc<Notify>,
    settings: Settings,
}

#[derive(Clone, Debug)]
struct Settings {
    threshold: u32,
    window: Duration,
    recovery: Duration,
    classes: Vec<(ErrorClass, u32)>,
    sync_interval: Duration,
    probe_lease: Duration,
    on_store_error: OnStoreError,
}

impl fmt::Debug for FleetBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetBreaker")
            .field("name", &self.inner.name)
            .field("key", &self.inner.key)
            .field("state", &self.state())
            .field("store_available", &self.store_available())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl FleetBreaker {
    /// The default sync interval: one second.
    pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(1);

    /// A builder for the fleet breaker called `name` (1 to 100 letters,
    /// digits and `_-.:{}`), with the local breaker's defaults (threshold
    /// 5, window 60 s, recovery 30 s, trips on `TRANSIENT` and
    /// `SERVER_ERROR`).
    pub fn builder(name: impl Into<String>) -> FleetBreakerBuilder {
        FleetBreakerBuilder {
            name: name.into(),
            failure_threshold: CircuitBreaker::DEFAULT_FAILURE_THRESHOLD,
            window: CircuitBreaker::DEFAULT_WINDOW,
            recovery: CircuitBreaker::DEFAULT_RECOVERY_TIMEOUT,
            trip_on: None,
            class_thresholds: Vec::new(),
            sync_interval: FleetBreaker::DEFAULT_SYNC_INTERVAL,
            probe_lease: None,
            on_store_error: OnStoreError::Local,
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The Redis key (`PREFIX:breaker:NAME`).
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// This process's view of the fleet's state: what the last sync said,
    /// and what this process did since.
    pub fn state(&self) -> CircuitState {
        self.inner.state()
    }

    /// Whether the last sync reached the store.
    pub fn store_available(&self) -> bool {
        self.inner.available.load(Ordering::Acquire)
    }

    /// The fleet's failure count in the window, as of the last sync (zero
    /// unless closed).
    pub fn fleet_failures(&self) -> u64 {
        self.inner.fleet_failures.load(Ordering::Acquire)
    }

    /// Whether this process holds the fleet's half-open probe (or probes on
    /// its own while the store is unreachable).
    pub fn holds_probe(&self) -> bool {
        self.inner.mode.load(Ordering::Acquire) == PROBING
    }

    /// Syncs that reached the store, and syncs that failed, so far.
    pub fn sync_counts(&self) -> (u64, u64) {
        (
            self.inner.syncs.load(Ordering::Relaxed),
            self.inner.store_errors.load(Ordering::Relaxed),
        )
    }

    /// Asks the background task to sync now rather than at the next
    /// interval (it does anyway after a transition).
    pub fn sync_soon(&self) {
        self.inner.wake.notify_one();
    }

    /// The failure threshold.
    pub fn failure_threshold(&self) -> u32 {
        self.inner.settings.threshold
    }

    /// The rolling window.
    pub fn window(&self) -> Duration {
        self.inner.settings.window
    }

    /// The recovery timeout.
    pub fn recovery_timeout(&self) -> Duration {
        self.inner.settings.recovery
    }

    /// The sync interval.
    pub fn sync_interval(&self) -> Duration {
        self.inner.settings.sync_interval
    }
}

impl Breaker for FleetBreaker {
    fn acquire(&self, now: Duration) -> Result<Admission, Rejected> {
        self.inner.acquire(now)
    }

    fn record(
        &self,
        admission: &Admission,
        result: CallResult,
        now: Duration,
    ) -> Option<Transition> {
        self.inner.record(admission, result, now)
    }

    fn state(&self) -> CircuitState {
        self.inner.state()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The task holds only a weak reference: wake it to let it end.
        self.wake.notify_one();
    }
}

/// Builds a [`FleetBreaker`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `.build(&store)`"]
pub struct FleetBreakerBuilder {
    name: String,
    failure_threshold: u32,
    window: Duration,
    recovery: Duration,
    trip_on: Option<Vec<ErrorClass>>,
    class_thresholds: Vec<(ErrorClass, u32)>,
    sync_interval: Duration,
    probe_lease: Option<Duration>,
    on_store_error: OnStoreError,
}

impl FleetBreakerBuilder {
    /// Failures within the window, fleet-wide, that open it (default 5).
    pub fn failure_threshold(mut self, threshold: u32) -> Self {
        self.failure_threshold = threshold;
        self
    }

    /// The rolling window failures are counted over (default 60 s; at
    /// least 1 ms).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How long it stays open before the fleet's probe (default 30 s; at
    /// least 1 ms).
    pub fn recovery_timeout(mut self, timeout: Duration) -> Self {
        self.recovery = timeout;
        self
    }

    /// The classes whose failures count (default `TRANSIENT`,
    /// `SERVER_ERROR`); classes with their own threshold always count.
    pub fn trip_on(mut self, classes: impl IntoIterator<Item = ErrorClass>) -> Self {
        self.trip_on = Some(classes.into_iter().collect());
        self
    }

    /// Opens it after `threshold` failures of `class` alone, fleet-wide.
    pub fn class_threshold(mut self, class: ErrorClass, threshold: u32) -> Self {
        self.class_thresholds.retain(|(c, _)| *c != class);
        self.class_thresholds.push((class, threshold));
        self
    }

    /// How often the background task syncs with the store (default 1 s;
    /// at least 1 ms). It bounds how stale a process's view can be; each
    /// sync is one Redis command.
    pub fn sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval;
        self
    }

    /// How long the fleet's probe token lasts without being renewed
    /// (default 10 × the sync interval; at least 2 × the sync interval).
    /// Its holder renews it at every sync while the probe runs, so this
    /// only matters when the holder dies or loses the store: then another
    /// process may probe after this long.
    pub fn probe_lease(mut self, lease: Duration) -> Self {
        self.probe_lease = Some(lease);
        self
    }

    /// What to do while the store is unreachable (default
    /// [`OnStoreError::Local`]).
    pub fn on_store_error(mut self, fallback: OnStoreError) -> Self {
        self.on_store_error = fallback;
        self
    }

    fn local_builder(&self) -> redress_core::breaker::CircuitBreakerBuilder {
        let mut b = CircuitBreaker::builder()
            .failure_threshold(self.failure_threshold)
            .window(self.window)
            .recovery_timeout(self.recovery);
        if let Some(classes) = &self.trip_on {
            b = b.trip_on(classes.iter().copied());
        }
        for (class, threshold) in &self.class_thresholds {
            b = b.class_threshold(*class, *threshold);
        }
        b
    }

    /// Validates the settings (the local breaker's rules, with their codes,
    /// then this crate's), builds the breaker and starts its background
    /// sync on the store's runtime. Does not wait for the store: the first
    /// sync starts at once.
    pub fn build(self, store: &FleetStore) -> Result<FleetBreaker, FleetError> {
        check_name("name", &self.name)?;
        // The same rules, with the same codes, as the local breaker.
        self.local_builder().build()?;
        let counting = self
            .local_builder()
            .recovery_timeout(Duration::MAX)
            .build()?;
        for (setting, value) in [
            ("window", self.window),
            ("recovery_timeout", self.recovery),
            ("sync_interval", self.sync_interval),
        ] {
            if value < MIN_DURATION {
                return Err(FleetError::OutOfRange {
                    setting,
                    value: format!("{value:?}"),
                    help: "the store counts in milliseconds: use at least 1ms",
                });
            }
        }
        let probe_lease = self
            .probe_lease
            .unwrap_or_else(|| self.sync_interval.saturating_mul(10));
        if probe_lease < self.sync_interval.saturating_mul(2) {
            return Err(FleetError::OutOfRange {
                setting: "probe_lease",
                value: format!("{probe_lease:?}"),
                help: "the holder renews the token at each sync: give it at least two sync intervals",
            });
        }
        let probe = CircuitBreaker::builder()
            .failure_threshold(1)
            .trip_on([ErrorClass::Transient])
            .window(self.window)
            .recovery_timeout(Duration::from_nanos(1))
            .build()
            .map_err(FleetError::from)?;
        let mut classes: Vec<(ErrorClass, u32)> = self.class_thresholds.clone();
        classes.sort_by_key(|(c, _)| *c);
        let shared = Arc::clone(&store.shared);
        let inner = Arc::new(Inner {
            key: shared.key("breaker", &self.name),
            client: shared.client_id(),
            name: self.name,
            counting,
            probe,
            mode: AtomicU8::new(CLOSED),
            open_until: AtomicU64::new(0),
            demand: AtomicBool::new(false),
            probe_out: AtomicBool::new(false),
            flags: AtomicU8::new(0),
            tripped_at: AtomicU64::new(0),
            pending_total: AtomicU64::new(0),
            pending: PerClass::from_fn(|_| AtomicU64::new(0)),
            push_at: AtomicU64::new(u64::from(self.failure_threshold)),
            class_push_at: PerClass::from_fn(|c| {
                let own = classes.iter().find(|(k, _)| *k == c).map(|(_, t)| *t);
                AtomicU64::new(u64::from(own.unwrap_or(u32::MAX)))
            }),
            fleet_failures: AtomicU64::new(0),
            heartbeat: AtomicU64::new(shared.nanos(Instant::now())),
            available: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            wake: Arc::new(Notify::new()),
            settings: Settings {
                threshold: self.failure_threshold,
                window: self.window,
                recovery: self.recovery,
                classes,
                sync_interval: self.sync_interval,
                probe_lease,
                on_store_error: self.on_store_error,
            },
            store: Arc::clone(&shared),
        });
        let task = Task {
            generation: 0,
            backlog: Backlog::new(self.window),
            unsent: 0,
            down_since: None,
            granted_at: None,
        };
        shared
            .runtime
            .spawn(run(Arc::downgrade(&inner), Arc::clone(&inner.wake), task));
        Ok(FleetBreaker { inner })
    }
}

/// The background task's own state.
struct Task {
    /// The fleet's closed-cycle generation as last seen.
    generation: i64,
    backlog: Backlog,
    /// Transitions a failed sync could not deliver.
    unsent: u8,
    down_since: Option<Instant>,
    /// When this process got the probe token.
    granted_at: Option<Instant>,
}

async fn run(inner: Weak<Inner>, wake: Arc<Notify>, mut task: Task) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let wait = strong.sync(&mut task).await;
        drop(strong);
        let _ = tokio::time::timeout(wait, wake.notified()).await;
    }
}

/// The script's answer.
struct Reply {
    state: i64,
    generation: i64,
    remaining_ms: i64,
    mine: bool,
    transition: i64,
    sums: Vec<i64>,
}

impl Reply {
    fn parse(values: &[i64], series: usize) -> Option<Reply> {
        let (head, sums) = values.split_at_checked(5)?;
        let [state, generation, remaining_ms, mine, transition] = *head else {
            return None;
        };
        (sums.len() == series).then(|| Reply {
            state,
            generation,
            remaining_ms,
            mine: mine == 1,
            transition,
            sums: sums.to_vec(),
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn nanos_of(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Inner {
    fn state(&self) -> CircuitState {
        match self.mode.load(Ordering::Acquire) {
            CLOSED | FAIL_OPEN => match self.counting.state() {
                CircuitState::Closed => CircuitState::Closed,
                _ => CircuitState::Open,
            },
            HALF_OPEN | PROBING => CircuitState::HalfOpen,
            _ => CircuitState::Open,
        }
    }

    fn set_mode(&self, from: u8, to: u8) -> bool {
        self.mode
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn now_nanos(&self) -> u64 {
        self.store.nanos(Instant::now())
    }

    fn acquire(&self, now: Duration) -> Result<Admission, Rejected> {
        match self.mode.load(Ordering::Acquire) {
            // The fast path: one more load than the local breaker.
            CLOSED => self.counting.acquire(now).map_err(|_| {
                // Opened by this process's own failures a moment ago.
                Rejected::new(CircuitState::Open, Some(self.settings.recovery))
            }),
            OPEN => self.reject_open(now),
            HALF_OPEN => self.reject_half_open(now),
            PROBING => self.admit_probe(now),
            FAIL_OPEN => Ok(Admission::normal()),
            _ => Err(Rejected::new(CircuitState::Open, None)),
        }
    }

    fn ask_for_probe(&self) {
        if !self.demand.load(Ordering::Relaxed) {
            self.demand.store(true, Ordering::Relaxed);
            self.wake.notify_one();
        }
    }

    /// Whether the background task has run lately. If it has not (its
    /// runtime was shut down), nothing would ever move the breaker out of
    /// open: it probes on its own instead.
    fn task_stalled(&self, now_nanos: u64) -> bool {
        let limit = self
            .settings
            .sync_interval
            .saturating_mul(3)
            .saturating_add(self.store.command_timeout.saturating_mul(2));
        let since = now_nanos.saturating_sub(self.heartbeat.load(Ordering::Relaxed));
        since > nanos_of(limit)
    }

    fn reject_open(&self, now: Duration) -> Result<Admission, Rejected> {
        let now_nanos = self.now_nanos();
        let until = self.open_until.load(Ordering::Acquire);
        if now_nanos < until {
            if !self.demand.load(Ordering::Relaxed) {
                self.demand.store(true, Ordering::Relaxed);
            }
            let retry_in = Duration::from_nanos(until.saturating_sub(now_nanos));
            return Err(Rejected::new(CircuitState::Open, Some(retry_in)));
        }
        if self.task_stalled(now_nanos) && self.set_mode(OPEN, PROBING) {
            return self.admit_probe(now);
        }
        // The recovery timeout has passed: the fleet is half-open, and the
        // probe is the first asker's.
        self.ask_for_probe();
        Err(Rejected::new(CircuitState::HalfOpen, None))
    }

    fn reject_half_open(&self, now: Duration) -> Result<Admission, Rejected> {
        if self.task_stalled(self.now_nanos()) && self.set_mode(HALF_OPEN, PROBING) {
            return self.admit_probe(now);
        }
        self.ask_for_probe();
        Err(Rejected::new(CircuitState::HalfOpen, None))
    }

    fn admit_probe(&self, now: Duration) -> Result<Admission, Rejected> {
        let busy = Rejected::new(CircuitState::HalfOpen, None);
        if self.probe.state() == CircuitState::Closed {
            // Trip it (threshold 1): it admits a probe a nanosecond later.
            let _ = self.probe.record(
                &Admission::normal(),
                CallResult::Failure(ErrorClass::Transient),
                now,
            );
        }
        match self
            .probe
            .acquire(now.saturating_add(Duration::from_nanos(1)))
        {
            Ok(admission) if admission.probe => {
                self.probe_out.store(true, Ordering::Release);
                Ok(admission)
            }
            Ok(admission) => {
                // Reset meanwhile (the token is gone): not a probe.
                let _ = self.probe.record(&admission, CallResult::Cancelled, now);
                Err(busy)
            }
            Err(_) => Err(busy),
        }
    }

    fn record(
        &self,
        admission: &Admission,
        result: CallResult,
        now: Duration,
    ) -> Option<Transition> {
        if admission.probe {
            return self.record_probe(admission, result, now);
        }
        // Successes and cancellations of calls admitted while closed move
        // nothing, as with the local breaker.
        let CallResult::Failure(class) = result else {
            return None;
        };
        if self.mode.load(Ordering::Acquire) != CLOSED || !self.counting.trips_on(class) {
            return None;
        }
        // The admission the call would get now equals the one it got iff
        // the local breaker is still in the closed cycle it was admitted
        // in (admitting while closed only reads). A failure of an earlier
        // cycle counts neither here nor in the fleet.
        let current = self.counting.acquire(now) == Ok(*admission);
        let opened = self.counting.record(admission, result, now);
        if current {
            self.count_pending(class);
        }
        let transition = opened?;
        // This process's own failures reached the threshold: open now,
        // and tell the fleet at once.
        let at = Instant::now();
        self.open_until.store(
            self.store
                .nanos(at)
                .saturating_add(nanos_of(self.settings.recovery)),
            Ordering::Release,
        );
        if !self.set_mode(CLOSED, OPEN) {
            return None;
        }
        self.tripped_at
            .store(self.store.nanos(at), Ordering::Release);
        let _ = self
            .flags
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |f| {
                Some((f & !PROBE_OK) | TRIPPED)
            });
        self.wake.notify_one();
        Some(transition)
    }

    fn count_pending(&self, class: ErrorClass) {
        let total = self
            .pending_total
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        let mut push = total >= self.push_at.load(Ordering::Relaxed);
        if self.settings.classes.iter().any(|(c, _)| *c == class) {
            let own = self
                .pending
                .get(class)
                .fetch_add(1, Ordering::AcqRel)
                .saturating_add(1);
            push |= own >= self.class_push_at.get(class).load(Ordering::Relaxed);
        }
        if push {
            self.wake.notify_one();
        }
    }

    fn discard_pending(&self) {
        self.pending_total.store(0, Ordering::Release);
        for (_, count) in self.pending.iter() {
            count.store(0, Ordering::Release);
        }
    }

    fn record_probe(
        &self,
        admission: &Admission,
        result: CallResult,
        now: Duration,
    ) -> Option<Transition> {
        let transition = self.probe.record(admission, result, now);
        self.probe_out.store(false, Ordering::Release);
        let transition = transition?;
        if transition.to == CircuitState::Closed {
            // A fresh closed cycle: earlier calls' failures no longer count.
            self.counting.reset();
            self.discard_pending();
            if !self.set_mode(PROBING, CLOSED) {
                return None;
            }
            let _ = self
                .flags
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |f| {
                    Some((f & !(TRIPPED | PROBE_FAILED)) | PROBE_OK)
                });
        } else {
            let until = self
                .now_nanos()
                .saturating_add(nanos_of(self.settings.recovery));
            self.open_until.store(until, Ordering::Release);
            if !self.set_mode(PROBING, OPEN) {
                return None;
            }
            let _ = self
                .flags
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |f| {
                    Some((f & !PROBE_OK) | PROBE_FAILED)
                });
        }
        self.wake.notify_one();
        Some(transition)
    }

    /// One sync; returns how long to wait before the next.
    async fn sync(&self, task: &mut Task) -> Duration {
        let now = Instant::now();
        self.heartbeat
            .store(self.store.nanos(now), Ordering::Relaxed);
        let classes = &self.settings.classes;
        let mut counts = Vec::with_capacity(classes.len().saturating_add(1));
        counts.push(self.pending_total.swap(0, Ordering::AcqRel));
        for (class, _) in classes {
            counts.push(self.pending.get(*class).swap(0, Ordering::AcqRel));
        }
        task.backlog.add(now, &counts);
        task.backlog.prune(now);
        let transitions = self.flags.swap(0, Ordering::AcqRel) | task.unsent;
        let mode = self.mode.load(Ordering::Acquire);
        let now_nanos = self.store.nanos(now);
        let open_over = self.open_until.load(Ordering::Acquire) <= now_nanos;
        let wants = match mode {
            PROBING => {
                self.probe_out.load(Ordering::Acquire)
                    || task.granted_at.is_some_and(|at| {
                        now.saturating_duration_since(at) < self.settings.probe_lease
                    })
            }
            HALF_OPEN => self.demand.swap(false, Ordering::AcqRel),
            OPEN if open_over => self.demand.swap(false, Ordering::AcqRel),
            _ => false,
        };
        let mut sent = transitions;
        if wants {
            sent |= WANT_PROBE;
        } else if mode == PROBING {
            sent |= RELEASE_PROBE;
        }
        let args = self.args(task, sent, now);
        match self.store.run(&scripts::BREAKER, &self.key, &args).await {
            Ok(values) => match Reply::parse(&values, classes.len().saturating_add(1)) {
                Some(reply) => self.synced(task, &reply, sent, transitions),
                None => self.failed(task, &StoreError::protocol(), transitions),
            },
            Err(e) => self.failed(task, &e, transitions),
        }
        self.next_wait()
    }

    fn args(&self, task: &Task, sent: u8, now: Instant) -> Vec<String> {
        let s = &self.settings;
        let window_ms = millis(s.window).max(1);
        let width = window_ms.div_ceil(SPAN).max(1);
        let span = window_ms.div_ceil(width);
        let key_ttl = s
            .window
            .saturating_add(s.recovery)
            .saturating_add(s.probe_lease)
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(60));
        let trip_age = if sent & TRIPPED != 0 {
            let at = self.store.instant(self.tripped_at.load(Ordering::Acquire));
            millis(now.saturating_duration_since(at))
        } else {
            0
        };
        let mut args = vec![
            self.client.clone(),
            task.generation.to_string(),
            width.to_string(),
            span.to_string(),
            s.threshold.to_string(),
            millis(s.recovery).max(1).to_string(),
            millis(s.probe_lease).max(1).to_string(),
            millis(key_ttl).min(i64::MAX.unsigned_abs()).to_string(),
            sent.to_string(),
            trip_age.to_string(),
            s.classes.len().to_string(),
        ];
        for (class, threshold) in &s.classes {
            args.push(class.name().to_owned());
            args.push(threshold.to_string());
        }
        args.push(task.backlog.len().to_string());
        for (age, counts) in task.backlog.aged(now) {
            args.push(age.to_string());
            args.extend(counts.iter().map(u64::to_string));
        }
        args
    }

    fn synced(&self, task: &mut Task, reply: &Reply, sent: u8, transitions: u8) {
        let now = Instant::now();
        self.syncs.fetch_add(1, Ordering::Relaxed);
        task.backlog.clear();
        task.unsent = 0;
        self.available.store(true, Ordering::Release);
        if let Some(since) = task.down_since.take() {
            self.store.emit(&FleetEvent::StoreBack {
                name: &self.name,
                down_for: now.saturating_duration_since(since),
            });
        }
        let closed_by_us = reply.transition == 2 && sent & PROBE_OK != 0;
        if closed_by_us {
            task.generation = reply.generation;
        }
        if self.flags.load(Ordering::Acquire) != 0 {
            // This process moved meanwhile; the next sync (already due)
            // reconciles.
            return;
        }
        let opened_by_us = reply.transition == 1 && transitions & (TRIPPED | PROBE_FAILED) != 0;
        let mode = self.mode.load(Ordering::Acquire);
        let generation_changed = reply.generation != task.generation;
        task.generation = reply.generation;
        match reply.state {
            0 => {
                if mode != CLOSED || (generation_changed && !closed_by_us) {
                    self.counting.reset();
                    self.discard_pending();
                    if mode != CLOSED && self.set_mode(mode, CLOSED) {
                        self.leave_probing(mode);
                        self.fleet_state(CircuitState::Closed);
                    }
                }
                let sum = reply
                    .sums
                    .first()
                    .copied()
                    .unwrap_or(0)
                    .max(0)
                    .unsigned_abs();
                self.fleet_failures.store(sum, Ordering::Release);
                let left = u64::from(self.settings.threshold).saturating_sub(sum);
                self.push_at.store(left.max(1), Ordering::Release);
                for ((class, threshold), sum) in
                    self.settings.classes.iter().zip(reply.sums.iter().skip(1))
                {
                    let left = u64::from(*threshold).saturating_sub(sum.max(&0).unsigned_abs());
                    self.class_push_at
                        .get(*class)
                        .store(left.max(1), Ordering::Release);
                }
            }
            1 => {
                self.fleet_failures.store(0, Ordering::Release);
                let remaining = Duration::from_millis(reply.remaining_ms.max(0).unsigned_abs());
                let until = self.store.nanos(now).saturating_add(nanos_of(remaining));
                self.open_until.store(until, Ordering::Release);
                if mode != OPEN && self.set_mode(mode, OPEN) {
                    self.leave_probing(mode);
                    if !opened_by_us {
                        self.fleet_state(CircuitState::Open);
                    }
                }
            }
            _ => {
                self.fleet_failures.store(0, Ordering::Release);
                let target = if reply.mine { PROBING } else { HALF_OPEN };
                if mode != target && self.set_mode(mode, target) {
                    self.leave_probing(mode);
                    if target == PROBING {
                        task.granted_at = Some(now);
                    }
                    if !matches!(mode, HALF_OPEN | PROBING) {
                        self.fleet_state(CircuitState::HalfOpen);
                    }
                }
            }
        }
    }

    /// After leaving `mode`: a probe of this process's, admitted or not,
    /// no longer decides anything.
    fn leave_probing(&self, mode: u8) {
        if mode == PROBING {
            self.probe.reset();
            self.probe_out.store(false, Ordering::Release);
        }
    }

    fn fleet_state(&self, state: CircuitState) {
        self.store.emit(&FleetEvent::FleetState {
            name: &self.name,
            state,
        });
    }

    fn failed(&self, task: &mut Task, error: &StoreError, transitions: u8) {
        let now = Instant::now();
        self.store_errors.fetch_add(1, Ordering::Relaxed);
        task.unsent = transitions;
        self.available.store(false, Ordering::Release);
        let fallback = self.settings.on_store_error;
        if task.down_since.is_none() {
            task.down_since = Some(now);
            self.store.emit(&FleetEvent::StoreUnavailable {
                name: &self.name,
                error,
                fallback,
            });
        }
        let mode = self.mode.load(Ordering::Acquire);
        match fallback {
            OnStoreError::Open if mode != FAIL_OPEN && self.set_mode(mode, FAIL_OPEN) => {
                self.leave_probing(mode);
            }
            OnStoreError::Closed if mode != FAIL_CLOSED && self.set_mode(mode, FAIL_CLOSED) => {
                self.leave_probing(mode);
            }
            OnStoreError::Local => {
                // Without the store's token, this process probes on its own
                // once the recovery timeout is over.
                let over = self.open_until.load(Ordering::Acquire) <= self.store.nanos(now);
                if (mode == HALF_OPEN || (mode == OPEN && over)) && self.set_mode(mode, PROBING) {
                    task.granted_at = Some(now);
                }
            }
            _ => {}
        }
    }

    fn next_wait(&self) -> Duration {
        let interval = self.settings.sync_interval;
        if self.mode.load(Ordering::Acquire) == OPEN {
            let until = self.open_until.load(Ordering::Acquire);
            let left = Duration::from_nanos(until.saturating_sub(self.now_nanos()));
            // Right after the recovery timeout, to hand out the probe.
            return interval.min(left.saturating_add(MIN_DURATION));
        }
        interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> FleetStore {
        // Nothing listens there: every sync fails, which these tests want.
        FleetStore::builder("redis://127.0.0.1:1")
            .command_timeout(Duration::from_millis(200))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn invalid_settings_are_typed_errors() {
        let store = store();
        let e = FleetBreaker::builder("x")
            .failure_threshold(0)
            .build(&store)
            .unwrap_err();
        assert!(
            matches!(e, FleetError::Config(ref c) if c.code() == "E013"),
            "{e}"
        );
        let e = FleetBreaker::builder("x")
            .recovery_timeout(Duration::ZERO)
            .build(&store)
            .unwrap_err();
        assert!(
            matches!(e, FleetError::Config(ref c) if c.code() == "E015"),
            "{e}"
        );
        let e = FleetBreaker::builder("x")
            .sync_interval(Duration::from_micros(10))
            .build(&store)
            .unwrap_err();
        assert!(e.to_string().contains("sync_interval"), "{e}");
        let e = FleetBreaker::builder("x")
            .probe_lease(Duration::from_millis(1500))
            .build(&store)
            .unwrap_err();
        assert!(e.to_string().contains("two sync intervals"), "{e}");
        let e = FleetBreaker::builder("bad name").build(&store).unwrap_err();
        assert!(matches!(e, FleetError::InvalidName { .. }), "{e}");
    }

    #[test]
    fn building_needs_a_runtime() {
        let e = FleetStore::builder("redis://127.0.0.1:1")
            .build()
            .unwrap_err();
        assert!(matches!(e, FleetError::NoRuntime));
    }

    /// Waits (bounded) until `f` holds.
    async fn eventually(mut f: impl FnMut() -> bool) {
        for _ in 0..400 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached");
    }

    #[tokio::test]
    async fn without_a_store_it_is_the_local_breaker() {
        let store = store();
        let b = FleetBreaker::builder("local")
            .failure_threshold(2)
            .recovery_timeout(Duration::from_millis(50))
            .sync_interval(Duration::from_millis(20))
            .build(&store)
            .unwrap();
        eventually(|| b.sync_counts().1 > 0).await;
        assert!(!b.store_available());
        let t = Duration::from_secs(1);
        let a = b.acquire(t).unwrap();
        assert_eq!(
            b.record(&a, CallResult::Failure(ErrorClass::Transient), t),
            None
        );
        let a = b.acquire(t).unwrap();
        let opened = b.record(&a, CallResult::Failure(ErrorClass::Transient), t);
        assert_eq!(opened.map(|t| t.to), Some(CircuitState::Open));
        let rejected = b.acquire(t).unwrap_err();
        assert_eq!(rejected.state, CircuitState::Open);
        assert!(rejected.retry_in.is_some());
        // After the recovery timeout the task hands this process the probe.
        eventually(|| b.holds_probe()).await;
        let probe = b.acquire(t).unwrap();
        assert!(probe.probe);
        assert_eq!(b.acquire(t).unwrap_err().state, CircuitState::HalfOpen);
        let closed = b.record(&probe, CallResult::Success, t);
        assert_eq!(closed.map(|t| t.to), Some(CircuitState::Closed));
        assert_eq!(b.state(), CircuitState::Closed);
        // A fresh cycle: one failure does not reopen it.
        let a = b.acquire(t).unwrap();
        assert_eq!(
            b.record(&a, CallResult::Failure(ErrorClass::ServerError), t),
            None
        );
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[tokio::test]
    async fn a_call_of_an_earlier_cycle_counts_nowhere() {
        let store = store();
        let b = FleetBreaker::builder("cycles")
            .failure_threshold(2)
            .recovery_timeout(Duration::from_millis(30))
            .sync_interval(Duration::from_millis(10))
            .build(&store)
            .unwrap();
        let t = Duration::from_secs(1);
        let slow = b.acquire(t).unwrap();
        for _ in 0..2 {
            let a = b.acquire(t).unwrap();
            let _ = b.record(&a, CallResult::Failure(ErrorClass::Transient), t);
        }
        eventually(|| b.holds_probe()).await;
        let probe = b.acquire(t).unwrap();
        assert!(b.record(&probe, CallResult::Success, t).is_some());
        let before = b.inner.pending_total.load(Ordering::Acquire);
        assert_eq!(
            b.record(&slow, CallResult::Failure(ErrorClass::Transient), t),
            None
        );
        assert_eq!(b.inner.pending_total.load(Ordering::Acquire), before);
        assert_eq!(b.inner.counting.failures(t), 0);
    }

    #[tokio::test]
    async fn fail_open_and_fail_closed() {
        let store = store();
        let open = FleetBreaker::builder("open")
            .on_store_error(OnStoreError::Open)
            .sync_interval(Duration::from_millis(10))
            .failure_threshold(1)
            .build(&store)
            .unwrap();
        let closed = FleetBreaker::builder("closed")
            .on_store_error(OnStoreError::Closed)
            .sync_interval(Duration::from_millis(10))
            .build(&store)
            .unwrap();
        eventually(|| open.sync_counts().1 > 0 && closed.sync_counts().1 > 0).await;
        let t = Duration::from_secs(1);
        for _ in 0..5 {
            let a = open.acquire(t).unwrap();
            assert_eq!(
                open.record(&a, CallResult::Failure(ErrorClass::Transient), t),
                None
            );
        }
        assert_eq!(open.state(), CircuitState::Closed);
        assert_eq!(
            closed.acquire(t).unwrap_err(),
            Rejected::new(CircuitState::Open, None)
        );
    }

    #[tokio::test]
    async fn the_store_unavailable_event_fires_once_per_outage() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let store = FleetStore::builder("redis://127.0.0.1:1")
            .command_timeout(Duration::from_millis(100))
            .on_event(move |e| log.lock().unwrap().push(e.to_string()))
            .build()
            .unwrap();
        let b = FleetBreaker::builder("events")
            .sync_interval(Duration::from_millis(5))
            .build(&store)
            .unwrap();
        eventually(|| b.sync_counts().1 >= 3).await;
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].starts_with("events: store unavailable"), "{seen:?}");
        assert!(seen[0].contains("running on local state"), "{seen:?}");
    }

    #[test]
    fn it_is_a_shareable_breaker() {
        fn shareable<T: Breaker + Send + Sync + 'static>() {}
        shareable::<FleetBreaker>();
    }
}
