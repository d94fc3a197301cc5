//! Verifying a bundle in one sequential read: signature, then every blob as it passes.
//!
//! Nothing is extracted or written. The first entries must be the layout file, `index.json`
//! and its signature; the signature is checked before any blob is read. From then on every
//! blob must be expected (reachable from what came before), have the size its descriptor
//! gives and hash to its name; at the end every expected blob must have been seen.
//!
//! Blobs pass through a [`Sink`]: plain verification only hashes them; a site store's load
//! (`sitestore::load`) stores them as they pass, so each byte is read and hashed once.

use super::entries::{BadEntry, LayoutName, BLOCK};
use super::graph::{Carried, Frontier, Role};
use super::head::BundleHead;
use super::parts::{BundleFile, PartsError};
use super::read::{ReadError, TarReader};
use super::{INDEX_FILE, OCI_LAYOUT_FILE, SIGNATURE_FILE};
use crate::digest::Digest;
use crate::oci::MAX_MANIFEST_SIZE;
use crate::progress::Reporter;
use crate::sign::{SignError, Verifier};
use sha2::{Digest as _, Sha256};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

mod hashing;
mod sink;
pub use sink::{HashOnly, Sink, SinkBlob};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read bundle {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bundle is truncated or damaged: {0}")]
    Truncated(String),
    #[error(transparent)]
    Parts(#[from] PartsError),
    #[error("{part} ({detail})")]
    InPart {
        part: Box<PartsError>,
        detail: String,
    },
    #[error(transparent)]
    BadEntry(#[from] BadEntry),
    #[error("duplicate tar entry `{0}`: a bundle holds each file once")]
    Duplicate(String),
    #[error(
        "`{0}` is missing before the first blob: not an outpost bundle, or its head is damaged"
    )]
    MissingHead(&'static str),
    #[error("index.json is not a valid OCI index: {0}")]
    BadIndex(String),
    #[error("signature check failed for index.json: {source}{hint}")]
    Signature { source: SignError, hint: String },
    #[error("blob {digest} is not referenced by index.json or by any manifest before it: the bundle was altered")]
    Unexpected { digest: Digest },
    #[error("blob {digest} ({owner}) is {actual} bytes, but its descriptor says {expected}")]
    Size {
        digest: Digest,
        owner: String,
        expected: u64,
        actual: u64,
    },
    #[error("blob {digest} ({owner}) is damaged: its content hashes to {actual}")]
    Damaged {
        digest: Digest,
        owner: String,
        actual: Digest,
    },
    #[error("manifest {digest} ({owner}) cannot be read: {message}")]
    BadManifest {
        digest: Digest,
        owner: String,
        message: String,
    },
    #[error("this bundle is a delta on {release} ({base}), which is not in the store; load that release first, then this one")]
    BaseNotLoaded { base: Digest, release: String },
    #[error("no space left on the store's filesystem while storing blob {digest} ({size} bytes) in {path}; free space or use a larger --store, then run load again (it continues where it stopped)")]
    DiskFull {
        digest: Digest,
        size: u64,
        path: PathBuf,
    },
    #[error("storing blob {digest}: {source}")]
    Store {
        digest: Digest,
        source: crate::store::StoreError,
    },
    #[error("{} missing from the bundle{place}, first {digest} ({role} of {owner})", crate::errors::plural(*count as u64, "blob"))]
    Missing {
        count: usize,
        digest: Digest,
        role: &'static str,
        owner: String,
        /// `""`, or where else they were looked for (`" and from the store (…)"`).
        place: &'static str,
    },
    #[error("this delta leaves out {} ({bytes} bytes){manifests}, but its signed index says {expected_count} ({expected_bytes} bytes): it was altered or built wrongly", crate::errors::plural(*count as u64, "blob"))]
    DeltaMismatch {
        count: usize,
        bytes: u64,
        expected_count: usize,
        expected_bytes: u64,
        manifests: &'static str,
    },
}

/// What a successful verification saw.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub signer: String,
    pub index_digest: Digest,
    /// The signed `index.json` and its signature, as read.
    pub index_json: Vec<u8>,
    pub signature: Vec<u8>,
    /// The signed head, typed.
    pub head: BundleHead,
    /// Blobs written by the sink (load), and their bytes.
    pub stored_blobs: usize,
    pub stored_bytes: u64,
    pub entries: usize,
    pub blobs: usize,
    pub bytes: u64,
}

/// Verifies the bundle at `path` (a tar, its parts list or any part) with `verifier`.
pub fn verify(
    path: &Path,
    verifier: &Verifier,
    reporter: &dyn Reporter,
) -> Result<VerifyReport, VerifyError> {
    verify_with(path, verifier, &mut HashOnly, reporter)
}

/// Verifies the bundle, handing every blob to `sink` as it passes.
pub fn verify_with(
    path: &Path,
    verifier: &Verifier,
    sink: &mut dyn Sink,
    reporter: &dyn Reporter,
) -> Result<VerifyReport, VerifyError> {
    let bundle = BundleFile::open(path)?;
    // Where the last entry that read well starts: damage is at or after it.
    let mut last_good = 0u64;
    let result = verify_stream(path, &bundle, verifier, sink, reporter, &mut last_good);
    match result {
        Err(e) if bundle.parts.is_some() && !matches!(e, VerifyError::Parts(_)) => {
            // Name the part to copy again when the damage lies in one from the last entry
            // that read well onwards (a damaged header fails before its span is known).
            for index in bundle.part_index_at(last_good)..bundle.part_count() {
                if let Err(part @ PartsError::Damaged { .. }) = bundle.check_part(index) {
                    return Err(VerifyError::InPart {
                        part: Box::new(part),
                        detail: e.to_string(),
                    });
                }
            }
            Err(e)
        }
        other => other,
    }
}

impl From<ReadError> for VerifyError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Part(part) => VerifyError::Parts(part),
            ReadError::BadEntry(bad) => VerifyError::BadEntry(bad),
            ReadError::Duplicate(name) => VerifyError::Duplicate(name),
            ReadError::TooLarge { .. } => VerifyError::BadIndex(e.to_string()),
            ReadError::Io(_) | ReadError::Truncated { .. } | ReadError::ImpossibleSize(_) => {
                VerifyError::Truncated(e.to_string())
            }
        }
    }
}

fn verify_stream(
    path: &Path,
    bundle: &BundleFile,
    verifier: &Verifier,
    sink: &mut dyn Sink,
    reporter: &dyn Reporter,
    last_good: &mut u64,
) -> Result<VerifyReport, VerifyError> {
    let file_len = bundle.len();
    reporter.start("verify", file_len);
    let reader = BufReader::with_capacity(1 << 20, bundle.checking_reader());
    let mut tar = TarReader::new(reader, file_len);
    let mut state = State::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut members = tar.sequential().map_err(|e| match e {
        ReadError::Io(source) => VerifyError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => other.into(),
    })?;
    while let Some(member) = members.next() {
        *last_good = members.last_start;
        let mut member = member?;
        match member.name.clone() {
            LayoutName::Directory => {}
            LayoutName::Layout | LayoutName::Index | LayoutName::Signature => {
                if state.head.is_some() {
                    return Err(VerifyError::Duplicate(member.path));
                }
                let limit = if member.name == LayoutName::Index {
                    super::MAX_INDEX_SIZE
                } else {
                    MAX_MANIFEST_SIZE
                };
                let content = member.read_small(limit)?;
                let slot = match member.name {
                    LayoutName::Layout => &mut state.layout,
                    LayoutName::Index => &mut state.index,
                    _ => &mut state.signature,
                };
                if slot.replace(content).is_some() {
                    return Err(VerifyError::Duplicate(member.path));
                }
            }
            LayoutName::Blob(digest) => {
                if state.head.is_none() {
                    state.start(verifier, sink)?;
                }
                let size = member.size;
                let offset = members.last_start;
                let result =
                    state.blob(&digest, size, offset, &mut member, &mut buf, sink, reporter);
                if let Err(e) = result {
                    if let Some(at) = state.damaged_at {
                        *last_good = at;
                    }
                    return Err(e);
                }
            }
        }
    }
    if state.head.is_none() {
        state.start(verifier, sink)?;
    }
    // Read what is left (the end-of-archive blocks) so the last part's hash is checked too.
    let end_of_entries = members.end_of_members;
    *last_good = end_of_entries;
    let mut rest = tar.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink())
        .map_err(|e| VerifyError::from(ReadError::from(e)))?;
    if let Some(hashing) = state.hashing.take() {
        hashing.close().map_err(|(e, at)| {
            *last_good = at;
            e
        })?;
    }
    check_trailer(bundle, end_of_entries, file_len)?;
    state.finish(verifier, sink)
}

/// The archive must end with its two zero blocks; their absence means it was cut short.
fn check_trailer(
    bundle: &BundleFile,
    end_of_entries: u64,
    file_len: u64,
) -> Result<(), VerifyError> {
    if file_len < end_of_entries + 2 * BLOCK {
        return Err(VerifyError::Truncated(format!(
            "the end-of-archive marker is missing ({file_len} bytes, expected at least {})",
            end_of_entries + 2 * BLOCK
        )));
    }
    let mut trailer = [0u8; 2 * BLOCK as usize];
    bundle
        .read_exact_at(&mut trailer, end_of_entries)
        .map_err(|e| VerifyError::Truncated(e.to_string()))?;
    if trailer.iter().any(|&b| b != 0) {
        return Err(VerifyError::Truncated(
            "the end-of-archive marker is damaged".into(),
        ));
    }
    Ok(())
}

#[derive(Default)]
struct State {
    stored_blobs: usize,
    stored_bytes: u64,
    layout: Option<Vec<u8>>,
    index: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    /// The signed head, once the signature held (blobs have started).
    head: Option<BundleHead>,
    frontier: Frontier,
    bytes: u64,
    /// Data blobs of plain verification, hashed on every core (created at the first).
    hashing: Option<hashing::Hashing>,
    /// Where the entry of a blob found damaged after its turn starts.
    damaged_at: Option<u64>,
}

impl State {
    /// Called once the head is read: checks the layout file and the signature, then learns
    /// the entries of index.json.
    fn start(&mut self, verifier: &Verifier, sink: &mut dyn Sink) -> Result<(), VerifyError> {
        let layout = self
            .layout
            .as_ref()
            .ok_or(VerifyError::MissingHead(OCI_LAYOUT_FILE))?;
        let layout_ok = serde_json::from_slice::<serde_json::Value>(layout)
            .ok()
            .and_then(|v| {
                v.get("imageLayoutVersion")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .is_some();
        if !layout_ok {
            return Err(VerifyError::BadIndex(
                "oci-layout has no imageLayoutVersion".into(),
            ));
        }
        let index = self
            .index
            .as_ref()
            .ok_or(VerifyError::MissingHead(INDEX_FILE))?;
        let signature = self
            .signature
            .as_ref()
            .ok_or(VerifyError::MissingHead(SIGNATURE_FILE))?;
        // Parsed once: the claimed signer feeds the error hint, the entries the walk.
        let parsed = BundleHead::parse(index).map_err(|e| e.to_string());
        let claimed_signer = parsed
            .as_ref()
            .map(|head| head.signer.clone())
            .unwrap_or_default();
        verifier.verify(index, signature).map_err(|source| {
            let hint = if !claimed_signer.is_empty() && claimed_signer != verifier.fingerprint() {
                format!(
                    " (the bundle says it was signed by key {claimed_signer}; the key given is {})",
                    verifier.fingerprint()
                )
            } else {
                String::new()
            };
            VerifyError::Signature { source, hint }
        })?;
        let head = parsed
            .map_err(|e| VerifyError::BadIndex(e.trim_start_matches("index.json: ").to_string()))?;
        sink.accept(&head)?;
        self.frontier = Frontier::new(head.entries.iter().map(Carried::root));
        self.head = Some(head);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn blob(
        &mut self,
        digest: &Digest,
        size: u64,
        offset: u64,
        entry: &mut impl Read,
        buf: &mut [u8],
        sink: &mut dyn Sink,
        reporter: &dyn Reporter,
    ) -> Result<(), VerifyError> {
        let item = self
            .frontier
            .get(digest)
            .cloned()
            .ok_or_else(|| VerifyError::Unexpected {
                digest: digest.clone(),
            })?;
        if !self.frontier.visit(digest) {
            return Err(VerifyError::Duplicate(digest.layout_path()));
        }
        if size != item.descriptor.size {
            return Err(VerifyError::Size {
                digest: digest.clone(),
                owner: item.owner.to_string(),
                expected: item.descriptor.size,
                actual: size,
            });
        }
        let keep = item.role == Role::Manifest;
        if keep && size > MAX_MANIFEST_SIZE {
            return Err(VerifyError::BadManifest {
                digest: digest.clone(),
                owner: item.owner.to_string(),
                message: format!("{size} bytes is over the manifest limit"),
            });
        }
        let mut kept = Vec::new();
        let mut stored = sink.begin(digest, size)?;
        if !keep {
            // Nothing depends on a data blob's bytes: hash it on another core meanwhile; a
            // sink that stores it writes the bytes as they pass and commits once they match.
            if let Some(blob) = stored.as_mut() {
                blob.hashed_by_caller()?;
                self.stored_blobs += 1;
                self.stored_bytes += size;
            }
            let hashing = self.hashing.get_or_insert_with(hashing::Hashing::new);
            let blob = hashing::Blob {
                digest,
                owner: &item.owner,
                offset,
                size,
                stored,
            };
            hashing.hash(blob, entry, reporter).map_err(|(e, at)| {
                self.damaged_at = Some(at);
                e
            })?;
            self.bytes += size;
            return Ok(());
        }
        // A manifest: kept in memory, hashed here (by the sink's writer when it stores it).
        let mut hasher = Sha256::new();
        loop {
            let n = entry
                .read(buf)
                .map_err(|e| VerifyError::from(ReadError::from(e)))?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            match stored.as_mut() {
                Some(blob) => blob.write(chunk)?,
                None => hasher.update(chunk),
            }
            if keep {
                kept.extend_from_slice(chunk);
            }
            reporter.advance(n as u64);
        }
        self.bytes += size;
        match stored {
            Some(blob) => {
                blob.commit().map_err(|e| match e {
                    VerifyError::Damaged { actual, .. } => VerifyError::Damaged {
                        digest: digest.clone(),
                        owner: item.owner.to_string(),
                        actual,
                    },
                    other => other,
                })?;
                self.stored_blobs += 1;
                self.stored_bytes += size;
            }
            None => {
                let actual = Digest::from_hasher(hasher);
                if &actual != digest {
                    return Err(VerifyError::Damaged {
                        digest: digest.clone(),
                        owner: item.owner.to_string(),
                        actual,
                    });
                }
            }
        }
        if keep {
            self.frontier
                .expand(&item, &kept)
                .map_err(|e| VerifyError::BadManifest {
                    digest: digest.clone(),
                    owner: item.owner.to_string(),
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }

    fn finish(
        mut self,
        verifier: &Verifier,
        sink: &mut dyn Sink,
    ) -> Result<VerifyReport, VerifyError> {
        // Blobs a delta left out come from the sink (a store holding its base): each must be
        // there, and the manifests among them are read so their children are checked too.
        let mut held = std::collections::HashSet::new();
        let walked = self.frontier.walk(
            |item| match sink.held(item) {
                None => Ok(None),
                Some(bytes) => {
                    held.insert(item.descriptor.digest.clone());
                    bytes
                }
            },
            |item, e| VerifyError::BadManifest {
                digest: item.descriptor.digest.clone(),
                owner: item.owner.to_string(),
                message: e.to_string(),
            },
        )?;
        let missing: Vec<&Carried> = walked
            .iter()
            .filter(|c| !held.contains(&c.descriptor.digest))
            .collect();
        let head = self
            .head
            .take()
            .ok_or(VerifyError::MissingHead(INDEX_FILE))?;
        // A delta verified on its own: what it leaves out is its base's to provide, exactly
        // what its signed index says it left out, and never a manifest.
        let from_base = head.delta.is_some() && !sink.provides_base();
        if let Some(delta) = head.delta.as_ref().filter(|_| from_base) {
            let bytes: u64 = missing.iter().map(|c| c.descriptor.size).sum();
            let manifests = missing.iter().any(|c| c.role == Role::Manifest);
            let (expected_count, expected_bytes) =
                (delta.omitted_blobs as usize, delta.omitted_bytes);
            if missing.len() != expected_count || bytes != expected_bytes || manifests {
                return Err(VerifyError::DeltaMismatch {
                    count: missing.len(),
                    bytes,
                    expected_count,
                    expected_bytes,
                    manifests: if manifests {
                        ", manifests among them"
                    } else {
                        ""
                    },
                });
            }
        }
        if let Some(first) = missing.first().filter(|_| !from_base) {
            return Err(VerifyError::Missing {
                count: missing.len(),
                digest: first.descriptor.digest.clone(),
                role: first.role.noun(),
                owner: first.owner.to_string(),
                place: sink.place(),
            });
        }
        let index = self.index.unwrap_or_default();
        Ok(VerifyReport {
            signer: verifier.fingerprint().to_string(),
            index_digest: Digest::of(&index),
            index_json: index,
            signature: self.signature.unwrap_or_default(),
            head,
            stored_blobs: self.stored_blobs,
            stored_bytes: self.stored_bytes,
            entries: self.frontier.order().len(),
            blobs: self.frontier.visited_count() - missing.len(),
            bytes: self.bytes,
        })
    }
}
