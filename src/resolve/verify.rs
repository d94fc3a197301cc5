//! Upstream signature policies for images (`spec.verify`), checked at lock.
//!
//! Each pinned image that a policy matches (the first policy whose glob matches its full
//! reference) must carry, among the referrers discovered for it, a signature (or an
//! attestation of the required predicate type) that holds under that policy: for the digest
//! nodes pull (the index, or the single manifest), or else for every platform manifest
//! carried. Signatures are read as cosign writes them: simple-signing payloads in `.sig`
//! layers, DSSE envelopes in `.att` layers, and Sigstore bundles as OCI 1.1 referrers; the
//! cryptography is `crate::trust`'s. What held is recorded on the pin
//! ([`crate::lock::ImageSignature`]), so the site can check it again offline.

use super::ResolveError;
use crate::digest::Digest;
use crate::lock::{ImagePin, ImageSignature, ReferrerKind, ReferrerPin};
use crate::oci::{Descriptor, Parsed};
use crate::progress::Reporter;
use crate::store::Store;
use crate::trust::{self, ArtifactDigest, Policy, Requirement, TrustedRoot};
use crate::upstream::registry::Registry;
use futures::{StreamExt, TryStreamExt};
use oci_client::Reference;

/// Signature layers larger than this are refused (real ones are a few KiB).
pub const MAX_SIGNATURE_SIZE: u64 = 4 << 20;
/// How many images are checked at once.
const PARALLEL_IMAGES: usize = 16;

/// Layer media types that hold a signature or attestation.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// One `spec.verify` policy, ready to check.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    /// The `match:` glob as written (`registry.k8s.io/*`).
    pub pattern: String,
    /// `pattern`, compiled once.
    pub glob: glob::Pattern,
    pub policy: Policy,
    pub require: Requirement,
}

impl ImagePolicy {
    /// Whether this policy applies to `reference` (a full reference).
    pub fn matches(&self, reference: &str) -> bool {
        self.glob.matches(reference)
    }
}

/// The first policy that applies to `reference`.
pub fn policy_for<'a>(policies: &'a [ImagePolicy], reference: &str) -> Option<&'a ImagePolicy> {
    policies.iter().find(|p| p.matches(reference))
}

/// Checks every pin a policy matches and records the signatures that hold on it.
///
/// Errors: [`ResolveError::Unsigned`] naming the image, the platform, what the policy
/// expects and what was found; download and cache errors as elsewhere in resolve.
pub async fn check_all(
    pins: &mut [ImagePin],
    policies: &[ImagePolicy],
    registry: &Registry,
    store: &Store,
    root: &TrustedRoot,
    reporter: &dyn Reporter,
) -> Result<(), ResolveError> {
    if policies.is_empty() {
        return Ok(());
    }
    // A policy that matches nothing checks nothing: a typo would pass every image unchecked.
    if let Some(unused) = policies
        .iter()
        .find(|p| !pins.iter().any(|pin| p.matches(&pin.reference)))
    {
        let mut images: Vec<&str> = pins.iter().map(|p| p.reference.as_str()).collect();
        images.truncate(5);
        return Err(ResolveError::Policy {
            pattern: unused.pattern.clone(),
            message: format!(
                "matches no image of this release (its images: {}{}); fix the pattern or remove the policy",
                images.join(", "),
                if pins.len() > 5 { ", …" } else { "" }
            ),
        });
    }
    let checked: Vec<Vec<ImageSignature>> = futures::stream::iter(pins.iter())
        .map(|pin| async move {
            match policy_for(policies, &pin.reference) {
                Some(policy) => check_one(pin, policy, registry, store, root, reporter).await,
                None => Ok(Vec::new()),
            }
        })
        .buffered(PARALLEL_IMAGES)
        .try_collect()
        .await?;
    for (pin, signatures) in pins.iter_mut().zip(checked) {
        pin.signatures = signatures;
    }
    Ok(())
}

/// What one signature layer came to.
enum Outcome {
    Held(Box<ImageSignature>),
    Failed(String),
}

async fn check_one(
    pin: &ImagePin,
    policy: &ImagePolicy,
    registry: &Registry,
    store: &Store,
    root: &TrustedRoot,
    reporter: &dyn Reporter,
) -> Result<Vec<ImageSignature>, ResolveError> {
    let reference = crate::reference::parse(&pin.reference)
        .map_err(|_| ResolveError::Reference(pin.reference.clone()))?;
    let mut subjects: Vec<&Digest> = vec![&pin.digest];
    subjects.extend(pin.platforms.iter().map(|p| &p.digest));
    let wanted_kind = match policy.require {
        Requirement::Signature => ReferrerKind::Signature,
        Requirement::Attestation(_) => ReferrerKind::Attestation,
    };
    let mut outcomes: Vec<(Digest, Outcome)> = Vec::new();
    for referrer in pin
        .referrers
        .iter()
        .filter(|r| r.kind == wanted_kind && subjects.contains(&&r.subject))
    {
        for outcome in check_referrer(
            &reference, referrer, policy, registry, store, root, reporter,
        )
        .await?
        {
            outcomes.push((referrer.subject.clone(), outcome));
        }
    }
    let held = |subject: &Digest| {
        outcomes
            .iter()
            .filter(|(s, _)| s == subject)
            .find_map(|(_, o)| match o {
                Outcome::Held(signature) => Some(signature.as_ref().clone()),
                Outcome::Failed(_) => None,
            })
    };
    if let Some(signature) = held(&pin.digest) {
        return Ok(vec![signature]);
    }
    let per_platform: Vec<Option<ImageSignature>> =
        pin.platforms.iter().map(|p| held(&p.digest)).collect();
    if !pin.platforms.is_empty() && per_platform.iter().all(Option::is_some) {
        return Ok(per_platform.into_iter().flatten().collect());
    }
    let unsigned: Vec<String> = pin
        .platforms
        .iter()
        .zip(&per_platform)
        .filter(|(_, s)| s.is_none())
        .map(|(p, _)| p.platform.clone())
        .collect();
    let found: Vec<String> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Failed(why) => Some(why.clone()),
            Outcome::Held(_) => None,
        })
        .collect();
    Err(ResolveError::Unsigned {
        image: pin.reference.clone(),
        platforms: unsigned,
        expected: format!("{} (policy `{}`)", describe(policy), policy.pattern),
        found: match found.len() {
            0 => format!("no {}", policy.require.noun()),
            1 => format!("1 that does not hold: {}", found[0]),
            n => format!("{n} that do not hold: {}", found.join("; ")),
        },
    })
}

/// What a policy asks for, in words.
fn describe(policy: &ImagePolicy) -> String {
    let who = match &policy.policy {
        Policy::Key { pem } => format!(
            "key sha256:{}",
            trust::key_fingerprint(pem).unwrap_or_else(|_| "(unreadable key)".into())
        ),
        Policy::Keyless { issuer, identity } => {
            format!("identity {identity} from issuer {issuer}")
        }
    };
    let article = match policy.require {
        Requirement::Signature => "a",
        Requirement::Attestation(_) => "an",
    };
    format!("{article} {} by {who}", policy.require)
}

/// Checks every signature layer of one referrer; each layer's outcome.
async fn check_referrer(
    reference: &Reference,
    referrer: &ReferrerPin,
    policy: &ImagePolicy,
    registry: &Registry,
    store: &Store,
    root: &TrustedRoot,
    reporter: &dyn Reporter,
) -> Result<Vec<Outcome>, ResolveError> {
    let manifest = referrer_manifest(reference, referrer, registry, store, reporter).await?;
    let layers = match Parsed::from_bytes(&manifest, Some(&referrer.media_type)) {
        Ok(Parsed::Image { layers, .. }) => layers,
        Ok(Parsed::Index { .. }) | Err(_) => {
            return Ok(vec![Outcome::Failed(format!(
                "{} is not a signature manifest",
                referrer.digest
            ))])
        }
    };
    let mut outcomes = Vec::new();
    for layer in layers.iter().filter(|l| is_signature_layer(&l.media_type)) {
        if layer.size > MAX_SIGNATURE_SIZE {
            outcomes.push(Outcome::Failed(format!(
                "signature layer {} is too large",
                layer.digest
            )));
            continue;
        }
        let bytes = signature_blob(reference, layer, registry, store, reporter).await?;
        let checked = check_signature(
            &bytes,
            layer,
            &referrer.subject,
            &policy.policy,
            &policy.require,
            root,
        );
        let outcome = match checked {
            Ok(signer) => Outcome::Held(Box::new(ImageSignature {
                subject: referrer.subject.clone(),
                signature: referrer.digest.clone(),
                layer: layer.digest.clone(),
                policy: policy.policy.clone(),
                require: policy.require.clone(),
                signer,
            })),
            Err(error) => Outcome::Failed(format!(
                "{} (layer {}): {error}",
                referrer
                    .tag
                    .clone()
                    .unwrap_or_else(|| referrer.digest.to_string()),
                layer.digest
            )),
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Whether a layer media type holds something `check_layer` can verify.
pub fn is_signature_layer(media_type: &str) -> bool {
    media_type == SIMPLE_SIGNING
        || media_type == DSSE_ENVELOPE
        || media_type.starts_with(SIGSTORE_BUNDLE_PREFIX)
}

/// Verifies one signature layer's bytes over `subject` under a policy: the one rule, used
/// at lock and again at the site.
pub fn check_signature(
    bytes: &[u8],
    layer: &Descriptor,
    subject: &Digest,
    policy: &Policy,
    require: &Requirement,
    root: &TrustedRoot,
) -> Result<trust::Signer, trust::TrustError> {
    let artifact = ArtifactDigest {
        sha256: subject.clone(),
        sha512: None,
    };
    let media_type = layer.media_type.as_str();
    match require {
        Requirement::Signature if media_type == SIMPLE_SIGNING => {
            trust::verify_simple_signing(bytes, &layer.annotations, subject, policy, root)
        }
        Requirement::Signature if media_type == DSSE_ENVELOPE => {
            Err(trust::TrustError::Unsupported {
                message: "an attestation (DSSE envelope) is not a signature of the image".into(),
            })
        }
        Requirement::Signature => trust::verify_bundle(bytes, &artifact, policy, root),
        Requirement::Attestation(predicate) if media_type == DSSE_ENVELOPE => {
            trust::verify_attestation(bytes, &layer.annotations, subject, predicate, policy, root)
        }
        Requirement::Attestation(predicate) if media_type == SIMPLE_SIGNING => {
            Err(trust::TrustError::NotAnAttestation {
                found: "simple-signing signature".into(),
                predicate_type: predicate.clone(),
            })
        }
        Requirement::Attestation(predicate) => {
            trust::verify_bundle_attestation(bytes, &artifact, predicate, policy, root)
        }
    }
}

/// The referrer's manifest bytes: from the cache (discovery put it there), else upstream by
/// digest.
async fn referrer_manifest(
    reference: &Reference,
    referrer: &ReferrerPin,
    registry: &Registry,
    store: &Store,
    reporter: &dyn Reporter,
) -> Result<Vec<u8>, ResolveError> {
    if store.has(&referrer.digest, referrer.size) {
        if let Ok(bytes) = store.read_bytes(&referrer.digest) {
            return Ok(bytes);
        }
    }
    let by_digest = Reference::with_digest(
        reference.registry().to_string(),
        reference.repository().to_string(),
        referrer.digest.to_string(),
    );
    let raw = registry.manifest_retried(&by_digest, reporter).await?;
    Ok(raw.bytes)
}

/// A signature layer's bytes, downloaded into the cache like any blob.
async fn signature_blob(
    reference: &Reference,
    layer: &Descriptor,
    registry: &Registry,
    store: &Store,
    reporter: &dyn Reporter,
) -> Result<Vec<u8>, ResolveError> {
    let image = reference.whole();
    crate::fetch::ensure_image_blob(registry, store, reference, layer, reporter)
        .await
        .map_err(|e| ResolveError::Config {
            image: image.clone(),
            digest: layer.digest.clone(),
            message: e.to_string(),
        })?;
    store
        .read_bytes(&layer.digest)
        .map_err(|source| ResolveError::Store { image, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(media_type: &str) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: Digest::of(b"layer"),
            size: 5,
            platform: None,
            artifact_type: None,
            annotations: Default::default(),
            urls: Vec::new(),
        }
    }

    #[test]
    fn a_signature_does_not_meet_an_attestation_requirement_nor_the_reverse() {
        let root = TrustedRoot::production();
        let policy = Policy::Key {
            pem: "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n".into(),
        };
        let subject = Digest::of(b"image");
        let provenance = Requirement::Attestation("https://slsa.dev/provenance/v1".into());
        // A publisher's `.sig` copied under a `.att` tag is still a signature.
        let err = check_signature(
            b"{}",
            &layer(SIMPLE_SIGNING),
            &subject,
            &policy,
            &provenance,
            &root,
        )
        .unwrap_err();
        assert!(
            matches!(err, trust::TrustError::NotAnAttestation { .. }),
            "{err}"
        );
        let err = check_signature(
            b"{}",
            &layer(DSSE_ENVELOPE),
            &subject,
            &policy,
            &Requirement::Signature,
            &root,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "an attestation (DSSE envelope) is not a signature of the image"
        );
    }
}
