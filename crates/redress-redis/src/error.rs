//! Typed errors: what building refuses, and what a failed sync reports.

use core::fmt;
use core::time::Duration;

use redress_core::ConfigError;

/// Why a store, breaker or budget could not be built. Every variant says
/// what to fix; nothing here is about a store outage, which never fails a
/// build or a call (see [`StoreError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The store URL could not be parsed.
    #[error(
        "invalid Redis URL `{url}`: {reason} (write it as redis://HOST:PORT, optionally redis://:PASSWORD@HOST:PORT/DB)"
    )]
    InvalidUrl {
        /// The URL as given (a password in it is masked).
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The breaker's or budget's own configuration is invalid (the same
    /// rules, with the same codes, as the local ones).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A duration setting is zero.
    #[error("`{setting}` is zero: {help}")]
    ZeroDuration {
        /// The setting.
        setting: &'static str,
        /// How to fix it.
        help: &'static str,
    },
    /// A setting is out of range.
    #[error("`{setting}` is {value}: {help}")]
    OutOfRange {
        /// The setting.
        setting: &'static str,
        /// The value given.
        value: String,
        /// The range, and how to fix it.
        help: &'static str,
    },
    /// A breaker or budget name (or the key prefix) is not usable as part
    /// of a Redis key.
    #[error("invalid {what} `{name}`: {help}")]
    InvalidName {
        /// `"name"` or `"prefix"`.
        what: &'static str,
        /// The name as given.
        name: String,
        /// What is allowed.
        help: &'static str,
    },
    /// No tokio runtime to run the background sync on.
    #[error(
        "no tokio runtime to run the sync on: build inside a runtime, or pass one with `.runtime(handle)`"
    )]
    NoRuntime,
}

/// A failed exchange with the store, as [`FleetEvent::StoreUnavailable`]
/// reports it. It never reaches a call: the breaker or budget falls back
/// as configured ([`OnStoreError`]).
///
/// [`FleetEvent::StoreUnavailable`]: crate::FleetEvent::StoreUnavailable
/// [`OnStoreError`]: crate::OnStoreError
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    source: Option<redis::RedisError>,
}

/// What kind of store failure a [`StoreError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// No answer within the command timeout.
    Timeout,
    /// The connection could not be made or was lost.
    Connection,
    /// The server answered with an error (out of memory, a read-only
    /// replica, a script error, authentication).
    Server,
    /// The server's answer did not have the expected shape.
    Protocol,
}

impl StoreError {
    pub(crate) fn timeout(after: Duration) -> Self {
        let _ = after;
        StoreError {
            kind: StoreErrorKind::Timeout,
            source: None,
        }
    }

    pub(crate) fn protocol() -> Self {
        StoreError {
            kind: StoreErrorKind::Protocol,
            source: None,
        }
    }

    pub(crate) fn from_redis(e: redis::RedisError) -> Self {
        let kind = if e.is_timeout() {
            StoreErrorKind::Timeout
        } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
            StoreErrorKind::Connection
        } else {
            StoreErrorKind::Server
        };
        StoreError {
            kind,
            source: Some(e),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            StoreErrorKind::Timeout => "the store did not answer in time",
            StoreErrorKind::Connection => "the store is unreachable",
            StoreErrorKind::Server => "the store answered with an error",
            StoreErrorKind::Protocol => "the store's answer had an unexpected shape",
        };
        match &self.source {
            Some(e) => write!(f, "{what}: {e}"),
            None => f.write_str(what),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Masks the password of a `redis://user:password@host` URL for messages.
pub(crate) fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_url("redis://:hunter2@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(mask_url("redis://app:pw@host:1"), "redis://app:***@host:1");
        assert_eq!(mask_url("redis://host:1"), "redis://host:1");
        assert_eq!(mask_url("nonsense"), "nonsense");
    }
}
