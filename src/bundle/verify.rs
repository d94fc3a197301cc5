//! Verifying a bundle in one sequential read: signature, then every blob as it passes.
//!
//! Nothing is extracted or written. The first entries must be the layout file, `index.json`
//! and its signature; the signature is checked before any blob is read. From then on every
//! blob must be expected (reachable from what came before), have the size its descriptor
//! gives and hash to its name; at the end every expected blob must have been seen.

use super::entries::{classify, padding, BadEntry, EntryKind, BLOCK};
use super::graph::{carried_children, entry_owner, entry_platforms, top_role, Carried, Role};
use super::parts::{BundleFile, PartsError};
use super::*;
use crate::digest::Digest;
use crate::oci::{LayoutIndex, MAX_MANIFEST_SIZE};
use crate::progress::Reporter;
use crate::sign::{SignError, Verifier};
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

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
    InPart { part: PartsError, detail: String },
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
    #[error("{count} blob(s) missing from the bundle{place}, first {digest} ({role} of {owner})")]
    Missing {
        count: usize,
        digest: Digest,
        role: &'static str,
        owner: String,
        /// `""`, or where else they were looked for (`" and from the store (…)"`).
        place: &'static str,
    },
    #[error("this delta leaves out {count} blob(s) ({bytes} bytes){manifests}, but its signed index says {expected_count} ({expected_bytes} bytes): it was altered or built wrongly")]
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
    /// Blobs written into the target store (load), and their bytes.
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
    verify_into(path, verifier, None, reporter)
}

/// Verifies the bundle and, with a `target` store, writes every blob the store lacks into it
/// as it passes (each byte read and hashed once). A blob becomes visible in the store only
/// once its digest held; a delta's omitted blobs must already be in the store.
pub fn verify_into(
    path: &Path,
    verifier: &Verifier,
    target: Option<&Target>,
    reporter: &dyn Reporter,
) -> Result<VerifyReport, VerifyError> {
    let bundle = BundleFile::open(path)?;
    // Where the last entry that read well starts: damage is at or after it.
    let mut last_good = 0u64;
    let result = verify_stream(path, &bundle, verifier, target, reporter, &mut last_good);
    match result {
        Err(e) if bundle.parts.is_some() && !matches!(e, VerifyError::Parts(_)) => {
            // Name the part to copy again when the damage lies in one from the last entry
            // that read well onwards (a damaged header fails before its span is known).
            for index in bundle.part_index_at(last_good)..bundle.part_count() {
                if let Err(part @ PartsError::Damaged { .. }) = bundle.check_part(index) {
                    return Err(VerifyError::InPart {
                        part,
                        detail: e.to_string(),
                    });
                }
            }
            Err(e)
        }
        other => other,
    }
}

/// Maps a store write error; a full filesystem gets its own message.
fn store_error(digest: &Digest, size: u64, e: crate::store::StoreError) -> VerifyError {
    match e {
        crate::store::StoreError::Io { path, source } if source.raw_os_error() == Some(28) => {
            VerifyError::DiskFull {
                digest: digest.clone(),
                size,
                path,
            }
        }
        source => VerifyError::Store {
            digest: digest.clone(),
            source,
        },
    }
}

/// Maps a read error; a damaged part reported by the checking reader keeps its own message.
fn read_error(e: std::io::Error) -> VerifyError {
    if e.get_ref().is_some_and(|inner| inner.is::<PartsError>()) {
        if let Some(Ok(part)) = e.into_inner().map(|inner| inner.downcast::<PartsError>()) {
            return VerifyError::Parts(*part);
        }
        return VerifyError::Truncated("a part is damaged".into());
    }
    VerifyError::Truncated(e.to_string())
}

fn verify_stream(
    path: &Path,
    bundle: &BundleFile,
    verifier: &Verifier,
    target: Option<&Target>,
    reporter: &dyn Reporter,
    last_good: &mut u64,
) -> Result<VerifyReport, VerifyError> {
    let file_len = bundle.len();
    reporter.start("verify", file_len);
    let mut archive =
        tar::Archive::new(BufReader::with_capacity(1 << 20, bundle.checking_reader()));
    let mut state = State {
        target,
        halt: target.map(|_| Halt::from_env()).unwrap_or_default(),
        ..State::default()
    };
    let mut end_of_entries = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    let entries = archive.entries().map_err(|source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(read_error)?;
        let kind = classify(&entry.path_bytes(), entry.header().entry_type())?;
        let size = entry.size();
        end_of_entries = entry
            .raw_file_position()
            .checked_add(size)
            .and_then(|e| e.checked_add(padding(size) as u64))
            .ok_or_else(|| VerifyError::Truncated(format!("entry size {size} is impossible")))?;
        *last_good = entry.raw_file_position();
        if end_of_entries > file_len {
            return Err(VerifyError::Truncated(format!(
                "entry `{}` needs {} bytes but the file ends at byte {file_len}",
                String::from_utf8_lossy(&entry.path_bytes()),
                end_of_entries
            )));
        }
        match kind {
            EntryKind::Directory => {}
            EntryKind::Layout | EntryKind::Index | EntryKind::Signature => {
                if state.blobs_started {
                    return Err(VerifyError::Duplicate(
                        String::from_utf8_lossy(&entry.path_bytes()).into(),
                    ));
                }
                let content = read_small(&mut entry, MAX_MANIFEST_SIZE)?;
                if content.len() as u64 > MAX_MANIFEST_SIZE {
                    return Err(VerifyError::BadIndex(format!(
                        "`{}` is larger than {MAX_MANIFEST_SIZE} bytes (a bundle's head is small; this one is hostile or damaged)",
                        String::from_utf8_lossy(&entry.path_bytes())
                    )));
                }
                let slot = match kind {
                    EntryKind::Layout => &mut state.layout,
                    EntryKind::Index => &mut state.index,
                    _ => &mut state.signature,
                };
                if slot.replace(content).is_some() {
                    return Err(VerifyError::Duplicate(
                        String::from_utf8_lossy(&entry.path_bytes()).into(),
                    ));
                }
            }
            EntryKind::Blob(digest) => {
                if !state.blobs_started {
                    state.start(verifier)?;
                }
                state.blob(&digest, size, &mut entry, &mut buf, reporter)?;
            }
        }
    }
    if !state.blobs_started {
        state.start(verifier)?;
    }
    // Read what is left (the end-of-archive blocks) so the last part's hash is checked too.
    *last_good = end_of_entries;
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(read_error)?;
    check_trailer(bundle, end_of_entries, file_len)?;
    state.finish(verifier, file_len)
}

fn read_small(entry: &mut impl Read, limit: u64) -> Result<Vec<u8>, VerifyError> {
    let mut content = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut content)
        .map_err(read_error)?;
    Ok(content)
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

/// A store that `load` writes into, and what it already holds.
pub struct Target {
    pub store: crate::store::Store,
    /// `index.json` digests of the releases already loaded (a delta's base must be one).
    pub releases: HashSet<Digest>,
}

/// Crash-test hook for `load`: after N stored blobs, or N stored bytes (mid-blob), the
/// process says so on stderr and stops making progress, so a test can SIGKILL it at a known
/// point. Set by `OUTPOST_TEST_HALT_AFTER_BLOBS` / `OUTPOST_TEST_HALT_AFTER_BYTES`; only in
/// debug builds (what the integration tests run): a release build ignores them.
#[derive(Default, Clone, Copy)]
struct Halt {
    after_blobs: Option<usize>,
    after_bytes: Option<u64>,
}

impl Halt {
    #[cfg(not(debug_assertions))]
    fn from_env() -> Self {
        Halt::default()
    }

    #[cfg(debug_assertions)]
    fn from_env() -> Self {
        let get = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Halt {
            after_blobs: get("OUTPOST_TEST_HALT_AFTER_BLOBS").map(|n| n as usize),
            after_bytes: get("OUTPOST_TEST_HALT_AFTER_BYTES"),
        }
    }

    fn check(&self, blobs: usize, bytes: u64) {
        if self.after_blobs.is_some_and(|n| blobs >= n)
            || self.after_bytes.is_some_and(|n| bytes >= n)
        {
            eprintln!("outpost: halted for a crash test ({blobs} blobs, {bytes} bytes stored)");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
    }
}

#[derive(Default)]
struct State<'a> {
    target: Option<&'a Target>,
    halt: Halt,
    /// Bytes written into the target store so far (for the crash-test hook).
    written: u64,
    stored_blobs: usize,
    stored_bytes: u64,
    layout: Option<Vec<u8>>,
    index: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    blobs_started: bool,
    signer: String,
    expected: HashMap<Digest, Carried>,
    seen: HashSet<Digest>,
    /// Expected digests in discovery order, to name the first missing one.
    order: Vec<Digest>,
    /// The bundle is a delta: blobs it leaves out must be in the target store.
    delta: bool,
    /// Blobs and bytes the delta's signed index says it left out.
    delta_omitted: (usize, u64),
    bytes: u64,
}

impl State<'_> {
    /// Called once the head is read: checks the layout file and the signature, then learns
    /// the entries of index.json.
    fn start(&mut self, verifier: &Verifier) -> Result<(), VerifyError> {
        self.blobs_started = true;
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
        let parsed: Result<LayoutIndex, String> =
            serde_json::from_slice(index).map_err(|e| e.to_string());
        let claimed_signer = parsed
            .as_ref()
            .ok()
            .and_then(|i| i.annotations.get(ANNOTATION_SIGNER).cloned())
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
        self.signer = verifier.fingerprint().to_string();
        let index: LayoutIndex = parsed.map_err(VerifyError::BadIndex)?;
        if let (Some((base, release)), Some(target)) = (super::delta::base_of(&index), self.target)
        {
            if !target.releases.contains(&base) {
                return Err(VerifyError::BaseNotLoaded {
                    base,
                    release: release.trim().to_string(),
                });
            }
        }
        self.delta = super::delta::base_of(&index).is_some();
        let note = |key: &str| {
            index
                .annotations
                .get(key)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        self.delta_omitted = (
            note(ANNOTATION_DELTA_OMITTED_BLOBS) as usize,
            note(ANNOTATION_DELTA_OMITTED_BYTES),
        );
        for d in &index.manifests {
            self.expect(Carried {
                descriptor: d.clone(),
                role: top_role(d),
                owner: entry_owner(d),
                platforms: entry_platforms(d),
            });
        }
        Ok(())
    }

    fn expect(&mut self, item: Carried) {
        if !self.expected.contains_key(&item.descriptor.digest) {
            self.order.push(item.descriptor.digest.clone());
            self.expected.insert(item.descriptor.digest.clone(), item);
        }
    }

    fn blob(
        &mut self,
        digest: &Digest,
        size: u64,
        entry: &mut impl Read,
        buf: &mut [u8],
        reporter: &dyn Reporter,
    ) -> Result<(), VerifyError> {
        let item = self
            .expected
            .get(digest)
            .cloned()
            .ok_or_else(|| VerifyError::Unexpected {
                digest: digest.clone(),
            })?;
        if !self.seen.insert(digest.clone()) {
            return Err(VerifyError::Duplicate(digest.layout_path()));
        }
        if size != item.descriptor.size {
            return Err(VerifyError::Size {
                digest: digest.clone(),
                owner: item.owner,
                expected: item.descriptor.size,
                actual: size,
            });
        }
        let keep = item.role == Role::Manifest;
        if keep && size > MAX_MANIFEST_SIZE {
            return Err(VerifyError::BadManifest {
                digest: digest.clone(),
                owner: item.owner,
                message: format!("{size} bytes is over the manifest limit"),
            });
        }
        let mut kept = Vec::new();
        // With a target store lacking this blob, the store's writer hashes it; else we do.
        let mut partial = match self.target {
            Some(target) if !target.store.has(digest, size) => {
                let partial = target
                    .store
                    .begin(digest, size)
                    .map_err(|e| store_error(digest, size, e))?;
                Some(partial)
            }
            _ => None,
        };
        // What an interrupted earlier load left of this blob is not trusted: written anew.
        if let Some(partial) = partial.as_mut() {
            partial
                .restart()
                .map_err(|e| store_error(digest, size, e))?;
        }
        let mut hasher = Sha256::new();
        loop {
            let n = entry.read(buf).map_err(read_error)?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            match partial.as_mut() {
                Some(partial) => {
                    partial
                        .write(chunk)
                        .map_err(|e| store_error(digest, size, e))?;
                    self.written += n as u64;
                    self.halt.check(self.stored_blobs, self.written);
                }
                None => hasher.update(chunk),
            }
            if keep {
                kept.extend_from_slice(chunk);
            }
            reporter.advance(n as u64);
        }
        self.bytes += size;
        let damaged = |actual| VerifyError::Damaged {
            digest: digest.clone(),
            owner: item.owner.clone(),
            actual,
        };
        match partial {
            Some(partial) => match partial.commit() {
                Ok(()) => {
                    self.stored_blobs += 1;
                    self.stored_bytes += size;
                    self.halt.check(self.stored_blobs, self.written);
                }
                Err(crate::store::StoreError::DigestMismatch { actual, .. }) => {
                    return Err(damaged(actual))
                }
                Err(e) => return Err(store_error(digest, size, e)),
            },
            None => {
                let actual = Digest::from_hasher(hasher);
                if &actual != digest {
                    return Err(damaged(actual));
                }
            }
        }
        if keep {
            let children =
                carried_children(&item, &kept).map_err(|e| VerifyError::BadManifest {
                    digest: digest.clone(),
                    owner: item.owner.clone(),
                    message: e.to_string(),
                })?;
            for child in children {
                self.expect(child);
            }
        }
        Ok(())
    }

    /// Blobs a delta left out come from the target store: each must be there, and the
    /// manifests among them are read from it so their children are checked too.
    fn resolve_from_store(&mut self) -> Result<(), VerifyError> {
        let Some(target) = self.target else {
            return Ok(());
        };
        let mut i = 0;
        while i < self.order.len() {
            let digest = self.order[i].clone();
            i += 1;
            if self.seen.contains(&digest) {
                continue;
            }
            let item = self.expected[&digest].clone();
            if !target.store.has(&digest, item.descriptor.size) {
                continue;
            }
            self.seen.insert(digest.clone());
            if item.role == Role::Manifest {
                let bad = |message: String| VerifyError::BadManifest {
                    digest: digest.clone(),
                    owner: item.owner.clone(),
                    message,
                };
                let bytes = target
                    .store
                    .read_bytes(&digest)
                    .map_err(|e| bad(e.to_string()))?;
                if Digest::of(&bytes) != digest {
                    return Err(bad("the store's copy is damaged".into()));
                }
                for child in carried_children(&item, &bytes).map_err(|e| bad(e.to_string()))? {
                    self.expect(child);
                }
            }
        }
        Ok(())
    }

    fn finish(mut self, verifier: &Verifier, _file_len: u64) -> Result<VerifyReport, VerifyError> {
        self.resolve_from_store()?;
        let missing: Vec<&Digest> = self
            .order
            .iter()
            .filter(|d| !self.seen.contains(*d))
            .collect();
        // A delta verified on its own: what it leaves out is its base's to provide, exactly
        // what its signed index says it left out, and never a manifest.
        let from_base = self.delta && self.target.is_none();
        if from_base {
            let bytes: u64 = missing
                .iter()
                .map(|d| self.expected[*d].descriptor.size)
                .sum();
            let manifests = missing
                .iter()
                .any(|d| self.expected[*d].role == Role::Manifest);
            let (expected_count, expected_bytes) = self.delta_omitted;
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
            let item = &self.expected[*first];
            return Err(VerifyError::Missing {
                count: missing.len(),
                digest: (*first).clone(),
                role: match item.role {
                    Role::Manifest => "manifest",
                    Role::Config => "config",
                    Role::Data => "layer",
                },
                owner: item.owner.clone(),
                place: if self.target.is_some() {
                    " and from the store (run `outpost store verify`; load the base release again if it is damaged)"
                } else {
                    ""
                },
            });
        }
        let index = self.index.unwrap_or_default();
        Ok(VerifyReport {
            signer: verifier.fingerprint().to_string(),
            index_digest: Digest::of(&index),
            index_json: index,
            signature: self.signature.unwrap_or_default(),
            stored_blobs: self.stored_blobs,
            stored_bytes: self.stored_bytes,
            entries: self.order.len(),
            blobs: self.seen.len(),
            bytes: self.bytes,
        })
    }
}
