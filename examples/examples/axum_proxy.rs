//! The FastAPI proxy example, with axum: a proxy whose upstream calls run
//! under a policy (`RedressLayer` around hyper-util's client), with a
//! metrics counter fed by the policy's events and served at `/metrics`.
//!
//! `cargo run -p redress-examples --example axum_proxy`
//!
//! The upstream (a scripted server on loopback) is busy once, answers
//! twice, then goes down for good. Watch for:
//!
//! - the first call retried past a 503;
//! - the third call giving up after its attempts: the proxy answers 502;
//! - the circuit breaker, opened by that failure, answering the fourth call
//!   at once with 503 and a `Retry-After`, without touching the upstream;
//! - `/metrics`: the events counted by their low-cardinality tags.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::error::Error;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use redress::backoff::decorrelated_jitter;
use redress::http::ResponseClassifier;
use redress::prelude::*;
use redress::tower::{ByClone, Redress, RedressLayer, TransportClassifier};
use redress::{CircuitBreaker, Hooks};
use redress_test_http::{Script, Step, TestServer};
use tower::{Layer, ServiceExt};

/// A counter family like Prometheus's
/// `redress_events_total{event, class, err, operation}`: every label value
/// comes from a fixed set, so the number of series stays small.
#[derive(Debug, Default)]
struct Metrics {
    series: Mutex<BTreeMap<String, u64>>,
}

impl Hooks for Metrics {
    fn on_event(&self, event: &Event<'_>) {
        let mut labels = vec![format!("event=\"{}\"", event.kind)];
        labels.extend(
            event
                .tags()
                .iter()
                .filter(|(name, _)| matches!(*name, "class" | "err" | "operation"))
                .map(|(name, value)| format!("{name}=\"{value}\"")),
        );
        let key = format!("redress_events_total{{{}}}", labels.join(","));
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let count = series.entry(key).or_insert(0);
        *count = count.saturating_add(1);
    }
}

impl Metrics {
    /// The Prometheus text format.
    fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::from("# TYPE redress_events_total counter\n");
        for (key, count) in series.iter() {
            out.push_str(&format!("{key} {count}\n"));
        }
        out
    }
}

/// hyper-util's client under the upstream policy.
type Upstream = Redress<
    Client<HttpConnector, Full<Bytes>>,
    TransportClassifier,
    ResponseClassifier,
    ByClone,
    ((), Arc<Metrics>),
>;

#[derive(Clone)]
struct App {
    upstream: Upstream,
    base: Arc<str>,
    metrics: Arc<Metrics>,
}

/// `GET /users/{id}`: the upstream's answer, or why there is none.
async fn get_user(State(app): State<App>, Path(id): Path<u32>) -> Response {
    let Ok(request) = http::Request::get(format!("{}users/{id}", app.base)).body(Full::default())
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match app.upstream.oneshot(request).await {
        Ok(response) if response.status().is_success() => {
            Response::new(Body::new(response.into_body()))
        }
        // The last response the policy saw, still an error.
        Ok(response) => (
            StatusCode::BAD_GATEWAY,
            format!("upstream answered {}", response.status()),
        )
            .into_response(),
        // The breaker is open (503 with Retry-After) or the upstream was
        // too slow (504).
        Err(redress::tower::Error::NoResponse(no_response)) => no_response.to_response(),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

async fn render_metrics(State(app): State<App>) -> String {
    app.metrics.render()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let upstream = TestServer::start(
        Script::new()
            .then(Step::status(503))
            .then(Step::ok("{\"id\":1,\"name\":\"ada\"}"))
            .then(Step::ok("{\"id\":2,\"name\":\"grace\"}"))
            .then(Step::status(503)),
    )?;

    // One breaker for the upstream: a call that still fails after its
    // retries opens it for 30 s.
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .recovery_timeout(Duration::from_secs(30))
            .build()?,
    );
    let policy = Policy::builder()
        .classifier(redress::tower::classifier())
        .result_classifier(redress::http::response_classifier())
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(20))
                .max(Duration::from_millis(200)),
        )
        .max_attempts(3)
        .attempt_timeout(Duration::from_secs(2))
        .deadline(Duration::from_secs(5))
        .circuit_breaker(breaker)
        .build()?;
    let metrics = Arc::new(Metrics::default());
    let client = Client::builder(TokioExecutor::new()).build_http();
    let app = App {
        upstream: RedressLayer::new(policy)
            .operation("upstream")
            .hooks(Arc::clone(&metrics))
            .layer(client),
        base: upstream.url().into(),
        metrics,
    };
    let router = Router::new()
        .route("/users/{id}", get(get_user))
        .route("/metrics", get(render_metrics))
        .with_state(app);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let proxy = listener.local_addr()?;
    tokio::spawn(axum::serve(listener, router).into_future());
    println!("proxy on http://{proxy}, upstream on {}\n", upstream.url());

    let caller = reqwest::Client::new();
    for id in 1..=4 {
        let response = caller
            .get(format!("http://{proxy}/users/{id}"))
            .send()
            .await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" (retry-after: {v})"))
            .unwrap_or_default();
        println!(
            "GET /users/{id} -> {status}{retry_after} {}",
            response.text().await?
        );
    }
    println!("upstream requests: {}\n", upstream.requests());
    let metrics = caller
        .get(format!("http://{proxy}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    println!("GET /metrics\n{metrics}");
    Ok(())
}
