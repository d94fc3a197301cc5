//! Damaged and tampered bundles fail `verify` with a message naming the problem: every
//! blob's flipped byte, a broken signature, truncation anywhere, a removed blob, another key.
//! Hostile bundles (tar-slip, links, duplicates, …) are in `attacks_bundle.rs`.

use crate::common::*;
use std::path::PathBuf;

/// Builds one signed bundle of the test images; returns the site and the bundle's path.
fn built_bundle() -> (Site, PathBuf) {
    let site = Site::new();
    let bundle = site.build(
        "linux/amd64",
        &["library/alpha:1", "team/beta:1", "library/multi:1"],
    );
    (site, bundle)
}

#[test]
fn every_kind_of_damage_is_named() {
    let (site, bundle) = built_bundle();
    let work = site.work();
    let original = std::fs::read(&bundle).unwrap();
    let entries = tar_entries(&bundle);
    let damaged = work.join("damaged.tar");

    // One flipped byte in every blob, one at a time.
    for (path, offset, size) in entries
        .iter()
        .filter(|e| e.0.starts_with("blobs/sha256/") && e.2 > 0)
    {
        let mut bytes = original.clone();
        bytes[(offset + size / 2) as usize] ^= 0x01;
        std::fs::write(&damaged, &bytes).unwrap();
        let stderr = verify_fails(work, &damaged, "keys/outpost.pub");
        let digest = path.trim_start_matches("blobs/sha256/");
        assert!(
            stderr.contains(&format!("blob sha256:{digest}"))
                && stderr.contains("is damaged: its content hashes to"),
            "flipped byte in {path}: {stderr}"
        );
    }

    // A flipped byte in index.json breaks the signature.
    let (_, index_offset, _) = entries.iter().find(|e| e.0 == "index.json").unwrap();
    let mut bytes = original.clone();
    bytes[*index_offset as usize + 10] ^= 0x01;
    std::fs::write(&damaged, &bytes).unwrap();
    let stderr = verify_fails(work, &damaged, "keys/outpost.pub");
    assert!(
        stderr.contains("signature check failed for index.json"),
        "{stderr}"
    );

    // Truncated anywhere: inside the head, inside a blob, at an entry boundary, before the
    // end-of-archive marker.
    let last = entries.last().unwrap();
    let cuts = [
        300u64,
        entries[3].1 + 100,
        last.1 + last.2 / 2,
        last.1 - 512,
        original.len() as u64 - 1024,
        original.len() as u64 - 1,
    ];
    for cut in cuts {
        std::fs::write(&damaged, &original[..cut as usize]).unwrap();
        let stderr = verify_fails(work, &damaged, "keys/outpost.pub");
        assert!(
            stderr.contains("truncated") || stderr.contains("missing"),
            "cut at {cut} of {}: {stderr}",
            original.len()
        );
    }

    // A removed blob (the archive otherwise intact and the signature still valid).
    let victim = entries
        .iter()
        .rev()
        .find(|e| e.0.starts_with("blobs/sha256/"))
        .unwrap();
    std::fs::write(&damaged, tar_without(&original, &victim.0)).unwrap();
    let stderr = verify_fails(work, &damaged, "keys/outpost.pub");
    let digest = victim.0.trim_start_matches("blobs/sha256/");
    assert!(
        stderr.contains(&format!(
            "1 blob missing from the bundle, first sha256:{digest}"
        )),
        "{stderr}"
    );

    // Another key: the signature does not hold, and the message says whose key signed it.
    outpost_ok(work, &["key", "generate", "--out", "other"]);
    let stderr = verify_fails(work, &bundle, "other/outpost.pub");
    assert!(
        stderr.contains("signature check failed for index.json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the bundle says it was signed by key sha256:"),
        "{stderr}"
    );

    // The untouched bundle still verifies.
    outpost_ok(work, &["bundle", "verify", bundle.to_str().unwrap()]);
}

#[test]
fn a_missing_key_is_named_with_what_to_do() {
    let work = tempfile::tempdir().unwrap();
    let err = outpost_fails(work.path(), &["bundle", "verify", "edge.tar"], 2);
    assert_eq!(
        err.trim(),
        "error: public key keys/outpost.pub does not exist: give it with --key (`outpost key generate` writes keys/outpost.key and keys/outpost.pub)"
    );
}
