//! The `Retry-After` header (RFC 9110, section 10.2.3).
//!
//! A server says how long to wait in one of two forms: a number of seconds
//! (`Retry-After: 120`) or an HTTP-date (`Retry-After: Fri, 31 Dec 1999
//! 23:59:59 GMT`). Both become a [`Duration`] from `now`:
//!
//! - seconds are digits only: a sign, a fraction or an exponent makes the
//!   value invalid (`None`), and a number too large for a `u64` saturates at
//!   `u64::MAX` seconds (the policy's deadline clamps any delay anyway);
//! - a date is read by [`httpdate`] in all three formats RFC 9110 requires a
//!   recipient to accept (IMF-fixdate, RFC 850, asctime); a date at or before
//!   `now` means "now": zero;
//! - spaces and tabs around the value are ignored (RFC 9110 allows optional
//!   whitespace around a field value);
//! - anything else is `None`: a malformed hint is no hint, never an error
//!   and never a panic.
//!
//! `now` is a parameter, not a clock read, so the arithmetic is
//! deterministic; the classifiers read `SystemTime::now()` unless given a
//! clock.

use core::time::Duration;
use std::time::SystemTime;

use http::HeaderMap;
use http::header::RETRY_AFTER;

/// The server's `Retry-After` hint in `headers`, measured from `now`.
///
/// Reads the first `Retry-After` field; see [`parse_retry_after`] for the
/// rules. `None` when there is no such header or its value is malformed.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderMap;
/// use redress_http::retry_after;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "120".parse()?);
/// assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(120)));
///
/// headers.insert("retry-after", "Sun, 06 Nov 1994 08:50:07 GMT".parse()?);
/// assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
///
/// headers.insert("retry-after", "soon".parse()?);
/// assert_eq!(retry_after(&headers, now), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|value| parse_retry_after(value.as_bytes(), now))
}

/// Parses one `Retry-After` value (delta-seconds or an HTTP-date) into the
/// time to wait from `now`.
///
/// | value | result |
/// |---|---|
/// | `120`, ` 120 `, `0120` | 120 s |
/// | `99999999999999999999999` | `u64::MAX` seconds (saturated) |
/// | an HTTP-date after `now` | the time until it (whole seconds) |
/// | an HTTP-date at or before `now` | zero |
/// | `-1`, `+1`, `1.5`, `1e3`, `""`, `soon`, non-UTF-8 bytes | `None` |
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use redress_http::parse_retry_after;
///
/// let now = SystemTime::now();
/// assert_eq!(parse_retry_after(b" 7\t", now), Some(Duration::from_secs(7)));
/// assert_eq!(parse_retry_after(b"Thu, 01 Jan 1970 00:00:00 GMT", now), Some(Duration::ZERO));
/// assert_eq!(parse_retry_after(b"-7", now), None);
/// ```
pub fn parse_retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let value = trim_ows(value);
    if value.is_empty() {
        return None;
    }
    if value.iter().all(u8::is_ascii_digit) {
        return Some(Duration::from_secs(delta_seconds(value)));
    }
    let text = core::str::from_utf8(value).ok()?;
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Digits to seconds, saturating at `u64::MAX`.
fn delta_seconds(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(d.saturating_sub(b'0')))
    })
}

/// Strips RFC 9110 optional whitespace (spaces and horizontal tabs).
fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    /// Sun, 06 Nov 1994 08:49:37 GMT, the date of RFC 9110's examples.
    fn rfc_now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    #[test]
    fn table() {
        let now = rfc_now();
        let cases: &[(&[u8], Option<Duration>)] = &[
            // delta-seconds
            (b"0", secs(0)),
            (b"1", secs(1)),
            (b"120", secs(120)),
            (b"0120", secs(120)),
            (b"86400", secs(86_400)),
            // whitespace around the value is optional whitespace
            (b" 120", secs(120)),
            (b"120 ", secs(120)),
            (b"\t120\t", secs(120)),
            (b"  \t 5 \t  ", secs(5)),
            // huge numbers saturate
            (b"18446744073709551615", secs(u64::MAX)),
            (b"18446744073709551616", secs(u64::MAX)),
            (
                b"99999999999999999999999999999999999999999999",
                secs(u64::MAX),
            ),
            // negative and other non-digit numbers are invalid
            (b"-1", None),
            (b"-0", None),
            (b"+1", None),
            (b"1.5", None),
            (b"1e3", None),
            (b"0x10", None),
            (b"1 2", None),
            (b"12s", None),
            // HTTP-dates in the three formats, in the future
            (b"Sun, 06 Nov 1994 08:49:47 GMT", secs(10)),
            (b"Sunday, 06-Nov-94 08:50:37 GMT", secs(60)),
            (b"Sun Nov  6 09:49:37 1994", secs(3600)),
            (b" Mon, 07 Nov 1994 08:49:37 GMT\t", secs(86_400)),
            // at or before now: zero
            (b"Sun, 06 Nov 1994 08:49:37 GMT", secs(0)),
            (b"Sun, 06 Nov 1994 08:49:36 GMT", secs(0)),
            (b"Thu, 01 Jan 1970 00:00:00 GMT", secs(0)),
            // garbage
            (b"", None),
            (b"   ", None),
            (b"soon", None),
            (b"Sun, 06 Nov 1994", None),
            (b"Sun, 32 Nov 1994 08:49:37 GMT", None),
            (b"Sun, 06 Nov 1994 25:49:37 GMT", None),
            (b"Sun, 06 Nov 1994 08:49:37 PST", None),
            (b"\xff\xfe", None),
            (b"Sun, 06 Nov 1994 08:49:37 GMT\xff", None),
        ];
        for (value, expected) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                *expected,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn reads_the_header_from_a_map() {
        let now = rfc_now();
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers, now), secs(3));
        // The first field wins when a server sends two.
        headers.append(RETRY_AFTER, HeaderValue::from_static("9"));
        assert_eq!(retry_after(&headers, now), secs(3));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("garbage"));
        assert_eq!(retry_after(&headers, now), None);
        let opaque = HeaderValue::from_bytes(b"\x80\x81").unwrap();
        headers.insert(RETRY_AFTER, opaque);
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn a_date_far_in_the_future_is_a_long_wait_not_an_overflow() {
        let now = SystemTime::UNIX_EPOCH;
        let wait = parse_retry_after(b"Fri, 31 Dec 9999 23:59:59 GMT", now).unwrap();
        assert_eq!(wait, Duration::from_secs(253_402_300_799));
    }
}
