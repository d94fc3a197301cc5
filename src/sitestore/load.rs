//! `outpost load`: verify a bundle and import it into a site store in one sequential read.
//!
//! Loading is verification with a sink that stores each blob as it passes, so each byte is
//! read and hashed once: data blobs are hashed on the hash pool (`crate::hashpool`, every
//! core) while the reading thread writes them, manifests by the store's writer. A blob is
//! checked (size, digest) before it joins a [`CommitBatch`], and becomes visible only when
//! the batch is flushed (its bytes on disk, then the rename); the release record is written
//! last (`SiteStore::record`), after the final flush. A delta
//! needs its base release in the store; the blobs it left out are read from there. The
//! crash-test hook (stop after N blobs or bytes) lives here, in debug builds only.

use super::{SiteError, SiteStore, StoredRelease};
use crate::bundle::graph::{Carried, Role};
use crate::bundle::head::BundleHead;
use crate::bundle::verify::{self, Sink, SinkBlob, VerifyError, VerifyReport};
use crate::digest::Digest;
use crate::progress::Reporter;
use crate::sign::Verifier;
use crate::store::{CommitBatch, PartialBlob, Store, StoreError};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store cannot be locked, read or written.
    #[error(transparent)]
    Site(#[from] SiteError),
    /// The bundle failed verification, or storing one of its blobs failed.
    #[error("{bundle}: {source}")]
    Verify {
        bundle: PathBuf,
        source: Box<VerifyError>,
    },
    /// An upstream signature the bundle carries does not hold again (nothing recorded).
    #[error(transparent)]
    Upstream(Box<crate::bundle::upstream::UpstreamError>),
}

/// What a load did.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub release: StoredRelease,
    /// False when the release was already in the store.
    pub new: bool,
    pub verified: VerifyReport,
    /// The upstream signatures that held again (none when the lockfile records none).
    pub upstream: Vec<crate::bundle::upstream::Rechecked>,
}

impl SiteStore {
    /// Verifies `bundle` with `verifier` and imports it (exclusive lock held throughout).
    ///
    /// Errors: `Site` (lock, store I/O); `Verify` for anything wrong with the bundle, plus
    /// `BaseNotLoaded` (a delta without its base), `DiskFull` and `Store` (writing blobs).
    pub fn load(
        &self,
        bundle: &Path,
        verifier: &Verifier,
        reporter: &dyn Reporter,
    ) -> Result<LoadReport, LoadError> {
        let _lock = self.lock()?;
        let releases = self
            .releases()?
            .into_iter()
            .map(|r| r.index_digest)
            .collect();
        let mut sink = StoreSink {
            store: self.blobs().clone(),
            releases,
            progress: Rc::new(Progress {
                halt: Halt::from_env(),
                batch: RefCell::new(CommitBatch::new(self.blobs())),
                written: Cell::new(0),
                stored: Cell::new(0),
            }),
        };
        let verified = verify::verify_with(bundle, verifier, &mut sink, reporter)
            .and_then(|verified| sink.progress.flush().map(|()| verified))
            .map_err(|source| LoadError::Verify {
                bundle: bundle.to_path_buf(),
                source: Box::new(source),
            })?;
        // The publisher's signatures hold too, from the stored blobs, before the release is
        // recorded (a delta's blobs are only whole with its base, both in the store now).
        let opened = crate::bundle::open::OpenBundle::open_stored(
            bundle,
            self.blobs(),
            &verified.index_json,
            Some(&verified.signature),
            Some(verifier),
        )
        .map_err(|e| LoadError::Upstream(Box::new(e.into())))?;
        let upstream = crate::bundle::upstream::reverify(&opened)
            .map_err(|e| LoadError::Upstream(Box::new(e)))?;
        let (release, new) = self.record(&verified)?;
        Ok(LoadReport {
            release,
            new,
            verified,
            upstream,
        })
    }
}

/// Stores each blob the store lacks; finds a delta's omitted blobs in the store.
struct StoreSink {
    store: Store,
    /// `index.json` digests of the releases already loaded (a delta's base must be one).
    releases: HashSet<Digest>,
    progress: Rc<Progress>,
}

/// Shared by the blobs in flight (a data blob is committed once its digest comes back from
/// the hash pool): the blobs checked and waiting for one flush, and the bytes written and
/// blobs stored so far, for the crash-test hook.
struct Progress {
    halt: Halt,
    batch: RefCell<CommitBatch>,
    written: Cell<u64>,
    stored: Cell<usize>,
}

impl Progress {
    fn check(&self) {
        self.halt.check(self.stored.get(), self.written.get());
    }

    /// Makes the blobs checked so far durable and visible.
    fn flush(&self) -> Result<(), VerifyError> {
        let mut batch = self.batch.borrow_mut();
        let (digest, size) = batch
            .last()
            .map(|(digest, size)| (digest.clone(), size))
            .unwrap_or_else(|| (Digest::of(b""), 0));
        batch.flush().map_err(|e| store_error(&digest, size, e))
    }
}

/// Maps a store write error; a full filesystem gets its own message.
fn store_error(digest: &Digest, size: u64, e: StoreError) -> VerifyError {
    match e {
        StoreError::Io { path, source } if source.raw_os_error() == Some(28) => {
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

impl Sink for StoreSink {
    fn accept(&mut self, head: &BundleHead) -> Result<(), VerifyError> {
        match &head.delta {
            Some(delta) if !self.releases.contains(&delta.base) => {
                Err(VerifyError::BaseNotLoaded {
                    base: delta.base.clone(),
                    release: delta.base_release.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    fn begin(
        &mut self,
        digest: &Digest,
        size: u64,
    ) -> Result<Option<Box<dyn SinkBlob>>, VerifyError> {
        if self.store.has(digest, size) {
            return Ok(None);
        }
        let mut partial = self
            .store
            .begin(digest, size)
            .map_err(|e| store_error(digest, size, e))?;
        // What an interrupted earlier load left of this blob is not trusted: written anew.
        partial
            .restart()
            .map_err(|e| store_error(digest, size, e))?;
        Ok(Some(Box::new(StoredBlob {
            progress: self.progress.clone(),
            partial: Some(partial),
            digest: digest.clone(),
            size,
        })))
    }

    fn held(&self, item: &Carried) -> Option<Result<Option<Vec<u8>>, VerifyError>> {
        let digest = &item.descriptor.digest;
        if !self.store.has(digest, item.descriptor.size) {
            return None;
        }
        if item.role != Role::Manifest {
            return Some(Ok(None));
        }
        let bad = |message: String| VerifyError::BadManifest {
            digest: digest.clone(),
            owner: item.owner.to_string(),
            message,
        };
        Some(match self.store.read_bytes(digest) {
            Err(e) => Err(bad(e.to_string())),
            Ok(bytes) if &Digest::of(&bytes) != digest => {
                Err(bad("the store's copy is damaged".into()))
            }
            Ok(bytes) => Ok(Some(bytes)),
        })
    }

    fn place(&self) -> &'static str {
        " and from the store (run `outpost store verify`; load the base release again if it is damaged)"
    }

    fn provides_base(&self) -> bool {
        true
    }
}

/// One blob being written into the store; its partial file is removed if it is dropped
/// before its commit (its digest did not hold, or the load failed meanwhile).
struct StoredBlob {
    progress: Rc<Progress>,
    /// `None` once committed.
    partial: Option<PartialBlob>,
    digest: Digest,
    size: u64,
}

impl StoredBlob {
    fn error(&self, e: StoreError) -> VerifyError {
        store_error(&self.digest, self.size, e)
    }
}

impl SinkBlob for StoredBlob {
    fn hashed_by_caller(&mut self) -> Result<(), VerifyError> {
        match self.partial.as_mut() {
            Some(partial) => partial
                .restart_checked_by_source()
                .map_err(|e| self.error(e)),
            None => Ok(()),
        }
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), VerifyError> {
        if let Some(partial) = self.partial.as_mut() {
            if let Err(e) = partial.write(chunk) {
                return Err(self.error(e));
            }
        }
        let written = &self.progress.written;
        written.set(written.get() + chunk.len() as u64);
        self.progress.check();
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), VerifyError> {
        let Some(partial) = self.partial.take() else {
            return Ok(());
        };
        let added = self.progress.batch.borrow_mut().add(partial);
        match added {
            Ok(()) => {
                let stored = &self.progress.stored;
                stored.set(stored.get() + 1);
                self.progress.check();
                Ok(())
            }
            Err(StoreError::DigestMismatch { actual, .. }) => Err(VerifyError::Damaged {
                digest: self.digest.clone(),
                owner: String::new(),
                actual,
            }),
            Err(e) => Err(self.error(e)),
        }
    }
}

impl Drop for StoredBlob {
    fn drop(&mut self) {
        if let Some(partial) = self.partial.take() {
            partial.discard();
        }
    }
}

/// Crash-test hook for `load`: after N checked blobs (in the batch, not yet necessarily
/// flushed), or N written bytes (mid-blob), the
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
