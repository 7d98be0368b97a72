//! The `redress` command line.
//!
//! [`Cli`] is the parsed command line and [`run`] carries it out, writing
//! the command's output to the writer it is given as it is produced and
//! returning the [`Status`] the process should exit with, so the binary is
//! a thin `main` and everything else is testable in-process. Each
//! subcommand is one [`Command`] variant with its own arguments struct.

// A script error carries its place in the file; it is returned once per
// command, so its size does not matter.
#![allow(clippy::result_large_err)]

use core::ops::ControlFlow;
use core::time::Duration;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use redress_config::{
    BuildError, Document, LoadError, PolicyConfig, RULES, parse_duration, suggest,
};
use redress_core::ErrorClass;

use crate::doctor::{DoctorOptions, Status, Target, list_rules};
use crate::render::{ColorChoice, Style};
use crate::scenario::{Scenario, ScenarioError};
use crate::schedule::ScheduleOptions;
use crate::script::{Script, ScriptError};
use crate::simulate::{Played, SimulateError, simulate_config_into, simulate_into};
use crate::trace::{TextLines, TraceLine};

const EXAMPLES: &str = "\
Examples:
  redress doctor retry.toml                 lint every policy of a config file
  redress doctor --deny-warnings retry.toml fail on warnings too (for CI)
  redress doctor --schedule retry.toml:payments
                                            see one policy's delays under failure
  redress simulate retry.toml:payments --fail \"SERVER_ERROR x3, ok\"
                                            play calls through a policy";

const DOCTOR_EXAMPLES: &str = "\
Examples:
  redress doctor retry.toml                    every policy of the file
  redress doctor retry.toml:payments           one of them (a name may hold colons)
  redress doctor --deny-warnings retry.toml    exit 1 on warnings too (for CI)
  redress doctor --show --schedule retry.toml:payments
                                               every value, and the delays under failure
  redress doctor --format json retry.toml      for machines
  redress doctor --list-rules                  every rule, its code and severity";

const DOCTOR_USAGE: &str = "\
redress doctor [OPTIONS] <PATH[:NAME]>
       redress doctor --list-rules [--format <FORMAT>]";

/// The doctor's help, with its path shown as required (clap shows an
/// argument that `--list-rules` makes optional in brackets).
const DOCTOR_TEMPLATE: &str = "\
{about-with-newline}
{usage-heading} {usage}

Arguments:
  <PATH[:NAME]>  The config file (TOML, or JSON for .json), and optionally
                 which of its policies to check; required unless --list-rules

{all-args}{after-help}";

const SIMULATE_EXAMPLES: &str = "\
Examples:
  redress simulate scenario.json               a conformance scenario, as JSON lines
  redress simulate retry.toml:payments --fail \"SERVER_ERROR x3, ok\" --fail \"RATE_LIMIT retry_after=2s, ok\"
  redress simulate retry.toml:payments --script outage.toml --format json";

/// `redress`: tools for redress retry policies.
#[derive(Debug, Parser)]
#[command(name = "redress", version, about, long_about = None, after_help = EXAMPLES)]
#[non_exhaustive]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// When to colour the output: auto (on a terminal, unless NO_COLOR is
    /// set), always, never.
    #[arg(long, value_enum, value_name = "WHEN", global = true, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Lint the retry policies of a config file (TOML or JSON): exit 0 when
    /// they pass (warnings allowed), 1 when a policy has errors, 2 when the
    /// file cannot be read or parsed or has no policy NAME.
    #[command(
        override_usage = DOCTOR_USAGE,
        help_template = DOCTOR_TEMPLATE,
        after_help = DOCTOR_EXAMPLES
    )]
    Doctor(DoctorArgs),
    /// Play calls through the retry engine under virtual time: a
    /// conformance scenario (printed as its JSON-lines trace), or a config
    /// file's policy with a failure script (--script or --fail).
    #[command(after_help = SIMULATE_EXAMPLES)]
    Simulate(SimulateArgs),
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For machines.
    Json,
}

/// Arguments of `redress doctor`.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct DoctorArgs {
    /// The config file, and optionally which of its policies to check
    /// (shown by the help template, which says it is required).
    #[arg(
        value_name = "PATH[:NAME]",
        required_unless_present = "list_rules",
        hide = true
    )]
    pub target: Option<String>,
    /// Also print a normalized snapshot of each policy, every default made
    /// explicit.
    #[arg(long)]
    pub show: bool,
    /// Also print what each policy does when a class fails every attempt:
    /// the delays (min, median, p99, max), the cumulative time, and what
    /// stops it.
    #[arg(long)]
    pub schedule: bool,
    /// The failing class for --schedule [default: SERVER_ERROR].
    #[arg(long, value_name = "CLASS", value_parser = parse_class, requires = "schedule")]
    pub class: Option<ErrorClass>,
    /// How many calls --schedule samples.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000), requires = "schedule")]
    pub samples: u32,
    /// The jitter seed for --schedule (the same seed, the same numbers).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "schedule")]
    pub seed: u64,
    /// How long each attempt takes, for --schedule [default: 0s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, requires = "schedule")]
    pub attempt_time: Option<Duration>,
    /// A retry-after hint every failure carries, for --schedule.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, requires = "schedule")]
    pub retry_after: Option<Duration>,
    /// Follow each sampled call for at most N attempts, for --schedule: a
    /// policy may allow billions (the output says how many calls were
    /// still retrying there).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000), requires = "schedule")]
    pub schedule_limit: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Fail (exit 1) on warnings too: for CI.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Leave out the findings of a warning code (repeatable), e.g.
    /// --allow W013.
    #[arg(long, value_name = "CODE", value_parser = parse_warning_code)]
    pub allow: Vec<String>,
    /// List every rule (code, severity, what triggers it) and exit.
    #[arg(long, conflicts_with_all = ["target", "show", "schedule", "deny_warnings", "allow"])]
    pub list_rules: bool,
}

/// Arguments of `redress simulate`.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct SimulateArgs {
    /// A conformance scenario (JSON, in the format of
    /// `conformance/README.md`); with --script or --fail, a config file
    /// (PATH or PATH:NAME).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A failure script (TOML or JSON) to play through the config's policy.
    #[arg(long, value_name = "SCRIPT")]
    pub script: Option<PathBuf>,
    /// One call to play, its attempts separated by commas (repeatable):
    /// --fail "SERVER_ERROR x3, ok".
    #[arg(long, value_name = "ATTEMPTS")]
    pub fail: Vec<String>,
    /// The jitter seed, with a config (the same seed, the same delays).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Output format [default: json (the trace as JSON lines) for a
    /// scenario, text with a config].
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Stop after N trace lines, and say so: a policy may allow billions
    /// of attempts.
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: u64,
}

fn parse_class(text: &str) -> Result<ErrorClass, String> {
    let upper = text.to_ascii_uppercase().replace('-', "_");
    ErrorClass::from_name(&upper).ok_or_else(|| {
        let names = ErrorClass::ALL.map(ErrorClass::name);
        match suggest(text, names) {
            Some(near) => format!("unknown error class (did you mean {near}?)"),
            None => format!("unknown error class (classes: {})", names.join(", ")),
        }
    })
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| format!("{e} (write e.g. 250ms, 1.5s, 2m)"))
}

fn parse_warning_code(text: &str) -> Result<String, String> {
    let code = text.to_ascii_uppercase();
    match RULES.iter().find(|r| r.code == code) {
        Some(r) if r.code.starts_with('W') => Ok(code),
        Some(_) => Err("errors cannot be allowed, only warnings (W...)".to_owned()),
        None => Err("no such rule (see --list-rules)".to_owned()),
    }
}

/// Why a command could not run; [`exit_code`](CliError::exit_code) is what
/// the process should exit with.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// The scenario could not be read or is not valid.
    Scenario(ScenarioError),
    /// The scenario or config is valid but cannot be simulated.
    Simulate {
        /// The scenario or config file.
        file: PathBuf,
        /// Why.
        error: SimulateError,
    },
    /// The config file could not be loaded.
    Config(LoadError),
    /// The failure script could not be loaded.
    Script(ScriptError),
    /// A config was given without a failure script.
    NoScript {
        /// The config file.
        file: PathBuf,
    },
    /// The output could not be written.
    Output(std::io::Error),
}

impl CliError {
    /// 2 for a bad input (like clap's usage errors), 1 when writing the
    /// output failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Output(_) => 1,
            _ => 2,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Scenario(e) => e.fmt(f),
            // A build error of a config loaded from a file names the file.
            CliError::Simulate {
                error: error @ SimulateError::Build(BuildError::Invalid(report)),
                ..
            } if report.file.is_some() => error.fmt(f),
            CliError::Simulate { file, error } => write!(f, "{}: {error}", file.display()),
            CliError::Config(e) => e.fmt(f),
            CliError::Script(e) => e.fmt(f),
            CliError::NoScript { file } => write!(
                f,
                "{}: a config needs calls to play: --script SCRIPT.toml or --fail \"SERVER_ERROR x3, ok\"",
                file.display()
            ),
            CliError::Output(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Scenario(e) => Some(e),
            CliError::Simulate { error, .. } => Some(error),
            CliError::Config(e) => Some(e),
            CliError::Script(e) => Some(e),
            CliError::Output(e) => Some(e),
            CliError::NoScript { .. } => None,
        }
    }
}

/// Carries out `cli`, writing its output to `out` as it is produced;
/// returns the status to exit with. The output is taken not to be a
/// terminal: `--color auto` does not colour it (see [`run_with`]).
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Status, CliError> {
    run_with(cli, out, false)
}

/// [`run`], for output that goes to a terminal (`terminal`) or not:
/// `--color auto` colours a terminal's output unless `NO_COLOR` is set.
pub fn run_with(cli: &Cli, out: &mut dyn Write, terminal: bool) -> Result<Status, CliError> {
    let style = Style::new(cli.color.enabled_here(terminal));
    match &cli.command {
        Command::Doctor(args) => run_doctor(args, style, out).map_err(CliError::Output),
        Command::Simulate(args) => run_simulate(args, out),
    }
}

fn run_doctor(args: &DoctorArgs, style: Style, out: &mut dyn Write) -> std::io::Result<Status> {
    let json = args.format == OutputFormat::Json;
    let Some(target) = &args.target else {
        let mut text = String::new();
        list_rules(&mut text, json);
        out.write_all(text.as_bytes())?;
        out.flush()?;
        return Ok(Status::Passed);
    };
    let schedule = args.schedule.then(|| {
        let mut options = ScheduleOptions::new(args.class.unwrap_or(ErrorClass::ServerError));
        options.runs = args.samples;
        options.seed = args.seed;
        options.attempt_time = args.attempt_time.unwrap_or_default();
        options.retry_after = args.retry_after;
        options.limit = args.schedule_limit;
        options
    });
    let options = DoctorOptions {
        show: args.show,
        schedule,
        deny_warnings: args.deny_warnings,
        allow: args.allow.clone(),
        json,
        style,
    };
    crate::doctor::run(&Target::parse(target), &options, out)
}

/// Writes trace lines to `out` as they come, up to `limit`.
struct TraceWriter<'o> {
    out: &'o mut dyn Write,
    json: bool,
    text: TextLines,
    written: u64,
    limit: u64,
    failed: Option<std::io::Error>,
}

impl TraceWriter<'_> {
    fn line(&mut self, line: TraceLine) -> ControlFlow<()> {
        if self.written >= self.limit {
            return ControlFlow::Break(());
        }
        let text = if self.json {
            let mut json = line.to_json();
            json.push('\n');
            json
        } else {
            self.text.next(&line)
        };
        if let Err(e) = self.out.write_all(text.as_bytes()) {
            self.failed = Some(e);
            return ControlFlow::Break(());
        }
        self.written = self.written.saturating_add(1);
        ControlFlow::Continue(())
    }

    /// After the play: the notice when the limit stopped it.
    fn finish(self, played: Played) -> Result<Status, CliError> {
        if let Some(e) = self.failed {
            return Err(CliError::Output(e));
        }
        if let Played::Stopped { call } = played {
            let notice = if self.json {
                format!(
                    "{{\"limit\": {}, \"stopped_in_call\": {call}, \"truncated\": true}}\n",
                    self.limit
                )
            } else {
                format!(
                    "\nstopped after {} trace lines (--limit {}): call {call} and the calls after it were not played to the end\n",
                    self.written, self.limit
                )
            };
            self.out
                .write_all(notice.as_bytes())
                .map_err(CliError::Output)?;
        }
        self.out.flush().map_err(CliError::Output)?;
        Ok(Status::Passed)
    }
}

fn run_simulate(args: &SimulateArgs, out: &mut dyn Write) -> Result<Status, CliError> {
    if args.script.is_none() && args.fail.is_empty() {
        let scenario = match Scenario::load(&args.file) {
            Ok(s) => s,
            Err(e) => {
                let is_config = args
                    .file
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("toml"));
                return Err(if is_config {
                    CliError::NoScript {
                        file: args.file.clone(),
                    }
                } else {
                    CliError::Scenario(e)
                });
            }
        };
        let mut writer = TraceWriter {
            out,
            json: args.format != Some(OutputFormat::Text),
            text: TextLines::default(),
            written: 0,
            limit: args.limit,
            failed: None,
        };
        let played = simulate_into(&scenario, &mut |line| writer.line(line)).map_err(|error| {
            CliError::Simulate {
                file: args.file.clone(),
                error,
            }
        })?;
        return writer.finish(played);
    }
    let target = Target::parse(&args.file.to_string_lossy());
    let config = load_policy(&target)?;
    let mut calls = Vec::new();
    if let Some(path) = &args.script {
        calls.extend(Script::load(path).map_err(CliError::Script)?.calls);
    }
    calls.extend(
        Script::from_inline(&args.fail)
            .map_err(CliError::Script)?
            .calls,
    );
    let mut writer = TraceWriter {
        out,
        json: args.format == Some(OutputFormat::Json),
        text: TextLines::default(),
        written: 0,
        limit: args.limit,
        failed: None,
    };
    let played = simulate_config_into(&config, &calls, args.seed, &mut |line| writer.line(line))
        .map_err(|error| CliError::Simulate {
            file: target.path.clone(),
            error,
        })?;
    writer.finish(played)
}

/// The policy `target` names; only it has to be valid.
fn load_policy(target: &Target) -> Result<PolicyConfig, CliError> {
    let doc = Document::load(&target.path).map_err(CliError::Config)?;
    let entry = match &target.name {
        Some(name) => doc.entry(name).map_err(CliError::Config)?,
        None => match doc.entries() {
            [only] => only,
            many => {
                return Err(CliError::Config(LoadError::NotSingle {
                    file: Some(target.path.clone()),
                    available: many.iter().filter_map(|e| e.name.clone()).collect(),
                }));
            }
        },
    };
    entry.result.clone().map_err(|problems| {
        CliError::Config(LoadError::Invalid {
            file: Some(target.path.clone()),
            problems,
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn simulate_takes_one_file() {
        let cli = Cli::try_parse_from(["redress", "simulate", "x.json"]).unwrap();
        let Command::Simulate(args) = &cli.command else {
            panic!("not simulate")
        };
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

    #[test]
    fn doctor_arguments() {
        let cli = Cli::try_parse_from([
            "redress",
            "doctor",
            "retry.toml:payments",
            "--schedule",
            "--class",
            "rate_limit",
            "--attempt-time",
            "100ms",
            "--allow",
            "w013",
            "--deny-warnings",
        ])
        .unwrap();
        let Command::Doctor(args) = &cli.command else {
            panic!("not doctor")
        };
        assert_eq!(args.class, Some(ErrorClass::RateLimit));
        assert_eq!(args.attempt_time, Some(Duration::from_millis(100)));
        assert_eq!(args.allow, ["W013"]);
        // --class needs --schedule; errors cannot be allowed; a target is
        // needed unless listing rules.
        assert!(Cli::try_parse_from(["redress", "doctor", "x.toml", "--class", "AUTH"]).is_err());
        assert!(Cli::try_parse_from(["redress", "doctor", "x.toml", "--allow", "E001"]).is_err());
        assert!(Cli::try_parse_from(["redress", "doctor"]).is_err());
        assert!(Cli::try_parse_from(["redress", "doctor", "--list-rules"]).is_ok());
        let e = Cli::try_parse_from([
            "redress",
            "doctor",
            "x",
            "--schedule",
            "--class",
            "SERVR_ERROR",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("did you mean SERVER_ERROR?"), "{e}");
    }
}
