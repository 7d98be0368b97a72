//! Classifying `reqwest::Error`s, and keeping the Retry-After hint of a
//! response turned into an error.

use core::fmt;
use core::time::Duration;
use std::error::Error as StdError;
use std::io;
use std::time::SystemTime;

use redress_core::{
    Classification, Classifier, ErrorClass, ErrorClassifier, HasStatus, StatusLookup,
    strict_classifier,
};
use redress_http::{classify_error_status, retry_after};
use reqwest::StatusCode;

/// The classification of one `reqwest::Error`.
///
/// | error | class | `err` tag |
/// |---|---|---|
/// | a timeout (`is_timeout()`: connect, read or the whole request) | `TRANSIENT` | `timeout` |
/// | a connect failure (`is_connect()`: refused, DNS, unreachable) | `TRANSIENT` | `connect` |
/// | a status error (`error_for_status()`) | the status table's class, `UNKNOWN` for a status without one | `5xx`, `429`, `4xx` |
/// | the connection closed or reset mid-request or mid-body | `TRANSIENT` | `reset` |
/// | another body error | `PERMANENT` | `body` |
/// | a decode error (`json()` on a bad body) | `PERMANENT` | `decode` |
/// | a builder error (bad URL, bad header) | `PERMANENT` | `builder` |
/// | too many redirects | `PERMANENT` | `redirect` |
/// | any other request error | `UNKNOWN` | `request` |
/// | anything else | `UNKNOWN` | `reqwest` |
///
/// A closed or reset connection is found in the error's `source()` chain:
/// an `io::Error` of kind `ConnectionReset`, `ConnectionAborted`,
/// `BrokenPipe`, `UnexpectedEof` or `NotConnected`, or a hyper error for an
/// incomplete message, a closed connection or a request canceled by a
/// closing connection. A status error has no headers, so no hint: keep the
/// hint with [`ResponseExt::error_for_status_with_hint`].
///
/// ```
/// use redress_core::ErrorClass;
/// use redress_reqwest::classify_error;
///
/// // A URL reqwest cannot even build a request for.
/// let err = reqwest::Client::new().get("not a url").build().unwrap_err();
/// let c = classify_error(&err);
/// assert_eq!((c.class, c.tag), (ErrorClass::Permanent, Some("builder")));
/// ```
pub fn classify_error(error: &reqwest::Error) -> Classification {
    let tagged = |class: ErrorClass, tag: &'static str| Classification::new(class).with_tag(tag);
    if error.is_timeout() {
        return tagged(ErrorClass::Transient, "timeout");
    }
    if error.is_connect() {
        return tagged(ErrorClass::Transient, "connect");
    }
    if let Some(status) = error.status() {
        return classify_error_status(status, None);
    }
    if connection_lost(error) {
        return tagged(ErrorClass::Transient, "reset");
    }
    if error.is_body() {
        tagged(ErrorClass::Permanent, "body")
    } else if error.is_decode() {
        tagged(ErrorClass::Permanent, "decode")
    } else if error.is_builder() {
        tagged(ErrorClass::Permanent, "builder")
    } else if error.is_redirect() {
        tagged(ErrorClass::Permanent, "redirect")
    } else if error.is_request() {
        tagged(ErrorClass::Unknown, "request")
    } else {
        tagged(ErrorClass::Unknown, "reqwest")
    }
}

/// Longest `source()` chain walked (guards against cycles).
const MAX_CHAIN: usize = 32;

fn chain<'e>(
    error: &'e (dyn StdError + 'static),
) -> impl Iterator<Item = &'e (dyn StdError + 'static)> {
    core::iter::successors(Some(error), |e: &&'e (dyn StdError + 'static)| {
        (*e).source()
    })
    .take(MAX_CHAIN)
}

/// Whether the connection closed or was reset under the request.
fn connection_lost(error: &reqwest::Error) -> bool {
    chain(error).any(|link| {
        if let Some(io) = link.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::NotConnected
            );
        }
        if let Some(hyper) = link.downcast_ref::<hyper::Error>() {
            return hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled();
        }
        false
    })
}

/// A `reqwest::Error` with the server's `Retry-After` hint, made by
/// [`ResponseExt::error_for_status_with_hint`] (or from any
/// `reqwest::Error` with `?`, without a hint).
///
/// `reqwest::Response::error_for_status` drops the headers, and with them
/// the hint; this error keeps it, so `retry_after_or` strategies wait as
/// long as the server asked. It displays as the reqwest error, and its
/// `source()` is the reqwest error's. It also implements
/// [`HasStatus`], so `strict_classifier().with_status::<HintedError>()`
/// maps it too.
#[derive(Debug)]
pub struct HintedError {
    error: reqwest::Error,
    retry_after: Option<Duration>,
}

impl HintedError {
    /// Wraps `error` with a hint.
    pub fn new(error: reqwest::Error, retry_after: Option<Duration>) -> Self {
        HintedError { error, retry_after }
    }

    /// The server's hint, when the response had a valid `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The status, for an error made from a response.
    pub fn status(&self) -> Option<StatusCode> {
        self.error.status()
    }

    /// The reqwest error.
    pub fn get_ref(&self) -> &reqwest::Error {
        &self.error
    }

    /// Takes the reqwest error out.
    pub fn into_inner(self) -> reqwest::Error {
        self.error
    }
}

impl From<reqwest::Error> for HintedError {
    fn from(error: reqwest::Error) -> Self {
        HintedError::new(error, None)
    }
}

impl fmt::Display for HintedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl StdError for HintedError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

impl HasStatus for HintedError {
    fn status_code(&self) -> Option<u16> {
        self.status().map(|s| s.as_u16())
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// The classification of a [`HintedError`]: [`classify_error`] with the
/// hint.
fn classify_hinted(error: &HintedError) -> Classification {
    let c = classify_error(&error.error);
    match error.retry_after {
        Some(hint) => c.with_retry_after(hint),
        None => c,
    }
}

/// How deep `reqwest_middleware::Error::Middleware` wrappers are looked
/// into (guards against cycles).
#[cfg(feature = "middleware")]
const MAX_WRAPPERS: u8 = 8;

/// The error a `reqwest_middleware::Error::Middleware` wraps (an error a
/// middleware made), so the fallback classifier sees it and its chain.
fn unwrap_middleware<'e>(error: &'e (dyn StdError + 'static)) -> &'e (dyn StdError + 'static) {
    #[cfg(feature = "middleware")]
    {
        let mut error = error;
        for _ in 0..MAX_WRAPPERS {
            match error.downcast_ref::<reqwest_middleware::Error>() {
                Some(reqwest_middleware::Error::Middleware(inner)) => error = &**inner,
                _ => break,
            }
        }
        error
    }
    #[cfg(not(feature = "middleware"))]
    error
}

/// The classification of one link of an error chain, when it is (or, for
/// reqwest-middleware's error, holds) a reqwest error.
fn classify_link(link: &(dyn StdError + 'static), depth: u8) -> Option<Classification> {
    if let Some(hinted) = link.downcast_ref::<HintedError>() {
        return Some(classify_hinted(hinted));
    }
    if let Some(error) = link.downcast_ref::<reqwest::Error>() {
        return Some(classify_error(error));
    }
    #[cfg(feature = "middleware")]
    if let Some(error) = link.downcast_ref::<reqwest_middleware::Error>() {
        // Both variants are `#[error(transparent)]`: the chain goes on with
        // the *source* of the wrapped error, so the wrapped error itself
        // is looked at here.
        return match error {
            reqwest_middleware::Error::Reqwest(error) => Some(classify_error(error)),
            reqwest_middleware::Error::Middleware(inner) if depth < MAX_WRAPPERS => {
                let inner: &(dyn StdError + 'static) = &**inner;
                classify_link(inner, depth.saturating_add(1))
            }
            reqwest_middleware::Error::Middleware(_) => None,
        };
    }
    let _ = depth;
    None
}

/// Turns error statuses into errors that keep the `Retry-After` hint.
///
/// Implemented for `reqwest::Response` (and `reqwest::blocking::Response`
/// with the `blocking` feature).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use redress_core::{Classifier, ErrorClass};
/// use redress_reqwest::ResponseExt;
/// # use redress_test_http::{Script, Step, TestServer};
/// # let server = TestServer::start(Script::new().then(Step::status(429).retry_after_secs(3)))?;
/// # let url = server.url();
///
/// let err = reqwest::get(&url).await?.error_for_status_with_hint().unwrap_err();
/// assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
/// let c = redress_reqwest::classifier().classify(&err);
/// assert_eq!(c.class, ErrorClass::RateLimit);
/// assert_eq!(c.retry_after, Some(Duration::from_secs(3)));
/// # Ok(())
/// # }
/// ```
pub trait ResponseExt: Sized + sealed::Sealed {
    /// Like `error_for_status`, but the error keeps the `Retry-After`
    /// hint, measured from `SystemTime::now()`.
    fn error_for_status_with_hint(self) -> Result<Self, HintedError> {
        self.error_for_status_with_hint_at(SystemTime::now())
    }

    /// Like [`error_for_status_with_hint`](Self::error_for_status_with_hint),
    /// with an HTTP-date hint measured from `now`.
    fn error_for_status_with_hint_at(self, now: SystemTime) -> Result<Self, HintedError>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for reqwest::Response {}
    #[cfg(feature = "blocking")]
    impl Sealed for reqwest::blocking::Response {}
}

impl ResponseExt for reqwest::Response {
    fn error_for_status_with_hint_at(self, now: SystemTime) -> Result<Self, HintedError> {
        let hint = retry_after(self.headers(), now);
        self.error_for_status()
            .map_err(|error| HintedError::new(error, hint))
    }
}

#[cfg(feature = "blocking")]
impl ResponseExt for reqwest::blocking::Response {
    fn error_for_status_with_hint_at(self, now: SystemTime) -> Result<Self, HintedError> {
        let hint = retry_after(self.headers(), now);
        self.error_for_status()
            .map_err(|error| HintedError::new(error, hint))
    }
}

/// The classifier for errors that are, or wrap, reqwest errors: made by
/// [`classifier`].
///
/// It walks the error's `source()` chain; the first [`HintedError`] or
/// `reqwest::Error` decides ([`classify_error`], with the hint). An error
/// with neither goes to the fallback, `strict_classifier()` unless set with
/// [`fallback`](Self::fallback) (I/O error kinds, redress's marker errors,
/// registered status types).
///
/// Your own error type works when its `source()` (or a source of a source)
/// is the reqwest error, as with thiserror's `#[from]`/`#[source]`; an
/// `#[error(transparent)]` variant forwards `source()` past the reqwest
/// error itself, so give such a type a classifier of its own that calls
/// [`classify_error`].
#[derive(Clone, Copy, Debug)]
pub struct ReqwestClassifier<L = ()> {
    fallback: ErrorClassifier<L>,
}

/// The classifier for reqwest errors (see [`ReqwestClassifier`]).
///
/// ```
/// use std::time::Duration;
/// use redress_core::{backoff::{decorrelated_jitter, retry_after_or}, ErrorClass, Policy};
///
/// let policy = Policy::builder()
///     .classifier(redress_reqwest::classifier())
///     .result_classifier(redress_reqwest::response_classifier())
///     .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
///     .class_strategy(ErrorClass::RateLimit, retry_after_or(decorrelated_jitter().max(Duration::from_secs(30))))
///     .build()?;
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub const fn classifier() -> ReqwestClassifier {
    ReqwestClassifier {
        fallback: strict_classifier(),
    }
}

impl Default for ReqwestClassifier {
    fn default() -> Self {
        classifier()
    }
}

impl<L> ReqwestClassifier<L> {
    /// Classifies errors without a reqwest error in their chain with
    /// `fallback` instead of `strict_classifier()`.
    ///
    /// ```
    /// use redress_core::{default_classifier, Classifier, ErrorClass};
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("database timeout")]
    /// struct DbTimeout;
    ///
    /// let c = redress_reqwest::classifier().fallback(default_classifier());
    /// assert_eq!(c.classify(&DbTimeout).class, ErrorClass::Transient); // by name heuristics
    /// ```
    pub fn fallback<L2>(self, fallback: ErrorClassifier<L2>) -> ReqwestClassifier<L2> {
        ReqwestClassifier { fallback }
    }
}

impl<L: StatusLookup> ReqwestClassifier<L> {
    /// Classifies a type-erased error (the inside of a `Box<dyn Error>` or
    /// an `anyhow::Error`).
    pub fn classify_dyn(&self, error: &(dyn StdError + 'static)) -> Classification {
        let error = unwrap_middleware(error);
        chain(error)
            .find_map(|link| classify_link(link, 0))
            .unwrap_or_else(|| self.fallback.classify_dyn(error))
    }
}

impl<E: StdError + 'static, L: StatusLookup> Classifier<E> for ReqwestClassifier<L> {
    fn classify(&self, error: &E) -> Classification {
        self.classify_dyn(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(HintedError);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("calling the api")
        }
    }

    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    fn builder_error() -> reqwest::Error {
        reqwest::Client::new().get("not a url").build().unwrap_err()
    }

    #[test]
    fn builder_errors_are_permanent() {
        let c = classify_error(&builder_error());
        assert_eq!((c.class, c.tag), (ErrorClass::Permanent, Some("builder")));
    }

    #[test]
    fn reqwest_errors_are_found_inside_wrappers_and_keep_their_hint() {
        let hinted = HintedError::new(builder_error(), Some(Duration::from_secs(4)));
        let c = classifier().classify(&Wrapper(hinted));
        assert_eq!(c.class, ErrorClass::Permanent);
        assert_eq!(c.tag, Some("builder"));
        assert_eq!(c.retry_after, Some(Duration::from_secs(4)));
        let plain: HintedError = builder_error().into();
        assert_eq!(plain.retry_after(), None);
        assert_eq!(plain.status(), None);
        assert_eq!(HasStatus::status_code(&plain), None);
        assert_eq!(plain.to_string(), plain.get_ref().to_string());
    }

    #[cfg(feature = "middleware")]
    #[test]
    fn reqwest_middleware_errors_are_looked_into() {
        use reqwest_middleware::Error as MwError;
        let c = classifier().classify(&MwError::Reqwest(builder_error()));
        assert_eq!((c.class, c.tag), (ErrorClass::Permanent, Some("builder")));
        let hinted = HintedError::new(builder_error(), Some(Duration::from_secs(4)));
        let c = classifier().classify(&MwError::middleware(hinted));
        assert_eq!(c.tag, Some("builder"));
        assert_eq!(c.retry_after, Some(Duration::from_secs(4)));
        // A middleware's own error goes to the fallback, unwrapped.
        let reset = MwError::middleware(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(classifier().classify(&reset).class, ErrorClass::Transient);
        let nested = MwError::middleware(MwError::Reqwest(builder_error()));
        assert_eq!(classifier().classify(&nested).tag, Some("builder"));
    }

    #[test]
    fn other_errors_go_to_the_fallback() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classifier().classify(&reset).class, ErrorClass::Transient);
        let opaque = io::Error::other("mystery");
        assert_eq!(classifier().classify(&opaque).class, ErrorClass::Unknown);
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(builder_error());
        assert_eq!(classifier().classify_dyn(&*boxed).tag, Some("builder"));
    }
}
