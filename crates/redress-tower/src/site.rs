//! One call's view of a layer: the call site the runner drives, and the
//! two small pieces that make a request that cannot be copied a single
//! attempt.

use core::sync::atomic::{AtomicBool, Ordering};

use redress_core::{
    AsyncSite, AsyncSleeper, CallSite, Classification, Classifier, Clock, FastRng, Hooks, Policy,
    ResultClassifier, Slot,
};

/// The detail the failure of a request sent only once carries:
/// `("not_retried", "body")` (the request could not be copied; as a rule,
/// because of its body).
pub const NOT_RETRIED: (&str, &str) = ("not_retried", "body");

/// A classifier that marks its failures as not retried.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NotRetried<C>(pub(crate) C);

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

/// Stops the call once its original request has been sent: the engine
/// checks it after every failure and before every attempt.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exhausted<'a>(pub(crate) &'a AtomicBool);

impl Exhausted<'_> {
    /// Marks the original request as sent.
    pub(crate) fn set(&self) {
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

/// The call site of one call through the layer: the policy it runs under
/// and the layer's hooks, name, sleeper, clock and seed.
pub(crate) struct Site<'a, C, R, H, S, K> {
    pub(crate) policy: &'a Policy<C, R>,
    pub(crate) hooks: (&'a H, Exhausted<'a>),
    pub(crate) operation: Option<&'a str>,
    pub(crate) sleeper: &'a S,
    pub(crate) clock: &'a K,
    pub(crate) seed: Option<u64>,
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
