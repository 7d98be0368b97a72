//! Running a server process: private directories, free ports, waiting for
//! readiness, stopping by signal, and the same for a process this one did
//! not spawn (found through its pid).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::Error;
use crate::install::{RunAs, Service};

/// The only address servers listen on, and clients connect to.
pub(crate) const HOST: &str = "127.0.0.1";

/// How long a server may take to accept connections. Generous: the
/// machine may be busy compiling.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a server may take to exit after the stop signal, before it
/// gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a process may take to disappear after SIGKILL.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(25);
/// Ports tried before giving up when another process takes the free port
/// between the probe and the server's bind.
const PORT_ATTEMPTS: usize = 5;
/// What a server logs when its port is taken (under `LC_ALL=C`).
const ADDRESS_IN_USE: &str = "Address already in use";

/// A directory of its own under the system's temporary directory, removed
/// on drop unless kept.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    /// Creates `<tmp>/<prefix>-<pid>-<unique>`, readable by its owner only,
    /// and returns it with symbolic links resolved (servers report their
    /// directories that way).
    pub(crate) fn new(prefix: &str) -> Result<Self, Error> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let tmp = std::env::temp_dir();
        let mut last = None;
        for _ in 0..100 {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.subsec_nanos());
            let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = tmp.join(format!(
                "{prefix}-{}-{nanos:x}-{unique}",
                std::process::id()
            ));
            match create_private_dir(&path) {
                Ok(()) => {
                    let path = fs::canonicalize(&path).unwrap_or(path);
                    return Ok(ScratchDir { path, keep: false });
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last = Some(error),
                Err(error) => {
                    return Err(Error::io(format!("creating {}", path.display()), error));
                }
            }
        }
        Err(Error::io(
            format!("creating a directory in {}", tmp.display()),
            last.unwrap_or_else(|| io::Error::other("no unique name found")),
        ))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the directory in place when this value is dropped.
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            // Nothing useful to do if it fails: it is under the temporary
            // directory, which the system cleans.
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(unix)]
fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(0o700).create(path)
}

#[cfg(not(unix))]
fn create_private_dir(path: &Path) -> io::Result<()> {
    fs::create_dir(path)
}

/// Creates `log` empty (and its directory), for a fresh run.
pub(crate) fn truncate_log(log: &Path) -> Result<(), Error> {
    if let Some(parent) = log.parent() {
        fs::create_dir_all(parent)
            .map_err(|error| Error::io(format!("creating {}", parent.display()), error))?;
    }
    fs::write(log, "").map_err(|error| Error::io(format!("creating {}", log.display()), error))
}

/// Where server ports come from: below Linux's ephemeral range (32768 and
/// up), so a socket bound to port 0 (a test server, a client's outgoing
/// connection) cannot take the port between the check here and the
/// server's own bind.
const SERVER_PORTS: core::ops::Range<u16> = 20_000..32_000;

/// A port on 127.0.0.1 that nothing listens on right now, picked at random
/// from [`SERVER_PORTS`]; a port from the kernel if all tried are taken.
pub(crate) fn free_port() -> Result<u16, Error> {
    use std::hash::{BuildHasher, RandomState};
    let state = RandomState::new();
    let span = u64::from(SERVER_PORTS.end - SERVER_PORTS.start);
    for attempt in 0..64u64 {
        let offset = u16::try_from(state.hash_one(attempt).checked_rem(span).unwrap_or(0));
        let port = SERVER_PORTS.start.saturating_add(offset.unwrap_or(0));
        if TcpListener::bind((HOST, port)).is_ok() {
            return Ok(port);
        }
    }
    let listener = TcpListener::bind((HOST, 0))
        .map_err(|error| Error::io(format!("binding {HOST}:0 to find a free port"), error))?;
    let port = listener
        .local_addr()
        .map_err(|error| Error::io("reading the port of a listener", error))?
        .port();
    Ok(port)
}

/// A server process: how to spawn it, and the running child.
#[derive(Debug)]
pub(crate) struct Process {
    service: Service,
    program: PathBuf,
    args: Vec<OsString>,
    run_as: RunAs,
    detach: bool,
    cwd: PathBuf,
    log: PathBuf,
    /// The signal that asks the server to shut down cleanly.
    stop_signal: &'static str,
    child: Option<Child>,
}

impl Process {
    pub(crate) fn new(
        service: Service,
        program: PathBuf,
        run_as: RunAs,
        detach: bool,
        cwd: PathBuf,
        log: PathBuf,
        stop_signal: &'static str,
    ) -> Self {
        Process {
            service,
            program,
            args: Vec::new(),
            run_as,
            detach,
            cwd,
            log,
            stop_signal,
            child: None,
        }
    }

    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the server with `args`, its output appended to the log.
    /// Returns the log's length before, where this run's lines begin.
    fn spawn(&mut self) -> Result<u64, Error> {
        let offset = fs::metadata(&self.log).map_or(0, |meta| meta.len());
        let open = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .map_err(|error| Error::io(format!("opening {}", self.log.display()), error))
        };
        let (stdout, stderr) = (open()?, open()?);
        let mut command = self.run_as.command(&self.program, self.detach);
        command
            .args(&self.args)
            .current_dir(&self.cwd)
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr));
        let child = command
            .spawn()
            .map_err(|error| Error::io(format!("starting {}", describe(&command)), error))?;
        self.child = Some(child);
        Ok(offset)
    }

    /// The exit status, if the server has exited (the child is then
    /// forgotten).
    fn exited(&mut self) -> Result<Option<ExitStatus>, Error> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Ok(Some(status))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(Error::io(
                format!("waiting for {}", self.service.name()),
                error,
            )),
        }
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child.is_some() && matches!(self.exited(), Ok(None))
    }

    /// Spawns the server on a free port (`args` builds its command line for
    /// a port) and waits until `probe` succeeds on that port. When the port
    /// turns out to be taken, tries another one.
    pub(crate) fn start_on_free_port(
        &mut self,
        args: impl Fn(u16) -> Vec<OsString>,
        probe: impl Fn(u16) -> Result<(), Error>,
    ) -> Result<u16, Error> {
        let mut collision = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            self.args = args(port);
            match self.start(|| probe(port)) {
                Ok(()) => return Ok(port),
                Err(error) if is_port_collision(&error) => collision = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(collision.unwrap_or_else(|| Error::Protocol("no free port found".to_owned())))
    }

    /// Spawns the server with the command line it had and waits until
    /// `probe` succeeds.
    pub(crate) fn start(&mut self, probe: impl Fn() -> Result<(), Error>) -> Result<(), Error> {
        let offset = self.spawn()?;
        let began = Instant::now();
        loop {
            if let Some(status) = self.exited()? {
                return Err(self.start_error(format!("it exited with {status}"), offset));
            }
            let last = match probe() {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            if began.elapsed() >= READY_TIMEOUT {
                // Best effort: the timeout is the error to report.
                let _ = self.kill();
                return Err(self.start_error(
                    format!(
                        "it did not accept connections within {READY_TIMEOUT:?} (last attempt: {last})"
                    ),
                    offset,
                ));
            }
            thread::sleep(POLL);
        }
    }

    fn start_error(&self, reason: String, offset: u64) -> Error {
        Error::Start {
            service: self.service,
            reason,
            log: self.log.clone(),
            log_tail: log_tail(&self.log, offset),
        }
    }

    /// Asks the server to shut down and waits until it has; SIGKILL if it
    /// takes too long. Does nothing if it is not running.
    pub(crate) fn stop(&mut self) -> Result<(), Error> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        if self.exited()?.is_some() {
            return Ok(());
        }
        // The child has not been reaped, so its pid cannot have been reused.
        send_signal(pid, self.stop_signal)?;
        if self.wait_exit(STOP_TIMEOUT)? {
            return Ok(());
        }
        self.kill()
    }

    /// Kills the server with SIGKILL, as a crash would, and waits until it
    /// is gone. Does nothing if it is not running.
    pub(crate) fn kill(&mut self) -> Result<(), Error> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        let pid = child.id();
        // Fails only when the child has already exited, which the wait
        // below then sees.
        let _ = child.kill();
        if self.wait_exit(KILL_TIMEOUT)? {
            Ok(())
        } else {
            Err(Error::Stop {
                service: self.service,
                pid,
            })
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> Result<bool, Error> {
        let began = Instant::now();
        loop {
            if self.child.is_none() || self.exited()?.is_some() {
                return Ok(true);
            }
            if began.elapsed() >= timeout {
                return Ok(false);
            }
            thread::sleep(POLL);
        }
    }

    /// Forgets the running server, which keeps running after this process
    /// exits; returns its pid.
    pub(crate) fn forget(&mut self) -> Option<u32> {
        self.child.take().map(|child| child.id())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Dropping must not fail; `stop` ends with SIGKILL, so the server is
        // gone unless the system refuses even that.
        let _ = self.stop();
    }
}

fn is_port_collision(error: &Error) -> bool {
    matches!(error, Error::Start { log_tail, .. } if log_tail.contains(ADDRESS_IN_USE))
}

/// The command line, for messages.
pub(crate) fn describe(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs a helper program to completion; its output goes into the error if
/// it fails.
pub(crate) fn run_helper(mut command: Command) -> Result<(), Error> {
    let line = describe(&command);
    let out = command.output().map_err(|error| Error::Command {
        command: line.clone(),
        status: format!("could not run: {error}"),
        output: String::new(),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(Error::Command {
        command: line,
        status: out.status.to_string(),
        output: output.trim_end().to_owned(),
    })
}

/// The last lines the log got from `offset` on.
fn log_tail(log: &Path, offset: u64) -> String {
    const MAX_BYTES: u64 = 16 * 1024;
    const MAX_LINES: usize = 30;
    let read = || -> io::Result<String> {
        let mut file = File::open(log)?;
        let len = file.metadata()?.len();
        let start = if offset <= len { offset } else { 0 };
        let start = start.max(len.saturating_sub(MAX_BYTES));
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.take(MAX_BYTES).read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(MAX_LINES);
            lines.get(skip..).unwrap_or_default().join("\n")
        }
        Err(error) => format!("(cannot read the log: {error})"),
    }
}

/// Sends `signal` (a name such as `TERM`) to `pid`, with the shell's `kill`
/// (std has no signals but SIGKILL for its own children).
fn send_signal(pid: u32, signal: &str) -> Result<(), Error> {
    let mut command = Command::new("sh");
    command
        .args(["-c", "kill -s \"$0\" \"$1\"", signal, &pid.to_string()])
        .stdin(Stdio::null());
    match run_helper(command) {
        // It may have exited meanwhile: that is what was asked.
        Err(_) if !pid_alive(pid) => Ok(()),
        result => result,
    }
}

/// Whether `pid` is a live process (not a zombie), read from `/proc`.
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last parenthesis, as the
    // command name may contain anything.
    let state = stat
        .rfind(')')
        .and_then(|end| stat.get(end..))
        .and_then(|rest| rest.chars().find(|c| c.is_ascii_alphabetic()));
    !matches!(state, None | Some('Z' | 'X' | 'x'))
}

/// Whether `pid` is alive and its command line contains every one of
/// `marks`: a recorded pid that now belongs to another process is left
/// alone.
pub(crate) fn pid_runs(pid: u32, marks: &[&str]) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        marks.iter().all(|mark| {
            !mark.is_empty()
                && cmdline
                    .windows(mark.len())
                    .any(|window| window == mark.as_bytes())
        })
    })
}

/// Stops a server this process did not spawn: `signal`, then SIGKILL if
/// it takes too long. Does nothing if `pid` is gone or its command line
/// lacks one of `marks`.
pub(crate) fn stop_pid(
    service: Service,
    pid: u32,
    marks: &[&str],
    signal: &str,
) -> Result<(), Error> {
    if !pid_runs(pid, marks) {
        return Ok(());
    }
    send_signal(pid, signal)?;
    if wait_gone(pid, STOP_TIMEOUT) {
        return Ok(());
    }
    send_signal(pid, "KILL")?;
    if wait_gone(pid, KILL_TIMEOUT) {
        Ok(())
    } else {
        Err(Error::Stop { service, pid })
    }
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let began = Instant::now();
    while pid_alive(pid) {
        if began.elapsed() >= timeout {
            return false;
        }
        thread::sleep(POLL);
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[test]
    fn scratch_dirs_are_unique_private_and_removed_on_drop() {
        let first = ScratchDir::new("redress-test").unwrap();
        let second = ScratchDir::new("redress-test").unwrap();
        assert_ne!(first.path(), second.path());
        assert!(first.path().is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(first.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        fs::write(first.path().join("file"), "x").unwrap();
        let path = first.path().to_path_buf();
        drop(first);
        assert!(!path.exists());

        let mut kept = ScratchDir::new("redress-test").unwrap();
        kept.keep();
        let path = kept.path().to_path_buf();
        drop(kept);
        assert!(path.is_dir());
        fs::remove_dir(&path).unwrap();
        drop(second);
    }

    #[test]
    fn free_ports_are_on_loopback_and_bindable() {
        // Servers that other tests start at the same time can take a port
        // between the pick and this bind (seen once in CI): a few picks,
        // and at least one must bind.
        let mut taken = Vec::new();
        for _ in 0..5 {
            let port = free_port().unwrap();
            assert!(SERVER_PORTS.contains(&port), "{port}");
            match TcpListener::bind((HOST, port)) {
                Ok(_) => return,
                Err(error) => taken.push((port, error.kind())),
            }
        }
        panic!("no port free_port picked could be bound: {taken:?}");
    }

    #[test]
    fn log_tail_starts_at_the_offset_and_keeps_the_last_lines() {
        let dir = ScratchDir::new("redress-test").unwrap();
        let log = dir.path().join("log");
        fs::write(&log, "old run\n").unwrap();
        let offset = fs::metadata(&log).unwrap().len();
        let lines: Vec<String> = (0..100).map(|n| format!("line {n}")).collect();
        let mut text = fs::read_to_string(&log).unwrap();
        text.push_str(&lines.join("\n"));
        fs::write(&log, text).unwrap();
        let tail = log_tail(&log, offset);
        assert!(!tail.contains("old run"));
        assert!(tail.starts_with("line 70\n"), "{tail}");
        assert!(tail.ends_with("line 99"), "{tail}");
        assert!(log_tail(&dir.path().join("missing"), 0).contains("cannot read the log"));
    }

    #[test]
    fn a_port_collision_is_recognised_from_the_log() {
        let start = |tail: &str| Error::Start {
            service: Service::Redis,
            reason: "it exited".to_owned(),
            log: PathBuf::from("log"),
            log_tail: tail.to_owned(),
        };
        assert!(is_port_collision(&start("bind: Address already in use")));
        assert!(!is_port_collision(&start("FATAL: out of memory")));
    }

    #[test]
    fn processes_are_seen_alive_stopped_by_signal_and_never_mistaken() {
        // A process this test spawns, then looks at only through its pid,
        // as `cargo xtask services down` does.
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = child.id();
        assert!(pid_alive(pid));
        // spawn returns while the kernel may still be setting up the new
        // program's command line.
        let began = Instant::now();
        while !pid_runs(pid, &["sleep"]) && began.elapsed() < Duration::from_secs(30) {
            thread::sleep(POLL);
        }
        assert!(pid_runs(pid, &["sleep", "60"]));
        assert!(!pid_runs(pid, &["sleep", "61"]));
        assert!(!pid_runs(pid, &["redis-server"]));
        assert!(!pid_runs(pid, &[""]));
        // Not the process named: left alone.
        stop_pid(Service::Redis, pid, &["sleep", "61"], "TERM").unwrap();
        assert!(child.try_wait().unwrap().is_none());

        send_signal(pid, "TERM").unwrap();
        child.wait().unwrap();
        assert!(!pid_alive(pid));
        // Stopping what is gone is not an error.
        stop_pid(Service::Redis, pid, &["sleep"], "TERM").unwrap();
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: a zombie once it exits.
        let began = Instant::now();
        while pid_alive(pid) && began.elapsed() < Duration::from_secs(30) {
            thread::sleep(POLL);
        }
        assert!(!pid_alive(pid));
        child.wait().unwrap();
    }
}
