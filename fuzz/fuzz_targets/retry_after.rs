//! The Retry-After parser on arbitrary bytes and clocks: no panic, and
//! delta-seconds read as themselves.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use redress_http::parse_retry_after;

fuzz_target!(|data: &[u8]| {
    let Some((head, value)) = data.split_first_chunk::<8>() else {
        return;
    };
    // Any clock from 1970 on, up to where SystemTime ends.
    let offset = Duration::from_secs(u64::from_le_bytes(*head) >> 20);
    let Some(now) = SystemTime::UNIX_EPOCH.checked_add(offset) else {
        return;
    };
    let parsed = parse_retry_after(value, now);
    if !value.is_empty() && value.len() <= 9 && value.iter().all(u8::is_ascii_digit) {
        let secs: u64 = std::str::from_utf8(value).unwrap().parse().unwrap();
        assert_eq!(parsed, Some(Duration::from_secs(secs)), "{value:?}");
    }
});
