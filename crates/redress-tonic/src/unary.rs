//! Retrying a unary call: a fresh request per attempt, with the attempt's
//! time limit as its gRPC deadline.

use core::future::Future;
use core::time::Duration;

use redress_core::asynchronous::run_on;
use redress_core::{
    AsyncSite, Attempt, Classifier, Outcome, Report, ResultClassifier, RetryError, ToOutcome,
    ToResult,
};
use redress_tokio::Tokio;
use tonic::metadata::MetadataValue;
use tonic::{Request, Status};

/// The longest deadline a request can carry: `grpc-timeout` has at most
/// eight digits, and its largest unit is the hour.
const MAX_GRPC_TIMEOUT: Duration = Duration::from_secs(99_999_999 * 3600);

/// The metadata key gRPC's retry design (A6) uses to tell the server how
/// many attempts came before this one: `grpc-previous-rpc-attempts`.
pub const PREVIOUS_ATTEMPTS_KEY: &str = "grpc-previous-rpc-attempts";

/// Runs a unary call under `site` (a policy or a bound call site) on
/// tokio, until it succeeds or the policy stops it; resolves to the reply,
/// or a [`RetryError`] with the stop reason and the last `Status`.
///
/// Each attempt calls `call` with a clone of `client` and a new
/// `tonic::Request` holding a clone of `message`, so the message must be
/// `Clone` (generated messages are) and the client cheap to clone (a
/// generated client over a `Channel` is). The request carries:
///
/// - the attempt's time limit as its gRPC deadline (`grpc-timeout`): what
///   is left of the policy's deadline, or the attempt timeout if that is
///   shorter. The server sees how long it has, and tonic's channel stops
///   waiting at the same moment redress does;
/// - from the second attempt on, `grpc-previous-rpc-attempts` (as gRPC's
///   own retries send it), so the server can tell a retry.
///
/// `call` may add metadata of its own (a token, a request id) to the
/// request before sending it.
///
/// The policy's classifier sees the `Status` of each failed attempt; use
/// [`classifier()`](crate::classifier) for the code table and the server's
/// hints.
///
/// Only unary calls can be retried like this: a streaming call has
/// already handed messages to the caller, or taken them from it, when it
/// fails, so running it again is the caller's decision, not the policy's.
/// Wrap the part of a stream that can be replayed in `call_async` of your
/// own.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use redress::backoff::constant;
/// use redress::Policy;
/// use redress_test_grpc::{Script, Step, TestServer};
/// use tonic::Code;
/// use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
///
/// // A real gRPC server on loopback: UNAVAILABLE twice, then an answer.
/// let server = TestServer::start(Script::new().times(2, Step::fail(Code::Unavailable)).then(Step::serving()))?;
/// let client = HealthClient::new(tonic::transport::Endpoint::from_shared(server.url())?.connect_lazy());
///
/// let policy = Policy::builder()
///     .classifier(redress_tonic::classifier())
///     .strategy(constant(Duration::from_millis(10)))
///     .build()?;
///
/// let request = HealthCheckRequest { service: String::new() };
/// let reply = redress_tonic::unary(&policy, &client, &request, async |mut c, r| c.check(r).await).await?;
/// assert_eq!(reply.into_inner().status, 1); // SERVING
/// assert_eq!(server.requests(), 3);
/// # Ok(())
/// # }
/// ```
pub async fn unary<Site, C, R, Cl, M, T, F, Fut>(
    site: &Site,
    client: &Cl,
    message: &M,
    call: F,
) -> Result<T, RetryError<Status, T>>
where
    Site: AsyncSite<C, R, Tokio> + ?Sized,
    C: Classifier<Status>,
    R: ResultClassifier<T>,
    Cl: Clone,
    M: Clone,
    F: FnMut(Cl, Request<M>) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    run::<ToResult, _, _, _, _, _, _, _, _>(site, client, message, call).await
}

/// Runs a unary call like [`unary`] and resolves to the whole
/// [`Outcome`]: attempts, stop reason, elapsed time, and the reply or the
/// last `Status`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use redress::backoff::constant;
/// use redress::{Policy, StopReason};
/// use redress_test_grpc::{Script, Step, TestServer};
/// use tonic::Code;
/// use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
///
/// let server = TestServer::start(Script::new().then(Step::fail(Code::InvalidArgument)))?;
/// let client = HealthClient::new(tonic::transport::Endpoint::from_shared(server.url())?.connect_lazy());
/// let policy = Policy::builder()
///     .classifier(redress_tonic::classifier())
///     .strategy(constant(Duration::from_millis(10)))
///     .build()?;
///
/// let request = HealthCheckRequest { service: String::new() };
/// let outcome = redress_tonic::execute_unary(&policy, &client, &request, async |mut c, r| c.check(r).await).await;
/// assert_eq!(outcome.stop_reason, Some(StopReason::NonRetryableClass));
/// assert_eq!(outcome.attempts, 1);
/// assert_eq!(outcome.last_error().map(|s| s.code()), Some(Code::InvalidArgument));
/// # Ok(())
/// # }
/// ```
pub async fn execute_unary<Site, C, R, Cl, M, T, F, Fut>(
    site: &Site,
    client: &Cl,
    message: &M,
    call: F,
) -> Outcome<T, Status>
where
    Site: AsyncSite<C, R, Tokio> + ?Sized,
    C: Classifier<Status>,
    R: ResultClassifier<T>,
    Cl: Clone,
    M: Clone,
    F: FnMut(Cl, Request<M>) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    run::<ToOutcome, _, _, _, _, _, _, _, _>(site, client, message, call).await
}

async fn run<End, Site, C, R, Cl, M, T, F, Fut>(
    site: &Site,
    client: &Cl,
    message: &M,
    mut call: F,
) -> End::Output
where
    End: Report<T, Status>,
    Site: AsyncSite<C, R, Tokio> + ?Sized,
    C: Classifier<Status>,
    R: ResultClassifier<T>,
    Cl: Clone,
    M: Clone,
    F: FnMut(Cl, Request<M>) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let operation = |attempt: Attempt| call(client.clone(), request(message, attempt));
    run_on::<End, _, _, _, _, _, _, _, _>(site, &Tokio, operation).await
}

/// The request for one attempt.
pub(crate) fn request<M: Clone>(message: &M, attempt: Attempt) -> Request<M> {
    let mut request = Request::new(message.clone());
    request.set_timeout(attempt.time_limit().min(MAX_GRPC_TIMEOUT));
    let previous = attempt.number.saturating_sub(1);
    if previous > 0 {
        request
            .metadata_mut()
            .insert(PREVIOUS_ATTEMPTS_KEY, MetadataValue::from(previous));
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_time_limit_and_the_attempt_count() {
        let first = request(
            &7u8,
            Attempt::new(1, Duration::from_secs(30), Some(Duration::from_secs(2))),
        );
        assert_eq!(first.metadata().get("grpc-timeout").unwrap(), "2000000u");
        assert!(first.metadata().get(PREVIOUS_ATTEMPTS_KEY).is_none());
        assert_eq!(*first.get_ref(), 7);

        let third = request(&7u8, Attempt::new(3, Duration::from_millis(1500), None));
        assert_eq!(third.metadata().get("grpc-timeout").unwrap(), "1500000u");
        assert_eq!(third.metadata().get(PREVIOUS_ATTEMPTS_KEY).unwrap(), "2");
    }

    #[test]
    fn a_limit_beyond_what_grpc_timeout_can_say_is_capped() {
        let huge = request(&(), Attempt::new(1, Duration::MAX, None));
        assert_eq!(huge.metadata().get("grpc-timeout").unwrap(), "99999999H");
    }
}
