//! [`RedressLayer`] and the [`Redress`] service.

use core::fmt;
use core::future::{Future, pending, poll_fn};
use core::pin::Pin;
use core::sync::atomic::AtomicBool;
use core::task::{Context, Poll};
use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use redress_core::asynchronous::run_on;
use redress_core::{
    AsyncSleeper, Classifier, Clock, Custom, Event, Hooks, OnEvent, Policy, ResultClassifier, Slot,
};
use redress_http::{Ending, ToEnding};
use redress_tokio::Tokio;
use tower::{Layer, Service};

use crate::clone::{ByClone, CloneRequest};
use crate::error::Error;
use redress_http::client::{Exhausted, NotRetried, Site, single_attempt};

/// The future of a [`Redress`] service: boxed, so the type can be named in
/// `Service::Future` (it holds the whole retry loop, whose future type
/// cannot be written down) and so stacks such as axum's, which require
/// `Send + 'static` futures, take it as it is.
pub type ResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, Error<E>>> + Send>>;

/// A tower [`Layer`] that runs the services it wraps under a redress
/// policy: retries with per-class backoff and the server's `Retry-After`,
/// the attempt timeout, the deadline, the retry budget and the circuit
/// breaker, all the engine's decisions, with its events.
///
/// The policy classifies the inner service's errors (for hyper and
/// hyper-util clients, [`classifier()`](crate::classifier)) and its
/// responses (for `http::Response`,
/// [`redress_http::response_classifier`], which flags 5xx, 429, 408 and
/// 409 and carries `Retry-After`). Each attempt sends a copy of the
/// request ([`CloneRequest`]; `Clone` by default,
/// [`clone_requests_with`](Self::clone_requests_with) to change it) and
/// polls the inner service's readiness before it calls it.
///
/// Cloning a policy shares its budget and breaker: give one policy to
/// several layers (or routes) and they share them; give each its own to
/// keep them apart.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Empty};
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use redress_core::{backoff::constant, Policy};
/// use redress_test_http::{Script, Step, TestServer};
/// use redress_tower::RedressLayer;
/// use tower::{Layer, ServiceExt};
///
/// // A real server on loopback: busy twice, then an answer.
/// let server = TestServer::start(Script::new().times(2, Step::status(503)).then(Step::ok("hello")))?;
///
/// let policy = Policy::builder()
///     .classifier(redress_tower::classifier())
///     .result_classifier(redress_http::response_classifier())
///     .strategy(constant(Duration::from_millis(10)))
///     .build()?;
/// let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
/// let service = RedressLayer::new(policy).operation("hello_api").layer(client);
///
/// let request = http::Request::get(server.url()).body(Empty::new())?;
/// let response = service.oneshot(request).await?;
/// assert_eq!(response.into_body().collect().await?.to_bytes(), "hello");
/// assert_eq!(server.requests(), 3);
/// # Ok(())
/// # }
/// ```
///
/// # Readiness
///
/// tower's contract is that a service is polled ready before each call,
/// and readiness is good for one call. [`Redress::poll_ready`] polls the
/// inner service; [`call`](Redress::call) takes that ready service (leaving
/// a clone in its place, which is why the inner service must be `Clone`)
/// and uses it for the first attempt; before every later attempt the call
/// polls it ready again. A `ConcurrencyLimit` or a load balancer inside
/// the layer therefore admits each attempt on its own, and the readiness
/// wait counts against the attempt's time limit.
///
/// # Calls that end without a response
///
/// When the last attempt was cut by the attempt timeout, or the breaker
/// rejected the call, there is no response and no error of the inner
/// service to return: the service fails with [`Error::NoResponse`]. With
/// [`answer_no_response`](Self::answer_no_response) it answers instead,
/// with the 504 or 503 a server gives in its place.
///
/// # Requests that cannot be copied
///
/// When the first copy is refused (a streaming body), the request is sent
/// once: the call runs under the same policy with `max_attempts` 1 (the
/// same classifiers, deadline, budget and breaker), so a failure stops it
/// with `MAX_ATTEMPTS_GLOBAL`, the breaker still counts it, and the caller
/// gets the response or error as usual. The failure's classification
/// carries the detail [`NOT_RETRIED`](crate::NOT_RETRIED), which hooks see
/// in `AttemptEnd::classification`.
pub struct RedressLayer<C, R, Q = ByClone, H = (), S = (), K = (), M = NoResponseAsError> {
    config: Config<C, R, Q, H, S, K>,
    mode: M,
}

/// The default of [`RedressLayer`]: a call that ends without a response
/// fails with [`Error::NoResponse`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NoResponseAsError;

/// Set by [`RedressLayer::answer_no_response`]: a call that ends without a
/// response is answered with [`NoResponse::to_response`](redress_http::NoResponse::to_response)
/// (504, or 503 with `Retry-After`), and the service's error is the inner
/// service's own (`Infallible` for an axum route).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoResponseAsResponse;

/// What a layer and its services share.
#[derive(Clone)]
struct Config<C, R, Q, H, S, K> {
    policy: Policy<C, R>,
    /// The policy with one attempt, for requests that cannot be copied.
    once: Option<Policy<NotRetried<C>, NotRetried<R>>>,
    clone_request: Q,
    operation: Option<Cow<'static, str>>,
    hooks: H,
    sleeper: S,
    clock: K,
    seed: Option<u64>,
}

impl<C: Clone, R: Clone> RedressLayer<C, R> {
    /// Runs the wrapped services under `policy`, sleeping on tokio and
    /// copying requests with `Clone`.
    pub fn new(policy: Policy<C, R>) -> Self {
        // The policy was valid and one attempt is valid: this builds. Were
        // it ever refused, such requests would still be sent once.
        let once = single_attempt(&policy);
        RedressLayer {
            config: Config {
                policy,
                once,
                clone_request: ByClone,
                operation: None,
                hooks: (),
                sleeper: (),
                clock: (),
                seed: None,
            },
            mode: NoResponseAsError,
        }
    }
}

impl<C, R, Q, H, S, K, M> RedressLayer<C, R, Q, H, S, K, M> {
    /// Names the call site: the `operation` tag of every event. Keep it
    /// low-cardinality (one name per upstream or route, never a URL).
    #[must_use]
    pub fn operation(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.operation = Some(name.into());
        self
    }

    /// Copies requests with `clone_request` ([`EmptyBody`](crate::EmptyBody),
    /// or a closure `Fn(&Req) -> Option<Req>`).
    pub fn clone_requests_with<Q2>(self, clone_request: Q2) -> RedressLayer<C, R, Q2, H, S, K, M> {
        let c = self.config;
        RedressLayer {
            config: Config {
                policy: c.policy,
                once: c.once,
                clone_request,
                operation: c.operation,
                hooks: c.hooks,
                sleeper: c.sleeper,
                clock: c.clock,
                seed: c.seed,
            },
            mode: self.mode,
        }
    }

    /// Adds any [`Hooks`] (a metrics recorder, an `Arc` of your own).
    pub fn hooks<H2: Hooks>(self, hooks: H2) -> RedressLayer<C, R, Q, (H, H2), S, K, M> {
        let c = self.config;
        RedressLayer {
            config: Config {
                policy: c.policy,
                once: c.once,
                clone_request: c.clone_request,
                operation: c.operation,
                hooks: (c.hooks, hooks),
                sleeper: c.sleeper,
                clock: c.clock,
                seed: c.seed,
            },
            mode: self.mode,
        }
    }

    /// Calls `f` with every event of every call.
    pub fn on_event<F: Fn(&Event<'_>)>(
        self,
        f: F,
    ) -> RedressLayer<C, R, Q, (H, OnEvent<F>), S, K, M> {
        self.hooks(OnEvent(f))
    }

    /// Sleeps (backoffs, and the timers of attempt time limits) with
    /// `sleeper` instead of tokio's timer.
    pub fn sleeper<S2>(self, sleeper: S2) -> RedressLayer<C, R, Q, H, Custom<S2>, K, M> {
        let c = self.config;
        RedressLayer {
            config: Config {
                policy: c.policy,
                once: c.once,
                clone_request: c.clone_request,
                operation: c.operation,
                hooks: c.hooks,
                sleeper: Custom(sleeper),
                clock: c.clock,
                seed: c.seed,
            },
            mode: self.mode,
        }
    }

    /// Reads time from `clock` instead of tokio's.
    pub fn clock<K2>(self, clock: K2) -> RedressLayer<C, R, Q, H, S, Custom<K2>, M> {
        let c = self.config;
        RedressLayer {
            config: Config {
                policy: c.policy,
                once: c.once,
                clone_request: c.clone_request,
                operation: c.operation,
                hooks: c.hooks,
                sleeper: c.sleeper,
                clock: Custom(clock),
                seed: c.seed,
            },
            mode: self.mode,
        }
    }

    /// Seeds the jitter of every call (tests and reproductions only).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Answers a call that ends without a response (its last attempt cut
    /// by the attempt timeout, or the breaker open) with
    /// [`NoResponse::to_response`](redress_http::NoResponse::to_response):
    /// 504, or 503 with a `Retry-After` from the breaker. The service's
    /// error is then the inner service's own, so over an axum route
    /// (`Infallible`) the layer needs no `HandleErrorLayer`. For services
    /// that answer `http::Response<B>` with `B: Default`.
    pub fn answer_no_response(self) -> RedressLayer<C, R, Q, H, S, K, NoResponseAsResponse> {
        RedressLayer {
            config: self.config,
            mode: NoResponseAsResponse,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy<C, R> {
        &self.config.policy
    }
}

impl<C, R, Q, H, S, K, M> Clone for RedressLayer<C, R, Q, H, S, K, M>
where
    C: Clone,
    R: Clone,
    Q: Clone,
    H: Clone,
    S: Clone,
    K: Clone,
    M: Clone,
{
    fn clone(&self) -> Self {
        RedressLayer {
            config: self.config.clone(),
            mode: self.mode.clone(),
        }
    }
}

impl<C, R, Q, H, S, K, M> fmt::Debug for RedressLayer<C, R, Q, H, S, K, M>
where
    Q: fmt::Debug,
    H: fmt::Debug,
    S: fmt::Debug,
    K: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt("RedressLayer", f)
    }
}

impl<C, R, Q, H, S, K> Config<C, R, Q, H, S, K> {
    fn fmt(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result
    where
        Q: fmt::Debug,
        H: fmt::Debug,
        S: fmt::Debug,
        K: fmt::Debug,
    {
        f.debug_struct(name)
            .field("operation", &self.operation)
            .field("clone_request", &self.clone_request)
            .field("hooks", &self.hooks)
            .field("sleeper", &self.sleeper)
            .field("clock", &self.clock)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
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

/// Each service gets its own copy of the layer's settings (a policy clone
/// shares the budget and the breaker).
impl<Svc, C, R, Q, H, S, K, M> Layer<Svc> for RedressLayer<C, R, Q, H, S, K, M>
where
    C: Clone,
    R: Clone,
    Q: Clone,
    H: Clone,
    S: Clone,
    K: Clone,
    M: Clone,
{
    type Service = Redress<Svc, C, R, Q, H, S, K, M>;

    fn layer(&self, inner: Svc) -> Self::Service {
        Redress {
            inner,
            config: Arc::new(self.config.clone()),
            mode: self.mode.clone(),
        }
    }
}

/// A tower [`Service`] that runs `Svc` under a redress policy; made by
/// [`RedressLayer`], whose docs say what it does.
pub struct Redress<Svc, C, R, Q = ByClone, H = (), S = (), K = (), M = NoResponseAsError> {
    inner: Svc,
    config: Arc<Config<C, R, Q, H, S, K>>,
    mode: M,
}

impl<Svc, C, R, Q, H, S, K, M> Redress<Svc, C, R, Q, H, S, K, M> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &Svc {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut Svc {
        &mut self.inner
    }

    /// Takes the wrapped service out.
    pub fn into_inner(self) -> Svc {
        self.inner
    }

    /// The policy.
    pub fn policy(&self) -> &Policy<C, R> {
        &self.config.policy
    }
}

impl<Svc: Clone, C, R, Q, H, S, K, M: Clone> Clone for Redress<Svc, C, R, Q, H, S, K, M> {
    fn clone(&self) -> Self {
        Redress {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
            mode: self.mode.clone(),
        }
    }
}

impl<Svc: fmt::Debug, C, R, Q, H, S, K, M> fmt::Debug for Redress<Svc, C, R, Q, H, S, K, M>
where
    Q: fmt::Debug,
    H: fmt::Debug,
    S: fmt::Debug,
    K: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redress")
            .field("inner", &self.inner)
            .field("config", &DebugConfig(&self.config))
            .finish()
    }
}

struct DebugConfig<'a, C, R, Q, H, S, K>(&'a Config<C, R, Q, H, S, K>);

impl<C, R, Q, H, S, K> fmt::Debug for DebugConfig<'_, C, R, Q, H, S, K>
where
    Q: fmt::Debug,
    H: fmt::Debug,
    S: fmt::Debug,
    K: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt("Config", f)
    }
}

impl<Svc, Req, C, R, Q, H, S, K> Service<Req> for Redress<Svc, C, R, Q, H, S, K, NoResponseAsError>
where
    Svc: Service<Req> + Clone + Send + 'static,
    Svc::Response: Send + 'static,
    Svc::Error: Send + 'static,
    Svc::Future: Send + 'static,
    Req: Send + 'static,
    C: Classifier<Svc::Error> + Send + Sync + 'static,
    R: ResultClassifier<Svc::Response> + Send + Sync + 'static,
    Q: CloneRequest<Req> + Send + Sync + 'static,
    H: Hooks + Send + Sync + 'static,
    S: Slot<Tokio, Value: AsyncSleeper<Sleep: Send> + Sync> + Send + Sync + 'static,
    K: Slot<Tokio, Value: Clock + Sync> + Send + Sync + 'static,
{
    type Response = Svc::Response;
    type Error = Error<Svc::Error>;
    type Future = ResponseFuture<Svc::Response, Svc::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Service)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let ready = self.take_ready();
        let config = Arc::clone(&self.config);
        Box::pin(async move { config.run(ready, request).await })
    }
}

impl<Svc, Req, B, C, R, Q, H, S, K> Service<Req>
    for Redress<Svc, C, R, Q, H, S, K, NoResponseAsResponse>
where
    Svc: Service<Req, Response = http::Response<B>> + Clone + Send + 'static,
    B: Default + Send + 'static,
    Svc::Error: Send + 'static,
    Svc::Future: Send + 'static,
    Req: Send + 'static,
    C: Classifier<Svc::Error> + Send + Sync + 'static,
    R: ResultClassifier<Svc::Response> + Send + Sync + 'static,
    Q: CloneRequest<Req> + Send + Sync + 'static,
    H: Hooks + Send + Sync + 'static,
    S: Slot<Tokio, Value: AsyncSleeper<Sleep: Send> + Sync> + Send + Sync + 'static,
    K: Slot<Tokio, Value: Clock + Sync> + Send + Sync + 'static,
{
    type Response = http::Response<B>;
    type Error = Svc::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<B>, Svc::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let ready = self.take_ready();
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            match config.run(ready, request).await {
                Ok(response) => Ok(response),
                Err(Error::Service(error)) => Err(error),
                Err(Error::NoResponse(no_response)) => Ok(no_response.to_response()),
            }
        })
    }
}

impl<Svc: Clone, C, R, Q, H, S, K, M> Redress<Svc, C, R, Q, H, S, K, M> {
    /// The service the caller polled ready, for this call: a clone takes
    /// its place and will be polled ready for the next call.
    fn take_ready(&mut self) -> Svc {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

impl<C, R, Q, H, S, K> Config<C, R, Q, H, S, K> {
    /// One call: the attempts, through the async runner, and what it ends
    /// with.
    async fn run<Svc, Req>(
        &self,
        service: Svc,
        request: Req,
    ) -> Result<Svc::Response, Error<Svc::Error>>
    where
        Svc: Service<Req>,
        C: Classifier<Svc::Error>,
        R: ResultClassifier<Svc::Response>,
        Q: CloneRequest<Req>,
        H: Hooks,
        S: Slot<Tokio, Value: AsyncSleeper>,
        K: Slot<Tokio, Value: Clock>,
    {
        let service = Mutex::new(service);
        let exhausted = AtomicBool::new(false);
        let mut original = Some(request);
        let first = original
            .as_ref()
            .and_then(|r| self.clone_request.clone_request(r));
        // The runs end with `ToEnding`: only a failure's elapsed time is
        // handed back (in `NoResponse`), so a success that nothing observes
        // skips its last clock reading.
        let ending: Ending<Svc::Response, Svc::Error> = match (first, &self.once) {
            (Some(first), _) => {
                let mut first = Some(first);
                let site = self.site(&self.policy, &exhausted);
                run_on::<ToEnding, _, _, _, _, _, _, _, _>(&site, &Tokio, |attempt| {
                    let request = first.take().or_else(|| {
                        let copy = original
                            .as_ref()
                            .and_then(|r| self.clone_request.clone_request(r));
                        copy.or_else(|| {
                            // Refused now: the original goes last.
                            Exhausted(&exhausted).set();
                            original.take()
                        })
                    });
                    attempt_once(&service, request, attempt.number > 1)
                })
                .await
            }
            (None, Some(once)) => {
                let site = self.site(once, &exhausted);
                run_on::<ToEnding, _, _, _, _, _, _, _, _>(&site, &Tokio, |_| {
                    attempt_once(&service, original.take(), false)
                })
                .await
            }
            (None, None) => {
                let site = self.site(&self.policy, &exhausted);
                run_on::<ToEnding, _, _, _, _, _, _, _, _>(&site, &Tokio, |_| {
                    Exhausted(&exhausted).set();
                    attempt_once(&service, original.take(), false)
                })
                .await
            }
        };
        ending.into_result(Error::Service, Error::NoResponse)
    }
}

/// One attempt: polls the service ready (unless `poll_ready` was done for
/// it already: the first attempt uses the service the caller polled), then
/// calls it with `request`.
async fn attempt_once<Svc: Service<Req>, Req>(
    service: &Mutex<Svc>,
    request: Option<Req>,
    poll_ready: bool,
) -> Result<Svc::Response, Svc::Error> {
    let Some(request) = request else {
        // Never reached: once the original request is sent, the engine's
        // abort check ends the call before asking for another attempt.
        return pending().await;
    };
    if poll_ready {
        poll_fn(|cx| lock(service).poll_ready(cx)).await?;
    }
    let future = lock(service).call(request);
    future.await
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
