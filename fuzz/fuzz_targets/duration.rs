//! The duration parser: no panic, and every duration it accepts prints
//! (`format_duration`) as text that parses back to the same duration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redress_config::{format_duration, parse_duration, seconds_to_duration};

fuzz_target!(|data: &[u8]| {
    if let Some((head, _)) = data.split_first_chunk::<8>() {
        // A number of seconds, as JSON and the scenario files give them.
        if let Some(d) = seconds_to_duration(f64::from_le_bytes(*head)) {
            let shown = format_duration(d);
            assert!(parse_duration(&shown).is_ok(), "{d:?} prints as {shown:?}");
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(text) {
        let shown = format_duration(d);
        assert_eq!(
            parse_duration(&shown).ok(),
            Some(d),
            "{text:?} prints as {shown:?}"
        );
    }
});
