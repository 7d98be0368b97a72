//! Text rendering shared by the commands: diagnostics with the source line
//! they point at, colour, durations for tables, bars.
//!
//! Everything that comes from a file or the command line (names, keys,
//! source lines) is written through [`escape`]: a policy named with a
//! terminal escape sequence prints the sequence, it does not run it.

use core::fmt::Write as _;
use core::time::Duration;
use std::borrow::Cow;
use std::ffi::OsStr;

use redress_config::{Diagnostic, LineIndex, Location, Severity};

/// `text` with its control characters (and the invisible characters that
/// reorder text, U+202A to U+202E and U+2066 to U+2069) written as escapes
/// (`\u{1b}`, `\n`), so that nothing read from a file can move the
/// cursor, change colours or hide text on a terminal. Tabs stay.
///
/// ```
/// use redress_doctor::render::escape;
///
/// assert_eq!(escape("payments"), "payments");
/// assert_eq!(escape("pay\u{1b}[2Jments\n"), "pay\\u{1b}[2Jments\\n");
/// ```
pub fn escape(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().saturating_add(8));
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_debug());
            if !c.escape_debug().any(|e| e == '\\') {
                // escape_debug leaves some format characters as they are.
                out.pop();
                out.extend(c.escape_unicode());
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// When to colour the output: `--color auto|always|never`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (to anything but the empty
    /// string) or `TERM` is `dumb`.
    #[default]
    Auto,
    /// Always, `NO_COLOR` or not (an explicit flag wins, as the `NO_COLOR`
    /// convention asks).
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour, for output that goes to a terminal or not, with
    /// the values of `NO_COLOR` and `TERM`.
    ///
    /// ```
    /// use redress_doctor::render::ColorChoice;
    ///
    /// assert!(ColorChoice::Auto.enabled(true, None, None));
    /// assert!(!ColorChoice::Auto.enabled(false, None, None));
    /// assert!(!ColorChoice::Auto.enabled(true, Some("1".as_ref()), None));
    /// assert!(ColorChoice::Always.enabled(false, Some("1".as_ref()), None));
    /// ```
    pub fn enabled(self, terminal: bool, no_color: Option<&OsStr>, term: Option<&OsStr>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                terminal && no_color.is_none_or(OsStr::is_empty) && term.is_none_or(|t| t != "dumb")
            }
        }
    }

    /// [`enabled`](ColorChoice::enabled) with this process's environment.
    pub fn enabled_here(self, terminal: bool) -> bool {
        self.enabled(
            terminal,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        )
    }
}

/// How text is styled: plain, or with ANSI colours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// No colour at all.
    pub const PLAIN: Style = Style { color: false };
    /// ANSI colours.
    pub const COLOR: Style = Style { color: true };

    /// Colours when `color`.
    pub fn new(color: bool) -> Self {
        Style { color }
    }

    /// Whether it colours.
    pub fn is_color(self) -> bool {
        self.color
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// An error's mark (bold red).
    pub fn error(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// A warning's mark (bold yellow).
    pub fn warning(self, text: &str) -> String {
        self.paint("1;33", text)
    }

    /// The mark of a finding of `severity`.
    pub fn severity(self, severity: Severity, text: &str) -> String {
        match severity {
            Severity::Error => self.error(text),
            _ => self.warning(text),
        }
    }

    /// Gutters and pointers (bold blue).
    pub fn accent(self, text: &str) -> String {
        self.paint("1;34", text)
    }

    /// A help line's mark (bold cyan).
    pub fn help(self, text: &str) -> String {
        self.paint("1;36", text)
    }

    /// A passing verdict (bold green).
    pub fn ok(self, text: &str) -> String {
        self.paint("1;32", text)
    }

    /// Emphasis (bold).
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// A file's text, its name and its line index: what a diagnostic needs to
/// show the line it points at.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The file, as the user named it.
    pub name: &'a str,
    /// Its text.
    pub text: &'a str,
    /// Its line index (built once, for every diagnostic of the file).
    pub lines: &'a LineIndex,
}

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
/// The source line is found through the file's [`LineIndex`], so printing
/// every finding of a large file stays linear.
pub fn diagnostic(out: &mut String, d: &Diagnostic, source: &Source<'_>, style: Style) {
    let mark = style.severity(d.severity, &format!("{}[{}]", d.severity, d.code));
    let _ = writeln!(out, "{mark}: {}", style.bold(&escape(&d.message)));
    let key = if d.path.is_empty() {
        String::new()
    } else {
        format!(" ({})", escape(&d.path))
    };
    let file = escape(source.name);
    let Some(at) = d.location else {
        let _ = writeln!(out, " {} {file}{key}", style.accent("-->"));
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  = {}: {}", style.help("help"), escape(help));
        }
        return;
    };
    let gutter = at.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}{} {file}:{}:{}{key}",
        style.accent("-->"),
        at.line,
        at.column
    );
    let line = source
        .lines
        .line(at.line)
        .and_then(|span| source.text.get(span));
    if let Some(line) = line {
        let line = line.trim_end();
        let carets = caret_width(line, &at);
        let bar = style.accent("|");
        let _ = writeln!(out, "{pad} {bar}");
        let _ = writeln!(
            out,
            "{} {bar} {}",
            style.accent(&at.line.to_string()),
            escape(line)
        );
        let _ = writeln!(
            out,
            "{pad} {bar} {}{}",
            " ".repeat(at.column.saturating_sub(1)),
            style.severity(d.severity, &"^".repeat(carets))
        );
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} = {}: {}", style.help("help"), escape(help));
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
        let lines = LineIndex::new(text);
        let source = Source {
            name: "retry.toml",
            text,
            lines: &lines,
        };
        let d = Diagnostic::error(
            "E101",
            "policies.p.max_atempts",
            "unknown key `max_atempts` in a policy",
        )
        .with_help("did you mean `max_attempts`?")
        .at(Some(lines.location(13, 24)));
        let mut out = String::new();
        diagnostic(&mut out, &d, &source, Style::PLAIN);
        assert_eq!(
            out,
            "error[E101]: unknown key `max_atempts` in a policy\n --> retry.toml:2:1 (policies.p.max_atempts)\n  |\n2 | max_atempts = 5\n  | ^^^^^^^^^^^\n  = help: did you mean `max_attempts`?\n"
        );
        let mut colored = String::new();
        diagnostic(&mut colored, &d, &source, Style::COLOR);
        assert!(
            colored.starts_with("\x1b[1;31merror[E101]\x1b[0m: \x1b[1munknown key"),
            "{colored}"
        );
        assert!(
            colored.contains("\x1b[1;31m^^^^^^^^^^^\x1b[0m"),
            "{colored}"
        );
    }

    #[test]
    fn nothing_from_a_file_reaches_the_terminal_raw() {
        let cases = [
            ("plain é 日本", "plain é 日本"),
            ("\u{1b}]0;owned\u{7}", "\\u{1b}]0;owned\\u{7}"),
            ("a\rb\nc\td", "a\\rb\\nc\td"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("\u{9b}31m", "\\u{9b}31m"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape(raw), shown, "{raw:?}");
        }
        let text = "max_atempts\u{1b}[8m = 5\n";
        let lines = LineIndex::new(text);
        let d = Diagnostic::error(
            "E101",
            "max_atempts\u{1b}[8m",
            "unknown key `max_atempts\u{1b}[8m`",
        )
        .at(Some(lines.location(0, 1)));
        let mut out = String::new();
        let source = Source {
            name: "x\u{1b}.toml",
            text,
            lines: &lines,
        };
        diagnostic(&mut out, &d, &source, Style::PLAIN);
        assert!(!out.contains('\u{1b}'), "{out}");
    }

    #[test]
    fn colour_follows_the_flag_the_terminal_and_no_color() {
        let no_color = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        let dumb = Some(OsStr::new("dumb"));
        for terminal in [true, false] {
            for env in [None, no_color, empty] {
                assert!(ColorChoice::Always.enabled(terminal, env, None));
                assert!(!ColorChoice::Never.enabled(terminal, env, None));
            }
        }
        assert!(ColorChoice::Auto.enabled(true, None, None));
        assert!(ColorChoice::Auto.enabled(true, empty, None));
        assert!(!ColorChoice::Auto.enabled(true, no_color, None));
        assert!(!ColorChoice::Auto.enabled(false, None, None));
        assert!(!ColorChoice::Auto.enabled(true, None, dumb));
        assert_eq!(Style::PLAIN.error("x"), "x");
        assert_eq!(Style::COLOR.ok("OK:"), "\x1b[1;32mOK:\x1b[0m");
    }
}
