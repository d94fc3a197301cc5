//! Warming the page cache before a site store's release is opened or a build reads the cache.
//!
//! Opening a release, or building a bundle from the cache, walks every image: it reads the
//! image's manifest and looks up each config and layer file (its size is checked), one after
//! another; a build then copies each of those files. On a cold page cache each of those waits
//! for the disk, and a release of 5,000 images makes 15,000 such waits. A disk answers many
//! outstanding requests nearly as fast as one, so [`warm_store`] makes the same requests from
//! [`THREADS`] threads first; the walk then finds them in memory.
//!
//! A hint only: nothing read here is trusted or kept. A blob that is missing, too large or
//! not a manifest is skipped, and the walk that follows reports it.

use crate::digest::Digest;
use crate::oci::{is_manifest_type, Parsed, MAX_MANIFEST_SIZE};
use crate::store::Store;
use std::fs::File;
use std::io::Read;

/// How many threads [`warm_store`] reads with.
pub const THREADS: usize = 16;

/// Reads the manifests `roots` name from `store`, and opens every blob they point at
/// (which brings each file's inode into memory); child manifests, and other children of at
/// most `data_up_to` bytes (configs, small layers: what a build copies next), are also read
/// ahead with `posix_fadvise(WILLNEED)`. Returns when every thread is done. Errors are
/// ignored.
pub fn warm_store(store: &Store, roots: &[&Digest], data_up_to: u64) {
    let per_thread = roots.len().div_ceil(THREADS).max(1);
    std::thread::scope(|scope| {
        for chunk in roots.chunks(per_thread) {
            let warm = move || {
                chunk
                    .iter()
                    .for_each(|root| warm_manifest(store, root, data_up_to))
            };
            // A thread the system refuses (a container's pids limit) only means less warming.
            let _ = std::thread::Builder::new()
                .name("outpost-prefetch".into())
                .spawn_scoped(scope, warm);
        }
    });
}

fn warm_manifest(store: &Store, digest: &Digest, data_up_to: u64) {
    let Some(bytes) = read_small(store, digest) else {
        return;
    };
    let Ok(parsed) = Parsed::from_bytes(&bytes, None) else {
        return;
    };
    for child in parsed.children() {
        let Some((file, _)) = open_regular(store, &child.digest) else {
            continue;
        };
        if is_manifest_type(&child.media_type) || child.size <= data_up_to {
            let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::WillNeed);
        }
    }
}

/// The blob's file and its length when it is a regular file. Opened without blocking: a FIFO
/// or device put where a blob should be would otherwise hold the open (and start-up)
/// forever; the walk then reports it as missing.
fn open_regular(store: &Store, digest: &Digest) -> Option<(File, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(store.blob_path(digest))
        .ok()?;
    let metadata = file.metadata().ok()?;
    metadata.is_file().then_some((file, metadata.len()))
}

/// The blob's bytes when it is a regular file of at most a manifest's size limit.
fn read_small(store: &Store, digest: &Digest) -> Option<Vec<u8>> {
    let (file, len) = open_regular(store, digest).filter(|(_, len)| *len <= MAX_MANIFEST_SIZE)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_MANIFEST_SIZE + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_MANIFEST_SIZE).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warming_reads_nothing_wrong_and_tolerates_missing_damaged_and_large_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let put = |bytes: &[u8]| {
            let digest = Digest::of(bytes);
            store.put_bytes(&digest, bytes).unwrap();
            digest
        };
        let layer = put(b"layer bytes");
        let config = put(b"{}");
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":11}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{missing}","size":1}}]}}"#,
            missing = Digest::of(b"absent"),
        );
        let manifest = put(manifest.as_bytes());
        let not_json = put(b"not a manifest");
        let big = put(&vec![b' '; MAX_MANIFEST_SIZE as usize + 1]);
        let absent = Digest::of(b"never stored");
        warm_store(&store, &[&manifest, &not_json, &big, &absent], 1 << 20);
        // The store is as it was: warming writes nothing.
        for digest in [&layer, &config, &manifest, &not_json, &big] {
            assert!(store.blob_path(digest).is_file());
        }
        assert!(!store.blob_path(&absent).exists());
        assert_eq!(read_small(&store, &big), None);
        // A FIFO where a root or a child blob should be does not hold warming up.
        let fifo_root = Digest::of(b"a fifo root");
        let fifo_child = Digest::of(b"absent");
        for fifo in [&fifo_root, &fifo_child] {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                store.blob_path(fifo),
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o600),
                0,
            )
            .unwrap();
        }
        let (done, finished) = std::sync::mpsc::channel();
        let (root, image) = (store.clone(), manifest.clone());
        std::thread::spawn(move || {
            warm_store(&root, &[&fifo_root, &image], 0);
            let _ = done.send(());
        });
        assert!(
            finished
                .recv_timeout(std::time::Duration::from_secs(10))
                .is_ok(),
            "warming waited on a FIFO"
        );
        assert!(read_small(&store, &manifest).is_some());
    }
}
