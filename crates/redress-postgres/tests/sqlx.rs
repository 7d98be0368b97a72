//! The classifier for `sqlx::Error` against a real PostgreSQL: a real
//! serialization failure retried by running the whole sqlx transaction
//! again, and errors classified by their SQLSTATE or by what failed.
//! Without `REDRESS_PG_URL` these tests skip (and say how to run them);
//! under CI they fail instead.
#![cfg(feature = "sqlx")]
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

use redress::Classifier;
use redress::backoff::constant;
use redress::prelude::*;
use redress_test_services::{pg_query, pg_url};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::Barrier;

fn unique(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "redress_sx_{what}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_serialization_failure_is_retried_by_running_the_transaction_again() {
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
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    let policy = Arc::new(
        Policy::builder()
            .classifier(redress_postgres::classifier())
            .strategy(constant(Duration::from_millis(20)))
            .build()
            .unwrap(),
    );
    let barrier = Arc::new(Barrier::new(2));
    let tags = Arc::new(Mutex::new(Vec::new()));

    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (pool, policy, barrier, tags, table) = (
            pool.clone(),
            Arc::clone(&policy),
            Arc::clone(&barrier),
            Arc::clone(&tags),
            table.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let attempts = AtomicU32::new(0);
            let site = policy.bind().on_event(move |e: &Event<'_>| {
                if e.kind == EventKind::Retry {
                    tags.lock().unwrap().push((e.class, e.error_type));
                }
            });
            // The whole transaction is the operation: a new one each attempt.
            let read = site
                .call_async(|| async {
                    let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                    let mut tx = pool.begin().await?;
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                        .execute(&mut *tx)
                        .await?;
                    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT n FROM {table} WHERE id = 1"
                    )))
                    .fetch_one(&mut *tx)
                    .await?;
                    if attempt == 1 {
                        barrier.wait().await;
                    }
                    sqlx::query(AssertSqlSafe(format!(
                        "UPDATE {table} SET n = $1 WHERE id = 1"
                    )))
                    .bind(n + 1)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(n)
                })
                .await
                .unwrap();
            (read, attempts.load(Ordering::SeqCst))
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes.sort();

    assert_eq!(outcomes, [(0, 1), (1, 2)]);
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT n FROM {table}")))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        *tags.lock().unwrap(),
        [(Some(ErrorClass::Concurrency), Some("40001"))]
    );
    pg_query(&url, &format!("DROP TABLE {table}")).unwrap();
}

#[tokio::test]
async fn sqlx_errors_are_classified_by_sqlstate_or_by_what_failed() {
    let Some(url) = pg_url() else { return };
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let classify = |e: &sqlx::Error| {
        let c = redress_postgres::classifier().classify(e);
        (c.class, c.tag.unwrap())
    };

    let syntax = sqlx::query("SELEC 1").execute(&pool).await.unwrap_err();
    assert_eq!(classify(&syntax), (ErrorClass::Permanent, "42601"));
    let none = sqlx::query("SELECT 1 WHERE false")
        .fetch_one(&pool)
        .await
        .unwrap_err();
    assert_eq!(classify(&none), (ErrorClass::Permanent, "row_not_found"));
    let zero = sqlx::query("SELECT 1 / 0")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(classify(&zero), (ErrorClass::Permanent, "22012"));

    // A server that is not there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect(&format!("postgres://redress@127.0.0.1:{port}/redress"))
        .await
        .unwrap_err();
    assert_eq!(classify(&refused).0, ErrorClass::Transient, "{refused:?}");

    // Inside an error of the application's own.
    #[derive(Debug, thiserror::Error)]
    #[error("loading the report")]
    struct ReportError(#[source] sqlx::Error);
    let c = redress_postgres::classifier().classify(&ReportError(syntax));
    assert_eq!(c.tag, Some("42601"));
}
