//! Sending blob bytes (registry blobs and `/files` entries) from a bundle or site store: the
//! whole blob, hashed on the way and aborted if the bytes do not match the pinned digest, or
//! one byte range. Remembers which blobs were already verified in which version of their
//! file, so that a blob is hashed once per version. Not for manifests (served from memory by
//! the catalog) nor for choosing what to send (the `distribution` and `mirror` handlers).

use super::catalog::BlobSource;
use super::conditional;
use super::error::OciError;
use super::metrics::Metrics;
use super::range::{self, RangeAnswer};
use crate::digest::Digest;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// The response header naming the digest of what is sent.
pub const DIGEST_HEADER: &str = "docker-content-digest";
/// Bytes read from disk per chunk of the response body.
const CHUNK: u64 = 256 << 10;

/// Identifies one version of a bundle's files (inodes and modification times).
pub type FileVersion = u64;

/// A blob whose bytes were hashed and matched its digest, in one version of one file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifiedBlob {
    pub digest: Digest,
    /// The bundle (or store) the blob was read from.
    pub file: PathBuf,
    /// Where the blob's bytes start in that file.
    pub offset: u64,
    pub version: FileVersion,
}

/// The blobs verified so far. A blob damaged through the filesystem after it was verified
/// changes its file's version, so it is hashed, and caught, anew.
#[derive(Debug, Default)]
pub struct VerifiedBlobs {
    seen: Mutex<HashSet<VerifiedBlob>>,
}

impl VerifiedBlobs {
    pub fn contains(&self, blob: &VerifiedBlob) -> bool {
        self.seen.lock().is_ok_and(|seen| seen.contains(blob))
    }

    pub fn insert(&self, blob: VerifiedBlob) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(blob);
        }
    }
}

/// Sends blob or file bytes from a bundle: whole (hashed on the way) or the one range the
/// `Range` header asks for; 304 without a body when `If-None-Match` names the digest.
pub async fn send(
    source: &BlobSource,
    digest: &Digest,
    headers: &HeaderMap,
    head: bool,
    metrics: &Arc<Metrics>,
    verified: &Arc<VerifiedBlobs>,
) -> Result<Response, OciError> {
    if conditional::matches(headers, digest) {
        return Ok(conditional::not_modified(digest));
    }
    let size = source.location.size;
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let answer = range::answer(range_header, size);
    let (status, start, length) = match answer {
        RangeAnswer::Full => (StatusCode::OK, 0, size),
        RangeAnswer::Partial { start, end } => {
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeAnswer::Unsatisfiable => return Ok(unsatisfiable(size)),
    };
    let body = if head {
        Body::empty()
    } else {
        let pinned = (answer == RangeAnswer::Full).then(|| digest.clone());
        let stream = BlobStream::open(source, start, length, pinned, metrics, verified)?;
        Body::from_stream(stream)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&digest.to_string()) {
        out.insert(DIGEST_HEADER, value);
    }
    if let Ok(etag) = HeaderValue::from_str(&conditional::etag(digest)) {
        out.insert(header::ETAG, etag);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(value) =
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + length - 1))
        {
            out.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// 416 for a range outside a blob of `size` bytes, as RFC 9110 (15.5.17) has it and
/// distribution answers: `Content-Range: bytes */SIZE`. The body is plain text: the spec's
/// error codes (which a JSON error body must use) have none for a range, and the blob is not
/// unknown.
fn unsatisfiable(size: u64) -> Response {
    let mut response = (
        StatusCode::RANGE_NOT_SATISFIABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("range not satisfiable: the blob has {size} bytes\n"),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}

/// Streams blob bytes from the bundle. When the whole blob is sent it is hashed on the way,
/// and the last chunk is held back until the digest is confirmed: a blob damaged on disk
/// makes the response fail short of its Content-Length, so no client accepts it.
struct BlobStream {
    chunks: futures::stream::BoxStream<'static, std::io::Result<Bytes>>,
    /// The hash so far and the digest it must come to (none for a range or a known blob).
    hashing: Option<(Sha256, Digest)>,
    held: Option<Bytes>,
    metrics: Arc<Metrics>,
    done: bool,
    /// Recorded in `verified` once the digest held.
    to_remember: Option<(VerifiedBlob, Arc<VerifiedBlobs>)>,
}

impl BlobStream {
    /// Opens `length` bytes of the blob from `start`; with `pinned`, the whole blob is hashed
    /// unless it was already verified in this very version of its file.
    fn open(
        source: &BlobSource,
        start: u64,
        length: u64,
        pinned: Option<Digest>,
        metrics: &Arc<Metrics>,
        verified: &Arc<VerifiedBlobs>,
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
        let this_version = pinned.as_ref().and_then(|digest| {
            let version = file.version().ok()?;
            Some(VerifiedBlob {
                digest: digest.clone(),
                file: source.path.clone(),
                offset: source.location.offset,
                version,
            })
        });
        let (hashing, to_remember) = match (pinned, this_version) {
            (Some(_), Some(blob)) if verified.contains(&blob) => (None, None),
            (Some(digest), blob) => (
                Some((Sha256::new(), digest)),
                blob.map(|blob| (blob, verified.clone())),
            ),
            (None, _) => (None, None),
        };
        let first = base + start;
        let end = first + length;
        let chunks = futures::stream::unfold(first, move |position| {
            let file = file.clone();
            async move {
                if position >= end {
                    return None;
                }
                let size = (end - position).min(CHUNK) as usize;
                // The buffer is allocated here, on a runtime thread, not in the blocking
                // pool: allocations made on its many threads inflate the process's memory
                // (one malloc arena per thread).
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
            chunks: Box::pin(chunks),
            hashing,
            held: None,
            metrics: metrics.clone(),
            done: false,
            to_remember,
        })
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.chunks).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    this.metrics.add_bytes_served(chunk.len() as u64);
                    let Some((hasher, _)) = this.hashing.as_mut() else {
                        return Poll::Ready(Some(Ok(chunk)));
                    };
                    hasher.update(&chunk);
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(this.finish().transpose());
                }
            }
        }
    }
}

impl BlobStream {
    /// At the end of the bytes: the held-back last chunk if the digest held, an error if not.
    fn finish(&mut self) -> Result<Option<Bytes>, std::io::Error> {
        let Some((hasher, pinned)) = self.hashing.take() else {
            return Ok(None);
        };
        let actual = Digest::from_hasher(hasher);
        if actual != pinned {
            self.metrics.count_damaged_blob();
            tracing::error!(digest = %pinned, actual = %actual, "blob is damaged on disk; response aborted (run `outpost bundle verify`)");
            return Err(std::io::Error::other(format!(
                "blob {pinned} is damaged on disk"
            )));
        }
        if let Some((blob, verified)) = self.to_remember.take() {
            verified.insert(blob);
        }
        Ok(self.held.take())
    }
}
