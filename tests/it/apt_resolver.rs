//! The Debian resolver against a repository the test builds itself (dpkg-deb, a throwaway
//! key): alternatives, virtual packages, versioned Provides, Pre-Depends, a dependency
//! cycle, a conflict, a Multi-Arch: same library for two architectures and an unsatisfiable
//! dependency. The closure must equal what `apt-get install --simulate` chooses for the same
//! request against the same repository (empty status plus the assumed-installed base), and
//! tampered or expired metadata must fail clearly.

use crate::common::*;
use outpost::sign::apt::AptSigner;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const ARCHES: [&str; 2] = ["amd64", "arm64"];

/// (name, version, arch, extra control fields)
fn packages() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    let mut list = vec![
        ("app", "1.0", "all", "Pre-Depends: prehelper\nDepends: libfoo (>= 1.0), postfix | exim4, cycle-a, virt-user, base\n"),
        ("prehelper", "1.0", "all", ""),
        ("exim4", "4.96", "all", "Provides: mail-transport-agent\n"),
        ("cycle-a", "1.0", "all", "Depends: cycle-b\n"),
        ("cycle-b", "1.0", "all", "Depends: cycle-a\n"),
        ("virt-user", "1.0", "all", "Depends: virt-thing (>= 2)\n"),
        ("real-thing", "2.1", "all", "Provides: virt-thing (= 2.1)\n"),
        ("old-thing", "1.0", "all", "Provides: virt-thing (= 1.0)\n"),
        ("clasher", "1.0", "all", "Conflicts: exim4\n"),
        ("broken", "1.0", "all", "Depends: libfoo (>= 9)\n"),
        ("base", "1.0", "all", "Essential: yes\nPriority: required\n"),
        ("chain-top", "1.0", "all", "Depends: chain-mid\n"),
        ("chain-mid", "1.0", "all", "Depends: chain-gone (>= 1)\n"),
    ];
    for arch in ARCHES {
        list.push(("libfoo", "1.2", arch, "Multi-Arch: same\n"));
        list.push(("libfoo", "0.9", arch, "Multi-Arch: same\n"));
    }
    list
}

/// Builds .debs with dpkg-deb, the Packages indexes, and a Release signed with `keys/`.
fn build_repo(work: &Path, valid_until: Option<&str>) -> StaticServer {
    require("dpkg-deb");
    let root = work.join("repo");
    let mut indexes: std::collections::BTreeMap<&str, String> =
        ARCHES.iter().map(|a| (*a, String::new())).collect();
    for (name, version, arch, extra) in packages() {
        let dir = work.join(format!("build/{name}_{version}_{arch}"));
        std::fs::create_dir_all(dir.join("DEBIAN")).unwrap();
        let control = format!("Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: outpost tests <t@localhost>\n{extra}Description: test package {name}\n");
        std::fs::write(dir.join("DEBIAN/control"), &control).unwrap();
        let pool = format!("pool/main/{name}_{version}_{arch}.deb");
        std::fs::create_dir_all(root.join("pool/main")).unwrap();
        run_ok(
            Command::new("dpkg-deb")
                .args(["--root-owner-group", "-Zgzip", "--build"])
                .arg(&dir)
                .arg(root.join(&pool)),
        );
        let bytes = std::fs::read(root.join(&pool)).unwrap();
        let entry = format!(
            "{}Filename: {pool}\nSize: {}\nSHA256: {}\n\n",
            control,
            bytes.len(),
            sha256_hex(&bytes)
        );
        for (index_arch, text) in indexes.iter_mut() {
            if arch == "all" || arch == *index_arch {
                text.push_str(&entry);
            }
        }
    }
    let dists = root.join("dists/test");
    let mut release =
        "Origin: test\nSuite: test\nCodename: test\nDate: Thu, 01 Jan 2026 00:00:00 UTC\n"
            .to_string();
    if let Some(until) = valid_until {
        release.push_str(&format!("Valid-Until: {until}\n"));
    }
    release.push_str("Architectures: amd64 arm64\nComponents: main\nSHA256:\n");
    for (arch, text) in &indexes {
        let path = format!("main/binary-{arch}/Packages");
        std::fs::create_dir_all(dists.join(format!("main/binary-{arch}"))).unwrap();
        std::fs::write(dists.join(&path), text).unwrap();
        release.push_str(&format!(
            " {} {} {path}\n",
            sha256_hex(text.as_bytes()),
            text.len()
        ));
    }
    let signer = AptSigner::load(&work.join("keys/outpost.key"), PASSWORD.as_bytes()).unwrap();
    std::fs::write(dists.join("Release"), &release).unwrap();
    std::fs::write(dists.join("InRelease"), signer.clearsign(&release).unwrap()).unwrap();
    StaticServer::start(root)
}

fn manifest(work: &Path, repo: &StaticServer, packages: &str) {
    let text = format!(
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: t, version: \"1\"}}\nspec:\n  platforms: [linux/amd64, linux/arm64]\n  packages:\n    apt:\n      - url: http://127.0.0.1:{}\n        suite: test\n        components: [main]\n        keyring: {}\n        packages: {packages}\n",
        repo.port,
        work.join("keys/outpost-apt.gpg").display()
    );
    std::fs::write(work.join("t.yaml"), text).unwrap();
}

/// What `apt-get install --simulate` installs for `request` on `arch`, with only the
/// essential `base` in the status file.
fn apt_simulate(
    work: &Path,
    repo: &StaticServer,
    arch: &str,
    request: &[&str],
) -> BTreeSet<String> {
    let state = work.join(format!("apt-{arch}"));
    std::fs::create_dir_all(state.join("sources")).unwrap();
    std::fs::write(state.join("status"), BASE_STATUS).unwrap();
    std::fs::write(
        state.join("sources/test.sources"),
        format!("Types: deb\nURIs: http://127.0.0.1:{}\nSuites: test\nComponents: main\nSigned-By: {}\n", repo.port, work.join("keys/outpost-apt.gpg").display()),
    )
    .unwrap();
    let apt = |args: &[&str]| {
        apt_get(
            &state,
            &state.join("sources"),
            &state.join("status"),
            arch,
            args,
        )
    };
    assert_apt_ok(&apt(&["update"]));
    let mut args = vec!["install", "--simulate", "-y"];
    args.extend_from_slice(request);
    let out = apt(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .map(|l| {
            l.split_whitespace()
                .next()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn the_closure_matches_apt_and_failures_are_named() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    let repo = build_repo(work, None);
    manifest(work, &repo, "[app]");
    outpost_ok(work, &["lock", "t.yaml"]);
    let lock = read_json(&work.join("t.lock"));
    for arch in ARCHES {
        let ours: BTreeSet<String> = lock["debs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["arch"] == arch || d["arch"] == "all")
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect();
        let apt = apt_simulate(work, &repo, arch, &["app"]);
        assert_eq!(
            ours, apt,
            "closure for {arch} differs from apt-get --simulate"
        );
        let libfoo = lock["debs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "libfoo" && d["arch"] == arch)
            .unwrap();
        assert_eq!(
            libfoo["version"], "1.2",
            "the highest version of the Multi-Arch: same library, per architecture"
        );
    }

    // End to end: bundle, serve, and a real apt-get installs the closure from outpost.
    outpost_ok(work, &["bundle", "build", "t.yaml", "--locked"]);
    // The generated, signed apt repository rebuilds byte for byte too.
    outpost_ok(
        work,
        &["bundle", "build", "t.yaml", "--locked", "--out", "again"],
    );
    assert!(
        std::fs::read(work.join("bundles/t-1.tar")).unwrap()
            == std::fs::read(work.join("again/t-1.tar")).unwrap(),
        "two builds of a bundle with an apt repository differ"
    );
    let server = Server::start(work, &["bundles/t-1.tar"]);
    let node = work.join("node");
    let sources = node.join("sources");
    apt_sources(work, &server.url(), "bundles/t-1.tar", &sources);
    std::fs::write(node.join("status"), BASE_STATUS).unwrap();
    let node_apt = |args: &[&str]| apt_get(&node, &sources, &node.join("status"), "arm64", args);
    assert_apt_ok(&node_apt(&["update"]));
    assert_apt_ok(&node_apt(&["install", "-y", "--download-only", "app"]));
    let downloaded: BTreeSet<String> = std::fs::read_dir(node.join("cache/archives"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".deb"))
                .map(|n| n.split('_').next().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        downloaded,
        apt_simulate(work, &repo, "arm64", &["app"]),
        "apt on the node fetched a different set"
    );
    assert!(
        server
            .log()
            .contains("/apt/t/pool/main/libfoo_1.2_arm64.deb"),
        "{}",
        server.log()
    );
    drop(server);

    // Unsatisfiable: the chain that led to it (bad input: exit 2).
    manifest(work, &repo, "[broken]");
    let stderr = outpost_fails(work, &["lock", "t.yaml"], 2);
    assert!(
        stderr.contains("broken → libfoo (>= 9): no candidate"),
        "{stderr}"
    );
    // A conflict inside the requested set (bad input: exit 2).
    manifest(work, &repo, "[exim4, clasher]");
    let stderr = outpost_fails(work, &["lock", "t.yaml"], 2);
    assert!(
        stderr.contains("clasher 1.0 conflicts with exim4 4.96"),
        "{stderr}"
    );

    // A Packages file changed after the Release was signed.
    let packages = repo.root.join("dists/test/main/binary-amd64/Packages");
    let original = std::fs::read_to_string(&packages).unwrap();
    std::fs::write(
        &packages,
        original.replace("Version: 4.96", "Version: 4.97"),
    )
    .unwrap();
    manifest(work, &repo, "[app]");
    std::fs::remove_dir_all(work.join("cache")).ok();
    let stderr = outpost_fails(work, &["lock", "t.yaml"], 4);
    assert!(
        stderr.contains("main/binary-amd64/Packages")
            && stderr.contains("does not match the signed Release"),
        "{stderr}"
    );
    std::fs::write(&packages, original).unwrap();
}

#[test]
fn an_expired_release_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    let repo = build_repo(work, Some("Fri, 02 Jan 2026 00:00:00 UTC"));
    manifest(work, &repo, "[app]");
    let stderr = outpost_fails(work, &["lock", "t.yaml"], 4);
    assert!(
        stderr.contains("expired on Fri, 02 Jan 2026 00:00:00 UTC (Valid-Until)"),
        "{stderr}"
    );
}

/// Exit codes of apt failures, as `--help` and the README document them: what the manifest
/// asks for that cannot be had is bad input (2); an archive that lies is the upstream's (4).
#[test]
fn apt_failures_exit_with_the_code_they_mean() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    let repo = build_repo(work, None);

    // A package no source has: 2, and the message names it.
    manifest(work, &repo, "[app, no-such-package]");
    let stderr = outpost_fails(work, &["lock", "t.yaml"], 2);
    assert!(
        stderr.contains("unknown package `no-such-package`"),
        "{stderr}"
    );

    // A dependency nothing satisfies: 2, with the chain of packages that led to it.
    manifest(work, &repo, "[chain-top]");
    let stderr = outpost_fails(work, &["lock", "t.yaml"], 2);
    assert!(
        stderr.contains("chain-top → chain-mid → chain-gone (>= 1): no candidate"),
        "{stderr}"
    );

    // A keyring that is not there: 2, naming it.
    let text = std::fs::read_to_string(work.join("t.yaml")).unwrap();
    let keyring = work.join("keys/outpost-apt.gpg");
    let missing = work.join("keys/missing.gpg");
    std::fs::write(
        work.join("t.yaml"),
        text.replace(keyring.to_str().unwrap(), missing.to_str().unwrap()),
    )
    .unwrap();
    let stderr = outpost_fails(work, &["lock", "t.yaml"], 2);
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");

    // `source: system` on a host without apt sources: 2 (the directory comes from
    // OUTPOST_APT_ETC, read by the command line and passed down).
    let empty_etc = work.join("empty-etc-apt");
    std::fs::create_dir_all(&empty_etc).unwrap();
    std::fs::write(
        work.join("system.yaml"),
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {name: s, version: \"1\"}\nspec:\n  packages:\n    apt:\n      - source: system\n        packages: [socat]\n",
    )
    .unwrap();
    let out = outpost_env(
        work,
        &["lock", "system.yaml"],
        &[("OUTPOST_APT_ETC", empty_etc.to_str().unwrap())],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no `deb` sources are configured on this host"),
        "{stderr}"
    );

    // A Packages index that does not match its signed Release: the archive lies, 4.
    let packages = repo.root.join("dists/test/main/binary-arm64/Packages");
    let original = std::fs::read_to_string(&packages).unwrap();
    std::fs::write(&packages, format!("{original}\n")).unwrap();
    manifest(work, &repo, "[app]");
    std::fs::remove_dir_all(work.join("cache")).ok();
    let stderr = outpost_fails(work, &["lock", "t.yaml"], 4);
    assert!(
        stderr.contains("main/binary-arm64/Packages")
            && stderr.contains("does not match the signed Release"),
        "{stderr}"
    );
    assert!(!work.join("t.lock").exists(), "no lockfile after a failure");

    // The codes are documented where users look.
    let help = outpost_ok(work, &["--help"]);
    for line in [
        "2  bad input",
        "a Debian package no source has, an unsatisfiable dependency",
        "4  an upstream failed or sent bad content",
        "a Packages index that does not match",
    ] {
        assert!(help.contains(line), "--help lacks `{line}`:\n{help}");
    }
}
