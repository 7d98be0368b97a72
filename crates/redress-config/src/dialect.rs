//! The two ways a policy is written down, read by the one loader.

use redress_core::backoff::{Param, ParamKind, StrategyKind};

/// How a policy is written: the config files' form, or the `policy` of a
/// conformance scenario. One loader reads both into the same
/// [`PolicyConfig`](crate::PolicyConfig), so both follow one model and one
/// set of rules; only the spelling differs.
///
/// ```
/// use redress_config::{Dialect, PolicyConfig};
///
/// let value = serde_json::json!({
///     "deadline_s": 2.5,
///     "max_unknown_attempts": null,
///     "strategy": {"kind": "sequence", "delays_s": [0.1, 0.5]},
/// });
/// let config = PolicyConfig::from_json_value(&value, Dialect::Scenario, "policy")?;
/// assert_eq!(config.deadline.as_millis(), 2500);
/// assert_eq!(config.max_unknown_attempts, None);
/// assert_eq!(config.strategy.unwrap().to_string(), "schedule(delays = [100ms, 500ms])");
/// assert_eq!(Dialect::Scenario.path("strategies.RATE_LIMIT.fallback.delay"), "strategies.RATE_LIMIT.fallback.delay_s");
/// # Ok::<(), redress_config::LoadError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// Config files (TOML or JSON): durations are strings with a unit
    /// (`deadline = "10s"`), `max_unknown_attempts = "unlimited"` lifts the
    /// cap, and every strategy and budget kind is available.
    #[default]
    Config,
    /// The `policy` of a conformance scenario, the format shared with the
    /// reference implementation's runner (`conformance/README.md`):
    /// durations are seconds, as JSON numbers, under keys ending in `_s`
    /// (`deadline_s`, `attempt_timeout_s`, `delay_s`, `delays_s`,
    /// `window_s`, `recovery_timeout_s`); the strategies are the
    /// deterministic ones the reference runner plays: `constant`,
    /// `sequence` (a schedule) and `retry_after_or` (without jitter); the
    /// budget is a rolling one, without a `kind`; `null` is the same as
    /// leaving a key out, except `"max_unknown_attempts": null`, which
    /// lifts the cap; an empty `circuit_breaker` is refused (the reference
    /// runner would ignore it).
    Scenario,
}

/// Keys of the envelope, budget and breaker whose value is a duration.
const ENVELOPE_DURATIONS: [&str; 4] = ["deadline", "attempt_timeout", "window", "recovery_timeout"];

/// Whether the value under `key` is a duration (or a list of them), in a
/// policy or in any strategy's parameters.
fn is_duration_key(key: &str) -> bool {
    ENVELOPE_DURATIONS.contains(&key)
        || StrategyKind::ALL.iter().any(|kind| {
            kind.params().iter().any(|p| {
                p.name == key && matches!(p.kind, ParamKind::Duration(_) | ParamKind::Delays)
            })
        })
}

impl Dialect {
    /// The kinds a strategy may have.
    pub fn kinds(self) -> &'static [StrategyKind] {
        match self {
            Dialect::Config => &StrategyKind::ALL,
            Dialect::Scenario => &[
                StrategyKind::Constant,
                StrategyKind::Schedule,
                StrategyKind::RetryAfterOr,
            ],
        }
    }

    /// The name a kind is written as (`"sequence"` for a schedule in a
    /// scenario).
    pub fn kind_name(self, kind: StrategyKind) -> &'static str {
        match (self, kind) {
            (Dialect::Scenario, StrategyKind::Schedule) => "sequence",
            _ => kind.name(),
        }
    }

    /// The kind written as `name`, if this dialect has it.
    pub fn kind_named(self, name: &str) -> Option<StrategyKind> {
        self.kinds()
            .iter()
            .copied()
            .find(|k| self.kind_name(*k) == name)
    }

    /// The key a setting is written under: `deadline_s` for `deadline` in
    /// a scenario.
    pub fn key(self, canonical: &str) -> String {
        match self {
            Dialect::Scenario if is_duration_key(canonical) => format!("{canonical}_s"),
            _ => canonical.to_owned(),
        }
    }

    /// A path of keys as config files name them (`strategy.fallback.delay`,
    /// as lints report them) written in this dialect
    /// (`strategy.fallback.delay_s`).
    pub fn path(self, canonical: &str) -> String {
        if self == Dialect::Config {
            return canonical.to_owned();
        }
        canonical
            .split('.')
            .map(|segment| match segment.find('[') {
                Some(at) => {
                    let (key, index) = segment.split_at(at);
                    format!("{}{index}", self.key(key))
                }
                None => self.key(segment),
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The parameters a kind takes in this dialect (a scenario's
    /// `retry_after_or` has no jitter).
    pub(crate) fn params(self, kind: StrategyKind) -> impl Iterator<Item = Param> {
        kind.params()
            .iter()
            .copied()
            .filter(move |p| !(self == Dialect::Scenario && p.name == "jitter"))
    }

    /// Whether `null` stands for a key left out.
    pub(crate) fn null_is_absent(self) -> bool {
        self == Dialect::Scenario
    }

    /// What the text is, for messages.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Dialect::Config => "a config file",
            Dialect::Scenario => "a scenario",
        }
    }

    /// A line to add a required parameter, as help.
    pub(crate) fn example(self, param: &str) -> String {
        match (self, param) {
            (Dialect::Config, "delay") => "add `delay = \"100ms\"`".to_owned(),
            (Dialect::Config, "delays") => {
                "add `delays = [\"100ms\", \"500ms\", \"2s\"]`".to_owned()
            }
            (Dialect::Config, "fallback") => {
                "add `fallback = { kind = \"decorrelated_jitter\", max = \"10s\" }`".to_owned()
            }
            (Dialect::Scenario, "delay") => "add `\"delay_s\": 0.1`".to_owned(),
            (Dialect::Scenario, "delays") => "add `\"delays_s\": [0.1, 0.5, 2.0]`".to_owned(),
            (Dialect::Scenario, "fallback") => {
                "add `\"fallback\": {\"kind\": \"constant\", \"delay_s\": 1.0}`".to_owned()
            }
            (_, other) => format!("add `{}`", self.key(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_keys_end_in_s_for_durations_only() {
        let d = Dialect::Scenario;
        for (canonical, written) in [
            ("deadline", "deadline_s"),
            ("attempt_timeout", "attempt_timeout_s"),
            ("delay", "delay_s"),
            ("delays", "delays_s"),
            ("window", "window_s"),
            ("recovery_timeout", "recovery_timeout_s"),
            ("max_attempts", "max_attempts"),
            ("max_retries", "max_retries"),
            ("fallback", "fallback"),
            ("kind", "kind"),
        ] {
            assert_eq!(d.key(canonical), written);
            assert_eq!(Dialect::Config.key(canonical), canonical);
        }
        assert_eq!(
            d.path("policy.strategy.delays[1]"),
            "policy.strategy.delays_s[1]"
        );
        assert_eq!(
            d.path("circuit_breaker.class_thresholds.RATE_LIMIT"),
            "circuit_breaker.class_thresholds.RATE_LIMIT"
        );
    }

    #[test]
    fn scenario_kinds_are_the_reference_runners() {
        let names: Vec<&str> = Dialect::Scenario
            .kinds()
            .iter()
            .map(|k| Dialect::Scenario.kind_name(*k))
            .collect();
        assert_eq!(names, ["constant", "sequence", "retry_after_or"]);
        assert_eq!(
            Dialect::Scenario.kind_named("sequence"),
            Some(StrategyKind::Schedule)
        );
        assert_eq!(Dialect::Scenario.kind_named("schedule"), None);
        assert_eq!(Dialect::Scenario.kind_named("exponential"), None);
        for kind in StrategyKind::ALL {
            assert_eq!(Dialect::Config.kind_named(kind.name()), Some(kind));
        }
        assert!(
            Dialect::Scenario
                .params(StrategyKind::RetryAfterOr)
                .all(|p| p.name != "jitter")
        );
    }
}
