//! A private Redis server.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::detached::Detached;
use crate::install::{RunAs, Service, ensure_installed, redis_server, sudo_install_command};
use crate::process::{HOST, Process, ScratchDir, truncate_log};
use crate::resp::{self, Resp};
use crate::{Error, skip};

/// A Redis server of its own: listening on 127.0.0.1 only, on a free port,
/// without persistence (nothing is ever written to disk), its working
/// directory a fresh temporary one.
///
/// Dropping it stops the server and removes the directory. When this
/// process is root, the server runs as the `redis` system user (the Debian
/// package creates it), or as root if there is none.
///
/// Use one when a test must stop, kill or restart the server; tests that
/// only need *a* server use the shared one of
/// [`redis_url`](crate::redis_url).
///
/// ```no_run
/// use redress_test_services::{Redis, Resp};
///
/// let Some(mut redis) = Redis::start_or_skip() else { return Ok(()) };
/// assert_eq!(redis.command(&["SET", "k", "v"])?, Resp::Simple("OK".into()));
///
/// redis.kill()?; // SIGKILL, as a crash: the data is gone
/// assert!(redis.command(&["PING"]).is_err());
/// redis.restart()?; // same port, empty
/// assert_eq!(redis.command(&["GET", "k"])?, Resp::Nil);
/// # Ok::<(), redress_test_services::Error>(())
/// ```
#[derive(Debug)]
pub struct Redis {
    // Declared before `dir`: the server stops before its directory goes.
    process: Process,
    port: u16,
    url: String,
    dir: ScratchDir,
}

impl Redis {
    /// Installs Redis if needed (see
    /// [`ensure_installed`](crate::ensure_installed)), starts it and waits
    /// until it answers `PING`.
    pub fn start() -> Result<Self, Error> {
        Self::launch(None)
    }

    /// [`start`](Self::start) for a test: `None` (after saying why on
    /// standard error) when Redis is not installed and cannot be.
    ///
    /// # Panics
    ///
    /// When the server cannot be started for another reason: the test
    /// fails, with the reason and the server's log. Also when it is not
    /// installed and the `CI` environment variable is set (see
    /// [`in_ci`](crate::in_ci)): CI must not skip server tests.
    #[must_use]
    #[allow(clippy::panic)] // failing the test is the point
    pub fn start_or_skip() -> Option<Self> {
        match Self::start() {
            Ok(redis) => Some(redis),
            Err(error) if error.is_unavailable() => skip(&error.to_string()),
            Err(error) => panic!("could not start a private Redis: {error}"),
        }
    }

    /// Starts a server that outlives this process (in a session of its own,
    /// its output in `log`), for `cargo xtask services up`. Stop it with
    /// [`Detached::stop`], from any process.
    pub fn start_detached(log: &Path) -> Result<Detached, Error> {
        let mut redis = Self::launch(Some(log))?;
        let pid = redis.process.forget().ok_or_else(|| {
            Error::Protocol("the server exited right after it started".to_owned())
        })?;
        redis.dir.keep();
        Ok(Detached {
            service: Service::Redis,
            pid,
            port: redis.port,
            url: redis.url.clone(),
            dir: redis.dir.path().to_path_buf(),
            log: log.to_path_buf(),
        })
    }

    fn launch(detached_log: Option<&Path>) -> Result<Self, Error> {
        ensure_installed(&[Service::Redis])?;
        let server = redis_server().ok_or_else(|| Error::NotInstalled {
            service: Service::Redis,
            command: sudo_install_command(&[Service::Redis]),
        })?;
        let run_as = RunAs::for_service(Service::Redis)?;
        let dir = ScratchDir::new("redress-redis")?;
        run_as.chown(dir.path())?;
        let log = match detached_log {
            Some(log) => {
                truncate_log(log)?;
                log.to_path_buf()
            }
            None => dir.path().join("redis.log"),
        };
        let mut process = Process::new(
            Service::Redis,
            server,
            run_as,
            detached_log.is_some(),
            dir.path().to_path_buf(),
            log,
            // Redis shuts down on SIGTERM; with no persistence it saves
            // nothing.
            "TERM",
        );
        let port = process.start_on_free_port(
            |port| server_args(dir.path(), port),
            |port| probe(port, dir.path()),
        )?;
        Ok(Redis {
            process,
            port,
            url: format!("redis://{HOST}:{port}"),
            dir,
        })
    }

    /// The URL to connect with: `redis://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port on 127.0.0.1; it stays the same across restarts.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file (everything it printed, across restarts).
    #[must_use]
    pub fn log_path(&self) -> &Path {
        self.process.log()
    }

    /// The server's process id, while it runs.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Sends one command on a connection of its own (see
    /// [`redis_command`]).
    pub fn command(&self, args: &[&str]) -> Result<Resp, Error> {
        redis_command(&self.url, args)
    }

    /// Stops the server cleanly (SIGTERM), waiting until it has exited.
    /// Does nothing if it is not running.
    pub fn stop(&mut self) -> Result<(), Error> {
        self.process.stop()
    }

    /// Kills the server with SIGKILL, as a crash or an OOM kill would, and
    /// waits until it is gone. Does nothing if it is not running.
    pub fn kill(&mut self) -> Result<(), Error> {
        self.process.kill()
    }

    /// Starts the server again on the same port (empty: nothing persists),
    /// and waits until it answers; stops it first if it is running. Fails
    /// if another process took the port meanwhile.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.process.stop()?;
        let (port, dir) = (self.port, self.dir.path());
        self.process.start(|| probe(port, dir))
    }
}

/// The server's command line: 127.0.0.1 only, on `port`, no persistence,
/// in the foreground, logging to standard output.
fn server_args(dir: &Path, port: u16) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--port",
        &port.to_string(),
        "--bind",
        HOST,
        "--protected-mode",
        "yes",
        "--daemonize",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    args.push(dir.into());
    args
}

/// Ready when the server on `port` answers `PING` and works in `dir` (so
/// it is this one, not another server that took the port).
fn probe(port: u16, dir: &Path) -> Result<(), Error> {
    let url = format!("redis://{HOST}:{port}");
    let pong = resp::command(&url, &["PING"])?;
    if pong != Resp::Simple("PONG".to_owned()) {
        return Err(Error::Protocol(format!("PING answered {pong:?}")));
    }
    let serving = match resp::command(&url, &["CONFIG", "GET", "dir"])? {
        Resp::Array(items) => items.get(1).and_then(Resp::as_str).map(PathBuf::from),
        _ => None,
    };
    if serving.as_deref() == Some(dir) {
        Ok(())
    } else {
        Err(Error::Protocol(format!(
            "port {port} is served by another Redis (in {serving:?})"
        )))
    }
}

/// Sends one command to the Redis server at `url` (`redis://HOST:PORT`,
/// optionally `/DB`; no credentials, no TLS) on a connection of its own,
/// speaking RESP, and returns the reply. An error reply is
/// [`Error::Redis`].
///
/// Meant for setting up and checking test servers (`FLUSHALL` between
/// tests, for example), not as a client.
///
/// ```no_run
/// use redress_test_services::{redis_command, Resp};
///
/// let Some(url) = redress_test_services::redis_url() else { return Ok(()) };
/// redis_command(&url, &["SET", "greeting", "hello"])?;
/// assert_eq!(redis_command(&url, &["GET", "greeting"])?.as_str(), Some("hello"));
/// assert_eq!(redis_command(&url, &["DEL", "greeting"])?, Resp::Integer(1));
/// # Ok::<(), redress_test_services::Error>(())
/// ```
pub fn redis_command(url: &str, args: &[&str]) -> Result<Resp, Error> {
    resp::command(url, args)
}
