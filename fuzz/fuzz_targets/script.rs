//! The failure-script reader of `redress simulate`, in its three forms
//! (TOML, JSON, and `--fail` on the command line): no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redress_doctor::script::Script;

fuzz_target!(|text: &str| {
    let _ = Script::from_toml(text);
    let _ = Script::from_json(text);
    let calls: Vec<&str> = text.split('\n').collect();
    let _ = Script::from_inline(&calls);
});
