//! `serve --audit-log`: a known set of requests (skopeo pulling two images, curl HEADs, a
//! `/files` GET, a 404) leaves exactly one JSON line per request, each pull line with the
//! digest the tag resolved to and `pull: true` once per image pulled; a full disk under the
//! audit log does not stop serving and shows in `/metrics`.

use crate::common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const IMAGES: [&str; 2] = ["library/alpha:1", "team/beta:1"];

/// Builds `edge.yaml` with `IMAGES` and one file (`files.test/tool`); returns the bundle.
fn build_with_file(site: &Site) -> std::path::PathBuf {
    let work = site.work();
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("tool"), b"tool bytes").unwrap();
    let upstream = StaticServer::start(files.path().to_path_buf());
    let images: Vec<String> = IMAGES
        .iter()
        .map(|i| format!("registry.test/{i}"))
        .collect();
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  images: [{}]\n  files:\n    - url: http://files.test/tool\n      checksum: {{sha256: {}}}\n  upstreams: {{registry.test: \"http://127.0.0.1:{}\", files.test: \"http://127.0.0.1:{}\"}}\n",
            images.join(", "),
            sha256_hex(b"tool bytes"),
            site.registry.port,
            upstream.port
        ),
    )
    .unwrap();
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    work.join("bundles/edge-1.0.tar")
}

/// The audit log's lines, parsed (every one must be JSON).
fn audit_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Waits (up to 10 s) until the audit log holds at least `count` lines, then a moment more
/// so that a line too many would show; returns them.
fn wait_for_lines(path: &Path, count: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while audit_lines(path).len() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    audit_lines(path)
}

/// The value of metric `name` (summed over its labels) in a `/metrics` text.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.split(['{', ' ']).next() == Some(name))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn the_audit_log_has_one_line_per_request_with_the_resolved_digest() {
    require("skopeo");
    require("curl");
    let site = Site::new();
    let work = site.work();
    let bundle = build_with_file(&site);
    let log = work.join("audit.log");
    let server = Server::start(
        work,
        &[
            bundle.to_str().unwrap(),
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    let pinned = pins(work, "edge.lock");
    assert_eq!(pinned.len(), 2);

    // skopeo copies both images; curl HEADs both manifests, GETs a file and a missing image.
    pull_all(&server, work, &pinned);
    for (reference, digest) in &pinned {
        let (name, tag) = reference.rsplit_once(':').unwrap();
        let head = http(
            "HEAD",
            &format!("{}/v2/{name}/manifests/{tag}", server.url()),
            &[],
        );
        assert_eq!(head.status, 200);
        assert_eq!(head.header("docker-content-digest").unwrap(), *digest);
    }
    let file = http(
        "GET",
        &format!("{}/files/files.test/tool", server.url()),
        &[],
    );
    assert_eq!(
        (file.status, file.body.as_slice()),
        (200, &b"tool bytes"[..])
    );
    let missing = http(
        "GET",
        &format!("{}/v2/registry.test/library/nope/manifests/1", server.url()),
        &[],
    );
    assert_eq!(missing.status, 404);

    // One line per request: the server's own count of what it answered (which leaves out
    // the /metrics request reading it) plus that request.
    let metrics = http("GET", &format!("{}/metrics", server.url()), &[]).text();
    let answered = metric(&metrics, "outpost_requests_total") as usize;
    assert!(answered >= 2 + 2 + 2, "{metrics}");
    let lines = wait_for_lines(&log, answered + 1);
    assert_eq!(lines.len(), answered + 1, "{lines:#?}");

    for line in &lines {
        assert_eq!(line["identity"], "anonymous", "{line}");
        assert!(
            line["client"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{line}"
        );
        for field in ["time", "method", "route", "status", "bytes", "ms"] {
            assert!(!line[field].is_null(), "{field} missing: {line}");
        }
    }
    // Each image pulled once: one `pull: true` line each, with the digest its tag resolved to.
    let pulls: Vec<&serde_json::Value> = lines.iter().filter(|l| l["pull"] == true).collect();
    assert_eq!(pulls.len(), pinned.len(), "{pulls:#?}");
    let pulled: BTreeSet<&str> = pulls
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = pinned.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(pulled, expected);
    for line in &pulls {
        assert_eq!(
            (&line["method"], &line["route"], &line["status"]),
            (&"GET".into(), &"manifest".into(), &200.into())
        );
        assert!(line["bytes"].as_u64().unwrap() > 0, "{line}");
    }
    // The HEADs name the repository, tag and digest, and are not pulls.
    let heads: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["method"] == "HEAD" && l["route"] == "manifest")
        .collect();
    assert_eq!(heads.len(), 2, "{heads:#?}");
    for (reference, digest) in &pinned {
        let (name, tag) = reference.rsplit_once(':').unwrap();
        assert!(
            heads.iter().any(|l| l["repository"] == name
                && l["reference"] == tag
                && l["digest"] == digest.as_str()
                && l["bytes"] == 0
                && l.get("pull").is_none()),
            "{reference}: {heads:#?}"
        );
    }
    // Every blob skopeo fetched is logged with its digest and the bytes sent.
    let blobs: Vec<&serde_json::Value> = lines.iter().filter(|l| l["route"] == "blob").collect();
    assert!(!blobs.is_empty());
    for line in &blobs {
        assert!(
            line["digest"].as_str().unwrap().starts_with("sha256:"),
            "{line}"
        );
        assert!(line.get("pull").is_none(), "{line}");
    }
    let files: Vec<&serde_json::Value> = lines.iter().filter(|l| l["route"] == "files").collect();
    assert_eq!(files.len(), 1, "{files:#?}");
    assert_eq!(files[0]["reference"], "files.test/tool");
    assert_eq!(
        (&files[0]["status"], &files[0]["bytes"]),
        (&200.into(), &10.into())
    );
    let not_found: Vec<&serde_json::Value> = lines.iter().filter(|l| l["status"] == 404).collect();
    assert_eq!(not_found.len(), 1, "{not_found:#?}");
    assert_eq!(not_found[0]["repository"], "registry.test/library/nope");

    // /metrics counts what was written, nothing dropped or failed.
    let metrics = http("GET", &format!("{}/metrics", server.url()), &[]).text();
    assert_eq!(
        metric(&metrics, "outpost_audit_lines_total"),
        lines.len() as u64
    );
    assert_eq!(metric(&metrics, "outpost_audit_lines_dropped_total"), 0);
    assert_eq!(metric(&metrics, "outpost_audit_write_errors_total"), 0);
}

#[test]
fn a_full_disk_under_the_audit_log_does_not_stop_serving() {
    require("mount");
    let site = Site::new();
    let work = site.work();
    let bundle = site.build("linux/amd64", &IMAGES);
    let tmpfs = Tmpfs::mount(&work.join("auditfs"), "64k");
    let small = tmpfs.path().to_path_buf();
    let log = small.join("audit.log");
    let server = Server::start(
        work,
        &[
            bundle.to_str().unwrap(),
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    // Fill the filesystem to the last byte.
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(small.join("filler")).unwrap();
        while filler.write_all(&[0u8; 1024]).is_ok() {}
        let _ = filler.write_all(&[0u8; 1]);
    }

    // Keep pulling: every pull succeeds.
    let pinned = pins(work, "edge.lock");
    for round in 0..3 {
        pull_all(&server, work, &pinned);
        for (reference, digest) in &pinned {
            let (name, tag) = reference.rsplit_once(':').unwrap();
            for _ in 0..20 {
                let got = http(
                    "GET",
                    &format!("{}/v2/{name}/manifests/{tag}", server.url()),
                    &[],
                );
                assert_eq!(got.status, 200, "round {round}");
                assert_eq!(format!("sha256:{}", sha256_hex(&got.body)), *digest);
            }
        }
    }
    // The lost lines show in /metrics.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lost = loop {
        let metrics = http("GET", &format!("{}/metrics", server.url()), &[]).text();
        let lost = metric(&metrics, "outpost_audit_write_errors_total")
            + metric(&metrics, "outpost_audit_lines_dropped_total");
        if lost > 0 || Instant::now() > deadline {
            break lost;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(lost > 0, "a full disk was not counted:\n{}", server.log());
    let health = http("GET", &format!("{}/healthz", server.url()), &[]);
    assert_eq!(health.status, 200);
    drop(server);
}
