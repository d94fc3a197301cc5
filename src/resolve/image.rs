//! Image tags → digests, and the manifest to carry for each requested platform.
//!
//! Multi-arch indexes are kept as they are (their digest is what nodes ask for); the lockfile
//! records, per requested platform, which child manifest is carried. An index pinned by
//! digest in the manifest travels whole (every entry), since that digest promises exactly
//! that index. A tag the previous lockfile pinned keeps its pin when it moved upstream,
//! unless the lock was asked to update it; either way the move is reported.

use super::{Previous, ResolveError};
use crate::digest::Digest;
use crate::lock::{ImagePin, PlatformPin};
use crate::manifest::Release;
use crate::oci::{ConfigPlatform, Parsed};
use crate::platform::Platform;
use crate::store::Store;
use crate::upstream::registry::{RawManifest, Registry, RegistryError};
use futures::{StreamExt, TryStreamExt};
use oci_client::Reference;

/// Image configs larger than this are refused (real ones are a few KiB).
const MAX_CONFIG_SIZE: u64 = 8 << 20;
/// How many images are resolved at once.
const PARALLEL_IMAGES: usize = 8;

/// A tag whose digest upstream is not the one the previous lockfile pinned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MovedTag {
    /// The reference as locked (`registry.test/library/alpha:1`).
    pub reference: String,
    /// The digest the previous lockfile pinned.
    pub locked: Digest,
    /// The digest the tag names upstream now.
    pub upstream: Digest,
    /// The pin moved to `upstream` (`lock --update`); otherwise `locked` was kept.
    pub updated: bool,
}

/// Resolves every image of the manifest and the images it implies, in parallel; tags the
/// previous lockfile pinned keep their pins unless `previous` asks to update them.
pub async fn resolve_all(
    release: &Release,
    implied: &[String],
    registry: &Registry,
    store: &Store,
    previous: &Previous<'_>,
) -> Result<(Vec<ImagePin>, Vec<MovedTag>), ResolveError> {
    let platforms = release.platforms();
    let mut wanted: Vec<&String> = release.spec.images.iter().chain(implied.iter()).collect();
    wanted.sort();
    wanted.dedup();
    let references = wanted
        .iter()
        .map(|text| {
            crate::reference::parse(text)
                .map(|reference| (text.as_str(), reference))
                .map_err(|_| ResolveError::Reference((*text).clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    previous.check_update_names(&references)?;
    let resolved: Vec<(ImagePin, Option<MovedTag>)> =
        futures::stream::iter(references)
            .map(|(text, reference)| {
                let platforms = &platforms;
                async move {
                    resolve_keeping(registry, store, text, &reference, platforms, previous).await
                }
            })
            .buffered(PARALLEL_IMAGES)
            .try_collect()
            .await?;
    let mut moved = Vec::new();
    let pins = resolved
        .into_iter()
        .map(|(pin, move_)| {
            moved.extend(move_);
            pin
        })
        .collect();
    Ok((pins, moved))
}

/// Resolves one reference; a tag the previous lockfile pinned to another digest keeps that
/// pin (fetched by digest, so it is checked) unless asked to update.
async fn resolve_keeping(
    registry: &Registry,
    store: &Store,
    text: &str,
    reference: &Reference,
    platforms: &[Platform],
    previous: &Previous<'_>,
) -> Result<(ImagePin, Option<MovedTag>), ResolveError> {
    let upstream = registry.manifest(reference).await?;
    let image = reference.whole();
    let locked = match previous.locked_digest(reference) {
        Some(locked) if *locked != upstream.digest => locked.clone(),
        _ => {
            return Ok((
                pin_top(registry, store, reference, upstream, platforms).await?,
                None,
            ))
        }
    };
    let updated = previous.update.covers(text, reference);
    let moved = MovedTag {
        reference: image.clone(),
        locked: locked.clone(),
        upstream: upstream.digest.clone(),
        updated,
    };
    let top = if updated {
        upstream
    } else {
        let by_digest = Reference::with_digest(
            reference.registry().to_string(),
            reference.repository().to_string(),
            locked.to_string(),
        );
        registry
            .manifest(&by_digest)
            .await
            .map_err(|error| ResolveError::LockedPinGone {
                image: image.clone(),
                locked: locked.clone(),
                upstream: upstream.digest.clone(),
                message: error.to_string(),
            })?
    };
    Ok((
        pin_top(registry, store, reference, top, platforms).await?,
        Some(moved),
    ))
}

/// Resolves one image reference for the requested platforms.
pub async fn resolve_one(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    platforms: &[Platform],
) -> Result<ImagePin, ResolveError> {
    let top = registry.manifest(reference).await?;
    pin_top(registry, store, reference, top, platforms).await
}

/// Pins `reference` to `top` (its manifest or index as fetched) for the requested platforms.
async fn pin_top(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    top: RawManifest,
    platforms: &[Platform],
) -> Result<ImagePin, ResolveError> {
    let image = reference.whole();
    store
        .put_bytes(&top.digest, &top.bytes)
        .map_err(|source| ResolveError::Store {
            image: image.clone(),
            source,
        })?;
    let parsed = Parsed::from_bytes(&top.bytes, Some(&top.media_type)).map_err(|source| {
        RegistryError::Manifest {
            reference: image.clone(),
            source,
        }
    })?;
    let platform_pins = match &parsed {
        Parsed::Index { manifests, .. } => {
            let offered: Vec<(String, &crate::oci::Descriptor)> = manifests
                .iter()
                .filter_map(|d| {
                    d.platform.as_ref().map(|p| {
                        (
                            Platform::describe(&p.os, &p.architecture, p.variant.as_deref()),
                            d,
                        )
                    })
                })
                .collect();
            platforms
                .iter()
                .map(|wanted| {
                    crate::oci::select_platform(manifests, wanted)
                        .map(|d| PlatformPin {
                            platform: wanted.to_string(),
                            digest: d.digest.clone(),
                            media_type: d.media_type.clone(),
                            size: d.size,
                        })
                        .ok_or_else(|| ResolveError::PlatformMissing {
                            image: image.clone(),
                            wanted: wanted.to_string(),
                            available: available(offered.iter().map(|(p, _)| p.clone())),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        Parsed::Image { config, .. } => {
            let config_platform =
                fetch_config_platform(registry, store, reference, &config.digest, config.size)
                    .await?;
            let offered = Platform::describe(
                &config_platform.os,
                &config_platform.architecture,
                config_platform.variant.as_deref(),
            );
            platforms
                .iter()
                .map(|wanted| {
                    if wanted.matches(
                        &config_platform.os,
                        &config_platform.architecture,
                        config_platform.variant.as_deref(),
                    ) {
                        Ok(PlatformPin {
                            platform: wanted.to_string(),
                            digest: top.digest.clone(),
                            media_type: top.media_type.clone(),
                            size: top.bytes.len() as u64,
                        })
                    } else {
                        Err(ResolveError::PlatformMissing {
                            image: image.clone(),
                            wanted: wanted.to_string(),
                            available: vec![format!("only {offered} (a single-platform image)")],
                        })
                    }
                })
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    let also_carried = match &parsed {
        Parsed::Index { manifests, .. } if reference.digest().is_some() => {
            other_entries(manifests, &platform_pins)
        }
        _ => Vec::new(),
    };
    Ok(ImagePin {
        reference: image,
        digest: top.digest,
        media_type: top.media_type,
        size: top.bytes.len() as u64,
        platforms: platform_pins,
        also_carried,
    })
}

/// The entries of an index that the requested platforms do not already carry, each once
/// (attestation manifests are listed as `unknown/unknown`).
fn other_entries(
    manifests: &[crate::oci::Descriptor],
    carried: &[PlatformPin],
) -> Vec<PlatformPin> {
    let mut others: Vec<PlatformPin> = Vec::new();
    for entry in manifests {
        if carried.iter().any(|p| p.digest == entry.digest)
            || others.iter().any(|p| p.digest == entry.digest)
        {
            continue;
        }
        others.push(PlatformPin {
            platform: entry.platform.as_ref().map_or_else(
                || "unknown/unknown".to_string(),
                |p| Platform::describe(&p.os, &p.architecture, p.variant.as_deref()),
            ),
            digest: entry.digest.clone(),
            media_type: entry.media_type.clone(),
            size: entry.size,
        });
    }
    others
}

fn available(platforms: impl Iterator<Item = String>) -> Vec<String> {
    let mut list: Vec<String> = platforms.filter(|p| p != "unknown/unknown").collect();
    list.sort();
    list.dedup();
    if list.is_empty() {
        list.push("no platform entries".into());
    }
    list
}

/// Downloads (or reads from the cache) a small image config and reads its platform.
async fn fetch_config_platform(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    digest: &Digest,
    size: u64,
) -> Result<ConfigPlatform, ResolveError> {
    let image = reference.whole();
    let config_error = |message: String| ResolveError::Config {
        image: image.clone(),
        digest: digest.clone(),
        message,
    };
    if size > MAX_CONFIG_SIZE {
        return Err(config_error(format!(
            "{size} bytes is larger than the {MAX_CONFIG_SIZE}-byte limit"
        )));
    }
    if !store.has(digest, size) {
        let mut blob = registry.blob(reference, digest, 0).await?;
        let mut bytes = Vec::with_capacity(size as usize);
        while let Some(chunk) = blob.stream.next().await {
            let chunk = chunk.map_err(|e| config_error(e.to_string()))?;
            if (bytes.len() + chunk.len()) as u64 > size {
                return Err(config_error(format!(
                    "the registry sent more than the {size} bytes pinned"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        store
            .put_bytes(digest, &bytes)
            .map_err(|e| config_error(e.to_string()))?;
    }
    let bytes = store
        .read_bytes(digest)
        .map_err(|e| config_error(e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| config_error(format!("not a valid image config: {e}")))
}
