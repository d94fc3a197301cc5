//! Resolving a release manifest into pins (the lockfile): files first (they fix the
//! Kubernetes version, which implies images), then images, then Debian packages. `plan` is
//! the same walk without the network (`lock --dry-run`).

pub mod apt;
pub mod error;
pub mod files;
pub mod image;
pub mod plan;

use crate::lock::{Lockfile, ReleaseId, LOCK_VERSION};
use crate::manifest::Release;
use crate::progress::Reporter;
use crate::store::Store;
use crate::upstream::registry::Registry;
use std::path::PathBuf;

pub use error::ResolveError;
pub use plan::{plan, Plan};

/// What resolving needs from the host besides the manifest.
#[derive(Debug, Clone)]
pub struct ResolveSettings {
    /// The host's apt configuration directory (normally `/etc/apt`): the sources of
    /// `source: system` entries and the keys that check sources without `keyring:`.
    pub etc_apt: PathBuf,
}

/// Resolves every moving part of `release` to a pin. Manifests fetched on the way are kept in
/// `store`, so a build right after a lock fetches none of them again. Retries are noted to
/// `reporter`.
pub async fn lock(
    release: &Release,
    registry: &Registry,
    store: &Store,
    settings: &ResolveSettings,
    reporter: &dyn Reporter,
) -> Result<Lockfile, ResolveError> {
    let http =
        crate::upstream::http::Http::new(release.upstreams()).map_err(|e| ResolveError::File {
            url: String::new(),
            message: e.to_string(),
        })?;
    let resolved = files::resolve(release, &http, store, reporter).await?;
    let images = image::resolve_all(release, &resolved.images, registry, store, reporter).await?;
    let debs = apt::resolve(release, &http, store, &settings.etc_apt).await?;
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
