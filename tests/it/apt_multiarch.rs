//! `:any`, `:native` and architecture-qualified dependencies resolved by apt's Multi-Arch
//! rules (issue 16, fault 7), compared with what a real `apt-get install --simulate` plans on
//! the same loopback archive.

use crate::common::*;

/// Fault 7. Dependencies with `:any`, `:native` and architecture qualifiers, on packages
/// with each Multi-Arch value and with none, for amd64 and arm64 nodes: outpost's closure
/// equals `apt-get install --simulate`'s on the same archive, and what apt cannot satisfy
/// outpost refuses (exit 2, with the chain).
#[test]
fn architecture_qualifiers_resolve_as_apt_multi_arch_rules() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    let root = work.join("archive");
    let mut debs = Vec::new();
    for arch in ["amd64", "arm64"] {
        for (name, fields) in [
            ("ma-allowed", "Multi-Arch: allowed\n"),
            ("ma-none", ""),
            ("ma-foreign", "Multi-Arch: foreign\n"),
            ("ma-same", "Multi-Arch: same\n"),
            ("prov-allowed", "Multi-Arch: allowed\nProvides: virt-a\n"),
            ("prov-none", "Provides: virt-n\n"),
        ] {
            debs.push(TestDeb::new(name, "1.0", arch, fields));
        }
    }
    debs.push(TestDeb::new(
        "all-allowed",
        "1.0",
        "all",
        "Multi-Arch: allowed\n",
    ));
    debs.push(TestDeb::new("all-none", "1.0", "all", ""));
    // (dependency, satisfiable on amd64, on arm64): apt's verdicts, asserted below too.
    let cases: [(&str, bool, bool); 18] = [
        ("ma-allowed:any", true, true),
        ("ma-none:any", false, false),
        ("ma-foreign:any", false, false),
        ("ma-same:any", false, false),
        ("all-allowed:any", true, true),
        ("all-none:any", false, false),
        ("virt-a:any", true, true),
        ("virt-n:any", false, false),
        ("ma-none:native", true, true),
        ("all-none:native", true, true),
        ("virt-n:native", true, true),
        ("ma-none:amd64", true, false),
        ("all-none:amd64", true, false),
        ("virt-n:amd64", true, false),
        ("ma-same:arm64", false, true),
        ("ma-foreign", true, true),
        ("ma-none:any | ma-foreign", true, true),
        ("ma-same:any | ma-allowed:any", true, true),
    ];
    for (index, (relation, _, _)) in cases.iter().enumerate() {
        debs.push(TestDeb::new(
            &format!("t{index:02}"),
            "1.0",
            "all",
            &format!("Depends: {relation}\n"),
        ));
    }
    let mut files = Vec::new();
    for arch in ["amd64", "arm64"] {
        let text = build_debs(&root, &debs, Some(arch));
        files.extend(packages_files(&format!("main/binary-{arch}/"), &text));
    }
    write_signed_indexes(
        work,
        &root.join("dists/test"),
        &as_refs(&files),
        ReleaseSignature::InRelease,
    );
    let archive = ArchiveServer::start(&root, false);
    let sources = work.join("sources");
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::write(
        sources.join("test.list"),
        format!(
            "deb [signed-by={}] {} test main\n",
            work.join("keys/outpost-apt.gpg").display(),
            archive.url()
        ),
    )
    .unwrap();

    for (arch, column) in [("amd64", 0), ("arm64", 1)] {
        let state = work.join(format!("apt-{arch}"));
        assert_apt_ok(&node(&state, &sources, arch, &["update"]));
        for (index, (relation, amd64, arm64)) in cases.iter().enumerate() {
            let expected = [*amd64, *arm64][column];
            let request = format!("t{index:02}");
            let apt = apt_simulate_node(&state, &sources, arch, &[&request]);
            assert_eq!(
                apt.is_some(),
                expected,
                "apt's verdict on `{relation}` for {arch} changed: {apt:?}"
            );
            url_manifest(
                work,
                &request,
                &format!("linux/{arch}"),
                &format!(
                    "url: {}\n        suite: test\n        components: [main]",
                    archive.url()
                ),
                &format!("[{request}]"),
            );
            let out = outpost(work, &["lock", &format!("{request}.yaml")]);
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            match apt {
                Some(apt) => {
                    assert!(out.status.success(), "`{relation}` for {arch}: {stderr}");
                    assert_eq!(
                        locked_names(work, &format!("{request}.lock")),
                        apt,
                        "`{relation}` for {arch}: the closure differs from apt's"
                    );
                }
                None => {
                    assert_eq!(
                        out.status.code(),
                        Some(2),
                        "`{relation}` for {arch}: {stderr}"
                    );
                    assert!(
                        stderr.contains(&format!("{request} → {relation}: no candidate")),
                        "`{relation}` for {arch}: {stderr}"
                    );
                }
            }
        }
    }
}
