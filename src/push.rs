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

use crate::bundle::graph::{Carried, Role};
use crate::bundle::open::{BlobLocation, OpenBundle};
use crate::digest::Digest;
use crate::progress::Reporter;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use oci_client::client::ClientProtocol;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

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

/// One target repository and what it must hold.
#[derive(Debug, Default)]
struct RepoPlan {
    /// Manifests in push order (children before parents), with their media types.
    manifests: Vec<(Digest, String)>,
    /// Tags to point at top-level manifests.
    tags: Vec<(String, Digest, String)>,
    /// Non-manifest blobs (configs, layers).
    blobs: Vec<(Digest, u64)>,
}

fn valid_prefix(prefix: &str) -> bool {
    prefix.split('/').all(|c| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    })
}

fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        path.to_string()
    } else {
        format!("{prefix}/{path}")
    }
}

/// A tag for a release version (`1.31.2+site` → `1.31.2_site`), within the spec's grammar.
pub fn version_tag(version: &str) -> String {
    let mut tag: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    if tag.is_empty() || tag.starts_with(['.', '-']) {
        tag.insert(0, 'v');
    }
    tag
}

fn add_reachable(plan: &mut RepoPlan, reachable: &[Carried], bundle: &OpenBundle) {
    let mut seen: HashSet<Digest> = plan.blobs.iter().map(|(d, _)| d.clone()).collect();
    let known: HashSet<Digest> = plan.manifests.iter().map(|(d, _)| d.clone()).collect();
    let mut manifests = Vec::new();
    for item in reachable {
        let digest = &item.descriptor.digest;
        match item.role {
            Role::Manifest => {
                if !known.contains(digest) && bundle.manifests.contains_key(digest) {
                    manifests.push((digest.clone(), item.descriptor.media_type.clone()));
                }
            }
            Role::Config | Role::Data => {
                if seen.insert(digest.clone()) {
                    plan.blobs.push((digest.clone(), item.descriptor.size));
                }
            }
        }
    }
    // `reachable` is breadth-first from the top: reversed, children come before parents.
    manifests.reverse();
    let mut added = HashSet::new();
    for m in manifests {
        if added.insert(m.0.clone()) {
            plan.manifests.push(m);
        }
    }
}

/// Works out every target repository from the bundle.
fn plan(
    bundle: &OpenBundle,
    prefix: &str,
) -> Result<(BTreeMap<String, RepoPlan>, Option<String>), PushError> {
    let mut repos: BTreeMap<String, RepoPlan> = BTreeMap::new();
    let mut sources: HashMap<String, String> = HashMap::new();
    for image in &bundle.images {
        let Ok(reference) = crate::reference::parse(&image.reference) else {
            continue;
        };
        let target = join(prefix, reference.repository());
        let tag = reference.tag().map(str::to_string);
        let key = format!(
            "{target}{}",
            tag.as_ref()
                .map_or(format!("@{}", image.digest), |t| format!(":{t}"))
        );
        if let Some(first) = sources.get(&key).filter(|s| **s != image.reference) {
            return Err(PushError::Conflict {
                target: key,
                first: first.clone(),
                second: image.reference.clone(),
            });
        }
        sources.insert(key, image.reference.clone());
        let repo = repos.entry(target).or_default();
        add_reachable(repo, &image.reachable, bundle);
        match tag {
            Some(tag) => repo
                .tags
                .push((tag, image.digest.clone(), image.media_type.clone())),
            // Pinned by digest only: pushed by digest, children first, like any manifest.
            None => repo
                .manifests
                .push((image.digest.clone(), image.media_type.clone())),
        }
    }
    let mut artifacts_ref = None;
    if !bundle.artifacts.is_empty() {
        let name: String = bundle
            .head
            .release
            .name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let name = name.trim_matches('-');
        let name = if name.is_empty() { "release" } else { name };
        let target = join(prefix, &format!("outpost/{name}"));
        let repo = repos.entry(target.clone()).or_default();
        for artifact in &bundle.artifacts {
            add_reachable(repo, &artifact.reachable, bundle);
        }
        artifacts_ref = Some(format!(
            "{target}:{}",
            version_tag(&bundle.head.release.version)
        ));
    }
    Ok((repos, artifacts_ref))
}

/// The index tagged with the release version in the artifacts repository: the bundle's
/// non-image entries (lockfile, files) with their annotations.
fn artifact_index(bundle: &OpenBundle) -> Vec<u8> {
    let manifests: Vec<&crate::oci::Descriptor> =
        bundle.artifacts.iter().map(|a| &a.descriptor).collect();
    let annotations = bundle.head.release_annotations(&bundle.index_digest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::oci::OCI_INDEX,
        "artifactType": "application/vnd.outpost.release.v1",
        "manifests": manifests,
        "annotations": annotations,
    });
    serde_json::to_vec(&index).unwrap_or_default()
}

struct Pusher<'a> {
    client: Client,
    settings: &'a PushSettings,
    bundle: &'a OpenBundle,
    reporter: &'a dyn Reporter,
    auth: RegistryAuth,
    pushed: AtomicUsize,
    mounted: AtomicUsize,
    skipped: AtomicUsize,
    bytes: AtomicU64,
}

impl Pusher<'_> {
    fn reference(&self, repo: &str, tag: &str) -> Reference {
        Reference::with_tag(self.settings.registry.clone(), repo.into(), tag.into())
    }

    fn digest_ref(&self, repo: &str, digest: &Digest) -> Reference {
        Reference::with_digest(
            self.settings.registry.clone(),
            repo.into(),
            digest.to_string(),
        )
    }

    fn fail(&self, repo: &str, e: &oci_client::errors::OciDistributionError) -> PushError {
        PushError::Registry {
            target: format!("{}/{repo}", self.settings.registry),
            message: crate::upstream::registry::describe_error(e, &self.settings.registry),
        }
    }

    /// One blob into every repository that needs it: skip, mount, or upload once.
    async fn blob(&self, digest: &Digest, size: u64, repos: &[String]) -> Result<(), PushError> {
        let mut missing = Vec::new();
        let mut holder: Option<&String> = None;
        for repo in repos {
            let exists = self
                .client
                .blob_exists(&self.reference(repo, "latest"), &digest.to_string())
                .await
                .map_err(|e| self.fail(repo, &e))?;
            if exists {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                holder.get_or_insert(repo);
            } else {
                missing.push(repo);
            }
        }
        for repo in missing {
            if let Some(from) = holder {
                let mounted = self
                    .client
                    .mount_blob(
                        &self.reference(repo, "latest"),
                        &self.reference(from, "latest"),
                        &digest.to_string(),
                    )
                    .await
                    .is_ok()
                    && self
                        .client
                        .blob_exists(&self.reference(repo, "latest"), &digest.to_string())
                        .await
                        .unwrap_or(false);
                if mounted {
                    self.mounted.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            self.upload(repo, digest, size).await?;
            holder.get_or_insert(repo);
        }
        self.reporter.advance(size);
        Ok(())
    }

    async fn upload(&self, repo: &str, digest: &Digest, size: u64) -> Result<(), PushError> {
        let location = *self
            .bundle
            .blobs
            .get(digest)
            .ok_or_else(|| PushError::Read {
                digest: digest.clone(),
                message: "not in the bundle".into(),
            })?;
        let (file, start) = self
            .bundle
            .backing
            .open_blob(digest, location)
            .map_err(|e| PushError::Read {
                digest: digest.clone(),
                message: e.to_string(),
            })?;
        let stream = blob_stream(file, start, location);
        self.client
            .push_blob_stream(
                &self.reference(repo, "latest"),
                stream,
                &digest.to_string(),
                Some(size),
            )
            .await
            .map_err(|e| self.fail(repo, &e))?;
        self.pushed.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// Manifests children first (skipping those present), then the tags. An index that
    /// carries only some platforms is refused by registries that check every entry
    /// (distribution 2.x, Harbor); its tag then gets a reduced index of the carried entries.
    async fn manifests(
        &self,
        repo: &str,
        plan: &RepoPlan,
        extra_tag: Option<(String, Vec<u8>)>,
    ) -> Result<RepoResult, PushError> {
        let mut result = RepoResult::default();
        for (digest, media_type) in &plan.manifests {
            let target = self.digest_ref(repo, digest);
            if self
                .client
                .fetch_manifest_digest(&target, &self.auth)
                .await
                .is_ok()
            {
                result.skipped += 1;
                continue;
            }
            let bytes = self.manifest_bytes(digest)?;
            match self.put(repo, &target, bytes.clone(), media_type).await {
                Ok(()) => result.pushed += 1,
                Err(e) => {
                    if reduced_index(&bytes, &self.bundle.manifests).is_none() {
                        return Err(e);
                    }
                    // A partial index: its tag gets the reduced form below.
                }
            }
        }
        for (tag, digest, media_type) in &plan.tags {
            let target = self.reference(repo, tag);
            let bytes = self.manifest_bytes(digest)?;
            if let Err(e) = self.put(repo, &target, bytes.clone(), media_type).await {
                let Some(reduced) = reduced_index(&bytes, &self.bundle.manifests) else {
                    return Err(e);
                };
                let new_digest = Digest::of(&reduced);
                self.put(repo, &target, reduced, media_type).await?;
                result.reduced.push(format!(
                    "{}/{repo}:{tag} -> {new_digest} (pinned {digest})",
                    self.settings.registry
                ));
            }
        }
        if let Some((tag, bytes)) = extra_tag {
            self.put(
                repo,
                &self.reference(repo, &tag),
                bytes,
                crate::oci::OCI_INDEX,
            )
            .await?;
            result.pushed += 1;
        }
        Ok(result)
    }

    /// Every reference of the bundle that pins a digest, which the target does not resolve
    /// by that digest (`registry/repo@digest (as pinned: reference)`).
    async fn unresolved_pins(&self, prefix: &str) -> Vec<String> {
        let mut unresolved = Vec::new();
        for image in &self.bundle.images {
            let Ok(reference) = crate::reference::parse(&image.reference) else {
                continue;
            };
            let Some(pinned) = reference.digest() else {
                continue;
            };
            let repo = join(prefix, reference.repository());
            let target = Reference::with_digest(
                self.settings.registry.clone(),
                repo.clone(),
                pinned.to_string(),
            );
            let resolves = self
                .client
                .fetch_manifest_digest(&target, &self.auth)
                .await
                .is_ok_and(|served| served == pinned);
            if !resolves {
                unresolved.push(format!(
                    "{}/{repo}@{pinned} (pinned as {})",
                    self.settings.registry, image.reference
                ));
            }
        }
        unresolved
    }

    fn manifest_bytes(&self, digest: &Digest) -> Result<Vec<u8>, PushError> {
        self.bundle
            .manifests
            .get(digest)
            .cloned()
            .ok_or_else(|| PushError::Read {
                digest: digest.clone(),
                message: "manifest not in the bundle".into(),
            })
    }

    async fn put(
        &self,
        repo: &str,
        target: &Reference,
        bytes: Vec<u8>,
        media_type: &str,
    ) -> Result<(), PushError> {
        let value = reqwest::header::HeaderValue::from_str(media_type).unwrap_or_else(|_| {
            reqwest::header::HeaderValue::from_static(crate::oci::OCI_MANIFEST)
        });
        self.client
            .push_manifest_raw(target, bytes, value)
            .await
            .map_err(|e| self.fail(repo, &e))?;
        Ok(())
    }
}

/// What one repository's manifests did.
#[derive(Debug, Default)]
struct RepoResult {
    pushed: usize,
    skipped: usize,
    /// Tags that got a reduced index (`registry/repo:tag -> digest (pinned digest)`).
    reduced: Vec<String>,
}

/// For an index that lists manifests the bundle does not carry (other platforms), the same
/// index with only the carried entries; `None` for anything else.
fn reduced_index(bytes: &[u8], carried: &HashMap<Digest, Vec<u8>>) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let entries = value.get_mut("manifests")?.as_array_mut()?;
    let before = entries.len();
    entries.retain(|entry| {
        entry
            .get("digest")
            .and_then(|d| d.as_str())
            .and_then(|d| d.parse::<Digest>().ok())
            .is_some_and(|d| carried.contains_key(&d))
    });
    if entries.len() == before || entries.is_empty() {
        return None;
    }
    serde_json::to_vec(&value).ok()
}

/// The blob's bytes from the bundle, 1 MiB at a time, read off the async threads.
fn blob_stream(
    file: Arc<crate::bundle::parts::BundleFile>,
    start: u64,
    location: BlobLocation,
) -> impl futures::Stream<Item = Result<Bytes, oci_client::errors::OciDistributionError>> + Send + 'static
{
    let end = start + location.size;
    futures::stream::try_unfold(start, move |position| {
        let file = file.clone();
        async move {
            if position >= end {
                return Ok(None);
            }
            let size = (end - position).min(1 << 20) as usize;
            let mut buf = vec![0u8; size];
            let bytes = tokio::task::spawn_blocking(move || {
                file.read_exact_at(&mut buf, position)
                    .map(|_| Bytes::from(buf))
            })
            .await
            .map_err(std::io::Error::other)??;
            Ok(Some((bytes, position + size as u64)))
        }
    })
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
    let (repos, artifacts_ref) = plan(bundle, prefix)?;
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
        images: bundle.images.len(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_tags() {
        assert!(valid_prefix("mirror/k8s"));
        assert!(!valid_prefix("Mirror"));
        assert!(!valid_prefix("a//b"));
        assert_eq!(join("", "calico/node"), "calico/node");
        assert_eq!(join("site", "calico/node"), "site/calico/node");
        assert_eq!(version_tag("1.31.2+site"), "1.31.2_site");
        assert_eq!(version_tag(".x"), "v.x");
    }
}
