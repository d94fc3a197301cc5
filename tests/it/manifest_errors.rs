//! Manifest mistakes are reported with file, line and column, before any network access.

use crate::common::*;

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
        "error: edge.yaml:6:3: spec: unknown field `imagez`, expected one of `platforms`, `images`, `upstreams`, `kubernetes`, `components`, `files`, `packages`"
    );
}

#[test]
fn an_unreachable_registry_is_named() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let port = free_port();
    write_manifest(work, "edge.yaml", "linux/amd64", &["library/alpha:1"], port);
    let stderr = outpost_fails(work, &["lock", "edge.yaml"], 4);
    assert!(
        stderr.starts_with("error: registry.test/library/alpha:1:"),
        "{stderr}"
    );
}
