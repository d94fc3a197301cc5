//! Reading and rewriting bundles and lockfiles from the outside, the way a test (or an
//! attacker) does: tar entries with their offsets, entry lists to edit and write back, the
//! pins of a lockfile, and pulling every pin back out of a running server with skopeo.
//! Not a second bundle reader for assertions about format rules: those go through outpost.

use super::{read_json, run_ok, sha256_hex, Server};
use std::path::Path;
use std::process::Command;

/// One tar entry: its header and its data.
pub type TarEntry = (tar::Header, Vec<u8>);

/// Byte ranges of every entry's data in a tar: (path, data offset, size).
pub fn tar_entries(path: &Path) -> Vec<(String, u64, u64)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.raw_file_position(),
                e.size(),
            )
        })
        .collect()
}

/// Every entry of a tar, headers and data.
pub fn entries(bytes: &[u8]) -> Vec<TarEntry> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let header = e.header().clone();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (header, data)
        })
        .collect()
}

/// A tar of `list`, headers written as given.
pub fn tar_of(list: &[TarEntry]) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    for (header, data) in list {
        out.append(header, &data[..]).unwrap();
    }
    out.into_inner().unwrap()
}

/// Writes a tar of `list` to `path`.
pub fn write_tar(path: &Path, list: &[TarEntry]) {
    std::fs::write(path, tar_of(list)).unwrap();
}

/// The tar `bytes` without its entry named `name` (everything else intact).
pub fn tar_without(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut list = entries(bytes);
    list.retain(|(header, _)| name_of(header) != name);
    tar_of(&list)
}

/// An entry's name, as its header bytes say it (no normalisation).
pub fn name_of(header: &tar::Header) -> String {
    String::from_utf8_lossy(&header.path_bytes()).into_owned()
}

/// `(reference, digest)` of every image pinned in the lockfile `work/lock`.
pub fn pins(work: &Path, lock: &str) -> Vec<(String, String)> {
    read_json(&work.join(lock))["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["reference"].as_str().unwrap().to_string(),
                p["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The digest the lockfile `work/lock` pins for `reference`.
pub fn pinned_digest(work: &Path, lock: &str, reference: &str) -> String {
    pins(work, lock)
        .into_iter()
        .find(|(pinned, _)| pinned == reference)
        .unwrap_or_else(|| panic!("{reference} is not pinned in {lock}"))
        .1
}

/// skopeo copies every pinned image from the server; its digest must equal the pin.
pub fn pull_all(server: &Server, work: &Path, pins: &[(String, String)]) {
    for (reference, digest) in pins {
        let name = reference.trim_start_matches("registry.test/");
        let dest = work.join(format!("pulled-{}", sha256_hex(reference.as_bytes())));
        let _ = std::fs::remove_dir_all(&dest);
        run_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--preserve-digests",
            "--src-tls-verify=false",
            &format!("docker://{}/registry.test/{name}", server.addr()),
            &format!("oci:{}", dest.display()),
        ]));
        let index = read_json(&dest.join("index.json"));
        assert_eq!(
            index["manifests"][0]["digest"],
            digest.as_str(),
            "{reference}"
        );
    }
}
