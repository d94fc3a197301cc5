//! Which manifests are runnable images and which are platform-less OCI artifacts (a Helm
//! chart pushed as OCI, a cosign signature, an SBOM, any OCI 1.1 artifact), and an
//! artifact's type. Pure: it reads manifest bytes already fetched.
//!
//! The rule. An image manifest is a runnable image when all of these hold:
//! - it sets no `artifactType` (OCI 1.1 artifacts set it);
//! - its config is an image config (`application/vnd.oci.image.config.v1+json` or Docker's
//!   `application/vnd.docker.container.image.v1+json`): a Helm chart's config is
//!   `application/vnd.cncf.helm.config.v1+json`, an OCI 1.1 artifact's is often the empty
//!   descriptor `application/vnd.oci.empty.v1+json`;
//! - it has no layers, or at least one layer is a filesystem layer (`application/vnd.oci.image.layer.*`,
//!   Docker's `application/vnd.docker.image.rootfs.*`): cosign writes its `.sig`
//!   manifests with an image config media type but only simple-signing layers
//!   (`application/vnd.dev.cosign.simplesigning.v1+json`), and attestations, DSSE envelopes
//!   and Sigstore bundles likewise carry no filesystem layer.
//!
//! Anything else is an artifact. An index is an artifact when it sets `artifactType`, or
//! when none of its entries names a platform (so no platform could be selected from it).
//! An index that lists some platforms stays an image index, whatever else it lists
//! (BuildKit's attestation manifests appear in image indexes as `unknown/unknown`).

use super::{Descriptor, Parsed};
use serde::Deserialize;

pub const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_IMAGE_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Media type prefixes of filesystem layers (every compression, non-distributable and
/// foreign forms included).
const IMAGE_LAYER_PREFIXES: [&str; 2] = [
    "application/vnd.oci.image.layer.",
    "application/vnd.docker.image.rootfs.",
];

/// What a manifest or index is, for pinning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A runnable image, or an index of them: platform selection applies.
    Image,
    /// A platform-less artifact, with its artifact type when the bytes at hand tell it
    /// (`None`: an index that names no type; its first entry's manifest does).
    Artifact(Option<String>),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TypeField {
    #[serde(default)]
    artifact_type: Option<String>,
}

/// The top-level `artifactType` of manifest bytes, if set (and not empty).
pub fn declared_artifact_type(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<TypeField>(bytes)
        .ok()
        .and_then(|fields| fields.artifact_type)
        .filter(|t| !t.is_empty())
}

/// Whether `media_type` is a runnable image's config.
pub fn is_image_config(media_type: &str) -> bool {
    media_type == OCI_IMAGE_CONFIG || media_type == DOCKER_IMAGE_CONFIG
}

/// Whether `media_type` is a filesystem layer of a runnable image.
pub fn is_image_layer(media_type: &str) -> bool {
    IMAGE_LAYER_PREFIXES
        .iter()
        .any(|prefix| media_type.starts_with(prefix))
}

/// Classifies a parsed manifest or index (`bytes` are the same manifest's bytes).
pub fn classify(bytes: &[u8], parsed: &Parsed) -> Kind {
    let declared = declared_artifact_type(bytes);
    match parsed {
        Parsed::Image { config, layers, .. } => {
            let runnable = declared.is_none()
                && is_image_config(&config.media_type)
                && (layers.is_empty() || layers.iter().any(|l| is_image_layer(&l.media_type)));
            if runnable {
                Kind::Image
            } else {
                Kind::Artifact(Some(declared.unwrap_or_else(|| config.media_type.clone())))
            }
        }
        Parsed::Index { manifests, .. } => {
            if declared.is_none() && manifests.iter().any(|m| m.platform.is_some()) {
                Kind::Image
            } else {
                Kind::Artifact(declared.or_else(|| first_entry_type(manifests)))
            }
        }
    }
}

/// The artifact type an index entry's descriptor names, if any.
fn first_entry_type(manifests: &[Descriptor]) -> Option<String> {
    manifests
        .first()
        .and_then(|m| m.artifact_type.clone())
        .filter(|t| !t.is_empty())
}

/// The artifact type of a manifest whatever it is: its `artifactType`, else its config's
/// media type (for an index: its `artifactType`, else its first entry's, else its own
/// media type). What an index of artifacts is named by when its entries say no more.
pub fn artifact_type_of(bytes: &[u8], parsed: &Parsed) -> String {
    if let Some(declared) = declared_artifact_type(bytes) {
        return declared;
    }
    match parsed {
        Parsed::Image { config, .. } => config.media_type.clone(),
        Parsed::Index {
            manifests,
            media_type,
        } => first_entry_type(manifests).unwrap_or_else(|| media_type.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::oci::{OCI_EMPTY, OCI_INDEX, OCI_MANIFEST};
    use serde_json::json;

    fn descriptor(media_type: &str) -> serde_json::Value {
        json!({"mediaType": media_type, "digest": Digest::of(media_type.as_bytes()), "size": 2})
    }

    fn manifest(config: &str, layers: &[&str], artifact_type: Option<&str>) -> Vec<u8> {
        let mut value = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": descriptor(config),
            "layers": layers.iter().map(|l| descriptor(l)).collect::<Vec<_>>(),
        });
        if let Some(t) = artifact_type {
            value["artifactType"] = json!(t);
        }
        serde_json::to_vec(&value).unwrap()
    }

    fn kind(bytes: &[u8]) -> Kind {
        classify(bytes, &Parsed::from_bytes(bytes, None).unwrap())
    }

    #[test]
    fn images_stay_images() {
        let gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
        assert_eq!(
            kind(&manifest(OCI_IMAGE_CONFIG, &[gzip], None)),
            Kind::Image
        );
        let docker = "application/vnd.docker.image.rootfs.diff.tar.gzip";
        assert_eq!(
            kind(&manifest(DOCKER_IMAGE_CONFIG, &[docker], None)),
            Kind::Image
        );
        // No layers at all: an image still (a config-only image), as before.
        assert_eq!(kind(&manifest(OCI_IMAGE_CONFIG, &[], None)), Kind::Image);
        // A filesystem layer beside others (an image with an extra blob).
        let zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
        assert_eq!(
            kind(&manifest(
                OCI_IMAGE_CONFIG,
                &["application/x-extra", zstd],
                None
            )),
            Kind::Image
        );
    }

    #[test]
    fn artifacts_are_named_by_their_type() {
        let helm = "application/vnd.cncf.helm.config.v1+json";
        let chart = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
        assert_eq!(
            kind(&manifest(helm, &[chart], None)),
            Kind::Artifact(Some(helm.into()))
        );
        let sbom = "application/spdx+json";
        assert_eq!(
            kind(&manifest(
                OCI_EMPTY,
                &[sbom],
                Some("application/vnd.example.sbom")
            )),
            Kind::Artifact(Some("application/vnd.example.sbom".into()))
        );
        // cosign's `.sig`: an image config media type, simple-signing layers only.
        let simple = "application/vnd.dev.cosign.simplesigning.v1+json";
        assert_eq!(
            kind(&manifest(OCI_IMAGE_CONFIG, &[simple, simple], None)),
            Kind::Artifact(Some(OCI_IMAGE_CONFIG.into()))
        );
        // `artifactType` wins even with a filesystem layer.
        let tar = "application/vnd.oci.image.layer.v1.tar";
        assert_eq!(
            kind(&manifest(OCI_IMAGE_CONFIG, &[tar], Some("application/x-t"))),
            Kind::Artifact(Some("application/x-t".into()))
        );
    }

    #[test]
    fn indexes_without_platforms_are_artifacts() {
        let entry = |platform: Option<(&str, &str)>, artifact_type: Option<&str>| {
            let mut d = descriptor(OCI_MANIFEST);
            if let Some((os, arch)) = platform {
                d["platform"] = json!({"os": os, "architecture": arch});
            }
            if let Some(t) = artifact_type {
                d["artifactType"] = json!(t);
            }
            d
        };
        let index = |entries: Vec<serde_json::Value>, artifact_type: Option<&str>| {
            let mut v = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
            if let Some(t) = artifact_type {
                v["artifactType"] = json!(t);
            }
            serde_json::to_vec(&v).unwrap()
        };
        let images = index(
            vec![
                entry(Some(("linux", "amd64")), None),
                entry(Some(("unknown", "unknown")), None),
            ],
            None,
        );
        assert_eq!(kind(&images), Kind::Image);
        let typed = index(vec![entry(None, Some("application/x-a"))], None);
        assert_eq!(kind(&typed), Kind::Artifact(Some("application/x-a".into())));
        let untyped = index(vec![entry(None, None)], None);
        assert_eq!(kind(&untyped), Kind::Artifact(None));
        let parsed = Parsed::from_bytes(&untyped, None).unwrap();
        assert_eq!(artifact_type_of(&untyped, &parsed), OCI_INDEX);
        let declared = index(
            vec![entry(Some(("linux", "amd64")), None)],
            Some("application/x-i"),
        );
        assert_eq!(
            kind(&declared),
            Kind::Artifact(Some("application/x-i".into()))
        );
    }
}
