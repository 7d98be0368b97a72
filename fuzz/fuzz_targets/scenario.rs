//! The doctor's scenario reader (`redress doctor --scenario`): no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redress_doctor::Scenario;

fuzz_target!(|text: &str| {
    if let Ok(scenario) = Scenario::from_json(text) {
        let _ = scenario.shared_state_sections();
    }
});
