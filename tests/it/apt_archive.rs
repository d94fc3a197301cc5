//! OS packages from the real Debian archive this machine's apt sources point to (read at run
//! time, never written down): the closure of a node's base packages for amd64 and arm64 is
//! pinned with the InRelease signature checked against the system keyring, and every pinned
//! .deb's sha256 is what the archive serves. Needs the network to that archive: it fails,
//! never skips, when the archive is unreachable.

use crate::common::*;
use std::process::Command;

const PACKAGES: &str = "[containerd, runc, socat, conntrack, ipset, ebtables, ethtool, iptables]";

fn manifest(work: &std::path::Path, source: &str) {
    let text = format!(
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: apt, version: \"1\"}}\nspec:\n  platforms: [linux/amd64, linux/arm64]\n  packages:\n    apt:\n      - {source}\n        packages: {PACKAGES}\n"
    );
    std::fs::write(work.join("apt.yaml"), text).unwrap();
}

/// The first `deb` archive URI and suite of the host's apt sources.
fn host_archive() -> (String, String) {
    let mut text = String::new();
    for path in [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ] {
        text.push_str(&std::fs::read_to_string(path).unwrap_or_default());
        text.push('\n');
    }
    let uri = text
        .lines()
        .find_map(|l| l.strip_prefix("URIs:"))
        .map(|u| u.split_whitespace().next().unwrap_or("").to_string());
    let suite = text
        .lines()
        .find_map(|l| l.strip_prefix("Suites:"))
        .map(|s| s.split_whitespace().next().unwrap_or("").to_string());
    match (uri, suite) {
        (Some(uri), Some(suite)) => (uri, suite),
        _ => {
            let line = text
                .lines()
                .find(|l| l.starts_with("deb "))
                .expect("the host has no apt source");
            let words: Vec<&str> = line
                .split_whitespace()
                .filter(|w| !w.starts_with('[') && !w.ends_with(']'))
                .collect();
            (words[1].to_string(), words[2].to_string())
        }
    }
}

#[test]
fn the_host_archive_closure_is_pinned_and_matches_what_the_archive_serves() {
    require("curl");
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    manifest(work, "source: system\n       ");
    let out = outpost_ok(work, &["lock", "apt.yaml"]);
    assert!(out.contains("apt.lock"), "{out}");
    let lock = read_json(&work.join("apt.lock"));
    let debs = lock["debs"].as_array().unwrap();
    for arch in ["amd64", "arm64"] {
        for name in [
            "containerd",
            "runc",
            "socat",
            "conntrack",
            "ipset",
            "ebtables",
            "ethtool",
            "iptables",
        ] {
            let pin = debs
                .iter()
                .find(|d| d["name"] == name && d["arch"] == arch)
                .unwrap_or_else(|| panic!("{name}/{arch} not pinned"));
            assert_eq!(pin["why"], "requested");
        }
        // Dependencies come with the chain that pulled them in.
        let xtables = debs
            .iter()
            .find(|d| d["name"] == "libxtables12" && d["arch"] == arch)
            .expect("libxtables12 pinned");
        assert_eq!(xtables["why"], "needed by iptables");
    }
    // Essential and required packages are assumed present, not carried.
    assert!(!debs
        .iter()
        .any(|d| d["name"] == "base-files" || d["name"] == "dpkg"));
    // Every pinned .deb is what the archive serves.
    let dir = work.join("debs");
    std::fs::create_dir_all(&dir).unwrap();
    for deb in debs {
        let url = deb["url"].as_str().unwrap();
        let file = dir.join(url.rsplit('/').next().unwrap());
        run_ok(
            Command::new("curl")
                .args(["-sfL", "--retry", "3", "-o"])
                .arg(&file)
                .arg(url),
        );
        assert_eq!(sha256_file(&file), deb["sha256"].as_str().unwrap(), "{url}");
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            deb["size"].as_u64().unwrap(),
            "{url}"
        );
    }
}

#[test]
fn a_wrong_keyring_is_refused_with_a_clear_message() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let (uri, suite) = host_archive();
    // A keyring that holds keys, but not the archive's.
    let wrong = "/usr/share/keyrings/debian-archive-removed-keys.gpg";
    assert!(
        std::path::Path::new(wrong).is_file(),
        "{wrong} (package debian-archive-keyring) is needed"
    );
    manifest(
        work,
        &format!("url: {uri}\n        suite: {suite}\n        keyring: {wrong}\n       "),
    );
    let stderr = outpost_fails(work, &["lock", "apt.yaml"], 4);
    assert!(
        stderr.contains(&format!("{uri}/dists/{suite}/InRelease")),
        "{stderr}"
    );
    assert!(stderr.contains("no signature on it verifies with the keys of /usr/share/keyrings/debian-archive-removed-keys.gpg"), "{stderr}");
    assert!(!work.join("apt.lock").exists());
}

#[test]
fn an_unknown_package_is_named() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    std::fs::write(
        work.join("apt.yaml"),
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {name: apt, version: \"1\"}\nspec:\n  packages:\n    apt:\n      - source: system\n        packages: [socat, no-such-package-here]\n",
    )
    .unwrap();
    let stderr = outpost_fails(work, &["lock", "apt.yaml"], 2);
    assert!(
        stderr.contains("unknown package `no-such-package-here`"),
        "{stderr}"
    );
}
