//! Just enough of RESP (REdis Serialization Protocol, version 2) to send a
//! command and read its reply.

use std::io::{BufRead, BufReader, Read, Write};

use crate::Error;
use crate::pgwire::{connect, split_host_port};

/// The largest bulk string or array accepted; a test's values are far
/// smaller.
const MAX_LEN: usize = 64 * 1024 * 1024;
/// The deepest nesting of arrays accepted.
const MAX_DEPTH: usize = 32;
/// The longest line (a simple string, an error, a length) accepted.
const MAX_LINE: u64 = 64 * 1024;

/// A Redis reply (error replies are [`Error::Redis`] instead).
///
/// ```no_run
/// use redress_test_services::{redis_command, Resp};
///
/// let Some(url) = redress_test_services::redis_url() else { return Ok(()) };
/// assert_eq!(redis_command(&url, &["PING"])?, Resp::Simple("PONG".into()));
/// assert_eq!(redis_command(&url, &["GET", "no such key"])?, Resp::Nil);
/// # Ok::<(), redress_test_services::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resp {
    /// A simple string, such as `OK` or `PONG`.
    Simple(String),
    /// An integer.
    Integer(i64),
    /// A bulk string.
    Bulk(Vec<u8>),
    /// A null bulk string or null array (a missing key, for example).
    Nil,
    /// An array of replies.
    Array(Vec<Resp>),
}

impl Resp {
    /// The text of a simple or bulk string (`None` for other replies and
    /// for bulk strings that are not UTF-8).
    ///
    /// ```
    /// use redress_test_services::Resp;
    ///
    /// assert_eq!(Resp::Bulk(b"value".to_vec()).as_str(), Some("value"));
    /// assert_eq!(Resp::Simple("OK".into()).as_str(), Some("OK"));
    /// assert_eq!(Resp::Integer(1).as_str(), None);
    /// ```
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Resp::Simple(text) => Some(text),
            Resp::Bulk(bytes) => std::str::from_utf8(bytes).ok(),
            _ => None,
        }
    }
}

/// Where to connect, from a `redis://HOST:PORT[/DB]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) db: u32,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::Url {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| bad("it must start with redis://".to_owned()))?;
        let (hostport, db) = rest.split_once('/').unwrap_or((rest, ""));
        if hostport.contains('@') {
            return Err(bad(
                "credentials are not supported (the test servers need none)".to_owned(),
            ));
        }
        let (host, port) = split_host_port(hostport).map_err(bad)?;
        let db = match db {
            "" => 0,
            db => db
                .parse()
                .map_err(|_| bad(format!("`{db}` is not a database number")))?,
        };
        Ok(Target { host, port, db })
    }
}

/// Sends one command to the server at `url` on a connection of its own and
/// returns the reply.
pub(crate) fn command(url: &str, args: &[&str]) -> Result<Resp, Error> {
    let target = Target::parse(url)?;
    let stream = connect(&target.host, target.port)?;
    let mut writer = stream
        .try_clone()
        .map_err(|error| Error::io("cloning a socket", error))?;
    let mut reader = BufReader::new(stream);
    let mut roundtrip = |args: &[&str]| -> Result<Resp, Error> {
        writer
            .write_all(&encode(args)?)
            .map_err(|error| Error::io("sending a command to Redis", error))?;
        read_reply(&mut reader, 0)
    };
    if target.db != 0 {
        roundtrip(&["SELECT", &target.db.to_string()])?;
    }
    roundtrip(args)
}

/// A command as an array of bulk strings.
fn encode(args: &[&str]) -> Result<Vec<u8>, Error> {
    if args.is_empty() {
        return Err(Error::Protocol(
            "a command needs at least a name".to_owned(),
        ));
    }
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    Ok(out)
}

fn read_reply(reader: &mut impl BufRead, depth: usize) -> Result<Resp, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::Protocol("replies nested too deep".to_owned()));
    }
    let line = read_line(reader)?;
    let (kind, text) = line.split_at_checked(1).unwrap_or(("", ""));
    match kind {
        "+" => Ok(Resp::Simple(text.to_owned())),
        "-" => Err(Error::Redis(text.to_owned())),
        ":" => text
            .parse()
            .map(Resp::Integer)
            .map_err(|_| Error::Protocol(format!("`{text}` is not an integer"))),
        "$" => match length(text)? {
            None => Ok(Resp::Nil),
            Some(len) => {
                let mut bytes = Vec::new();
                let wanted = len.checked_add(2).ok_or_else(|| too_long(text))?;
                reader
                    .take(u64::try_from(wanted).map_err(|_| too_long(text))?)
                    .read_to_end(&mut bytes)
                    .map_err(|error| Error::io("reading from Redis", error))?;
                if bytes.len() != wanted || !bytes.ends_with(b"\r\n") {
                    return Err(Error::Protocol("a bulk string ends early".to_owned()));
                }
                bytes.truncate(len);
                Ok(Resp::Bulk(bytes))
            }
        },
        "*" => match length(text)? {
            None => Ok(Resp::Nil),
            Some(len) => {
                let mut items = Vec::new();
                let depth = depth.saturating_add(1);
                for _ in 0..len {
                    items.push(read_reply(reader, depth)?);
                }
                Ok(Resp::Array(items))
            }
        },
        _ => Err(Error::Protocol(format!("a reply starting with {line:?}"))),
    }
}

/// A length; `None` for -1 (null).
fn length(text: &str) -> Result<Option<usize>, Error> {
    if text == "-1" {
        return Ok(None);
    }
    text.parse::<usize>()
        .ok()
        .filter(|len| *len <= MAX_LEN)
        .map(Some)
        .ok_or_else(|| too_long(text))
}

fn too_long(text: &str) -> Error {
    Error::Protocol(format!("a length of `{text}`"))
}

/// One line, without its CRLF.
fn read_line(reader: &mut impl BufRead) -> Result<String, Error> {
    let mut line = Vec::new();
    reader
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .map_err(|error| Error::io("reading from Redis", error))?;
    if !line.ends_with(b"\r\n") {
        return Err(Error::Protocol(if line.is_empty() {
            "the connection closed".to_owned()
        } else {
            "a line without its CRLF, or too long".to_owned()
        }));
    }
    line.truncate(line.len().saturating_sub(2));
    String::from_utf8(line).map_err(|_| Error::Protocol("a line that is not UTF-8".to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn reply(bytes: &[u8]) -> Result<Resp, Error> {
        read_reply(&mut &bytes[..], 0)
    }

    #[test]
    fn encodes_commands_as_arrays_of_bulk_strings() {
        assert_eq!(
            encode(&["SET", "k", ""]).unwrap(),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
        );
        assert!(encode(&[]).is_err());
    }

    #[test]
    fn decodes_every_reply_type() {
        assert_eq!(reply(b"+PONG\r\n").unwrap(), Resp::Simple("PONG".into()));
        assert_eq!(reply(b":-42\r\n").unwrap(), Resp::Integer(-42));
        assert_eq!(
            reply(b"$5\r\nab\r\nc\r\n").unwrap(),
            Resp::Bulk(b"ab\r\nc".to_vec())
        );
        assert_eq!(reply(b"$-1\r\n").unwrap(), Resp::Nil);
        assert_eq!(reply(b"*-1\r\n").unwrap(), Resp::Nil);
        assert_eq!(
            reply(b"*2\r\n$3\r\ndir\r\n*1\r\n:1\r\n").unwrap(),
            Resp::Array(vec![
                Resp::Bulk(b"dir".to_vec()),
                Resp::Array(vec![Resp::Integer(1)])
            ])
        );
        match reply(b"-ERR unknown command\r\n") {
            Err(Error::Redis(message)) => assert_eq!(message, "ERR unknown command"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_or_huge_replies_are_errors_not_allocations() {
        for bad in [
            &b""[..],
            b"+no crlf",
            b"?what\r\n",
            b":x\r\n",
            b"$3\r\nab",
            b"$3\r\nabcd\r\n",
            b"$99999999999\r\n",
            b"*99999999999\r\n",
            b"*2\r\n:1\r\n",
        ] {
            assert!(reply(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(reply(deep.as_bytes()).is_err());
    }

    #[test]
    fn parses_redis_urls() {
        assert_eq!(
            Target::parse("redis://127.0.0.1:6380").unwrap(),
            Target {
                host: "127.0.0.1".into(),
                port: 6380,
                db: 0
            }
        );
        assert_eq!(Target::parse("redis://localhost:1/3").unwrap().db, 3);
        for (url, why) in [
            ("http://h:1", "must start with redis://"),
            ("redis://h", "must name the port"),
            ("redis://user:pw@h:1", "credentials"),
            ("redis://h:1/x", "not a database number"),
        ] {
            let message = Target::parse(url).unwrap_err().to_string();
            assert!(message.contains(why), "{url}: {message}");
        }
    }
}
