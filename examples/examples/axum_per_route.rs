//! The FastAPI middleware example, with axum: each endpoint runs under a
//! policy of its own, through the tower layer on the route.
//!
//! `cargo run -p redress-examples --example axum_per_route`
//!
//! The handlers call a flaky dependency (a scripted server on loopback)
//! and answer 503 when it fails, or are slow; the layer on each route
//! re-runs its handler as that route's policy says:
//!
//! | route | policy |
//! |---|---|
//! | `GET /users/{id}` | quick retries, 3 attempts |
//! | `GET /reports` | a 200 ms attempt timeout, 3 attempts |
//! | `POST /orders` | quick retries, but a request with a body is sent once |
//! | `GET /health` | none |
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use http::StatusCode;
use redress::backoff::decorrelated_jitter;
use redress::http::ResponseClassifier;
use redress::prelude::*;
use redress::tower::{EmptyBody, RedressLayer};
use redress_test_http::{Script, Step, TestServer};

#[derive(Clone)]
struct App {
    dependency: Arc<str>,
    http: reqwest::Client,
    report_runs: Arc<AtomicU32>,
}

/// Asks the dependency; a failure of the dependency is a 503 of ours.
async fn ask(app: &App, path: &str) -> Response {
    match app
        .http
        .get(format!("{}{path}", app.dependency))
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => {
            response.text().await.unwrap_or_default().into_response()
        }
        Ok(response) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("dependency answered {}", response.status()),
        )
            .into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

async fn get_user(State(app): State<App>, Path(id): Path<u32>) -> Response {
    ask(&app, &format!("users/{id}")).await
}

async fn place_order(State(app): State<App>, body: String) -> Response {
    let answer = ask(&app, "orders").await;
    if answer.status().is_success() {
        format!("order placed: {body}").into_response()
    } else {
        answer
    }
}

/// Slow the first time (the report is being built), quick afterwards.
async fn get_report(State(app): State<App>) -> &'static str {
    if app.report_runs.fetch_add(1, Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    "report: 42 orders"
}

async fn health() -> &'static str {
    "ok"
}

/// `route` under `policy`, its events printed with the route's name. A
/// call that ends without a response (all attempts timed out) is answered
/// by the layer: 504 (503 with `Retry-After` for an open breaker).
fn with_policy(
    route: MethodRouter<App>,
    name: &'static str,
    policy: Policy<redress::tower::TransportClassifier, ResponseClassifier>,
) -> MethodRouter<App> {
    route.layer(
        RedressLayer::new(policy)
            .operation(name)
            .clone_requests_with(EmptyBody)
            .on_event(|event: &Event<'_>| {
                println!("    {:<22} {}", event.kind, event.log_fields());
            })
            .answer_no_response(),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // The dependency: down twice, then up; then down again.
    let dependency = TestServer::start(
        Script::new()
            .times(2, Step::status(503))
            .then(Step::ok("{\"id\":7,\"name\":\"ada\"}"))
            .then(Step::status(503)),
    )?;
    let quick = Policy::builder()
        .classifier(redress::tower::classifier())
        .result_classifier(redress::http::response_classifier())
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(20))
                .max(Duration::from_millis(200)),
        )
        .max_attempts(3)
        .deadline(Duration::from_secs(5))
        .build()?;
    let patient = quick
        .to_builder()
        .attempt_timeout(Duration::from_millis(200))
        .build()?;

    let app = App {
        dependency: dependency.url().into(),
        http: reqwest::Client::new(),
        report_runs: Arc::new(AtomicU32::new(0)),
    };
    let router = Router::new()
        .route(
            "/users/{id}",
            with_policy(get(get_user), "users", quick.clone()),
        )
        .route("/reports", with_policy(get(get_report), "reports", patient))
        .route("/orders", with_policy(post(place_order), "orders", quick))
        .route("/health", get(health))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let server = listener.local_addr()?;
    tokio::spawn(axum::serve(listener, router).into_future());

    let caller = reqwest::Client::new();
    for (method, path, body) in [
        ("GET", "/users/7", ""),
        ("GET", "/reports", ""),
        ("POST", "/orders", "{\"item\":3}"),
        ("GET", "/health", ""),
    ] {
        println!("{method} {path}");
        let request = match method {
            "POST" => caller.post(format!("http://{server}{path}")).body(body),
            _ => caller.get(format!("http://{server}{path}")),
        };
        let response = request.send().await?;
        println!("  -> {} {}\n", response.status(), response.text().await?);
    }
    println!("the dependency saw {} requests", dependency.requests());
    Ok(())
}
