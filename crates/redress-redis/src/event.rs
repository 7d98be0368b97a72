//! What the background sync tells the application.

use core::fmt;
use core::time::Duration;
use std::sync::Arc;

use redress_core::CircuitState;

use crate::error::StoreError;

/// Something the background sync of a [`FleetBreaker`](crate::FleetBreaker)
/// or [`FleetBudget`](crate::FleetBudget) observed. Register a listener with
/// [`FleetStoreBuilder::on_event`](crate::FleetStoreBuilder::on_event); with
/// the `tracing` feature each one is also a `tracing` event (target
/// `redress_redis`).
///
/// The calls themselves report through the policy's events as usual: a
/// call that this process's breaker rejects is `circuit_rejected`, an
/// opening this process caused is `circuit_opened`. What happens elsewhere
/// in the fleet (another process opened the breaker, the store went away)
/// has no call to report it, so it comes here.
#[derive(Debug)]
#[non_exhaustive]
pub enum FleetEvent<'a> {
    /// A sync failed after the last one succeeded (or the first one
    /// failed): the breaker or budget now runs on `fallback` until the
    /// store is back. Reported once per outage, per breaker or budget.
    StoreUnavailable {
        /// The breaker's or budget's name.
        name: &'a str,
        /// Why the sync failed.
        error: &'a StoreError,
        /// What the breaker or budget does meanwhile.
        fallback: OnStoreError,
    },
    /// A sync succeeded after an outage: the local state gathered meanwhile
    /// has been merged into the fleet's, and the fleet's state applies again.
    StoreBack {
        /// The breaker's or budget's name.
        name: &'a str,
        /// How long the store was unavailable, from the first failed sync
        /// to this one.
        down_for: Duration,
    },
    /// The fleet's breaker changed state through another process (or the
    /// expiry of a probe): this process follows. Transitions this process
    /// made itself are reported by its calls' events instead.
    FleetState {
        /// The breaker's name.
        name: &'a str,
        /// The state this process now follows.
        state: CircuitState,
    },
}

impl FleetEvent<'_> {
    /// The breaker's or budget's name.
    pub fn name(&self) -> &str {
        match self {
            FleetEvent::StoreUnavailable { name, .. }
            | FleetEvent::StoreBack { name, .. }
            | FleetEvent::FleetState { name, .. } => name,
        }
    }
}

impl fmt::Display for FleetEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetEvent::StoreUnavailable {
                name,
                error,
                fallback,
            } => write!(
                f,
                "{name}: store unavailable ({error}); {}",
                fallback.describe()
            ),
            FleetEvent::StoreBack { name, down_for } => {
                write!(
                    f,
                    "{name}: store back after {down_for:?}; local state merged"
                )
            }
            FleetEvent::FleetState { name, state } => {
                write!(f, "{name}: the fleet's breaker is {}", state_name(*state))
            }
        }
    }
}

fn state_name(state: CircuitState) -> &'static str {
    match state {
        CircuitState::Closed => "closed",
        CircuitState::HalfOpen => "half-open",
        _ => "open",
    }
}

/// What a breaker or budget does while its store is unreachable. Calls
/// never fail because of the store, whichever is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnStoreError {
    /// Go on with this process's own state (the default): a breaker counts
    /// and opens on its own failures and admits its own half-open probe; a
    /// budget spends the tokens it holds, then a local budget of the same
    /// size. Everything counted meanwhile is merged back when the store
    /// returns.
    #[default]
    Local,
    /// Fail open: a breaker admits every call, a budget grants every retry.
    Open,
    /// Fail closed: a breaker rejects every call, a budget refuses every
    /// retry beyond the tokens it already holds.
    Closed,
}

impl OnStoreError {
    /// The name a config file uses: `local`, `open` or `closed`.
    pub fn name(self) -> &'static str {
        match self {
            OnStoreError::Local => "local",
            OnStoreError::Open => "open",
            OnStoreError::Closed => "closed",
        }
    }

    /// The fallback named `name` (`local`, `open` or `closed`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "local" => Some(OnStoreError::Local),
            "open" => Some(OnStoreError::Open),
            "closed" => Some(OnStoreError::Closed),
            _ => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            OnStoreError::Local => "running on local state",
            OnStoreError::Open => "failing open",
            OnStoreError::Closed => "failing closed",
        }
    }
}

/// A listener for [`FleetEvent`]s.
pub(crate) type Listener = Arc<dyn Fn(&FleetEvent<'_>) + Send + Sync>;

/// Hands `event` to the listener, and to `tracing` when enabled.
pub(crate) fn emit(listener: Option<&Listener>, event: &FleetEvent<'_>) {
    #[cfg(feature = "tracing")]
    match event {
        FleetEvent::StoreUnavailable { name, .. } => {
            tracing::warn!(target: "redress_redis", fleet = %name, "{event}");
        }
        FleetEvent::StoreBack { name, .. } | FleetEvent::FleetState { name, .. } => {
            tracing::info!(target: "redress_redis", fleet = %name, "{event}");
        }
    }
    if let Some(listener) = listener {
        listener(event);
    }
}
