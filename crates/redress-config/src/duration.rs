//! Durations as config files write them: `"250ms"`, `"1.5s"`, `"2m"`,
//! `"1m30s"`.
//!
//! A duration is one or more `NUMBER UNIT` parts with no spaces, where the
//! number is a whole or decimal number and the unit one of `ns`, `us` (or
//! `µs`), `ms`, `s`, `m`, `h`, each unit at most once and from the largest
//! to the smallest (`"1h30m"`, not `"30m1h"` or `"1h1h"`: a repeated or
//! misplaced part is more likely a typo than a sum meant). Parsing is exact (decimal arithmetic, never a
//! float): `"0.3s"` is exactly 300 ms. A bare number is refused: `10` could
//! mean seconds or milliseconds, and a retry config is the wrong place to
//! guess.
//!
//! [`format_duration`] writes the shortest exact form, and parsing it gives
//! the same duration back.
//!
//! The conformance scenarios' dialect ([`Dialect::Scenario`](crate::Dialect))
//! writes durations as seconds instead (JSON numbers, as the reference
//! runner reads them): [`seconds_to_duration`] converts them.

use core::fmt;
use core::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The units a duration may use, with their length in nanoseconds.
const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
];

/// Why a string is not a duration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// The string is empty.
    Empty,
    /// The string starts with a minus sign.
    Negative,
    /// A number has no unit after it (`"10"`).
    MissingUnit {
        /// The number as written.
        number: String,
    },
    /// A unit is not one of `ns`, `us`, `ms`, `s`, `m`, `h`.
    UnknownUnit {
        /// The unit as written.
        unit: String,
    },
    /// Something other than a number where a number must be.
    Malformed,
    /// More precise than a nanosecond.
    TooPrecise,
    /// A unit given twice (`"1h1h"`), or after a smaller one (`"30s1m"`).
    UnitOrder {
        /// The unit as written.
        unit: String,
        /// The unit before it, as written.
        after: String,
    },
    /// Larger than a [`Duration`] can hold.
    TooLarge,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => f.write_str("a duration cannot be empty"),
            DurationError::Negative => f.write_str("a duration cannot be negative"),
            DurationError::MissingUnit { number } => {
                write!(f, "`{number}` has no unit")
            }
            DurationError::UnknownUnit { unit } => {
                write!(f, "unknown unit `{unit}` (units: ns, us, ms, s, m, h)")
            }
            DurationError::Malformed => f.write_str("not a duration"),
            DurationError::TooPrecise => f.write_str("more precise than a nanosecond"),
            DurationError::UnitOrder { unit, after } if unit == after => {
                write!(f, "the unit `{unit}` is given twice")
            }
            DurationError::UnitOrder { unit, after } if UNITS.iter().any(|(u, _)| u == unit) => {
                if scale_of(unit) == scale_of(after) {
                    write!(f, "`{unit}` repeats `{after}`")
                } else {
                    write!(f, "`{unit}` comes after the smaller unit `{after}`")
                }
            }
            DurationError::UnitOrder { unit, after } => {
                write!(f, "`{unit}` cannot follow `{after}`")
            }
            DurationError::TooLarge => f.write_str("too large"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a duration: `"250ms"`, `"1.5s"`, `"2m"`, `"1m30s"`, `"0s"`.
///
/// ```
/// use core::time::Duration;
/// use redress_config::parse_duration;
///
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert!(parse_duration("10").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let mut rest = text;
    let mut total: u128 = 0;
    // The previous part's unit and its length: each part's unit is shorter.
    let mut previous: Option<(&str, u128)> = None;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() {
            return Err(DurationError::Malformed);
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(DurationError::MissingUnit {
                number: number.to_owned(),
            });
        }
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, nanos)| *nanos)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_owned(),
            })?;
        if let Some((after, longer)) = previous {
            if scale >= longer {
                return Err(DurationError::UnitOrder {
                    unit: unit.to_owned(),
                    after: after.to_owned(),
                });
            }
        }
        previous = Some((unit, scale));
        let part = scaled(number, scale)?;
        total = total.checked_add(part).ok_or(DurationError::TooLarge)?;
        rest = next;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| DurationError::TooLarge)?;
    // The remainder is below 10^9, so it fits.
    let nanos = u32::try_from(total % NANOS_PER_SEC).map_err(|_| DurationError::TooLarge)?;
    Ok(Duration::new(secs, nanos))
}

/// The length of `unit` in nanoseconds.
fn scale_of(unit: &str) -> Option<u128> {
    UNITS.iter().find(|(u, _)| *u == unit).map(|(_, n)| *n)
}

/// `number` (decimal, `_` allowed between digits) times `scale`
/// nanoseconds, exactly.
fn scaled(number: &str, scale: u128) -> Result<u128, DurationError> {
    let digits: String = number.chars().filter(|c| *c != '_').collect();
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(DurationError::Malformed);
    }
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| DurationError::TooLarge)?
    };
    let whole_nanos = whole_value
        .checked_mul(scale)
        .ok_or(DurationError::TooLarge)?;
    // The fraction must come out a whole number of nanoseconds:
    // `frac × scale / 10^digits` exactly. No unit is longer than 10^13 ns,
    // so a fraction of more than 20 significant digits never is.
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        return Ok(whole_nanos);
    }
    let digits = u32::try_from(frac.len()).map_err(|_| DurationError::TooPrecise)?;
    if digits > 20 {
        return Err(DurationError::TooPrecise);
    }
    let frac_value: u128 = frac.parse().map_err(|_| DurationError::Malformed)?;
    let denominator = 10u128
        .checked_pow(digits)
        .ok_or(DurationError::TooPrecise)?;
    let numerator = frac_value
        .checked_mul(scale)
        .ok_or(DurationError::TooPrecise)?;
    if numerator.checked_rem(denominator) != Some(0) {
        return Err(DurationError::TooPrecise);
    }
    let frac_nanos = numerator
        .checked_div(denominator)
        .ok_or(DurationError::TooPrecise)?;
    let total = whole_nanos
        .checked_add(frac_nanos)
        .ok_or(DurationError::TooLarge)?;
    Ok(total)
}

/// Writes `duration` in the shortest exact form [`parse_duration`] reads
/// back: `"0s"`, `"250ms"`, `"1.5s"`, `"90s"`, `"2m"`, `"1h"`, `"15us"`.
///
/// ```
/// use core::time::Duration;
/// use redress_config::format_duration;
///
/// assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
/// assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(format_duration(Duration::from_secs(120)), "2m");
/// ```
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if nanos == 0 {
        return if secs == 0 {
            "0s".to_owned()
        } else if secs % 3600 == 0 {
            format!("{}h", secs / 3600)
        } else if secs % 60 == 0 {
            format!("{}m", secs / 60)
        } else {
            format!("{secs}s")
        };
    }
    if secs == 0 {
        if nanos % 1_000_000 == 0 {
            return format!("{}ms", nanos / 1_000_000);
        }
        if nanos < 1_000_000 {
            return if nanos % 1_000 == 0 {
                format!("{}us", nanos / 1_000)
            } else {
                format!("{nanos}ns")
            };
        }
        // Below a second with sub-millisecond precision: decimal ms.
        let frac = format!("{:06}", nanos % 1_000_000);
        return format!("{}.{}ms", nanos / 1_000_000, frac.trim_end_matches('0'));
    }
    let frac = format!("{nanos:09}");
    format!("{secs}.{}s", frac.trim_end_matches('0'))
}

/// The largest number of seconds a scenario may give (about 31,700 years):
/// far beyond any test, and small enough that every sum of times stays exact.
pub const MAX_SECONDS: f64 = 1e12;

/// Converts seconds to a duration, rounding to the nearest nanosecond (so
/// `0.3` is exactly 300 ms). `None` for negative, non-finite or larger than
/// [`MAX_SECONDS`] values.
///
/// ```
/// use core::time::Duration;
/// use redress_config::seconds_to_duration;
///
/// assert_eq!(seconds_to_duration(0.3), Some(Duration::from_millis(300)));
/// assert_eq!(seconds_to_duration(-1.0), None);
/// ```
pub fn seconds_to_duration(secs: f64) -> Option<Duration> {
    if !(secs.is_finite() && (0.0..=MAX_SECONDS).contains(&secs)) {
        return None;
    }
    let whole = secs.trunc();
    // Exact: the fractional part of a float is representable.
    let nanos = ((secs - whole) * 1e9).round();
    // Both casts are in range: 0 <= whole <= 1e12 and 0 <= nanos <= 1e9.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (whole, nanos) = (whole as u64, nanos as u64);
    Duration::from_secs(whole).checked_add(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_units_decimals_and_compounds() {
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration(".5s"), Ok(ms(500)));
        assert_eq!(parse_duration("0.3s"), Ok(ms(300)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1_000ms"), Ok(ms(1000)));
        assert_eq!(parse_duration("15us"), Ok(Duration::from_micros(15)));
        assert_eq!(parse_duration("15µs"), Ok(Duration::from_micros(15)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration(" 5s "), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.000000001s"), Ok(Duration::new(1, 1)));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("-1s"), Err(DurationError::Negative));
        assert_eq!(
            parse_duration("10"),
            Err(DurationError::MissingUnit {
                number: "10".into()
            })
        );
        assert_eq!(
            parse_duration("10sec"),
            Err(DurationError::UnknownUnit { unit: "sec".into() })
        );
        assert_eq!(
            parse_duration("10 s"),
            Err(DurationError::UnknownUnit { unit: " s".into() })
        );
        assert_eq!(parse_duration("s"), Err(DurationError::Malformed));
        assert_eq!(parse_duration("1.2.3s"), Err(DurationError::Malformed));
        assert_eq!(parse_duration("0.5ns"), Err(DurationError::TooPrecise));
        assert_eq!(
            parse_duration("1.0000000001s"),
            Err(DurationError::TooPrecise)
        );
        assert_eq!(
            parse_duration("99999999999999999999999h"),
            Err(DurationError::TooLarge)
        );
    }

    #[test]
    fn units_come_once_each_from_the_largest() {
        assert_eq!(
            parse_duration("1h30m15s250ms"),
            Ok(Duration::new(5415, 250_000_000))
        );
        for (text, unit, after, message) in [
            ("1h1h1h", "h", "h", "the unit `h` is given twice"),
            ("1s1s", "s", "s", "the unit `s` is given twice"),
            ("30s1m", "m", "s", "`m` comes after the smaller unit `s`"),
            (
                "500ms1s",
                "s",
                "ms",
                "`s` comes after the smaller unit `ms`",
            ),
            ("1us1µs", "µs", "us", "`µs` repeats `us`"),
        ] {
            let e = parse_duration(text).unwrap_err();
            assert_eq!(
                e,
                DurationError::UnitOrder {
                    unit: unit.into(),
                    after: after.into()
                },
                "{text}"
            );
            assert_eq!(e.to_string(), message);
        }
    }

    #[test]
    fn formats_the_shortest_exact_form() {
        let cases = [
            (Duration::ZERO, "0s"),
            (ms(250), "250ms"),
            (ms(1500), "1.5s"),
            (ms(1250), "1.25s"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_micros(15), "15us"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::new(1, 1), "1.000000001s"),
            (Duration::MAX, "18446744073709551615.999999999s"),
        ];
        for (d, text) in cases {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        // A spread of durations from nanoseconds to years.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x >> 20) % 100_000_000;
            let nanos = u32::try_from(x % 1_000_000_000).unwrap();
            for d in [
                Duration::new(secs, nanos),
                Duration::new(secs, 0),
                Duration::from_millis(x % 100_000),
            ] {
                assert_eq!(parse_duration(&format_duration(d)), Ok(d));
            }
        }
    }

    #[test]
    fn seconds_round_to_the_nearest_nanosecond() {
        assert_eq!(seconds_to_duration(0.3), Some(ms(300)));
        assert_eq!(seconds_to_duration(0.7), Some(ms(700)));
        assert_eq!(
            seconds_to_duration(2.999_999_999_9),
            Some(Duration::from_secs(3))
        );
        assert_eq!(seconds_to_duration(0.0), Some(Duration::ZERO));
        assert_eq!(seconds_to_duration(-0.0), Some(Duration::ZERO));
        assert_eq!(seconds_to_duration(-1.0), None);
        assert_eq!(seconds_to_duration(f64::NAN), None);
        assert_eq!(seconds_to_duration(f64::INFINITY), None);
        assert_eq!(seconds_to_duration(1e300), None);
        assert_eq!(
            seconds_to_duration(MAX_SECONDS),
            Some(Duration::from_secs(1_000_000_000_000))
        );
        let sum: Duration = [0.1, 0.2, 0.7]
            .into_iter()
            .map(|s| seconds_to_duration(s).unwrap())
            .sum();
        assert_eq!(sum, Duration::from_secs(1));
    }
}
