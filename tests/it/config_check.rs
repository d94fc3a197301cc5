//! `config check` on a node tree: containerd's `certs.d` written by `config containerd`, the
//! other runtimes' files (k3s, RKE2, CRI-O/podman, Talos) written here by hand in their
//! documented formats, and the CA copied in. The whole tree passes (exit 0, snapshot
//! `snapshots/it__config_check__passing_node.snap`); removing one registry's hosts file,
//! switching a fallback on, or deleting the CA fails with exit 3, naming the registry, the
//! runtime and the file.

use crate::common::*;
use std::path::{Path, PathBuf};

const MIRROR: &str = "https://mirror.site:5000";
/// The CA as nodes see it.
const CA: &str = "/etc/outpost/ca.crt";
const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBdGVzdA==\n-----END CERTIFICATE-----\n";

/// A signed bundle holding the same image under two registries.
fn two_registry_bundle(site: &Site) -> PathBuf {
    let work = site.work();
    let port = site.registry.port;
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  images:\n    - registry.test/library/alpha:1\n    - other.test/library/alpha:1\n  upstreams: {{registry.test: \"http://127.0.0.1:{port}\", other.test: \"http://127.0.0.1:{port}\"}}\n"
        ),
    )
    .unwrap();
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    work.join("bundles/edge-1.0.tar")
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn containerd(work: &Path, bundle: &Path, root: &Path, extra: &[&str]) {
    let out = root.join("etc/containerd/certs.d");
    let mut args = vec!["--ca", CA, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    outpost_ok(
        work,
        &config_args("containerd", MIRROR, bundle.to_str().unwrap(), &args),
    );
}

const REGISTRIES_YAML: &str = "mirrors:\n  registry.test:\n    endpoint:\n      - https://mirror.site:5000\n  other.test:\n    endpoint:\n      - https://mirror.site:5000\nconfigs:\n  mirror.site:5000:\n    tls:\n      ca_file: /etc/outpost/ca.crt\n";

fn registries_conf(blocked: &str) -> String {
    ["registry.test", "other.test"]
        .map(|r| {
            format!(
                "[[registry]]\nprefix = \"{r}\"\nlocation = \"{r}\"\n{blocked}mirror-by-digest-only = false\n\n[[registry.mirror]]\nlocation = \"mirror.site:5000/{r}\"\n\n"
            )
        })
        .concat()
}

fn talos_patch() -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(PEM);
    format!(
        "machine:\n  registries:\n    mirrors:\n      registry.test:\n        endpoints: [\"https://mirror.site:5000\"]\n        skipFallback: true\n      other.test:\n        endpoints: [\"https://mirror.site:5000\"]\n        skipFallback: true\n    config:\n      mirror.site:5000:\n        tls:\n          ca: {ca}\n"
    )
}

/// A node whose every runtime pulls from the mirror only.
fn passing_node(work: &Path, bundle: &Path) -> PathBuf {
    let root = work.join("node");
    containerd(work, bundle, &root, &[]);
    write(&root, CA.trim_start_matches('/'), PEM);
    for flavour in ["k3s", "rke2"] {
        write(
            &root,
            &format!("etc/rancher/{flavour}/registries.yaml"),
            REGISTRIES_YAML,
        );
        write(
            &root,
            &format!("etc/rancher/{flavour}/config.yaml"),
            "disable-default-registry-endpoint: true\n",
        );
    }
    write(
        &root,
        "etc/containers/registries.conf",
        &registries_conf("blocked = true\n"),
    );
    write(&root, "etc/containers/certs.d/mirror.site:5000/ca.crt", PEM);
    write(work, "talos-patch.yaml", &talos_patch());
    root
}

/// `config check` in `work`: exit code and stdout.
fn check(work: &Path, bundle: &Path, root: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        "config",
        "check",
        "--bundle",
        bundle.to_str().unwrap(),
        "--mirror",
        MIRROR,
    ];
    args.extend_from_slice(extra);
    args.push(root.to_str().unwrap());
    let out = outpost(work, &args);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The table rows that are not OK.
fn failing_rows(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.contains("UNMIRRORED") || l.contains("FALLBACK") || l.contains("NO CA"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_node_written_by_config_passes_and_each_leak_fails_naming_it() {
    let site = Site::new();
    let work = site.work();
    let bundle = two_registry_bundle(&site);
    let root = passing_node(work, &bundle);
    let talos = ["--talos", "talos-patch.yaml"];

    let (code, stdout) = check(work, &bundle, &root, &talos);
    assert_eq!(code, 0, "{stdout}");
    {
        let _filters = snapshot_settings().bind_to_scope();
        insta::assert_snapshot!("passing_node", stdout);
    }
    // Every registry for every runtime, under the named mirror.
    for runtime in ["containerd", "k3s", "rke2", "cri-o/podman", "talos"] {
        for registry in ["registry.test", "other.test"] {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with(runtime) && l.contains(registry) && l.contains(" OK ")),
                "{runtime} {registry}:\n{stdout}"
            );
        }
    }

    // (a) One registry's hosts file removed: containerd pulls it from upstream.
    let hosts = root.join("etc/containerd/certs.d/other.test/hosts.toml");
    std::fs::remove_file(&hosts).unwrap();
    let (code, stdout) = check(work, &bundle, &root, &[]);
    assert_eq!(code, 3, "{stdout}");
    let rows = failing_rows(&stdout);
    assert_eq!(rows.len(), 1, "{stdout}");
    assert!(
        rows[0].starts_with("containerd")
            && rows[0].contains("other.test")
            && rows[0].contains("UNMIRRORED")
            && rows[0].contains("/etc/containerd/certs.d/other.test/hosts.toml"),
        "{stdout}"
    );

    // (b) A fallback switched on: containerd's --allow-upstream, and registries.conf
    // without `blocked`.
    containerd(work, &bundle, &root, &["--allow-upstream"]);
    let (code, stdout) = check(work, &bundle, &root, &[]);
    assert_eq!(code, 3, "{stdout}");
    let rows = failing_rows(&stdout);
    assert_eq!(rows.len(), 2, "{stdout}");
    for (row, registry) in rows.iter().zip(["other.test", "registry.test"]) {
        assert!(
            row.starts_with("containerd")
                && row.contains(registry)
                && row.contains("FALLBACK")
                && row.contains(":2 server: ")
                && row.contains(&format!("https://{registry}")),
            "{stdout}"
        );
    }
    containerd(work, &bundle, &root, &[]);
    write(
        &root,
        "etc/containers/registries.conf",
        &registries_conf(""),
    );
    let (code, stdout) = check(work, &bundle, &root, &[]);
    assert_eq!(code, 3, "{stdout}");
    let rows = failing_rows(&stdout);
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(
        rows.iter().all(|r| r.starts_with("cri-o/podman")
            && r.contains("FALLBACK")
            && r.contains("/etc/containers/registries.conf:")),
        "{stdout}"
    );
    write(
        &root,
        "etc/containers/registries.conf",
        &registries_conf("blocked = true\n"),
    );

    // (c) The CA deleted: every runtime that names the file says so.
    std::fs::remove_file(root.join("etc/outpost/ca.crt")).unwrap();
    let (code, stdout) = check(work, &bundle, &root, &["--json"]);
    assert_eq!(code, 3, "{stdout}");
    let report = json(&stdout);
    assert_eq!(report["passes"], false);
    let failing: Vec<(String, String)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "OK")
        .map(|c| {
            assert_eq!(c["status"], "NO CA", "{c}");
            assert!(
                c["faults"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("/etc/outpost/ca.crt"),
                "{c}"
            );
            (
                c["runtime"].as_str().unwrap().to_string(),
                c["registry"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = ["containerd", "k3s", "rke2"]
        .iter()
        .flat_map(|r| ["other.test", "registry.test"].map(|g| (r.to_string(), g.to_string())))
        .collect();
    assert_eq!(failing, expected);
}

#[test]
fn docker_mirrors_docker_hub_only_and_an_empty_root_is_bad_input() {
    let site = Site::new();
    let work = site.work();
    let bundle = two_registry_bundle(&site);
    let root = work.join("docker-node");
    write(
        &root,
        "etc/docker/daemon.json",
        "{\n  \"registry-mirrors\": [\"https://mirror.site:5000\"]\n}\n",
    );
    let (code, stdout) = check(work, &bundle, &root, &[]);
    assert_eq!(code, 3, "{stdout}");
    let rows = failing_rows(&stdout);
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(
        rows.iter().all(|r| r.starts_with("docker")
            && r.contains("UNMIRRORED")
            && r.contains("docker.io only")),
        "{stdout}"
    );

    let empty = work.join("empty-node");
    std::fs::create_dir_all(&empty).unwrap();
    let stderr = outpost_fails(
        work,
        &[
            "config",
            "check",
            "--bundle",
            bundle.to_str().unwrap(),
            empty.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        stderr.contains("no runtime configuration found")
            && stderr.contains("/etc/containerd/certs.d")
            && stderr.contains("/etc/containers/registries.conf"),
        "{stderr}"
    );
}
