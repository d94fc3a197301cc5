//! Conditional GETs on content-addressed responses (manifests, blobs, files): the strong
//! `ETag` every such response carries is its digest in quotes, and an `If-None-Match` that
//! names it is answered 304 Not Modified (RFC 9110, 8.8.3 and 13.1.2). Not for byte ranges
//! (`range`): `If-None-Match` is evaluated first, as RFC 9110 13.2.2 orders the
//! preconditions.

use crate::digest::Digest;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

/// The strong entity tag of content with `digest`: `"sha256:<hex>"`. Two servers holding the
/// same bytes give the same tag.
pub fn etag(digest: &Digest) -> String {
    format!("\"{digest}\"")
}

/// Whether an `If-None-Match` header value (`*`, or a comma-separated list of entity tags,
/// weak `W/"…"` ones included) matches `etag`. The weak comparison applies (RFC 9110
/// 13.1.2): `W/"x"` matches `"x"`. A malformed member matches nothing.
pub fn none_match(if_none_match: &str, etag: &str) -> bool {
    if if_none_match.trim() == "*" {
        return true;
    }
    if_none_match
        .split(',')
        .map(str::trim)
        .map(|tag| tag.strip_prefix("W/").unwrap_or(tag))
        .any(|tag| tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"') && tag == etag)
}

/// Whether the request's `If-None-Match` names content with `digest`.
pub fn matches(headers: &HeaderMap, digest: &Digest) -> bool {
    let tag = etag(digest);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| none_match(value, &tag))
}

/// 304 Not Modified for content with `digest`: no body, and the `ETag` and
/// `Docker-Content-Digest` the 200 would have carried.
pub fn not_modified(digest: &Digest) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag(digest)) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&digest.to_string()) {
        headers.insert(super::blob::DIGEST_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "\"sha256:abc\"";

    #[test]
    fn the_tag_itself_a_list_holding_it_a_weak_form_and_star_match() {
        assert!(none_match("\"sha256:abc\"", TAG));
        assert!(none_match("\"x\", \"sha256:abc\"", TAG));
        assert!(none_match("W/\"sha256:abc\"", TAG));
        assert!(none_match(" * ", TAG));
    }

    #[test]
    fn other_tags_and_malformed_values_do_not_match() {
        assert!(!none_match("\"sha256:abd\"", TAG));
        assert!(!none_match("sha256:abc", TAG));
        assert!(!none_match("", TAG));
        assert!(!none_match("\"", TAG));
        assert!(!none_match("W/", TAG));
    }

    #[test]
    fn the_etag_is_the_quoted_digest() {
        let digest: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        assert_eq!(etag(&digest), format!("\"sha256:{}\"", "a".repeat(64)));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&etag(&digest)).unwrap(),
        );
        assert!(matches(&headers, &digest));
        let answer = not_modified(&digest);
        assert_eq!(answer.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            answer.headers().get(header::ETAG).unwrap(),
            etag(&digest).as_str()
        );
    }
}
