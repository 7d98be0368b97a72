//! The fleet budget: retries leased from the fleet in small batches.

use core::fmt;
use core::time::Duration;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use redress_core::budget::{Budget, RatioBudget, RollingBudget};
use tokio::sync::Notify;

use crate::backlog::Backlog;
use crate::error::{FleetError, StoreError};
use crate::event::{FleetEvent, OnStoreError};
use crate::scripts;
use crate::store::{FleetStore, StoreShared, check_name};

/// Buckets per window in the store.
const SPAN: u64 = 16;
/// The largest lease.
const MAX_LEASE: u32 = 1 << 20;

/// A retry budget shared by every process that uses the same name on the
/// same store: the fleet's retries, not each process's, stay within the
/// budget (a rolling cap, or a ratio of the fleet's calls).
///
/// A retry never waits for Redis. Each process holds a few tokens leased
/// from the fleet (`lease`, by default about 1/32 of the budget) and
/// spends them with one compare-and-swap; when it runs low, the
/// background task leases more at once. While the fleet had room at the
/// last sync, a process that has spent its tokens may grant up to one
/// more lease on credit, settled at the next sync, so a process that was
/// idle never refuses its first retries for want of a lease. The price is
/// a bounded slack: in any window the fleet grants at most the budget plus
/// 3 × `lease` per process (see `docs/fleet.md`), and in practice close to
/// the budget.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use redress::{Budget, Policy};
/// use redress_redis::{FleetBudget, FleetStore};
///
/// # let Some(url) = redress_test_services::redis_url() else { return Ok(()) };
/// // let url = std::env::var("REDIS_URL")?;
/// let store = FleetStore::builder(url).prefix("doc-budget").build()?;
/// // At most 100 retries a minute across every replica.
/// let budget = Arc::new(FleetBudget::rolling("search", 100, Duration::from_secs(60)).build(&store)?);
/// let policy = Policy::quick().budget(budget.clone()).build()?;
/// # let _ = policy;
/// assert!(budget.try_withdraw(Duration::ZERO));
/// # Ok(())
/// # }
/// ```
pub struct FleetBudget {
    inner: Arc<Inner>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Rolling { max_retries: u32 },
    Ratio { ratio: f64, min_per_second: u32 },
}

struct Inner {
    name: String,
    key: String,
    store: Arc<StoreShared>,
    kind: Kind,
    window: Duration,
    lease: i64,
    /// Tokens held (leased, unspent); negative: granted on credit, to be
    /// settled at the next sync.
    tokens: AtomicI64,
    /// How low `tokens` may go: minus one lease while the fleet had room
    /// for it at the last sync, zero otherwise.
    floor: AtomicI64,
    /// A withdrawal found nothing to spend since the last sync.
    refused: AtomicBool,
    /// Calls since the last sync (ratio budgets).
    calls: AtomicU64,
    /// Retries the fallback granted while the store was unreachable.
    fallback_spent: AtomicU64,
    down: AtomicBool,
    /// The budget of the same size that serves while the store is
    /// unreachable ([`OnStoreError::Local`]).
    local: Box<dyn Budget + Send + Sync>,
    room: AtomicI64,
    syncs: AtomicU64,
    store_errors: AtomicU64,
    wake: Arc<Notify>,
    sync_interval: Duration,
    on_store_error: OnStoreError,
}

impl fmt::Debug for FleetBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetBudget")
            .field("name", &self.inner.name)
            .field("key", &self.inner.key)
            .field("kind", &self.inner.kind)
            .field("window", &self.inner.window)
            .field("lease", &self.inner.lease)
            .field("tokens", &self.inner.tokens.load(Ordering::Relaxed))
            .field("store_available", &self.store_available())
            .finish_non_exhaustive()
    }
}

impl FleetBudget {
    /// The default sync interval: one second.
    pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(1);

    /// At most `max_retries` retries in any rolling `window`, fleet-wide.
    pub fn rolling(
        name: impl Into<String>,
        max_retries: u32,
        window: Duration,
    ) -> FleetBudgetBuilder {
        FleetBudgetBuilder::new(name.into(), Kind::Rolling { max_retries }, window)
    }

    /// Retries at most `ratio` × the fleet's calls in the window, plus
    /// `min_per_second` × the window's seconds (the defaults of the local
    /// [`RatioBudget`]: 0.2, 10, 10 s; change them on the builder).
    pub fn ratio(name: impl Into<String>) -> FleetBudgetBuilder {
        FleetBudgetBuilder::new(
            name.into(),
            Kind::Ratio {
                ratio: RatioBudget::DEFAULT_RATIO,
                min_per_second: RatioBudget::DEFAULT_MIN_PER_SECOND,
            },
            RatioBudget::DEFAULT_WINDOW,
        )
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The Redis key (`PREFIX:budget:NAME`).
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// The lease: tokens taken from the fleet at a time.
    pub fn lease(&self) -> u64 {
        self.inner.lease.unsigned_abs()
    }

    /// Whether the last sync reached the store.
    pub fn store_available(&self) -> bool {
        !self.inner.down.load(Ordering::Acquire)
    }

    /// The fleet's room (retries it could still grant) as of the last
    /// sync; negative when credit overshot it.
    pub fn fleet_room(&self) -> i64 {
        self.inner.room.load(Ordering::Acquire)
    }

    /// Syncs that reached the store, and syncs that failed, so far.
    pub fn sync_counts(&self) -> (u64, u64) {
        (
            self.inner.syncs.load(Ordering::Relaxed),
            self.inner.store_errors.load(Ordering::Relaxed),
        )
    }

    /// Asks the background task to sync now.
    pub fn sync_soon(&self) {
        self.inner.wake.notify_one();
    }
}

impl Budget for FleetBudget {
    fn on_call(&self, now: Duration) {
        if let Kind::Ratio { .. } = self.inner.kind {
            self.inner.calls.fetch_add(1, Ordering::Relaxed);
            if self.inner.down.load(Ordering::Relaxed) {
                self.inner.local.on_call(now);
            }
        }
    }

    fn try_withdraw(&self, now: Duration) -> bool {
        self.inner.try_withdraw(now)
    }

    /// Retries this process can grant now without asking the store: its
    /// tokens and its credit.
    fn remaining(&self, now: Duration) -> Option<u64> {
        let _ = now;
        let inner = &self.inner;
        let spendable = inner
            .tokens
            .load(Ordering::Acquire)
            .saturating_sub(inner.floor.load(Ordering::Acquire));
        Some(spendable.max(0).unsigned_abs())
    }

    fn window(&self) -> Option<Duration> {
        Some(self.inner.window)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

/// Builds a [`FleetBudget`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `.build(&store)`"]
pub struct FleetBudgetBuilder {
    name: String,
    kind: Kind,
    window: Duration,
    lease: Option<u32>,
    sync_interval: Duration,
    on_store_error: OnStoreError,
}

impl FleetBudgetBuilder {
    fn new(name: String, kind: Kind, window: Duration) -> Self {
        FleetBudgetBuilder {
            name,
            kind,
            window,
            lease: None,
            sync_interval: FleetBudget::DEFAULT_SYNC_INTERVAL,
            on_store_error: OnStoreError::Local,
        }
    }

    /// The window (at least 1 ms).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// For a ratio budget: retries allowed per call (at most 1000).
    /// Ignored by a rolling budget.
    pub fn ratio(mut self, value: f64) -> Self {
        if let Kind::Ratio { ratio, .. } = &mut self.kind {
            *ratio = value;
        }
        self
    }

    /// For a ratio budget: retries always allowed per second of the
    /// window. Ignored by a rolling budget.
    pub fn min_per_second(mut self, min: u32) -> Self {
        if let Kind::Ratio { min_per_second, .. } = &mut self.kind {
            *min_per_second = min;
        }
        self
    }

    /// Tokens leased at a time (default: 1/32 of the cap or of the ratio
    /// budget's floor, from 1 to 64). A larger lease means fewer syncs
    /// under retry load and more slack (see [`FleetBudget`]).
    pub fn lease(mut self, tokens: u32) -> Self {
        self.lease = Some(tokens);
        self
    }

    /// How often the background task syncs when nothing wakes it earlier
    /// (default 1 s; at least 1 ms).
    pub fn sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval;
        self
    }

    /// What to do while the store is unreachable (default
    /// [`OnStoreError::Local`]: the tokens held, then a local budget of the
    /// same size).
    pub fn on_store_error(mut self, fallback: OnStoreError) -> Self {
        self.on_store_error = fallback;
        self
    }

    fn reserve(&self) -> u64 {
        match self.kind {
            Kind::Rolling { max_retries } => u64::from(max_retries),
            // As the local ratio budget computes it.
            Kind::Ratio { min_per_second, .. } => {
                (f64::from(min_per_second) * self.window.as_secs_f64()) as u64
            }
        }
    }

    /// Validates the settings (the local budgets' rules and codes, then
    /// this crate's), builds the budget and starts its background sync.
    pub fn build(self, store: &FleetStore) -> Result<FleetBudget, FleetError> {
        check_name("name", &self.name)?;
        let local: Box<dyn Budget + Send + Sync> = match self.kind {
            Kind::Rolling { max_retries } => {
                Box::new(RollingBudget::new(max_retries, self.window)?)
            }
            Kind::Ratio {
                ratio,
                min_per_second,
            } => Box::new(
                RatioBudget::builder()
                    .ratio(ratio)
                    .min_per_second(min_per_second)
                    .window(self.window)
                    .build()?,
            ),
        };
        for (setting, value) in [
            ("window", self.window),
            ("sync_interval", self.sync_interval),
        ] {
            if value < Duration::from_millis(1) {
                return Err(FleetError::OutOfRange {
                    setting,
                    value: format!("{value:?}"),
                    help: "the store counts in milliseconds: use at least 1ms",
                });
            }
        }
        let lease = match self.lease {
            Some(0) => {
                return Err(FleetError::OutOfRange {
                    setting: "lease",
                    value: "0".to_owned(),
                    help: "lease at least one token at a time",
                });
            }
            Some(n) if n > MAX_LEASE => {
                return Err(FleetError::OutOfRange {
                    setting: "lease",
                    value: n.to_string(),
                    help: "at most 1048576 tokens at a time",
                });
            }
            Some(n) => i64::from(n),
            None => i64::try_from((self.reserve() / 32).clamp(1, 64)).unwrap_or(1),
        };
        let shared = Arc::clone(&store.shared);
        let inner = Arc::new(Inner {
            key: shared.key("budget", &self.name),
            name: self.name,
            store: Arc::clone(&shared),
            kind: self.kind,
            window: self.window,
            lease,
            tokens: AtomicI64::new(0),
            // Credit from the start: the first sync settles it.
            floor: AtomicI64::new(lease.saturating_neg()),
            refused: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            fallback_spent: AtomicU64::new(0),
            down: AtomicBool::new(false),
            local,
            room: AtomicI64::new(0),
            syncs: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            wake: Arc::new(Notify::new()),
            sync_interval: self.sync_interval,
            on_store_error: self.on_store_error,
        });
        let task = Task {
            backlog: Backlog::new(self.window),
            down_since: None,
            leased_at: None,
            last_tokens: 0,
        };
        shared
            .runtime
            .spawn(run(Arc::downgrade(&inner), Arc::clone(&inner.wake), task));
        Ok(FleetBudget { inner })
    }
}

struct Task {
    /// Retries granted by the fallback and calls, with their age.
    backlog: Backlog,
    down_since: Option<Instant>,
    /// When tokens were last leased.
    leased_at: Option<Instant>,
    /// `tokens` right after the last sync: a change means demand.
    last_tokens: i64,
}

async fn run(inner: Weak<Inner>, wake: Arc<Notify>, mut task: Task) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        strong.sync(&mut task).await;
        let wait = strong.sync_interval;
        drop(strong);
        let _ = tokio::time::timeout(wait, wake.notified()).await;
    }
}

impl Inner {
    fn try_withdraw(&self, now: Duration) -> bool {
        let floor = self.floor.load(Ordering::Acquire);
        let mut tokens = self.tokens.load(Ordering::Acquire);
        while tokens > floor {
            let left = tokens.saturating_sub(1);
            match self.tokens.compare_exchange_weak(
                tokens,
                left,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // Half a lease left: lease more before it runs out.
                    if left.saturating_mul(2) <= self.lease {
                        self.wake.notify_one();
                    }
                    return true;
                }
                Err(actual) => tokens = actual,
            }
        }
        if !self.down.load(Ordering::Acquire) {
            if !self.refused.swap(true, Ordering::AcqRel) {
                self.wake.notify_one();
            }
            return false;
        }
        let granted = match self.on_store_error {
            OnStoreError::Local => self.local.try_withdraw(now),
            OnStoreError::Open => true,
            _ => false,
        };
        if granted {
            self.fallback_spent.fetch_add(1, Ordering::Relaxed);
        }
        granted
    }

    async fn sync(&self, task: &mut Task) {
        let now = Instant::now();
        // Tokens leased a window ago were counted a window ago: spending
        // them now would go beyond the budget.
        if task
            .leased_at
            .is_some_and(|at| now.saturating_duration_since(at) >= self.window)
        {
            let _ = self
                .tokens
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    (t > 0).then_some(0)
                });
            task.leased_at = None;
        }
        let tokens = self.tokens.load(Ordering::Acquire);
        let debt = tokens.min(0).unsigned_abs();
        let calls = self.calls.swap(0, Ordering::AcqRel);
        let fallback = self.fallback_spent.swap(0, Ordering::AcqRel);
        task.backlog.add(now, &[fallback, calls]);
        task.backlog.prune(now);
        let demand = self.refused.swap(false, Ordering::AcqRel) || tokens != task.last_tokens;
        let want = if demand {
            self.lease.saturating_sub(tokens.max(0)).max(0)
        } else {
            0
        };
        let args = self.args(task, debt, want, now);
        let reply = self.store.run(&scripts::BUDGET, &self.key, &args).await;
        match reply {
            Ok(values) => match values.as_slice() {
                [granted, room, _allowance] => self.synced(task, debt, *granted, *room),
                _ => self.failed(task, &StoreError::protocol(), debt),
            },
            Err(e) => self.failed(task, &e, debt),
        }
        task.last_tokens = self.tokens.load(Ordering::Acquire);
    }

    fn args(&self, task: &Task, debt: u64, want: i64, now: Instant) -> Vec<String> {
        let window_ms = u64::try_from(self.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let width = window_ms.div_ceil(SPAN).max(1);
        let span = window_ms.div_ceil(width);
        let (kind, base, ratio) = match self.kind {
            Kind::Rolling { max_retries } => (0, u64::from(max_retries), 0.0),
            Kind::Ratio {
                ratio,
                min_per_second,
            } => (
                1,
                (f64::from(min_per_second) * self.window.as_secs_f64()) as u64,
                ratio,
            ),
        };
        let key_ttl = window_ms.saturating_mul(2).saturating_add(60_000);
        let mut args = vec![
            width.to_string(),
            span.to_string(),
            kind.to_string(),
            base.to_string(),
            format!("{ratio:.17}"),
            want.to_string(),
            key_ttl.to_string(),
            task.backlog.len().saturating_add(1).to_string(),
        ];
        for (age, counts) in task.backlog.aged(now) {
            args.push(age.to_string());
            args.extend(counts.iter().map(u64::to_string));
        }
        // Retries granted on credit since the last sync, counted whatever
        // the room.
        args.extend(["0".to_owned(), debt.to_string(), "0".to_owned()]);
        args
    }

    fn synced(&self, task: &mut Task, debt: u64, granted: i64, room: i64) {
        let now = Instant::now();
        self.syncs.fetch_add(1, Ordering::Relaxed);
        task.backlog.clear();
        let granted = granted.max(0);
        let settled = i64::try_from(debt)
            .unwrap_or(i64::MAX)
            .saturating_add(granted);
        self.tokens.fetch_add(settled, Ordering::AcqRel);
        if granted > 0 {
            task.leased_at = Some(now);
        }
        self.room.store(room, Ordering::Release);
        let floor = if room >= self.lease {
            self.lease.saturating_neg()
        } else {
            0
        };
        self.floor.store(floor, Ordering::Release);
        if let Some(since) = task.down_since.take() {
            self.down.store(false, Ordering::Release);
            self.store.emit(&FleetEvent::StoreBack {
                name: &self.name,
                down_for: now.saturating_duration_since(since),
            });
        }
    }

    fn failed(&self, task: &mut Task, error: &StoreError, debt: u64) {
        let _ = debt; // still owed: `tokens` keeps it until a sync settles it
        self.store_errors.fetch_add(1, Ordering::Relaxed);
        // No credit while the fleet's room is unknown.
        self.floor.store(0, Ordering::Release);
        if task.down_since.is_none() {
            task.down_since = Some(Instant::now());
            self.down.store(true, Ordering::Release);
            self.store.emit(&FleetEvent::StoreUnavailable {
                name: &self.name,
                error,
                fallback: self.on_store_error,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> FleetStore {
        FleetStore::builder("redis://127.0.0.1:1")
            .command_timeout(Duration::from_millis(200))
            .build()
            .unwrap()
    }

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
    async fn invalid_budgets_are_typed_errors() {
        let store = store();
        let e = FleetBudget::rolling("b", 1, Duration::ZERO)
            .build(&store)
            .unwrap_err();
        assert!(
            matches!(e, FleetError::Config(ref c) if c.code() == "E010"),
            "{e}"
        );
        let e = FleetBudget::ratio("b")
            .ratio(f64::NAN)
            .build(&store)
            .unwrap_err();
        assert!(
            matches!(e, FleetError::Config(ref c) if c.code() == "E011"),
            "{e}"
        );
        let e = FleetBudget::rolling("b", 1, Duration::from_secs(1))
            .lease(0)
            .build(&store)
            .unwrap_err();
        assert!(e.to_string().contains("lease"), "{e}");
    }

    #[tokio::test]
    async fn default_leases_follow_the_budget() {
        let store = store();
        let b = |max| {
            FleetBudget::rolling("lease", max, Duration::from_secs(60))
                .build(&store)
                .unwrap()
                .lease()
        };
        assert_eq!(b(0), 1);
        assert_eq!(b(100), 3);
        assert_eq!(b(1_000_000), 64);
        let ratio = FleetBudget::ratio("lease").build(&store).unwrap();
        assert_eq!(ratio.lease(), 3);
    }

    #[tokio::test]
    async fn without_a_store_the_local_budget_serves() {
        let store = store();
        let b = FleetBudget::rolling("down", 3, Duration::from_secs(60))
            .lease(1)
            .sync_interval(Duration::from_millis(10))
            .build(&store)
            .unwrap();
        eventually(|| !b.store_available()).await;
        let t = Duration::from_secs(1);
        let granted = (0..10).filter(|_| b.try_withdraw(t)).count();
        // The local budget of the same size: no credit without the store.
        assert_eq!(granted, 3);
        let open = FleetBudget::rolling("open", 0, Duration::from_secs(60))
            .on_store_error(OnStoreError::Open)
            .sync_interval(Duration::from_millis(10))
            .build(&store)
            .unwrap();
        let closed = FleetBudget::rolling("closed", 100, Duration::from_secs(60))
            .on_store_error(OnStoreError::Closed)
            .sync_interval(Duration::from_millis(10))
            .build(&store)
            .unwrap();
        eventually(|| !open.store_available() && !closed.store_available()).await;
        assert!((0..10).all(|_| open.try_withdraw(t)));
        assert!((0..10).all(|_| !closed.try_withdraw(t)));
    }
}
