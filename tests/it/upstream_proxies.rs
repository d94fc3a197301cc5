//! Upstreams as HQ networks reach them: CDNs that refuse Range requests, connections that drop
//! during lock-time fetches, and proxies with a path (an Artifactory generic remote for file
//! hosts, a Harbor proxy-cache project for a registry). Builds still succeed, retries are
//! noted, and every name at the site stays the upstream one.

use crate::common::*;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;

/// `stderr` says the download of `label` was cut, retried, refused a resume and went whole.
fn assert_cut_then_fetched_whole(stderr: &str, label: &str) {
    assert!(
        stderr.contains(&format!(
            "note: retrying {label} (attempt 2): connection lost after"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "note: {label}: the upstream refused to resume from byte "
        )),
        "{stderr}"
    );
}

/// The digest of the config of `seeded`'s (single) manifest, read from its OCI layout.
fn config_digest(seeded: &Seeded) -> String {
    seeded.top_json()["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_upstream_refusing_open_ended_ranges_still_builds() {
    let site = Site::new();
    let work = site.work();
    let proxy = FaultProxy::start_on_blobs(site.registry.port, Fault::RefuseOpenEndedRanges);
    write_manifest(
        work,
        "edge.yaml",
        "linux/amd64",
        &["library/alpha:1", "team/beta:1"],
        proxy.port,
    );

    let out = outpost(work, &["bundle", "build", "edge.yaml"]);
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    // Whole blobs are asked for without a Range, so nothing was refused or retried.
    assert_eq!(proxy.ranged.load(Ordering::SeqCst), 0, "{stderr}");
    assert!(!stderr.contains("retrying"), "{stderr}");
    assert!(
        proxy.hits.load(Ordering::SeqCst) >= 5,
        "blobs did not go through the proxy"
    );
    outpost_ok(work, &["bundle", "verify", "bundles/edge-1.0.tar"]);
}

#[test]
fn an_upstream_refusing_any_range_builds_and_a_broken_download_starts_over_whole() {
    let site = Site::new();
    let work = site.work();
    let own_layer = site.image("library/alpha:1").layer_digests()[1].clone();
    let proxy = FaultProxy::start(site.registry.port, &own_layer, Fault::RefuseRangesDropOdd);
    write_manifest(
        work,
        "edge.yaml",
        "linux/amd64",
        &["library/alpha:1"],
        proxy.port,
    );

    let out = outpost(work, &["bundle", "build", "edge.yaml"]);
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    // Cut at half, resumed with a Range (refused with 400), then fetched whole.
    assert_eq!(proxy.hits.load(Ordering::SeqCst), 2, "{stderr}");
    assert_eq!(proxy.ranged.load(Ordering::SeqCst), 1, "{stderr}");
    let label = format!("{own_layer} of registry.test/library/alpha:1");
    assert_cut_then_fetched_whole(&stderr, &label);
    assert!(stderr.contains("400"), "{stderr}");
    outpost_ok(work, &["bundle", "verify", "bundles/edge-1.0.tar"]);
}

#[test]
fn a_dropped_connection_during_a_manifest_or_config_fetch_at_lock_is_retried() {
    let site = Site::new();
    let work = site.work();
    let config = config_digest(site.image("library/alpha:1"));
    // registry ← config proxy ← manifest proxy ← outpost
    let config_proxy = FaultProxy::start(site.registry.port, &config, Fault::DropFirst(1));
    let manifest_proxy = FaultProxy::start_on_path(
        config_proxy.port,
        "/library/alpha/manifests/1",
        Fault::DropFirst(1),
    );
    write_manifest(
        work,
        "edge.yaml",
        "linux/amd64",
        &["library/alpha:1"],
        manifest_proxy.port,
    );

    let out = outpost(work, &["lock", "edge.yaml"]);
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(manifest_proxy.hits.load(Ordering::SeqCst), 2, "{stderr}");
    assert_eq!(config_proxy.hits.load(Ordering::SeqCst), 2, "{stderr}");
    assert!(
        stderr.contains(
            "note: retrying manifest of registry.test/library/alpha:1 (attempt 2): error decoding response body"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "note: retrying {config} of registry.test/library/alpha:1 (attempt 2): connection lost after"
        )),
        "{stderr}"
    );
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--locked"]);
    outpost_ok(work, &["bundle", "verify", "bundles/edge-1.0.tar"]);
}

#[test]
fn a_config_with_a_wrong_digest_fails_the_lock_at_once() {
    let site = Site::new();
    let work = site.work();
    let config = config_digest(site.image("library/alpha:1"));
    let proxy = FaultProxy::start(site.registry.port, &config, Fault::CorruptAlways);
    write_manifest(
        work,
        "edge.yaml",
        "linux/amd64",
        &["library/alpha:1"],
        proxy.port,
    );

    let stderr = outpost_fails(work, &["lock", "edge.yaml"], 4);
    assert!(
        stderr.starts_with(&format!(
            "error: registry.test/library/alpha:1: image config {config}: the registry sent wrong content: "
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("retrying"), "{stderr}");
    assert_eq!(proxy.hits.load(Ordering::SeqCst), 1);
    let hex = config.trim_start_matches("sha256:");
    assert!(!work.join("cache/blobs/sha256").join(hex).exists());
    assert_eq!(
        std::fs::read_dir(work.join("cache/tmp")).unwrap().count(),
        0
    );
}

/// A file host holding `tools/v1/tool.bin` under `root/<prefix>`; its bytes.
fn file_host(root: &Path, prefix: &str) -> Vec<u8> {
    let bytes: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = root.join(prefix).join("tools/v1/tool.bin");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, &bytes).unwrap();
    bytes
}

fn write_files_release(work: &Path, sha256: &str, upstream: &str) {
    let text = format!(
        "apiVersion: outpost/v1alpha1
kind: Release
metadata: {{name: files, version: \"1.0\"}}
spec:
  files:
    - url: https://files.test/tools/v1/tool.bin
      checksum: {{sha256: {sha256}}}
  upstreams: {{files.test: \"{upstream}\"}}
"
    );
    std::fs::write(work.join("files.yaml"), text).unwrap();
}

#[test]
fn a_file_download_cut_at_lock_and_at_build_is_retried_and_a_refused_resume_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    keys(work);
    let bytes = file_host(&work.join("upstream"), "");
    let server = StaticServer::start(work.join("upstream"));
    let proxy = FaultProxy::start_on_path(
        server.port,
        "/tools/v1/tool.bin",
        Fault::RefuseRangesDropOdd,
    );
    let sha256 = sha256_hex(&bytes);
    write_files_release(work, &sha256, &format!("http://127.0.0.1:{}", proxy.port));

    // At lock: the first download is cut, the second (whole again) pins it.
    let out = outpost(work, &["lock", "files.yaml"]);
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "note: retrying https://files.test/tools/v1/tool.bin (attempt 2): download interrupted"
        ),
        "{stderr}"
    );
    assert_eq!(proxy.hits.load(Ordering::SeqCst), 2);
    assert_eq!(proxy.ranged.load(Ordering::SeqCst), 0);

    // At build, from an empty cache: cut again, the resume is refused (400), fetched whole.
    std::fs::remove_dir_all(work.join("cache")).unwrap();
    let out = outpost(work, &["bundle", "build", "files.yaml", "--locked"]);
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    let label = format!("sha256:{sha256} of https://files.test/tools/v1/tool.bin");
    assert_cut_then_fetched_whole(&stderr, &label);
    assert_eq!(proxy.hits.load(Ordering::SeqCst), 4);
    assert_eq!(proxy.ranged.load(Ordering::SeqCst), 1);
    outpost_ok(work, &["bundle", "verify", "bundles/files-1.0.tar"]);
}

#[test]
fn a_file_host_behind_a_path_prefix_keeps_its_upstream_paths() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    keys(work);
    let prefix = "artifactory/api/generic/files-test";
    let bytes = file_host(&work.join("upstream"), prefix);
    let server = StaticServer::start(work.join("upstream"));
    write_files_release(
        work,
        &sha256_hex(&bytes),
        &format!("http://127.0.0.1:{}/{prefix}/", server.port),
    );

    outpost_ok(work, &["bundle", "build", "files.yaml"]);
    let lock = read_json(&work.join("files.lock"));
    let pin = &lock["files"][0];
    assert_eq!(pin["url"], "https://files.test/tools/v1/tool.bin");
    assert_eq!(pin["path"], "files.test/tools/v1/tool.bin");
    assert_eq!(pin["sha256"], format!("sha256:{}", sha256_hex(&bytes)));

    let served = Server::start(work, &["bundles/files-1.0.tar"]);
    let reply = http(
        "GET",
        &format!("{}/files/files.test/tools/v1/tool.bin", served.url()),
        &[],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, bytes);
    let prefixed = http(
        "GET",
        &format!(
            "{}/files/files.test/{prefix}/tools/v1/tool.bin",
            served.url()
        ),
        &[],
    );
    assert_eq!(prefixed.status, 404);
}

#[test]
fn a_kubernetes_release_through_an_artifactory_remote_is_served_at_dl_k8s_io_paths() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    keys(work);
    let prefix = "artifactory/api/generic/dl-k8s";
    let path = "release/v1.31.2/bin/linux/amd64/kubectl";
    let bytes: Vec<u8> = (0..30_000u32).map(|i| (i * 13 % 241) as u8).collect();
    let root = work.join("upstream").join(prefix);
    std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
    std::fs::write(root.join(path), &bytes).unwrap();
    std::fs::write(root.join(format!("{path}.sha256")), sha256_hex(&bytes)).unwrap();
    let server = StaticServer::start(work.join("upstream"));
    std::fs::write(
        work.join("k8s.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1
kind: Release
metadata: {{name: k8s, version: \"1.31\"}}
spec:
  kubernetes: {{version: v1.31.2, binaries: [kubectl]}}
  upstreams: {{dl.k8s.io: \"http://127.0.0.1:{}/{prefix}/\"}}
",
            server.port
        ),
    )
    .unwrap();

    outpost_ok(work, &["bundle", "build", "k8s.yaml"]);
    let lock = read_json(&work.join("k8s.lock"));
    let pin = &lock["files"][0];
    assert_eq!(pin["url"], format!("https://dl.k8s.io/{path}"));
    assert_eq!(pin["path"], format!("dl.k8s.io/{path}"));
    assert_eq!(
        pin["verified_by"],
        format!("sha256 from https://dl.k8s.io/{path}.sha256")
    );
    let served = Server::start(work, &["bundles/k8s-1.31.tar"]);
    let reply = http(
        "GET",
        &format!("{}/files/dl.k8s.io/{path}", served.url()),
        &[],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, bytes);
}

#[test]
fn a_registry_behind_a_harbor_style_proxy_project_is_served_by_its_upstream_names() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    // The registry holds the images only under `proxyprefix/`, as a Harbor proxy-cache
    // project holds Docker Hub's (official images keep their `library/`).
    seed_set_under(
        &registry,
        &work.join("layouts"),
        &["--set", "test"],
        None,
        "proxyprefix/",
    );
    keys(work);
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1
kind: Release
metadata: {{name: edge, version: \"1.0\"}}
spec:
  images: [\"alpha:1\", docker.io/team/beta:1]
  upstreams: {{docker.io: \"http://127.0.0.1:{}/proxyprefix\"}}
",
            registry.port
        ),
    )
    .unwrap();

    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    let lock = read_json(&work.join("edge.lock"));
    let references: Vec<&str> = lock["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pin| pin["reference"].as_str().unwrap())
        .collect();
    assert_eq!(
        references,
        ["docker.io/library/alpha:1", "docker.io/team/beta:1"]
    );
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    let text = inspected.to_string();
    assert!(text.contains("docker.io/library/alpha:1"), "{text}");
    assert!(!text.contains("proxyprefix"), "{text}");

    let server = Server::start(work, &["bundles/edge-1.0.tar"]);
    for (pin, name) in lock["images"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["docker.io/library/alpha:1", "docker.io/team/beta:1"])
    {
        let pulled = work.join(format!("pulled-{}", name.replace(['/', ':'], "-")));
        run_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{}/{name}", server.addr()),
            &format!("dir:{}", pulled.display()),
        ]));
        assert_eq!(
            sha256_file(&pulled.join("manifest.json")),
            pin["platforms"][0]["digest"].as_str().unwrap(),
            "{name}"
        );
    }
    // The proxy's repository prefix is nowhere at the site.
    let prefixed = http(
        "GET",
        &format!("{}/v2/proxyprefix/library/alpha/manifests/1", server.url()),
        &[],
    );
    assert_eq!(prefixed.status, 404);
}
