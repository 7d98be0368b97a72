//! The classifier for PostgreSQL errors: tokio-postgres, postgres and sqlx
//! errors, the transaction helpers' errors, and anything that wraps them.

use std::error::Error as StdError;

use redress_core::{
    Classification, Classifier, ErrorClass, ErrorClassifier, StatusLookup, strict_classifier,
};

/// Longest `source()` chain walked (guards against cycles).
const MAX_CHAIN: usize = 32;

/// The classifier for PostgreSQL errors: made by [`classifier`].
///
/// It walks the error's `source()` chain and the first link it knows
/// decides:
///
/// | link | classification |
/// |---|---|
/// | a [`CommitError`](crate::CommitError) (`COMMIT` failed, in a transaction helper) | by its SQLSTATE when the server answered with an `ERROR` (the transaction was rolled back); otherwise the commit is *ambiguous*: `PERMANENT` by default, `TRANSIENT` with [`retry_ambiguous_commits`](Self::retry_ambiguous_commits); tag `commit_unknown` |
/// | a `tokio_postgres::Error` (also `postgres::Error`, the same type) | [`classify_pg_error`](crate::classify_pg_error): the SQLSTATE table, or what the error says about the connection |
/// | a `tokio_postgres::error::DbError` | the SQLSTATE table |
/// | a `sqlx::Error` (feature `sqlx`) | [`classify_sqlx_error`] |
///
/// An error with none of them goes to the fallback, `strict_classifier()`
/// unless set with [`fallback`](Self::fallback). The transaction helpers'
/// [`TransactionError`](crate::TransactionError) links to what failed, so
/// the body's own error type works when its `source()` (or a source of a
/// source) is the database error, as with thiserror's `#[from]`.
///
#[cfg_attr(
    feature = "sqlx",
    doc = "[`classify_sqlx_error`]: crate::classify_sqlx_error"
)]
#[cfg_attr(
    not(feature = "sqlx"),
    doc = "[`classify_sqlx_error`]: https://docs.rs/redress-postgres/latest/redress_postgres/fn.classify_sqlx_error.html"
)]
#[derive(Clone, Copy, Debug)]
pub struct PgClassifier<L = ()> {
    fallback: ErrorClassifier<L>,
    ambiguous_commit: ErrorClass,
}

/// The classifier for PostgreSQL errors (see [`PgClassifier`]).
///
/// ```
/// use std::time::Duration;
/// use redress_core::{backoff::{decorrelated_jitter, equal_jitter}, ErrorClass, Policy};
///
/// let policy = Policy::builder()
///     .classifier(redress_postgres::classifier())
///     .strategy(decorrelated_jitter().max(Duration::from_secs(5)))
///     // Serialization failures and deadlocks: retry soon, spread out.
///     .class_strategy(ErrorClass::Concurrency, equal_jitter().base(Duration::from_millis(20)).max(Duration::from_secs(1)))
///     .build()?;
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub const fn classifier() -> PgClassifier {
    PgClassifier {
        fallback: strict_classifier(),
        ambiguous_commit: ErrorClass::Permanent,
    }
}

impl Default for PgClassifier {
    fn default() -> Self {
        classifier()
    }
}

impl<L> PgClassifier<L> {
    /// Classifies errors without a PostgreSQL error in their chain with
    /// `fallback` instead of `strict_classifier()`.
    pub fn fallback<L2>(self, fallback: ErrorClassifier<L2>) -> PgClassifier<L2> {
        PgClassifier {
            fallback,
            ambiguous_commit: self.ambiguous_commit,
        }
    }

    /// Retries transactions whose `COMMIT` may or may not have happened
    /// (`TRANSIENT` instead of `PERMANENT`): only for transactions that are
    /// safe to run twice.
    ///
    /// When the connection fails after `COMMIT` was sent and before the
    /// server answered, nobody on the client side can know whether the
    /// transaction committed. Running it again may apply it twice, so by
    /// default the call stops and returns the error
    /// ([`TransactionError::is_ambiguous`](crate::TransactionError::is_ambiguous)
    /// says so). A transaction that is idempotent (an upsert to fixed
    /// values, a write guarded by a check of its own effect) can opt in.
    ///
    /// ```
    /// use redress_core::ErrorClass;
    ///
    /// let cautious = redress_postgres::classifier();
    /// let idempotent = redress_postgres::classifier().retry_ambiguous_commits();
    /// assert_eq!(cautious.ambiguous_commit_class(), ErrorClass::Permanent);
    /// assert_eq!(idempotent.ambiguous_commit_class(), ErrorClass::Transient);
    /// ```
    #[must_use]
    pub const fn retry_ambiguous_commits(mut self) -> Self {
        self.ambiguous_commit = ErrorClass::Transient;
        self
    }

    /// The class of a `COMMIT` whose outcome is unknown: `PERMANENT`, or
    /// `TRANSIENT` after [`retry_ambiguous_commits`](Self::retry_ambiguous_commits).
    pub const fn ambiguous_commit_class(&self) -> ErrorClass {
        self.ambiguous_commit
    }
}

impl<L: StatusLookup> PgClassifier<L> {
    /// Classifies a type-erased error (the inside of a `Box<dyn Error>`).
    pub fn classify_dyn(&self, error: &(dyn StdError + 'static)) -> Classification {
        chain(error)
            .find_map(|link| self.known(link))
            .unwrap_or_else(|| self.fallback.classify_dyn(error))
    }

    /// The classification of a link this crate knows.
    fn known(&self, link: &(dyn StdError + 'static)) -> Option<Classification> {
        #[cfg(feature = "tokio-postgres")]
        {
            if let Some(commit) = link.downcast_ref::<crate::CommitError>() {
                return Some(crate::transaction::classify_commit(
                    commit,
                    self.ambiguous_commit,
                ));
            }
            if let Some(error) = link.downcast_ref::<tokio_postgres::Error>() {
                return Some(crate::pg::classify_pg_error(error));
            }
            if let Some(db) = link.downcast_ref::<tokio_postgres::error::DbError>() {
                return Some(crate::sqlstate::classify_sqlstate(db.code().code()));
            }
        }
        #[cfg(feature = "sqlx")]
        if let Some(error) = link.downcast_ref::<sqlx::Error>() {
            return Some(crate::sqlx_error::classify_sqlx_error(error));
        }
        let _ = link;
        None
    }
}

impl<E: StdError + 'static, L: StatusLookup> Classifier<E> for PgClassifier<L> {
    fn classify(&self, error: &E) -> Classification {
        self.classify_dyn(error)
    }
}

/// `error` and its sources, at most [`MAX_CHAIN`] of them.
pub(crate) fn chain<'e>(
    error: &'e (dyn StdError + 'static),
) -> impl Iterator<Item = &'e (dyn StdError + 'static)> {
    core::iter::successors(Some(error), |e: &&'e (dyn StdError + 'static)| {
        (*e).source()
    })
    .take(MAX_CHAIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn errors_without_a_database_error_go_to_the_fallback() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classifier().classify(&reset).class, ErrorClass::Transient);
        let opaque = io::Error::other("mystery");
        assert_eq!(classifier().classify(&opaque).class, ErrorClass::Unknown);
        let c = classifier().fallback(redress_core::default_classifier());
        assert_eq!(c.ambiguous_commit_class(), ErrorClass::Permanent);
        assert_eq!(
            c.retry_ambiguous_commits().ambiguous_commit_class(),
            ErrorClass::Transient
        );
    }
}
