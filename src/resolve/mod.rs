//! Resolving a release manifest into pins (the lockfile): files first (they fix the
//! Kubernetes version, which implies images), then images.

pub mod apt;
pub mod files;
pub mod image;

use crate::lock::{Lockfile, ReleaseId, LOCK_VERSION};
use crate::manifest::Release;
use crate::store::Store;
use crate::upstream::registry::Registry;

pub use image::ResolveError;

/// Resolves every moving part of `release` to a pin. Manifests fetched on the way are kept in
/// `store`, so a build right after a lock fetches none of them again.
pub async fn lock(
    release: &Release,
    registry: &Registry,
    store: &Store,
) -> Result<Lockfile, ResolveError> {
    let http =
        crate::upstream::http::Http::new(release.upstreams()).map_err(|e| ResolveError::File {
            url: String::new(),
            message: e.to_string(),
        })?;
    let resolved = files::resolve(release, &http, store).await?;
    let images = image::resolve_all(release, &resolved.images, registry, store).await?;
    let debs = apt::resolve(release, &http, store).await?;
    let mut lockfile = Lockfile {
        version: LOCK_VERSION,
        release: ReleaseId {
            name: release.metadata.name.clone(),
            version: release.metadata.version.clone(),
        },
        manifest_digest: release.canonical_digest(),
        platforms: release.platforms().iter().map(|p| p.to_string()).collect(),
        kubernetes: resolved.kubernetes,
        images,
        files: resolved.files,
        debs,
    };
    lockfile.canonicalize();
    Ok(lockfile)
}
