//! Pins that must hold where a release lands, and what outpost says along the way:
//! a digest-pinned index resolves on the push target (or the push fails naming it), a tag
//! that moved upstream keeps its pin until `lock --update`, a foreign layer is refused with
//! its URL, and the messages of `lock` and of failed downloads say each thing once.

use crate::common::*;
use std::path::Path;
use std::process::Command;

/// Whether skopeo resolves `docker://TO/NAME` (a tag or a digest) on a plain-HTTP registry.
fn skopeo_resolves(to: &str, name: &str) -> bool {
    Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{to}/{name}"),
        ])
        .output()
        .unwrap()
        .status
        .success()
}

/// The pin of `reference` in `edge.lock`.
fn lock_pin(work: &Path, reference: &str) -> serde_json::Value {
    let lock = read_json(&work.join("edge.lock"));
    lock["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pin| pin["reference"] == reference)
        .unwrap_or_else(|| panic!("{reference} is not in edge.lock: {lock}"))
        .clone()
}

/// Stderr of a command that succeeded.
fn stderr_ok(work: &Path, args: &[&str]) -> String {
    let out = outpost(work, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "outpost {args:?} failed:\n{stderr}");
    stderr
}

#[test]
fn digest_pinned_indexes_resolve_on_the_push_target_or_the_push_fails_naming_them() {
    let site = Site::new();
    let work = site.work();
    let port = site.registry.port;
    let pinned = upstream_digest(port, "library/multi:1");
    let by_tag_and_digest = format!("library/multi:1@{pinned}");
    let by_digest = format!("library/multi@{pinned}");
    site.manifest("linux/amd64", &[&by_tag_and_digest, &by_digest]);
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);

    // The lockfile says the digest-pinned index travels whole: arm64 too, although only
    // amd64 was asked for.
    for reference in [&by_tag_and_digest, &by_digest] {
        let pin = lock_pin(work, &format!("registry.test/{reference}"));
        assert_eq!(pin["digest"], pinned.as_str());
        assert_eq!(pin["platforms"][0]["platform"], "linux/amd64", "{pin}");
        let also: Vec<&str> = pin["also_carried"]
            .as_array()
            .unwrap_or_else(|| panic!("no also_carried: {pin}"))
            .iter()
            .map(|p| p["platform"].as_str().unwrap())
            .collect();
        assert_eq!(also, ["linux/arm64"], "{pin}");
    }

    // The bundle says so too.
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    for image in inspected["images"].as_array().unwrap() {
        assert_eq!(image["whole_index"], true, "{image}");
        assert_eq!(
            image["platforms"],
            serde_json::json!(["linux/amd64"]),
            "{image}"
        );
    }

    // Pushed: every reference the bundle lists resolves on the target, by tag and by digest,
    // and copies out whole.
    let target = Registry::start();
    let to = format!("127.0.0.1:{}", target.port);
    let summary = json(&outpost_ok(
        work,
        &[
            "push",
            "bundles/edge-1.0.tar",
            "--to",
            &to,
            "--plain-http",
            "--prefix",
            "site",
            "--json",
        ],
    ));
    assert_eq!(summary["reduced"].as_array().unwrap().len(), 0, "{summary}");
    assert_eq!(upstream_digest(target.port, "site/library/multi:1"), pinned);
    assert!(skopeo_resolves(
        &to,
        &format!("site/library/multi@{pinned}")
    ));
    let copied = work.join("copied-multi");
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{to}/site/library/multi@{pinned}"),
        &format!("oci:{}", copied.display()),
    ]));

    // A bundle that carries the pinned index only partly (as outpost made them before):
    // the push does what it can, then fails naming every pinned reference that does not
    // resolve, and the digest is indeed not there.
    let lock_path = work.join("edge.lock");
    let mut lock = read_json(&lock_path);
    for pin in lock["images"].as_array_mut().unwrap() {
        pin.as_object_mut().unwrap().remove("also_carried");
    }
    std::fs::write(&lock_path, serde_json::to_vec_pretty(&lock).unwrap()).unwrap();
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--locked"]);
    let partial_target = Registry::start();
    let to = format!("127.0.0.1:{}", partial_target.port);
    let err = outpost_fails(
        work,
        &[
            "push",
            "bundles/edge-1.0.tar",
            "--to",
            &to,
            "--plain-http",
            "--prefix",
            "site",
        ],
        4,
    );
    let expected = format!(
        "error: pushed, but these pinned references do not resolve on {to}: \
         {to}/site/library/multi@{pinned} (pinned as registry.test/library/multi:1@{pinned}), \
         {to}/site/library/multi@{pinned} (pinned as registry.test/library/multi@{pinned}); \
         the registry refused each index as pinned because the bundle carries only some of its \
         platforms (a tag, if any, names an index of the carried platforms). Rebuild the bundle \
         with this version of outpost (`outpost bundle build MANIFEST`, or `outpost lock` then \
         `--locked`): an index pinned by digest then travels whole\n"
    );
    assert_eq!(err, expected);
    assert!(!skopeo_resolves(
        &to,
        &format!("site/library/multi@{pinned}")
    ));
}

#[test]
fn a_moved_tag_keeps_its_pin_until_lock_update() {
    let site = Site::new();
    let work = site.work();
    let port = site.registry.port;
    site.manifest("linux/amd64", &["library/alpha:1", "team/beta:1"]);
    let first = stderr_ok(work, &["lock", "edge.yaml"]);
    assert!(!first.contains("tag moved"), "{first}");
    let old = upstream_digest(port, "library/alpha:1");
    assert_eq!(
        lock_pin(work, "registry.test/library/alpha:1")["digest"],
        old.as_str()
    );
    let locked_bytes = std::fs::read(work.join("edge.lock")).unwrap();

    // The tag moves upstream: alpha:1 now names beta's image.
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://127.0.0.1:{port}/team/beta:1"),
        &format!("docker://127.0.0.1:{port}/library/alpha:1"),
    ]));
    let new = upstream_digest(port, "library/alpha:1");
    assert_ne!(old, new);

    // A lock keeps the pin, and says so with both digests.
    let kept = stderr_ok(work, &["lock", "edge.yaml"]);
    assert_eq!(
        kept,
        format!(
            "tag moved: registry.test/library/alpha:1 now names {new} upstream; keeping the \
             locked {old} (`outpost lock edge.yaml --update registry.test/library/alpha:1` \
             moves the pin)\n"
        )
    );
    assert_eq!(std::fs::read(work.join("edge.lock")).unwrap(), locked_bytes);

    // An image the manifest does not have cannot be updated.
    let err = outpost_fails(
        work,
        &["lock", "edge.yaml", "--update", "registry.test/nope:1"],
        2,
    );
    assert_eq!(
        err,
        "error: --update registry.test/nope:1: the manifest has no such image (its images: \
         registry.test/library/alpha:1, registry.test/team/beta:1)\n"
    );

    // `--update IMAGE` moves that pin (named as in the manifest, or without the tag).
    for name in [
        "registry.test/library/alpha:1",
        "registry.test/library/alpha",
    ] {
        std::fs::write(work.join("edge.lock"), &locked_bytes).unwrap();
        let updated = stderr_ok(work, &["lock", "edge.yaml", "--update", name]);
        assert_eq!(
            updated,
            format!(
                "tag moved: registry.test/library/alpha:1 now names {new} upstream; pin \
                 updated from {old}\n"
            )
        );
        assert_eq!(
            lock_pin(work, "registry.test/library/alpha:1")["digest"],
            new.as_str()
        );
    }
    // Then nothing has moved any more; `--update` alone re-resolves everything quietly.
    assert_eq!(stderr_ok(work, &["lock", "edge.yaml"]), "");
    assert_eq!(stderr_ok(work, &["lock", "edge.yaml", "--update"]), "");
    assert_eq!(
        lock_pin(work, "registry.test/library/alpha:1")["digest"],
        new.as_str()
    );
}

#[test]
fn a_foreign_layer_is_refused_with_its_url_unless_allowed() {
    // A Windows-style image whose base layer is foreign (`urls`): the registry holds its
    // manifest and config, never the layer, which lives at another host. (A static tree in
    // the registry's URL layout: distribution refuses such a manifest unless configured to
    // allow its URLs.)
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("v2/win/base");
    std::fs::create_dir_all(repo.join("manifests")).unwrap();
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(root.path().join("windows/base")).unwrap();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = format!("sha256:{}", sha256_hex(config));
    std::fs::write(repo.join("blobs").join(&config_digest), config).unwrap();
    let layer = b"the foreign layer, not served";
    let layer_digest = format!("sha256:{}", sha256_hex(layer));
    let url = "https://layers.test/windows/base/layer";
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "digest": layer_digest,
            "size": layer.len(),
            "urls": [url],
        }],
    });
    std::fs::write(
        repo.join("manifests/1"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let upstream = StaticServer::start(root.path().to_path_buf());
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  images: [registry.test/win/base:1]\n  upstreams: {{registry.test: \"http://127.0.0.1:{port}\", layers.test: \"http://127.0.0.1:{port}\"}}\n",
            port = upstream.port
        ),
    )
    .unwrap();

    // Refused by default, naming the image, the layer, its URL and the way to opt in.
    let err = outpost_fails(work, &["bundle", "build", "edge.yaml"], 4);
    assert_eq!(
        err,
        format!(
            "error: registry.test/win/base:1: layer {layer_digest} is a foreign \
             (non-distributable) layer: registries do not serve it, its content is at {url}; \
             to carry it, build with --allow-foreign-layers (outpost fetches it from that URL \
             and checks it against its digest; its licence may restrict redistribution)\n"
        )
    );
    assert!(!work.join("bundles/edge-1.0.tar").exists());

    // Allowed, but the URL serves other bytes: refused by digest, nothing kept.
    let served = root.path().join("windows/base/layer");
    std::fs::write(&served, b"the foreign layer, NOT served").unwrap();
    let err = outpost_fails(
        work,
        &["bundle", "build", "edge.yaml", "--allow-foreign-layers"],
        4,
    );
    assert!(err.contains(&layer_digest) && err.contains(url), "{err}");
    assert!(!work.join("bundles/edge-1.0.tar").exists());

    // Allowed, and the URL serves the layer: it travels in the bundle, which verifies.
    std::fs::write(&served, layer).unwrap();
    outpost_ok(
        work,
        &["bundle", "build", "edge.yaml", "--allow-foreign-layers"],
    );
    outpost_ok(work, &["bundle", "verify", "bundles/edge-1.0.tar"]);
    let carried = tar_entries(&work.join("bundles/edge-1.0.tar"));
    let name = format!("blobs/sha256/{}", sha256_hex(layer));
    assert!(
        carried.iter().any(|(entry, _, _)| *entry == name),
        "{carried:?}"
    );
}

#[test]
fn lock_says_what_it_locked() {
    // Only Debian packages (from the host's archive): no "0 image(s)".
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    std::fs::write(
        work.join("edge.yaml"),
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {name: edge, version: \"1\"}\nspec:\n  platforms: [linux/amd64]\n  packages:\n    apt:\n      - source: system\n        packages: [socat]\n",
    )
    .unwrap();
    let out = outpost_ok(work, &["lock", "edge.yaml"]);
    let packages = read_json(&work.join("edge.lock"))["debs"]
        .as_array()
        .unwrap()
        .len();
    assert!(packages >= 1);
    let noun = if packages == 1 { "package" } else { "packages" };
    assert_eq!(out, format!("locked {packages} {noun} into edge.lock\n"));

    // Files and one image: each kind counted, in the right number.
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("tool"), b"tool bytes").unwrap();
    let upstream = StaticServer::start(files.path().to_path_buf());
    let registry = Registry::start();
    seed_set(&registry, &work.join("layouts"), &["--set", "test"], None);
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1\"}}\nspec:\n  images: [registry.test/library/alpha:1]\n  files:\n    - url: http://files.test/tool\n      checksum: {{sha256: {}}}\n  upstreams: {{registry.test: \"http://127.0.0.1:{}\", files.test: \"http://127.0.0.1:{}\"}}\n",
            sha256_hex(b"tool bytes"),
            registry.port,
            upstream.port
        ),
    )
    .unwrap();
    let out = outpost_ok(work, &["lock", "edge.yaml"]);
    assert_eq!(out, "locked 1 image and 1 file into edge.lock\n");
}

#[test]
fn failed_downloads_name_the_url_once_and_count_attempts_right() {
    let files = tempfile::tempdir().unwrap();
    let upstream = StaticServer::start(files.path().to_path_buf());
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    let manifest = |name: &str| {
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1\"}}\nspec:\n  files:\n    - url: http://files.test/{name}\n      checksum: {{sha256: {}}}\n  upstreams: {{files.test: \"http://127.0.0.1:{}\"}}\n",
            sha256_hex(b"tool bytes"),
            upstream.port
        )
    };

    // lock: the file is not there.
    std::fs::write(work.join("edge.yaml"), manifest("missing")).unwrap();
    let err = outpost_fails(work, &["lock", "edge.yaml"], 4);
    assert_eq!(
        err,
        "error: http://files.test/missing: the server answered 404\n"
    );

    // build --locked: it was there at lock time and is gone now; a 404 is not retried.
    std::fs::write(files.path().join("tool"), b"tool bytes").unwrap();
    std::fs::write(work.join("edge.yaml"), manifest("tool")).unwrap();
    outpost_ok(work, &["lock", "edge.yaml"]);
    std::fs::remove_file(files.path().join("tool")).unwrap();
    std::fs::remove_dir_all(work.join("cache")).unwrap();
    let err = outpost(work, &["bundle", "build", "edge.yaml", "--locked"]);
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert_eq!(err.status.code(), Some(4), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: http://files.test/tool: blob sha256:{}: the server answered 404 (after 1 \
             attempt); nothing corrupt was kept in the cache, run the build again to resume\n",
            sha256_hex(b"tool bytes")
        )
    );
}

#[test]
fn a_schema1_manifest_is_named_once() {
    // A registry that still serves a Docker schema 1 manifest (a static tree: distribution
    // no longer accepts them).
    let root = tempfile::tempdir().unwrap();
    let manifests = root.path().join("v2/library/old/manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("1"),
        br#"{"schemaVersion":1,"name":"library/old","tag":"1","architecture":"amd64","fsLayers":[],"history":[]}"#,
    )
    .unwrap();
    let upstream = StaticServer::start(root.path().to_path_buf());
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    write_manifest(
        work,
        "edge.yaml",
        "linux/amd64",
        &["library/old:1"],
        upstream.port,
    );
    let err = outpost_fails(work, &["lock", "edge.yaml"], 4);
    assert_eq!(
        err,
        "error: registry.test/library/old:1: Docker schema 1 manifests are not supported \
         (re-push the image with a current client)\n"
    );
}

/// One index named both by tag (some platforms) and by digest (whole): build, verify, load,
/// inspect, `store verify` and push must all agree on what the bundle carries — the whole
/// index. (Found in review: the tag entry, sorted first, hid the digest entry's promise, so
/// verify and load passed a bundle that inspect, serve and push then refused.)
#[test]
fn one_index_named_by_tag_and_by_digest_is_carried_whole_everywhere() {
    let site = Site::new();
    let work = site.work();
    let pinned = upstream_digest(site.registry.port, "library/multi:1");
    let by_digest = format!("library/multi@{pinned}");
    site.manifest("linux/amd64", &["library/multi:1", &by_digest]);
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    let bundle = "bundles/edge-1.0.tar";
    outpost_ok(work, &["bundle", "verify", bundle]);
    outpost_ok(work, &["bundle", "inspect", bundle]);
    outpost_ok(work, &["load", bundle, "--store", "store"]);
    outpost_ok(work, &["store", "verify", "--store", "store"]);
    let target = Registry::start();
    let to = format!("127.0.0.1:{}", target.port);
    outpost_ok(
        work,
        &[
            "push",
            bundle,
            "--to",
            &to,
            "--plain-http",
            "--prefix",
            "site",
        ],
    );
    // The whole index resolves on the target by digest and by tag.
    assert!(skopeo_resolves(
        &to,
        &format!("site/library/multi@{pinned}")
    ));
    assert_eq!(upstream_digest(target.port, "site/library/multi:1"), pinned);
}
