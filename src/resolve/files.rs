//! Files → pins: the Kubernetes release marker and binaries, component presets and the
//! manifest's own files are downloaded once at lock time, checked against the checksum their
//! upstream publishes (sha256 or sha512, any convention) and pinned by sha256 and size.
//! Every request follows `upstream::retry` (a dropped connection is retried, a checksum that
//! does not match fails at once).

use super::{signed, ResolveError};
use crate::checksum::{parse_checksum_file, Algorithm, Expected};
use crate::digest::Digest;
use crate::file_plan::{
    file_name, kubernetes_files, mirror_path, planned_files, ChecksumSource, PlannedFile,
};
use crate::kubernetes;
use crate::lock::{FilePin, KubernetesPin};
use crate::manifest::Release;
use crate::progress::Reporter;
use crate::store::Store;
use crate::trust::TrustedRoot;
use crate::upstream::http::{Http, HttpError};
use crate::upstream::retry::{retried, Failure, GaveUp, Reason};
use futures::{StreamExt, TryStreamExt};

/// Files downloaded at once.
const PARALLEL_FILES: usize = 4;
/// Checksum files and release markers larger than this are refused.
const SMALL_LIMIT: usize = 1 << 20;

/// What the files part of a manifest resolved to.
pub struct ResolvedFiles {
    pub kubernetes: Option<KubernetesPin>,
    pub files: Vec<FilePin>,
    /// Images implied by the manifest (kubeadm's control-plane set).
    pub images: Vec<String>,
}

fn file_error(url: &str, message: impl std::fmt::Display) -> ResolveError {
    ResolveError::File {
        url: url.to_string(),
        message: message.to_string(),
    }
}

/// Every file the manifest needs, planned without the network (for `lock --dry-run`).
/// A marker version shows as the marker URL and `<marker>` in binary URLs.
pub fn dry_run_urls(release: &Release) -> Vec<String> {
    let mut urls = Vec::new();
    if let Some(k) = &release.spec.kubernetes {
        let version = if kubernetes::is_marker(&k.version) {
            urls.push(kubernetes::marker_url(&k.version));
            format!("<{}>", k.version)
        } else {
            k.version.clone()
        };
        for planned in kubernetes_files(&version, &k.binaries, &release.platforms(), k.verify) {
            urls.push(planned.url);
        }
    }
    urls.extend(planned_files(release).into_iter().map(|p| p.url));
    urls
}

pub async fn resolve(
    release: &Release,
    http: &Http,
    store: &Store,
    root: &TrustedRoot,
    reporter: &dyn Reporter,
) -> Result<ResolvedFiles, ResolveError> {
    let mut pins = Vec::new();
    let mut planned = Vec::new();
    let mut images = Vec::new();
    let mut kubernetes_pin = None;
    if let Some(k) = &release.spec.kubernetes {
        let version = if kubernetes::is_marker(&k.version) {
            let url = kubernetes::marker_url(&k.version);
            let bytes = get_small(http, &url, reporter)
                .await
                .map_err(|e| file_error(&url, e.reason()))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let version = kubernetes::parse_marker(&text).map_err(|e| file_error(&url, e))?;
            let digest = Digest::of(&bytes);
            store
                .put_bytes(&digest, &bytes)
                .map_err(|e| file_error(&url, e))?;
            pins.push(FilePin {
                path: mirror_path(&url),
                url,
                sha256: digest,
                size: bytes.len() as u64,
                verified_by: format!("release marker, pinned as read ({version})"),
                insecure: false,
                signature: None,
            });
            version
        } else {
            k.version.clone()
        };
        planned.extend(kubernetes_files(
            &version,
            &k.binaries,
            &release.platforms(),
            k.verify,
        ));
        if k.images {
            images =
                kubernetes::control_plane_images(&version).map_err(ResolveError::Kubernetes)?;
        }
        kubernetes_pin = Some(KubernetesPin {
            requested: k.version.clone(),
            version,
        });
    }
    planned.extend(planned_files(release));
    planned.dedup_by(|a, b| a.url == b.url);
    let fetched: Vec<FilePin> = futures::stream::iter(planned.iter())
        .map(|file| async move {
            let pin = pin_file(http, store, file, reporter).await?;
            match &file.signature {
                Some(signature) => {
                    signed::verify(
                        http,
                        store,
                        root,
                        &release.dir,
                        file,
                        signature,
                        pin,
                        reporter,
                    )
                    .await
                }
                None => Ok(pin),
            }
        })
        .buffered(PARALLEL_FILES)
        .try_collect()
        .await?;
    pins.extend(fetched);
    Ok(ResolvedFiles {
        kubernetes: kubernetes_pin,
        files: pins,
        images,
    })
}

/// Downloads one file (unless the cache already has the sha256 upstream promises), checks it
/// and pins it.
async fn pin_file(
    http: &Http,
    store: &Store,
    file: &PlannedFile,
    reporter: &dyn Reporter,
) -> Result<FilePin, ResolveError> {
    let url = &file.url;
    let (expected, verified_by, insecure) = match &file.checksum {
        ChecksumSource::Url(checksum_url) => {
            let bytes = get_small(http, checksum_url, reporter).await.map_err(|e| {
                file_error(
                    url,
                    format!("cannot read its checksum file: {}", e.describe()),
                )
            })?;
            let text = String::from_utf8_lossy(&bytes);
            let expected = parse_checksum_file(&text, file_name(url))
                .map_err(|e| file_error(url, format!("checksum file {checksum_url}: {e}")))?;
            let by = format!("{} from {checksum_url}", expected.algorithm);
            (Some(expected), by, false)
        }
        ChecksumSource::Inline(expected) => (
            Some(expected.clone()),
            format!("{} in the manifest", expected.algorithm),
            false,
        ),
        ChecksumSource::Insecure => (
            None,
            "nothing (insecure: pinned as downloaded)".to_string(),
            true,
        ),
        ChecksumSource::Signature => (None, "its signature".to_string(), false),
    };
    if let Some(Expected {
        algorithm: Algorithm::Sha256,
        hex,
    }) = &expected
    {
        if let Ok(digest) = Digest::from_hex(hex) {
            if let Ok(meta) = std::fs::metadata(store.blob_path(&digest)) {
                return Ok(FilePin {
                    url: url.clone(),
                    path: mirror_path(url),
                    sha256: digest,
                    size: meta.len(),
                    verified_by,
                    insecure,
                    signature: None,
                });
            }
        }
    }
    let (sha256, size) = retried(url, reporter, || {
        download(http, store, url, expected.as_ref())
    })
    .await
    .map_err(|e| file_error(url, e.describe()))?;
    Ok(FilePin {
        url: url.clone(),
        path: mirror_path(url),
        sha256,
        size,
        verified_by,
        insecure,
        signature: None,
    })
}

/// A checksum file or release marker, retried.
pub(super) async fn get_small(
    http: &Http,
    url: &str,
    reporter: &dyn Reporter,
) -> Result<Vec<u8>, GaveUp<HttpError>> {
    get_limited(http, url, SMALL_LIMIT, reporter).await
}

/// A document of at most `limit` bytes (a chart repository's index, a chart), retried.
pub(super) async fn get_limited(
    http: &Http,
    url: &str,
    limit: usize,
    reporter: &dyn Reporter,
) -> Result<Vec<u8>, GaveUp<HttpError>> {
    retried(url, reporter, || async {
        http.get_small(url, limit).await.map_err(|e| {
            let transient = e.is_transient();
            Failure::new(e, transient)
        })
    })
    .await
}

/// One attempt at downloading a file whole into the cache, checked against `expected`.
async fn download(
    http: &Http,
    store: &Store,
    url: &str,
    expected: Option<&Expected>,
) -> Result<(Digest, u64), Failure<String>> {
    let mut download = store
        .begin_download()
        .map_err(|e| Failure::Final(e.to_string()))?;
    let mut stream = match http.stream(url, 0).await {
        Ok(opened) => opened.stream,
        Err(e) => {
            download.discard();
            let transient = e.is_transient();
            return Err(Failure::new(e.reason(), transient));
        }
    };
    while let Some(chunk) = stream.next().await {
        let written = chunk
            .map_err(|e| Failure::Transient(format!("download interrupted: {e}")))
            .and_then(|chunk| {
                download
                    .write(&chunk)
                    .map_err(|e| Failure::Final(e.to_string()))
            });
        if let Err(failure) = written {
            download.discard();
            return Err(failure);
        }
    }
    download
        .finish(expected)
        .map_err(|e| Failure::Final(e.to_string()))
}
