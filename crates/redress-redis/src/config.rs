//! Building the breakers and budgets that redress-config files declare with
//! `store = "redis://..."`.

use core::fmt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use redress_config::shared::ResolveError;
use redress_config::{BreakerConfig, BudgetConfig, StoreConfig, StoreFallback, StoreResolver};
use redress_core::{Breaker, Budget};

use crate::event::{FleetEvent, Listener};
use crate::{FleetBreaker, FleetBudget, FleetStore, OnStoreError};

/// A [`StoreResolver`] for redress-config: builds each declaration with a
/// `redis://` store as a [`FleetBreaker`] or [`FleetBudget`], one
/// [`FleetStore`] per URL, on the tokio runtime it is used in (or the one
/// given).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use redress_config::{ConfigFile, SharedState};
/// use redress_redis::ConfigResolver;
///
/// # let Some(url) = redress_test_services::redis_url() else { return Ok(()) };
/// // let url = std::env::var("REDIS_URL")?;
/// let file = ConfigFile::from_toml_str(&format!(r#"
///     [breakers.inventory]
///     failure_threshold = 20
///     store = "{url}"
///     sync_interval = "500ms"
///
///     [policies.reads]
///     strategy = "full_jitter"
///     circuit_breaker = "inventory"
///
///     [policies.writes]
///     strategy = "decorrelated_jitter"
///     circuit_breaker = "inventory"
/// "#))?;
/// let shared = SharedState::with_resolver(
///     ConfigResolver::new().prefix("doc-config").on_event(|e| eprintln!("{e}")),
/// );
/// let reads = shared.build(file.policy("reads")?)?;
/// let writes = shared.build(file.policy("writes")?)?;
/// assert!(std::ptr::addr_eq(reads.circuit_breaker().unwrap(), writes.circuit_breaker().unwrap()));
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
pub struct ConfigResolver {
    prefix: Option<String>,
    runtime: Option<tokio::runtime::Handle>,
    listener: Option<Listener>,
    stores: Mutex<BTreeMap<String, FleetStore>>,
}

impl fmt::Debug for ConfigResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigResolver")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl ConfigResolver {
    /// A resolver with the store defaults (key prefix `redress`).
    pub fn new() -> Self {
        ConfigResolver::default()
    }

    /// The key prefix of every store it builds.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The runtime the syncs run on (default: the one the policies are
    /// built in).
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// The listener for the [`FleetEvent`]s of every store it builds.
    pub fn on_event(mut self, listener: impl Fn(&FleetEvent<'_>) + Send + Sync + 'static) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    fn store(&self, config: &StoreConfig) -> Result<FleetStore, ResolveError> {
        let mut stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = stores.get(&config.url) {
            return Ok(store.clone());
        }
        let mut builder = FleetStore::builder(config.url.clone());
        if let Some(prefix) = &self.prefix {
            builder = builder.prefix(prefix.clone());
        }
        if let Some(runtime) = &self.runtime {
            builder = builder.runtime(runtime.clone());
        }
        if let Some(listener) = &self.listener {
            let listener = Arc::clone(listener);
            builder = builder.on_event(move |e| listener(e));
        }
        let store = builder.build()?;
        stores.insert(config.url.clone(), store.clone());
        Ok(store)
    }
}

fn fallback(f: StoreFallback) -> OnStoreError {
    match f {
        StoreFallback::Open => OnStoreError::Open,
        StoreFallback::Closed => OnStoreError::Closed,
        _ => OnStoreError::Local,
    }
}

impl StoreResolver for ConfigResolver {
    fn breaker(
        &self,
        name: &str,
        config: &BreakerConfig,
        store: &StoreConfig,
    ) -> Result<Arc<dyn Breaker + Send + Sync>, ResolveError> {
        let mut b = FleetBreaker::builder(name)
            .failure_threshold(config.failure_threshold)
            .window(config.window)
            .recovery_timeout(config.recovery_timeout)
            .trip_on(config.trip_on.iter().copied())
            .sync_interval(store.sync_interval)
            .on_store_error(fallback(store.on_store_error));
        for (class, threshold) in &config.class_thresholds {
            b = b.class_threshold(*class, *threshold);
        }
        Ok(Arc::new(b.build(&self.store(store)?)?))
    }

    fn budget(
        &self,
        name: &str,
        config: &BudgetConfig,
        store: &StoreConfig,
    ) -> Result<Arc<dyn Budget + Send + Sync>, ResolveError> {
        let builder = match config {
            BudgetConfig::Rolling {
                max_retries,
                window,
            } => FleetBudget::rolling(name, *max_retries, *window),
            BudgetConfig::Ratio {
                ratio,
                min_per_second,
                window,
            } => FleetBudget::ratio(name)
                .ratio(*ratio)
                .min_per_second(*min_per_second)
                .window(*window),
            other => {
                return Err(
                    format!("redress-redis cannot share a `{}` budget", other.kind()).into(),
                );
            }
        };
        let budget = builder
            .sync_interval(store.sync_interval)
            .on_store_error(fallback(store.on_store_error))
            .build(&self.store(store)?)?;
        Ok(Arc::new(budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redress_config::{ConfigFile, SharedState};
    use redress_core::CircuitState;

    #[tokio::test]
    async fn declarations_become_fleet_breakers_and_budgets() {
        // Nothing listens on port 1: they run on local state, which is
        // enough to see what was built.
        let file = ConfigFile::from_toml_str(
            r#"
            [breakers.b]
            failure_threshold = 7
            window = "20s"
            store = "redis://127.0.0.1:1"
            sync_interval = "250ms"
            on_store_error = "closed"

            [budgets.b]
            kind = "ratio"
            ratio = 0.5
            store = "redis://127.0.0.1:1"

            [policies.p]
            strategy = "full_jitter"
            circuit_breaker = "b"
            budget = "b"
            "#,
        )
        .unwrap();
        let resolver = ConfigResolver::new().prefix("resolver-test");
        let shared = SharedState::with_resolver(resolver);
        let policy = shared.build(file.policy("p").unwrap()).unwrap();
        let breaker = policy.circuit_breaker().unwrap();
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(
            policy.retry().budget().unwrap().window(),
            Some(core::time::Duration::from_secs(10))
        );
        let bad = ConfigFile::from_toml_str(
            "[breakers.b]\nstore = \"memcached://x:1\"\n[policies.p]\nstrategy = \"full_jitter\"\ncircuit_breaker = \"b\"\n",
        )
        .unwrap();
        let err = SharedState::with_resolver(ConfigResolver::new())
            .build(bad.policy("p").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("not a Redis scheme"), "{err}");
    }
}
