//! Retry policies as data for [redress](https://docs.rs/redress): load them
//! from TOML or JSON, build them, write them back out, and lint them.
//!
//! A policy's envelope (deadline, attempt caps), strategies, budget and
//! circuit breaker are plain values, so they can live in a config file the
//! application loads at run time, and CI can check the same file with the
//! same code (`redress doctor retry.toml`). How failures are classified is
//! code: the application supplies its classifier when it builds the policy.
//!
//! ```toml
//! # retry.toml: one policy at the top level, or several under [policies.NAME]
//! [policies.payments]
//! deadline = "10s"               # durations as "250ms", "1.5s", "2m"
//! max_attempts = 5
//! max_unknown_attempts = 2       # a whole number, or "unlimited"
//! attempt_timeout = "2s"         # optional
//! stop_when_retry_after_exceeds_deadline = true  # optional: a Retry-After past the deadline stops at once
//! strategy = { kind = "decorrelated_jitter", base = "250ms", max = "5s" }
//! per_class_max_attempts = { RATE_LIMIT = 3 }
//!
//! [policies.payments.strategies]
//! RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "decorrelated_jitter", max = "8s" } }
//! CONCURRENCY = { kind = "constant", delay = "50ms" }
//!
//! [policies.payments.budget]
//! max_retries = 100
//! window = "60s"
//!
//! [policies.payments.circuit_breaker]
//! failure_threshold = 5
//! window = "60s"
//! recovery_timeout = "30s"
//! trip_on = ["TRANSIENT", "SERVER_ERROR"]
//! ```
//!
//! - **Load**: [`ConfigFile::load`] / [`ConfigFile::from_toml_str`] (a file
//!   of policies), [`PolicyConfig::from_toml_str`] (one policy), or serde
//!   (a policy embedded in the application's own config). Problems are
//!   reported all at once, in line order, each naming its key, with line
//!   and column (TOML and JSON alike) and the nearest valid name for a
//!   typo. Files are read with a size cap ([`MAX_FILE_BYTES`]); JSON
//!   refuses duplicate keys as TOML does, and both accept a byte-order
//!   mark. The same loader reads a policy written in the conformance
//!   scenarios' [`Dialect`] ([`PolicyConfig::from_json_value`]).
//!   [`Document`] is the file for tools: every policy with its problems,
//!   the location of every key, and ([`Document::parse_partial`]) as much
//!   of a broken file as can be read.
//! - **Build**: [`PolicyConfig::builder`] gives a
//!   [`PolicyBuilder`](redress_core::PolicyBuilder) to add the classifier to;
//!   [`build`](PolicyConfig::build) and [`build_with`](PolicyConfig::build_with)
//!   are the short forms. Building refuses exactly what redress-core's
//!   validation refuses (the lint's errors, each with its key, and for a
//!   config loaded from a file its file, line and column); warnings never
//!   stop it.
//! - **Write out**: [`PolicyConfig::from_policy`] reads a built policy back
//!   (custom strategies cannot be: [`ExportError`]);
//!   [`to_toml_string`](PolicyConfig::to_toml_string) and
//!   [`to_json_string`](PolicyConfig::to_json_string) write every value
//!   explicitly.
//! - **Lint**: [`Lint::lint`] on a config or a built [`Policy`](redress_core::Policy)
//!   returns a [`Report`] of [`Diagnostic`]s, each with a stable code, the
//!   key, a message and a one-line help; [`RULES`] lists them. The errors
//!   (`E0xx`, `E108`) are redress-core's [`ConfigError`](redress_core::ConfigError)s,
//!   the one set of validity rules; the warnings (`W0xx`) are this crate's.
//!   `redress doctor` runs the same rules.
//!
//! ```
//! use redress_config::{ConfigFile, Lint};
//! use redress_core::{Classification, ErrorClass};
//!
//! let file = ConfigFile::from_toml_str(r#"
//!     [policies.payments]
//!     deadline = "10s"
//!     max_attempts = 5
//!     stop_when_retry_after_exceeds_deadline = true
//!     strategy = { kind = "decorrelated_jitter", base = "250ms", max = "5s" }
//!     strategies.RATE_LIMIT = { kind = "retry_after_or", fallback = { kind = "decorrelated_jitter", max = "8s" } }
//! "#)?;
//! let config = file.policy("payments")?;
//! assert!(config.lint().is_clean());
//!
//! # #[derive(Debug)] struct HttpError { status: u16 }
//! let policy = config.build_with(|e: &HttpError| match e.status {
//!     429 => ErrorClass::RateLimit,
//!     500..=599 => ErrorClass::ServerError,
//!     _ => ErrorClass::Permanent,
//! })?;
//! assert_eq!(policy.retry().max_attempts(), 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Strategy kinds
//!
//! | kind | parameters (defaults) |
//! |---|---|
//! | `decorrelated_jitter` | `base` (250ms), `max` (30s) |
//! | `equal_jitter` | `base` (250ms), `max` (30s) |
//! | `full_jitter` | `base` (250ms), `max` (30s) |
//! | `token_backoff` | `base` (250ms), `max` (20s) |
//! | `exponential` | `base` (250ms), `max` (30s), `factor` (2.0) |
//! | `constant` | `delay` (required) |
//! | `schedule` | `delays` (required, a list) |
//! | `retry_after_or` | `fallback` (required, a strategy), `jitter` (250ms) |
//! | `adaptive` | `fallback` (required), `window` (60s), `target_success` (0.9), `min_multiplier` (1.0), `max_multiplier` (5.0) |
//!
//! The kinds, parameters and defaults are redress-core's
//! [`StrategyKind`](redress_core::StrategyKind) table. `retry_after_or` may
//! fall back to `adaptive`, and `adaptive` wraps a plain curve; any other
//! nesting loads but is refused (`E108`). A strategy with only defaults can
//! be written as its kind: `strategy = "full_jitter"`.
//!
//! Budgets: `kind = "rolling"` (the default: `max_retries` and `window`,
//! both required) or `kind = "ratio"` (`ratio` 0.2, `min_per_second` 10,
//! `window` 10s). Breakers: `failure_threshold` (5), `window` (60s),
//! `recovery_timeout` (30s), `trip_on` (`TRANSIENT`, `SERVER_ERROR`),
//! `class_thresholds` (none).
//!
//! # Shared breakers and budgets
//!
//! A file of `[policies.NAME]` may declare breakers and budgets once, as
//! `[breakers.NAME]` and `[budgets.NAME]`, for policies to name
//! (`circuit_breaker = "NAME"`, `budget = "NAME"`): two policies for one
//! upstream then share one breaker. A declaration with `store =
//! "redis://..."` is shared by the fleet, not only this process. Build such
//! policies with a [`SharedState`]; see the [`shared`] module.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod build;
mod diagnostic;
mod dialect;
mod duration;
mod export;
pub mod lint;
pub mod load;
mod model;
pub mod shared;
mod source;
mod suggest;
mod tree;

pub use build::BuildError;
pub use diagnostic::{Diagnostic, Location, Report, Severity};
pub use dialect::Dialect;
pub use duration::{
    DurationError, MAX_SECONDS, format_duration, parse_duration, seconds_to_duration,
};
pub use export::ExportError;
pub use lint::{Lint, RULES, Rule};
pub use load::{Document, Entry, Format, LoadError};
pub use model::{BreakerConfig, BudgetConfig, ConfigFile, PolicyConfig, StrategyConfig};
pub use shared::{
    SharedBreaker, SharedBudget, SharedRef, SharedState, StoreConfig, StoreFallback, StoreResolver,
};
pub use source::{LineIndex, MAX_FILE_BYTES, SourceValue, read_file};
pub use suggest::suggest;
