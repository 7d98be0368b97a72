//! The one error type of the crate.

use std::io;
use std::path::PathBuf;

use crate::install::Service;

/// What went wrong while installing, starting, stopping or talking to a
/// server. Every message says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A server's binaries are missing and this process cannot install
    /// them (it is not root). The message names the command to run.
    #[error(
        "{} is not installed and installing it needs root: run `{command}` \
         (or `cargo xtask test` as root, which installs it)",
        .service.package()
    )]
    NotInstalled {
        /// The server that is missing.
        service: Service,
        /// The command that installs it.
        command: String,
    },

    /// Installing with apt-get failed (no network, no apt, a held lock...).
    #[error("`{command}` failed ({status}); run it by hand to see why")]
    InstallFailed {
        /// The command that failed.
        command: String,
        /// Its exit status, or why it could not run.
        status: String,
    },

    /// Running as root, but the system user a server must run as does not
    /// exist (PostgreSQL refuses to run as root).
    #[error(
        "running as root, but there is no `{user}` system user to run {} as: \
         install the Debian package (`{command}`), which creates it, or run as a non-root user",
        .service.name()
    )]
    NoSystemUser {
        /// The server.
        service: Service,
        /// The user it would run as.
        user: &'static str,
        /// The command that installs the package.
        command: String,
    },

    /// A server did not become ready: it exited, or did not answer in time.
    #[error("{} did not start: {reason}\n--- last lines of {} ---\n{log_tail}", .service.name(), .log.display())]
    Start {
        /// The server.
        service: Service,
        /// What happened.
        reason: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log, to see why.
        log_tail: String,
    },

    /// A server did not stop, even after SIGKILL.
    #[error("{} (pid {pid}) did not stop", .service.name())]
    Stop {
        /// The server.
        service: Service,
        /// Its process id.
        pid: u32,
    },

    /// A helper program (`initdb`, `setpriv`, `id`, ...) failed.
    #[error("`{command}` failed ({status}){}", if .output.is_empty() { String::new() } else { format!(":\n{}", .output) })]
    Command {
        /// The command line.
        command: String,
        /// Its exit status, or why it could not run.
        status: String,
        /// What it printed.
        output: String,
    },

    /// A file system or network operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },

    /// A URL this crate cannot use.
    #[error("cannot use URL `{url}`: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The server answered something this crate's small client does not
    /// understand (or does not support, such as password authentication).
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),

    /// PostgreSQL answered with an error.
    #[error("PostgreSQL error {code}: {message}")]
    Postgres {
        /// The SQLSTATE code, such as `42P01`.
        code: String,
        /// The server's message.
        message: String,
    },

    /// Redis answered with an error reply.
    #[error("Redis error reply: {0}")]
    Redis(String),

    /// The services state file cannot be read or written.
    #[error("services state file {}: {reason}", .path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// Whether the servers are merely unavailable here (not installed, and
    /// installing is not possible), as opposed to broken. A test skips on
    /// these (outside CI) and fails on every other error.
    ///
    /// ```
    /// use redress_test_services::{Error, Service};
    ///
    /// let missing = Error::NotInstalled {
    ///     service: Service::Redis,
    ///     command: Service::install_command(&[Service::Redis]),
    /// };
    /// assert!(missing.is_unavailable());
    /// assert!(!Error::Redis("ERR unknown command".into()).is_unavailable());
    /// ```
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::NotInstalled { .. } | Error::InstallFailed { .. } | Error::NoSystemUser { .. }
        )
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
