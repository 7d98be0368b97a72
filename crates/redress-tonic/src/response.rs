//! Classifying gRPC responses at the HTTP level, for stacks that see
//! `http::Response`s (tower layers, proxies) rather than `tonic::Status`.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::{HeaderMap, Response, StatusCode};
use redress_core::{Classification, ResultClassifier};
use tonic::{Code, Status};

use crate::status::{PUSHBACK_KEY, classify_parts, pushback_value, retry_info_delay};

/// `grpc-status-details-bin`: standard base64, padded or not.
const DETAILS: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The classification of a gRPC response from its head (HTTP status and
/// headers), or `None` when the head says it is not a failure, or cannot
/// say yet.
///
/// - A `grpc-status` header (a *Trailers-Only* response: how servers,
///   tonic's among them, answer a unary call that fails before sending a
///   message): the code table, with the `RetryInfo` detail of
///   `grpc-status-details-bin` and the `grpc-retry-pushback-ms` header
///   as hints, exactly as [`classify_status`](crate::classify_status).
///   `grpc-status: 0` is no failure.
/// - No `grpc-status` and an HTTP status other than 200 (a proxy or load
///   balancer answered): the code gRPC maps it to (400 `INTERNAL`, 401
///   `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`, 404 `UNIMPLEMENTED`, 429,
///   502, 503 and 504 `UNAVAILABLE`, any other `UNKNOWN`), then the table.
/// - 200 without `grpc-status`: the status comes in the trailers, after
///   the messages; the head cannot tell, so `None`.
///
/// ```
/// use redress_core::ErrorClass;
///
/// let trailers_only = http::Response::builder()
///     .header("grpc-status", "14")
///     .header("grpc-retry-pushback-ms", "300")
///     .body(())?;
/// let c = redress_tonic::classify_response_head(trailers_only.status(), trailers_only.headers()).unwrap();
/// assert_eq!((c.class, c.tag), (ErrorClass::Transient, Some("UNAVAILABLE")));
/// assert_eq!(c.retry_after, Some(std::time::Duration::from_millis(300)));
///
/// let streaming = http::Response::builder().header("content-type", "application/grpc").body(())?;
/// assert_eq!(redress_tonic::classify_response_head(streaming.status(), streaming.headers()), None);
/// # Ok::<(), http::Error>(())
/// ```
pub fn classify_response_head(status: StatusCode, headers: &HeaderMap) -> Option<Classification> {
    let code = match headers.get("grpc-status") {
        Some(value) => Code::from_bytes(value.as_bytes()),
        None if status == StatusCode::OK => return None,
        None => http_status_code(status),
    };
    if code == Code::Ok {
        return None;
    }
    let pushed = headers
        .get(PUSHBACK_KEY)
        .map(|value| pushback_value(value.as_bytes()));
    let retry_info = headers
        .get("grpc-status-details-bin")
        .and_then(|value| DETAILS.decode(value.as_bytes()).ok())
        .and_then(|details| retry_info_delay(&Status::with_details(code, "", details.into())));
    Some(classify_parts(code, pushed, retry_info))
}

/// The gRPC code of an HTTP status without `grpc-status`, as gRPC's
/// HTTP-to-gRPC status mapping says.
fn http_status_code(status: StatusCode) -> Code {
    match status {
        StatusCode::BAD_REQUEST => Code::Internal,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::Unimplemented,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// Flags gRPC responses that fail in their head (see
/// [`classify_response_head`]): the result classifier for a policy over
/// an HTTP/2 client or a tower stack that carries gRPC calls as
/// `http::Request`/`http::Response`. Made by [`response_classifier`].
///
/// A flagged response is retried like an error; when the policy gives up,
/// the caller gets the last response back. A failure reported in the
/// trailers (after messages) is not seen here: it is the caller's, or
/// tonic's, to read.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcResponseClassifier;

/// The result classifier for gRPC responses at the HTTP level (see
/// [`GrpcResponseClassifier`]).
///
/// ```
/// use std::time::Duration;
/// use redress_core::{backoff::constant, Policy};
///
/// // For a client whose requests can be sent again (a buffered body).
/// let policy = Policy::builder()
///     .result_classifier(redress_tonic::response_classifier())
///     .strategy(constant(Duration::from_millis(50)))
///     .build()?;
/// # let _ = policy;
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
pub const fn response_classifier() -> GrpcResponseClassifier {
    GrpcResponseClassifier
}

impl<B> ResultClassifier<Response<B>> for GrpcResponseClassifier {
    fn classify(&self, response: &Response<B>) -> Option<Classification> {
        classify_response_head(response.status(), response.headers())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use redress_core::ErrorClass;
    use tonic_types::{ErrorDetails, StatusExt};

    fn head(status: u16, headers: &[(&'static str, &str)]) -> Option<Classification> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        classify_response_head(StatusCode::from_u16(status).unwrap(), &map)
    }

    #[test]
    fn trailers_only_failures_carry_their_hints() {
        let details = Status::with_error_details(
            Code::ResourceExhausted,
            "quota",
            ErrorDetails::with_retry_info(Some(Duration::from_secs(2))),
        );
        for engine in [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
        ] {
            let encoded = engine.encode(details.details());
            let c = head(
                200,
                &[("grpc-status", "8"), ("grpc-status-details-bin", &encoded)],
            )
            .unwrap();
            assert_eq!(
                (c.class, c.tag),
                (ErrorClass::RateLimit, Some("RESOURCE_EXHAUSTED"))
            );
            assert_eq!(c.retry_after, Some(Duration::from_secs(2)));
        }
        let c = head(
            200,
            &[("grpc-status", "14"), ("grpc-retry-pushback-ms", "-1")],
        )
        .unwrap();
        assert_eq!(c.class, ErrorClass::Permanent);
        let c = head(
            200,
            &[("grpc-status", "14"), ("grpc-status-details-bin", "%%%")],
        )
        .unwrap();
        assert_eq!((c.class, c.retry_after), (ErrorClass::Transient, None));
    }

    #[test]
    fn ok_and_undecided_heads_are_not_failures() {
        assert_eq!(head(200, &[("grpc-status", "0")]), None);
        assert_eq!(head(200, &[]), None);
        assert_eq!(
            head(200, &[("grpc-status", "99")]).unwrap().tag,
            Some("UNKNOWN")
        );
    }

    #[test]
    fn http_statuses_without_grpc_status_map_like_grpc_says() {
        let expect = [
            (400, "INTERNAL"),
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (404, "UNIMPLEMENTED"),
            (429, "UNAVAILABLE"),
            (502, "UNAVAILABLE"),
            (503, "UNAVAILABLE"),
            (504, "UNAVAILABLE"),
            (500, "UNKNOWN"),
        ];
        for (status, tag) in expect {
            assert_eq!(head(status, &[]).unwrap().tag, Some(tag), "{status}");
        }
    }
}
