//! Retrying whole transactions on the blocking `postgres` client.
//!
//! The same helper as the crate's async [`transaction`](crate::transaction),
//! for `postgres::Client`, run by the blocking runner
//! ([`BlockingPolicy::call`]). Errors are the same types
//! ([`TransactionError`], whose database error `postgres::Error` is
//! `tokio_postgres::Error`), classified by the same
//! [`classifier()`](crate::classifier).
//!
//! The `postgres` client runs a runtime of its own: call it from plain
//! threads, not from inside an async runtime.

use core::convert::Infallible;
use core::fmt;
use std::error::Error as StdError;

use postgres::{Client, Transaction};
use redress_core::{Classifier, ResultClassifier, RetryError};
use redress_sync::BlockingPolicy;

use crate::transaction::{CommitError, TransactionError, TransactionOptions};

/// Where each attempt of a transaction gets its client.
///
/// A `Client` is used as it is: it cannot reconnect, so once its
/// connection is lost every later attempt fails at once. Give
/// [`Reconnect`] (or your pool) to retry through a lost connection or a
/// server restart.
pub trait ClientSource {
    /// What getting a client can fail with.
    type Error: StdError + Send + Sync + 'static;

    /// The client for the next attempt.
    fn client(&mut self) -> Result<&mut Client, Self::Error>;
}

impl ClientSource for Client {
    type Error = Infallible;

    fn client(&mut self) -> Result<&mut Client, Infallible> {
        Ok(self)
    }
}

impl<S: ClientSource + ?Sized> ClientSource for &mut S {
    type Error = S::Error;

    fn client(&mut self) -> Result<&mut Client, S::Error> {
        (**self).client()
    }
}

/// A [`ClientSource`] that connects with `connect` when it has no client
/// or its client's connection is closed.
///
/// ```no_run
/// use redress_postgres::blocking::Reconnect;
///
/// let url = "postgres://app@127.0.0.1/app";
/// let mut source = Reconnect::new(|| postgres::Client::connect(url, postgres::NoTls));
/// # let _ = &mut source;
/// ```
pub struct Reconnect<F> {
    connect: F,
    client: Option<Client>,
}

impl<F> Reconnect<F> {
    /// A source that connects on its first attempt.
    pub fn new(connect: F) -> Self {
        Reconnect {
            connect,
            client: None,
        }
    }

    /// A source that starts with `client`, and reconnects with `connect`
    /// when its connection is closed.
    pub fn with_client(client: Client, connect: F) -> Self {
        Reconnect {
            connect,
            client: Some(client),
        }
    }

    /// The current client, if connected.
    pub fn get(&self) -> Option<&Client> {
        self.client.as_ref()
    }
}

impl<F> fmt::Debug for Reconnect<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconnect")
            .field(
                "connected",
                &self.client.as_ref().is_some_and(|c| !c.is_closed()),
            )
            .finish_non_exhaustive()
    }
}

impl<F, E> ClientSource for Reconnect<F>
where
    F: FnMut() -> Result<Client, E>,
    E: StdError + Send + Sync + 'static,
{
    type Error = E;

    fn client(&mut self) -> Result<&mut Client, E> {
        let client = match self.client.take() {
            Some(client) if !client.is_closed() => client,
            _ => (self.connect)()?,
        };
        Ok(self.client.insert(client))
    }
}

/// Runs `body` in a transaction, and the whole transaction again when it
/// fails in a way the policy retries; blocking.
///
/// Each attempt gets a client from `source`, begins a fresh transaction,
/// runs `body` with it, and commits; the value `body` returns is the
/// call's. When `body` fails, the transaction is rolled back. The attempts
/// run through `site` (a policy or a bound call site) with
/// [`BlockingPolicy::call`], so the policy decides everything; the caller
/// gets the value, or a [`RetryError`] with the last [`TransactionError`].
/// `body` may run more than once, and a `COMMIT` whose connection failed
/// may have committed: see the async [`transaction`](crate::transaction)
/// for both.
///
/// ```
/// use std::time::Duration;
/// use redress::backoff::constant;
/// use redress::Policy;
/// use redress_postgres::blocking::{self, Reconnect};
///
/// # let Some(url) = redress_test_services::pg_url() else { return Ok(()) };
/// let policy = Policy::builder()
///     .classifier(redress_postgres::classifier())
///     .strategy(constant(Duration::from_millis(50)))
///     .build()?;
/// let mut source = Reconnect::new(|| postgres::Client::connect(&url, postgres::NoTls));
///
/// let moved = blocking::transaction(&policy, &mut source, |tx| {
///     tx.batch_execute("CREATE TEMP TABLE accounts (id INT PRIMARY KEY, balance INT8);
///                       INSERT INTO accounts VALUES (1, 100), (2, 0)")?;
///     tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[])?;
///     tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2", &[])
/// })?;
/// assert_eq!(moved, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn transaction<Site, C, R, S, T, E, F>(
    site: &Site,
    source: &mut S,
    body: F,
) -> Result<T, RetryError<TransactionError<E>, T>>
where
    Site: BlockingPolicy<C, R> + ?Sized,
    C: Classifier<TransactionError<E>>,
    R: ResultClassifier<T>,
    S: ClientSource + ?Sized,
    F: FnMut(&mut Transaction<'_>) -> Result<T, E>,
{
    transaction_with(site, source, TransactionOptions::new(), body)
}

/// [`transaction`] with an isolation level and the other
/// [`TransactionOptions`] for every attempt's transaction.
pub fn transaction_with<Site, C, R, S, T, E, F>(
    site: &Site,
    source: &mut S,
    options: TransactionOptions,
    mut body: F,
) -> Result<T, RetryError<TransactionError<E>, T>>
where
    Site: BlockingPolicy<C, R> + ?Sized,
    C: Classifier<TransactionError<E>>,
    R: ResultClassifier<T>,
    S: ClientSource + ?Sized,
    F: FnMut(&mut Transaction<'_>) -> Result<T, E>,
{
    site.call(|| attempt(source, &mut body, options))
}

/// One attempt: a client, `BEGIN`, the body, `COMMIT` (or `ROLLBACK`).
fn attempt<S, T, E, F>(
    source: &mut S,
    body: &mut F,
    options: TransactionOptions,
) -> Result<T, TransactionError<E>>
where
    S: ClientSource + ?Sized,
    F: FnMut(&mut Transaction<'_>) -> Result<T, E>,
{
    let client = source
        .client()
        .map_err(|error| TransactionError::Connect(Box::new(error)))?;
    let mut builder = client.build_transaction();
    if let Some(level) = options.isolation_level {
        builder = builder.isolation_level(level);
    }
    if let Some(read_only) = options.read_only {
        builder = builder.read_only(read_only);
    }
    if let Some(deferrable) = options.deferrable {
        builder = builder.deferrable(deferrable);
    }
    let mut tx = builder.start().map_err(TransactionError::Begin)?;
    match body(&mut tx) {
        Ok(value) => match tx.commit() {
            Ok(()) => Ok(value),
            Err(error) => Err(TransactionError::Commit(CommitError::new(error))),
        },
        Err(error) => {
            // The body's error is the one that matters; a rollback on a
            // lost connection fails too, and the server rolls back anyway.
            let _ = tx.rollback();
            Err(TransactionError::Body(error))
        }
    }
}
