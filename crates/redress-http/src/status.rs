//! Status codes to classes and tags.
//!
//! The table is redress's one status table,
//! [`class_for_status`](redress_core::class_for_status) in `redress-core`;
//! this module only adds `http::StatusCode` and the events' `err` tag.

use core::time::Duration;

use http::StatusCode;
use redress_core::{Classification, ErrorClass, class_for_status};

/// The class of `status` in redress's status table, when it has one.
///
/// | status | class | why |
/// |---|---|---|
/// | 401 | `AUTH` | the credentials are wrong: retrying sends the same ones |
/// | 403 | `PERMISSION` | authenticated but not allowed: it will not change by itself |
/// | 400, 404, 422 | `PERMANENT` | the request itself is wrong |
/// | 408 | `TRANSIENT` | the server timed out waiting for the request |
/// | 409 | `CONCURRENCY` | a conflicting write: retry after a pause |
/// | 429 | `RATE_LIMIT` | throttled: wait, ideally as long as `Retry-After` says |
/// | 500–599 | `SERVER_ERROR` | the server failed or is overloaded |
/// | anything else | none | a success, a redirect, or a status without a rule |
///
/// ```
/// use http::StatusCode;
/// use redress_core::ErrorClass;
/// use redress_http::status_class;
///
/// assert_eq!(status_class(StatusCode::TOO_MANY_REQUESTS), Some(ErrorClass::RateLimit));
/// assert_eq!(status_class(StatusCode::OK), None);
/// ```
pub fn status_class(status: StatusCode) -> Option<ErrorClass> {
    class_for_status(status.as_u16())
}

/// The low-cardinality `err` tag for `status`: `"429"` for rate limits,
/// else its range: `"1xx"`, `"2xx"`, `"3xx"`, `"4xx"`, `"5xx"`, or
/// `"status"` for a code outside 100–599.
///
/// ```
/// use http::StatusCode;
/// use redress_http::status_tag;
///
/// assert_eq!(status_tag(StatusCode::SERVICE_UNAVAILABLE), "5xx");
/// assert_eq!(status_tag(StatusCode::TOO_MANY_REQUESTS), "429");
/// assert_eq!(status_tag(StatusCode::CONFLICT), "4xx");
/// ```
pub fn status_tag(status: StatusCode) -> &'static str {
    match status.as_u16() {
        429 => "429",
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "status",
    }
}

/// The classification of a response with `status`: its class from the
/// table, its tag, and the server's `retry_after` hint when there is one.
/// `None` when the table has no class for it (a success, a redirect, a 4xx
/// without a rule): such a response is an answer, not a failure.
///
/// ```
/// use std::time::Duration;
/// use http::StatusCode;
/// use redress_core::ErrorClass;
/// use redress_http::classify_status;
///
/// let c = classify_status(StatusCode::SERVICE_UNAVAILABLE, Some(Duration::from_secs(5))).unwrap();
/// assert_eq!((c.class, c.tag, c.retry_after), (ErrorClass::ServerError, Some("5xx"), Some(Duration::from_secs(5))));
/// assert_eq!(classify_status(StatusCode::GONE, None), None);
/// ```
pub fn classify_status(
    status: StatusCode,
    retry_after: Option<Duration>,
) -> Option<Classification> {
    status_class(status).map(|class| classification(class, status, retry_after))
}

/// The classification of an *error* that carries `status` (a client error
/// made from a response): like [`classify_status`], but a status without a
/// class in the table is `UNKNOWN` (capped by `max_unknown_attempts`)
/// rather than no failure at all.
///
/// For clients whose errors carry a status, in a classifier of your own:
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::{HeaderMap, StatusCode};
/// use redress_core::{Classifier, ErrorClass};
/// use redress_http::{classify_error_status, retry_after};
///
/// struct ApiError { status: StatusCode, headers: HeaderMap }
///
/// let classify = |e: &ApiError| {
///     classify_error_status(e.status, retry_after(&e.headers, SystemTime::now()))
/// };
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "2".parse()?);
/// let c = classify.classify(&ApiError { status: StatusCode::TOO_MANY_REQUESTS, headers });
/// assert_eq!(c.class, ErrorClass::RateLimit);
/// assert_eq!(c.retry_after, Some(Duration::from_secs(2)));
/// let gone = ApiError { status: StatusCode::GONE, headers: HeaderMap::new() };
/// assert_eq!(classify.classify(&gone).class, ErrorClass::Unknown);
/// assert_eq!(classify.classify(&gone).tag, Some("4xx"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn classify_error_status(status: StatusCode, retry_after: Option<Duration>) -> Classification {
    let class = status_class(status).unwrap_or(ErrorClass::Unknown);
    classification(class, status, retry_after)
}

fn classification(
    class: ErrorClass,
    status: StatusCode,
    retry_after: Option<Duration>,
) -> Classification {
    let c = Classification::new(class).with_tag(status_tag(status));
    match retry_after {
        Some(hint) => c.with_retry_after(hint),
        None => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_gets_the_core_class_and_a_tag_from_a_small_set() {
        let tags = ["1xx", "2xx", "3xx", "4xx", "429", "5xx", "status"];
        for code in 100..=999u16 {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_class(status), class_for_status(code), "{code}");
            assert!(tags.contains(&status_tag(status)), "{code}");
            let from_error = classify_error_status(status, None);
            assert_eq!(
                from_error.class,
                class_for_status(code).unwrap_or(ErrorClass::Unknown)
            );
            assert_eq!(from_error.tag, Some(status_tag(status)));
        }
    }

    #[test]
    fn classifications_carry_class_tag_and_hint() {
        let hint = Some(Duration::from_secs(1));
        let expect = [
            (429, Some((ErrorClass::RateLimit, "429"))),
            (503, Some((ErrorClass::ServerError, "5xx"))),
            (500, Some((ErrorClass::ServerError, "5xx"))),
            (408, Some((ErrorClass::Transient, "4xx"))),
            (409, Some((ErrorClass::Concurrency, "4xx"))),
            (401, Some((ErrorClass::Auth, "4xx"))),
            (403, Some((ErrorClass::Permission, "4xx"))),
            (404, Some((ErrorClass::Permanent, "4xx"))),
            (200, None),
            (304, None),
            (410, None),
        ];
        for (code, want) in expect {
            let status = StatusCode::from_u16(code).unwrap();
            let got = classify_status(status, hint);
            assert_eq!(got.map(|c| (c.class, c.tag.unwrap())), want, "{code}");
            if let Some(c) = got {
                assert_eq!(c.retry_after, hint);
            }
        }
        assert_eq!(
            classify_status(StatusCode::BAD_GATEWAY, None)
                .unwrap()
                .retry_after,
            None
        );
    }
}
