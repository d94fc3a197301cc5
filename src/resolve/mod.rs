//! Resolving a release manifest into pins (the lockfile): files first (they fix the
//! Kubernetes version, which implies images), then images and what refers to them
//! (signatures, attestations, SBOMs), then Debian and RPM packages. `plan` is
//! the same walk without the network (`lock --dry-run`). A new lock keeps the image pins of
//! the lockfile before it ([`Previous`]) unless asked to update them.

pub mod apt;
pub mod charts;
pub mod error;
pub mod files;
pub mod image;
pub mod plan;
pub mod referrers;
pub mod rpm;
mod signed;
pub mod verify;

use crate::digest::Digest;
use crate::lock::{Lockfile, ReleaseId, LOCK_VERSION};
use crate::manifest::Release;
use crate::progress::Reporter;
use crate::store::Store;
use crate::trust::TrustedRoot;
use crate::upstream::registry::Registry;
use oci_client::Reference;
use std::path::PathBuf;

pub use error::ResolveError;
pub use image::MovedTag;
pub use plan::{plan, Plan};

/// Which locked image pins a lock moves to what their tags name upstream now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Update {
    /// Keep every pin (tags that moved are reported).
    #[default]
    Nothing,
    /// Re-resolve every tag (`lock --update`).
    All,
    /// Re-resolve these images (`lock --update IMAGE…`), named as in the manifest, as full
    /// references, or as `registry/repository` without the tag.
    Images(Vec<String>),
}

impl Update {
    /// Whether the pin of `reference` (written `text` in the manifest) is to be moved.
    pub fn covers(&self, text: &str, reference: &Reference) -> bool {
        match self {
            Update::Nothing => false,
            Update::All => true,
            Update::Images(names) => names.iter().any(|name| names_image(name, text, reference)),
        }
    }
}

/// Whether an `--update` argument names this image.
fn names_image(name: &str, text: &str, reference: &Reference) -> bool {
    let repository = format!("{}/{}", reference.registry(), reference.repository());
    name == text
        || name == reference.whole()
        || name == repository
        || crate::reference::parse(name).is_ok_and(|parsed| parsed.whole() == reference.whole())
}

/// What a lock keeps from the lockfile before it.
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    /// The previous lockfile, when there is a readable one.
    pub lockfile: Option<&'a Lockfile>,
    pub update: &'a Update,
}

impl Previous<'_> {
    /// The digest the previous lockfile pinned a tag reference to (never for a reference
    /// that carries its own digest).
    fn locked_digest(&self, reference: &Reference) -> Option<&Digest> {
        if reference.digest().is_some() {
            return None;
        }
        let whole = reference.whole();
        self.lockfile?
            .images
            .iter()
            .find(|pin| pin.reference == whole)
            .map(|pin| &pin.digest)
    }

    /// Every `--update IMAGE` must name an image of this lock.
    fn check_update_names(&self, wanted: &[(&str, Reference)]) -> Result<(), ResolveError> {
        let Update::Images(names) = self.update else {
            return Ok(());
        };
        for name in names {
            if !wanted
                .iter()
                .any(|(text, reference)| names_image(name, text, reference))
            {
                return Err(ResolveError::UpdateUnknown {
                    name: name.clone(),
                    images: wanted.iter().map(|(_, r)| r.whole()).collect(),
                });
            }
        }
        Ok(())
    }
}

/// A lockfile, and the tags that moved upstream since the previous one.
#[derive(Debug, Clone)]
pub struct Locked {
    pub lockfile: Lockfile,
    pub moved: Vec<MovedTag>,
}

/// What resolving needs from the host besides the manifest.
#[derive(Debug, Clone)]
pub struct ResolveSettings {
    /// The host's apt configuration directory (normally `/etc/apt`): the sources of
    /// `source: system` entries and the keys that check sources without `keyring:`.
    pub etc_apt: PathBuf,
    /// The host's dnf repository directory (normally `/etc/yum.repos.d`): the
    /// repositories of `source: system` rpm entries.
    pub yum_repos: PathBuf,
    /// `--trusted-root FILE`; none: the production Sigstore root.
    pub trusted_root: Option<PathBuf>,
}

/// Resolves every moving part of `release` to a pin. Manifests fetched on the way are kept in
/// `store`, so a build right after a lock fetches none of them again. Retries, and what the
/// user should know but does not stop the lock (an apt source skipped), go to `reporter`.
pub async fn lock(
    release: &Release,
    registry: &Registry,
    store: &Store,
    settings: &ResolveSettings,
    previous: &Previous<'_>,
    reporter: &dyn Reporter,
) -> Result<Locked, ResolveError> {
    let http = crate::upstream::http::Http::new(release.upstreams())?;
    let root = trusted_root(settings.trusted_root.as_deref())?;
    let resolved = files::resolve(release, &http, store, &root, reporter).await?;
    let charts = charts::resolve(release, &http, registry, store, previous, reporter).await?;
    let implied: Vec<String> = resolved
        .images
        .iter()
        .cloned()
        .chain(charts.images.iter().map(|(reference, _)| reference.clone()))
        .collect();
    let (mut images, moved) =
        image::resolve_all(release, &implied, registry, store, previous, reporter)
            .await
            .map_err(|error| charts::blame(error, &charts.images))?;
    charts::explain(&mut images, &charts)?;
    referrers::discover_all(release, &mut images, registry, store, reporter).await?;
    let policies = image_policies(release)?;
    verify::check_all(&mut images, &policies, registry, store, &root, reporter).await?;
    let debs = apt::resolve(release, &http, store, &settings.etc_apt, reporter).await?;
    let (rpms, rpm_repos) =
        rpm::resolve(release, &http, store, &settings.yum_repos, reporter).await?;
    let checked_any = images.iter().any(|i| !i.signatures.is_empty())
        || resolved.files.iter().any(|f| f.signature.is_some());
    let trusted_root = if checked_any {
        let digest = Digest::of(root.bytes());
        store
            .put_bytes(&digest, root.bytes())
            .map_err(|source| ResolveError::Store {
                image: "the Sigstore trusted root".into(),
                source,
            })?;
        Some(digest)
    } else {
        None
    };
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
        charts: charts.charts,
        rpms,
        rpm_repos,
        trusted_root,
    };
    lockfile.canonicalize();
    Ok(Locked { lockfile, moved })
}

/// `spec.verify`, ready to check: key files read (relative to the manifest), requirements
/// parsed (validated at load).
fn image_policies(release: &Release) -> Result<Vec<verify::ImagePolicy>, ResolveError> {
    release
        .spec
        .verify
        .iter()
        .map(|spec| {
            let bad = |message: String| ResolveError::Policy {
                pattern: spec.pattern.clone(),
                message,
            };
            let source = crate::file_plan::verify_source(&spec.signer())
                .ok_or_else(|| bad("name one signer: `keyless` or `key`".into()))?;
            let policy = signed::load_policy(&source, &release.dir).map_err(bad)?;
            let require = match &spec.require {
                Some(text) => text.parse().map_err(bad)?,
                None => crate::trust::Requirement::Signature,
            };
            let glob = glob::Pattern::new(&spec.pattern).map_err(|e| bad(e.to_string()))?;
            Ok(verify::ImagePolicy {
                pattern: spec.pattern.clone(),
                glob,
                policy,
                require,
            })
        })
        .collect()
}

/// The Sigstore trusted root keyless signatures are checked against.
fn trusted_root(path: Option<&std::path::Path>) -> Result<TrustedRoot, ResolveError> {
    let Some(path) = path else {
        return Ok(TrustedRoot::production());
    };
    let bad = |message: String| ResolveError::TrustedRoot {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    TrustedRoot::from_json(&bytes).map_err(|e| bad(e.to_string()))
}
