//! Project automation, in Rust so it runs wherever cargo does.
//!
//! `cargo xtask` (no argument) runs every check CI runs, in CI's order.
//! Each subcommand runs one of them. `cargo xtask bench` runs the
//! benchmarks against the peers and writes `docs/benchmarks.md`;
//! `cargo xtask services` starts and stops the PostgreSQL and Redis the
//! tests run against; `cargo xtask fuzz` fuzzes the parsers.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod doctests;
mod fuzz;
mod services;

use std::env;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask [TASK]

tasks:
  ci        every check below, in order (the default)
  fmt       cargo fmt --all -- --check
  clippy    cargo clippy on every target and feature, warnings denied
  no-std    build redress-core without default features
  embedded  build redress-core for a Cortex-M3 (no std, no 64-bit atomics),
            warnings denied; installs the target with rustup
  test      the whole test suite against real PostgreSQL and Redis (the
            README's test command): services up, cargo test --workspace
            --all-features [ARGS...], services down; fails if rustdoc
            reports a doctest whose `main` never runs
  docs      build the documentation with every feature, with the default
            features, and the facade's alone; rustdoc warnings denied
  benches   compile the benchmarks (cargo bench --no-run), so they never rot
  loom      model-check the lock-free breaker and budget with loom
  fuzz-short
            each fuzz target for 15 s (what CI runs; see `fuzz`)

other tasks:
  bench     run the benchmarks against the peers and write docs/benchmarks.md
            (a few minutes; `bench --report-only` rewrites it from the last run)
  fuzz [--time SECS] [TARGET...]
            fuzz the parsers (config TOML and JSON, durations, the doctor's
            scenarios and scripts, Retry-After) with cargo-fuzz on nightly,
            SECS each (default 60); installs nightly and cargo-fuzz if missing
  services up|down|env
            start PostgreSQL and Redis for the tests (installing them, as
            root), stop them, or print their `export REDRESS_*_URL=` lines
";

fn main() -> ExitCode {
    let task = env::args().nth(1).unwrap_or_else(|| "ci".to_owned());
    let steps: &[&str] = match task.as_str() {
        "ci" => &[
            "fmt",
            "clippy",
            "no-std",
            "embedded",
            "test",
            "docs",
            "docs-default",
            "docs-facade",
            "benches",
            "loom",
            "fuzz-short",
        ],
        "fmt" => &["fmt"],
        "clippy" => &["clippy"],
        "no-std" => &["no-std"],
        "embedded" => &["embedded"],
        "test" => {
            let extra: Vec<String> = env::args().skip(2).collect();
            return ExitCode::from(services::test(&workspace_root(), args("test"), &extra));
        }
        "services" => {
            let rest: Vec<String> = env::args().skip(2).collect();
            return services::command(&workspace_root(), &rest);
        }
        "loom" => &["loom"],
        "benches" => &["benches"],
        "fuzz-short" => &["fuzz-short"],
        "fuzz" => {
            let rest: Vec<String> = env::args().skip(2).collect();
            return match fuzz::run(&workspace_root(), &rest) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("xtask: fuzz: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        "docs" => &["docs", "docs-default", "docs-facade"],
        "bench" => {
            let report_only = env::args().nth(2).as_deref() == Some("--report-only");
            return match bench::run(&workspace_root(), report_only) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("xtask: bench: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprint!("unknown task `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    for step in steps {
        if !run(step) {
            eprintln!("xtask: `{step}` failed");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// A target without `std` and without 64-bit atomics, where budgets,
/// breakers and adaptive backoff are compiled out and the rest must build.
const EMBEDDED_TARGET: &str = "thumbv7m-none-eabi";

fn args(step: &str) -> &'static [&'static str] {
    match step {
        "fmt" => &["fmt", "--all", "--", "--check"],
        "clippy" => &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        "no-std" => &["build", "-p", "redress-core", "--no-default-features"],
        "embedded" => &[
            "build",
            "-p",
            "redress-core",
            "--no-default-features",
            "--features",
            "alloc",
            "--target",
            EMBEDDED_TARGET,
        ],
        "loom" => &["test", "-p", "redress-core", "--test", "loom", "--release"],
        "benches" => &["bench", "-p", "redress-benches", "--no-run"],
        "docs" => &["doc", "--workspace", "--no-deps", "--all-features"],
        // The docs with the default features, as a user builds them: every
        // crate, then the facade alone (in the workspace, other members
        // turn on more of its features).
        "docs-default" => &["doc", "--workspace", "--no-deps"],
        "docs-facade" => &["doc", "-p", "redress", "--no-deps"],
        // What `cargo xtask test` runs against the services.
        _ => &["test", "--workspace", "--all-features"],
    }
}

fn run(step: &str) -> bool {
    if step == "test" {
        return services::test(&workspace_root(), args(step), &[]) == 0;
    }
    if step == "fuzz-short" {
        let short = [String::from("--time"), fuzz::CI_SECONDS.to_string()];
        return match fuzz::run(&workspace_root(), &short) {
            Ok(()) => true,
            Err(error) => {
                eprintln!("xtask: fuzz: {error}");
                false
            }
        };
    }
    if step == "embedded" && !install_embedded_target() {
        eprintln!("xtask: could not install {EMBEDDED_TARGET} with rustup; embedded build skipped");
        return true;
    }
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args = args(step);
    println!("xtask: cargo {}", args.join(" "));
    let mut command = Command::new(cargo);
    command.args(args).current_dir(workspace_root());
    if step.starts_with("docs") {
        // Broken links and other rustdoc warnings fail the build.
        command.env("RUSTDOCFLAGS", "-D warnings");
    }
    if step == "embedded" {
        // Code compiled out on such targets must not leave dead code behind.
        command.env("RUSTFLAGS", "-D warnings");
    }
    if step == "loom" {
        // loom needs its own cfg, so it builds in its own target directory.
        command
            .env("RUSTFLAGS", "--cfg loom")
            .env("CARGO_TARGET_DIR", workspace_root().join("target/loom"));
    }
    command.status().map(|s| s.success()).unwrap_or(false)
}

fn install_embedded_target() -> bool {
    Command::new("rustup")
        .args(["target", "add", EMBEDDED_TARGET])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
