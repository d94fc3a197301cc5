//! Unit tests of `bundle::diff` and its renderers.

use super::*;
use crate::lock::{ImageSignature, PlatformPin, ReleaseId, LOCK_VERSION};
use crate::trust::{Policy, Requirement, Signer, SignerMethod};

fn d(text: &str) -> Digest {
    Digest::of(text.as_bytes())
}

fn lock(version: &str) -> Lockfile {
    Lockfile {
        version: LOCK_VERSION,
        release: ReleaseId {
            name: "edge".into(),
            version: version.into(),
        },
        manifest_digest: d(version),
        platforms: vec!["linux/amd64".into()],
        kubernetes: None,
        images: Vec::new(),
        files: Vec::new(),
        debs: Vec::new(),
        charts: Vec::new(),
        rpms: Vec::new(),
        rpm_repos: Vec::new(),
        trusted_root: None,
    }
}

fn image(reference: &str, content: &str, platforms: &[&str]) -> ImagePin {
    ImagePin {
        reference: reference.into(),
        digest: d(content),
        media_type: "application/vnd.oci.image.index.v1+json".into(),
        size: 100,
        platforms: platforms
            .iter()
            .map(|p| PlatformPin {
                platform: p.to_string(),
                digest: d(&format!("{content}{p}")),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: 10,
            })
            .collect(),
        also_carried: Vec::new(),
        artifact_type: None,
        referrers: Vec::new(),
        signatures: Vec::new(),
        why: Vec::new(),
    }
}

fn signed(mut pin: ImagePin, fingerprint: &str, log_index: u64) -> ImagePin {
    pin.signatures.push(ImageSignature {
        subject: pin.digest.clone(),
        signature: d("sig"),
        layer: d("layer"),
        policy: Policy::Key { pem: "PEM".into() },
        require: Requirement::Signature,
        signer: Signer {
            method: SignerMethod::Key {
                fingerprint: fingerprint.into(),
            },
            log_index: Some(log_index),
            integrated_time: None,
        },
    });
    pin
}

fn file(path: &str, content: &str, size: u64) -> FilePin {
    FilePin {
        url: format!("https://{path}"),
        path: path.into(),
        sha256: d(content),
        size,
        verified_by: "sha256 in the manifest".into(),
        insecure: false,
        signature: None,
    }
}

fn deb(name: &str, version: &str, arch: &str) -> DebPin {
    DebPin {
        name: name.into(),
        version: version.into(),
        arch: arch.into(),
        path: format!("pool/main/{name}_{version}_{arch}.deb"),
        url: String::new(),
        sha256: d(&format!("{name}{version}{arch}")),
        size: 1000,
        source: "archive stable".into(),
        why: "requested".into(),
        control: String::new(),
    }
}

fn chart(name: &str, version: &str) -> ChartPin {
    ChartPin {
        name: name.into(),
        version: version.into(),
        source: "https://charts.test".into(),
        repository: Some("stable".into()),
        reference: format!("charts.test/{name}:{version}"),
        url: None,
        sha256: d(&format!("{name}{version}")),
        size: 500,
        manifest: None,
        created: None,
        metadata: serde_json::Value::Null,
        provenance: None,
        dependency_of: None,
        images: Vec::new(),
        unevaluated: Vec::new(),
    }
}

fn side(lock: Lockfile) -> Side {
    Side {
        source: format!("edge-{}.lock", lock.release.version),
        lock,
        index_digest: None,
        blobs: None,
    }
}

fn sample() -> Diff {
    let mut old = lock("1");
    old.images = vec![
        image("reg.test/app:1", "app1", &["linux/amd64"]),
        image("reg.test/gone:1", "gone", &["linux/amd64"]),
        signed(image("reg.test/same:1", "same", &["linux/amd64"]), "aa", 1),
    ];
    old.files = vec![file("dl.test/a", "a", 5), file("dl.test/b", "b", 6)];
    old.debs = vec![
        deb("socat", "1.7.4.4-2", "amd64"),
        deb("curl", "8.0-1", "amd64"),
        deb("old", "1.0", "amd64"),
    ];
    old.charts = vec![chart("ingress", "4.11.2"), chart("same", "1.0.0")];
    let mut new = lock("2");
    new.images = vec![
        image("reg.test/app:1", "app2", &["linux/amd64", "linux/arm64"]),
        image("reg.test/new:1", "new", &["linux/amd64"]),
        // The same signer, a new log entry: no change.
        signed(image("reg.test/same:1", "same", &["linux/amd64"]), "aa", 2),
    ];
    new.files = vec![file("dl.test/a", "a2", 7)];
    new.debs = vec![
        deb("socat", "1.8.0.0-1", "amd64"),
        deb("curl", "7.0-1", "amd64"),
        deb("fresh", "2.0", "arm64"),
    ];
    new.charts = vec![chart("ingress", "4.11.3"), chart("same", "1.0.0")];
    diff(&side(old), &side(new))
}

#[test]
fn images_by_reference() {
    let found = sample();
    let summary: Vec<(&str, Change)> = found
        .images
        .iter()
        .map(|i| (i.reference.as_str(), i.change))
        .collect();
    assert_eq!(
        summary,
        [
            ("reg.test/app:1", Change::Changed),
            ("reg.test/gone:1", Change::Removed),
            ("reg.test/new:1", Change::Added),
        ]
    );
    let app = &found.images[0];
    assert_eq!(app.old_digest, Some(d("app1")));
    assert_eq!(app.new_digest, Some(d("app2")));
    assert_eq!(app.platforms_added, ["linux/arm64"]);
    assert!(app.platforms_dropped.is_empty());
}

#[test]
fn signer_change_alone_is_a_change() {
    let mut old = lock("1");
    old.images = vec![signed(image("r/x:1", "x", &["linux/amd64"]), "aa", 1)];
    let mut new = lock("2");
    new.images = vec![signed(image("r/x:1", "x", &["linux/amd64"]), "bb", 1)];
    let found = diff(&side(old), &side(new));
    assert_eq!(found.images.len(), 1);
    assert_eq!(found.images[0].change, Change::Changed);
    assert_eq!(found.images[0].signers_added, ["key sha256:bb"]);
    assert_eq!(found.images[0].signers_removed, ["key sha256:aa"]);
}

#[test]
fn debs_by_name_and_arch_with_version_order() {
    let found = sample();
    let summary: Vec<(&str, &str, Change)> = found
        .debs
        .iter()
        .map(|d| (d.name.as_str(), d.arch.as_str(), d.change))
        .collect();
    assert_eq!(
        summary,
        [
            ("curl", "amd64", Change::Downgraded),
            ("fresh", "arm64", Change::Added),
            ("old", "amd64", Change::Removed),
            ("socat", "amd64", Change::Upgraded),
        ]
    );
    assert_eq!(found.debs[3].old_version.as_deref(), Some("1.7.4.4-2"));
    assert_eq!(found.debs[3].new_version.as_deref(), Some("1.8.0.0-1"));
}

#[test]
fn files_by_path_and_charts_by_name() {
    let found = sample();
    assert_eq!(found.files.len(), 2);
    assert_eq!(found.files[0].change, Change::Changed);
    assert_eq!(found.files[0].new_size, Some(7));
    assert_eq!(found.files[1].path, "dl.test/b");
    assert_eq!(found.files[1].change, Change::Removed);
    assert_eq!(found.charts.len(), 1);
    assert_eq!(found.charts[0].change, Change::Changed);
    assert_eq!(found.charts[0].old_version.as_deref(), Some("4.11.2"));
    assert_eq!(found.charts[0].new_version.as_deref(), Some("4.11.3"));
}

#[test]
fn several_versions_of_one_chart_pair_by_version() {
    let mut old = lock("1");
    old.charts = vec![chart("dep", "1.0.0"), chart("dep", "2.0.0")];
    let mut new = lock("2");
    new.charts = vec![chart("dep", "2.0.0"), chart("dep", "3.0.0")];
    let found = diff(&side(old), &side(new));
    let summary: Vec<(Option<&str>, Option<&str>, Change)> = found
        .charts
        .iter()
        .map(|c| (c.old_version.as_deref(), c.new_version.as_deref(), c.change))
        .collect();
    assert_eq!(
        summary,
        [
            (Some("1.0.0"), None, Change::Removed),
            (None, Some("3.0.0"), Change::Added)
        ]
    );
}

#[test]
fn identical_releases_have_no_changes() {
    let mut one = lock("1");
    one.images = vec![image("r/x:1", "x", &["linux/amd64"])];
    let found = diff(&side(one.clone()), &side(one));
    assert!(found.is_empty());
    assert_eq!(found.added_bytes.bytes, 0);
    assert!(text_of(&found).contains("no changes"));
}

#[test]
fn added_bytes_from_lockfile_pins() {
    let found = sample();
    assert_eq!(found.added_bytes.basis, Basis::Lockfile);
    // app2 index + 2 platform manifests, new index + 1 platform, file a2, 3 debs, 1 chart.
    let expected = 100 + 10 + 10 + 100 + 10 + 7 + 3 * 1000 + 500;
    assert_eq!(found.added_bytes.bytes, expected);
    assert_eq!(found.added_bytes.blobs, 10);
}

#[test]
fn added_bytes_from_blob_sets_when_both_sides_have_them() {
    let mut old = side(lock("1"));
    let mut new = side(lock("2"));
    old.blobs = Some(HashMap::from([(d("a"), 10), (d("b"), 20)]));
    new.blobs = Some(HashMap::from([(d("b"), 20), (d("c"), 30), (d("e"), 5)]));
    let found = diff(&old, &new);
    assert_eq!(found.added_bytes.basis, Basis::Blobs);
    assert_eq!((found.added_bytes.bytes, found.added_bytes.blobs), (35, 2));
    // One side a lockfile: counted from the pins instead.
    new.blobs = None;
    assert_eq!(diff(&old, &new).added_bytes.basis, Basis::Lockfile);
}

fn text_of(found: &Diff) -> String {
    super::super::diff_render::text(found)
}

#[test]
fn text_has_a_line_per_change_in_order() {
    let text = text_of(&sample());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "old: edge 1 (edge-1.lock)");
    let image = lines
        .iter()
        .find(|l| l.contains("reg.test/app:1"))
        .expect("app line");
    assert!(image.starts_with("  changed    reg.test/app:1  sha256:"));
    assert!(image.contains(" → sha256:"));
    assert!(image.ends_with("(platforms +linux/arm64)"));
    assert!(text.contains("  upgraded   socat:amd64  1.7.4.4-2 → 1.8.0.0-1\n"));
    assert!(text.contains("  removed    dl.test/b  sha256:"));
    assert!(text.contains("  changed    ingress 4.11.2 → 4.11.3  "));
    let sections: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.ends_with(':') && !l.starts_with(' '))
        .collect();
    assert_eq!(
        sections,
        ["images:", "charts:", "files:", "debian packages:"]
    );
    assert!(text.ends_with("image layers not counted)\n"));
}

#[test]
fn markdown_has_a_table_per_kind() {
    let md = super::super::diff_render::markdown(&sample());
    assert!(md.starts_with("## edge 1 → edge 2\n"));
    for heading in [
        "### Images",
        "### Helm charts",
        "### Files",
        "### Debian packages",
    ] {
        assert!(md.contains(heading), "{heading} missing:\n{md}");
    }
    assert!(md.contains("| upgraded | `socat:amd64` | 1.7.4.4-2 | 1.8.0.0-1 |"));
    assert!(md.contains("| change | reference | old | new | notes |\n|---|---|---|---|---|\n"));
}

#[test]
fn json_schema_is_stable() {
    let value = serde_json::to_value(sample()).expect("serializes");
    let keys: Vec<&str> = value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "old",
            "new",
            "images",
            "charts",
            "files",
            "debs",
            "added_bytes"
        ]
    );
    assert_eq!(value["debs"][0]["change"], "downgraded");
    assert_eq!(value["added_bytes"]["basis"], "lockfile");
}

#[test]
fn a_tag_bump_is_one_change_from_the_old_reference() {
    let mut old = lock("1");
    old.images = vec![
        image("docker.io/library/nginx:1.25", "n25", &["linux/amd64"]),
        image("docker.io/library/redis:7.0", "r70", &["linux/amd64"]),
        image("docker.io/library/redis:6.2", "r62", &["linux/amd64"]),
        image("docker.io/library/etcd:3.5", "e35", &["linux/amd64"]),
    ];
    let mut new = lock("2");
    new.images = vec![
        image("docker.io/library/nginx:1.26", "n26", &["linux/amd64"]),
        // redis 7.0 → 7.2 beside an unchanged 6.2 is a bump; two etcd tags in for one out
        // are said as they are.
        image("docker.io/library/redis:7.2", "r72", &["linux/amd64"]),
        image("docker.io/library/redis:6.2", "r62", &["linux/amd64"]),
        image("docker.io/library/etcd:3.6", "e36", &["linux/amd64"]),
        image("docker.io/library/etcd:3.7", "e37", &["linux/amd64"]),
    ];
    let found = diff(&side(old), &side(new));
    let nginx: Vec<_> = found
        .images
        .iter()
        .filter(|i| i.reference.contains("nginx"))
        .collect();
    assert_eq!(nginx.len(), 1, "{:?}", found.images);
    assert_eq!(nginx[0].change, Change::Changed);
    assert_eq!(nginx[0].reference, "docker.io/library/nginx:1.26");
    assert_eq!(
        nginx[0].old_reference.as_deref(),
        Some("docker.io/library/nginx:1.25")
    );
    assert_eq!(nginx[0].old_digest, Some(d("n25")));
    assert_eq!(nginx[0].new_digest, Some(d("n26")));
    let rest: Vec<_> = found
        .images
        .iter()
        .filter(|i| !i.reference.contains("nginx"))
        .map(|i| (i.reference.as_str(), i.change))
        .collect();
    assert_eq!(
        rest,
        [
            ("docker.io/library/etcd:3.5", Change::Removed),
            ("docker.io/library/etcd:3.6", Change::Added),
            ("docker.io/library/etcd:3.7", Change::Added),
            ("docker.io/library/redis:7.2", Change::Changed),
        ]
    );
    assert!(crate::bundle::diff_render::text(&found).contains("(was docker.io/library/nginx:1.25)"));
}
