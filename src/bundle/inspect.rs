//! What is inside a bundle, read from its head only (index.json and the metadata blobs that
//! follow it); layers are not read. This does not verify anything: `verify` does.

use super::entries::{classify, EntryKind};
use super::graph::{carried_children, entry_owner, entry_platforms, top_role, Carried, Role};
use super::*;
use crate::digest::Digest;
use crate::oci::{LayoutIndex, MAX_MANIFEST_SIZE};
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
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
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    pub reference: String,
    pub digest: Digest,
    pub media_type: String,
    pub platforms: Vec<String>,
    /// Bytes of everything carried for this image (shared layers counted in each image).
    pub size: u64,
    pub layers: usize,
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
    let mut archive = tar::Archive::new(BufReader::new(file.reader()));
    let mut index_bytes = None;
    let mut metadata: HashMap<Digest, Vec<u8>> = HashMap::new();
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(|e| invalid(e.to_string()))?;
        let kind = classify(&entry.path_bytes(), entry.header().entry_type())
            .map_err(|e| invalid(e.to_string()))?;
        match kind {
            EntryKind::Index => {
                let mut bytes = Vec::new();
                (&mut entry)
                    .take(MAX_MANIFEST_SIZE)
                    .read_to_end(&mut bytes)
                    .map_err(io)?;
                index_bytes = Some(bytes);
            }
            EntryKind::Blob(digest) => {
                // Metadata comes first; stop at the first blob too large to be a manifest.
                if entry.size() > MAX_MANIFEST_SIZE {
                    break;
                }
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(io)?;
                metadata.insert(digest, bytes);
            }
            _ => {}
        }
    }
    let index_bytes = index_bytes.ok_or_else(|| invalid("no index.json".into()))?;
    let index: LayoutIndex =
        serde_json::from_slice(&index_bytes).map_err(|e| invalid(format!("index.json: {e}")))?;
    let note = |key: &str| index.annotations.get(key).cloned().unwrap_or_default();

    let mut images = Vec::new();
    let mut files = Vec::new();
    let mut lockfile = None;
    let is_delta = super::delta::base_of(&index).is_some();
    let mut unique: HashMap<Digest, u64> = HashMap::new();
    for top in &index.manifests {
        let root = Carried {
            descriptor: top.clone(),
            role: top_role(top),
            owner: entry_owner(top),
            platforms: entry_platforms(top),
        };
        let mut size = 0u64;
        let mut layers = 0usize;
        let mut data: Option<(Digest, u64)> = None;
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([root]);
        while let Some(item) = queue.pop_front() {
            if !seen.insert(item.descriptor.digest.clone()) {
                continue;
            }
            size += item.descriptor.size;
            unique.insert(item.descriptor.digest.clone(), item.descriptor.size);
            match item.role {
                Role::Manifest => {
                    let Some(bytes) = metadata.get(&item.descriptor.digest) else {
                        // A delta leaves out what its base has; its sizes come from the base.
                        if is_delta {
                            continue;
                        }
                        return Err(invalid(format!(
                            "manifest {} of {} is not in the bundle head",
                            item.descriptor.digest, item.owner
                        )));
                    };
                    let children =
                        carried_children(&item, bytes).map_err(|e| invalid(e.to_string()))?;
                    queue.extend(children);
                }
                Role::Data => {
                    layers += 1;
                    data = Some((item.descriptor.digest.clone(), item.descriptor.size));
                }
                Role::Config => {}
            }
        }
        if let Some(path) = top.annotations.get(ANNOTATION_FILE_PATH) {
            if let Some((digest, size)) = data {
                files.push(FileInfo {
                    path: path.clone(),
                    digest,
                    size,
                    insecure: top.annotations.contains_key(ANNOTATION_FILE_INSECURE),
                });
            }
            continue;
        }
        if top.annotations.get(ANNOTATION_KIND).map(String::as_str) == Some("lockfile") {
            lockfile = Some(top.digest.clone());
            continue;
        }
        images.push(ImageInfo {
            reference: entry_owner(top),
            digest: top.digest.clone(),
            media_type: top.media_type.clone(),
            platforms: entry_platforms(top).iter().map(|p| p.to_string()).collect(),
            size,
            layers,
        });
    }
    Ok(Inspection {
        path: path.to_path_buf(),
        file_size,
        format: note(ANNOTATION_FORMAT),
        release: note(ANNOTATION_RELEASE_NAME),
        version: note(ANNOTATION_RELEASE_VERSION),
        manifest_digest: note(ANNOTATION_MANIFEST_DIGEST),
        signer: note(ANNOTATION_SIGNER),
        index_digest: Digest::of(&index_bytes),
        images,
        lockfile,
        kubernetes_version: index
            .annotations
            .get(ANNOTATION_KUBERNETES_VERSION)
            .cloned(),
        files,
        blobs: unique.len(),
        unique_bytes: unique.values().sum(),
        parts: file.parts.as_ref().map(|p| p.parts.len()),
        delta: super::delta::base_of(&index).map(|(base, base_release)| DeltaInfo {
            base,
            base_release,
            omitted_blobs: note(super::ANNOTATION_DELTA_OMITTED_BLOBS)
                .parse()
                .unwrap_or(0),
            saved_bytes: note(super::ANNOTATION_DELTA_OMITTED_BYTES)
                .parse()
                .unwrap_or(0),
        }),
    })
}
