//! Pushing referrers (signatures, attestations, SBOMs) after their subjects, and the
//! referrers tag schema for a target without the referrers API: after the referrers are
//! pushed, the target's referrers listing of each subject (the API, or oci-client's fallback
//! to the `sha256-<hex>` tag when the API answers 404) must list every OCI 1.1 referrer
//! pushed; the ones it lacks are added to the tag-schema index, which is pushed again.

use super::plan::ReferrerPlan;
use super::upload::Pusher;
use super::PushError;
use crate::digest::Digest;
use crate::oci::Descriptor;
use crate::referrers::{merged_schema_index, schema_tag};
use std::collections::BTreeMap;

impl Pusher<'_> {
    /// Pushes `referrers` (already ordered: each after its subject), their manifests by
    /// digest and their cosign tags, then updates the tag schema where needed. Returns how
    /// many manifests were pushed and how many were there already.
    pub(super) async fn referrers(
        &self,
        repo: &str,
        referrers: &[ReferrerPlan],
    ) -> Result<(usize, usize), PushError> {
        let (mut pushed, mut skipped) = (0, 0);
        for referrer in referrers {
            for (digest, media_type) in &referrer.manifests {
                let target = self.digest_ref(repo, digest);
                if self
                    .client
                    .fetch_manifest_digest(&target, &self.auth)
                    .await
                    .is_ok_and(|found| found == digest.to_string())
                {
                    skipped += 1;
                    continue;
                }
                let bytes = self.manifest_bytes(digest)?;
                self.put(repo, &target, bytes, media_type).await?;
                pushed += 1;
            }
            if let Some(tag) = &referrer.tag {
                let target = self.reference(repo, tag);
                // cosign keeps every signature of an image in the one manifest under this
                // tag: one the target has already (signed at the site too) is not replaced.
                match self.client.fetch_manifest_digest(&target, &self.auth).await {
                    Ok(found) if found == referrer.digest.to_string() => {}
                    Ok(found) => self.reporter.note(&format!(
                        "{}/{repo}:{tag} is already {found} on the target; left as it is (the carried {} is there by digest)",
                        self.settings.registry, referrer.digest
                    )),
                    Err(_) => {
                        let bytes = self.manifest_bytes(&referrer.digest)?;
                        self.put(repo, &target, bytes, &referrer.media_type).await?;
                    }
                }
            }
        }
        let mut by_subject: BTreeMap<&Digest, Vec<Descriptor>> = BTreeMap::new();
        for referrer in referrers {
            if let Some(listed) = &referrer.listed {
                by_subject
                    .entry(&referrer.subject)
                    .or_default()
                    .push(listed.clone());
            }
        }
        for (subject, listed) in by_subject {
            pushed += self.tag_schema(repo, subject, &listed).await?;
        }
        Ok((pushed, skipped))
    }

    /// Adds to the `sha256-<hex>` index of `subject` the referrers the target does not list
    /// for it; 1 if the index was pushed.
    async fn tag_schema(
        &self,
        repo: &str,
        subject: &Digest,
        referrers: &[Descriptor],
    ) -> Result<usize, PushError> {
        let listing = self
            .client
            .pull_referrers(&self.digest_ref(repo, subject), None)
            .await
            .map_err(|e| self.fail(repo, &e))?;
        let missing: Vec<Descriptor> = referrers
            .iter()
            .filter(|r| {
                !listing
                    .manifests
                    .iter()
                    .any(|m| m.digest == r.digest.to_string())
            })
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(0);
        }
        let tag = self.reference(repo, &schema_tag(subject));
        // Only an index that is not there is absent: any other failure stops the push
        // rather than overwrite the target's list with ours alone.
        let existing = match self
            .client
            .pull_manifest_raw(&tag, &self.auth, &[crate::oci::OCI_INDEX])
            .await
        {
            Ok((bytes, _)) => Some(bytes.to_vec()),
            Err(e) if crate::upstream::registry::is_missing(&e) => None,
            Err(e) => return Err(self.fail(repo, &e)),
        };
        let merged = merged_schema_index(existing.as_deref(), &missing).map_err(|message| {
            PushError::Registry {
                target: format!("{}/{repo}:{}", self.settings.registry, schema_tag(subject)),
                message,
            }
        })?;
        let Some(index) = merged else {
            return Ok(0);
        };
        self.put(repo, &tag, index, crate::oci::OCI_INDEX).await?;
        Ok(1)
    }
}
