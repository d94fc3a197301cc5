//! The site store (`outpost load --store DIR`): releases kept across bundles at the edge.
//!
//! Layout: `blobs/sha256/<hex>` (content-addressed, shared by every release), `tmp/`
//! (blobs being written; never served), and `releases/<index hex>/` holding the signed
//! `index.json`, `index.json.sig` and `release.json` (name, version, base, load time).
//!
//! Crash safety: a blob becomes visible only by a rename after its digest held, and a release
//! only by the rename of its finished directory after every blob it needs is in place. A load
//! killed at any point leaves earlier releases whole and no half-visible blob; running it again
//! continues (partial blobs resume). Loads and prunes take an exclusive lock on `DIR/.lock`.

pub mod load;
mod verified;

pub use verified::VerifyRecord;

use crate::bundle::open::{OpenBundle, OpenError};
use crate::bundle::verify::VerifyReport;
use crate::digest::Digest;
use crate::sign::Verifier;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("store {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "store {path}: another outpost load or prune is using this store; wait for it to finish"
    )]
    Busy { path: PathBuf },
    #[error("store {path}: `outpost serve --store` is serving it; stop the server before pruning (blobs it serves would vanish)")]
    Serving { path: PathBuf },
    #[error("store {path}: release record is damaged: {message}")]
    BadRecord { path: PathBuf, message: String },
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("store {path}: blob {digest} is damaged (hashes to {actual}); load a bundle holding it again")]
    DamagedBlob {
        path: PathBuf,
        digest: Digest,
        actual: Digest,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SiteError + '_ {
    move |source| SiteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One loaded release, as `release.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StoredRelease {
    pub index_digest: Digest,
    pub name: String,
    pub version: String,
    /// The base release's `index.json` digest, for a release loaded from a delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Digest>,
    /// Load time, seconds since the Unix epoch.
    pub loaded: u64,
    /// Key fingerprint the signature was checked with at load.
    pub signer: String,
}

/// What `prune` removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub removed_releases: Vec<StoredRelease>,
    pub removed_blobs: usize,
    pub freed_bytes: u64,
}

/// What `check` saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub releases: usize,
    pub blobs: usize,
    pub bytes: u64,
}

/// An exclusive hold on a store, released on drop.
pub struct StoreLock {
    _file: std::fs::File,
}

/// A site store rooted at a directory.
#[derive(Debug, Clone)]
pub struct SiteStore {
    root: PathBuf,
    blobs: Store,
}

impl SiteStore {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Self, SiteError> {
        let blobs = Store::open(root)?;
        let releases = root.join("releases");
        std::fs::create_dir_all(&releases).map_err(io(&releases))?;
        Ok(SiteStore {
            root: root.to_path_buf(),
            blobs,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blobs(&self) -> &Store {
        &self.blobs
    }

    /// Takes the store's exclusive writer lock (loads and prunes), failing at once if held.
    pub fn lock(&self) -> Result<StoreLock, SiteError> {
        self.take(".lock", false).map_err(|busy| {
            busy.unwrap_or(SiteError::Busy {
                path: self.root.clone(),
            })
        })
    }

    /// Marks the store as served (a shared lock held while `serve --store` runs): loads go on,
    /// prunes wait until the server stops.
    pub fn serving(&self) -> Result<StoreLock, SiteError> {
        self.take(".serve.lock", true).map_err(|busy| {
            busy.unwrap_or(SiteError::Busy {
                path: self.root.clone(),
            })
        })
    }

    /// `Err(None)` when the lock is held elsewhere.
    fn take(&self, name: &str, shared: bool) -> Result<StoreLock, Option<SiteError>> {
        let path = self.root.join(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Some(io(&path)(e)))?;
        let taken = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match taken {
            Ok(()) => Ok(StoreLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Some(io(&path)(e))),
        }
    }

    fn release_dir(&self, digest: &Digest) -> PathBuf {
        self.root.join("releases").join(digest.hex())
    }

    /// Every loaded release, oldest load first.
    pub fn releases(&self) -> Result<Vec<StoredRelease>, SiteError> {
        let dir = self.root.join("releases");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue; // a release being written or removed
            }
            let path = entry.path().join("release.json");
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            let release: StoredRelease =
                serde_json::from_slice(&bytes).map_err(|e| SiteError::BadRecord {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            found.push(release);
        }
        found.sort_by(|a, b| (a.loaded, &a.name, &a.version).cmp(&(b.loaded, &b.name, &b.version)));
        Ok(found)
    }

    /// Records a release whose every blob is in the store (after a successful load).
    /// Returns false if it was already there.
    fn record(&self, report: &VerifyReport) -> Result<(StoredRelease, bool), SiteError> {
        let head = &report.head;
        let final_dir = self.release_dir(&report.index_digest);
        if final_dir.join("release.json").exists() {
            let path = final_dir.join("release.json");
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            if let Ok(existing) = serde_json::from_slice::<StoredRelease>(&bytes) {
                return Ok((existing, false));
            }
        }
        let release = StoredRelease {
            index_digest: report.index_digest.clone(),
            name: head.release.name.clone(),
            version: head.release.version.clone(),
            base: head.delta.as_ref().map(|delta| delta.base.clone()),
            loaded: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            signer: report.signer.clone(),
        };
        let temp = self.root.join("releases").join(format!(
            ".loading-{}-{}",
            report.index_digest.hex(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&temp);
        let write = || -> std::io::Result<()> {
            // The blob renames reach the disk before the record that relies on them.
            std::fs::File::open(self.root.join("blobs/sha256"))?.sync_all()?;
            std::fs::create_dir_all(&temp)?;
            for (name, bytes) in [
                ("index.json", report.index_json.clone()),
                ("index.json.sig", report.signature.clone()),
                (
                    "release.json",
                    serde_json::to_vec_pretty(&release).unwrap_or_default(),
                ),
            ] {
                crate::fsutil::write_atomic(&temp.join(name), &bytes)?;
            }
            // A damaged leftover (no release.json) is replaced.
            let _ = std::fs::remove_dir_all(&final_dir);
            std::fs::rename(&temp, &final_dir)?;
            std::fs::File::open(self.root.join("releases"))?.sync_all()
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(io(&final_dir)(e));
        }
        Ok((release, true))
    }

    /// Opens one release for serving (signature checked when a verifier is given).
    pub fn open_release(
        &self,
        release: &StoredRelease,
        verifier: Option<&Verifier>,
    ) -> Result<OpenBundle, SiteError> {
        let dir = self.release_dir(&release.index_digest);
        let index_path = dir.join("index.json");
        let index = std::fs::read(&index_path).map_err(io(&index_path))?;
        let signature = std::fs::read(dir.join("index.json.sig")).ok();
        let label = PathBuf::from(format!(
            "{}#{} {}",
            self.root.display(),
            release.name,
            release.version
        ));
        Ok(OpenBundle::open_stored(
            &label,
            &self.blobs,
            &index,
            signature.as_deref(),
            verifier,
        )?)
    }

    /// Keeps the `keep` most recently loaded releases; removes the others and every blob no
    /// kept release references (and leftovers of interrupted loads).
    pub fn prune(&self, keep: usize) -> Result<PruneReport, SiteError> {
        let _lock = self.lock()?;
        let _not_served = self.take(".serve.lock", false).map_err(|busy| {
            busy.unwrap_or(SiteError::Serving {
                path: self.root.clone(),
            })
        })?;
        let mut releases = self.releases()?;
        releases.reverse(); // newest first
        let removed: Vec<StoredRelease> = releases.split_off(keep.min(releases.len()));
        let mut referenced = HashSet::new();
        for release in &releases {
            let open = self.open_release(release, None)?;
            referenced.extend(open.blobs.keys().cloned());
        }
        // Release records go first: a prune killed midway leaves only unreferenced blobs.
        for release in &removed {
            let dir = self.release_dir(&release.index_digest);
            let trash = self
                .root
                .join("releases")
                .join(format!(".removing-{}", release.index_digest.hex()));
            let _ = std::fs::remove_dir_all(&trash); // left by a prune killed midway
            std::fs::rename(&dir, &trash).map_err(io(&dir))?;
            std::fs::remove_dir_all(&trash).map_err(io(&trash))?;
        }
        let mut report = PruneReport {
            removed_releases: removed,
            ..PruneReport::default()
        };
        let blob_dir = self.root.join("blobs/sha256");
        for entry in std::fs::read_dir(&blob_dir).map_err(io(&blob_dir))? {
            let entry = entry.map_err(io(&blob_dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(digest) = format!("sha256:{name}").parse::<Digest>() else {
                continue;
            };
            if referenced.contains(&digest) {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            report.removed_blobs += 1;
            report.freed_bytes += size;
        }
        let tmp = self.root.join("tmp");
        for entry in std::fs::read_dir(&tmp).map_err(io(&tmp))?.flatten() {
            report.freed_bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = std::fs::remove_file(entry.path());
        }
        let releases_dir = self.root.join("releases");
        for entry in std::fs::read_dir(&releases_dir)
            .map_err(io(&releases_dir))?
            .flatten()
        {
            if entry.file_name().to_string_lossy().starts_with('.') {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(report)
    }

    /// Checks every release (signature with `verifier`, every blob present with its size)
    /// and hashes every blob they reference.
    pub fn check(&self, verifier: Option<&Verifier>) -> Result<CheckReport, SiteError> {
        let releases = self.releases()?;
        let mut referenced = HashSet::new();
        for release in &releases {
            let open = self.open_release(release, verifier)?;
            referenced.extend(open.blobs.keys().cloned());
        }
        let mut report = CheckReport {
            releases: releases.len(),
            ..CheckReport::default()
        };
        for digest in &referenced {
            let path = self.blobs.blob_path(digest);
            let mut file = std::fs::File::open(&path).map_err(io(&path))?;
            let (actual, bytes) = Digest::of_reader(&mut file).map_err(io(&path))?;
            report.bytes += bytes;
            if &actual != digest {
                return Err(SiteError::DamagedBlob {
                    path: path.clone(),
                    digest: digest.clone(),
                    actual,
                });
            }
            report.blobs += 1;
        }
        Ok(report)
    }
}
