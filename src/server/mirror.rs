//! `/files/<upstream host>/<upstream path>`: the binary mirror in upstream layout, with
//! `.sha256` sidecars and browsable directory pages. Paths are checked by a pure function:
//! decoded once, then `..`, `.`, empty segments, backslashes and double encoding of a
//! separator are refused; any other `%` left after decoding is part of a name.
//! `/apt/<repo>/…` answers from the same files: the generated apt repositories are files
//! under `apt/<repo>/`; `/rpm/<repo>/…` likewise for the dnf repositories under
//! `rpm/<repo>/`. Only GET and HEAD are routed.

use super::access::RouteLabel;
use super::audit::AuditTarget;
use super::blob;
use super::catalog::Catalog;
use super::error::OciError;
use super::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// GET and HEAD on `/files…`, `/apt…` and `/rpm…`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/files", get(files_route))
        .route("/files/", get(files_route))
        .route("/files/{*path}", get(files_route))
        .route("/apt", get(apt_route))
        .route("/apt/", get(apt_route))
        .route("/apt/{*path}", get(apt_route))
        .route("/rpm", get(rpm_route))
        .route("/rpm/", get(rpm_route))
        .route("/rpm/{*path}", get(rpm_route))
}

async fn files_route(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let raw = below(uri.path(), "/files");
    let response = handle(&state, raw, &headers, method == Method::HEAD).await;
    AuditTarget::path(raw).on(RouteLabel::FILES.on(response))
}

/// `/apt/<repo>/…` is the mirror path `apt/<repo>/…`.
async fn apt_route(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let raw = format!("apt/{}", below(uri.path(), "/apt"));
    let response = handle(&state, &raw, &headers, method == Method::HEAD).await;
    AuditTarget::path(&raw).on(RouteLabel::APT.on(response))
}

/// `/rpm/<repo>/…` is the mirror path `rpm/<repo>/…`.
async fn rpm_route(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let raw = format!("rpm/{}", below(uri.path(), "/rpm"));
    let response = handle(&state, &raw, &headers, method == Method::HEAD).await;
    AuditTarget::path(&raw).on(RouteLabel::RPM.on(response))
}

/// What follows `area` (and its slash) in `path`.
fn below<'a>(path: &'a str, area: &str) -> &'a str {
    path.strip_prefix(area)
        .map(|rest| rest.strip_prefix('/').unwrap_or(rest))
        .unwrap_or("")
}

/// What a `/files/…` path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRequest {
    /// A directory page (`""` is the root).
    Directory(String),
    /// A file or sidecar path.
    Entry(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad file path: {0}")]
pub struct FilePathError(pub &'static str);

/// Decodes `%XX` escapes once (apt asks for `…1%2bb2_amd64.deb`).
pub(crate) fn percent_decode(raw: &str) -> Result<String, FilePathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Exactly two hex digits (`from_str_radix` alone would take `%+a`).
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let byte = hex.ok_or(FilePathError("malformed percent-encoding"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| FilePathError("the path is not UTF-8"))
}

/// Parses the part after `/files/` (or `/apt/`): percent-decoded once, then checked. A `%`
/// left after decoding is part of the name (apt asks for a pool file named `a%2bb.deb` as
/// `a%252bb.deb`), except where it would spell `.`, `/`, `\` or NUL if decoded again:
/// that is double encoding aimed at a path check, and refused.
pub fn parse_file_path(raw: &str) -> Result<FileRequest, FilePathError> {
    let decoded = percent_decode(raw)?;
    let raw = decoded.as_str();
    if double_encoded_separator(raw) {
        return Err(FilePathError(
            "double percent-encoding of `.`, `/`, `\\` or NUL is not served",
        ));
    }
    if raw.contains('\\') || raw.contains('\0') {
        return Err(FilePathError("backslashes and NUL are not allowed"));
    }
    if raw.len() > 4096 {
        return Err(FilePathError("path too long"));
    }
    let (body, is_dir) = match raw.strip_suffix('/') {
        Some(body) => (body, true),
        None => (raw, raw.is_empty()),
    };
    if !body.is_empty()
        && body
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(FilePathError(
            "`.`, `..` and empty segments are not allowed",
        ));
    }
    Ok(if is_dir {
        FileRequest::Directory(body.to_string())
    } else {
        FileRequest::Entry(body.to_string())
    })
}

/// Whether a decoded path still holds `%2e`, `%2f`, `%5c` or `%00` (any case).
fn double_encoded_separator(decoded: &str) -> bool {
    decoded.as_bytes().windows(3).any(|window| {
        window[0] == b'%'
            && matches!(
                window[1..].to_ascii_lowercase().as_slice(),
                b"2e" | b"2f" | b"5c" | b"00"
            )
    })
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    OciError::new(status, code, message).into_response()
}

/// Answers a GET (or HEAD) for the mirror path `raw`.
async fn handle(state: &AppState, raw: &str, headers: &HeaderMap, head: bool) -> Response {
    let catalog = state.catalog();
    let catalog = catalog.as_ref();
    let request = match parse_file_path(raw) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PATH_INVALID", e.to_string()),
    };
    match request {
        FileRequest::Directory(dir) => directory(catalog, &dir),
        FileRequest::Entry(path) => {
            if let Some(file) = catalog.files().get(&path) {
                let (metrics, verified) = (&state.metrics, &state.verified_blobs);
                return match blob::send(
                    &file.source,
                    &file.digest,
                    headers,
                    head,
                    metrics,
                    verified,
                )
                .await
                {
                    Ok(response) => response,
                    Err(e) => e.into_response(),
                };
            }
            if let Some(base) = path.strip_suffix(".sha256") {
                if let Some(file) = catalog.files().get(base) {
                    let name = base.rsplit('/').next().unwrap_or(base);
                    let body = format!("{}  {name}\n", file.digest.hex());
                    return ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
                        .into_response();
                }
            }
            if catalog
                .files()
                .keys()
                .any(|p| p.starts_with(&format!("{path}/")))
            {
                return directory(catalog, &path);
            }
            error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("no file {path} in the served bundles"),
            )
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An HTML page listing what is directly below `dir`.
fn directory(catalog: &Catalog, dir: &str) -> Response {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut entries: Vec<(String, Option<u64>)> = Vec::new();
    for (path, file) in catalog.files().range(prefix.clone()..) {
        let Some(rest) = path.strip_prefix(&prefix) else {
            break;
        };
        match rest.split_once('/') {
            Some((subdir, _)) => {
                let name = format!("{subdir}/");
                if entries.last().map(|e| &e.0) != Some(&name) {
                    entries.push((name, None));
                }
            }
            None => entries.push((rest.to_string(), Some(file.source.location.size))),
        }
    }
    if entries.is_empty() && !dir.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no directory {dir} in the served bundles"),
        );
    }
    let title = format!("/files/{prefix}");
    let mut html = format!("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head><body>\n<h1>{0}</h1>\n<ul>\n", escape(&title));
    if !dir.is_empty() {
        html.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (name, size) in &entries {
        let href = escape(name);
        match size {
            Some(size) => html.push_str(&format!(
                "<li><a href=\"{href}\">{href}</a> ({size} bytes, <a href=\"{href}.sha256\">sha256</a>)</li>\n"
            )),
            None => html.push_str(&format!("<li><a href=\"{href}\">{href}</a></li>\n")),
        }
    }
    html.push_str("</ul>\n</body></html>\n");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths() {
        assert_eq!(
            parse_file_path(""),
            Ok(FileRequest::Directory(String::new()))
        );
        assert_eq!(
            parse_file_path("dl.k8s.io/"),
            Ok(FileRequest::Directory("dl.k8s.io".into()))
        );
        assert_eq!(
            parse_file_path("dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet"),
            Ok(FileRequest::Entry(
                "dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet".into()
            ))
        );
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "a//b",
            "./a",
            "%2e%2e/etc",
            "a/%252e%252e/b",
            "a\\..\\b",
            "a/./b",
        ] {
            assert!(parse_file_path(bad).is_err(), "{bad}");
        }
    }

    /// apt encodes `+`, `~`, `%` and spaces in pool names (`a%2bb` for `a+b`, `%25` for a
    /// literal `%`); each is decoded once into the name the archive listed.
    #[test]
    fn pool_names_are_decoded_once_as_apt_encoded_them() {
        for (asked, name) in [
            (
                "apt/t/pool/plusy_1.2%2bdfsg-1%7ebpo1_all.deb",
                "apt/t/pool/plusy_1.2+dfsg-1~bpo1_all.deb",
            ),
            (
                "apt/t/pool/pct%252bname_1.0_all.deb",
                "apt/t/pool/pct%2bname_1.0_all.deb",
            ),
            (
                "apt/t/pool/sp%20ace_1.0_all.deb",
                "apt/t/pool/sp ace_1.0_all.deb",
            ),
            (
                "apt/t/pool/100%25_1.0_all.deb",
                "apt/t/pool/100%_1.0_all.deb",
            ),
        ] {
            assert_eq!(
                parse_file_path(asked),
                Ok(FileRequest::Entry(name.into())),
                "{asked}"
            );
        }
        for bad in [
            "a/%252E%252e/b",
            "a/%252fetc",
            "a%255cb",
            "a%2500",
            "a%+a",
            "a%+0",
            "a%-1",
        ] {
            assert!(parse_file_path(bad).is_err(), "{bad}");
        }
    }
}
