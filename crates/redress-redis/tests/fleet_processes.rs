//! A fleet of real OS processes sharing one breaker and one budget through
//! a real Redis.
//!
//! Each test spawns this test binary several times, running only
//! `fleet_child` (which does nothing unless `REDRESS_FLEET_CHILD` is set).
//! A child builds a fleet breaker and budget from its environment, then
//! obeys commands read line by line from its standard input and answers
//! each with one line holding `@@answer: `. No assertion is about speed:
//! waiting for the fleet to converge is a generous bounded poll.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::print_stdout
)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redress::backoff::constant;
use redress::{AsyncPolicy, ErrorClass, Policy};
use redress_core::breaker::{Admission, Breaker, CallResult};
use redress_core::{Budget, CircuitState, Clock};
use redress_redis::{FleetBreaker, FleetBudget, FleetStore};

const CHILD: &str = "REDRESS_FLEET_CHILD";
/// What starts an answer on a child's standard output.
const MARK: &str = "@@answer: ";

/// Settings of one fleet, handed to every child.
#[derive(Clone, Debug)]
struct Fleet {
    url: String,
    prefix: String,
    threshold: u32,
    recovery_ms: u64,
    sync_ms: u64,
    budget_max: u32,
    budget_window_ms: u64,
    lease: u32,
}

impl Fleet {
    fn new(url: &str, test: &str) -> Fleet {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Fleet {
            url: url.to_owned(),
            prefix: format!(
                "p-{test}-{}-{nanos}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
            threshold: 6,
            recovery_ms: 1000,
            sync_ms: 100,
            budget_max: 1000,
            budget_window_ms: 60_000,
            lease: 4,
        }
    }

    fn spawn(&self, n: usize) -> Vec<Replica> {
        (0..n).map(|i| Replica::spawn(self, i)).collect()
    }
}

/// A child process, with its pipes.
struct Replica {
    index: usize,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Replica {
    fn spawn(fleet: &Fleet, index: usize) -> Replica {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fleet_child", "--nocapture", "--test-threads=1"])
            .env(CHILD, index.to_string())
            .env("FLEET_URL", &fleet.url)
            .env("FLEET_PREFIX", &fleet.prefix)
            .env("FLEET_THRESHOLD", fleet.threshold.to_string())
            .env("FLEET_RECOVERY_MS", fleet.recovery_ms.to_string())
            .env("FLEET_SYNC_MS", fleet.sync_ms.to_string())
            .env("FLEET_BUDGET_MAX", fleet.budget_max.to_string())
            .env("FLEET_BUDGET_WINDOW_MS", fleet.budget_window_ms.to_string())
            .env("FLEET_LEASE", fleet.lease.to_string())
            .env_remove("RUST_TEST_THREADS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut replica = Replica {
            index,
            child,
            stdin,
            stdout,
        };
        assert_eq!(replica.ask("ready"), "ready", "replica {index}");
        replica
    }

    /// Sends `command`, returns the answer.
    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "replica {} exited while asked `{command}`",
                self.index
            );
            // The harness may print `test fleet_child ... ` first, on the
            // same line.
            if let Some((_, answer)) = line.trim_end().split_once(MARK) {
                return answer.to_owned();
            }
        }
    }

    fn state(&mut self) -> String {
        let answer = self.ask("state");
        answer
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// Ends the child; asserts it exited cleanly (no panic in it).
    fn quit(mut self) {
        writeln!(self.stdin, "quit").unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "replica {} exited with {status}",
            self.index
        );
    }
}

/// Polls `f` every 50 ms for up to 30 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("not reached within 30 s: {what}");
}

#[test]
fn a_fleet_of_processes_shares_one_breaker() {
    let Some(url) = redress_test_services::redis_url() else {
        return;
    };
    let fleet = Fleet::new(&url, "breaker");
    let mut replicas = fleet.spawn(3);
    // Five failures across the fleet (below every threshold): closed.
    assert_eq!(replicas[0].ask("fail 1"), "done admitted=1 rejected=0");
    assert_eq!(replicas[1].ask("fail 2"), "done admitted=2 rejected=0");
    assert_eq!(replicas[2].ask("fail 2"), "done admitted=2 rejected=0");
    eventually("every replica counts 5 fleet failures", || {
        replicas
            .iter_mut()
            .all(|r| r.ask("state") == "Closed failures=5 available=true")
    });
    // The sixth, in any replica, opens it for every replica.
    assert_eq!(replicas[0].ask("fail 1"), "done admitted=1 rejected=0");
    eventually("every replica sees it open", || {
        replicas.iter_mut().all(|r| r.state() != "Closed")
    });
    for r in &mut replicas {
        assert_eq!(r.ask("fail 1"), "done admitted=0 rejected=1");
    }
    // After the recovery timeout, one probe for the whole fleet.
    let mut prober = None;
    eventually("a probe is admitted", || {
        for r in &mut replicas {
            match r.ask("try").as_str() {
                "probe" => {
                    assert!(prober.is_none(), "a second probe in replica {}", r.index);
                    prober = Some(r.index);
                }
                answer => assert!(answer.starts_with("rejected"), "{answer}"),
            }
        }
        prober.is_some()
    });
    let prober = prober.unwrap();
    // No other replica probes while it runs, over many sync intervals.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        for r in replicas.iter_mut().filter(|r| r.index != prober) {
            let answer = r.ask("try");
            assert!(answer.starts_with("rejected HalfOpen"), "{answer}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its success closes the breaker everywhere.
    assert_eq!(replicas[prober].ask("succeed"), "closed");
    eventually("every replica sees it closed", || {
        replicas.iter_mut().all(|r| r.state() == "Closed")
    });
    for r in &mut replicas {
        assert_eq!(r.ask("try"), "admitted");
    }
    for r in replicas {
        r.quit();
    }
}

#[test]
fn a_fleet_of_processes_shares_one_budget() {
    let Some(url) = redress_test_services::redis_url() else {
        return;
    };
    let mut fleet = Fleet::new(&url, "budget");
    fleet.budget_max = 30;
    fleet.budget_window_ms = 3000;
    fleet.lease = 2;
    let n = 3;
    let replicas = fleet.spawn(n);
    // Every replica withdraws as fast as it can for 4 s, all at once.
    let threads: Vec<_> = replicas
        .into_iter()
        .map(|mut r| {
            std::thread::spawn(move || {
                let answer = r.ask("spend 4000");
                r.quit();
                answer
            })
        })
        .collect();
    let mut grants: Vec<u64> = Vec::new();
    for t in threads {
        let answer = t.join().unwrap();
        let list = answer.strip_prefix("grants").unwrap().trim();
        grants.extend(
            list.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<u64>().unwrap()),
        );
    }
    grants.sort_unstable();
    // The most granted in any window (wall-clock milliseconds).
    let window = fleet.budget_window_ms;
    let most = (0..grants.len())
        .map(|i| {
            grants[i..]
                .iter()
                .take_while(|t| **t < grants[i] + window)
                .count()
        })
        .max()
        .unwrap_or(0);
    let slack = 3 * fleet.lease as usize * n;
    let max = fleet.budget_max as usize;
    assert!(
        most <= max + slack,
        "{most} grants in one window: more than {max} + {slack}"
    );
    // Not each replica's own budget: three local budgets would grant 90.
    assert!(grants.len() >= max, "only {} granted in all", grants.len());
}

#[test]
fn redis_killed_mid_run_fails_no_call() {
    let Some(mut redis) = redress_test_services::Redis::start_or_skip() else {
        return;
    };
    let mut fleet = Fleet::new(redis.url(), "outage");
    fleet.threshold = 4;
    fleet.sync_ms = 100;
    let mut replicas = fleet.spawn(2);
    for r in &mut replicas {
        assert_eq!(r.ask("calls 20"), "calls ok=20 failed=0");
    }
    redis.kill().unwrap();
    // Calls go on, on local state.
    for r in &mut replicas {
        assert_eq!(r.ask("calls 50"), "calls ok=50 failed=0");
    }
    eventually("every replica reports the store unavailable", || {
        replicas
            .iter_mut()
            .all(|r| r.ask("events").contains("unavailable"))
    });
    // Two failures each while the store is down: below the threshold of
    // each replica alone, so neither opens...
    for r in &mut replicas {
        assert_eq!(r.ask("fail 2"), "done admitted=2 rejected=0");
        assert_eq!(r.ask("calls 10"), "calls ok=10 failed=0");
        assert!(
            r.ask("state")
                .starts_with("Closed failures=0 available=false")
        );
    }
    redis.restart().unwrap();
    // ...until the store is back: the failures counted meanwhile merge,
    // and the fleet's four open it everywhere.
    eventually("every replica reports the store back", || {
        replicas
            .iter_mut()
            .all(|r| r.ask("events").contains("back"))
    });
    eventually("the merged failures open the breaker everywhere", || {
        replicas.iter_mut().all(|r| r.state() == "Open")
    });
    for r in replicas {
        r.quit();
    }
}

/// A child process: does nothing unless spawned by one of the tests.
#[test]
fn fleet_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(child());
}

fn env<T: std::str::FromStr>(name: &str) -> T {
    match std::env::var(name).ok().and_then(|v| v.parse().ok()) {
        Some(v) => v,
        None => panic!("{name} is missing"),
    }
}

#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the dependency is down")
    }
}

impl std::error::Error for Down {}

fn answer(text: &str) {
    println!("{MARK}{text}");
}

async fn child() {
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&events);
    let store = FleetStore::builder(env::<String>("FLEET_URL"))
        .prefix(env::<String>("FLEET_PREFIX"))
        .command_timeout(Duration::from_millis(500))
        .on_event(move |e| log.lock().unwrap().push(e.to_string()))
        .build()
        .unwrap();
    let sync = Duration::from_millis(env("FLEET_SYNC_MS"));
    let breaker = Arc::new(
        FleetBreaker::builder("upstream")
            .failure_threshold(env("FLEET_THRESHOLD"))
            .recovery_timeout(Duration::from_millis(env("FLEET_RECOVERY_MS")))
            .sync_interval(sync)
            // Long enough that a slow machine never lets the probe's token
            // lapse while the test holds the probe.
            .probe_lease(Duration::from_secs(30))
            .build(&store)
            .unwrap(),
    );
    let budget = Arc::new(
        FleetBudget::rolling(
            "upstream",
            env("FLEET_BUDGET_MAX"),
            Duration::from_millis(env("FLEET_BUDGET_WINDOW_MS")),
        )
        .lease(env("FLEET_LEASE"))
        .sync_interval(sync)
        .build(&store)
        .unwrap(),
    );
    // One failed attempt per call, never retried: what the breaker counts.
    let failing = Policy::builder()
        .classifier(|_: &Down| ErrorClass::Transient)
        .strategy(constant(Duration::ZERO))
        .max_attempts(1)
        .circuit_breaker(Arc::clone(&breaker))
        .build()
        .unwrap();
    // A failed first attempt, then a retry (from the budget) that succeeds.
    let flaky = Policy::builder()
        .classifier(|_: &Down| ErrorClass::Transient)
        .strategy(constant(Duration::from_millis(1)))
        .max_attempts(3)
        .circuit_breaker(Arc::clone(&breaker))
        .budget(Arc::clone(&budget))
        .build()
        .unwrap();
    let clock = redress_tokio::Tokio;
    let mut probe: Option<Admission> = None;
    let (lines, mut commands) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = commands.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["ready"] => answer("ready"),
            ["fail", n] => {
                let (mut admitted, mut rejected) = (0, 0);
                for _ in 0..n.parse::<u32>().unwrap() {
                    let outcome = failing.execute_async(|| async { Err::<(), _>(Down) }).await;
                    if outcome.attempts == 0 {
                        rejected += 1;
                    } else {
                        admitted += 1;
                    }
                }
                answer(&format!("done admitted={admitted} rejected={rejected}"));
            }
            ["calls", n] => {
                let (mut ok, mut failed) = (0, 0);
                for _ in 0..n.parse::<u32>().unwrap() {
                    let mut first = true;
                    let result = flaky
                        .call_async(|| {
                            let fail = std::mem::replace(&mut first, false);
                            async move { if fail { Err(Down) } else { Ok(()) } }
                        })
                        .await;
                    match result {
                        Ok(()) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
                answer(&format!("calls ok={ok} failed={failed}"));
            }
            ["state"] => answer(&format!(
                "{:?} failures={} available={}",
                breaker.state(),
                breaker.fleet_failures(),
                breaker.store_available()
            )),
            ["try"] => {
                let now = clock.now();
                match breaker.acquire(now) {
                    Err(rejected) => answer(&format!("rejected {:?}", rejected.state)),
                    Ok(admission) if admission.probe => {
                        probe = Some(admission);
                        answer("probe");
                    }
                    Ok(admission) => {
                        let _ = breaker.record(&admission, CallResult::Success, now);
                        answer("admitted");
                    }
                }
            }
            ["succeed"] => {
                let admission = probe.take().expect("a probe is held");
                let transition = breaker.record(&admission, CallResult::Success, clock.now());
                match transition.map(|t| t.to) {
                    Some(CircuitState::Closed) => answer("closed"),
                    other => answer(&format!("not closed: {other:?}")),
                }
            }
            ["spend", ms] => {
                let end = Instant::now() + Duration::from_millis(ms.parse().unwrap());
                let mut grants = Vec::new();
                while Instant::now() < end {
                    if budget.try_withdraw(clock.now()) {
                        let at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                        grants.push(at.as_millis().to_string());
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                answer(&format!("grants {}", grants.join(",")));
            }
            ["events"] => answer(&events.lock().unwrap().join(" | ")),
            ["quit"] => break,
            other => answer(&format!("unknown command {other:?}")),
        }
    }
}
