//! The OCI distribution pull API over a [`Catalog`]: thin handlers that parse the request
//! with `path::parse`, ask the catalog, and send stored bytes unchanged.

use super::catalog::{BlobSource, Catalog, NameError};
use super::error::OciError;
use super::path::{self, PathError, Reference, Route};
use super::range::{self, RangeAnswer};
use super::Metrics;
use crate::digest::Digest;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

const API_VERSION_HEADER: &str = "docker-distribution-api-version";
const DIGEST_HEADER: &str = "docker-content-digest";
/// Page size when a client asks for more than this (or gives no `n` and the list is long).
const MAX_PAGE: usize = 1000;

/// Handles every `/v2/…` request.
pub async fn handle(
    catalog: &Catalog,
    metrics: &Arc<Metrics>,
    method: &Method,
    rest: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let route = match path::parse(rest) {
        Ok(route) => route,
        Err(e) => return path_error(e).into_response(),
    };
    let readonly = method == Method::GET || method == Method::HEAD;
    if !readonly || matches!(route, Route::Upload { .. }) {
        return OciError::read_only().into_response();
    }
    let query = parse_query(query);
    let head = method == Method::HEAD;
    let result = match route {
        Route::Base => Ok(with_api_header(
            (StatusCode::OK, Json("{}".into())).into_response(),
        )),
        Route::Catalog => catalog_page(catalog, &query),
        Route::Tags { name } => tags_page(catalog, &name, &query),
        Route::Manifest { name, reference } => manifest(catalog, &name, &query, &reference, head),
        Route::Blob { name, digest } => {
            blob(catalog, metrics, &name, &query, &digest, headers, head).await
        }
        Route::Referrers { name, digest } => referrers(catalog, &name, &query, &digest),
        Route::Upload { .. } => Err(OciError::read_only()),
    };
    match result {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// A JSON body with the right content type.
struct Json(String);

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

fn with_api_header(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(API_VERSION_HEADER, HeaderValue::from_static("registry/2.0"));
    response
}

fn path_error(error: PathError) -> OciError {
    let status = match error {
        PathError::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
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
        .map_err(|e| {
            let detail = match &e {
                NameError::Ambiguous(candidates) => {
                    serde_json::json!({"name": name, "candidates": candidates})
                }
                NameError::Unknown => serde_json::json!({"name": name}),
            };
            OciError::new(StatusCode::NOT_FOUND, "NAME_UNKNOWN", e.to_string()).with_detail(detail)
        })
}

/// `n` and `last` pagination over a sorted list; returns the page and whether more follow.
fn paginate<'a>(
    items: &'a [String],
    query: &HashMap<String, String>,
) -> Result<(&'a [String], bool), OciError> {
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
        Some(last) => items.partition_point(|item| item.as_str() <= last.as_str()),
        None => 0,
    };
    let end = (start + limit).min(items.len());
    Ok((&items[start..end], end < items.len()))
}

fn page_response(body: serde_json::Value, more: Option<String>) -> Response {
    let mut response = Json(body.to_string()).into_response();
    if let Some(link) = more.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    with_api_header(response)
}

fn catalog_page(catalog: &Catalog, query: &HashMap<String, String>) -> Result<Response, OciError> {
    let names: Vec<String> = catalog.repository_names().cloned().collect();
    let (page, more) = paginate(&names, query)?;
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
    let tags: Vec<String> = catalog
        .repository(full)
        .map(|r| r.tags.keys().cloned().collect())
        .unwrap_or_default();
    let (page, more) = paginate(&tags, query)?;
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
    let mut response = if head {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(found.bytes.as_ref().clone()))
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(found.bytes.len()));
    if let Ok(value) = HeaderValue::from_str(&found.media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&found.digest.to_string()) {
        headers.insert(DIGEST_HEADER, value.clone());
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", found.digest)) {
            headers.insert(header::ETAG, etag);
        }
    }
    Ok(with_api_header(response))
}

fn referrers(
    catalog: &Catalog,
    name: &str,
    query: &HashMap<String, String>,
    digest: &Digest,
) -> Result<Response, OciError> {
    let full = resolve(catalog, name, query)?;
    let artifact_type = query.get("artifactType").map(String::as_str);
    let manifests = catalog.referrers(full, digest, artifact_type);
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
    Ok(with_api_header(response))
}

async fn blob(
    catalog: &Catalog,
    metrics: &Arc<Metrics>,
    name: &str,
    query: &HashMap<String, String>,
    digest: &Digest,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, OciError> {
    let full = resolve(catalog, name, query)?;
    let source = catalog.blob(full, digest).ok_or_else(|| {
        OciError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to this registry",
        )
        .with_detail(serde_json::json!({"name": name, "digest": digest.to_string()}))
    })?;
    send_blob(
        &source,
        digest,
        headers,
        head,
        metrics,
        "application/octet-stream",
    )
    .await
}

/// Sends blob or file bytes from a bundle: whole (hashed on the way) or one range.
pub(super) async fn send_blob(
    source: &BlobSource,
    digest: &Digest,
    headers: &HeaderMap,
    head: bool,
    metrics: &Arc<Metrics>,
    content_type: &'static str,
) -> Result<Response, OciError> {
    let size = source.location.size;
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let answer = range::answer(range_header, size);
    let (status, start, length) = match answer {
        RangeAnswer::Full => (StatusCode::OK, 0, size),
        RangeAnswer::Partial { start, end } => {
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeAnswer::Unsatisfiable => {
            let mut response = OciError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UNKNOWN",
                format!("the range is outside the blob ({size} bytes)"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let body = if head {
        Body::empty()
    } else {
        let verify = (answer == RangeAnswer::Full).then(|| digest.clone());
        Body::from_stream(open_stream(source, start, length, verify, metrics.clone()).await?)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&digest.to_string()) {
        out.insert(DIGEST_HEADER, value);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{digest}\"")) {
        out.insert(header::ETAG, etag);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(value) =
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + length - 1))
        {
            out.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(with_api_header(response))
}

async fn open_stream(
    source: &BlobSource,
    start: u64,
    length: u64,
    verify: Option<Digest>,
    metrics: Arc<Metrics>,
) -> Result<BlobStream, OciError> {
    let unavailable = |e: std::io::Error| {
        tracing::error!(bundle = %source.path.display(), error = %e, "cannot read bundle");
        OciError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "the bundle cannot be read",
        )
    };
    // Read through the handle opened at start: a bundle replaced at its path does not
    // change what is served, and one rewritten in place (new length) is refused.
    let (file, base) = source
        .backing
        .open_blob(&source.digest, source.location)
        .map_err(|e| unavailable(std::io::Error::other(e)))?;
    file.check_unchanged().map_err(unavailable)?;
    // A blob already verified in this very file (same inode and modification time) is not
    // hashed again: every byte is hashed once per version of the bundle file, and a bundle
    // damaged through the filesystem after that is hashed, and caught, anew.
    let version = file.version().ok();
    let key = version.map(|v| {
        (
            verify.clone(),
            source.path.clone(),
            source.location.offset,
            v,
        )
    });
    let verify = match (&key, verify) {
        (Some((Some(digest), path, offset, version)), Some(_)) => {
            let known = metrics
                .verified_blobs
                .lock()
                .is_ok_and(|set| set.contains(&(digest.clone(), path.clone(), *offset, *version)));
            (!known).then(|| digest.clone())
        }
        (_, verify) => verify,
    };
    let first = base + start;
    let end = first + length;
    let chunks = futures::stream::unfold(first, move |position| {
        let file = file.clone();
        async move {
            if position >= end {
                return None;
            }
            let size = (end - position).min(1 << 20) as usize;
            // The buffer is allocated here, on a runtime thread, not in the blocking pool:
            // allocations made on its many threads inflate the process's memory (one malloc
            // arena per thread).
            let mut buf = vec![0u8; size];
            let read = tokio::task::spawn_blocking(move || {
                file.read_exact_at(&mut buf, position)
                    .map(|_| Bytes::from(buf))
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            match read {
                Ok(bytes) => Some((Ok(bytes), position + size as u64)),
                Err(e) => Some((Err(e), end)),
            }
        }
    });
    Ok(BlobStream {
        inner: Box::pin(chunks),
        hasher: verify.map(|digest| (Sha256::new(), digest)),
        held: None,
        metrics,
        done: false,
        remember: key.map(|(_, path, offset, version)| (path, offset, version)),
    })
}

/// Streams blob bytes from the bundle. When the whole blob is sent it is hashed on the way,
/// and the last chunk is held back until the digest is confirmed: a blob damaged on disk
/// makes the response fail short of its Content-Length, so no client accepts it.
struct BlobStream {
    inner: futures::stream::BoxStream<'static, std::io::Result<Bytes>>,
    hasher: Option<(Sha256, Digest)>,
    held: Option<Bytes>,
    metrics: Arc<Metrics>,
    done: bool,
    /// Where the blob lies (bundle, offset, file version): recorded once its digest held.
    remember: Option<(std::path::PathBuf, u64, FileVersion)>,
}

/// Identifies one version of a bundle's files (inodes and modification times).
pub type FileVersion = u64;

impl Stream for BlobStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    this.metrics
                        .bytes_served
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    let Some((hasher, _)) = this.hasher.as_mut() else {
                        return Poll::Ready(Some(Ok(chunk)));
                    };
                    hasher.update(&chunk);
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(None) => {
                    this.done = true;
                    let Some((hasher, expected)) = this.hasher.take() else {
                        return Poll::Ready(None);
                    };
                    let actual = Digest::from_hasher(hasher);
                    if actual != expected {
                        this.metrics.damaged_blobs.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(digest = %expected, actual = %actual, "blob is damaged on disk; response aborted (run `outpost bundle verify`)");
                        return Poll::Ready(Some(Err(std::io::Error::other(format!(
                            "blob {expected} is damaged on disk"
                        )))));
                    }
                    if let (Some((path, offset, version)), Ok(mut set)) =
                        (this.remember.take(), this.metrics.verified_blobs.lock())
                    {
                        set.insert((expected, path, offset, version));
                    }
                    return Poll::Ready(this.held.take().map(Ok));
                }
            }
        }
    }
}
