//! The content-addressed blob cache (`~/.cache/outpost` by default).
//!
//! A blob is visible under `blobs/sha256/<hex>` only once its bytes hashed to that digest:
//! downloads go to `tmp/<hex>.partial` (kept across runs so an interrupted download resumes),
//! are hashed while written (or, for a whole blob, by the stream that delivers them: see
//! [`PartialBlob::restart_checked_by_source`]), and are renamed into place only when digest
//! and size match.
//! Nothing here talks to the network; `fetch` feeds it.

use crate::digest::Digest;
use sha2::{Digest as _, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

mod batch;
pub use batch::CommitBatch;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cache {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cache {path}: another outpost process is writing {digest} into this cache right now; wait for it to finish (or give this run its own --cache), then run again: nothing was lost")]
    Busy { path: PathBuf, digest: Digest },
    #[error("content does not match its digest: expected {expected}, got {actual} ({size} bytes); the copy was discarded")]
    DigestMismatch {
        expected: Digest,
        actual: Digest,
        size: u64,
    },
    #[error("content for {digest} is larger than the {expected} bytes its descriptor promises; the copy was discarded")]
    TooLarge { digest: Digest, expected: u64 },
    #[error("checksum mismatch: upstream promises {expected}, the download is {actual}; the copy was discarded")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("content for {digest} is {actual} bytes but its descriptor says {expected}; the copy was discarded")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A content-addressed directory of verified blobs.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        for sub in ["blobs/sha256", "tmp"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    fn partial_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{}.partial", digest.hex()))
    }

    /// Whether a verified blob of this size is present.
    pub fn has(&self, digest: &Digest, size: u64) -> bool {
        std::fs::metadata(self.blob_path(digest)).is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// Stores small content already in memory (manifests), after checking its digest. It is
    /// written to a temp file of its own (not the digest's shared partial file), so two
    /// writers of one manifest at once (two references to one image) cannot mix their bytes.
    pub fn put_bytes(&self, digest: &Digest, bytes: &[u8]) -> Result<(), StoreError> {
        let actual = Digest::of(bytes);
        if actual != *digest {
            return Err(StoreError::DigestMismatch {
                expected: digest.clone(),
                actual,
                size: bytes.len() as u64,
            });
        }
        let path = self.temp_path("put");
        let written = File::create(&path)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_data()));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&path);
            return Err(StoreError::Io { path, source });
        }
        let target = self.blob_path(digest);
        std::fs::rename(&path, &target).map_err(io_err(&target))
    }

    /// [`Store::put_bytes`] on a blocking thread, for async callers: its fsync then waits
    /// beside the other tasks' instead of stalling every future polled by the same task
    /// (thousands of manifests locked 8 at a time would otherwise fsync one by one).
    pub async fn put_bytes_async(&self, digest: &Digest, bytes: &[u8]) -> Result<(), StoreError> {
        let (store, digest, bytes) = (self.clone(), digest.clone(), bytes.to_vec());
        let path = store.blob_path(&digest);
        tokio::task::spawn_blocking(move || store.put_bytes(&digest, &bytes))
            .await
            .map_err(|e| StoreError::Io {
                path,
                source: std::io::Error::other(e),
            })?
    }

    /// Opens (creating) the partial file at `path` under an exclusive lock. A file renamed
    /// into the store by the writer that held it before us is not ours to append to: the
    /// path is opened again until the locked file is the one at the path.
    fn open_locked(&self, path: &Path, digest: &Digest) -> Result<File, StoreError> {
        use std::os::unix::fs::MetadataExt;
        for _ in 0..8 {
            let file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(path)
                .map_err(io_err(path))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::Busy {
                        path: path.to_path_buf(),
                        digest: digest.clone(),
                    })
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(StoreError::Io {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            }
            let held = file.metadata().map_err(io_err(path))?;
            let at_path = std::fs::metadata(path).ok();
            if at_path.is_some_and(|m| m.ino() == held.ino() && m.dev() == held.dev()) {
                return Ok(file);
            }
        }
        Err(StoreError::Busy {
            path: path.to_path_buf(),
            digest: digest.clone(),
        })
    }

    /// A temp file name no other writer (task or process) uses.
    fn temp_path(&self, kind: &str) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{kind}-{}.partial", crate::fsutil::unique_suffix()))
    }

    /// Reads a whole blob (only for small metadata blobs: manifests, configs).
    pub fn read_bytes(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.blob_path(digest);
        std::fs::read(&path).map_err(io_err(&path))
    }

    /// Opens the partial download of `digest`, hashing whatever an earlier run left so that
    /// the download can continue from [`PartialBlob::offset`].
    ///
    /// The partial file is held under an exclusive lock until the blob is committed or
    /// dropped: two processes sharing a cache never write one partial file at once (their
    /// bytes would interleave). A second writer gets [`StoreError::Busy`].
    pub fn begin(&self, digest: &Digest, size: u64) -> Result<PartialBlob, StoreError> {
        let path = self.partial_path(digest);
        let mut file = self.open_locked(&path, digest)?;
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(io_err(&path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            written += n as u64;
        }
        let mut partial = PartialBlob {
            store_path: self.blob_path(digest),
            path,
            file,
            hasher: Some(hasher),
            written,
            digest: digest.clone(),
            size,
        };
        if written > size {
            partial.restart()?;
        }
        Ok(partial)
    }
}

impl Store {
    /// Starts a download whose digest is not known yet (a file checked against an upstream
    /// checksum, possibly sha512); see [`Download::finish`].
    pub fn begin_download(&self) -> Result<Download, StoreError> {
        let path = self.temp_path("download");
        let file = File::create(&path).map_err(io_err(&path))?;
        Ok(Download {
            store: self.clone(),
            path,
            file,
            sha256: Sha256::new(),
            sha512: sha2::Sha512::new(),
            written: 0,
        })
    }
}

/// A download of unknown digest: hashed with sha256 and sha512 while written.
pub struct Download {
    store: Store,
    path: PathBuf,
    file: File,
    sha256: Sha256,
    sha512: sha2::Sha512,
    written: u64,
}

impl Download {
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.file.write_all(chunk).map_err(io_err(&self.path))?;
        self.sha256.update(chunk);
        self.sha512.update(chunk);
        self.written += chunk.len() as u64;
        Ok(())
    }

    /// Checks the content against `expected` (if any) and stores it under its sha256.
    pub fn finish(
        self,
        expected: Option<&crate::checksum::Expected>,
    ) -> Result<(Digest, u64), StoreError> {
        let digest = Digest::from_hasher(self.sha256.clone());
        if let Some(expected) = expected {
            let actual = match expected.algorithm {
                crate::checksum::Algorithm::Sha256 => digest.hex().to_string(),
                crate::checksum::Algorithm::Sha512 => hex::encode(self.sha512.clone().finalize()),
            };
            if actual != expected.hex {
                let _ = std::fs::remove_file(&self.path);
                return Err(StoreError::ChecksumMismatch {
                    expected: expected.to_string(),
                    actual: format!("{}:{actual}", expected.algorithm),
                });
            }
        }
        self.file.sync_data().map_err(io_err(&self.path))?;
        let target = self.store.blob_path(&digest);
        std::fs::rename(&self.path, &target).map_err(io_err(&target))?;
        Ok((digest, self.written))
    }

    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A blob being written; becomes visible only through [`PartialBlob::commit`].
pub struct PartialBlob {
    path: PathBuf,
    store_path: PathBuf,
    file: File,
    /// The running sha256 of the file, or `None` when the bytes since the last restart are
    /// checked by the stream they come from.
    hasher: Option<Sha256>,
    written: u64,
    digest: Digest,
    size: u64,
}

impl PartialBlob {
    /// How many bytes are already here (where a resumed download starts).
    pub fn offset(&self) -> u64 {
        self.written
    }

    /// Throws away what was written (the upstream ignored our Range, or sent bad bytes).
    pub fn restart(&mut self) -> Result<(), StoreError> {
        self.file.set_len(0).map_err(io_err(&self.path))?;
        self.hasher = Some(Sha256::new());
        self.written = 0;
        Ok(())
    }

    /// Throws away what was written, for a whole blob from a stream that checks the pinned
    /// digest itself and ends with an error unless every byte matched (oci-client's
    /// whole-blob pull): what follows is not hashed a second time, and [`PartialBlob::commit`]
    /// checks its size only. The caller commits only after that stream ended cleanly; a
    /// stream that failed leaves the file to be re-hashed by the next [`Store::begin`].
    pub fn restart_checked_by_source(&mut self) -> Result<(), StoreError> {
        self.restart()?;
        self.hasher = None;
        Ok(())
    }

    /// Deletes the partial file (the source sent wrong bytes).
    pub fn discard(self) {
        self.remove_file();
    }

    /// Appends and hashes a chunk.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        if self.written + chunk.len() as u64 > self.size {
            self.remove_file();
            return Err(StoreError::TooLarge {
                digest: self.digest.clone(),
                expected: self.size,
            });
        }
        self.file.write_all(chunk).map_err(io_err(&self.path))?;
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(chunk);
        }
        self.written += chunk.len() as u64;
        Ok(())
    }

    /// Checks size and digest (the digest only when this store hashed the bytes; see
    /// [`PartialBlob::restart_checked_by_source`]); renames into the store, or deletes the
    /// partial file.
    pub fn commit(self) -> Result<(), StoreError> {
        self.check()?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        std::fs::rename(&self.path, &self.store_path).map_err(io_err(&self.store_path))
    }

    /// The size and digest checks of [`PartialBlob::commit`]; the partial file is removed
    /// when one fails.
    fn check(&self) -> Result<(), StoreError> {
        if self.written != self.size {
            let (digest, expected, actual) = (self.digest.clone(), self.size, self.written);
            self.remove_file();
            return Err(StoreError::SizeMismatch {
                digest,
                expected,
                actual,
            });
        }
        if let Some(hasher) = &self.hasher {
            let actual = Digest::from_hasher(hasher.clone());
            if actual != self.digest {
                let (expected, size) = (self.digest.clone(), self.written);
                self.remove_file();
                return Err(StoreError::DigestMismatch {
                    expected,
                    actual,
                    size,
                });
            }
        }
        Ok(())
    }

    /// [`PartialBlob::commit`] on a blocking thread, for async callers (see
    /// [`Store::put_bytes_async`]).
    pub async fn commit_async(self) -> Result<(), StoreError> {
        let path = self.store_path.clone();
        tokio::task::spawn_blocking(move || self.commit())
            .await
            .map_err(|e| StoreError::Io {
                path,
                source: std::io::Error::other(e),
            })?
    }

    fn remove_file(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_content_becomes_visible_and_bad_content_never_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let good = b"hello world";
        let digest = Digest::of(good);
        store.put_bytes(&digest, good).unwrap();
        assert!(store.has(&digest, good.len() as u64));

        let other = Digest::of(b"other");
        let err = store.put_bytes(&other, b"tampered").unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }));
        assert!(!store.blob_path(&other).exists());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn an_interrupted_write_resumes_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let data = vec![42u8; 5000];
        let digest = Digest::of(&data);
        let mut first = store.begin(&digest, 5000).unwrap();
        first.write(&data[..1234]).unwrap();
        drop(first); // the process died here
        let mut second = store.begin(&digest, 5000).unwrap();
        assert_eq!(second.offset(), 1234);
        second.write(&data[1234..]).unwrap();
        second.commit().unwrap();
        assert_eq!(std::fs::read(store.blob_path(&digest)).unwrap(), data);
    }

    #[test]
    fn a_stream_checked_at_its_source_is_not_hashed_again_and_a_broken_one_is_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let data = vec![7u8; 4000];
        let digest = Digest::of(&data);
        // A whole-blob stream cut short: the next begin re-hashes what it left.
        let mut first = store.begin(&digest, 4000).unwrap();
        first.restart_checked_by_source().unwrap();
        first.write(&data[..1000]).unwrap();
        drop(first);
        let mut second = store.begin(&digest, 4000).unwrap();
        assert_eq!(second.offset(), 1000);
        second.write(b"wrong").unwrap();
        second.write(&data[1005..]).unwrap();
        assert!(matches!(
            second.commit(),
            Err(StoreError::DigestMismatch { .. })
        ));
        // A whole-blob stream that ended cleanly: size checked, no second hash.
        let mut third = store.begin(&digest, 4000).unwrap();
        third.restart_checked_by_source().unwrap();
        third.write(&data).unwrap();
        third.commit().unwrap();
        assert!(store.has(&digest, 4000));
    }

    #[test]
    fn one_partial_file_has_one_writer_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let data = vec![9u8; 1000];
        let digest = Digest::of(&data);
        let mut first = store.begin(&digest, 1000).unwrap();
        first.write(&data[..600]).unwrap();
        // A second writer (another process sharing the cache) is refused, not interleaved.
        assert!(matches!(
            store.begin(&digest, 1000),
            Err(StoreError::Busy { .. })
        ));
        first.write(&data[600..]).unwrap();
        first.commit().unwrap();
        assert_eq!(std::fs::read(store.blob_path(&digest)).unwrap(), data);
        // Once the first is done, the next writer gets a fresh partial file of its own.
        let next = store.begin(&digest, 1000).unwrap();
        assert_eq!(next.offset(), 0);
    }

    #[test]
    fn oversize_content_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let digest = Digest::of(b"abc");
        let mut partial = store.begin(&digest, 3).unwrap();
        assert!(matches!(
            partial.write(b"abcd"),
            Err(StoreError::TooLarge { .. })
        ));
    }
}
