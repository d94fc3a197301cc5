//! Fetching pinned images into the cache: parallel, bounded, retried and resumed.
//!
//! Manifests are fetched by digest and checked; blobs stream into [`Store`], and each byte is
//! hashed once before the blob becomes visible: by oci-client for a whole blob, by the store
//! for a resumed one (see `upstream::registry::Registry::blob`). A blob is requested whole; a
//! Range is sent only to resume from the bytes already in the cache's partial file, and a
//! resume the upstream refuses or ignores starts over from byte 0. Blobs shared by several
//! images are fetched once. Retries follow `upstream::retry`. What comes from a URL instead
//! (files, debs, charts of chart repositories) is listed by `urls`.

mod pins;
mod plan;
mod urls;

pub use plan::{plan_fetch, FetchPlan};

use pins::check_platform_pins;

use crate::digest::Digest;
use crate::lock::Lockfile;
use crate::oci::{Descriptor, MAX_MANIFEST_SIZE};
use crate::progress::Reporter;
use crate::store::{Store, StoreError};
use crate::upstream::http::Http;
use crate::upstream::registry::{Download, Registry};
use crate::upstream::retry::{retried, Failure, Reason};
use futures::StreamExt;
use oci_client::Reference;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Downloads running at once.
pub const PARALLEL_DOWNLOADS: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{image}: manifest {digest}: {message}")]
    Manifest {
        image: String,
        digest: Digest,
        message: String,
    },
    #[error("{image}: blob {digest}: {message} (after {}); nothing corrupt was kept in the cache, run the build again to resume", crate::errors::plural(*attempts, "attempt"))]
    Blob {
        image: String,
        digest: Digest,
        attempts: u32,
        message: String,
    },
    #[error("{image}: {source}")]
    Store { image: String, source: StoreError },
    /// The lockfile's children of an index are not what its recorded platforms select.
    #[error("{image}: the lockfile pins {}, which is not what a node asking for those platforms pulls from the index {digest} (the lockfile predates outpost's containerd platform matching): run `outpost lock` again", pinned.join(", "))]
    PlatformPins {
        image: String,
        digest: Digest,
        /// `platform digest` of each pin.
        pinned: Vec<String>,
    },
    /// A layer whose descriptor lists `urls`: registries do not serve it (Windows base
    /// layers), and the build did not allow fetching it from there.
    #[error("{image}: layer {digest} is a foreign (non-distributable) layer: registries do not serve it, its content is at {url}; to carry it, build with --allow-foreign-layers (outpost fetches it from that URL and checks it against its digest; its licence may restrict redistribution)")]
    ForeignLayer {
        image: String,
        digest: Digest,
        url: String,
    },
    /// A chart of a chart repository pinned without the URL of its `.tgz`.
    #[error("chart {chart}: the lockfile gives no URL to download its .tgz from; run `outpost lock` again")]
    ChartUrl { chart: String },
}

/// What a fetch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchSummary {
    pub blobs: usize,
    pub downloaded_blobs: usize,
    pub downloaded_bytes: u64,
    pub cached_bytes: u64,
}

/// What to do with a foreign (non-distributable) layer: one whose descriptor lists `urls`
/// because registries do not serve it (Windows base layers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForeignLayers {
    /// Refuse the image, naming the layer and its URL.
    #[default]
    Refuse,
    /// Fetch the layer from its first URL; the store checks it against the descriptor.
    FetchFromUrl,
}

/// Where a blob comes from, with the client that fetches it.
enum Source<'a> {
    /// A blob of this image's repository.
    Image(&'a Registry, Reference),
    /// A file at this upstream URL.
    Url(&'a Http, String),
}

impl Source<'_> {
    fn label(&self) -> String {
        match self {
            Source::Image(_, image) => image.whole(),
            Source::Url(_, url) => url.clone(),
        }
    }

    /// The blob from byte `offset` on (or whole, see [`Download`]).
    async fn open(&self, digest: &Digest, offset: u64) -> Result<Download, Failure<String>> {
        match self {
            Source::Image(registry, image) => registry
                .blob(image, digest, offset)
                .await
                .map_err(|e| Failure::new(e.reason(), e.is_transient())),
            Source::Url(http, url) => http
                .stream(url, offset)
                .await
                .map_err(|e| Failure::new(e.reason(), e.is_transient())),
        }
    }
}

/// A blob to download and where it comes from.
struct Wanted<'a> {
    source: Source<'a>,
    descriptor: Descriptor,
}

/// Indexes inside carried indexes are followed this many levels down, no further.
const MAX_NESTING: usize = 8;

/// Makes every blob the lockfile needs present and verified in `store`.
pub async fn fetch_all(
    lock: &Lockfile,
    registry: &Registry,
    http: &Http,
    store: &Store,
    foreign_layers: ForeignLayers,
    reporter: &dyn Reporter,
) -> Result<FetchSummary, FetchError> {
    plan_fetch(lock, registry, http, store, foreign_layers, reporter)
        .await?
        .run(store, reporter)
        .await
}

impl FetchPlan<'_> {
    /// Downloads every blob the plan counted as missing (parallel, retried, resumed).
    pub async fn run(
        self,
        store: &Store,
        reporter: &dyn Reporter,
    ) -> Result<FetchSummary, FetchError> {
        let FetchPlan {
            summary, missing, ..
        } = self;
        reporter.start("fetch", summary.downloaded_bytes);
        // After a failure no new download starts, but those under way finish (into the cache,
        // or as partial files to resume from) rather than being cut off mid-write.
        let failed = AtomicBool::new(false);
        let results: Vec<Result<(), FetchError>> = futures::stream::iter(missing.iter())
            .map(|w| {
                let failed = &failed;
                async move {
                    if failed.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    let result = fetch_blob(store, w, reporter).await;
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    result
                }
            })
            .buffer_unordered(PARALLEL_DOWNLOADS)
            .collect()
            .await;
        reporter.finish();
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(summary)
    }
}

/// Fetches a manifest by digest into the store unless it is there already.
async fn ensure_manifest(
    registry: &Registry,
    store: &Store,
    image: &Reference,
    digest: &Digest,
    size: u64,
    reporter: &dyn Reporter,
) -> Result<(), FetchError> {
    if store.has(digest, size) {
        return Ok(());
    }
    let manifest_error = |message: String| FetchError::Manifest {
        image: image.whole(),
        digest: digest.clone(),
        message,
    };
    if size > MAX_MANIFEST_SIZE {
        return Err(manifest_error(format!(
            "{size} bytes is over the {MAX_MANIFEST_SIZE}-byte manifest limit"
        )));
    }
    let by_digest = Reference::with_digest(
        image.registry().to_string(),
        image.repository().to_string(),
        digest.to_string(),
    );
    let raw = registry
        .manifest_retried(&by_digest, reporter)
        .await
        .map_err(|e| manifest_error(e.detail()))?;
    store
        .put_bytes_async(digest, &raw.bytes)
        .await
        .map_err(|source| FetchError::Store {
            image: image.whole(),
            source,
        })
}

/// Makes one blob of `image`'s repository (an image config, at lock time) present and
/// verified in `store`: the same retried, resumed download as a layer's.
pub async fn ensure_image_blob(
    registry: &Registry,
    store: &Store,
    image: &Reference,
    descriptor: &Descriptor,
    reporter: &dyn Reporter,
) -> Result<(), FetchError> {
    if store.has(&descriptor.digest, descriptor.size) {
        return Ok(());
    }
    let wanted = Wanted {
        source: Source::Image(registry, image.clone()),
        descriptor: descriptor.clone(),
    };
    fetch_blob(store, &wanted, reporter).await
}

/// Why one attempt at a blob failed.
enum BlobFailure {
    /// The cache itself failed (not the upstream).
    Store(StoreError),
    Upstream(String),
}

impl Reason for BlobFailure {
    fn reason(&self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for BlobFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobFailure::Store(e) => e.fmt(f),
            BlobFailure::Upstream(message) => f.write_str(message),
        }
    }
}

/// Blobs this process is downloading into a store, each with the lock its download holds: a
/// second download of the same blob (two images sharing a config at lock time) waits for the
/// first and then finds it stored, instead of writing the same partial file at once.
fn download_lock(store: &Store, digest: &Digest) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Forget the locks no download holds any more.
    locks.retain(|_, lock| Arc::strong_count(lock) > 1);
    locks.entry(store.blob_path(digest)).or_default().clone()
}

/// Downloads one blob with resume and retries.
async fn fetch_blob(
    store: &Store,
    wanted: &Wanted<'_>,
    reporter: &dyn Reporter,
) -> Result<(), FetchError> {
    let label = wanted.source.label();
    let digest = &wanted.descriptor.digest;
    let lock = download_lock(store, digest);
    let _downloading = lock.lock().await;
    if store.has(digest, wanted.descriptor.size) {
        return Ok(());
    }
    let what = format!("{digest} of {label}");
    retried(&what, reporter, || fetch_blob_once(store, wanted, reporter))
        .await
        .map_err(|gave_up| match gave_up.error {
            BlobFailure::Store(source) => FetchError::Store {
                image: label.clone(),
                source,
            },
            BlobFailure::Upstream(message) => FetchError::Blob {
                image: label.clone(),
                digest: digest.clone(),
                attempts: gave_up.attempts,
                message,
            },
        })
}

/// One attempt at a blob: continues the cache's partial file if there is one.
async fn fetch_blob_once(
    store: &Store,
    wanted: &Wanted<'_>,
    reporter: &dyn Reporter,
) -> Result<(), Failure<BlobFailure>> {
    let descriptor = &wanted.descriptor;
    let digest = &descriptor.digest;
    let upstream = |message: String| Failure::Transient(BlobFailure::Upstream(message));
    // Wrong bytes in a whole download: another attempt would get the same.
    let wrong_content = |message: String| Failure::Final(BlobFailure::Upstream(message));
    let mut partial = store
        .begin(digest, descriptor.size)
        .map_err(|e| Failure::Final(BlobFailure::Store(e)))?;
    let offset = partial.offset();
    if offset > 0 {
        reporter.advance(offset);
    }
    if offset == descriptor.size {
        // An earlier run got every byte but stopped before the rename: check and keep.
        return partial.commit_async().await.map_err(|e| {
            reporter.rewind(offset);
            upstream(format!(
                "the leftover download was wrong and was discarded: {e}"
            ))
        });
    }
    let blob = match wanted.source.open(digest, offset).await {
        Ok(blob) => blob,
        Err(failure) => {
            reporter.rewind(offset);
            return Err(match failure {
                Failure::Transient(m) => upstream(m),
                Failure::Final(m) => Failure::Final(BlobFailure::Upstream(m)),
            });
        }
    };
    if let Some(reason) = &blob.resume_refused {
        reporter.note(&format!(
            "{digest} of {}: the upstream refused to resume from byte {offset} ({reason}); downloading it whole",
            wanted.source.label()
        ));
    }
    if !blob.resumed && offset > 0 {
        // The upstream ignored or refused our Range: start over from byte 0.
        reporter.rewind(offset);
    }
    let restarted = if blob.verified {
        partial.restart_checked_by_source()
    } else if !blob.resumed {
        partial.restart()
    } else {
        Ok(())
    };
    restarted.map_err(|e| Failure::Final(BlobFailure::Store(e)))?;
    let mut stream = blob.stream;
    while let Some(chunk) = stream.next().await {
        let received = partial.offset();
        match chunk {
            Ok(chunk) => {
                if let Err(e) = partial.write(&chunk) {
                    reporter.rewind(received);
                    return Err(match e {
                        StoreError::TooLarge { .. } => {
                            wrong_content(format!("the registry sent wrong content: {e}"))
                        }
                        other => Failure::Final(BlobFailure::Store(other)),
                    });
                }
                reporter.advance(chunk.len() as u64);
            }
            Err(e) if blob.verified && is_digest_mismatch(&e) => {
                // oci-client's check at the end of a whole blob: the upstream sent wrong bytes.
                reporter.rewind(received);
                partial.discard();
                return Err(wrong_content(format!(
                    "the registry sent wrong content: {e}"
                )));
            }
            Err(e) => {
                reporter.rewind(received);
                return Err(upstream(format!(
                    "connection lost after {received} bytes: {e}"
                )));
            }
        }
    }
    let received = partial.offset();
    if received < descriptor.size {
        // The body ended early without an error: keep the bytes, resume next attempt.
        reporter.rewind(received);
        return Err(upstream(format!(
            "the registry ended the body after {received} of {} bytes",
            descriptor.size
        )));
    }
    match partial.commit_async().await {
        Ok(()) => Ok(()),
        Err(e @ (StoreError::DigestMismatch { .. } | StoreError::SizeMismatch { .. })) => {
            reporter.rewind(received);
            let message = format!("the registry sent wrong content: {e}");
            // A resumed download may have been spoilt by its leftover: try once more whole.
            Err(if blob.resumed {
                upstream(message)
            } else {
                wrong_content(message)
            })
        }
        Err(e) => Err(Failure::Final(BlobFailure::Store(e))),
    }
}

/// Whether a stream error is oci-client's digest check failing at the end of a whole blob.
fn is_digest_mismatch(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<oci_client::errors::DigestError>())
}
