//! Classifying a `tonic::Status`: the code table plus the server's hints.

use core::time::Duration;

use redress_core::{Classification, ErrorClass};
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::code::{code_class, code_name};

/// The metadata key of gRPC's server pushback (the client retry design,
/// A6): `grpc-retry-pushback-ms`.
pub const PUSHBACK_KEY: &str = "grpc-retry-pushback-ms";

/// What the server said with `grpc-retry-pushback-ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pushback {
    /// Retry, after at least this long.
    RetryAfter(Duration),
    /// Do not retry at all (a negative or unparseable value).
    DoNotRetry,
}

/// The server's pushback in `metadata` (a status's trailers), if it sent
/// one.
///
/// The value is a signed 32-bit count of milliseconds, in ASCII. As gRPC's
/// retry design says, a negative value, or one that does not parse, is the
/// server asking the client not to retry at all.
///
/// ```
/// use std::time::Duration;
/// use redress_tonic::{pushback, Pushback};
/// use tonic::metadata::MetadataMap;
///
/// let mut trailers = MetadataMap::new();
/// assert_eq!(pushback(&trailers), None);
/// trailers.insert("grpc-retry-pushback-ms", "250".parse()?);
/// assert_eq!(pushback(&trailers), Some(Pushback::RetryAfter(Duration::from_millis(250))));
/// trailers.insert("grpc-retry-pushback-ms", "-1".parse()?);
/// assert_eq!(pushback(&trailers), Some(Pushback::DoNotRetry));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pushback(metadata: &MetadataMap) -> Option<Pushback> {
    metadata
        .get(PUSHBACK_KEY)
        .map(|value| pushback_value(value.as_encoded_bytes()))
}

/// The pushback a `grpc-retry-pushback-ms` value says.
pub(crate) fn pushback_value(value: &[u8]) -> Pushback {
    let millis = core::str::from_utf8(value)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok());
    match millis.and_then(|ms| u64::try_from(ms).ok()) {
        Some(ms) => Pushback::RetryAfter(Duration::from_millis(ms)),
        None => Pushback::DoNotRetry,
    }
}

/// The delay of the `google.rpc.RetryInfo` detail in `status`, if the
/// server attached one (through `tonic-types`' richer error model).
///
/// ```
/// use std::time::Duration;
/// use tonic::{Code, Status};
/// use tonic_types::{ErrorDetails, StatusExt};
///
/// let status = Status::with_error_details(
///     Code::ResourceExhausted,
///     "quota exceeded",
///     ErrorDetails::with_retry_info(Some(Duration::from_secs(3))),
/// );
/// assert_eq!(redress_tonic::retry_info_delay(&status), Some(Duration::from_secs(3)));
/// assert_eq!(redress_tonic::retry_info_delay(&Status::unavailable("down")), None);
/// ```
pub fn retry_info_delay(status: &Status) -> Option<Duration> {
    if status.details().is_empty() {
        return None;
    }
    status.get_details_retry_info()?.retry_delay
}

/// The classification of `status`: its code's class from the table
/// ([`code_class`]), the code's name as the `err` tag, and the server's
/// hints.
///
/// - A `RetryInfo` detail or a `grpc-retry-pushback-ms` trailer becomes the
///   classification's `retry_after` (the longer of the two when both are
///   there), which `retry_after_or` strategies wait. The detail `hint`
///   says where it came from: `pushback` or `retry_info`.
/// - A pushback that says not to retry (a negative or unparseable value)
///   makes a retryable code `PERMANENT`, with the detail `pushback =
///   do_not_retry`: the call stops at once and the caller gets the status.
///
/// ```
/// use std::time::Duration;
/// use redress_core::ErrorClass;
/// use redress_tonic::classify_status;
/// use tonic::{Code, Status};
///
/// let mut status = Status::unavailable("restarting");
/// status.metadata_mut().insert("grpc-retry-pushback-ms", "1500".parse()?);
/// let c = classify_status(&status);
/// assert_eq!(c.class, ErrorClass::Transient);
/// assert_eq!(c.tag, Some("UNAVAILABLE"));
/// assert_eq!(c.retry_after, Some(Duration::from_millis(1500)));
/// assert_eq!(c.details.get("hint"), Some("pushback"));
///
/// status.metadata_mut().insert("grpc-retry-pushback-ms", "-1".parse()?);
/// assert_eq!(classify_status(&status).class, ErrorClass::Permanent);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn classify_status(status: &Status) -> Classification {
    classify_parts(
        status.code(),
        pushback(status.metadata()),
        retry_info_delay(status),
    )
}

/// The classification of a failure with `code` and the server's hints.
pub(crate) fn classify_parts(
    code: Code,
    pushed: Option<Pushback>,
    retry_info: Option<Duration>,
) -> Classification {
    let class = code_class(code);
    let tagged = Classification::new(class).with_tag(code_name(code));
    if pushed == Some(Pushback::DoNotRetry) && class.is_retryable() {
        return Classification::new(ErrorClass::Permanent)
            .with_tag(code_name(code))
            .with_detail("pushback", "do_not_retry");
    }
    let from_pushback = match pushed {
        Some(Pushback::RetryAfter(delay)) => Some(delay),
        _ => None,
    };
    match (from_pushback, retry_info) {
        (Some(pushback), Some(info)) if info > pushback => tagged
            .with_retry_after(info)
            .with_detail("hint", "retry_info"),
        (Some(pushback), _) => tagged
            .with_retry_after(pushback)
            .with_detail("hint", "pushback"),
        (None, Some(info)) => tagged
            .with_retry_after(info)
            .with_detail("hint", "retry_info"),
        (None, None) => tagged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;
    use tonic_types::ErrorDetails;

    fn with_pushback(mut status: Status, value: &'static str) -> Status {
        status
            .metadata_mut()
            .insert(PUSHBACK_KEY, MetadataValue::from_static(value));
        status
    }

    #[test]
    fn pushback_values_follow_the_retry_design() {
        let cases = [
            ("0", Some(Pushback::RetryAfter(Duration::ZERO))),
            (
                "2147483647",
                Some(Pushback::RetryAfter(Duration::from_millis(2_147_483_647))),
            ),
            ("-5", Some(Pushback::DoNotRetry)),
            ("2147483648", Some(Pushback::DoNotRetry)),
            ("soon", Some(Pushback::DoNotRetry)),
            ("", Some(Pushback::DoNotRetry)),
        ];
        for (value, want) in cases {
            let status = with_pushback(Status::unavailable("x"), value);
            assert_eq!(pushback(status.metadata()), want, "{value:?}");
        }
        assert_eq!(pushback(&MetadataMap::new()), None);
    }

    #[test]
    fn the_longer_hint_wins_and_says_where_it_came_from() {
        let details = ErrorDetails::with_retry_info(Some(Duration::from_secs(2)));
        let status = Status::with_error_details(Code::ResourceExhausted, "quota", details);
        let c = classify_status(&status);
        assert_eq!(c.class, ErrorClass::RateLimit);
        assert_eq!(c.tag, Some("RESOURCE_EXHAUSTED"));
        assert_eq!(c.retry_after, Some(Duration::from_secs(2)));
        assert_eq!(c.details.get("hint"), Some("retry_info"));

        let longer = with_pushback(status, "3000");
        let c = classify_status(&longer);
        assert_eq!(c.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(c.details.get("hint"), Some("pushback"));

        let shorter = with_pushback(
            Status::with_error_details(
                Code::Unavailable,
                "x",
                ErrorDetails::with_retry_info(Some(Duration::from_secs(2))),
            ),
            "1000",
        );
        assert_eq!(
            classify_status(&shorter).retry_after,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn do_not_retry_stops_retryable_codes_only() {
        let c = classify_status(&with_pushback(Status::resource_exhausted("x"), "-1"));
        assert_eq!(c.class, ErrorClass::Permanent);
        assert_eq!(c.tag, Some("RESOURCE_EXHAUSTED"));
        assert_eq!(c.details.get("pushback"), Some("do_not_retry"));
        let c = classify_status(&with_pushback(Status::unauthenticated("x"), "-1"));
        assert_eq!(c.class, ErrorClass::Auth);
        assert_eq!(c.details.get("pushback"), None);
    }

    #[test]
    fn garbage_details_are_no_hint() {
        let status = Status::with_details(Code::Unavailable, "x", vec![0xff, 0x01].into());
        assert_eq!(retry_info_delay(&status), None);
        assert_eq!(classify_status(&status).retry_after, None);
        let empty = Status::with_error_details(Code::Unavailable, "x", ErrorDetails::new());
        assert_eq!(retry_info_delay(&empty), None);
    }
}
