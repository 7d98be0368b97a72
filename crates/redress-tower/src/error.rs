//! The layer's error: [`Error`].

use core::convert::Infallible;
use core::fmt;

use redress_http::NoResponse;

/// What a [`Redress`](crate::Redress) service fails with: the inner
/// service's last error, or [`NoResponse`] when the call ended without a
/// response or an error (its last attempt was cut by the attempt timeout,
/// or the circuit breaker rejected it).
///
/// It converts into tower's `BoxError` (`Box<dyn Error + Send + Sync>`)
/// whenever `E` is an error that does. A server (an axum route, whose
/// error type must be `Infallible`) either sets
/// [`RedressLayer::answer_no_response`](crate::RedressLayer::answer_no_response),
/// which answers in its place, or turns the error into a response with
/// axum's `HandleErrorLayer`; for `Error<Infallible>`,
/// [`into_no_response`](Error::into_no_response) gives the 503 or 504 to
/// answer:
///
/// ```
/// use std::convert::Infallible;
/// use redress_tower::Error;
///
/// async fn handle_error(error: Error<Infallible>) -> http::Response<String> {
///     error.into_no_response().to_response()
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E> {
    /// The inner service's last error (of a call, or of `poll_ready`).
    Service(E),
    /// No response and no error to return.
    NoResponse(NoResponse),
}

impl<E> Error<E> {
    /// The inner service's error, when it is one.
    pub fn service_error(&self) -> Option<&E> {
        match self {
            Error::Service(e) => Some(e),
            Error::NoResponse(_) => None,
        }
    }

    /// Takes the inner service's error out.
    pub fn into_service_error(self) -> Option<E> {
        match self {
            Error::Service(e) => Some(e),
            Error::NoResponse(_) => None,
        }
    }

    /// Why the call ended without a response, when it did.
    pub fn no_response(&self) -> Option<&NoResponse> {
        match self {
            Error::Service(_) => None,
            Error::NoResponse(n) => Some(n),
        }
    }
}

impl Error<Infallible> {
    /// The [`NoResponse`]: the only error a service that cannot fail (an
    /// axum route) can end with under the layer.
    pub fn into_no_response(self) -> NoResponse {
        match self {
            Error::Service(never) => match never {},
            Error::NoResponse(n) => n,
        }
    }
}

/// The inner error's message, or why there was no response.
impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Service(e) => fmt::Display::fmt(e, f),
            Error::NoResponse(n) => fmt::Display::fmt(n, f),
        }
    }
}

/// Transparent for the inner error: its `source()` is the inner error's.
impl<E: std::error::Error> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Service(e) => e.source(),
            Error::NoResponse(_) => None,
        }
    }
}
