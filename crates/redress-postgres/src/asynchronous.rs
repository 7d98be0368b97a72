//! Retrying whole transactions on tokio-postgres.

use core::convert::Infallible;
use core::fmt;
use core::future::Future;
use std::error::Error as StdError;

use redress_core::asynchronous::run_on;
use redress_core::{AsyncSite, Classifier, ResultClassifier, RetryError, ToResult};
use redress_tokio::Tokio;
use tokio_postgres::{Client, Transaction};

use crate::transaction::{CommitError, TransactionError, TransactionOptions};

/// Where each attempt of a transaction gets its client.
///
/// A `Client` (or `&mut Client`) is used as it is: it cannot reconnect, so
/// once its connection is lost every later attempt fails at once. Give
/// [`Reconnect`] (or your pool) to retry through a lost connection or a
/// server restart.
///
/// A pool implements it in a few lines: keep the pooled connection in the
/// source, take a new one when it is missing or closed.
pub trait ClientSource: Send {
    /// What getting a client can fail with.
    type Error: StdError + Send + Sync + 'static;

    /// The client for the next attempt.
    fn client(&mut self) -> impl Future<Output = Result<&mut Client, Self::Error>> + Send;
}

impl ClientSource for Client {
    type Error = Infallible;

    fn client(&mut self) -> impl Future<Output = Result<&mut Client, Infallible>> + Send {
        core::future::ready(Ok(self))
    }
}

impl<S: ClientSource + ?Sized> ClientSource for &mut S {
    type Error = S::Error;

    fn client(&mut self) -> impl Future<Output = Result<&mut Client, S::Error>> + Send {
        (**self).client()
    }
}

/// A [`ClientSource`] that connects when it has no client or its client's
/// connection is closed, with `connect`.
///
/// `connect` makes a client and spawns its connection, as
/// tokio-postgres's `connect` asks:
///
/// ```no_run
/// # async fn demo(url: &str) {
/// use redress_postgres::Reconnect;
///
/// let mut source = Reconnect::new(|| async {
///     let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
///     tokio::spawn(connection);
///     Ok::<_, tokio_postgres::Error>(client)
/// });
/// # let _ = &mut source;
/// # }
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

impl<F, Fut, E> ClientSource for Reconnect<F>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Result<Client, E>> + Send,
    E: StdError + Send + Sync + 'static,
{
    type Error = E;

    async fn client(&mut self) -> Result<&mut Client, E> {
        let client = match self.client.take() {
            Some(client) if !client.is_closed() => client,
            _ => (self.connect)().await?,
        };
        Ok(self.client.insert(client))
    }
}

/// Runs `body` in a transaction, and the whole transaction again when it
/// fails in a way the policy retries: PostgreSQL's own advice for
/// serialization failures and deadlocks is to retry the transaction, not
/// the statement.
///
/// Each attempt gets a client from `source`, begins a fresh transaction,
/// runs `body` with it, and commits; the value `body` returns is the
/// call's. When `body` fails, the transaction is rolled back. The attempts
/// run through `site` (a policy or a bound call site) on tokio, so the
/// policy decides everything: which failures are retried and how long to
/// wait (give it [`classifier()`](crate::classifier)), its deadline and
/// attempt limits, budgets, breakers and events. The caller gets the
/// value, or a [`RetryError`] with the last [`TransactionError`].
///
/// `body` may run more than once, so it must not do anything outside the
/// transaction that it cannot repeat. A `COMMIT` whose connection failed
/// before the server answered may have committed: by default the call
/// stops there and [`TransactionError::is_ambiguous`] says so (see
/// [`PgClassifier::retry_ambiguous_commits`](crate::PgClassifier::retry_ambiguous_commits)).
///
/// `body` is an async closure. For the call to be `Send` (to spawn it),
/// `body` should own what it captures (`async move |tx| ..` with clones or
/// `Arc`s): a closure that borrows from its surroundings makes the future
/// not `Send` on today's compilers (rust-lang/rust#139475).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use redress::backoff::constant;
/// use redress::Policy;
/// use redress_postgres::Reconnect;
///
/// # let Some(url) = redress_test_services::pg_url() else { return Ok(()) };
/// let policy = Policy::builder()
///     .classifier(redress_postgres::classifier())
///     .strategy(constant(Duration::from_millis(50)))
///     .build()?;
/// let mut source = Reconnect::new(|| async {
///     let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
///     tokio::spawn(connection);
///     Ok::<_, tokio_postgres::Error>(client)
/// });
///
/// let balance: i64 = redress_postgres::transaction(&policy, &mut source, async |tx| {
///     tx.batch_execute("CREATE TEMP TABLE accounts (id INT PRIMARY KEY, balance INT8);
///                       INSERT INTO accounts VALUES (1, 100), (2, 0)").await?;
///     tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[]).await?;
///     tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2", &[]).await?;
///     let row = tx.query_one("SELECT balance FROM accounts WHERE id = 1", &[]).await?;
///     Ok::<_, tokio_postgres::Error>(row.get(0))
/// })
/// .await?;
/// assert_eq!(balance, 90);
/// # Ok(())
/// # }
/// ```
pub async fn transaction<Site, C, R, S, T, E, F>(
    site: &Site,
    source: &mut S,
    body: F,
) -> Result<T, RetryError<TransactionError<E>, T>>
where
    Site: AsyncSite<C, R, Tokio> + ?Sized,
    C: Classifier<TransactionError<E>>,
    R: ResultClassifier<T>,
    S: ClientSource + ?Sized,
    F: AsyncFnMut(&mut Transaction<'_>) -> Result<T, E>,
{
    transaction_with(site, source, TransactionOptions::new(), body).await
}

/// [`transaction`] with an isolation level and the other
/// [`TransactionOptions`] for every attempt's transaction.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use redress::backoff::constant;
/// use redress::Policy;
/// use redress_postgres::TransactionOptions;
/// use tokio_postgres::IsolationLevel;
///
/// # let Some(url) = redress_test_services::pg_url() else { return Ok(()) };
/// let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
/// tokio::spawn(connection);
/// let policy = Policy::builder()
///     .classifier(redress_postgres::classifier())
///     .strategy(constant(Duration::from_millis(10)))
///     .build()?;
/// let read_only = TransactionOptions::new()
///     .isolation_level(IsolationLevel::Serializable)
///     .read_only(true)
///     .deferrable(true);
/// let level: String = redress_postgres::transaction_with(&policy, &mut client, read_only, async |tx| {
///     Ok::<_, tokio_postgres::Error>(tx.query_one("SHOW transaction_isolation", &[]).await?.get(0))
/// })
/// .await?;
/// assert_eq!(level, "serializable");
/// # Ok(())
/// # }
/// ```
pub async fn transaction_with<Site, C, R, S, T, E, F>(
    site: &Site,
    source: &mut S,
    options: TransactionOptions,
    mut body: F,
) -> Result<T, RetryError<TransactionError<E>, T>>
where
    Site: AsyncSite<C, R, Tokio> + ?Sized,
    C: Classifier<TransactionError<E>>,
    R: ResultClassifier<T>,
    S: ClientSource + ?Sized,
    F: AsyncFnMut(&mut Transaction<'_>) -> Result<T, E>,
{
    // One attempt at a time holds the source and the body; the lock is
    // never contended, it only lets each attempt's future borrow them.
    let state = tokio::sync::Mutex::new((source, &mut body));
    let operation = |_| async {
        let mut guard = state.lock().await;
        let (source, body) = &mut *guard;
        attempt(&mut **source, &mut **body, options).await
    };
    run_on::<ToResult, _, _, _, _, _, _, _, _>(site, &Tokio, operation).await
}

/// One attempt: a client, `BEGIN`, the body, `COMMIT` (or `ROLLBACK`).
async fn attempt<S, T, E, F>(
    source: &mut S,
    body: &mut F,
    options: TransactionOptions,
) -> Result<T, TransactionError<E>>
where
    S: ClientSource + ?Sized,
    F: AsyncFnMut(&mut Transaction<'_>) -> Result<T, E>,
{
    let client = source
        .client()
        .await
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
    let mut tx = builder.start().await.map_err(TransactionError::Begin)?;
    match body(&mut tx).await {
        Ok(value) => match tx.commit().await {
            Ok(()) => Ok(value),
            Err(error) => Err(TransactionError::Commit(CommitError::new(error))),
        },
        Err(error) => {
            // The body's error is the one that matters; a rollback on a
            // lost connection fails too, and the server rolls back anyway.
            let _ = tx.rollback().await;
            Err(TransactionError::Body(error))
        }
    }
}
