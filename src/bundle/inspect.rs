//! What is inside a bundle, read from its head only (index.json and the metadata blobs that
//! follow it); layers are not read. This does not verify anything: `verify` does.

use super::entries::LayoutName;
use super::graph::{walk, Carried, Role};
use super::head::{BundleHead, EntryKind};
use super::read::{ReadError, TarReader};
use crate::digest::Digest;
use crate::oci::MAX_MANIFEST_SIZE;
use serde::Serialize;
use std::collections::HashMap;
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
    /// The Sigstore trusted root carried for re-verifying upstream signatures (its artifact
    /// manifest's digest).
    pub trusted_root: Option<Digest>,
    pub kubernetes_version: Option<String>,
    pub files: Vec<FileInfo>,
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
}

impl ImageInfo {
    /// Whether this entry is a platform-less OCI artifact rather than a runnable image.
    pub fn is_artifact(&self) -> bool {
        self.artifact_type.is_some()
    }
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
                    .take(MAX_MANIFEST_SIZE)
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

    let mut images = Vec::new();
    let mut files = Vec::new();
    let mut lockfile = None;
    let mut trusted_root = None;
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
            EntryKind::Lockfile => lockfile = Some(entry.descriptor.digest.clone()),
            EntryKind::TrustedRoot => trusted_root = Some(entry.descriptor.digest.clone()),
            EntryKind::Image { artifact_type, .. } => images.push(ImageInfo {
                reference: entry.name(),
                digest: entry.descriptor.digest.clone(),
                media_type: entry.descriptor.media_type.clone(),
                platforms: entry.platforms().iter().map(|p| p.to_string()).collect(),
                whole_index: entry.whole_index() && artifact_type.is_none(),
                size,
                layers: data.len(),
                artifact_type: artifact_type.clone(),
                signers: entry.signers(),
            }),
            EntryKind::Other => images.push(ImageInfo {
                reference: entry.name(),
                digest: entry.descriptor.digest.clone(),
                media_type: entry.descriptor.media_type.clone(),
                platforms: entry.platforms().iter().map(|p| p.to_string()).collect(),
                whole_index: entry.whole_index(),
                size,
                layers: data.len(),
                artifact_type: None,
                signers: Vec::new(),
            }),
        }
    }
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
        kubernetes_version: head.kubernetes_version.clone(),
        files,
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
