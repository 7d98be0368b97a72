//! The `redress` command: simulate retry scenarios (and, later, lint retry
//! configs).
//!
//! `redress simulate FILE.json` plays a conformance scenario (a policy plus
//! a script of calls and attempt outcomes) through the real engine of
//! [`redress_core`] under virtual time, and prints the event trace in the
//! format the reference implementation's runner prints, so the two can be
//! diffed. The library behind it:
//!
//! - [`scenario`]: the scenario model and its strict parser;
//! - [`simulate`](mod@simulate): driving the engine under virtual time;
//! - [`trace`]: trace lines and their reference-compatible JSON;
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
pub mod scenario;
pub mod simulate;
pub mod trace;

pub use cli::{Cli, CliError, Command, run};
pub use scenario::{Scenario, ScenarioError};
pub use simulate::{SimulateError, simulate};
pub use trace::{Trace, TraceLine};
