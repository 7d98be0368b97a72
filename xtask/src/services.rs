//! `cargo xtask services up|down|env` and `cargo xtask test`: the real
//! PostgreSQL and Redis the test suite runs against.
//!
//! `up` starts both (installing them first if needed, as root) in sessions
//! of their own, so they outlive it, and records them in a state file under
//! `target/redress-services/`, next to their logs. `env` and `down` find
//! them there, from any process. `test` is `up`, the test suite with the
//! URLs exported, and `down`, whatever the tests did.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use redress_test_services::{Detached, Postgres, Redis, Service, ServicesState, ensure_installed};

const USAGE: &str = "\
usage: cargo xtask services up|down|env

  up    install PostgreSQL and Redis if needed, start them on 127.0.0.1
        (free ports, temporary directories) and print the export lines
  down  stop them and remove their directories (nothing running: no error)
  env   print the export lines of the running services:
        eval \"$(cargo xtask services env)\"
";

/// Who started the servers, as recorded in the state file. Servers left
/// running by an interrupted `cargo xtask test` are its own: the next one
/// reuses them and stops them; those of `services up` are left running.
const BY_UP: &str = "cargo xtask services up";
const BY_TEST: &str = "cargo xtask test";
/// `cargo xtask bench` runs its fleet scenario against the real Redis.
pub(crate) const BY_BENCH: &str = "cargo xtask bench";

fn state_dir(root: &Path) -> PathBuf {
    root.join("target").join("redress-services")
}

fn state_file(root: &Path) -> PathBuf {
    state_dir(root).join("services.state")
}

/// `cargo xtask services ARGS`.
pub(crate) fn command(root: &Path, args: &[String]) -> ExitCode {
    let result = match args.first().map(String::as_str) {
        Some("up") => up(root, BY_UP).map(|(state, _)| print!("{}", state.export_lines())),
        Some("down") => down(root),
        Some("env") => exports(root).map(|lines| print!("{lines}")),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            if let Some(other) = other {
                eprint!("unknown services command `{other}`\n\n");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: services: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the services, or reuses those already running. Returns them and
/// whether this call started them.
fn up(root: &Path, started_by: &str) -> Result<(ServicesState, bool), String> {
    let file = state_file(root);
    if let Some(state) = ServicesState::load(&file).map_err(|error| error.to_string())? {
        if state.is_running() {
            eprintln!(
                "xtask: services are already up (started by `{}`), reusing them; \
                 `cargo xtask services down` stops them",
                state.started_by
            );
            return Ok((state, false));
        }
        eprintln!(
            "xtask: some services recorded in {} are gone; starting afresh",
            file.display()
        );
        state.stop().map_err(|error| error.to_string())?;
        remove(&file)?;
    }

    ensure_installed(&Service::ALL).map_err(|error| error.to_string())?;
    let dir = state_dir(root);
    eprintln!("xtask: starting PostgreSQL and Redis on 127.0.0.1");
    let postgres =
        Postgres::start_detached(&dir.join("postgres.log")).map_err(|error| error.to_string())?;
    let started = |services: Vec<Detached>| ServicesState {
        started_by: started_by.to_owned(),
        services,
    };
    let redis = match Redis::start_detached(&dir.join("redis.log")) {
        Ok(redis) => redis,
        Err(error) => {
            // Best effort: the start failure is the error to report.
            let _ = postgres.stop();
            return Err(error.to_string());
        }
    };
    let state = started(vec![postgres, redis]);
    if let Err(error) = state.save(&file) {
        let _ = state.stop();
        return Err(error.to_string());
    }
    for service in &state.services {
        eprintln!(
            "xtask: {} is up: pid {}, {}, log {}",
            service.service.name(),
            service.pid,
            service.url,
            service.log.display()
        );
    }
    Ok((state, true))
}

/// Stops what the state file names; nothing to do is not an error.
fn down(root: &Path) -> Result<(), String> {
    let file = state_file(root);
    let Some(state) = ServicesState::load(&file).map_err(|error| error.to_string())? else {
        eprintln!("xtask: no services are up");
        return Ok(());
    };
    state.stop().map_err(|error| error.to_string())?;
    remove(&file)?;
    eprintln!(
        "xtask: services stopped (logs kept in {})",
        state_dir(root).display()
    );
    Ok(())
}

fn exports(root: &Path) -> Result<String, String> {
    match ServicesState::load(&state_file(root)).map_err(|error| error.to_string())? {
        Some(state) if state.is_running() => Ok(state.export_lines()),
        _ => Err("the services are not up: run `cargo xtask services up`".to_owned()),
    }
}

fn remove(file: &Path) -> Result<(), String> {
    match std::fs::remove_file(file) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("removing {}: {error}", file.display()))
        }
        _ => Ok(()),
    }
}

/// `cargo xtask test [ARGS]`: the services up, `cargo test --workspace
/// --all-features ARGS` against them, the services down whatever happened
/// (unless they were already up before, started by `services up`).
/// Returns the tests' exit code.
pub(crate) fn test(root: &Path, cargo_test: &[&str], extra: &[String]) -> u8 {
    let (state, started) = match up(root, BY_TEST) {
        Ok(up) => up,
        Err(error) => {
            eprintln!("xtask: test: could not start the services: {error}");
            return 1;
        }
    };
    // Also servers left by an interrupted `cargo xtask test`.
    let owned = started || state.started_by == BY_TEST;
    let guard = owned.then(|| Down(root.to_path_buf()));

    let args = test_args(cargo_test, extra);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(&args).current_dir(root);
    for service in &state.services {
        command.env(service.service.url_var(), &service.url);
    }
    let mut line: Vec<String> = state
        .services
        .iter()
        .map(|service| format!("{}={}", service.service.url_var(), service.url))
        .collect();
    line.push("cargo".to_owned());
    line.extend(args);
    println!("xtask: {}", line.join(" "));
    let status = crate::doctests::run_watching(&mut command);
    drop(guard);
    match status {
        Ok((status, never_run)) => {
            // Killed by a signal, or a code that does not fit: a failure.
            let code = status
                .code()
                .and_then(|code| u8::try_from(code).ok())
                .unwrap_or(1);
            if code == 0 && never_run {
                eprintln!(
                    "xtask: test: rustdoc reported a doctest whose `main` never runs (see the warning above): gate `fn main` itself with #[cfg(..)], not a block around it"
                );
                return 1;
            }
            code
        }
        Err(error) => {
            eprintln!("xtask: test: could not run cargo: {error}");
            1
        }
    }
}

/// Runs `f` with the services up and their URL variables
/// (`REDRESS_PG_URL=...`), as `test` does for the test suite: started for
/// it and stopped after, or reused (and left running) when `services up`
/// started them.
pub(crate) fn with_services<T>(
    root: &Path,
    started_by: &str,
    f: impl FnOnce(&[(String, String)]) -> T,
) -> Result<T, String> {
    let (state, started) = up(root, started_by)?;
    let owned = started || state.started_by == started_by;
    let _guard = owned.then(|| Down(root.to_path_buf()));
    let vars: Vec<(String, String)> = state
        .services
        .iter()
        .map(|service| (service.service.url_var().to_owned(), service.url.clone()))
        .collect();
    Ok(f(&vars))
}

/// `cargo_test` followed by the caller's arguments; when those choose
/// packages (`-p NAME`), without `--workspace`, which would override them.
fn test_args(cargo_test: &[&str], extra: &[String]) -> Vec<String> {
    let chooses_packages = extra
        .iter()
        .take_while(|arg| *arg != "--")
        .any(|arg| arg.starts_with("-p") || arg.starts_with("--package"));
    cargo_test
        .iter()
        .filter(|arg| !(chooses_packages && **arg == "--workspace"))
        .map(|arg| (*arg).to_owned())
        .chain(extra.iter().cloned())
        .collect()
}

/// Brings the services down when dropped, also on a panic.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        if let Err(error) = down(&self.0) {
            eprintln!("xtask: services: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARGO_TEST: &[&str] = &["test", "--workspace", "--all-features"];

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn extra_arguments_follow_the_test_command() {
        assert_eq!(test_args(CARGO_TEST, &[]), strings(CARGO_TEST));
        assert_eq!(
            test_args(CARGO_TEST, &strings(&["--", "--nocapture", "-p"])),
            strings(&[
                "test",
                "--workspace",
                "--all-features",
                "--",
                "--nocapture",
                "-p"
            ])
        );
    }

    #[test]
    fn choosing_packages_drops_the_whole_workspace() {
        for chosen in [
            &["-p", "redress"][..],
            &["--package=redress"],
            &["-predress"],
        ] {
            let mut expected = strings(&["test", "--all-features"]);
            expected.extend(strings(chosen));
            assert_eq!(test_args(CARGO_TEST, &strings(chosen)), expected);
        }
    }
}
