//! `config check` on node trees written by the real `config` commands, one tree per runtime
//! (containerd, k3s, RKE2, CRI-O, podman, Talos, Docker), each with two `--mirror`s and
//! `--ca`: every tree passes (exit 0, snapshot `snapshots/it__config_check__passing_node.snap`).
//! On each tree, removing one registry, switching a fallback on, or deleting the CA fails
//! with exit 3 and a row naming the runtime, the registry and the file. Docker mirrors
//! Docker Hub only, and dockerd falls back to Docker Hub itself when every mirror fails: its
//! tree is reported `FALLBACK` even for a bundle of docker.io images, and for a bundle of
//! other registries every other registry is `UNMIRRORED` ("docker.io only").

use crate::common::*;
use std::path::{Path, PathBuf};

const MIRROR_A: &str = "https://a.site:5000";
const MIRROR_B: &str = "https://b.site:5000";
/// The CA as containerd, k3s and RKE2 nodes see it (`--ca` is a node path for them).
const NODE_CA: &str = "/etc/outpost/ca.crt";
const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBdGVzdA==\n-----END CERTIFICATE-----\n";
const REGISTRIES: [&str; 2] = ["other.test", "registry.test"];

/// A signed bundle holding `images`, every registry served by the test upstream.
fn build_bundle(site: &Site, name: &str, images: &[&str]) -> PathBuf {
    let work = site.work();
    let port = site.registry.port;
    let mut registries: Vec<&str> = images
        .iter()
        .map(|i| i.split('/').next().unwrap())
        .collect();
    registries.dedup();
    let upstreams = registries
        .iter()
        .map(|r| format!("{r}: \"http://127.0.0.1:{port}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let images = images
        .iter()
        .map(|i| format!("    - {i}\n"))
        .collect::<String>();
    std::fs::write(
        work.join(format!("{name}.yaml")),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: {name}, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  images:\n{images}  upstreams: {{{upstreams}}}\n"
        ),
    )
    .unwrap();
    outpost_ok(work, &["bundle", "build", &format!("{name}.yaml")]);
    work.join(format!("bundles/{name}-1.0.tar"))
}

/// The same image under two registries.
fn two_registry_bundle(site: &Site) -> PathBuf {
    build_bundle(
        site,
        "edge",
        &[
            "registry.test/library/alpha:1",
            "other.test/library/alpha:1",
        ],
    )
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path.trim_start_matches('/'))).unwrap()
}

fn remove(root: &Path, path: &str) {
    std::fs::remove_file(root.join(path.trim_start_matches('/'))).unwrap();
}

/// `outpost config <kind> --mirror A --mirror B --bundle B --ca CA --out OUT [extra]`.
fn config(work: &Path, kind: &str, bundle: &Path, ca: &str, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "--mirror",
        MIRROR_B,
        "--ca",
        ca,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    outpost_ok(
        work,
        &config_args(kind, MIRROR_A, bundle.to_str().unwrap(), &args),
    );
}

/// `config check` in `work`: exit code and stdout.
fn check(work: &Path, bundle: &Path, root: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        "config",
        "check",
        "--bundle",
        bundle.to_str().unwrap(),
        "--mirror",
        MIRROR_A,
        "--mirror",
        MIRROR_B,
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

/// Asserts `config check` fails with exit 3 and every failing row is `runtime`,
/// `registry` (only), `status`, naming `file`.
fn assert_fails(
    (code, stdout): (i32, String),
    runtime: &str,
    registries: &[&str],
    status: &str,
    file: &str,
) {
    assert_eq!(code, 3, "{stdout}");
    let rows = failing_rows(&stdout);
    assert!(!rows.is_empty(), "{stdout}");
    for row in &rows {
        assert!(
            row.starts_with(runtime)
                && registries.iter().any(|r| row.contains(r))
                && row.contains(status)
                && row.contains(file),
            "{runtime} {registries:?} {status} {file}:\n{stdout}"
        );
    }
    for registry in registries {
        assert!(
            rows.iter().any(|r| r.contains(registry)),
            "{registry}:\n{stdout}"
        );
    }
}

/// Asserts `config check` passes with an OK row per runtime × registry.
fn assert_passes((code, stdout): &(i32, String), runtime: &str, registries: &[&str]) {
    assert_eq!(*code, 0, "{stdout}");
    for registry in registries {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(runtime) && l.contains(registry) && l.contains(" OK ")),
            "{runtime} {registry}:\n{stdout}"
        );
    }
}

/// A YAML file edited as a value.
fn edit_yaml(root: &Path, path: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut doc: serde_json::Value = serde_norway::from_str(&read(root, path)).unwrap();
    edit(&mut doc);
    write(root, path, &serde_norway::to_string(&doc).unwrap());
}

/// A `registries.conf` edited as TOML: `edit` gets each `[[registry]]` table.
fn edit_registries_conf(root: &Path, path: &str, edit: impl Fn(&mut toml::Table) -> bool) {
    let mut doc: toml::Table = read(root, path).parse().unwrap();
    let list = doc["registry"].as_array_mut().unwrap();
    list.retain_mut(|entry| edit(entry.as_table_mut().unwrap()));
    write(root, path, &toml::to_string(&doc).unwrap());
}

/// The passing table of each runtime's tree, for the snapshot.
struct Passing(String);

impl Passing {
    fn add(&mut self, title: &str, (_, stdout): &(i32, String)) {
        self.0.push_str(&format!("## {title}\n{stdout}\n"));
    }
}

#[test]
fn trees_written_by_each_config_command_pass_and_each_leak_fails_naming_it() {
    let site = Site::new();
    let work = site.work();
    let bundle = two_registry_bundle(&site);
    let ca_file = work.join("site-ca.pem");
    std::fs::write(&ca_file, PEM).unwrap();
    let ca_file = ca_file.to_str().unwrap();
    let mut passing = Passing(String::new());

    // containerd: certs.d written by the command, the CA copied to its node path.
    let root = work.join("containerd-node");
    let certs_d = root.join("etc/containerd/certs.d");
    config(work, "containerd", &bundle, NODE_CA, &certs_d, &[]);
    write(&root, NODE_CA, PEM);
    let result = check(work, &bundle, &root, &[]);
    assert_passes(&result, "containerd", &REGISTRIES);
    passing.add("containerd", &result);
    // (a) One registry's hosts file removed.
    let hosts = "/etc/containerd/certs.d/other.test/hosts.toml";
    let saved = read(&root, hosts);
    remove(&root, hosts);
    assert_fails(
        check(work, &bundle, &root, &[]),
        "containerd",
        &["other.test"],
        "UNMIRRORED",
        hosts,
    );
    write(&root, hosts, &saved);
    // (b) The fallback switched on: --allow-upstream names the registry as `server`.
    config(
        work,
        "containerd",
        &bundle,
        NODE_CA,
        &certs_d,
        &["--allow-upstream"],
    );
    let result = check(work, &bundle, &root, &[]);
    assert_fails(
        result.clone(),
        "containerd",
        &REGISTRIES,
        "FALLBACK",
        ":2 server: ",
    );
    for registry in REGISTRIES {
        assert!(
            result.1.contains(&format!("https://{registry}")),
            "{result:?}"
        );
    }
    config(work, "containerd", &bundle, NODE_CA, &certs_d, &[]);
    // (c) The CA missing.
    remove(&root, NODE_CA);
    assert_fails(
        check(work, &bundle, &root, &[]),
        "containerd",
        &REGISTRIES,
        "NO CA",
        NODE_CA,
    );

    // k3s and RKE2: registries.yaml and the config.yaml.d drop-in, the CA copied.
    for flavour in ["k3s", "rke2"] {
        let root = work.join(format!("{flavour}-node"));
        config(work, flavour, &bundle, NODE_CA, &root, &[]);
        write(&root, NODE_CA, PEM);
        let result = check(work, &bundle, &root, &[]);
        assert_passes(&result, flavour, &REGISTRIES);
        passing.add(flavour, &result);
        let registries_yaml = format!("/etc/rancher/{flavour}/registries.yaml");
        let dropin = format!("/etc/rancher/{flavour}/config.yaml.d/50-outpost-registries.yaml");
        // (a) One registry's mirror entry removed.
        let saved = read(&root, &registries_yaml);
        edit_yaml(&root, &registries_yaml, |doc| {
            doc["mirrors"]
                .as_object_mut()
                .unwrap()
                .remove("other.test")
                .unwrap();
        });
        assert_fails(
            check(work, &bundle, &root, &[]),
            flavour,
            &["other.test"],
            "UNMIRRORED",
            &registries_yaml,
        );
        // The whole file removed (the drop-in left): still checked, every registry
        // unmirrored.
        remove(&root, &registries_yaml);
        assert_fails(
            check(work, &bundle, &root, &[]),
            flavour,
            &REGISTRIES,
            "UNMIRRORED",
            &registries_yaml,
        );
        write(&root, &registries_yaml, &saved);
        // (b) The default endpoint switched back on in the drop-in.
        let saved = read(&root, &dropin);
        write(
            &root,
            &dropin,
            &saved.replace(
                "disable-default-registry-endpoint: true",
                "disable-default-registry-endpoint: false",
            ),
        );
        assert_fails(
            check(work, &bundle, &root, &[]),
            flavour,
            &REGISTRIES,
            "FALLBACK",
            &format!("{dropin}:4 disable-default-registry-endpoint"),
        );
        write(&root, &dropin, &saved);
        // (c) The CA missing.
        remove(&root, NODE_CA);
        assert_fails(
            check(work, &bundle, &root, &[]),
            flavour,
            &REGISTRIES,
            "NO CA",
            &registries_yaml,
        );
    }

    // CRI-O (a registries.conf.d drop-in) and podman (registries.conf), the CA copied by
    // the command into certs.d for each mirror.
    for (engine, file) in [
        ("crio", "/etc/containers/registries.conf.d/50-outpost.conf"),
        ("podman", "/etc/containers/registries.conf"),
    ] {
        let root = work.join(format!("{engine}-node"));
        config(work, engine, &bundle, ca_file, &root, &[]);
        let result = check(work, &bundle, &root, &[]);
        assert_passes(&result, "cri-o/podman", &REGISTRIES);
        passing.add(engine, &result);
        // (a) One registry's [[registry]] removed.
        let saved = read(&root, file);
        edit_registries_conf(&root, file, |entry| {
            entry["prefix"].as_str() != Some("other.test")
        });
        assert_fails(
            check(work, &bundle, &root, &[]),
            "cri-o/podman",
            &["other.test"],
            "UNMIRRORED",
            "/etc/containers/registries.conf",
        );
        write(&root, file, &saved);
        // (b) A fallback switched on: the location is the registry itself, not blocked.
        edit_registries_conf(&root, file, |entry| {
            if entry["prefix"].as_str() == Some("other.test") {
                entry.insert("location".into(), "other.test".into());
            }
            true
        });
        assert_fails(
            check(work, &bundle, &root, &[]),
            "cri-o/podman",
            &["other.test"],
            "FALLBACK",
            file,
        );
        write(&root, file, &saved);
        // (c) The CA of mirror B missing.
        remove(&root, "/etc/containers/certs.d/b.site:5000/ca.crt");
        assert_fails(
            check(work, &bundle, &root, &[]),
            "cri-o/podman",
            &REGISTRIES,
            "NO CA",
            "b.site:5000",
        );
    }

    // Talos: the patch written by the command, checked with --talos.
    let root = work.join("talos-node");
    config(work, "talos", &bundle, ca_file, &root, &[]);
    let patch = root.join("talos-registries-patch.yaml");
    let talos = ["--talos", patch.to_str().unwrap()];
    let result = check(work, &bundle, &root, &talos);
    assert_passes(&result, "talos", &REGISTRIES);
    passing.add("talos", &result);
    let saved = read(&root, "talos-registries-patch.yaml");
    let mirrors = "/machine/registries/mirrors";
    // (a) One registry removed.
    edit_yaml(&root, "talos-registries-patch.yaml", |doc| {
        let mirrors = doc.pointer_mut(mirrors).unwrap().as_object_mut().unwrap();
        mirrors.remove("other.test").unwrap();
    });
    let name = patch.to_str().unwrap();
    assert_fails(
        check(work, &bundle, &root, &talos),
        "talos",
        &["other.test"],
        "UNMIRRORED",
        name,
    );
    // (b) skipFallback switched off.
    write(&root, "talos-registries-patch.yaml", &saved);
    edit_yaml(&root, "talos-registries-patch.yaml", |doc| {
        let entry = doc.pointer_mut(&format!("{mirrors}/other.test")).unwrap();
        entry["skipFallback"] = false.into();
    });
    assert_fails(
        check(work, &bundle, &root, &talos),
        "talos",
        &["other.test"],
        "FALLBACK",
        name,
    );
    // (c) The CA missing.
    write(&root, "talos-registries-patch.yaml", &saved);
    edit_yaml(&root, "talos-registries-patch.yaml", |doc| {
        let registries = doc.pointer_mut("/machine/registries").unwrap();
        registries
            .as_object_mut()
            .unwrap()
            .remove("config")
            .unwrap();
    });
    assert_fails(
        check(work, &bundle, &root, &talos),
        "talos",
        &REGISTRIES,
        "NO CA",
        name,
    );

    // Docker: even for a bundle of Docker Hub images through its mirrors, dockerd tries
    // Docker Hub itself when every mirror fails, and nothing turns that off: reported.
    let hub = build_bundle(&site, "hub", &["docker.io/library/alpha:1"]);
    let root = work.join("docker-node");
    config(work, "docker", &hub, ca_file, &root, &[]);
    assert_fails(
        check(work, &hub, &root, &[]),
        "docker",
        &["docker.io"],
        "FALLBACK",
        "/etc/docker/daemon.json",
    );
    // (a) The mirror list removed; (c) the CA of mirror A missing: each named as well.
    let saved = read(&root, "/etc/docker/daemon.json");
    write(&root, "/etc/docker/daemon.json", "{}\n");
    let (code, stdout) = check(work, &hub, &root, &[]);
    assert_eq!(code, 3);
    assert!(
        failing_rows(&stdout)
            .iter()
            .any(|r| r.contains("UNMIRRORED") && r.contains("/etc/docker/daemon.json")),
        "{stdout}"
    );
    write(&root, "/etc/docker/daemon.json", &saved);
    remove(&root, "/etc/docker/certs.d/a.site:5000/ca.crt");
    let (code, stdout) = check(work, &hub, &root, &[]);
    assert_eq!(code, 3);
    assert!(
        failing_rows(&stdout)
            .iter()
            .any(|r| r.contains("NO CA") && r.contains("a.site:5000")),
        "{stdout}"
    );

    let _filters = snapshot_settings().bind_to_scope();
    insta::assert_snapshot!("passing_node", passing.0);
}

#[test]
fn docker_mirrors_docker_hub_only_and_an_empty_root_is_bad_input() {
    let site = Site::new();
    let work = site.work();
    let bundle = two_registry_bundle(&site);
    let ca_file = work.join("site-ca.pem");
    std::fs::write(&ca_file, PEM).unwrap();
    let root = work.join("docker-node");
    config(
        work,
        "docker",
        &bundle,
        ca_file.to_str().unwrap(),
        &root,
        &[],
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
