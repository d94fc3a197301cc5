//! A release of thousands of images (issue 17): lock → build → verify → serve stay correct,
//! `_catalog` lists every repository across its pages, and a sample pulls with skopeo. The
//! images are tiny and written straight into the upstream registry's storage (pushing 5,000
//! images one by one takes minutes). The count, 5,000, is the default;
//! `SCALE_TEST_IMAGES=N` changes it (at least 2) for a quicker run by hand.

use crate::common::{
    http, outpost_env, outpost_ok, require, run_ok, sha256_file, sha256_hex, write_manifest,
    Registry, Server, Tmpfs,
};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Writes `bytes` as a blob of a distribution filesystem storage root; returns its hex digest.
fn put_blob(root: &Path, bytes: &[u8]) -> String {
    let hex = sha256_hex(bytes);
    let dir = root.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}",
        &hex[..2]
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("data"), bytes).unwrap();
    hex
}

fn link(dir: &Path, hex: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("link"), format!("sha256:{hex}")).unwrap();
}

/// `count` single-platform images `scale/app<i>:1`: one shared layer, a config each.
pub(crate) fn write_images(root: &Path, count: usize) -> Vec<String> {
    let layer = b"a tiny layer shared by every image".to_vec();
    let layer_hex = put_blob(root, &layer);
    let repositories = root.join("docker/registry/v2/repositories");
    (0..count)
        .map(|i| {
            let config = serde_json::to_vec(&serde_json::json!({
                "architecture": "amd64", "os": "linux",
                "config": {"Labels": {"n": i.to_string()}},
                "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_hex}")]},
            }))
            .unwrap();
            let config_hex = put_blob(root, &config);
            let manifest = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": format!("sha256:{config_hex}"), "size": config.len()},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                            "digest": format!("sha256:{layer_hex}"), "size": layer.len()}],
            }))
            .unwrap();
            let manifest_hex = put_blob(root, &manifest);
            let repo = repositories.join(format!("scale/app{i}"));
            link(&repo.join("_layers/sha256").join(&layer_hex), &layer_hex);
            link(&repo.join("_layers/sha256").join(&config_hex), &config_hex);
            let manifests = repo.join("_manifests");
            link(
                &manifests.join("revisions/sha256").join(&manifest_hex),
                &manifest_hex,
            );
            link(&manifests.join("tags/1/current"), &manifest_hex);
            link(
                &manifests.join("tags/1/index/sha256").join(&manifest_hex),
                &manifest_hex,
            );
            format!("scale/app{i}:1")
        })
        .collect()
}

/// Every repository `_catalog` lists, following its `Link` pages.
fn catalog(base: &str) -> (BTreeSet<String>, usize) {
    let mut names = BTreeSet::new();
    let mut next = Some("/v2/_catalog".to_string());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let reply = http("GET", &format!("{base}{path}"), &[]);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        for name in body["repositories"].as_array().unwrap() {
            assert!(
                names.insert(name.as_str().unwrap().to_string()),
                "{name} listed twice"
            );
        }
        next = reply.header("link").map(|link| {
            link.trim_start_matches('<')
                .split_once('>')
                .map(|(path, _)| path.to_string())
                .unwrap()
        });
        pages += 1;
        assert!(pages < 1000, "pagination does not end");
    }
    (names, pages)
}

#[test]
fn a_release_of_thousands_of_images_locks_builds_verifies_and_serves() {
    require("skopeo");
    let count: usize = std::env::var("SCALE_TEST_IMAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
        .max(2);
    let registry = Registry::start();
    // The upstream's storage (some 20 files and directories per image) and the work dir (cache,
    // bundle) on tmpfs: writing and removing 100,000 small files on a busy CI disk takes longer
    // than the rest of the test; what is tested here is correctness at this count, not the disk.
    let _storage = Tmpfs::mount(&registry.storage(), "2g");
    let dir = tempfile::tempdir().unwrap();
    let _work = Tmpfs::mount(dir.path(), "2g");
    let work = dir.path();
    crate::common::keys(work);
    let images = write_images(&registry.storage(), count);
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    write_manifest(work, "edge.yaml", "linux/amd64", &refs, registry.port);

    let started = std::time::Instant::now();
    let phase = |name: &str| eprintln!("scale: {name} done at {:?}", started.elapsed());
    // A lock of thousands of images is not silent in a log: counted progress lines.
    let locked = outpost_env(
        work,
        &["lock", "edge.yaml"],
        &[("OUTPOST_PROGRESS_EVERY", "1")],
    );
    let stderr = String::from_utf8_lossy(&locked.stderr);
    assert!(locked.status.success(), "{stderr}");
    phase("lock");
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("lock: ") || l.starts_with("referrers: "))
        .collect();
    // A line every second once the lock has run a second (a quick lock, `SCALE_TEST_IMAGES`
    // set low, may end before the first).
    let lock_took = started.elapsed();
    assert!(
        lock_took < std::time::Duration::from_secs(2)
            || progress
                .iter()
                .any(|l| l.contains(&format!(" of {count} images (")) && l.contains("/s")),
        "{lock_took:?}: {stderr}"
    );
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("edge.lock")).unwrap()).unwrap();
    let pins = lock["images"].as_array().unwrap();
    assert_eq!(pins.len(), count, "every image is pinned");

    // The build takes the lockfile as it is, as an operator does after reviewing it.
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--locked"]);
    phase("build");
    let bundle = work.join("bundles/edge-1.0.tar");
    let report = outpost_ok(
        work,
        &[
            "bundle",
            "verify",
            bundle.to_str().unwrap(),
            "--key",
            "keys/outpost.pub",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    // A manifest and a config per image, the shared layer, and the carried lockfile.
    let blobs = report["blobs"].as_u64().unwrap();
    assert!(blobs > 2 * count as u64, "{report}");

    phase("verify");
    let inspected: serde_json::Value = serde_json::from_str(&outpost_ok(
        work,
        &["bundle", "inspect", bundle.to_str().unwrap(), "--json"],
    ))
    .unwrap();
    assert_eq!(
        inspected["images"].as_array().map(Vec::len),
        Some(count),
        "inspect lists every image"
    );
    let server = Server::start(work, &[bundle.to_str().unwrap()]);
    let (names, pages) = catalog(&server.url());
    let expected: BTreeSet<String> = (0..count)
        .map(|i| format!("registry.test/scale/app{i}"))
        .collect();
    assert_eq!(names, expected, "_catalog lists every repository");
    assert!(pages > 1 || count <= 1000, "{count} names fit one page?");

    phase("catalog");
    // A sample, first, middle and last, pulls by tag with a real client.
    for i in [0, count / 2, count - 1] {
        let source = format!("docker://{}/registry.test/scale/app{i}:1", server.addr());
        let pulled = work.join(format!("pulled-{i}"));
        run_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--src-tls-verify=false",
            &source,
            &format!("dir:{}", pulled.display()),
        ]));
        let pin = pins
            .iter()
            .find(|p| {
                p["reference"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/app{i}:1"))
            })
            .unwrap();
        assert_eq!(
            sha256_file(&pulled.join("manifest.json")),
            pin["digest"].as_str().unwrap(),
            "app{i}"
        );
    }
}
