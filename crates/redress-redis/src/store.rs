//! The store: one Redis connection (reconnecting, multiplexed) shared by
//! every fleet breaker and budget built on it.

use core::fmt;
use core::time::Duration;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::{FleetError, StoreError, mask_url};
use crate::event::{FleetEvent, Listener, emit};

/// A Redis store for fleet-wide breakers and budgets: the URL, one
/// reconnecting connection shared by all of them, the tokio runtime their
/// background syncs run on, and a listener for [`FleetEvent`]s.
///
/// Building it does not connect: the first sync does, so a process that
/// starts while Redis is down starts fine, on local state. Cloning is
/// cheap (a reference count).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use redress_redis::FleetStore;
///
/// let store = FleetStore::builder("redis://127.0.0.1:6379")
///     .prefix("checkout")
///     .on_event(|event| eprintln!("{event}"))
///     .build()?;
/// assert_eq!(store.prefix(), "checkout");
///
/// // A URL the client cannot use is a typed error that says how to write it.
/// let err = FleetStore::builder("http://127.0.0.1").build().unwrap_err();
/// assert!(err.to_string().contains("redis://HOST:PORT"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FleetStore {
    pub(crate) shared: Arc<StoreShared>,
}

impl fmt::Debug for FleetStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetStore")
            .field("url", &self.shared.url)
            .field("prefix", &self.shared.prefix)
            .field("command_timeout", &self.shared.command_timeout)
            .field("commands", &self.commands())
            .finish_non_exhaustive()
    }
}

pub(crate) struct StoreShared {
    /// The URL with any password masked.
    url: String,
    pub(crate) prefix: String,
    connection: ConnectionManager,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) command_timeout: Duration,
    listener: Option<Listener>,
    commands: AtomicU64,
    /// The origin of every local reading of the breakers and budgets
    /// (nanoseconds since it, in atomics).
    base: Instant,
    /// This process's id in probe tokens.
    instance: String,
    next_id: AtomicU64,
}

impl FleetStore {
    /// A builder for the store at `url` (`redis://HOST:PORT`, with
    /// optional `USER:PASSWORD@` and `/DB`).
    pub fn builder(url: impl Into<String>) -> FleetStoreBuilder {
        FleetStoreBuilder {
            url: url.into(),
            prefix: "redress".to_owned(),
            command_timeout: FleetStore::DEFAULT_COMMAND_TIMEOUT,
            runtime: None,
            listener: None,
        }
    }

    /// The default command timeout: one second.
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

    /// The prefix of every key (`PREFIX:breaker:NAME`,
    /// `PREFIX:budget:NAME`).
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// Scripts sent to Redis so far by every breaker and budget of this
    /// store (one per sync; a script the server has forgotten after a
    /// restart is loaded again, one command more). With calls counted by
    /// the application, this is the store's cost per call.
    pub fn commands(&self) -> u64 {
        self.shared.commands.load(Ordering::Relaxed)
    }
}

/// Builds a [`FleetStore`].
#[must_use = "a builder does nothing until `.build()`"]
pub struct FleetStoreBuilder {
    url: String,
    prefix: String,
    command_timeout: Duration,
    runtime: Option<tokio::runtime::Handle>,
    listener: Option<Listener>,
}

impl fmt::Debug for FleetStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetStoreBuilder")
            .field("url", &mask_url(&self.url))
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl FleetStoreBuilder {
    /// The prefix of every key (default `redress`): letters, digits and
    /// `_-.:{}`, at most 100 bytes. Use one per application or
    /// environment sharing a Redis. Wrap it in braces (`{checkout}`) to
    /// put every key on one Redis Cluster slot; each script touches one
    /// key, so this is never required.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one exchange with Redis may take before it counts as a
    /// failure (default 1 s). Also the connection timeout.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// The tokio runtime the background syncs run on (default: the one
    /// `build` is called in). A blocking application can keep a small
    /// runtime for them.
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Calls `listener` with every [`FleetEvent`] of the breakers and
    /// budgets built on this store: the store going away and coming back,
    /// and fleet transitions made by other processes. It runs on the sync
    /// task: keep it short, and never block in it.
    pub fn on_event(mut self, listener: impl Fn(&FleetEvent<'_>) + Send + Sync + 'static) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Checks the settings and builds the store, without connecting.
    pub fn build(self) -> Result<FleetStore, FleetError> {
        check_name("prefix", &self.prefix)?;
        if self.command_timeout.is_zero() {
            return Err(FleetError::ZeroDuration {
                setting: "command_timeout",
                help: "give Redis some time to answer, e.g. 1s",
            });
        }
        let runtime = match self.runtime {
            Some(handle) => handle,
            None => tokio::runtime::Handle::try_current().map_err(|_| FleetError::NoRuntime)?,
        };
        let invalid = |reason: String| FleetError::InvalidUrl {
            url: mask_url(&self.url),
            reason,
        };
        if !(self.url.starts_with("redis://") || self.url.starts_with("redis+unix://")) {
            let reason = match self.url.split_once("://") {
                Some(("rediss", _)) => "TLS (rediss://) is not built into redress-redis".to_owned(),
                Some((scheme, _)) => format!("`{scheme}://` is not a Redis scheme"),
                None => "it has no scheme".to_owned(),
            };
            return Err(invalid(reason));
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|e| invalid(e.to_string()))?;
        // Reconnects are the sync's business: each sync is one attempt, and
        // a failed one falls back at once instead of waiting through a
        // client-side retry schedule.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(self.command_timeout))
            .set_response_timeout(Some(self.command_timeout));
        let connection = {
            let _entered = runtime.enter();
            ConnectionManager::new_lazy_with_config(client, config)
                .map_err(|e| invalid(e.to_string()))?
        };
        let unix_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(FleetStore {
            shared: Arc::new(StoreShared {
                url: mask_url(&self.url),
                prefix: self.prefix,
                connection,
                runtime,
                command_timeout: self.command_timeout,
                listener: self.listener,
                commands: AtomicU64::new(0),
                base: Instant::now(),
                instance: format!("{}-{unix_nanos:x}", std::process::id()),
                next_id: AtomicU64::new(0),
            }),
        })
    }
}

/// A key prefix or name: 1 to 100 bytes of letters, digits and `_-.:{}`.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), FleetError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:{}".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(FleetError::InvalidName {
            what,
            name: name.to_owned(),
            help: "use 1 to 100 letters, digits and _-.:{}",
        })
    }
}

impl StoreShared {
    /// Runs `script` on `key` with `args`, within the command timeout.
    pub(crate) async fn run(
        &self,
        script: &redis::Script,
        key: &str,
        args: &[String],
    ) -> Result<Vec<i64>, StoreError> {
        let mut invocation = script.key(key);
        for arg in args {
            invocation.arg(arg.as_str());
        }
        let mut connection = self.connection.clone();
        self.commands.fetch_add(1, Ordering::Relaxed);
        let reply = tokio::time::timeout(
            self.command_timeout,
            invocation.invoke_async::<Vec<i64>>(&mut connection),
        )
        .await;
        match reply {
            Err(_) => Err(StoreError::timeout(self.command_timeout)),
            Ok(Err(e)) => Err(StoreError::from_redis(e)),
            Ok(Ok(values)) => Ok(values),
        }
    }

    pub(crate) fn emit(&self, event: &FleetEvent<'_>) {
        emit(self.listener.as_ref(), event);
    }

    /// Nanoseconds from the store's origin to `at` (saturating).
    pub(crate) fn nanos(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.base);
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The instant `nanos` after the origin.
    pub(crate) fn instant(&self, nanos: u64) -> Instant {
        self.base
            .checked_add(Duration::from_nanos(nanos))
            .unwrap_or(self.base)
    }

    /// A fresh id for one breaker or budget of this process.
    pub(crate) fn client_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.instance)
    }

    pub(crate) fn key(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{name}", self.prefix)
    }
}
