//! Turning errors and results into [`Classification`]s.
//!
//! A [`Classifier<E>`] maps an operation's error to a classification; any
//! closure `Fn(&E) -> impl Into<Classification>` is one. A
//! [`ResultClassifier<T>`] flags successful values that should be retried
//! anyway (`Fn(&T) -> Option<impl Into<Classification>>`).
//!
//! For errors implementing [`core::error::Error`], [`default_classifier`] and
//! [`strict_classifier`] walk the `source()` chain, first match wins:
//!
//! 1. redress's marker errors: [`PermanentError`], [`RateLimitError`] (with an
//!    optional retry-after), [`ConcurrencyError`], [`ServerError`], and
//!    [`StatusError`];
//! 2. `std::io::Error` kinds (with `std`): timeouts, resets, refused or
//!    aborted connections, broken pipes and the like are `TRANSIENT`;
//!    permission denied is `PERMISSION`; not found, invalid input or data and
//!    unsupported are `PERMANENT`; each with an `err` tag by kind
//!    (`timeout`, `connect`, `reset`, ...: [`io_kind_classification`]);
//! 3. status codes of types registered with
//!    [`ErrorClassifier::with_status`] (they implement [`HasStatus`]),
//!    mapped by [`class_for_status`]: 401 `AUTH`, 403 `PERMISSION`,
//!    400/404/422 `PERMANENT`, 408 `TRANSIENT`, 409 `CONCURRENCY`,
//!    429 `RATE_LIMIT`, 5xx `SERVER_ERROR`;
//! 4. only in [`default_classifier`]: name heuristics on the error's type name
//!    and on the leading identifier of each link's `Debug` output (an enum
//!    variant such as `ConnectionReset`): auth/unauthoriz/credential `AUTH`,
//!    forbid/permission `PERMISSION`, timeout/timedout/connection
//!    `TRANSIENT`;
//! 5. otherwise `UNKNOWN`.
//!
//! Heuristics make quick starts pleasant and production surprising; prefer
//! [`strict_classifier`] or a domain classifier in production.

use core::error::Error;
use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;

use crate::class::{Classification, ErrorClass};

/// Maps an operation's error to a [`Classification`].
///
/// Closures returning an [`ErrorClass`] or a [`Classification`] implement it:
///
/// ```
/// use redress_core::{Classification, Classifier, ErrorClass};
///
/// #[derive(Debug)]
/// enum DbError { Deadlock, Syntax }
///
/// let classify = |e: &DbError| match e {
///     DbError::Deadlock => ErrorClass::Concurrency,
///     DbError::Syntax => ErrorClass::Permanent,
/// };
/// assert_eq!(classify.classify(&DbError::Deadlock).class, ErrorClass::Concurrency);
/// ```
pub trait Classifier<E: ?Sized> {
    /// Classifies one error.
    fn classify(&self, error: &E) -> Classification;
}

impl<E: ?Sized, F, O> Classifier<E> for F
where
    F: Fn(&E) -> O,
    O: Into<Classification>,
{
    #[inline]
    fn classify(&self, error: &E) -> Classification {
        self(error).into()
    }
}

/// Flags successful values that should be treated as failures.
///
/// ```
/// use redress_core::{ErrorClass, ResultClassifier};
///
/// struct Response { status: u16 }
///
/// let flag_5xx = |r: &Response| (r.status >= 500).then_some(ErrorClass::ServerError);
/// assert!(flag_5xx.classify(&Response { status: 503 }).is_some());
/// assert!(flag_5xx.classify(&Response { status: 200 }).is_none());
/// ```
pub trait ResultClassifier<T: ?Sized> {
    /// `Some` when `value` should be retried as a failure of that class.
    fn classify(&self, value: &T) -> Option<Classification>;
}

impl<T: ?Sized, F, O> ResultClassifier<T> for F
where
    F: Fn(&T) -> Option<O>,
    O: Into<Classification>,
{
    #[inline]
    fn classify(&self, value: &T) -> Option<Classification> {
        self(value).map(Into::into)
    }
}

/// The result classifier that never flags anything: every `Ok` is a success.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoResultClassifier;

impl<T: ?Sized> ResultClassifier<T> for NoResultClassifier {
    #[inline]
    fn classify(&self, _value: &T) -> Option<Classification> {
        None
    }
}

/// Exposes an HTTP-style status code so classifiers can map it.
///
/// Implement it for your error types (or an integration's) and register them
/// with [`ErrorClassifier::with_status`]. (It was called `StatusCode`, a name
/// that shadowed `http::StatusCode` in every HTTP client; the old name still
/// works, deprecated.)
///
/// ```
/// use core::time::Duration;
/// use redress_core::{default_classifier, Classifier, ErrorClass, HasStatus};
///
/// #[derive(Debug)]
/// struct ApiError { status: u16 }
/// impl std::fmt::Display for ApiError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "api returned {}", self.status)
///     }
/// }
/// impl std::error::Error for ApiError {}
/// impl HasStatus for ApiError {
///     fn status_code(&self) -> Option<u16> { Some(self.status) }
/// }
///
/// let classifier = default_classifier().with_status::<ApiError>();
/// assert_eq!(classifier.classify(&ApiError { status: 429 }).class, ErrorClass::RateLimit);
/// assert_eq!(classifier.classify(&ApiError { status: 503 }).class, ErrorClass::ServerError);
/// ```
pub trait HasStatus {
    /// The status code, when the error has one.
    fn status_code(&self) -> Option<u16>;

    /// A retry-after hint (for example from a `Retry-After` header).
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// The former name of [`HasStatus`], kept so existing implementations
/// compile (with a deprecation warning): every `StatusCode` type is a
/// [`HasStatus`] type, so `with_status` accepts it unchanged.
///
/// Rename `impl StatusCode for T` to `impl HasStatus for T`; the methods are
/// the same.
#[deprecated(
    since = "0.1.0",
    note = "renamed to `HasStatus` (it shadowed `http::StatusCode`); the methods are unchanged"
)]
pub trait StatusCode {
    /// The status code, when the error has one.
    fn status_code(&self) -> Option<u16>;

    /// A retry-after hint (for example from a `Retry-After` header).
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

#[allow(deprecated)]
impl<T: StatusCode + ?Sized> HasStatus for T {
    #[inline]
    fn status_code(&self) -> Option<u16> {
        StatusCode::status_code(self)
    }

    #[inline]
    fn retry_after(&self) -> Option<Duration> {
        StatusCode::retry_after(self)
    }
}

/// The class of an HTTP-style status code, when it has one.
///
/// ```
/// use redress_core::{class_for_status, ErrorClass};
///
/// assert_eq!(class_for_status(409), Some(ErrorClass::Concurrency));
/// assert_eq!(class_for_status(200), None);
/// ```
pub const fn class_for_status(code: u16) -> Option<ErrorClass> {
    match code {
        401 => Some(ErrorClass::Auth),
        403 => Some(ErrorClass::Permission),
        400 | 404 | 422 => Some(ErrorClass::Permanent),
        408 => Some(ErrorClass::Transient),
        409 => Some(ErrorClass::Concurrency),
        429 => Some(ErrorClass::RateLimit),
        500..=599 => Some(ErrorClass::ServerError),
        _ => None,
    }
}

macro_rules! marker_error {
    ($(#[$doc:meta])* $name:ident, $class:expr, $default:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            message: &'static str,
            #[cfg(feature = "alloc")]
            source: Option<alloc::boxed::Box<dyn Error + Send + Sync + 'static>>,
        }

        impl $name {
            /// A marker with a static message.
            pub const fn new(message: &'static str) -> Self {
                $name {
                    message,
                    #[cfg(feature = "alloc")]
                    source: None,
                }
            }

            /// A marker around another error, which becomes its `source()`.
            #[cfg(feature = "alloc")]
            pub fn wrap(source: impl Into<alloc::boxed::Box<dyn Error + Send + Sync + 'static>>) -> Self {
                $name {
                    message: "",
                    source: Some(source.into()),
                }
            }

            /// The class this marker stands for.
            pub const fn class(&self) -> ErrorClass {
                $class
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::new($default)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                #[cfg(feature = "alloc")]
                if self.message.is_empty() {
                    if let Some(source) = &self.source {
                        return fmt::Display::fmt(source, f);
                    }
                }
                f.write_str(if self.message.is_empty() { $default } else { self.message })
            }
        }

        impl Error for $name {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                #[cfg(feature = "alloc")]
                if let Some(source) = &self.source {
                    return Some(&**source);
                }
                None
            }
        }
    };
}

marker_error!(
    /// Marks an error as [`Permanent`](ErrorClass::Permanent): never retried.
    ///
    /// ```
    /// use redress_core::{default_classifier, Classifier, ErrorClass, PermanentError};
    ///
    /// let e = PermanentError::new("invalid account id");
    /// assert_eq!(default_classifier().classify(&e).class, ErrorClass::Permanent);
    /// ```
    PermanentError,
    ErrorClass::Permanent,
    "permanent failure"
);
marker_error!(
    /// Marks an error as a [`Concurrency`](ErrorClass::Concurrency) conflict
    /// (a 409, an optimistic-lock failure).
    ConcurrencyError,
    ErrorClass::Concurrency,
    "concurrency conflict"
);
marker_error!(
    /// Marks an error as a [`ServerError`](ErrorClass::ServerError) (a 5xx).
    ServerError,
    ErrorClass::ServerError,
    "server error"
);

/// Marks an error as a [`RateLimit`](ErrorClass::RateLimit), with an optional
/// retry-after hint that [`retry_after_or`](crate::backoff::retry_after_or)
/// honors.
///
/// ```
/// use core::time::Duration;
/// use redress_core::{default_classifier, Classifier, ErrorClass, RateLimitError};
///
/// let e = RateLimitError::new("quota exceeded").retry_after(Duration::from_secs(2));
/// let c = default_classifier().classify(&e);
/// assert_eq!(c.class, ErrorClass::RateLimit);
/// assert_eq!(c.retry_after, Some(Duration::from_secs(2)));
/// ```
#[derive(Debug)]
pub struct RateLimitError {
    message: &'static str,
    #[cfg(feature = "alloc")]
    source: Option<alloc::boxed::Box<dyn Error + Send + Sync + 'static>>,
    retry_after: Option<Duration>,
}

impl RateLimitError {
    /// A rate-limit marker with a static message.
    pub const fn new(message: &'static str) -> Self {
        RateLimitError {
            message,
            #[cfg(feature = "alloc")]
            source: None,
            retry_after: None,
        }
    }

    /// A rate-limit marker around another error, which becomes its `source()`.
    #[cfg(feature = "alloc")]
    pub fn wrap(source: impl Into<alloc::boxed::Box<dyn Error + Send + Sync + 'static>>) -> Self {
        RateLimitError {
            message: "",
            source: Some(source.into()),
            retry_after: None,
        }
    }

    /// Adds the server's retry-after hint.
    #[must_use]
    pub const fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// The retry-after hint.
    pub const fn retry_after_hint(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The class this marker stands for.
    pub const fn class(&self) -> ErrorClass {
        ErrorClass::RateLimit
    }
}

impl Default for RateLimitError {
    fn default() -> Self {
        RateLimitError::new("rate limited")
    }
}

impl fmt::Display for RateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(feature = "alloc")]
        if self.message.is_empty() {
            if let Some(source) = &self.source {
                return fmt::Display::fmt(source, f);
            }
        }
        f.write_str(if self.message.is_empty() {
            "rate limited"
        } else {
            self.message
        })
    }
}

impl Error for RateLimitError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        #[cfg(feature = "alloc")]
        if let Some(source) = &self.source {
            return Some(&**source);
        }
        None
    }
}

/// An error that is just a status code (and maybe a retry-after hint).
///
/// Handy for HTTP integrations: return it, or make it the `source()` of your
/// own error, and the default classifiers map the code.
///
/// ```
/// use redress_core::{strict_classifier, Classifier, ErrorClass, StatusError};
///
/// assert_eq!(strict_classifier().classify(&StatusError::new(503)).class, ErrorClass::ServerError);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusError {
    status: u16,
    retry_after: Option<Duration>,
}

impl StatusError {
    /// An error for `status`.
    pub const fn new(status: u16) -> Self {
        StatusError {
            status,
            retry_after: None,
        }
    }

    /// Adds a retry-after hint.
    #[must_use]
    pub const fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// The status code.
    pub const fn status(&self) -> u16 {
        self.status
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "status {}", self.status)
    }
}

impl Error for StatusError {}

impl HasStatus for StatusError {
    fn status_code(&self) -> Option<u16> {
        Some(self.status)
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// Finds status codes on error types registered with
/// [`ErrorClassifier::with_status`]. Implemented for `()` (none) and for the
/// type-level list that `with_status` builds.
pub trait StatusLookup {
    /// The status code and retry-after hint of `error`, when it is one of the
    /// registered types and has a code.
    fn lookup(&self, error: &(dyn Error + 'static)) -> Option<(u16, Option<Duration>)>;
}

impl StatusLookup for () {
    #[inline]
    fn lookup(&self, _error: &(dyn Error + 'static)) -> Option<(u16, Option<Duration>)> {
        None
    }
}

/// One registered status type followed by the rest of the list.
pub struct StatusOf<T, Rest> {
    rest: Rest,
    _type: PhantomData<fn() -> T>,
}

impl<T, Rest: fmt::Debug> fmt::Debug for StatusOf<T, Rest> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusOf")
            .field("type", &core::any::type_name::<T>())
            .field("rest", &self.rest)
            .finish()
    }
}

impl<T, Rest: Clone> Clone for StatusOf<T, Rest> {
    fn clone(&self) -> Self {
        StatusOf {
            rest: self.rest.clone(),
            _type: PhantomData,
        }
    }
}

impl<T, Rest: Copy> Copy for StatusOf<T, Rest> {}

impl<T, Rest> StatusLookup for StatusOf<T, Rest>
where
    T: HasStatus + Error + 'static,
    Rest: StatusLookup,
{
    fn lookup(&self, error: &(dyn Error + 'static)) -> Option<(u16, Option<Duration>)> {
        match error.downcast_ref::<T>() {
            Some(e) => e.status_code().map(|code| (code, e.retry_after())),
            None => self.rest.lookup(error),
        }
    }
}

/// The classifier behind [`default_classifier`] and [`strict_classifier`],
/// for any `E: core::error::Error + 'static`.
///
/// `L` is the list of types whose [`HasStatus`] it consults; add one with
/// [`with_status`](ErrorClassifier::with_status).
#[derive(Clone, Copy, Debug)]
pub struct ErrorClassifier<L = ()> {
    heuristics: bool,
    lookups: L,
}

/// The default classifier: marker errors, I/O error kinds, registered status
/// codes, then name heuristics, else `UNKNOWN`.
///
/// ```
/// use redress_core::{default_classifier, Classifier, ErrorClass};
///
/// #[derive(Debug)]
/// struct ConnectionResetByPeer;
/// impl std::fmt::Display for ConnectionResetByPeer {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("reset") }
/// }
/// impl std::error::Error for ConnectionResetByPeer {}
///
/// // The type name mentions "connection": a transient failure.
/// assert_eq!(default_classifier().classify(&ConnectionResetByPeer).class, ErrorClass::Transient);
/// ```
pub const fn default_classifier() -> ErrorClassifier {
    ErrorClassifier {
        heuristics: true,
        lookups: (),
    }
}

/// Like [`default_classifier`] without name heuristics: predictable, for
/// production.
///
/// ```
/// use redress_core::{strict_classifier, Classifier, ErrorClass};
///
/// #[derive(Debug)]
/// struct TimeoutError;
/// impl std::fmt::Display for TimeoutError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("timeout") }
/// }
/// impl std::error::Error for TimeoutError {}
///
/// assert_eq!(strict_classifier().classify(&TimeoutError).class, ErrorClass::Unknown);
/// ```
pub const fn strict_classifier() -> ErrorClassifier {
    ErrorClassifier {
        heuristics: false,
        lookups: (),
    }
}

impl Default for ErrorClassifier {
    fn default() -> Self {
        default_classifier()
    }
}

impl<L> ErrorClassifier<L> {
    /// Also maps the status codes of errors of type `T` (anywhere in the
    /// `source()` chain).
    pub fn with_status<T: HasStatus + Error + 'static>(self) -> ErrorClassifier<StatusOf<T, L>> {
        ErrorClassifier {
            heuristics: self.heuristics,
            lookups: StatusOf {
                rest: self.lookups,
                _type: PhantomData,
            },
        }
    }

    /// Whether name heuristics are used.
    pub const fn uses_heuristics(&self) -> bool {
        self.heuristics
    }
}

impl<L: StatusLookup> ErrorClassifier<L> {
    /// Classifies a type-erased error (for example the inside of an
    /// `anyhow::Error` or a `Box<dyn Error>`, which do not implement `Error`
    /// themselves).
    pub fn classify_dyn(&self, error: &(dyn Error + 'static)) -> Classification {
        self.classify_chain(error, None)
    }

    fn classify_chain(
        &self,
        error: &(dyn Error + 'static),
        type_name: Option<&'static str>,
    ) -> Classification {
        if let Some(c) = chain(error).find_map(|e| self.explicit(e, 0)) {
            return c;
        }
        if self.heuristics {
            if let Some(class) = type_name.and_then(|n| name_heuristic(short_type_name(n))) {
                return class.into();
            }
            if let Some(class) =
                chain(error).find_map(|e| name_heuristic(DebugIdent::of(e).as_str()))
            {
                return class.into();
            }
        }
        ErrorClass::Unknown.into()
    }

    /// Explicit signals on one link: markers, status errors, I/O kinds,
    /// registered status types.
    fn explicit(&self, e: &(dyn Error + 'static), depth: usize) -> Option<Classification> {
        #[cfg(not(feature = "std"))]
        let _ = depth;
        if let Some(rl) = e.downcast_ref::<RateLimitError>() {
            let c = Classification::new(ErrorClass::RateLimit);
            return Some(match rl.retry_after {
                Some(ra) => c.with_retry_after(ra),
                None => c,
            });
        }
        if e.is::<PermanentError>() {
            return Some(ErrorClass::Permanent.into());
        }
        if e.is::<ConcurrencyError>() {
            return Some(ErrorClass::Concurrency.into());
        }
        if e.is::<ServerError>() {
            return Some(ErrorClass::ServerError.into());
        }
        if let Some(s) = e.downcast_ref::<StatusError>() {
            if let Some(c) = status_classification(s.status, s.retry_after) {
                return Some(c);
            }
        }
        #[cfg(feature = "std")]
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(c) = io_kind_classification(io.kind()) {
                return Some(c);
            }
            // io::Error::source skips the wrapped error itself: look at it.
            if let Some(inner) = io.get_ref() {
                if depth < MAX_CHAIN {
                    if let Some(c) = self.explicit(inner, depth.saturating_add(1)) {
                        return Some(c);
                    }
                }
            }
        }
        self.lookups
            .lookup(e)
            .and_then(|(code, ra)| status_classification(code, ra))
    }
}

impl<E: Error + 'static, L: StatusLookup> Classifier<E> for ErrorClassifier<L> {
    fn classify(&self, error: &E) -> Classification {
        self.classify_chain(error, Some(core::any::type_name::<E>()))
    }
}

/// An [`ErrorClassifier`] for type-erased errors: `Box<dyn Error + Send +
/// Sync>`, `Box<dyn Error>` and `dyn Error` (which do not implement `Error`
/// themselves, so the plain classifier cannot take them). Made by
/// [`ErrorClassifier::dyn_errors`].
///
#[cfg_attr(feature = "alloc", doc = "```")]
#[cfg_attr(not(feature = "alloc"), doc = "```ignore")]
/// use redress_core::{default_classifier, Classifier, ErrorClass, ServerError};
///
/// type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// let classifier = default_classifier().dyn_errors();
/// let boxed: BoxError = Box::new(ServerError::default());
/// assert_eq!(classifier.classify(&boxed).class, ErrorClass::ServerError);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct DynErrors<L = ()>(ErrorClassifier<L>);

impl<L> ErrorClassifier<L> {
    /// This classifier, for boxed and `dyn` errors (for `anyhow::Error`, use
    /// a closure: `|e: &anyhow::Error| c.classify_dyn(e.as_ref())`).
    pub fn dyn_errors(self) -> DynErrors<L> {
        DynErrors(self)
    }
}

impl<L: StatusLookup> Classifier<dyn Error + 'static> for DynErrors<L> {
    fn classify(&self, error: &(dyn Error + 'static)) -> Classification {
        self.0.classify_dyn(error)
    }
}

impl<L: StatusLookup> Classifier<dyn Error + Send + Sync + 'static> for DynErrors<L> {
    fn classify(&self, error: &(dyn Error + Send + Sync + 'static)) -> Classification {
        self.0.classify_dyn(error)
    }
}

#[cfg(feature = "alloc")]
impl<L: StatusLookup, T: ?Sized> Classifier<alloc::boxed::Box<T>> for DynErrors<L>
where
    DynErrors<L>: Classifier<T>,
{
    fn classify(&self, error: &alloc::boxed::Box<T>) -> Classification {
        Classifier::<T>::classify(self, error)
    }
}

/// Longest `source()` chain walked (guards against cycles).
const MAX_CHAIN: usize = 32;

/// `error` and its sources, at most [`MAX_CHAIN`] of them.
fn chain<'e>(error: &'e (dyn Error + 'static)) -> impl Iterator<Item = &'e (dyn Error + 'static)> {
    core::iter::successors(Some(error), |e: &&'e (dyn Error + 'static)| (*e).source())
        .take(MAX_CHAIN)
}

fn status_classification(code: u16, retry_after: Option<Duration>) -> Option<Classification> {
    class_for_status(code).map(|class| {
        let c = Classification::new(class);
        match retry_after {
            Some(ra) => c.with_retry_after(ra),
            None => c,
        }
    })
}

/// The class of an I/O error kind, when the kind says enough (the class of
/// [`io_kind_classification`]).
#[cfg(feature = "std")]
pub fn io_kind_class(kind: std::io::ErrorKind) -> Option<ErrorClass> {
    io_kind_classification(kind).map(|c| c.class)
}

/// The classification of an I/O error kind, when the kind says enough: its
/// class and a low-cardinality `err` tag, so events of an `io::Error` read
/// `timeout` or `reset` rather than the type name `Error`. The built-in
/// classifiers use it for every `io::Error` in a chain.
///
/// | kinds | class | tag |
/// |---|---|---|
/// | `TimedOut` | `TRANSIENT` | `timeout` |
/// | `ConnectionRefused`, `HostUnreachable`, `NetworkUnreachable`, `NetworkDown`, `AddrNotAvailable` | `TRANSIENT` | `connect` |
/// | `ConnectionReset`, `ConnectionAborted`, `NotConnected`, `BrokenPipe`, `UnexpectedEof` | `TRANSIENT` | `reset` |
/// | `Interrupted`, `WouldBlock` | `TRANSIENT` | `interrupted` |
/// | `AddrInUse`, `ResourceBusy` | `TRANSIENT` | `busy` |
/// | `PermissionDenied` | `PERMISSION` | `permission_denied` |
/// | `NotFound` | `PERMANENT` | `not_found` |
/// | `InvalidInput`, `InvalidData` | `PERMANENT` | `invalid` |
/// | `Unsupported` | `PERMANENT` | `unsupported` |
/// | `AlreadyExists` | `PERMANENT` | `already_exists` |
///
/// ```
/// use std::io::ErrorKind;
/// use redress_core::{io_kind_classification, ErrorClass};
///
/// let c = io_kind_classification(ErrorKind::ConnectionReset).unwrap();
/// assert_eq!((c.class, c.tag), (ErrorClass::Transient, Some("reset")));
/// assert!(io_kind_classification(ErrorKind::Other).is_none());
/// ```
#[cfg(feature = "std")]
pub fn io_kind_classification(kind: std::io::ErrorKind) -> Option<Classification> {
    use std::io::ErrorKind as K;
    let (class, tag) = match kind {
        K::TimedOut => (ErrorClass::Transient, "timeout"),
        K::ConnectionRefused
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown
        | K::AddrNotAvailable => (ErrorClass::Transient, "connect"),
        K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::BrokenPipe
        | K::UnexpectedEof => (ErrorClass::Transient, "reset"),
        K::Interrupted | K::WouldBlock => (ErrorClass::Transient, "interrupted"),
        K::AddrInUse | K::ResourceBusy => (ErrorClass::Transient, "busy"),
        K::PermissionDenied => (ErrorClass::Permission, "permission_denied"),
        K::NotFound => (ErrorClass::Permanent, "not_found"),
        K::InvalidInput | K::InvalidData => (ErrorClass::Permanent, "invalid"),
        K::Unsupported => (ErrorClass::Permanent, "unsupported"),
        K::AlreadyExists => (ErrorClass::Permanent, "already_exists"),
        _ => return None,
    };
    Some(Classification::new(class).with_tag(tag))
}

/// `my_crate::errors::TimeoutError<T>` -> `TimeoutError`.
pub(crate) fn short_type_name(full: &str) -> &str {
    let without_generics = full.split('<').next().unwrap_or(full);
    without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics)
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn name_heuristic(name: &str) -> Option<ErrorClass> {
    let has = |needle: &str| contains_ignore_case(name, needle);
    if has("auth") || has("unauthoriz") || has("credential") {
        Some(ErrorClass::Auth)
    } else if has("forbid") || has("permission") {
        Some(ErrorClass::Permission)
    } else if has("timeout") || has("timedout") || has("connection") {
        Some(ErrorClass::Transient)
    } else {
        None
    }
}

/// The leading identifier of a value's `Debug` output (the type or enum
/// variant name), captured without allocating.
struct DebugIdent {
    buf: [u8; 48],
    len: usize,
}

impl DebugIdent {
    fn of(e: &dyn Error) -> DebugIdent {
        let mut ident = DebugIdent {
            buf: [0; 48],
            len: 0,
        };
        // Formatting stops (with an error we ignore) at the first character
        // that cannot be part of an identifier.
        let _ = fmt::write(&mut ident, format_args!("{e:?}"));
        ident
    }

    fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl fmt::Write for DebugIdent {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if !(b.is_ascii_alphanumeric() || b == b'_') {
                return Err(fmt::Error);
            }
            match self.buf.get_mut(self.len) {
                Some(slot) => {
                    *slot = b;
                    self.len = self.len.saturating_add(1);
                }
                None => return Err(fmt::Error),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    #[derive(Debug)]
    enum NetError {
        ConnectionReset,
        Forbidden,
        Mystery,
    }

    impl fmt::Display for NetError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("net error")
        }
    }

    impl Error for NetError {}

    #[derive(Debug)]
    struct Wrapper(&'static (dyn Error + Send + Sync));

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapper")
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(self.0)
        }
    }

    static CONFLICT: ConcurrencyError = ConcurrencyError::new("version mismatch");
    static STATUS_429: StatusError = StatusError::new(429);

    #[test]
    fn markers_are_found_anywhere_in_the_chain() {
        let c = default_classifier().classify(&Wrapper(&CONFLICT));
        assert_eq!(c.class, ErrorClass::Concurrency);
        let c = strict_classifier().classify(&Wrapper(&STATUS_429));
        assert_eq!(c.class, ErrorClass::RateLimit);
        assert_eq!(
            strict_classifier()
                .classify(&PermanentError::default())
                .class,
            ErrorClass::Permanent
        );
        assert_eq!(
            strict_classifier().classify(&ServerError::default()).class,
            ErrorClass::ServerError
        );
    }

    #[test]
    fn heuristics_read_enum_variants_only_in_default() {
        let d = default_classifier();
        let s = strict_classifier();
        assert_eq!(
            d.classify(&NetError::ConnectionReset).class,
            ErrorClass::Transient
        );
        assert_eq!(
            d.classify(&NetError::Forbidden).class,
            ErrorClass::Permission
        );
        assert_eq!(d.classify(&NetError::Mystery).class, ErrorClass::Unknown);
        assert_eq!(
            s.classify(&NetError::ConnectionReset).class,
            ErrorClass::Unknown
        );
    }

    #[test]
    fn status_table() {
        let expect = [
            (401, Some(ErrorClass::Auth)),
            (403, Some(ErrorClass::Permission)),
            (400, Some(ErrorClass::Permanent)),
            (404, Some(ErrorClass::Permanent)),
            (422, Some(ErrorClass::Permanent)),
            (408, Some(ErrorClass::Transient)),
            (409, Some(ErrorClass::Concurrency)),
            (429, Some(ErrorClass::RateLimit)),
            (500, Some(ErrorClass::ServerError)),
            (599, Some(ErrorClass::ServerError)),
            (600, None),
            (302, None),
        ];
        for (code, class) in expect {
            assert_eq!(class_for_status(code), class, "{code}");
        }
    }

    #[test]
    fn short_names_drop_paths_and_generics() {
        assert_eq!(short_type_name("a::b::TimeoutError<x::Y>"), "TimeoutError");
        assert_eq!(short_type_name("Plain"), "Plain");
    }

    #[cfg(feature = "std")]
    #[test]
    fn io_errors_map_by_kind_and_look_inside() {
        use std::io;
        let d = strict_classifier();
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(d.classify(&refused).class, ErrorClass::Transient);
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(d.classify(&denied).class, ErrorClass::Permission);
        let wrapped = io::Error::other(RateLimitError::new("slow down"));
        assert_eq!(d.classify(&wrapped).class, ErrorClass::RateLimit);
        let plain = io::Error::other("no idea");
        assert_eq!(d.classify(&plain).class, ErrorClass::Unknown);
    }

    #[cfg(feature = "std")]
    #[test]
    fn io_errors_are_tagged_by_kind_not_by_type_name() {
        use std::io;
        let d = default_classifier();
        let tag = |kind| d.classify(&io::Error::from(kind)).tag;
        assert_eq!(tag(io::ErrorKind::TimedOut), Some("timeout"));
        assert_eq!(tag(io::ErrorKind::ConnectionRefused), Some("connect"));
        assert_eq!(tag(io::ErrorKind::BrokenPipe), Some("reset"));
        assert_eq!(
            tag(io::ErrorKind::PermissionDenied),
            Some("permission_denied")
        );
        assert_eq!(tag(io::ErrorKind::NotFound), Some("not_found"));
        // A kind that says nothing keeps no tag: events fall back to the
        // type name.
        assert_eq!(tag(io::ErrorKind::Other), None);
        // Every kind with a class has a tag.
        for kind in [
            io::ErrorKind::Interrupted,
            io::ErrorKind::AddrInUse,
            io::ErrorKind::InvalidData,
            io::ErrorKind::Unsupported,
            io::ErrorKind::AlreadyExists,
        ] {
            let c = io_kind_classification(kind).unwrap();
            assert!(c.tag.is_some(), "{kind:?}");
            assert_eq!(io_kind_class(kind), Some(c.class));
        }
    }

    #[test]
    fn the_deprecated_status_trait_still_registers() {
        #[derive(Debug)]
        struct OldApiError;
        impl fmt::Display for OldApiError {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("old api error")
            }
        }
        impl Error for OldApiError {}
        #[allow(deprecated)]
        impl StatusCode for OldApiError {
            fn status_code(&self) -> Option<u16> {
                Some(429)
            }
            fn retry_after(&self) -> Option<Duration> {
                Some(Duration::from_secs(3))
            }
        }

        let c = strict_classifier()
            .with_status::<OldApiError>()
            .classify(&OldApiError);
        assert_eq!(c.class, ErrorClass::RateLimit);
        assert_eq!(c.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(HasStatus::status_code(&OldApiError), Some(429));
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn wrapped_markers_display_their_source() {
        let e = ServerError::wrap(NetError::Mystery);
        assert_eq!(e.to_string(), "net error");
        assert!(e.source().is_some());
        assert_eq!(ServerError::default().to_string(), "server error");
    }
}
