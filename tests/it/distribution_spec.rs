//! The OCI distribution spec's (v1.1) finer rules at the site, each asserted with the status,
//! headers and error code the spec requires: `n=0` pages without `Link`, a well-formed
//! digest of another registered algorithm (sha512) is unknown rather than invalid, the
//! referrers API never answers 404, every error carries `Docker-Distribution-Api-Version`,
//! an unsatisfiable range is a 416 with `Content-Range: bytes */SIZE`, and a reference outside
//! the tag grammar names no manifest.

use crate::common::*;

const API_VERSION: &str = "docker-distribution-api-version";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A mirror of alpha and beta (two repositories, one tag each).
fn mirror() -> (Site, Server) {
    let site = Site::new();
    let bundle = site.build("linux/amd64", &["library/alpha:1", "team/beta:1"]);
    let server = Server::start(site.work(), &[bundle.to_str().unwrap()]);
    (site, server)
}

fn json_body(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.text()))
}

#[test]
fn n_zero_lists_nothing_and_links_nowhere() {
    let (_site, server) = mirror();
    let base = server.url();
    let reply = http(
        "GET",
        &format!("{base}/v2/registry.test/library/alpha/tags/list?n=0"),
        &[],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("link"), None, "{}", reply.headers);
    assert_eq!(
        json_body(&reply),
        serde_json::json!({"name": "registry.test/library/alpha", "tags": []})
    );
    let reply = http("GET", &format!("{base}/v2/_catalog?n=0"), &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("link"), None, "{}", reply.headers);
    assert_eq!(json_body(&reply), serde_json::json!({"repositories": []}));
    // A page that stops short still links to the next one.
    let reply = http("GET", &format!("{base}/v2/_catalog?n=1"), &[]);
    assert_eq!(
        reply.header("link").as_deref(),
        Some("</v2/_catalog?n=1&last=registry.test/library/alpha>; rel=\"next\"")
    );
}

#[test]
fn a_sha512_digest_is_unknown_not_invalid() {
    let (_site, server) = mirror();
    let base = server.url();
    let sha512 = format!("sha512:{}", "0a".repeat(64));
    let repository = format!("{base}/v2/registry.test/library/alpha");
    for method in ["GET", "HEAD"] {
        let reply = http(method, &format!("{repository}/blobs/{sha512}"), &[]);
        assert_eq!(reply.status, 404, "{method}");
        assert_eq!(
            reply.header(API_VERSION).as_deref(),
            Some("registry/2.0"),
            "{method}"
        );
    }
    let reply = http("GET", &format!("{repository}/blobs/{sha512}"), &[]);
    assert_eq!(reply.error_code(), "BLOB_UNKNOWN");
    let reply = http("GET", &format!("{repository}/manifests/{sha512}"), &[]);
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
    // Malformed digests and unregistered algorithms stay invalid (400).
    for digest in [
        format!("sha512:{}", "0a".repeat(10)),
        format!("sha512:{}", "0A".repeat(64)),
        format!("md5:{}", "0".repeat(32)),
    ] {
        let reply = http("GET", &format!("{repository}/blobs/{digest}"), &[]);
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "DIGEST_INVALID"),
            "{digest}"
        );
    }
}

#[test]
fn the_referrers_api_never_answers_404() {
    let (site, server) = mirror();
    let base = server.url();
    let pinned = pinned_digest(site.work(), "edge.lock", "registry.test/library/alpha:1");
    let empty_index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
    for path in [
        format!("registry.test/nothing/here/referrers/{pinned}"),
        format!(
            "registry.test/library/alpha/referrers/sha256:{}",
            "0".repeat(64)
        ),
        format!(
            "registry.test/library/alpha/referrers/sha512:{}",
            "0".repeat(128)
        ),
        format!("nothing/referrers/{pinned}?ns=registry.test"),
    ] {
        let reply = http("GET", &format!("{base}/v2/{path}"), &[]);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        assert_eq!(reply.header("content-type").as_deref(), Some(OCI_INDEX));
        assert_eq!(json_body(&reply), empty_index, "{path}");
    }
    // An invalid digest is a bad request.
    let reply = http(
        "GET",
        &format!("{base}/v2/registry.test/library/alpha/referrers/sha256:xyz"),
        &[],
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (400, "DIGEST_INVALID")
    );
}

#[test]
fn every_error_carries_the_api_version_header() {
    let (_site, server) = mirror();
    let base = server.url();
    for (method, path, status) in [
        ("GET", "/v2/registry.test/nope/manifests/1", 404),
        ("HEAD", "/v2/registry.test/library/alpha/manifests/2", 404),
        (
            "GET",
            "/v2/registry.test/library/alpha/blobs/sha256:xyz",
            400,
        ),
        ("GET", "/v2/Upper/manifests/1", 400),
        ("GET", "/v2/registry.test/library/alpha/nonsense", 404),
        ("PUT", "/v2/registry.test/library/alpha/manifests/2", 405),
        ("GET", "/nothing-here", 404),
    ] {
        let reply = http(method, &format!("{base}{path}"), &[]);
        assert_eq!(reply.status, status, "{method} {path}");
        assert_eq!(
            reply.header(API_VERSION).as_deref(),
            Some("registry/2.0"),
            "{method} {path}"
        );
    }
}

#[test]
fn an_unsatisfiable_range_is_416_with_the_blob_size() {
    let (site, server) = mirror();
    let alpha = site.image("library/alpha:1");
    let layer = alpha.layer_digests()[0].clone();
    let size = std::fs::metadata(
        alpha
            .layout
            .join("blobs/sha256")
            .join(layer.trim_start_matches("sha256:")),
    )
    .unwrap()
    .len();
    let url = format!(
        "{}/v2/registry.test/library/alpha/blobs/{layer}",
        server.url()
    );
    for range in [
        format!("bytes={size}-"),
        format!("bytes={}-{}", size + 10, size + 20),
        "bytes=-0".to_string(),
    ] {
        let reply = http("GET", &url, &["-H", &format!("Range: {range}")]);
        assert_eq!(reply.status, 416, "{range}");
        assert_eq!(
            reply.header("content-range"),
            Some(format!("bytes */{size}")),
            "{range}"
        );
        assert_eq!(reply.header(API_VERSION).as_deref(), Some("registry/2.0"));
        // No JSON error: none of the spec's codes is about ranges, and the blob is known.
        assert_eq!(reply.error_code(), "", "{range}: {}", reply.text());
        assert_eq!(
            reply.text(),
            format!("range not satisfiable: the blob has {size} bytes\n")
        );
    }
}

#[test]
fn a_reference_outside_the_tag_grammar_names_no_manifest() {
    let (_site, server) = mirror();
    let base = server.url();
    for reference in ["-bad", ".hidden", &"t".repeat(129)] {
        for method in ["GET", "HEAD"] {
            let reply = http(
                method,
                &format!("{base}/v2/registry.test/library/alpha/manifests/{reference}"),
                &[],
            );
            assert_eq!(reply.status, 404, "{method} {reference}");
            if method == "GET" {
                assert_eq!(reply.error_code(), "MANIFEST_UNKNOWN", "{reference}");
            }
        }
    }
    // The name is checked first: an invalid name is NAME_INVALID whatever the tag.
    let reply = http("GET", &format!("{base}/v2/Upper/manifests/-bad"), &[]);
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (400, "NAME_INVALID")
    );
}
