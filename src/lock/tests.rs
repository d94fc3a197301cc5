//! Unit tests of the lockfile: canonical form, parsing, versions.

use super::*;

fn sample() -> Lockfile {
    let d = Digest::of(b"x");
    let pin = |reference: &str| ImagePin {
        reference: reference.into(),
        digest: d.clone(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: 10,
        platforms: vec![PlatformPin {
            platform: "linux/amd64".into(),
            digest: d.clone(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 10,
        }],
        also_carried: Vec::new(),
        artifact_type: None,
        referrers: Vec::new(),
        signatures: Vec::new(),
        why: Vec::new(),
    };
    Lockfile {
        version: LOCK_VERSION,
        release: ReleaseId {
            name: "edge".into(),
            version: "1".into(),
        },
        manifest_digest: d.clone(),
        platforms: vec!["linux/amd64".into()],
        kubernetes: None,
        images: vec![pin("b.test/z:1"), pin("a.test/a:1")],
        files: Vec::new(),
        debs: Vec::new(),
        charts: Vec::new(),
        rpms: Vec::new(),
        rpm_repos: Vec::new(),
        trusted_root: None,
    }
}

#[test]
fn canonical_bytes_are_sorted_and_round_trip() {
    let lock = sample();
    let bytes = lock.to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.find("a.test/a:1").unwrap() < text.find("b.test/z:1").unwrap());
    assert!(text.ends_with("}\n"));
    let back = Lockfile::from_bytes(Path::new("x.lock"), &bytes).unwrap();
    assert_eq!(back.to_bytes(), bytes);
}

#[test]
fn other_versions_and_stale_manifests_are_named() {
    let text = String::from_utf8(sample().to_bytes())
        .unwrap()
        .replace("\"version\": 1", "\"version\": 9");
    let err = Lockfile::from_bytes(Path::new("x.lock"), text.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported lockfile schema version in x.lock (v9, but only v1 is supported): run `outpost lock` again"
    );
    let stale = sample().check_fresh(Path::new("x.lock"), &Digest::of(b"other"));
    assert!(stale.unwrap_err().to_string().contains("is stale"));
}

#[test]
fn a_listed_chart_wins_over_the_same_chart_pinned_as_a_dependency() {
    let chart = |dependency_of: Option<&str>, images: &[&str]| ChartPin {
        name: "cache".into(),
        version: "0.1.2".into(),
        source: "https://c.test/stable".into(),
        repository: Some("stable".into()),
        reference: "c.test/stable/cache:0.1.2".into(),
        url: Some("https://c.test/stable/cache-0.1.2.tgz".into()),
        sha256: Digest::of(b"tgz"),
        size: 3,
        manifest: None,
        created: None,
        metadata: serde_json::json!({"name": "cache"}),
        provenance: None,
        dependency_of: dependency_of.map(str::to_string),
        images: images.iter().map(|s| s.to_string()).collect(),
        unevaluated: Vec::new(),
    };
    let mut lock = sample();
    lock.charts = vec![chart(Some("web 1.2.7"), &[]), chart(None, &["x.test/a:1"])];
    lock.canonicalize();
    assert_eq!(lock.charts.len(), 1);
    assert_eq!(lock.charts[0].dependency_of, None);
    assert_eq!(lock.charts[0].images, ["x.test/a:1"]);
}

#[test]
fn lock_path_sits_beside_the_manifest() {
    assert_eq!(
        lock_path_for(Path::new("manifests/edge.yaml")),
        PathBuf::from("manifests/edge.lock")
    );
}

#[test]
fn a_key_written_twice_is_refused_with_its_line_and_column() {
    // A hand-edited lockfile with `images` twice: one of them would be silently dropped.
    let text = String::from_utf8(sample().to_bytes()).unwrap();
    let doubled = text.replacen("\"images\":", "\"images\": [],\n  \"images\":", 1);
    let line = doubled[..doubled.rfind("\"images\":").unwrap()]
        .lines()
        .count();
    let err = Lockfile::from_bytes(Path::new("x.lock"), doubled.as_bytes()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("duplicate field `images`"), "{message}");
    assert!(message.contains(&format!("line {line}")), "{message}");
    assert!(message.contains("x.lock"), "{message}");
}
