//! Traces: what `redress simulate` prints.
//!
//! One JSON object per line: every event the engine emits, then one outcome
//! line per call (the format of `conformance/README.md`). Lines are written
//! exactly as the reference runner writes them with Python's
//! `json.dumps(line, sort_keys=True)`: keys sorted, `", "` and `": "` as
//! separators, floats in Python's `repr` form (`0.5`, `2.0`, `1e-06`), and
//! seconds rounded to 6 decimals. So a trace can be diffed with an expected
//! file as text, not only compared value by value.

use core::time::Duration;
use std::io;

use redress_core::{Cause, CircuitState, ErrorClass, Event, EventKind, StopReason};
use serde::Serialize;

/// A whole trace: the lines of every call, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Trace {
    /// The lines.
    pub lines: Vec<TraceLine>,
}

impl Trace {
    /// The trace as a person reads it: per call, what each attempt did and
    /// how the call ended.
    ///
    /// ```
    /// use redress_doctor::{scenario::Scenario, simulate::simulate};
    ///
    /// let scenario = Scenario::from_json(r#"{
    ///     "policy": {"strategy": {"kind": "constant", "delay_s": 0.5}},
    ///     "calls": [{"attempts": [{"error": "TRANSIENT"}, {"ok": true}]}]
    /// }"#)?;
    /// assert_eq!(
    ///     simulate(&scenario)?.to_text(),
    ///     "call 0\n  attempt 1: TRANSIENT error -> retry in 500ms\n  attempt 2: ok\n  => ok after 2 attempts, 500ms\n"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_text(&self) -> String {
        let mut text = TextLines::default();
        self.lines.iter().fold(String::new(), |mut out, line| {
            out.push_str(&text.next(line));
            out
        })
    }

    /// The trace as JSON lines, each ending with a newline.
    pub fn to_jsonl(&self) -> String {
        self.lines.iter().fold(String::new(), |mut out, line| {
            out.push_str(&line.to_json());
            out.push('\n');
            out
        })
    }
}

/// The text form of a trace ([`Trace::to_text`]), one line at a time, for
/// writing a trace as it is played: each call's lines under a `call N`
/// header, calls a blank line apart.
///
/// ```
/// use redress_doctor::trace::{OutcomeLine, TextLines, TraceLine};
///
/// let mut text = TextLines::default();
/// let mut outcome = OutcomeLine::new(0);
/// outcome.attempts = 1;
/// assert_eq!(text.next(&TraceLine::Outcome(outcome)), "call 0\n  => ok after 1 attempt, 0s\n");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TextLines {
    call: Option<usize>,
}

impl TextLines {
    /// The text of `line`, with the header of its call when it is the
    /// call's first, each line ending with a newline.
    pub fn next(&mut self, line: &TraceLine) -> String {
        let call = match line {
            TraceLine::Event(e) => e.call,
            TraceLine::Outcome(o) => o.call,
        };
        let mut out = String::new();
        if self.call != Some(call) {
            if self.call.is_some() {
                out.push('\n');
            }
            out.push_str(&format!("call {call}\n"));
            self.call = Some(call);
        }
        out.push_str(&line.to_text());
        out.push('\n');
        out
    }
}

/// One line of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceLine {
    /// An event of a call.
    Event(EventLine),
    /// How a call ended.
    Outcome(OutcomeLine),
}

/// An event, as a trace line: the engine's event itself, and the call it
/// belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventLine {
    /// The call's index in the scenario (0-based).
    pub call: usize,
    /// The event (its operation name is not part of a trace).
    pub event: Event<'static>,
}

impl EventLine {
    /// The line of `event` in call `call`.
    pub fn new(call: usize, event: &Event<'_>) -> Self {
        EventLine {
            call,
            event: event.without_operation(),
        }
    }
}

/// The end of a call, as a trace line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutcomeLine {
    /// The call's index in the scenario (0-based).
    pub call: usize,
    /// Whether the call succeeded.
    pub ok: bool,
    /// Why it stopped (`CIRCUIT_OPEN` when a breaker rejected it).
    pub stop_reason: Option<StopReason>,
    /// Attempts the engine started.
    pub attempts: u32,
    /// The class of the last failure (`None` on success).
    pub last_class: Option<ErrorClass>,
    /// The cause of the last failure (`None` on success).
    pub cause: Option<Cause>,
    /// Time from the call's start to its end.
    pub elapsed: Duration,
    /// How many times the operation actually ran.
    pub operation_calls: u32,
}

impl OutcomeLine {
    /// An outcome line for a call that succeeded at once, to fill in.
    pub fn new(call: usize) -> Self {
        OutcomeLine {
            call,
            ok: true,
            stop_reason: None,
            attempts: 0,
            last_class: None,
            cause: None,
            elapsed: Duration::ZERO,
            operation_calls: 0,
        }
    }
}

// The wire shapes. Fields are declared in sorted order: serde writes them in
// declaration order, which is how the lines get `sort_keys=True` order
// whatever features serde_json is built with.

#[derive(Serialize)]
struct EventWire {
    attempt: u32,
    call: usize,
    cause: Option<&'static str>,
    class: Option<&'static str>,
    event: &'static str,
    sleep_s: f64,
    state: Option<&'static str>,
    stop_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct OutcomeWire {
    call: usize,
    outcome: OutcomeFields,
}

#[derive(Serialize)]
struct OutcomeFields {
    attempts: u32,
    cause: Option<&'static str>,
    elapsed_s: f64,
    last_class: Option<&'static str>,
    ok: bool,
    operation_calls: u32,
    stop_reason: Option<&'static str>,
}

fn failure(class: Option<ErrorClass>, cause: Option<Cause>) -> String {
    let class = class.map_or("?", ErrorClass::name);
    match cause {
        Some(Cause::Result) => format!("{class} (flagged result)"),
        _ => format!("{class} error"),
    }
}

impl TraceLine {
    /// The line for a person, indented under its call (without the
    /// newline).
    pub fn to_text(&self) -> String {
        use crate::render::{approx, plural};
        match self {
            TraceLine::Event(line) => {
                let e = &line.event;
                let n = e.attempt;
                let stop = e.stop_reason.map_or("?", StopReason::as_str);
                match e.kind {
                    EventKind::Success => format!("  attempt {n}: ok"),
                    EventKind::Retry => format!(
                        "  attempt {n}: {} -> retry in {}",
                        failure(e.class, e.cause),
                        approx(e.delay)
                    ),
                    EventKind::CircuitOpened => "  circuit breaker opened".to_owned(),
                    EventKind::CircuitHalfOpen => {
                        "  circuit breaker half-open: this call is the probe".to_owned()
                    }
                    EventKind::CircuitClosed => "  circuit breaker closed".to_owned(),
                    EventKind::CircuitRejected => {
                        "  circuit breaker open: the call is rejected".to_owned()
                    }
                    _ if e.class.is_some() => format!(
                        "  attempt {n}: {} -> stop: {stop}",
                        failure(e.class, e.cause)
                    ),
                    _ => format!("  attempt {n}: stop: {stop}"),
                }
            }
            TraceLine::Outcome(o) => {
                let attempts = plural(o.attempts as usize, "attempt");
                let elapsed = approx(o.elapsed);
                if o.ok {
                    format!("  => ok after {attempts}, {elapsed}")
                } else {
                    let stop = o.stop_reason.map_or("?", StopReason::as_str);
                    let last = o
                        .last_class
                        .map(|c| format!(" (last failure: {c})"))
                        .unwrap_or_default();
                    format!("  => failed: {stop} after {attempts}, {elapsed}{last}")
                }
            }
        }
    }

    /// The line as the reference prints it (without the newline).
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_core::{Cause, ErrorClass, Event, EventKind};
    /// use redress_doctor::trace::{EventLine, TraceLine};
    ///
    /// let mut retry = Event::new(EventKind::Retry, 1);
    /// retry.delay = Duration::from_millis(500);
    /// retry.class = Some(ErrorClass::RateLimit);
    /// retry.cause = Some(Cause::Error);
    /// assert_eq!(
    ///     TraceLine::Event(EventLine::new(0, &retry)).to_json(),
    ///     r#"{"attempt": 1, "call": 0, "cause": "exception", "class": "RATE_LIMIT", "event": "retry", "sleep_s": 0.5, "state": null, "stop_reason": null}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        match self {
            TraceLine::Event(EventLine { call, event: e }) => py_json(&EventWire {
                attempt: e.attempt,
                call: *call,
                cause: e.cause.map(Cause::as_str),
                class: e.class.map(ErrorClass::name),
                event: e.kind.as_str(),
                sleep_s: seconds_6(e.delay),
                state: e.state.map(CircuitState::as_str),
                stop_reason: e.stop_reason.map(StopReason::as_str),
            }),
            TraceLine::Outcome(o) => py_json(&OutcomeWire {
                call: o.call,
                outcome: OutcomeFields {
                    attempts: o.attempts,
                    cause: o.cause.map(Cause::as_str),
                    elapsed_s: seconds_6(o.elapsed),
                    last_class: o.last_class.map(ErrorClass::name),
                    ok: o.ok,
                    operation_calls: o.operation_calls,
                    stop_reason: o.stop_reason.map(StopReason::as_str),
                },
            }),
        }
    }
}

/// `d` in seconds rounded to 6 decimals (to the nearest microsecond, ties
/// away from zero), like the reference's `round(x, 6)`.
pub fn seconds_6(d: Duration) -> f64 {
    let micros = d.as_nanos().saturating_add(500) / 1000;
    // Exact below 2^53 µs (285 years); beyond that the nearest float.
    #[allow(clippy::cast_precision_loss)]
    let micros = micros as f64;
    micros / 1e6
}

fn py_json<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    match value.serialize(&mut ser) {
        // serde_json writes UTF-8 only.
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        // Unreachable: the wire types have no map keys that are not strings.
        Err(e) => format!("{{\"error\": {:?}}}", e.to_string()),
    }
}

/// serde_json's compact output with Python's separators and float `repr`.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(python_float_repr(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }
}

/// A float as Python's `repr` (and so `json.dumps`) writes it: the shortest
/// digits that round-trip, positional from 1e-4 up to 1e16 with at least one
/// decimal (`2.0`), scientific outside with a signed two-digit exponent
/// (`1e-06`, `1.5e+16`).
///
/// ```
/// use redress_doctor::trace::python_float_repr;
///
/// assert_eq!(python_float_repr(2.0), "2.0");
/// assert_eq!(python_float_repr(0.1), "0.1");
/// assert_eq!(python_float_repr(1e-6), "1e-06");
/// ```
pub fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{value:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let body = if (-4..16).contains(&exp) {
        positional(&digits, exp)
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let point = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{first}{point}{rest}e{exp_sign}{:02}", exp.unsigned_abs())
    };
    format!("{sign}{body}")
}

/// `0.digits × 10^(exp+1)` written out, with at least one decimal.
fn positional(digits: &str, exp: i32) -> String {
    match usize::try_from(exp) {
        // exp >= 0: `exp + 1` digits before the point.
        Ok(before) => {
            let before = before.saturating_add(1);
            if digits.len() <= before {
                let zeros = "0".repeat(before.saturating_sub(digits.len()));
                format!("{digits}{zeros}.0")
            } else {
                let (int, frac) = digits.split_at(before);
                format!("{int}.{frac}")
            }
        }
        // exp < 0: `-exp - 1` zeros after the point.
        Err(_) => {
            let zeros =
                "0".repeat(usize::try_from(exp.unsigned_abs().saturating_sub(1)).unwrap_or(0));
            format!("0.{zeros}{digits}")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (0.5, "0.5"),
            (2.0, "2.0"),
            (100.0, "100.0"),
            (6.05, "6.05"),
            (2.3, "2.3"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1e-05"),
            (0.000001, "1e-06"),
            (0.0000015, "1.5e-06"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789.123456, "123456789.123456"),
            (1e100, "1e+100"),
            (-0.25, "-0.25"),
            (-1e-7, "-1e-07"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "Infinity"),
            (f64::NAN, "NaN"),
        ];
        for (value, python) in cases {
            assert_eq!(python_float_repr(value), python, "{value:e}");
        }
    }

    #[test]
    fn seconds_round_to_microseconds() {
        assert_eq!(seconds_6(Duration::from_millis(100)), 0.1);
        assert_eq!(seconds_6(Duration::from_nanos(1_234_567_499)), 1.234567);
        assert_eq!(seconds_6(Duration::from_nanos(1_234_567_500)), 1.234568);
        assert_eq!(seconds_6(Duration::ZERO), 0.0);
        assert!(seconds_6(Duration::MAX).is_finite());
    }

    #[test]
    fn lines_have_sorted_keys_and_python_separators() {
        let mut stop = Event::new(EventKind::MaxAttemptsExceeded, 2);
        stop.class = Some(ErrorClass::ServerError);
        stop.cause = Some(Cause::Result);
        stop.stop_reason = Some(StopReason::MaxAttemptsGlobal);
        assert_eq!(
            TraceLine::Event(EventLine::new(3, &stop)).to_json(),
            r#"{"attempt": 2, "call": 3, "cause": "result", "class": "SERVER_ERROR", "event": "max_attempts_exceeded", "sleep_s": 0.0, "state": null, "stop_reason": "MAX_ATTEMPTS_GLOBAL"}"#
        );
        let mut outcome = OutcomeLine::new(1);
        outcome.attempts = 3;
        outcome.elapsed = Duration::from_millis(2500);
        outcome.operation_calls = 3;
        let trace = Trace {
            lines: vec![TraceLine::Outcome(outcome)],
        };
        assert_eq!(
            trace.to_jsonl(),
            "{\"call\": 1, \"outcome\": {\"attempts\": 3, \"cause\": null, \"elapsed_s\": 2.5, \"last_class\": null, \"ok\": true, \"operation_calls\": 3, \"stop_reason\": null}}\n"
        );
        // The keys come out in sorted order (what `sort_keys=True` does).
        let mut event = Event::new(EventKind::CircuitOpened, 0);
        event.state = Some(CircuitState::Open);
        let lines = [
            TraceLine::Event(EventLine::new(0, &event)).to_json(),
            trace.to_jsonl(),
        ];
        let key_sets: [&[&str]; 2] = [
            &[
                "attempt",
                "call",
                "cause",
                "class",
                "event",
                "sleep_s",
                "state",
                "stop_reason",
            ],
            &[
                "attempts",
                "cause",
                "elapsed_s",
                "last_class",
                "ok",
                "operation_calls",
                "stop_reason",
            ],
        ];
        for (line, keys) in lines.iter().zip(key_sets) {
            assert!(keys.windows(2).all(|w| w[0] < w[1]));
            let positions: Vec<usize> = keys
                .iter()
                .map(|k| line.find(&format!("\"{k}\": ")).unwrap())
                .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{line}");
        }
    }
}
