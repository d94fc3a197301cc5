//! Delta bundles and the site store: a second release built `--base` the first carries only
//! new blobs; `load` imports releases into a store (deltas on top of their base), survives
//! SIGKILL at any point and a full disk, and `serve --store` serves every release.

use crate::common::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const RELEASE1: [&str; 3] = ["bench/app0:1", "bench/app1:1", "bench/app2:1"];
const RELEASE2: [&str; 3] = ["bench/app0:1", "bench/app1:2", "bench/app2:2"];

/// Release 1: three images on a shared 12 MiB base, 4 MiB own layers each. Release 2 keeps
/// app0:1 and brings app1:2 and app2:2 with new own layers on the same base.
fn two_releases() -> (Registry, tempfile::TempDir, Vec<Seeded>, Vec<Seeded>) {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let bench = |out: &str, extra: &[&str]| {
        let mut args = vec!["--set", "bench", "--base-mib", "12", "--layer-mib", "4"];
        args.extend_from_slice(extra);
        seed_set(&registry, &dir.path().join(out), &args, None)
    };
    let first = bench("layouts1", &["--count", "3"]);
    let second = bench(
        "layouts2",
        &["--count", "2", "--first", "1", "--seed", "r2", "--tag", "2"],
    );
    keys(dir.path());
    (registry, dir, first, second)
}

fn blob_sizes(images: &[Seeded]) -> std::collections::HashMap<String, u64> {
    let mut sizes = std::collections::HashMap::new();
    for image in images {
        for entry in std::fs::read_dir(image.layout.join("blobs/sha256")).unwrap() {
            let entry = entry.unwrap();
            sizes.insert(
                entry.file_name().to_string_lossy().into_owned(),
                entry.metadata().unwrap().len(),
            );
        }
    }
    sizes
}

fn build_release(registry: &Registry, work: &Path, version: &str, images: &[&str], extra: &[&str]) {
    let file = format!("edge-{version}.yaml");
    write_release(work, &file, version, "linux/amd64", images, registry.port);
    let mut args = vec!["bundle", "build", file.as_str(), "--out", "bundles"];
    args.extend_from_slice(extra);
    outpost_ok(work, &args);
}

#[test]
fn delta_carries_only_new_blobs_and_loads_on_top_of_its_base() {
    let (registry, dir, first, second) = two_releases();
    let work = dir.path();
    build_release(&registry, work, "1.0", &RELEASE1, &[]);
    build_release(
        &registry,
        work,
        "2.0",
        &RELEASE2,
        &["--base", "bundles/edge-1.0.tar"],
    );
    let delta = work.join("bundles/edge-2.0.tar");
    let delta_len = std::fs::metadata(&delta).unwrap().len();

    // The delta holds only blobs release 1 lacks: its size stays under those blobs plus the
    // small artifacts (lockfile, index) and tar headers.
    let old = blob_sizes(&first);
    let new_bytes: u64 = blob_sizes(&second)
        .iter()
        .filter(|(hex, _)| !old.contains_key(*hex))
        .map(|(_, size)| size)
        .sum();
    assert!(new_bytes >= 8 << 20, "{new_bytes}");
    assert!(
        delta_len < new_bytes + (256 << 10),
        "delta is {delta_len} bytes; the new blobs are {new_bytes}"
    );

    // inspect names the base and what was saved; verify accepts the delta on its own.
    let r1_index = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ))["index_digest"]
        .clone();
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-2.0.tar", "--json"],
    ));
    assert_eq!(inspected["delta"]["base"], r1_index);
    assert!(inspected["delta"]["saved_bytes"].as_u64().unwrap() >= 16 << 20);
    let text = outpost_ok(work, &["bundle", "inspect", "bundles/edge-2.0.tar"]);
    assert!(text.contains("delta on:  edge 1.0"), "{text}");
    outpost_ok(
        work,
        &[
            "bundle",
            "verify",
            "bundles/edge-2.0.tar",
            "--key",
            "keys/outpost.pub",
        ],
    );

    // A delta cannot be served alone, nor loaded into a store without its base.
    let err = outpost_fails(
        work,
        &["serve", "bundles/edge-2.0.tar", "--listen", "127.0.0.1:0"],
        3,
    );
    assert!(err.contains("delta on edge 1.0"), "{err}");
    let err = outpost_fails(
        work,
        &["load", "bundles/edge-2.0.tar", "--store", "empty"],
        2,
    );
    assert!(
        err.contains("delta on edge 1.0") && err.contains("not in the store"),
        "{err}"
    );
    assert_eq!(store_releases(work, "empty"), 0);

    // Release 1, then the delta: the store serves both releases completely.
    outpost_ok(work, &["load", "bundles/edge-1.0.tar", "--store", "site"]);
    let loaded = json(&outpost_ok(
        work,
        &["load", "bundles/edge-2.0.tar", "--store", "site", "--json"],
    ));
    assert_eq!(loaded["release"]["base"], r1_index);
    assert!(loaded["stored_bytes"].as_u64().unwrap() <= new_bytes + (64 << 10));
    assert_eq!(store_releases(work, "site"), 2);
    outpost_ok(work, &["store", "verify", "--store", "site"]);
    let server = Server::start(work, &["--store", "site"]);
    pull_all(&server, work, &pins(work, "edge-2.0.lock"));
    pull_all(&server, work, &pins(work, "edge-1.0.lock"));
    drop(server);

    // Prune keeps release 2 whole and drops what only release 1 used.
    let pruned = json(&outpost_ok(
        work,
        &["store", "prune", "--store", "site", "--keep", "1", "--json"],
    ));
    assert_eq!(pruned["removed_releases"].as_array().unwrap().len(), 1);
    // Only release 1 used: app1:1's and app2:1's layer, config and manifest, and release 1's
    // lockfile and its artifact manifest.
    assert_eq!(pruned["removed_blobs"].as_u64(), Some(3 + 3 + 2));
    outpost_ok(work, &["store", "verify", "--store", "site"]);
    let server = Server::start(work, &["--store", "site"]);
    pull_all(&server, work, &pins(work, "edge-2.0.lock"));
}

/// Runs `load` with a crash-test halt point, waits until it halts, and SIGKILLs it.
fn load_killed(work: &Path, bundle: &str, store: &str, halt: (&str, u64)) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["load", bundle, "--store", store])
        .env(halt.0, halt.1.to_string())
        .current_dir(work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut halted = false;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if line.contains("halted for a crash test") {
            halted = true;
            break;
        }
    }
    assert!(halted, "load did not reach the halt point {halt:?}");
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
}

fn store_blobs(store: &Path) -> HashSet<String> {
    std::fs::read_dir(store.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Every blob visible in the store hashes to its name (`store verify` checks only the
/// referenced ones).
fn assert_blobs_whole(store: &Path, case: &str) {
    for hex in store_blobs(store) {
        let digest = sha256_file(&store.join("blobs/sha256").join(&hex));
        assert_eq!(digest, format!("sha256:{hex}"), "{case}");
    }
}

#[test]
fn load_survives_sigkill_at_any_point_and_a_full_disk() {
    let (registry, dir, _, _) = two_releases();
    let work = dir.path();
    build_release(&registry, work, "1.0", &RELEASE1, &[]);
    build_release(&registry, work, "2.0", &RELEASE2, &[]);
    let pins1 = pins(work, "edge-1.0.lock");

    outpost_ok(work, &["load", "bundles/edge-1.0.tar", "--store", "site"]);
    // Killed after 1 blob, after 3 blobs, and in the middle of a layer (after 14 MiB: the
    // 12 MiB base is stored, the next layer half written); each time nothing half-written is
    // visible, release 1 stays whole, and release 2 is not listed until a load completes.
    for halt in [
        ("OUTPOST_TEST_HALT_AFTER_BLOBS", 1),
        ("OUTPOST_TEST_HALT_AFTER_BLOBS", 3),
        ("OUTPOST_TEST_HALT_AFTER_BYTES", 14 << 20),
    ] {
        let store = format!("kill-{}-{}", halt.0.len(), halt.1);
        load_killed(work, "bundles/edge-1.0.tar", &store, halt);
        assert_eq!(store_releases(work, &store), 0, "{halt:?}");
        // Every visible blob is whole (store verify hashes referenced ones; check all here).
        assert_blobs_whole(&work.join(&store), &format!("{halt:?}"));
        // Run again: it completes, the store verifies clean and serves everything.
        outpost_ok(work, &["load", "bundles/edge-1.0.tar", "--store", &store]);
        outpost_ok(work, &["store", "verify", "--store", &store]);
        let server = Server::start(work, &["--store", &store]);
        pull_all(&server, work, &pins1);
    }
    // A kill while release 2 loads leaves release 1 served and whole.
    load_killed(
        work,
        "bundles/edge-2.0.tar",
        "site",
        ("OUTPOST_TEST_HALT_AFTER_BLOBS", 2),
    );
    assert_eq!(store_releases(work, "site"), 1);
    outpost_ok(work, &["store", "verify", "--store", "site"]);
    outpost_ok(work, &["load", "bundles/edge-2.0.tar", "--store", "site"]);
    outpost_ok(work, &["store", "verify", "--store", "site"]);

    // A store on a 16 MiB filesystem: release 1 (24 MiB of blobs) does not fit, and the load
    // says so before writing.
    let small = Tmpfs::mount(&work.join("small"), "16m");
    let store = small.path().join("store");
    let err = outpost_fails(
        work,
        &[
            "load",
            "bundles/edge-1.0.tar",
            "--store",
            store.to_str().unwrap(),
        ],
        1,
    );
    // The space check before the load stops it before any blob is written (issue 17).
    assert!(err.contains("not enough space"), "{err}");
    assert!(
        err.contains(&format!("store at {} needs", store.display())),
        "{err}"
    );
    assert_eq!(store_releases(work, store.to_str().unwrap()), 0);
    assert_blobs_whole(&store, "full disk");
}

/// The disk filling while blobs are written (not refused up front): the space check counts
/// the blobs' bytes, but a filesystem stores each file in whole blocks (a 300-byte config
/// takes a 4 KiB page on tmpfs), so 400 tiny images (801 blobs of well under 1 KiB: ~0.5 MiB
/// of content, over 3 MiB of pages) pass the check for a 2 MiB store and fill it midway.
#[test]
fn a_disk_that_fills_while_load_writes_fails_cleanly_and_a_rerun_with_space_completes() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    keys(work);
    let images = crate::scale::write_images(&registry.storage(), 400);
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    write_manifest(work, "edge.yaml", "linux/amd64", &refs, registry.port);
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    let bundle = "bundles/edge-1.0.tar";

    let small = Tmpfs::mount(&work.join("small"), "2m");
    let store = small.path().join("store");
    let store_arg = store.to_str().unwrap();
    let planned = json(&outpost_ok(
        work,
        &["load", bundle, "--store", store_arg, "--dry-run", "--json"],
    ));
    assert_eq!(planned["fits"], true, "{planned}");
    let err = outpost_fails(work, &["load", bundle, "--store", store_arg], 1);
    assert!(
        err.contains("no space left on the store's filesystem while storing blob sha256:"),
        "{err}"
    );
    assert!(err.contains("free space or use a larger --store"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one message: {err}");
    // Nothing half-written is visible or left behind, no release is recorded, and what the
    // store holds verifies.
    assert_blobs_whole(&store, "full disk");
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
    assert_eq!(store_releases(work, store_arg), 0);
    outpost_ok(work, &["store", "verify", "--store", store_arg]);

    // With space freed, the same load completes and the store verifies and serves.
    small.resize("16m");
    outpost_ok(work, &["load", bundle, "--store", store_arg]);
    assert_eq!(store_releases(work, store_arg), 1);
    outpost_ok(work, &["store", "verify", "--store", store_arg]);
    assert_blobs_whole(&store, "after the rerun");
}

#[test]
fn a_delta_that_adds_a_platform_loads_and_is_served_after_sighup() {
    require("skopeo");
    // Release 1 carries multi:1 for amd64; release 2 adds arm64 to the same image, whose
    // index the base already has. The delta still carries every manifest, so it verifies on
    // its own and loads on its base, and a running `serve --store` takes it up on SIGHUP.
    let site = Site::new();
    let work = site.work();
    write_release(
        work,
        "r1.yaml",
        "1.0",
        "linux/amd64",
        &["library/multi:1"],
        site.registry.port,
    );
    outpost_ok(work, &["bundle", "build", "r1.yaml"]);
    write_release(
        work,
        "r2.yaml",
        "2.0",
        "linux/amd64, linux/arm64",
        &["library/multi:1"],
        site.registry.port,
    );
    let built = json(&outpost_ok(
        work,
        &[
            "bundle",
            "build",
            "r2.yaml",
            "--base",
            "bundles/edge-1.0.tar",
            "--json",
        ],
    ));
    assert!(
        built["delta"]["omitted_blobs"].as_u64().unwrap() >= 1,
        "{built}"
    );
    outpost_ok(work, &["bundle", "verify", "bundles/edge-2.0.tar"]);
    outpost_ok(work, &["load", "bundles/edge-1.0.tar", "--store", "site"]);
    let server = Server::start(work, &["--store", "site"]);
    let dest = work.join("multi-all");
    let copy_all = || {
        Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--all",
                "--preserve-digests",
                "--src-tls-verify=false",
                &format!("docker://{}/registry.test/library/multi:1", server.addr()),
                &format!("oci:{}", dest.display()),
            ])
            .output()
            .unwrap()
    };
    // Only amd64 is in the store yet.
    assert!(!copy_all().status.success());
    // Release 2 is loaded while the store is served; SIGHUP makes the server take it up.
    outpost_ok(work, &["load", "bundles/edge-2.0.tar", "--store", "site"]);
    outpost_ok(work, &["store", "verify", "--store", "site"]);
    run_ok(Command::new("bash").args(["-c", &format!("kill -HUP {}", server.pid())]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = copy_all();
        if out.status.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "release 2 not served after SIGHUP: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            server.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        server.log().contains("reloaded on SIGHUP"),
        "{}",
        server.log()
    );
    let index = read_json(&dest.join("index.json"));
    assert_eq!(
        index["manifests"][0]["digest"].as_str(),
        pins(work, "r2.lock")[0].1.as_str().into()
    );
    // While the store is served, prune waits for the server to stop.
    let err = outpost_fails(
        work,
        &["store", "prune", "--store", "site", "--keep", "1"],
        1,
    );
    assert!(err.contains("is serving it"), "{err}");
}
