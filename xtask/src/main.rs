//! Project automation, in Rust so it runs wherever cargo does.
//!
//! `cargo xtask` (no argument) runs every check CI runs, in CI's order.
//! Each subcommand runs one of them.

#![allow(clippy::print_stdout, clippy::print_stderr)]

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
  test      the whole test suite (the README's test command)
  loom      model-check the lock-free breaker and budget with loom
";

fn main() -> ExitCode {
    let task = env::args().nth(1).unwrap_or_else(|| "ci".to_owned());
    let steps: &[&str] = match task.as_str() {
        "ci" => &["fmt", "clippy", "no-std", "test", "loom"],
        "fmt" => &["fmt"],
        "clippy" => &["clippy"],
        "no-std" => &["no-std"],
        "test" => &["test"],
        "loom" => &["loom"],
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
        "loom" => &["test", "-p", "redress-core", "--test", "loom", "--release"],
        // Keep in sync with the README's test command and `.ci/run`.
        _ => &["test", "--workspace", "--all-features"],
    }
}

fn run(step: &str) -> bool {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args = args(step);
    println!("xtask: cargo {}", args.join(" "));
    let mut command = Command::new(cargo);
    command.args(args).current_dir(workspace_root());
    if step == "loom" {
        // loom needs its own cfg, so it builds in its own target directory.
        command
            .env("RUSTFLAGS", "--cfg loom")
            .env("CARGO_TARGET_DIR", workspace_root().join("target/loom"));
    }
    command.status().map(|s| s.success()).unwrap_or(false)
}

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
