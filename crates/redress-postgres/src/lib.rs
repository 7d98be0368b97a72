//! PostgreSQL for [redress]: SQLSTATE codes to error classes (one
//! documented table), classifiers for `tokio_postgres`, `postgres` and
//! `sqlx` errors, and helpers that retry whole transactions.
//!
//! - [`sqlstate_class`] and [`classify_sqlstate`]: the table. `40001`
//!   serialization failures and `40P01` deadlocks are `CONCURRENCY`,
//!   connection exceptions and a server shutting down or starting up
//!   `TRANSIENT`, `53300` too many connections `RATE_LIMIT`, bad
//!   credentials `AUTH`, `42501` `PERMISSION`, integrity, data and syntax
//!   errors `PERMANENT`. Events get the SQLSTATE as their `err` tag.
//! - [`classifier()`]: the policy's classifier for every error of this
//!   crate's clients, and for errors that wrap them.
//! - [`transaction`] (tokio-postgres) and [`blocking::transaction`]
//!   (postgres): run a closure in a transaction and, when the transaction
//!   fails in a way the policy retries, run the *whole transaction* again,
//!   as PostgreSQL advises for serialization failures and deadlocks.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use redress::backoff::{constant, equal_jitter};
//! use redress::{ErrorClass, Policy};
//! use redress_postgres::{Reconnect, TransactionOptions};
//! use tokio_postgres::IsolationLevel;
//!
//! # let Some(url) = redress_test_services::pg_url() else { return Ok(()) };
//! // let url = std::env::var("DATABASE_URL")?;
//! let policy = Policy::builder()
//!     .classifier(redress_postgres::classifier())
//!     .strategy(constant(Duration::from_millis(100)))
//!     .class_strategy(ErrorClass::Concurrency, equal_jitter().base(Duration::from_millis(10)).max(Duration::from_millis(500)))
//!     .build()?;
//! // Reconnects when the connection is lost (a server restart, a failover).
//! let mut source = Reconnect::new(|| async {
//!     let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
//!     tokio::spawn(connection);
//!     Ok::<_, tokio_postgres::Error>(client)
//! });
//!
//! let serializable = TransactionOptions::new().isolation_level(IsolationLevel::Serializable);
//! let total: i64 = redress_postgres::transaction_with(&policy, &mut source, serializable, async |tx| {
//!     tx.batch_execute("CREATE TEMP TABLE IF NOT EXISTS ledger (amount INT8)").await?;
//!     tx.execute("INSERT INTO ledger VALUES (20), (22)", &[]).await?;
//!     let row = tx.query_one("SELECT coalesce(sum(amount), 0)::INT8 FROM ledger", &[]).await?;
//!     Ok::<_, tokio_postgres::Error>(row.get(0))
//! })
//! .await?;
//! assert_eq!(total, 42);
//! # Ok(())
//! # }
//! ```
//!
//! The examples that need a server skip without `REDRESS_PG_URL` (see
//! `docs/contributing.md` in the repository).
//!
//! # Ambiguous commits
//!
//! When the connection fails after `COMMIT` was sent and before the
//! server answered, the transaction may or may not have committed, and
//! the client cannot find out from the error. The helpers report such a
//! failure as [`TransactionError::Commit`] with
//! [`is_ambiguous`](TransactionError::is_ambiguous) true, and the
//! classifier makes it `PERMANENT` (tag `commit_unknown`): the call stops
//! and returns it rather than risk applying the transaction twice. A
//! transaction that is safe to run twice opts in to retrying it with
//! [`PgClassifier::retry_ambiguous_commits`]. A `COMMIT` the server
//! answered with an error (`40001` under `SERIALIZABLE`, a deferred
//! constraint) was rolled back: it is classified by its SQLSTATE like any
//! other failure.
//!
//! # Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `tokio-postgres` | yes | the classifier for `tokio_postgres::Error`, [`transaction`], [`Reconnect`] |
//! | `postgres` | no | [`blocking`]: the same helper for the blocking `postgres` client |
//! | `sqlx` | no | the classifier for `sqlx::Error` ([`classify_sqlx_error`]); sqlx 0.9 needs Rust 1.94 |
//!
//! No feature turns on TLS: enable it in your own client dependency.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85 (1.94 with the `sqlx` feature). Raising it is a
//! minor-version change.
//!
//! [redress]: https://docs.rs/redress
#![cfg_attr(
    not(feature = "sqlx"),
    doc = "[`classify_sqlx_error`]: https://docs.rs/redress-postgres/latest/redress_postgres/fn.classify_sqlx_error.html"
)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod classifier;
mod sqlstate;

#[cfg(feature = "tokio-postgres")]
mod asynchronous;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod blocking;
#[cfg(feature = "tokio-postgres")]
mod pg;
#[cfg(feature = "sqlx")]
mod sqlx_error;
#[cfg(feature = "tokio-postgres")]
mod transaction;

pub use classifier::{PgClassifier, classifier};
pub use sqlstate::{classify_sqlstate, sqlstate_class, sqlstate_name};

#[cfg(feature = "tokio-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-postgres")))]
pub use asynchronous::{ClientSource, Reconnect, transaction, transaction_with};
#[cfg(feature = "tokio-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-postgres")))]
pub use pg::classify_pg_error;
#[cfg(feature = "sqlx")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx")))]
pub use sqlx_error::classify_sqlx_error;
#[cfg(feature = "tokio-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-postgres")))]
pub use transaction::{CommitError, TransactionError, TransactionOptions};

/// The snippets of `docs/databases.md`, compiled and run as doctests
/// (those that need a server skip without `REDRESS_PG_URL`).
#[cfg(doctest)]
#[doc = include_str!("../../../docs/databases.md")]
pub struct DatabasesDoctests;
