//! Breakers and budgets declared once by name and shared by policies.
//!
//! ```toml
//! [breakers.upstream]
//! failure_threshold = 10
//! store = "redis://127.0.0.1:6379"   # optional: shared by the fleet, not only this process
//! sync_interval = "500ms"            # with a store (default 1s)
//! on_store_error = "local"           # with a store: "local" (default), "open" or "closed"
//!
//! [budgets.upstream]
//! max_retries = 100
//! window = "60s"
//!
//! [policies.reads]
//! strategy = "full_jitter"
//! circuit_breaker = "upstream"        # a name instead of a table
//! budget = "upstream"
//!
//! [policies.writes]
//! strategy = "decorrelated_jitter"
//! circuit_breaker = "upstream"
//! ```
//!
//! A policy that names a declaration gets its settings (so every rule of
//! the lint applies to them) and a [`SharedRef`] saying which one it is.
//! [`SharedState`] builds such policies: one breaker or budget per name,
//! handed to every policy that names it. A declaration with a `store` is
//! built by a [`StoreResolver`], which this crate only defines: it knows
//! nothing about any store (`redress_redis::ConfigResolver` is one for
//! Redis).

use core::fmt;
use core::time::Duration;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use redress_core::{Breaker, Budget, ErrorClassifier, NoResultClassifier, Policy, PolicyBuilder};

use crate::build::BuildError;
use crate::diagnostic::Diagnostic;
use crate::duration::format_duration;
use crate::model::{BreakerConfig, BudgetConfig, PolicyConfig};

/// The default sync interval of a declaration with a store: one second.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Where a shared breaker or budget keeps its state beyond this process
/// (`store = "..."` and its settings).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreConfig {
    /// The store's URL (`redis://HOST:PORT`), as written.
    pub url: String,
    /// How often each process syncs with the store (`sync_interval`,
    /// default 1 s).
    pub sync_interval: Duration,
    /// What to do while the store is unreachable (`on_store_error`).
    pub on_store_error: StoreFallback,
}

impl StoreConfig {
    /// A store at `url` with the default settings.
    pub fn new(url: impl Into<String>) -> Self {
        StoreConfig {
            url: url.into(),
            sync_interval: DEFAULT_SYNC_INTERVAL,
            on_store_error: StoreFallback::Local,
        }
    }
}

/// What a shared breaker or budget does while its store is unreachable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreFallback {
    /// `local` (the default): this process's own state.
    #[default]
    Local,
    /// `open`: admit every call, grant every retry.
    Open,
    /// `closed`: reject every call, refuse every retry.
    Closed,
}

impl StoreFallback {
    /// The names, as files write them.
    pub const NAMES: [&'static str; 3] = ["local", "open", "closed"];

    /// The name, as files write it.
    pub fn name(self) -> &'static str {
        match self {
            StoreFallback::Local => "local",
            StoreFallback::Open => "open",
            StoreFallback::Closed => "closed",
        }
    }

    /// The fallback named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "local" => Some(StoreFallback::Local),
            "open" => Some(StoreFallback::Open),
            "closed" => Some(StoreFallback::Closed),
            _ => None,
        }
    }
}

/// A policy's reference to a declared breaker or budget.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedRef {
    /// The declaration's name (`[breakers.NAME]`, `[budgets.NAME]`).
    pub name: String,
    /// Its store, if it is shared beyond this process.
    pub store: Option<StoreConfig>,
}

impl SharedRef {
    /// A reference to the declaration `name`, kept in this process.
    pub fn local(name: impl Into<String>) -> Self {
        SharedRef {
            name: name.into(),
            store: None,
        }
    }

    /// A reference to the declaration `name`, kept in `store`.
    pub fn in_store(name: impl Into<String>, store: StoreConfig) -> Self {
        SharedRef {
            name: name.into(),
            store: Some(store),
        }
    }
}

/// A declared breaker: `[breakers.NAME]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedBreaker {
    /// Its settings.
    pub config: BreakerConfig,
    /// Its store, if any.
    pub store: Option<StoreConfig>,
}

/// A declared budget: `[budgets.NAME]`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SharedBudget {
    /// Its settings.
    pub config: BudgetConfig,
    /// Its store, if any.
    pub store: Option<StoreConfig>,
}

/// The error a [`StoreResolver`] returns.
pub type ResolveError = Box<dyn std::error::Error + Send + Sync>;

/// Builds the breakers and budgets declared with a `store`. Implemented
/// outside this crate, by the crate that speaks to the store
/// (`redress_redis::ConfigResolver` for `redis://`).
pub trait StoreResolver: Send + Sync {
    /// The breaker declared as `name` with `config`, kept in `store`.
    fn breaker(
        &self,
        name: &str,
        config: &BreakerConfig,
        store: &StoreConfig,
    ) -> Result<Arc<dyn Breaker + Send + Sync>, ResolveError>;

    /// The budget declared as `name` with `config`, kept in `store`.
    fn budget(
        &self,
        name: &str,
        config: &BudgetConfig,
        store: &StoreConfig,
    ) -> Result<Arc<dyn Budget + Send + Sync>, ResolveError>;
}

type Breakers = BTreeMap<String, Arc<dyn Breaker + Send + Sync>>;
type Budgets = BTreeMap<String, Arc<dyn Budget + Send + Sync>>;

/// Builds policies that share their declared breakers and budgets: the
/// first policy that names a declaration creates it, every later one gets
/// the same instance. Policies that declare their own (a table instead of
/// a name) get their own, as [`PolicyConfig::builder`] gives them.
///
/// ```
/// use redress_config::{ConfigFile, SharedState};
/// use redress_core::CircuitState;
///
/// let file = ConfigFile::from_toml_str(r#"
///     [breakers.upstream]
///     failure_threshold = 1
///
///     [policies.reads]
///     strategy = "full_jitter"
///     circuit_breaker = "upstream"
///
///     [policies.writes]
///     strategy = "decorrelated_jitter"
///     circuit_breaker = "upstream"
/// "#)?;
/// let shared = SharedState::new();
/// let reads = shared.build(file.policy("reads")?)?;
/// let writes = shared.build(file.policy("writes")?)?;
/// let (r, w) = (reads.circuit_breaker().unwrap(), writes.circuit_breaker().unwrap());
/// assert!(std::ptr::addr_eq(r, w), "one breaker for both");
/// assert_eq!(w.state(), CircuitState::Closed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct SharedState {
    breakers: Mutex<Breakers>,
    budgets: Mutex<Budgets>,
    resolver: Option<Box<dyn StoreResolver>>,
}

impl fmt::Debug for SharedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn names<T>(m: &Mutex<BTreeMap<String, T>>) -> Vec<String> {
            m.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .cloned()
                .collect()
        }
        f.debug_struct("SharedState")
            .field("breakers", &names(&self.breakers))
            .field("budgets", &names(&self.budgets))
            .field("resolver", &self.resolver.is_some())
            .finish()
    }
}

impl SharedState {
    /// Shared state for declarations kept in this process; a declaration
    /// with a `store` is refused ([`BuildError::NoResolver`]).
    pub fn new() -> Self {
        SharedState::default()
    }

    /// Shared state whose declarations with a `store` are built by
    /// `resolver`.
    pub fn with_resolver(resolver: impl StoreResolver + 'static) -> Self {
        SharedState {
            resolver: Some(Box::new(resolver)),
            ..SharedState::default()
        }
    }

    /// A [`PolicyBuilder`] for `config`, with its shared breaker and budget
    /// (created on first use), for the classifier and the rest; like
    /// [`PolicyConfig::builder`] otherwise.
    pub fn builder(&self, config: &PolicyConfig) -> Result<PolicyBuilder, BuildError> {
        let mut own = config.clone();
        let breaker = own.shared_breaker.take();
        let budget = own.shared_budget.take();
        if breaker.is_some() {
            own.circuit_breaker = None;
        }
        if budget.is_some() {
            own.budget = None;
        }
        // The lint runs on the whole config, shared parts included.
        let report = crate::lint::Lint::lint(config);
        if report.has_errors() {
            return Err(BuildError::Invalid(report));
        }
        let mut b = own.builder()?;
        if let (Some(r), Some(settings)) = (breaker, &config.circuit_breaker) {
            b = b.circuit_breaker(self.breaker(&r, settings)?);
        }
        if let (Some(r), Some(settings)) = (budget, &config.budget) {
            b = b.budget(self.budget(&r, settings)?);
        }
        Ok(b)
    }

    /// Builds `config` with the default classifier.
    pub fn build(
        &self,
        config: &PolicyConfig,
    ) -> Result<Policy<ErrorClassifier, NoResultClassifier>, BuildError> {
        Ok(self.builder(config)?.build()?)
    }

    /// Builds `config` with the application's classifier.
    pub fn build_with<C>(
        &self,
        config: &PolicyConfig,
        classifier: C,
    ) -> Result<Policy<C, NoResultClassifier>, BuildError> {
        Ok(self.builder(config)?.classifier(classifier).build()?)
    }

    /// The breaker built for the declaration `name`, if one was.
    pub fn breaker_named(&self, name: &str) -> Option<Arc<dyn Breaker + Send + Sync>> {
        let map = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned()
    }

    /// The budget built for the declaration `name`, if one was.
    pub fn budget_named(&self, name: &str) -> Option<Arc<dyn Budget + Send + Sync>> {
        let map = self.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned()
    }

    fn breaker(
        &self,
        r: &SharedRef,
        config: &BreakerConfig,
    ) -> Result<Arc<dyn Breaker + Send + Sync>, BuildError> {
        let mut map = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = map.get(&r.name) {
            return Ok(Arc::clone(existing));
        }
        let built: Arc<dyn Breaker + Send + Sync> = match &r.store {
            None => Arc::new(config.build()?),
            Some(store) => self
                .resolver(r, store)?
                .breaker(&r.name, config, store)
                .map_err(|error| BuildError::Store {
                    name: r.name.clone(),
                    error,
                })?,
        };
        map.insert(r.name.clone(), Arc::clone(&built));
        Ok(built)
    }

    fn budget(
        &self,
        r: &SharedRef,
        config: &BudgetConfig,
    ) -> Result<Arc<dyn Budget + Send + Sync>, BuildError> {
        let mut map = self.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = map.get(&r.name) {
            return Ok(Arc::clone(existing));
        }
        let built: Arc<dyn Budget + Send + Sync> = match &r.store {
            None => config.build_local()?,
            Some(store) => self
                .resolver(r, store)?
                .budget(&r.name, config, store)
                .map_err(|error| BuildError::Store {
                    name: r.name.clone(),
                    error,
                })?,
        };
        map.insert(r.name.clone(), Arc::clone(&built));
        Ok(built)
    }

    fn resolver(
        &self,
        r: &SharedRef,
        store: &StoreConfig,
    ) -> Result<&dyn StoreResolver, BuildError> {
        self.resolver
            .as_deref()
            .ok_or_else(|| BuildError::NoResolver {
                name: r.name.clone(),
                url: store.url.clone(),
            })
    }
}

/// The warnings about a policy's shared parts (`W023`, `W024`).
pub(crate) fn warnings(config: &PolicyConfig, out: &mut Vec<Diagnostic>) {
    let sync = |r: &Option<SharedRef>| {
        r.as_ref()
            .and_then(|r| r.store.as_ref())
            .map(|s| s.sync_interval)
    };
    if let (Some(sync), Some(breaker)) = (sync(&config.shared_breaker), &config.circuit_breaker) {
        if sync > breaker.window {
            out.push(sync_longer_than_window(
                "circuit_breaker",
                sync,
                breaker.window,
            ));
        }
        if sync >= breaker.recovery_timeout {
            out.push(
                Diagnostic::warning(
                    "W024",
                    "circuit_breaker",
                    format!(
                        "the shared breaker syncs every {}, not sooner than its recovery_timeout ({}): the fleet learns of each half-open a whole recovery late",
                        format_duration(sync),
                        format_duration(breaker.recovery_timeout)
                    ),
                )
                .with_help("make sync_interval a small fraction of recovery_timeout"),
            );
        }
    }
    if let (Some(sync), Some(budget)) = (sync(&config.shared_budget), &config.budget) {
        if sync > budget.window() {
            out.push(sync_longer_than_window("budget", sync, budget.window()));
        }
    }
}

fn sync_longer_than_window(path: &str, sync: Duration, window: Duration) -> Diagnostic {
    Diagnostic::warning(
        "W023",
        path,
        format!(
            "the shared {} syncs every {}, longer than its window ({}): counts may age out before the fleet sees them",
            if path == "budget" { "budget" } else { "breaker" },
            format_duration(sync),
            format_duration(window)
        ),
    )
    .with_help("make sync_interval a small fraction of the window (1s for a 60s window)")
}
