//! Talking to the target registry: blobs (skip, cross-repository mount, one streamed
//! monolithic upload from the bundle in place), manifests byte for byte, tags.

use crate::bundle::open::{BlobLocation, OpenBundle};
use crate::digest::Digest;
use crate::progress::Reporter;
use bytes::Bytes;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::plan::{join, reduced_index, RepoPlan};
use super::{PushError, PushSettings};

/// One push in progress: the client, what to push, and the counts so far.
pub(super) struct Pusher<'a> {
    pub(super) client: Client,
    pub(super) settings: &'a PushSettings,
    pub(super) bundle: &'a OpenBundle,
    pub(super) reporter: &'a dyn Reporter,
    pub(super) auth: RegistryAuth,
    pub(super) pushed: AtomicUsize,
    pub(super) mounted: AtomicUsize,
    pub(super) skipped: AtomicUsize,
    pub(super) bytes: AtomicU64,
}

impl Pusher<'_> {
    pub(super) fn reference(&self, repo: &str, tag: &str) -> Reference {
        Reference::with_tag(self.settings.registry.clone(), repo.into(), tag.into())
    }

    pub(super) fn digest_ref(&self, repo: &str, digest: &Digest) -> Reference {
        Reference::with_digest(
            self.settings.registry.clone(),
            repo.into(),
            digest.to_string(),
        )
    }

    pub(super) fn fail(
        &self,
        repo: &str,
        e: &oci_client::errors::OciDistributionError,
    ) -> PushError {
        PushError::Registry {
            target: format!("{}/{repo}", self.settings.registry),
            message: crate::upstream::registry::describe_error(e, &self.settings.registry),
        }
    }

    /// One blob into every repository that needs it: skip, mount, or upload once.
    pub(super) async fn blob(
        &self,
        digest: &Digest,
        size: u64,
        repos: &[String],
    ) -> Result<(), PushError> {
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

    pub(super) async fn upload(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
    ) -> Result<(), PushError> {
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
    pub(super) async fn manifests(
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
        let (pushed, skipped) = self.referrers(repo, &plan.referrers).await?;
        result.pushed += pushed;
        result.skipped += skipped;
        Ok(result)
    }

    /// Every reference of the bundle that pins a digest, which the target does not resolve
    /// by that digest (`registry/repo@digest (as pinned: reference)`).
    pub(super) async fn unresolved_pins(&self, prefix: &str) -> Vec<String> {
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

    pub(super) fn manifest_bytes(&self, digest: &Digest) -> Result<Vec<u8>, PushError> {
        self.bundle
            .manifests
            .get(digest)
            .map(|bytes| bytes.to_vec())
            .ok_or_else(|| PushError::Read {
                digest: digest.clone(),
                message: "manifest not in the bundle".into(),
            })
    }

    pub(super) async fn put(
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
pub(super) struct RepoResult {
    pub(super) pushed: usize,
    pub(super) skipped: usize,
    /// Tags that got a reduced index (`registry/repo:tag -> digest (pinned digest)`).
    pub(super) reduced: Vec<String>,
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
