//! `outpost push`: copy a bundle's images into an existing registry (Harbor, distribution).
//!
//! Manifests go byte for byte (so digests stay the pins); blobs stream from the bundle in
//! place, in parallel, each once: a blob the target repository already has is skipped, one
//! another repository of the target has is mounted (cross-repository mount), and only the
//! rest is uploaded. Re-running after an interruption therefore only sends what is missing.
//! Repositories keep their upstream path under `--prefix`. The bundle's lockfile and files
//! (binaries, apt repositories) go as OCI artifacts to `<prefix>/outpost/<release>`, tagged
//! with the release version, so a registry-only site keeps everything. A push never reports
//! success while a reference the bundle pins by digest does not resolve on the target.
//! Referrers (signatures, attestations, SBOMs) go after their subjects, with the referrers
//! tag schema for a target without the referrers API.

mod plan;
mod referrers;
mod upload;

pub use plan::version_tag;
use plan::{artifact_index, valid_prefix};
use upload::{Pusher, RepoResult};

use crate::bundle::open::OpenBundle;
use crate::digest::Digest;
use crate::progress::Reporter;
use futures::{StreamExt, TryStreamExt};
use oci_client::client::ClientProtocol;
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{target}: {message}")]
    Registry { target: String, message: String },
    #[error("both {first} and {second} would be pushed as {target}; push them with different --prefix values")]
    Conflict {
        target: String,
        first: String,
        second: String,
    },
    #[error("`{0}` is not a usable repository prefix (lowercase letters, digits, `._-` and `/`)")]
    BadPrefix(String),
    #[error("reading blob {digest} from the bundle: {message}")]
    Read { digest: Digest, message: String },
    /// References pinned by digest that the target does not resolve after the push: the
    /// registry refused an index the bundle carries only partly.
    #[error("pushed, but these pinned references do not resolve on {registry}: {}; the registry refused each index as pinned because the bundle carries only some of its platforms (a tag, if any, names an index of the carried platforms). Rebuild the bundle with this version of outpost (`outpost bundle build MANIFEST`, or `outpost lock` then `--locked`): an index pinned by digest then travels whole", references.join(", "))]
    PinsNotResolved {
        registry: String,
        references: Vec<String>,
    },
}

/// Where and how to push.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// `host[:port]` of the target registry.
    pub registry: String,
    /// Repository path prefix (`mirror/k8s`), may be empty.
    pub prefix: String,
    pub plain_http: bool,
    /// Credentials; `None` reads the Docker config for the target host.
    pub auth: Option<RegistryAuth>,
    /// Blob uploads at once.
    pub jobs: usize,
}

/// What a push did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PushSummary {
    pub images: usize,
    /// Referrers pushed with them (signatures, attestations, SBOMs).
    pub referrers: usize,
    pub repositories: usize,
    pub blobs_pushed: usize,
    pub blobs_mounted: usize,
    pub blobs_skipped: usize,
    /// Blob bytes uploaded (mounted and skipped blobs cost none).
    pub bytes_pushed: u64,
    pub manifests_pushed: usize,
    pub manifests_skipped: usize,
    /// Repository holding the release's lockfile and files, and its tag.
    pub artifacts: Option<String>,
    /// Indexes that carry only some platforms, tagged as a reduced index (the target
    /// registry refused the original, which names manifests the bundle does not carry).
    pub reduced: Vec<String>,
}

/// Pushes every image of `bundle` (and its artifacts) to the target registry.
pub async fn push(
    bundle: &OpenBundle,
    settings: &PushSettings,
    reporter: &dyn Reporter,
) -> Result<PushSummary, PushError> {
    let prefix = settings.prefix.trim_matches('/');
    if !prefix.is_empty() && !valid_prefix(prefix) {
        return Err(PushError::BadPrefix(settings.prefix.clone()));
    }
    let (repos, artifacts_ref) = plan::plan(bundle, prefix)?;
    let protocol = if settings.plain_http {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    };
    let auth = settings
        .auth
        .clone()
        .unwrap_or_else(|| crate::upstream::registry::docker_auth(&settings.registry));
    let pusher = Pusher {
        client: crate::upstream::registry::client(protocol, true),
        settings,
        bundle,
        reporter,
        auth: auth.clone(),
        pushed: AtomicUsize::new(0),
        mounted: AtomicUsize::new(0),
        skipped: AtomicUsize::new(0),
        bytes: AtomicU64::new(0),
    };
    for repo in repos.keys() {
        pusher
            .client
            .auth(
                &pusher.reference(repo, "latest"),
                &auth,
                RegistryOperation::Push,
            )
            .await
            .map_err(|e| pusher.fail(repo, &e))?;
    }
    // Every blob once, with the repositories that need it.
    let mut by_digest: BTreeMap<Digest, (u64, Vec<String>)> = BTreeMap::new();
    for (repo, plan) in &repos {
        for (digest, size) in &plan.blobs {
            by_digest
                .entry(digest.clone())
                .or_insert_with(|| (*size, Vec::new()))
                .1
                .push(repo.clone());
        }
    }
    let total: u64 = by_digest.values().map(|(size, _)| size).sum();
    reporter.start("push", total);
    let jobs = settings.jobs.max(1);
    futures::stream::iter(by_digest.iter().map(|(digest, (size, repos))| {
        let pusher = &pusher;
        async move { pusher.blob(digest, *size, repos).await }
    }))
    .buffer_unordered(jobs)
    .try_collect::<Vec<()>>()
    .await?;
    reporter.finish();

    let artifact_tag = artifacts_ref
        .as_ref()
        .and_then(|r| r.rsplit_once(':'))
        .map(|(repo, tag)| (repo.to_string(), tag.to_string()));
    let results = futures::stream::iter(repos.iter().map(|(repo, plan)| {
        let pusher = &pusher;
        let extra = artifact_tag
            .as_ref()
            .filter(|(r, _)| r == repo)
            .map(|(_, tag)| (tag.clone(), artifact_index(bundle)));
        async move { pusher.manifests(repo, plan, extra).await }
    }))
    .buffer_unordered(jobs)
    .try_collect::<Vec<RepoResult>>()
    .await?;
    // Never report success while a reference the bundle pins by digest is not there.
    let unresolved = pusher.unresolved_pins(prefix).await;
    if !unresolved.is_empty() {
        return Err(PushError::PinsNotResolved {
            registry: settings.registry.clone(),
            references: unresolved,
        });
    }
    Ok(PushSummary {
        images: bundle.images.iter().filter(|i| i.subject.is_none()).count(),
        referrers: bundle.images.iter().filter(|i| i.subject.is_some()).count(),
        repositories: repos.len(),
        blobs_pushed: pusher.pushed.load(Ordering::Relaxed),
        blobs_mounted: pusher.mounted.load(Ordering::Relaxed),
        blobs_skipped: pusher.skipped.load(Ordering::Relaxed),
        bytes_pushed: pusher.bytes.load(Ordering::Relaxed),
        manifests_pushed: results.iter().map(|r| r.pushed).sum(),
        manifests_skipped: results.iter().map(|r| r.skipped).sum(),
        reduced: results.into_iter().flat_map(|r| r.reduced).collect(),
        artifacts: artifacts_ref,
    })
}
