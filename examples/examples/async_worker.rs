//! An async worker loop with retries and a cooperative shutdown.
//!
//! Jobs come from a channel; each is processed under a policy. A shutdown
//! signal, set from another task, stops the job in flight at its next check
//! (reporting what it last saw) and ends the loop.
//!
//! `cargo run -p redress-examples --example async_worker`

#![allow(clippy::print_stdout, clippy::arithmetic_side_effects)]

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use redress::AbortSignal;
use redress::backoff::constant;
use redress::prelude::*;
use tokio::sync::mpsc;

#[derive(Debug)]
struct Job {
    id: u32,
    /// How many attempts fail before the job succeeds.
    failures: u32,
}

async fn process(job: &Job, attempt: u32) -> Result<String, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    if attempt <= job.failures {
        Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
    } else {
        Ok(format!("job {} done", job.id))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::builder()
        .strategy(constant(Duration::from_millis(20)))
        .max_attempts(50)
        .build()?;
    let shutdown = Arc::new(AbortSignal::new());
    let (jobs, mut queue) = mpsc::channel::<Job>(8);

    // A producer: three jobs; the last never succeeds in time.
    tokio::spawn(async move {
        for (id, failures) in [(1, 0), (2, 2), (3, 1000)] {
            let _ = jobs.send(Job { id, failures }).await;
        }
    });
    // Shutdown is requested while job 3 is still retrying.
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        println!("shutdown requested");
        trigger.abort();
    });

    let site = policy.operation("process_job").hooks(shutdown.clone());
    while let Some(job) = queue.recv().await {
        let mut attempt = 0;
        let outcome = site
            .execute_async(|| {
                attempt += 1;
                let n = attempt;
                let job = &job;
                async move { process(job, n).await }
            })
            .await;
        match (&outcome.result, outcome.stop_reason) {
            (Ok(done), _) => println!("{done} after {} attempts", outcome.attempts),
            (Err(_), Some(StopReason::Aborted)) => {
                println!(
                    "job {} stopped by shutdown after {} attempts; last error: {:?}",
                    job.id,
                    outcome.attempts,
                    outcome.last_error().map(ToString::to_string)
                );
                break;
            }
            (Err(_), reason) => println!("job {} failed: {reason:?}", job.id),
        }
    }
    Ok(())
}
