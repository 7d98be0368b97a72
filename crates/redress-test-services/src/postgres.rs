//! A private PostgreSQL server.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::detached::Detached;
use crate::install::{RunAs, Service, ensure_installed, postgres_bindir, sudo_install_command};
use crate::pgwire::{self, Connection, Target};
use crate::process::{HOST, Process, ScratchDir, run_helper, truncate_log};
use crate::{Error, skip};

/// The login role (a superuser) and the database of every instance.
pub(crate) const USER: &str = "redress";
const DATABASE: &str = "redress";

/// Who may connect: anyone on the private socket directory or on
/// 127.0.0.1, without a password. The server listens nowhere else.
const PG_HBA: &str = "\
# Private test server of redress-test-services: trust, loopback only.
local all all trust
host all all 127.0.0.1/32 trust
";

/// A PostgreSQL server of its own: a fresh cluster in a temporary
/// directory, listening on 127.0.0.1 only, on a free port, with a login
/// role and a database both named `redress` (trust authentication).
///
/// Dropping it stops the server and removes the directory. When this
/// process is root, the server runs as the `postgres` system user (the
/// Debian package creates it; PostgreSQL refuses to run as root).
///
/// Use one when a test must stop or restart the server; tests that only
/// need *a* server use the shared one of [`pg_url`](crate::pg_url).
///
/// ```no_run
/// use redress_test_services::Postgres;
///
/// let Some(mut pg) = Postgres::start_or_skip() else { return Ok(()) };
/// assert_eq!(pg.query("SELECT 1")?, [[Some("1".to_owned())]]);
///
/// let port = pg.port();
/// pg.stop()?; // connections now fail
/// assert!(pg.query("SELECT 1").is_err());
/// pg.restart()?; // same port, same data
/// assert_eq!(pg.port(), port);
/// # Ok::<(), redress_test_services::Error>(())
/// ```
#[derive(Debug)]
pub struct Postgres {
    // Declared before `dir`: the server stops before its directory goes.
    process: Process,
    bindir: PathBuf,
    data: PathBuf,
    port: u16,
    url: String,
    dir: ScratchDir,
}

impl Postgres {
    /// Installs PostgreSQL if needed (see
    /// [`ensure_installed`](crate::ensure_installed)), creates a cluster in
    /// a fresh temporary directory, starts it and waits until it accepts
    /// connections.
    pub fn start() -> Result<Self, Error> {
        Self::launch(None)
    }

    /// [`start`](Self::start) for a test: `None` (after saying why on
    /// standard error) when PostgreSQL is not installed and cannot be.
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
            Ok(pg) => Some(pg),
            Err(error) if error.is_unavailable() => skip(&error.to_string()),
            Err(error) => panic!("could not start a private PostgreSQL: {error}"),
        }
    }

    /// Starts a server that outlives this process (in a session of its own,
    /// its output in `log`), for `cargo xtask services up`. Stop it with
    /// [`Detached::stop`], from any process.
    pub fn start_detached(log: &Path) -> Result<Detached, Error> {
        let mut pg = Self::launch(Some(log))?;
        let pid = pg.process.forget().ok_or_else(|| {
            Error::Protocol("the server exited right after it started".to_owned())
        })?;
        pg.dir.keep();
        Ok(Detached {
            service: Service::Postgres,
            pid,
            port: pg.port,
            url: pg.url.clone(),
            dir: pg.dir.path().to_path_buf(),
            log: log.to_path_buf(),
        })
    }

    fn launch(detached_log: Option<&Path>) -> Result<Self, Error> {
        ensure_installed(&[Service::Postgres])?;
        let bindir = postgres_bindir().ok_or_else(|| Error::NotInstalled {
            service: Service::Postgres,
            command: sudo_install_command(&[Service::Postgres]),
        })?;
        let run_as = RunAs::for_service(Service::Postgres)?;
        let dir = ScratchDir::new("redress-pg")?;
        run_as.chown(dir.path())?;
        let data = dir.path().join("data");
        let log = match detached_log {
            Some(log) => {
                truncate_log(log)?;
                log.to_path_buf()
            }
            None => dir.path().join("postgres.log"),
        };

        let mut initdb = run_as.command(&bindir.join("initdb"), false);
        initdb
            .arg("--pgdata")
            .arg(&data)
            .args(["--username", USER, "--auth", "trust", "--encoding", "UTF8"])
            // No fsync: the cluster is thrown away.
            .args(["--locale", "C", "--no-sync"])
            .current_dir(dir.path());
        run_helper(initdb)?;
        let hba = data.join("pg_hba.conf");
        fs::write(&hba, PG_HBA)
            .map_err(|error| Error::io(format!("writing {}", hba.display()), error))?;

        let mut process = Process::new(
            Service::Postgres,
            bindir.join("postgres"),
            run_as,
            detached_log.is_some(),
            dir.path().to_path_buf(),
            log,
            // Fast shutdown: disconnect clients, then exit cleanly.
            "INT",
        );
        let port = process.start_on_free_port(
            |port| server_args(&data, dir.path(), port),
            |port| probe(port, &data),
        )?;
        let url = format!("postgres://{USER}@{HOST}:{port}/{DATABASE}");
        admin(port)?.simple_query(&format!("CREATE DATABASE {DATABASE}"))?;
        Ok(Postgres {
            process,
            bindir,
            data,
            port,
            url,
            dir,
        })
    }

    /// The URL to connect with: `postgres://redress@127.0.0.1:PORT/redress`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port on 127.0.0.1; it stays the same across restarts.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server's log file (everything it printed, across restarts).
    #[must_use]
    pub fn log_path(&self) -> &Path {
        self.process.log()
    }

    /// The directory of PostgreSQL's programs (`psql`, `pg_ctl`, ...).
    #[must_use]
    pub fn bin_dir(&self) -> &Path {
        &self.bindir
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

    /// Runs `sql` on a connection of its own (see [`pg_query`]).
    pub fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
        pg_query(&self.url, sql)
    }

    /// Stops the server (a fast shutdown: clients are disconnected, the
    /// server exits cleanly), waiting until it has exited. The port and the
    /// data are kept for [`restart`](Self::restart). Does nothing if it is
    /// not running.
    pub fn stop(&mut self) -> Result<(), Error> {
        self.process.stop()
    }

    /// Starts the server again on the same port and data directory, and
    /// waits until it accepts connections; stops it first if it is running.
    /// Fails if another process took the port meanwhile.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.process.stop()?;
        let (port, data) = (self.port, &self.data);
        self.process.start(|| probe(port, data))
    }
}

/// The server's command line: the private cluster on `port`, 127.0.0.1
/// only, its Unix socket in the private directory.
fn server_args(data: &Path, socket_dir: &Path, port: u16) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "-D".into(),
        data.into(),
        "-p".into(),
        port.to_string().into(),
    ];
    let mut socket = OsString::from("unix_socket_directories=");
    socket.push(socket_dir);
    for setting in [
        OsString::from(format!("listen_addresses={HOST}")),
        socket,
        // Durability is of no use to a throw-away cluster; speed is.
        "fsync=off".into(),
        "synchronous_commit=off".into(),
        "full_page_writes=off".into(),
    ] {
        args.push("-c".into());
        args.push(setting);
    }
    args
}

/// A superuser connection to the maintenance database.
fn admin(port: u16) -> Result<Connection, Error> {
    Connection::open(&Target {
        host: HOST.to_owned(),
        port,
        user: USER.to_owned(),
        database: "postgres".to_owned(),
    })
}

/// Ready when the server on `port` accepts a connection and is the one of
/// `data` (not another server that took the port).
fn probe(port: u16, data: &Path) -> Result<(), Error> {
    let rows = admin(port)?.simple_query("SHOW data_directory")?;
    let serving = rows.first().and_then(|row| row.first()).cloned().flatten();
    if serving.as_deref().map(Path::new) == Some(data) {
        Ok(())
    } else {
        Err(Error::Protocol(format!(
            "port {port} is served by another cluster ({serving:?})"
        )))
    }
}

/// Runs `sql` against the PostgreSQL server at `url`
/// (`postgres://USER@HOST:PORT/DATABASE`, trust authentication, no TLS) on
/// a connection of its own, with the simple query protocol. Returns the
/// rows of every result as text, `None` for NULL; a server error is
/// [`Error::Postgres`], with its SQLSTATE.
///
/// Meant for setting up and checking test servers, not as a client: no
/// passwords, no TLS, no parameters.
///
/// ```no_run
/// use redress_test_services::{pg_query, Error};
///
/// let Some(url) = redress_test_services::pg_url() else { return Ok(()) };
/// assert_eq!(pg_query(&url, "SELECT 1, NULL")?, [[Some("1".to_owned()), None]]);
/// match pg_query(&url, "SELECT * FROM missing") {
///     Err(Error::Postgres { code, .. }) => assert_eq!(code, "42P01"),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Error>(())
/// ```
pub fn pg_query(url: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
    pgwire::query(url, sql)
}
