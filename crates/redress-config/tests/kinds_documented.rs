//! The strategy kinds' tables in the docs (this crate's and
//! `docs/doctor.md`) say what core's `StrategyKind` table says.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use redress_config::parse_duration;
use redress_core::backoff::{ParamKind, StrategyKind};

/// The row of `kind` in a Markdown table of kinds, and how many rows name
/// a kind at all.
fn rows(text: &str) -> Vec<&str> {
    text.lines()
        .map(|l| l.trim_start_matches("//!").trim())
        .filter(|l| {
            StrategyKind::ALL
                .iter()
                .any(|k| l.starts_with(&format!("| `{}` |", k.name())))
        })
        .collect()
}

fn check(name: &str, text: &str) {
    let rows = rows(text);
    assert_eq!(rows.len(), StrategyKind::ALL.len(), "{name}: {rows:#?}");
    for kind in StrategyKind::ALL {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| `{}` |", kind.name())))
            .unwrap_or_else(|| panic!("{name}: no row for {kind}"));
        for param in kind.params() {
            let at = format!("`{}` (", param.name);
            let Some(start) = row.find(&at) else {
                panic!("{name}: {kind} lacks {}: {row}", param.name);
            };
            let rest = &row[start + at.len()..];
            let said = &rest[..rest.find(')').unwrap()];
            match param.kind {
                ParamKind::Duration(Some(d)) => {
                    assert_eq!(parse_duration(said), Ok(d), "{name}: {kind} {}", param.name);
                }
                ParamKind::Number(x) => {
                    assert_eq!(said.parse::<f64>(), Ok(x), "{name}: {kind} {}", param.name);
                }
                _ => assert!(
                    said.starts_with("required"),
                    "{name}: {kind} {}",
                    param.name
                ),
            }
        }
    }
}

#[test]
fn the_kind_tables_follow_core() {
    check("redress-config's docs", include_str!("../src/lib.rs"));
    check("docs/doctor.md", include_str!("../../../docs/doctor.md"));
}
