//! SQLSTATE classification and whole-transaction retries with the
//! blocking `postgres` client: how the table classes a few codes, then
//! two threads that lock the same rows in opposite order until PostgreSQL
//! detects the deadlock (`40P01`), and `redress::postgres::blocking`
//! running the losing transaction again.
//!
//! It needs a PostgreSQL server in `REDRESS_PG_URL`:
//!
//! ```sh
//! cargo xtask services up            # a private PostgreSQL on 127.0.0.1
//! eval "$(cargo xtask services env)"
//! cargo run -p redress-examples --example postgres_blocking
//! cargo xtask services down
//! ```
//!
//! It creates the table `redress_example_stock` and drops it at the end.
//! (PostgreSQL waits `deadlock_timeout`, one second by default, before it
//! looks for a deadlock.)
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use postgres::{Client, NoTls};
use redress::backoff::{constant, equal_jitter};
use redress::postgres::blocking::{self, Reconnect};
use redress::prelude::*;

const TABLE: &str = "redress_example_stock";

fn main() -> Result<(), Box<dyn Error>> {
    let Ok(url) = std::env::var("REDRESS_PG_URL") else {
        eprintln!(
            "REDRESS_PG_URL is not set. Start a PostgreSQL with `cargo xtask services up`, \
             then `eval \"$(cargo xtask services env)\"` and run this again."
        );
        std::process::exit(2);
    };

    println!("How the SQLSTATE table classes a few codes:");
    for code in [
        "40001", "40P01", "55P03", "57P01", "08006", "53300", "28P01", "42501", "23505", "42P01",
    ] {
        let c = redress::postgres::classify_sqlstate(code);
        println!(
            "  {code} {:<32} {:<12} retried: {}",
            redress::postgres::sqlstate_name(code).unwrap_or("?"),
            c.class.name(),
            c.class.is_retryable()
        );
    }

    let mut admin = Client::connect(&url, NoTls)?;
    admin.batch_execute(&format!(
        "DROP TABLE IF EXISTS {TABLE};
         CREATE TABLE {TABLE} (sku TEXT PRIMARY KEY, count INT8 NOT NULL);
         INSERT INTO {TABLE} VALUES ('bolt', 100), ('nut', 100)"
    ))?;
    let policy = Arc::new(
        Policy::builder()
            .classifier(redress::postgres::classifier())
            .strategy(constant(Duration::from_millis(100)))
            .class_strategy(
                ErrorClass::Concurrency,
                equal_jitter()
                    .base(Duration::from_millis(5))
                    .max(Duration::from_millis(50)),
            )
            .build()?,
    );
    let barrier = Arc::new(Barrier::new(2));

    println!("Two threads reserve both parts, locking them in opposite order:");
    let threads: Vec<_> = [["bolt", "nut"], ["nut", "bolt"]]
        .into_iter()
        .map(|order| {
            let (policy, barrier, url) = (Arc::clone(&policy), Arc::clone(&barrier), url.clone());
            std::thread::spawn(move || -> Result<u32, String> {
                let mut source = Reconnect::new(|| Client::connect(&url, NoTls));
                let site = policy.bind().on_event(move |e: &Event<'_>| match e.kind {
                    EventKind::Retry => println!(
                        "  {} first: attempt {} failed with {} ({}), running the transaction again",
                        order[0],
                        e.attempt,
                        e.error_type.unwrap_or("?"),
                        e.class.map_or("?", ErrorClass::name)
                    ),
                    EventKind::Success => {
                        println!("  {} first: committed on attempt {}", order[0], e.attempt);
                    }
                    _ => {}
                });
                let attempts = AtomicU32::new(0);
                blocking::transaction(&site, &mut source, |tx| {
                    let attempt = attempts.fetch_add(1, Ordering::SeqCst).saturating_add(1);
                    for (i, sku) in order.iter().enumerate() {
                        tx.execute(
                            &format!("UPDATE {TABLE} SET count = count - 1 WHERE sku = $1"),
                            &[sku],
                        )?;
                        if i == 0 && attempt == 1 {
                            // Both hold their first row before asking for the second.
                            barrier.wait();
                        }
                    }
                    Ok::<_, postgres::Error>(attempt)
                })
                .map_err(|e| e.to_string())
            })
        })
        .collect();
    for thread in threads {
        thread.join().map_err(|_| "a thread panicked")??;
    }
    let counts: Vec<(String, i64)> = admin
        .query(&format!("SELECT sku, count FROM {TABLE} ORDER BY sku"), &[])?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    println!("stock {counts:?}: both reservations applied, once each");

    admin.batch_execute(&format!("DROP TABLE {TABLE}"))?;
    Ok(())
}
