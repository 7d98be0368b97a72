//! Servers that outlive the process that started them, and the state file
//! through which another process finds and stops them.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::install::Service;
use crate::process::{HOST, pid_runs, stop_pid};

/// A server started by [`Postgres::start_detached`](crate::Postgres::start_detached)
/// or [`Redis::start_detached`](crate::Redis::start_detached): it runs in a
/// session of its own until [`stop`](Self::stop)ped, by any process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detached {
    /// Which server.
    pub service: Service,
    /// Its process id.
    pub pid: u32,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The URL to connect with.
    pub url: String,
    /// Its temporary directory (the cluster of PostgreSQL, the working
    /// directory of Redis), removed by [`stop`](Self::stop).
    pub dir: PathBuf,
    /// Its log file, kept after it stops.
    pub log: PathBuf,
}

impl Detached {
    /// What the process's command line must show to be this server: the
    /// program and its private directory (PostgreSQL's `-D`) or address
    /// (Redis's process title). A recorded pid now used by another process,
    /// another PostgreSQL included, is not this server.
    fn marks(&self) -> Vec<String> {
        match self.service {
            Service::Postgres => vec![
                "postgres".to_owned(),
                self.dir.to_string_lossy().into_owned(),
            ],
            Service::Redis => vec!["redis-server".to_owned(), format!("{HOST}:{}", self.port)],
        }
    }

    /// Whether the server still runs.
    #[must_use]
    pub fn is_running(&self) -> bool {
        let marks = self.marks();
        let marks: Vec<&str> = marks.iter().map(String::as_str).collect();
        pid_runs(self.pid, &marks)
    }

    /// Stops the server (cleanly, then with SIGKILL if it takes too long)
    /// and removes its directory. Stopping a server that is not running is
    /// not an error.
    pub fn stop(&self) -> Result<(), Error> {
        let signal = match self.service {
            Service::Postgres => "INT",
            Service::Redis => "TERM",
        };
        let marks = self.marks();
        let marks: Vec<&str> = marks.iter().map(String::as_str).collect();
        stop_pid(self.service, self.pid, &marks, signal)?;
        match fs::remove_dir_all(&self.dir) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io(format!("removing {}", self.dir.display()), error))
            }
            _ => Ok(()),
        }
    }

    /// The shell line that hands the URL to tests:
    /// `export REDRESS_PG_URL='postgres://...'`.
    #[must_use]
    pub fn export_line(&self) -> String {
        format!("export {}='{}'", self.service.url_var(), self.url)
    }
}

/// What `cargo xtask services up` started: written to a file so that
/// `services env` and `services down`, in other processes, find the
/// servers.
///
/// The file is lines of `key=value`:
///
/// ```
/// use std::path::PathBuf;
/// use redress_test_services::{Detached, Service, ServicesState};
///
/// let state = ServicesState {
///     started_by: "cargo xtask services up".into(),
///     services: vec![Detached {
///         service: Service::Redis,
///         pid: 4242,
///         port: 40001,
///         url: "redis://127.0.0.1:40001".into(),
///         dir: PathBuf::from("/tmp/redress-redis-1"),
///         log: PathBuf::from("target/redress-services/redis.log"),
///     }],
/// };
/// let text = state.to_text()?;
/// assert!(text.contains("redis.pid=4242\n"));
/// assert_eq!(ServicesState::parse(&text)?, state);
/// assert_eq!(state.export_lines(), "export REDRESS_REDIS_URL='redis://127.0.0.1:40001'\n");
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServicesState {
    /// Who started the servers (a command, for messages and for deciding
    /// who stops them).
    pub started_by: String,
    /// The servers.
    pub services: Vec<Detached>,
}

impl ServicesState {
    /// The file's text.
    pub fn to_text(&self) -> Result<String, String> {
        let mut text = String::from(
            "# Servers started for redress's tests; `cargo xtask services down` stops them.\n",
        );
        let mut line = |key: &str, value: &str| -> Result<(), String> {
            if value.contains('\n') {
                return Err(format!("the value of {key} contains a line break"));
            }
            // Writing to a String cannot fail.
            let _ = writeln!(text, "{key}={value}");
            Ok(())
        };
        line("started_by", &self.started_by)?;
        for service in &self.services {
            let key = service.service.key();
            let path = |path: &Path| {
                path.to_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{} is not UTF-8", path.display()))
            };
            line(&format!("{key}.pid"), &service.pid.to_string())?;
            line(&format!("{key}.port"), &service.port.to_string())?;
            line(&format!("{key}.url"), &service.url)?;
            line(&format!("{key}.dir"), &path(&service.dir)?)?;
            line(&format!("{key}.log"), &path(&service.log)?)?;
        }
        Ok(text)
    }

    /// Reads the file's text back. Blank lines, `#` comments and unknown
    /// keys are ignored; a service with a missing or invalid field is an
    /// error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut state = ServicesState::default();
        let mut fields: Vec<(Service, Vec<(&str, &str)>)> = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("`{line}` is not key=value"))?;
            if key == "started_by" {
                value.clone_into(&mut state.started_by);
                continue;
            }
            let Some((name, field)) = key.split_once('.') else {
                continue;
            };
            let Some(service) = Service::ALL.into_iter().find(|s| s.key() == name) else {
                continue;
            };
            match fields.iter_mut().find(|(s, _)| *s == service) {
                Some((_, list)) => list.push((field, value)),
                None => fields.push((service, vec![(field, value)])),
            }
        }
        for (service, list) in fields {
            let get = |field: &str| {
                list.iter()
                    .rev()
                    .find(|(f, _)| *f == field)
                    .map(|(_, value)| *value)
                    .ok_or_else(|| format!("{}.{field} is missing", service.key()))
            };
            let number = |field: &str| -> Result<u64, String> {
                let value = get(field)?;
                value
                    .parse()
                    .map_err(|_| format!("{}.{field}: `{value}` is not a number", service.key()))
            };
            let pid = u32::try_from(number("pid")?).map_err(|error| error.to_string())?;
            let port = u16::try_from(number("port")?).map_err(|error| error.to_string())?;
            state.services.push(Detached {
                service,
                pid,
                port,
                url: get("url")?.to_owned(),
                dir: PathBuf::from(get("dir")?),
                log: PathBuf::from(get("log")?),
            });
        }
        Ok(state)
    }

    /// Reads the state file; `None` if there is none.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        match fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map(Some).map_err(|reason| Error::State {
                path: path.to_path_buf(),
                reason: format!("{reason}; fix or delete it (and stop its servers by hand)"),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io(format!("reading {}", path.display()), error)),
        }
    }

    /// Writes the state file (whole or not at all: through a temporary
    /// file renamed over it), creating its directory.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = self.to_text().map_err(|reason| Error::State {
            path: path.to_path_buf(),
            reason,
        })?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|error| Error::io(format!("creating {}", parent.display()), error))?;
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        fs::write(&partial, text)
            .and_then(|()| fs::rename(&partial, path))
            .map_err(|error| Error::io(format!("writing {}", path.display()), error))
    }

    /// Whether every server still runs (and there is at least one).
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.services.is_empty() && self.services.iter().all(Detached::is_running)
    }

    /// Stops every server and removes their directories; tries them all
    /// and returns the first error.
    pub fn stop(&self) -> Result<(), Error> {
        let mut first = None;
        for service in self.services.iter().rev() {
            if let Err(error) = service.stop() {
                first.get_or_insert(error);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The `export` lines of every server, one per line.
    #[must_use]
    pub fn export_lines(&self) -> String {
        self.services
            .iter()
            .map(|service| service.export_line() + "\n")
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

    use super::*;
    use crate::process::ScratchDir;

    /// Beyond Linux's largest pid (2^22): no process has it, so these
    /// tests never signal anything.
    const NO_SUCH_PID: u32 = 4_000_000_000;

    fn both() -> ServicesState {
        ServicesState {
            started_by: "cargo xtask test".to_owned(),
            services: vec![
                Detached {
                    service: Service::Postgres,
                    pid: NO_SUCH_PID,
                    port: 40000,
                    url: "postgres://redress@127.0.0.1:40000/redress".to_owned(),
                    dir: PathBuf::from("/tmp/redress-pg-1"),
                    log: PathBuf::from("/w/target/redress-services/postgres.log"),
                },
                Detached {
                    service: Service::Redis,
                    pid: NO_SUCH_PID - 1,
                    port: 40001,
                    url: "redis://127.0.0.1:40001".to_owned(),
                    dir: PathBuf::from("/tmp/redress-redis-1"),
                    log: PathBuf::from("/w/target/redress-services/redis.log"),
                },
            ],
        }
    }

    #[test]
    fn the_state_round_trips_through_its_file() {
        let dir = ScratchDir::new("redress-test").unwrap();
        let path = dir.path().join("sub/services.state");
        assert_eq!(ServicesState::load(&path).unwrap(), None);
        both().save(&path).unwrap();
        assert_eq!(ServicesState::load(&path).unwrap(), Some(both()));
        assert_eq!(
            both().export_lines(),
            "export REDRESS_PG_URL='postgres://redress@127.0.0.1:40000/redress'\n\
             export REDRESS_REDIS_URL='redis://127.0.0.1:40001'\n"
        );
    }

    #[test]
    fn a_damaged_state_file_is_an_error_that_says_what_to_do() {
        let text = both().to_text().unwrap().replace("redis.port=40001\n", "");
        assert_eq!(
            ServicesState::parse(&text).unwrap_err(),
            "redis.port is missing"
        );
        let text = both()
            .to_text()
            .unwrap()
            .replace("redis.pid=", "redis.pid=x");
        assert!(
            ServicesState::parse(&text)
                .unwrap_err()
                .contains("not a number")
        );
        assert!(ServicesState::parse("garbage").is_err());

        let dir = ScratchDir::new("redress-test").unwrap();
        let path = dir.path().join("services.state");
        fs::write(&path, "garbage").unwrap();
        let message = ServicesState::load(&path).unwrap_err().to_string();
        assert!(message.contains("fix or delete it"), "{message}");
        // Unknown keys are for other versions: ignored.
        let text = both().to_text().unwrap() + "redis.owner=me\nnew_key=1\n";
        assert_eq!(ServicesState::parse(&text).unwrap(), both());
    }

    #[test]
    fn values_that_would_break_the_format_are_refused() {
        let mut state = both();
        state.started_by = "two\nlines".to_owned();
        assert!(state.to_text().is_err());
    }

    #[test]
    fn stopping_servers_that_are_gone_removes_their_directories() {
        let mut state = both();
        let dir = ScratchDir::new("redress-test").unwrap();
        let leftover = dir.path().join("leftover");
        fs::create_dir(&leftover).unwrap();
        if let Some(service) = state.services.get_mut(1) {
            service.dir.clone_from(&leftover);
        }
        assert!(!state.is_running());
        state.stop().unwrap();
        assert!(!leftover.exists());
        // Again: idempotent.
        state.stop().unwrap();
        assert!(!ServicesState::default().is_running());
    }
}
