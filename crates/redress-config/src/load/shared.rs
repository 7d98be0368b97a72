//! Loading `[breakers.NAME]`, `[budgets.NAME]` and the policies' references
//! to them.

use std::collections::{BTreeMap, BTreeSet};

use super::{Walker, codes, find, join_path, segment};
use crate::diagnostic::Diagnostic;
use crate::model::{BreakerConfig, BudgetConfig};
use crate::shared::{SharedBreaker, SharedBudget, SharedRef, StoreConfig, StoreFallback};
use crate::suggest::suggest;
use crate::tree::{Node, Value};

/// The keys of a declaration besides its breaker's or budget's own.
const STORE_KEYS: [&str; 3] = ["store", "sync_interval", "on_store_error"];

/// The declarations of a file, and which of them policies use.
#[derive(Clone, Debug, Default)]
pub(crate) struct Declarations {
    pub(crate) breakers: BTreeMap<String, SharedBreaker>,
    pub(crate) budgets: BTreeMap<String, SharedBudget>,
    /// Every name declared, loaded or not: a reference to one that did not
    /// load is not reported again as unknown.
    declared_breakers: BTreeSet<String>,
    declared_budgets: BTreeSet<String>,
    pub(crate) used_breakers: BTreeSet<String>,
    pub(crate) used_budgets: BTreeSet<String>,
}

impl Walker {
    /// Reads `breakers` and `budgets` at the top of a file of policies.
    pub(super) fn declarations(&mut self, top: &[(String, Node)]) {
        if let Some(node) = find(top, "breakers") {
            if let Some(entries) = self.table(node, "breakers", "a table of named breakers") {
                for (name, decl) in entries {
                    let path = join_path("breakers", &segment(name));
                    self.shared.declared_breakers.insert(name.clone());
                    let Some((rest, store)) =
                        self.declaration(decl, &path, "a circuit breaker table")
                    else {
                        continue;
                    };
                    if let Some(config) = self.breaker(&rest, &path) {
                        let shared = SharedBreaker { config, store };
                        self.shared.breakers.insert(name.clone(), shared);
                    }
                }
            }
        }
        if let Some(node) = find(top, "budgets") {
            if let Some(entries) = self.table(node, "budgets", "a table of named budgets") {
                for (name, decl) in entries {
                    let path = join_path("budgets", &segment(name));
                    self.shared.declared_budgets.insert(name.clone());
                    let Some((rest, store)) = self.declaration(decl, &path, "a budget table")
                    else {
                        continue;
                    };
                    if let Some(config) = self.budget(&rest, &path) {
                        let shared = SharedBudget { config, store };
                        self.shared.budgets.insert(name.clone(), shared);
                    }
                }
            }
        }
    }

    /// Splits a declaration into its breaker's or budget's own keys and its
    /// store.
    fn declaration(
        &mut self,
        node: &Node,
        path: &str,
        expected: &str,
    ) -> Option<(Node, Option<StoreConfig>)> {
        let entries = self.table(node, path, expected)?;
        let (store_keys, own): (Vec<_>, Vec<_>) = entries
            .iter()
            .cloned()
            .partition(|(k, _)| STORE_KEYS.contains(&k.as_str()));
        let store = self.store(node, &store_keys, path);
        let rest = Node {
            value: Value::Table(own),
            ..node.clone()
        };
        Some((rest, store))
    }

    fn store(
        &mut self,
        parent: &Node,
        entries: &[(String, Node)],
        path: &str,
    ) -> Option<StoreConfig> {
        let url = match find(entries, "store") {
            None => {
                // Settings of a store without one do nothing: refuse them.
                for (key, node) in entries {
                    let key_path = join_path(path, key);
                    self.record(&key_path, node);
                    self.problem(
                        Diagnostic::error(
                            codes::STORE_SETTING_WITHOUT_STORE,
                            key_path,
                            format!("`{key}` applies only to a declaration with a `store`"),
                        )
                        .with_help("add `store = \"redis://HOST:PORT\"`, or remove it"),
                        node,
                        true,
                    );
                }
                return None;
            }
            Some(node) => {
                let key_path = join_path(path, "store");
                self.record(&key_path, node);
                match &node.value {
                    Value::String(url)
                        if url
                            .split_once("://")
                            .is_some_and(|(s, r)| !s.is_empty() && !r.is_empty()) =>
                    {
                        url.clone()
                    }
                    Value::String(url) => {
                        self.problem(
                            Diagnostic::error(
                                codes::BAD_STORE,
                                key_path,
                                format!("`store` must be a URL, not {url:?}"),
                            )
                            .with_help(
                                "write it as scheme://host:port, e.g. \"redis://127.0.0.1:6379\"",
                            ),
                            node,
                            false,
                        );
                        return None;
                    }
                    _ => {
                        self.wrong_type(node, &key_path, "a URL (a string)", None);
                        return None;
                    }
                }
            }
        };
        let mut store = StoreConfig::new(url);
        if let Some(node) = find(entries, "sync_interval") {
            let key_path = join_path(path, "sync_interval");
            if let Some(d) = self.duration(node, &key_path) {
                if d < core::time::Duration::from_millis(1) {
                    self.problem(
                        Diagnostic::error(
                            codes::BAD_STORE,
                            key_path,
                            "`sync_interval` is below 1ms: the stores count in milliseconds",
                        )
                        .with_help("sync about once a second: sync_interval = \"1s\""),
                        node,
                        false,
                    );
                } else {
                    store.sync_interval = d;
                }
            }
        }
        if let Some(node) = find(entries, "on_store_error") {
            let key_path = join_path(path, "on_store_error");
            self.record(&key_path, node);
            match &node.value {
                Value::String(name) => match StoreFallback::from_name(name) {
                    Some(f) => store.on_store_error = f,
                    None => {
                        let help = match suggest(name, StoreFallback::NAMES) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => "write \"local\", \"open\" or \"closed\"".to_owned(),
                        };
                        self.problem(
                            Diagnostic::error(
                                codes::UNKNOWN_KIND,
                                key_path,
                                format!("unknown `on_store_error` value `{name}`"),
                            )
                            .with_help(help),
                            node,
                            false,
                        );
                    }
                },
                _ => self.wrong_type(node, &key_path, "\"local\", \"open\" or \"closed\"", None),
            }
        }
        let _ = parent;
        Some(store)
    }

    /// `circuit_breaker = "NAME"`: the declared breaker's settings and the
    /// reference.
    pub(super) fn breaker_ref(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<(BreakerConfig, SharedRef)> {
        let name = self.reference(node, path)?;
        self.shared.used_breakers.insert(name.clone());
        match self.shared.breakers.get(&name) {
            Some(d) => {
                let r = SharedRef {
                    name,
                    store: d.store.clone(),
                };
                Some((d.config.clone(), r))
            }
            None => {
                if !self.shared.declared_breakers.contains(&name) {
                    let declared: Vec<String> =
                        self.shared.declared_breakers.iter().cloned().collect();
                    self.unknown_reference(node, path, &name, "breakers", &declared);
                }
                None
            }
        }
    }

    /// `budget = "NAME"`: the declared budget's settings and the reference.
    pub(super) fn budget_ref(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<(BudgetConfig, SharedRef)> {
        let name = self.reference(node, path)?;
        self.shared.used_budgets.insert(name.clone());
        match self.shared.budgets.get(&name) {
            Some(d) => {
                let r = SharedRef {
                    name,
                    store: d.store.clone(),
                };
                Some((d.config.clone(), r))
            }
            None => {
                if !self.shared.declared_budgets.contains(&name) {
                    let declared: Vec<String> =
                        self.shared.declared_budgets.iter().cloned().collect();
                    self.unknown_reference(node, path, &name, "budgets", &declared);
                }
                None
            }
        }
    }

    fn reference(&mut self, node: &Node, path: &str) -> Option<String> {
        self.record(path, node);
        match &node.value {
            Value::String(name) => Some(name.clone()),
            _ => None,
        }
    }

    fn unknown_reference(
        &mut self,
        node: &Node,
        path: &str,
        name: &str,
        table: &str,
        declared: &[String],
    ) {
        let help = match suggest(name, declared.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`?"),
            None if declared.is_empty() => {
                format!("declare it once at the top of the file: [{table}.{name}]")
            }
            None => format!("declared: {}", declared.join(", ")),
        };
        self.problem(
            Diagnostic::error(
                codes::UNKNOWN_REFERENCE,
                path,
                format!("no `[{table}.{name}]` is declared"),
            )
            .with_help(help),
            node,
            false,
        );
    }
}

impl super::Document {
    /// The breakers the file declares (`[breakers.NAME]`).
    pub fn breakers(&self) -> &BTreeMap<String, SharedBreaker> {
        &self.shared.breakers
    }

    /// The budgets the file declares (`[budgets.NAME]`).
    pub fn budgets(&self) -> &BTreeMap<String, SharedBudget> {
        &self.shared.budgets
    }

    /// The findings about the file's declarations as a whole, located:
    /// a declaration no policy names (`W022`). (What is wrong with a
    /// declaration itself is reported while loading, and through the lint
    /// of each policy that names it.)
    ///
    /// ```
    /// use redress_config::{Document, Format};
    ///
    /// let doc = Document::parse(r#"
    /// [breakers.search]
    /// failure_threshold = 3
    ///
    /// [policies.reads]
    /// strategy = "full_jitter"
    /// "#, Format::Toml)?;
    /// let report = doc.lint_shared();
    /// let unused = report.warnings().next().expect("W022");
    /// assert_eq!((unused.code, unused.path.as_str()), ("W022", "breakers.search"));
    /// assert_eq!(unused.location.map(|l| l.line), Some(2));
    /// # Ok::<(), redress_config::LoadError>(())
    /// ```
    pub fn lint_shared(&self) -> crate::Report {
        let mut out = Vec::new();
        let shared = &self.shared;
        let unused = |table: &str, declared: &BTreeSet<String>, used: &BTreeSet<String>| {
            declared
                .iter()
                .filter(|name| !used.contains(*name))
                .map(|name| {
                    let path = join_path(table, &segment(name));
                    Diagnostic::warning(
                        "W022",
                        path.clone(),
                        format!("`[{table}.{name}]` is declared, and no policy names it"),
                    )
                    .with_help(format!(
                        "name it in a policy (`{} = \"{name}\"`), or remove it",
                        if table == "breakers" {
                            "circuit_breaker"
                        } else {
                            "budget"
                        }
                    ))
                    .at(self.locate(&path))
                })
                .collect::<Vec<_>>()
        };
        out.extend(unused(
            "breakers",
            &shared.declared_breakers,
            &shared.used_breakers,
        ));
        out.extend(unused(
            "budgets",
            &shared.declared_budgets,
            &shared.used_budgets,
        ));
        crate::Report::new(out)
    }
}
