//! The `redress` command line.
//!
//! [`Cli`] is the parsed command line and [`run`] carries it out, writing
//! the command's output to the writer it is given, so the binary is a thin
//! `main` and everything else is testable in-process. Each subcommand is one
//! [`Command`] variant with its own arguments struct.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::scenario::{Scenario, ScenarioError};
use crate::simulate::{SimulateError, simulate};

/// `redress`: tools for redress retry policies.
#[derive(Debug, Parser)]
#[command(name = "redress", version, about, long_about = None)]
#[non_exhaustive]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Play a conformance scenario through the retry engine under virtual
    /// time and print its event trace as JSON lines.
    Simulate(SimulateArgs),
}

/// Arguments of `redress simulate`.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct SimulateArgs {
    /// The scenario file (JSON, in the format of `conformance/README.md`).
    #[arg(value_name = "FILE.json")]
    pub file: PathBuf,
}

/// Why a command failed; [`exit_code`](CliError::exit_code) is what the
/// process should exit with.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// The scenario could not be read or is not valid.
    Scenario(ScenarioError),
    /// The scenario is valid but cannot be simulated.
    Simulate {
        /// The scenario file.
        file: PathBuf,
        /// Why.
        error: SimulateError,
    },
    /// The output could not be written.
    Output(std::io::Error),
}

impl CliError {
    /// 2 for a bad input (like clap's usage errors), 1 when writing the
    /// output failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Scenario(_) | CliError::Simulate { .. } => 2,
            CliError::Output(_) => 1,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Scenario(e) => e.fmt(f),
            CliError::Simulate { file, error } => write!(f, "{}: {error}", file.display()),
            CliError::Output(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Scenario(e) => Some(e),
            CliError::Simulate { error, .. } => Some(error),
            CliError::Output(e) => Some(e),
        }
    }
}

/// Carries out `cli`, writing its output to `out`.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<(), CliError> {
    match &cli.command {
        Command::Simulate(args) => run_simulate(args, out),
    }
}

fn run_simulate(args: &SimulateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let scenario = Scenario::load(&args.file).map_err(CliError::Scenario)?;
    let trace = simulate(&scenario).map_err(|error| CliError::Simulate {
        file: args.file.clone(),
        error,
    })?;
    out.write_all(trace.to_jsonl().as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::Output)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn simulate_takes_one_file() {
        let cli = Cli::try_parse_from(["redress", "simulate", "x.json"]).unwrap();
        let Command::Simulate(args) = &cli.command;
        assert_eq!(args.file, PathBuf::from("x.json"));
        assert!(Cli::try_parse_from(["redress", "simulate"]).is_err());
        assert!(Cli::try_parse_from(["redress"]).is_err());
    }

    #[test]
    fn a_missing_file_is_a_usage_error() {
        let cli = Cli::try_parse_from(["redress", "simulate", "/nonexistent/s.json"]).unwrap();
        let mut out = Vec::new();
        let err = run(&cli, &mut out).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .starts_with("/nonexistent/s.json: cannot read")
        );
        assert!(out.is_empty());
    }
}
