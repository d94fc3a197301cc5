//! Attack suite, server side: hostile requests against `outpost serve`. Each gets a clean
//! 4xx (or is dropped), never a panic or a 5xx; nothing outside the bundle is served; the
//! server keeps answering other clients, and its memory stays bounded.

use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const MANIFEST: &str = "/v2/registry.test/library/alpha/manifests/1";

/// Peak resident memory (VmHWM) of a process, KiB.
fn peak_kib(pid: u32) -> u64 {
    memory_kib(pid, "VmHWM")
}

/// A raw HTTP/1.1 GET (no client-side normalisation); the status and the whole response.
fn get(addr: &str, path: &str, extra: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may close before a huge request is fully written (it refuses the head): the
    // write then fails, and the answer, if any, is read below.
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
    );
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let status = String::from_utf8_lossy(&response[..response.len().min(12)])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// A running server on a bundle of alpha (two layers), multi, and bench/app0:1 (a 24 MiB
/// layer, far more than socket buffers hold), with its peak memory after a first request.
struct Target {
    site: Site,
    server: Server,
    rss_before: u64,
}

impl Target {
    fn start() -> Self {
        let site = Site::new();
        seed_set(
            &site.registry,
            &site.work().join("big-layouts"),
            &[
                "--set",
                "bench",
                "--count",
                "1",
                "--base-mib",
                "1",
                "--layer-mib",
                "24",
            ],
            None,
        );
        let bundle = site.build(
            "linux/amd64",
            &["library/alpha:1", "library/multi:1", "bench/app0:1"],
        );
        let server = Server::start(site.work(), &[bundle.to_str().unwrap()]);
        assert_eq!(get(&server.addr(), MANIFEST, "").0, 200);
        let rss_before = peak_kib(server.pid());
        Target {
            site,
            server,
            rss_before,
        }
    }

    /// The 24 MiB layer of bench/app0:1.
    fn big_blob_path(&self) -> String {
        let layers = std::fs::read_dir(self.site.work().join("big-layouts"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .next()
            .unwrap();
        let seeded = Seeded {
            layout: layers,
            name: "bench/app0:1".into(),
        };
        let layer = seeded.layer_digests()[1].clone();
        format!("/v2/registry.test/bench/app0/blobs/{layer}")
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
        let health = json(&http("GET", &format!("{}/healthz", self.server.url()), &[]).text());
        assert_eq!(health["status"], "ok");
        let after = peak_kib(self.server.pid());
        assert!(
            after < self.rss_before + 64 * 1024,
            "peak memory grew from {} KiB to {after} KiB",
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
            // A request line over the 64 KiB head limit may be dropped (status 0) instead.
            assert!(
                (400..500).contains(&status) || (status == 0 && digest.len() > 64 * 1024),
                "{kind}/{}: {status}",
                &digest[..digest.len().min(80)]
            );
            if kind == "blobs" && status != 431 && status != 414 && status != 0 {
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
    // A client dripping its header one byte a second is cut off at the server's header
    // deadline (20 s), like the stalled ones: the server closes, or answers 408.
    let mut drip = TcpStream::connect(target.addr()).unwrap();
    drip.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n").unwrap();
    drip.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(35) {
        if drip.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        let mut answer = [0u8; 64];
        match drip.read(&mut answer) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => {
                let text = String::from_utf8_lossy(&answer[..n]).to_string();
                assert!(text.contains(" 408") || text.contains(" 4"), "{text}");
                closed = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "a dripping client kept its connection for 35 s");
    let mut first = stalled.remove(0);
    let mut rest = [0u8; 64];
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(
        !matches!(first.read(&mut rest), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a stalled connection was still open after the header deadline"
    );
    drop(stalled);
    target.assert_unharmed();
}

#[test]
fn a_thousand_concurrent_connections_are_served() {
    let target = Target::start();
    let addr = target.addr();
    // All 1000 connect first and only then send their requests: every connection is open at
    // the same time.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(1000));
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            let addr = addr.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                barrier.wait();
                write!(
                    stream,
                    "GET {MANIFEST} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
                let mut response = Vec::new();
                let _ = stream.read_to_end(&mut response);
                String::from_utf8_lossy(&response[..response.len().min(12)])
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse::<u16>().ok())
                    .unwrap_or(0)
            })
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
    // A 24 MiB layer: far more than the socket buffers hold, so the server is mid-send.
    let blob = target.big_blob_path();
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
        if status == 206 {
            // One range, and the body is exactly what Content-Range says.
            let text = String::from_utf8_lossy(&response);
            let (head, _) = text.split_once("\r\n\r\n").unwrap();
            let content_range = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-range: bytes ")
                        .map(str::to_string)
                })
                .unwrap_or_else(|| panic!("Range {range}: 206 without Content-Range"));
            let (span, _) = content_range.split_once('/').unwrap();
            let (a, b) = span.split_once('-').unwrap();
            let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
            let body_start = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            assert_eq!(response.len() - body_start, b - a + 1, "Range {range}");
        }
    }
    target.assert_unharmed();
}
