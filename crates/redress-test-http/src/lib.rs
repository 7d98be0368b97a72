//! A scripted HTTP/1.1 server on loopback, for redress's tests and examples.
//!
//! [`TestServer::start`] binds `127.0.0.1:0`, serves on a thread of its own
//! (with its own single-threaded tokio runtime, so blocking clients and any
//! async runtime can use it alike), and answers request `n` with step `n` of
//! its [`Script`]; once the script is used up, the last step repeats. It
//! counts the requests it received, and shuts down when dropped, cutting any
//! response still in progress.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use redress_test_http::{Script, Step, TestServer};
//!
//! let server = TestServer::start(Script::new().times(2, Step::status(503)).then(Step::ok("hello")))?;
//! let get = || -> std::io::Result<String> {
//!     let mut stream = TcpStream::connect(server.addr())?;
//!     stream.write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")?;
//!     let mut reply = String::new();
//!     stream.read_to_string(&mut reply)?;
//!     Ok(reply)
//! };
//! assert!(get()?.starts_with("HTTP/1.1 503"));
//! assert!(get()?.starts_with("HTTP/1.1 503"));
//! assert!(get()?.ends_with("hello"));
//! assert_eq!(server.requests(), 3);
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, RETRY_AFTER};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// What the server does with one request.
#[derive(Clone, Debug)]
pub struct Step {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    delay: Duration,
    ending: Ending,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// The whole response.
    Complete,
    /// The head and half the body, then the connection closes.
    CloseMidBody,
    /// Nothing: the connection closes after the request is read.
    CloseBeforeResponse,
}

impl Step {
    /// A response with `status` and an empty body.
    ///
    /// A code outside 100..=999 becomes 500.
    pub fn status(status: u16) -> Step {
        Step {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: Vec::new(),
            body: Bytes::new(),
            delay: Duration::ZERO,
            ending: Ending::Complete,
        }
    }

    /// A 200 response with `body`.
    pub fn ok(body: impl Into<Bytes>) -> Step {
        Step::status(200).body(body)
    }

    /// A response whose head promises `body` (with its `Content-Length`),
    /// of which only the first half is sent before the connection closes.
    pub fn close_mid_body(body: impl Into<Bytes>) -> Step {
        Step {
            ending: Ending::CloseMidBody,
            ..Step::ok(body)
        }
    }

    /// No response at all: the connection closes once the request is read.
    pub fn close_before_response() -> Step {
        Step {
            ending: Ending::CloseBeforeResponse,
            ..Step::status(200)
        }
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Step {
        self.body = body.into();
        self
    }

    /// Adds a header. An invalid name or value is skipped (the test that
    /// expects it will say so).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Step {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            self.headers.push((name, value));
        }
        self
    }

    /// Adds `Retry-After: <secs>`.
    #[must_use]
    pub fn retry_after_secs(self, secs: u64) -> Step {
        self.header(RETRY_AFTER.as_str(), &secs.to_string())
    }

    /// Adds `Retry-After` as an HTTP-date (IMF-fixdate, whole seconds).
    #[must_use]
    pub fn retry_after_date(self, at: SystemTime) -> Step {
        self.header(RETRY_AFTER.as_str(), &httpdate::fmt_http_date(at))
    }

    /// Waits `delay` after reading the request, before answering (or
    /// closing).
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Step {
        self.delay = delay;
        self
    }
}

/// The steps a [`TestServer`] follows, one per request, in order.
#[derive(Clone, Debug, Default)]
pub struct Script {
    steps: Vec<Step>,
}

impl Script {
    /// An empty script: every request gets a 200 with an empty body.
    pub fn new() -> Script {
        Script::default()
    }

    /// Appends one step.
    #[must_use]
    pub fn then(mut self, step: Step) -> Script {
        self.steps.push(step);
        self
    }

    /// Appends `step` `n` times.
    #[must_use]
    pub fn times(mut self, n: usize, step: Step) -> Script {
        self.steps.extend(std::iter::repeat_n(step, n));
        self
    }

    /// The step for request `index` (0-based): the last step once the
    /// script is used up.
    fn step(&self, index: usize) -> Step {
        self.steps
            .get(index)
            .or(self.steps.last())
            .cloned()
            .unwrap_or_else(|| Step::ok(Bytes::new()))
    }
}

struct State {
    script: Script,
    requests: AtomicUsize,
}

/// A running scripted server; dropping it stops it.
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
        });
        let (shutdown, stopped) = oneshot::channel();
        let served = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name(format!("test-http-{}", addr.port()))
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

    /// The server's base URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The URL of `path` on the server (`path` starts with `/`).
    pub fn url_of(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests the server has received so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

/// A loopback port that refuses every connection: a socket bound to it and
/// never listening, held for as long as the value lives, so no other test
/// can take the port meanwhile (a port freed after binding can be reused by
/// the next server a parallel test starts).
///
/// ```
/// let closed = redress_test_http::ClosedPort::new()?;
/// let refused = std::net::TcpStream::connect(closed.addr());
/// assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ClosedPort {
    // Held, not read: the port stays taken while the value lives.
    _socket: socket2::Socket,
    addr: SocketAddr,
}

impl ClosedPort {
    /// Binds a fresh port on 127.0.0.1 without listening on it.
    pub fn new() -> io::Result<ClosedPort> {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        let addr = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("the bound address is not an IP address"))?;
        Ok(ClosedPort {
            _socket: socket,
            addr,
        })
    }

    /// The address that refuses connections.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
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
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(Arc::clone(&state), request));
                    // A scripted close ends the connection with an error: expected.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// Why a scripted step closed the connection.
#[derive(Debug)]
struct ScriptedClose;

impl fmt::Display for ScriptedClose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the script closes the connection here")
    }
}

impl std::error::Error for ScriptedClose {}

async fn answer(
    state: Arc<State>,
    _request: Request<Incoming>,
) -> Result<Response<ScriptedBody>, ScriptedClose> {
    let index = state.requests.fetch_add(1, Ordering::SeqCst);
    let step = state.script.step(index);
    if !step.delay.is_zero() {
        tokio::time::sleep(step.delay).await;
    }
    let body = match step.ending {
        Ending::CloseBeforeResponse => return Err(ScriptedClose),
        Ending::Complete => ScriptedBody {
            data: Some(step.body.clone()),
            fail: false,
            flushed: false,
        },
        Ending::CloseMidBody => ScriptedBody {
            data: Some(step.body.slice(..step.body.len() / 2)),
            fail: true,
            flushed: false,
        },
    };
    let mut response = Response::new(body);
    *response.status_mut() = step.status;
    let headers = response.headers_mut();
    for (name, value) in step.headers {
        headers.append(name, value);
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(step.body.len()));
    Ok(response)
}

/// A body that sends its data and then, when scripted to, fails, which
/// makes hyper close the connection short of the promised length.
struct ScriptedBody {
    data: Option<Bytes>,
    fail: bool,
    flushed: bool,
}

impl Body for ScriptedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(data) = self.data.take() {
            if !data.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
        }
        if self.fail && !self.flushed {
            // Pause once so hyper flushes the head and the partial body
            // before the failure closes the connection.
            self.flushed = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.fail {
            self.fail = false;
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                ScriptedClose,
            ))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && !self.fail
    }

    fn size_hint(&self) -> SizeHint {
        // The head's Content-Length is what the client expects; this only
        // says what is left to send.
        let left = self.data.as_ref().map_or(0, Bytes::len);
        if self.fail {
            SizeHint::default()
        } else {
            SizeHint::with_exact(u64::try_from(left).unwrap_or(u64::MAX))
        }
    }
}
