//! Planning a fetch: the manifests are fetched (they say which blobs there are), the blobs
//! only counted against the cache, and the bundle's size estimated, before anything large is
//! downloaded (`bundle build --dry-run`, and the space check before a real build).

use super::{
    check_platform_pins, ensure_manifest, urls, FetchError, FetchSummary, ForeignLayers, Source,
    Wanted, MAX_NESTING,
};
use crate::bundle::graph::{walk, Carried, Role};
use crate::bundle::index_entries::{image_entry, referrer_entries};
use crate::digest::Digest;
use crate::lock::Lockfile;
use crate::oci::Descriptor;
use crate::progress::Reporter;
use crate::store::Store;
use crate::upstream::http::Http;
use crate::upstream::registry::Registry;
use std::collections::BTreeMap;

/// What a fetch will download, worked out before any blob is: the manifests are fetched
/// (small; they say which blobs there are), the blobs only counted. [`FetchPlan::run`]
/// downloads them.
pub struct FetchPlan<'a> {
    /// `downloaded_*`: what the run will download (the cache misses).
    pub summary: FetchSummary,
    /// The bundle's size in bytes, estimated: every blob and manifest as a tar entry, plus
    /// an allowance for the signed head and generated metadata (apt indexes, lockfile).
    pub bundle_bytes: u64,
    pub(super) missing: Vec<Wanted<'a>>,
}

/// Fetches the manifests and counts the blobs of [`fetch_all`], without downloading a blob.
pub async fn plan_fetch<'a>(
    lock: &Lockfile,
    registry: &'a Registry,
    http: &'a Http,
    store: &Store,
    foreign_layers: ForeignLayers,
    reporter: &dyn Reporter,
) -> Result<FetchPlan<'a>, FetchError> {
    let mut manifest_bytes = 0u64;
    let mut wanted: BTreeMap<Digest, Wanted> = BTreeMap::new();
    let mut images = std::collections::HashMap::new();
    for pin in &lock.images {
        let image =
            crate::reference::parse(&pin.reference).map_err(|message| FetchError::Manifest {
                image: pin.reference.clone(),
                digest: pin.digest.clone(),
                message,
            })?;
        ensure_manifest(registry, store, &image, &pin.digest, pin.size, reporter).await?;
        for platform in pin.platforms.iter().chain(&pin.also_carried) {
            if platform.digest != pin.digest {
                ensure_manifest(
                    registry,
                    store,
                    &image,
                    &platform.digest,
                    platform.size,
                    reporter,
                )
                .await?;
            }
        }
        check_platform_pins(store, pin)?;
        images.insert(pin.reference.clone(), image);
    }
    // Referrers live in their subject's repository; each is fetched under its own entry.
    let referrers = referrer_entries(&lock.images);
    for entry in &referrers {
        let name = entry.name();
        let image = crate::reference::parse(&name).map_err(|message| FetchError::Manifest {
            image: name.clone(),
            digest: entry.descriptor.digest.clone(),
            message,
        })?;
        let (digest, size) = (&entry.descriptor.digest, entry.descriptor.size);
        ensure_manifest(registry, store, &image, digest, size, reporter).await?;
        images.insert(name, image);
    }
    // Which blobs the manifests need: the bundle's own graph, so fetch gets what pack packs.
    // A manifest below the first level (an index inside a carried index) is fetched when the
    // walk reaches it, and the walk runs again, a level deeper each time.
    let roots: Vec<Carried> = lock
        .images
        .iter()
        .map(image_entry)
        .chain(referrers)
        .map(|entry| Carried::root(&entry))
        .collect();
    for level in 0.. {
        let mut missing: Vec<Carried> = Vec::new();
        wanted.clear();
        manifest_bytes = 0;
        walk(
            roots.iter().cloned(),
            |item| {
                let manifest_error = |message: String| FetchError::Manifest {
                    image: item.owner.to_string(),
                    digest: item.descriptor.digest.clone(),
                    message,
                };
                if item.role == Role::Manifest {
                    if !store.has(&item.descriptor.digest, item.descriptor.size) {
                        missing.push(item.clone());
                        return Ok(None);
                    }
                    manifest_bytes += tar_entry_bytes(item.descriptor.size);
                    return store
                        .read_bytes(&item.descriptor.digest)
                        .map(Some)
                        .map_err(|e| manifest_error(e.to_string()));
                }
                let source = match item.descriptor.urls.first() {
                    Some(url) if foreign_layers == ForeignLayers::Refuse => {
                        return Err(FetchError::ForeignLayer {
                            image: item.owner.to_string(),
                            digest: item.descriptor.digest.clone(),
                            url: url.clone(),
                        })
                    }
                    Some(url) => Source::Url(http, url.clone()),
                    None => Source::Image(
                        registry,
                        images
                            .get(&*item.owner)
                            .ok_or_else(|| manifest_error("not a pinned image".into()))?
                            .clone(),
                    ),
                };
                let descriptor = item.descriptor.clone();
                wanted.insert(descriptor.digest.clone(), Wanted { source, descriptor });
                Ok(None)
            },
            |item, e| FetchError::Manifest {
                image: item.owner.to_string(),
                digest: item.descriptor.digest.clone(),
                message: e.to_string(),
            },
        )?;
        let Some(first) = missing.first() else {
            break;
        };
        if level >= MAX_NESTING {
            return Err(FetchError::Manifest {
                image: first.owner.to_string(),
                digest: first.descriptor.digest.clone(),
                message: format!("indexes nested more than {MAX_NESTING} levels deep"),
            });
        }
        for item in &missing {
            let image = images
                .get(&*item.owner)
                .ok_or_else(|| FetchError::Manifest {
                    image: item.owner.to_string(),
                    digest: item.descriptor.digest.clone(),
                    message: "not a pinned image".into(),
                })?;
            let (digest, size) = (&item.descriptor.digest, item.descriptor.size);
            ensure_manifest(registry, store, image, digest, size, reporter).await?;
        }
    }
    for (sha256, size, url) in urls::url_blobs(lock)? {
        wanted.entry(sha256.clone()).or_insert_with(|| Wanted {
            source: Source::Url(http, url.clone()),
            descriptor: Descriptor {
                media_type: "application/octet-stream".into(),
                digest: sha256.clone(),
                size,
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
    let blob_entries: u64 = wanted
        .values()
        .map(|w| tar_entry_bytes(w.descriptor.size))
        .sum();
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
    let entries = lock.images.len() + lock.files.len() + lock.debs.len() + lock.charts.len();
    let bundle_bytes =
        manifest_bytes + blob_entries + HEAD_ALLOWANCE + ENTRY_ALLOWANCE * entries as u64;
    Ok(FetchPlan {
        summary,
        bundle_bytes,
        missing,
    })
}

/// Bytes of the signed head and generated metadata, in a bundle estimate: a fixed part…
const HEAD_ALLOWANCE: u64 = 64 << 10;
/// …and a part per image, file, Debian package and chart (its index.json entry, apt index
/// lines).
const ENTRY_ALLOWANCE: u64 = 2 << 10;

/// A file of `size` bytes as a tar entry: header block, content, padding to 512 bytes.
fn tar_entry_bytes(size: u64) -> u64 {
    512 + size.div_ceil(512) * 512
}
