//! Hostile clients against `outpost serve`: giant headers, slow (slowloris) clients, a
//! thousand concurrent connections, and clients that disconnect mid-blob. Each gets a clean
//! answer or is dropped; the server keeps serving everyone else and its memory stays bounded.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
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

#[test]
fn hostile_clients_do_not_hurt_the_others() {
    let site = Site::new();
    let work = site.work();
    let bundle = site.build("linux/amd64", &["library/alpha:1", "library/multi:1"]);
    let server = Server::start(work, &[bundle.to_str().unwrap()]);
    let addr = server.addr();
    let manifest = "/v2/registry.test/library/alpha/manifests/1";
    let layer = site.image("library/alpha:1").layer_digests()[0].clone();
    let blob = format!("/v2/registry.test/library/alpha/blobs/{layer}");
    assert_eq!(get(&addr, manifest).0, 200);
    let before = rss_kib(server.pid());

    // A giant header: refused with a 4xx, never a 5xx or a crash.
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let huge = "x".repeat(200 * 1024);
    let _ = write!(
        stream,
        "GET {manifest} HTTP/1.1\r\nHost: x\r\nX-Huge: {huge}\r\n\r\n"
    );
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer[..answer.len().min(12)]).to_string();
    assert!(
        answer.is_empty() || head.contains(" 4"),
        "giant header answered {head:?}"
    );
    assert_eq!(get(&addr, manifest).0, 200);

    // Slowloris: 200 connections that send half a request and stall; others are still served.
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream
            .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        stalled.push(stream);
    }
    let started = std::time::Instant::now();
    assert_eq!(get(&addr, manifest).0, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a normal client waited {:?} behind slow ones",
        started.elapsed()
    );

    // A thousand concurrent connections, each asking for a manifest.
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || get(&addr, manifest).0)
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "not every concurrent client got 200: {:?}",
        statuses.iter().filter(|s| **s != 200).count()
    );
    drop(stalled);

    // Clients that disconnect mid-blob, many times over.
    for _ in 0..100 {
        let mut stream = TcpStream::connect(&addr).unwrap();
        write!(stream, "GET {blob} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut some = [0u8; 600];
        let _ = stream.read(&mut some);
    }
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = get(&addr, &blob);
    assert_eq!(status, 200);
    assert!(body.len() > 1000);
    assert_eq!(
        http("GET", &format!("{}/healthz", server.url()), &[]).text(),
        "ok\n"
    );
    let after = rss_kib(server.pid());
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert!(server.terminate(), "the server did not shut down cleanly");
}
