//! The blocking transaction helper (the `postgres` crate) against a real
//! PostgreSQL: a real serialization failure between two threads, and a
//! server restart waited out with `Reconnect`. Without `REDRESS_PG_URL`
//! these tests skip (and say how to run them); under CI they fail instead.
#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use postgres::{Client, IsolationLevel, NoTls};
use redress::backoff::constant;
use redress::prelude::*;
use redress_postgres::TransactionOptions;
use redress_postgres::blocking::{self, Reconnect};
use redress_test_services::{Postgres, pg_query, pg_url};

fn unique(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "redress_pb_{what}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn number(url: &str, sql: &str) -> i64 {
    let rows = pg_query(url, sql).unwrap();
    rows[0][0].as_deref().unwrap().parse().unwrap()
}

type Tags = Arc<Mutex<Vec<(Option<ErrorClass>, Option<&'static str>)>>>;

fn record(tags: &Tags) -> impl Fn(&Event<'_>) + Send + Sync + use<> {
    let tags = Arc::clone(tags);
    move |e| {
        if e.kind == EventKind::Retry {
            tags.lock().unwrap().push((e.class, e.error_type));
        }
    }
}

#[test]
fn a_real_serialization_failure_is_retried_and_both_transactions_commit() {
    let Some(url) = pg_url() else { return };
    let table = unique("serial");
    pg_query(
        &url,
        &format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, n INT8 NOT NULL);
             INSERT INTO {table} VALUES (1, 0)"
        ),
    )
    .unwrap();
    let policy = Arc::new(
        Policy::builder()
            .classifier(redress_postgres::classifier())
            .strategy(constant(Duration::from_millis(20)))
            .build()
            .unwrap(),
    );
    let barrier = Arc::new(Barrier::new(2));
    let tags = Tags::default();

    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (policy, barrier, tags, table, url) = (
                Arc::clone(&policy),
                Arc::clone(&barrier),
                Arc::clone(&tags),
                table.clone(),
                url.clone(),
            );
            std::thread::spawn(move || {
                let mut client = Client::connect(&url, NoTls).unwrap();
                let attempts = AtomicU32::new(0);
                let site = policy.bind().on_event(record(&tags));
                let serializable =
                    TransactionOptions::new().isolation_level(IsolationLevel::Serializable);
                let read = blocking::transaction_with(&site, &mut client, serializable, |tx| {
                    let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                    let n: i64 = tx
                        .query_one(&format!("SELECT n FROM {table} WHERE id = 1"), &[])?
                        .get(0);
                    if attempt == 1 {
                        barrier.wait();
                    }
                    tx.execute(
                        &format!("UPDATE {table} SET n = $1 WHERE id = 1"),
                        &[&(n + 1)],
                    )?;
                    Ok::<_, postgres::Error>(n)
                })
                .unwrap();
                (read, attempts.load(Ordering::SeqCst))
            })
        })
        .collect();
    let mut outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    outcomes.sort();

    assert_eq!(outcomes, [(0, 1), (1, 2)]);
    assert_eq!(number(&url, &format!("SELECT n FROM {table}")), 2);
    assert_eq!(
        *tags.lock().unwrap(),
        [(Some(ErrorClass::Concurrency), Some("40001"))]
    );
    pg_query(&url, &format!("DROP TABLE {table}")).unwrap();
}

#[test]
fn a_restarted_server_is_waited_out_with_reconnect() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let url = pg.url().to_owned();
    pg.query("CREATE TABLE counter (n INT8 NOT NULL); INSERT INTO counter VALUES (0)")
        .unwrap();
    let pg = Arc::new(Mutex::new(pg));
    let mut source = Reconnect::new(|| Client::connect(&url, NoTls));
    let policy = Policy::builder()
        .classifier(redress_postgres::classifier())
        .strategy(constant(Duration::from_millis(50)))
        .max_attempts(1000)
        .build()
        .unwrap();
    let tags = Tags::default();
    // The first failure after the stop brings the server back (restart
    // waits until it accepts connections).
    let restart = {
        let (pg, record) = (Arc::clone(&pg), record(&tags));
        move |e: &Event<'_>| {
            record(e);
            if e.kind == EventKind::Retry && e.attempt == 1 {
                pg.lock().unwrap().restart().unwrap();
            }
        }
    };
    let site = policy.bind().on_event(restart);
    let ran = AtomicU32::new(0);

    let n = blocking::transaction(&site, &mut source, |tx| {
        let attempt = ran.fetch_add(1, Ordering::SeqCst) + 1;
        tx.execute("UPDATE counter SET n = n + 1", &[])?;
        if attempt == 1 {
            // The server stops in the middle of the transaction.
            pg.lock().unwrap().stop().unwrap();
        }
        Ok::<_, postgres::Error>(tx.query_one("SELECT n FROM counter", &[])?.get::<_, i64>(0))
    })
    .unwrap();

    assert_eq!(n, 1);
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    let tags = tags.lock().unwrap().clone();
    assert!(!tags.is_empty());
    assert!(
        tags.iter()
            .all(|(class, _)| *class == Some(ErrorClass::Transient)),
        "{tags:?}"
    );
    drop(site);
    let pg = Arc::into_inner(pg).unwrap().into_inner().unwrap();
    assert_eq!(
        pg.query("SELECT n FROM counter").unwrap(),
        [[Some("1".to_owned())]]
    );
}
