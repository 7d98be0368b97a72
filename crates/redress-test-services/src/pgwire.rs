//! Just enough of the PostgreSQL frontend/backend protocol (version 3) to
//! check that a server is up and run simple queries: startup with trust
//! authentication, the simple query protocol, text results.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::Error;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Protocol version 3.0.
const PROTOCOL_VERSION: i32 = 196_608;
/// The largest message accepted; a test's results are far smaller.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Where to connect, from a `postgres://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) database: String,
}

impl Target {
    /// Parses `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE[?...]` (or
    /// `postgresql://`). The password and the query parameters are
    /// ignored: this client speaks trust authentication, without TLS.
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| bad("it must start with postgres:// or postgresql://"))?;
        let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
        let (authority, database) = rest
            .split_once('/')
            .ok_or_else(|| bad("it must name the database: postgres://user@host:port/database"))?;
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| bad("it must name the user: postgres://user@host:port/database"))?;
        let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
        if user.is_empty() || database.is_empty() {
            return Err(bad("the user and the database must not be empty"));
        }
        if user.contains('%') || database.contains('%') {
            return Err(bad("percent-encoded names are not supported"));
        }
        let (host, port) = split_host_port(hostport).map_err(|reason| bad(&reason))?;
        Ok(Target {
            host,
            port,
            user: user.to_owned(),
            database: database.to_owned(),
        })
    }
}

/// Splits `host:port` or `[v6]:port`; the port is required.
pub(crate) fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| format!("`{hostport}` must name the port: host:port"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| format!("`{port}` is not a port"))?;
    Ok((host.to_owned(), port))
}

/// Connects to the first address `host:port` resolves to that accepts.
pub(crate) fn connect(host: &str, port: u16) -> Result<TcpStream, Error> {
    let context = || format!("connecting to {host}:{port}");
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|error| Error::io(context(), error))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                let setup = stream
                    .set_read_timeout(Some(IO_TIMEOUT))
                    .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
                    .and_then(|()| stream.set_nodelay(true));
                return setup
                    .map(|()| stream)
                    .map_err(|error| Error::io(context(), error));
            }
            Err(error) => last = Some(error),
        }
    }
    Err(Error::io(
        context(),
        last.unwrap_or_else(|| std::io::Error::other("the host has no address")),
    ))
}

/// An open, authenticated connection.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
}

impl Connection {
    /// Connects and completes the startup handshake.
    pub(crate) fn open(target: &Target) -> Result<Self, Error> {
        let mut stream = connect(&target.host, target.port)?;
        let mut body = Vec::new();
        body.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        for (key, value) in [("user", &target.user), ("database", &target.database)] {
            push_cstr(&mut body, key)?;
            push_cstr(&mut body, value)?;
        }
        body.push(0);
        let mut startup = length_prefix(body.len())?.to_vec();
        startup.extend_from_slice(&body);
        stream
            .write_all(&startup)
            .map_err(|error| Error::io("sending the startup message", error))?;

        let mut connection = Connection { stream };
        loop {
            let (kind, body) = connection.read_message()?;
            let mut body = Cursor(&body);
            match kind {
                b'R' => match body.i32()? {
                    0 => {}
                    method => {
                        return Err(Error::Protocol(format!(
                            "the server asks for authentication method {method}; \
                             only trust authentication is supported"
                        )));
                    }
                },
                b'E' => return Err(server_error(body)),
                b'Z' => return Ok(connection),
                // Parameter status, backend key data, notices.
                b'S' | b'K' | b'N' => {}
                other => return Err(unexpected(other, "the startup")),
            }
        }
    }

    /// Runs `sql` with the simple query protocol and returns the rows of
    /// every result, as text (`None` for NULL).
    pub(crate) fn simple_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
        let mut body = Vec::new();
        push_cstr(&mut body, sql)?;
        let mut message = vec![b'Q'];
        message.extend_from_slice(&length_prefix(body.len())?);
        message.extend_from_slice(&body);
        self.stream
            .write_all(&message)
            .map_err(|error| Error::io("sending a query", error))?;

        let mut rows = Vec::new();
        let mut failure = None;
        loop {
            let (kind, body) = self.read_message()?;
            let mut body = Cursor(&body);
            match kind {
                b'D' => rows.push(data_row(&mut body)?),
                // The server keeps going until ReadyForQuery after an error.
                b'E' => failure = Some(server_error(body)),
                b'Z' => break,
                // Row description, command complete, empty query, notices,
                // parameter status.
                b'T' | b'C' | b'I' | b'N' | b'S' => {}
                other => return Err(unexpected(other, "a query")),
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(rows),
        }
    }

    fn read_message(&mut self) -> Result<(u8, Vec<u8>), Error> {
        let mut header = [0_u8; 5];
        self.stream
            .read_exact(&mut header)
            .map_err(|error| Error::io("reading from PostgreSQL", error))?;
        let [kind, length @ ..] = header;
        let length = usize::try_from(i32::from_be_bytes(length)).ok();
        let body_len = length
            .and_then(|length| length.checked_sub(4))
            .filter(|len| *len <= MAX_MESSAGE)
            .ok_or_else(|| Error::Protocol(format!("a message length of {length:?}")))?;
        let mut body = vec![0_u8; body_len];
        self.stream
            .read_exact(&mut body)
            .map_err(|error| Error::io("reading from PostgreSQL", error))?;
        Ok((kind, body))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Terminate, so the server does not log an unexpected EOF. The
        // connection closes anyway.
        let _ = self.stream.write_all(&[b'X', 0, 0, 0, 4]);
    }
}

/// Runs `sql` against the server at `url`, on a connection of its own.
pub(crate) fn query(url: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
    Connection::open(&Target::parse(url)?)?.simple_query(sql)
}

fn push_cstr(buffer: &mut Vec<u8>, text: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::Protocol(format!(
            "{text:?} contains a NUL byte, which the protocol cannot carry"
        )));
    }
    buffer.extend_from_slice(text.as_bytes());
    buffer.push(0);
    Ok(())
}

/// The 4-byte length of a message whose body is `body_len` bytes.
fn length_prefix(body_len: usize) -> Result<[u8; 4], Error> {
    body_len
        .checked_add(4)
        .filter(|len| *len <= MAX_MESSAGE)
        .and_then(|len| i32::try_from(len).ok())
        .map(i32::to_be_bytes)
        .ok_or_else(|| Error::Protocol(format!("a message of {body_len} bytes is too long")))
}

fn data_row(body: &mut Cursor<'_>) -> Result<Vec<Option<String>>, Error> {
    let columns = body.i16()?;
    let mut row = Vec::new();
    for _ in 0..columns {
        let len = body.i32()?;
        // -1 is NULL.
        let value = match usize::try_from(len) {
            Ok(len) => Some(String::from_utf8_lossy(body.take(len)?).into_owned()),
            Err(_) => None,
        };
        row.push(value);
    }
    Ok(row)
}

/// An ErrorResponse: fields of a type byte and a string, up to a zero.
fn server_error(mut body: Cursor<'_>) -> Error {
    let mut code = String::new();
    let mut message = String::new();
    while let Ok(field) = body.u8() {
        if field == 0 {
            break;
        }
        let Ok(value) = body.cstr() else { break };
        match field {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    Error::Postgres { code, message }
}

fn unexpected(kind: u8, during: &str) -> Error {
    Error::Protocol(format!(
        "unexpected message {:?} during {during}",
        char::from(kind)
    ))
}

/// Reads big-endian fields off a message body.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], Error> {
        if len > self.0.len() {
            return Err(Error::Protocol("a message ends early".to_owned()));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        let [byte] = self.array::<1>()?;
        Ok(byte)
    }

    fn i16(&mut self) -> Result<i16, Error> {
        self.array().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, Error> {
        self.array().map(i32::from_be_bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| Error::Protocol("a short field".to_owned()))
    }

    fn cstr(&mut self) -> Result<String, Error> {
        let end =
            self.0.iter().position(|byte| *byte == 0).ok_or_else(|| {
                Error::Protocol("a string without its terminating zero".to_owned())
            })?;
        let text = String::from_utf8_lossy(self.take(end)?).into_owned();
        self.take(1)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap()
    }

    #[test]
    fn parses_the_urls_of_the_services() {
        assert_eq!(
            target("postgres://redress@127.0.0.1:54321/redress"),
            Target {
                host: "127.0.0.1".to_owned(),
                port: 54321,
                user: "redress".to_owned(),
                database: "redress".to_owned(),
            }
        );
        let other = target("postgresql://me:secret@[::1]:5433/db?sslmode=disable");
        assert_eq!((other.host.as_str(), other.port), ("::1", 5433));
        assert_eq!((other.user.as_str(), other.database.as_str()), ("me", "db"));
    }

    #[test]
    fn rejects_urls_it_cannot_use_and_says_why() {
        for (url, why) in [
            ("mysql://u@h:1/d", "must start with postgres://"),
            ("postgres://u@h:1", "must name the database"),
            ("postgres://h:1/d", "must name the user"),
            ("postgres://u@h/d", "must name the port"),
            ("postgres://u@h:0/d", "is not a port"),
            ("postgres://u@h:99999/d", "is not a port"),
            ("postgres://u@:1/d", "host is empty"),
            ("postgres://u@h:1/", "must not be empty"),
            ("postgres://u%40x@h:1/d", "percent-encoded"),
        ] {
            let message = Target::parse(url).unwrap_err().to_string();
            assert!(message.contains(why), "{url}: {message}");
        }
    }

    #[test]
    fn decodes_rows_and_errors() {
        let mut row = Vec::new();
        row.extend_from_slice(&2_i16.to_be_bytes());
        row.extend_from_slice(&1_i32.to_be_bytes());
        row.push(b'1');
        row.extend_from_slice(&(-1_i32).to_be_bytes());
        assert_eq!(
            data_row(&mut Cursor(&row)).unwrap(),
            [Some("1".to_owned()), None]
        );
        // A row that claims more than it carries is an error, not a panic.
        let truncated = [0, 1, 0, 0, 0, 9, b'x'];
        assert!(data_row(&mut Cursor(&truncated)).is_err());

        let error = b"SERROR\0C42P01\0Mrelation \"t\" does not exist\0\0";
        let Error::Postgres { code, message } = server_error(Cursor(error)) else {
            panic!("not a PostgreSQL error");
        };
        assert_eq!(code, "42P01");
        assert_eq!(message, "relation \"t\" does not exist");
    }

    #[test]
    fn refuses_what_the_protocol_cannot_carry() {
        let mut buffer = Vec::new();
        assert!(push_cstr(&mut buffer, "a\0b").is_err());
        assert!(length_prefix(MAX_MESSAGE).is_err());
        assert_eq!(length_prefix(1).unwrap(), [0, 0, 0, 5]);
    }
}
