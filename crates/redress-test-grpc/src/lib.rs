//! A scripted gRPC server on loopback, for redress's tests and examples.
//!
//! [`TestServer::start`] binds `127.0.0.1:0` and serves the standard gRPC
//! health service (`grpc.health.v1.Health`, from `tonic-health`, whose
//! generated code ships with the crate: nothing needs a protobuf compiler)
//! over HTTP/2, on a thread of its own with its own tokio runtime. Call `n`
//! of `Check` gets step `n` of its [`Script`]: a `SERVING` answer, or a
//! status with the code, the `RetryInfo` detail and the
//! `grpc-retry-pushback-ms` trailer the step says; once the script is used
//! up, the last step repeats. It counts the calls, remembers the deadline
//! and the attempt count each one carried, and shuts down when dropped.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use redress_test_grpc::{Script, Step, TestServer};
//! use tonic::Code;
//! use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
//!
//! let script = Script::new()
//!     .then(Step::fail(Code::ResourceExhausted).retry_info(Duration::from_secs(2)))
//!     .then(Step::serving());
//! let server = TestServer::start(script)?;
//! let channel = tonic::transport::Endpoint::from_shared(server.url())?.connect_lazy();
//! let mut client = HealthClient::new(channel);
//!
//! let status = client.check(HealthCheckRequest::default()).await.unwrap_err();
//! assert_eq!(status.code(), Code::ResourceExhausted);
//! let reply = client.check(HealthCheckRequest::default()).await?;
//! assert_eq!(reply.into_inner().status, 1); // SERVING
//! assert_eq!(server.requests(), 2);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::sync::oneshot;
use tonic::codegen::tokio_stream::Stream;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_types::{ErrorDetails, StatusExt};

/// What the server does with one call.
#[derive(Clone, Debug)]
pub struct Step {
    code: Option<Code>,
    message: String,
    retry_info: Option<Duration>,
    pushback: Option<String>,
    delay: Duration,
}

impl Step {
    /// Answers `SERVING`.
    pub fn serving() -> Step {
        Step {
            code: None,
            message: String::new(),
            retry_info: None,
            pushback: None,
            delay: Duration::ZERO,
        }
    }

    /// Fails with `code` (its description as the message). `Code::Ok`
    /// answers `SERVING`.
    pub fn fail(code: Code) -> Step {
        Step {
            code: (code != Code::Ok).then_some(code),
            message: code.description().to_owned(),
            ..Step::serving()
        }
    }

    /// Sets the status message.
    #[must_use]
    pub fn message(mut self, message: &str) -> Step {
        message.clone_into(&mut self.message);
        self
    }

    /// Attaches a `google.rpc.RetryInfo` detail with `delay`.
    #[must_use]
    pub fn retry_info(mut self, delay: Duration) -> Step {
        self.retry_info = Some(delay);
        self
    }

    /// Sends the `grpc-retry-pushback-ms` trailer with `millis` (negative:
    /// do not retry).
    #[must_use]
    pub fn pushback_ms(self, millis: i64) -> Step {
        self.pushback(&millis.to_string())
    }

    /// Sends the `grpc-retry-pushback-ms` trailer with this exact value
    /// (to send one that does not parse).
    #[must_use]
    pub fn pushback(mut self, value: &str) -> Step {
        self.pushback = Some(value.to_owned());
        self
    }

    /// Waits this long before answering.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Step {
        self.delay = delay;
        self
    }

    fn answer(&self) -> Result<Response<HealthCheckResponse>, Status> {
        let Some(code) = self.code else {
            return Ok(Response::new(HealthCheckResponse {
                status: ServingStatus::Serving.into(),
            }));
        };
        let mut status = match self.retry_info {
            Some(delay) => Status::with_error_details(
                code,
                self.message.clone(),
                ErrorDetails::with_retry_info(Some(delay)),
            ),
            None => Status::new(code, self.message.clone()),
        };
        if let Some(value) = self
            .pushback
            .as_deref()
            .and_then(|v| MetadataValue::try_from(v).ok())
        {
            status
                .metadata_mut()
                .insert("grpc-retry-pushback-ms", value);
        }
        Err(status)
    }
}

/// The steps the server follows, one per call; the last one repeats.
#[derive(Clone, Debug, Default)]
pub struct Script {
    steps: Vec<Step>,
}

impl Script {
    /// An empty script (every call answers `SERVING`).
    pub fn new() -> Script {
        Script::default()
    }

    /// Adds one step.
    #[must_use]
    pub fn then(mut self, step: Step) -> Script {
        self.steps.push(step);
        self
    }

    /// Adds `n` copies of `step`.
    #[must_use]
    pub fn times(mut self, n: usize, step: Step) -> Script {
        self.steps.extend(std::iter::repeat_n(step, n));
        self
    }

    fn step(&self, index: usize) -> Step {
        self.steps
            .get(index)
            .or_else(|| self.steps.last())
            .cloned()
            .unwrap_or_else(Step::serving)
    }
}

/// What one call carried, as the server saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Seen {
    /// Its `grpc-timeout` (the deadline), as sent.
    pub timeout: Option<String>,
    /// Its `grpc-previous-rpc-attempts`, as sent.
    pub previous_attempts: Option<String>,
}

#[derive(Debug)]
struct State {
    script: Script,
    requests: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
}

#[derive(Clone, Debug)]
struct Scripted(Arc<State>);

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for Scripted {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let header = |key: &str| {
            request
                .metadata()
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let seen = Seen {
            timeout: header("grpc-timeout"),
            previous_attempts: header("grpc-previous-rpc-attempts"),
        };
        self.0
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(seen);
        let index = self.0.requests.fetch_add(1, Ordering::SeqCst);
        let step = self.0.script.step(index);
        if !step.delay.is_zero() {
            tokio::time::sleep(step.delay).await;
        }
        step.answer()
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("the test server scripts Check only"))
    }
}

/// A gRPC server on `127.0.0.1` that follows a [`Script`]; stops when
/// dropped.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and starts serving `script` on a thread of its
    /// own.
    pub fn start(script: Script) -> io::Result<TestServer> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let state = Arc::new(State {
            script,
            requests: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let (shutdown, stopped) = oneshot::channel();
        let served = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name(format!("test-grpc-{}", addr.port()))
            .spawn(move || {
                // Dropping the runtime at the end cancels every connection.
                runtime.block_on(serve(listener, served, stopped));
            })?;
        Ok(TestServer {
            addr,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's URL for a channel: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many calls the server has received so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// What each call carried, in the order they arrived.
    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    state: Arc<State>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let service = HealthServer::new(Scripted(state));
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let service = TowerToHyperService::new(service.clone());
                tokio::spawn(async move {
                    // A client that goes away ends the connection with an error: expected.
                    let _ = http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tonic_health::pb::health_client::HealthClient;

    #[tokio::test]
    async fn each_step_answers_one_call_and_the_last_repeats() {
        let script = Script::new()
            .then(
                Step::fail(Code::Unavailable)
                    .pushback_ms(250)
                    .message("restarting"),
            )
            .then(Step::fail(Code::Aborted).pushback("soon"))
            .then(Step::serving());
        let server = TestServer::start(script).unwrap();
        let channel = tonic::transport::Endpoint::from_shared(server.url())
            .unwrap()
            .connect_lazy();
        let mut client = HealthClient::new(channel);

        let first = client
            .check(HealthCheckRequest::default())
            .await
            .unwrap_err();
        assert_eq!(first.code(), Code::Unavailable);
        assert_eq!(first.message(), "restarting");
        assert_eq!(
            first.metadata().get("grpc-retry-pushback-ms").unwrap(),
            "250"
        );
        let second = client
            .check(HealthCheckRequest::default())
            .await
            .unwrap_err();
        assert_eq!(second.code(), Code::Aborted);
        assert_eq!(
            second.metadata().get("grpc-retry-pushback-ms").unwrap(),
            "soon"
        );
        for _ in 0..2 {
            let reply = client.check(HealthCheckRequest::default()).await.unwrap();
            assert_eq!(reply.into_inner().status, i32::from(ServingStatus::Serving));
        }
        assert_eq!(server.requests(), 4);

        let mut timed = Request::new(HealthCheckRequest::default());
        timed.set_timeout(Duration::from_secs(2));
        timed
            .metadata_mut()
            .insert("grpc-previous-rpc-attempts", MetadataValue::from(1));
        client.check(timed).await.unwrap();
        let last = server.seen().pop().unwrap();
        assert_eq!(last.timeout.as_deref(), Some("2000000u"));
        assert_eq!(last.previous_attempts.as_deref(), Some("1"));
        assert_eq!(server.seen().first().unwrap(), &Seen::default());
    }

    #[tokio::test]
    async fn retry_info_details_reach_the_client() {
        let script = Script::new()
            .then(Step::fail(Code::ResourceExhausted).retry_info(Duration::from_millis(1500)));
        let server = TestServer::start(script).unwrap();
        let channel = tonic::transport::Endpoint::from_shared(server.url())
            .unwrap()
            .connect_lazy();
        let status = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .unwrap_err();
        let info = status.get_details_retry_info().unwrap();
        assert_eq!(info.retry_delay, Some(Duration::from_millis(1500)));
    }
}
