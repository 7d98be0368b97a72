//! Building blocks of a client integration: the call site of one request,
//! and what sends a request that cannot be copied exactly once.
//!
//! The reqwest middleware (`redress-reqwest`) and the tower layer
//! (`redress-tower`) are built from these; an integration for another
//! client can be too. A request whose body cannot be copied runs under
//! [`single_attempt`]'s copy of the policy (one attempt, the same budget
//! and breaker), its failures tagged [`NOT_RETRIED`]; a request that can
//! be copied runs under the policy itself, and once a copy is refused the
//! original goes out last, [`Exhausted`] stopping the call after it.
//!
//! ```
//! use core::sync::atomic::AtomicBool;
//! use redress_core::{Policy, ResultClassifier};
//! use redress_http::client::{single_attempt, Exhausted, Site, NOT_RETRIED};
//! use redress_http::response_classifier;
//!
//! let policy = Policy::builder()
//!     .result_classifier(response_classifier())
//!     .strategy(redress_core::backoff::decorrelated_jitter())
//!     .build()?;
//! // A request that cannot be copied: one attempt, and its failure says why.
//! let once = single_attempt(&policy).expect("one attempt is a valid policy");
//! assert_eq!(once.retry().max_attempts(), 1);
//! let busy = http::Response::builder().status(503).body(()).unwrap();
//! let failure = once.result_classifier().classify(&busy).unwrap();
//! assert_eq!(failure.details.get(NOT_RETRIED.0), Some(NOT_RETRIED.1));
//!
//! // The call site a runner drives for it (`()`: the runtime's sleeper and clock).
//! let sent = AtomicBool::new(false);
//! let site = Site {
//!     policy: &once,
//!     hooks: (&(), Exhausted(&sent)),
//!     operation: Some("upload"),
//!     sleeper: &(),
//!     clock: &(),
//!     seed: None,
//! };
//! # let _ = site;
//! # Ok::<(), redress_core::ConfigError>(())
//! ```

use core::sync::atomic::{AtomicBool, Ordering};

use redress_core::{
    AsyncSite, AsyncSleeper, CallSite, Classification, Classifier, Clock, FastRng, Hooks, Policy,
    ResultClassifier, Slot,
};

/// The detail the failure of a request sent only once carries:
/// `("not_retried", "body")` (the request could not be copied; as a rule,
/// because of its body). Hooks see it in the attempt's classification; the
/// events' `err` tags stay those of the status or error.
pub const NOT_RETRIED: (&str, &str) = ("not_retried", "body");

/// A classifier whose classifications carry [`NOT_RETRIED`].
#[derive(Clone, Copy, Debug)]
pub struct NotRetried<C>(pub C);

impl<E, C: Classifier<E>> Classifier<E> for NotRetried<C> {
    fn classify(&self, error: &E) -> Classification {
        let (key, value) = NOT_RETRIED;
        self.0.classify(error).with_detail(key, value)
    }
}

impl<T, C: ResultClassifier<T>> ResultClassifier<T> for NotRetried<C> {
    fn classify(&self, value: &T) -> Option<Classification> {
        let (key, detail) = NOT_RETRIED;
        self.0.classify(value).map(|c| c.with_detail(key, detail))
    }
}

/// `policy` with one attempt and classifiers that tag failures
/// [`NOT_RETRIED`]: for requests that cannot be copied. It shares the
/// policy's budget and breaker. `None` only if the policy builder refused
/// it, which a valid policy never makes it do; a caller then still sends
/// the request once, under `policy` with [`Exhausted`] set.
pub fn single_attempt<C: Clone, R: Clone>(
    policy: &Policy<C, R>,
) -> Option<Policy<NotRetried<C>, NotRetried<R>>> {
    policy
        .to_builder()
        .max_attempts(1)
        .classifier(NotRetried(policy.classifier().clone()))
        .result_classifier(NotRetried(policy.result_classifier().clone()))
        .build()
        .ok()
}

/// Stops the call once its original request has been sent: the engine
/// checks it after every failure and before every attempt.
#[derive(Clone, Copy, Debug)]
pub struct Exhausted<'a>(pub &'a AtomicBool);

impl Exhausted<'_> {
    /// Marks the original request as sent.
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Hooks for Exhausted<'_> {
    const OBSERVES: bool = false;
    const SLEEP_HOOKS: bool = false;

    fn should_abort(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The call site of one request: the policy it runs under and the
/// integration's hooks (with its [`Exhausted`] flag), operation name,
/// sleeper, clock and seed. The sleeper and clock are [`Slot`]s: `()` for
/// the runtime's, or a `Custom` of the integration's user.
#[derive(Debug)]
pub struct Site<'a, C, R, H, S, K> {
    /// The policy of this request.
    pub policy: &'a Policy<C, R>,
    /// The integration's hooks, and the flag that ends the call once the
    /// original request was sent.
    pub hooks: (&'a H, Exhausted<'a>),
    /// The operation name events carry.
    pub operation: Option<&'a str>,
    /// The sleeper slot.
    pub sleeper: &'a S,
    /// The clock slot.
    pub clock: &'a K,
    /// A seed for the delays' random draws, for reproducible tests.
    pub seed: Option<u64>,
}

impl<'a, C, R, H: Hooks, S, K> CallSite<C, R> for Site<'a, C, R, H, S, K> {
    type Hooks = (&'a H, Exhausted<'a>);
    type AsyncHooks = ();

    fn policy(&self) -> &Policy<C, R> {
        self.policy
    }
    fn hooks(&self) -> &Self::Hooks {
        &self.hooks
    }
    fn async_hooks(&self) -> &() {
        &()
    }
    fn operation_name(&self) -> Option<&str> {
        self.operation
    }
    fn rng(&self) -> FastRng {
        self.seed.map_or_else(FastRng::new, FastRng::seeded)
    }
    fn captures_timeline(&self) -> bool {
        false
    }
}

impl<C, R, H, S, K, Rt> AsyncSite<C, R, Rt> for Site<'_, C, R, H, S, K>
where
    H: Hooks,
    S: Slot<Rt, Value: AsyncSleeper>,
    K: Slot<Rt, Value: Clock>,
{
    type Sleeper = S::Value;
    type Clock = K::Value;

    fn sleeper<'b>(&'b self, runtime: &'b Rt) -> &'b S::Value {
        self.sleeper.resolve(runtime)
    }
    fn clock<'b>(&'b self, runtime: &'b Rt) -> &'b K::Value {
        self.clock.resolve(runtime)
    }
}
