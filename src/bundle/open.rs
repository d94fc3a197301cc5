//! Opening a bundle in place for serving: an index of tar offsets, no extraction.
//!
//! Only the tar headers are walked (data is skipped with seeks), so opening a multi-GiB bundle
//! takes milliseconds. The signature is checked before anything is trusted; manifests and
//! indexes are read into memory and checked against their digests; layers stay on disk and
//! are hashed while they are served.

use super::entries::LayoutName;
use super::graph::{walk, Carried, Role};
use super::head::{BundleHead, EntryKind};
use super::parts::{BundleFile, PartsError};
use super::read::{ReadError, TarReader};
use crate::digest::Digest;
use crate::oci::MAX_MANIFEST_SIZE;
use crate::sign::{SignError, Verifier};
use crate::store::Store;
use bytes::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read bundle {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}; run `outpost bundle verify` for details")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: signature check failed: {source}")]
    Signature { path: PathBuf, source: SignError },
    #[error(transparent)]
    Parts(#[from] PartsError),
}

/// Where a blob's bytes are inside the bundle file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLocation {
    pub offset: u64,
    pub size: u64,
}

/// One image entry of `index.json`.
#[derive(Debug, Clone)]
pub struct IndexedImage {
    /// Full reference as built (`registry.test/library/alpha:1`).
    pub reference: String,
    pub digest: Digest,
    pub media_type: String,
    /// Every blob reachable from this image (manifests, configs, layers): digest, media
    /// type, size and role; the entry's `index.json` annotations are in `head.entries` only.
    pub reachable: Vec<Carried>,
    /// For a referrer (signature, attestation, SBOM): the digest it refers to, as its entry
    /// records it (a cosign tag-scheme manifest names its subject only there).
    pub subject: Option<Digest>,
}

/// One file entry of `index.json` (a binary, tarball or release marker).
#[derive(Debug, Clone)]
pub struct IndexedFile {
    /// Mirror path: upstream host and path (`dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet`).
    pub path: String,
    pub digest: Digest,
    pub size: u64,
    pub insecure: bool,
}

/// Where an opened release's blob bytes live.
#[derive(Debug, Clone)]
pub enum Backing {
    /// One tar or its parts, held open: a file replaced at its path does not change what is
    /// served. Blob locations are offsets into it.
    Bundle(Arc<BundleFile>),
    /// A site store: every blob is its own file (`blobs/sha256/<hex>`), location offset 0.
    Store(Store),
}

impl Backing {
    /// The file holding `digest` and the offset its bytes start at.
    pub fn open_blob(
        &self,
        digest: &Digest,
        location: BlobLocation,
    ) -> Result<(Arc<BundleFile>, u64), PartsError> {
        match self {
            Backing::Bundle(file) => Ok((file.clone(), location.offset)),
            Backing::Store(store) => Ok((Arc::new(BundleFile::open(&store.blob_path(digest))?), 0)),
        }
    }

    /// Reads a small blob (up to the manifest size limit) and checks its digest.
    pub fn read_verified(
        &self,
        digest: &Digest,
        location: BlobLocation,
    ) -> Result<Vec<u8>, String> {
        self.read_verified_up_to(digest, location, MAX_MANIFEST_SIZE)
    }

    /// Reads a blob of at most `max` bytes whole and checks its digest.
    pub fn read_verified_up_to(
        &self,
        digest: &Digest,
        location: BlobLocation,
        max: u64,
    ) -> Result<Vec<u8>, String> {
        if location.size > max {
            return Err(format!("blob {digest} is over the {max}-byte limit"));
        }
        let (file, offset) = self
            .open_blob(digest, location)
            .map_err(|e| e.to_string())?;
        let mut bytes = vec![0u8; location.size as usize];
        file.read_exact_at(&mut bytes, offset)
            .map_err(|e| format!("blob {digest}: {e}"))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(format!("blob {digest} is damaged (hashes to {actual})"));
        }
        Ok(bytes)
    }
}

/// An `index.json` entry that is not an image: the lockfile or a file, as an OCI artifact.
#[derive(Debug, Clone)]
pub struct IndexedArtifact {
    pub descriptor: crate::oci::Descriptor,
    /// Every blob reachable from it (artifact manifest, empty config, content), as
    /// [`IndexedImage::reachable`].
    pub reachable: Vec<Carried>,
}

/// A bundle opened for serving.
#[derive(Debug)]
pub struct OpenBundle {
    pub path: PathBuf,
    /// Where the blob bytes are: the bundle (held open) or a store's blob files.
    pub backing: Backing,
    pub index_digest: Digest,
    pub images: Vec<IndexedImage>,
    pub files: Vec<IndexedFile>,
    /// Entries that are not images (lockfile, files), as pushed to a registry.
    pub artifacts: Vec<IndexedArtifact>,
    /// The signed `index.json`, typed: release, version, Kubernetes version, entries.
    pub head: BundleHead,
    pub blobs: HashMap<Digest, BlobLocation>,
    /// Manifest and index bytes (small, verified at open; shared, not copied, by the server's
    /// catalog and the responses it sends).
    pub manifests: HashMap<Digest, Bytes>,
    /// Media type of every manifest and index in `manifests`, from its descriptor.
    pub media_types: HashMap<Digest, String>,
    /// Whether the signature was checked (false only with --insecure-skip-verify).
    pub verified: bool,
}

impl OpenBundle {
    /// Opens `path`; with a verifier the signature must hold, else the bundle is refused.
    pub fn open(path: &Path, verifier: Option<&Verifier>) -> Result<Self, OpenError> {
        let invalid = |message: String| OpenError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file = BundleFile::open(path)?;
        let Scan {
            index_bytes,
            signature,
            blobs,
        } = scan(&file).map_err(|e| invalid(e.to_string()))?;
        let index_bytes = index_bytes.ok_or_else(|| invalid("no index.json".into()))?;
        let head = BundleHead::parse(&index_bytes).map_err(|e| invalid(e.to_string()))?;
        if let Some(delta) = &head.delta {
            return Err(invalid(format!(
                "a delta on {} ({}) cannot be served alone; `outpost load` the base and then this delta into a store, and `outpost serve --store`",
                delta.base_release, delta.base
            )));
        }
        let backing = Backing::Bundle(Arc::new(file));
        Self::assemble(
            path,
            &index_bytes,
            signature.as_deref(),
            verifier,
            backing,
            &|digest| blobs.get(digest).copied(),
        )
    }

    /// Opens one release of a site store (its `index.json` and signature as loaded).
    pub fn open_stored(
        label: &Path,
        store: &Store,
        index_bytes: &[u8],
        signature: Option<&[u8]>,
        verifier: Option<&Verifier>,
    ) -> Result<Self, OpenError> {
        let locate = |digest: &Digest| {
            std::fs::metadata(store.blob_path(digest))
                .ok()
                .filter(|m| m.is_file())
                .map(|m| BlobLocation {
                    offset: 0,
                    size: m.len(),
                })
        };
        Self::assemble(
            label,
            index_bytes,
            signature,
            verifier,
            Backing::Store(store.clone()),
            &locate,
        )
    }

    /// Checks the signature, then walks every entry's graph: each blob must be where
    /// `locate` says, with its descriptor's size; manifests are read and checked.
    fn assemble(
        path: &Path,
        index_bytes: &[u8],
        signature: Option<&[u8]>,
        verifier: Option<&Verifier>,
        backing: Backing,
        locate: &dyn Fn(&Digest) -> Option<BlobLocation>,
    ) -> Result<Self, OpenError> {
        let invalid = |message: String| OpenError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let verified = match verifier {
            Some(verifier) => {
                let signature = signature.ok_or_else(|| {
                    invalid("index.json.sig is missing: the bundle is not signed (serve it only with --insecure-skip-verify)".into())
                })?;
                verifier
                    .verify(index_bytes, signature)
                    .map_err(|source| OpenError::Signature {
                        path: path.to_path_buf(),
                        source,
                    })?;
                true
            }
            None => false,
        };
        let head = BundleHead::parse(index_bytes).map_err(|e| invalid(e.to_string()))?;
        if let Backing::Store(store) = &backing {
            let roots: Vec<&Digest> = head.entries.iter().map(|e| &e.descriptor.digest).collect();
            super::prefetch::warm_store(store, &roots, 0);
        }
        let mut blobs = HashMap::new();
        let mut manifests: HashMap<Digest, Bytes> = HashMap::new();
        let mut media_types = HashMap::new();
        let mut images = Vec::new();
        let mut files = Vec::new();
        let mut artifacts = Vec::new();
        for entry in &head.entries {
            // Each entry's graph on its own: `reachable` lists everything it needs.
            let visit = |item: &Carried| {
                let digest = &item.descriptor.digest;
                let location = locate(digest)
                    .ok_or_else(|| invalid(format!("blob {digest} ({}) is missing", item.owner)))?;
                blobs.insert(digest.clone(), location);
                if location.size != item.descriptor.size {
                    return Err(invalid(format!("blob {digest} has the wrong size")));
                }
                if item.role != Role::Manifest {
                    return Ok(None);
                }
                media_types.insert(digest.clone(), item.descriptor.media_type.clone());
                if let Some(bytes) = manifests.get(digest) {
                    return Ok(Some(bytes.to_vec()));
                }
                let bytes = backing.read_verified(digest, location).map_err(&invalid)?;
                manifests.insert(digest.clone(), Bytes::from(bytes.clone()));
                Ok(Some(bytes))
            };
            let bad =
                |item: &Carried, e| invalid(format!("manifest {}: {e}", item.descriptor.digest));
            let reachable = kept(walk([Carried::root(entry)], visit, bad)?);
            match &entry.kind {
                EntryKind::Image {
                    reference, subject, ..
                } => images.push(IndexedImage {
                    reference: reference.clone(),
                    digest: entry.descriptor.digest.clone(),
                    media_type: entry.descriptor.media_type.clone(),
                    reachable,
                    subject: subject.clone(),
                }),
                kind => {
                    if let EntryKind::File { path, insecure } = kind {
                        let layer = reachable
                            .iter()
                            .find(|c| c.role == Role::Data)
                            .ok_or_else(|| invalid(format!("file {path} has no content")))?;
                        files.push(IndexedFile {
                            path: path.clone(),
                            digest: layer.descriptor.digest.clone(),
                            size: layer.descriptor.size,
                            insecure: *insecure,
                        });
                    }
                    artifacts.push(IndexedArtifact {
                        descriptor: entry.descriptor.clone(),
                        reachable,
                    });
                }
            }
        }
        Ok(OpenBundle {
            path: path.to_path_buf(),
            backing,
            index_digest: Digest::of(index_bytes),
            head,
            images,
            files,
            artifacts,
            blobs,
            manifests,
            media_types,
            verified,
        })
    }

    /// The registry hosts this bundle carries images from (`docker.io`, `registry.k8s.io`, …).
    pub fn registries(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .images
            .iter()
            .filter_map(|i| crate::reference::parse(&i.reference).ok())
            .map(|r| r.registry().to_string())
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

/// What an opened bundle keeps of an entry's walked graph: the records without their
/// descriptors' annotations (nothing reads them from the records: the root's are kept once,
/// in `head.entries`, and a manifest's children's are in its bytes; for a release of
/// thousands of images a second copy costs megabytes), in a vector without spare capacity.
fn kept(mut reachable: Vec<Carried>) -> Vec<Carried> {
    for item in &mut reachable {
        item.descriptor.annotations = Default::default();
    }
    reachable.shrink_to_fit();
    reachable
}

/// What walking a bundle's tar headers finds.
pub struct Scan {
    pub index_bytes: Option<Vec<u8>>,
    pub signature: Option<Vec<u8>>,
    pub blobs: HashMap<Digest, BlobLocation>,
}

/// Walks the tar headers (seeking over data): `index.json`, its signature, blob locations.
pub fn scan(file: &BundleFile) -> Result<Scan, ReadError> {
    let mut blobs = HashMap::new();
    let (mut index_bytes, mut signature) = (None, None);
    let mut tar = TarReader::new(file.reader(), file.len());
    for member in tar.seeking()? {
        let mut member = member?;
        let location = BlobLocation {
            offset: member.offset,
            size: member.size,
        };
        match member.name.clone() {
            LayoutName::Index | LayoutName::Signature => {
                let limit = if member.name == LayoutName::Index {
                    super::MAX_INDEX_SIZE
                } else {
                    MAX_MANIFEST_SIZE
                };
                let bytes = member.read_small(limit)?;
                let slot = if member.name == LayoutName::Index {
                    &mut index_bytes
                } else {
                    &mut signature
                };
                if slot.replace(bytes).is_some() {
                    return Err(ReadError::Duplicate(member.path));
                }
            }
            LayoutName::Blob(digest) => {
                if blobs.insert(digest.clone(), location).is_some() {
                    return Err(ReadError::Duplicate(member.path));
                }
            }
            LayoutName::Layout | LayoutName::Directory => {}
        }
    }
    Ok(Scan {
        index_bytes,
        signature,
        blobs,
    })
}
