//! Under load (wrk, 64 connections, 30 s, manifests and blobs mixed) the server answers every
//! request without error and its memory stays flat.

use crate::common::*;
use std::process::Command;
use std::time::Duration;

/// Resident memory (VmRSS) of a process now, KiB.
fn rss_kib(pid: u32) -> u64 {
    memory_kib(pid, "VmRSS")
}

#[test]
fn sixty_four_connections_for_thirty_seconds_without_errors_or_growth() {
    require("wrk");
    let seconds: u64 = std::env::var("OUTPOST_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let site = Site::new();
    let work = site.work();
    let bundle = site.build(
        "linux/amd64",
        &["library/alpha:1", "team/beta:1", "library/multi:1"],
    );
    let server = Server::start(work, &[bundle.to_str().unwrap()]);
    let mut paths = vec![
        "/v2/registry.test/library/alpha/manifests/1".to_string(),
        "/v2/library/multi/manifests/1?ns=registry.test".to_string(),
        "/v2/registry.test/team/beta/manifests/1".to_string(),
    ];
    for (repo, image) in [
        ("registry.test/library/alpha", "library/alpha:1"),
        ("registry.test/team/beta", "team/beta:1"),
    ] {
        for layer in site.image(image).layer_digests() {
            paths.push(format!("/v2/{repo}/blobs/{layer}"));
        }
    }
    let list: Vec<String> = paths.iter().map(|p| format!("\"{p}\"")).collect();
    let script = work.join("mixed.lua");
    std::fs::write(
        &script,
        format!(
            "local paths = {{{}}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1], {{[\"Accept\"] = \"application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json\"}})\nend\n",
            list.join(", ")
        ),
    )
    .unwrap();

    // Warm up, then measure memory before and after the long run.
    run_ok(
        Command::new("wrk")
            .args(["-t2", "-c64", "-d2s", "-s"])
            .arg(&script)
            .arg(server.url()),
    );
    let before = rss_kib(server.pid());
    let out = run_ok(
        Command::new("wrk")
            .args([
                "-t2",
                "-c64",
                &format!("-d{seconds}s"),
                "--timeout",
                "10s",
                "-s",
            ])
            .arg(&script)
            .arg(server.url()),
    );
    let after = rss_kib(server.pid());
    assert!(!out.contains("Non-2xx"), "errors under load:\n{out}");
    assert!(
        !out.contains("Socket errors"),
        "socket errors under load:\n{out}"
    );
    let requests: u64 = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        requests > 1000 * seconds,
        "too few requests answered: {out}"
    );
    assert!(
        after <= before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB under load"
    );
    assert!(after < 64 * 1024, "RSS {after} KiB is over 64 MiB");
    eprintln!("{requests} requests in {seconds}s; RSS {before} KiB -> {after} KiB");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        server.terminate(),
        "the server did not shut down cleanly on SIGTERM"
    );
}
