//! The jitter shootout: redress's backoff strategies in the contention
//! simulation of the AWS Architecture blog's "Exponential Backoff and
//! Jitter", run on redress's own engine under virtual time.
//!
//! `cargo run --release -p redress-examples --example jitter_shootout`
//!
//! # The model
//!
//! `clients` clients start together and each wants to write one record once.
//! The record is guarded by optimistic locking: an attempt reads the
//! record's version, then writes conditionally on it; the server accepts the
//! write only if the version is still current (and bumps it). A rejected
//! write is a conflict, and how long the client waits before its next
//! attempt is the backoff strategy's business. Every message crosses the
//! network in `|N(10, 4)|` time units, the blog's latency model, so one
//! attempt takes two round trips.
//!
//! Each client is one call driven through redress's sans-I/O engine
//! ([`redress::Execution`]): a rejected write is a `CONCURRENCY` failure,
//! the engine answers with a delay, and the simulation schedules the retry
//! that much later on a virtual clock. Nothing sleeps; a run of a hundred
//! clients takes microseconds. Network delays come from their own seeded
//! generator, the same for every strategy in a run, so strategies are
//! compared on the same network.
//!
//! It reports, per strategy and over `runs` runs, the calls the server
//! handled (reads and writes: its work) and the time until the last client's
//! write was confirmed.
//!
//! # Options
//!
//! ```text
//! --clients N    contending clients (default 100)
//! --base B       base delay in time units (default 5)
//! --cap C        largest delay in time units (default 2000)
//! --runs R       runs per strategy (default 30)
//! --seed S       seed of the first run (default 1)
//! --svg PATH     also sweep the number of clients and draw both measures
//!                against it as an SVG chart at PATH
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use redress::backoff::{
    Backoff, adaptive, constant, decorrelated_jitter, equal_jitter, exponential, full_jitter,
    token_backoff,
};
use redress::{Action, ErrorClass, FastRng, Policy, Rng};

/// One time unit of the simulation is one virtual millisecond.
fn units(n: f64) -> Duration {
    Duration::from_secs_f64(n.max(0.0) / 1000.0)
}

fn in_units(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A write rejected because another client wrote first.
#[derive(Debug, Clone, Copy)]
struct Conflict;

/// The strategies compared, by name.
fn strategies(base: Duration, cap: Duration) -> Vec<(&'static str, Backoff)> {
    vec![
        ("no backoff", constant(Duration::ZERO).into()),
        ("exponential", exponential().base(base).max(cap).into()),
        ("full jitter", full_jitter().base(base).max(cap).into()),
        ("equal jitter", equal_jitter().base(base).max(cap).into()),
        (
            "decorrelated jitter",
            decorrelated_jitter().base(base).max(cap).into(),
        ),
        ("token backoff", token_backoff().base(base).max(cap).into()),
        (
            "adaptive (decorrelated)",
            adaptive(decorrelated_jitter().base(base).max(cap)).into(),
        ),
    ]
}

#[derive(Debug, Clone)]
struct Config {
    clients: u32,
    base: f64,
    cap: f64,
    runs: u32,
    seed: u64,
    svg: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            clients: 100,
            base: 5.0,
            cap: 2000.0,
            runs: 30,
            seed: 1,
            svg: None,
        }
    }
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--clients" => config.clients = value.parse().map_err(|e| bad(&e))?,
            "--base" => config.base = value.parse().map_err(|e| bad(&e))?,
            "--cap" => config.cap = value.parse().map_err(|e| bad(&e))?,
            "--runs" => config.runs = value.parse().map_err(|e| bad(&e))?,
            "--seed" => config.seed = value.parse().map_err(|e| bad(&e))?,
            "--svg" => config.svg = Some(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if config.clients == 0 || config.runs == 0 {
        return Err("--clients and --runs must be at least 1".to_owned());
    }
    if !(config.base >= 0.0 && config.cap >= config.base) {
        return Err("need 0 <= base <= cap".to_owned());
    }
    Ok(config)
}

/// A uniform draw from `(0, 1]`.
fn unit(rng: &mut FastRng) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    ((rng.next_u64() >> 11) as f64 + 1.0) * SCALE
}

/// One network crossing: `|N(10, 4)|` time units (Box–Muller).
fn network(rng: &mut FastRng) -> Duration {
    let (u1, u2) = (unit(rng), unit(rng));
    let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    units((10.0 + 4.0 * normal).abs())
}

/// What happens next in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    /// A client's read reaches the server.
    Read { client: usize },
    /// The version read reaches the client, which writes at once.
    Version { client: usize, version: u64 },
    /// A client's conditional write reaches the server.
    Write { client: usize, expected: u64 },
    /// The server's verdict on a write reaches the client.
    Verdict { client: usize, accepted: bool },
    /// A client's backoff is over: it starts its next attempt.
    Wake { client: usize },
}

/// One run's result.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Requests the server handled, reads and writes.
    calls: u64,
    /// When the last client's write was confirmed.
    completion: Duration,
    /// Calls that stopped without writing (none, with these envelopes).
    gave_up: u32,
}

/// The virtual network and the event queue of one run.
struct World {
    queue: BinaryHeap<Reverse<(Duration, u64, Happening)>>,
    seq: u64,
    net: FastRng,
    calls: u64,
}

impl World {
    /// Sends `what` across the network at `now`.
    fn send(&mut self, now: Duration, what: Happening) {
        let at = now.saturating_add(network(&mut self.net));
        self.at(at, what);
    }

    /// Schedules `what` at `at`.
    fn at(&mut self, at: Duration, what: Happening) {
        self.seq = self.seq.wrapping_add(1);
        self.queue.push(Reverse((at, self.seq, what)));
    }

    /// An attempt: read the version (the write follows the reply).
    fn attempt(&mut self, now: Duration, client: usize) {
        self.calls = self.calls.saturating_add(1);
        self.send(now, Happening::Read { client });
    }
}

/// Simulates `clients` clients contending under `strategy`.
fn simulate(clients: u32, strategy: &Backoff, seed: u64) -> Run {
    let built = Policy::builder()
        .classifier(|_: &Conflict| ErrorClass::Concurrency)
        .strategy(strategy.clone())
        .max_attempts(u32::MAX)
        .deadline(Duration::from_secs(86_400))
        .build();
    let policy = match built {
        Ok(policy) => policy,
        Err(error) => unreachable!("the shootout's policies are valid: {error}"),
    };
    let bound = policy.bind();
    let mut jitter = FastRng::seeded(seed ^ 0x5eed_5eed_5eed_5eed);
    let mut world = World {
        queue: BinaryHeap::new(),
        seq: 0,
        net: FastRng::seeded(seed),
        calls: 0,
    };

    let start = Duration::ZERO;
    let mut executions: Vec<_> = (0..clients as usize)
        .map(|client| {
            let (exec, action) = bound.start::<(), Conflict>(start);
            debug_assert!(matches!(action, Action::Attempt(_)));
            world.attempt(start, client);
            Some(exec)
        })
        .collect();
    let mut version = 0u64;
    let mut completion = Duration::ZERO;
    let mut gave_up = 0u32;

    while let Some(Reverse((now, _, what))) = world.queue.pop() {
        match what {
            Happening::Read { client } => {
                world.send(now, Happening::Version { client, version });
            }
            Happening::Version { client, version } => {
                world.calls = world.calls.saturating_add(1);
                world.send(
                    now,
                    Happening::Write {
                        client,
                        expected: version,
                    },
                );
            }
            Happening::Write { client, expected } => {
                let accepted = expected == version;
                if accepted {
                    version = version.saturating_add(1);
                }
                world.send(now, Happening::Verdict { client, accepted });
            }
            Happening::Verdict { client, accepted } => {
                let Some(slot) = executions.get_mut(client) else {
                    continue;
                };
                let Some(exec) = slot.as_mut() else {
                    continue;
                };
                let result = if accepted { Ok(()) } else { Err(Conflict) };
                match exec.record(result, now, &mut jitter) {
                    Action::Sleep(delay) => {
                        world.at(now.saturating_add(delay), Happening::Wake { client });
                    }
                    Action::Attempt(_) => world.attempt(now, client),
                    Action::SleepHooks => {
                        unreachable!("the shootout's call site has no sleep hooks")
                    }
                    Action::Done => {
                        if let Some(exec) = slot.take() {
                            if exec.finish().result.is_err() {
                                gave_up = gave_up.saturating_add(1);
                            }
                        }
                        completion = completion.max(now);
                    }
                }
            }
            Happening::Wake { client } => {
                let Some(Some(exec)) = executions.get_mut(client) else {
                    continue;
                };
                if matches!(exec.resume(now), Action::Attempt(_)) {
                    world.attempt(now, client);
                }
            }
        }
    }
    Run {
        calls: world.calls,
        completion,
        gave_up,
    }
}

/// Mean and (population) standard deviation.
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Per strategy: (mean calls, sd calls, mean completion, sd completion, runs that gave up).
type Summary = (f64, f64, f64, f64, u32);

fn summarize(clients: u32, strategy: &Backoff, runs: u32, seed: u64) -> Summary {
    let results: Vec<Run> = (0..runs)
        .map(|r| simulate(clients, strategy, seed.wrapping_add(u64::from(r))))
        .collect();
    let calls: Vec<f64> = results.iter().map(|r| r.calls as f64).collect();
    let times: Vec<f64> = results.iter().map(|r| in_units(r.completion)).collect();
    let (calls_mean, calls_sd) = mean_sd(&calls);
    let (time_mean, time_sd) = mean_sd(&times);
    let gave_up = results.iter().map(|r| r.gave_up).sum();
    (calls_mean, calls_sd, time_mean, time_sd, gave_up)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("jitter_shootout: {message}\n");
            }
            eprintln!(
                "usage: jitter_shootout [--clients N] [--base B] [--cap C] [--runs R] [--seed S] [--svg PATH]"
            );
            return if message.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let (base, cap) = (units(config.base), units(config.cap));
    let strategies = strategies(base, cap);

    println!(
        "{} clients, base {}, cap {}, {} runs (time in units; network |N(10, 4)| per crossing)\n",
        config.clients, config.base, config.cap, config.runs
    );
    println!("| strategy | calls (mean ± sd) | calls per client | completion time (mean ± sd) |");
    println!("|---|--:|--:|--:|");
    for (name, strategy) in &strategies {
        let (calls, calls_sd, time, time_sd, gave_up) =
            summarize(config.clients, strategy, config.runs, config.seed);
        let per_client = calls / f64::from(config.clients);
        let note = if gave_up > 0 {
            format!(" ({gave_up} calls gave up)")
        } else {
            String::new()
        };
        println!(
            "| {name} | {calls:.0} ± {calls_sd:.0} | {per_client:.1} | {time:.0} ± {time_sd:.0}{note} |"
        );
    }

    if let Some(path) = &config.svg {
        let sweep = [10u32, 25, 50, 75, 100, 150, 200];
        let runs = config.runs;
        let series: Vec<(&str, Vec<Summary>)> = strategies
            .iter()
            .map(|(name, strategy)| {
                let points = sweep
                    .iter()
                    .map(|&n| summarize(n, strategy, runs, config.seed))
                    .collect();
                (*name, points)
            })
            .collect();
        let svg = chart(&config, &sweep, &series);
        if let Err(error) = std::fs::write(path, svg) {
            eprintln!("jitter_shootout: cannot write {path}: {error}");
            return ExitCode::FAILURE;
        }
        println!("\nchart: {path}");
    }
    ExitCode::SUCCESS
}

/// The smallest round number (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6 or 8 × 10ⁿ)
/// at or above `x`: an axis top that four gridlines divide evenly.
fn nice_ceiling(x: f64) -> f64 {
    let magnitude = 10f64.powf(x.log10().floor());
    [1.0, 1.2, 1.6, 2.0, 2.4, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&top| top >= x)
        .unwrap_or(x)
}

const COLORS: [&str; 7] = [
    "#d62728", "#7f7f7f", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// Two line charts side by side: total calls and completion time against
/// the number of clients, one line per strategy.
fn chart(config: &Config, sweep: &[u32], series: &[(&str, Vec<Summary>)]) -> String {
    let (w, h) = (460.0, 320.0);
    let (left, right, top, bottom) = (64.0, 16.0, 36.0, 44.0);
    let legend_h = 50.0;
    let total_w = 2.0 * w;
    let total_h = h + legend_h;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" viewBox="0 0 {total_w} {total_h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{total_w}" height="{total_h}" fill="white"/>"#
    );
    let max_x = f64::from(sweep.iter().copied().max().unwrap_or(1));
    type Measure = fn(&Summary) -> f64;
    let panels: [(&str, Measure); 2] = [
        ("total calls (work)", |s| s.0),
        ("completion time (units)", |s| s.2),
    ];
    for (p, (title, value)) in panels.iter().enumerate() {
        let x0 = p as f64 * w;
        let max_y = nice_ceiling(
            series
                .iter()
                .flat_map(|(_, points)| points.iter().map(value))
                .fold(1.0_f64, f64::max),
        );
        let px = |x: f64| x0 + left + (x / max_x) * (w - left - right);
        let py = |y: f64| top + (1.0 - y / max_y) * (h - top - bottom);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="20" text-anchor="middle" font-weight="bold">{title}, base {} cap {}</text>"#,
            x0 + w / 2.0,
            config.base,
            config.cap
        );
        // Axes and grid.
        let _ = writeln!(
            svg,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333"/><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
            px(0.0),
            py(0.0),
            px(max_x),
            py(0.0),
            px(0.0),
            py(0.0),
            px(0.0),
            py(max_y)
        );
        for i in 0..=4 {
            let y = max_y * f64::from(i) / 4.0;
            let _ = writeln!(
                svg,
                r##"<line x1="{}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{:.0}</text>"##,
                px(0.0),
                py(y),
                px(max_x),
                py(y),
                px(0.0) - 6.0,
                py(y) + 4.0,
                y
            );
        }
        for &n in sweep {
            let x = f64::from(n);
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{n}</text>"#,
                px(x),
                py(0.0) + 16.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">clients</text>"#,
            x0 + left + (w - left - right) / 2.0,
            h - 6.0
        );
        for ((_, points), color) in series.iter().zip(COLORS.iter().cycle()) {
            let path: Vec<String> = sweep
                .iter()
                .zip(points)
                .map(|(&n, s)| format!("{:.1},{:.1}", px(f64::from(n)), py(value(s))))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
        }
    }
    // Legend: four entries a row.
    let step = total_w / 4.0;
    for (i, ((name, _), color)) in series.iter().zip(COLORS.iter().cycle()).enumerate() {
        let x = 24.0 + (i % 4) as f64 * step;
        let y = h + 10.0 + (i / 4) as f64 * 20.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{y}" x2="{:.1}" y2="{y}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{}">{name}</text>"#,
            x + 18.0,
            x + 22.0,
            y + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
