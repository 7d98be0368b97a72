//! gRPC status codes to classes: redress's one gRPC table.

use redress_core::ErrorClass;
use tonic::Code;

/// The class of a gRPC status `code`: redress's one gRPC table.
///
/// It follows gRPC's own guidance (the status code definitions, the client
/// retry design A6 and Google's AIP-194) and reads each code as what it
/// means for the client that received it.
///
/// | code | class | retried | why |
/// |---|---|---|---|
/// | `UNAVAILABLE` | `TRANSIENT` | yes | the service cannot take the call now (connection refused, server restarting, stream refused): the one code gRPC calls safe to retry, with backoff |
/// | `RESOURCE_EXHAUSTED` | `RATE_LIMIT` | yes | a quota or rate limit, or the server out of some resource: wait, as long as `RetryInfo` or pushback say |
/// | `ABORTED` | `CONCURRENCY` | yes | a concurrency conflict (a failed test-and-set, an aborted transaction): gRPC says retry at a higher level, so make the operation the whole read-modify-write |
/// | `DEADLINE_EXCEEDED` | `TRANSIENT` | yes | the deadline the attempt carried ran out; redress's own deadline bounds the call, so another attempt may still fit (see below) |
/// | `CANCELLED` | `TRANSIENT` | yes | a caller that cancels drops the call and never sees this status; when one arrives, the connection closed under the call, a proxy or the server reset the stream, or tonic's own per-request timeout fired (see below) |
/// | `INTERNAL` | `SERVER_ERROR` | yes | the server broke an invariant, like HTTP 500 (tonic also reports HTTP/2 protocol errors so) |
/// | `UNKNOWN` | `UNKNOWN` | at most `max_unknown_attempts` | an error the server did not map to a code (also tonic's code for a transport error it cannot place) |
/// | `UNAUTHENTICATED` | `AUTH` | no | the credentials are missing or wrong: refresh them, then call again |
/// | `PERMISSION_DENIED` | `PERMISSION` | no | authenticated, not allowed: it will not change by itself |
/// | `INVALID_ARGUMENT`, `NOT_FOUND`, `ALREADY_EXISTS`, `FAILED_PRECONDITION`, `OUT_OF_RANGE`, `UNIMPLEMENTED` | `PERMANENT` | no | the request itself is wrong, or the system is not in a state to take it until someone changes it: the same request gets the same answer |
/// | `DATA_LOSS` | `PERMANENT` | no | unrecoverable loss or corruption: surface it at once |
/// | `OK` | `UNKNOWN` | at most `max_unknown_attempts` | not a failure; a `Status` with it is a malformed answer |
///
/// `DEADLINE_EXCEEDED` and `CANCELLED` are never retried by gRPC's own
/// retry (A6, AIP-194), because there the deadline is the whole call's and
/// a cancellation is the caller's. Here the call's deadline belongs to the
/// policy, each attempt carries only what is left of it (or the attempt
/// timeout), and a caller cancels by dropping the future. So these codes
/// mean "this attempt ran out of time": retried while the call has time
/// left, never past it.
///
/// Retrying is only safe for calls that can run twice. `UNAVAILABLE` is
/// the one code that usually means the server never processed the call;
/// after `DEADLINE_EXCEEDED`, `CANCELLED`, `INTERNAL` or `UNKNOWN` it may
/// have. For a method that is not idempotent, give the policy a classifier
/// of your own that makes those codes `PERMANENT`.
///
/// ```
/// use redress_core::ErrorClass;
/// use redress_tonic::code_class;
/// use tonic::Code;
///
/// assert_eq!(code_class(Code::Unavailable), ErrorClass::Transient);
/// assert_eq!(code_class(Code::ResourceExhausted), ErrorClass::RateLimit);
/// assert_eq!(code_class(Code::InvalidArgument), ErrorClass::Permanent);
/// ```
pub const fn code_class(code: Code) -> ErrorClass {
    match code {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ErrorClass::Transient,
        Code::ResourceExhausted => ErrorClass::RateLimit,
        Code::Aborted => ErrorClass::Concurrency,
        Code::Internal => ErrorClass::ServerError,
        Code::Unauthenticated => ErrorClass::Auth,
        Code::PermissionDenied => ErrorClass::Permission,
        Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::DataLoss => ErrorClass::Permanent,
        Code::Unknown | Code::Ok => ErrorClass::Unknown,
    }
}

/// The canonical name of `code` (`"UNAVAILABLE"`, `"RESOURCE_EXHAUSTED"`):
/// the `err` tag of events for a failed call. Seventeen values, so it is
/// safe as a metric label.
///
/// ```
/// use redress_tonic::code_name;
/// use tonic::Code;
///
/// assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
/// ```
pub const fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    #[test]
    fn names_are_the_canonical_ones_and_distinct() {
        for (number, code) in ALL.into_iter().enumerate() {
            assert_eq!(Code::from(i32::try_from(number).unwrap()), code);
            let name = code_name(code);
            assert!(name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
            assert_eq!(ALL.iter().filter(|c| code_name(**c) == name).count(), 1);
        }
    }

    #[test]
    fn only_the_codes_that_blame_the_request_or_the_caller_are_never_retried() {
        let never: Vec<_> = ALL
            .into_iter()
            .filter(|c| !code_class(*c).is_retryable())
            .map(code_name)
            .collect();
        assert_eq!(
            never,
            [
                "INVALID_ARGUMENT",
                "NOT_FOUND",
                "ALREADY_EXISTS",
                "PERMISSION_DENIED",
                "FAILED_PRECONDITION",
                "OUT_OF_RANGE",
                "UNIMPLEMENTED",
                "DATA_LOSS",
                "UNAUTHENTICATED",
            ]
        );
        assert_eq!(code_class(Code::Aborted), ErrorClass::Concurrency);
        assert_eq!(code_class(Code::Internal), ErrorClass::ServerError);
        assert_eq!(code_class(Code::Unknown), ErrorClass::Unknown);
    }
}
