//! The unpolled size of the retry future in benchmark scenarios 2 and 3b
//! (`benches/src/tokio_rt.rs`): a ready operation returning `u32` or a
//! small error, decorrelated jitter, on tokio, without (2) and with (3b) a
//! sleeper of the call site's own. Sizes are exact for a compiler and a
//! profile, so they are asserted exactly: a change that grows the future
//! fails here, and one that shrinks it updates the numbers (and
//! `docs/benchmarks.md`).

#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use core::future::ready;
use core::time::Duration;

use core::cell::Cell;

use redress_core::backoff::decorrelated_jitter;
use redress_core::{Classification, Classifier, ErrorClass, Policy};
use redress_tokio::AsyncPolicy;

#[derive(Debug)]
struct Flaky;

/// Classifies every error as `TRANSIENT`, holding nothing.
struct FlakyClassifier;

impl Classifier<Flaky> for FlakyClassifier {
    fn classify(&self, _: &Flaky) -> Classification {
        Classification::new(ErrorClass::Transient)
    }
}

fn policy() -> Policy<FlakyClassifier> {
    Policy::builder()
        .classifier(FlakyClassifier)
        .strategy(decorrelated_jitter())
        .max_attempts(4)
        .build()
        .unwrap()
}

/// The scenarios' operation: counts its calls, so its closure holds a
/// reference.
fn op(calls: &Cell<u32>) -> Result<u32, Flaky> {
    calls.set(calls.get() + 1);
    Ok(calls.get())
}

/// A sleeper that returns at once, as scenario 3b binds.
#[derive(Clone, Copy)]
struct Instant;

impl redress_core::AsyncSleeper for Instant {
    type Sleep = core::future::Ready<()>;
    fn sleep(&self, _: Duration) -> Self::Sleep {
        ready(())
    }
}

/// Scenario 2: `policy.call_async(..)` on tokio.
#[test]
fn scenario_2_the_call_future() {
    let policy = policy();
    let calls = Cell::new(0);
    let future = policy.call_async(|| ready(op(&calls)));
    let size = size_of_val(&future);
    assert_eq!(size, SCENARIO_2, "the retry future of scenario 2");
}

/// Scenario 3b: `policy.bind().sleeper(..).call_async(..)` on tokio.
#[test]
fn scenario_3b_the_bound_call_future() {
    let policy = policy();
    let calls = Cell::new(0);
    let site = policy.bind().sleeper(Instant);
    let future = site.call_async(|| ready(op(&calls)));
    let size = size_of_val(&future);
    assert_eq!(size, SCENARIO_3B, "the retry future of scenario 3b");
}

/// The call's `tracing` span, which the future carries with the
/// `tracing` feature.
const SPAN: usize = if redress_core::TRACING { 40 } else { 0 };

const SCENARIO_2: usize = 520 + SPAN;
const SCENARIO_3B: usize = 504 + SPAN;
