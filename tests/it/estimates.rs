//! Space estimates (issue 17): `bundle build --dry-run` on a cold and on a warm cache says
//! within 1 % how many bytes the real build then downloads (measured as the cache's growth),
//! and a build into a 64 MiB tmpfs of a larger bundle stops before downloading, naming the
//! space needed and free. `load --dry-run` counts the blobs a store already holds.

use crate::common::*;
use std::path::Path;

/// Bytes of every file under `dir` (0 when it does not exist).
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap())
        .map(|e| {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                tree_bytes(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// `bundle build edge.yaml --dry-run --json`, parsed.
fn dry_run(work: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["bundle", "build", "edge.yaml", "--dry-run", "--json"];
    args.extend(extra);
    json(&outpost_ok(work, &args))
}

/// Asserts `estimate` is within 1 % of `actual` (both 0, or close).
fn within_one_percent(estimate: u64, actual: u64, what: &str) {
    let gap = estimate.abs_diff(actual);
    assert!(
        gap * 100 <= actual,
        "{what}: dry run said {estimate} bytes, the build downloaded {actual}"
    );
}

#[test]
fn dry_run_download_bytes_match_the_build_on_a_cold_and_a_warm_cache() {
    let (registry, dir) = big_site(16);
    let work = dir.path();
    let cache = work.join("cache");
    // Cold cache, one image.
    write_manifest(
        work,
        "edge.yaml",
        "linux/amd64",
        &["bench/app0:1"],
        registry.port,
    );
    let cold = dry_run(work, &[]);
    assert_eq!(cold["dry_run"], true);
    assert!(!work.join("bundles").exists(), "the dry run wrote a bundle");
    let before = tree_bytes(&cache);
    let estimate = cold["download_bytes"].as_u64().unwrap();
    assert!(estimate > 40 << 20, "{cold}");
    let built = json(&outpost_ok(
        work,
        &["bundle", "build", "edge.yaml", "--locked", "--json"],
    ));
    within_one_percent(estimate, tree_bytes(&cache) - before, "cold cache");
    // The bundle estimate is close to the real size.
    let bytes = built["bytes"].as_u64().unwrap();
    let bundle_estimate = cold["bundle_bytes"].as_u64().unwrap();
    assert!(
        bundle_estimate >= bytes && bundle_estimate - bytes < 1 << 20,
        "estimated {bundle_estimate}, built {bytes}"
    );
    // Warm cache: three images share the base already cached; with parts and parity.
    let images = ["bench/app0:1", "bench/app1:1", "bench/app2:1"];
    write_manifest(work, "edge.yaml", "linux/amd64", &images, registry.port);
    let warm = dry_run(work, &["--split-size", "10MiB", "--parity", "2"]);
    let estimate = warm["download_bytes"].as_u64().unwrap();
    assert!(estimate > 30 << 20 && estimate < 40 << 20, "{warm}");
    assert!(warm["cached_bytes"].as_u64().unwrap() > 40 << 20, "{warm}");
    assert_eq!(warm["parts"]["parity"], 2);
    let parts = warm["parts"]["count"].as_u64().unwrap();
    let places = warm["space"].as_array().unwrap();
    assert_eq!(places.len(), 2);
    assert!(places.iter().all(|p| p["free"].as_u64().unwrap() > 0));
    let before = tree_bytes(&cache);
    let text = outpost_ok(
        work,
        &[
            "bundle",
            "build",
            "edge.yaml",
            "--locked",
            "--split-size",
            "10MiB",
            "--parity",
            "2",
        ],
    );
    within_one_percent(estimate, tree_bytes(&cache) - before, "warm cache");
    assert!(
        text.contains(&format!("parts:    {parts} parts + 2 parity parts")),
        "{text}"
    );
    // Fully warm: nothing to download, and the text form says so.
    let text = outpost_ok(work, &["bundle", "build", "edge.yaml", "--dry-run"]);
    assert!(text.contains("download: 0 of"), "{text}");
    assert!(text.contains("space:    bundle at bundles needs"), "{text}");

    // load --dry-run: an empty store lacks every blob; after the load it holds them all.
    let list = "bundles/edge-1.0.parts.json";
    let fresh = json(&outpost_ok(
        work,
        &["load", list, "--store", "store", "--dry-run", "--json"],
    ));
    assert_eq!(fresh["held_blobs"], 0);
    assert!(fresh["write_bytes"].as_u64().unwrap() > 70 << 20, "{fresh}");
    assert!(
        !work.join("store").exists(),
        "the dry run created the store"
    );
    outpost_ok(work, &["load", list, "--store", "store"]);
    let loaded = json(&outpost_ok(
        work,
        &["load", list, "--store", "store", "--dry-run", "--json"],
    ));
    assert_eq!(loaded["new_blobs"], 0);
    assert_eq!(loaded["held_blobs"], loaded["blobs"]);
}

#[test]
fn a_build_that_does_not_fit_stops_before_downloading() {
    let (registry, dir) = big_site(16);
    let work = dir.path();
    let images = ["bench/app0:1", "bench/app1:1", "bench/app2:1"];
    write_manifest(work, "edge.yaml", "linux/amd64", &images, registry.port);
    let small = Tmpfs::mount(&work.join("small"), "64m");
    let out = small.path().to_str().unwrap();
    let dry = dry_run(work, &["--out", out]);
    assert_eq!(dry["fits"], false, "{dry}");
    let cache = work.join("cache");
    let before = tree_bytes(&cache);
    let err = outpost_fails(
        work,
        &["bundle", "build", "edge.yaml", "--locked", "--out", out],
        1,
    );
    assert!(
        err.contains("not enough space")
            && err.contains(&format!("bundle at {out} needs"))
            && err.contains("free"),
        "{err}"
    );
    // No layer was downloaded (each is 16 or 30 MiB), and nothing written to the tmpfs.
    assert!(tree_bytes(&cache) - before < 1 << 20, "the cache grew");
    assert_eq!(tree_bytes(small.path()), 0);
}
