//! Warming the page cache before a site store's release is opened.
//!
//! Opening a release walks every image: it reads the image's manifest and looks up each
//! config and layer file (its size is checked), one after another. On a cold page cache each
//! of those waits for the disk, and a release of 5,000 images makes 15,000 such waits. A
//! disk answers many outstanding requests nearly as fast as one, so [`warm_store`] makes the
//! same requests from [`THREADS`] threads first; the walk then finds them in memory.
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
/// (which brings each file's inode into memory; child manifests are also read ahead with
/// `posix_fadvise(WILLNEED)`). Returns when every thread is done. Errors are ignored.
pub fn warm_store(store: &Store, roots: &[&Digest]) {
    let per_thread = roots.len().div_ceil(THREADS).max(1);
    std::thread::scope(|scope| {
        for chunk in roots.chunks(per_thread) {
            scope.spawn(move || chunk.iter().for_each(|root| warm_manifest(store, root)));
        }
    });
}

fn warm_manifest(store: &Store, digest: &Digest) {
    let Some(bytes) = read_small(store, digest) else {
        return;
    };
    let Ok(parsed) = Parsed::from_bytes(&bytes, None) else {
        return;
    };
    for child in parsed.children() {
        let Ok(file) = File::open(store.blob_path(&child.digest)) else {
            continue;
        };
        if is_manifest_type(&child.media_type) {
            let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::WillNeed);
        }
    }
}

/// The blob's bytes when it is at most a manifest's size limit.
fn read_small(store: &Store, digest: &Digest) -> Option<Vec<u8>> {
    let file = File::open(store.blob_path(digest)).ok()?;
    let mut bytes = Vec::new();
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
        warm_store(&store, &[&manifest, &not_json, &big, &absent]);
        // The store is as it was: warming writes nothing.
        for digest in [&layer, &config, &manifest, &not_json, &big] {
            assert!(store.blob_path(digest).is_file());
        }
        assert!(!store.blob_path(&absent).exists());
        assert_eq!(read_small(&store, &big), None);
        assert!(read_small(&store, &manifest).is_some());
    }
}
