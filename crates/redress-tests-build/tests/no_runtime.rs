//! Async calls with `redress` built without a runtime feature: without a
//! sleeper and clock of their own they do not compile, and the error says
//! which feature to enable (or what else to do); with their own, they run.

#[test]
fn async_calls_without_a_runtime_name_the_fix() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/no_runtime/*.rs");
    t.pass("tests/own_runtime/*.rs");
}
