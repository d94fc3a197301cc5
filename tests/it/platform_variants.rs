//! Platform variants and Windows builds (issue 16, fault 1): the lock pins the entry a node's
//! containerd asks for (the exact variant first, the normalised default next, never the first
//! entry by accident), records the variant and build it carried, fails listing what the index
//! has when no entry serves a request, and the bundle (build, verify, serve) carries exactly
//! what was pinned; a real containerd pulls through the mirror.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// A registry seeded with the `variants` image set, a work directory and a key.
struct Variants {
    registry: Registry,
    seeded: Vec<Seeded>,
    dir: tempfile::TempDir,
}

impl Variants {
    fn new() -> Self {
        let registry = Registry::start();
        let dir = tempfile::tempdir().unwrap();
        let seeded = seed_set(
            &registry,
            &dir.path().join("layouts"),
            &["--set", "variants"],
            None,
        );
        keys(dir.path());
        Variants {
            registry,
            seeded,
            dir,
        }
    }

    fn work(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `edge.yaml` naming `image` (under `registry.test`) for `platforms`.
    fn manifest(&self, platforms: &str, image: &str) {
        write_manifest(
            self.work(),
            "edge.yaml",
            platforms,
            &[image],
            self.registry.port,
        );
    }

    /// The digest of the entry of `image`'s index whose platform is written `platform`
    /// (containerd's `os[(os.version)]/arch[/variant]`), read from the layout it was built in.
    fn entry(&self, image: &str, platform: &str) -> String {
        let seeded = self.seeded.iter().find(|s| s.name == image).unwrap();
        let index = seeded.top_json();
        let written = |p: &Value| {
            let os = match p["os.version"].as_str() {
                Some(build) => format!("{}({build})", p["os"].as_str().unwrap()),
                None => p["os"].as_str().unwrap().to_string(),
            };
            let mut text = format!("{os}/{}", p["architecture"].as_str().unwrap());
            if let Some(variant) = p["variant"].as_str() {
                text.push_str(&format!("/{variant}"));
            }
            text
        };
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| written(&m["platform"]) == platform)
            .unwrap_or_else(|| panic!("{image} has no {platform} entry"))["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `outpost lock edge.yaml`; the (platform, digest) pairs pinned for the one image.
    fn lock(&self) -> Vec<(String, String)> {
        outpost_ok(self.work(), &["lock", "edge.yaml"]);
        let lock = read_json(&self.work().join("edge.lock"));
        lock["images"][0]["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["platform"].as_str().unwrap().to_string(),
                    p["digest"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Builds `bundles/edge-1.0.tar` from the lockfile and verifies it.
    fn build_and_verify(&self) {
        outpost_ok(self.work(), &["bundle", "build", "edge.yaml", "--locked"]);
        outpost_ok(self.work(), &["bundle", "verify", "bundles/edge-1.0.tar"]);
    }
}

/// The status `server` answers for the manifest `digest` of `repository` (under `registry.test`).
fn manifest_status(server: &Server, repository: &str, digest: &str) -> u16 {
    let url = format!(
        "{}/v2/registry.test/{repository}/manifests/{digest}",
        server.url()
    );
    http("GET", &url, &[]).status
}

fn pin(platform: &str, digest: &str) -> (String, String) {
    (platform.to_string(), digest.to_string())
}

#[test]
fn amd64_v2_listed_first_pins_plain_amd64_and_containerd_pulls_it() {
    let site = Variants::new();
    let work = site.work();
    let v2 = site.entry("variants/amd64:1", "linux/amd64/v2");
    let plain = site.entry("variants/amd64:1", "linux/amd64");
    site.manifest("linux/amd64", "variants/amd64:1");
    assert_eq!(site.lock(), [pin("linux/amd64", &plain)]);
    site.build_and_verify();

    let server = Server::start(work, &["bundles/edge-1.0.tar"]);
    assert_eq!(manifest_status(&server, "variants/amd64", &plain), 200);
    assert_eq!(manifest_status(&server, "variants/amd64", &v2), 404);
    outpost_ok(
        work,
        &config_args(
            "containerd",
            &server.url(),
            "bundles/edge-1.0.tar",
            &["--out", "certs.d"],
        ),
    );
    let containerd_dir = tempfile::Builder::new()
        .prefix("ctd")
        .tempdir_in("/tmp")
        .unwrap();
    let containerd = Containerd::start(containerd_dir.path());
    let image = "registry.test/variants/amd64:1";
    containerd.pull_platform(&work.join("certs.d"), "linux/amd64", image);
    assert_eq!(
        containerd.image_digest(image),
        pinned_digest(work, "edge.lock", image)
    );
    assert!(containerd.has_content(&plain));
    let log = server.log();
    assert!(
        log.contains(&format!(
            "/v2/variants/amd64/manifests/{plain}?ns=registry.test"
        )),
        "containerd did not ask outpost for the plain amd64 manifest:\n{log}"
    );
    let asked_for_v2 = log
        .lines()
        .any(|l| l.contains("ns=registry.test") && l.contains(&v2));
    assert!(
        !asked_for_v2,
        "containerd asked for the v2 manifest:\n{log}"
    );
}

#[test]
fn a_lockfile_that_pinned_the_first_entry_listed_is_refused_at_build() {
    // What `lock` wrote before it followed containerd: v2's manifest recorded as linux/amd64.
    let site = Variants::new();
    let work = site.work();
    let v2 = site.entry("variants/amd64:1", "linux/amd64/v2");
    site.manifest("linux/amd64", "variants/amd64:1");
    site.lock();
    let path = work.join("edge.lock");
    let mut lock = read_json(&path);
    let seeded = site
        .seeded
        .iter()
        .find(|s| s.name == "variants/amd64:1")
        .unwrap();
    let v2_size = std::fs::metadata(seeded.layout.join("blobs/sha256").join(&v2[7..]))
        .unwrap()
        .len();
    lock["images"][0]["platforms"][0]["digest"] = Value::from(v2.as_str());
    lock["images"][0]["platforms"][0]["size"] = Value::from(v2_size);
    std::fs::write(&path, serde_json::to_vec_pretty(&lock).unwrap()).unwrap();
    let index = pinned_digest(work, "edge.lock", "registry.test/variants/amd64:1");
    let stderr = outpost_fails(work, &["bundle", "build", "edge.yaml", "--locked"], 2);
    assert_eq!(
        stderr,
        format!("error: registry.test/variants/amd64:1: the lockfile pins linux/amd64 {v2}, which is not what a node asking for those platforms pulls from the index {index} (the lockfile predates outpost's containerd platform matching): run `outpost lock` again\n")
    );
    assert!(!work.join("bundles/edge-1.0.tar").exists());
}

#[test]
fn arm_v7_is_pinned_over_v6_and_recorded_with_its_variant() {
    let site = Variants::new();
    let work = site.work();
    let v6 = site.entry("variants/arm:1", "linux/arm/v6");
    let v7 = site.entry("variants/arm:1", "linux/arm/v7");
    site.manifest("linux/arm/v7", "variants/arm:1");
    assert_eq!(site.lock(), [pin("linux/arm/v7", &v7)]);
    site.build_and_verify();
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    assert_eq!(
        inspected["images"][0]["platforms"],
        serde_json::json!(["linux/arm/v7"])
    );
    let server = Server::start(work, &["bundles/edge-1.0.tar"]);
    assert_eq!(manifest_status(&server, "variants/arm", &v7), 200);
    assert_eq!(manifest_status(&server, "variants/arm", &v6), 404);
    drop(server);

    // Plain `linux/arm` is arm/v7 (containerd's default arm variant); v6 only when asked.
    site.manifest("linux/arm", "variants/arm:1");
    assert_eq!(site.lock(), [pin("linux/arm/v7", &v7)]);
    site.manifest("linux/arm/v6", "variants/arm:1");
    assert_eq!(site.lock(), [pin("linux/arm/v6", &v6)]);
}

#[test]
fn only_amd64_v3_fails_a_plain_amd64_request_listing_what_the_index_has() {
    let site = Variants::new();
    let work = site.work();
    site.manifest("linux/amd64", "variants/v3only:1");
    let stderr = outpost_fails(work, &["lock", "edge.yaml"], 2);
    assert_eq!(
        stderr,
        "error: registry.test/variants/v3only:1: no manifest for platform linux/amd64; the image has linux/amd64/v3 (a node asking for linux/amd64 does not pull linux/amd64/v3: to carry one, name it in spec.platforms)\n"
    );
    assert!(!work.join("edge.lock").exists());

    // Named, it is carried and recorded as what it is.
    let v3 = site.entry("variants/v3only:1", "linux/amd64/v3");
    site.manifest("linux/amd64/v3", "variants/v3only:1");
    assert_eq!(site.lock(), [pin("linux/amd64/v3", &v3)]);
    site.build_and_verify();
}

#[test]
fn windows_carries_every_build_unless_one_is_named() {
    let site = Variants::new();
    let work = site.work();
    let image = "variants/windows:1";
    let ltsc2019 = site.entry(image, "windows(10.0.17763.6189)/amd64");
    let ltsc2022 = site.entry(image, "windows(10.0.20348.2655)/amd64");
    let linux = site.entry(image, "linux/amd64");

    site.manifest("windows/amd64", image);
    assert_eq!(
        site.lock(),
        [
            pin("windows(10.0.17763.6189)/amd64", &ltsc2019),
            pin("windows(10.0.20348.2655)/amd64", &ltsc2022),
        ]
    );
    site.build_and_verify();
    let server = Server::start(work, &["bundles/edge-1.0.tar"]);
    assert_eq!(manifest_status(&server, "variants/windows", &linux), 404);
    // A real client fetches each build whole (manifest, config, layers) from the mirror.
    for build in [&ltsc2019, &ltsc2022] {
        let dest = work.join(format!("pulled-{}", &build[7..19]));
        run_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!(
                "docker://{}/registry.test/{}@{build}",
                server.addr(),
                "variants/windows"
            ),
            &format!("oci:{}", dest.display()),
        ]));
        let copied = read_json(&dest.join("index.json"));
        assert_eq!(copied["manifests"][0]["digest"], build.as_str());
    }
    drop(server);

    // `windows(BUILD)/amd64` (containerd's notation) carries that build only.
    site.manifest("\"windows(10.0.20348)/amd64\"", image);
    assert_eq!(
        site.lock(),
        [pin("windows(10.0.20348.2655)/amd64", &ltsc2022)]
    );
    site.build_and_verify();
    let server = Server::start(work, &["bundles/edge-1.0.tar"]);
    assert_eq!(manifest_status(&server, "variants/windows", &ltsc2022), 200);
    assert_eq!(manifest_status(&server, "variants/windows", &ltsc2019), 404);
}
