//! Doctests that compile but never run.
//!
//! A doctest that defines `fn main` and also has statements outside it
//! (typically a `#[cfg(..)]`-gated block around `#[tokio::main] async fn
//! main`) is wrapped by rustdoc in a `main` of its own, which never calls
//! the inner one: the snippet passes without running. rustdoc only warns,
//! whatever `RUSTDOCFLAGS` say, so `cargo xtask test` reads the test run's
//! standard error and fails the run when the warning appears.

use std::env;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::process::{Command, ExitStatus, Stdio};

/// What rustdoc says about such a doctest (it does not say which one; the
/// `cargo test --doc` output of the crate it names leads there).
const NEVER_RUN: &[u8] =
    b"won't be run as it contains expressions at the top level, meaning that the whole doctest code will be wrapped in a function";

/// Whether a line of cargo's output is rustdoc's warning about a doctest
/// whose `main` never runs.
pub(crate) fn says_never_run(line: &[u8]) -> bool {
    line.windows(NEVER_RUN.len())
        .any(|window| window == NEVER_RUN)
}

/// Runs `command` with its standard error passed through line by line (in
/// colour when ours is a terminal) and returns how it exited and whether
/// rustdoc reported a doctest that never runs.
pub(crate) fn run_watching(command: &mut Command) -> io::Result<(ExitStatus, bool)> {
    let stderr = io::stderr();
    if stderr.is_terminal() && env::var_os("CARGO_TERM_COLOR").is_none() {
        command.env("CARGO_TERM_COLOR", "always");
    }
    let mut child = command.stderr(Stdio::piped()).spawn()?;
    let mut never_run = false;
    if let Some(pipe) = child.stderr.take() {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        let mut out = stderr.lock();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            never_run |= says_never_run(&line);
            out.write_all(&line)?;
        }
    }
    Ok((child.wait()?, never_run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustdocs_warning_is_recognised_in_colour_too() {
        let plain = b"warning: the `main` function of this doctest won't be run as it contains expressions at the top level, meaning that the whole doctest code will be wrapped in a function\n";
        assert!(says_never_run(plain));
        let coloured = b"\x1b[0m\x1b[1m\x1b[33mwarning\x1b[0m\x1b[0m\x1b[1m: the `main` function of this doctest won't be run as it contains expressions at the top level, meaning that the whole doctest code will be wrapped in a function\x1b[0m\n";
        assert!(says_never_run(coloured));
        assert!(!says_never_run(b"warning: unused variable: `x`\n"));
        assert!(!says_never_run(b"test src/lib.rs - (line 9) ... ok\n"));
    }
}
