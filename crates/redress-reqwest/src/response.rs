//! Flagging `reqwest::Response`s.

use core::fmt;
use std::time::SystemTime;

use redress_core::{Classification, ResultClassifier};

/// A [`ResultClassifier`] for `reqwest::Response` (and
/// `reqwest::blocking::Response` with the `blocking` feature):
/// `redress-http`'s [`ResponseClassifier`](redress_http::ResponseClassifier)
/// for reqwest's types.
///
/// A response with a retryable status (408, 409, 429, 5xx) is a flagged
/// value, classified by its status with its `err` tag (`"5xx"`, `"429"`,
/// `"4xx"`) and the server's `Retry-After` hint; when the policy gives up,
/// the caller gets the last response back
/// ([`RetryError::into_last_value`](redress_core::RetryError::into_last_value)).
/// Other responses are successes.
#[derive(Clone, Copy)]
pub struct ResponseClassifier<N = fn() -> SystemTime> {
    inner: redress_http::ResponseClassifier<N>,
}

impl Default for ResponseClassifier {
    fn default() -> Self {
        ResponseClassifier {
            inner: redress_http::ResponseClassifier::new(),
        }
    }
}

impl<N> fmt::Debug for ResponseClassifier<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseClassifier")
            .field("flag_non_retryable", &self.inner.flags_non_retryable())
            .finish_non_exhaustive()
    }
}

/// The default [`ResponseClassifier`]: flags retryable statuses, reads
/// `Retry-After` against `SystemTime::now()`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use redress_core::{ErrorClass, ResultClassifier};
/// # use redress_test_http::{Script, Step, TestServer};
/// # let server = TestServer::start(Script::new().then(Step::status(503).retry_after_secs(2)))?;
/// # let url = server.url();
///
/// let response = reqwest::get(&url).await?;
/// let c = redress_reqwest::response_classifier().classify(&response).unwrap();
/// assert_eq!((c.class, c.tag), (ErrorClass::ServerError, Some("5xx")));
/// assert_eq!(c.retry_after, Some(Duration::from_secs(2)));
/// # Ok(())
/// # }
/// ```
pub fn response_classifier() -> ResponseClassifier {
    ResponseClassifier::default()
}

impl<N> ResponseClassifier<N> {
    /// Measures HTTP-date hints from `now()` instead of `SystemTime::now()`
    /// (see [`redress_http::ResponseClassifier::wall_clock`]).
    pub fn wall_clock<N2: Fn() -> SystemTime>(self, now: N2) -> ResponseClassifier<N2> {
        ResponseClassifier {
            inner: self.inner.wall_clock(now),
        }
    }

    /// Also flags non-retryable statuses (401, 403, 400, 404, 422): the call
    /// stops at once and returns the response in the `RetryError` (see
    /// [`redress_http::ResponseClassifier::flag_non_retryable`]).
    #[must_use]
    pub fn flag_non_retryable(self) -> Self {
        ResponseClassifier {
            inner: self.inner.flag_non_retryable(),
        }
    }
}

impl<N> From<redress_http::ResponseClassifier<N>> for ResponseClassifier<N> {
    fn from(inner: redress_http::ResponseClassifier<N>) -> Self {
        ResponseClassifier { inner }
    }
}

impl<N: Fn() -> SystemTime> ResultClassifier<reqwest::Response> for ResponseClassifier<N> {
    fn classify(&self, response: &reqwest::Response) -> Option<Classification> {
        self.inner
            .classify_parts(response.status(), response.headers())
    }
}

#[cfg(feature = "blocking")]
impl<N: Fn() -> SystemTime> ResultClassifier<reqwest::blocking::Response>
    for ResponseClassifier<N>
{
    fn classify(&self, response: &reqwest::blocking::Response) -> Option<Classification> {
        self.inner
            .classify_parts(response.status(), response.headers())
    }
}
