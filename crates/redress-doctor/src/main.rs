//! `redress`: lint retry configs and simulate retry scenarios (see the
//! `redress_doctor` library).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use redress_doctor::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(&cli, &mut out) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) => {
            eprintln!("redress: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
