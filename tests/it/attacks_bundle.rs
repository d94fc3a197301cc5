//! Attack suite, bundle side: hostile, tampered and malformed bundles. Each case is refused
//! by every command that reads a bundle (`verify`, `inspect`, `serve`, `load`) with a clean
//! error naming the problem: no panic, no hang, nothing written outside, nothing loaded.
//! What `verify` says for each case is snapshotted whole (`snapshots/it__attacks_bundle__*`).

use crate::common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const IMAGES: [&str; 2] = ["library/alpha:1", "library/multi:1"];

/// A signed bundle of two test images.
fn built() -> (Site, PathBuf) {
    let site = Site::new();
    let bundle = site.build("linux/amd64", &IMAGES);
    (site, bundle)
}

/// A signed bundle of two test images, read into its tar entries.
fn built_entries() -> (Site, Vec<TarEntry>) {
    let (site, bundle) = built();
    let list = entries(&std::fs::read(bundle).unwrap());
    (site, list)
}

/// Where the last blob entry of a bundle's tar is.
fn last_blob(list: &[TarEntry]) -> usize {
    list.iter()
        .rposition(|(h, _)| name_of(h).starts_with("blobs/sha256/"))
        .unwrap()
}

/// Snapshots what `verify` said for each case of one test, whole: `case:` then the message.
/// Digests are filtered: a bundle's own digests change with the key that signs it and the
/// registry port its manifest names.
fn assert_messages(snapshot: &str, messages: &[(&str, String)]) {
    let text: String = messages
        .iter()
        .map(|(case, message)| format!("{case}:\n{}\n", message.trim_end()))
        .collect::<Vec<_>>()
        .join("\n");
    let _filters = snapshot_settings_without_digests().bind_to_scope();
    insta::assert_snapshot!(snapshot, text);
}

/// A header whose name bytes are written as given (no normalisation of `..` or `/`).
fn raw_header(name: &[u8], kind: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    if let Some(link) = link {
        header.set_link_name(link).unwrap();
    }
    header.set_cksum();
    header
}

/// The bundle with `extra` inserted right after `index.json.sig`.
fn with_entry(original: &[u8], extra: TarEntry) -> Vec<TarEntry> {
    let mut list = entries(original);
    let at = list
        .iter()
        .position(|(h, _)| name_of(h) == "index.json.sig")
        .unwrap();
    list.insert(at + 1, extra);
    list
}

/// Re-signs `index.json` with the site key (an attacker who has it is out of scope; this
/// lets a case reach the checks behind the signature).
fn resign(work: &Path, list: &mut [TarEntry], index: Vec<u8>) {
    let signer =
        outpost::sign::Signer::load(&work.join("keys/outpost.key"), PASSWORD.as_bytes()).unwrap();
    let signature = signer.sign(&index).unwrap().into_bytes();
    for (header, data) in list.iter_mut() {
        match name_of(header).as_str() {
            "index.json" => *data = index.clone(),
            "index.json.sig" => *data = signature.clone(),
            _ => continue,
        }
        header.set_size(data.len() as u64);
        header.set_cksum();
    }
}

/// Every reader refuses `bundle` (exit 3) with `expected` in its message; `serve` does not
/// start, `load` leaves the store without a release. Returns what `verify` said.
fn refused_everywhere(work: &Path, bundle: &Path, expected: &str) -> String {
    let path = bundle.to_str().unwrap();
    let started = Instant::now();
    let err = outpost_fails(work, &["bundle", "verify", path], 3);
    assert!(err.contains(expected), "verify: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let inspect = outpost(work, &["bundle", "inspect", path]);
    let inspect_err = String::from_utf8_lossy(&inspect.stderr);
    assert!(
        !inspect_err.contains("panicked"),
        "inspect panicked: {inspect_err}"
    );

    let (code, serve_err) = serve_exits(work, path, &format!("a hostile bundle: {expected}"));
    assert_eq!(code, Some(3), "serve: {serve_err}");
    assert!(!serve_err.contains("panicked"), "{serve_err}");

    let store = work.join(format!("store-{}", sha256_hex(path.as_bytes())));
    let load = outpost(work, &["load", path, "--store", store.to_str().unwrap()]);
    let load_err = String::from_utf8_lossy(&load.stderr);
    assert!(!load.status.success(), "load accepted a hostile bundle");
    assert!(!load_err.contains("panicked"), "{load_err}");
    assert_eq!(store_releases(work, store.to_str().unwrap()), 0);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the readers took {:?}",
        started.elapsed()
    );
    err
}

#[test]
fn tar_slip_entries_are_refused_and_never_written() {
    let (site, bundle) = built();
    let work = site.work();
    let original = std::fs::read(&bundle).unwrap();
    let outside = std::env::temp_dir().join(format!("outpost-slip-{}", std::process::id()));
    let cases = [
        (
            "dot-dot",
            b"../../outpost-slip".to_vec(),
            "path escapes the layout",
        ),
        (
            "absolute",
            outside.to_string_lossy().as_bytes().to_vec(),
            "absolute path",
        ),
        (
            "nested dot-dot",
            b"blobs/sha256/../../../outpost-slip".to_vec(),
            "path escapes the layout",
        ),
    ];
    let mut messages = Vec::new();
    for (label, name, expected) in cases {
        let list = with_entry(
            &original,
            (
                raw_header(&name, tar::EntryType::Regular, 4, None),
                b"evil".to_vec(),
            ),
        );
        let path = work.join(format!("slip-{}.tar", label.replace(' ', "-")));
        write_tar(&path, &list);
        messages.push((label, refused_everywhere(work, &path, expected)));
    }
    assert!(!outside.exists());
    assert!(!work.parent().unwrap().join("outpost-slip").exists());
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"outpost-slip-\d+", "outpost-slip-[PID]");
    settings.bind(|| assert_messages("tar_slip", &messages));
}

#[test]
fn symlinks_hardlinks_and_devices_are_refused() {
    let (site, bundle) = built();
    let work = site.work();
    let original = std::fs::read(&bundle).unwrap();
    let blob = format!("blobs/sha256/{}", "e".repeat(64));
    let cases = [
        (
            "symlink",
            raw_header(
                blob.as_bytes(),
                tar::EntryType::Symlink,
                0,
                Some("/etc/passwd"),
            ),
            "symbolic link",
        ),
        (
            "hardlink",
            raw_header(blob.as_bytes(), tar::EntryType::Link, 0, Some("index.json")),
            "hard link",
        ),
        (
            "char-device",
            raw_header(blob.as_bytes(), tar::EntryType::Char, 0, None),
            "not a regular file",
        ),
        (
            "block-device",
            raw_header(blob.as_bytes(), tar::EntryType::Block, 0, None),
            "not a regular file",
        ),
        (
            "fifo",
            raw_header(blob.as_bytes(), tar::EntryType::Fifo, 0, None),
            "not a regular file",
        ),
    ];
    let mut messages = Vec::new();
    for (label, header, expected) in cases {
        let list = with_entry(&original, (header, Vec::new()));
        let path = work.join(format!("link-{label}.tar"));
        write_tar(&path, &list);
        messages.push((label, refused_everywhere(work, &path, expected)));
    }
    assert_messages("links_and_devices", &messages);
}

#[test]
fn duplicate_entries_for_one_blob_are_refused() {
    let (site, mut list) = built_entries();
    let work = site.work();
    // The same blob twice: the real bytes, then other bytes of the same length after it.
    let at = last_blob(&list);
    let (header, data) = list[at].clone();
    let mut other = data.clone();
    other[0] ^= 0xff;
    list.insert(at + 1, (header, other));
    let path = work.join("duplicate.tar");
    write_tar(&path, &list);
    let message = refused_everywhere(work, &path, "duplicate");
    assert_messages("duplicate_blob", &[("duplicate", message)]);
}

#[test]
fn an_index_pointing_at_a_missing_blob_is_refused() {
    let (site, mut list) = built_entries();
    let work = site.work();
    let at = last_blob(&list);
    let removed = name_of(&list.remove(at).0);
    let path = work.join("missing.tar");
    write_tar(&path, &list);
    let digest = format!("sha256:{}", removed.trim_start_matches("blobs/sha256/"));
    let message = refused_everywhere(work, &path, &digest);
    assert_messages("missing_blob", &[("missing blob", message)]);
}

#[test]
fn a_huge_index_is_refused() {
    let (site, mut list) = built_entries();
    let work = site.work();
    // 64 MiB of valid JSON: an index whose annotation is one enormous string.
    let huge = format!(
        "{{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{{\"x\":\"{}\"}}}}",
        "a".repeat(64 << 20)
    )
    .into_bytes();
    for (header, data) in list.iter_mut() {
        if name_of(header) == "index.json" {
            *data = huge.clone();
            header.set_size(huge.len() as u64);
            header.set_cksum();
        }
    }
    let path = work.join("huge-index.tar");
    write_tar(&path, &list);
    let message = refused_everywhere(work, &path, "larger than");
    assert_messages("huge_index", &[("huge index", message)]);
}

#[test]
fn a_manifest_that_references_itself_is_refused() {
    let (site, mut list) = built_entries();
    let work = site.work();
    // A digest cannot name content that contains it, so the closest hostile bundle names a
    // manifest D whose content lists D as its own child, stored under D.
    let claimed = outpost::digest::Digest::of(b"the claimed digest");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": claimed.to_string(),
            "size": 0,
        }],
    }))
    .unwrap();
    let mut index: serde_json::Value = serde_json::from_slice(
        &list
            .iter()
            .find(|(h, _)| name_of(h) == "index.json")
            .unwrap()
            .1,
    )
    .unwrap();
    index["manifests"][0] = serde_json::json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": claimed.to_string(),
        "size": manifest.len(),
        "annotations": {
            "org.opencontainers.image.ref.name": "registry.test/library/loop:1",
            "io.outpost.platforms": "linux/amd64",
        },
    });
    let mut header = tar::Header::new_gnu();
    header
        .set_path(format!("blobs/sha256/{}", claimed.hex()))
        .unwrap();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let at = list
        .iter()
        .position(|(h, _)| name_of(h).starts_with("blobs/sha256/"))
        .unwrap();
    list.insert(at, (header, manifest));
    resign(work, &mut list, serde_json::to_vec_pretty(&index).unwrap());
    let path = work.join("self-reference.tar");
    write_tar(&path, &list);
    let message = refused_everywhere(work, &path, &claimed.to_string());
    assert_messages("self_reference", &[("self-reference", message)]);
}

#[test]
fn a_signature_of_another_bundle_is_refused() {
    let (site, bundle) = built();
    let work = site.work();
    std::fs::rename(&bundle, work.join("first.tar")).unwrap();
    let other = site.build("linux/amd64", &["team/beta:1"]);
    let signature = entries(&std::fs::read(&other).unwrap())
        .into_iter()
        .find(|(h, _)| name_of(h) == "index.json.sig")
        .unwrap();
    let mut list = entries(&std::fs::read(work.join("first.tar")).unwrap());
    for entry in list.iter_mut() {
        if name_of(&entry.0) == "index.json.sig" {
            *entry = signature.clone();
        }
    }
    let path = work.join("foreign-signature.tar");
    write_tar(&path, &list);
    let message = refused_everywhere(work, &path, "signature check failed");
    assert_messages("foreign_signature", &[("foreign signature", message)]);
}

#[test]
fn a_truncated_final_part_is_named() {
    let site = Site::new();
    let work = site.work();
    site.manifest("linux/amd64", &IMAGES);
    outpost_ok(
        work,
        &["bundle", "build", "edge.yaml", "--split-size", "32KiB"],
    );
    let list = read_json(&work.join("bundles/edge-1.0.parts.json"));
    let parts = list["parts"].as_array().unwrap();
    let count = parts.len();
    assert!(count >= 3, "{count} parts");
    let last = work
        .join("bundles")
        .join(parts[count - 1]["name"].as_str().unwrap());
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() / 2]).unwrap();
    let message = refused_everywhere(
        work,
        &work.join("bundles/edge-1.0.parts.json"),
        &format!("part {count} of {count}"),
    );
    // The last part's size depends on the signature's length: sizes are filtered.
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d+ bytes", "[SIZE] bytes");
    settings.add_filter(r"says \d+", "says [SIZE]");
    settings.bind(|| assert_messages("truncated_final_part", &[("truncated final part", message)]));
}
