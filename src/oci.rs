//! OCI and Docker manifest JSON, parsed only to walk descriptors.
//!
//! The original bytes are always what gets stored and served; these types exist to find the
//! children of a manifest or index (and their platforms). Unknown fields are ignored.

pub mod artifact;

use crate::digest::Digest;
use crate::platform::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_LAYOUT_VERSION: &str = "1.0.0";

/// Every manifest media type we can carry, for `Accept`.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

/// Manifests larger than this are refused (registries cap them at 4 MiB as well).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Where a foreign (non-distributable) layer's content lives instead of the registry
    /// (Windows base layers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformField {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The Windows build an entry is for (`10.0.20348.2655`).
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl PlatformField {
    /// The platform this entry is for, as outpost writes and matches it.
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
            .with_os_version(self.os_version.as_deref())
    }
}

/// The fields of a manifest or index that matter for walking it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Walkable {
    #[serde(default)]
    schema_version: Option<u64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

/// An image config's platform fields.
#[derive(Debug, Clone, Deserialize)]
pub struct ConfigPlatform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default, rename = "os.version")]
    pub os_version: Option<String>,
}

impl ConfigPlatform {
    /// The platform this image is for, as outpost writes and matches it.
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
            .with_os_version(self.os_version.as_deref())
    }
}

/// A parsed manifest: an index (children are manifests) or an image manifest (config + layers).
// Short-lived (parsed to walk, then dropped) and never held in bulk: the size difference
// between the variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Parsed {
    Index {
        media_type: String,
        manifests: Vec<Descriptor>,
    },
    Image {
        media_type: String,
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("not valid manifest JSON: {0}")]
    Json(String),
    #[error(
        "Docker schema 1 manifests are not supported (re-push the image with a current client)"
    )]
    Schema1,
    #[error("neither an image manifest nor an index (no `manifests`, no `config`/`layers`)")]
    Unknown,
}

impl Parsed {
    /// Parses manifest bytes; `hint` is the media type the registry or a descriptor gave.
    pub fn from_bytes(bytes: &[u8], hint: Option<&str>) -> Result<Self, OciError> {
        let w: Walkable =
            serde_json::from_slice(bytes).map_err(|e| OciError::Json(e.to_string()))?;
        if w.schema_version == Some(1) {
            return Err(OciError::Schema1);
        }
        let declared = w.media_type.clone().or_else(|| hint.map(str::to_string));
        match (w.manifests, w.config) {
            (Some(manifests), _) => Ok(Parsed::Index {
                media_type: declared.unwrap_or_else(|| OCI_INDEX.to_string()),
                manifests,
            }),
            (None, Some(config)) => Ok(Parsed::Image {
                media_type: declared.unwrap_or_else(|| OCI_MANIFEST.to_string()),
                config,
                layers: w.layers.unwrap_or_default(),
            }),
            (None, None) => Err(OciError::Unknown),
        }
    }

    pub fn media_type(&self) -> &str {
        match self {
            Parsed::Index { media_type, .. } | Parsed::Image { media_type, .. } => media_type,
        }
    }

    /// Every descriptor this manifest points at directly.
    pub fn children(&self) -> Vec<&Descriptor> {
        match self {
            Parsed::Index { manifests, .. } => manifests.iter().collect(),
            Parsed::Image { config, layers, .. } => std::iter::once(config).chain(layers).collect(),
        }
    }
}

/// The entries of an index a node asking for `wanted` takes (see [`Platform::select`]: the
/// best variant, one entry per Windows build), in index order; empty when none serves it.
pub fn select_platform<'a>(manifests: &'a [Descriptor], wanted: &Platform) -> Vec<&'a Descriptor> {
    let offered: Vec<Option<Platform>> = manifests
        .iter()
        .map(|d| d.platform.as_ref().map(PlatformField::platform))
        .collect();
    wanted
        .select(&offered)
        .into_iter()
        .map(|position| &manifests[position])
        .collect()
}

/// The children of an index carried for `platforms`: what each selects, each digest once,
/// in the order of `platforms`. The one place `lock` and the bundle's graph agree on.
pub fn carried_children<'a>(
    manifests: &'a [Descriptor],
    platforms: &[Platform],
) -> Vec<&'a Descriptor> {
    let mut chosen: Vec<&Descriptor> = Vec::new();
    for platform in platforms {
        for descriptor in select_platform(manifests, platform) {
            if !chosen.iter().any(|c| c.digest == descriptor.digest) {
                chosen.push(descriptor);
            }
        }
    }
    chosen
}

/// Whether a media type names a manifest or index (whose content has children).
pub fn is_manifest_type(media_type: &str) -> bool {
    MANIFEST_MEDIA_TYPES.contains(&media_type)
}

/// Whether `media_type` is an index (OCI image index or Docker manifest list).
pub fn is_index_type(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// `index.json` of an OCI image layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutIndex {
    pub schema_version: u32,
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_an_index_and_a_manifest() {
        let d = Digest::of(b"a");
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":3,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#
        );
        let parsed = Parsed::from_bytes(index.as_bytes(), None).unwrap();
        assert_eq!(parsed.media_type(), OCI_INDEX);
        assert_eq!(
            parsed.children()[0]
                .platform
                .as_ref()
                .unwrap()
                .variant
                .as_deref(),
            Some("v8")
        );

        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"c","digest":"{d}","size":1}},"layers":[{{"mediaType":"l","digest":"{d}","size":2}}]}}"#
        );
        let parsed = Parsed::from_bytes(manifest.as_bytes(), None).unwrap();
        assert_eq!(parsed.media_type(), DOCKER_MANIFEST);
        assert_eq!(parsed.children().len(), 2);
    }

    /// An index of `(platform JSON, content)` entries, in order.
    fn index_of(entries: &[(&str, &[u8])]) -> Vec<Descriptor> {
        let manifests: Vec<String> = entries
            .iter()
            .map(|(platform, content)| {
                format!(
                    r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{platform}}}"#,
                    Digest::of(content)
                )
            })
            .collect();
        let json = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            manifests.join(",")
        );
        match Parsed::from_bytes(json.as_bytes(), None).unwrap() {
            Parsed::Index { manifests, .. } => manifests,
            Parsed::Image { .. } => unreachable!(),
        }
    }

    #[test]
    fn selection_reads_variants_and_windows_builds_from_index_json() {
        let manifests = index_of(&[
            (
                r#"{"os":"linux","architecture":"amd64","variant":"v2"}"#,
                b"v2",
            ),
            (r#"{"os":"linux","architecture":"amd64"}"#, b"plain"),
            (
                r#"{"os":"windows","architecture":"amd64","os.version":"10.0.17763.6189"}"#,
                b"ltsc2019",
            ),
            (
                r#"{"os":"windows","architecture":"amd64","os.version":"10.0.20348.2655"}"#,
                b"ltsc2022",
            ),
        ]);
        let digests = |wanted: &str| -> Vec<Digest> {
            select_platform(&manifests, &wanted.parse().unwrap())
                .into_iter()
                .map(|d| d.digest.clone())
                .collect()
        };
        assert_eq!(digests("linux/amd64"), [Digest::of(b"plain")]);
        assert_eq!(digests("linux/amd64/v2"), [Digest::of(b"v2")]);
        assert_eq!(digests("linux/amd64/v3"), [Digest::of(b"v2")]);
        assert_eq!(
            digests("windows/amd64"),
            [Digest::of(b"ltsc2019"), Digest::of(b"ltsc2022")]
        );
        assert_eq!(
            manifests[3]
                .platform
                .as_ref()
                .unwrap()
                .platform()
                .to_string(),
            "windows(10.0.20348.2655)/amd64"
        );
        // Both requests select the plain entry: carried once.
        let both: Vec<Platform> = vec![
            "linux/amd64".parse().unwrap(),
            "linux/amd64/v1".parse().unwrap(),
        ];
        assert_eq!(carried_children(&manifests, &both).len(), 1);
    }

    #[test]
    fn rejects_schema1_and_junk() {
        assert!(matches!(
            Parsed::from_bytes(br#"{"schemaVersion":1}"#, None),
            Err(OciError::Schema1)
        ));
        assert!(matches!(
            Parsed::from_bytes(b"{}", None),
            Err(OciError::Unknown)
        ));
        assert!(matches!(
            Parsed::from_bytes(b"nope", None),
            Err(OciError::Json(_))
        ));
        let bad_digest = r#"{"manifests":[{"mediaType":"x","digest":"sha256:../../x","size":1}]}"#;
        assert!(matches!(
            Parsed::from_bytes(bad_digest.as_bytes(), None),
            Err(OciError::Json(_))
        ));
    }
}
