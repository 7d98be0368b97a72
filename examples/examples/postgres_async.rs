//! Money transfers on PostgreSQL with tokio-postgres: concurrent
//! `SERIALIZABLE` transactions that really conflict, each run again as a
//! whole by `redress::postgres::transaction_with` until it commits, and an
//! overdraft (a check constraint) that is never retried.
//!
//! It needs a PostgreSQL server in `REDRESS_PG_URL`:
//!
//! ```sh
//! cargo xtask services up            # a private PostgreSQL on 127.0.0.1
//! eval "$(cargo xtask services env)"
//! cargo run -p redress-examples --example postgres_async
//! cargo xtask services down
//! ```
//!
//! It creates the table `redress_example_accounts` and drops it at the
//! end.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redress::backoff::{constant, equal_jitter};
use redress::postgres::{Reconnect, TransactionOptions};
use redress::prelude::*;
use tokio_postgres::{Client, IsolationLevel, NoTls};

const TABLE: &str = "redress_example_accounts";
const TRANSFERS: usize = 8;

async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let Ok(url) = std::env::var("REDRESS_PG_URL") else {
        eprintln!(
            "REDRESS_PG_URL is not set. Start a PostgreSQL with `cargo xtask services up`, \
             then `eval \"$(cargo xtask services env)\"` and run this again."
        );
        std::process::exit(2);
    };
    let admin = connect(&url).await?;
    admin
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {TABLE};
             CREATE TABLE {TABLE} (id INT PRIMARY KEY, balance INT8 NOT NULL CHECK (balance >= 0));
             INSERT INTO {TABLE} VALUES (1, 1000), (2, 1000)"
        ))
        .await?;

    // Conflicts retry soon, spread out; everything else waits a little.
    let policy = Arc::new(
        Policy::builder()
            .classifier(redress::postgres::classifier())
            .strategy(constant(Duration::from_millis(100)))
            .class_strategy(
                ErrorClass::Concurrency,
                equal_jitter()
                    .base(Duration::from_millis(5))
                    .max(Duration::from_millis(100)),
            )
            .max_attempts(20)
            .build()?,
    );
    let retries = Arc::new(AtomicUsize::new(0));
    let serializable = TransactionOptions::new().isolation_level(IsolationLevel::Serializable);

    println!("{TRANSFERS} concurrent transfers of 10 from account 1 to account 2:");
    let mut tasks = Vec::new();
    for n in 1..=TRANSFERS {
        let (policy, retries, url) = (Arc::clone(&policy), Arc::clone(&retries), url.clone());
        tasks.push(tokio::spawn(async move {
            // Reconnects if the connection is lost.
            let mut source = Reconnect::new(move || {
                let url = url.clone();
                async move { connect(&url).await }
            });
            let site = policy.bind().operation("transfer").on_event(move |e: &Event<'_>| {
                if e.kind == EventKind::Retry {
                    retries.fetch_add(1, Ordering::SeqCst);
                    println!(
                        "  transfer {n}: attempt {} failed with SQLSTATE {}, running the whole transaction again in {:?}",
                        e.attempt,
                        e.error_type.unwrap_or("?"),
                        e.delay
                    );
                }
            });
            redress::postgres::transaction_with(&site, &mut source, serializable, async move |tx| {
                let from: i64 = tx
                    .query_one(&format!("SELECT balance FROM {TABLE} WHERE id = 1"), &[])
                    .await?
                    .get(0);
                let to: i64 = tx
                    .query_one(&format!("SELECT balance FROM {TABLE} WHERE id = 2"), &[])
                    .await?
                    .get(0);
                tx.execute(
                    &format!("UPDATE {TABLE} SET balance = $1 WHERE id = 1"),
                    &[&from.saturating_sub(10)],
                )
                .await?;
                tx.execute(
                    &format!("UPDATE {TABLE} SET balance = $1 WHERE id = 2"),
                    &[&to.saturating_add(10)],
                )
                .await?;
                Ok::<_, tokio_postgres::Error>(from.saturating_sub(10))
            })
            .await
        }));
    }
    for task in tasks {
        task.await??;
    }
    let rows = admin
        .query(&format!("SELECT balance FROM {TABLE} ORDER BY id"), &[])
        .await?;
    let balances: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
    println!(
        "balances {balances:?} (every transfer applied once; total {}), after {} retries",
        balances.iter().sum::<i64>(),
        retries.load(Ordering::SeqCst)
    );

    println!("An overdraft breaks the CHECK constraint: PERMANENT, no retry:");
    let mut client = connect(&url).await?;
    let Err(err) = redress::postgres::transaction(&*policy, &mut client, async |tx| {
        tx.execute(
            &format!("UPDATE {TABLE} SET balance = balance - 5000 WHERE id = 1"),
            &[],
        )
        .await
    })
    .await
    else {
        return Err("the overdraft went through".into());
    };
    let sqlstate = err
        .last_error()
        .and_then(|e| e.body())
        .and_then(tokio_postgres::Error::code)
        .map(|code| code.code().to_owned());
    println!(
        "  -> {:?} after {} attempt, SQLSTATE {sqlstate:?}: {err}",
        err.stop_reason, err.attempts
    );

    admin.batch_execute(&format!("DROP TABLE {TABLE}")).await?;
    Ok(())
}
