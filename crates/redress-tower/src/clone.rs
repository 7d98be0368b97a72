//! Copying requests for each attempt: [`CloneRequest`].

use http::Request;
use http_body::Body;

/// Copies a request for an attempt, or says it cannot be copied.
///
/// The layer asks for a copy before each attempt and keeps the original.
/// When the first copy is refused, the request is sent once, as the only
/// attempt of its call (see [`RedressLayer`](crate::RedressLayer)). Three
/// implementations come with the crate:
///
/// - [`ByClone`] (the default): `Clone::clone`, for requests that are
///   `Clone` (`http::Request<B>` is when `B` is: `Full<Bytes>`, `String`,
///   `Empty<Bytes>`);
/// - [`EmptyBody`]: copies `http::Request<B>`s whose body is empty (a GET,
///   a HEAD, a DELETE without a body), whatever `B` is, and refuses the
///   others: the one for axum routes, whose body is a stream;
/// - any closure `Fn(&Req) -> Option<Req>`.
///
/// ```
/// use redress_tower::{ByClone, CloneRequest, EmptyBody};
///
/// let get = http::Request::get("/users/7").body(String::new())?;
/// let post = http::Request::post("/users").body(String::from("{\"name\":\"ada\"}"))?;
/// assert!(ByClone.clone_request(&post).is_some());
/// assert!(EmptyBody.clone_request(&get).is_some());
/// assert!(EmptyBody.clone_request(&post).is_none()); // sent once
///
/// // Your own rule: copy only idempotent methods.
/// let idempotent = |r: &http::Request<String>| r.method().is_idempotent().then(|| r.clone());
/// assert!(idempotent.clone_request(&post).is_none());
/// # Ok::<(), http::Error>(())
/// ```
pub trait CloneRequest<Req> {
    /// A copy of `request` to send, or `None` when it cannot be copied.
    fn clone_request(&self, request: &Req) -> Option<Req>;
}

impl<Req, F> CloneRequest<Req> for F
where
    F: Fn(&Req) -> Option<Req>,
{
    fn clone_request(&self, request: &Req) -> Option<Req> {
        self(request)
    }
}

/// Copies requests with `Clone`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ByClone;

impl<Req: Clone> CloneRequest<Req> for ByClone {
    fn clone_request(&self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }
}

/// Copies `http::Request<B>`s whose body is known to be empty (it reports
/// the end of the stream, or an exact size of zero) with a fresh
/// `B::default()` body, and the method, URI, version, headers and
/// extensions of the original; refuses every other request.
///
/// For services whose request body is a stream, such as axum's
/// `Request<Body>`: requests without a body are retried, requests with
/// one are sent once.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyBody;

impl<B: Body + Default> CloneRequest<Request<B>> for EmptyBody {
    fn clone_request(&self, request: &Request<B>) -> Option<Request<B>> {
        let body = request.body();
        if !body.is_end_stream() && body.size_hint().exact() != Some(0) {
            return None;
        }
        let mut copy = Request::new(B::default());
        *copy.method_mut() = request.method().clone();
        *copy.uri_mut() = request.uri().clone();
        *copy.version_mut() = request.version();
        *copy.headers_mut() = request.headers().clone();
        *copy.extensions_mut() = request.extensions().clone();
        Some(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Marker(u8);

    #[test]
    fn empty_bodies_are_copied_with_everything_but_the_body() {
        let mut get = Request::get("http://upstream/users?id=7")
            .header("x-trace", "abc")
            .version(http::Version::HTTP_10)
            .body(String::new())
            .unwrap();
        get.extensions_mut().insert(Marker(3));
        let copy = EmptyBody.clone_request(&get).unwrap();
        assert_eq!(copy.method(), get.method());
        assert_eq!(copy.uri(), get.uri());
        assert_eq!(copy.version(), http::Version::HTTP_10);
        assert_eq!(copy.headers(), get.headers());
        assert_eq!(copy.extensions().get::<Marker>(), Some(&Marker(3)));
        let post = Request::post("/").body(String::from("x")).unwrap();
        assert!(EmptyBody.clone_request(&post).is_none());
    }
}
