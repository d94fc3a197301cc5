//! End to end: a real distribution registry upstream → `outpost bundle build` → stock tools
//! (skopeo, openssl) read and check the bundle; rebuilds are byte-identical; --locked notices
//! a changed manifest; a platform the image lacks is named. `bundle inspect`'s text is
//! snapshotted whole.

use crate::common::*;
use std::process::Command;

const IMAGES: [&str; 3] = ["library/alpha:1", "team/beta:1", "library/multi:1"];

#[test]
fn build_verify_and_read_back_with_stock_tools() {
    require("openssl");
    let site = Site::new();
    let work = site.work();
    site.manifest("linux/amd64", &IMAGES);

    let built = outpost_ok(
        work,
        &[
            "bundle",
            "build",
            "edge.yaml",
            "--key",
            "keys/outpost.key",
            "--json",
        ],
    );
    let built = json(&built);
    assert_eq!(built["images"], 3);
    let bundle = work.join("bundles/edge-1.0.tar");
    assert!(bundle.is_file());

    let verified = outpost_ok(
        work,
        &[
            "bundle",
            "verify",
            "bundles/edge-1.0.tar",
            "--key",
            "keys/outpost.pub",
        ],
    );
    assert!(
        verified.starts_with("OK bundles/edge-1.0.tar: signature by sha256:"),
        "{verified}"
    );

    // The shared base layer is stored once: every blob entry name is unique, and the tar
    // holds exactly the blobs inspect counts.
    let entries = tar_entries(&bundle);
    let blobs: Vec<&String> = entries
        .iter()
        .map(|e| &e.0)
        .filter(|p| p.starts_with("blobs/sha256/") && p.len() > 13)
        .collect();
    let unique: std::collections::HashSet<_> = blobs.iter().collect();
    assert_eq!(blobs.len(), unique.len());
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    assert_eq!(inspected["blobs"].as_u64().unwrap() as usize, blobs.len());
    assert_eq!(inspected["images"].as_array().unwrap().len(), 3);
    assert_eq!(inspected["release"], "edge");
    // What inspect prints for a person, whole.
    let text = outpost_ok(work, &["bundle", "inspect", "bundles/edge-1.0.tar"]);
    let _filters = snapshot_settings_without_digests().bind_to_scope();
    insta::assert_snapshot!("inspect_text", text);

    // Stock skopeo reads every image out of the bundle, and gets the pinned manifests.
    let lock = read_json(&work.join("edge.lock"));
    for pin in lock["images"].as_array().unwrap() {
        let reference = pin["reference"].as_str().unwrap();
        let dir = work.join(format!("copy-{}", reference.replace(['/', ':'], "_")));
        run_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--override-arch",
            "amd64",
            "--override-os",
            "linux",
            &format!("oci-archive:{}:{reference}", bundle.display()),
            &format!("dir:{}", dir.display()),
        ]));
        let copied = sha256_file(&dir.join("manifest.json"));
        assert_eq!(
            copied,
            pin["platforms"][0]["digest"].as_str().unwrap(),
            "{reference}"
        );
    }
    // The multi-arch index is kept byte for byte: its digest in the bundle is the upstream one.
    let multi = lock["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["reference"] == "registry.test/library/multi:1")
        .unwrap();
    let raw = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        &format!(
            "oci-archive:{}:registry.test/library/multi:1",
            bundle.display()
        ),
    ]));
    assert_eq!(
        format!("sha256:{}", sha256_hex(raw.as_bytes())),
        multi["digest"].as_str().unwrap()
    );

    // Stock openssl accepts index.json.sig with the public key.
    let extract = work.join("extract");
    std::fs::create_dir_all(&extract).unwrap();
    run_ok(
        Command::new("tar")
            .arg("xf")
            .arg(&bundle)
            .arg("-C")
            .arg(&extract)
            .args(["index.json", "index.json.sig"]),
    );
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg("base64 -d index.json.sig > sig.der")
            .current_dir(&extract),
    );
    let checked = run_ok(
        Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(work.join("keys/outpost.pub"))
            .args(["-signature", "sig.der", "index.json"])
            .current_dir(&extract),
    );
    assert_eq!(checked.trim(), "Verified OK");
}

/// `bundle build --locked --out OUT --json`, parsed.
fn locked_build(work: &std::path::Path, out: &str) -> serde_json::Value {
    let printed = outpost_ok(
        work,
        &[
            "bundle",
            "build",
            "edge.yaml",
            "--locked",
            "--out",
            out,
            "--json",
        ],
    );
    json(&printed)
}

#[test]
fn rebuilds_are_byte_identical_and_download_nothing() {
    let site = Site::new();
    let work = site.work();
    site.manifest("linux/amd64", &IMAGES);

    outpost_ok(work, &["lock", "edge.yaml"]);
    let first_lock = std::fs::read(work.join("edge.lock")).unwrap();
    outpost_ok(work, &["lock", "edge.yaml"]);
    assert_eq!(
        std::fs::read(work.join("edge.lock")).unwrap(),
        first_lock,
        "locking twice changed the lockfile"
    );

    let first = locked_build(work, "one");
    assert!(first["downloaded_blobs"].as_u64().unwrap() > 0);
    let second = locked_build(work, "two");
    assert_eq!(
        second["downloaded_blobs"], 0,
        "the warm rebuild downloaded again: {second}"
    );
    let one = std::fs::read(work.join("one/edge-1.0.tar")).unwrap();
    let two = std::fs::read(work.join("two/edge-1.0.tar")).unwrap();
    assert!(one == two, "two builds from the same lockfile differ");

    // Building again into the same place writes nothing: the bundle is up to date.
    let again = locked_build(work, "two");
    assert_eq!(again["unchanged"], true, "{again}");
    // A damaged bundle at the destination is not "up to date": it is written again.
    std::fs::write(work.join("two/edge-1.0.tar"), &two[..two.len() / 2]).unwrap();
    let repaired = locked_build(work, "two");
    assert_eq!(repaired["unchanged"], false, "{repaired}");
    assert!(std::fs::read(work.join("two/edge-1.0.tar")).unwrap() == one);
}

#[test]
fn locked_build_refuses_a_manifest_edited_after_locking() {
    let site = Site::new();
    let work = site.work();
    site.manifest("linux/amd64", &IMAGES[..1]);
    outpost_ok(work, &["lock", "edge.yaml"]);
    site.manifest("linux/amd64", &IMAGES[..2]);
    let stderr = outpost_fails(work, &["bundle", "build", "edge.yaml", "--locked"], 2);
    assert!(stderr.contains("lockfile edge.lock is stale"), "{stderr}");
    assert!(stderr.contains("run `outpost lock`"), "{stderr}");
    assert!(!work.join("bundles/edge-1.0.tar").exists());
}

#[test]
fn a_platform_the_image_lacks_is_named_with_what_it_has() {
    let site = Site::new();
    let work = site.work();
    site.manifest("linux/amd64, linux/s390x", &["library/multi:1"]);
    let stderr = outpost_fails(work, &["lock", "edge.yaml"], 2);
    assert!(
        stderr.contains("registry.test/library/multi:1: no manifest for platform linux/s390x; the image has linux/amd64, linux/arm64"),
        "{stderr}"
    );
    site.manifest("linux/arm64", &["library/alpha:1"]);
    let stderr = outpost_fails(work, &["lock", "edge.yaml"], 2);
    assert!(stderr.contains("registry.test/library/alpha:1: no manifest for platform linux/arm64; the image has only linux/amd64"), "{stderr}");
}

#[test]
fn both_platforms_of_a_multi_arch_image_are_carried() {
    let site = Site::new();
    let work = site.work();
    site.manifest("linux/amd64, linux/arm64", &["library/multi:1"]);
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    outpost_ok(work, &["bundle", "verify", "bundles/edge-1.0.tar"]);
    // skopeo --all copies the whole index: both platform manifests must be in the bundle.
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--all",
        &format!(
            "oci-archive:{}:registry.test/library/multi:1",
            work.join("bundles/edge-1.0.tar").display()
        ),
        &format!("oci:{}", work.join("all").display()),
    ]));
    let inspected = outpost_ok(work, &["bundle", "inspect", "bundles/edge-1.0.tar"]);
    assert!(inspected.contains("linux/amd64,linux/arm64"), "{inspected}");
}
