//! Many checked blobs made visible together, with one flush of the filesystem for the lot.
//!
//! [`PartialBlob::commit`] makes one blob durable and visible: `fdatasync`, then rename. On
//! a journalled filesystem each `fdatasync` of a new file waits for a journal commit (ext4:
//! a few ms), so a load of thousands of small blobs spent most of its time there. A
//! [`CommitBatch`] keeps blobs whose size and digest already held (their files still open
//! and locked), and [`CommitBatch::flush`] makes them durable with one `syncfs(2)` of the
//! store's filesystem, then renames each into place and `fsync`s the blob directory: a blob
//! is still visible only once its bytes are on disk, and a crash before the flush leaves
//! only partial files (written anew by the next run). A batch flushes itself when it holds
//! [`MAX_BLOBS`] blobs or [`MAX_BYTES`] bytes; one dropped unflushed removes its files.

use super::{io_err, PartialBlob, Store, StoreError};
use crate::digest::Digest;
use std::fs::File;
use std::path::PathBuf;

/// Blobs held before a flush (each keeps its partial file open and locked).
pub const MAX_BLOBS: usize = 256;
/// Bytes held before a flush (1 GiB): what a crash may make the next run write again.
pub const MAX_BYTES: u64 = 1 << 30;

/// Checked blobs waiting for one flush; see the module doc.
pub struct CommitBatch {
    /// The store's blob directory (flushed with `syncfs`, `fsync`ed after the renames).
    blobs_dir: PathBuf,
    pending: Vec<Pending>,
    bytes: u64,
}

struct Pending {
    /// Open and locked until renamed: no other writer may restart the partial file.
    _file: File,
    path: PathBuf,
    store_path: PathBuf,
    digest: Digest,
    size: u64,
}

impl CommitBatch {
    pub fn new(store: &Store) -> Self {
        CommitBatch {
            blobs_dir: store.root().join("blobs/sha256"),
            pending: Vec::new(),
            bytes: 0,
        }
    }

    /// The blob added last, `(digest, size)`, for naming it in an error of [`flush`].
    ///
    /// [`flush`]: CommitBatch::flush
    pub fn last(&self) -> Option<(&Digest, u64)> {
        self.pending.last().map(|p| (&p.digest, p.size))
    }

    /// Checks the blob as [`PartialBlob::commit`] does, then holds it for the next flush
    /// (flushing now when the batch is full).
    ///
    /// Errors: `SizeMismatch`/`DigestMismatch` (the partial file is removed), or `Io` from
    /// a flush.
    pub fn add(&mut self, blob: PartialBlob) -> Result<(), StoreError> {
        blob.check()?;
        let PartialBlob {
            path,
            store_path,
            file,
            digest,
            size,
            ..
        } = blob;
        self.bytes += size;
        self.pending.push(Pending {
            _file: file,
            path,
            store_path,
            digest,
            size,
        });
        if self.pending.len() >= MAX_BLOBS || self.bytes >= MAX_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Makes every held blob durable (one `syncfs`), renames each into place, and makes the
    /// renames durable (`fsync` of the blob directory).
    ///
    /// Errors: `Io` naming the blob directory (sync) or the blob (rename); the blobs not yet
    /// renamed are removed.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let dir = File::open(&self.blobs_dir).map_err(io_err(&self.blobs_dir))?;
        rustix::fs::syncfs(&dir)
            .map_err(std::io::Error::from)
            .map_err(io_err(&self.blobs_dir))?;
        for blob in std::mem::take(&mut self.pending) {
            std::fs::rename(&blob.path, &blob.store_path).map_err(io_err(&blob.store_path))?;
        }
        self.bytes = 0;
        dir.sync_all().map_err(io_err(&self.blobs_dir))
    }
}

impl Drop for CommitBatch {
    fn drop(&mut self) {
        for blob in self.pending.drain(..) {
            let _ = std::fs::remove_file(&blob.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(store: &Store, data: &[u8]) -> PartialBlob {
        let mut partial = store.begin(&Digest::of(data), data.len() as u64).unwrap();
        partial.write(data).unwrap();
        partial
    }

    #[test]
    fn blobs_are_visible_only_after_the_flush_and_a_full_batch_flushes_itself() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut batch = CommitBatch::new(&store);
        batch.add(written(&store, b"one")).unwrap();
        assert!(!store.has(&Digest::of(b"one"), 3));
        assert_eq!(batch.last().map(|(_, size)| size), Some(3));
        batch.flush().unwrap();
        assert!(store.has(&Digest::of(b"one"), 3));
        for n in 0..MAX_BLOBS {
            batch
                .add(written(&store, n.to_string().as_bytes()))
                .unwrap();
        }
        assert!(batch.pending.is_empty());
        assert!(store.has(&Digest::of(b"0"), 1));
    }

    #[test]
    fn a_bad_blob_is_refused_and_an_unflushed_batch_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut batch = CommitBatch::new(&store);
        let mut bad = store.begin(&Digest::of(b"good"), 4).unwrap();
        bad.write(b"evil").unwrap();
        assert!(matches!(
            batch.add(bad),
            Err(StoreError::DigestMismatch { .. })
        ));
        batch.add(written(&store, b"kept")).unwrap();
        drop(batch);
        assert!(!store.has(&Digest::of(b"kept"), 4));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
