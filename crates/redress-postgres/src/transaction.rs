//! What the transaction helpers share: their error, the commit error, and
//! the options a transaction starts with.

use core::fmt;
use std::error::Error as StdError;

use redress_core::{Classification, ErrorClass};
use tokio_postgres::IsolationLevel;
use tokio_postgres::error::Severity;

use crate::sqlstate::{classify_sqlstate, static_code};

/// How a transaction helper's attempt failed. The caller gets the last
/// one back inside the `RetryError`.
///
/// Its `source()` is what failed (the connection's error, the database
/// error, the body's error, the [`CommitError`]), so
/// [`classifier()`](crate::classifier) classifies it by that.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransactionError<E> {
    /// Getting a client for the attempt failed (connecting, or a pool's
    /// error): nothing was sent.
    Connect(Box<dyn StdError + Send + Sync + 'static>),
    /// Starting the transaction (`BEGIN`) failed: nothing ran.
    Begin(tokio_postgres::Error),
    /// The body returned an error; the transaction was rolled back (or
    /// its connection is gone, which rolls it back too).
    Body(E),
    /// `COMMIT` failed. When the server answered with an error, the
    /// transaction was rolled back; when the connection failed first, it
    /// may or may not have committed ([`CommitError::is_ambiguous`]).
    Commit(CommitError),
}

impl<E> TransactionError<E> {
    /// The body's error, if the body failed.
    pub fn body(&self) -> Option<&E> {
        match self {
            TransactionError::Body(error) => Some(error),
            _ => None,
        }
    }

    /// Takes the body's error out, if the body failed.
    pub fn into_body(self) -> Option<E> {
        match self {
            TransactionError::Body(error) => Some(error),
            _ => None,
        }
    }

    /// Whether `COMMIT` was sent and no answer came back: the transaction
    /// may have committed. Check before running it again (see
    /// [`PgClassifier::retry_ambiguous_commits`](crate::PgClassifier::retry_ambiguous_commits)).
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, TransactionError::Commit(commit) if commit.is_ambiguous())
    }

    /// The database error of a `BEGIN` or `COMMIT` failure (the body's own
    /// error is [`body`](Self::body)).
    pub fn postgres_error(&self) -> Option<&tokio_postgres::Error> {
        match self {
            TransactionError::Begin(error) => Some(error),
            TransactionError::Commit(commit) => Some(commit.get_ref()),
            _ => None,
        }
    }
}

impl<E> fmt::Display for TransactionError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransactionError::Connect(_) => f.write_str("could not get a database connection"),
            TransactionError::Begin(_) => f.write_str("could not begin the transaction"),
            TransactionError::Body(_) => f.write_str("the transaction failed and was rolled back"),
            TransactionError::Commit(commit) => fmt::Display::fmt(commit, f),
        }
    }
}

impl<E: StdError + 'static> StdError for TransactionError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            TransactionError::Connect(error) => Some(&**error),
            TransactionError::Begin(error) => Some(error),
            TransactionError::Body(error) => Some(error),
            TransactionError::Commit(commit) => Some(commit),
        }
    }
}

/// `COMMIT` failed: made by the transaction helpers, inside
/// [`TransactionError::Commit`].
///
/// When the server answered `COMMIT` with an error (a serialization
/// failure of a `SERIALIZABLE` transaction, a deferred constraint), the
/// transaction was rolled back and the error's SQLSTATE classifies it.
/// When the connection failed instead, or the server ended the session
/// (a `FATAL` error: shut down, terminated), the client cannot know
/// whether the commit happened before: the error is *ambiguous*, and not
/// retried unless the classifier says so.
#[derive(Debug)]
pub struct CommitError {
    error: tokio_postgres::Error,
}

impl CommitError {
    /// Wraps the error `COMMIT` returned.
    pub fn new(error: tokio_postgres::Error) -> Self {
        CommitError { error }
    }

    /// Whether the transaction may have committed: no `ERROR` answer from
    /// the server, only a failed connection or a session-ending (`FATAL`,
    /// `PANIC`) error.
    pub fn is_ambiguous(&self) -> bool {
        match self.error.as_db_error() {
            Some(db) => !matches!(db.parsed_severity(), Some(Severity::Error)),
            None => true,
        }
    }

    /// The error `COMMIT` returned.
    pub fn get_ref(&self) -> &tokio_postgres::Error {
        &self.error
    }

    /// Takes the error out.
    pub fn into_inner(self) -> tokio_postgres::Error {
        self.error
    }
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ambiguous() {
            f.write_str("the connection failed during COMMIT: the transaction may or may not have committed")
        } else {
            f.write_str("COMMIT failed and the transaction was rolled back")
        }
    }
}

impl StdError for CommitError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.error)
    }
}

/// The classification of a failed `COMMIT`: by its SQLSTATE when the
/// server rolled the transaction back, else `ambiguous` (the classifier's
/// setting), tagged `commit_unknown`.
pub(crate) fn classify_commit(commit: &CommitError, ambiguous: ErrorClass) -> Classification {
    let sqlstate = commit.error.as_db_error().map(|db| db.code().code());
    if !commit.is_ambiguous() {
        if let Some(code) = sqlstate {
            return classify_sqlstate(code);
        }
    }
    let c = Classification::new(ambiguous)
        .with_tag("commit_unknown")
        .with_detail("commit", "unknown");
    // The session-ending code, when the server sent one and the table
    // knows it (static strings only).
    match sqlstate.and_then(static_code) {
        Some(code) => c.with_detail("sqlstate", code),
        None => c,
    }
}

/// How each attempt's transaction starts: isolation level, read-only,
/// deferrable. By default, the server's defaults (`READ COMMITTED`, read
/// write).
///
/// ```
/// use redress_postgres::TransactionOptions;
/// use tokio_postgres::IsolationLevel;
///
/// let options = TransactionOptions::new()
///     .isolation_level(IsolationLevel::Serializable)
///     .read_only(true)
///     .deferrable(true);
/// # let _ = options;
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct TransactionOptions {
    pub(crate) isolation_level: Option<IsolationLevel>,
    pub(crate) read_only: Option<bool>,
    pub(crate) deferrable: Option<bool>,
}

impl TransactionOptions {
    /// The server's defaults.
    pub const fn new() -> Self {
        TransactionOptions {
            isolation_level: None,
            read_only: None,
            deferrable: None,
        }
    }

    /// Sets the isolation level. `SERIALIZABLE` (and `REPEATABLE READ`)
    /// transactions fail with `40001` when a concurrent one wins: exactly
    /// what the helpers retry.
    pub const fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation_level = Some(level);
        self
    }

    /// Makes the transaction read-only (or explicitly read-write).
    pub const fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = Some(read_only);
        self
    }

    /// Makes a `SERIALIZABLE READ ONLY` transaction deferrable: it waits
    /// for a safe snapshot and then cannot fail with `40001`.
    pub const fn deferrable(mut self, deferrable: bool) -> Self {
        self.deferrable = Some(deferrable);
        self
    }
}
