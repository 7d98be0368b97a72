//! The classifier for errors that are, or wrap, a `tonic::Status`.

use std::error::Error as StdError;

use redress_core::{
    Classification, Classifier, ErrorClass, ErrorClassifier, StatusLookup, strict_classifier,
};
use tonic::{ConnectError, Status, TimeoutExpired};

use crate::status::classify_status;

/// Longest `source()` chain walked (guards against cycles).
const MAX_CHAIN: usize = 32;

/// The classifier for gRPC errors: made by [`classifier`].
///
/// It walks the error's `source()` chain and the first link it knows
/// decides:
///
/// | link | classification | `err` tag |
/// |---|---|---|
/// | a `tonic::Status` | [`classify_status`]: the code table and the server's hints | the code's name (`UNAVAILABLE`, ...) |
/// | a `tonic::TimeoutExpired` (tonic's own request timeout, outside a `Status`) | `TRANSIENT` | `timeout` |
/// | a `tonic::ConnectError` (connecting the channel failed) | `TRANSIENT` | `connect` |
///
/// An error with none of them goes to the fallback, `strict_classifier()`
/// unless set with [`fallback`](Self::fallback) (I/O error kinds, redress's
/// marker errors, registered status types).
///
/// Your own error type works when its `source()` (or a source of a
/// source) is the status, as with thiserror's `#[from]`/`#[source]`.
#[derive(Clone, Copy, Debug)]
pub struct GrpcClassifier<L = ()> {
    fallback: ErrorClassifier<L>,
}

/// The classifier for `tonic::Status` and errors that wrap one (see
/// [`GrpcClassifier`]).
///
/// ```
/// use std::time::Duration;
/// use redress_core::{backoff::{decorrelated_jitter, retry_after_or}, Classifier, ErrorClass, Policy};
/// use tonic::Status;
///
/// let policy = Policy::builder()
///     .classifier(redress_tonic::classifier())
///     .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
///     .class_strategy(ErrorClass::RateLimit, retry_after_or(decorrelated_jitter().max(Duration::from_secs(30))))
///     .build()?;
///
/// let c = redress_tonic::classifier().classify(&Status::permission_denied("no"));
/// assert_eq!(c.class, ErrorClass::Permission);
/// # let _ = policy;
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub const fn classifier() -> GrpcClassifier {
    GrpcClassifier {
        fallback: strict_classifier(),
    }
}

impl Default for GrpcClassifier {
    fn default() -> Self {
        classifier()
    }
}

impl<L> GrpcClassifier<L> {
    /// Classifies errors without a status in their chain with `fallback`
    /// instead of `strict_classifier()`.
    ///
    /// ```
    /// use redress_core::{default_classifier, Classifier, ErrorClass};
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("upstream timeout")]
    /// struct UpstreamTimeout;
    ///
    /// let c = redress_tonic::classifier().fallback(default_classifier());
    /// assert_eq!(c.classify(&UpstreamTimeout).class, ErrorClass::Transient); // by name heuristics
    /// ```
    pub fn fallback<L2>(self, fallback: ErrorClassifier<L2>) -> GrpcClassifier<L2> {
        GrpcClassifier { fallback }
    }
}

impl<L: StatusLookup> GrpcClassifier<L> {
    /// Classifies a type-erased error (the inside of a `Box<dyn Error>`).
    pub fn classify_dyn(&self, error: &(dyn StdError + 'static)) -> Classification {
        chain(error)
            .find_map(known)
            .unwrap_or_else(|| self.fallback.classify_dyn(error))
    }
}

/// `error` and its sources, at most [`MAX_CHAIN`] of them.
fn chain<'e>(
    error: &'e (dyn StdError + 'static),
) -> impl Iterator<Item = &'e (dyn StdError + 'static)> {
    core::iter::successors(Some(error), |e: &&'e (dyn StdError + 'static)| {
        (*e).source()
    })
    .take(MAX_CHAIN)
}

/// The classification of a link this crate knows.
fn known(link: &(dyn StdError + 'static)) -> Option<Classification> {
    if let Some(status) = link.downcast_ref::<Status>() {
        return Some(classify_status(status));
    }
    if link.is::<TimeoutExpired>() {
        return Some(Classification::new(ErrorClass::Transient).with_tag("timeout"));
    }
    if link.is::<ConnectError>() {
        return Some(Classification::new(ErrorClass::Transient).with_tag("connect"));
    }
    None
}

impl<E: StdError + 'static, L: StatusLookup> Classifier<E> for GrpcClassifier<L> {
    fn classify(&self, error: &E) -> Classification {
        self.classify_dyn(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt;
    use std::io;

    #[derive(Debug)]
    struct CallFailed(Status);

    impl fmt::Display for CallFailed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("calling the inventory service")
        }
    }

    impl StdError for CallFailed {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn statuses_are_found_inside_wrappers() {
        let c = classifier().classify(&CallFailed(Status::aborted("conflict")));
        assert_eq!((c.class, c.tag), (ErrorClass::Concurrency, Some("ABORTED")));
        let c = classifier().classify(&Status::unavailable("down"));
        assert_eq!(
            (c.class, c.tag),
            (ErrorClass::Transient, Some("UNAVAILABLE"))
        );
    }

    #[test]
    fn tonic_timeouts_and_connect_errors_outside_a_status_are_transient() {
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(TimeoutExpired(()));
        let c = classifier().classify_dyn(&*boxed);
        assert_eq!((c.class, c.tag), (ErrorClass::Transient, Some("timeout")));
        let refused = ConnectError(Box::new(io::Error::from(io::ErrorKind::ConnectionRefused)));
        let c = classifier().classify(&refused);
        assert_eq!((c.class, c.tag), (ErrorClass::Transient, Some("connect")));
    }

    #[test]
    fn other_errors_go_to_the_fallback() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classifier().classify(&reset).class, ErrorClass::Transient);
        let opaque = io::Error::other("mystery");
        assert_eq!(classifier().classify(&opaque).class, ErrorClass::Unknown);
    }
}
