//! The `redress` command: lint retry configs, see their envelope, and
//! simulate retry scenarios.
//!
//! - `redress doctor PATH[:NAME]` lints the policies of a config file with
//!   [`redress_config`]'s rules (`--show` prints a normalized snapshot,
//!   `--schedule` the envelope under sustained failure, `--format json` is
//!   for machines, `--deny-warnings` for CI);
//! - `redress simulate FILE.json` plays a conformance scenario (a policy
//!   plus a script of calls and attempt outcomes) through the real engine of
//!   [`redress_core`] under virtual time, and prints the event trace in the
//!   format the reference implementation's runner prints, so the two can be
//!   diffed; `redress simulate CONFIG --script SCRIPT` plays a failure
//!   [script] through a config file's policy.
//!
//! The library behind it:
//!
//! - [`doctor`](mod@doctor): the lint run and its reports;
//! - [`schedule`]: sampling a policy's envelope;
//! - [`scenario`]: the scenario model and its strict parser;
//! - [`script`]: failure scripts for config files;
//! - [`simulate`](mod@simulate): driving the engine under virtual time;
//! - [`trace`]: trace lines and their reference-compatible JSON;
//! - [`render`]: text rendering shared by the commands;
//! - [`cli`]: the command line.
//!
//! ```
//! use redress_doctor::{scenario::Scenario, simulate::simulate};
//!
//! let scenario = Scenario::from_json(r#"{
//!     "policy": {"strategy": {"kind": "constant", "delay_s": 1.0}},
//!     "calls": [{"attempts": [{"error": "PERMANENT"}]}]
//! }"#)?;
//! assert_eq!(
//!     simulate(&scenario)?.to_jsonl(),
//!     concat!(
//!         r#"{"attempt": 1, "call": 0, "cause": "exception", "class": "PERMANENT", "event": "permanent_fail", "sleep_s": 0.0, "state": null, "stop_reason": "NON_RETRYABLE_CLASS"}"#, "\n",
//!         r#"{"call": 0, "outcome": {"attempts": 1, "cause": "exception", "elapsed_s": 0.0, "last_class": "PERMANENT", "ok": false, "operation_calls": 1, "stop_reason": "NON_RETRYABLE_CLASS"}}"#, "\n",
//!     )
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod doctor;
pub mod render;
pub mod scenario;
pub mod schedule;
pub mod script;
pub mod simulate;
pub mod trace;

pub use cli::{Cli, CliError, Command, run, run_with};
pub use doctor::Status;
pub use scenario::{Scenario, ScenarioError};
pub use simulate::{SimulateError, simulate};
pub use trace::{Trace, TraceLine};
