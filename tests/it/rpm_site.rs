//! The dnf repository inside a bundle, end to end: packages built with `rpmbuild` and signed
//! with `rpmsign` by a throwaway packager key are pinned in a lockfile (written here from
//! the built files, as the resolver would: name, EVR, arch, path, sha256, size, signer),
//! fetched and carried by `bundle build --locked`, served under `/rpm/<repo>/` with a
//! generated `repodata/` signed by the bundle key, and a real `dnf install --downloadonly`
//! into an empty root, configured only by `outpost config dnf` (gpgcheck=1,
//! repo_gpgcheck=1), installs the set from `outpost serve`. With another bundle key in the
//! node's key file dnf refuses the repository.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const APP: &str = r#"Name: app
Version: 2.0
Release: 1
Summary: An app & its <deps>
License: MIT
Requires: libthing >= 1.0
Requires: /usr/bin/helper
%description
App.
%install
mkdir -p %{buildroot}/usr/bin
echo app > %{buildroot}/usr/bin/app
%files
/usr/bin/app
"#;

const LIBTHING: &str = r#"Name: libthing
Epoch: 1
Version: 1.2~beta
Release: 4
Summary: A library
License: MIT
BuildArch: noarch
%description
Lib.
%install
mkdir -p %{buildroot}/usr/share/libthing
echo lib > %{buildroot}/usr/share/libthing/data
%files
/usr/share/libthing
"#;

const HELPER: &str = r#"Name: helper
Version: 0.9
Release: 1
Summary: Provides a file
License: MIT
BuildArch: noarch
%description
Helper.
%install
mkdir -p %{buildroot}/usr/bin
echo helper > %{buildroot}/usr/bin/helper
%files
/usr/bin/helper
"#;

fn gpg(home: &Path) -> Command {
    let mut c = Command::new("gpg");
    c.env("GNUPGHOME", home)
        .args(["--batch", "--passphrase", ""]);
    c
}

/// A throwaway packager key: its GnuPG home and fingerprint.
fn packager_key(work: &Path) -> (PathBuf, String) {
    let home = work.join("packager-gnupg");
    std::fs::create_dir_all(&home).unwrap();
    run_ok(Command::new("chmod").arg("700").arg(&home));
    run_ok(gpg(&home).args([
        "--quick-gen-key",
        "Packager <packager@test>",
        "ed25519",
        "sign",
        "never",
    ]));
    let colons = run_ok(gpg(&home).args(["--with-colons", "--list-keys"]));
    let fingerprint = colons
        .lines()
        .find_map(|l| l.strip_prefix("fpr:::::::::"))
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    (home, fingerprint)
}

/// Builds `spec` for x86_64 and signs it; returns the binary package.
fn build_signed(work: &Path, name: &str, spec: &str, home: &Path) -> PathBuf {
    let dir = work.join("build").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let spec_path = dir.join(format!("{name}.spec"));
    std::fs::write(&spec_path, spec).unwrap();
    run_ok(
        Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", dir.join("top").display()))
            .args(["--target", "x86_64", "-bb"])
            .arg(&spec_path),
    );
    let rpm = walk_files(&dir.join("top/RPMS"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "rpm"))
        .unwrap();
    run_ok(
        Command::new("rpmsign")
            .env("GNUPGHOME", home)
            .args(["--define", "__gpg /usr/bin/gpg"])
            .args(["--define", "_gpg_name Packager"])
            .arg("--addsign")
            .arg(&rpm)
            .stdin(std::process::Stdio::null()),
    );
    rpm
}

pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk_files(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// `dnf install --downloadonly app` on the node root `node` (asserting it succeeds): the
/// `.rpm` files dnf downloaded, and dnf's output for messages.
pub fn dnf_downloads_app(work: &Path, reposdir: &Path) -> (Vec<PathBuf>, String) {
    let install = node_dnf(
        work,
        reposdir,
        "node",
        &["install", "--downloadonly", "app"],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&install.stdout),
        String::from_utf8_lossy(&install.stderr)
    );
    assert!(install.status.success(), "dnf install failed:\n{text}");
    let downloaded = walk_files(&work.join("node/cache"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    (downloaded, text)
}

/// dnf on an empty node root, with only the repositories of `reposdir`.
pub fn node_dnf(work: &Path, reposdir: &Path, state: &str, args: &[&str]) -> std::process::Output {
    Command::new("dnf")
        .arg("--installroot")
        .arg(work.join(state).join("root"))
        .arg(format!("--setopt=reposdir={}", reposdir.display()))
        .arg(format!(
            "--setopt=cachedir={}",
            work.join(state).join("cache").display()
        ))
        .args([
            "--releasever=9",
            "--forcearch=x86_64",
            "--setopt=install_weak_deps=0",
            "-y",
        ])
        .args(args)
        .output()
        .expect("run dnf")
}

#[test]
fn dnf_installs_from_the_bundle_and_refuses_another_key() {
    for tool in ["rpmbuild", "rpmsign", "rpm", "gpg", "dnf"] {
        require(tool);
    }
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    let (home, fingerprint) = packager_key(work);

    // The upstream: the signed packages and one plain file the manifest pins.
    let upstream = work.join("upstream");
    std::fs::create_dir_all(upstream.join("Packages")).unwrap();
    std::fs::write(upstream.join("tool"), b"a tool\n").unwrap();
    let mut rpms = Vec::new();
    for (name, spec) in [("app", APP), ("libthing", LIBTHING), ("helper", HELPER)] {
        let built = build_signed(work, name, spec, &home);
        let file = built.file_name().unwrap().to_str().unwrap().to_string();
        std::fs::copy(&built, upstream.join("Packages").join(&file)).unwrap();
        rpms.push(file);
    }
    let files = StaticServer::start(upstream.clone());
    std::fs::write(
        work.join("t.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: t, version: \"1\"}}\nspec:\n  files:\n    - url: http://files.test/tool\n      checksum: {{sha256: {}}}\n  upstreams: {{files.test: \"http://127.0.0.1:{}\"}}\n",
            sha256_file(&upstream.join("tool")).trim_start_matches("sha256:"),
            files.port
        ),
    )
    .unwrap();
    outpost_ok(work, &["lock", "t.yaml"]);

    // The lockfile's RPM pins, from the built packages (what the resolver records).
    let armored = run_ok(gpg(&home).args(["--armor", "--export"]));
    let mut lock = read_json(&work.join("t.lock"));
    let mut pins = Vec::new();
    for file in &rpms {
        let path = upstream.join("Packages").join(file);
        let fields = run_ok(
            Command::new("rpm")
                .args([
                    "-qp",
                    "--qf",
                    "%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH}",
                ])
                .arg(&path),
        );
        let fields: Vec<&str> = fields.split_whitespace().collect();
        pins.push(serde_json::json!({
            "name": fields[0],
            "epoch": fields[1].parse::<u32>().unwrap(),
            "version": fields[2],
            "release": fields[3],
            "arch": fields[4],
            "repo": "base",
            "path": format!("Packages/{file}"),
            "url": format!("http://files.test/Packages/{file}"),
            "sha256": sha256_file(&path),
            "size": std::fs::metadata(&path).unwrap().len(),
            "source": "http://files.test/",
            "why": "requested",
            "signer": fingerprint,
            "gpgcheck": true,
        }));
    }
    lock["rpms"] = serde_json::Value::Array(pins);
    lock["rpm_repos"] = serde_json::json!([{
        "name": "base",
        "sources": ["http://files.test/"],
        "keys": [armored],
        "gpgcheck": true,
    }]);
    std::fs::write(
        work.join("t.lock"),
        serde_json::to_vec_pretty(&lock).unwrap(),
    )
    .unwrap();

    outpost_ok(work, &["bundle", "build", "t.yaml", "--locked"]);
    outpost_ok(work, &["bundle", "verify", "bundles/t-1.tar"]);
    let inspected = outpost_ok(work, &["bundle", "inspect", "bundles/t-1.tar"]);
    assert!(
        inspected.contains("app-2.0-1.x86_64") && inspected.contains(&fingerprint),
        "{inspected}"
    );
    assert!(
        inspected.contains("rpm/base/repodata/repomd.xml.asc"),
        "{inspected}"
    );
    let json: serde_json::Value = serde_json::from_str(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/t-1.tar", "--json"],
    ))
    .unwrap();
    assert_eq!(json["rpms"].as_array().map(Vec::len), Some(3), "{json}");
    // Two builds agree byte for byte (repodata and its signature included).
    outpost_ok(
        work,
        &["bundle", "build", "t.yaml", "--locked", "--out", "again"],
    );
    assert!(
        std::fs::read(work.join("bundles/t-1.tar")).unwrap()
            == std::fs::read(work.join("again/t-1.tar")).unwrap(),
        "two builds of a bundle with an RPM repository differ"
    );
    drop(files);

    let server = Server::start(work, &["bundles/t-1.tar"]);
    let reposdir = work.join("repos");
    std::fs::create_dir_all(&reposdir).unwrap();
    let dir = reposdir.to_str().unwrap();
    let repo = outpost_ok(
        work,
        &config_args(
            "dnf",
            &server.url(),
            "bundles/t-1.tar",
            &["--out", dir, "--key-dir", dir],
        ),
    );
    assert!(
        repo.contains(&format!("baseurl={}/rpm/base/\n", server.url())),
        "{repo}"
    );
    assert!(repo.contains("gpgcheck=1\nrepo_gpgcheck=1\n"), "{repo}");
    assert!(
        repo.contains(&format!("file://{dir}/RPM-GPG-KEY-{fingerprint} ")),
        "{repo}"
    );
    // The dashboard lists the packages.
    let page = http("GET", &format!("{}/ui/release/t/1", server.url()), &[]);
    let page = String::from_utf8_lossy(&page.body);
    assert!(
        page.contains("libthing") && page.contains("1:1.2~beta-4"),
        "{page}"
    );
    // The mirror serves the keys too, the same bytes.
    let served = http(
        "GET",
        &format!("{}/rpm/base/RPM-GPG-KEY-outpost", server.url()),
        &[],
    );
    assert_eq!(served.status, 200);
    assert_eq!(
        served.body,
        std::fs::read(reposdir.join("RPM-GPG-KEY-outpost-base")).unwrap()
    );

    // dnf checks repomd.xml.asc and every package's signature, and downloads the set.
    let (downloaded, text) = dnf_downloads_app(work, &reposdir);
    let mut names: Vec<String> = downloaded
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    names.sort();
    let mut expected = rpms.clone();
    expected.sort();
    assert_eq!(names, expected, "dnf downloaded another set:\n{text}");
    for path in &downloaded {
        let file = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            sha256_file(path),
            sha256_file(&upstream.join("Packages").join(file))
        );
    }
    let log = server.log();
    assert!(
        log.contains("/rpm/base/repodata/repomd.xml.asc") && log.contains("/rpm/base/Packages/"),
        "the repository did not come from outpost:\n{log}"
    );

    // The same from a site store: load, serve --store, install.
    outpost_ok(work, &["load", "bundles/t-1.tar", "--store", "site"]);
    let stored = Server::start(work, &["--store", "site"]);
    let store_repos = work.join("store-repos");
    std::fs::create_dir_all(&store_repos).unwrap();
    let store_dir = store_repos.to_str().unwrap();
    outpost_ok(
        work,
        &config_args(
            "dnf",
            &stored.url(),
            "bundles/t-1.tar",
            &["--out", store_dir, "--key-dir", store_dir],
        ),
    );
    let from_store = node_dnf(
        work,
        &store_repos,
        "store-node",
        &["install", "--downloadonly", "app"],
    );
    assert!(
        from_store.status.success(),
        "dnf install from the store failed:\n{}",
        String::from_utf8_lossy(&from_store.stderr)
    );
    assert!(stored.log().contains("/rpm/base/Packages/"));

    // Another bundle key on the node: dnf refuses the repository's metadata.
    let other = work.join("other-keys");
    outpost_ok(work, &["key", "generate", "--out", other.to_str().unwrap()]);
    std::fs::copy(
        other.join("outpost-apt.asc"),
        reposdir.join("RPM-GPG-KEY-outpost-base"),
    )
    .unwrap();
    let refused = node_dnf(
        work,
        &reposdir,
        "node2",
        &["install", "--downloadonly", "app"],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !refused.status.success(),
        "dnf installed from a repository signed with another key:\n{text}"
    );
    assert!(
        text.contains("repomd.xml GPG signature verification error"),
        "dnf failed for another reason:\n{text}"
    );
}
