//! Shared helpers for the examples: a scripted, in-memory HTTP endpoint.
//!
//! Nothing here touches the network. [`FakeEndpoint`] replays a script of
//! [`Reply`]s, one per request, and repeats the last one when the script runs
//! out, so an example can say "409, then 429, then 200" and get exactly that.

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::io;
use std::time::Duration;

use redress::StatusCode;

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
impl StatusCode for HttpError {
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
