//! The command under inputs built to hurt it: a policy with four billion
//! attempts and no delay, a file of 20,000 policies, a device that never
//! ends, a reader that stops reading. Every case finishes with bounded
//! output and says why it stopped; none measures time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use redress_doctor::doctor::{DoctorOptions, Target};
use redress_doctor::{Cli, CliError, Status, run};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    crate_dir()
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs the command in-process: its status and output.
fn redress(args: &[&str]) -> (Result<Status, CliError>, String) {
    let mut argv = vec!["redress"];
    argv.extend_from_slice(args);
    let cli: Cli = clap::Parser::try_parse_from(argv).unwrap();
    let mut out = Vec::new();
    let status = run(&cli, &mut out);
    (status, String::from_utf8(out).unwrap())
}

#[test]
fn simulate_stops_at_its_limit_and_says_so() {
    let huge = fixture("huge.toml");
    // The default limit: 100,000 trace lines, then the notice.
    let (status, out) = redress(&["simulate", &huge, "--fail", "SERVER_ERROR"]);
    assert_eq!(status.unwrap(), Status::Passed);
    let lines: Vec<&str> = out.lines().collect();
    let attempts = lines.iter().filter(|l| l.contains("-> retry in")).count();
    assert_eq!(attempts, 100_000);
    assert_eq!(
        lines.last().copied(),
        Some(
            "stopped after 100000 trace lines (--limit 100000): call 0 and the calls after it were not played to the end"
        )
    );
    assert!(lines.len() <= 100_003, "{}", lines.len());
    // JSON lines end with a line that says so too.
    let (_, out) = redress(&[
        "simulate",
        &huge,
        "--fail",
        "SERVER_ERROR",
        "--limit",
        "10",
        "--format",
        "json",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 11);
    assert_eq!(
        lines[10],
        r#"{"limit": 10, "stopped_in_call": 0, "truncated": true}"#
    );
    // A scenario that ends within the limit has no notice.
    let (_, out) = redress(&[
        "simulate",
        &fixture("sane.toml:payments"),
        "--fail",
        "SERVER_ERROR x2, ok",
    ]);
    assert!(!out.contains("stopped after"), "{out}");
}

/// A reader that goes away (`redress simulate ... | head`).
struct ClosedAfter {
    left: usize,
    writes: usize,
}

impl Write for ClosedAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writes += 1;
        if buf.len() > self.left {
            return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        }
        self.left -= buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn simulate_streams_and_stops_when_the_reader_goes_away() {
    // No limit to speak of: only streaming (and stopping when the output
    // is closed) lets this end, after a few writes.
    let huge = fixture("huge.toml");
    let cli: Cli = clap::Parser::try_parse_from([
        "redress",
        "simulate",
        huge.as_str(),
        "--fail",
        "SERVER_ERROR",
        "--limit",
        "18446744073709551615",
    ])
    .unwrap();
    let mut out = ClosedAfter {
        left: 10_000,
        writes: 0,
    };
    let e = run(&cli, &mut out).unwrap_err();
    assert!(matches!(e, CliError::Output(_)), "{e}");
    assert_eq!(e.exit_code(), 1);
    // One write per line: the first lines went out before the play ended.
    assert!(out.writes > 100 && out.writes < 1000, "{}", out.writes);
}

#[test]
fn the_schedule_follows_a_call_for_a_bounded_number_of_attempts() {
    let huge = fixture("huge.toml");
    let (status, out) = redress(&["doctor", "--schedule", &huge]);
    assert_eq!(status.unwrap(), Status::Passed);
    let rows = out
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains('%'))
        .count();
    assert_eq!(rows, 100);
    assert!(
        out.contains("still retrying after attempt 100 in 100% of runs: not followed further (--schedule-limit 100; the policy allows 4294967295 attempts)"),
        "{out}"
    );
    // JSON says how far runs were followed, and how many were cut.
    let (_, out) = redress(&[
        "doctor",
        "--format",
        "json",
        "--schedule",
        "--samples",
        "5",
        "--schedule-limit",
        "3",
        &huge,
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let schedule = &report["policies"][0]["schedule"];
    assert_eq!(schedule["attempts_followed"], 3);
    assert_eq!(schedule["cut"], 5);
    assert_eq!(schedule["attempts"].as_array().unwrap().len(), 3);
}

#[test]
fn twenty_thousand_policies_with_a_warning_each() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bounded");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("many.toml");
    let policies = 20_000;
    let mut text = String::new();
    for i in 0..policies {
        text.push_str(&format!(
            "[policies.p{i}]\nmax_attempts = 1\nstrategy = \"full_jitter\"\n"
        ));
    }
    std::fs::write(&path, &text).unwrap();
    let mut out = Vec::new();
    let status = redress_doctor::doctor::run(
        &Target::parse(&path.to_string_lossy()),
        &DoctorOptions::default(),
        &mut out,
    )
    .unwrap();
    assert_eq!(status, Status::Passed);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.matches("warning[W015]").count(), policies);
    // Each warning shows its own line of the file.
    let last = policies - 1;
    assert!(
        out.contains(&format!(
            "--> {}:{}:16 (policies.p{last}.max_attempts)",
            path.display(),
            last * 3 + 2
        )),
        "the last policy's warning"
    );
    assert!(out.ends_with(&format!(
        "{policies} policies checked in '{}': {policies} passed, 0 failed.\n",
        path.display()
    )));
}

#[test]
fn endless_and_oversized_inputs_are_refused() {
    #[cfg(unix)]
    {
        let (status, out) = redress(&["doctor", "/dev/zero"]);
        assert_eq!(status.unwrap(), Status::Unusable);
        assert_eq!(
            out,
            "error: /dev/zero: the file is larger than 16 MiB, the most redress reads\nFAILED: '/dev/zero' could not be checked.\n"
        );
        let (status, _) = redress(&["simulate", "/dev/zero"]);
        let e = status.unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: cannot read the scenario: the file is larger than 16 MiB, the most redress reads"
        );
        let (status, _) = redress(&[
            "simulate",
            &fixture("sane.toml:payments"),
            "--script",
            "/dev/zero",
        ]);
        let e = status.unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: the file is larger than 16 MiB, the most redress reads"
        );
    }
}

fn binary(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_redress"));
    command
        .args(args)
        .current_dir(crate_dir())
        .env_remove("NO_COLOR");
    for (key, value) in env {
        command.env(key, value);
    }
    String::from_utf8(command.output().unwrap().stdout).unwrap()
}

#[test]
fn colour_is_asked_for_and_no_color_is_respected() {
    let file = "tests/fixtures/typo.toml";
    let colored = |out: &str| out.contains("\u{1b}[");
    // Not a terminal: no colour by default, NO_COLOR or not.
    assert!(!colored(&binary(&["doctor", file], &[])));
    assert!(!colored(&binary(&["doctor", file], &[("NO_COLOR", "1")])));
    // --color never: none, even when forced otherwise.
    assert!(!colored(&binary(
        &["doctor", "--color", "never", file],
        &[]
    )));
    // --color always: an explicit flag wins over NO_COLOR.
    assert!(colored(&binary(
        &["doctor", "--color", "always", file],
        &[]
    )));
    assert!(colored(&binary(
        &["--color", "always", "doctor", file],
        &[("NO_COLOR", "1")]
    )));
    // On a terminal, NO_COLOR turns auto off (the terminal cannot be
    // faked here: the decision itself is tested).
    use redress_doctor::render::ColorChoice;
    assert!(ColorChoice::Auto.enabled(true, None, None));
    assert!(!ColorChoice::Auto.enabled(true, Some("1".as_ref()), None));
}
