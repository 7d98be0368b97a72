//! Helpers shared by the server tests.

// Each test binary uses only some of these.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

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

/// The session a process belongs to, from `/proc`.
pub(crate) fn session_of(pid: u32) -> u32 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // "pid (comm) state ppid pgrp session ..."
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(3).unwrap().parse().unwrap()
}
