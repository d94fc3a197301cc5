//! Image tags → digests, and the manifest to carry for each requested platform.
//!
//! Multi-arch indexes are kept as they are (their digest is what nodes ask for); the lockfile
//! records each child manifest carried with the platform its index entry names (variant and
//! Windows build included), chosen by the one matcher (`Platform::select`, containerd's rule).
//! An index pinned by digest in the manifest travels whole (every entry), since that digest
//! promises exactly that index. A platform-less OCI artifact (`crate::oci::artifact` says
//! which manifests are) is pinned with its artifact type and no platform selection, and
//! travels whole too. A tag the previous lockfile pinned keeps its pin when it moved
//! upstream, unless the lock was asked to update it; either way the move is reported.

use super::{Previous, ResolveError};
use crate::digest::Digest;
use crate::fetch::FetchError;
use crate::lock::{ImagePin, PlatformPin};
use crate::manifest::Release;
use crate::oci::artifact::{self, Kind};
use crate::oci::{
    carried_children, select_platform, ConfigPlatform, Descriptor, Parsed, PlatformField,
};
use crate::platform::Platform;
use crate::progress::{NotesOnly, Reporter};
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
    reporter: &dyn Reporter,
) -> Result<(Vec<ImagePin>, Vec<MovedTag>), ResolveError> {
    let platforms = release.platforms();
    let mut wanted: Vec<&String> = release.references().chain(implied.iter()).collect();
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
    reporter.start_items("lock", "images", references.len() as u64);
    let inner = NotesOnly(reporter);
    let resolved: Result<Vec<(ImagePin, Option<MovedTag>)>, ResolveError> =
        futures::stream::iter(references)
            .map(|(text, reference)| {
                let (platforms, inner) = (&platforms, &inner);
                async move {
                    let resolved = resolve_keeping(
                        registry, store, text, &reference, platforms, previous, inner,
                    )
                    .await;
                    reporter.advance(1);
                    resolved
                }
            })
            .buffered(PARALLEL_IMAGES)
            .try_collect()
            .await;
    reporter.finish();
    let resolved = resolved?;
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
    reporter: &dyn Reporter,
) -> Result<(ImagePin, Option<MovedTag>), ResolveError> {
    let upstream = registry.manifest_retried(reference, reporter).await?;
    let image = reference.whole();
    let locked = match previous.locked_digest(reference) {
        Some(locked) if *locked != upstream.digest => locked.clone(),
        _ => {
            return Ok((
                pin_top(registry, store, reference, upstream, platforms, reporter).await?,
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
            .manifest_retried(&by_digest, reporter)
            .await
            .map_err(|error| ResolveError::LockedPinGone {
                image: image.clone(),
                locked: locked.clone(),
                upstream: upstream.digest.clone(),
                message: error.to_string(),
            })?
    };
    Ok((
        pin_top(registry, store, reference, top, platforms, reporter).await?,
        Some(moved),
    ))
}

/// Resolves one image reference for the requested platforms.
pub async fn resolve_one(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    platforms: &[Platform],
    reporter: &dyn Reporter,
) -> Result<ImagePin, ResolveError> {
    let top = registry.manifest_retried(reference, reporter).await?;
    pin_top(registry, store, reference, top, platforms, reporter).await
}

/// Pins `reference` to `top` (its manifest or index as fetched) for the requested platforms.
async fn pin_top(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    top: RawManifest,
    platforms: &[Platform],
    reporter: &dyn Reporter,
) -> Result<ImagePin, ResolveError> {
    let image = reference.whole();
    store
        .put_bytes_async(&top.digest, &top.bytes)
        .await
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
    if let Kind::Artifact(known) = artifact::classify(&top.bytes, &parsed) {
        return pin_artifact(registry, store, reference, top, &parsed, known, reporter).await;
    }
    let platform_pins = match &parsed {
        Parsed::Index { manifests, .. } => index_pins(&image, manifests, platforms)?,
        Parsed::Image { config, .. } => {
            let offered = fetch_config_platform(registry, store, reference, config, reporter)
                .await?
                .platform();
            let pin = PlatformPin {
                platform: offered.to_string(),
                digest: top.digest.clone(),
                media_type: top.media_type.clone(),
                size: top.bytes.len() as u64,
            };
            for wanted in platforms {
                if !wanted.serves(&offered) {
                    return Err(ResolveError::PlatformMissing {
                        image: image.clone(),
                        wanted: wanted.to_string(),
                        available: vec![format!("only {offered} (a single-platform image)")],
                        other_variants: Vec::new(),
                    });
                }
            }
            vec![pin]
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
        artifact_type: None,
        referrers: Vec::new(),
        signatures: Vec::new(),
        why: Vec::new(),
    })
}

/// Pins a platform-less OCI artifact (see [`crate::oci::artifact`]): no platform, no
/// config read; it travels whole, every entry of an index with it. An index whose bytes
/// name no artifact type is named by its first entry's manifest.
async fn pin_artifact(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    top: RawManifest,
    parsed: &Parsed,
    known: Option<String>,
    reporter: &dyn Reporter,
) -> Result<ImagePin, ResolveError> {
    let (artifact_type, also_carried) = match parsed {
        Parsed::Index { manifests, .. } => {
            let artifact_type = match (known, manifests.first()) {
                (Some(known), _) => known,
                (None, Some(first)) => {
                    first_entry_type(registry, store, reference, first, reporter).await?
                }
                (None, None) => top.media_type.clone(),
            };
            (artifact_type, other_entries(manifests, &[]))
        }
        Parsed::Image { config, .. } => (
            known.unwrap_or_else(|| config.media_type.clone()),
            Vec::new(),
        ),
    };
    Ok(ImagePin {
        reference: reference.whole(),
        digest: top.digest,
        media_type: top.media_type,
        size: top.bytes.len() as u64,
        platforms: Vec::new(),
        also_carried,
        artifact_type: Some(artifact_type),
        referrers: Vec::new(),
        signatures: Vec::new(),
        why: Vec::new(),
    })
}

/// The artifact type of an index entry's manifest, fetched by digest (and kept in the
/// cache, where `fetch` finds it).
async fn first_entry_type(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    entry: &Descriptor,
    reporter: &dyn Reporter,
) -> Result<String, ResolveError> {
    let image = reference.whole();
    let by_digest = Reference::with_digest(
        reference.registry().to_string(),
        reference.repository().to_string(),
        entry.digest.to_string(),
    );
    let child = registry.manifest_retried(&by_digest, reporter).await?;
    store
        .put_bytes_async(&child.digest, &child.bytes)
        .await
        .map_err(|source| ResolveError::Store {
            image: image.clone(),
            source,
        })?;
    let parsed = Parsed::from_bytes(&child.bytes, Some(&entry.media_type)).map_err(|source| {
        RegistryError::Manifest {
            reference: by_digest.whole(),
            source,
        }
    })?;
    Ok(artifact::artifact_type_of(&child.bytes, &parsed))
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
                |p| p.platform().to_string(),
            ),
            digest: entry.digest.clone(),
            media_type: entry.media_type.clone(),
            size: entry.size,
        });
    }
    others
}

/// The children of an index to carry for `platforms` (see [`crate::oci::select_platform`]),
/// each recorded with the platform its entry names (variant and Windows build included), so
/// that the bundle's graph, which selects again from what is recorded, carries exactly these.
fn index_pins(
    image: &str,
    manifests: &[Descriptor],
    platforms: &[Platform],
) -> Result<Vec<PlatformPin>, ResolveError> {
    let offered: Vec<Platform> = manifests
        .iter()
        .filter_map(|d| d.platform.as_ref().map(PlatformField::platform))
        .collect();
    let mut pins: Vec<PlatformPin> = Vec::new();
    for wanted in platforms {
        let chosen = select_platform(manifests, wanted);
        if chosen.is_empty() {
            let other_variants = offered
                .iter()
                .filter(|o| wanted.same_architecture(o))
                .map(Platform::to_string);
            return Err(ResolveError::PlatformMissing {
                image: image.to_string(),
                wanted: wanted.to_string(),
                available: available(offered.iter().map(Platform::to_string)),
                other_variants: sorted(other_variants),
            });
        }
        for descriptor in chosen {
            let platform = descriptor
                .platform
                .as_ref()
                .map(|p| p.platform().to_string())
                .unwrap_or_else(|| wanted.to_string());
            if !pins.iter().any(|pin| pin.digest == descriptor.digest) {
                pins.push(PlatformPin {
                    platform,
                    digest: descriptor.digest.clone(),
                    media_type: descriptor.media_type.clone(),
                    size: descriptor.size,
                });
            }
        }
    }
    if !pins_select_themselves(manifests, &pins) {
        return Err(ResolveError::PlatformAmbiguous {
            image: image.to_string(),
            available: available(offered.iter().map(Platform::to_string)),
            requested: platforms.iter().map(Platform::to_string).collect(),
            recorded: pins.iter().map(|p| p.platform.clone()).collect(),
        });
    }
    Ok(pins)
}

/// Whether the platforms recorded in `pins` select exactly the pinned children of an index
/// again, which is what the bundle's graph carries. False for an index that lists one
/// platform several ways, and for a lockfile whose pins another rule chose.
pub fn pins_select_themselves(manifests: &[Descriptor], pins: &[PlatformPin]) -> bool {
    let recorded: Vec<Platform> = pins
        .iter()
        .filter_map(|p| p.platform.parse().ok())
        .collect();
    let again: Vec<&Digest> = carried_children(manifests, &recorded)
        .into_iter()
        .map(|d| &d.digest)
        .collect();
    again.len() == pins.len() && pins.iter().all(|pin| again.contains(&&pin.digest))
}

fn sorted(list: impl Iterator<Item = String>) -> Vec<String> {
    let mut list: Vec<String> = list.collect();
    list.sort();
    list.dedup();
    list
}

fn available(platforms: impl Iterator<Item = String>) -> Vec<String> {
    let mut list = sorted(platforms.filter(|p| p != "unknown/unknown"));
    if list.is_empty() {
        list.push("no platform entries".into());
    }
    list
}

/// Downloads (or reads from the cache) a small image config and reads its platform: the
/// same retried download into the cache as a layer's (`fetch::ensure_image_blob`).
async fn fetch_config_platform(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    config: &Descriptor,
    reporter: &dyn Reporter,
) -> Result<ConfigPlatform, ResolveError> {
    let image = reference.whole();
    let (digest, size) = (&config.digest, config.size);
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
    crate::fetch::ensure_image_blob(registry, store, reference, config, reporter)
        .await
        .map_err(|e| match e {
            FetchError::Blob {
                message, attempts, ..
            } if attempts > 1 => config_error(format!("{message} (after {attempts} attempts)")),
            FetchError::Blob { message, .. } => config_error(message),
            other => config_error(other.to_string()),
        })?;
    let bytes = store
        .read_bytes(digest)
        .map_err(|e| config_error(e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| config_error(format!("not a valid image config: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::OCI_MANIFEST;

    fn entry(platform: &str, content: &[u8]) -> Descriptor {
        let platform: Platform = platform.parse().unwrap();
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: Digest::of(content),
            size: content.len() as u64,
            platform: Some(PlatformField {
                architecture: platform.architecture,
                os: platform.os,
                variant: platform.variant,
                os_version: platform.os_version,
            }),
            artifact_type: None,
            urls: Vec::new(),
            annotations: Default::default(),
        }
    }

    fn pins(index: &[Descriptor], wanted: &[&str]) -> Result<Vec<(String, Digest)>, String> {
        let wanted: Vec<Platform> = wanted.iter().map(|w| w.parse().unwrap()).collect();
        index_pins("r.test/app:1", index, &wanted)
            .map(|pins| pins.into_iter().map(|p| (p.platform, p.digest)).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn pins_record_the_entry_carried_once() {
        let index = [
            entry("linux/amd64/v2", b"v2"),
            entry("linux/amd64", b"plain"),
            entry("linux/arm64/v8", b"arm64"),
        ];
        assert_eq!(
            pins(&index, &["linux/amd64", "linux/arm64", "linux/amd64/v1"]).unwrap(),
            [
                ("linux/amd64".to_string(), Digest::of(b"plain")),
                ("linux/arm64/v8".to_string(), Digest::of(b"arm64")),
            ]
        );
        assert_eq!(
            pins(&index, &["linux/arm/v7"]).unwrap_err(),
            "r.test/app:1: no manifest for platform linux/arm/v7; the image has linux/amd64, linux/amd64/v2, linux/arm64/v8"
        );
    }

    #[test]
    fn an_index_whose_pins_would_not_select_themselves_again_is_refused() {
        // For linux/amd64/v3 the entry without a build is v2, and build X's best is its v3;
        // recorded as `linux/amd64/v2`, the first would also take build X's v2.
        let index = [
            entry("linux/amd64/v2", b"v2"),
            entry("linux(X)/amd64/v3", b"x-v3"),
            entry("linux(X)/amd64/v2", b"x-v2"),
        ];
        let err = pins(&index, &["linux/amd64/v3"]).unwrap_err();
        assert!(err.contains("cannot pin unambiguously"), "{err}");
    }
}
