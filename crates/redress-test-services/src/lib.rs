//! Real PostgreSQL and Redis servers for redress's tests.
//!
//! Integrations that talk to a database or a store are tested against the
//! real thing, not a mock: this crate finds (or installs) the servers from
//! the Debian packages, starts them privately and hands their URLs to
//! tests. It is the one implementation behind `cargo xtask services` and
//! `cargo xtask test`, and what tests call.
//!
//! Every server listens on 127.0.0.1 only, on a free port, in a fresh
//! temporary directory, as a non-root user; the packages' own system
//! services and default ports are never used. Linux only (it reads
//! `/proc`, installs with apt-get and switches users with util-linux's
//! `setpriv`).
//!
//! # The shared servers: `REDRESS_PG_URL` and `REDRESS_REDIS_URL`
//!
//! `cargo xtask test` starts one PostgreSQL and one Redis, runs the whole
//! test suite with their URLs in `REDRESS_PG_URL` and `REDRESS_REDIS_URL`,
//! and stops them. A test reads them with [`pg_url`] and [`redis_url`],
//! which skip the test (with a message naming the command to run) when the
//! variable is missing, and fail it when the `CI` variable is set:
//!
//! ```no_run
//! use redress_test_services::pg_query;
//!
//! // In a #[test] function:
//! let Some(url) = redress_test_services::pg_url() else { return Ok(()) };
//! let rows = pg_query(&url, "SELECT count(*) FROM pg_database")?;
//! assert_eq!(rows.len(), 1);
//! # Ok::<(), redress_test_services::Error>(())
//! ```
//!
//! Shared servers are shared by every test of the run, in parallel: use
//! names (tables, keys) of your own, and do not stop them.
//!
//! To run a few tests against servers without `cargo xtask test`:
//!
//! ```sh
//! cargo xtask services up        # prints the export lines
//! eval "$(cargo xtask services env)"
//! cargo test -p my-crate
//! cargo xtask services down
//! ```
//!
//! # Private servers: stop, kill, restart
//!
//! A test that stops, kills or restarts a server starts one of its own,
//! so that it disturbs nobody: [`Postgres::start_or_skip`] and
//! [`Redis::start_or_skip`]. They install the packages if needed (as
//! root), skip the test when that is not possible (and fail it under CI),
//! and stop the server and remove its directory on drop.
//!
//! ```no_run
//! use redress_test_services::{Redis, Resp};
//!
//! let Some(mut redis) = Redis::start_or_skip() else { return Ok(()) };
//! redis.command(&["SET", "key", "value"])?;
//! redis.kill()?; // SIGKILL mid-run
//! assert!(redis.command(&["PING"]).is_err());
//! redis.restart()?; // back on the same port
//! assert_eq!(redis.command(&["PING"])?, Resp::Simple("PONG".into()));
//! # Ok::<(), redress_test_services::Error>(())
//! ```
//!
//! [`pg_query`] and [`redis_command`] speak just enough of each protocol
//! (trust authentication, simple queries; RESP) to set servers up and
//! check them; the integrations under test bring their real clients.
//!
//! `docs/contributing.md` describes the commands and the variables for
//! people working on redress.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod detached;
mod error;
mod install;
mod pgwire;
mod postgres;
mod process;
mod redis;
mod resp;

pub use detached::{Detached, ServicesState};
pub use error::Error;
pub use install::{Service, ensure_installed};
pub use postgres::{Postgres, pg_query};
pub use redis::{Redis, redis_command};
pub use resp::Resp;

/// The environment variable with the URL of the shared PostgreSQL server.
pub const PG_URL_VAR: &str = "REDRESS_PG_URL";
/// The environment variable with the URL of the shared Redis server.
pub const REDIS_URL_VAR: &str = "REDRESS_REDIS_URL";

/// How to run the server tests, for skip and failure messages.
const HOW_TO_RUN: &str = "run the tests with `cargo xtask test`, or start the servers with \
     `cargo xtask services up` and export the variables it prints \
     (eval \"$(cargo xtask services env)\")";

/// The URL of the shared PostgreSQL server, from `REDRESS_PG_URL`.
///
/// When the variable is missing (or empty), the test should skip: this
/// prints why on standard error, naming the command to run, and returns
/// `None`.
///
/// ```no_run
/// let Some(url) = redress_test_services::pg_url() else { return };
/// // postgres://redress@127.0.0.1:PORT/redress
/// ```
///
/// # Panics
///
/// When the variable is missing and the `CI` environment variable is set
/// (see [`in_ci`]): CI must run the server tests, not skip them.
#[must_use]
pub fn pg_url() -> Option<String> {
    url_from_env(PG_URL_VAR)
}

/// The URL of the shared Redis server, from `REDRESS_REDIS_URL`.
///
/// When the variable is missing (or empty), the test should skip: this
/// prints why on standard error, naming the command to run, and returns
/// `None`.
///
/// ```no_run
/// let Some(url) = redress_test_services::redis_url() else { return };
/// // redis://127.0.0.1:PORT
/// ```
///
/// # Panics
///
/// When the variable is missing and the `CI` environment variable is set
/// (see [`in_ci`]): CI must run the server tests, not skip them.
#[must_use]
pub fn redis_url() -> Option<String> {
    url_from_env(REDIS_URL_VAR)
}

fn url_from_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => skip(&format!("{var} is not set")),
    }
}

/// Whether the `CI` environment variable is set (to anything but empty,
/// `0` or `false`): then a server test that cannot run fails instead of
/// skipping.
///
/// ```
/// // Whatever the environment, the answer is a plain bool.
/// let _strict: bool = redress_test_services::in_ci();
/// ```
#[must_use]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| ci_value_is_set(&value))
}

fn ci_value_is_set(value: &str) -> bool {
    !(value.is_empty() || value == "0" || value.eq_ignore_ascii_case("false"))
}

/// Skips the current test, saying why, or fails it under CI.
#[allow(clippy::panic)] // failing the test is the point
pub(crate) fn skip<T>(reason: &str) -> Option<T> {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    if in_ci() {
        panic!(
            "{test}: {reason}, and CI is set, so this server test fails instead of skipping: \
             {HOW_TO_RUN}"
        );
    }
    note(&format!("skipping {test}: {reason}; {HOW_TO_RUN}"));
    None
}

/// Prints a line on standard error, straight to it: the test harness
/// captures `eprintln!` and shows it only for failed tests, and skips and
/// installations must be seen.
pub(crate) fn note(message: &str) {
    let line = format!("{message}\n");
    // Nothing useful to do if standard error is gone.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// The snippets of `docs/contributing.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/contributing.md")]
pub struct ContributingDoctests;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ci_means_set_to_something_true() {
        for set in ["true", "1", "yes", "TRUE"] {
            assert!(ci_value_is_set(set), "{set}");
        }
        for unset in ["", "0", "false", "False"] {
            assert!(!ci_value_is_set(unset), "{unset}");
        }
    }

    #[test]
    fn the_how_to_names_both_commands() {
        assert!(HOW_TO_RUN.contains("cargo xtask test"));
        assert!(HOW_TO_RUN.contains("cargo xtask services up"));
    }
}
