//! `/charts/…` over HTTP: the site chart repositories `charts` builds, as Helm, Argo CD and
//! Flux read a classic chart repository (`helm repo add site <mirror>/charts/<repository>`
//! fetches `index.yaml`, then each chart's URL relative to it). `GET /charts/` lists the
//! repositories (JSON), `/charts/<repository>/` the files of one (JSON),
//! `/charts/<repository>/index.yaml` is its index, and `/charts/<repository>/<name>-<version>.tgz`
//! (and `.tgz.prov`) the chart's bytes, sent like every blob (hashed on the way, one byte
//! range when asked). Paths are decoded and checked once, as the file mirror's are. Only GET
//! and HEAD are routed.

use super::access::RouteLabel;
use super::audit::AuditTarget;
use super::blob;
use super::charts::SiteRepository;
use super::error::OciError;
use super::mirror::{parse_file_path, FileRequest};
use super::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// Content type of a chart archive (RFC 6713).
pub const TGZ_CONTENT_TYPE: &str = "application/gzip";
/// Content type of `index.yaml` (RFC 9512).
pub const INDEX_CONTENT_TYPE: &str = "application/yaml";

/// GET and HEAD on `/charts…`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/charts", get(charts_route))
        .route("/charts/", get(charts_route))
        .route("/charts/{*path}", get(charts_route))
}

/// What a `/charts/…` path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartRequest {
    /// `/charts/`: the repositories.
    Repositories,
    /// `/charts/<repository>/`: its files.
    Repository(String),
    /// `/charts/<repository>/index.yaml`.
    Index(String),
    /// `/charts/<repository>/<file>`: a chart or provenance file.
    File { repository: String, file: String },
    /// Anything deeper: nothing is there.
    Unknown(String),
}

/// Parses the part after `/charts/`: percent-decoded once and checked as the file mirror's
/// paths are (`..`, `.`, empty segments, backslashes, double-encoded separators refused).
pub fn parse_chart_path(raw: &str) -> Result<ChartRequest, super::mirror::FilePathError> {
    let path = match parse_file_path(raw)? {
        FileRequest::Directory(path) | FileRequest::Entry(path) => path,
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    Ok(match segments.as_slice() {
        [] => ChartRequest::Repositories,
        [repository] => ChartRequest::Repository(repository.to_string()),
        [repository, "index.yaml"] => ChartRequest::Index(repository.to_string()),
        [repository, file] => ChartRequest::File {
            repository: repository.to_string(),
            file: file.to_string(),
        },
        _ => ChartRequest::Unknown(path.clone()),
    })
}

async fn charts_route(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let raw = uri
        .path()
        .strip_prefix("/charts")
        .map(|rest| rest.strip_prefix('/').unwrap_or(rest))
        .unwrap_or("");
    let response = handle(&state, raw, &headers, method == Method::HEAD).await;
    AuditTarget::path(raw).on(RouteLabel::CHARTS.on(response))
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    OciError::new(status, code, message).into_response()
}

fn json(value: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(&value).unwrap_or_default(),
    )
        .into_response()
}

async fn handle(state: &AppState, raw: &str, headers: &HeaderMap, head: bool) -> Response {
    let catalog = state.catalog();
    let charts = catalog.charts();
    let request = match parse_chart_path(raw) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PATH_INVALID", e.to_string()),
    };
    let no_repository = |name: &str| {
        error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no chart repository {name} in the served bundles"),
        )
    };
    match request {
        ChartRequest::Repositories => {
            let listed: Vec<serde_json::Value> = charts
                .repositories
                .iter()
                .map(|(name, site)| {
                    serde_json::json!({
                        "name": name,
                        "index": format!("{name}/index.yaml"),
                        "charts": site.charts.len(),
                    })
                })
                .collect();
            json(serde_json::json!({ "repositories": listed }))
        }
        ChartRequest::Repository(name) => match charts.get(&name) {
            Some(site) => json(serde_json::json!({
                "repository": name,
                "index": "index.yaml",
                "files": files(site),
            })),
            None => no_repository(&name),
        },
        ChartRequest::Index(name) => match charts.get(&name) {
            Some(site) => (
                [(header::CONTENT_TYPE, INDEX_CONTENT_TYPE)],
                site.index_yaml.as_ref().clone(),
            )
                .into_response(),
            None => no_repository(&name),
        },
        ChartRequest::File { repository, file } => {
            let Some(site) = charts.get(&repository) else {
                return no_repository(&repository);
            };
            let Some((source, digest, provenance)) = site.file(&file) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    format!("no file {file} in chart repository {repository}"),
                );
            };
            let sent = blob::send(
                source,
                digest,
                headers,
                head,
                &state.metrics,
                &state.verified_blobs,
            )
            .await;
            match sent {
                Ok(mut response) => {
                    if !provenance {
                        response.headers_mut().insert(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static(TGZ_CONTENT_TYPE),
                        );
                    }
                    response
                }
                Err(e) => e.into_response(),
            }
        }
        ChartRequest::Unknown(path) => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no {path} under /charts/: ask for /charts/<repository>/index.yaml"),
        ),
    }
}

/// The file names of a repository: each chart's `.tgz`, and its `.tgz.prov` when it has one.
fn files(site: &SiteRepository) -> Vec<String> {
    let mut names = Vec::new();
    for chart in site.charts.values() {
        names.push(chart.file_name());
        if chart.provenance.is_some() {
            names.push(format!("{}.prov", chart.file_name()));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_paths() {
        assert_eq!(parse_chart_path(""), Ok(ChartRequest::Repositories));
        assert_eq!(
            parse_chart_path("stable/"),
            Ok(ChartRequest::Repository("stable".into()))
        );
        assert_eq!(
            parse_chart_path("stable"),
            Ok(ChartRequest::Repository("stable".into()))
        );
        assert_eq!(
            parse_chart_path("stable/index.yaml"),
            Ok(ChartRequest::Index("stable".into()))
        );
        // A SemVer `+` arrives as itself or percent-encoded; both name the same file.
        for raw in ["stable/demo-1.0.0+b.1.tgz", "stable/demo-1.0.0%2Bb.1.tgz"] {
            assert_eq!(
                parse_chart_path(raw),
                Ok(ChartRequest::File {
                    repository: "stable".into(),
                    file: "demo-1.0.0+b.1.tgz".into()
                }),
                "{raw}"
            );
        }
        assert_eq!(
            parse_chart_path("stable/x/y.tgz"),
            Ok(ChartRequest::Unknown("stable/x/y.tgz".into()))
        );
        for bad in [
            "../etc",
            "stable/../x",
            "%2e%2e/index.yaml",
            "a\\b",
            "stable//x",
        ] {
            assert!(parse_chart_path(bad).is_err(), "{bad}");
        }
    }
}
