//! RPM packages (`spec.packages.rpm`): a signed rpm-md repository built with rpmbuild,
//! rpmsign and createrepo_c (`scripts/testrpm.py`), served over HTTP. The closure outpost
//! pins equals what dnf itself downloads for the same request into an empty root, for
//! each architecture; an unsatisfiable requirement fails with its chain; tampered or
//! wrongly signed metadata fails the lock naming the file.

use crate::common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const ARCHES: [&str; 2] = ["x86_64", "aarch64"];

/// Builds the test repositories into `work/out` (per arch under `out/repo/<arch>/`).
fn generate(work: &Path, extra: &[&str]) -> PathBuf {
    for tool in ["rpmbuild", "rpmsign", "createrepo_c", "gpg", "python3"] {
        require(tool);
    }
    let out = work.join("out");
    let printed = run_ok(
        Command::new("python3")
            .arg(repo_root().join("scripts/testrpm.py"))
            .arg(&out)
            .args(extra),
    );
    assert!(printed.trim().ends_with("key.asc"), "{printed}");
    std::fs::copy(out.join("key.asc"), work.join("key.asc")).unwrap();
    out
}

fn manifest(work: &Path, url: &str, arch: &str, packages: &[&str], extra: &str) {
    let packages: Vec<String> = packages.iter().map(|p| format!("'{p}'")).collect();
    std::fs::write(
        work.join("rpms.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: rpms, version: \"1\"}}\nspec:\n  packages:\n    rpm:\n      - name: test\n        baseurl: {url}/repo/$basearch/\n        gpgkey: key.asc\n        arch: [{arch}]\n        packages: [{}]\n{extra}",
            packages.join(", ")
        ),
    )
    .unwrap();
}

/// The file names of the packages the lockfile pins.
fn locked(work: &Path) -> BTreeSet<String> {
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("rpms.lock")).unwrap()).unwrap();
    lock["rpms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let path = p["path"].as_str().unwrap();
            path.rsplit('/').next().unwrap().to_string()
        })
        .collect()
}

/// The file names of the packages dnf downloads to install `packages` into an empty root.
fn dnf_selects(work: &Path, url: &str, arch: &str, packages: &[&str]) -> BTreeSet<String> {
    let run = work.join(format!("dnf-{arch}-{}", packages.len()));
    let (root, downloads) = (run.join("root"), run.join("downloads"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&downloads).unwrap();
    let key = work.join("key.asc");
    run_ok(
        Command::new("dnf")
            .args(["install", "-y", "--downloadonly", "--releasever", "1"])
            .arg("--installroot")
            .arg(&root)
            .arg("--downloaddir")
            .arg(&downloads)
            .args(["--forcearch", arch, "--setopt=reposdir=/dev/null"])
            .arg(format!("--setopt=cachedir={}", run.join("cache").display()))
            .args(["--setopt=install_weak_deps=False", "--repo", "t"])
            .arg(format!("--repofrompath=t,{url}/repo/{arch}/"))
            .args(["--setopt=t.gpgcheck=1", "--setopt=t.repo_gpgcheck=1"])
            .arg(format!("--setopt=t.gpgkey=file://{}", key.display()))
            .args(packages),
    );
    std::fs::read_dir(&downloads)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rpm"))
        .collect()
}

#[test]
fn rpm_closure_equals_what_dnf_installs_for_each_arch() {
    require("dnf");
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let out = generate(work, &[]);
    let server = StaticServer::start(out);
    let url = format!("http://127.0.0.1:{}", server.port);
    let requests: [&[&str]; 2] = [
        &["app", "oldtool", "left", "tool"],
        &[
            "app",
            "selinux-policy",
            "webserver",
            "/usr/libexec/outpost-helper",
            "tool < 2.0",
        ],
    ];
    for arch in ARCHES {
        for packages in requests {
            manifest(work, &url, arch, packages, "");
            let stdout = outpost_ok(work, &["lock", "rpms.yaml"]);
            assert!(stdout.contains("rpm package"), "{stdout}");
            let ours = locked(work);
            let dnf = dnf_selects(work, &url, arch, packages);
            assert_eq!(ours, dnf, "{arch} {packages:?}: outpost vs dnf");
            assert!(ours.iter().any(|n| n.ends_with(".noarch.rpm")), "{ours:?}");
            assert!(ours.iter().any(|n| n.contains(arch)), "{ours:?}");
        }
    }
    // Each pin says why it is there, and what the header check will need.
    let lock = std::fs::read_to_string(work.join("rpms.lock")).unwrap();
    assert!(
        lock.contains(
            "\"why\": \"needed by app-2:1.0-1.aarch64 (requires (app-selinux if selinux-policy))\""
        ),
        "{lock}"
    );
    assert!(lock.contains("\"header_end\""), "{lock}");
    // Every package's header signature was checked at lock time, by the test key.
    let fingerprint = key_fingerprint(&work.join("key.asc"));
    let pins: serde_json::Value = serde_json::from_str(&lock).unwrap();
    for pin in pins["rpms"].as_array().unwrap() {
        assert_eq!(pin["signer"], fingerprint.as_str(), "{pin}");
    }
    assert!(
        lock.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----"),
        "{lock}"
    );

    // An unsatisfiable requirement fails with the chain that led to it.
    manifest(work, &url, "x86_64", &["broken"], "");
    let stderr = outpost_fails(work, &["lock", "rpms.yaml"], 2);
    assert!(
        stderr.contains("broken-1.0-1.noarch (requested) → needs middle → middle-1.0-1.noarch → needs missing-lib >= 2 → nothing provides it"),
        "{stderr}"
    );
    manifest(work, &url, "x86_64", &["no-such-package"], "");
    let stderr = outpost_fails(work, &["lock", "rpms.yaml"], 2);
    assert!(stderr.contains("`no-such-package`"), "{stderr}");

    // A repository with checks off is flagged by lock and by inspect.
    manifest(
        work,
        &url,
        "x86_64",
        &["app"],
        "        gpgcheck: false\n        repo_gpgcheck: false\n",
    );
    let stdout = outpost_ok(work, &["lock", "rpms.yaml"]);
    assert!(
        stdout.contains("WARNING: 6 rpm packages from repositories with `gpgcheck: false`"),
        "{stdout}"
    );
    keys(work);
    outpost_ok(work, &["bundle", "build", "rpms.yaml"]);
    let shown = outpost_ok(work, &["bundle", "inspect", "bundles/rpms-1.tar"]);
    assert!(
        shown.contains("app-2:1.0-1.x86_64")
            && shown.contains("NOT SIGNATURE-CHECKED (gpgcheck: false)"),
        "{shown}"
    );
    let json: serde_json::Value = serde_json::from_str(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/rpms-1.tar", "--json"],
    ))
    .unwrap();
    assert_eq!(json["rpms"].as_array().unwrap().len(), 6, "{json}");
    assert_eq!(json["rpms"][0]["gpgcheck"], false, "{json}");

    // --dry-run names the request without the network.
    drop(server);
    manifest(work, &url, "x86_64", &["app"], "");
    let plan = outpost_ok(work, &["lock", "rpms.yaml", "--dry-run"]);
    assert!(
        plan.contains(&format!("rpm   app from {url}/repo/x86_64/ (x86_64)")),
        "{plan}"
    );
}

#[test]
fn rpm_lock_fails_on_tampered_or_wrongly_signed_metadata() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let out = generate(work, &["--repomd-key", "other"]);
    let server = StaticServer::start(out.clone());
    let url = format!("http://127.0.0.1:{}", server.port);

    // repomd.xml signed by another key than the repository's gpgkey.
    manifest(work, &url, "x86_64", &["app"], "");
    let stderr = outpost_fails(work, &["lock", "rpms.yaml"], 4);
    assert!(
        stderr.contains("/repo/x86_64/repodata/repomd.xml.asc")
            && stderr.contains("not signed by the repository's gpgkey"),
        "{stderr}"
    );
    // Without repo_gpgcheck the same repository locks (the packages stay checked).
    manifest(
        work,
        &url,
        "x86_64",
        &["app"],
        "        repo_gpgcheck: false\n",
    );
    outpost_ok(work, &["lock", "rpms.yaml"]);

    // No signature at all while repo_gpgcheck is on.
    std::fs::remove_file(out.join("repo/x86_64/repodata/repomd.xml.asc")).unwrap();
    manifest(work, &url, "x86_64", &["app"], "");
    let stderr = outpost_fails(work, &["lock", "rpms.yaml"], 4);
    assert!(
        stderr.contains("repomd.xml.asc") && stderr.contains("not signed"),
        "{stderr}"
    );

    // A primary.xml changed after repomd.xml was made: named, with both digests.
    let repodata = out.join("repo/aarch64/repodata");
    let primary = std::fs::read_dir(&repodata)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("primary.xml"))
        .unwrap();
    let mut bytes = std::fs::read(&primary).unwrap();
    bytes.push(b'\n');
    std::fs::write(&primary, &bytes).unwrap();
    manifest(
        work,
        &url,
        "aarch64",
        &["app"],
        "        repo_gpgcheck: false\n",
    );
    let stderr = outpost_fails(work, &["lock", "rpms.yaml"], 4);
    let name = primary.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        stderr.contains(&name) && stderr.contains("does not match repomd.xml's"),
        "{stderr}"
    );
}

/// The primary key's fingerprint of an armored public key file, as gpg prints it.
fn key_fingerprint(key: &Path) -> String {
    let listed = run_ok(
        Command::new("gpg")
            .args(["--show-keys", "--with-colons"])
            .arg(key),
    );
    listed
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .unwrap()
        .to_string()
}

#[test]
fn rpm_lock_refuses_an_unsigned_package_in_a_gpgcheck_repository() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let out = generate(work, &["--unsigned", "tool"]);
    let server = StaticServer::start(out);
    let url = format!("http://127.0.0.1:{}", server.port);

    // The repository metadata is signed and intact; one package's header is not.
    manifest(work, &url, "x86_64", &["tool"], "");
    let stderr = outpost_fails(work, &["lock", "rpms.yaml"], 4);
    assert!(
        stderr.contains("/repo/x86_64/")
            && stderr.contains("tool-")
            && stderr.contains(".rpm")
            && stderr.contains("the package header is not signed"),
        "{stderr}"
    );
    assert!(
        !work.join("rpms.lock").exists(),
        "no lockfile after a refusal"
    );

    // With gpgcheck off for the repository it locks, flagged and with no signer.
    manifest(work, &url, "x86_64", &["tool"], "        gpgcheck: false\n");
    outpost_ok(work, &["lock", "rpms.yaml"]);
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("rpms.lock")).unwrap()).unwrap();
    let pin = &lock["rpms"][0];
    assert_eq!(pin["gpgcheck"], false, "{pin}");
    assert!(pin.get("signer").is_none(), "{pin}");
}

#[test]
fn rpm_closure_spans_the_manifests_repositories_as_dnf_does() {
    require("createrepo_c");
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let out = generate(work, &[]);
    // The x86_64 repository split in two: `app` alone in one, everything else in the other
    // (as AppStream's container-selinux needs BaseOS's selinux-policy).
    let packages = out.join("repo/x86_64");
    let (apps, base) = (out.join("split/apps"), out.join("split/base"));
    std::fs::create_dir_all(&apps).unwrap();
    std::fs::create_dir_all(&base).unwrap();
    let mut moved = 0;
    for entry in walk(&packages) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".rpm") {
            continue;
        }
        let to = if name.starts_with("app-") {
            &apps
        } else {
            &base
        };
        std::fs::copy(&entry, to.join(&name)).unwrap();
        moved += 1;
    }
    assert!(moved > 3, "{moved} packages");
    for repo in [&apps, &base] {
        run_ok(
            Command::new("createrepo_c")
                .args(["--quiet", "--checksum", "sha256"])
                .arg(repo),
        );
    }
    let server = StaticServer::start(out.clone());
    let url = format!("http://127.0.0.1:{}", server.port);
    let entry = |name: &str, dir: &str, packages: &str| {
        format!("      - name: {name}\n        baseurl: {url}/split/{dir}/\n        gpgkey: key.asc\n        repo_gpgcheck: false\n        arch: [x86_64]\n        packages: [{packages}]\n")
    };
    let manifest = |entries: &str| {
        std::fs::write(
            work.join("rpms.yaml"),
            format!("apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: rpms, version: \"1\"}}\nspec:\n  packages:\n    rpm:\n{entries}"),
        )
        .unwrap()
    };
    // Alone, the apps repository cannot satisfy app.
    manifest(&entry("apps", "apps", "app"));
    let stderr = outpost_fails(work, &["lock", "rpms.yaml"], 2);
    assert!(stderr.contains("nothing provides"), "{stderr}");
    // With the base repository as a second entry (no packages of its own), the closure is
    // the same as from the whole repository, each package pinned from where it lives.
    manifest(&(entry("apps", "apps", "app") + &entry("base", "base", "")));
    outpost_ok(work, &["lock", "rpms.yaml"]);
    let split = locked(work);
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("rpms.lock")).unwrap()).unwrap();
    for pin in lock["rpms"].as_array().unwrap() {
        let file = pin["path"].as_str().unwrap();
        let expected = if file.starts_with("app-") {
            "apps"
        } else {
            "base"
        };
        assert_eq!(pin["repo"], expected, "{pin}");
    }
    let repos: Vec<&str> = lock["rpm_repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(repos, ["apps", "base"]);
    assert_eq!(split, dnf_selects(work, &url, "x86_64", &["app"]));
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn rpm_packages_go_from_the_manifest_through_the_bundle_to_dnf_at_the_site() {
    use crate::rpm_site::dnf_downloads_app;
    require("dnf");
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    let out = generate(work, &[]);
    let upstream = StaticServer::start(out);
    let url = format!("http://127.0.0.1:{}", upstream.port);
    // Lock and build from the manifest alone, checking repomd.xml.asc and every header.
    manifest(work, &url, "x86_64", &["app"], "");
    outpost_ok(work, &["bundle", "build", "rpms.yaml"]);
    let pinned = locked(work);
    assert!(pinned.len() > 3, "{pinned:?}");
    outpost_ok(work, &["bundle", "verify", "bundles/rpms-1.tar"]);
    // The site: no upstream, only `outpost serve` and what `config dnf` wrote.
    drop(upstream);
    let server = Server::start(work, &["bundles/rpms-1.tar"]);
    let reposdir = work.join("repos");
    std::fs::create_dir_all(&reposdir).unwrap();
    let dir = reposdir.to_str().unwrap();
    let repo = outpost_ok(
        work,
        &config_args(
            "dnf",
            &server.url(),
            "bundles/rpms-1.tar",
            &["--out", dir, "--key-dir", dir],
        ),
    );
    assert!(repo.contains("gpgcheck=1\nrepo_gpgcheck=1\n"), "{repo}");
    let (downloaded, text) = dnf_downloads_app(work, &reposdir);
    let downloaded: BTreeSet<String> = downloaded
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        downloaded, pinned,
        "dnf at the site installs the locked set:\n{text}"
    );
}
