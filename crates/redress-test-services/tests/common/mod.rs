//! Helpers shared by the server tests.

// Each test binary uses only some of these.
#![allow(dead_code, clippy::unwrap_used)]

use std::fs;
use std::process::Command;

/// The real user id a process runs as, from `/proc`.
pub(crate) fn uid_of(pid: u32) -> u32 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Whether the system has a user of this name.
pub(crate) fn user_exists(name: &str) -> bool {
    Command::new("id")
        .args(["-u", name])
        .output()
        .is_ok_and(|out| out.status.success())
}
