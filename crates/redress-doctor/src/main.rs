//! `redress`: lint retry configs and simulate retry scenarios (see the
//! `redress_doctor` library).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use redress_doctor::render::escape;
use redress_doctor::{Cli, run_with};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = stdout.lock();
    match run_with(&cli, &mut out, terminal) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) => {
            // Names in the message come from files: nothing raw reaches the
            // terminal.
            let message: Vec<_> = e
                .to_string()
                .lines()
                .map(|l| escape(l).into_owned())
                .collect();
            eprintln!("redress: error: {}", message.join("\n"));
            ExitCode::from(e.exit_code())
        }
    }
}
