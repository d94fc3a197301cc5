//! Resolving a release manifest into pins (the lockfile). Images only, for now.

pub mod image;

use crate::lock::{Lockfile, ReleaseId, LOCK_VERSION};
use crate::manifest::Release;
use crate::registry::Registry;
use crate::store::Store;

pub use image::ResolveError;

/// Resolves every moving part of `release` to a pin. Manifests fetched on the way are kept in
/// `store`, so a build right after a lock fetches none of them again.
pub async fn lock(
    release: &Release,
    registry: &Registry,
    store: &Store,
) -> Result<Lockfile, ResolveError> {
    let images = image::resolve_all(release, registry, store).await?;
    let mut lockfile = Lockfile {
        version: LOCK_VERSION,
        release: ReleaseId {
            name: release.metadata.name.clone(),
            version: release.metadata.version.clone(),
        },
        manifest_digest: release.canonical_digest(),
        platforms: release.platforms().iter().map(|p| p.to_string()).collect(),
        images,
    };
    lockfile.canonicalize();
    Ok(lockfile)
}
