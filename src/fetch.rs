//! Fetching pinned images into the cache: parallel, bounded, retried and resumed.
//!
//! Manifests are fetched by digest and checked; blobs stream into [`Store`] which hashes each
//! byte once and only then makes it visible. Blobs shared by several images are fetched once.

use crate::bundle::graph::{walk, Carried, Role};
use crate::bundle::pack::image_entry;
use crate::digest::Digest;
use crate::lock::Lockfile;
use crate::oci::{Descriptor, Parsed, MAX_MANIFEST_SIZE};
use crate::progress::Reporter;
use crate::resolve::image::pins_select_themselves;
use crate::store::{Store, StoreError};
use crate::upstream::http::{Http, HttpError};
use crate::upstream::registry::{Registry, RegistryError};
use futures::{StreamExt, TryStreamExt};
use oci_client::Reference;
use std::collections::BTreeMap;
use std::time::Duration;

/// Downloads running at once.
pub const PARALLEL_DOWNLOADS: usize = 6;
/// Attempts per blob (network errors resume; bad content restarts).
const ATTEMPTS: u32 = 4;

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
}

/// What a fetch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchSummary {
    pub blobs: usize,
    pub downloaded_blobs: usize,
    pub downloaded_bytes: u64,
    pub cached_bytes: u64,
}

/// A file to fetch by URL.
struct FileWant<'a> {
    sha256: &'a Digest,
    size: u64,
    url: &'a String,
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

/// Where a blob comes from.
enum Source {
    /// A blob of this image's repository.
    Image(Reference),
    /// A file at this upstream URL.
    Url(String),
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::Image(image) => image.whole(),
            Source::Url(url) => url.clone(),
        }
    }
}

/// A blob to download and where it comes from.
struct Wanted {
    source: Source,
    descriptor: Descriptor,
}

/// Makes every blob the lockfile needs present and verified in `store`.
pub async fn fetch_all(
    lock: &Lockfile,
    registry: &Registry,
    http: &Http,
    store: &Store,
    foreign_layers: ForeignLayers,
    reporter: &dyn Reporter,
) -> Result<FetchSummary, FetchError> {
    let mut wanted: BTreeMap<Digest, Wanted> = BTreeMap::new();
    let mut images = std::collections::HashMap::new();
    for pin in &lock.images {
        let image =
            crate::reference::parse(&pin.reference).map_err(|message| FetchError::Manifest {
                image: pin.reference.clone(),
                digest: pin.digest.clone(),
                message,
            })?;
        ensure_manifest(registry, store, &image, &pin.digest, pin.size).await?;
        for platform in pin.platforms.iter().chain(&pin.also_carried) {
            if platform.digest != pin.digest {
                ensure_manifest(registry, store, &image, &platform.digest, platform.size).await?;
            }
        }
        check_platform_pins(store, pin)?;
        images.insert(pin.reference.clone(), image);
    }
    // Which blobs the manifests need: the bundle's own graph, so fetch gets what pack packs.
    let roots = lock
        .images
        .iter()
        .map(|pin| Carried::root(&image_entry(pin)));
    walk(
        roots,
        |item| {
            let manifest_error = |message: String| FetchError::Manifest {
                image: item.owner.clone(),
                digest: item.descriptor.digest.clone(),
                message,
            };
            if item.role == Role::Manifest {
                return store
                    .read_bytes(&item.descriptor.digest)
                    .map(Some)
                    .map_err(|e| manifest_error(e.to_string()));
            }
            if let Some(url) = item.descriptor.urls.first() {
                if foreign_layers == ForeignLayers::Refuse {
                    return Err(FetchError::ForeignLayer {
                        image: item.owner.clone(),
                        digest: item.descriptor.digest.clone(),
                        url: url.clone(),
                    });
                }
                wanted.insert(
                    item.descriptor.digest.clone(),
                    Wanted {
                        source: Source::Url(url.clone()),
                        descriptor: item.descriptor.clone(),
                    },
                );
                return Ok(None);
            }
            let image = images
                .get(&item.owner)
                .ok_or_else(|| manifest_error("not a pinned image".into()))?;
            wanted.insert(
                item.descriptor.digest.clone(),
                Wanted {
                    source: Source::Image(image.clone()),
                    descriptor: item.descriptor.clone(),
                },
            );
            Ok(None)
        },
        |item, e| FetchError::Manifest {
            image: item.owner.clone(),
            digest: item.descriptor.digest.clone(),
            message: e.to_string(),
        },
    )?;
    let debs = lock.debs.iter().map(|d| (&d.sha256, d.size, &d.url));
    for (sha256, size, url) in lock
        .files
        .iter()
        .map(|f| (&f.sha256, f.size, &f.url))
        .chain(debs)
    {
        let file = FileWant { sha256, size, url };
        wanted.entry(file.sha256.clone()).or_insert_with(|| Wanted {
            source: Source::Url(file.url.clone()),
            descriptor: Descriptor {
                media_type: "application/octet-stream".into(),
                digest: file.sha256.clone(),
                size: file.size,
                platform: None,
                artifact_type: None,
                annotations: Default::default(),
                urls: Vec::new(),
            },
        });
    }

    let mut summary = FetchSummary {
        blobs: wanted.len(),
        ..Default::default()
    };
    let mut missing: Vec<Wanted> = Vec::new();
    for (_, w) in wanted {
        if store.has(&w.descriptor.digest, w.descriptor.size) {
            summary.cached_bytes += w.descriptor.size;
        } else {
            missing.push(w);
        }
    }
    // Largest first: the long downloads start early and the tail is short ones.
    missing.sort_by_key(|w| std::cmp::Reverse(w.descriptor.size));
    summary.downloaded_blobs = missing.len();
    summary.downloaded_bytes = missing.iter().map(|w| w.descriptor.size).sum();

    reporter.start("fetch", summary.downloaded_bytes);
    futures::stream::iter(missing.iter())
        .map(|w| fetch_blob(registry, http, store, w, reporter))
        .buffer_unordered(PARALLEL_DOWNLOADS)
        .try_collect::<Vec<()>>()
        .await?;
    reporter.finish();
    Ok(summary)
}

/// Fetches a manifest by digest into the store unless it is there already.
/// A lockfile's children of an index must be what its recorded platforms select (what the
/// bundle's graph carries): one written before outpost followed containerd's platform rule
/// may have pinned another entry.
fn check_platform_pins(store: &Store, pin: &crate::lock::ImagePin) -> Result<(), FetchError> {
    let bytes = store
        .read_bytes(&pin.digest)
        .map_err(|e| FetchError::Manifest {
            image: pin.reference.clone(),
            digest: pin.digest.clone(),
            message: e.to_string(),
        })?;
    let Ok(Parsed::Index { manifests, .. }) = Parsed::from_bytes(&bytes, Some(&pin.media_type))
    else {
        return Ok(());
    };
    if pins_select_themselves(&manifests, &pin.platforms) {
        return Ok(());
    }
    Err(FetchError::PlatformPins {
        image: pin.reference.clone(),
        digest: pin.digest.clone(),
        pinned: pin
            .platforms
            .iter()
            .map(|p| format!("{} {}", p.platform, p.digest))
            .collect(),
    })
}

async fn ensure_manifest(
    registry: &Registry,
    store: &Store,
    image: &Reference,
    digest: &Digest,
    size: u64,
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
        .manifest(&by_digest)
        .await
        .map_err(|e| manifest_error(e.detail()))?;
    store
        .put_bytes(digest, &raw.bytes)
        .map_err(|source| FetchError::Store {
            image: image.whole(),
            source,
        })
}

/// Downloads one blob with resume and retries.
async fn fetch_blob(
    registry: &Registry,
    http: &Http,
    store: &Store,
    wanted: &Wanted,
    reporter: &dyn Reporter,
) -> Result<(), FetchError> {
    let descriptor = &wanted.descriptor;
    let label = wanted.source.label();
    let digest = &descriptor.digest;
    let blob_error = |attempts: u32, message: String| FetchError::Blob {
        image: label.clone(),
        digest: digest.clone(),
        attempts,
        message,
    };
    let mut last_error = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            reporter.note(&format!(
                "retrying {digest} of {label} (attempt {attempt}): {last_error}"
            ));
            tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt - 1).pow(2))).await;
        }
        let mut partial =
            store
                .begin(digest, descriptor.size)
                .map_err(|source| FetchError::Store {
                    image: label.clone(),
                    source,
                })?;
        let offset = partial.offset();
        if offset > 0 {
            reporter.advance(offset);
        }
        if offset == descriptor.size {
            // An earlier run got every byte but stopped before the rename: check and keep.
            match partial.commit() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    last_error = format!("the leftover download was wrong and was discarded: {e}");
                    reporter.rewind(offset);
                    continue;
                }
            }
        }
        let opened = match &wanted.source {
            Source::Image(image) => {
                registry
                    .blob(image, digest, offset)
                    .await
                    .map_err(|e| match e {
                        RegistryError::Request { message, .. } => (true, message),
                        other => (false, other.to_string()),
                    })
            }
            // The error names the URL, which the blob error names already.
            Source::Url(url) => http.stream(url, offset).await.map_err(|e| match e {
                HttpError::Status { status, .. } if status < 500 => (false, e.detail()),
                other => (true, other.detail()),
            }),
        };
        let blob = match opened {
            Ok(blob) => blob,
            Err((true, message)) => {
                last_error = message;
                reporter.rewind(offset);
                continue;
            }
            Err((false, message)) => return Err(blob_error(attempt, message)),
        };
        if !blob.resumed && offset > 0 {
            // The registry ignored our Range: start over from byte 0.
            reporter.rewind(offset);
            partial
                .restart()
                .map_err(|e| blob_error(attempt, e.to_string()))?;
        }
        let mut stream = blob.stream;
        let mut failed = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    if let Err(e) = partial.write(&chunk) {
                        failed = Some(e.to_string());
                        break;
                    }
                    reporter.advance(chunk.len() as u64);
                }
                Err(e) => {
                    failed = Some(format!(
                        "connection lost after {} bytes: {e}",
                        partial.offset()
                    ));
                    break;
                }
            }
        }
        if let Some(message) = failed {
            last_error = message;
            reporter.rewind(partial.offset());
            continue;
        }
        let received = partial.offset();
        if received < descriptor.size {
            // The body ended early without an error: keep the bytes, resume next attempt.
            last_error = format!(
                "the registry ended the body after {received} of {} bytes",
                descriptor.size
            );
            reporter.rewind(received);
            continue;
        }
        match partial.commit() {
            Ok(()) => return Ok(()),
            Err(e @ (StoreError::DigestMismatch { .. } | StoreError::SizeMismatch { .. })) => {
                last_error = format!("the registry sent wrong content: {e}");
                reporter.rewind(received);
            }
            Err(e) => return Err(blob_error(attempt, e.to_string())),
        }
    }
    Err(blob_error(ATTEMPTS, last_error))
}
