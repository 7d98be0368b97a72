//! Reading a file's text, and finding where things are in it.
//!
//! Files are read with a size cap ([`MAX_FILE_BYTES`]): a config, a script
//! or a scenario is a few kilobytes, and a path that names a device or a
//! runaway generated file must not exhaust memory. Locations are found
//! through a [`LineIndex`] built once per text, so reporting `k` findings
//! in a file of `n` bytes costs `O(n + k log n)`, however many policies
//! and findings there are.

use core::ops::Range;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use crate::diagnostic::Location;
use crate::load::{Format, LoadError};
use crate::tree::{Node, Value};

/// The largest file `redress-config` and `redress doctor` read: 16 MiB.
///
/// A file above it (or one that never ends, like `/dev/zero`) is refused
/// with [`LoadError::TooLarge`] before it is parsed; a config that large
/// is not written by hand, and splitting it is the fix.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads `path` as UTF-8 text, refusing more than [`MAX_FILE_BYTES`].
///
/// ```
/// use redress_config::{LoadError, read_file};
///
/// # #[cfg(unix)] {
/// let err = read_file("/dev/zero").unwrap_err();
/// assert!(matches!(err, LoadError::TooLarge { .. }));
/// assert_eq!(err.to_string(), "/dev/zero: the file is larger than 16 MiB, the most redress reads");
/// # }
/// ```
pub fn read_file(path: impl AsRef<Path>) -> Result<String, LoadError> {
    read_capped(path.as_ref(), MAX_FILE_BYTES)
}

pub(crate) fn read_capped(path: &Path, limit: u64) -> Result<String, LoadError> {
    let read_error = |error| LoadError::Read {
        file: path.to_owned(),
        error,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > limit) {
        return Err(LoadError::TooLarge {
            file: path.to_owned(),
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (an invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

#[cfg(test)]
thread_local! {
    /// How many line indexes this thread built, and how many bytes they
    /// scanned: the tests hold the loader and the doctor to one scan per
    /// file.
    pub(crate) static SCANS: core::cell::Cell<(usize, usize)> = const { core::cell::Cell::new((0, 0)) };
}

/// Where each line of a text starts, and where its characters wider than
/// a byte are: built in one pass, it turns a byte offset into a line and
/// a column (in characters) with two binary searches.
///
/// A UTF-8 byte-order mark at the start counts as no character, so the
/// first key of a file that has one is still at column 1.
///
/// ```
/// use redress_config::LineIndex;
///
/// let text = "a = 1\nµb = 2\n";
/// let lines = LineIndex::new(text);
/// let at = lines.location(8, 9); // `b`
/// assert_eq!((at.line, at.column), (2, 2));
/// assert_eq!(lines.line(2).map(|span| &text[span]), Some("µb = 2"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineIndex {
    /// The byte offset each line starts at; the first is 0.
    starts: Vec<usize>,
    /// Every character wider than one byte, by offset, with the bytes it
    /// and every such character before it take beyond one per character.
    wide: Vec<(usize, usize)>,
    len: usize,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut wide = Vec::new();
        let mut extra: usize = 0;
        let bom = text.starts_with('\u{feff}');
        for (i, b) in bytes.iter().enumerate() {
            let width: usize = match *b {
                b'\n' => {
                    starts.push(i.saturating_add(1));
                    continue;
                }
                0..=0xBF => continue,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            // A leading byte-order mark is no character at all.
            let more = if bom && i == 0 {
                width
            } else {
                width.saturating_sub(1)
            };
            extra = extra.saturating_add(more);
            wide.push((i, extra));
        }
        #[cfg(test)]
        SCANS.with(|s| {
            let (count, scanned) = s.get();
            s.set((count.saturating_add(1), scanned.saturating_add(bytes.len())));
        });
        LineIndex {
            starts,
            wide,
            len: bytes.len(),
        }
    }

    /// Bytes that wide characters before `offset` take beyond one each.
    fn extra_before(&self, offset: usize) -> usize {
        let count = self.wide.partition_point(|(at, _)| *at < offset);
        count
            .checked_sub(1)
            .and_then(|last| self.wide.get(last))
            .map_or(0, |(_, extra)| *extra)
    }

    /// The location of the bytes `start..end`.
    pub fn location(&self, start: usize, end: usize) -> Location {
        let start = start.min(self.len);
        let line = self.starts.partition_point(|s| *s <= start).max(1);
        let line_start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let bytes = start.saturating_sub(line_start);
        let wide = self
            .extra_before(start)
            .saturating_sub(self.extra_before(line_start));
        Location {
            line,
            column: bytes.saturating_sub(wide).saturating_add(1),
            start,
            end: end.max(start),
        }
    }

    /// The bytes of 1-based line `line`, without its line break.
    pub fn line(&self, line: usize) -> Option<Range<usize>> {
        let index = line.checked_sub(1)?;
        let start = *self.starts.get(index)?;
        let end = self
            .starts
            .get(index.saturating_add(1))
            .map_or(self.len, |next| next.saturating_sub(1));
        Some(start..end.max(start))
    }

    /// How many lines the text has (a text ending with a line break has
    /// an empty last line).
    pub fn lines(&self) -> usize {
        self.starts.len()
    }
}

/// Where a key and its value are in the text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Spans {
    pub(crate) key: Option<Range<usize>>,
    pub(crate) value: Option<Range<usize>>,
}

/// A TOML or JSON text read into a [`serde_json::Value`], with where each
/// of its keys and values is: for tools that read their own formats by the
/// loader's rules (the size cap, duplicate keys refused, a byte-order mark
/// allowed) and want to point at the line of a problem. `redress simulate`
/// reads its failure scripts with it.
///
/// Paths are keys joined by dots, with `[i]` for the items of a list:
/// `calls[1].attempts[0]`.
///
/// ```
/// use redress_config::{Format, SourceValue};
///
/// let text = "[[calls]]\nat = \"1s\"\nattempts = [\"ok\"]\n";
/// let source = SourceValue::parse(text, Format::Toml)?;
/// assert_eq!(source.value()["calls"][0]["at"], "1s");
/// let at = source.locate("calls[0].attempts[0]").unwrap();
/// assert_eq!((at.line, at.column), (3, 13));
///
/// let dup = SourceValue::parse("{\"a\": 1,\n \"a\": 2}", Format::Json).unwrap_err();
/// assert_eq!(dup.to_string(), "2:2: not valid JSON: duplicate key `a`");
/// # Ok::<(), redress_config::LoadError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SourceValue {
    value: serde_json::Value,
    spans: BTreeMap<String, Spans>,
    lines: LineIndex,
}

impl SourceValue {
    /// Parses `text`; a syntax error is [`LoadError::Syntax`], located.
    pub fn parse(text: &str, format: Format) -> Result<SourceValue, LoadError> {
        let lines = LineIndex::new(text);
        let root = match format {
            Format::Toml => {
                let table = toml::de::DeTable::parse(text).map_err(|e| LoadError::Syntax {
                    file: None,
                    format,
                    message: e.message().to_owned(),
                    location: e.span().map(|s| lines.location(s.start, s.end)),
                })?;
                let span = table.span();
                Node::from_toml(table.get_ref(), span)
            }
            Format::Json => crate::tree::parse_json(text, &lines)?,
        };
        let mut spans = BTreeMap::new();
        let value = to_json(&root, "", &mut spans);
        Ok(SourceValue {
            value,
            spans,
            lines,
        })
    }

    /// Reads and parses `path` (JSON for `.json`, TOML otherwise), with the
    /// size cap of [`read_file`].
    pub fn load(path: impl AsRef<Path>) -> Result<SourceValue, LoadError> {
        let path = path.as_ref();
        let text = read_file(path)?;
        SourceValue::parse(&text, Format::of_path(path)).map_err(|e| e.with_file(path))
    }

    /// The value.
    pub fn value(&self) -> &serde_json::Value {
        &self.value
    }

    /// Where the value at `path` is (its key for a key that has no value
    /// span), or the nearest enclosing one that is written in the text.
    pub fn locate(&self, path: &str) -> Option<Location> {
        let mut current = path;
        loop {
            if let Some(spans) = self.spans.get(current) {
                let written = [spans.value.as_ref(), spans.key.as_ref()]
                    .into_iter()
                    .flatten()
                    .find(|span| span.end > span.start);
                if let Some(span) = written {
                    return Some(self.lines.location(span.start, span.end));
                }
            }
            if current.is_empty() {
                return None;
            }
            current = match current.rfind(['.', '[']) {
                Some(at) => current.get(..at).unwrap_or(""),
                None => "",
            };
        }
    }

    /// Where the key (not the value) at `path` is, when written.
    pub fn locate_key(&self, path: &str) -> Option<Location> {
        let span = self.spans.get(path)?.key.as_ref()?;
        Some(self.lines.location(span.start, span.end))
    }
}

/// The tree as JSON, recording every path's spans.
fn to_json(node: &Node, path: &str, spans: &mut BTreeMap<String, Spans>) -> serde_json::Value {
    use serde_json::Value as J;
    spans.insert(
        path.to_owned(),
        Spans {
            key: node.key_span.clone(),
            value: node.span.clone(),
        },
    );
    match &node.value {
        Value::Table(entries) => J::Object(
            entries
                .iter()
                .map(|(key, child)| {
                    let child_path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    (key.clone(), to_json(child, &child_path, spans))
                })
                .collect(),
        ),
        Value::Array(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{path}[{i}]"), spans))
                .collect(),
        ),
        Value::String(s) | Value::Datetime(s) => J::String(s.clone()),
        Value::Integer(n) => match (i64::try_from(*n), u64::try_from(*n)) {
            (Ok(i), _) => J::from(i),
            (_, Ok(u)) => J::from(u),
            #[allow(clippy::cast_precision_loss)]
            _ => serde_json::Number::from_f64(*n as f64).map_or(J::Null, J::Number),
        },
        Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Value::Bool(b) => J::Bool(*b),
        Value::Null => J::Null,
    }
}

/// A help line written for a TOML file, for a JSON one: each code span
/// (between backticks) that is TOML, a `key = value`, a bare value or a
/// `[table.header]`, is written as JSON, `"key": value`, keys in the order
/// written. Anything else is left as it is.
pub(crate) fn json_help(help: &str) -> String {
    let mut out = String::with_capacity(help.len());
    let mut rest = help;
    while let Some(open) = rest.find('`') {
        out.push_str(rest.get(..open).unwrap_or_default());
        let after = rest.get(open.saturating_add(1)..).unwrap_or_default();
        let Some(close) = after.find('`') else {
            out.push('`');
            out.push_str(after);
            return out;
        };
        let code = after.get(..close).unwrap_or_default();
        out.push('`');
        out.push_str(&toml_as_json(code).unwrap_or_else(|| code.to_owned()));
        out.push('`');
        rest = after.get(close.saturating_add(1)..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// A TOML snippet as JSON, when it is one.
fn toml_as_json(code: &str) -> Option<String> {
    use toml::de::DeTable;
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if let Some(header) = code.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
        let keys: Vec<&str> = header.split('.').collect();
        if keys.iter().all(|k| bare(k)) {
            let mut json = "{...}".to_owned();
            for key in keys.iter().rev() {
                json = format!("{{\"{key}\": {json}}}");
            }
            // The outer braces are the file's own.
            return json
                .strip_prefix('{')
                .and_then(|j| j.strip_suffix('}'))
                .map(str::to_owned);
        }
    }
    if code.contains('=') && !code.trim_start().starts_with('{') {
        if let Ok(table) = DeTable::parse(code) {
            let entries = in_written_order(table.get_ref());
            if let [(key, value)] = entries.as_slice() {
                return Some(format!("{}: {}", json_string(key), json_value(value)));
            }
        }
    }
    let doc = format!("v = {code}");
    let table = DeTable::parse(&doc).ok()?;
    let value = table.get_ref().get("v")?;
    Some(json_value(value.get_ref()))
}

type TomlEntry<'a, 't> = (&'a str, &'a toml::de::DeValue<'t>);

fn in_written_order<'a, 't>(table: &'a toml::de::DeTable<'t>) -> Vec<TomlEntry<'a, 't>> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
        .into_iter()
        .map(|(key, value)| (key.get_ref().as_ref(), value.get_ref()))
        .collect()
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn json_value(value: &toml::de::DeValue<'_>) -> String {
    use toml::de::DeValue;
    match value {
        DeValue::String(s) => json_string(s),
        DeValue::Integer(i) => i.as_str().replace('_', ""),
        DeValue::Float(x) => match x.as_str().parse::<f64>() {
            Ok(x) if x.is_finite() => format!("{x:?}"),
            _ => "null".to_owned(),
        },
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => json_string(&d.to_string()),
        DeValue::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| json_value(i.get_ref())).collect();
            format!("[{}]", items.join(", "))
        }
        DeValue::Table(table) => {
            let entries: Vec<String> = in_written_order(table)
                .into_iter()
                .map(|(k, v)| format!("{}: {}", json_string(k), json_value(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]

    use super::*;

    /// The location as counted from the start, one character at a time
    /// (a leading byte-order mark is no character).
    fn naive(text: &str, start: usize) -> (usize, usize) {
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let mut column = before[line_start..].chars().count();
        if line_start == 0 && start > 0 && text.starts_with('\u{feff}') {
            column -= 1;
        }
        (line, column + 1)
    }

    #[test]
    fn every_offset_agrees_with_counting_from_the_start() {
        for text in [
            "",
            "a = 1\n",
            "a = 1\nµb = \"é\"\n\n[x]\r\nk = \"日本語\" # 🦀 ok\nlast",
            "\u{feff}deadline = \"1s\"\nµ = 2\n",
            "🦀🦀\n\n🦀x",
        ] {
            let lines = LineIndex::new(text);
            for (start, _) in text.char_indices().chain([(text.len(), ' ')]) {
                let at = lines.location(start, start + 1);
                assert_eq!(
                    (at.line, at.column),
                    naive(text, start),
                    "{text:?} at {start}"
                );
            }
        }
    }

    #[test]
    fn lines_are_found_without_their_break() {
        let text = "one\r\ntwo\n\nfour";
        let lines = LineIndex::new(text);
        let line = |n| lines.line(n).map(|r| &text[r]);
        assert_eq!(line(1), Some("one\r"));
        assert_eq!(line(2), Some("two"));
        assert_eq!(line(3), Some(""));
        assert_eq!(line(4), Some("four"));
        assert_eq!(line(5), None);
        assert_eq!(line(0), None);
        assert_eq!(lines.lines(), 4);
        // Offsets past the end are clamped, never a panic.
        assert_eq!(lines.location(99, 100).line, 4);
    }

    #[test]
    fn help_for_json_files_is_written_in_json() {
        let cases = [
            (
                "add `strategy = { kind = \"decorrelated_jitter\", max = \"5s\" }`, or per-class `strategies`",
                "add `\"strategy\": {\"kind\": \"decorrelated_jitter\", \"max\": \"5s\"}`, or per-class `strategies`",
            ),
            (
                "set `strategies.RATE_LIMIT = { kind = \"retry_after_or\", fallback = { kind = \"constant\", delay = \"1s\" } }`",
                "set `\"strategies\": {\"RATE_LIMIT\": {\"kind\": \"retry_after_or\", \"fallback\": {\"kind\": \"constant\", \"delay\": \"1s\"}}}`",
            ),
            (
                "write it without quotes: `max_attempts = 5`",
                "write it without quotes: `\"max_attempts\": 5`",
            ),
            (
                "write a list: `trip_on = [\"TRANSIENT\"]`; e.g. `ratio = 0.2`",
                "write a list: `\"trip_on\": [\"TRANSIENT\"]`; e.g. `\"ratio\": 0.2`",
            ),
            (
                "add one: `[policies.NAME]` with its settings",
                "add one: `\"policies\": {\"NAME\": {...}}` with its settings",
            ),
            (
                "or just the kind: `\"full_jitter\"`; did you mean `max_attempts`? `{ kind = ... }`",
                "or just the kind: `\"full_jitter\"`; did you mean `max_attempts`? `{ kind = ... }`",
            ),
            ("an unclosed `code", "an unclosed `code"),
        ];
        for (toml, json) in cases {
            assert_eq!(json_help(toml), json, "{toml}");
        }
    }

    #[test]
    fn oversized_and_endless_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("redress-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.toml");
        std::fs::write(&path, "# 12345678\n").unwrap();
        assert_eq!(read_capped(&path, 11).unwrap(), "# 12345678\n");
        let e = read_capped(&path, 10).unwrap_err();
        assert!(matches!(e, LoadError::TooLarge { limit: 10, .. }), "{e}");
        std::fs::write(&path, [b'a', 0xFF, b'\n']).unwrap();
        let e = read_file(&path).unwrap_err();
        assert!(e.to_string().contains("not UTF-8 text"), "{e}");
        #[cfg(unix)]
        assert!(matches!(
            read_file("/dev/zero"),
            Err(LoadError::TooLarge { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
