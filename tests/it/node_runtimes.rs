//! Every runtime's configuration, from one bundle and two `--mirror`s: k3s/RKE2
//! `registries.yaml`, the Talos patch, Docker's `daemon.json` and CRI-O/podman
//! `registries.conf` parsed as their runtimes read them (YAML, JSON, TOML), each registry the
//! bundle holds mirrored to every mirror in order, the CA set per mirror host, fallback off;
//! and Debian's podman pulling every image of the bundle by its upstream name through the
//! `registries.conf` `config podman` writes, with the upstream registry stopped, then with
//! the first mirror stopped too.

use crate::common::*;
use base64::Engine as _;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The images of the test bundle, by upstream name: three registries, one of them Docker
/// Hub, all served by the one seeded upstream.
const IMAGES: [&str; 3] = [
    "registry.test/library/alpha:1",
    "registry.test/library/multi:1",
    "second.test/team/beta:1",
];
const REGISTRIES: [&str; 2] = ["registry.test", "second.test"];

const MIRROR_A: &str = "https://a.site:5000";
const MIRROR_B: &str = "https://b.site:5443";
const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBdGVzdA==\n-----END CERTIFICATE-----\n";

/// Builds `bundles/edge-1.0.tar` of [`IMAGES`], every registry mapped to the seeded upstream.
fn build_bundle(site: &Site) -> String {
    let port = site.registry.port;
    let images: String = IMAGES.iter().map(|i| format!("    - {i}\n")).collect();
    let upstreams: Vec<String> = REGISTRIES
        .iter()
        .map(|r| format!("{r}: \"http://127.0.0.1:{port}\""))
        .collect();
    std::fs::write(
        site.work().join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  images:\n{images}  upstreams: {{{}}}\n",
            upstreams.join(", ")
        ),
    )
    .unwrap();
    outpost_ok(site.work(), &["bundle", "build", "edge.yaml"]);
    "bundles/edge-1.0.tar".to_string()
}

/// `config KIND --mirror A --mirror B --bundle BUNDLE EXTRA…`: stdout and stderr.
fn config(
    work: &Path,
    kind: &str,
    mirrors: &[&str],
    bundle: &str,
    extra: &[&str],
) -> (String, String) {
    let mut args = vec!["config", kind];
    for mirror in mirrors {
        args.extend(["--mirror", mirror]);
    }
    args.extend(["--bundle", bundle]);
    args.extend_from_slice(extra);
    let out = outpost(work, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "outpost {args:?}: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// The keys of a mapping, sorted.
fn keys_of(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not a mapping: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

/// k3s/RKE2 `registries.yaml`: every registry → both mirrors in order, no rewrite, configs
/// keyed by each mirror host with the CA path.
fn assert_registries_yaml(doc: &Value, ca: &str) {
    assert_eq!(keys_of(&doc["mirrors"]), REGISTRIES, "{doc}");
    for registry in REGISTRIES {
        let entry = &doc["mirrors"][registry];
        assert_eq!(strings(&entry["endpoint"]), [MIRROR_A, MIRROR_B], "{doc}");
        assert!(entry.get("rewrite").is_none(), "{doc}");
    }
    assert_eq!(
        keys_of(&doc["configs"]),
        ["a.site:5000", "b.site:5443"],
        "{doc}"
    );
    for host in ["a.site:5000", "b.site:5443"] {
        assert_eq!(doc["configs"][host]["tls"]["ca_file"], ca, "{doc}");
    }
}

#[test]
fn every_runtime_file_mirrors_every_registry_to_every_mirror_in_order() {
    let site = Site::new();
    let work = site.work();
    let bundle = build_bundle(&site);
    std::fs::write(work.join("ca.pem"), PEM).unwrap();
    let mirrors = [MIRROR_A, MIRROR_B];

    // k3s, written as a node tree: registries.yaml and the config.yaml drop-in (also printed).
    let ca_on_nodes = "/etc/rancher/k3s/outpost-ca.crt";
    let (stdout, _) = config(
        work,
        "k3s",
        &mirrors,
        &bundle,
        &["--ca", ca_on_nodes, "--out", "node-k3s"],
    );
    let registries =
        std::fs::read_to_string(work.join("node-k3s/etc/rancher/k3s/registries.yaml")).unwrap();
    assert!(registries
        .starts_with("# /etc/rancher/k3s/registries.yaml, written by `outpost config k3s`"));
    assert_registries_yaml(&yaml(&registries), ca_on_nodes);
    let dropin = std::fs::read_to_string(
        work.join("node-k3s/etc/rancher/k3s/config.yaml.d/50-outpost-registries.yaml"),
    )
    .unwrap();
    assert_eq!(yaml(&dropin)["disable-default-registry-endpoint"], true);
    assert_eq!(stdout, dropin);
    assert!(dropin.contains("v1.26.13+k3s1"), "{dropin}");

    // RKE2, printed: registries.yaml, then the config.yaml snippet, as two YAML documents.
    let (stdout, stderr) = config(
        work,
        "rke2",
        &mirrors,
        &bundle,
        &["--ca", "/etc/rancher/rke2/ca.crt"],
    );
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(&stdout)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{stdout}");
    assert!(
        stdout.starts_with("# /etc/rancher/rke2/registries.yaml"),
        "{stdout}"
    );
    assert_registries_yaml(&docs[0], "/etc/rancher/rke2/ca.crt");
    assert_eq!(
        docs[1]["disable-default-registry-endpoint"], true,
        "{stdout}"
    );
    assert!(stderr.contains("airgap images tarball"), "{stderr}");

    // Talos: every registry → both endpoints, skipFallback, the CA (base64 PEM) per mirror host.
    let (stdout, _) = config(work, "talos", &mirrors, &bundle, &["--ca", "ca.pem"]);
    let registries = &yaml(&stdout)["machine"]["registries"];
    assert_eq!(keys_of(&registries["mirrors"]), REGISTRIES, "{stdout}");
    for registry in REGISTRIES {
        let entry = &registries["mirrors"][registry];
        assert_eq!(strings(&entry["endpoints"]), mirrors, "{stdout}");
        assert_eq!(entry["skipFallback"], true, "{stdout}");
    }
    assert_eq!(
        keys_of(&registries["config"]),
        ["a.site:5000", "b.site:5443"],
        "{stdout}"
    );
    for host in ["a.site:5000", "b.site:5443"] {
        let ca = registries["config"][host]["tls"]["ca"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(ca)
            .unwrap();
        assert_eq!(decoded, PEM.as_bytes());
    }

    // Docker: Docker Hub's mirrors in order, the CA placed per mirror host, the limit said.
    let (_, stderr) = config(
        work,
        "docker",
        &mirrors,
        &bundle,
        &["--ca", "ca.pem", "--out", "node-docker"],
    );
    let daemon = read_json(&work.join("node-docker/etc/docker/daemon.json"));
    assert_eq!(strings(&daemon["registry-mirrors"]), mirrors, "{daemon}");
    assert!(daemon.get("insecure-registries").is_none(), "{daemon}");
    for host in ["a.site:5000", "b.site:5443"] {
        let copied = work.join(format!("node-docker/etc/docker/certs.d/{host}/ca.crt"));
        assert_eq!(std::fs::read_to_string(copied).unwrap(), PEM);
    }
    assert!(
        stderr.contains("Docker mirrors Docker Hub (docker.io) only"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Not mirrored for Docker: registry.test, second.test."),
        "{stderr}"
    );

    // CRI-O (a drop-in) and podman: a [[registry]] per registry, both mirrors at the upstream
    // path in order, never digest-only, and the CA under certs.d per mirror host.
    for (kind, file) in [
        ("crio", "etc/containers/registries.conf.d/50-outpost.conf"),
        ("podman", "etc/containers/registries.conf"),
    ] {
        let out = format!("node-{kind}");
        config(
            work,
            kind,
            &mirrors,
            &bundle,
            &["--ca", "ca.pem", "--out", &out],
        );
        let text = std::fs::read_to_string(work.join(&out).join(file)).unwrap();
        let conf: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{kind}: {e}\n{text}"));
        let entries = conf["registry"].as_array().unwrap();
        assert_eq!(entries.len(), REGISTRIES.len(), "{text}");
        for (entry, registry) in entries.iter().zip(REGISTRIES) {
            assert_eq!(entry["prefix"].as_str(), Some(registry), "{text}");
            // After the mirrors, the location is tried: the first mirror again, never upstream.
            assert_eq!(
                entry["location"].as_str(),
                Some(format!("a.site:5000/{registry}").as_str()),
                "{text}"
            );
            assert_eq!(
                entry["mirror-by-digest-only"].as_bool(),
                Some(false),
                "{text}"
            );
            assert_eq!(entry["blocked"].as_bool(), Some(false), "{text}");
            let locations: Vec<&str> = entry["mirror"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    assert!(m.get("insecure").is_none(), "{text}");
                    m["location"].as_str().unwrap()
                })
                .collect();
            assert_eq!(
                locations,
                [
                    format!("a.site:5000/{registry}"),
                    format!("b.site:5443/{registry}")
                ],
                "{text}"
            );
        }
        for host in ["a.site:5000", "b.site:5443"] {
            let copied = work.join(format!("{out}/etc/containers/certs.d/{host}/ca.crt"));
            assert_eq!(std::fs::read_to_string(copied).unwrap(), PEM);
        }
    }

    // containerd: every mirror a [host] in order, in every registry's hosts.toml.
    config(work, "containerd", &mirrors, &bundle, &["--out", "certs"]);
    for registry in REGISTRIES {
        let text =
            std::fs::read_to_string(work.join(format!("certs/{registry}/hosts.toml"))).unwrap();
        let hosts: toml::Table = text.parse().unwrap();
        let listed: Vec<&String> = hosts["host"].as_table().unwrap().keys().collect();
        assert_eq!(listed.len(), 2, "{text}");
        assert!(text.find(MIRROR_A) < text.find(MIRROR_B), "{text}");
    }

    // A CA that is not there where outpost runs is one clear input error.
    let stderr = outpost_fails(
        work,
        &[
            "config",
            "podman",
            "--mirror",
            MIRROR_A,
            "--bundle",
            &bundle,
            "--ca",
            "missing.pem",
        ],
        2,
    );
    assert!(
        stderr.contains("--ca missing.pem: cannot read it here"),
        "{stderr}"
    );
}

/// Root podman with its own store, run directory and the given `registries.conf`.
fn podman(dir: &Path, registries_conf: &Path) -> Command {
    require("podman");
    let auth = dir.join("auth.json");
    if !auth.exists() {
        std::fs::write(&auth, "{\"auths\": {}}").unwrap();
    }
    let mut cmd = Command::new("podman");
    cmd.env("CONTAINERS_REGISTRIES_CONF", registries_conf)
        .env("REGISTRY_AUTH_FILE", &auth)
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .arg("--tmpdir")
        .arg(dir.join("tmp"))
        .args(["--storage-driver", "vfs", "--events-backend", "none"]);
    cmd
}

/// `podman pull IMAGE` (quietly); asserts success and returns the image's digest.
fn podman_pull(dir: &Path, registries_conf: &Path, image: &str) -> String {
    let out = podman(dir, registries_conf)
        .args(["pull", "-q", image])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "podman pull {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = run_ok(podman(dir, registries_conf).args([
        "image",
        "inspect",
        "--format",
        "{{.Digest}}",
        image,
    ]));
    digest.trim().to_string()
}

#[test]
fn podman_pulls_every_image_through_the_mirrors_with_upstream_then_first_mirror_stopped() {
    let mut site = Site::new();
    let bundle = build_bundle(&site);
    let work = site.work().to_path_buf();
    let pinned: Vec<String> = IMAGES
        .iter()
        .map(|i| pinned_digest(&work, "edge.lock", i))
        .collect();
    site.registry.stop();

    // One mirror, plain HTTP.
    let a = Server::start(&work, &[&bundle]);
    config(
        &work,
        "podman",
        &[&a.url()],
        &bundle,
        &["--out", "node-one"],
    );
    let conf = work.join("node-one/etc/containers/registries.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("insecure = true"), "{text}");
    let store = tempfile::Builder::new()
        .prefix("podman")
        .tempdir_in("/tmp")
        .unwrap();
    for (image, digest) in IMAGES.iter().zip(&pinned) {
        assert_eq!(&podman_pull(store.path(), &conf, image), digest, "{image}");
    }
    let log = a.log();
    assert!(
        log.contains("/v2/registry.test/library/alpha/manifests/1"),
        "{log}"
    );
    assert!(
        log.contains("/v2/second.test/team/beta/manifests/1"),
        "{log}"
    );

    // Two mirrors, A first; with A stopped every pull comes from B.
    let b = Server::start(&work, &[&bundle]);
    config(
        &work,
        "podman",
        &[&a.url(), &b.url()],
        &bundle,
        &["--out", "node-two"],
    );
    let conf = work.join("node-two/etc/containers/registries.conf");
    drop(a);
    let store = tempfile::Builder::new()
        .prefix("podman")
        .tempdir_in("/tmp")
        .unwrap();
    for (image, digest) in IMAGES.iter().zip(&pinned) {
        assert_eq!(&podman_pull(store.path(), &conf, image), digest, "{image}");
    }
    let log = b.log();
    assert!(
        log.contains("/v2/registry.test/library/multi/manifests/1"),
        "{log}"
    );
}
