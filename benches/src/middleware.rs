//! Scenario 7: one reqwest call through a retry middleware, against a
//! scripted server on loopback (`redress-test-http`, on a thread of its
//! own), on tokio's current-thread runtime.
//!
//! The call succeeds at once: the rows show what each middleware adds to a
//! real request (a connection from the pool, a GET, a 2-byte body read),
//! next to the same request through reqwest alone. Both middlewares run in
//! a `reqwest_middleware` client with the settings of scenarios 1 to 3:
//! four attempts, exponential backoff with jitter (250 ms base, 30 s cap);
//! redress's policy also flags retryable responses (5xx, 429, 408, 409), as
//! reqwest-retry's default strategy does.

use std::time::Duration;

use redress::reqwest::{RedressMiddleware, classifier, response_classifier};
use redress_test_http::{Script, Step, TestServer};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;

use crate::RETRIES;

/// Library names of scenario 7.
pub mod lib {
    /// reqwest-retry's `RetryTransientMiddleware`.
    pub const REQWEST_RETRY: &str = "reqwest-retry";
}

/// A tokio current-thread runtime with I/O and timers, for reqwest.
pub fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => unreachable!("a current-thread runtime builds: {error}"),
    }
}

/// The server and the three clients, built once; every call reuses the
/// clients' connection pools.
pub struct Clients {
    server: TestServer,
    url: String,
    direct: reqwest::Client,
    redress: ClientWithMiddleware,
    reqwest_retry: ClientWithMiddleware,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Clients {
    /// Starts the server (it answers `200 ok` to every request) and builds
    /// the clients.
    pub fn new() -> Self {
        let server = match TestServer::start(Script::new().then(Step::ok("ok"))) {
            Ok(server) => server,
            Err(error) => unreachable!("a loopback server starts: {error}"),
        };
        let policy = redress::Policy::builder()
            .classifier(classifier())
            .result_classifier(response_classifier())
            .strategy(redress::backoff::decorrelated_jitter())
            .max_attempts(RETRIES.saturating_add(1))
            .build();
        let policy = match policy {
            Ok(policy) => policy,
            Err(error) => unreachable!("the bench policy is valid: {error}"),
        };
        let backoff = ExponentialBackoff::builder()
            .retry_bounds(Duration::from_millis(250), Duration::from_secs(30))
            .build_with_max_retries(RETRIES);
        Clients {
            url: server.url(),
            server,
            direct: reqwest::Client::new(),
            redress: ClientBuilder::new(reqwest::Client::new())
                .with(RedressMiddleware::new(policy))
                .build(),
            reqwest_retry: ClientBuilder::new(reqwest::Client::new())
                .with(RetryTransientMiddleware::new_with_policy(backoff))
                .build(),
        }
    }

    /// The floor: the request through reqwest alone.
    pub async fn direct(&self) -> Option<usize> {
        let response = self.direct.get(&self.url).send().await.ok()?;
        Some(response.bytes().await.ok()?.len())
    }

    /// Through `RedressMiddleware`.
    pub async fn redress(&self) -> Option<usize> {
        let response = self.redress.get(&self.url).send().await.ok()?;
        Some(response.bytes().await.ok()?.len())
    }

    /// Through reqwest-retry's `RetryTransientMiddleware`.
    pub async fn reqwest_retry(&self) -> Option<usize> {
        let response = self.reqwest_retry.get(&self.url).send().await.ok()?;
        Some(response.bytes().await.ok()?.len())
    }

    /// Requests the server has answered.
    pub fn requests(&self) -> usize {
        self.server.requests()
    }
}

impl Default for Clients {
    fn default() -> Self {
        Clients::new()
    }
}
