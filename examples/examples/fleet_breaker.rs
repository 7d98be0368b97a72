//! One circuit breaker for a fleet of processes, shared through Redis.
//!
//! The example starts three replicas (this program, run again as child
//! processes). They call one dependency that is down for the first 1.5 s,
//! every 100 ms each, through a policy guarded by the same
//! `redress::redis::FleetBreaker`. No replica sees enough failures to open
//! a breaker of its own (the threshold is 6, the fleet's); together they
//! open it for everyone, one replica at a time probes, and the probe that
//! finds the dependency back closes it everywhere. Each replica prints what
//! it saw.
//!
//! It needs a Redis in `REDRESS_REDIS_URL`:
//!
//! ```sh
//! cargo xtask services up            # a private Redis on 127.0.0.1
//! eval "$(cargo xtask services env)"
//! cargo run -p redress-examples --example fleet_breaker
//! cargo xtask services down
//! ```
//!
//! Its keys live under a fresh prefix (`fleet-example-...`) and expire by
//! themselves.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::arithmetic_side_effects
)]

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redress::backoff::constant;
use redress::prelude::*;
use redress::redis::{FleetBreaker, FleetStore};
use redress::{CircuitState, ErrorClass, StopReason};

const REPLICAS: usize = 3;
const DOWN_FOR: Duration = Duration::from_millis(1500);
const RUN_FOR: Duration = Duration::from_millis(4000);

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn main() -> Result<(), Box<dyn Error>> {
    let Ok(url) = std::env::var("REDRESS_REDIS_URL") else {
        eprintln!(
            "REDRESS_REDIS_URL is not set. Start a Redis with `cargo xtask services up`, \
             then `eval \"$(cargo xtask services env)\"` and run this again."
        );
        std::process::exit(2);
    };
    match std::env::args().nth(1).as_deref() {
        Some("replica") => replica(&url),
        _ => fleet(),
    }
}

/// Starts the replicas and prints their lines as they come.
fn fleet() -> Result<(), Box<dyn Error>> {
    let start = unix_ms();
    let prefix = format!("fleet-example-{}-{start}", std::process::id());
    println!(
        "{REPLICAS} replicas share the breaker `{prefix}:breaker:dependency` \
         (threshold 6, recovery 1s, sync every 100ms); the dependency is down for {DOWN_FOR:?}\n"
    );
    let mut children = Vec::new();
    for index in 1..=REPLICAS {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("replica")
            .env("FLEET_PREFIX", &prefix)
            .env("FLEET_START_MS", start.to_string())
            .env("FLEET_INDEX", index.to_string())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let printer = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("{line}");
            }
        });
        children.push((child, printer));
    }
    let mut ok = true;
    for (mut child, printer) in children {
        ok &= child.wait()?.success();
        let _ = printer.join();
    }
    if !ok {
        return Err("a replica failed".into());
    }
    Ok(())
}

#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("503 from the dependency")
    }
}

impl Error for Down {}

fn env_number(name: &str) -> Result<u128, Box<dyn Error>> {
    Ok(std::env::var(name)?.parse()?)
}

/// One replica: a call every 100 ms, printing what happens.
#[tokio::main]
async fn replica(url: &str) -> Result<(), Box<dyn Error>> {
    let start = env_number("FLEET_START_MS")?;
    let index = env_number("FLEET_INDEX")?;
    let me = format!("[replica {index}]");
    let at = move || format!("{:>5}ms", unix_ms().saturating_sub(start));
    let fleet_events = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&fleet_events);
    let store = FleetStore::builder(url)
        .prefix(std::env::var("FLEET_PREFIX")?)
        .on_event(move |e| {
            if let Ok(mut log) = log.lock() {
                log.push(format!("{e}"));
            }
        })
        .build()?;
    let breaker = Arc::new(
        FleetBreaker::builder("dependency")
            .failure_threshold(6)
            .window(Duration::from_secs(30))
            .recovery_timeout(Duration::from_secs(1))
            .sync_interval(Duration::from_millis(100))
            .build(&store)?,
    );
    let policy = Policy::builder()
        .classifier(|_: &Down| ErrorClass::ServerError)
        .strategy(constant(Duration::ZERO))
        .max_attempts(1)
        .circuit_breaker(Arc::clone(&breaker))
        .build()?;
    // Start together: the first sync has happened in every replica.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut succeeded, mut failed, mut rejected) = (0, 0, 0);
    let mut last_state = CircuitState::Closed;
    while unix_ms().saturating_sub(start) < RUN_FOR.as_millis() {
        let down = unix_ms().saturating_sub(start) < DOWN_FOR.as_millis();
        let was_probe = breaker.holds_probe();
        let outcome = policy
            .execute_async(|| async move { if down { Err(Down) } else { Ok("200 OK") } })
            .await;
        match (&outcome.result, outcome.stop_reason) {
            (Ok(_), _) => {
                succeeded += 1;
                if was_probe {
                    println!("{me} {} probe succeeded: the fleet's breaker closes", at());
                }
            }
            (Err(_), Some(StopReason::CircuitOpen)) => rejected += 1,
            (Err(_), _) => {
                failed += 1;
                let what = if was_probe {
                    "probe failed"
                } else {
                    "call failed"
                };
                println!(
                    "{me} {} {what} ({} failures in the fleet's window as last synced)",
                    at(),
                    breaker.fleet_failures()
                );
            }
        }
        let state = breaker.state();
        if state != last_state {
            println!("{me} {} breaker {last_state:?} -> {state:?}", at());
            last_state = state;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = fleet_events.lock().map(|e| e.clone()).unwrap_or_default();
    println!(
        "{me} done: {succeeded} succeeded, {failed} failed, {rejected} rejected without a call; \
         Redis scripts sent: {}; fleet events: {}",
        store.commands(),
        if events.is_empty() {
            "none".to_owned()
        } else {
            events.join("; ")
        }
    );
    Ok(())
}
