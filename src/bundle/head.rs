//! The bundle head: the signed `index.json` read once into a typed [`BundleHead`], and
//! written from one.
//!
//! This is the only module that knows the `io.outpost.*` annotations of `index.json` and of
//! its entries: the release, its version and manifest digest, the signer, the Kubernetes
//! version, a delta's base and what it left out, and what each entry is ([`EntryKind`]).
//! Every reader (open, inspect, verify, delta, the site store, push) goes through
//! [`BundleHead::parse`]; pack writes through [`BundleHead::to_json`]. It follows the OCI
//! image layout spec (`index.json` is an image index; entries are descriptors) and does no
//! I/O.

use crate::digest::Digest;
use crate::oci::{self, Descriptor, LayoutIndex, ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME};
use crate::platform::Platform;
use std::collections::BTreeMap;

/// Bundle format version written into `index.json`.
pub const FORMAT_VERSION: &str = "1";

/// Annotations of `index.json` itself.
const FORMAT: &str = "io.outpost.format";
const RELEASE_NAME: &str = "io.outpost.release.name";
const RELEASE_VERSION: &str = "io.outpost.release.version";
const MANIFEST_DIGEST: &str = "io.outpost.manifest.digest";
const SIGNER: &str = "io.outpost.signer";
const KUBERNETES_VERSION: &str = "io.outpost.kubernetes.version";
const DELTA_BASE: &str = "io.outpost.delta.base";
const DELTA_BASE_RELEASE: &str = "io.outpost.delta.base.release";
const DELTA_OMITTED_BLOBS: &str = "io.outpost.delta.omitted.blobs";
const DELTA_OMITTED_BYTES: &str = "io.outpost.delta.omitted.bytes";
/// Annotation of a pushed release's artifact index: the bundle's `index.json` digest.
const BUNDLE_INDEX: &str = "io.outpost.bundle.index";

/// Annotations of `index.json` entries.
const ENTRY_PLATFORMS: &str = "io.outpost.platforms";
/// On an image entry: `all` when every entry of the index travels (a digest-pinned index).
const ENTRY_CARRIED: &str = "io.outpost.carried";
const ENTRY_KIND: &str = "io.outpost.kind";
/// On an artifact entry: its artifact type.
const ARTIFACT_TYPE: &str = "io.outpost.artifact.type";
/// On a referrer entry: the digest it refers to.
const SUBJECT: &str = "io.outpost.subject";
/// On an image or file entry: who signed it upstream, as verified at lock (a JSON list of
/// signers).
const UPSTREAM_SIGNERS: &str = "io.outpost.upstream.signers";
/// On a Helm chart from a classic chart repository: the site chart repository that serves
/// it (`/charts/<repository>/index.yaml`).
const CHART_REPOSITORY: &str = "io.outpost.chart.repository";
const FILE_PATH: &str = "io.outpost.file.path";
const FILE_INSECURE: &str = "io.outpost.file.insecure";

/// Why `index.json` cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("index.json: {0}")]
pub struct HeadError(String);

/// What one `index.json` entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// An image (index or manifest) under its full reference, with the platforms carried.
    Image {
        /// `registry/repository[:tag][@digest]` as built (`registry.test/library/alpha:1`).
        reference: String,
        platforms: Vec<Platform>,
        /// Every entry of the index travels, not only the platforms' manifests (the
        /// reference pins the index by digest, or the entry is an artifact).
        whole_index: bool,
        /// For a platform-less OCI artifact: its artifact type (`io.outpost.artifact.type`).
        artifact_type: Option<String>,
        /// For a referrer (signature, attestation, SBOM): the digest it refers to
        /// (`io.outpost.subject`).
        subject: Option<Digest>,
    },
    /// A file (binary, tarball, release marker, apt repository file) as an artifact.
    File {
        /// Mirror path: upstream host and path (`dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet`).
        path: String,
        /// Pinned without an upstream checksum.
        insecure: bool,
    },
    /// The lockfile the bundle was built from, as an artifact.
    Lockfile,
    /// The Sigstore trusted root upstream signatures were checked against, as an artifact.
    TrustedRoot,
    /// The release's CycloneDX SBOM (`bundle build --sbom`), as an artifact.
    Sbom,
    /// An entry this version of outpost does not know; carried and verified, not served.
    Other,
}

/// One `index.json` entry: its descriptor (as written, annotations included) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub descriptor: Descriptor,
    pub kind: EntryKind,
}

impl Entry {
    /// An image entry; `whole_index`: every entry of the index travels.
    pub fn image(
        descriptor: Descriptor,
        reference: &str,
        platforms: Vec<Platform>,
        whole_index: bool,
    ) -> Entry {
        Entry {
            descriptor,
            kind: EntryKind::Image {
                reference: reference.to_string(),
                platforms,
                whole_index,
                artifact_type: None,
                subject: None,
            },
        }
    }

    /// A platform-less OCI artifact entry (carried whole); `subject`: what it refers to, for
    /// a referrer.
    pub fn artifact(
        descriptor: Descriptor,
        reference: &str,
        artifact_type: &str,
        subject: Option<Digest>,
    ) -> Entry {
        Entry {
            descriptor,
            kind: EntryKind::Image {
                reference: reference.to_string(),
                platforms: Vec::new(),
                whole_index: true,
                artifact_type: Some(artifact_type.to_string()),
                subject,
            },
        }
    }

    /// Whether every entry of this image's index travels.
    pub fn whole_index(&self) -> bool {
        matches!(
            self.kind,
            EntryKind::Image {
                whole_index: true,
                ..
            }
        )
    }

    /// The name this entry goes by in messages: reference, mirror path, `lockfile`, or digest.
    pub fn name(&self) -> String {
        match &self.kind {
            EntryKind::Image { reference, .. } => reference.clone(),
            EntryKind::File { path, .. } => path.clone(),
            EntryKind::Lockfile => "lockfile".to_string(),
            EntryKind::TrustedRoot => "trusted root".to_string(),
            EntryKind::Sbom => "SBOM".to_string(),
            EntryKind::Other => self.descriptor.digest.to_string(),
        }
    }

    /// Platforms carried under this entry (empty for artifacts).
    pub fn platforms(&self) -> &[Platform] {
        match &self.kind {
            EntryKind::Image { platforms, .. } => platforms,
            _ => &[],
        }
    }

    /// Records who signed this entry upstream (verified at lock), for `inspect`.
    pub fn with_signers(mut self, signers: &[crate::trust::Signer]) -> Entry {
        if !signers.is_empty() {
            let json = serde_json::to_string(signers).unwrap_or_default();
            self.descriptor
                .annotations
                .insert(UPSTREAM_SIGNERS.into(), json);
        }
        self
    }

    /// Marks a chart entry as served in the site chart repository `repository`.
    pub fn with_chart_repository(mut self, repository: &str) -> Entry {
        self.descriptor
            .annotations
            .insert(CHART_REPOSITORY.into(), repository.to_string());
        self
    }

    /// For a Helm chart (a platform-less artifact of Helm's chart config type, not a
    /// referrer): the reference it is served under. The one test of "is this entry a chart".
    pub fn helm_chart(&self) -> Option<&str> {
        match &self.kind {
            EntryKind::Image {
                reference,
                artifact_type: Some(artifact_type),
                subject: None,
                ..
            } if artifact_type == crate::helm::CONFIG_MEDIA_TYPE => Some(reference),
            _ => None,
        }
    }

    /// The site chart repository this entry (a Helm chart) is served in, if any.
    pub fn chart_repository(&self) -> Option<&str> {
        self.descriptor
            .annotations
            .get(CHART_REPOSITORY)
            .map(String::as_str)
    }

    /// Who signed this entry upstream, as recorded at build (not proof: `bundle verify
    /// --upstream` checks the signatures themselves).
    pub fn signers(&self) -> Vec<crate::trust::Signer> {
        self.descriptor
            .annotations
            .get(UPSTREAM_SIGNERS)
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    }

    /// Reads an entry's kind from its annotations (the one entry classifier).
    fn classify(descriptor: &Descriptor) -> Entry {
        let note = |key: &str| descriptor.annotations.get(key);
        let kind = if let Some(reference) = note(ANNOTATION_REF_NAME) {
            EntryKind::Image {
                reference: reference.clone(),
                platforms: note(ENTRY_PLATFORMS)
                    .map(|list| {
                        list.split(',')
                            .filter_map(|p| p.trim().parse().ok())
                            .collect()
                    })
                    .unwrap_or_default(),
                whole_index: note(ENTRY_CARRIED).is_some_and(|v| v == "all"),
                artifact_type: note(ARTIFACT_TYPE).cloned(),
                subject: note(SUBJECT).and_then(|d| d.parse().ok()),
            }
        } else if let Some(path) = note(FILE_PATH) {
            EntryKind::File {
                path: path.clone(),
                insecure: descriptor.annotations.contains_key(FILE_INSECURE),
            }
        } else if note(ENTRY_KIND).map(String::as_str) == Some("lockfile") {
            EntryKind::Lockfile
        } else if note(ENTRY_KIND).map(String::as_str) == Some("trusted-root") {
            EntryKind::TrustedRoot
        } else if note(ENTRY_KIND).map(String::as_str) == Some("sbom") {
            EntryKind::Sbom
        } else {
            EntryKind::Other
        };
        Entry {
            descriptor: descriptor.clone(),
            kind,
        }
    }

    /// The descriptor with the annotations this kind is written with.
    fn annotated(&self) -> Descriptor {
        let mut descriptor = self.descriptor.clone();
        let notes = &mut descriptor.annotations;
        match &self.kind {
            EntryKind::Image {
                reference,
                platforms,
                whole_index,
                artifact_type,
                subject,
            } => {
                notes.insert(ANNOTATION_REF_NAME.into(), reference.clone());
                notes.insert(ANNOTATION_CONTAINERD_NAME.into(), reference.clone());
                let list: Vec<String> = platforms.iter().map(|p| p.to_string()).collect();
                notes.insert(ENTRY_PLATFORMS.into(), list.join(","));
                if *whole_index {
                    notes.insert(ENTRY_CARRIED.into(), "all".into());
                }
                if let Some(artifact_type) = artifact_type {
                    notes.insert(ARTIFACT_TYPE.into(), artifact_type.clone());
                }
                if let Some(subject) = subject {
                    notes.insert(SUBJECT.into(), subject.to_string());
                }
            }
            EntryKind::File { path, insecure } => {
                notes.insert(ENTRY_KIND.into(), "file".into());
                notes.insert(FILE_PATH.into(), path.clone());
                if *insecure {
                    notes.insert(FILE_INSECURE.into(), "true".into());
                }
            }
            EntryKind::Lockfile => {
                notes.insert(ENTRY_KIND.into(), "lockfile".into());
            }
            EntryKind::TrustedRoot => {
                notes.insert(ENTRY_KIND.into(), "trusted-root".into());
            }
            EntryKind::Sbom => {
                notes.insert(ENTRY_KIND.into(), "sbom".into());
            }
            EntryKind::Other => {}
        }
        descriptor
    }
}

/// A delta's base and what it left out because the base has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaHead {
    /// The base release's `index.json` digest.
    pub base: Digest,
    /// `name version` of the base.
    pub base_release: String,
    pub omitted_blobs: u64,
    /// Bytes left out.
    pub omitted_bytes: u64,
}

/// The release a bundle carries, by name and version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseName {
    pub name: String,
    pub version: String,
}

impl std::fmt::Display for ReleaseName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.name, self.version)
    }
}

/// The signed `index.json`, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleHead {
    /// Bundle format (`1`); empty when absent.
    pub format: String,
    pub release: ReleaseName,
    /// Digest of the release manifest the lockfile was made from (as text; may be empty).
    pub manifest_digest: String,
    /// Fingerprint of the key the bundle claims to be signed with (not proof: verify checks).
    pub signer: String,
    /// The pinned Kubernetes version, if any.
    pub kubernetes_version: Option<String>,
    pub delta: Option<DeltaHead>,
    pub entries: Vec<Entry>,
}

impl BundleHead {
    /// Parses `index.json` bytes (an OCI image index). Unknown annotations are ignored;
    /// numbers that do not parse count as 0.
    pub fn parse(bytes: &[u8]) -> Result<BundleHead, HeadError> {
        let index: LayoutIndex =
            serde_json::from_slice(bytes).map_err(|e| HeadError(e.to_string()))?;
        let note = |key: &str| index.annotations.get(key).cloned().unwrap_or_default();
        let count = |key: &str| note(key).parse::<u64>().unwrap_or(0);
        let delta = index
            .annotations
            .get(DELTA_BASE)
            .and_then(|d| d.parse::<Digest>().ok())
            .map(|base| DeltaHead {
                base,
                base_release: note(DELTA_BASE_RELEASE).trim().to_string(),
                omitted_blobs: count(DELTA_OMITTED_BLOBS),
                omitted_bytes: count(DELTA_OMITTED_BYTES),
            });
        Ok(BundleHead {
            format: note(FORMAT),
            release: ReleaseName {
                name: note(RELEASE_NAME),
                version: note(RELEASE_VERSION),
            },
            manifest_digest: note(MANIFEST_DIGEST),
            signer: note(SIGNER),
            kubernetes_version: index.annotations.get(KUBERNETES_VERSION).cloned(),
            delta,
            entries: index.manifests.iter().map(Entry::classify).collect(),
        })
    }

    /// The canonical `index.json` bytes (pretty JSON, sorted annotations, trailing newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut annotations = BTreeMap::from([
            (FORMAT.to_string(), self.format.clone()),
            (RELEASE_NAME.to_string(), self.release.name.clone()),
            (RELEASE_VERSION.to_string(), self.release.version.clone()),
            (MANIFEST_DIGEST.to_string(), self.manifest_digest.clone()),
            (SIGNER.to_string(), self.signer.clone()),
        ]);
        if let Some(kubernetes) = &self.kubernetes_version {
            annotations.insert(KUBERNETES_VERSION.to_string(), kubernetes.clone());
        }
        if let Some(delta) = &self.delta {
            for (key, value) in [
                (DELTA_BASE, delta.base.to_string()),
                (DELTA_BASE_RELEASE, delta.base_release.clone()),
                (DELTA_OMITTED_BLOBS, delta.omitted_blobs.to_string()),
                (DELTA_OMITTED_BYTES, delta.omitted_bytes.to_string()),
            ] {
                annotations.insert(key.to_string(), value);
            }
        }
        let index = LayoutIndex {
            schema_version: 2,
            media_type: oci::OCI_INDEX.into(),
            manifests: self.entries.iter().map(Entry::annotated).collect(),
            annotations,
        };
        let mut json = serde_json::to_vec_pretty(&index).unwrap_or_default();
        json.push(b'\n');
        json
    }

    /// The annotations of a pushed copy of this release's artifacts: name, version and the
    /// digest of the `index.json` (`index_digest`) they came from.
    pub fn release_annotations(&self, index_digest: &Digest) -> BTreeMap<String, String> {
        BTreeMap::from([
            (RELEASE_NAME.to_string(), self.release.name.clone()),
            (RELEASE_VERSION.to_string(), self.release.version.clone()),
            (BUNDLE_INDEX.to_string(), index_digest.to_string()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(byte: &[u8]) -> Descriptor {
        Descriptor {
            media_type: oci::OCI_MANIFEST.into(),
            digest: Digest::of(byte),
            size: 10,
            platform: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
            urls: Vec::new(),
        }
    }

    fn head() -> BundleHead {
        BundleHead {
            format: FORMAT_VERSION.into(),
            release: ReleaseName {
                name: "edge".into(),
                version: "1.0".into(),
            },
            manifest_digest: Digest::of(b"m").to_string(),
            signer: "abc".into(),
            kubernetes_version: Some("v1.31.2".into()),
            delta: Some(DeltaHead {
                base: Digest::of(b"base"),
                base_release: "edge 0.9".into(),
                omitted_blobs: 3,
                omitted_bytes: 300,
            }),
            entries: vec![
                Entry {
                    descriptor: descriptor(b"l"),
                    kind: EntryKind::Lockfile,
                },
                Entry {
                    descriptor: descriptor(b"f"),
                    kind: EntryKind::File {
                        path: "dl.k8s.io/x".into(),
                        insecure: true,
                    },
                },
                Entry::image(
                    descriptor(b"i"),
                    "docker.io/library/alpine:3",
                    vec![
                        "linux/amd64".parse().unwrap(),
                        "linux/arm64".parse().unwrap(),
                    ],
                    false,
                ),
                Entry::image(
                    descriptor(b"w"),
                    "docker.io/library/busybox:1@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                    vec!["linux/amd64".parse().unwrap()],
                    true,
                ),
                Entry::artifact(
                    descriptor(b"s"),
                    "docker.io/library/alpine:sha256-00.sig",
                    "application/vnd.dev.cosign.simplesigning.v1+json",
                    Some(Digest::of(b"i")),
                ),
                Entry {
                    descriptor: descriptor(b"b"),
                    kind: EntryKind::Sbom,
                },
            ],
        }
    }

    #[test]
    fn written_heads_read_back_the_same() {
        let head = head();
        let json = head.to_json();
        let back = BundleHead::parse(&json).unwrap();
        assert_eq!(back.release, head.release);
        assert_eq!(back.delta, head.delta);
        assert_eq!(back.kubernetes_version, head.kubernetes_version);
        let kinds: Vec<&EntryKind> = back.entries.iter().map(|e| &e.kind).collect();
        let expected: Vec<&EntryKind> = head.entries.iter().map(|e| &e.kind).collect();
        assert_eq!(kinds, expected);
        assert_eq!(back.entries[2].name(), "docker.io/library/alpine:3");
        assert_eq!(back.entries[1].name(), "dl.k8s.io/x");
        assert_eq!(back.entries[0].name(), "lockfile");
        assert_eq!(back.entries[5].name(), "SBOM");
        // Writing what was read gives the same bytes (the head is canonical).
        assert_eq!(back.to_json(), json);
    }

    #[test]
    fn image_entries_carry_both_reference_annotations() {
        let json = String::from_utf8(head().to_json()).unwrap();
        assert!(
            json.contains(r#""org.opencontainers.image.ref.name": "docker.io/library/alpine:3""#)
        );
        assert!(json.contains(r#""io.containerd.image.name": "docker.io/library/alpine:3""#));
        assert!(json.contains(r#""io.outpost.platforms": "linux/amd64,linux/arm64""#));
        // A digest-pinned index and an artifact travel whole and say so; the others do not.
        assert_eq!(json.matches(r#""io.outpost.carried": "all""#).count(), 2);
        assert_eq!(json.matches(r#""io.outpost.subject": "sha256:"#).count(), 1);
        let back = BundleHead::parse(json.as_bytes()).unwrap();
        assert!(back.entries[3].whole_index() && !back.entries[2].whole_index());
    }

    #[test]
    fn unknown_entries_and_bad_numbers_are_tolerated() {
        let d = Digest::of(b"x");
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{d}","size":1}}],"annotations":{{"io.outpost.delta.base":"{d}","io.outpost.delta.omitted.blobs":"many"}}}}"#,
            oci::OCI_INDEX,
            oci::OCI_MANIFEST
        );
        let head = BundleHead::parse(json.as_bytes()).unwrap();
        assert_eq!(head.entries[0].kind, EntryKind::Other);
        assert_eq!(head.entries[0].name(), d.to_string());
        let delta = head.delta.unwrap();
        assert_eq!((delta.base, delta.omitted_blobs), (d, 0));
        assert!(BundleHead::parse(b"[]").is_err());
    }
}
