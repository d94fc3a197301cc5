//! The site dashboard `/ui/` of `outpost serve`, loaded by headless Chromium (`--dump-dom`):
//! a site store with two releases lists both with their index digests and image, file and
//! package counts; the release page lists every image reference; `?q=` narrows the list; a
//! file URL carrying `<script>` from the bundle is shown as text, not run; `--ui=false`
//! answers 404.

use crate::common::*;
use std::path::Path;
use std::process::Command;

/// The DOM Chromium builds for `url` (no JavaScript runs in the page: there is none).
fn dump_dom(work: &Path, url: &str) -> String {
    require("chromium");
    let profile = tempfile::tempdir_in(work).unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of the `<td class="{class}">` cells in the table row that mentions `needle`.
fn cell(dom: &str, needle: &str, class: &str) -> String {
    let row = dom
        .split("<tr")
        .find(|row| row.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle} in {dom}"));
    let start = row
        .find(&format!("class=\"{class}\">"))
        .unwrap_or_else(|| panic!("no {class} cell in {row}"))
        + class.len()
        + 9;
    row[start..].split('<').next().unwrap_or("").to_string()
}

const HOSTILE: &str = "x=<script>alert(1)</script>";

/// A Debian repository with two packages, served on loopback.
fn package_repo(work: &Path) -> StaticServer {
    let root = work.join("archive");
    let debs = build_debs(
        &root,
        &[
            TestDeb::new("site-tool", "1.0", "amd64", "Depends: site-lib\n"),
            TestDeb::new("site-lib", "2.1", "amd64", ""),
        ],
        Some("amd64"),
    );
    write_signed_indexes(
        work,
        &root.join("dists/stable"),
        &as_refs(&packages_files("main/binary-amd64/", &debs)),
        ReleaseSignature::InRelease,
    );
    StaticServer::start(root)
}

#[test]
fn dashboard_in_headless_chromium() {
    require("chromium");
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let bench = |out: &str, extra: &[&str]| {
        let mut args = vec!["--set", "bench", "--base-mib", "1", "--layer-mib", "1"];
        args.extend_from_slice(extra);
        seed_set(&registry, &work.join(out), &args, None)
    };
    bench("layouts1", &["--count", "3"]);
    bench(
        "layouts2",
        &["--count", "2", "--first", "1", "--seed", "r2", "--tag", "2"],
    );
    keys(work);
    let repo = package_repo(work);
    std::fs::create_dir_all(work.join("up")).unwrap();
    std::fs::write(work.join("up/tool.bin"), b"a site tool\n").unwrap();
    let files = StaticServer::start(work.join("up"));

    // Release 1.0: three images, one file whose URL carries markup, two packages.
    let images = |list: &[&str]| {
        list.iter()
            .map(|i| format!("    - registry.test/{i}\n"))
            .collect::<String>()
    };
    let release1 = format!(
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  images:\n{}  files:\n    - url: \"http://files.test/tool.bin?{HOSTILE}\"\n      insecure: true\n  packages:\n    apt:\n      - url: http://127.0.0.1:{}\n        suite: stable\n        components: [main]\n        keyring: {}\n        packages: [site-tool]\n  upstreams: {{registry.test: \"http://127.0.0.1:{}\", files.test: \"http://127.0.0.1:{}\"}}\n",
        images(&["bench/app0:1", "bench/app1:1", "bench/app2:1"]),
        repo.port,
        work.join("keys/outpost-apt.gpg").display(),
        registry.port,
        files.port,
    );
    std::fs::write(work.join("edge-1.0.yaml"), release1).unwrap();
    outpost_ok(
        work,
        &["bundle", "build", "edge-1.0.yaml", "--out", "bundles"],
    );
    // Release 2.0: three images, nothing else.
    write_release(
        work,
        "edge-2.0.yaml",
        "2.0",
        "linux/amd64",
        &["bench/app0:1", "bench/app1:2", "bench/app2:2"],
        registry.port,
    );
    outpost_ok(
        work,
        &["bundle", "build", "edge-2.0.yaml", "--out", "bundles"],
    );
    outpost_ok(work, &["load", "bundles/edge-1.0.tar", "--store", "site"]);
    outpost_ok(work, &["load", "bundles/edge-2.0.tar", "--store", "site"]);
    let index = |bundle: &str| {
        json(&outpost_ok(work, &["bundle", "inspect", bundle, "--json"]))["index_digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (index1, index2) = (index("bundles/edge-1.0.tar"), index("bundles/edge-2.0.tar"));

    let server = Server::start(work, &["--store", "site"]);
    let base = server.url();

    // The releases page: both releases, their digests and counts.
    let dom = dump_dom(work, &format!("{base}/ui/"));
    for (version, digest, images, files, packages) in [
        ("1.0", &index1, "3", "1", "2"),
        ("2.0", &index2, "3", "0", "0"),
    ] {
        let name = format!("edge {version}");
        assert!(dom.contains(digest.as_str()), "{digest} missing: {dom}");
        assert_eq!(cell(&dom, &name, "num images"), images, "{name}");
        assert_eq!(cell(&dom, &name, "num files"), files, "{name}");
        assert_eq!(cell(&dom, &name, "num packages"), packages, "{name}");
    }
    assert!(dom.contains("signature verified"), "{dom}");

    // One release: every image reference, the packages, the file's URL as text.
    let dom = dump_dom(work, &format!("{base}/ui/release/edge/1.0"));
    for reference in ["bench/app0:1", "bench/app1:1", "bench/app2:1"] {
        assert!(
            dom.contains(&format!(
                "<td class=\"reference\">registry.test/{reference}</td>"
            )),
            "{reference} missing: {dom}"
        );
    }
    assert!(
        dom.contains("site-tool") && dom.contains("site-lib"),
        "{dom}"
    );
    // The hostile text is there, escaped; no script element was injected.
    assert!(
        dom.contains("x=&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dom}"
    );
    assert!(!dom.contains("<script"), "{dom}");
    // The page links the release's SBOM: CycloneDX with every image's purl.
    let link = "/ui/release/edge/1.0/sbom.cdx.json";
    assert!(dom.contains(&format!("href=\"{link}\"")), "{dom}");
    let reply = http("GET", &format!("{base}{link}"), &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Type").as_deref(),
        Some("application/vnd.cyclonedx+json")
    );
    let sbom: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(sbom["specVersion"], "1.5");
    let purls: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    for app in ["app0", "app1", "app2"] {
        assert!(
            purls
                .iter()
                .any(|p| p.starts_with(&format!("pkg:oci/{app}@sha256"))),
            "{app}: {purls:?}"
        );
    }
    let dom = dump_dom(work, &format!("{base}/ui/release/edge/2.0"));
    for reference in ["bench/app0:1", "bench/app1:2", "bench/app2:2"] {
        assert!(
            dom.contains(&format!("registry.test/{reference}<")),
            "{dom}"
        );
    }

    // A filter narrows the lists.
    let dom = dump_dom(work, &format!("{base}/ui/release/edge/2.0?q=app1"));
    assert!(dom.contains("registry.test/bench/app1:2<"), "{dom}");
    assert!(!dom.contains("registry.test/bench/app0:1<"), "{dom}");
    assert!(!dom.contains("registry.test/bench/app2:2<"), "{dom}");
    let dom = dump_dom(work, &format!("{base}/ui/?q=no-such-release"));
    assert!(!dom.contains(index1.as_str()), "{dom}");

    // Health: requests by route (the dashboard's own are counted as `ui`), disk free.
    let dom = dump_dom(work, &format!("{base}/ui/health"));
    assert!(dom.contains("<td>ui</td>"), "{dom}");
    assert!(dom.contains("Disk free under the store"), "{dom}");
    assert!(!dom.contains("no store served"), "{dom}");
    drop(server);

    // Served straight from a bundle file: the same release, the same counts.
    let server = Server::start(work, &["bundles/edge-1.0.tar"]);
    let dom = dump_dom(work, &format!("{}/ui/", server.url()));
    assert!(dom.contains(index1.as_str()), "{dom}");
    assert!(!dom.contains(index2.as_str()), "{dom}");
    let dom = dump_dom(work, &format!("{}/ui/release/edge/1.0", server.url()));
    assert!(dom.contains("registry.test/bench/app2:1"), "{dom}");
    drop(server);

    // --ui=false: the dashboard is gone.
    let server = Server::start(work, &["--store", "site", "--ui=false"]);
    let reply = http("GET", &format!("{}/ui/", server.url()), &[]);
    assert_eq!(reply.status, 404);
}
