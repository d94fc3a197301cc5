//! Node configuration against what nodes really do: containerd over TLS through the
//! `hosts.toml` files `config containerd --ca` writes (a missing tag ends in the mirror's own
//! "not found", every entry trusts the site CA), registry hosts written in any case resolve,
//! serve and configure as the lower-case name a node asks for, and kubespray's `*_version`
//! variables match the files a bundle carries (`snapshots/it__node_config__*`).

use crate::common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// A TLS mirror (`--tls auto`, CA in `state/ca.crt`) of `bundle` and the containerd hosts
/// files for it in `work/certs-tls`; returns the server and the CA path.
fn tls_mirror_with_hosts_files(work: &Path, bundle: &Path) -> (Server, String) {
    let server = Server::start_tls_auto(work, bundle);
    let ca = work.join("state/ca.crt").display().to_string();
    outpost_ok(
        work,
        &config_args(
            "containerd",
            &server.url(),
            bundle.to_str().unwrap(),
            &["--ca", &ca, "--out", "certs-tls"],
        ),
    );
    (server, ca)
}

#[test]
fn containerd_over_tls_ends_a_missing_tag_in_the_mirrors_not_found() {
    let site = Site::new();
    let work = site.work();
    let bundle = site.build("linux/amd64", &["library/alpha:1"]);
    let (server, ca) = tls_mirror_with_hosts_files(work, &bundle);
    let hosts = std::fs::read_to_string(work.join("certs-tls/registry.test/hosts.toml")).unwrap();
    // The fallback `server` is the mirror, with the CA, as the [host] entry is.
    assert_eq!(
        hosts,
        format!(
            "# Written by `outpost config containerd`: pull registry.test images from the site mirror only.\n\
             server = \"{url}\"\ncapabilities = [\"pull\", \"resolve\"]\nca = \"{ca}\"\n\n\
             [host.\"{url}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"{ca}\"\n",
            url = server.url()
        )
    );
    let containerd_dir = tempfile::Builder::new()
        .prefix("ctd")
        .tempdir_in("/tmp")
        .unwrap();
    let containerd = Containerd::start(containerd_dir.path());
    let certs = work.join("certs-tls");

    let missing = containerd
        .pull_command(&certs, "registry.test/library/alpha:missing")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success(), "{stderr}");
    assert!(
        stderr.contains("registry.test/library/alpha:missing: not found"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("x509") && !stderr.contains("certificate"),
        "{stderr}"
    );
    // Both attempts (the host entry and the server fallback) reached the mirror.
    let log = server.log();
    assert_eq!(
        log.matches("/v2/library/alpha/manifests/missing?ns=registry.test")
            .count(),
        2,
        "{log}"
    );

    containerd.pull(&certs, "registry.test/library/alpha:1");
    assert_eq!(
        containerd.image_digest("registry.test/library/alpha:1"),
        pinned_digest(work, "edge.lock", "registry.test/library/alpha:1")
    );

    // Only the opt-in names a real upstream as the fallback.
    outpost_ok(
        work,
        &config_args(
            "containerd",
            &server.url(),
            bundle.to_str().unwrap(),
            &["--ca", &ca, "--out", "certs-open", "--allow-upstream"],
        ),
    );
    let open = std::fs::read_to_string(work.join("certs-open/registry.test/hosts.toml")).unwrap();
    assert!(
        open.contains("\nserver = \"https://registry.test\"\n"),
        "{open}"
    );
}

#[test]
fn registry_hosts_in_any_case_lock_serve_and_configure_in_lower_case() {
    let site = Site::new();
    let work = site.work();
    let port = site.registry.port;
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  images:\n    - Registry.TEST/library/alpha:1\n  upstreams: {{registry.test: \"http://127.0.0.1:{port}\"}}\n"
        ),
    )
    .unwrap();
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    let pinned = pins(work, "edge.lock");
    assert_eq!(pinned.len(), 1);
    assert_eq!(pinned[0].0, "registry.test/library/alpha:1");

    let bundle = work.join("bundles/edge-1.0.tar");
    let (server, ca) = tls_mirror_with_hosts_files(work, &bundle);
    // A client that sends the host in another case (ns=) is served the same image.
    for path in [
        "registry.test/library/alpha/manifests/1",
        "library/alpha/manifests/1?ns=Registry.TEST",
    ] {
        let reply = http(
            "GET",
            &format!("{}/v2/{path}", server.url()),
            &["--cacert", &ca],
        );
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.header("docker-content-digest").as_deref(),
            Some(pinned[0].1.as_str()),
            "{path}"
        );
    }
    let mut written: Vec<String> = std::fs::read_dir(work.join("certs-tls"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["registry.test"]);

    let containerd_dir = tempfile::Builder::new()
        .prefix("ctd")
        .tempdir_in("/tmp")
        .unwrap();
    let containerd = Containerd::start(containerd_dir.path());
    containerd.pull(&work.join("certs-tls"), "registry.test/library/alpha:1");
    assert_eq!(
        containerd.image_digest("registry.test/library/alpha:1"),
        pinned[0].1
    );
    assert!(
        server
            .log()
            .contains("/v2/library/alpha/manifests/1?ns=registry.test"),
        "{}",
        server.log()
    );

    // Upper case in the repository path stays an error, with line and column.
    std::fs::write(
        work.join("bad.yaml"),
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {name: bad, version: \"1\"}\nspec:\n  platforms: [linux/amd64]\n  images:\n    - Registry.TEST/library/Alpha:1\n",
    )
    .unwrap();
    let stderr = outpost_fails(work, &["lock", "bad.yaml"], 2);
    assert_eq!(
        stderr.trim(),
        "error: bad.yaml:7:7: spec.images: `Registry.TEST/library/Alpha:1` is not an image reference: the repository path `library/Alpha` has upper case (only the registry host is case-insensitive)"
    );
}

/// The value of `{{ {'amd64': '…', …}[image_arch] }}` for `arch`.
fn checksum_for(value: &str, arch: &str) -> String {
    let start = value
        .find(&format!("'{arch}': '"))
        .unwrap_or_else(|| panic!("no {arch} in {value}"))
        + arch.len()
        + 5;
    let end = start + value[start..].find('\'').unwrap();
    value[start..end].to_string()
}

/// Jinja's `{{ variable }}` references in `value`, expanded from `vars` (and `image_arch`).
fn expand(value: &str, vars: &BTreeMap<String, String>, arch: &str) -> String {
    let mut out = value.replace("{{ image_arch }}", arch);
    for _ in 0..4 {
        for (key, replacement) in vars {
            out = out.replace(&format!("{{{{ {key} }}}}"), replacement);
        }
    }
    assert!(!out.contains("{{"), "{value} → {out}");
    out
}

#[test]
fn kubespray_versions_and_checksums_match_the_carried_files() {
    let site = crate::kubernetes_release::K8sSite::new();
    let work = site.work();
    outpost_ok(work, &["bundle", "build", "k8s.yaml"]);
    let server = Server::start(work, &["bundles/k8s-1.31.tar"]);
    let _filters = snapshot_settings().bind_to_scope();
    for (release, snapshot, prefix) in [
        ("2.28", "kubespray_2_28", "sha256:"),
        ("2.27", "kubespray_2_27", ""),
    ] {
        let text = outpost_ok(
            work,
            &config_args(
                "kubespray",
                &server.url(),
                "bundles/k8s-1.31.tar",
                &["--kubespray-version", release],
            ),
        );
        insta::assert_snapshot!(snapshot, text);
        // Every download kubespray would make resolves on the mirror, for each architecture,
        // and its bytes hash to the checksum kubespray checks them against.
        let vars: BTreeMap<String, String> =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
        let downloads: Vec<&String> = vars
            .keys()
            .filter(|k| k.ends_with("_download_url"))
            .collect();
        assert_eq!(downloads.len(), 8, "{text}");
        for key in downloads {
            let component = key.trim_end_matches("_download_url");
            let checksum_key = vars
                .keys()
                .find(|k| k.starts_with(&format!("{component}_")) && k.ends_with("_checksum"))
                .unwrap_or_else(|| panic!("no checksum for {key}:\n{text}"));
            for arch in ["amd64", "arm64"] {
                let url = expand(&vars[key], &vars, arch);
                let reply = http("GET", &url, &[]);
                assert_eq!(reply.status, 200, "{release} {key}: {url}");
                assert_eq!(
                    checksum_for(&vars[checksum_key], arch),
                    format!("{prefix}{}", sha256_hex(&reply.body)),
                    "{release} {checksum_key} {arch}"
                );
            }
        }
    }
    let stderr = outpost_fails(
        work,
        &config_args(
            "kubespray",
            &server.url(),
            "bundles/k8s-1.31.tar",
            &["--kubespray-version", "2.23"],
        ),
        2,
    );
    assert_eq!(
        stderr.trim(),
        "error: --kubespray-version: kubespray `2.23`: outpost writes variables for kubespray 2.24 and later (give a version such as 2.27 or v2.28.1)"
    );
}
