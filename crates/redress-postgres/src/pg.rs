//! Classifying `tokio_postgres::Error` (which is also `postgres::Error`).

use std::error::Error as StdError;
use std::io;

use redress_core::{Classification, ErrorClass, io_kind_classification};

use crate::classifier::chain;
use crate::sqlstate::classify_sqlstate;

/// The classification of a `tokio_postgres::Error` (the `postgres`
/// crate's `Error` is the same type).
///
/// | error | class | `err` tag |
/// |---|---|---|
/// | the server answered with an error (a `DbError`) | the SQLSTATE table ([`sqlstate_class`](crate::sqlstate_class)), with the `sqlstate` detail | the SQLSTATE (`40001`), or its class (`08`) |
/// | the connection is closed (`is_closed()`) | `TRANSIENT` | `closed` |
/// | connecting failed (refused, unreachable, DNS) | `TRANSIENT` | `connect` |
/// | a timeout waiting for the server (`connect_timeout`) | `TRANSIENT` | `timeout` |
/// | an I/O error talking to the server | `TRANSIENT` | `io` |
/// | the client could not authenticate (a password is missing, an unsupported method) | `AUTH` | `auth` |
/// | an invalid connection string or configuration | `PERMANENT` | `config` |
/// | a query the client rejected: wrong parameter count, a value that does not serialize, a column that does not exist or does not convert, `query_one` with no row or several | `PERMANENT` | `client` |
/// | a TLS handshake failure | `UNKNOWN` | `tls` |
/// | a message from the server the client did not expect or could not parse | `UNKNOWN` | `protocol` |
/// | anything else | `UNKNOWN` | `postgres` |
///
/// tokio-postgres does not expose the kind of an error without a
/// SQLSTATE, so the kinds above are read from its description; the
/// integration tests pin each one against a real server.
///
/// A connection that fails in the middle of an autocommit statement is
/// `TRANSIENT` like any other: retrying the statement is safe only if it
/// is idempotent, because it may have been applied before the connection
/// went away. Inside the transaction helpers this question is handled
/// where it belongs, at `COMMIT`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use redress_core::ErrorClass;
///
/// # let Some(url) = redress_test_services::pg_url() else { return Ok(()) };
/// let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
/// tokio::spawn(connection);
/// let err = client.query_one("SELECT 1 FROM missing_table", &[]).await.unwrap_err();
/// let c = redress_postgres::classify_pg_error(&err);
/// assert_eq!((c.class, c.tag), (ErrorClass::Permanent, Some("42P01")));
/// let err = client.query_one("SELECT 1 WHERE false", &[]).await.unwrap_err();
/// assert_eq!(redress_postgres::classify_pg_error(&err).tag, Some("client"));
/// # Ok(())
/// # }
/// ```
pub fn classify_pg_error(error: &tokio_postgres::Error) -> Classification {
    if let Some(db) = error.as_db_error() {
        return classify_sqlstate(db.code().code());
    }
    let tagged = |class: ErrorClass, tag: &'static str| Classification::new(class).with_tag(tag);
    if error.is_closed() {
        return tagged(ErrorClass::Transient, "closed");
    }
    let description = error.to_string();
    let kind = DESCRIPTIONS
        .iter()
        .find(|(prefix, ..)| description.starts_with(prefix));
    match kind {
        Some((_, class, tag)) => tagged(*class, tag),
        None => io_source(error)
            .and_then(|io| io_kind_classification(io.kind()))
            .unwrap_or_else(|| tagged(ErrorClass::Unknown, "postgres")),
    }
}

/// tokio-postgres's descriptions of its error kinds, with their class and
/// tag.
const DESCRIPTIONS: &[(&str, ErrorClass, &str)] = &[
    (
        "error connecting to server",
        ErrorClass::Transient,
        "connect",
    ),
    (
        "timeout waiting for server",
        ErrorClass::Transient,
        "timeout",
    ),
    (
        "error communicating with the server",
        ErrorClass::Transient,
        "io",
    ),
    ("authentication error", ErrorClass::Auth, "auth"),
    ("invalid connection string", ErrorClass::Permanent, "config"),
    ("invalid configuration", ErrorClass::Permanent, "config"),
    (
        "error serializing parameter",
        ErrorClass::Permanent,
        "client",
    ),
    (
        "error deserializing column",
        ErrorClass::Permanent,
        "client",
    ),
    ("invalid column", ErrorClass::Permanent, "client"),
    (
        "query returned an unexpected number of",
        ErrorClass::Permanent,
        "client",
    ),
    ("expected ", ErrorClass::Permanent, "client"),
    ("error performing TLS handshake", ErrorClass::Unknown, "tls"),
    (
        "unexpected message from server",
        ErrorClass::Unknown,
        "protocol",
    ),
    (
        "error parsing response from server",
        ErrorClass::Unknown,
        "protocol",
    ),
    (
        "error encoding message to server",
        ErrorClass::Unknown,
        "protocol",
    ),
];

/// The first I/O error among `error`'s sources.
fn io_source(error: &tokio_postgres::Error) -> Option<&io::Error> {
    let error: &(dyn StdError + 'static) = error;
    chain(error).find_map(|link| link.downcast_ref::<io::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_are_permanent() {
        let err = "host=/tmp port=not-a-number"
            .parse::<tokio_postgres::Config>()
            .unwrap_err();
        let c = classify_pg_error(&err);
        assert_eq!((c.class, c.tag), (ErrorClass::Permanent, Some("config")));
    }
}
