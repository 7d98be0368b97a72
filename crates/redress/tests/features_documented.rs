//! Every feature of the facade is in the feature tables a user reads: the
//! README, `docs/getting-started.md` and the crate's own docs.

#![allow(clippy::indexing_slicing)]

const MANIFEST: &str = include_str!("../Cargo.toml");

/// The feature names of the `[features]` table (without `default`).
fn features() -> Vec<&'static str> {
    let mut in_features = false;
    let mut names = Vec::new();
    for line in MANIFEST.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_features = line == "[features]";
            continue;
        }
        if !in_features || line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if name != "default" {
                names.push(name);
            }
        }
    }
    names
}

/// The features that have no row of their own (`| `name` |`) in `table`.
fn missing<'a>(features: &[&'a str], table: &str) -> Vec<&'a str> {
    features
        .iter()
        .filter(|name| !table.contains(&format!("| `{name}` |")))
        .copied()
        .collect()
}

#[test]
fn the_manifest_has_the_features_we_expect_to_find() {
    let features = features();
    for name in [
        "sync",
        "std",
        "alloc",
        "tokio",
        "async-std",
        "sqlx",
        "tracing",
    ] {
        assert!(
            features.contains(&name),
            "{name} not read from Cargo.toml: {features:?}"
        );
    }
}

#[test]
fn every_feature_has_a_row_in_each_feature_table() {
    let features = features();
    for (page, text) in [
        ("README.md", include_str!("../../../README.md")),
        (
            "docs/getting-started.md",
            include_str!("../../../docs/getting-started.md"),
        ),
        ("the crate docs (src/lib.rs)", include_str!("../src/lib.rs")),
    ] {
        let missing = missing(&features, text);
        assert!(
            missing.is_empty(),
            "{page} lists no row for the features {missing:?}"
        );
    }
}

#[test]
fn a_missing_row_is_noticed() {
    let table = "| feature | default |\n|---|---|\n| `sync` | yes |\n";
    assert_eq!(missing(&["sync", "tokio"], table), ["tokio"]);
}
