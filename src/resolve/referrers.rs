//! Discovering what refers to each pinned image, at lock time: for its index and each carried
//! platform manifest, the OCI 1.1 referrers API (or, where the registry has none, the
//! referrers tag schema: an index tagged `sha256-<hex>`) and cosign's tag scheme
//! (`sha256-<hex>.sig`, `.att`, `.sbom`; a missing tag is normal). Each referrer of a kind
//! `spec.referrers` selects is pinned under its image with its subject, and its manifest kept
//! in the cache like an image manifest; chains (a signature of an SBOM) are followed to
//! [`MAX_DEPTH`]. Which kinds travel, and what a kind is, is `crate::referrers`.

use super::ResolveError;
use crate::digest::Digest;
use crate::lock::{ImagePin, ReferrerKind, ReferrerPin};
use crate::manifest::Release;
use crate::oci::artifact::artifact_type_of;
use crate::oci::{is_manifest_type, Parsed, MAX_MANIFEST_SIZE};
use crate::progress::{NotesOnly, Reporter};
use crate::referrers::{
    cosign_tag, kind_of, kinds_for, referrer_descriptor, Kinds, ReferrerFacts, MAX_DEPTH,
};
use crate::store::Store;
use crate::upstream::registry::{RawManifest, Registry};
use futures::{StreamExt, TryStreamExt};
use oci_client::Reference;
use std::collections::HashSet;

/// At most this many referrers are fetched for one subject (a hostile or broken listing
/// could name any number).
const MAX_LISTED: usize = 256;
/// At most this many referrers travel with one image (chains included).
const MAX_PER_IMAGE: usize = 1024;
/// How many subjects of one image are asked about at once.
const SUBJECTS_AT_ONCE: usize = 4;
/// How many images have their referrers discovered at once.
const PARALLEL_IMAGES: usize = 16;

/// A manifest that refers to a subject, as found upstream.
struct Candidate {
    manifest: RawManifest,
    /// The cosign tag-scheme tag it was found under.
    tag: Option<String>,
}

/// Fills `referrers` of every image with what refers to it upstream, as `release` selects.
pub async fn discover_all(
    release: &Release,
    images: &mut [ImagePin],
    registry: &Registry,
    store: &Store,
    reporter: &dyn Reporter,
) -> Result<(), ResolveError> {
    let spec = release.spec.referrers.as_ref();
    reporter.start_items("referrers", "images", images.len() as u64);
    let inner = NotesOnly(reporter);
    let found: Result<Vec<Vec<ReferrerPin>>, ResolveError> = futures::stream::iter(images.iter())
        .map(|pin| {
            let kinds = kinds_for(spec, &pin.reference, &pin.reference);
            let inner = &inner;
            async move {
                let found = discover(registry, store, pin, kinds, inner).await;
                reporter.advance(1);
                found
            }
        })
        .buffered(PARALLEL_IMAGES)
        .try_collect()
        .await;
    reporter.finish();
    let found = found?;
    for (pin, referrers) in images.iter_mut().zip(found) {
        pin.referrers = referrers;
    }
    Ok(())
}

/// The referrers of one image of the kinds wanted: of its index and every carried manifest,
/// then of each referrer found, to [`MAX_DEPTH`].
async fn discover(
    registry: &Registry,
    store: &Store,
    pin: &ImagePin,
    kinds: Kinds,
    reporter: &dyn Reporter,
) -> Result<Vec<ReferrerPin>, ResolveError> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let image = crate::reference::parse(&pin.reference)
        .map_err(|_| ResolveError::Reference(pin.reference.clone()))?;
    // Level by level: the image's own manifests, then what refers to them, and so on; the
    // subjects of one level are asked about at once.
    let mut level: Vec<Digest> = Vec::new();
    for digest in std::iter::once(&pin.digest)
        .chain(pin.platforms.iter().map(|p| &p.digest))
        .chain(pin.also_carried.iter().map(|p| &p.digest))
    {
        if !level.contains(digest) {
            level.push(digest.clone());
        }
    }
    let mut asked: HashSet<Digest> = level.iter().cloned().collect();
    let mut found: Vec<ReferrerPin> = Vec::new();
    for depth in 0..MAX_DEPTH {
        let answers: Vec<Vec<Candidate>> = futures::stream::iter(level.iter())
            .map(|subject| candidates(registry, &image, subject, &kinds, reporter))
            .buffered(SUBJECTS_AT_ONCE)
            .try_collect()
            .await?;
        let mut next = Vec::new();
        for (subject, candidates) in level.iter().zip(answers) {
            for candidate in candidates {
                let digest = candidate.manifest.digest.clone();
                // Found twice (listed by the referrers API and under a cosign tag): one
                // pin, served under the tag too.
                let known = found
                    .iter_mut()
                    .find(|r| r.digest == digest && r.subject == *subject);
                if let Some(known) = known {
                    if known.tag.is_none() {
                        known.tag = candidate.tag;
                    }
                    continue;
                }
                let Some(referrer) = pin_referrer(subject, candidate) else {
                    continue;
                };
                if !kinds.wants(referrer.pin.kind) {
                    continue;
                }
                store
                    .put_bytes_async(&digest, &referrer.bytes)
                    .await
                    .map_err(|source| ResolveError::Store {
                        image: pin.reference.clone(),
                        source,
                    })?;
                // Chains are what refers to an SBOM or an attestation (its signature); a
                // signature is a leaf, so nothing is asked about it.
                let leaf = referrer.pin.kind == ReferrerKind::Signature;
                if !leaf && depth + 1 < MAX_DEPTH && asked.insert(digest.clone()) {
                    next.push(digest);
                }
                found.push(referrer.pin);
                if found.len() > MAX_PER_IMAGE {
                    return Err(ResolveError::Referrers {
                        image: pin.reference.clone(),
                        subject: subject.clone(),
                        message: format!(
                            "more than {MAX_PER_IMAGE} referrers of the kinds selected; narrow spec.referrers for this image"
                        ),
                    });
                }
            }
        }
        level = next;
    }
    Ok(found)
}

/// A referrer's pin and its manifest bytes.
struct Found {
    pin: ReferrerPin,
    bytes: Vec<u8>,
}

/// The pin of a referrer of `subject` (an index found under a cosign tag too: it travels
/// whole); `None` for bytes that are not a manifest.
fn pin_referrer(subject: &Digest, candidate: Candidate) -> Option<Found> {
    let manifest = candidate.manifest;
    let parsed = Parsed::from_bytes(&manifest.bytes, Some(&manifest.media_type)).ok()?;
    let fields: ManifestFields = serde_json::from_slice(&manifest.bytes).ok()?;
    let artifact_type = artifact_type_of(&manifest.bytes, &parsed);
    let layer_types: Vec<&str> = match &parsed {
        Parsed::Image { layers, .. } => layers.iter().map(|l| l.media_type.as_str()).collect(),
        Parsed::Index { .. } => Vec::new(),
    };
    let kind = kind_of(&ReferrerFacts {
        artifact_type: &artifact_type,
        layer_types,
        annotations: Some(&fields.annotations),
        tag: candidate.tag.as_deref(),
    });
    Some(Found {
        pin: ReferrerPin {
            subject: subject.clone(),
            digest: manifest.digest.clone(),
            media_type: manifest.media_type.clone(),
            artifact_type,
            size: manifest.bytes.len() as u64,
            kind,
            tag: candidate.tag,
        },
        bytes: manifest.bytes,
    })
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestFields {
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// What refers to `subject` in `image`'s repository: the referrers the API (or the tag
/// schema) lists, each fetched by digest and kept only if it names `subject`, then the cosign
/// tag-scheme manifests that exist. The listing and the three tags are asked for at once.
async fn candidates(
    registry: &Registry,
    image: &Reference,
    subject: &Digest,
    kinds: &Kinds,
    reporter: &dyn Reporter,
) -> Result<Vec<Candidate>, ResolveError> {
    let referrers_error = |message: String| ResolveError::Referrers {
        image: image.whole(),
        subject: subject.clone(),
        message,
    };
    let listed = async {
        let mut found = Vec::new();
        let listed = registry
            .referrers_retried(image, subject, reporter)
            .await
            .map_err(|e| referrers_error(e.detail()))?;
        if listed.len() > MAX_LISTED {
            return Err(referrers_error(format!(
                "the registry lists {} referrers, more than the {MAX_LISTED} outpost fetches for one subject",
                listed.len()
            )));
        }
        for descriptor in listed {
            if !is_manifest_type(&descriptor.media_type) {
                continue;
            }
            let by_digest = Reference::with_digest(
                image.registry().to_string(),
                image.repository().to_string(),
                descriptor.digest.to_string(),
            );
            let manifest = registry
                .manifest_retried(&by_digest, reporter)
                .await
                .map_err(|e| referrers_error(e.detail()))?;
            match referrer_descriptor(&manifest.bytes, &manifest.media_type) {
                Some((named, _)) if named == *subject => found.push(Candidate {
                    manifest,
                    tag: None,
                }),
                _ => reporter.note(&format!(
                    "{}: referrer {} is listed for {subject} but does not name it as its subject; not carried",
                    image.whole(),
                    descriptor.digest
                )),
            }
        }
        Ok::<_, ResolveError>(found)
    };
    let tagged = futures::future::try_join_all(kinds.cosign_suffixes().into_iter().map(|suffix| {
        let tag = cosign_tag(subject, suffix);
        let tagged = Reference::with_tag(
            image.registry().to_string(),
            image.repository().to_string(),
            tag.clone(),
        );
        async move {
            let manifest = registry
                .manifest_if_exists_retried(&tagged, reporter)
                .await
                .map_err(|e| referrers_error(e.detail()))?;
            let Some(manifest) = manifest else {
                return Ok(None);
            };
            // A tag-scheme artifact that names a subject must name this one: carried under
            // `subject`, it would otherwise be served as a referrer of another image.
            match referrer_descriptor(&manifest.bytes, &manifest.media_type) {
                Some((named, _)) if named != *subject => {
                    reporter.note(&format!(
                        "{}: {tag} names {named} as its subject, not {subject}; not carried",
                        image.whole()
                    ));
                    Ok::<_, ResolveError>(None)
                }
                _ => Ok(Some(Candidate {
                    manifest,
                    tag: Some(tag),
                })),
            }
        }
    }));
    let (mut found, tagged) = futures::try_join!(listed, tagged)?;
    found.extend(tagged.into_iter().flatten());
    if let Some(large) = found
        .iter()
        .find(|c| c.manifest.bytes.len() as u64 > MAX_MANIFEST_SIZE)
    {
        return Err(referrers_error(format!(
            "referrer {} is {} bytes, over the {MAX_MANIFEST_SIZE}-byte manifest limit",
            large.manifest.digest,
            large.manifest.bytes.len()
        )));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::ReferrerKind;

    fn candidate(manifest: serde_json::Value, tag: Option<&str>) -> Candidate {
        let bytes = serde_json::to_vec(&manifest).unwrap();
        Candidate {
            manifest: RawManifest {
                digest: Digest::of(&bytes),
                media_type: crate::oci::OCI_MANIFEST.into(),
                bytes,
            },
            tag: tag.map(str::to_string),
        }
    }

    fn descriptor(media_type: &str, content: &[u8]) -> serde_json::Value {
        serde_json::json!({"mediaType": media_type, "digest": Digest::of(content), "size": content.len()})
    }

    #[test]
    fn a_cosign_signature_and_an_sbom_are_pinned_with_their_kind_and_type() {
        let subject = Digest::of(b"image");
        let sig = candidate(
            serde_json::json!({
                "schemaVersion": 2, "mediaType": crate::oci::OCI_MANIFEST,
                "config": descriptor("application/vnd.oci.image.config.v1+json", b"c"),
                "layers": [descriptor(crate::referrers::COSIGN_SIMPLESIGNING, b"payload")],
            }),
            Some("sha256-00.sig"),
        );
        let found = pin_referrer(&subject, sig).unwrap();
        assert_eq!(found.pin.kind, ReferrerKind::Signature);
        assert_eq!(
            found.pin.artifact_type,
            "application/vnd.oci.image.config.v1+json"
        );
        assert_eq!(found.pin.tag.as_deref(), Some("sha256-00.sig"));
        assert_eq!(found.pin.size, found.bytes.len() as u64);
        assert_eq!(found.pin.digest, Digest::of(&found.bytes));

        let sbom = candidate(
            serde_json::json!({
                "schemaVersion": 2, "mediaType": crate::oci::OCI_MANIFEST,
                "artifactType": "application/spdx+json",
                "config": descriptor(crate::oci::OCI_EMPTY, b"{}"),
                "layers": [descriptor("application/spdx+json", b"doc")],
                "subject": descriptor(crate::oci::OCI_MANIFEST, b"image"),
            }),
            None,
        );
        let found = pin_referrer(&subject, sbom).unwrap();
        assert_eq!(
            (
                found.pin.kind,
                found.pin.artifact_type.as_str(),
                found.pin.subject
            ),
            (ReferrerKind::Sbom, "application/spdx+json", subject.clone())
        );
        assert!(pin_referrer(&subject, candidate(serde_json::json!({"x": 1}), None)).is_none());
    }
}
