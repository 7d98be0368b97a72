//! A format-neutral document tree with source spans, which the loader
//! walks. TOML gives spans for every key and value; JSON and other serde
//! formats give none.

use core::fmt;
use core::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::diagnostic::Location;
use crate::load::{Format, LoadError};
use crate::source::LineIndex;

/// A value and where it (and its key) is in the source.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) span: Option<Range<usize>>,
    pub(crate) key_span: Option<Range<usize>>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Table(Vec<(String, Node)>),
    Array(Vec<Node>),
    String(String),
    Integer(i128),
    Float(f64),
    Bool(bool),
    /// A TOML date or time, as written.
    Datetime(String),
    /// JSON `null`.
    Null,
}

impl Value {
    /// "a string", "a table", ...
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Table(_) => "a table".to_owned(),
            Value::Array(_) => "a list".to_owned(),
            Value::String(s) => format!("the string {s:?}"),
            Value::Integer(n) => format!("the number {n}"),
            Value::Float(x) => format!("the number {x:?}"),
            Value::Bool(b) => format!("`{b}`"),
            Value::Datetime(d) => format!("the date {d}"),
            Value::Null => "null".to_owned(),
        }
    }
}

impl Node {
    fn plain(value: Value) -> Node {
        Node {
            value,
            span: None,
            key_span: None,
        }
    }

    /// Without the values a recovering parser made up to go on past a
    /// syntax error: they have no text.
    pub(crate) fn drop_unwritten(&mut self) {
        let written = |n: &Node| n.span.as_ref().is_none_or(|s| s.end > s.start);
        match &mut self.value {
            Value::Table(entries) => {
                entries.retain(|(_, n)| written(n));
                entries.iter_mut().for_each(|(_, n)| n.drop_unwritten());
            }
            Value::Array(items) => {
                items.retain(written);
                items.iter_mut().for_each(Node::drop_unwritten);
            }
            _ => {}
        }
    }

    /// A TOML document.
    pub(crate) fn from_toml(table: &DeTable<'_>, span: Range<usize>) -> Node {
        Node {
            value: Value::Table(toml_entries(table)),
            span: Some(span),
            key_span: None,
        }
    }

    /// A JSON document.
    pub(crate) fn from_json(value: &serde_json::Value) -> Node {
        Node::plain(match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::Integer(i128::from(i)),
                (None, Some(u)) => Value::Integer(i128::from(u)),
                _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Node::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Table(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        })
    }
}

/// A JSON document with the span of every key and value, read like TOML:
/// a duplicate key is refused (the first duplicate, located), and a UTF-8
/// byte-order mark at the start is skipped.
///
/// serde_json checks the syntax and reads the values (keeping every key of
/// an object, duplicates included, in order); a second pass over the text,
/// now known to be valid JSON, finds where each of them is.
pub(crate) fn parse_json(text: &str, lines: &LineIndex) -> Result<Node, LoadError> {
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let body = text.get(bom..).unwrap_or_default();
    let syntax = |message: String, location| LoadError::Syntax {
        file: None,
        format: Format::Json,
        message,
        location,
    };
    let mut root: Node = serde_json::from_str(body)
        .map_err(|e| syntax(json_message(&e), json_location(body, bom, lines, &e)))?;
    let mut spanner = Spanner {
        bytes: body.as_bytes(),
        pos: 0,
        base: bom,
    };
    spanner
        .value(&mut root)
        .map_err(|(message, span)| syntax(message, span.map(|s| lines.location(s.start, s.end))))?;
    Ok(root)
}

/// serde_json's message without the " at line L column C" it appends (the
/// location is reported on its own).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// Where serde_json's error is: its column is in bytes, 1-based (0 at the
/// very start of a line).
fn json_location(
    body: &str,
    base: usize,
    lines: &LineIndex,
    e: &serde_json::Error,
) -> Option<Location> {
    if e.line() == 0 {
        return None;
    }
    let line_start = body
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    let line_len = body
        .get(line_start..)
        .and_then(|rest| rest.split('\n').next())
        .map_or(0, str::len);
    let mut offset = line_start.saturating_add(e.column().saturating_sub(1).min(line_len));
    while offset > 0 && !body.is_char_boundary(offset) {
        offset = offset.saturating_sub(1);
    }
    let start = offset.saturating_add(base);
    Some(lines.location(start, start.saturating_add(1)))
}

/// A walk over valid JSON text that gives each node of its tree the spans
/// of its key and value.
struct Spanner<'t> {
    bytes: &'t [u8],
    pos: usize,
    /// Where the text walked starts in the file (after a byte-order mark).
    base: usize,
}

type SpanError = (String, Option<Range<usize>>);

impl Spanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos = self.pos.saturating_add(1);
        }
    }

    fn span(&self, start: usize) -> Range<usize> {
        start.saturating_add(self.base)..self.pos.saturating_add(self.base)
    }

    fn expect(&mut self, byte: u8) -> Result<(), SpanError> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.pos = self.pos.saturating_add(1);
            Ok(())
        } else {
            let at = self.span(self.pos);
            Err((format!("expected `{}`", char::from(byte)), Some(at)))
        }
    }

    /// Past a string starting at the current `"`.
    fn string(&mut self) -> Result<(), SpanError> {
        self.expect(b'"')?;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos = self.pos.saturating_add(1);
                    return Ok(());
                }
                Some(b'\\') => self.pos = self.pos.saturating_add(2),
                Some(_) => self.pos = self.pos.saturating_add(1),
                None => return Err(("unterminated string".to_owned(), None)),
            }
        }
    }

    fn value(&mut self, node: &mut Node) -> Result<(), SpanError> {
        self.skip_whitespace();
        let start = self.pos;
        match (&mut node.value, self.peek()) {
            (Value::Table(entries), Some(b'{')) => {
                self.pos = self.pos.saturating_add(1);
                let mut seen = std::collections::BTreeSet::new();
                for (i, (key, child)) in entries.iter_mut().enumerate() {
                    if i > 0 {
                        self.expect(b',')?;
                    }
                    self.skip_whitespace();
                    let key_start = self.pos;
                    self.string()?;
                    let key_span = self.span(key_start);
                    if !seen.insert(key.as_str()) {
                        return Err((format!("duplicate key `{key}`"), Some(key_span)));
                    }
                    child.key_span = Some(key_span);
                    self.expect(b':')?;
                    self.value(child)?;
                }
                self.expect(b'}')?;
            }
            (Value::Array(items), Some(b'[')) => {
                self.pos = self.pos.saturating_add(1);
                for (i, item) in items.iter_mut().enumerate() {
                    if i > 0 {
                        self.expect(b',')?;
                    }
                    self.value(item)?;
                }
                self.expect(b']')?;
            }
            (Value::String(_), Some(b'"')) => self.string()?,
            (Value::Table(_) | Value::Array(_) | Value::String(_), _) | (_, None) => {
                return Err((
                    "the text does not match its own values".to_owned(),
                    Some(self.span(start)),
                ));
            }
            // A number, `true`, `false` or `null`.
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.pos = self.pos.saturating_add(1);
                }
            }
        }
        node.span = Some(self.span(start));
        Ok(())
    }
}

fn toml_entries(table: &DeTable<'_>) -> Vec<(String, Node)> {
    table
        .iter()
        .map(|(key, value)| {
            let mut node = toml_node(value.get_ref(), value.span());
            node.key_span = Some(key.span());
            (key.get_ref().to_string(), node)
        })
        .collect()
}

fn toml_node(value: &DeValue<'_>, span: Range<usize>) -> Node {
    let value = match value {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
            .map_or_else(|_| Value::Float(f64::NAN), Value::Integer),
        DeValue::Float(x) => Value::Float(x.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| toml_node(item.get_ref(), item.span()))
                .collect(),
        ),
        DeValue::Table(table) => Value::Table(toml_entries(table)),
    };
    Node {
        value,
        span: Some(span),
        key_span: None,
    }
}

/// Any serde format into a tree (without spans): lets a policy be embedded
/// in an application's own config struct.
impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a redress policy value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::plain(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::plain(Value::Integer(i128::from(v))))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::plain(Value::Integer(i128::from(v))))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::plain(Value::Integer(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::plain(Value::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::plain(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::plain(Value::String(v)))
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::plain(Value::Null))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::plain(Value::Null))
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        serde::Deserialize::deserialize(d)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::plain(Value::Array(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key, value));
        }
        Ok(Node::plain(Value::Table(entries)))
    }
}
