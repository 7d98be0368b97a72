//! Classifying `sqlx::Error`.

use redress_core::{Classification, ErrorClass, io_kind_classification};

use crate::sqlstate::classify_sqlstate;

/// The classification of a `sqlx::Error`.
///
/// | error | class | `err` tag |
/// |---|---|---|
/// | `Database` with a SQLSTATE | the SQLSTATE table ([`sqlstate_class`](crate::sqlstate_class)), with the `sqlstate` detail | the SQLSTATE (`40001`), or its class (`08`) |
/// | `Database` without one | `UNKNOWN` | `database` |
/// | `Io` (talking to the server failed) | its I/O kind's class, `TRANSIENT` when the kind says nothing | its I/O kind's tag ([`io_kind_classification`](redress_core::io_kind_classification)), else `io` |
/// | `PoolTimedOut` (no connection became free, or none could be opened, in time) | `TRANSIENT` | `pool_timeout` |
/// | `PoolClosed` (the pool is shutting down) | `PERMANENT` | `pool_closed` |
/// | `Configuration`, `InvalidArgument` | `PERMANENT` | `config` |
/// | `RowNotFound` (`fetch_one` found nothing) | `PERMANENT` | `row_not_found` |
/// | `TypeNotFound`, `ColumnNotFound`, `ColumnIndexOutOfBounds`, `ColumnDecode`, `Decode`, `Encode` | `PERMANENT` | `client` |
/// | `Tls` | `UNKNOWN` | `tls` |
/// | `Protocol`, `BeginFailed`, `WorkerCrashed`, anything else | `UNKNOWN` | `sqlx` |
///
/// ```
/// use redress_core::ErrorClass;
///
/// let c = redress_postgres::classify_sqlx_error(&sqlx::Error::PoolTimedOut);
/// assert_eq!((c.class, c.tag), (ErrorClass::Transient, Some("pool_timeout")));
/// let c = redress_postgres::classify_sqlx_error(&sqlx::Error::RowNotFound);
/// assert_eq!(c.class, ErrorClass::Permanent);
/// ```
pub fn classify_sqlx_error(error: &sqlx::Error) -> Classification {
    use sqlx::Error as E;
    let tagged = |class: ErrorClass, tag: &'static str| Classification::new(class).with_tag(tag);
    match error {
        E::Database(db) => match db.code() {
            Some(code) => classify_sqlstate(&code),
            None => tagged(ErrorClass::Unknown, "database"),
        },
        E::Io(io) => {
            io_kind_classification(io.kind()).unwrap_or_else(|| tagged(ErrorClass::Transient, "io"))
        }
        E::PoolTimedOut => tagged(ErrorClass::Transient, "pool_timeout"),
        E::PoolClosed => tagged(ErrorClass::Permanent, "pool_closed"),
        E::Configuration(_) | E::InvalidArgument(_) => tagged(ErrorClass::Permanent, "config"),
        E::RowNotFound => tagged(ErrorClass::Permanent, "row_not_found"),
        E::TypeNotFound { .. }
        | E::ColumnNotFound(_)
        | E::ColumnIndexOutOfBounds { .. }
        | E::ColumnDecode { .. }
        | E::Decode(_)
        | E::Encode(_) => tagged(ErrorClass::Permanent, "client"),
        E::Tls(_) => tagged(ErrorClass::Unknown, "tls"),
        _ => tagged(ErrorClass::Unknown, "sqlx"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn errors_without_a_server_answer() {
        let refused = sqlx::Error::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
        let c = classify_sqlx_error(&refused);
        assert_eq!((c.class, c.tag), (ErrorClass::Transient, Some("connect")));
        let odd = sqlx::Error::Io(io::Error::other("odd"));
        assert_eq!(classify_sqlx_error(&odd).class, ErrorClass::Transient);
        let closed = classify_sqlx_error(&sqlx::Error::PoolClosed);
        assert_eq!(
            (closed.class, closed.tag),
            (ErrorClass::Permanent, Some("pool_closed"))
        );
        let c = classify_sqlx_error(&sqlx::Error::ColumnNotFound("x".into()));
        assert_eq!((c.class, c.tag), (ErrorClass::Permanent, Some("client")));
        let c = classify_sqlx_error(&sqlx::Error::Protocol("?".into()));
        assert_eq!((c.class, c.tag), (ErrorClass::Unknown, Some("sqlx")));
        let c = classify_sqlx_error(&sqlx::Error::InvalidArgument("x".into()));
        assert_eq!(c.class, ErrorClass::Permanent);
    }
}
