//! Attack suite, server side: hostile requests against `outpost serve`. Each gets a clean
//! 4xx (or is dropped), never a panic or a 5xx; nothing outside the bundle is served; the
//! server keeps answering other clients, and its memory stays bounded.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const MANIFEST: &str = "/v2/registry.test/library/alpha/manifests/1";

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// A raw HTTP/1.1 GET (no client-side normalisation); the status and the whole response.
fn get(addr: &str, path: &str, extra: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let status = String::from_utf8_lossy(&response[..response.len().min(12)])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// A running server on a bundle of alpha (two layers) and multi, with its starting RSS.
struct Target {
    site: Site,
    server: Server,
    rss_before: u64,
}

impl Target {
    fn start() -> Self {
        let site = Site::new();
        let bundle = site.build("linux/amd64", &["library/alpha:1", "library/multi:1"]);
        let server = Server::start(site.work(), &[bundle.to_str().unwrap()]);
        assert_eq!(get(&server.addr(), MANIFEST, "").0, 200);
        let rss_before = rss_kib(server.pid());
        Target {
            site,
            server,
            rss_before,
        }
    }

    fn addr(&self) -> String {
        self.server.addr()
    }

    fn blob_path(&self) -> String {
        let layer = self.site.image("library/alpha:1").layer_digests()[0].clone();
        format!("/v2/registry.test/library/alpha/blobs/{layer}")
    }

    /// Still serving, no panic logged, memory bounded, clean shutdown.
    fn assert_unharmed(self) {
        assert_eq!(get(&self.addr(), MANIFEST, "").0, 200);
        let (status, body) = get(&self.addr(), &self.blob_path(), "");
        assert_eq!(status, 200);
        assert!(body.len() > 1000);
        assert_eq!(
            http("GET", &format!("{}/healthz", self.server.url()), &[]).text(),
            "ok\n"
        );
        let after = rss_kib(self.server.pid());
        assert!(
            after < self.rss_before + 64 * 1024,
            "RSS grew from {} KiB to {after} KiB",
            self.rss_before
        );
        let log = self.server.log();
        assert!(!log.contains("panicked"), "{log}");
        assert!(
            self.server.terminate(),
            "the server did not shut down cleanly"
        );
    }
}

/// Traversal attempts under `prefix`: plain, percent-encoded, double-encoded, backslashes,
/// empty segments. Each is refused with 400 or 404, and no answer carries a host file.
fn traversal_refused(target: &Target, prefix: &str) {
    let attempts = [
        "../../../../etc/passwd",
        "dl.k8s.io/../../../../etc/passwd",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "%252e%252e/%252e%252e/etc/passwd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "..%5c..%5cetc%5cpasswd",
        "dl.k8s.io//etc/passwd",
        "/etc/passwd",
        "./././../etc/passwd",
        "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    ];
    for attempt in attempts {
        let (status, body) = get(&target.addr(), &format!("{prefix}{attempt}"), "");
        assert!(
            status == 400 || status == 404,
            "{prefix}{attempt}: {status}"
        );
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("root:"),
            "{prefix}{attempt} leaked a host file"
        );
    }
    // The refusals are precise: a plain `..` is a 400, not a miss.
    assert_eq!(
        get(&target.addr(), &format!("{prefix}../etc/passwd"), "").0,
        400
    );
}

#[test]
fn path_traversal_on_files_is_refused() {
    let target = Target::start();
    traversal_refused(&target, "/files/");
    target.assert_unharmed();
}

#[test]
fn path_traversal_on_apt_is_refused() {
    let target = Target::start();
    traversal_refused(&target, "/apt/");
    traversal_refused(&target, "/apt/edge/dists/");
    target.assert_unharmed();
}

#[test]
fn invalid_digests_are_refused() {
    let target = Target::start();
    let base = "/v2/registry.test/library/alpha";
    let digests = [
        "sha256:xyz".to_string(),
        format!("sha256:{}", "A".repeat(64)),
        format!("sha256:{}", "a".repeat(63)),
        format!("sha256:{}", "a".repeat(65)),
        format!("sha512:{}", "a".repeat(128)),
        "sha256:".to_string(),
        ":".to_string(),
        format!("sha256:{}", "a".repeat(100_000)),
        "sha256:%2e%2e%2f%2e%2e".to_string(),
    ];
    for digest in &digests {
        for kind in ["blobs", "manifests"] {
            let (status, body) = get(&target.addr(), &format!("{base}/{kind}/{digest}"), "");
            let text = String::from_utf8_lossy(&body);
            assert!(
                (400..500).contains(&status),
                "{kind}/{}: {status}",
                &digest[..digest.len().min(80)]
            );
            if kind == "blobs" && status != 431 && status != 414 {
                assert!(
                    text.contains("DIGEST_INVALID") || text.contains("BLOB_UNKNOWN"),
                    "{}: {text}",
                    &digest[..digest.len().min(80)]
                );
            }
        }
    }
    target.assert_unharmed();
}

#[test]
fn giant_headers_are_refused() {
    let target = Target::start();
    for size in [64 * 1024, 200 * 1024, 4 << 20] {
        let mut stream = TcpStream::connect(target.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let huge = "x".repeat(size);
        let _ = write!(
            stream,
            "GET {MANIFEST} HTTP/1.1\r\nHost: x\r\nX-Huge: {huge}\r\n\r\n"
        );
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let head = String::from_utf8_lossy(&answer[..answer.len().min(12)]).to_string();
        assert!(
            answer.is_empty() || head.contains(" 4"),
            "a {size}-byte header was answered {head:?}"
        );
    }
    // Many headers, each small.
    let many: String = (0..5000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, _) = get(&target.addr(), MANIFEST, &many);
    assert!(status == 0 || (400..500).contains(&status), "{status}");
    target.assert_unharmed();
}

#[test]
fn slowloris_clients_do_not_block_others() {
    let target = Target::start();
    let mut stalled = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(target.addr()).unwrap();
        stream
            .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        stalled.push(stream);
    }
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(get(&target.addr(), MANIFEST, "").0, 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a normal client waited {:?} behind slow ones",
            started.elapsed()
        );
    }
    // One byte at a time keeps a connection open no longer than the header deadline.
    drop(stalled);
    target.assert_unharmed();
}

#[test]
fn a_thousand_concurrent_connections_are_served() {
    let target = Target::start();
    let addr = target.addr();
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || get(&addr, MANIFEST, "").0)
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{} of 1000 concurrent clients did not get 200",
        statuses.iter().filter(|s| **s != 200).count()
    );
    target.assert_unharmed();
}

#[test]
fn clients_disconnecting_mid_blob_do_not_hurt_the_server() {
    let target = Target::start();
    let blob = target.blob_path();
    for i in 0..200 {
        let mut stream = TcpStream::connect(target.addr()).unwrap();
        write!(stream, "GET {blob} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut some = [0u8; 600];
        let _ = stream.read(&mut some);
        if i % 2 == 0 {
            // Half of them half-close first, the others just vanish.
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    target.assert_unharmed();
}

#[test]
fn overlapping_and_overflowing_ranges_get_clean_answers() {
    let target = Target::start();
    let blob = target.blob_path();
    let (_, whole) = get(&target.addr(), &blob, "");
    let cases = [
        "bytes=0-10,5-20",
        "bytes=0-,0-",
        "bytes=100-50",
        "bytes=99999999999999999999999-",
        "bytes=-99999999999999999999999",
        "bytes=18446744073709551615-18446744073709551615",
        "bytes=0-18446744073709551615",
        "bytes=-0",
        "bytes=",
        "bytes=a-b",
        "items=0-10",
        "bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21",
    ];
    for range in cases {
        let (status, response) = get(&target.addr(), &blob, &format!("Range: {range}\r\n"));
        assert!(
            status == 200 || status == 206 || status == 416,
            "Range {range}: {status}"
        );
        if status == 200 {
            assert_eq!(
                response.len(),
                whole.len(),
                "Range {range}: not the whole blob"
            );
        }
    }
    target.assert_unharmed();
}
