//! The built-in strategy kinds, declared once: their names, their
//! parameters and the parameters' defaults.
//!
//! Config files, lints, writing a policy out as configuration, "did you
//! mean" suggestions and `redress doctor` all follow this table, so a kind
//! or a default cannot be known in one place and missing in another.

use core::fmt;
use core::time::Duration;

/// The base delay the jittered and exponential strategies start from.
pub(super) const DEFAULT_BASE: Duration = Duration::from_millis(250);
/// Their cap.
pub(super) const DEFAULT_MAX: Duration = Duration::from_secs(30);
/// Token backoff's cap.
pub(super) const TOKEN_MAX: Duration = Duration::from_secs(20);
/// Exponential growth per attempt.
pub(super) const DEFAULT_FACTOR: f64 = 2.0;
/// The most `retry_after_or` adds to a hint.
pub(super) const DEFAULT_JITTER: Duration = Duration::from_millis(250);
/// How far back `adaptive` remembers successes and failures.
pub(super) const ADAPTIVE_WINDOW: Duration = Duration::from_secs(60);
/// The success rate below which `adaptive` stretches delays.
pub(super) const TARGET_SUCCESS: f64 = 0.9;
/// `adaptive`'s multiplier when healthy.
pub(super) const MIN_MULTIPLIER: f64 = 1.0;
/// `adaptive`'s multiplier when everything fails.
pub(super) const MAX_MULTIPLIER: f64 = 5.0;

/// A built-in strategy kind, as config files, lints and events name it.
///
/// [`ALL`](Self::ALL) lists them; [`params`](Self::params) gives each
/// kind's parameters, named like the builder methods that set them, with
/// their defaults.
///
/// ```
/// use core::time::Duration;
/// use redress_core::backoff::{ParamKind, StrategyKind};
///
/// let kind = StrategyKind::from_name("token_backoff").unwrap();
/// assert_eq!(kind.name(), "token_backoff");
/// let max = kind.param("max").unwrap();
/// assert_eq!(max.kind, ParamKind::Duration(Some(Duration::from_secs(20))));
/// assert!(StrategyKind::RetryAfterOr.takes_fallback());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StrategyKind {
    /// [`decorrelated_jitter`](super::decorrelated_jitter).
    DecorrelatedJitter,
    /// [`equal_jitter`](super::equal_jitter).
    EqualJitter,
    /// [`full_jitter`](super::full_jitter).
    FullJitter,
    /// [`token_backoff`](super::token_backoff).
    TokenBackoff,
    /// [`exponential`](super::exponential).
    Exponential,
    /// [`constant`](super::constant).
    Constant,
    /// [`schedule`](super::schedule).
    Schedule,
    /// [`retry_after_or`](super::retry_after_or).
    RetryAfterOr,
    /// `adaptive` (with `alloc`), or [`Backoff::adaptive_static`](super::Backoff::adaptive_static).
    Adaptive,
}

/// A parameter of a strategy kind.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Param {
    /// Its name: the builder method that sets it, and the key config files
    /// write it under.
    pub name: &'static str,
    /// What it takes, and its default.
    pub kind: ParamKind,
}

/// What a strategy parameter takes, and its default.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ParamKind {
    /// A duration, with its default (`None`: required).
    Duration(Option<Duration>),
    /// A number, with its default.
    Number(f64),
    /// A list of delays (required).
    Delays,
    /// The strategy to fall back to (required).
    Fallback,
}

const fn param(name: &'static str, kind: ParamKind) -> Param {
    Param { name, kind }
}

const BASE: Param = param("base", ParamKind::Duration(Some(DEFAULT_BASE)));
const MAX: Param = param("max", ParamKind::Duration(Some(DEFAULT_MAX)));
const TOKEN_MAX_PARAM: Param = param("max", ParamKind::Duration(Some(TOKEN_MAX)));
const FACTOR: Param = param("factor", ParamKind::Number(DEFAULT_FACTOR));
const DELAY: Param = param("delay", ParamKind::Duration(None));
const DELAYS: Param = param("delays", ParamKind::Delays);
const FALLBACK: Param = param("fallback", ParamKind::Fallback);
const JITTER: Param = param("jitter", ParamKind::Duration(Some(DEFAULT_JITTER)));
const WINDOW: Param = param("window", ParamKind::Duration(Some(ADAPTIVE_WINDOW)));
const TARGET: Param = param("target_success", ParamKind::Number(TARGET_SUCCESS));
const MIN_M: Param = param("min_multiplier", ParamKind::Number(MIN_MULTIPLIER));
const MAX_M: Param = param("max_multiplier", ParamKind::Number(MAX_MULTIPLIER));

impl StrategyKind {
    /// Every kind, the plain curves first, then the two that wrap a
    /// fallback.
    pub const ALL: [StrategyKind; 9] = [
        StrategyKind::DecorrelatedJitter,
        StrategyKind::EqualJitter,
        StrategyKind::FullJitter,
        StrategyKind::TokenBackoff,
        StrategyKind::Exponential,
        StrategyKind::Constant,
        StrategyKind::Schedule,
        StrategyKind::RetryAfterOr,
        StrategyKind::Adaptive,
    ];

    /// The name config files and lints use (`"decorrelated_jitter"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            StrategyKind::DecorrelatedJitter => "decorrelated_jitter",
            StrategyKind::EqualJitter => "equal_jitter",
            StrategyKind::FullJitter => "full_jitter",
            StrategyKind::TokenBackoff => "token_backoff",
            StrategyKind::Exponential => "exponential",
            StrategyKind::Constant => "constant",
            StrategyKind::Schedule => "schedule",
            StrategyKind::RetryAfterOr => "retry_after_or",
            StrategyKind::Adaptive => "adaptive",
        }
    }

    /// The kind named `name`, exactly as [`name`](Self::name) spells it.
    pub fn from_name(name: &str) -> Option<StrategyKind> {
        StrategyKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The parameters, in the order config files write them, with their
    /// defaults (those of the constructors: [`decorrelated_jitter()`] and
    /// the others).
    ///
    /// [`decorrelated_jitter()`]: super::decorrelated_jitter
    pub const fn params(self) -> &'static [Param] {
        match self {
            StrategyKind::DecorrelatedJitter
            | StrategyKind::EqualJitter
            | StrategyKind::FullJitter => &[BASE, MAX],
            StrategyKind::TokenBackoff => &[BASE, TOKEN_MAX_PARAM],
            StrategyKind::Exponential => &[BASE, MAX, FACTOR],
            StrategyKind::Constant => &[DELAY],
            StrategyKind::Schedule => &[DELAYS],
            StrategyKind::RetryAfterOr => &[FALLBACK, JITTER],
            StrategyKind::Adaptive => &[FALLBACK, WINDOW, TARGET, MIN_M, MAX_M],
        }
    }

    /// The parameter named `name`, if this kind takes it.
    pub fn param(self, name: &str) -> Option<Param> {
        self.params().iter().copied().find(|p| p.name == name)
    }

    /// Whether the kind wraps another strategy (its `fallback`):
    /// `retry_after_or` and `adaptive`.
    pub const fn takes_fallback(self) -> bool {
        matches!(self, StrategyKind::RetryAfterOr | StrategyKind::Adaptive)
    }
}

/// The name, as [`StrategyKind::name`].
impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
