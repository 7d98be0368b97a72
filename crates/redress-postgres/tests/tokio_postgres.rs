//! The async transaction helper and the classifier against a real
//! PostgreSQL (tokio-postgres): real serialization failures, deadlocks,
//! a server stopped mid-run, `53300`, a commit whose outcome is unknown,
//! and the client's own errors. Without `REDRESS_PG_URL` these tests skip
//! (and say how to run them); under CI they fail instead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;
use redress::{Classifier, PolicyBuilder};
use redress_postgres::{PgClassifier, Reconnect, TransactionError, TransactionOptions};
use redress_test_services::{Postgres, pg_query, pg_url};
use tokio::sync::Barrier;
use tokio_postgres::{Client, IsolationLevel, NoTls};

/// A name of our own on the shared server.
fn unique(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "redress_tp_{what}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn policy_builder() -> PolicyBuilder<PgClassifier> {
    Policy::builder()
        .classifier(redress_postgres::classifier())
        .strategy(constant(Duration::from_millis(20)))
        .max_attempts(10)
}

async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

type Connect = Box<
    dyn FnMut() -> std::pin::Pin<
            Box<dyn Future<Output = Result<Client, tokio_postgres::Error>> + Send>,
        > + Send,
>;

fn reconnect(url: &str) -> Reconnect<Connect> {
    let url = url.to_owned();
    Reconnect::new(Box::new(move || {
        let url = url.clone();
        Box::pin(async move { connect(&url).await })
    }))
}

type SeenEvent = (EventKind, Option<ErrorClass>, Option<&'static str>);

/// The events of a call site.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<SeenEvent>>>);

impl Seen {
    fn hook(&self) -> impl Fn(&Event<'_>) + Send + Sync + use<> {
        let events = Arc::clone(&self.0);
        move |e| events.lock().unwrap().push((e.kind, e.class, e.error_type))
    }

    fn retries(&self) -> Vec<(Option<ErrorClass>, Option<&'static str>)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(kind, ..)| *kind == EventKind::Retry)
            .map(|(_, class, tag)| (*class, *tag))
            .collect()
    }
}

fn number(url: &str, sql: &str) -> i64 {
    let rows = pg_query(url, sql).unwrap();
    rows[0][0].as_deref().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_serialization_failure_is_retried_and_both_transactions_commit() {
    let Some(url) = pg_url() else { return };
    let table = unique("serial");
    pg_query(
        &url,
        &format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, n INT8 NOT NULL);
             INSERT INTO {table} VALUES (1, 0), (2, 0);
             CREATE TABLE {table}_log (id SERIAL PRIMARY KEY, seen INT8 NOT NULL)"
        ),
    )
    .unwrap();
    let policy = Arc::new(policy_builder().build().unwrap());
    let barrier = Arc::new(Barrier::new(2));
    let seen = Seen::default();

    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (policy, barrier, seen, table) = (
            Arc::clone(&policy),
            Arc::clone(&barrier),
            seen.clone(),
            table.clone(),
        );
        let mut client = connect(&url).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let serializable =
                TransactionOptions::new().isolation_level(IsolationLevel::Serializable);
            let attempts = Arc::new(AtomicU32::new(0));
            let counted = Arc::clone(&attempts);
            let site = policy.bind().on_event(seen.hook());
            let result = redress_postgres::transaction_with(
                &site,
                &mut client,
                serializable,
                async move |tx| {
                    let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
                    // Read-modify-write of both rows, from this
                    // transaction's snapshot.
                    let row = tx
                        .query_one(&format!("SELECT n FROM {table} WHERE id = 1"), &[])
                        .await?;
                    let n: i64 = row.get(0);
                    if attempt == 1 {
                        // Both take their snapshot before either writes.
                        barrier.wait().await;
                    }
                    for id in [1, 2] {
                        tx.execute(
                            &format!("UPDATE {table} SET n = $1 WHERE id = {id}"),
                            &[&(n + 1)],
                        )
                        .await?;
                    }
                    tx.execute(
                        &format!("INSERT INTO {table}_log (seen) VALUES ($1)"),
                        &[&n],
                    )
                    .await?;
                    Ok::<_, tokio_postgres::Error>(n)
                },
            )
            .await;
            (result, attempts.load(Ordering::SeqCst))
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        let (result, attempts) = task.await.unwrap();
        outcomes.push((result.unwrap(), attempts));
    }
    outcomes.sort();

    // The serial result: one read 0 and wrote 1, the other, run again,
    // read 1 and wrote 2. Nothing lost, nothing applied twice.
    assert_eq!(outcomes, [(0, 1), (1, 2)]);
    assert_eq!(
        number(&url, &format!("SELECT n FROM {table} WHERE id = 1")),
        2
    );
    assert_eq!(
        number(&url, &format!("SELECT n FROM {table} WHERE id = 2")),
        2
    );
    assert_eq!(
        number(&url, &format!("SELECT count(*) FROM {table}_log")),
        2
    );
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Concurrency), Some("40001"))]
    );
    pg_query(&url, &format!("DROP TABLE {table}, {table}_log")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_deadlock_is_retried_and_both_transactions_commit() {
    let Some(url) = pg_url() else { return };
    let table = unique("deadlock");
    pg_query(
        &url,
        &format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, n INT8 NOT NULL);
             INSERT INTO {table} VALUES (1, 0), (2, 0)"
        ),
    )
    .unwrap();
    let policy = Arc::new(policy_builder().build().unwrap());
    let barrier = Arc::new(Barrier::new(2));
    let seen = Seen::default();

    let mut tasks = Vec::new();
    for order in [[1, 2], [2, 1]] {
        let (policy, barrier, seen, table) = (
            Arc::clone(&policy),
            Arc::clone(&barrier),
            seen.clone(),
            table.clone(),
        );
        let mut client = connect(&url).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let attempts = Arc::new(AtomicU32::new(0));
            let counted = Arc::clone(&attempts);
            let site = policy.bind().on_event(seen.hook());
            let result = redress_postgres::transaction(&site, &mut client, async move |tx| {
                let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
                let [first, second] = order;
                tx.execute(
                    &format!("UPDATE {table} SET n = n + 1 WHERE id = {first}"),
                    &[],
                )
                .await?;
                if attempt == 1 {
                    // Each holds its first row; now each asks for the other's.
                    barrier.wait().await;
                }
                tx.execute(
                    &format!("UPDATE {table} SET n = n + 1 WHERE id = {second}"),
                    &[],
                )
                .await
            })
            .await;
            (result, attempts.load(Ordering::SeqCst))
        }));
    }
    let mut attempts = Vec::new();
    for task in tasks {
        let (result, n) = task.await.unwrap();
        assert_eq!(result.unwrap(), 1);
        attempts.push(n);
    }
    attempts.sort();

    // PostgreSQL broke the deadlock by failing one; it ran again.
    assert_eq!(attempts, [1, 2]);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Concurrency), Some("40P01"))]
    );
    assert_eq!(number(&url, &format!("SELECT sum(n) FROM {table}")), 4);
    pg_query(&url, &format!("DROP TABLE {table}")).unwrap();
}

/// Runs `Postgres::stop` and `restart` on a thread of their own (they
/// block), on request.
struct Operator {
    requests: std::sync::mpsc::Sender<(&'static str, tokio::sync::oneshot::Sender<()>)>,
    thread: Option<std::thread::JoinHandle<Postgres>>,
}

impl Operator {
    fn new(mut pg: Postgres) -> Operator {
        let (requests, orders) =
            std::sync::mpsc::channel::<(&'static str, tokio::sync::oneshot::Sender<()>)>();
        let thread = std::thread::spawn(move || {
            for (order, done) in orders {
                match order {
                    "stop" => pg.stop().unwrap(),
                    "restart" => pg.restart().unwrap(),
                    _ => unreachable!(),
                }
                let _ = done.send(());
            }
            pg
        });
        Operator {
            requests,
            thread: Some(thread),
        }
    }

    /// Asks for `order`; the receiver completes when it is done.
    fn ask(&self, order: &'static str) -> tokio::sync::oneshot::Receiver<()> {
        let (done, finished) = tokio::sync::oneshot::channel();
        self.requests.send((order, done)).unwrap();
        finished
    }

    fn finish(mut self) -> Postgres {
        let (requests, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.requests, requests));
        self.thread.take().unwrap().join().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_mid_transaction_is_waited_out_and_nothing_is_applied_twice() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let url = pg.url().to_owned();
    pg.query("CREATE TABLE counter (id INT PRIMARY KEY, n INT8 NOT NULL); INSERT INTO counter VALUES (1, 0)")
        .unwrap();
    let operator = Arc::new(Operator::new(pg));
    let policy = policy_builder()
        .strategy(constant(Duration::from_millis(50)))
        .max_attempts(1000)
        .deadline(Duration::from_secs(120))
        .build()
        .unwrap();
    let seen = Seen::default();
    // The first failed reconnection (the server is down) brings it back.
    let restarted = Arc::new(Mutex::new(None));
    let site = policy.bind().on_event({
        let (operator, restarted, record) =
            (Arc::clone(&operator), Arc::clone(&restarted), seen.hook());
        move |e: &Event<'_>| {
            record(e);
            if e.kind == EventKind::Retry && e.error_type == Some("connect") {
                let mut restarted = restarted.lock().unwrap();
                if restarted.is_none() {
                    *restarted = Some(operator.ask("restart"));
                }
            }
        }
    });
    let mut source = reconnect(&url);
    let attempts = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&attempts);
    let stopper = Arc::clone(&operator);

    let n = redress_postgres::transaction(&site, &mut source, async move |tx| {
        let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
        tx.execute("UPDATE counter SET n = n + 1 WHERE id = 1", &[])
            .await?;
        if attempt == 1 {
            // The server goes away in the middle of the transaction.
            stopper.ask("stop").await.unwrap();
        }
        let row = tx
            .query_one("SELECT n FROM counter WHERE id = 1", &[])
            .await?;
        Ok::<_, tokio_postgres::Error>(row.get::<_, i64>(0))
    })
    .await
    .unwrap();

    // The first attempt's update died with the server; the one that
    // committed is the only one applied.
    assert_eq!(n, 1);
    let retries = seen.retries();
    assert!(retries.len() >= 2, "{retries:?}");
    assert!(
        retries
            .iter()
            .all(|(class, _)| *class == Some(ErrorClass::Transient)),
        "{retries:?}"
    );
    assert!(
        retries.iter().any(|(_, tag)| *tag == Some("connect")),
        "{retries:?}"
    );
    // The body ran twice: once when the server went away, once after it
    // came back; the attempts in between could not connect.
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    drop(site);
    let restarted = restarted.lock().unwrap().take().unwrap();
    restarted.await.unwrap();
    let pg = Arc::into_inner(operator).unwrap().finish();
    assert_eq!(
        pg.query("SELECT n FROM counter").unwrap(),
        [[Some("1".to_owned())]]
    );
}

#[tokio::test]
async fn a_server_that_stays_down_ends_the_call_at_its_deadline_with_the_last_error() {
    let Some(mut pg) = Postgres::start_or_skip() else {
        return;
    };
    let url = pg.url().to_owned();
    let mut source = reconnect(&url);
    // Connected once, then the server goes away for good.
    redress_postgres::transaction(
        &policy_builder().build().unwrap(),
        &mut source,
        async |tx| tx.execute("SELECT 1", &[]).await,
    )
    .await
    .unwrap();
    pg.stop().unwrap();

    let policy = policy_builder()
        .strategy(constant(Duration::from_millis(100)))
        .max_attempts(1000)
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = redress_postgres::transaction(&policy, &mut source, async |tx| {
        tx.execute("SELECT 1", &[]).await
    })
    .await
    .unwrap_err();

    assert_eq!(err.stop_reason, StopReason::DeadlineExceeded);
    assert!(err.attempts >= 2);
    assert_eq!(err.last_class, Some(ErrorClass::Transient));
    let last = err.last_error().unwrap();
    assert!(matches!(last, TransactionError::Connect(_)), "{last:?}");
    let c = redress_postgres::classifier().classify(last);
    assert_eq!(c.tag, Some("connect"));
}

#[tokio::test]
async fn too_many_connections_is_a_rate_limit_that_passes_when_one_is_freed() {
    let Some(url) = pg_url() else { return };
    let role = unique("limited");
    pg_query(
        &url,
        &format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 1"),
    )
    .unwrap();
    let role_url = url.replacen("://redress@", &format!("://{role}@"), 1);
    // The one connection the role may have.
    let holder = Arc::new(Mutex::new(Some(connect(&role_url).await.unwrap())));
    let seen = Seen::default();
    let policy = policy_builder().max_attempts(200).build().unwrap();
    let site = policy.bind().on_event({
        let (holder, record) = (Arc::clone(&holder), seen.hook());
        move |e: &Event<'_>| {
            record(e);
            if e.kind == EventKind::Retry {
                // Refused once: free the slot.
                holder.lock().unwrap().take();
            }
        }
    });
    let mut source = reconnect(&role_url);

    let user: String = redress_postgres::transaction(&site, &mut source, async |tx| {
        Ok::<_, tokio_postgres::Error>(tx.query_one("SELECT current_user::TEXT", &[]).await?.get(0))
    })
    .await
    .unwrap();

    assert_eq!(user, role);
    let retries = seen.retries();
    assert!(!retries.is_empty());
    assert!(
        retries
            .iter()
            .all(|r| *r == (Some(ErrorClass::RateLimit), Some("53300"))),
        "{retries:?}"
    );
    drop(source);
    // The role's connections may take a moment to go; dropping it is best effort.
    let _ = pg_query(&url, &format!("DROP ROLE {role}"));
}

/// A table whose updates make `COMMIT` slow (a deferred constraint
/// trigger that sleeps) when `redress.slow_commit` is on.
fn slow_commit_table(url: &str) -> String {
    let table = unique("commit");
    pg_query(
        url,
        &format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, n INT8 NOT NULL);
             INSERT INTO {table} VALUES (1, 0);
             CREATE FUNCTION {table}_slow() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF current_setting('redress.slow_commit', true) = 'on' THEN
                     PERFORM pg_sleep(60);
                 END IF;
                 RETURN NULL;
             END $$;
             CREATE CONSTRAINT TRIGGER {table}_slow AFTER UPDATE ON {table}
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {table}_slow()"
        ),
    )
    .unwrap();
    table
}

/// Terminates the backend whose pid arrives on the channel once it is
/// inside `COMMIT`: the connection dies before the server answers it.
fn kill_during_commit(url: String) -> std::sync::mpsc::Sender<i32> {
    let (pids, pid) = std::sync::mpsc::channel::<i32>();
    std::thread::spawn(move || {
        let Ok(pid) = pid.recv() else { return };
        loop {
            let rows = pg_query(
                &url,
                &format!("SELECT 1 FROM pg_stat_activity WHERE pid = {pid} AND query = 'COMMIT' AND wait_event = 'PgSleep'"),
            )
            .unwrap();
            if !rows.is_empty() {
                pg_query(&url, &format!("SELECT pg_terminate_backend({pid})")).unwrap();
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    pids
}

/// The body of the commit tests: the first attempt's commit is slow and
/// gets its connection killed.
async fn bump(
    tx: &mut tokio_postgres::Transaction<'_>,
    table: &str,
    killer: &Mutex<Option<std::sync::mpsc::Sender<i32>>>,
) -> Result<(), tokio_postgres::Error> {
    let first = killer.lock().unwrap().take();
    if let Some(killer) = first {
        tx.batch_execute("SET LOCAL redress.slow_commit = 'on'")
            .await?;
        let pid: i32 = tx.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
        killer.send(pid).unwrap();
    }
    tx.execute(&format!("UPDATE {table} SET n = n + 1 WHERE id = 1"), &[])
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_connection_lost_during_commit_is_ambiguous_and_not_retried_by_default() {
    let Some(url) = pg_url() else { return };
    let table = slow_commit_table(&url);
    let killer = Arc::new(Mutex::new(Some(kill_during_commit(url.clone()))));
    let policy = policy_builder().build().unwrap();
    let mut source = reconnect(&url);

    let err = redress_postgres::transaction(&policy, &mut source, async |tx| {
        bump(tx, &table, &killer).await
    })
    .await
    .unwrap_err();

    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(err.attempts, 1);
    let last = err.last_error().unwrap();
    assert!(last.is_ambiguous(), "{last:?}");
    let c = redress_postgres::classifier().classify(last);
    assert_eq!(
        (c.class, c.tag),
        (ErrorClass::Permanent, Some("commit_unknown"))
    );
    assert_eq!(c.details.get("commit"), Some("unknown"));
    // Here the server had not committed; the client could not know that.
    assert_eq!(number(&url, &format!("SELECT n FROM {table}")), 0);
    pg_query(&url, &format!("DROP TABLE {table}")).unwrap();
}

#[tokio::test]
async fn an_idempotent_transaction_may_opt_in_to_retrying_an_ambiguous_commit() {
    let Some(url) = pg_url() else { return };
    let table = slow_commit_table(&url);
    let killer = Arc::new(Mutex::new(Some(kill_during_commit(url.clone()))));
    let policy = Policy::builder()
        .classifier(redress_postgres::classifier().retry_ambiguous_commits())
        .strategy(constant(Duration::from_millis(20)))
        .build()
        .unwrap();
    let seen = Seen::default();
    let site = policy.bind().on_event(seen.hook());
    let mut source = reconnect(&url);

    redress_postgres::transaction(&site, &mut source, async |tx| {
        bump(tx, &table, &killer).await
    })
    .await
    .unwrap();

    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("commit_unknown"))]
    );
    assert_eq!(number(&url, &format!("SELECT n FROM {table}")), 1);
    pg_query(&url, &format!("DROP TABLE {table}")).unwrap();
}

#[tokio::test]
async fn body_errors_roll_back_and_come_back_to_the_caller() {
    let Some(url) = pg_url() else { return };
    let table = unique("body");
    pg_query(&url, &format!("CREATE TABLE {table} (id INT PRIMARY KEY)")).unwrap();
    let mut client = connect(&url).await.unwrap();
    let policy = policy_builder().build().unwrap();

    #[derive(Debug, thiserror::Error)]
    enum TransferError {
        #[error("insufficient funds")]
        InsufficientFunds,
        #[error(transparent)]
        Db(#[from] tokio_postgres::Error),
    }
    let insert = format!("INSERT INTO {table} VALUES (1)");
    let err = redress_postgres::transaction(&policy, &mut client, async |tx| {
        tx.execute(&insert, &[]).await?;
        Err::<(), _>(TransferError::InsufficientFunds)
    })
    .await
    .unwrap_err();
    // Not a database error: the strict fallback says UNKNOWN, capped.
    assert_eq!(err.stop_reason, StopReason::MaxUnknownAttempts);
    assert!(matches!(
        err.last_error().unwrap().body(),
        Some(TransferError::InsufficientFunds)
    ));
    // Rolled back every time.
    assert_eq!(number(&url, &format!("SELECT count(*) FROM {table}")), 0);

    // A duplicate key is PERMANENT: one attempt.
    pg_query(&url, &format!("INSERT INTO {table} VALUES (1)")).unwrap();
    let err = redress_postgres::transaction(&policy, &mut client, async |tx| {
        tx.execute(&insert, &[]).await?;
        Ok::<_, TransferError>(())
    })
    .await
    .unwrap_err();
    assert_eq!(err.stop_reason, StopReason::NonRetryableClass);
    assert_eq!(err.attempts, 1);
    let c = redress_postgres::classifier().classify(err.last_error().unwrap());
    assert_eq!((c.class, c.tag), (ErrorClass::Permanent, Some("23505")));
    assert_eq!(c.details.get("sqlstate"), Some("23505"));
    pg_query(&url, &format!("DROP TABLE {table}")).unwrap();
}

#[tokio::test]
async fn the_clients_own_errors_are_classified_by_what_they_say() {
    let Some(url) = pg_url() else { return };
    let client = connect(&url).await.unwrap();
    let classify = |e: &tokio_postgres::Error| {
        let c = redress_postgres::classify_pg_error(e);
        (c.class, c.tag.unwrap())
    };
    let permanent_client = (ErrorClass::Permanent, "client");

    let none = client
        .query_one("SELECT 1 WHERE false", &[])
        .await
        .unwrap_err();
    assert_eq!(classify(&none), permanent_client);
    let row = client
        .query_one("SELECT 1::INT4 AS one", &[])
        .await
        .unwrap();
    assert_eq!(
        classify(&row.try_get::<_, i32>("two").unwrap_err()),
        permanent_client
    );
    assert_eq!(
        classify(&row.try_get::<_, String>(0).unwrap_err()),
        permanent_client
    );
    let params = client.query("SELECT $1::INT4", &[]).await.unwrap_err();
    assert_eq!(classify(&params), permanent_client);

    let syntax = client.query("SELEC 1", &[]).await.unwrap_err();
    assert_eq!(classify(&syntax), (ErrorClass::Permanent, "42601"));
    let missing = client
        .query("SELECT * FROM redress_no_such_table", &[])
        .await
        .unwrap_err();
    assert_eq!(classify(&missing), (ErrorClass::Permanent, "42P01"));

    // A role without the privilege.
    let role = unique("reader");
    let table = unique("private");
    pg_query(
        &url,
        &format!("CREATE ROLE {role}; CREATE TABLE {table} (id INT)"),
    )
    .unwrap();
    client
        .batch_execute(&format!("SET ROLE {role}"))
        .await
        .unwrap();
    let denied = client
        .query(&format!("SELECT * FROM {table}"), &[])
        .await
        .unwrap_err();
    assert_eq!(classify(&denied), (ErrorClass::Permission, "42501"));
    client.batch_execute("RESET ROLE").await.unwrap();
    pg_query(&url, &format!("DROP TABLE {table}; DROP ROLE {role}")).unwrap();

    // A server that is not there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = connect(&format!("postgres://redress@127.0.0.1:{port}/redress"))
        .await
        .unwrap_err();
    assert_eq!(classify(&refused), (ErrorClass::Transient, "connect"));

    // A client whose connection is gone.
    let (orphan, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    drop(connection);
    let closed = orphan.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(classify(&closed), (ErrorClass::Transient, "closed"));
}
