//! Text rendering shared by the commands: diagnostics with the source line
//! they point at, durations for tables, bars.

use core::fmt::Write as _;
use core::time::Duration;

use redress_config::{Diagnostic, Location};

/// A diagnostic the way compilers print them:
///
/// ```text
/// error[E101]: unknown key `max_atempts` in a policy
///  --> retry.toml:3:1 (policies.payments.max_atempts)
///   |
/// 3 | max_atempts = 5
///   | ^^^^^^^^^^^
///   = help: did you mean `max_attempts`?
/// ```
///
/// `file` names the file; `text` is its content, for the source line.
pub fn diagnostic(out: &mut String, d: &Diagnostic, file: &str, text: &str) {
    let _ = writeln!(out, "{}[{}]: {}", d.severity, d.code, d.message);
    let key = if d.path.is_empty() {
        String::new()
    } else {
        format!(" ({})", d.path)
    };
    let Some(at) = d.location else {
        let _ = writeln!(out, " --> {file}{key}");
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        return;
    };
    let gutter = at.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {file}:{}:{}{key}", at.line, at.column);
    if let Some(line) = text.lines().nth(at.line.saturating_sub(1)) {
        let line = line.trim_end();
        let carets = caret_width(line, &at);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{} | {line}", at.line);
        let _ = writeln!(
            out,
            "{pad} | {}{}",
            " ".repeat(at.column.saturating_sub(1)),
            "^".repeat(carets)
        );
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
}

/// How many characters of `line` from the location's column the span
/// covers (at least one, never past the line's end).
fn caret_width(line: &str, at: &Location) -> usize {
    let rest = line
        .chars()
        .count()
        .saturating_sub(at.column.saturating_sub(1));
    let span = at.end.saturating_sub(at.start);
    span.min(rest).max(1)
}

/// A duration rounded for a table: three significant digits, `0s`,
/// `742ms`, `1.25s`, `12.3s`, `2m05s`, `1h02m`.
pub fn approx(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let secs = d.as_secs_f64();
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", sig3(secs * 1e6));
    }
    if nanos < 1_000_000_000 {
        let ms = sig3(secs * 1e3);
        // 999.5ms rounds up to a whole second.
        return if ms == "1000" {
            "1s".to_owned()
        } else {
            format!("{ms}ms")
        };
    }
    if secs < 59.95 {
        return format!("{}s", sig3(secs));
    }
    let whole = d
        .as_secs()
        .saturating_add(u64::from(d.subsec_nanos() >= 500_000_000));
    if whole < 3600 {
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        let minutes = whole.saturating_add(30) / 60;
        format!("{}h{:02}m", minutes / 60, minutes % 60)
    }
}

/// `x` with three significant digits, trailing zeros dropped.
fn sig3(x: f64) -> String {
    let text = if x >= 99.95 {
        format!("{x:.0}")
    } else if x >= 9.995 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A horizontal bar of `value` out of `max`, `width` cells wide, in
/// eighths of a cell.
pub fn bar(value: Duration, max: Duration, width: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if max.is_zero() || value.is_zero() {
        return String::new();
    }
    let fraction = (value.as_secs_f64() / max.as_secs_f64()).clamp(0.0, 1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let eighths = (fraction * 8.0 * width as f64).round().max(1.0) as usize;
    let mut out = "█".repeat(eighths / 8);
    if let Some(c) = EIGHTHS.get(eighths % 8).filter(|c| **c != ' ') {
        out.push(*c);
    }
    out
}

/// `n` with its noun, plural when `n != 1`: `1 error`, `2 warnings`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approximate_durations() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(12), "12ns"),
            (Duration::from_micros(15), "15µs"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_micros(742_400), "742ms"),
            (Duration::from_micros(999_700), "1s"),
            (Duration::from_millis(1250), "1.25s"),
            (Duration::from_millis(1000), "1s"),
            (Duration::from_millis(12_340), "12.3s"),
            (Duration::from_millis(59_990), "1m00s"),
            (Duration::from_secs(125), "2m05s"),
            (Duration::from_secs(3720), "1h02m"),
        ];
        for (d, text) in cases {
            assert_eq!(approx(d), text, "{d:?}");
        }
    }

    #[test]
    fn bars_scale_in_eighths() {
        let s = Duration::from_secs;
        assert_eq!(bar(s(1), s(1), 4), "████");
        assert_eq!(bar(s(1), s(2), 4), "██");
        assert_eq!(bar(Duration::from_millis(1), s(100), 4), "▏");
        assert_eq!(bar(Duration::ZERO, s(1), 4), "");
        assert_eq!(bar(Duration::from_millis(1125), s(2), 2), "█▏");
    }

    #[test]
    fn diagnostics_point_at_the_source() {
        let text = "[policies.p]\nmax_atempts = 5\n";
        let d = Diagnostic::error(
            "E101",
            "policies.p.max_atempts",
            "unknown key `max_atempts` in a policy",
        )
        .with_help("did you mean `max_attempts`?")
        .at(Some(Location::in_text(text, 13, 24)));
        let mut out = String::new();
        diagnostic(&mut out, &d, "retry.toml", text);
        assert_eq!(
            out,
            "error[E101]: unknown key `max_atempts` in a policy\n --> retry.toml:2:1 (policies.p.max_atempts)\n  |\n2 | max_atempts = 5\n  | ^^^^^^^^^^^\n  = help: did you mean `max_attempts`?\n"
        );
    }
}
