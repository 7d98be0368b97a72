//! A gRPC client retrying unary calls with `redress::tonic`: the status
//! code table, the server's `RetryInfo` and `grpc-retry-pushback-ms`
//! hints, a pushback that says stop, and codes that are never retried.
//!
//! `cargo run -p redress-examples --example grpc_client`
//!
//! The server is redress's scripted test server on loopback (the standard
//! gRPC health service), so the example needs no network and no protobuf
//! compiler; the client is a real tonic channel. Every decision is
//! printed as it is made.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::time::Duration;

use redress::backoff::{decorrelated_jitter, retry_after_or};
use redress::prelude::*;
use redress_test_grpc::{Script, Step, TestServer};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn client(server: &TestServer) -> Result<HealthClient<Channel>, Box<dyn Error>> {
    Ok(HealthClient::new(
        Endpoint::from_shared(server.url())?
            .connect_timeout(Duration::from_secs(1))
            .connect_lazy(),
    ))
}

fn print_event(e: &Event<'_>) {
    match e.kind {
        EventKind::Retry => {
            let hint = e.classification.and_then(|c| {
                let source = c.details.get("hint")?;
                Some(format!(
                    ", the server asked for {:?} ({source})",
                    c.retry_after?
                ))
            });
            println!(
                "  attempt {} failed: {} ({}), retrying in {:?}{}",
                e.attempt,
                e.error_type.unwrap_or("?"),
                e.class.map_or("?", ErrorClass::name),
                e.delay,
                hint.unwrap_or_default(),
            );
        }
        EventKind::Success => println!("  attempt {} succeeded", e.attempt),
        kind => println!(
            "  attempt {}: {kind:?} ({}), stop: {:?}",
            e.attempt,
            e.error_type.unwrap_or("?"),
            e.stop_reason
        ),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // Transient failures back off with jitter; rate limits and unavailable
    // servers wait as long as the server asks, when it asks.
    let policy = Policy::builder()
        .classifier(redress::tonic::classifier())
        .strategy(
            decorrelated_jitter()
                .base(Duration::from_millis(20))
                .max(Duration::from_millis(200)),
        )
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(decorrelated_jitter().max(Duration::from_secs(2)))
                .jitter(Duration::from_millis(10)),
        )
        .class_strategy(
            ErrorClass::Transient,
            retry_after_or(
                decorrelated_jitter()
                    .base(Duration::from_millis(20))
                    .max(Duration::from_millis(200)),
            )
            .jitter(Duration::from_millis(10)),
        )
        .attempt_timeout(Duration::from_millis(500))
        .deadline(Duration::from_secs(5))
        .build()?;
    let site = policy
        .bind()
        .operation("health.check")
        .on_event(print_event);
    let request = HealthCheckRequest {
        service: String::new(),
    };

    println!("A server that restarts, then throttles, then answers:");
    let server = TestServer::start(
        Script::new()
            .then(Step::fail(Code::Unavailable).message("restarting"))
            .then(Step::fail(Code::Unavailable).pushback_ms(50))
            .then(Step::fail(Code::ResourceExhausted).retry_info(Duration::from_millis(150)))
            .then(Step::serving()),
    )?;
    let reply = redress::tonic::unary(&site, &client(&server)?, &request, async |mut c, r| {
        c.check(r).await
    })
    .await?;
    println!(
        "  -> status {} after {} calls; each carried its deadline: {:?}",
        reply.into_inner().status,
        server.requests(),
        server
            .seen()
            .iter()
            .map(|s| s.timeout.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
    );

    println!("A server that says not to retry (grpc-retry-pushback-ms: -1):");
    let server =
        TestServer::start(Script::new().then(Step::fail(Code::Unavailable).pushback_ms(-1)))?;
    let Err(err) = redress::tonic::unary(&site, &client(&server)?, &request, async |mut c, r| {
        c.check(r).await
    })
    .await
    else {
        return Err("the server said stop, yet the call succeeded".into());
    };
    println!("  -> gave up after {} call: {err}", server.requests());

    println!("A request the server refuses (PERMISSION_DENIED):");
    let server = TestServer::start(Script::new().then(Step::fail(Code::PermissionDenied)))?;
    let outcome =
        redress::tonic::execute_unary(&site, &client(&server)?, &request, async |mut c, r| {
            c.check(r).await
        })
        .await;
    let status = outcome.last_error().map(tonic::Status::code);
    println!(
        "  -> {:?} after {} call, class {:?}, status {status:?}",
        outcome.stop_reason, outcome.attempts, outcome.last_class
    );
    Ok(())
}
