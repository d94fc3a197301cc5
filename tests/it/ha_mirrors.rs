//! Mirrors as one: two `serve` instances on the same site store (and a third on the bundle
//! it was loaded from) report the same release on `/healthz` and answer every manifest, tag list, catalog and referrers request with the
//! same bytes and headers (the `Date` aside); a real containerd 1.6 given both mirrors in its
//! `hosts.toml` pulls from the second when the first is stopped before the pull or dies in
//! the middle of a layer, and over TLS a tag the bundle lacks ends in the mirrors' own "not
//! found" with every request carrying `ns=`.

use crate::common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The text `outpost config containerd --mirror A --mirror B [--ca CA]` must write for
/// `registry`: the first mirror as `server`, then one `[host]` per mirror in order, the CA
/// on every entry.
fn hosts_toml(registry: &str, mirrors: &[&str], ca: Option<&str>) -> String {
    let ca_line = |indent: &str| {
        ca.map(|ca| format!("{indent}ca = \"{ca}\"\n"))
            .unwrap_or_default()
    };
    let mut text = format!(
        "# Written by `outpost config containerd`: pull {registry} images from the site mirror only.\n\
         server = \"{}\"\ncapabilities = [\"pull\", \"resolve\"]\n{}",
        mirrors[0],
        ca_line("")
    );
    for mirror in mirrors {
        text.push_str(&format!(
            "\n[host.\"{mirror}\"]\n  capabilities = [\"pull\", \"resolve\"]\n{}",
            ca_line("  ")
        ));
    }
    text
}

/// Writes `work/DIR/registry.test/hosts.toml` with `outpost config containerd`, one
/// `--mirror` per mirror (first tried first), and checks the file is the expected text.
fn two_mirror_hosts(work: &Path, bundle: &Path, dir: &str, mirrors: &[&str], ca: Option<&str>) {
    let mut extra = vec!["--out", dir];
    for mirror in &mirrors[1..] {
        extra.extend(["--mirror", mirror]);
    }
    if let Some(ca) = ca {
        extra.extend(["--ca", ca]);
    }
    let _ = std::fs::remove_dir_all(work.join(dir));
    outpost_ok(
        work,
        &config_args("containerd", mirrors[0], bundle.to_str().unwrap(), &extra),
    );
    let written = std::fs::read_to_string(work.join(dir).join("registry.test/hosts.toml")).unwrap();
    assert_eq!(written, hosts_toml("registry.test", mirrors, ca));
}

/// A private containerd under a short directory in /tmp (the socket path must be short).
fn containerd() -> (tempfile::TempDir, Containerd) {
    let dir = tempfile::Builder::new()
        .prefix("ctd")
        .tempdir_in("/tmp")
        .unwrap();
    let containerd = Containerd::start(dir.path());
    (dir, containerd)
}

/// The status line and headers of a reply, without `Date`.
fn head_without_date(reply: &Reply) -> String {
    reply
        .headers
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that `path` answers the same status, headers (Date aside) and body on every
/// server, for GET and HEAD; returns the GET reply of the first.
fn same_everywhere(servers: &[&Server], path: &str) -> Reply {
    let mut first_get = None;
    for method in ["GET", "HEAD"] {
        let replies: Vec<Reply> = servers
            .iter()
            .map(|s| http(method, &format!("{}{path}", s.url()), &[]))
            .collect();
        for reply in &replies[1..] {
            assert_eq!(
                head_without_date(reply),
                head_without_date(&replies[0]),
                "{method} {path}"
            );
            // (`curl -I` writes the head where the body goes: HEAD has only headers.)
            if method == "GET" {
                assert_eq!(reply.body, replies[0].body, "{method} {path}");
            }
        }
        if method == "GET" {
            first_get = replies.into_iter().next();
        }
    }
    first_get.unwrap()
}

#[test]
fn instances_on_one_store_or_bundle_answer_identically() {
    let site = Site::new();
    let work = site.work();
    let images = ["library/alpha:1", "team/beta:1", "library/multi:1"];
    let bundle = site.build("linux/amd64", &images);
    outpost_ok(work, &["load", bundle.to_str().unwrap(), "--store", "site"]);
    let a = Server::start(work, &["--store", "site"]);
    std::thread::sleep(Duration::from_millis(1100));
    let b = Server::start(work, &["--store", "site"]);
    // A third serves the bundle file itself: the same release, so the same answers.
    let c = Server::start(work, &[bundle.to_str().unwrap()]);
    let servers = [&a, &b, &c];

    // /healthz: JSON naming the one release by its index digest, the same on both.
    let stored = json(&outpost_ok(
        work,
        &["store", "list", "--store", "site", "--json"],
    ));
    let index = stored["releases"][0]["indexDigest"].as_str().unwrap();
    let health: Vec<serde_json::Value> = servers
        .iter()
        .map(|s| {
            let reply = http("GET", &format!("{}/healthz", s.url()), &[]);
            assert_eq!(
                reply.header("content-type").as_deref(),
                Some("application/json")
            );
            json(&reply.text())
        })
        .collect();
    for h in &health {
        assert_eq!(h["status"], "ok", "{h}");
        assert_eq!(
            h["releases"],
            serde_json::json!([{"name": "edge", "version": "1.0", "index": index}]),
            "{h}"
        );
        assert!(h["uptime_seconds"].is_u64(), "{h}");
    }

    // Every manifest, by tag and by digest (an index's carried platform manifest included), the tag
    // lists, the catalog and the referrers: same bytes, same headers.
    same_everywhere(&servers, "/v2/_catalog");
    let pinned = pins(work, "edge.lock");
    assert_eq!(pinned.len(), images.len());
    let mut digests = Vec::new();
    for (reference, digest) in &pinned {
        let (name, tag) = reference.rsplit_once(':').unwrap();
        let tags = same_everywhere(&servers, &format!("/v2/{name}/tags/list"));
        assert_eq!(json(&tags.text())["tags"], serde_json::json!([tag]));
        same_everywhere(&servers, &format!("/v2/{name}/tags/list?n=1"));
        let by_tag = same_everywhere(&servers, &format!("/v2/{name}/manifests/{tag}"));
        assert_eq!(by_tag.status, 200, "{reference}");
        assert_eq!(
            by_tag.header("etag").as_deref(),
            Some(format!("\"{digest}\"").as_str())
        );
        digests.push((name.to_string(), digest.clone()));
        let top = json(&by_tag.text());
        // The bundle carries the linux/amd64 manifest of an index.
        let carried = top["manifests"].as_array().into_iter().flatten();
        for child in carried.filter(|c| c["platform"]["architecture"] == "amd64") {
            digests.push((name.to_string(), child["digest"].as_str().unwrap().into()));
        }
        same_everywhere(&servers, &format!("/v2/{name}/referrers/{digest}"));
    }
    assert!(
        digests.len() > pinned.len(),
        "the index has platform entries"
    );
    for (name, digest) in &digests {
        let reply = same_everywhere(&servers, &format!("/v2/{name}/manifests/{digest}"));
        assert_eq!(reply.status, 200, "{name}@{digest}");
        assert_eq!(sha256_file_bytes(&reply.body), *digest);
        // A client holding the manifest (its ETag) is told it has not changed, by either.
        for server in servers {
            let url = format!("{}/v2/{name}/manifests/{digest}", server.url());
            let cached = http(
                "GET",
                &url,
                &["-H", &format!("If-None-Match: \"{digest}\"")],
            );
            assert_eq!(cached.status, 304, "{url}");
            assert!(cached.body.is_empty());
        }
    }

    // Blobs carry the digest as a strong ETag and answer If-None-Match alike.
    let layer = site.image("library/alpha:1").layer_digests()[0].clone();
    let path = format!("/v2/registry.test/library/alpha/blobs/{layer}");
    let blob = same_everywhere(&servers, &path);
    assert_eq!(
        blob.header("etag").as_deref(),
        Some(format!("\"{layer}\"").as_str())
    );
    let cached = http(
        "GET",
        &format!("{}{path}", b.url()),
        &["-H", &format!("If-None-Match: W/\"{layer}\"")],
    );
    assert_eq!(cached.status, 304);
}

/// `sha256:<hex>` of `bytes`.
fn sha256_file_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

#[test]
fn containerd_pulls_from_the_second_mirror_when_the_first_is_stopped() {
    let site = Site::new();
    let work = site.work();
    let bundle = site.build("linux/amd64", &["library/alpha:1", "team/beta:1"]);
    let a = Server::start(work, &[bundle.to_str().unwrap()]);
    let b = Server::start(work, &[bundle.to_str().unwrap()]);
    two_mirror_hosts(work, &bundle, "certs", &[&a.url(), &b.url()], None);
    let (_dir, containerd) = containerd();
    let certs = work.join("certs");

    // Both up: the first mirror serves.
    containerd.pull(&certs, "registry.test/library/alpha:1");
    assert!(a
        .log()
        .contains("/v2/library/alpha/manifests/1?ns=registry.test"));

    // The first mirror stopped before the pull: the second serves all of it.
    assert!(a.terminate());
    containerd.pull(&certs, "registry.test/team/beta:1");
    assert_eq!(
        containerd.image_digest("registry.test/team/beta:1"),
        pinned_digest(work, "edge.lock", "registry.test/team/beta:1")
    );
    let log = b.log();
    assert!(
        log.contains("/v2/team/beta/manifests/1?ns=registry.test"),
        "{log}"
    );
    // beta's own layer (the base it shares with alpha is already held) came from B.
    let held = site.image("library/alpha:1").layer_digests();
    for layer in site.image("team/beta:1").layer_digests() {
        assert!(containerd.has_content(&layer), "{layer}");
        if !held.contains(&layer) {
            assert!(log.contains(&format!("/blobs/{layer}")), "{layer}: {log}");
        }
    }
}

/// A proxy in front of a mirror that, on the first blob response larger than `cut_after`
/// bytes, sends that many bytes of it, SIGKILLs the mirror, closes the connection and stops
/// listening: to its clients the mirror died in the middle of a layer. Every request before
/// goes through whole.
struct DiesMidBlob {
    port: u16,
    /// The digest of the blob whose response was cut, once it was.
    cut: Arc<Mutex<Option<String>>>,
}

impl DiesMidBlob {
    fn start(upstream: u16, upstream_pid: u32, cut_after: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let dead = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(Mutex::new(None));
        let (dead_loop, cut_loop) = (dead.clone(), cut.clone());
        std::thread::spawn(move || {
            // Accept until the mirror is dead; dropping the listener then refuses connections.
            while !dead_loop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (dead, cut) = (dead_loop.clone(), cut_loop.clone());
                        std::thread::spawn(move || {
                            let _ = relay(client, upstream, upstream_pid, cut_after, &dead, &cut);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        DiesMidBlob { port, cut }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// One request from `client` to the mirror, and its response back (cut as described).
fn relay(
    mut client: TcpStream,
    upstream: u16,
    upstream_pid: u32,
    cut_after: usize,
    dead: &AtomicBool,
    cut: &Mutex<Option<String>>,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        request.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    let lines: Vec<&str> = text
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let is_blob = lines[0].starts_with("GET ") && lines[0].contains("/blobs/sha256:");
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n")).as_bytes())?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |p| p + 4);
    if is_blob && response.len() - split > cut_after && !dead.swap(true, Ordering::SeqCst) {
        let digest = lines[0].split("/blobs/").nth(1).unwrap_or_default();
        let digest = digest.split(['?', ' ']).next().unwrap_or_default();
        *cut.lock().unwrap() = Some(digest.to_string());
        client.write_all(&response[..split + cut_after])?;
        client.flush()?;
        let _ = Command::new("kill")
            .args(["-KILL", &upstream_pid.to_string()])
            .status();
        return client.shutdown(std::net::Shutdown::Both);
    }
    client.write_all(&response)?;
    client.shutdown(std::net::Shutdown::Both)
}

#[test]
fn containerd_pulls_from_the_second_mirror_when_the_first_dies_mid_layer() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    // One image of two 6 MiB layers: a layer is cut at 1 MiB.
    seed_set(
        &registry,
        &work.join("layouts"),
        &[
            "--set",
            "bench",
            "--count",
            "1",
            "--base-mib",
            "6",
            "--layer-mib",
            "6",
        ],
        None,
    );
    keys(work);
    write_manifest(
        work,
        "edge.yaml",
        "linux/amd64",
        &["bench/app0:1"],
        registry.port,
    );
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    drop(registry);
    let bundle = work.join("bundles/edge-1.0.tar");

    let a = Server::start(work, &[bundle.to_str().unwrap()]);
    let b = Server::start(work, &[bundle.to_str().unwrap()]);
    let dying = DiesMidBlob::start(a.port, a.pid(), 1 << 20);
    two_mirror_hosts(work, &bundle, "certs", &[&dying.url(), &b.url()], None);
    let (_ctd, containerd) = containerd();

    containerd.pull(&work.join("certs"), "registry.test/bench/app0:1");
    let cut = dying.cut.lock().unwrap().clone().expect("no layer was cut");
    assert_eq!(
        containerd.image_digest("registry.test/bench/app0:1"),
        pinned_digest(work, "edge.lock", "registry.test/bench/app0:1")
    );
    // The first mirror answered the manifest and died in a layer; the second sent blobs.
    assert!(a
        .log()
        .contains("/v2/bench/app0/manifests/1?ns=registry.test"));
    let log = b.log();
    assert!(
        log.contains(&format!("/blobs/{cut}?ns=registry.test")),
        "{cut}: {log}"
    );
    assert!(containerd.has_content(&cut));
    assert!(TcpStream::connect(("127.0.0.1", dying.port)).is_err());
}

#[test]
fn containerd_over_tls_through_two_mirrors_ends_a_missing_tag_in_not_found() {
    let site = Site::new();
    let work = site.work();
    let bundle = site.build("linux/amd64", &["library/alpha:1", "team/beta:1"]);
    // Both mirrors get certificates from the one site CA in `state/`.
    let a = Server::start_tls_auto(work, &bundle);
    let b = Server::start_tls_auto(work, &bundle);
    let ca = work.join("state/ca.crt").display().to_string();
    two_mirror_hosts(work, &bundle, "certs", &[&a.url(), &b.url()], Some(&ca));
    let (_dir, containerd) = containerd();
    let certs = work.join("certs");

    let missing = containerd
        .pull_command(&certs, "registry.test/library/alpha:missing")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success(), "{stderr}");
    assert!(
        stderr.contains("registry.test/library/alpha:missing: not found"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("x509") && !stderr.contains("certificate"),
        "{stderr}"
    );
    // Each entry asked once, every time with `ns=`: the first mirror as its [host] entry
    // and as `server`, the second as its [host] entry. Nothing went without `ns=`.
    let (log_a, log_b) = (a.log(), b.log());
    for (log, expected) in [(&log_a, 2), (&log_b, 1)] {
        let asked: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("/manifests/missing"))
            .collect();
        assert_eq!(asked.len(), expected, "{log}");
        assert!(
            asked
                .iter()
                .all(|l| l.contains("/v2/library/alpha/manifests/missing?ns=registry.test")),
            "{log}"
        );
    }

    // A tag the bundle holds comes from the first mirror; with it stopped, from the second.
    containerd.pull(&certs, "registry.test/library/alpha:1");
    assert!(a.terminate());
    containerd.pull(&certs, "registry.test/team/beta:1");
    assert_eq!(
        containerd.image_digest("registry.test/team/beta:1"),
        pinned_digest(work, "edge.lock", "registry.test/team/beta:1")
    );
    assert!(b
        .log()
        .contains("/v2/team/beta/manifests/1?ns=registry.test"));
}
