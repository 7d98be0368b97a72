//! Flagging responses: [`ResponseClassifier`].

use core::fmt;
use std::time::SystemTime;

use http::header::RETRY_AFTER;
use http::{HeaderMap, Response, StatusCode};
use redress_core::{Classification, ResultClassifier};

use crate::retry_after::parse_retry_after;
use crate::status::classify_status;

/// A [`ResultClassifier`] for HTTP responses: a response whose status is
/// retryable in redress's table (408, 409, 429, 5xx) is a flagged value,
/// classified by its status, tagged (`"5xx"`, `"429"`, `"4xx"`) and carrying
/// the server's `Retry-After` hint when it sent a valid one.
///
/// A flagged response is retried like an error; when the policy gives up,
/// the caller gets the last response back
/// ([`RetryError::into_last_value`](redress_core::RetryError::into_last_value)),
/// headers and body intact. Every other response (2xx, 3xx, and by default
/// the non-retryable 4xx) is a plain success: the caller reads the status
/// as usual.
///
/// Implemented for `http::Response<B>` (any body) and
/// `http::response::Parts`; `redress-reqwest` wraps it for
/// `reqwest::Response`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::{Response, StatusCode};
/// use redress_core::{ErrorClass, ResultClassifier};
/// use redress_http::response_classifier;
///
/// let classifier = response_classifier();
/// let busy = Response::builder().status(503).header("retry-after", "4").body(())?;
/// let c = classifier.classify(&busy).unwrap();
/// assert_eq!(c.class, ErrorClass::ServerError);
/// assert_eq!(c.tag, Some("5xx"));
/// assert_eq!(c.retry_after, Some(Duration::from_secs(4)));
///
/// let missing = Response::builder().status(StatusCode::NOT_FOUND).body(())?;
/// assert_eq!(classifier.classify(&missing), None); // an answer, not a failure
/// # Ok::<(), http::Error>(())
/// ```
///
/// An HTTP-date hint is measured from the wall clock, `SystemTime::now()`;
/// tests give a fixed one with [`wall_clock`](Self::wall_clock).
#[derive(Clone, Copy)]
pub struct ResponseClassifier<N = fn() -> SystemTime> {
    now: N,
    flag_non_retryable: bool,
}

/// The default [`ResponseClassifier`]: flags retryable statuses and reads
/// `Retry-After` against `SystemTime::now()`.
pub fn response_classifier() -> ResponseClassifier {
    ResponseClassifier::new()
}

impl ResponseClassifier {
    /// Flags retryable statuses; reads `Retry-After` against
    /// `SystemTime::now()`.
    pub fn new() -> Self {
        ResponseClassifier {
            now: SystemTime::now,
            flag_non_retryable: false,
        }
    }
}

impl Default for ResponseClassifier {
    fn default() -> Self {
        ResponseClassifier::new()
    }
}

impl<N> ResponseClassifier<N> {
    /// Measures HTTP-date hints from `now()` instead of `SystemTime::now()`
    /// (for tests, or a clock of your own). It is read only when a response
    /// has a `Retry-After` header.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use redress_core::ResultClassifier;
    /// use redress_http::response_classifier;
    ///
    /// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
    /// let classifier = response_classifier().wall_clock(move || now);
    /// let limited = http::Response::builder()
    ///     .status(429)
    ///     .header("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT")
    ///     .body(())?;
    /// assert_eq!(classifier.classify(&limited).unwrap().retry_after, Some(Duration::from_secs(10)));
    /// # Ok::<(), http::Error>(())
    /// ```
    pub fn wall_clock<N2: Fn() -> SystemTime>(self, now: N2) -> ResponseClassifier<N2> {
        ResponseClassifier {
            now,
            flag_non_retryable: self.flag_non_retryable,
        }
    }

    /// Also flags the statuses the table marks as never retryable (401
    /// `AUTH`, 403 `PERMISSION`, 400/404/422 `PERMANENT`): such a call stops
    /// at once with `NON_RETRYABLE_CLASS` and returns the response in the
    /// `RetryError`, so outcomes, events and metrics name the failure.
    ///
    /// ```
    /// use redress_core::{ErrorClass, ResultClassifier};
    /// use redress_http::response_classifier;
    ///
    /// let denied = http::Response::builder().status(401).body(())?;
    /// assert_eq!(response_classifier().classify(&denied), None);
    /// let c = response_classifier().flag_non_retryable().classify(&denied).unwrap();
    /// assert_eq!(c.class, ErrorClass::Auth);
    /// # Ok::<(), http::Error>(())
    /// ```
    #[must_use]
    pub fn flag_non_retryable(mut self) -> Self {
        self.flag_non_retryable = true;
        self
    }

    /// Whether non-retryable statuses are flagged too.
    pub fn flags_non_retryable(&self) -> bool {
        self.flag_non_retryable
    }
}

impl<N: Fn() -> SystemTime> ResponseClassifier<N> {
    /// Classifies a response from its status and headers: the same answer
    /// as [`ResultClassifier::classify`], for response types of other
    /// libraries.
    pub fn classify_parts(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Option<Classification> {
        let hint = headers
            .get(RETRY_AFTER)
            .and_then(|value| parse_retry_after(value.as_bytes(), (self.now)()));
        classify_status(status, hint).filter(|c| self.flag_non_retryable || c.class.is_retryable())
    }
}

impl<B, N: Fn() -> SystemTime> ResultClassifier<Response<B>> for ResponseClassifier<N> {
    fn classify(&self, response: &Response<B>) -> Option<Classification> {
        self.classify_parts(response.status(), response.headers())
    }
}

impl<N: Fn() -> SystemTime> ResultClassifier<http::response::Parts> for ResponseClassifier<N> {
    fn classify(&self, parts: &http::response::Parts) -> Option<Classification> {
        self.classify_parts(parts.status, &parts.headers)
    }
}

impl<N> fmt::Debug for ResponseClassifier<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseClassifier")
            .field("flag_non_retryable", &self.flag_non_retryable)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use redress_core::ErrorClass;
    use std::cell::Cell;

    fn response(status: u16, retry_after: Option<&str>) -> Response<&'static str> {
        let mut builder = Response::builder().status(status);
        if let Some(value) = retry_after {
            builder = builder.header(RETRY_AFTER, value);
        }
        builder.body("body").unwrap()
    }

    #[test]
    fn flags_exactly_the_retryable_statuses() {
        let classifier = response_classifier();
        for code in 100..=599u16 {
            let flagged = classifier.classify(&response(code, None));
            let expected = redress_core::class_for_status(code).filter(|c| c.is_retryable());
            assert_eq!(flagged.map(|c| c.class), expected, "{code}");
        }
        let all = response_classifier().flag_non_retryable();
        for code in 100..=599u16 {
            let flagged = all.classify(&response(code, None));
            assert_eq!(
                flagged.map(|c| c.class),
                redress_core::class_for_status(code),
                "{code}"
            );
        }
    }

    #[test]
    fn hints_come_from_any_flagged_response_and_garbage_is_no_hint() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let classifier = response_classifier().wall_clock(move || now);
        let hint = |status, value| {
            classifier
                .classify(&response(status, Some(value)))
                .map(|c| (c.class, c.retry_after, c.tag))
        };
        assert_eq!(
            hint(429, "1"),
            Some((
                ErrorClass::RateLimit,
                Some(Duration::from_secs(1)),
                Some("429")
            ))
        );
        assert_eq!(
            hint(503, "Sun, 06 Nov 1994 08:49:39 GMT"),
            Some((
                ErrorClass::ServerError,
                Some(Duration::from_secs(2)),
                Some("5xx")
            ))
        );
        assert_eq!(
            hint(500, "Sun, 06 Nov 1994 08:49:00 GMT"),
            Some((ErrorClass::ServerError, Some(Duration::ZERO), Some("5xx")))
        );
        assert_eq!(
            hint(429, "later"),
            Some((ErrorClass::RateLimit, None, Some("429")))
        );
        // A success is never flagged, whatever its headers say.
        assert_eq!(hint(200, "5"), None);
    }

    #[test]
    fn the_wall_clock_is_read_only_when_there_is_a_hint() {
        let reads = Cell::new(0u32);
        let classifier = response_classifier().wall_clock(|| {
            reads.set(reads.get() + 1);
            SystemTime::UNIX_EPOCH
        });
        assert!(classifier.classify(&response(503, None)).is_some());
        assert_eq!(reads.get(), 0);
        assert!(classifier.classify(&response(503, Some("1"))).is_some());
        assert_eq!(reads.get(), 1);
    }

    #[test]
    fn parts_classify_like_the_response() {
        let (parts, _body) = response(429, Some("3")).into_parts();
        let c = response_classifier().classify(&parts).unwrap();
        assert_eq!(c.class, ErrorClass::RateLimit);
        assert_eq!(c.retry_after, Some(Duration::from_secs(3)));
    }
}
