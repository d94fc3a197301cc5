//! Debian archives as they are in the field (issue 16, faults 5–7), each checked against
//! what a real `apt-get` does with the same archive on loopback:
//! flat repositories (`deb URI ./`, `deb URI subdir/`, deb822 `Suites: ./`) beside a broken
//! source that is named and skipped unless needed, and a binary `Release.gpg` refused as apt
//! refuses it; pool file names with `+`, `~`, a space and a literal `%` fetched with apt's
//! encoding from a host that reads `+` as a space, then served back to apt. Multi-Arch
//! qualifiers are in `apt_multiarch`.

use crate::common::*;
use std::collections::BTreeSet;

/// Fault 5. The host's sources hold a flat `./` repository (deb822, no Components), a flat
/// `Debian_12/` one whose pool lies beside it (OBS layout), a classic suite that depends on
/// the flat one, and three sources that cannot be used: unreachable, signed with a binary
/// `Release.gpg` (apt 2.6 on this machine refuses it: checked here), and a line apt calls
/// malformed. The lock takes what apt takes from the usable ones and names each skipped one;
/// asking for a package only a skipped source could have fails with 4, naming them.
#[test]
fn flat_repositories_resolve_as_apt_and_unusable_sources_are_skipped_unless_needed() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    let root = work.join("archive");
    let keyring = work.join("keys/outpost-apt.gpg");
    let keyring = keyring.display();

    let vendor = build_debs(
        &root.join("vendor"),
        &[
            TestDeb::new("vendor-tool", "2.0", "all", "Depends: vendor-lib (>= 2)\n"),
            // `dpkg-scanpackages .` writes `Filename: ./…`.
            TestDeb::new("vendor-lib", "2.1", "amd64", "").at("./pool/vendor-lib_2.1_amd64.deb"),
            TestDeb::new("vendor-lib", "2.1", "arm64", ""),
        ],
        None,
    );
    write_signed_indexes(
        work,
        &root.join("vendor"),
        &as_refs(&packages_files("", &vendor)),
        ReleaseSignature::InRelease,
    );
    let obs = build_debs(
        &root.join("obs"),
        &[TestDeb::new("obs-thing", "1.0", "all", "").at("Debian_12/all/obs-thing_1.0_all.deb")],
        None,
    );
    write_signed_indexes(
        work,
        &root.join("obs/Debian_12"),
        &as_refs(&packages_files("", &obs)),
        ReleaseSignature::Armored,
    );
    let classic = build_debs(
        &root.join("classic"),
        &[TestDeb::new(
            "classic-pkg",
            "1.0",
            "amd64",
            "Depends: vendor-lib\n",
        )],
        Some("amd64"),
    );
    write_signed_indexes(
        work,
        &root.join("classic/dists/stable"),
        &as_refs(&packages_files("main/binary-amd64/", &classic)),
        ReleaseSignature::InRelease,
    );
    let binsig = build_debs(
        &root.join("binsig"),
        &[TestDeb::new("binsig-only", "1.0", "all", "")],
        None,
    );
    write_signed_indexes(
        work,
        &root.join("binsig"),
        &as_refs(&packages_files("", &binsig)),
        ReleaseSignature::Binary,
    );
    let archive = ArchiveServer::start(&root, false);
    let url = archive.url();
    // Unreachable: nothing listens there. (On another address than the archive's: apt 2.6
    // stalls its other sources on a host when one port of that host refuses connections.)
    let closed = free_port();

    // The node's view (what apt reads) and the host's (`OUTPOST_APT_ETC`), which also has
    // a line apt refuses outright.
    let sources = work.join("apt-sources");
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::write(
        sources.join("vendor.sources"),
        format!("Types: deb\nURIs: {url}/vendor\nSuites: ./\nSigned-By: {keyring}\n"),
    )
    .unwrap();
    let other = format!(
        "deb [signed-by={keyring}] {url}/obs Debian_12/\ndeb [signed-by={keyring}] {url}/classic stable main\ndeb [signed-by={keyring}] http://127.0.0.2:{closed}/down ./\ndeb [signed-by={keyring}] {url}/binsig ./\n"
    );
    std::fs::write(sources.join("other.list"), &other).unwrap();
    let etc = work.join("etc-apt");
    std::fs::create_dir_all(etc.join("sources.list.d")).unwrap();
    for name in ["vendor.sources", "other.list"] {
        std::fs::copy(sources.join(name), etc.join("sources.list.d").join(name)).unwrap();
    }
    std::fs::write(
        etc.join("sources.list.d/broken.list"),
        format!("deb [signed-by={keyring}] {url}/vendor ./ main\n"),
    )
    .unwrap();
    let etc_env = [("OUTPOST_APT_ETC", etc.to_str().unwrap())];

    // apt on this machine: the flat sources work, the binary signature is refused.
    let state = work.join("apt-state");
    let update = node(&state, &sources, "amd64", &["update"]);
    let update_text = output_text(&update);
    assert!(
        update_text.contains("is in unsupported binary format")
            && update_text.contains(&format!(
                "The repository '{url}/binsig ./ Release' is not signed"
            )),
        "apt's verdict on a binary Release.gpg changed:\n{update_text}"
    );
    let wanted = ["vendor-tool", "obs-thing", "classic-pkg"];
    let apt =
        apt_simulate_node(&state, &sources, "amd64", &wanted).expect("apt resolves the request");

    system_manifest(work, "flat", "[vendor-tool, obs-thing, classic-pkg]");
    let out = outpost_env(work, &["lock", "flat.yaml"], &etc_env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        locked_names(work, "flat.lock"),
        apt,
        "the closure differs from apt's"
    );
    let list = etc.join("sources.list.d/other.list");
    let list = list.display();
    for skipped in [
        format!("note: skipped apt source http://127.0.0.2:{closed}/down ./ ({list}:3)"),
        format!("note: skipped apt source {url}/binsig ./ ({list}:4) ({url}/binsig/./Release.gpg: the detached signature is in unsupported binary format"),
        format!("note: skipped apt source {}:1 (apt refuses the entry: a flat repository (suite ending in `/`) takes no components: {url}/vendor ./ main)", etc.join("sources.list.d/broken.list").display()),
    ] {
        assert!(stderr.contains(&skipped), "`{skipped}` not in:\n{stderr}");
    }
    let lock = read_json(&work.join("flat.lock"));
    let pin = |name: &str| {
        lock["debs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        pin("obs-thing")["url"],
        format!("{url}/obs/Debian_12/all/obs-thing_1.0_all.deb"),
        "a flat repository's Filename is relative to its URI"
    );
    assert_eq!(pin("vendor-lib")["source"], format!("{url}/vendor ./"));
    assert_eq!(pin("vendor-lib")["arch"], "amd64");
    assert_eq!(pin("vendor-lib")["path"], "pool/vendor-lib_2.1_amd64.deb");
    assert_eq!(
        pin("vendor-lib")["url"],
        format!("{url}/vendor/./pool/vendor-lib_2.1_amd64.deb"),
        "the URL apt requests"
    );

    // At the site, apt installs the same set from the bundle's repository.
    outpost_ok(work, &["bundle", "build", "flat.yaml", "--locked"]);
    let server = Server::start(work, &["bundles/flat-1.tar"]);
    let site_sources = work.join("site-sources");
    apt_sources(work, &server.url(), "bundles/flat-1.tar", &site_sources);
    let site = work.join("site-node");
    assert_apt_ok(&node(&site, &site_sources, "amd64", &["update"]));
    let mut install = vec!["install", "-y", "--download-only"];
    install.extend_from_slice(&wanted);
    assert_apt_ok(&node(&site, &site_sources, "amd64", &install));
    let downloaded: BTreeSet<String> = std::fs::read_dir(site.join("cache/archives"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".deb")
                .map(|n| n.split('_').next().unwrap_or(n).to_string())
        })
        .collect();
    assert_eq!(downloaded, apt, "apt at the site fetched another set");
    drop(server);

    // A package only a skipped source could have: upstream failure (4), naming the sources.
    assert_eq!(
        apt_simulate_node(&state, &sources, "amd64", &["binsig-only"]),
        None
    );
    system_manifest(work, "needs", "[vendor-tool, binsig-only]");
    let out = outpost_env(work, &["lock", "needs.yaml"], &etc_env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or("");
    assert!(
        error.starts_with("error: packages for amd64: unknown package `binsig-only`")
            && error.contains("these apt sources could not be used and may have it: ")
            && error.contains(&format!("{url}/binsig ./ ({list}:4)"))
            && error.contains(&format!("http://127.0.0.2:{closed}/down ./ ({list}:3)")),
        "{stderr}"
    );
    assert!(!work.join("needs.lock").exists());

    // An explicit archive with a binary Release.gpg: refused as apt refuses it (4).
    url_manifest(
        work,
        "binsig",
        "linux/amd64",
        &format!("url: {url}/binsig\n        suite: ./"),
        "[binsig-only]",
    );
    let stderr = outpost_fails(work, &["lock", "binsig.yaml"], 4);
    assert!(
        stderr.contains("Release.gpg: the detached signature is in unsupported binary format (apt accepts only ASCII-armored signatures); apt refuses it"),
        "{stderr}"
    );
    // The same flat archive given explicitly, with components apt would refuse: bad input.
    url_manifest(
        work,
        "flatcomp",
        "linux/amd64",
        &format!("url: {url}/vendor\n        suite: ./\n        components: [main]"),
        "[vendor-tool]",
    );
    let stderr = outpost_fails(work, &["lock", "flatcomp.yaml"], 2);
    assert!(
        stderr.contains("a flat repository (suite ending in `/`) takes no components"),
        "{stderr}"
    );
    // And without them, for both architectures of its one index.
    url_manifest(
        work,
        "flaturl",
        "linux/amd64, linux/arm64",
        &format!("url: {url}/vendor\n        suite: ./"),
        "[vendor-tool]",
    );
    outpost_ok(work, &["lock", "flaturl.yaml"]);
    let archs: BTreeSet<String> = read_json(&work.join("flaturl.lock"))["debs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"] == "vendor-lib")
        .map(|d| d["arch"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(archs, BTreeSet::from(["amd64".into(), "arm64".into()]));
}

/// Fault 6. Pool names with `+` and `~` in the version, a space and a literal `%2b`, on a
/// host that reads `+` in a path as a space (a raw `+` misses there). outpost fetches each
/// with exactly the request line apt sends, keeps the names as the index lists them, and
/// apt installs them from `outpost serve`.
#[test]
fn pool_names_are_fetched_as_apt_encodes_them_and_served_back_to_apt() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    let root = work.join("archive");
    let debs = [
        TestDeb::new(
            "app",
            "1.0",
            "all",
            "Depends: plusy (= 1.2+dfsg-1~bpo1), pct, spacey\n",
        ),
        TestDeb::new("plusy", "1.2+dfsg-1~bpo1", "all", "")
            .at("pool/main/p/plusy/plusy_1.2+dfsg-1~bpo1_all.deb"),
        TestDeb::new("pct", "1.0", "all", "").at("pool/main/p/pct/pct%2bname_1.0_all.deb"),
        TestDeb::new("spacey", "1.0", "amd64", "").at("pool/main/s/spacey/sp ace_1.0_amd64.deb"),
    ];
    let packages = build_debs(&root, &debs, Some("amd64"));
    write_signed_indexes(
        work,
        &root.join("dists/test"),
        &as_refs(&packages_files("main/binary-amd64/", &packages)),
        ReleaseSignature::InRelease,
    );
    let archive = ArchiveServer::start(&root, true);
    let url = archive.url();
    // The host behaves as described: a raw `+` is a space there.
    let plusy = "pool/main/p/plusy/plusy_1.2";
    assert_eq!(
        http("GET", &format!("{url}/{plusy}+dfsg-1~bpo1_all.deb"), &[]).status,
        404
    );
    assert_eq!(
        http("GET", &format!("{url}/{plusy}%2bdfsg-1~bpo1_all.deb"), &[]).status,
        200
    );

    // apt against the upstream: what it asks for.
    let upstream_sources = work.join("upstream-sources");
    std::fs::create_dir_all(&upstream_sources).unwrap();
    std::fs::write(
        upstream_sources.join("up.list"),
        format!(
            "deb [signed-by={}] {url} test main\n",
            work.join("keys/outpost-apt.gpg").display()
        ),
    )
    .unwrap();
    let upstream_state = work.join("upstream-apt");
    assert_apt_ok(&node(
        &upstream_state,
        &upstream_sources,
        "amd64",
        &["update"],
    ));
    archive.clear_requests();
    assert_apt_ok(&node(
        &upstream_state,
        &upstream_sources,
        "amd64",
        &["install", "-y", "--download-only", "app"],
    ));
    let pool_requests = |requests: Vec<String>| -> BTreeSet<String> {
        requests
            .into_iter()
            .filter(|r| r.contains("/pool/"))
            .collect()
    };
    let apt_asked = pool_requests(archive.requests());
    assert_eq!(apt_asked.len(), 4, "{apt_asked:?}");

    // outpost: the lockfile keeps the names, the URLs are apt's, the fetch asks as apt did.
    url_manifest(
        work,
        "t",
        "linux/amd64",
        &format!("url: {url}\n        suite: test\n        components: [main]"),
        "[app]",
    );
    outpost_ok(work, &["lock", "t.yaml"]);
    let lock = read_json(&work.join("t.lock"));
    let debs_locked = lock["debs"].as_array().unwrap();
    let pin = |name: &str| debs_locked.iter().find(|d| d["name"] == name).unwrap();
    for (name, path, encoded) in [
        (
            "plusy",
            "pool/main/p/plusy/plusy_1.2+dfsg-1~bpo1_all.deb",
            "pool/main/p/plusy/plusy_1.2%2bdfsg-1%7ebpo1_all.deb",
        ),
        (
            "pct",
            "pool/main/p/pct/pct%2bname_1.0_all.deb",
            "pool/main/p/pct/pct%252bname_1.0_all.deb",
        ),
        (
            "spacey",
            "pool/main/s/spacey/sp ace_1.0_amd64.deb",
            "pool/main/s/spacey/sp%20ace_1.0_amd64.deb",
        ),
    ] {
        assert_eq!(pin(name)["path"], path);
        assert_eq!(pin(name)["url"], format!("{url}/{encoded}"));
    }
    assert_eq!(pin("plusy")["version"], "1.2+dfsg-1~bpo1");
    archive.clear_requests();
    outpost_ok(work, &["bundle", "build", "t.yaml", "--locked"]);
    assert_eq!(
        pool_requests(archive.requests()),
        apt_asked,
        "outpost's requests for the .debs differ from apt's"
    );

    // At the site: apt asks outpost for the same names, encoded, and gets them.
    let server = Server::start(work, &["bundles/t-1.tar"]);
    let sources = work.join("node-sources");
    apt_sources(work, &server.url(), "bundles/t-1.tar", &sources);
    let state = work.join("node");
    assert_apt_ok(&node(&state, &sources, "amd64", &["update"]));
    assert_apt_ok(&node(
        &state,
        &sources,
        "amd64",
        &["install", "-y", "--download-only", "app"],
    ));
    let archives = state.join("cache/archives");
    for pinned in debs_locked {
        let name = pinned["name"].as_str().unwrap();
        let file = std::fs::read_dir(&archives)
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{name}_"))
            })
            .unwrap_or_else(|| panic!("apt did not download {name}"));
        assert_eq!(
            sha256_file(&file.path()),
            pinned["sha256"].as_str().unwrap()
        );
    }
    let log = server.log();
    for asked in [
        "/apt/t/pool/main/p/pct/pct%252bname_1.0_all.deb",
        "/apt/t/pool/main/p/plusy/plusy_1.2%2bdfsg-1%7ebpo1_all.deb",
        "/apt/t/pool/main/s/spacey/sp%20ace_1.0_amd64.deb",
    ] {
        assert!(
            log.contains(asked),
            "apt did not ask outpost for {asked}:\n{log}"
        );
    }
}
