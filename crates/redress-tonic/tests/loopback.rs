//! Unary calls through a real tonic channel to a real gRPC server on
//! loopback that fails with a script of statuses: exact attempt counts,
//! RetryInfo and pushback honoured, a pushback that says stop, deadlines
//! carried to the server, attempts cut at their time limit, and the last
//! status handed back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redress::backoff::{constant, retry_after_or};
use redress::prelude::*;
use redress_test_grpc::{Script, Step, TestServer};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// The fallback delay: large, so a test that sees it knows no hint was used.
const FALLBACK: Duration = Duration::from_secs(30);

/// Retryable codes wait `FALLBACK`; rate limits and unavailable servers
/// wait for the server's hint when there is one (no jitter, so the delay
/// is the hint exactly).
fn policy_builder() -> redress::PolicyBuilder<redress_tonic::GrpcClassifier> {
    Policy::builder()
        .classifier(redress_tonic::classifier())
        .strategy(constant(FALLBACK))
        .class_strategy(
            ErrorClass::RateLimit,
            retry_after_or(constant(FALLBACK)).jitter(Duration::ZERO),
        )
        .class_strategy(
            ErrorClass::Transient,
            retry_after_or(constant(FALLBACK)).jitter(Duration::ZERO),
        )
        .max_attempts(5)
}

fn client(server: &TestServer) -> HealthClient<Channel> {
    HealthClient::new(Endpoint::from_shared(server.url()).unwrap().connect_lazy())
}

fn request() -> HealthCheckRequest {
    HealthCheckRequest {
        service: String::new(),
    }
}

type SeenEvent = (
    EventKind,
    Option<ErrorClass>,
    Option<&'static str>,
    Duration,
);

/// What a test saw: the events, with the delays the engine decided.
#[derive(Clone, Default)]
struct Seen {
    events: Arc<Mutex<Vec<SeenEvent>>>,
}

impl Seen {
    /// A sleeper that sleeps a millisecond for a backoff (the server's
    /// hints and `FALLBACK`, from one second up): real sockets rule out
    /// paused time, and the tests check the delay decided, not the time
    /// spent. The sleeper is also the timer of the attempts' time limits:
    /// those (an attempt timeout under a second, or what is left of the
    /// deadline, beyond `FALLBACK`) are slept for real.
    fn sleeper(&self) -> impl Fn(Duration) -> tokio::time::Sleep + use<> {
        |d| {
            tokio::time::sleep(if (Duration::from_secs(1)..=FALLBACK).contains(&d) {
                Duration::from_millis(1)
            } else {
                d
            })
        }
    }

    fn on_event(&self) -> impl Fn(&Event<'_>) + use<> {
        let events = Arc::clone(&self.events);
        move |e| {
            events
                .lock()
                .unwrap()
                .push((e.kind, e.class, e.error_type, e.delay));
        }
    }

    /// The `(class, err tag, delay)` of every retry.
    fn retries(&self) -> Vec<(Option<ErrorClass>, Option<&'static str>, Duration)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(kind, ..)| *kind == EventKind::Retry)
            .map(|(_, class, tag, delay)| (*class, *tag, *delay))
            .collect()
    }

    fn last(&self) -> SeenEvent {
        *self.events.lock().unwrap().last().unwrap()
    }
}

async fn check(
    mut c: HealthClient<Channel>,
    r: tonic::Request<HealthCheckRequest>,
) -> Result<tonic::Response<HealthCheckResponse>, Status> {
    c.check(r).await
}

#[tokio::test]
async fn unavailable_then_serving_takes_exactly_the_scripted_attempts() {
    let server = TestServer::start(
        Script::new()
            .times(3, Step::fail(Code::Unavailable))
            .then(Step::serving()),
    )
    .unwrap();
    let policy = policy_builder().build().unwrap();
    let seen = Seen::default();
    let site = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event());

    let reply = redress_tonic::unary(&site, &client(&server), &request(), check)
        .await
        .unwrap();

    assert_eq!(reply.into_inner().status, 1);
    assert_eq!(server.requests(), 4);
    assert_eq!(
        seen.retries(),
        [(Some(ErrorClass::Transient), Some("UNAVAILABLE"), FALLBACK); 3]
    );
    // Each attempt told the server how many came before it, and carried a
    // deadline (what was left of the policy's 60 s).
    let seen_by_server = server.seen();
    let previous: Vec<_> = seen_by_server
        .iter()
        .map(|s| s.previous_attempts.as_deref())
        .collect();
    assert_eq!(previous, [None, Some("1"), Some("2"), Some("3")]);
    assert!(seen_by_server.iter().all(|s| s.timeout.is_some()));
}

#[tokio::test]
async fn retry_info_and_pushback_set_the_delay() {
    let server = TestServer::start(
        Script::new()
            .then(Step::fail(Code::ResourceExhausted).retry_info(Duration::from_secs(4)))
            .then(Step::fail(Code::Unavailable).pushback_ms(1500))
            .then(
                Step::fail(Code::ResourceExhausted)
                    .retry_info(Duration::from_secs(1))
                    .pushback_ms(2500),
            )
            .then(Step::serving()),
    )
    .unwrap();
    let policy = policy_builder().build().unwrap();
    let seen = Seen::default();
    let site = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event());

    redress_tonic::unary(&site, &client(&server), &request(), async |mut c, r| {
        c.check(r).await
    })
    .await
    .unwrap();

    assert_eq!(
        seen.retries(),
        [
            (
                Some(ErrorClass::RateLimit),
                Some("RESOURCE_EXHAUSTED"),
                Duration::from_secs(4)
            ),
            (
                Some(ErrorClass::Transient),
                Some("UNAVAILABLE"),
                Duration::from_millis(1500)
            ),
            // Both hints: the longer one.
            (
                Some(ErrorClass::RateLimit),
                Some("RESOURCE_EXHAUSTED"),
                Duration::from_millis(2500)
            ),
        ]
    );
}

#[tokio::test]
async fn a_pushback_that_says_stop_stops_at_once_with_the_status() {
    for value in ["-1", "later"] {
        let server = TestServer::start(
            Script::new()
                .then(Step::fail(Code::Unavailable).pushback(value))
                .then(Step::serving()),
        )
        .unwrap();
        let policy = policy_builder().build().unwrap();
        let seen = Seen::default();
        let site = policy
            .bind()
            .sleeper(seen.sleeper())
            .on_event(seen.on_event());

        let err = redress_tonic::unary(&site, &client(&server), &request(), check)
            .await
            .unwrap_err();

        assert_eq!(err.stop_reason, StopReason::NonRetryableClass, "{value}");
        assert_eq!(err.attempts, 1);
        assert_eq!(server.requests(), 1);
        let status = err.last_error().unwrap();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.metadata().get("grpc-retry-pushback-ms").unwrap(),
            value
        );
        let (kind, class, tag, _) = seen.last();
        assert_eq!(
            (kind, class, tag),
            (
                EventKind::PermanentFail,
                Some(ErrorClass::Permanent),
                Some("UNAVAILABLE")
            )
        );
    }
}

#[tokio::test]
async fn codes_that_blame_the_request_or_the_caller_are_not_retried() {
    let cases = [
        (Code::InvalidArgument, ErrorClass::Permanent),
        (Code::FailedPrecondition, ErrorClass::Permanent),
        (Code::Unauthenticated, ErrorClass::Auth),
        (Code::PermissionDenied, ErrorClass::Permission),
    ];
    for (code, class) in cases {
        let server = TestServer::start(Script::new().then(Step::fail(code))).unwrap();
        let policy = policy_builder().build().unwrap();
        let outcome =
            redress_tonic::execute_unary(&policy, &client(&server), &request(), check).await;
        assert_eq!(outcome.stop_reason, Some(StopReason::NonRetryableClass));
        assert_eq!(outcome.last_class, Some(class));
        assert_eq!(outcome.last_error().map(Status::code), Some(code));
        assert_eq!(server.requests(), 1);
    }
}

#[tokio::test]
async fn aborted_and_internal_are_retried_in_their_own_classes() {
    let server = TestServer::start(
        Script::new()
            .then(Step::fail(Code::Aborted))
            .then(Step::fail(Code::Internal))
            .then(Step::fail(Code::DeadlineExceeded))
            .then(Step::serving()),
    )
    .unwrap();
    let policy = policy_builder().build().unwrap();
    let seen = Seen::default();
    let site = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event());

    redress_tonic::unary(&site, &client(&server), &request(), check)
        .await
        .unwrap();

    let classes: Vec<_> = seen.retries().into_iter().map(|(c, t, _)| (c, t)).collect();
    assert_eq!(
        classes,
        [
            (Some(ErrorClass::Concurrency), Some("ABORTED")),
            (Some(ErrorClass::ServerError), Some("INTERNAL")),
            (Some(ErrorClass::Transient), Some("DEADLINE_EXCEEDED")),
        ]
    );
}

#[tokio::test]
async fn a_slow_attempt_is_cut_at_its_time_limit_and_the_next_one_answers() {
    let server = TestServer::start(
        Script::new()
            .then(Step::serving().delay(Duration::from_secs(30)))
            .then(Step::serving()),
    )
    .unwrap();
    let policy = policy_builder()
        .attempt_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let seen = Seen::default();
    let site = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event());

    let reply = redress_tonic::unary(&site, &client(&server), &request(), check)
        .await
        .unwrap();

    assert_eq!(reply.into_inner().status, 1);
    assert_eq!(server.requests(), 2);
    // The server was told the attempt's limit, 200 ms.
    assert_eq!(server.seen()[0].timeout.as_deref(), Some("200000u"));
    // Cut by redress's timer or by tonic's own (a CANCELLED status): both
    // are a transient failure of one attempt.
    let retries = seen.retries();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].0, Some(ErrorClass::Transient));
}

#[tokio::test]
async fn a_server_that_is_not_there_is_unavailable_until_the_attempts_run_out() {
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    let policy = policy_builder().max_attempts(3).build().unwrap();
    let seen = Seen::default();
    let site = policy
        .bind()
        .sleeper(seen.sleeper())
        .on_event(seen.on_event());

    let err = redress_tonic::unary(&site, &HealthClient::new(channel), &request(), check)
        .await
        .unwrap_err();

    assert_eq!(err.stop_reason, StopReason::MaxAttemptsGlobal);
    assert_eq!(err.attempts, 3);
    assert_eq!(err.last_error().unwrap().code(), Code::Unavailable);
    assert!(
        seen.retries()
            .iter()
            .all(|r| r.0 == Some(ErrorClass::Transient) && r.1 == Some("UNAVAILABLE"))
    );
}

#[test]
fn the_call_is_send_and_runs_on_a_spawned_task() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = TestServer::start(
        Script::new()
            .then(Step::fail(Code::Unavailable))
            .then(Step::serving()),
    )
    .unwrap();
    let policy = Arc::new(
        policy_builder()
            .strategy(constant(Duration::from_millis(5)))
            .class_strategy(ErrorClass::Transient, constant(Duration::from_millis(5)))
            .build()
            .unwrap(),
    );
    let url = server.url();
    let reply = runtime.block_on(async move {
        let client = HealthClient::new(Endpoint::from_shared(url).unwrap().connect_lazy());
        let token = String::from("secret");
        tokio::spawn(async move {
            redress_tonic::unary(&*policy, &client, &request(), |mut c, mut r| {
                // Captures by reference are fine: the future owns its client.
                r.metadata_mut()
                    .insert("authorization", token.parse().unwrap());
                async move { c.check(r).await }
            })
            .await
        })
        .await
        .unwrap()
    });
    assert_eq!(reply.unwrap().into_inner().status, 1);
    assert_eq!(server.requests(), 2);
}
