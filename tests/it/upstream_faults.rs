//! A registry that serves wrong bytes or drops the connection mid-blob: the build retries and
//! resumes, completes correctly or fails naming the image and digest, and never leaves
//! corrupt content in the cache.

use crate::common::*;
use std::sync::atomic::Ordering;

/// A site whose `edge.yaml` (library/alpha:1) reaches the registry through a proxy that
/// applies `fault` to alpha's own layer; that layer's digest.
fn faulty_site(fault: Fault) -> (Site, String, FaultProxy) {
    let site = Site::new();
    let own_layer = site.image("library/alpha:1").layer_digests()[1].clone();
    let proxy = FaultProxy::start(site.registry.port, &own_layer, fault);
    write_manifest(
        site.work(),
        "edge.yaml",
        "linux/amd64",
        &["library/alpha:1"],
        proxy.port,
    );
    (site, own_layer, proxy)
}

#[test]
fn a_dropped_connection_mid_blob_is_resumed() {
    let (site, own_layer, proxy) = faulty_site(Fault::DropFirst(2));
    let work = site.work();

    let out = outpost(work, &["bundle", "build", "edge.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        proxy.hits.load(Ordering::SeqCst) >= 3,
        "the fault was never exercised"
    );
    assert!(
        stderr.contains(&format!("retrying {own_layer}")),
        "{stderr}"
    );
    outpost_ok(work, &["bundle", "verify", "bundles/edge-1.0.tar"]);
}

#[test]
fn a_registry_serving_wrong_bytes_fails_naming_image_and_digest() {
    let (site, own_layer, _proxy) = faulty_site(Fault::CorruptAlways);
    let work = site.work();

    let stderr = outpost_fails(work, &["bundle", "build", "edge.yaml"], 4);
    assert!(
        stderr.contains(&format!("registry.test/library/alpha:1: blob {own_layer}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("the registry sent wrong content"),
        "{stderr}"
    );
    let hex = own_layer.trim_start_matches("sha256:");
    assert!(
        !work.join("cache/blobs/sha256").join(hex).exists(),
        "corrupt blob kept in the cache"
    );
    let leftovers: Vec<_> = std::fs::read_dir(work.join("cache/tmp")).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "partial files left behind: {leftovers:?}"
    );
    assert!(!work.join("bundles/edge-1.0.tar").exists());
}
