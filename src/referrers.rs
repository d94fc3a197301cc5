//! What a referrer is and which ones a release carries: the kind of a signature, attestation
//! or SBOM read from its artifact type, layers, annotations and cosign tag-scheme tag; the
//! selection `spec.referrers` makes (globally and per image); the tags of cosign's tag
//! scheme and of the OCI referrers tag schema; and the tag-schema index a registry without
//! the referrers API is given. Pure: discovery is `resolve::referrers`, pushing is `push`.

use crate::digest::Digest;
use crate::lock::ReferrerKind;
use crate::manifest::{ReferrerClass, ReferrersSpec};
use crate::oci::Descriptor;
use std::collections::BTreeMap;

/// How deep chains of referrers are followed (a signature of an SBOM of an image is 2).
pub const MAX_DEPTH: usize = 3;

/// The cosign tag-scheme suffixes, in the order they are looked up.
pub const COSIGN_SUFFIXES: [&str; 3] = ["sig", "att", "sbom"];

/// Cosign's simple-signing layer.
pub const COSIGN_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation of a Sigstore bundle referrer saying what it holds (cosign).
const SIGSTORE_BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
const SIGSTORE_BUNDLE_PREDICATE: &str = "dev.sigstore.bundle.predicateType";

/// The tag of `subject` under the OCI referrers tag schema (`sha256-<hex>`).
pub fn schema_tag(subject: &Digest) -> String {
    subject.to_string().replacen(':', "-", 1)
}

/// The cosign tag-scheme tag of `subject` with `suffix` (`sha256-<hex>.sig`).
pub fn cosign_tag(subject: &Digest, suffix: &str) -> String {
    format!("{}.{suffix}", schema_tag(subject))
}

/// A kind as the lockfile and inspect name it (`signature`, `attestation`, `sbom`, `other`).
pub fn kind_name(kind: ReferrerKind) -> &'static str {
    match kind {
        ReferrerKind::Signature => "signature",
        ReferrerKind::Attestation => "attestation",
        ReferrerKind::Sbom => "sbom",
        ReferrerKind::Other => "other",
    }
}

/// What a referrer manifest says about itself, as far as its kind goes.
#[derive(Debug, Clone, Default)]
pub struct ReferrerFacts<'a> {
    /// `artifactType`, else the config's media type.
    pub artifact_type: &'a str,
    /// Media types of its layers.
    pub layer_types: Vec<&'a str>,
    /// The manifest's annotations.
    pub annotations: Option<&'a BTreeMap<String, String>>,
    /// The cosign tag-scheme tag it was found under, if any.
    pub tag: Option<&'a str>,
}

/// The kind of a referrer: the cosign tag suffix when there is one, else its artifact type
/// and layer media types.
pub fn kind_of(facts: &ReferrerFacts<'_>) -> ReferrerKind {
    if let Some(suffix) = facts.tag.and_then(|t| t.rsplit_once('.')).map(|(_, s)| s) {
        match suffix {
            "sig" => return ReferrerKind::Signature,
            "att" => return ReferrerKind::Attestation,
            "sbom" => return ReferrerKind::Sbom,
            _ => {}
        }
    }
    let note = |key: &str| {
        facts
            .annotations
            .and_then(|a| a.get(key))
            .map(String::as_str)
    };
    let types = std::iter::once(facts.artifact_type).chain(facts.layer_types.iter().copied());
    let mut kind = ReferrerKind::Other;
    for media_type in types {
        let found = kind_of_type(media_type, note(SIGSTORE_BUNDLE_CONTENT), || {
            note(SIGSTORE_BUNDLE_PREDICATE).is_some()
        });
        if found != ReferrerKind::Other {
            kind = found;
            break;
        }
    }
    kind
}

/// The kind one media type names, if any.
fn kind_of_type(
    media_type: &str,
    bundle_content: Option<&str>,
    has_predicate: impl Fn() -> bool,
) -> ReferrerKind {
    let base = media_type.split(';').next().unwrap_or("").trim();
    if base.starts_with("application/vnd.dev.sigstore.bundle") {
        return match bundle_content {
            Some("dsse-envelope") => ReferrerKind::Attestation,
            Some(_) => ReferrerKind::Signature,
            None if has_predicate() => ReferrerKind::Attestation,
            None => ReferrerKind::Signature,
        };
    }
    const SIGNATURES: [&str; 4] = [
        COSIGN_SIMPLESIGNING,
        "application/vnd.dev.cosign.artifact.sig.v1+json",
        "application/vnd.cncf.notary.signature",
        "application/vnd.cncf.notary.v2.signature",
    ];
    if SIGNATURES.contains(&base) {
        return ReferrerKind::Signature;
    }
    if base.contains("in-toto") || base.contains("dsse") || base.contains("intoto") {
        return ReferrerKind::Attestation;
    }
    let sbom = ["spdx", "cyclonedx", "syft"];
    if sbom.iter().any(|s| base.contains(s)) {
        return ReferrerKind::Sbom;
    }
    ReferrerKind::Other
}

/// Which kinds of referrers travel with an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    signatures: bool,
    attestations: bool,
    sboms: bool,
    others: bool,
}

impl Default for Kinds {
    /// Signatures and attestations.
    fn default() -> Self {
        Kinds {
            signatures: true,
            attestations: true,
            sboms: false,
            others: false,
        }
    }
}

impl Kinds {
    fn none() -> Kinds {
        Kinds {
            signatures: false,
            attestations: false,
            sboms: false,
            others: false,
        }
    }

    fn set(&mut self, class: ReferrerClass, on: bool) {
        match class {
            ReferrerClass::Signatures => self.signatures = on,
            ReferrerClass::Attestations => self.attestations = on,
            ReferrerClass::Sboms => self.sboms = on,
            ReferrerClass::Others => self.others = on,
            ReferrerClass::All => {
                *self = Kinds {
                    signatures: on,
                    attestations: on,
                    sboms: on,
                    others: on,
                }
            }
        }
    }

    /// `include` (else `base`), less `exclude`.
    fn from_lists(
        base: Kinds,
        include: Option<&[ReferrerClass]>,
        exclude: &[ReferrerClass],
    ) -> Kinds {
        let mut kinds = match include {
            Some(list) => {
                let mut kinds = Kinds::none();
                for class in list {
                    kinds.set(*class, true);
                }
                kinds
            }
            None => base,
        };
        for class in exclude {
            kinds.set(*class, false);
        }
        kinds
    }

    pub fn wants(&self, kind: ReferrerKind) -> bool {
        match kind {
            ReferrerKind::Signature => self.signatures,
            ReferrerKind::Attestation => self.attestations,
            ReferrerKind::Sbom => self.sboms,
            ReferrerKind::Other => self.others,
        }
    }

    /// The cosign tag suffixes worth asking for: only those of kinds that travel (a `.sbom`
    /// tag is not looked up when SBOMs stay behind).
    pub fn cosign_suffixes(&self) -> Vec<&'static str> {
        let kinds = [
            ReferrerKind::Signature,
            ReferrerKind::Attestation,
            ReferrerKind::Sbom,
        ];
        COSIGN_SUFFIXES
            .iter()
            .zip(kinds)
            .filter(|(_, kind)| self.wants(*kind))
            .map(|(suffix, _)| *suffix)
            .collect()
    }

    /// Whether no referrer at all travels (discovery can be skipped).
    pub fn is_empty(&self) -> bool {
        *self == Kinds::none()
    }
}

/// The kinds that travel with the image `reference` (its full form, or as written): the
/// per-image rule with the longest matching pattern, over the release's rule, over the
/// default (signatures and attestations).
pub fn kinds_for(spec: Option<&ReferrersSpec>, reference: &str, written: &str) -> Kinds {
    let Some(spec) = spec else {
        return Kinds::default();
    };
    let release = Kinds::from_lists(Kinds::default(), spec.include.as_deref(), &spec.exclude);
    let rule = spec
        .images
        .iter()
        .filter(|(pattern, _)| glob_matches(pattern, reference) || glob_matches(pattern, written))
        .max_by_key(|(pattern, _)| pattern.len());
    match rule {
        Some((_, rule)) => Kinds::from_lists(release, rule.include.as_deref(), &rule.exclude),
        None => release,
    }
}

/// A reference glob (the `glob` crate's patterns, as `spec.verify` matches them: `*`
/// matches any run of characters, slashes included).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    glob::Pattern::new(pattern).is_ok_and(|p| p.matches(text))
}

/// The referrers tag-schema index for a subject: `existing` (the index the tag names now,
/// if any) with `referrers` added, each digest once, in a stable order. `None` when the
/// existing index lists every one already (nothing to push).
pub fn merged_schema_index(
    existing: Option<&[u8]>,
    referrers: &[Descriptor],
) -> Result<Option<Vec<u8>>, String> {
    let mut listed: Vec<serde_json::Value> = match existing {
        None => Vec::new(),
        Some(bytes) => serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|index| index.get("manifests").and_then(|m| m.as_array()).cloned())
            .ok_or_else(|| {
                "the target's referrers tag-schema index is not an image index; it was left as it is"
                    .to_string()
            })?,
    };
    let before = listed.len();
    for referrer in referrers {
        let digest = referrer.digest.to_string();
        let known = listed
            .iter()
            .any(|entry| entry.get("digest").and_then(|d| d.as_str()) == Some(&digest));
        if !known {
            listed.push(serde_json::to_value(referrer).map_err(|e| e.to_string())?);
        }
    }
    if listed.len() == before && existing.is_some() {
        return Ok(None);
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::oci::OCI_INDEX,
        "manifests": listed,
    });
    serde_json::to_vec(&index)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The referrers a tag-schema index lists (its `manifests`); none for bytes that are not an
/// index, and entries that are not descriptors are left out.
pub fn schema_index_referrers(bytes: &[u8]) -> Vec<Descriptor> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|index| index.get("manifests")?.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| serde_json::from_value(entry).ok())
        .collect()
}

/// The referrer descriptor of a manifest with a `subject` (as the referrers API lists it):
/// its media type, digest and size, `artifactType` (else the config's media type) and
/// annotations; `None` for a manifest without a subject.
pub fn referrer_descriptor(bytes: &[u8], media_type: &str) -> Option<(Digest, Descriptor)> {
    match listing(bytes, &Digest::of(bytes), media_type)? {
        (Some(subject), descriptor) => Some((subject, descriptor)),
        (None, _) => None,
    }
}

/// The descriptor the referrers API lists for a manifest (see [`referrer_descriptor`]) and the
/// subject it names, if any (a cosign tag-scheme manifest names none); `None` for bytes that
/// are not a manifest. `digest` is the bytes' digest, known to the caller (not hashed again).
pub fn listing(
    bytes: &[u8],
    digest: &Digest,
    media_type: &str,
) -> Option<(Option<Digest>, Descriptor)> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Fields {
        #[serde(default)]
        subject: Option<Descriptor>,
        #[serde(default)]
        artifact_type: Option<String>,
        #[serde(default)]
        config: Option<Descriptor>,
        #[serde(default)]
        annotations: BTreeMap<String, String>,
    }
    let fields: Fields = serde_json::from_slice(bytes).ok()?;
    let descriptor = Descriptor {
        media_type: media_type.to_string(),
        digest: digest.clone(),
        size: bytes.len() as u64,
        platform: None,
        artifact_type: fields
            .artifact_type
            .or_else(|| fields.config.map(|c| c.media_type)),
        annotations: fields.annotations,
        urls: Vec::new(),
    };
    Some((fields.subject.map(|s| s.digest), descriptor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ReferrerRule;

    fn facts<'a>(
        artifact_type: &'a str,
        layers: &[&'a str],
        tag: Option<&'a str>,
    ) -> ReferrerFacts<'a> {
        ReferrerFacts {
            artifact_type,
            layer_types: layers.to_vec(),
            annotations: None,
            tag,
        }
    }

    #[test]
    fn kinds_come_from_the_tag_suffix_then_the_types() {
        let image_config = "application/vnd.oci.image.config.v1+json";
        let sig = facts(image_config, &[COSIGN_SIMPLESIGNING], Some("sha256-ab.sig"));
        assert_eq!(kind_of(&sig), ReferrerKind::Signature);
        let att = facts(
            image_config,
            &["application/vnd.dsse.envelope.v1+json"],
            Some("sha256-ab.att"),
        );
        assert_eq!(kind_of(&att), ReferrerKind::Attestation);
        assert_eq!(
            kind_of(&facts(image_config, &[], Some("sha256-ab.sbom"))),
            ReferrerKind::Sbom
        );
        // Without a tag: the types.
        assert_eq!(
            kind_of(&facts(image_config, &[COSIGN_SIMPLESIGNING], None)),
            ReferrerKind::Signature
        );
        assert_eq!(
            kind_of(&facts("application/spdx+json", &[], None)),
            ReferrerKind::Sbom
        );
        assert_eq!(
            kind_of(&facts("application/vnd.cyclonedx+json", &[], None)),
            ReferrerKind::Sbom
        );
        assert_eq!(
            kind_of(&facts("application/vnd.in-toto+json", &[], None)),
            ReferrerKind::Attestation
        );
        assert_eq!(
            kind_of(&facts(
                "application/vnd.example+json",
                &["text/plain"],
                None
            )),
            ReferrerKind::Other
        );
        // A Sigstore bundle: what it holds decides.
        let bundle = "application/vnd.dev.sigstore.bundle.v0.3+json";
        assert_eq!(kind_of(&facts(bundle, &[], None)), ReferrerKind::Signature);
        let dsse = BTreeMap::from([(
            SIGSTORE_BUNDLE_CONTENT.to_string(),
            "dsse-envelope".to_string(),
        )]);
        let attestation = ReferrerFacts {
            annotations: Some(&dsse),
            ..facts(bundle, &[], None)
        };
        assert_eq!(kind_of(&attestation), ReferrerKind::Attestation);
    }

    #[test]
    fn selection_defaults_to_signatures_and_attestations() {
        let default = kinds_for(None, "r.test/a:1", "r.test/a:1");
        assert!(default.wants(ReferrerKind::Signature) && default.wants(ReferrerKind::Attestation));
        assert!(!default.wants(ReferrerKind::Sbom) && !default.wants(ReferrerKind::Other));
        let spec = ReferrersSpec {
            include: Some(vec![ReferrerClass::All]),
            exclude: vec![ReferrerClass::Others],
            images: BTreeMap::from([
                (
                    "r.test/team/*".to_string(),
                    ReferrerRule {
                        include: Some(vec![ReferrerClass::Signatures]),
                        exclude: Vec::new(),
                    },
                ),
                (
                    "r.test/team/quiet:*".to_string(),
                    ReferrerRule {
                        include: None,
                        exclude: vec![ReferrerClass::All],
                    },
                ),
            ]),
        };
        let all = kinds_for(Some(&spec), "r.test/a:1", "r.test/a:1");
        assert!(all.wants(ReferrerKind::Sbom) && !all.wants(ReferrerKind::Other));
        let team = kinds_for(Some(&spec), "r.test/team/b:1", "r.test/team/b:1");
        assert!(team.wants(ReferrerKind::Signature) && !team.wants(ReferrerKind::Sbom));
        // The longest matching pattern wins.
        assert!(kinds_for(Some(&spec), "r.test/team/quiet:1", "x").is_empty());
    }

    #[test]
    fn globs_match_whole_references() {
        assert!(glob_matches("*", "anything/at:all"));
        assert!(glob_matches("r.test/*:1", "r.test/library/a:1"));
        assert!(!glob_matches("r.test/*:1", "r.test/library/a:12"));
        assert!(glob_matches("r.test/library/a:1", "r.test/library/a:1"));
        assert!(!glob_matches("r.test/library/a", "r.test/library/a:1"));
        assert!(glob_matches("*/a:*", "r.test/a:1"));
    }

    #[test]
    fn tags_and_schema_indexes() {
        let subject = Digest::of(b"s");
        let hex = subject.to_string()[7..].to_string();
        assert_eq!(schema_tag(&subject), format!("sha256-{hex}"));
        assert_eq!(cosign_tag(&subject, "sig"), format!("sha256-{hex}.sig"));
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": crate::oci::OCI_MANIFEST,
            "artifactType": "application/spdx+json",
            "config": {"mediaType": crate::oci::OCI_EMPTY, "digest": Digest::of(b"{}"), "size": 2},
            "layers": [],
            "subject": {"mediaType": crate::oci::OCI_MANIFEST, "digest": subject, "size": 1},
        }))
        .unwrap();
        let (found, descriptor) = referrer_descriptor(&manifest, crate::oci::OCI_MANIFEST).unwrap();
        assert_eq!(found, subject);
        assert_eq!(
            descriptor.artifact_type.as_deref(),
            Some("application/spdx+json")
        );
        let index = merged_schema_index(None, std::slice::from_ref(&descriptor))
            .unwrap()
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&index).unwrap();
        assert_eq!(
            value["manifests"][0]["digest"],
            descriptor.digest.to_string()
        );
        // Listed already: nothing to push; another one is added after it.
        assert!(
            merged_schema_index(Some(&index), std::slice::from_ref(&descriptor))
                .unwrap()
                .is_none()
        );
        // Bytes that are not an index are never overwritten with ours alone.
        assert!(merged_schema_index(Some(b"<html>"), std::slice::from_ref(&descriptor)).is_err());
        let mut other = descriptor.clone();
        other.digest = Digest::of(b"other");
        let both = merged_schema_index(Some(&index), &[other])
            .unwrap()
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&both).unwrap();
        assert_eq!(value["manifests"].as_array().unwrap().len(), 2);
        assert!(referrer_descriptor(b"{\"schemaVersion\":2}", crate::oci::OCI_MANIFEST).is_none());
        let listed: Vec<Digest> = schema_index_referrers(&both)
            .into_iter()
            .map(|d| d.digest)
            .collect();
        assert_eq!(listed, [descriptor.digest.clone(), Digest::of(b"other")]);
        assert!(schema_index_referrers(b"not json").is_empty());
    }
}
