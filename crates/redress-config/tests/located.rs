//! Every problem points at its place: JSON like TOML, errors of building a
//! loaded config like the doctor's, problems in line order, and the inputs
//! an adversarial pass tried (duplicate keys, byte-order marks, repeated
//! duration units, endless files).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::error::Error;
use std::path::PathBuf;

use redress_config::{
    BuildError, ConfigFile, Diagnostic, Document, Format, LoadError, PolicyConfig,
};

fn at(d: &Diagnostic) -> (usize, usize) {
    let l = d.location.unwrap_or_else(|| panic!("no location: {d}"));
    (l.line, l.column)
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "redress-config-located-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const JSON: &str = r#"{
  "policies": {
    "payments": {
      "max_attempts": 0,
      "deadline": 10,
      "strategy": {"kind": "decorrelated_jitter", "max": "5s"}
    },
    "search": {
      "strategy": {"kind": "exponential"}
    }
  }
}
"#;

#[test]
fn json_findings_have_lines_columns_and_json_help() {
    let doc = Document::parse(JSON, Format::Json).unwrap();
    // A load problem: the bare number, at its value, with the fix in JSON.
    let payments = doc.entry("payments").unwrap();
    let Err(problems) = &payments.result else {
        panic!("`deadline: 10` is refused")
    };
    assert_eq!(problems[0].code, "E103");
    assert_eq!(at(&problems[0]), (5, 19));
    assert_eq!(
        problems[0].help.as_deref(),
        Some("write `\"deadline\": \"10s\"` (or `\"10ms\"`); units: ns, us, ms, s, m, h")
    );
    // A lint: located, its help in JSON.
    let search = doc.lint(doc.entry("search").unwrap());
    let w010 = search
        .diagnostics
        .iter()
        .find(|d| d.code == "W010")
        .unwrap();
    assert_eq!(at(w010), (9, 19));
    let w013 = search
        .diagnostics
        .iter()
        .find(|d| d.code == "W013")
        .unwrap();
    assert_eq!(
        w013.help.as_deref(),
        Some(
            "set `\"strategies\": {\"RATE_LIMIT\": {\"kind\": \"retry_after_or\", \"fallback\": {\"kind\": \"decorrelated_jitter\", \"max\": \"30s\"}}}`"
        )
    );
    // Problems outside any policy too.
    let e = ConfigFile::from_json_str("{\"deadline\": \"1s\", \"policies\": {}}").unwrap_err();
    let LoadError::Invalid { problems, .. } = &e else {
        panic!("{e}")
    };
    let helps: Vec<&str> = problems.iter().filter_map(|d| d.help.as_deref()).collect();
    assert_eq!(
        helps,
        [
            "with `\"policies\": {\"NAME\": {...}}`, `deadline` belongs inside each policy",
            "add one: `\"policies\": {\"NAME\": {...}}` with its settings"
        ]
    );
    // The same file in TOML keeps TOML help.
    let toml = Document::parse(
        "[policies.search]\nstrategy = { kind = \"exponential\" }\n",
        Format::Toml,
    )
    .unwrap();
    let report = toml.lint(toml.entry("search").unwrap());
    let w013 = report
        .diagnostics
        .iter()
        .find(|d| d.code == "W013")
        .unwrap();
    assert!(
        w013.help
            .as_deref()
            .unwrap()
            .starts_with("set `strategies.RATE_LIMIT = {"),
        "{w013}"
    );
}

#[test]
fn duplicate_keys_are_refused_in_json_as_in_toml() {
    let json =
        "{\n  \"max_attempts\": 3,\n  \"strategy\": \"full_jitter\",\n  \"max_attempts\": 30\n}\n";
    let e = PolicyConfig::from_json_str(json).unwrap_err();
    let LoadError::Syntax { location, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(location.map(|l| (l.line, l.column)), Some((4, 3)));
    assert_eq!(
        e.to_string(),
        "4:3: not valid JSON: duplicate key `max_attempts`"
    );
    // Nested objects too.
    let nested = r#"{"strategy": {"kind": "constant", "delay": "1s", "delay": "2s"}}"#;
    assert!(matches!(
        PolicyConfig::from_json_str(nested),
        Err(LoadError::Syntax { .. })
    ));
    let toml = PolicyConfig::from_toml_str("max_attempts = 3\nmax_attempts = 30\n").unwrap_err();
    assert!(matches!(toml, LoadError::Syntax { .. }), "{toml}");
}

#[test]
fn a_byte_order_mark_is_accepted_in_json_as_in_toml() {
    let json = "\u{feff}{\"max_attempts\": 2, \"strategy\": \"full_jitter\"}";
    assert_eq!(PolicyConfig::from_json_str(json).unwrap().max_attempts, 2);
    let toml = "\u{feff}max_attempts = 2\nstrategy = \"full_jitter\"\n";
    assert_eq!(PolicyConfig::from_toml_str(toml).unwrap().max_attempts, 2);
    // Columns do not count the mark.
    let e = PolicyConfig::from_json_str("\u{feff}{\"max_atempts\": 2}").unwrap_err();
    let LoadError::Invalid { problems, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(at(&problems[0]), (1, 2));
    let e = PolicyConfig::from_toml_str("\u{feff}max_atempts = 2\n").unwrap_err();
    let LoadError::Invalid { problems, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(at(&problems[0]), (1, 1));
    // A syntax error after the mark is located in the file.
    let e = PolicyConfig::from_json_str("\u{feff}{\n  \"a\": }").unwrap_err();
    let LoadError::Syntax { location, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(location.map(|l| (l.line, l.column)), Some((2, 8)));
}

#[test]
fn repeated_duration_units_are_refused_where_they_are() {
    let e = PolicyConfig::from_toml_str(
        "strategy = \"full_jitter\"\ndeadline = \"1h1h1h\"\nattempt_timeout = \"30s1m\"\n",
    )
    .unwrap_err();
    let LoadError::Invalid { problems, .. } = &e else {
        panic!("{e}")
    };
    let found: Vec<(&str, (usize, usize), &str)> = problems
        .iter()
        .map(|d| (d.code, at(d), d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "E103",
                (2, 12),
                "`deadline` is not a valid duration: the unit `h` is given twice"
            ),
            (
                "E103",
                (3, 19),
                "`attempt_timeout` is not a valid duration: `m` comes after the smaller unit `s`"
            ),
        ]
    );
    assert_eq!(
        problems[0].help.as_deref(),
        Some("write each unit once, the largest first: \"1h30m\", \"1s500ms\"")
    );
}

#[test]
fn problems_are_listed_in_line_order() {
    // `zeta` comes first in the file, `alpha` first by name.
    let text = "[policies.zeta]\nmax_atempts = 1\n\n[policies.alpha]\nstrategy = \"full_jitter\"\ndeadline = \"soon\"\nbudget = { max_retries = -1, window = \"1m\" }\n";
    let e = ConfigFile::from_toml_str(text).unwrap_err();
    let LoadError::Invalid { problems, .. } = &e else {
        panic!("{e}")
    };
    let lines: Vec<usize> = problems.iter().map(|d| at(d).0).collect();
    assert_eq!(lines, [2, 6, 7]);
    let paths: Vec<&str> = problems.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "policies.zeta.max_atempts",
            "policies.alpha.deadline",
            "policies.alpha.budget.max_retries"
        ]
    );
}

#[test]
fn errors_building_a_loaded_config_name_the_file_policy_and_line() {
    let dir = scratch("build");
    let path = dir.join("retry.toml");
    std::fs::write(
        &path,
        "[policies.search]\nstrategy = \"full_jitter\"\n\n[policies.payments]\nstrategy = { kind = \"equal_jitter\", base = \"3s\", max = \"2s\" }\nmax_attempts = 0\n",
    )
    .unwrap();
    let file = ConfigFile::load(&path).unwrap();
    let err = file.policy("payments").unwrap().build().unwrap_err();
    let BuildError::Invalid(report) = &err else {
        panic!("{err}")
    };
    assert_eq!(report.file.as_deref(), Some(path.as_path()));
    let errors: Vec<(&str, &str, (usize, usize))> = report
        .errors()
        .map(|d| (d.code, d.path.as_str(), at(d)))
        .collect();
    assert_eq!(
        errors,
        [
            ("E005", "policies.payments.strategy.base", (5, 44)),
            ("E001", "policies.payments.max_attempts", (6, 16)),
        ]
    );
    let file_name = path.display();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid retry policy (2 errors):\n  \
             {file_name}:5:44: policies.payments.strategy.base: error[E005]: base (3s) is above max (2s) (help: base is the first delay and max the cap: lower base or raise max)\n  \
             {file_name}:6:16: policies.payments.max_attempts: error[E001]: max_attempts is 0: not even one attempt would run (help: max_attempts counts the first attempt: use 1 for a single attempt with no retries)"
        )
    );
    // What `fn main() -> Result<(), Box<dyn Error>>` prints is the same.
    let boxed: Box<dyn Error> = Box::new(err);
    assert_eq!(format!("{boxed:?}"), boxed.to_string());
    // A missing policy names the file too.
    let missing = file.policy("paymnts").unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with(&format!("{file_name}: no policy named `paymnts`")),
        "{missing}"
    );
    // Equality is about the settings, not where they were loaded.
    let again = PolicyConfig::from_toml_str("strategy = \"full_jitter\"\n").unwrap();
    assert_eq!(file.policy("search").unwrap(), &again);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_errors_print_their_report_as_debug() {
    let dir = scratch("debug");
    let path = dir.join("retry.toml");
    std::fs::write(
        &path,
        "[policies.a]\nmax_atempts = 1\nstrategy = \"fulljitter\"\n",
    )
    .unwrap();
    let err: Box<dyn Error> = ConfigFile::load(&path).unwrap_err().into();
    let name = path.display();
    assert_eq!(
        format!("{err:?}"),
        format!(
            "{name}: 2 problems:\n  \
             {name}:2:1: policies.a.max_atempts: error[E101]: unknown key `max_atempts` in a policy (help: did you mean `max_attempts`?)\n  \
             {name}:3:12: policies.a.strategy: error[E105]: unknown strategy kind `fulljitter` (help: did you mean `full_jitter`?)"
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let dir = scratch("size");
    let path = dir.join("huge.toml");
    let line = "# padding padding padding padding padding padding padding padding\n";
    let text =
        line.repeat(usize::try_from(redress_config::MAX_FILE_BYTES).unwrap() / line.len() + 1);
    std::fs::write(&path, text).unwrap();
    for e in [
        ConfigFile::load(&path).unwrap_err(),
        Document::load(&path).unwrap_err(),
        PolicyConfig::load(&path).unwrap_err(),
    ] {
        assert!(matches!(e, LoadError::TooLarge { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "{}: the file is larger than 16 MiB, the most redress reads",
                path.display()
            )
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_partial_parse_checks_what_the_syntax_errors_leave_whole() {
    let text = "\
[policies.a]
max_attempts = 0
strategy = \"full_jitter\"

[policies.b]
max_attempts = = 3
deadline = \"0s\"

[policies.c]
strategy = { kind = \"constant\", delay = 1s }
";
    let doc = Document::parse_partial(text, Format::Toml).unwrap();
    let codes: Vec<(&str, usize)> = doc.problems().iter().map(|d| (d.code, at(d).0)).collect();
    assert_eq!(codes[0], ("E100", 6));
    assert!(codes.contains(&("E100", 10)), "{codes:?}");
    assert_eq!(doc.skipped(), ["b", "c"]);
    let names: Vec<_> = doc.entries().iter().map(|e| e.name.as_deref()).collect();
    assert_eq!(names, [Some("a")]);
    assert!(doc.lint(doc.entry("a").unwrap()).contains("E001"));
    // A strict parse refuses the file at its first syntax error.
    let e = Document::parse(text, Format::Toml).unwrap_err();
    assert!(matches!(e, LoadError::Syntax { .. }), "{e}");
    // Problems outside any policy are kept too.
    let doc = Document::parse_partial(
        "retries = 3\n[policies.a]\nmax_attempts = 0\nstrategy = \"full_jitter\"\n",
        Format::Toml,
    )
    .unwrap();
    assert_eq!(doc.problems()[0].code, "E101");
    assert!(doc.lint(doc.entry("a").unwrap()).contains("E001"));
    // JSON cannot be read past a syntax error.
    assert!(matches!(
        Document::parse_partial("{\"a\": }", Format::Json),
        Err(LoadError::Syntax { .. })
    ));
}

#[test]
fn a_policy_with_problems_also_shows_the_errors_of_what_loaded() {
    let text = "\
[policies.a]
max_atempts = 5
max_attempts = 0
strategy = { kind = \"decorrelated_jitter\", max = \"5sec\" }
budget = { max_retries = 1, window = \"0s\" }
";
    let doc = Document::parse(text, Format::Toml).unwrap();
    let report = doc.lint(doc.entry("a").unwrap());
    let found: Vec<(&str, usize)> = report
        .diagnostics
        .iter()
        .map(|d| (d.code, at(d).0))
        .collect();
    // The unknown key and the bad duration, and the errors of the settings
    // that loaded; not "no strategy" (the strategy did not load), and no
    // warnings until the policy loads.
    assert_eq!(found, [("E101", 2), ("E001", 3), ("E103", 4), ("E010", 5)]);
    assert!(report.diagnostics.iter().all(Diagnostic::is_error));
}
