//! [`RedressMiddleware`]: every request of a reqwest-middleware client runs
//! under a policy.
//!
//! The middleware only translates; the engine decides. Each attempt sends
//! a copy of the request (`Request::try_clone`) down the rest of the
//! middleware chain; the policy's classifiers judge the response or the
//! error; the async runner (on tokio, or the sleeper and clock given here)
//! sleeps, cuts attempts at their time limit, and asks the budget and the
//! breaker. What the middleware returns is what a client returns: the
//! response (the last one the result classifier flagged, when retries run
//! out), or the last error, or, when there is neither (the last attempt was
//! cut by the attempt timeout, or the breaker rejected the call), a
//! [`NoResponse`](redress_http::NoResponse) inside
//! `reqwest_middleware::Error::Middleware`.
//!
//! # Requests that cannot be copied
//!
//! A request with a streaming body cannot be cloned, so it cannot be sent
//! twice. Such a request is sent once: the call runs under the same policy
//! with `max_attempts` 1 (the same classifiers, deadline, budget and
//! breaker), so a failure stops it with `MAX_ATTEMPTS_GLOBAL`, the breaker
//! still counts it, and the caller gets the response or error as usual. Its
//! failure's classification carries the detail `("not_retried", "body")`,
//! which hooks see in `AttemptEnd::classification` (and the events keep the
//! usual `class` and `err` tags).

use std::borrow::Cow;
use std::fmt;
use std::future::pending;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use http::Extensions;
use redress_core::asynchronous::run_on;
use redress_core::{
    AsyncSleeper, Classifier, Clock, Custom, Event, Hooks, OnEvent, Policy, ResultClassifier, Slot,
};
pub use redress_http::client::NOT_RETRIED;
use redress_http::client::{Exhausted, NotRetried, Site, single_attempt};
use redress_http::{Ending, ToEnding};
use redress_tokio::Tokio;
use reqwest::{Request, Response};
use reqwest_middleware::{Error, Middleware, Next};

/// A `reqwest_middleware` middleware that runs every request under a
/// redress policy: retries with per-class backoff, the server's
/// `Retry-After`, the attempt timeout, the deadline, the budget and the
/// breaker, with the policy's events.
///
/// The policy classifies `reqwest_middleware::Error` (use
/// [`classifier()`](crate::classifier), which looks inside it) and
/// `reqwest::Response` (use [`response_classifier()`](crate::response_classifier)
/// to retry 5xx, 429, 408 and 409 responses). Cloning a policy shares its
/// budget and breaker, so a middleware and the rest of the service can
/// share them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use redress_core::backoff::{constant, retry_after_or};
/// use redress_core::{ErrorClass, Policy};
/// use redress_reqwest::RedressMiddleware;
/// use redress_test_http::{Script, Step, TestServer};
///
/// // A real server on loopback: busy twice, then an answer.
/// let server = TestServer::start(Script::new().times(2, Step::status(503)).then(Step::ok("hello")))?;
///
/// let policy = Policy::builder()
///     .classifier(redress_reqwest::classifier())
///     .result_classifier(redress_reqwest::response_classifier())
///     .strategy(constant(Duration::from_millis(10)))
///     .class_strategy(ErrorClass::RateLimit, retry_after_or(constant(Duration::from_secs(1))))
///     .build()?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RedressMiddleware::new(policy).operation("hello_api"))
///     .build();
///
/// let response = client.get(server.url()).send().await?;
/// assert_eq!(response.text().await?, "hello");
/// assert_eq!(server.requests(), 3);
/// # Ok(())
/// # }
/// ```
pub struct RedressMiddleware<C, R, H = (), S = (), K = ()> {
    policy: Policy<C, R>,
    /// The policy with one attempt, for requests that cannot be copied.
    once: Option<Policy<NotRetried<C>, NotRetried<R>>>,
    operation: Option<Cow<'static, str>>,
    hooks: H,
    sleeper: S,
    clock: K,
    seed: Option<u64>,
}

impl<C: Clone, R: Clone> RedressMiddleware<C, R> {
    /// Runs every request under `policy`, sleeping on tokio.
    pub fn new(policy: Policy<C, R>) -> Self {
        // The policy was valid and one attempt is valid: this builds. Were
        // it ever refused, such requests would still be sent once (see
        // `handle`).
        let once = single_attempt(&policy);
        RedressMiddleware {
            policy,
            once,
            operation: None,
            hooks: (),
            sleeper: (),
            clock: (),
            seed: None,
        }
    }
}

impl<C, R, H, S, K> RedressMiddleware<C, R, H, S, K> {
    /// Names the call site: the `operation` tag of every event. Keep it
    /// low-cardinality (one name per upstream, never a URL).
    #[must_use]
    pub fn operation(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.operation = Some(name.into());
        self
    }

    /// Adds any [`Hooks`] (a metrics recorder, an `Arc` of your own).
    pub fn hooks<H2: Hooks>(self, hooks: H2) -> RedressMiddleware<C, R, (H, H2), S, K> {
        RedressMiddleware {
            policy: self.policy,
            once: self.once,
            operation: self.operation,
            hooks: (self.hooks, hooks),
            sleeper: self.sleeper,
            clock: self.clock,
            seed: self.seed,
        }
    }

    /// Calls `f` with every event of every request.
    pub fn on_event<F: Fn(&Event<'_>)>(
        self,
        f: F,
    ) -> RedressMiddleware<C, R, (H, OnEvent<F>), S, K> {
        self.hooks(OnEvent(f))
    }

    /// Sleeps (backoffs, and the timers of attempt time limits) with
    /// `sleeper` instead of tokio's timer.
    pub fn sleeper<S2>(self, sleeper: S2) -> RedressMiddleware<C, R, H, Custom<S2>, K> {
        RedressMiddleware {
            policy: self.policy,
            once: self.once,
            operation: self.operation,
            hooks: self.hooks,
            sleeper: Custom(sleeper),
            clock: self.clock,
            seed: self.seed,
        }
    }

    /// Reads time from `clock` instead of tokio's.
    pub fn clock<K2>(self, clock: K2) -> RedressMiddleware<C, R, H, S, Custom<K2>> {
        RedressMiddleware {
            policy: self.policy,
            once: self.once,
            operation: self.operation,
            hooks: self.hooks,
            sleeper: self.sleeper,
            clock: Custom(clock),
            seed: self.seed,
        }
    }

    /// Seeds the jitter of every call (tests and reproductions only).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy<C, R> {
        &self.policy
    }

    fn site<'a, C2, R2>(
        &'a self,
        policy: &'a Policy<C2, R2>,
        exhausted: &'a AtomicBool,
    ) -> Site<'a, C2, R2, H, S, K> {
        Site {
            policy,
            hooks: (&self.hooks, Exhausted(exhausted)),
            operation: self.operation.as_deref(),
            sleeper: &self.sleeper,
            clock: &self.clock,
            seed: self.seed,
        }
    }
}

impl<C, R, H: fmt::Debug, S: fmt::Debug, K: fmt::Debug> fmt::Debug
    for RedressMiddleware<C, R, H, S, K>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedressMiddleware")
            .field("operation", &self.operation)
            .field("hooks", &self.hooks)
            .field("sleeper", &self.sleeper)
            .field("clock", &self.clock)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl<C, R, H, S, K> Middleware for RedressMiddleware<C, R, H, S, K>
where
    C: Classifier<Error> + Send + Sync + 'static,
    R: ResultClassifier<Response> + Send + Sync + 'static,
    H: Hooks + Send + Sync + 'static,
    S: Slot<Tokio, Value: AsyncSleeper<Sleep: Send> + Sync> + Send + Sync + 'static,
    K: Slot<Tokio, Value: Clock + Sync> + Send + Sync + 'static,
{
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response, Error> {
        // Each attempt runs with a copy of the extensions; the last
        // attempt's are handed back.
        let shared = Mutex::new(std::mem::take(extensions));
        let exhausted = AtomicBool::new(false);
        let mut original = Some(req);
        let first = original.as_ref().and_then(Request::try_clone);
        // The runs end with `ToEnding`: only a failure's elapsed time is
        // handed back (in `NoResponse`), so a success that nothing observes
        // skips its last clock reading.
        let ending: Ending<Response, Error> = match (first, &self.once) {
            (Some(first), _) => {
                let mut first = Some(first);
                let site = self.site(&self.policy, &exhausted);
                run_on::<ToEnding, _, _, _, _, _, _, _, _>(&site, &Tokio, |_| {
                    let request = first.take().or_else(|| replay(&mut original, &exhausted));
                    attempt(request, next.clone(), &shared)
                })
                .await
            }
            (None, Some(once)) => {
                let site = self.site(once, &exhausted);
                run_on::<ToEnding, _, _, _, _, _, _, _, _>(&site, &Tokio, |_| {
                    attempt(original.take(), next.clone(), &shared)
                })
                .await
            }
            (None, None) => {
                let site = self.site(&self.policy, &exhausted);
                run_on::<ToEnding, _, _, _, _, _, _, _, _>(&site, &Tokio, |_| {
                    attempt(last(&mut original, &exhausted), next.clone(), &shared)
                })
                .await
            }
        };
        *extensions = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
        ending.into_result(|e| e, Error::middleware)
    }
}

/// The request for an attempt after the first: a copy of the original,
/// or, should a copy be refused, the original itself, sent last.
fn replay(original: &mut Option<Request>, exhausted: &AtomicBool) -> Option<Request> {
    original
        .as_ref()
        .and_then(Request::try_clone)
        .or_else(|| last(original, exhausted))
}

/// The original request, as the call's last attempt: the call ends after
/// it (the abort check the engine runs after every failure and before
/// every attempt sees `exhausted`).
fn last(original: &mut Option<Request>, exhausted: &AtomicBool) -> Option<Request> {
    exhausted.store(true, Ordering::Release);
    original.take()
}

/// One attempt: `request` down the rest of the chain.
async fn attempt(
    request: Option<Request>,
    next: Next<'_>,
    shared: &Mutex<Extensions>,
) -> Result<Response, Error> {
    let Some(request) = request else {
        // Never reached: once the original request is sent, the engine's
        // abort check ends the call before asking for another attempt.
        return pending().await;
    };
    let mut extensions = lock(shared).clone();
    let result = next.run(request, &mut extensions).await;
    *lock(shared) = extensions;
    result
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
