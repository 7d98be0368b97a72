//! How an HTTP call through a policy ends, for integrations that must hand
//! back what a client returns: [`Ending`] and [`NoResponse`].

use core::fmt;
use core::time::Duration;

use http::header::RETRY_AFTER;
use http::{HeaderValue, Response, StatusCode};
use redress_core::{ErrorClass, Execution, Failure, Hooks, Outcome, Report, StopReason};

/// What a finished HTTP call hands back, in a client's terms.
///
/// A policy's [`Outcome`] distinguishes a success from a flagged value; a
/// client does not: a 503 that is still a 503 after the last attempt is a
/// response like any other, and the caller reads its status. So a
/// middleware or a layer returns:
///
/// - [`Response`](Ending::Response): the successful response, or the last
///   response the result classifier flagged (headers and body intact);
/// - [`Error`](Ending::Error): the last error of the client or service;
/// - [`NoResponse`](Ending::NoResponse): neither, because the last attempt
///   was cut by the attempt timeout or no attempt ran.
///
/// ```
/// use std::time::Duration;
/// use redress_core::{backoff::constant, ManualClock, Policy};
/// use redress_http::{Ending, response_classifier};
/// use redress_sync::BlockingPolicy;
///
/// let policy = Policy::builder()
///     .result_classifier(response_classifier())
///     .strategy(constant(Duration::from_millis(100)))
///     .max_attempts(2)
///     .build()?;
/// let clock = ManualClock::new();
/// let outcome = policy
///     .bind()
///     .clock(&clock)
///     .sleeper(|d| clock.advance(d))
///     .execute(|| http::Response::builder().status(503).body("busy"));
/// match Ending::of(outcome) {
///     Ending::Response(last) => assert_eq!(last.status(), 503), // the last 503, as a response
///     other => panic!("expected the last response, got {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum Ending<T, E> {
    /// The successful response, or the last flagged one.
    Response(T),
    /// The last error.
    Error(E),
    /// No response and no error to return.
    NoResponse(NoResponse),
}

impl<T, E> Ending<T, E> {
    /// How `outcome` ends, in a client's terms.
    pub fn of(outcome: Outcome<T, E>) -> Self {
        let no_response = |timed_out_after| NoResponse {
            stop_reason: outcome.stop_reason.unwrap_or(StopReason::MaxAttemptsGlobal),
            attempts: outcome.attempts,
            last_class: outcome.last_class,
            elapsed: outcome.elapsed,
            next_delay: outcome.next_delay,
            timed_out_after,
        };
        match outcome.result {
            Ok(response) | Err(Failure::Value(response)) => Ending::Response(response),
            Err(Failure::Error(error)) => Ending::Error(error),
            Err(Failure::TimedOut(after)) => Ending::NoResponse(no_response(Some(after))),
            Err(_) => Ending::NoResponse(no_response(None)),
        }
    }

    /// `Ok` with the response; `Err` with the error mapped by `error`, or
    /// the [`NoResponse`] mapped by `no_response`.
    pub fn into_result<X>(
        self,
        error: impl FnOnce(E) -> X,
        no_response: impl FnOnce(NoResponse) -> X,
    ) -> Result<T, X> {
        match self {
            Ending::Response(response) => Ok(response),
            Ending::Error(e) => Err(error(e)),
            Ending::NoResponse(n) => Err(no_response(n)),
        }
    }
}

/// Ends a call run by [`run_on`](redress_core::asynchronous::run_on) with
/// its [`Ending`], the way the middleware and the layer do. A success's
/// elapsed time is not measured: an [`Ending::Response`] does not carry it,
/// so a successful call reads no clock after its attempt.
#[derive(Clone, Copy, Debug, Default)]
pub struct ToEnding;

impl<T, E> Report<T, E> for ToEnding {
    type Output = Ending<T, E>;
    const MEASURES_SUCCESS: bool = false;

    fn report<C, R, H: Hooks>(exec: &mut Execution<'_, C, R, H, T, E>) -> Ending<T, E> {
        Ending::of(exec.take_outcome())
    }
}

/// An HTTP call through a policy that ended with neither a response nor an
/// error of the client to return: its last attempt was cut by the policy's
/// attempt timeout (the request was dropped), or no attempt ran at all (the
/// circuit breaker rejected the call, or it was aborted first).
///
/// The reqwest middleware returns it inside
/// `reqwest_middleware::Error::Middleware`, the tower layer as its error.
/// [`to_response`](Self::to_response) turns it into the answer a server or
/// a proxy gives in its place: 503 with a `Retry-After` while a breaker is
/// open, 504 when the upstream was too slow.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use redress_core::{backoff::constant, CircuitBreaker, Policy, StopReason};
/// use redress_http::{Ending, NoResponse};
/// use redress_sync::BlockingPolicy;
///
/// let breaker = Arc::new(CircuitBreaker::builder().build()?);
/// let policy = Policy::builder()
///     .strategy(constant(Duration::from_millis(100)))
///     .circuit_breaker(breaker.clone())
///     .build()?;
/// breaker.isolate(); // shed the dependency by hand: every call is rejected
///
/// let outcome = policy.execute(|| Ok::<_, std::io::Error>(http::Response::new("never sent")));
/// let Ending::NoResponse(no_response) = Ending::of(outcome) else { unreachable!() };
/// assert_eq!(no_response.stop_reason, StopReason::CircuitOpen);
/// assert_eq!(no_response.to_string(), "not attempted: the circuit breaker is open");
/// assert_eq!(no_response.to_response::<String>().status(), 503);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NoResponse {
    /// Why the call stopped.
    pub stop_reason: StopReason,
    /// Attempts made (0 when none ran).
    pub attempts: u32,
    /// The class of the last failure, when an attempt failed.
    pub last_class: Option<ErrorClass>,
    /// Time the call took.
    pub elapsed: Duration,
    /// When to try again: the time until the breaker admits a probe
    /// (`CIRCUIT_OPEN`), or the deferred delay (`SCHEDULED`).
    pub next_delay: Option<Duration>,
    /// The attempt timeout that cut the last attempt, when one did.
    pub timed_out_after: Option<Duration>,
}

impl NoResponse {
    /// Whether the circuit breaker rejected the call.
    pub fn is_circuit_open(&self) -> bool {
        self.stop_reason == StopReason::CircuitOpen
    }

    /// Whether the last attempt was cut by the attempt timeout.
    pub fn is_timeout(&self) -> bool {
        self.timed_out_after.is_some()
    }

    /// The status a server or proxy answers in place of the missing
    /// response: 504 Gateway Timeout when the last attempt timed out, else
    /// 503 Service Unavailable.
    pub fn status(&self) -> StatusCode {
        if self.is_timeout() {
            StatusCode::GATEWAY_TIMEOUT
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }

    /// A response with [`status`](Self::status), an empty body, and a
    /// `Retry-After` in whole seconds (rounded up) when the call knows when
    /// to try again ([`next_delay`](Self::next_delay)).
    pub fn to_response<B: Default>(&self) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() = self.status();
        if let Some(delay) = self.next_delay {
            let secs = delay
                .as_secs()
                .saturating_add(u64::from(delay.subsec_nanos() > 0));
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Says why, in the words of `RetryError`: `not attempted: the circuit
/// breaker is open`, `gave up after 3 attempts: the attempt limit was
/// reached (the last attempt timed out after 200ms)`.
impl fmt::Display for NoResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = self.stop_reason.describe();
        match self.attempts {
            0 => write!(f, "not attempted: {why}")?,
            1 => write!(f, "gave up after 1 attempt: {why}")?,
            n => write!(f, "gave up after {n} attempts: {why}")?,
        }
        match self.timed_out_after {
            Some(after) => write!(f, " (the last attempt timed out after {after:?})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for NoResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use redress_core::Policy;
    use redress_core::backoff::constant;
    use redress_sync::BlockingPolicy;

    fn no_response(
        stop_reason: StopReason,
        attempts: u32,
        next_delay: Option<Duration>,
        timed_out_after: Option<Duration>,
    ) -> NoResponse {
        NoResponse {
            stop_reason,
            attempts,
            last_class: None,
            elapsed: Duration::ZERO,
            next_delay,
            timed_out_after,
        }
    }

    #[test]
    fn responses_errors_and_flagged_values_keep_their_place() {
        let policy = Policy::builder()
            .classifier(|_: &&str| ErrorClass::Transient)
            .result_classifier(|v: &u16| (*v >= 500).then_some(ErrorClass::ServerError))
            .strategy(constant(Duration::ZERO))
            .max_attempts(2)
            .build()
            .unwrap();
        let ok = policy.execute(|| Ok::<u16, &str>(200));
        assert!(matches!(Ending::of(ok), Ending::Response(200)));
        let flagged = policy.execute(|| Ok::<u16, &str>(503));
        assert!(matches!(Ending::of(flagged), Ending::Response(503)));
        let failed = policy.execute(|| Err::<u16, _>("reset"));
        assert!(matches!(Ending::of(failed), Ending::Error("reset")));
        assert_eq!(
            Ending::<u16, &str>::Error("reset").into_result(|e| e.len(), |_| 0),
            Err(5)
        );
    }

    #[test]
    fn statuses_and_retry_after_of_the_stand_in_answer() {
        let open = no_response(
            StopReason::CircuitOpen,
            0,
            Some(Duration::from_millis(1500)),
            None,
        );
        assert!(open.is_circuit_open());
        let answer = open.to_response::<()>();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers()[RETRY_AFTER], "2");
        let slow = no_response(
            StopReason::MaxAttemptsGlobal,
            3,
            None,
            Some(Duration::from_millis(200)),
        );
        assert_eq!(slow.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(
            slow.to_response::<()>()
                .headers()
                .get(RETRY_AFTER)
                .is_none()
        );
        assert_eq!(
            slow.to_string(),
            "gave up after 3 attempts: the attempt limit was reached (the last attempt timed out after 200ms)"
        );
        let huge = no_response(StopReason::CircuitOpen, 0, Some(Duration::MAX), None);
        assert_eq!(
            huge.to_response::<()>().headers()[RETRY_AFTER],
            u64::MAX.to_string().as_str()
        );
        assert_eq!(
            no_response(StopReason::Aborted, 1, None, None).to_string(),
            "gave up after 1 attempt: the call was aborted"
        );
    }
}
