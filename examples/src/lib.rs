//! Shared helpers for the examples: in-memory HTTP-like dependencies.
//!
//! Nothing here touches the network. [`FakeEndpoint`] replays a script of
//! [`Reply`]s, one per request, and repeats the last one when the script runs
//! out, so an example can say "409, then 429, then 200" and get exactly that.
//! [`FlakyService`] is a dependency shared by threads whose health follows
//! a virtual clock: it goes down for a while and comes back.

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::io;
use std::time::Duration;

use redress::HasStatus;

/// What the fake endpoint does for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Answer with this status and body.
    Status(u16, &'static str),
    /// Answer with this status and a `Retry-After` header.
    RetryAfter(u16, Duration),
    /// Never answer: the client gives up with a timeout.
    Timeout,
}

/// An HTTP-like response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Retry-After` header, when the server sent one.
    pub retry_after: Option<Duration>,
    /// The body.
    pub body: &'static str,
}

/// A failed request, as a typical HTTP client reports it.
#[derive(Debug)]
pub enum HttpError {
    /// No response: the transport failed. The `io::Error` is the `source()`.
    Transport(io::Error),
    /// A response with a non-success status (from [`FakeEndpoint::get_checked`]).
    Status(Response),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Transport(_) => f.write_str("request failed"),
            HttpError::Status(r) => write!(f, "server answered {}", r.status),
        }
    }
}

impl Error for HttpError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            HttpError::Transport(e) => Some(e),
            HttpError::Status(_) => None,
        }
    }
}

/// Lets `strict_classifier().with_status::<HttpError>()` map status errors.
impl HasStatus for HttpError {
    fn status_code(&self) -> Option<u16> {
        match self {
            HttpError::Status(r) => Some(r.status),
            HttpError::Transport(_) => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status(r) => r.retry_after,
            HttpError::Transport(_) => None,
        }
    }
}

/// An endpoint that replays a script of replies.
#[derive(Debug)]
pub struct FakeEndpoint {
    script: Vec<Reply>,
    requests: Cell<usize>,
}

impl FakeEndpoint {
    /// An endpoint that answers with `script`, one reply per request; the
    /// last reply repeats forever.
    pub fn new(script: impl IntoIterator<Item = Reply>) -> Self {
        FakeEndpoint {
            script: script.into_iter().collect(),
            requests: Cell::new(0),
        }
    }

    /// How many requests were made.
    pub fn requests(&self) -> usize {
        self.requests.get()
    }

    /// Sends a request. Like most clients, any status is `Ok(response)`;
    /// only transport failures are errors.
    pub fn get(&self) -> Result<Response, HttpError> {
        let n = self.requests.get();
        self.requests.set(n.saturating_add(1));
        let reply = self
            .script
            .get(n)
            .or_else(|| self.script.last())
            .copied()
            .unwrap_or(Reply::Status(200, ""));
        match reply {
            Reply::Status(status, body) => Ok(Response {
                status,
                retry_after: None,
                body,
            }),
            Reply::RetryAfter(status, after) => Ok(Response {
                status,
                retry_after: Some(after),
                body: "",
            }),
            Reply::Timeout => Err(HttpError::Transport(io::Error::new(
                io::ErrorKind::TimedOut,
                "no response within 2s",
            ))),
        }
    }

    /// Sends a request and turns a non-2xx status into an error.
    pub fn get_checked(&self) -> Result<Response, HttpError> {
        let response = self.get()?;
        if (200..300).contains(&response.status) {
            Ok(response)
        } else {
            Err(HttpError::Status(response))
        }
    }
}

/// A dependency shared by several threads whose health follows time on a
/// [`ManualClock`](redress::ManualClock): every request takes `latency` on
/// the clock, requests during an outage get a 503, and (optionally) every
/// `n`-th request times out, as a healthy service's odd blip.
///
/// Unlike [`FakeEndpoint`] it is `Sync`, so threads can share it.
#[derive(Debug)]
pub struct FlakyService<'c> {
    clock: &'c redress::ManualClock,
    latency: Duration,
    outage: Option<(Duration, Duration)>,
    timeout_every: u64,
    requests: std::sync::atomic::AtomicU64,
}

impl<'c> FlakyService<'c> {
    /// A healthy service on `clock` answering after `latency`.
    pub fn new(clock: &'c redress::ManualClock, latency: Duration) -> Self {
        FlakyService {
            clock,
            latency,
            outage: None,
            timeout_every: 0,
            requests: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Answers 503 to requests that end in `[from, until)`.
    pub fn down_between(mut self, from: Duration, until: Duration) -> Self {
        self.outage = Some((from, until));
        self
    }

    /// Every `n`-th request times out (0: never).
    pub fn timeout_every(mut self, n: u64) -> Self {
        self.timeout_every = n;
        self
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends a request for `path`; a non-2xx status is an error.
    pub fn get(&self, path: &'static str) -> Result<Response, HttpError> {
        let n = self
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .saturating_add(1);
        self.clock.advance(self.latency);
        let now = self.clock.now();
        if self
            .outage
            .is_some_and(|(from, until)| from <= now && now < until)
        {
            return Err(HttpError::Status(Response {
                status: 503,
                retry_after: None,
                body: "upstream unavailable",
            }));
        }
        if n.checked_rem(self.timeout_every) == Some(0) {
            return Err(HttpError::Transport(io::Error::new(
                io::ErrorKind::TimedOut,
                "no response within 2s",
            )));
        }
        Ok(Response {
            status: 200,
            retry_after: None,
            body: path,
        })
    }
}
