//! The router as a whole, driven in memory: the layers every response goes through.

use super::catalog::Catalog;
use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use tower::ServiceExt;

async fn send(router: &Router, method: Method, uri: &str) -> Response {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("a valid request");
    router.clone().oneshot(request).await.expect("infallible")
}

fn api_version(response: &Response) -> Option<&str> {
    response
        .headers()
        .get("docker-distribution-api-version")
        .and_then(|value| value.to_str().ok())
}

async fn text(response: Response) -> String {
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

#[tokio::test]
async fn every_response_carries_the_api_version_errors_included() {
    let router = super::router(Catalog::new(Vec::new()), 8);
    for (method, uri, status) in [
        (Method::GET, "/v2/", StatusCode::OK),
        (Method::HEAD, "/v2", StatusCode::OK),
        (Method::GET, "/v2/_catalog", StatusCode::OK),
        (Method::GET, "/v2/a/manifests/1", StatusCode::NOT_FOUND),
        (Method::GET, "/v2/A/manifests/1", StatusCode::BAD_REQUEST),
        (Method::GET, "/v2/a/whatever", StatusCode::NOT_FOUND),
        (
            Method::PUT,
            "/v2/a/manifests/1",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::GET,
            "/v2/a/blobs/uploads/",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (Method::GET, "/files/nothing", StatusCode::NOT_FOUND),
        (Method::POST, "/apt/x", StatusCode::METHOD_NOT_ALLOWED),
        (Method::POST, "/rpm/x", StatusCode::METHOD_NOT_ALLOWED),
        (
            Method::PUT,
            "/charts/x/a-1.tgz",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (Method::GET, "/charts/", StatusCode::OK),
        (Method::GET, "/charts/x/../y", StatusCode::BAD_REQUEST),
        (Method::GET, "/nowhere", StatusCode::NOT_FOUND),
        (Method::GET, "/healthz", StatusCode::OK),
    ] {
        let response = send(&router, method.clone(), uri).await;
        assert_eq!(
            (response.status(), api_version(&response)),
            (status, Some("registry/2.0")),
            "{method} {uri}"
        );
    }
}

#[tokio::test]
async fn metrics_count_requests_by_the_route_their_path_parsed_to() {
    let router = super::router(Catalog::new(Vec::new()), 8);
    for (method, uri) in [
        (Method::GET, "/v2/"),
        (Method::GET, "/v2"),
        (Method::GET, "/v2/a/manifests/1"),
        (Method::GET, "/v2/a/blobs/uploads/1"),
        (Method::GET, "/v2/A/manifests/1"),
        (Method::DELETE, "/v2/a/manifests/1"),
        (Method::GET, "/files/x"),
        (Method::GET, "/apt/x"),
        (Method::GET, "/rpm/x/repodata/repomd.xml"),
        (Method::GET, "/charts/x/index.yaml"),
        (Method::GET, "/charts/"),
        (Method::GET, "/nowhere"),
    ] {
        send(&router, method, uri).await;
    }
    let metrics = text(send(&router, Method::GET, "/metrics").await).await;
    for line in [
        r#"outpost_requests_total{route="base",status="200"} 2"#,
        r#"outpost_requests_total{route="manifest",status="404"} 1"#,
        r#"outpost_requests_total{route="upload",status="405"} 1"#,
        r#"outpost_requests_total{route="other",status="400"} 1"#,
        r#"outpost_requests_total{route="write",status="405"} 1"#,
        r#"outpost_requests_total{route="files",status="404"} 1"#,
        r#"outpost_requests_total{route="apt",status="404"} 1"#,
        r#"outpost_requests_total{route="rpm",status="404"} 1"#,
        r#"outpost_requests_total{route="charts",status="404"} 1"#,
        r#"outpost_requests_total{route="charts",status="200"} 1"#,
        r#"outpost_requests_total{route="other",status="404"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn healthz_is_json_naming_the_releases_served() {
    let router = super::router(Catalog::new(Vec::new()), 8);
    let response = send(&router, Method::GET, "/healthz").await;
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body: serde_json::Value = serde_json::from_str(&text(response).await).expect("JSON body");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["releases"], serde_json::json!([]));
    assert!(body["uptime_seconds"].is_u64(), "{body}");
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["status", "releases", "uptime_seconds"]);
}

#[tokio::test]
async fn the_dashboard_answers_html_and_is_off_with_ui_false() {
    let router = super::router(Catalog::new(Vec::new()), 8);
    let index = send(&router, Method::GET, "/ui/?q=%3Cscript%3E&page=x").await;
    assert_eq!(index.status(), StatusCode::OK);
    assert_eq!(
        index.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"text/html; charset=utf-8"[..])
    );
    let body = text(index).await;
    assert!(body.contains("Releases served") && !body.contains("<script>"));
    let health = send(&router, Method::GET, "/ui/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(text(health).await.contains("<td>ui</td>"));
    let unknown = send(&router, Method::GET, "/ui/release/none/1").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        send(&router, Method::GET, "/ui").await.status(),
        StatusCode::PERMANENT_REDIRECT
    );

    let off = super::router_for(
        super::state::AppState::new(Catalog::new(Vec::new())),
        8,
        false,
        None,
    );
    assert_eq!(
        send(&off, Method::GET, "/ui/").await.status(),
        StatusCode::NOT_FOUND
    );
}
