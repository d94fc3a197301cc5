//! `outpost bundle diff OLD NEW` (issue 19): two releases built here, one image updated
//! under the same tag, one added, one removed, a Debian package upgraded and a file
//! dropped; the diff of the bundles, of their lockfiles and of the releases loaded into a
//! site store, as text, JSON and Markdown.

use crate::common::*;
use std::path::Path;

/// A loopback apt archive (suite `test`) holding `debs`, served from `root`.
fn write_archive(work: &Path, root: &Path, debs: &[TestDeb]) {
    let text = build_debs(root, debs, Some("amd64"));
    let files = packages_files("main/binary-amd64/", &text);
    write_signed_indexes(
        work,
        &root.join("dists/test"),
        &as_refs(&files),
        ReleaseSignature::InRelease,
    );
}

fn write_manifest(
    work: &Path,
    version: &str,
    images: &[&str],
    files: &[(&str, &[u8])],
    registry: u16,
    archive: &str,
) {
    let images: String = images
        .iter()
        .map(|i| format!("    - registry.test/{i}\n"))
        .collect();
    let files: String = files
        .iter()
        .map(|(name, bytes)| {
            format!(
                "    - url: http://files.test/files/{name}\n      checksum: {{sha256: {}}}\n",
                sha256_hex(bytes)
            )
        })
        .collect();
    let port = archive.rsplit(':').next().unwrap();
    let text = format!(
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"{version}\"}}\nspec:\n  platforms: [linux/amd64]\n  images:\n{images}  files:\n{files}  packages:\n    apt:\n      - url: {archive}\n        suite: test\n        components: [main]\n        keyring: {}\n        packages: [socat-test, steady]\n  upstreams: {{registry.test: \"http://127.0.0.1:{registry}\", files.test: \"http://127.0.0.1:{port}\"}}\n",
        work.join("keys/outpost-apt.gpg").display()
    );
    std::fs::write(work.join(format!("edge-{version}.yaml")), text).unwrap();
}

/// Short digests and byte counts vary with the ports and paths content embeds.
fn settings() -> insta::Settings {
    let mut settings = snapshot_settings_without_digests();
    settings.add_filter(r"sha256:[0-9a-f]{12}\b", "sha256:[SHORT]");
    settings.add_filter(
        r"\d+ bytes \(\d+\.\d MiB\) in \d+ blobs",
        "[N] bytes ([X] MiB) in [M] blobs",
    );
    settings.add_filter(r#""bytes": \d+"#, r#""bytes": [N]"#);
    settings.add_filter(r#""blobs": \d+"#, r#""blobs": [M]"#);
    settings
}

#[test]
fn bundle_diff_names_every_change_between_two_releases() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    keys(work);
    let bench = |out: &str, extra: &[&str]| {
        let mut args = vec!["--set", "bench", "--base-mib", "1", "--layer-mib", "1"];
        args.extend_from_slice(extra);
        seed_set(&registry, &work.join(out), &args, None);
    };
    let root = work.join("archive");
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::write(root.join("files/a.bin"), b"file a").unwrap();
    std::fs::write(root.join("files/b.bin"), b"file b").unwrap();
    let archive = ArchiveServer::start(&root, false);

    // Release 1.0: app0, app1, app2; socat-test 1.0; files a and b.
    bench("layouts1", &["--count", "3"]);
    write_archive(
        work,
        &root,
        &[
            TestDeb::new("socat-test", "1.0-1", "amd64", ""),
            TestDeb::new("steady", "1.0", "amd64", ""),
        ],
    );
    let files: [(&str, &[u8]); 2] = [("a.bin", b"file a"), ("b.bin", b"file b")];
    let images1 = ["bench/app0:1", "bench/app1:1", "bench/app2:1"];
    write_manifest(work, "1.0", &images1, &files, registry.port, &archive.url());
    outpost_ok(
        work,
        &["bundle", "build", "edge-1.0.yaml", "--out", "bundles"],
    );

    // Release 2.0: app1:1 rebuilt under the same tag, app3 added, app2 removed; socat-test
    // upgraded to 2.0; file b dropped.
    bench(
        "layouts2",
        &["--count", "1", "--first", "1", "--seed", "r2"],
    );
    bench("layouts3", &["--count", "1", "--first", "3"]);
    write_archive(
        work,
        &root,
        &[
            TestDeb::new("socat-test", "2.0-1", "amd64", ""),
            TestDeb::new("steady", "1.0", "amd64", ""),
        ],
    );
    let images2 = ["bench/app0:1", "bench/app1:1", "bench/app3:1"];
    write_manifest(
        work,
        "2.0",
        &images2,
        &files[..1],
        registry.port,
        &archive.url(),
    );
    outpost_ok(
        work,
        &["bundle", "build", "edge-2.0.yaml", "--out", "bundles"],
    );

    let (old, new) = ("bundles/edge-1.0.tar", "bundles/edge-2.0.tar");
    let text = outpost_ok(
        work,
        &["bundle", "diff", old, new, "--key", "keys/outpost.pub"],
    );
    let json_text = outpost_ok(work, &["bundle", "diff", old, new, "--json"]);
    {
        let _filters = settings().bind_to_scope();
        insta::assert_snapshot!("diff_text", text);
        insta::assert_snapshot!("diff_json", json_text);
    }
    let found = json(&json_text);
    // Exact bytes from the blob sets: app1's and app3's own 1 MiB layers at least.
    assert_eq!(found["added_bytes"]["basis"], "blobs");
    assert!(
        found["added_bytes"]["bytes"].as_u64().unwrap() >= 2 << 20,
        "{found}"
    );

    // Markdown: a table per kind.
    let markdown = outpost_ok(work, &["bundle", "diff", old, new, "--markdown"]);
    assert!(
        markdown.starts_with("## edge 1.0 → edge 2.0\n"),
        "{markdown}"
    );
    for row in [
        "| upgraded | `socat-test:amd64` | 1.0-1 | 2.0-1 |",
        "| removed | `files.test/files/b.bin` |",
        "| added | `registry.test/bench/app3:1` |",
    ] {
        assert!(markdown.contains(row), "{row} missing:\n{markdown}");
    }

    // The lockfiles give the same changes (bytes counted from the pins).
    let locks = json(&outpost_ok(
        work,
        &["bundle", "diff", "edge-1.0.lock", "edge-2.0.lock", "--json"],
    ));
    assert_eq!(locks["added_bytes"]["basis"], "lockfile");
    for kind in ["images", "charts", "files", "debs"] {
        assert_eq!(locks[kind], found[kind], "{kind}");
    }

    // So do the releases loaded into a site store, with the same index digests.
    for bundle in [old, new] {
        outpost_ok(work, &["load", bundle, "--store", "site"]);
    }
    let stored = json(&outpost_ok(
        work,
        &[
            "bundle",
            "diff",
            "store:site/edge/1.0",
            "store:site/edge/2.0",
            "--json",
        ],
    ));
    for kind in ["images", "charts", "files", "debs"] {
        assert_eq!(stored[kind], found[kind], "{kind}");
    }
    assert_eq!(stored["old"]["index_digest"], found["old"]["index_digest"]);
    assert_eq!(stored["new"]["index_digest"], found["new"]["index_digest"]);

    // A release diffed with itself: no changes, exit 0.
    let same = outpost_ok(work, &["bundle", "diff", new, new]);
    assert!(
        same.contains("no changes to images, charts, files or packages"),
        "{same}"
    );

    // Bad input: one clear error each.
    let err = outpost_fails(work, &["bundle", "diff", "store:site/edge/9.9", new], 2);
    assert!(err.contains("holds no release edge 9.9"), "{err}");
    let err = outpost_fails(work, &["bundle", "diff", "nothing.tar", new], 2);
    assert!(err.contains("give a bundle"), "{err}");
    let err = outpost_fails(
        work,
        &["bundle", "diff", old, new, "--key", "keys/other.pub"],
        2,
    );
    assert!(err.contains("other.pub"), "{err}");
}
