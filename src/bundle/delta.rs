//! Delta bundles: what a base release already carried, so a new bundle can leave it out.
//!
//! A delta's `index.json` is complete and signed as usual; it names its base by the base's
//! `index.json` digest. Its tar holds only blobs the base lacks, so it is loaded into a store
//! that already holds the base (`outpost load`), never served alone.

use super::head::BundleHead;
use super::open::scan;
use super::parts::BundleFile;
use crate::digest::Digest;
use crate::lock::Lockfile;
use crate::store::Store;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    #[error("base {path}: {message}")]
    Base { path: PathBuf, message: String },
    #[error("base {path} is itself a delta (on {base}); give its lockfile instead (--base {lock}) so the whole release is known")]
    BaseIsDelta {
        path: PathBuf,
        base: Digest,
        lock: String,
    },
}

/// The base release of a delta: its `index.json` digest, name and every blob it has.
#[derive(Debug, Clone)]
pub struct Base {
    pub index_digest: Digest,
    /// `name version` of the base release.
    pub release: String,
    pub blobs: HashSet<Digest>,
}

impl Base {
    /// Reads the base from an old bundle (tar, parts list or part): its index and the blobs
    /// its tar holds. A bundle that is itself a delta is refused (its tar lacks its base).
    pub fn from_bundle(path: &Path) -> Result<Base, DeltaError> {
        let fail = |message: String| DeltaError::Base {
            path: path.to_path_buf(),
            message,
        };
        let file = BundleFile::open(path).map_err(|e| fail(e.to_string()))?;
        let found = scan(&file).map_err(|e| fail(e.to_string()))?;
        let index_bytes = found
            .index_bytes
            .ok_or_else(|| fail("no index.json: not an outpost bundle".into()))?;
        let head = BundleHead::parse(&index_bytes).map_err(|e| fail(e.to_string()))?;
        if let Some(delta) = head.delta {
            let lock = path
                .to_string_lossy()
                .trim_end_matches(".parts.json")
                .trim_end_matches(".tar")
                .to_string();
            return Err(DeltaError::BaseIsDelta {
                path: path.to_path_buf(),
                base: delta.base,
                lock: format!("{lock}.lock"),
            });
        }
        Ok(Base {
            index_digest: Digest::of(&index_bytes),
            release: head.release.to_string(),
            blobs: found.blobs.into_keys().collect(),
        })
    }

    /// Rebuilds the base's plan from its lockfile and the cache (same key, same cache as the
    /// base's build): its `index.json` digest and every blob it carried.
    pub fn from_lockfile(
        path: &Path,
        store: &Store,
        signer_fingerprint: &str,
        apt: Option<&crate::sign::apt::AptSigner>,
    ) -> Result<Base, DeltaError> {
        let fail = |message: String| DeltaError::Base {
            path: path.to_path_buf(),
            message,
        };
        let lock = Lockfile::load(path).map_err(|e| fail(e.to_string()))?;
        let plan =
            super::pack::plan(&lock, store, signer_fingerprint, apt, None, None).map_err(|e| {
                fail(format!(
                    "{e} (a lockfile base is rebuilt from this cache; give the old bundle instead)"
                ))
            })?;
        Ok(Base {
            index_digest: Digest::of(&plan.index_json),
            release: format!("{} {}", lock.release.name, lock.release.version),
            blobs: plan
                .blobs
                .into_iter()
                .map(|b| b.descriptor.digest)
                .collect(),
        })
    }
}
