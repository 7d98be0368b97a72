//! The config loader on arbitrary TOML: no panic, every problem reported,
//! and whatever loads exports to text that loads back to the same file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redress_config::Format;

#[path = "config_common.rs"]
mod config_common;

fuzz_target!(|text: &str| config_common::check(text, Format::Toml));
