//! Parity: one table of behaviours, played through every runner.
//!
//! The blocking runner, the tokio runner (on paused time), the async-std
//! runner and the engine driven by hand (what `redress simulate` does) must
//! produce identical traces: every conformance scenario (compared with the
//! reference's trace byte for byte), plus cases for hooks, abort, defer,
//! attempt timeouts and result-based retries. A behaviour added to one
//! runner is added here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use redress::prelude::*;
use redress::{
    AttemptEnd, AttemptStart, BackoffContext, CallEnd, Hooks, ManualClock, SleepDecision,
};
use redress_doctor::scenario::Scenario;
use redress_doctor::simulate::{
    Engine, Runner, ScenarioSite, ScriptedCall, ScriptedError, ScriptedValue, build_policy, play,
};

/// The blocking runner on a virtual clock: attempts advance it, sleeps
/// advance it.
struct Blocking {
    clock: ManualClock,
}

impl Runner for Blocking {
    fn wait_until(&mut self, at: Duration) {
        self.clock.set(at);
    }

    fn run<H: Hooks + Clone>(
        &mut self,
        site: &ScenarioSite<'_, H>,
        call: &ScriptedCall<'_>,
    ) -> redress::Outcome<ScriptedValue, ScriptedError> {
        let clock = &self.clock;
        site.clone()
            .clock(clock)
            .sleeper(|d| clock.advance(d))
            .execute(|| {
                let (took, result) = call.next();
                clock.advance(took);
                result
            })
    }
}

/// The tokio runner with its own sleeper and clock, on paused time: attempts
/// take their time with `tokio::time::sleep`, and attempt timeouts are cut
/// by tokio's timer.
struct Tokio {
    rt: tokio::runtime::Runtime,
    start: tokio::time::Instant,
}

impl Tokio {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let start = rt.block_on(async { tokio::time::Instant::now() });
        Tokio { rt, start }
    }
}

impl Runner for Tokio {
    fn wait_until(&mut self, at: Duration) {
        let deadline = self.start + at;
        self.rt
            .block_on(async { tokio::time::sleep_until(deadline).await });
    }

    fn run<H: Hooks + Clone>(
        &mut self,
        site: &ScenarioSite<'_, H>,
        call: &ScriptedCall<'_>,
    ) -> redress::Outcome<ScriptedValue, ScriptedError> {
        self.rt
            .block_on(redress::tokio::AsyncPolicy::execute_async(site, || {
                let (took, result) = call.next();
                async move {
                    tokio::time::sleep(took).await;
                    result
                }
            }))
    }
}

/// The async-std runner with a virtual clock and an instant async sleeper
/// (async-std has no virtual time). Attempts complete when polled, so it
/// cannot cut an attempt at its timeout: attempt-timeout cases skip it.
struct AsyncStd {
    clock: ManualClock,
}

impl Runner for AsyncStd {
    fn wait_until(&mut self, at: Duration) {
        self.clock.set(at);
    }

    fn run<H: Hooks + Clone>(
        &mut self,
        site: &ScenarioSite<'_, H>,
        call: &ScriptedCall<'_>,
    ) -> redress::Outcome<ScriptedValue, ScriptedError> {
        let clock = &self.clock;
        let site = site.clone().clock(clock).sleeper(|d: Duration| {
            clock.advance(d);
            std::future::ready(())
        });
        async_std::task::block_on(redress::async_std::AsyncPolicy::execute_async(
            &site,
            || {
                let (took, result) = call.next();
                clock.advance(took);
                std::future::ready(result)
            },
        ))
    }
}

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

fn scenarios() -> Vec<(String, Scenario)> {
    let mut names: Vec<_> = std::fs::read_dir(conformance_dir().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, Scenario::load(&p).unwrap())
        })
        .collect()
}

#[test]
fn every_runner_reproduces_every_conformance_trace() {
    let mut failures = Vec::new();
    for (name, scenario) in scenarios() {
        let expected = std::fs::read_to_string(
            conformance_dir()
                .join("expected")
                .join(format!("{name}.jsonl")),
        )
        .unwrap();
        // Budgets and breakers are shared by the calls of one play, so each
        // runner gets a fresh policy. Runners that cancel an attempt at the
        // deadline (tokio) differ from the reference where an attempt runs
        // past it: they are held to the engine that cancels the same way.
        let cancelling = play(
            &build_policy(&scenario.policy).unwrap(),
            &scenario.calls,
            &mut Engine::cancelling(0),
            (),
        )
        .to_jsonl();
        let traces = [
            (
                "engine",
                play(
                    &build_policy(&scenario.policy).unwrap(),
                    &scenario.calls,
                    &mut Engine::new(0),
                    (),
                ),
            ),
            (
                "blocking",
                play(
                    &build_policy(&scenario.policy).unwrap(),
                    &scenario.calls,
                    &mut Blocking {
                        clock: ManualClock::new(),
                    },
                    (),
                ),
            ),
            (
                "tokio",
                play(
                    &build_policy(&scenario.policy).unwrap(),
                    &scenario.calls,
                    &mut Tokio::new(),
                    (),
                ),
            ),
            (
                "async-std",
                play(
                    &build_policy(&scenario.policy).unwrap(),
                    &scenario.calls,
                    &mut AsyncStd {
                        clock: ManualClock::new(),
                    },
                    (),
                ),
            ),
        ];
        for (runner, trace) in traces {
            let expected = if runner == "tokio" {
                &cancelling
            } else {
                &expected
            };
            if &trace.to_jsonl() != expected {
                failures.push(format!(
                    "{runner} on {name}:\n{}\nexpected:\n{expected}",
                    trace.to_jsonl()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Hooks for the extra cases: an abort after a number of started attempts,
/// a sleep decision, and a log of what every hook saw.
#[derive(Clone, Default)]
struct Steering {
    abort_after: Option<u32>,
    defer_over: Option<Duration>,
    started: Rc<Cell<u32>>,
    log: Rc<RefCell<Vec<String>>>,
}

impl Hooks for Steering {
    fn should_abort(&self) -> bool {
        self.abort_after.is_some_and(|n| self.started.get() >= n)
    }

    fn on_attempt_start(&self, a: &AttemptStart<'_>) {
        self.started.set(self.started.get() + 1);
        self.log.borrow_mut().push(format!(
            "start #{} at {:?} for {:?}",
            a.attempt, a.elapsed, a.time_limit
        ));
    }

    fn on_attempt_end(&self, a: &AttemptEnd<'_>) {
        self.log.borrow_mut().push(format!(
            "end #{} at {:?}: {} {:?} {:?} {:?}",
            a.attempt,
            a.elapsed,
            a.decision.as_str(),
            a.classification.map(|c| c.class),
            a.delay,
            a.stop_reason
        ));
    }

    fn decide_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) -> SleepDecision {
        self.log.borrow_mut().push(format!(
            "decide #{} {:?} prev {:?} delay {delay:?}",
            ctx.attempt,
            ctx.class(),
            ctx.prev_delay
        ));
        match self.defer_over {
            Some(limit) if delay > limit => SleepDecision::Defer,
            _ => SleepDecision::Sleep,
        }
    }

    fn before_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) {
        self.log
            .borrow_mut()
            .push(format!("before sleep #{} {delay:?}", ctx.attempt));
    }

    fn on_call_end(&self, end: &CallEnd<'_>) {
        self.log.borrow_mut().push(format!(
            "call end: {} after {} at {:?} {:?}",
            end.status, end.attempts, end.elapsed, end.class
        ));
    }
}

/// One extra case: a scenario (JSON, in the conformance format) and hooks.
struct Case {
    name: &'static str,
    scenario: &'static str,
    abort_after: Option<u32>,
    defer_over: Option<Duration>,
    /// Runners that cannot cut a running attempt skip it.
    needs_attempt_timeouts: bool,
}

impl Case {
    /// Whether the reference (which plays attempts to completion) and a
    /// runner that cuts them at the deadline may differ here.
    fn cut_at_the_deadline(&self) -> bool {
        self.name.contains("deadline")
    }
}

const CASES: &[Case] = &[
    Case {
        name: "abort after two attempts, mid call",
        scenario: r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.5}},
            "calls": [{"attempts": [{"error": "TRANSIENT", "duration_s": 0.1}]}]}"#,
        abort_after: Some(2),
        defer_over: None,
        needs_attempt_timeouts: false,
    },
    Case {
        name: "abort before the first attempt of a later call",
        scenario: r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.5}},
            "calls": [{"attempts": [{"ok": true}]}, {"at_s": 5, "attempts": [{"ok": true}]}]}"#,
        abort_after: Some(1),
        defer_over: None,
        needs_attempt_timeouts: false,
    },
    Case {
        name: "defer long waits, sleep short ones",
        scenario: r#"{"policy": {"strategy": {"kind": "sequence", "delays_s": [0.2, 2.0]}},
            "calls": [{"attempts": [{"error": "SERVER_ERROR"}, {"result": "RATE_LIMIT"}, {"ok": true}]}]}"#,
        abort_after: None,
        defer_over: Some(Duration::from_secs(1)),
        needs_attempt_timeouts: false,
    },
    Case {
        name: "hooks see the same contexts in every runner",
        scenario: r#"{"policy": {"strategies": {"RATE_LIMIT": {"kind": "retry_after_or", "fallback": {"kind": "constant", "delay_s": 0.3}}},
                                  "strategy": {"kind": "sequence", "delays_s": [0.1, 0.2, 0.4]}, "max_attempts": 6},
            "calls": [{"attempts": [{"error": "TRANSIENT", "duration_s": 0.05}, {"result": "RATE_LIMIT", "retry_after_s": 1.5},
                                    {"error": "RATE_LIMIT"}, {"result": "SERVER_ERROR"}, {"ok": true, "duration_s": 0.01}]}]}"#,
        abort_after: None,
        defer_over: None,
        needs_attempt_timeouts: false,
    },
    Case {
        name: "result-based retries exhaust the attempts",
        scenario: r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.25}, "max_attempts": 3},
            "calls": [{"attempts": [{"result": "SERVER_ERROR", "duration_s": 0.01}]}]}"#,
        abort_after: None,
        defer_over: None,
        needs_attempt_timeouts: false,
    },
    Case {
        name: "attempts that overrun the timeout are cut and retried",
        scenario: r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.1}, "attempt_timeout_s": 0.25, "deadline_s": 2.0},
            "calls": [{"attempts": [{"ok": true, "duration_s": 5}, {"error": "SERVER_ERROR", "duration_s": 0.1},
                                    {"ok": true, "duration_s": 0.25}]}]}"#,
        abort_after: None,
        defer_over: None,
        needs_attempt_timeouts: true,
    },
    Case {
        name: "an attempt that hangs past the deadline ends at the deadline",
        scenario: r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.2}, "deadline_s": 1.0},
            "calls": [{"attempts": [{"error": "SERVER_ERROR", "duration_s": 0.3}, {"ok": true, "duration_s": 60}]}]}"#,
        abort_after: None,
        defer_over: None,
        needs_attempt_timeouts: true,
    },
    Case {
        name: "timeouts run into the deadline",
        scenario: r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.2}, "attempt_timeout_s": 0.5, "deadline_s": 1.5, "max_attempts": 10},
            "calls": [{"attempts": [{"ok": true, "duration_s": 60}]}]}"#,
        abort_after: None,
        defer_over: None,
        needs_attempt_timeouts: true,
    },
];

fn play_case<Rn: Runner>(case: &Case, runner: &mut Rn) -> (String, Vec<String>) {
    let scenario = Scenario::from_json(case.scenario).unwrap();
    let policy = build_policy(&scenario.policy).unwrap();
    let steering = Steering {
        abort_after: case.abort_after,
        defer_over: case.defer_over,
        ..Steering::default()
    };
    let trace = play(&policy, &scenario.calls, runner, steering.clone());
    let log = steering.log.borrow().clone();
    (trace.to_jsonl(), log)
}

#[test]
fn hooks_abort_defer_timeouts_and_results_agree_across_runners() {
    for case in CASES {
        let reference = play_case(case, &mut Engine::new(0));
        assert!(
            !reference.0.is_empty() && !reference.1.is_empty(),
            "{}",
            case.name
        );
        // Tokio cuts attempts at their time limit, the deadline included.
        let cancelling = play_case(case, &mut Engine::cancelling(0));
        if !case.cut_at_the_deadline() {
            assert_eq!(cancelling, reference, "cancelling: {}", case.name);
        }
        let tokio = play_case(case, &mut Tokio::new());
        assert_eq!(tokio, cancelling, "tokio: {}", case.name);
        if case.needs_attempt_timeouts {
            continue;
        }
        let blocking = play_case(
            case,
            &mut Blocking {
                clock: ManualClock::new(),
            },
        );
        assert_eq!(blocking, reference, "blocking: {}", case.name);
        let async_std = play_case(
            case,
            &mut AsyncStd {
                clock: ManualClock::new(),
            },
        );
        assert_eq!(async_std, reference, "async-std: {}", case.name);
    }
}

/// Cutting attempts at the deadline changes a trace only where an attempt
/// runs past it, and there the call ends at the deadline, stopped by it.
#[test]
fn cancelling_at_the_deadline_changes_only_overrunning_calls() {
    use redress_doctor::trace::TraceLine;

    let mut changed = Vec::new();
    for (name, scenario) in scenarios() {
        let outcomes = |engine: &mut Engine| -> Vec<_> {
            play(
                &build_policy(&scenario.policy).unwrap(),
                &scenario.calls,
                engine,
                (),
            )
            .lines
            .into_iter()
            .filter_map(|line| match line {
                TraceLine::Outcome(o) => Some(o),
                _ => None,
            })
            .collect()
        };
        let reference = outcomes(&mut Engine::new(0));
        let cancelling = outcomes(&mut Engine::cancelling(0));
        if reference == cancelling {
            continue;
        }
        changed.push(name.clone());
        for (r, c) in reference.iter().zip(&cancelling) {
            if r == c {
                continue;
            }
            assert!(r.elapsed > scenario.policy.deadline, "{name}: {r:?}");
            assert_eq!(c.elapsed, scenario.policy.deadline, "{name}: {c:?}");
            assert_eq!(c.stop_reason, Some(StopReason::DeadlineExceeded), "{name}");
            assert_eq!(c.operation_calls, r.operation_calls, "{name}");
        }
    }
    // The scenarios written to have attempts end past the deadline.
    assert_eq!(
        changed,
        [
            "deadline_by_duration",
            "deadline_vs_other_stops",
            "delay_clamped_to_deadline",
            "retry_after_beyond_deadline"
        ]
    );
}

#[test]
fn the_extra_cases_exercise_what_they_claim() {
    let stop = |i: usize| {
        let (trace, _) = play_case(&CASES[i], &mut Engine::new(0));
        trace
    };
    assert!(stop(0).contains(r#""stop_reason": "ABORTED""#));
    assert!(stop(1).contains(r#""attempts": 0"#));
    assert!(stop(2).contains(r#""event": "scheduled""#));
    assert!(stop(4).contains(r#""cause": "result""#));
    assert!(stop(5).contains(r#""ok": true"#) && stop(5).contains(r#""attempts": 3"#));
    // Played to completion, the hanging attempt would end at 60.5 s; cut at
    // its limit, the call ends at the 1 s deadline.
    let (cut, log) = play_case(&CASES[6], &mut Engine::cancelling(0));
    assert!(cut.contains(r#""elapsed_s": 1.0"#), "{cut}");
    assert!(cut.contains("DEADLINE_EXCEEDED"), "{cut}");
    assert!(
        log.last()
            .unwrap()
            .starts_with("call end: DEADLINE_EXCEEDED after 2 at 1s")
    );
    assert!(stop(7).contains("DEADLINE_EXCEEDED"));
}

/// A call dropped in the middle of an attempt: the same hooks, in the same
/// order, on every runner (for the blocking runner, a panic in the
/// operation unwinds the call).
#[test]
fn a_dropped_call_ends_as_cancelled_on_every_runner() {
    let scenario = Scenario::from_json(
        r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.5}}, "calls": [{"attempts": [{"ok": true}]}]}"#,
    )
    .unwrap();
    let policy = build_policy(&scenario.policy).unwrap();
    let steering = || Steering::default();
    let log = |s: &Steering| s.log.borrow().clone();

    // The engine, driven by hand and dropped mid-attempt.
    let by_hand = steering();
    let site = policy.bind().hooks(by_hand.clone());
    let (exec, action) = site.start::<ScriptedValue, ScriptedError>(Duration::ZERO);
    assert!(matches!(action, redress::Action::Attempt(_)));
    drop(exec);

    // Tokio: the call's future dropped by a timeout around it.
    let tokio = steering();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let site = policy.bind().hooks(tokio.clone());
    let dropped = rt.block_on(async {
        let call = redress::tokio::AsyncPolicy::execute_async(&site, || {
            std::future::pending::<Result<ScriptedValue, ScriptedError>>()
        });
        tokio::time::timeout(Duration::from_millis(10), call).await
    });
    assert!(dropped.is_err());

    // async-std, on real time: dropped after a few milliseconds.
    let async_std = steering();
    let site = policy.bind().hooks(async_std.clone());
    let dropped = async_std::task::block_on(async_std::future::timeout(
        Duration::from_millis(5),
        redress::async_std::AsyncPolicy::execute_async(&site, || {
            std::future::pending::<Result<ScriptedValue, ScriptedError>>()
        }),
    ));
    assert!(dropped.is_err());

    // Blocking: the operation panics, the call unwinds.
    let blocking = steering();
    let site = policy
        .bind()
        .clock(ManualClock::new())
        .hooks(blocking.clone());
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        site.execute(|| -> Result<ScriptedValue, ScriptedError> { panic!("operation panicked") })
    }));
    assert!(unwound.is_err());

    let expected = [
        "start #1 at 0ns for 60s".to_owned(),
        "call end: cancelled after 1 at 0ns None".to_owned(),
    ];
    assert_eq!(log(&by_hand), expected);
    assert_eq!(log(&tokio), expected);
    assert_eq!(log(&async_std), expected);
    assert_eq!(log(&blocking), expected);
}

/// Async sleep hooks run in the engine's order, interleaved with the
/// synchronous ones, the same on both async runtimes.
#[test]
fn async_hooks_run_in_the_same_order_on_every_async_runner() {
    #[derive(Clone, Default)]
    struct AsyncLog(Rc<RefCell<Vec<String>>>);
    impl redress::AsyncHooks for AsyncLog {
        async fn decide_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) -> SleepDecision {
            self.0
                .borrow_mut()
                .push(format!("async decide #{} {delay:?}", ctx.attempt));
            SleepDecision::Sleep
        }
        async fn before_sleep(&self, ctx: &BackoffContext<'_>, delay: Duration) {
            self.0
                .borrow_mut()
                .push(format!("async before sleep #{} {delay:?}", ctx.attempt));
        }
    }
    let scenario = Scenario::from_json(
        r#"{"policy": {"strategy": {"kind": "constant", "delay_s": 0.5}},
            "calls": [{"attempts": [{"error": "TRANSIENT"}, {"result": "SERVER_ERROR"}, {"ok": true}]}]}"#,
    )
    .unwrap();
    let run = |on_tokio: bool| {
        let policy = build_policy(&scenario.policy).unwrap();
        let sync = Steering::default();
        let log = AsyncLog(Rc::clone(&sync.log));
        let clock = ManualClock::new();
        let site = policy
            .bind()
            .hooks(sync.clone())
            .with_async_hooks(log)
            .clock(&clock)
            .sleeper(|d: Duration| {
                clock.advance(d);
                std::future::ready(())
            });
        let call = ScriptedCall::new(&scenario.calls[0]);
        let op = || std::future::ready(call.next().1);
        let outcome = if on_tokio {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(redress::tokio::AsyncPolicy::execute_async(&site, op))
        } else {
            async_std::task::block_on(redress::async_std::AsyncPolicy::execute_async(&site, op))
        };
        assert!(outcome.is_ok());
        sync.log.take()
    };
    let tokio = run(true);
    assert_eq!(tokio, run(false));
    assert_eq!(
        &tokio[..7],
        [
            "start #1 at 0ns for 60s",
            "decide #1 Transient prev None delay 500ms",
            "async decide #1 500ms",
            "before sleep #1 500ms",
            "async before sleep #1 500ms",
            "end #1 at 500ms: retry Some(Transient) Some(500ms) None",
            "start #2 at 500ms for 59.5s",
        ]
    );
    assert_eq!(
        tokio.last().unwrap(),
        "call end: succeeded after 3 at 1s None"
    );
}
