//! Writing a bundle from a lockfile and a filled cache: deterministic, signed, atomic.
//!
//! The same lockfile and cache always give the same bytes: entries in a fixed order, fixed
//! mode/owner/mtime, canonical `index.json`. Blob bytes are copied from the cache with the
//! kernel's file-to-file copy ([`crate::fsutil::copy_file_range_all`]) and not hashed again:
//! a cache entry is visible under its digest only once its bytes hashed to it (see
//! [`crate::store`]). The bundle is fsynced once, at the end, then renamed into place; so a
//! rebuild from a warm cache costs about one write of the bundle's bytes.

use super::entries::{padding, write_header, write_small, BLOCK};
use super::graph::{walk, Carried, Role};
use super::head::{BundleHead, DeltaHead, ReleaseName, FORMAT_VERSION};
use super::index_entries::{
    apt_repository, chart_entries, file_artifact, image_entry, lock_artifact, referrer_entries,
    sbom_artifact, trusted_root_artifact,
};
use super::*;
use crate::digest::Digest;
use crate::lock::Lockfile;
use crate::oci;
use crate::progress::Reporter;
use crate::sign::Signer;
use crate::store::Store;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Blobs up to this size are read ahead (from several threads) before a build copies them;
/// larger ones are read sequentially by the copy itself.
const READ_AHEAD_UP_TO: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("cache: blob {digest} ({owner}) is missing or has the wrong size; run the build again without --offline to fetch it")]
    MissingBlob { digest: Digest, owner: String },
    #[error("cache: manifest {digest} ({owner}) cannot be read: {message}")]
    BadManifest {
        digest: Digest,
        owner: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
    #[error("index.json would be {0} bytes, over the {max}-byte limit readers accept; split the release into several bundles", max = super::MAX_INDEX_SIZE)]
    IndexTooLarge(usize),
    #[error("the release has Debian or RPM packages but no OpenPGP signing key was given for their repositories (outpost-apt.key beside the bundle key; `outpost key generate` creates it)")]
    NoAptKey,
    #[error(
        "RPM package {package} in the cache: {source}; delete it from the cache and build again"
    )]
    RpmHeader {
        package: String,
        source: crate::rpm::header::HeaderError,
    },
    #[error("lockfile: rpm path {path}: {message}")]
    RpmPath { path: String, message: String },
    #[error(transparent)]
    Repodata(#[from] crate::rpm::repodata::RepodataError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Parity(#[from] super::parts::PartsError),
}

/// How to write the bundle.
#[derive(Debug, Default)]
pub struct PackOptions {
    /// Cut the tar into parts of at most this many bytes (`NAME.tar.001…` + `NAME.parts.json`).
    pub split_size: Option<u64>,
    /// Build a delta: leave out every blob this base already has.
    pub base: Option<super::delta::Base>,
    /// Carry a CycloneDX SBOM of the lockfile ([`crate::sbom::cyclonedx`]) with this time
    /// (RFC 3339 UTC); `None`: no SBOM.
    pub sbom: Option<String>,
    /// With `split_size`: write this many Reed-Solomon parity parts after the data parts
    /// (`NAME.parity.001…`, see [`super::parts::add_parity`]).
    pub parity: Option<usize>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct PackSummary {
    pub path: PathBuf,
    pub index_digest: Digest,
    pub images: usize,
    pub blobs: usize,
    pub bytes: u64,
    /// The destination already held exactly this bundle; nothing was written.
    pub unchanged: bool,
    /// Parts written (split bundles), and the parts list.
    pub parts: Option<(usize, PathBuf)>,
    /// Parity parts beside the data parts (0 without).
    pub parity: usize,
    /// For a delta: blobs and bytes left out because the base has them.
    pub omitted: Option<(usize, u64)>,
}

/// The `index.json` bytes and the blobs to write, in tar order.
pub struct Plan {
    pub index_json: Vec<u8>,
    pub blobs: Vec<Carried>,
    /// Blobs and bytes left out for a delta.
    pub omitted: (usize, u64),
}

/// Works out `index.json` and the blob order from the lockfile and the cache.
pub fn plan(
    lock: &Lockfile,
    store: &Store,
    signer_fingerprint: &str,
    apt: Option<&crate::sign::apt::AptSigner>,
    base: Option<&super::delta::Base>,
    sbom: Option<&str>,
) -> Result<Plan, PackError> {
    let mut entries = vec![lock_artifact(lock, store)?];
    if let Some(timestamp) = sbom {
        entries.push(sbom_artifact(lock, timestamp, store)?);
    }
    if let Some(digest) = &lock.trusted_root {
        entries.push(trusted_root_artifact(digest, store)?);
    }
    for file in &lock.files {
        entries.push(file_artifact(file, store)?);
    }
    if !lock.debs.is_empty() {
        let signer = apt.ok_or(PackError::NoAptKey)?;
        for file in apt_repository(lock, store, signer)? {
            entries.push(file_artifact(&file, store)?);
        }
    }
    if !lock.rpms.is_empty() || !lock.rpm_repos.is_empty() {
        let signer = apt.ok_or(PackError::NoAptKey)?;
        for file in super::rpmrepo::files(lock, store, signer)? {
            entries.push(file_artifact(&file, store)?);
        }
    }
    entries.extend(chart_entries(lock, store)?);
    entries.extend(lock.images.iter().map(image_entry));
    entries.extend(referrer_entries(&lock.images));
    // The walk below reads every manifest from the cache and the tar then copies every blob,
    // one file after another: read the manifests and small blobs ahead, many at a time.
    let roots: Vec<&Digest> = entries.iter().map(|e| &e.descriptor.digest).collect();
    super::prefetch::warm_store(store, &roots, READ_AHEAD_UP_TO);
    // Breadth-first from index.json: metadata in discovery order, then data.
    let walked = walk(
        entries.iter().map(Carried::root),
        |item| {
            let digest = &item.descriptor.digest;
            if !store.has(digest, item.descriptor.size) {
                return Err(PackError::MissingBlob {
                    digest: digest.clone(),
                    owner: item.owner.to_string(),
                });
            }
            match item.role {
                Role::Manifest => Ok(Some(store.read_bytes(digest)?)),
                Role::Config | Role::Data => Ok(None),
            }
        },
        |item, e| PackError::BadManifest {
            digest: item.descriptor.digest.clone(),
            owner: item.owner.to_string(),
            message: e.to_string(),
        },
    )?;
    // An artifact's "config" may be any blob: one too large to be metadata goes with the
    // data, so that readers of the head (inspect) find every manifest before it.
    let (mut metadata, data): (Vec<Carried>, Vec<Carried>) = walked
        .into_iter()
        .partition(|c| c.role != Role::Data && c.descriptor.size <= oci::MAX_MANIFEST_SIZE);
    metadata.extend(data);
    let mut omitted = (0usize, 0u64);
    if let Some(base) = base {
        // Manifests always travel (they are small): the delta's graph is then known from the
        // delta itself, and a platform added to an image the base had stays reachable.
        metadata.retain(|b| {
            let keep = b.role == Role::Manifest || !base.blobs.contains(&b.descriptor.digest);
            if !keep {
                omitted.0 += 1;
                omitted.1 += b.descriptor.size;
            }
            keep
        });
    }
    let head = BundleHead {
        format: FORMAT_VERSION.to_string(),
        release: ReleaseName {
            name: lock.release.name.clone(),
            version: lock.release.version.clone(),
        },
        manifest_digest: lock.manifest_digest.to_string(),
        signer: signer_fingerprint.to_string(),
        kubernetes_version: lock.kubernetes.as_ref().map(|k| k.version.clone()),
        delta: base.map(|base| DeltaHead {
            base: base.index_digest.clone(),
            base_release: base.release.clone(),
            omitted_blobs: omitted.0 as u64,
            omitted_bytes: omitted.1,
        }),
        entries,
    };
    let index_json = head.to_json();
    if index_json.len() as u64 > super::MAX_INDEX_SIZE {
        return Err(PackError::IndexTooLarge(index_json.len()));
    }

    Ok(Plan {
        index_json,
        blobs: metadata,
        omitted,
    })
}

/// Writes, signs and atomically renames the bundle to `out` (or its parts beside it).
pub fn pack(
    lock: &Lockfile,
    store: &Store,
    signer: &Signer,
    apt: Option<&crate::sign::apt::AptSigner>,
    out: &Path,
    options: &PackOptions,
    reporter: &dyn Reporter,
) -> Result<PackSummary, PackError> {
    let plan = plan(
        lock,
        store,
        signer.fingerprint(),
        apt,
        options.base.as_ref(),
        options.sbom.as_deref(),
    )?;
    let signature = signer.sign(&plan.index_json)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| PackError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let head = head_bytes(&plan, signature.as_bytes()).map_err(|source| PackError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let size = tar_size(head.len() as u64, &plan);
    let index_digest = Digest::of(&plan.index_json);
    let summary = |bytes, unchanged, parts| PackSummary {
        path: out.to_path_buf(),
        index_digest: index_digest.clone(),
        images: lock.images.len(),
        blobs: plan.blobs.len(),
        bytes,
        unchanged,
        parts,
        parity: 0,
        omitted: options.base.as_ref().map(|_| plan.omitted),
    };
    let Some(split_size) = options.split_size else {
        if already_written(out, &head, size) {
            return Ok(summary(size, true, None));
        }
        let temp = crate::fsutil::temp_path_for(out);
        let result = write_tar(&temp, &plan, &head, store, reporter).and_then(|bytes| {
            std::fs::rename(&temp, out).map_err(|source| PackError::Io {
                path: out.to_path_buf(),
                source,
            })?;
            Ok(bytes)
        });
        return match result {
            Ok(bytes) => Ok(summary(bytes, false, None)),
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(e)
            }
        };
    };
    let list_path = super::parts::list_path_for(out);
    let mut unchanged = parts_already_written(&list_path, &index_digest, size, split_size);
    let count = if unchanged {
        size.div_ceil(split_size) as usize
    } else {
        write_parts(
            out,
            split_size,
            &plan,
            &head,
            store,
            reporter,
            &index_digest,
        )?
    };
    let mut parity = 0;
    if let Some(wanted) = options.parity {
        if !parity_written(&list_path, wanted) {
            super::parts::add_parity(&list_path, wanted, reporter)?;
            unchanged = false;
        }
        parity = wanted;
    }
    Ok(PackSummary {
        parity,
        ..summary(size, unchanged, Some((count, list_path)))
    })
}

/// Whether the parts list already carries `count` parity parts, each there with its size.
fn parity_written(list_path: &Path, count: usize) -> bool {
    let Ok(list) = super::parts::load_list(list_path) else {
        return false;
    };
    list.parity.is_some_and(|parity| {
        parity.parts.len() == count
            && parity.parts.iter().all(|p| {
                std::fs::metadata(list_path.with_file_name(&p.name))
                    .is_ok_and(|m| m.len() == p.size)
            })
    })
}

/// Whether the parts list beside `out` already describes this bundle and every part is there.
fn parts_already_written(list_path: &Path, index_digest: &Digest, size: u64, split: u64) -> bool {
    let Ok(bytes) = std::fs::read(list_path) else {
        return false;
    };
    let Ok(list) = serde_json::from_slice::<super::parts::PartsList>(&bytes) else {
        return false;
    };
    &list.index_digest == index_digest
        && list.size == size
        && list.part_size == split
        && list.parts.iter().all(|p| {
            std::fs::metadata(list_path.with_file_name(&p.name)).is_ok_and(|m| m.len() == p.size)
        })
}

/// Writes the tar as parts, then the parts list (last, so a list always names whole parts).
fn write_parts(
    out: &Path,
    split_size: u64,
    plan: &Plan,
    head: &[u8],
    store: &Store,
    reporter: &dyn Reporter,
    index_digest: &Digest,
) -> Result<usize, PackError> {
    use super::parts::{list_path_for, part_path_for, PartWriter, PartsList, PARTS_FORMAT};
    let io = |source: std::io::Error| PackError::Io {
        path: out.to_path_buf(),
        source: fat32_hint(source, split_size),
    };
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, PartWriter::new(out, split_size));
    // Each part is hashed as it is written (for the parts list): the bytes pass through here.
    let copy = |out: &mut std::io::BufWriter<PartWriter>, blob: &File, size| {
        std::io::copy(&mut std::io::Read::take(blob, size), out)
    };
    let written = write_stream(&mut writer, plan, head, store, reporter, copy, io);
    let parts = match written {
        Ok(_) => writer
            .into_inner()
            .map_err(|e| io(e.into_error()))
            .and_then(|w| w.finish().map_err(io)),
        Err(e) => {
            if let Ok(w) = writer.into_inner() {
                w.abandon();
            }
            return Err(e);
        }
    };
    let parts = parts?;
    let count = parts.len();
    // Parts left over from an earlier build with more parts would confuse `cat NAME.tar.*`.
    let mut stale = count + 1;
    while std::fs::remove_file(part_path_for(out, stale)).is_ok() {
        stale += 1;
    }
    // Parity parts of an earlier build cover other bytes; the new list names none.
    let mut stale = 1;
    while std::fs::remove_file(super::parts::parity_path_for(out, stale)).is_ok() {
        stale += 1;
    }
    let list = PartsList {
        format: PARTS_FORMAT,
        bundle: out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size: parts.iter().map(|p| p.size).sum(),
        index_digest: index_digest.clone(),
        part_size: split_size,
        parts,
        parity: None,
    };
    let list_path = list_path_for(out);
    crate::fsutil::write_atomic(&list_path, &list.to_bytes()).map_err(|source| PackError::Io {
        path: list_path,
        source,
    })?;
    Ok(count)
}

/// "File too large" on a part means the stick's filesystem caps file sizes (FAT32: 4 GiB - 1).
fn fat32_hint(e: std::io::Error, split_size: u64) -> std::io::Error {
    if e.raw_os_error() == Some(27) {
        return std::io::Error::other(format!(
            "{e}: the filesystem refuses files of {split_size} bytes (FAT32 holds at most 4 GiB - 1 byte per file); use --split-size fat32"
        ));
    }
    e
}

/// The bytes before the first blob: layout file, index.json, its signature, directories.
fn head_bytes(plan: &Plan, signature: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let layout = format!("{{\"imageLayoutVersion\":\"{}\"}}", oci::OCI_LAYOUT_VERSION);
    write_small(&mut head, OCI_LAYOUT_FILE, layout.as_bytes())?;
    write_small(&mut head, INDEX_FILE, &plan.index_json)?;
    write_small(&mut head, SIGNATURE_FILE, signature)?;
    write_header(&mut head, "blobs/", 0, true)?;
    write_header(&mut head, "blobs/sha256/", 0, true)?;
    Ok(head)
}

/// The size of the finished tar.
fn tar_size(head_len: u64, plan: &Plan) -> u64 {
    let blobs: u64 = plan
        .blobs
        .iter()
        .map(|b| BLOCK + b.descriptor.size + padding(b.descriptor.size) as u64)
        .sum();
    head_len + blobs + 2 * BLOCK
}

/// Whether `out` already holds exactly this bundle: same size and the same signed head.
/// The tar is deterministic, so an identical head (which names every blob by digest) and
/// length mean the build would write the same bytes; `verify` checks the content itself.
fn already_written(out: &Path, head: &[u8], size: u64) -> bool {
    let Ok(mut file) = File::open(out) else {
        return false;
    };
    if file.metadata().map(|m| m.len()).ok() != Some(size) {
        return false;
    }
    let mut existing = vec![0u8; head.len()];
    std::io::Read::read_exact(&mut file, &mut existing).is_ok() && existing == head
}

fn write_tar(
    path: &Path,
    plan: &Plan,
    head: &[u8],
    store: &Store,
    reporter: &dyn Reporter,
) -> Result<u64, PackError> {
    let io = |source| PackError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut out = File::create(path).map_err(io)?;
    // Blob bytes go cache file → bundle file in the kernel; one fsync for the whole bundle.
    let copy =
        |out: &mut File, blob: &File, size| crate::fsutil::copy_file_range_all(blob, out, size);
    write_stream(&mut out, plan, head, store, reporter, copy, io)?;
    out.sync_all().map_err(io)?;
    out.metadata().map(|m| m.len()).map_err(io)
}

/// Writes the whole tar stream: head, every blob from the cache (`copy(out, blob, size)`
/// copies one blob's bytes and returns how many there were), the end-of-archive blocks.
fn write_stream<W: Write>(
    out: &mut W,
    plan: &Plan,
    head: &[u8],
    store: &Store,
    reporter: &dyn Reporter,
    copy: impl Fn(&mut W, &File, u64) -> std::io::Result<u64>,
    io: impl Fn(std::io::Error) -> PackError,
) -> Result<(), PackError> {
    let total: u64 = plan.blobs.iter().map(|b| b.descriptor.size).sum();
    reporter.start("pack", total);
    out.write_all(head).map_err(&io)?;
    for blob in &plan.blobs {
        let digest = &blob.descriptor.digest;
        let source_path = store.blob_path(digest);
        let source = File::open(&source_path).map_err(|source| PackError::Io {
            path: source_path.clone(),
            source,
        })?;
        write_header(out, &digest.layout_path(), blob.descriptor.size, false).map_err(&io)?;
        let copied = copy(out, &source, blob.descriptor.size).map_err(&io)?;
        if copied != blob.descriptor.size {
            return Err(PackError::MissingBlob {
                digest: digest.clone(),
                owner: blob.owner.to_string(),
            });
        }
        out.write_all(&[0u8; BLOCK as usize][..padding(copied)])
            .map_err(&io)?;
        reporter.advance(copied);
    }
    out.write_all(&[0u8; 2 * BLOCK as usize]).map_err(&io)?;
    out.flush().map_err(&io)?;
    reporter.finish();
    Ok(())
}
