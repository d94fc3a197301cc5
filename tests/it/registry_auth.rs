//! A registry that requires a login: outpost takes credentials from the Docker config
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) for the registry host named in
//! the manifest, and says clearly when it has none.

use crate::common::*;
use base64::Engine as _;

#[test]
fn credentials_come_from_the_docker_config() {
    let registry = Registry::start_with_login(Some(("ops", "s3cret")));
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    seed_with_login(&registry, work, Some("ops:s3cret"));
    keys(work);
    write_manifest(
        work,
        "edge.yaml",
        "linux/amd64",
        &["library/alpha:1"],
        registry.port,
    );

    // No credentials: the registry refuses, and the error names the image.
    let stderr = outpost_fails(work, &["bundle", "build", "edge.yaml"], 4);
    assert!(
        stderr.starts_with("error: registry.test/library/alpha:1:"),
        "{stderr}"
    );

    // With a Docker config entry for the registry host as the manifest names it.
    let auth = base64::engine::general_purpose::STANDARD.encode("ops:s3cret");
    let config_dir = work.join("docker-config");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.json"),
        format!(r#"{{"auths":{{"registry.test":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    outpost_ok(work, &["bundle", "verify", "bundles/edge-1.0.tar"]);
}
