//! A format-neutral document tree with source spans, which the loader
//! walks. TOML gives spans for every key and value; JSON and other serde
//! formats give none.

use core::fmt;
use core::ops::Range;

use toml::de::{DeTable, DeValue};

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
