//! `cargo xtask fuzz`: every fuzz target of `fuzz/`, each for a bounded
//! time, with cargo-fuzz on the nightly toolchain (both installed when
//! missing).
//!
//! Each target starts from its seeds (`fuzz/seeds/<target>`, committed) and
//! grows a corpus in `fuzz/corpus/<target>` (ignored by git, kept between
//! local runs). A crash stops the run and names the input libFuzzer saved
//! under `fuzz/artifacts/<target>/`; turn it into a regression test beside
//! the code it broke.

use std::path::Path;
use std::process::Command;

/// The fuzz targets, in the order they run.
pub(crate) const TARGETS: &[&str] = &[
    "config_toml",
    "config_json",
    "duration",
    "scenario",
    "script",
    "retry_after",
];

/// Seconds per target in CI's short pass (`cargo xtask fuzz-short`).
pub(crate) const CI_SECONDS: u64 = 15;

/// Seconds per target when `--time` is not given.
const DEFAULT_SECONDS: u64 = 60;

/// The options of `cargo xtask fuzz`.
#[derive(Debug, PartialEq)]
struct Options {
    seconds: u64,
    targets: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--time" {
            let value = args
                .next()
                .ok_or("--time needs a number of seconds per target")?;
            seconds = value
                .parse()
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| format!("--time {value}: expected whole seconds, above zero"))?;
        } else if TARGETS.contains(&arg.as_str()) {
            targets.push(arg.clone());
        } else {
            return Err(format!(
                "unknown fuzz target `{arg}` (targets: {})",
                TARGETS.join(", ")
            ));
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    Ok(Options { seconds, targets })
}

/// Runs the targets named in `args` (all when none is), `--time SECS` each.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    ensure_tools()?;
    let fuzz = root.join("fuzz");
    // One build for every target, so a compile error shows once.
    if !cargo_fuzz(root, &["build"]) {
        return Err("cargo fuzz build failed".to_owned());
    }
    for target in &options.targets {
        let corpus = fuzz.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        let seeds = fuzz.join("seeds").join(target);
        println!("xtask: fuzz: {target} for {} s", options.seconds);
        let max_time = format!("-max_total_time={}", options.seconds);
        let ok = cargo_fuzz(
            root,
            &[
                "run",
                target,
                &corpus.to_string_lossy(),
                &seeds.to_string_lossy(),
                "--",
                &max_time,
                // A slow input or a memory blow-up is a finding too.
                "-timeout=10",
                "-rss_limit_mb=2048",
                "-print_final_stats=1",
            ],
        );
        if !ok {
            return Err(format!(
                "{target} found an input that fails (saved under fuzz/artifacts/{target}/); \
                 reproduce it with `cargo +nightly fuzz run {target} <file>` and add it as a \
                 regression test"
            ));
        }
    }
    Ok(())
}

/// Installs the nightly toolchain and cargo-fuzz when they are missing.
fn ensure_tools() -> Result<(), String> {
    let has_nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_nightly {
        println!("xtask: fuzz: installing the nightly toolchain");
        let installed = Command::new("rustup")
            .args(["toolchain", "install", "nightly", "--profile", "minimal"])
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            return Err("could not install the nightly toolchain with rustup".to_owned());
        }
    }
    let has_cargo_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz {
        println!("xtask: fuzz: installing cargo-fuzz");
        let installed = Command::new("cargo")
            .args(["install", "cargo-fuzz", "--locked"])
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            return Err("could not install cargo-fuzz (`cargo install cargo-fuzz`)".to_owned());
        }
    }
    Ok(())
}

/// `cargo +nightly fuzz ARGS` in the workspace root; whether it succeeded.
fn cargo_fuzz(root: &Path, args: &[&str]) -> bool {
    Command::new("cargo")
        .arg("+nightly")
        .arg("fuzz")
        .args(args)
        .current_dir(root)
        // The toolchain is chosen by `+nightly`, not by a RUSTUP_TOOLCHAIN
        // the outer `cargo xtask` may have set.
        .env_remove("RUSTUP_TOOLCHAIN")
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn every_target_for_a_minute_by_default() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.seconds, DEFAULT_SECONDS);
        assert_eq!(options.targets, strings(TARGETS));
    }

    #[test]
    fn time_and_targets_are_read_and_checked() {
        let options = parse(&strings(&["--time", "20", "duration"])).unwrap();
        assert_eq!(
            options,
            Options {
                seconds: 20,
                targets: strings(&["duration"])
            }
        );
        assert!(parse(&strings(&["--time"])).is_err());
        assert!(parse(&strings(&["--time", "0"])).is_err());
        assert!(
            parse(&strings(&["nope"]))
                .unwrap_err()
                .contains("config_toml")
        );
    }

    #[test]
    fn every_target_is_declared_and_seeded() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
        for target in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{target}\"")),
                "{target} missing from fuzz/Cargo.toml"
            );
            let seeds = std::fs::read_dir(fuzz.join("seeds").join(target)).unwrap();
            assert!(seeds.count() > 0, "{target} has no seeds");
        }
        let declared = manifest.matches("[[bin]]").count();
        assert_eq!(declared, TARGETS.len(), "a fuzz target xtask does not run");
    }
}
