//! The apt repository inside a bundle: packages pinned from the host's real archive are
//! served under `/apt/<repo>/` with a Release signed by the bundle's apt key, and a real
//! `apt-get update && apt-get install --download-only` (own state, cache and sources; the
//! `Signed-By` key written by `outpost config apt`) fetches them from outpost. gpgv accepts
//! InRelease and Release.gpg; with another key apt refuses the repository.

use crate::common::*;
use std::path::Path;
use std::process::Command;

/// apt-get on a node whose installed base is this machine's own dpkg status.
fn node_apt(work: &Path, sources: &Path, args: &[&str]) -> std::process::Output {
    apt_get(
        &work.join("apt-state"),
        sources,
        Path::new("/var/lib/dpkg/status"),
        "amd64",
        args,
    )
}

#[test]
fn apt_get_installs_from_the_bundle_and_refuses_another_key() {
    require("gpgv");
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    std::fs::write(
        work.join("nodes.yaml"),
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {name: nodes, version: \"1\"}\nspec:\n  platforms: [linux/amd64]\n  packages:\n    apt:\n      - source: system\n        packages: [socat, conntrack]\n",
    )
    .unwrap();
    outpost_ok(work, &["bundle", "build", "nodes.yaml"]);
    outpost_ok(work, &["bundle", "verify", "bundles/nodes-1.tar"]);
    let server = Server::start(work, &["bundles/nodes-1.tar"]);

    let sources = work.join("sources");
    let entry = apt_sources(work, &server.url(), "bundles/nodes-1.tar", &sources);
    assert!(
        entry.contains(&format!("URIs: {}/apt/nodes\n", server.url())),
        "{entry}"
    );
    assert!(
        entry.contains(&format!(
            "Signed-By: {}/outpost-nodes.gpg",
            sources.display()
        )),
        "{entry}"
    );

    // gpgv accepts both signatures with the key config apt wrote.
    let base = format!("{}/apt/nodes/dists/outpost", server.url());
    for name in ["InRelease", "Release", "Release.gpg"] {
        std::fs::write(
            work.join(name),
            http("GET", &format!("{base}/{name}"), &[]).body,
        )
        .unwrap();
    }
    let keyring = sources.join("outpost-nodes.gpg");
    run_ok(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(&keyring)
            .arg("InRelease")
            .current_dir(work),
    );
    run_ok(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(&keyring)
            .args(["Release.gpg", "Release"])
            .current_dir(work),
    );

    // apt-get update verifies the repository with Signed-By, and installs from it.
    assert_apt_ok(&node_apt(work, &sources, &["update"]));
    let install = node_apt(
        work,
        &sources,
        &[
            "install",
            "-y",
            "--download-only",
            "--reinstall",
            "socat",
            "conntrack",
        ],
    );
    assert_apt_ok(&install);
    let archives = work.join("apt-state/cache/archives");
    let lock = read_json(&work.join("nodes.lock"));
    for name in ["socat", "conntrack"] {
        let pin = lock["debs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap();
        let file = std::fs::read_dir(&archives)
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{name}_"))
            })
            .unwrap_or_else(|| panic!("{name} was not downloaded"));
        assert_eq!(sha256_file(&file.path()), pin["sha256"].as_str().unwrap());
    }
    assert!(
        server.log().contains("/apt/nodes/pool/"),
        "the .debs did not come from outpost"
    );

    // Another bundle's key: apt refuses the repository.
    let other = work.join("other-keys");
    outpost_ok(work, &["key", "generate", "--out", other.to_str().unwrap()]);
    // config refuses a bundle that its key did not sign: what it writes becomes a trust anchor.
    let other_pub = other.join("outpost.pub");
    let stderr = outpost_fails(
        work,
        &config_args(
            "apt",
            &server.url(),
            "bundles/nodes-1.tar",
            &[
                "--key",
                other_pub.to_str().unwrap(),
                "--out",
                work.to_str().unwrap(),
            ],
        ),
        3,
    );
    assert!(stderr.contains("signature check failed"), "{stderr}");
    std::fs::copy(other.join("outpost-apt.gpg"), &keyring).unwrap();
    std::fs::remove_dir_all(work.join("apt-state")).unwrap();
    let refused = node_apt(work, &sources, &["update"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        text.contains("NO_PUBKEY") || text.contains("not signed"),
        "apt accepted a repository signed with another key:\n{text}"
    );
    let install = node_apt(
        work,
        &sources,
        &["install", "-y", "--download-only", "--reinstall", "socat"],
    );
    assert!(
        !install.status.success(),
        "apt installed from an unverified repository"
    );
}
