//! Error classes and classifications.
//!
//! redress maps every failure onto one of eight coarse [`ErrorClass`]es. The
//! set is small and fixed on purpose: backoff, caps and breaker behaviour are
//! configured per class, and a class answers "what kind of failure is this"
//! (a rate limit, an overloaded server, a conflict), not "which exception was
//! it". When a use case needs finer behaviour, give it its own policy.
//!
//! A [`Classification`] is a class plus optional hints that strategies can
//! use: a server-provided `retry_after`, and a few static [`Details`].

use core::fmt;
use core::str::FromStr;
use core::time::Duration;

/// The coarse category of a failure.
///
/// The set is deliberately closed (not `#[non_exhaustive]`): code that matches
/// on it is expected to handle every class.
///
/// [`Permanent`](ErrorClass::Permanent), [`Auth`](ErrorClass::Auth) and
/// [`Permission`](ErrorClass::Permission) are never retried.
///
/// ```
/// use redress_core::ErrorClass;
///
/// assert_eq!(ErrorClass::RateLimit.name(), "RATE_LIMIT");
/// assert_eq!("SERVER_ERROR".parse::<ErrorClass>(), Ok(ErrorClass::ServerError));
/// assert!(!ErrorClass::Auth.is_retryable());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "SCREAMING_SNAKE_CASE"))]
pub enum ErrorClass {
    /// Authentication failed (HTTP 401, bad credentials). Never retried.
    Auth,
    /// Authenticated but not allowed (HTTP 403). Never retried.
    Permission,
    /// The request itself is wrong (HTTP 400/404/422). Never retried.
    Permanent,
    /// A conflict with a concurrent writer (HTTP 409, serialization failure).
    Concurrency,
    /// The caller is being throttled (HTTP 429, quota exceeded).
    RateLimit,
    /// The server failed (HTTP 5xx).
    ServerError,
    /// A transient network or availability problem (timeouts, resets).
    Transient,
    /// Nothing more specific is known. Capped separately by
    /// `max_unknown_attempts`.
    Unknown,
}

impl ErrorClass {
    /// Every class, in declaration order.
    pub const ALL: [ErrorClass; 8] = [
        ErrorClass::Auth,
        ErrorClass::Permission,
        ErrorClass::Permanent,
        ErrorClass::Concurrency,
        ErrorClass::RateLimit,
        ErrorClass::ServerError,
        ErrorClass::Transient,
        ErrorClass::Unknown,
    ];

    /// The SCREAMING_SNAKE_CASE name used in events, traces and config files.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorClass::Auth => "AUTH",
            ErrorClass::Permission => "PERMISSION",
            ErrorClass::Permanent => "PERMANENT",
            ErrorClass::Concurrency => "CONCURRENCY",
            ErrorClass::RateLimit => "RATE_LIMIT",
            ErrorClass::ServerError => "SERVER_ERROR",
            ErrorClass::Transient => "TRANSIENT",
            ErrorClass::Unknown => "UNKNOWN",
        }
    }

    /// Whether a failure of this class may ever be retried.
    ///
    /// `false` for [`Permanent`](ErrorClass::Permanent),
    /// [`Auth`](ErrorClass::Auth) and [`Permission`](ErrorClass::Permission).
    pub const fn is_retryable(self) -> bool {
        !matches!(
            self,
            ErrorClass::Permanent | ErrorClass::Auth | ErrorClass::Permission
        )
    }

    /// Looks a class up by its SCREAMING_SNAKE_CASE name.
    pub fn from_name(name: &str) -> Option<ErrorClass> {
        ErrorClass::ALL
            .into_iter()
            .find(|class| class.name() == name)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error returned when a string names no [`ErrorClass`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown error class: expected one of AUTH, PERMISSION, PERMANENT, CONCURRENCY, \
     RATE_LIMIT, SERVER_ERROR, TRANSIENT, UNKNOWN"
)]
pub struct UnknownClassError;

impl FromStr for ErrorClass {
    type Err = UnknownClassError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorClass::from_name(s).ok_or(UnknownClassError)
    }
}

/// A value for each [`ErrorClass`], looked up in O(1) without allocation.
///
/// ```
/// use redress_core::{ErrorClass, PerClass};
///
/// let mut caps: PerClass<Option<u32>> = PerClass::default();
/// caps.set(ErrorClass::RateLimit, Some(3));
/// assert_eq!(*caps.get(ErrorClass::RateLimit), Some(3));
/// assert_eq!(*caps.get(ErrorClass::Transient), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PerClass<T>([T; 8]);

impl<T> PerClass<T> {
    /// A table with the given value for every class.
    pub fn from_fn(mut f: impl FnMut(ErrorClass) -> T) -> Self {
        PerClass(ErrorClass::ALL.map(&mut f))
    }

    /// The value for `class`.
    #[inline]
    pub fn get(&self, class: ErrorClass) -> &T {
        let [
            auth,
            permission,
            permanent,
            concurrency,
            rate_limit,
            server,
            transient,
            unknown,
        ] = &self.0;
        match class {
            ErrorClass::Auth => auth,
            ErrorClass::Permission => permission,
            ErrorClass::Permanent => permanent,
            ErrorClass::Concurrency => concurrency,
            ErrorClass::RateLimit => rate_limit,
            ErrorClass::ServerError => server,
            ErrorClass::Transient => transient,
            ErrorClass::Unknown => unknown,
        }
    }

    /// The value for `class`, mutably.
    #[inline]
    pub fn get_mut(&mut self, class: ErrorClass) -> &mut T {
        let [
            auth,
            permission,
            permanent,
            concurrency,
            rate_limit,
            server,
            transient,
            unknown,
        ] = &mut self.0;
        match class {
            ErrorClass::Auth => auth,
            ErrorClass::Permission => permission,
            ErrorClass::Permanent => permanent,
            ErrorClass::Concurrency => concurrency,
            ErrorClass::RateLimit => rate_limit,
            ErrorClass::ServerError => server,
            ErrorClass::Transient => transient,
            ErrorClass::Unknown => unknown,
        }
    }

    /// Replaces the value for `class`.
    #[inline]
    pub fn set(&mut self, class: ErrorClass, value: T) {
        *self.get_mut(class) = value;
    }

    /// Every class with its value, in [`ErrorClass::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (ErrorClass, &T)> {
        ErrorClass::ALL.into_iter().zip(self.0.iter())
    }
}

/// Whether a failure was an error the operation returned, or a value the
/// result classifier flagged.
///
/// The wire names (`"exception"`, `"result"`) match the reference
/// implementation, so dashboards built on its tags keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Cause {
    /// The operation returned `Err`.
    #[cfg_attr(feature = "serde", serde(rename = "exception"))]
    Error,
    /// The operation returned `Ok`, and the result classifier flagged it.
    #[cfg_attr(feature = "serde", serde(rename = "result"))]
    Result,
}

impl Cause {
    /// The wire name: `"exception"` or `"result"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Cause::Error => "exception",
            Cause::Result => "result",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Up to [`Details::CAPACITY`] static key/value hints attached to a
/// classification (for example `("sqlstate", "40001")`).
///
/// Details are for strategies and logs. They are kept static and small so a
/// classification never allocates; entries past the capacity are dropped and
/// [`Details::truncated`] says so.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Details {
    entries: [(&'static str, &'static str); Details::CAPACITY],
    len: u8,
    truncated: bool,
}

impl Details {
    /// How many entries fit: two, which keeps a [`Classification`] small
    /// enough to carry inside an error type.
    pub const CAPACITY: usize = 2;

    /// No details.
    pub const fn new() -> Self {
        Details {
            entries: [("", ""); Details::CAPACITY],
            len: 0,
            truncated: false,
        }
    }

    /// Adds an entry; a full table keeps its entries and sets
    /// [`truncated`](Details::truncated).
    pub fn push(&mut self, key: &'static str, value: &'static str) {
        match self.entries.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = (key, value);
                self.len = self.len.saturating_add(1);
            }
            None => self.truncated = true,
        }
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&'static str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The entries, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.entries.iter().take(usize::from(self.len)).copied()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether an entry was dropped because the table was full.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Debug for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A class plus optional hints for strategies.
///
/// A plain [`ErrorClass`] converts into a classification with no hints, so
/// classifiers may return either.
///
/// ```
/// use core::time::Duration;
/// use redress_core::{Classification, ErrorClass};
///
/// let c = Classification::new(ErrorClass::RateLimit)
///     .with_retry_after(Duration::from_secs(2))
///     .with_detail("quota", "per-minute");
/// assert_eq!(c.class, ErrorClass::RateLimit);
/// assert_eq!(c.retry_after, Some(Duration::from_secs(2)));
/// assert_eq!(c.details.get("quota"), Some("per-minute"));
///
/// let plain: Classification = ErrorClass::Transient.into();
/// assert_eq!(plain.retry_after, None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Classification {
    /// The class of the failure.
    pub class: ErrorClass,
    /// How long the server asked us to wait, when it said.
    pub retry_after: Option<Duration>,
    /// Small static hints for strategies and logs.
    pub details: Details,
    /// A low-cardinality name for what failed (`"timeout"`, `"connect"`,
    /// `"5xx"`, `"40001"`), reported as the `err` tag of events instead of
    /// the error's type name. Classifiers of a field (HTTP, gRPC, SQL) set
    /// it; keep it to a small fixed set of values, never a message.
    pub tag: Option<&'static str>,
}

impl Classification {
    /// A classification with no hints.
    pub const fn new(class: ErrorClass) -> Self {
        Classification {
            class,
            retry_after: None,
            details: Details::new(),
            tag: None,
        }
    }

    /// Adds a server-provided retry-after hint.
    #[must_use]
    pub const fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Adds a static detail.
    #[must_use]
    pub fn with_detail(mut self, key: &'static str, value: &'static str) -> Self {
        self.details.push(key, value);
        self
    }

    /// Sets the low-cardinality `err` tag events report for this failure
    /// (see [`tag`](Self::tag)).
    ///
    /// ```
    /// use redress_core::{Classification, ErrorClass};
    ///
    /// let c = Classification::new(ErrorClass::Transient).with_tag("timeout");
    /// assert_eq!(c.tag, Some("timeout"));
    /// ```
    #[must_use]
    pub const fn with_tag(mut self, tag: &'static str) -> Self {
        self.tag = Some(tag);
        self
    }
}

impl From<ErrorClass> for Classification {
    fn from(class: ErrorClass) -> Self {
        Classification::new(class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    #[test]
    fn names_round_trip() {
        for class in ErrorClass::ALL {
            assert_eq!(ErrorClass::from_name(class.name()), Some(class));
            assert_eq!(class.name().parse::<ErrorClass>(), Ok(class));
        }
        assert_eq!("rate_limit".parse::<ErrorClass>(), Err(UnknownClassError));
    }

    #[test]
    fn only_three_classes_are_never_retried() {
        let never: Vec<_> = ErrorClass::ALL
            .into_iter()
            .filter(|c| !c.is_retryable())
            .collect();
        assert_eq!(
            never,
            [
                ErrorClass::Auth,
                ErrorClass::Permission,
                ErrorClass::Permanent
            ]
        );
    }

    #[test]
    fn per_class_table_is_indexed_by_class() {
        let table = PerClass::from_fn(|c| c.name().len());
        for class in ErrorClass::ALL {
            assert_eq!(*table.get(class), class.name().len());
        }
        let mut t = PerClass::<u8>::default();
        t.set(ErrorClass::Unknown, 7);
        assert_eq!(t.iter().filter(|(_, v)| **v == 7).count(), 1);
        assert_eq!(*t.get(ErrorClass::Unknown), 7);
    }

    #[test]
    fn details_keep_capacity_and_flag_overflow() {
        let mut d = Details::new();
        for key in ["a", "b", "c"] {
            d.push(key, "v");
        }
        assert_eq!(d.len(), Details::CAPACITY);
        assert!(d.truncated());
        assert_eq!(d.get("b"), Some("v"));
        assert_eq!(d.get("c"), None);
    }

    #[test]
    fn a_classification_fits_in_an_error_type() {
        // clippy's `result_large_err` fires at 128 bytes.
        assert!(
            core::mem::size_of::<Classification>() <= 112,
            "{}",
            core::mem::size_of::<Classification>()
        );
    }
}
