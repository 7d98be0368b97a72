//! `retry_after` never panics, whatever a server sends, and reads back
//! what a well-behaved server writes.
#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use redress_http::{parse_retry_after, retry_after};

/// Any instant from 1970 to beyond year 9999, whole seconds.
fn any_now() -> impl Strategy<Value = SystemTime> {
    (0u64..400_000_000_000).prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

/// Whole-second instants httpdate can format (years 1970 to 9999).
fn formattable() -> impl Strategy<Value = SystemTime> {
    (0u64..253_402_300_800).prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), now in any_now()) {
        let _ = parse_retry_after(&bytes, now);
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, value);
            let _ = retry_after(&headers, now);
        }
    }

    #[test]
    fn date_like_strings_never_panic(s in "[A-Za-z]{0,9},? ?[0-9]{0,3}[ -][A-Za-z]{0,4}[ -][0-9]{0,5} [0-9]{0,3}:[0-9]{0,3}:[0-9]{0,3} ?[A-Z]{0,4}", now in any_now()) {
        let _ = parse_retry_after(s.as_bytes(), now);
    }

    #[test]
    fn seconds_read_back_with_any_padding(n in any::<u64>(), left in "[ \t]{0,3}", right in "[ \t]{0,3}", now in any_now()) {
        let value = format!("{left}{n}{right}");
        prop_assert_eq!(parse_retry_after(value.as_bytes(), now), Some(Duration::from_secs(n)));
    }

    #[test]
    fn digit_strings_saturate(digits in "[0-9]{1,60}") {
        let expected = digits.parse::<u64>().unwrap_or(u64::MAX);
        prop_assert_eq!(parse_retry_after(digits.as_bytes(), SystemTime::UNIX_EPOCH), Some(Duration::from_secs(expected)));
    }

    #[test]
    fn signed_numbers_are_no_hint(n in any::<u64>(), sign in "[-+]") {
        let value = format!("{sign}{n}");
        prop_assert_eq!(parse_retry_after(value.as_bytes(), SystemTime::UNIX_EPOCH), None);
    }

    #[test]
    fn dates_read_back_as_the_wait_until_them(at in formattable(), now in formattable()) {
        let value = httpdate::fmt_http_date(at);
        let expected = at.duration_since(now).unwrap_or(Duration::ZERO);
        prop_assert_eq!(parse_retry_after(value.as_bytes(), now), Some(expected));
    }
}
