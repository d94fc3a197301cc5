//! Image tags → digests, and the manifest to carry for each requested platform.
//!
//! Multi-arch indexes are kept as they are (their digest is what nodes ask for); the lockfile
//! records, per requested platform, which child manifest is carried.

use super::ResolveError;
use crate::fetch::FetchError;
use crate::lock::{ImagePin, PlatformPin};
use crate::manifest::Release;
use crate::oci::{ConfigPlatform, Descriptor, Parsed};
use crate::platform::Platform;
use crate::progress::Reporter;
use crate::store::Store;
use crate::upstream::registry::{Registry, RegistryError};
use futures::{StreamExt, TryStreamExt};
use oci_client::Reference;

/// Image configs larger than this are refused (real ones are a few KiB).
const MAX_CONFIG_SIZE: u64 = 8 << 20;
/// How many images are resolved at once.
const PARALLEL_IMAGES: usize = 8;

/// Resolves every image of the manifest and the images it implies, in parallel.
pub async fn resolve_all(
    release: &Release,
    implied: &[String],
    registry: &Registry,
    store: &Store,
    reporter: &dyn Reporter,
) -> Result<Vec<ImagePin>, ResolveError> {
    let platforms = release.platforms();
    let mut wanted: Vec<&String> = release.spec.images.iter().chain(implied.iter()).collect();
    wanted.sort();
    wanted.dedup();
    futures::stream::iter(wanted)
        .map(|text| {
            let platforms = &platforms;
            async move {
                let reference = crate::reference::parse(text)
                    .map_err(|_| ResolveError::Reference(text.clone()))?;
                resolve_one(registry, store, &reference, platforms, reporter).await
            }
        })
        .buffered(PARALLEL_IMAGES)
        .try_collect()
        .await
}

/// Resolves one image reference for the requested platforms.
pub async fn resolve_one(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    platforms: &[Platform],
    reporter: &dyn Reporter,
) -> Result<ImagePin, ResolveError> {
    let image = reference.whole();
    let top = registry.manifest_retried(reference, reporter).await?;
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
                fetch_config_platform(registry, store, reference, config, reporter).await?;
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
    Ok(ImagePin {
        reference: image,
        digest: top.digest,
        media_type: top.media_type,
        size: top.bytes.len() as u64,
        platforms: platform_pins,
    })
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
