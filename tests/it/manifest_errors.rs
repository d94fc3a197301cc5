//! Manifest mistakes are reported with file, line and column, before any network access.
//! The messages for a set of typical typos are snapshotted whole
//! (`snapshots/it__manifest_errors__*`).

use crate::common::*;

/// The lines every manifest below starts with.
const HEAD: &str =
    "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {name: edge, version: \"1\"}\n";

#[test]
fn a_typo_is_reported_with_line_and_column() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    std::fs::write(
        work.join("edge.yaml"),
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {name: edge, version: \"1\"}\nspec:\n  platforms: [linux/amd64]\n  imagez: [alpine]\n",
    )
    .unwrap();
    let stderr = outpost_fails(work, &["lock", "edge.yaml"], 2);
    assert_eq!(
        stderr.trim(),
        "error: edge.yaml:6:3: spec: unknown field `imagez`, expected one of `platforms`, `images`, `artifacts`, `upstreams`, `kubernetes`, `components`, `files`, `packages`, `verify`, `referrers`, `charts`"
    );
    insta::assert_snapshot!("imagez", stderr);
}

#[test]
fn typical_typos_are_each_named_where_they_are() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let cases = [
        (
            "misspelled metadata field",
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {name: edge, verison: \"1\"}\nspec:\n  images: [registry.test/a:1]\n".to_string(),
        ),
        (
            "wrong kind",
            "apiVersion: outpost/v1alpha1\nkind: Relase\nmetadata: {name: edge, version: \"1\"}\nspec:\n  images: [registry.test/a:1]\n".to_string(),
        ),
        (
            "wrong apiVersion",
            "apiVersion: outpost/v1\nkind: Release\nmetadata: {name: edge, version: \"1\"}\nspec:\n  images: [registry.test/a:1]\n".to_string(),
        ),
        (
            "platforms not a list",
            format!("{HEAD}spec:\n  platforms: 7\n  images: [registry.test/a:1]\n"),
        ),
        (
            "misspelled field in a file entry",
            format!("{HEAD}spec:\n  files:\n    - url: https://example.test/a\n      chekcsum: {{sha256: abc}}\n"),
        ),
        (
            "misspelled field in an apt source",
            format!("{HEAD}spec:\n  packages:\n    apt:\n      - source: system\n        pakages: [socat]\n"),
        ),
        (
            "broken indentation",
            format!("{HEAD}spec:\n  images:\n    - registry.test/a:1\n   - registry.test/b:1\n"),
        ),
    ];
    let mut messages = Vec::new();
    for (case, text) in cases {
        std::fs::write(work.join("edge.yaml"), text).unwrap();
        let stderr = outpost_fails(work, &["lock", "edge.yaml"], 2);
        assert!(stderr.contains("edge.yaml:"), "{case}: {stderr}");
        assert!(
            !work.join("cache").exists(),
            "{case}: the cache was touched"
        );
        messages.push(format!("{case}:\n{}\n", stderr.trim_end()));
    }
    insta::assert_snapshot!("typical_typos", messages.join("\n"));
}

#[test]
fn an_unreachable_registry_is_named() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let port = free_port();
    write_manifest(work, "edge.yaml", "linux/amd64", &["library/alpha:1"], port);
    let stderr = outpost_fails(work, &["lock", "edge.yaml"], 4);
    // A refused connection may be a registry restarting: retried (and noted), then named.
    let error = stderr.lines().last().unwrap_or_default();
    assert!(
        error.starts_with("error: registry.test/library/alpha:1:")
            && error.ends_with("Connection refused (os error 111) (after 4 attempts)"),
        "{stderr}"
    );
    assert!(
        stderr
            .starts_with("note: retrying manifest of registry.test/library/alpha:1 (attempt 2): "),
        "{stderr}"
    );
}
