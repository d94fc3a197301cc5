//! What is inside a bundle, read from its head only (index.json and the metadata blobs that
//! follow it); layers are not read. This does not verify anything: `verify` does.

use super::entries::LayoutName;
use super::graph::{walk, Carried, Role};
use super::head::{BundleHead, EntryKind};
use super::read::{ReadError, TarReader};
use crate::digest::Digest;
use crate::lock::ReferrerKind;
use crate::oci::{Parsed, MAX_MANIFEST_SIZE};
use crate::referrers::{kind_of, ReferrerFacts};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

pub mod rpms;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("cannot read bundle {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message} (run `outpost bundle verify` for a full check)")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub path: PathBuf,
    pub file_size: u64,
    pub format: String,
    pub release: String,
    pub version: String,
    pub manifest_digest: String,
    pub signer: String,
    pub index_digest: Digest,
    pub images: Vec<ImageInfo>,
    pub lockfile: Option<Digest>,
    /// The Sigstore trusted root carried for re-verifying upstream signatures: its sha256,
    /// as the lockfile's `trusted_root` names it.
    pub trusted_root: Option<Digest>,
    /// The CycloneDX SBOM carried (`bundle build --sbom`): the document's sha256.
    pub sbom: Option<Digest>,
    pub kubernetes_version: Option<String>,
    pub files: Vec<FileInfo>,
    /// Helm charts (from chart repositories and OCI registries), from the lockfile the
    /// bundle carries, else from its chart entries.
    pub charts: Vec<ChartInfo>,
    /// RPM packages, from the lockfile the bundle carries.
    pub rpms: Vec<rpms::RpmInfo>,
    pub blobs: usize,
    pub unique_bytes: u64,
    /// Number of parts, for a split bundle.
    pub parts: Option<usize>,
    /// For a delta: its base and what it left out.
    pub delta: Option<DeltaInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeltaInfo {
    /// The base release's `index.json` digest.
    pub base: Digest,
    /// `name version` of the base.
    pub base_release: String,
    pub omitted_blobs: u64,
    /// Bytes saved: blobs left out because the base has them.
    pub saved_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    /// Mirror path (`dl.k8s.io/release/…`).
    pub path: String,
    /// Digest of the upstream bytes (their sha256).
    pub digest: Digest,
    pub size: u64,
    /// Pinned without an upstream checksum.
    pub insecure: bool,
    /// Who signed it upstream, as verified at lock (empty: no signature was required).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<crate::trust::Signer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChartInfo {
    pub name: String,
    pub version: String,
    /// sha256 of the chart's `.tgz`.
    pub digest: Digest,
    /// Where it came from: the chart repository's URL, or `oci://REGISTRY/PATH/NAME`. Read
    /// from entries (no lockfile), the site chart repository's name or the OCI reference.
    pub source: String,
    /// The site chart repository serving it (`/charts/<repository>/`); none for an OCI chart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The OCI reference it is served under (`/v2/`).
    pub reference: String,
    /// Images found in it (each pinned with its `why`); none known when read from entries.
    pub images: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    pub reference: String,
    pub digest: Digest,
    pub media_type: String,
    pub platforms: Vec<String>,
    /// Every entry of the index travels, not only `platforms` (a digest-pinned index).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub whole_index: bool,
    /// Bytes of everything carried for this image (shared layers counted in each image).
    pub size: u64,
    pub layers: usize,
    /// Set for a platform-less OCI artifact (a Helm chart, a signature, an SBOM): its
    /// artifact type. Such an entry has no platforms and travels whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Who signed it upstream, as verified at lock (empty: no policy matched it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<crate::trust::Signer>,
    /// What refers to this image (or to one of its manifests, or to another of its
    /// referrers), carried with it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub referrers: Vec<ReferrerInfo>,
}

impl ImageInfo {
    /// Whether this entry is a platform-less OCI artifact rather than a runnable image.
    pub fn is_artifact(&self) -> bool {
        self.artifact_type.is_some()
    }
}

/// One carried referrer of an image: a signature, attestation or SBOM.
#[derive(Debug, Clone, Serialize)]
pub struct ReferrerInfo {
    pub kind: ReferrerKind,
    pub artifact_type: String,
    pub digest: Digest,
    /// Bytes carried for it (manifest, config and layers).
    pub size: u64,
    /// The digest it refers to.
    pub subject: Digest,
    /// The cosign tag-scheme tag it is served under, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

pub fn inspect(path: &Path) -> Result<Inspection, InspectError> {
    let invalid = |message: String| InspectError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let io = |source| InspectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = super::parts::BundleFile::open(path).map_err(|e| invalid(e.to_string()))?;
    let file_size = file.len();
    let mut tar = TarReader::new(BufReader::new(file.reader()), file_size);
    let mut index_bytes = None;
    let mut metadata: HashMap<Digest, Vec<u8>> = HashMap::new();
    let members = tar.sequential().map_err(|e| match e {
        ReadError::Io(source) => io(source),
        other => invalid(other.to_string()),
    })?;
    for member in members {
        let mut member = member.map_err(|e| invalid(e.to_string()))?;
        match member.name.clone() {
            LayoutName::Index => {
                let mut bytes = Vec::new();
                (&mut member)
                    .take(super::MAX_INDEX_SIZE)
                    .read_to_end(&mut bytes)
                    .map_err(io)?;
                index_bytes = Some(bytes);
            }
            LayoutName::Blob(digest) => {
                // Metadata comes first; stop at the first blob too large to be a manifest.
                if member.size > MAX_MANIFEST_SIZE {
                    break;
                }
                let mut bytes = Vec::new();
                member.read_to_end(&mut bytes).map_err(io)?;
                metadata.insert(digest, bytes);
            }
            _ => {}
        }
    }
    let index_bytes = index_bytes.ok_or_else(|| invalid("no index.json".into()))?;
    let head = BundleHead::parse(&index_bytes).map_err(|e| invalid(e.to_string()))?;

    let mut images: Vec<(ImageInfo, HashSet<Digest>)> = Vec::new();
    // Each referrer, and how it is listed if no image carries its subject.
    let mut referrers: Vec<(ReferrerInfo, ImageInfo)> = Vec::new();
    let mut files = Vec::new();
    let mut lockfile = None;
    let mut lock_layer: Option<Digest> = None;
    let mut trusted_root = None;
    let mut sbom = None;
    let is_delta = head.delta.is_some();
    let mut unique: HashMap<Digest, u64> = HashMap::new();
    for entry in &head.entries {
        let visit = |item: &Carried| {
            unique.insert(item.descriptor.digest.clone(), item.descriptor.size);
            if item.role != Role::Manifest {
                return Ok(None);
            }
            match metadata.get(&item.descriptor.digest) {
                Some(bytes) => Ok(Some(bytes.clone())),
                // A delta leaves out what its base has; its sizes come from the base.
                None if is_delta => Ok(None),
                None => Err(invalid(format!(
                    "manifest {} of {} is not in the bundle head",
                    item.descriptor.digest, item.owner
                ))),
            }
        };
        let reachable = walk([Carried::root(entry)], visit, |_, e| invalid(e.to_string()))?;
        let size: u64 = reachable.iter().map(|c| c.descriptor.size).sum();
        let data: Vec<&Carried> = reachable.iter().filter(|c| c.role == Role::Data).collect();
        let artifact_type = match &entry.kind {
            EntryKind::Image { artifact_type, .. } => artifact_type.clone(),
            _ => None,
        };
        let as_image = ImageInfo {
            reference: entry.name(),
            digest: entry.descriptor.digest.clone(),
            media_type: entry.descriptor.media_type.clone(),
            platforms: entry.platforms().iter().map(|p| p.to_string()).collect(),
            whole_index: entry.whole_index() && artifact_type.is_none(),
            size,
            layers: data.len(),
            artifact_type,
            signers: entry.signers(),
            referrers: Vec::new(),
        };
        match &entry.kind {
            EntryKind::File { path, insecure } => {
                // The content is the first layer; an upstream signature may follow it.
                if let Some(layer) = data.first() {
                    files.push(FileInfo {
                        path: path.clone(),
                        digest: layer.descriptor.digest.clone(),
                        size: layer.descriptor.size,
                        insecure: *insecure,
                        signers: entry.signers(),
                    });
                }
            }
            EntryKind::Lockfile => {
                lockfile = Some(entry.descriptor.digest.clone());
                lock_layer = data.first().map(|layer| layer.descriptor.digest.clone());
            }
            // The root's own sha256 (what the lockfile names), not its artifact manifest's.
            EntryKind::TrustedRoot => {
                trusted_root = data.first().map(|layer| layer.descriptor.digest.clone())
            }
            EntryKind::Sbom => sbom = data.first().map(|layer| layer.descriptor.digest.clone()),
            EntryKind::Image {
                reference,
                artifact_type,
                subject: Some(subject),
                ..
            } => referrers.push((
                referrer_info(
                    &entry.descriptor.digest,
                    reference,
                    artifact_type.as_deref(),
                    subject,
                    size,
                    metadata.get(&entry.descriptor.digest),
                ),
                as_image,
            )),
            EntryKind::Image { .. } | EntryKind::Other => images.push((
                as_image,
                reachable
                    .iter()
                    .map(|c| c.descriptor.digest.clone())
                    .collect(),
            )),
        }
    }
    let images = attach_referrers(images, referrers);
    let lock = lock_layer
        .and_then(|digest| metadata.get(&digest))
        .and_then(|bytes| crate::lock::Lockfile::from_bytes(path, bytes).ok());
    let charts = lock
        .as_ref()
        .map(|lock| lock.charts.iter().map(chart_from_pin).collect())
        .unwrap_or_else(|| charts_from_entries(&head, &metadata));
    let rpms = lock.as_ref().map(rpms::rpms_from_lock).unwrap_or_default();
    Ok(Inspection {
        path: path.to_path_buf(),
        file_size,
        format: head.format.clone(),
        release: head.release.name.clone(),
        version: head.release.version.clone(),
        manifest_digest: head.manifest_digest.clone(),
        signer: head.signer.clone(),
        index_digest: Digest::of(&index_bytes),
        images,
        lockfile,
        trusted_root,
        sbom,
        kubernetes_version: head.kubernetes_version.clone(),
        files,
        charts,
        rpms,
        blobs: unique.len(),
        unique_bytes: unique.values().sum(),
        parts: file.parts.as_ref().map(|p| p.parts.len()),
        delta: head.delta.as_ref().map(|delta| DeltaInfo {
            base: delta.base.clone(),
            base_release: delta.base_release.clone(),
            omitted_blobs: delta.omitted_blobs,
            saved_bytes: delta.omitted_bytes,
        }),
    })
}

fn chart_from_pin(pin: &crate::lock::ChartPin) -> ChartInfo {
    ChartInfo {
        name: pin.name.clone(),
        version: pin.version.clone(),
        digest: pin.sha256.clone(),
        source: pin.source.clone(),
        repository: pin.repository.clone(),
        reference: pin.reference.clone(),
        images: Some(pin.images.len()),
    }
}

/// The charts of a bundle whose lockfile cannot be read here: its entries whose artifact
/// type is a Helm chart's, each read from its manifest and config in the head.
fn charts_from_entries(head: &BundleHead, metadata: &HashMap<Digest, Vec<u8>>) -> Vec<ChartInfo> {
    let mut charts = Vec::new();
    for entry in &head.entries {
        let Some(reference) = entry.helm_chart() else {
            continue;
        };
        let Some(layers) = metadata
            .get(&entry.descriptor.digest)
            .and_then(|bytes| crate::helm::oci::layers(bytes).ok())
        else {
            continue;
        };
        let config: serde_json::Value = metadata
            .get(&layers.config.digest)
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or_default();
        let field = |key: &str| config[key].as_str().unwrap_or_default().to_string();
        let repository = entry.chart_repository().map(str::to_string);
        charts.push(ChartInfo {
            name: field("name"),
            version: field("version"),
            digest: layers.chart.digest,
            source: match &repository {
                Some(name) => format!("chart repository {name}"),
                None => format!("oci://{reference}"),
            },
            repository,
            reference: reference.to_string(),
            images: None,
        });
    }
    charts
}

/// A referrer entry as inspect shows it; its kind read from its manifest (when the bundle
/// head has it) and the cosign tag of its reference.
fn referrer_info(
    digest: &Digest,
    reference: &str,
    artifact_type: Option<&str>,
    subject: &Digest,
    size: u64,
    manifest: Option<&Vec<u8>>,
) -> ReferrerInfo {
    let tag = crate::reference::parse(reference)
        .ok()
        .and_then(|r| r.tag().map(str::to_string));
    let parsed = manifest.and_then(|bytes| Parsed::from_bytes(bytes, None).ok());
    let annotations = manifest
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(bytes).ok())
        .and_then(|v| serde_json::from_value(v.get("annotations")?.clone()).ok());
    let layer_types: Vec<&str> = match &parsed {
        Some(Parsed::Image { layers, .. }) => {
            layers.iter().map(|l| l.media_type.as_str()).collect()
        }
        _ => Vec::new(),
    };
    let artifact_type = artifact_type.unwrap_or_default().to_string();
    let kind = kind_of(&ReferrerFacts {
        artifact_type: &artifact_type,
        layer_types,
        annotations: annotations.as_ref(),
        tag: tag.as_deref(),
    });
    ReferrerInfo {
        kind,
        artifact_type,
        digest: digest.clone(),
        size,
        subject: subject.clone(),
        tag,
    }
}

/// Each referrer under the image that carries its subject (directly, or through another of
/// its referrers); one whose subject no image carries is listed as an image of its own.
fn attach_referrers(
    mut images: Vec<(ImageInfo, HashSet<Digest>)>,
    mut referrers: Vec<(ReferrerInfo, ImageInfo)>,
) -> Vec<ImageInfo> {
    loop {
        let before = referrers.len();
        referrers.retain(|(referrer, _)| {
            let Some((image, carried)) = images
                .iter_mut()
                .find(|(_, carried)| carried.contains(&referrer.subject))
            else {
                return true;
            };
            carried.insert(referrer.digest.clone());
            image.referrers.push(referrer.clone());
            false
        });
        if referrers.is_empty() || referrers.len() == before {
            break;
        }
    }
    let mut listed: Vec<ImageInfo> = images.into_iter().map(|(image, _)| image).collect();
    listed.extend(referrers.into_iter().map(|(_, orphan)| orphan));
    listed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::head::{Entry, ReleaseName};
    use crate::helm::{oci as chart_oci, CONFIG_MEDIA_TYPE};

    /// A chart entry (its manifest and config in `metadata`) under `reference`.
    fn chart_entry(
        metadata: &mut HashMap<Digest, Vec<u8>>,
        name: &str,
        reference: &str,
        repository: Option<&str>,
    ) -> Entry {
        let tgz = Digest::of(name.as_bytes());
        let chart = chart_oci::manifest(
            &serde_json::json!({"apiVersion": "v2", "name": name, "version": "1.0.0"}),
            (&tgz, 3),
            None,
        );
        metadata.insert(Digest::of(&chart.config), chart.config.clone());
        metadata.insert(chart.digest(), chart.manifest.clone());
        let descriptor = crate::oci::Descriptor {
            media_type: crate::oci::OCI_MANIFEST.into(),
            digest: chart.digest(),
            size: chart.manifest.len() as u64,
            platform: None,
            artifact_type: Some(CONFIG_MEDIA_TYPE.into()),
            annotations: Default::default(),
            urls: Vec::new(),
        };
        let entry = Entry::artifact(descriptor, reference, CONFIG_MEDIA_TYPE, None);
        match repository {
            Some(repository) => entry.with_chart_repository(repository),
            None => entry,
        }
    }

    #[test]
    fn without_a_lockfile_charts_come_from_their_entries() {
        let mut metadata = HashMap::new();
        let entries = vec![
            chart_entry(
                &mut metadata,
                "demo",
                "charts.test/stable/demo:1.0.0",
                Some("stable"),
            ),
            chart_entry(
                &mut metadata,
                "cilium",
                "registry.test/charts/cilium:1.0.0",
                None,
            ),
        ];
        let head = BundleHead {
            format: "1".into(),
            release: ReleaseName::default(),
            manifest_digest: String::new(),
            signer: String::new(),
            kubernetes_version: None,
            delta: None,
            entries,
        };
        let charts = charts_from_entries(&head, &metadata);
        let listed: Vec<(&str, &str, &str, Option<&str>)> = charts
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.version.as_str(),
                    c.source.as_str(),
                    c.repository.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("demo", "1.0.0", "chart repository stable", Some("stable")),
                (
                    "cilium",
                    "1.0.0",
                    "oci://registry.test/charts/cilium:1.0.0",
                    None
                ),
            ]
        );
        assert_eq!(charts[0].digest, Digest::of(b"demo"));
        assert_eq!(charts[0].images, None);
    }
}
