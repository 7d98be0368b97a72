//! `[breakers.NAME]` and `[budgets.NAME]`: declared once, named by
//! policies, shared when built.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use core::time::Duration;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use redress_config::shared::ResolveError;
use redress_config::{
    BreakerConfig, BudgetConfig, BuildError, ConfigFile, Document, Format, Lint, LoadError,
    SharedRef, SharedState, StoreConfig, StoreFallback, StoreResolver,
};
use redress_core::{Breaker, Budget, CircuitBreaker, RollingBudget};

const FILE: &str = r#"
[breakers.upstream]
failure_threshold = 3
window = "30s"

[breakers.fleet]
failure_threshold = 10
store = "redis://127.0.0.1:6379"
sync_interval = "500ms"
on_store_error = "closed"

[budgets.upstream]
max_retries = 50
window = "60s"

[policies.reads]
strategy = "full_jitter"
circuit_breaker = "upstream"
budget = "upstream"

[policies.writes]
strategy = "decorrelated_jitter"
circuit_breaker = "upstream"
budget = "upstream"

[policies.fleet]
strategy = "full_jitter"
circuit_breaker = "fleet"
"#;

fn problems(text: &str) -> Vec<(String, String, String)> {
    match Document::parse(text, Format::Toml) {
        Err(LoadError::Invalid { problems, .. }) => problems
            .into_iter()
            .map(|d| (d.code.to_owned(), d.path, d.help.unwrap_or_default()))
            .collect(),
        Err(e) => panic!("{e}"),
        Ok(doc) => doc
            .entries()
            .iter()
            .filter_map(|e| e.result.as_ref().err())
            .flatten()
            .map(|d| {
                (
                    d.code.to_owned(),
                    d.path.clone(),
                    d.help.clone().unwrap_or_default(),
                )
            })
            .collect(),
    }
}

#[test]
fn a_policy_that_names_a_declaration_gets_its_settings() {
    let file = ConfigFile::from_toml_str(FILE).unwrap();
    let reads = file.policy("reads").unwrap();
    assert_eq!(reads.shared_breaker, Some(SharedRef::local("upstream")));
    assert_eq!(reads.circuit_breaker.as_ref().unwrap().failure_threshold, 3);
    assert_eq!(
        reads.budget,
        Some(BudgetConfig::Rolling {
            max_retries: 50,
            window: Duration::from_secs(60)
        })
    );
    let fleet = file.policy("fleet").unwrap();
    let mut store = StoreConfig::new("redis://127.0.0.1:6379");
    store.sync_interval = Duration::from_millis(500);
    store.on_store_error = StoreFallback::Closed;
    assert_eq!(
        fleet.shared_breaker,
        Some(SharedRef::in_store("fleet", store))
    );
    assert!(!reads.lint().has_errors(), "{}", reads.lint());
}

#[test]
fn policies_that_name_one_breaker_share_it() {
    let file = ConfigFile::from_toml_str(FILE).unwrap();
    let shared = SharedState::new();
    let reads = shared.build(file.policy("reads").unwrap()).unwrap();
    let writes = shared.build(file.policy("writes").unwrap()).unwrap();
    let (a, b) = (
        reads.circuit_breaker().unwrap(),
        writes.circuit_breaker().unwrap(),
    );
    assert!(std::ptr::addr_eq(a, b));
    let (a, b) = (
        reads.retry().budget().unwrap(),
        writes.retry().budget().unwrap(),
    );
    assert!(std::ptr::addr_eq(a, b));
    // A failure seen by one policy's calls counts for the other's.
    let now = Duration::ZERO;
    for _ in 0..3 {
        let admission = a_breaker(&shared).acquire(now).unwrap();
        let _ = a_breaker(&shared).record(
            &admission,
            redress_core::breaker::CallResult::Failure(redress_core::ErrorClass::Transient),
            now,
        );
    }
    assert!(b_is_open(&writes));
    // Built on their own, they would not share: building refuses them.
    let err = file.policy("reads").unwrap().build().unwrap_err();
    assert!(
        matches!(err, BuildError::NeedsSharedState { ref name } if name == "upstream"),
        "{err}"
    );
}

fn a_breaker(shared: &SharedState) -> Arc<dyn Breaker + Send + Sync> {
    shared.breaker_named("upstream").unwrap()
}

fn b_is_open<C, R>(policy: &redress_core::Policy<C, R>) -> bool {
    policy.circuit_breaker().unwrap().state() == redress_core::CircuitState::Open
}

/// Builds local breakers and budgets, counting calls.
#[derive(Default)]
struct Counting {
    breakers: AtomicUsize,
    seen: Mutex<Vec<(String, StoreConfig)>>,
}

/// A resolver over shared counts.
struct Resolver(Arc<Counting>);

impl StoreResolver for Resolver {
    fn breaker(
        &self,
        name: &str,
        config: &BreakerConfig,
        store: &StoreConfig,
    ) -> Result<Arc<dyn Breaker + Send + Sync>, ResolveError> {
        self.0.breakers.fetch_add(1, Ordering::Relaxed);
        self.0
            .seen
            .lock()
            .unwrap()
            .push((name.to_owned(), store.clone()));
        Ok(Arc::new(config.build()?))
    }

    fn budget(
        &self,
        _name: &str,
        _config: &BudgetConfig,
        _store: &StoreConfig,
    ) -> Result<Arc<dyn Budget + Send + Sync>, ResolveError> {
        Err("no budgets here".into())
    }
}

#[test]
fn declarations_with_a_store_go_to_the_resolver_once() {
    let file = ConfigFile::from_toml_str(FILE).unwrap();
    let err = SharedState::new()
        .build(file.policy("fleet").unwrap())
        .unwrap_err();
    assert!(matches!(err, BuildError::NoResolver { .. }), "{err}");
    assert!(
        err.to_string().contains("redress_redis::ConfigResolver"),
        "{err}"
    );

    let counting = Arc::new(Counting::default());
    let shared = SharedState::with_resolver(Resolver(Arc::clone(&counting)));
    shared.build(file.policy("fleet").unwrap()).unwrap();
    shared.build(file.policy("fleet").unwrap()).unwrap();
    assert_eq!(counting.breakers.load(Ordering::Relaxed), 1);
    let seen = counting.seen.lock().unwrap();
    assert_eq!(seen[0].0, "fleet");
    assert_eq!(seen[0].1.sync_interval, Duration::from_millis(500));
}

#[test]
fn a_resolver_error_names_the_declaration() {
    let text = "[budgets.b]\nmax_retries = 1\nwindow = \"1s\"\nstore = \"redis://x:1\"\n\n[policies.p]\nstrategy = \"full_jitter\"\nbudget = \"b\"\n";
    let file = ConfigFile::from_toml_str(text).unwrap();
    let shared = SharedState::with_resolver(Resolver(Arc::default()));
    let err = shared.build(file.policy("p").unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot build the shared `b`: no budgets here"
    );
}

#[test]
fn an_unknown_name_is_an_error_with_the_nearest_one() {
    let text = "[breakers.upstream]\n[policies.p]\nstrategy = \"full_jitter\"\ncircuit_breaker = \"upstrem\"\n";
    assert_eq!(
        problems(text),
        [(
            "E110".to_owned(),
            "policies.p.circuit_breaker".to_owned(),
            "did you mean `upstream`?".to_owned()
        )]
    );
    let text = "[policies.p]\nstrategy = \"full_jitter\"\nbudget = \"nothing\"\n";
    let found = problems(text);
    assert_eq!(found[0].0, "E110");
    assert_eq!(
        found[0].2,
        "declare it once at the top of the file: [budgets.nothing]"
    );
}

#[test]
fn store_settings_are_checked() {
    let text = "[breakers.b]\nstore = \"127.0.0.1:6379\"\n[policies.p]\nstrategy = \"full_jitter\"\ncircuit_breaker = \"b\"\n";
    let found = problems(text);
    assert_eq!(found[0].0, "E111");
    assert_eq!(found[0].1, "breakers.b.store");
    let text = "[breakers.b]\nsync_interval = \"1s\"\n[policies.p]\nstrategy = \"full_jitter\"\ncircuit_breaker = \"b\"\n";
    let found = problems(text);
    assert_eq!(found[0].0, "E112");
    assert_eq!(found[0].1, "breakers.b.sync_interval");
    let text = "[breakers.b]\nstore = \"redis://h:1\"\non_store_error = \"opne\"\n[policies.p]\nstrategy = \"full_jitter\"\ncircuit_breaker = \"b\"\n";
    let found = problems(text);
    assert_eq!(
        (found[0].0.as_str(), found[0].2.as_str()),
        ("E105", "did you mean `open`?")
    );
    let text = "[breakers.b]\nstore = \"redis://h:1\"\nsync_interval = \"0s\"\n[policies.p]\nstrategy = \"full_jitter\"\ncircuit_breaker = \"b\"\n";
    assert_eq!(problems(text)[0].0, "E111");
    // A declaration's own keys are checked like an inline breaker's.
    let text = "[breakers.b]\nfailure_treshold = 3\n[policies.p]\nstrategy = \"full_jitter\"\ncircuit_breaker = \"b\"\n";
    let found = problems(text);
    assert_eq!(found.len(), 1, "{found:?}: not also an unknown name");
    assert_eq!(
        (found[0].0.as_str(), found[0].2.as_str()),
        ("E101", "did you mean `failure_threshold`?")
    );
}

#[test]
fn an_unused_declaration_is_a_warning_of_the_file() {
    let doc = Document::parse(FILE, Format::Toml).unwrap();
    assert!(doc.lint_shared().is_clean());
    let text = format!("{FILE}\n[budgets.spare]\nkind = \"ratio\"\n");
    let doc = Document::parse(&text, Format::Toml).unwrap();
    let report = doc.lint_shared();
    let found: Vec<_> = report
        .diagnostics
        .iter()
        .map(|d| (d.code, d.path.as_str()))
        .collect();
    assert_eq!(found, [("W022", "budgets.spare")]);
    assert_eq!(doc.budgets().len(), 2);
    assert_eq!(doc.breakers().len(), 2);
}

#[test]
fn a_budget_kept_locally_is_the_local_budget() {
    let file = ConfigFile::from_toml_str(FILE).unwrap();
    let shared = SharedState::new();
    let reads = shared.build(file.policy("reads").unwrap()).unwrap();
    let budget = reads.retry().budget().unwrap();
    assert_eq!(
        budget.as_rolling().map(RollingBudget::max_retries),
        Some(50)
    );
    assert!(shared.budget_named("upstream").is_some());
    let _ = CircuitBreaker::builder();
}
