//! Scenario 6: heap allocations per call and the size of each library's
//! retry future, for every library and scenario of the other benches
//! (scenario 7's calls are real requests: there the count covers the whole
//! process, the loopback server included, and no future size is taken).
//!
//! A counting global allocator (`stats_alloc`) watches the same functions
//! the criterion benches time: each runs a few times to warm up (lazily
//! initialized thread-locals and epochs), then `CALLS` times inside a
//! measured region. Async futures are measured unpolled with
//! `size_of_val`.
//!
//! `cargo bench` prints the table; with `REDRESS_FOOTPRINT_ONLY` set it
//! runs only the scenarios whose group id contains that text; with
//! `REDRESS_FOOTPRINT_OUT` set it also
//! writes it there as tab-separated values (`group`, `library`,
//! `allocations per call`, `bytes per call`, `future bytes`) for
//! `cargo xtask bench`. Run without `--bench` (as a test), it only checks
//! that every scenario runs.

#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::alloc::System;
use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::mem::size_of_val;
use std::sync::Barrier;
use std::thread;

use redress::{Clock, SystemClock};
use redress_benches::blocking::Blocking;
use redress_benches::delay::Delays;
use redress_benches::middleware::Clients;
use redress_benches::middleware::lib::REQWEST_RETRY;
use redress_benches::shared::{self, Breakers, Budgets};
use redress_benches::tokio_rt::{self, Tokio};
use redress_benches::{RETRIES, Script, SharedScript, group, lib};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio::runtime::Runtime;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const WARM_UP: u32 = 3;

/// One measured library in one scenario.
struct Row {
    group: &'static str,
    library: &'static str,
    allocations: f64,
    bytes: f64,
    future: Option<usize>,
}

struct Footprint {
    calls: u32,
    rows: Vec<Row>,
}

impl Footprint {
    /// Counts what `call` allocates, per call.
    fn blocking<R>(
        &mut self,
        group: &'static str,
        library: &'static str,
        mut call: impl FnMut() -> R,
    ) {
        for _ in 0..WARM_UP {
            black_box(call());
        }
        let region = Region::new(GLOBAL);
        for _ in 0..self.calls {
            black_box(call());
        }
        let stats = region.change();
        self.rows.push(Row {
            group,
            library,
            allocations: stats.allocations as f64 / f64::from(self.calls),
            bytes: stats.bytes_allocated as f64 / f64::from(self.calls),
            future: None,
        });
    }

    /// Counts what `op` allocates per call when `threads` threads run it at
    /// once (threads are started before the measured region).
    fn shared(
        &mut self,
        group: &'static str,
        library: &'static str,
        threads: u32,
        op: impl Fn() -> bool + Sync,
    ) {
        for _ in 0..WARM_UP {
            black_box(op());
        }
        let calls = self.calls;
        let parties = threads.saturating_add(1) as usize;
        let (ready, go, done) = (
            Barrier::new(parties),
            Barrier::new(parties),
            Barrier::new(parties),
        );
        let stats = thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    ready.wait();
                    go.wait();
                    for _ in 0..calls {
                        black_box(op());
                    }
                    done.wait();
                });
            }
            ready.wait();
            let region = Region::new(GLOBAL);
            go.wait();
            done.wait();
            region.change()
        });
        let total = f64::from(calls) * f64::from(threads);
        self.rows.push(Row {
            group,
            library,
            allocations: stats.allocations as f64 / total,
            bytes: stats.bytes_allocated as f64 / total,
            future: None,
        });
    }

    /// Measures the size of the future `call` returns, then counts what
    /// creating and awaiting it allocates, per call, on `rt`.
    fn on_tokio<F, Fut>(
        &mut self,
        rt: &Runtime,
        group: &'static str,
        library: &'static str,
        calls: u32,
        mut call: F,
    ) where
        F: FnMut() -> Fut,
        Fut: Future,
    {
        let future = size_of_val(&call());
        let stats = rt.block_on(async {
            for _ in 0..WARM_UP {
                black_box(call().await);
            }
            let region = Region::new(GLOBAL);
            for _ in 0..calls {
                black_box(call().await);
            }
            region.change()
        });
        self.rows.push(Row {
            group,
            library,
            allocations: stats.allocations as f64 / f64::from(calls),
            bytes: stats.bytes_allocated as f64 / f64::from(calls),
            future: Some(future),
        });
    }
}

impl Footprint {
    /// Counts what `call` allocates per call on `rt`, in the whole process
    /// (the loopback server's thread included). No future size: the
    /// futures of scenario 7 box their middleware chains.
    fn loopback<F, Fut>(
        &mut self,
        rt: &Runtime,
        group: &'static str,
        library: &'static str,
        mut call: F,
    ) where
        F: FnMut() -> Fut,
        Fut: Future,
    {
        let calls = self.calls.min(200);
        let stats = rt.block_on(async {
            for _ in 0..WARM_UP {
                black_box(call().await);
            }
            let region = Region::new(GLOBAL);
            for _ in 0..calls {
                black_box(call().await);
            }
            region.change()
        });
        self.rows.push(Row {
            group,
            library,
            allocations: stats.allocations as f64 / f64::from(calls),
            bytes: stats.bytes_allocated as f64 / f64::from(calls),
            future: None,
        });
    }
}

/// Scenario 7: allocations per request, the server's included (compare
/// with the direct call).
fn middleware(f: &mut Footprint) {
    let rt = redress_benches::middleware::runtime();
    let clients = Clients::new();
    let g = group::REQWEST_MIDDLEWARE;
    f.loopback(&rt, g, lib::DIRECT, || clients.direct());
    f.loopback(&rt, g, lib::REDRESS, || clients.redress());
    f.loopback(&rt, g, REQWEST_RETRY, || clients.reqwest_retry());
    if clients.requests() == 0 {
        println!("footprint: the loopback server saw no request");
        std::process::exit(1);
    }
}

fn blocking(f: &mut Footprint) {
    let libs = Blocking::new();
    let ok = Script::new(0);
    f.blocking(group::SUCCESS_BLOCKING, lib::DIRECT, || libs.direct(&ok));
    f.blocking(group::SUCCESS_BLOCKING, lib::REDRESS, || libs.redress(&ok));
    f.blocking(group::SUCCESS_BLOCKING, lib::REDRESS_COARSE_CLOCK, || {
        libs.redress_coarse_clock(&ok, false)
    });
    f.blocking(group::SUCCESS_BLOCKING, lib::REDRESS_VIRTUAL_CLOCK, || {
        libs.redress_virtual_clock(&ok)
    });
    f.blocking(group::SUCCESS_BLOCKING, lib::BACKON, || libs.backon(&ok));
    f.blocking(group::SUCCESS_BLOCKING, lib::BACKOFF, || libs.backoff(&ok));

    let flaky = Script::new(RETRIES);
    f.blocking(group::RETRIES_BLOCKING, lib::DIRECT, || libs.direct(&flaky));
    f.blocking(group::RETRIES_BLOCKING, lib::REDRESS, || {
        libs.redress_instant(&flaky)
    });
    f.blocking(group::RETRIES_BLOCKING, lib::REDRESS_COARSE_CLOCK, || {
        libs.redress_coarse_clock(&flaky, true)
    });
    f.blocking(group::RETRIES_BLOCKING, lib::REDRESS_VIRTUAL_CLOCK, || {
        libs.redress_virtual_clock(&flaky)
    });
    f.blocking(group::RETRIES_BLOCKING, lib::BACKON, || {
        libs.backon_instant(&flaky)
    });
    f.blocking(group::RETRIES_BLOCKING, lib::BACKOFF, || {
        libs.backoff_zero(&flaky)
    });
}

fn on_tokio(f: &mut Footprint) {
    let rt = tokio_rt::runtime();
    let libs = Tokio::new();
    let n = f.calls;
    // tokio-retry and tokio-retry2 sleep on tokio's timer, which rounds a
    // zero delay up to its next millisecond tick: fewer calls for those.
    let slow = n.min(50);

    let ok = Script::new(0);
    let g = group::SUCCESS_TOKIO;
    f.on_tokio(&rt, g, lib::DIRECT, n, || libs.direct(&ok));
    f.on_tokio(&rt, g, lib::REDRESS, n, || libs.redress(&ok));
    f.on_tokio(&rt, g, lib::REDRESS_COARSE_CLOCK, n, || {
        libs.redress_coarse_clock(&ok, false)
    });
    f.on_tokio(&rt, g, lib::BACKON, n, || libs.backon(&ok));
    f.on_tokio(&rt, g, lib::BACKOFF, n, || libs.backoff(&ok));
    f.on_tokio(&rt, g, lib::TOKIO_RETRY, n, || libs.tokio_retry(&ok, 250));
    f.on_tokio(&rt, g, lib::TOKIO_RETRY2, n, || libs.tokio_retry2(&ok, 250));
    f.on_tokio(&rt, g, lib::TOWER, n, || libs.tower(&ok));
    let shared_ok = SharedScript::new(0);
    f.on_tokio(&rt, g, lib::TOWER_RESILIENCE, n, || {
        libs.tower_resilience(&shared_ok, false)
    });

    let flaky = Script::new(RETRIES);
    let g = group::RETRIES_TOKIO;
    f.on_tokio(&rt, g, lib::DIRECT, n, || libs.direct(&flaky));
    f.on_tokio(&rt, g, lib::REDRESS, n, || libs.redress_instant(&flaky));
    f.on_tokio(&rt, g, lib::REDRESS_COARSE_CLOCK, n, || {
        libs.redress_coarse_clock(&flaky, true)
    });
    f.on_tokio(&rt, g, lib::BACKON, n, || libs.backon_instant(&flaky));
    f.on_tokio(&rt, g, lib::BACKOFF, n, || libs.backoff_instant(&flaky));
    f.on_tokio(&rt, g, lib::TOKIO_RETRY, slow, || {
        libs.tokio_retry(&flaky, 0)
    });
    f.on_tokio(&rt, g, lib::TOKIO_RETRY2, slow, || {
        libs.tokio_retry2(&flaky, 0)
    });
    f.on_tokio(&rt, g, lib::TOWER, n, || libs.tower(&flaky));
    let shared_flaky = SharedScript::new(RETRIES);
    f.on_tokio(&rt, g, lib::TOWER_RESILIENCE, slow, || {
        libs.tower_resilience(&shared_flaky, true)
    });
}

fn delays(f: &mut Footprint) {
    let d = Delays::new();
    let g = group::DELAY_EXPONENTIAL;
    f.blocking(g, lib::REDRESS, || d.redress_exponential());
    f.blocking(g, lib::BACKON, || d.backon_exponential());
    f.blocking(g, lib::BACKOFF, || d.backoff_exponential());
    f.blocking(g, lib::TOKIO_RETRY, || d.tokio_retry_exponential());
    f.blocking(g, lib::TOKIO_RETRY2, || d.tokio_retry2_exponential());
    f.blocking(g, lib::TOWER_RESILIENCE, || {
        d.tower_resilience_exponential()
    });
    let g = group::DELAY_FULL;
    f.blocking(g, lib::REDRESS, || d.redress_full());
    f.blocking(g, lib::BACKOFF, || d.backoff_full());
    f.blocking(g, lib::TOKIO_RETRY, || d.tokio_retry_full());
    f.blocking(g, lib::TOKIO_RETRY2, || d.tokio_retry2_full());
    f.blocking(g, lib::TOWER_RESILIENCE, || d.tower_resilience_full());
    let g = group::DELAY_EQUAL;
    f.blocking(g, lib::REDRESS, || d.redress_equal());
    f.blocking(g, lib::BACKON, || d.backon_equal());
    f.blocking(g, lib::BACKOFF, || d.backoff_equal());
    f.blocking(g, lib::TOKIO_RETRY2, || d.tokio_retry2_equal());
    f.blocking(g, lib::TOWER_RESILIENCE, || d.tower_resilience_equal());
    f.blocking(group::DELAY_DECORRELATED, lib::REDRESS, || {
        d.redress_decorrelated()
    });
}

fn shared_state(f: &mut Footprint) {
    let breakers = Breakers::new();
    let now = SystemClock.now();
    for (g, threads) in [(group::BREAKER_1, 1), (group::BREAKER_2, 2)] {
        f.shared(g, lib::REDRESS, threads, || breakers.redress());
        f.shared(g, shared::NOW_GIVEN, threads, || breakers.redress_at(now));
        f.shared(g, lib::FAILSAFE, threads, || breakers.failsafe());
        f.shared(g, lib::RECLOSER, threads, || breakers.recloser());
        f.shared(g, lib::TOWER_RESILIENCE, threads, || {
            breakers.tower_resilience()
        });
    }
    let budgets = Budgets::new();
    for (g, threads) in [(group::BUDGET_1, 1), (group::BUDGET_2, 2)] {
        f.shared(g, shared::ROLLING, threads, || budgets.redress_rolling());
        f.shared(g, shared::RATIO, threads, || budgets.redress_ratio());
        f.shared(g, shared::TPS, threads, || budgets.tower());
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:<24} {:>12} {:>12} {:>8}",
        "scenario", "library", "allocs/call", "bytes/call", "future"
    );
    for r in rows {
        let future = r.future.map_or_else(|| "-".to_owned(), |s| s.to_string());
        let _ = writeln!(
            out,
            "{:<28} {:<24} {:>12.3} {:>12.1} {:>8}",
            r.group, r.library, r.allocations, r.bytes, future
        );
    }
    out
}

fn tsv(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let future = r.future.map_or_else(String::new, |s| s.to_string());
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            r.group, r.library, r.allocations, r.bytes, future
        );
    }
    out
}

/// The group ids a function of this file measures, and the function.
type Scenarios = (&'static [&'static str], fn(&mut Footprint));

fn main() {
    // `cargo bench` passes `--bench`; anything else (a test run) only
    // checks that every scenario runs.
    let benching = std::env::args().any(|a| a == "--bench");
    // The counter works: a box is one allocation.
    let region = Region::new(GLOBAL);
    drop(black_box(Box::new(1u64)));
    if region.change().allocations != 1 {
        println!("footprint: the counting allocator does not count");
        std::process::exit(1);
    }
    let mut f = Footprint {
        calls: if benching { 1000 } else { 2 },
        rows: Vec::new(),
    };
    // `REDRESS_FOOTPRINT_ONLY=7-` keeps only the scenarios whose group id
    // contains it (to check one scenario without running them all).
    let filter = std::env::var("REDRESS_FOOTPRINT_ONLY").unwrap_or_default();
    let scenarios: [Scenarios; 5] = [
        (
            &[group::SUCCESS_BLOCKING, group::RETRIES_BLOCKING],
            blocking,
        ),
        (&[group::SUCCESS_TOKIO, group::RETRIES_TOKIO], on_tokio),
        (
            &[
                group::DELAY_EXPONENTIAL,
                group::DELAY_FULL,
                group::DELAY_EQUAL,
                group::DELAY_DECORRELATED,
            ],
            delays,
        ),
        (
            &[
                group::BREAKER_1,
                group::BREAKER_2,
                group::BUDGET_1,
                group::BUDGET_2,
            ],
            shared_state,
        ),
        (&[group::REQWEST_MIDDLEWARE], middleware),
    ];
    for (groups, run) in scenarios {
        if groups.iter().any(|g| g.contains(filter.as_str())) {
            run(&mut f);
        }
    }
    if !benching {
        return;
    }
    print!("{}", table(&f.rows));
    if let Some(path) = std::env::var_os("REDRESS_FOOTPRINT_OUT")
        && let Err(error) = std::fs::write(&path, tsv(&f.rows))
    {
        println!("footprint: cannot write {}: {error}", path.display());
        std::process::exit(1);
    }
}
