//! The OCI distribution pull API (`/v2/…`) over a [`Catalog`]: thin handlers that parse the
//! request path once with `path::parse`, ask the catalog, and send stored bytes unchanged.
//! Only GET and HEAD are routed. Blob bytes go out through `blob`.

use super::access::RouteLabel;
use super::audit::AuditTarget;
use super::auth::RepositoryFilter;
use super::blob::{self, DIGEST_HEADER};
use super::catalog::{Catalog, NameError};
use super::conditional;
use super::error::OciError;
use super::path::{self, PathDigest, PathError, Reference, Route};
use super::state::AppState;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

const API_VERSION_HEADER: &str = "docker-distribution-api-version";
/// Page size when a client asks for more than this (or gives no `n` and the list is long).
const MAX_PAGE: usize = 1000;

/// GET and HEAD on `/v2`, `/v2/` and everything below.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2", get(handle))
        .route("/v2/", get(handle))
        .route("/v2/{*rest}", get(handle))
}

/// Marks every response (errors included) with the distribution API version, as clients
/// expect from a registry.
pub async fn api_version_header(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(API_VERSION_HEADER, HeaderValue::from_static("registry/2.0"));
    response
}

/// Answers a GET or HEAD under `/v2`, labelled with the route its path parsed to.
async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    filter: Option<Extension<RepositoryFilter>>,
) -> Response {
    let path = uri.path();
    let rest = path
        .strip_prefix("/v2/")
        .or_else(|| path.strip_prefix("/v2"))
        .unwrap_or("");
    let route = match path::parse(rest) {
        Ok(route) => route,
        Err(e) => return RouteLabel::OTHER.on(path_error(e).into_response()),
    };
    let label = RouteLabel(route.label());
    let query = parse_query(uri.query());
    let head = method == Method::HEAD;
    let catalog = state.catalog();
    let target = audit_target(&catalog, &route, &query);
    let result = match route {
        Route::Base => Ok((StatusCode::OK, Json("{}".into())).into_response()),
        Route::Catalog => catalog_page(&catalog, &query, filter.map(|f| f.0)),
        Route::Tags { name } => tags_page(&catalog, &name, &query),
        Route::Manifest { name, reference } => {
            manifest(&catalog, &name, &query, &reference, &headers, head)
        }
        Route::Blob { name, digest } => {
            blob(&state, &catalog, &name, &query, &digest, &headers, head).await
        }
        Route::Referrers { name, digest } => referrers(&catalog, &name, &query, &digest),
        Route::Upload { .. } => Err(OciError::read_only()),
    };
    let response = label.on(result.unwrap_or_else(IntoResponse::into_response));
    target.resolved(response)
}

/// What the audit log records of `route`: the repository (its full name when the catalog
/// knows it) and the tag or digest asked for.
fn audit_target(catalog: &Catalog, route: &Route, query: &HashMap<String, String>) -> AuditTarget {
    let (name, reference) = match route {
        Route::Manifest { name, reference } => (
            name,
            Some(match reference {
                Reference::Tag(tag) => tag.clone(),
                Reference::Digest(digest) => digest.to_string(),
            }),
        ),
        Route::Blob { name, digest } | Route::Referrers { name, digest } => {
            (name, Some(digest.to_string()))
        }
        Route::Tags { name } | Route::Upload { name, .. } => (name, None),
        Route::Base | Route::Catalog => return AuditTarget::default(),
    };
    let repository = catalog
        .resolve_name(name, query.get("ns").map(String::as_str))
        .map(str::to_string)
        .unwrap_or_else(|_| name.clone());
    AuditTarget {
        repository: Some(repository),
        reference,
        digest: None,
    }
}

impl AuditTarget {
    /// This target on `response`, with the digest it answered (its `Docker-Content-Digest`).
    fn resolved(mut self, response: Response) -> Response {
        self.digest = response
            .headers()
            .get(DIGEST_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        self.on(response)
    }
}

/// A JSON body with the right content type.
struct Json(String);

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

fn path_error(error: PathError) -> OciError {
    let status = if error.is_not_found() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    };
    OciError::new(status, error.code(), error.to_string())
}

fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn resolve<'a>(
    catalog: &'a Catalog,
    name: &str,
    query: &HashMap<String, String>,
) -> Result<&'a str, OciError> {
    catalog
        .resolve_name(name, query.get("ns").map(String::as_str))
        .map_err(|e| name_error(name, e, StatusCode::NOT_FOUND, "NAME_UNKNOWN"))
}

fn name_error(name: &str, error: NameError, status: StatusCode, code: &'static str) -> OciError {
    let detail = match &error {
        NameError::Ambiguous(candidates) => {
            serde_json::json!({"name": name, "candidates": candidates})
        }
        NameError::Unknown => serde_json::json!({"name": name}),
    };
    OciError::new(status, code, error.to_string()).with_detail(detail)
}

/// `n` and `last` pagination over a sorted set, walked in place from `last` (no copy of the
/// whole list per request); returns the page (at most [`MAX_PAGE`] names) and whether to link
/// to the next one. `n=0` asks for an empty list and, by the spec, never gets a `Link` (a
/// client following it would loop).
fn paginate<V>(
    items: &std::collections::BTreeMap<String, V>,
    query: &HashMap<String, String>,
    keep: impl Fn(&str) -> bool,
) -> Result<(Vec<String>, bool), OciError> {
    use std::ops::Bound;
    let limit = match query.get("n") {
        Some(n) => n
            .parse::<usize>()
            .map_err(|_| {
                OciError::new(
                    StatusCode::BAD_REQUEST,
                    "PAGINATION_NUMBER_INVALID",
                    "n must be a number",
                )
            })?
            .min(MAX_PAGE),
        None => MAX_PAGE,
    };
    let start = match query.get("last") {
        Some(last) => Bound::Excluded(last.as_str()),
        None => Bound::Unbounded,
    };
    let mut rest = items
        .range::<str, _>((start, Bound::Unbounded))
        .map(|(k, _)| k)
        .filter(|k| keep(k));
    let page: Vec<String> = rest.by_ref().take(limit).cloned().collect();
    Ok((page, limit > 0 && rest.next().is_some()))
}

fn page_response(body: serde_json::Value, more: Option<String>) -> Response {
    let mut response = Json(body.to_string()).into_response();
    if let Some(link) = more.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

/// `/v2/_catalog`: with `--auth`, only the repositories the caller may pull (filtered as the
/// page is walked, in place).
fn catalog_page(
    catalog: &Catalog,
    query: &HashMap<String, String>,
    filter: Option<RepositoryFilter>,
) -> Result<Response, OciError> {
    let keep = |name: &str| filter.as_ref().is_none_or(|f| (f.0)(name));
    let (page, more) = paginate(catalog.repositories(), query, keep)?;
    let link = more.then(|| {
        let last = page.last().cloned().unwrap_or_default();
        format!("</v2/_catalog?n={}&last={last}>; rel=\"next\"", page.len())
    });
    Ok(page_response(
        serde_json::json!({"repositories": page}),
        link,
    ))
}

fn tags_page(
    catalog: &Catalog,
    name: &str,
    query: &HashMap<String, String>,
) -> Result<Response, OciError> {
    let full = resolve(catalog, name, query)?;
    let none = std::collections::BTreeMap::new();
    let tags = catalog.repository(full).map(|r| &r.tags).unwrap_or(&none);
    let (page, more) = paginate(tags, query, |_| true)?;
    let link = more.then(|| {
        let last = page.last().cloned().unwrap_or_default();
        format!(
            "</v2/{name}/tags/list?n={}&last={last}>; rel=\"next\"",
            page.len()
        )
    });
    Ok(page_response(
        serde_json::json!({"name": name, "tags": page}),
        link,
    ))
}

fn manifest(
    catalog: &Catalog,
    name: &str,
    query: &HashMap<String, String>,
    reference: &Reference,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, OciError> {
    let full = resolve(catalog, name, query)?;
    let found = catalog.manifest(full, reference).ok_or_else(|| {
        let shown = match reference {
            Reference::Tag(t) => t.clone(),
            Reference::Digest(d) => d.to_string(),
        };
        OciError::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown to this registry",
        )
        .with_detail(serde_json::json!({"name": name, "reference": shown}))
    })?;
    if conditional::matches(headers, &found.digest) {
        return Ok(conditional::not_modified(&found.digest));
    }
    let mut response = if head {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(found.bytes.clone()))
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(found.bytes.len()));
    if let Ok(value) = HeaderValue::from_str(&found.media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&found.digest.to_string()) {
        headers.insert(DIGEST_HEADER, value.clone());
        if let Ok(etag) = HeaderValue::from_str(&conditional::etag(&found.digest)) {
            headers.insert(header::ETAG, etag);
        }
    }
    Ok(response)
}

/// The referrers of `digest`: always an index (200), empty when nothing here refers to it. A
/// registry with the referrers API must not answer 404 (distribution spec 1.1, "Listing
/// Referrers"), so an unknown repository or a digest never held has no referrers; a short
/// name matching several repositories is a bad request (400) naming them.
fn referrers(
    catalog: &Catalog,
    name: &str,
    query: &HashMap<String, String>,
    digest: &PathDigest,
) -> Result<Response, OciError> {
    let artifact_type = query.get("artifactType").map(String::as_str);
    let manifests = match catalog.resolve_name(name, query.get("ns").map(String::as_str)) {
        Ok(full) => digest
            .held()
            .map(|digest| catalog.referrers(full, digest, artifact_type))
            .unwrap_or_default(),
        Err(NameError::Unknown) => Vec::new(),
        Err(e) => return Err(name_error(name, e, StatusCode::BAD_REQUEST, "NAME_INVALID")),
    };
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::oci::OCI_INDEX,
        "manifests": manifests,
    });
    let mut response = (
        [(header::CONTENT_TYPE, crate::oci::OCI_INDEX)],
        body.to_string(),
    )
        .into_response();
    if artifact_type.is_some() {
        response.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(response)
}

async fn blob(
    state: &AppState,
    catalog: &Catalog,
    name: &str,
    query: &HashMap<String, String>,
    digest: &PathDigest,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, OciError> {
    let full = resolve(catalog, name, query)?;
    let held = digest.held();
    let source = held.and_then(|d| catalog.blob(full, d));
    let (Some(source), Some(digest)) = (source, held) else {
        return Err(OciError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to this registry",
        )
        .with_detail(serde_json::json!({"name": name, "digest": digest.to_string()})));
    };
    let (metrics, verified) = (&state.metrics, &state.verified_blobs);
    blob::send(&source, digest, headers, head, metrics, verified).await
}
