//! Finding the servers' binaries, installing the Debian packages when they
//! are missing, and choosing the user a server runs as.

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::Error;

/// A server this crate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// PostgreSQL (Debian package `postgresql`).
    Postgres,
    /// Redis (Debian package `redis-server`).
    Redis,
}

impl Service {
    /// Every service, in the order `cargo xtask services up` starts them.
    pub const ALL: [Service; 2] = [Service::Postgres, Service::Redis];

    /// The server's name, for messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "PostgreSQL",
            Service::Redis => "Redis",
        }
    }

    /// The Debian package that provides the server.
    #[must_use]
    pub fn package(self) -> &'static str {
        match self {
            Service::Postgres => "postgresql",
            Service::Redis => "redis-server",
        }
    }

    /// The environment variable that carries the URL of the shared
    /// instance to tests: `REDRESS_PG_URL` or `REDRESS_REDIS_URL`.
    #[must_use]
    pub fn url_var(self) -> &'static str {
        match self {
            Service::Postgres => crate::PG_URL_VAR,
            Service::Redis => crate::REDIS_URL_VAR,
        }
    }

    /// A short lowercase key, used in file names and the state file.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::Redis => "redis",
        }
    }

    /// The system user the Debian package creates, which the server runs
    /// as when this process is root.
    pub(crate) fn system_user(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::Redis => "redis",
        }
    }

    /// Whether the server's binaries can be found.
    #[must_use]
    pub fn is_installed(self) -> bool {
        match self {
            Service::Postgres => postgres_bindir().is_some(),
            Service::Redis => redis_server().is_some(),
        }
    }

    /// The command that installs these services' packages:
    ///
    /// ```
    /// use redress_test_services::Service;
    ///
    /// assert_eq!(
    ///     Service::install_command(&Service::ALL),
    ///     "apt-get update && apt-get install -y --no-install-recommends postgresql redis-server",
    /// );
    /// ```
    #[must_use]
    pub fn install_command(services: &[Service]) -> String {
        format!("apt-get update && {}", install_args(services).join(" "))
    }
}

/// The arguments of `apt-get install` for these services, duplicates removed.
fn install_args(services: &[Service]) -> Vec<&'static str> {
    let mut args = vec!["apt-get", "install", "-y", "--no-install-recommends"];
    for service in services {
        if !args.contains(&service.package()) {
            args.push(service.package());
        }
    }
    args
}

/// Makes sure these services' binaries are installed.
///
/// Missing packages are installed with `apt-get update` and `apt-get install
/// -y --no-install-recommends` when this process is root; otherwise the
/// error ([`Error::NotInstalled`]) names the command to run. The packages'
/// own system services are left alone: this crate never uses them, nor
/// their default ports.
///
/// ```no_run
/// use redress_test_services::{ensure_installed, Service};
///
/// ensure_installed(&Service::ALL)?;
/// # Ok::<(), redress_test_services::Error>(())
/// ```
pub fn ensure_installed(services: &[Service]) -> Result<(), Error> {
    // Tests start servers from several threads: install once, not in
    // parallel (dpkg would refuse the second one anyway).
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _guard = INSTALLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);

    let mut missing: Vec<Service> = Vec::new();
    for service in services {
        if !service.is_installed() && !missing.contains(service) {
            missing.push(*service);
        }
    }
    let Some(first) = missing.first().copied() else {
        return Ok(());
    };
    if !is_root() {
        return Err(Error::NotInstalled {
            service: first,
            command: sudo_install_command(&missing),
        });
    }

    let command = Service::install_command(&missing);
    crate::note(&format!(
        "redress-test-services: installing with `{command}`"
    ));
    apt_get(&["apt-get", "update"], &command)?;
    apt_get(&install_args(&missing), &command)?;
    match missing.iter().find(|service| !service.is_installed()) {
        None => Ok(()),
        Some(service) => Err(Error::InstallFailed {
            command,
            status: format!(
                "it succeeded, but the {} binaries are still not found",
                service.name()
            ),
        }),
    }
}

/// [`Service::install_command`] for a user who is not root.
pub(crate) fn sudo_install_command(services: &[Service]) -> String {
    format!(
        "sudo apt-get update && sudo {}",
        install_args(services).join(" ")
    )
}

fn apt_get(args: &[&str], whole: &str) -> Result<(), Error> {
    let failed = |status: String| Error::InstallFailed {
        command: whole.to_owned(),
        status,
    };
    let (program, rest) = args
        .split_first()
        .ok_or_else(|| failed("empty command".to_owned()))?;
    let status = Command::new(program)
        .args(rest)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        // Standard output may be read by a script (`eval "$(cargo xtask
        // services up)"`): apt's progress goes to standard error.
        .stdout(Stdio::from(io::stderr()))
        .status()
        .map_err(|error| failed(format!("`{}` could not run: {error}", args.join(" "))))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(format!("`{}` exited with {status}", args.join(" "))))
    }
}

/// The directory holding `initdb` and `postgres`: a directory on `PATH`
/// that has both, else Debian's `/usr/lib/postgresql/<major>/bin`, newest
/// major version first.
pub(crate) fn postgres_bindir() -> Option<PathBuf> {
    if let Some(initdb) = find_in_path("initdb") {
        // Follow symbolic links to the real directory, where the server's
        // other programs are.
        let dir = fs::canonicalize(&initdb)
            .ok()
            .and_then(|real| real.parent().map(Path::to_path_buf));
        if let Some(dir) = dir.filter(|dir| has_postgres(dir)) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_postgres(&bin).then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn has_postgres(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

/// `redis-server` on `PATH`, else where the Debian package puts it.
pub(crate) fn redis_server() -> Option<PathBuf> {
    find_in_path("redis-server").or_else(|| {
        let debian = PathBuf::from("/usr/bin/redis-server");
        debian.is_file().then_some(debian)
    })
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Whether this process runs as root (and so can install packages, and
/// must not run PostgreSQL as itself).
pub(crate) fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0")
    })
}

/// Who a server process runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunAs {
    /// This process's user (not root, or Redis when there is no `redis`
    /// user).
    Current,
    /// A system user, switched to with `setpriv` (which `exec`s, so the
    /// server keeps the process id this crate spawned).
    User { uid: u32, gid: u32 },
}

impl RunAs {
    /// The user `service` runs as: this process's user unless it is root,
    /// then the package's system user. PostgreSQL refuses to run as root,
    /// so for it a missing user is an error; Redis then runs as root.
    pub(crate) fn for_service(service: Service) -> Result<RunAs, Error> {
        if !is_root() {
            return Ok(RunAs::Current);
        }
        match (
            user_id(service.system_user(), "-u"),
            user_id(service.system_user(), "-g"),
        ) {
            (Some(uid), Some(gid)) => Ok(RunAs::User { uid, gid }),
            _ if service == Service::Redis => Ok(RunAs::Current),
            _ => Err(Error::NoSystemUser {
                service,
                user: service.system_user(),
                command: Service::install_command(&[service]),
            }),
        }
    }

    /// A command that runs `program` as this user, in a new session when
    /// `detach` is set (so it outlives the caller and no terminal signal
    /// reaches it).
    pub(crate) fn command(self, program: &Path, detach: bool) -> Command {
        let mut line: Vec<String> = Vec::new();
        if detach {
            // util-linux's setsid `exec`s the program when the caller is not
            // a process group leader, which a freshly spawned child is not.
            line.push("setsid".to_owned());
        }
        if let RunAs::User { uid, gid } = self {
            line.extend([
                "setpriv".to_owned(),
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".to_owned(),
                "--".to_owned(),
            ]);
        }
        let mut command = match line.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(program);
                command
            }
            None => Command::new(program),
        };
        // English messages, whatever the caller's locale: the log is read
        // for "Address already in use".
        command.env("LC_ALL", "C").stdin(Stdio::null());
        command
    }

    /// Gives `path` to this user.
    pub(crate) fn chown(self, path: &Path) -> Result<(), Error> {
        match self {
            RunAs::Current => Ok(()),
            RunAs::User { uid, gid } => chown(path, uid, gid)
                .map_err(|error| Error::io(format!("chown {}", path.display()), error)),
        }
    }
}

#[cfg(unix)]
fn chown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
}

#[cfg(not(unix))]
fn chown(_path: &Path, _uid: u32, _gid: u32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "changing owners needs a Unix system",
    ))
}

/// `id -u NAME` or `id -g NAME`.
fn user_id(name: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, name]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    std::str::from_utf8(&out.stdout).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn install_command_names_each_package_once() {
        assert_eq!(
            Service::install_command(&[Service::Redis, Service::Redis]),
            "apt-get update && apt-get install -y --no-install-recommends redis-server"
        );
        assert_eq!(
            sudo_install_command(&[Service::Postgres]),
            "sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql"
        );
    }

    #[test]
    fn not_installed_names_the_command() {
        let error = Error::NotInstalled {
            service: Service::Postgres,
            command: sudo_install_command(&[Service::Postgres]),
        };
        let message = error.to_string();
        assert!(message.contains("postgresql is not installed"), "{message}");
        assert!(
            message.contains("sudo apt-get install -y --no-install-recommends postgresql"),
            "{message}"
        );
        assert!(error.is_unavailable());
    }

    #[test]
    fn detached_root_command_runs_setsid_then_setpriv() {
        let command = RunAs::User { uid: 101, gid: 104 }.command(Path::new("/bin/srv"), true);
        assert_eq!(command.get_program(), "setsid");
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(
            args,
            [
                "setpriv",
                "--reuid=101",
                "--regid=104",
                "--clear-groups",
                "--",
                "/bin/srv"
            ]
        );
        let attached = RunAs::Current.command(Path::new("/bin/srv"), false);
        assert_eq!(attached.get_program(), "/bin/srv");
        assert_eq!(attached.get_args().count(), 0);
    }
}
