//! Classifying the errors of tower HTTP clients: [`TransportClassifier`].

use std::error::Error as StdError;
use std::io;

use redress_core::{
    Classification, Classifier, ErrorClass, ErrorClassifier, StatusLookup, io_kind_classification,
    strict_classifier,
};

/// Longest `source()` chain walked (guards against cycles).
const MAX_CHAIN: usize = 32;

/// The classifier for transport errors of tower HTTP stacks (hyper,
/// hyper-util's client, anything that wraps an `io::Error`), made by
/// [`classifier`].
///
/// It walks the error's `source()` chain; the first link it knows decides:
///
/// | link | class | `err` tag |
/// |---|---|---|
/// | a hyper error for a timeout | `TRANSIENT` | `timeout` |
/// | a hyper error for an incomplete message, a closed connection, or a request canceled by a closing connection | `TRANSIENT` | `reset` |
/// | an `io::Error` of kind `TimedOut` | `TRANSIENT` | `timeout` |
/// | an `io::Error` of kind `ConnectionRefused` | `TRANSIENT` | `connect` |
/// | an `io::Error` of kind `ConnectionReset`, `ConnectionAborted`, `BrokenPipe`, `UnexpectedEof` or `NotConnected` | `TRANSIENT` | `reset` |
///
/// An error with none of them goes to the fallback, `strict_classifier()`
/// unless set with [`fallback`](Self::fallback). Statuses are not errors
/// here: the response classifier
/// ([`redress_http::response_classifier`]) flags them.
///
/// ```
/// use std::io;
/// use redress_core::{Classifier, ErrorClass};
///
/// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
/// let c = redress_tower::classifier().classify(&refused);
/// assert_eq!((c.class, c.tag), (ErrorClass::Transient, Some("connect")));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TransportClassifier<L = ()> {
    fallback: ErrorClassifier<L>,
}

/// The classifier for transport errors (see [`TransportClassifier`]).
pub const fn classifier() -> TransportClassifier {
    TransportClassifier {
        fallback: strict_classifier(),
    }
}

impl Default for TransportClassifier {
    fn default() -> Self {
        classifier()
    }
}

impl<L> TransportClassifier<L> {
    /// Classifies errors without a known link with `fallback` instead of
    /// `strict_classifier()`.
    pub fn fallback<L2>(self, fallback: ErrorClassifier<L2>) -> TransportClassifier<L2> {
        TransportClassifier { fallback }
    }
}

impl<L: StatusLookup> TransportClassifier<L> {
    /// Classifies a type-erased error (tower's `BoxError`).
    pub fn classify_dyn(&self, error: &(dyn StdError + 'static)) -> Classification {
        core::iter::successors(Some(error), |e| (*e).source())
            .take(MAX_CHAIN)
            .find_map(classify_link)
            .unwrap_or_else(|| self.fallback.classify_dyn(error))
    }
}

impl<E: StdError + 'static, L: StatusLookup> Classifier<E> for TransportClassifier<L> {
    fn classify(&self, error: &E) -> Classification {
        self.classify_dyn(error)
    }
}

fn classify_link(link: &(dyn StdError + 'static)) -> Option<Classification> {
    let transient = |tag| Some(Classification::new(ErrorClass::Transient).with_tag(tag));
    if let Some(error) = link.downcast_ref::<hyper::Error>() {
        if error.is_timeout() {
            return transient("timeout");
        }
        if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
            return transient("reset");
        }
        return None;
    }
    let io = link.downcast_ref::<io::Error>()?;
    match io.kind() {
        io::ErrorKind::TimedOut
        | io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::NotConnected => io_kind_classification(io.kind()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt;

    /// An error that wraps another, as clients do.
    #[derive(Debug)]
    struct Wrapped(io::Error);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("client error")
        }
    }

    impl StdError for Wrapped {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn io_kinds_deep_in_the_chain_decide() {
        let cases = [
            (io::ErrorKind::TimedOut, "timeout"),
            (io::ErrorKind::ConnectionRefused, "connect"),
            (io::ErrorKind::ConnectionReset, "reset"),
            (io::ErrorKind::UnexpectedEof, "reset"),
        ];
        for (kind, tag) in cases {
            let c = classifier().classify(&Wrapped(io::Error::from(kind)));
            assert_eq!(
                (c.class, c.tag),
                (ErrorClass::Transient, Some(tag)),
                "{kind:?}"
            );
        }
        // Unknown kinds go to the fallback.
        let other = classifier().classify(&Wrapped(io::Error::other("mystery")));
        assert_eq!(other.class, ErrorClass::Unknown);
        let boxed: Box<dyn StdError + Send + Sync> =
            Box::new(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(classifier().classify_dyn(&*boxed).tag, Some("reset"));
    }
}
