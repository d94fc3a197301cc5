//! Platform-less OCI artifacts as first-class pins: a Helm chart pushed as OCI, an OCI 1.1
//! artifact with the empty config, a cosign signature manifest (image config media type,
//! simple-signing layer) and an index of artifacts, pushed raw into a real distribution
//! registry (plus an artifact with a 5 MiB non-JSON config, and a runnable image listed under
//! `spec.artifacts`, which stays an image). Each locks with its artifact type and no
//! platform, bundles, verifies, is served by tag and by digest with its own bytes and
//! `Content-Type`, is listed by inspect, and arrives in another registry with the same digest
//! and bytes.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const VULNDB: &str = "application/vnd.example.vulndb.v1";
const POLICY: &str = "application/vnd.example.policy.v1";
const MODEL_CONFIG: &str = "application/vnd.example.model.config.v1";

/// One artifact as pushed upstream: what a client at the site must get back.
struct Pushed {
    repo: String,
    tag: String,
    digest: String,
    media_type: String,
    bytes: Vec<u8>,
    /// `None` for a runnable image.
    artifact_type: Option<String>,
    /// Platforms pinned: none for an artifact.
    platforms: Vec<&'static str>,
    /// Every blob and child manifest it carries (digest → bytes), its own manifest aside.
    carried: BTreeMap<String, Vec<u8>>,
}

impl Pushed {
    fn reference(&self) -> String {
        format!("registry.test/{}:{}", self.repo, self.tag)
    }

    /// Bytes of everything carried for it, its manifest included.
    fn size(&self) -> u64 {
        (self.bytes.len() + self.carried.values().map(Vec::len).sum::<usize>()) as u64
    }
}

fn descriptor(media_type: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "mediaType": media_type,
        "digest": format!("sha256:{}", sha256_hex(bytes)),
        "size": bytes.len(),
    })
}

/// Pushes a manifest of `config` and `layers` (blobs first), tagged `tag`.
fn push_manifest(
    registry: &Registry,
    repo: &str,
    tag: &str,
    mut manifest: serde_json::Value,
    config: (&str, &[u8]),
    layers: &[(&str, &[u8])],
    artifact_type: Option<&str>,
) -> Pushed {
    let mut carried = BTreeMap::new();
    for (_, bytes) in std::iter::once(&config).chain(layers) {
        carried.insert(registry.put_blob(repo, bytes), bytes.to_vec());
    }
    manifest["config"] = descriptor(config.0, config.1);
    manifest["layers"] = layers.iter().map(|(t, b)| descriptor(t, b)).collect();
    let bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    let digest = registry.put_manifest(repo, tag, OCI_MANIFEST, &bytes);
    Pushed {
        repo: repo.into(),
        tag: tag.into(),
        digest,
        media_type: OCI_MANIFEST.into(),
        bytes,
        artifact_type: artifact_type.map(str::to_string),
        platforms: if artifact_type.is_some() {
            Vec::new()
        } else {
            vec!["linux/amd64"]
        },
        carried,
    }
}

/// A real chart archive (`helm package` makes the same shape: `demo/Chart.yaml` in a .tgz).
fn chart_tgz(work: &Path) -> Vec<u8> {
    let dir = work.join("chart/demo");
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n",
    )
    .unwrap();
    let tgz = work.join("demo-0.1.0.tgz");
    run_ok(
        Command::new("tar")
            .arg("-czf")
            .arg(&tgz)
            .arg("-C")
            .arg(work.join("chart"))
            .arg("demo"),
    );
    std::fs::read(tgz).unwrap()
}

/// The artifacts, pushed to `registry` with raw HTTP.
fn push_artifacts(registry: &Registry, work: &Path) -> Vec<Pushed> {
    let oci = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST});
    let helm = push_manifest(
        registry,
        "charts/demo",
        "0.1.0",
        oci.clone(),
        (
            HELM_CONFIG,
            br#"{"apiVersion":"v2","name":"demo","version":"0.1.0"}"#,
        ),
        &[(HELM_CHART, &chart_tgz(work))],
        Some(HELM_CONFIG),
    );
    let with_type = |artifact_type: &str| {
        let mut m = oci.clone();
        m["artifactType"] = artifact_type.into();
        m
    };
    let vulndb = push_manifest(
        registry,
        "data/vulndb",
        "2024-11",
        with_type(VULNDB),
        (OCI_EMPTY, b"{}"),
        &[(
            "application/vnd.example.vulndb.layer.v1+gzip",
            b"CVE-2024-0001 7.5\n",
        )],
        Some(VULNDB),
    );
    let policy = push_manifest(
        registry,
        "data/vulndb",
        "policy",
        with_type(POLICY),
        (OCI_EMPTY, b"{}"),
        &[("application/vnd.example.policy.layer.v1", b"deny all\n")],
        Some(POLICY),
    );
    // An index of both, with no platform and no artifact type of its own: named by its
    // first entry's manifest.
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [descriptor(OCI_MANIFEST, &vulndb.bytes), descriptor(OCI_MANIFEST, &policy.bytes)],
    });
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let mut carried = BTreeMap::new();
    for child in [&vulndb, &policy] {
        carried.insert(child.digest.clone(), child.bytes.clone());
        carried.extend(child.carried.clone());
    }
    let all = Pushed {
        repo: "data/vulndb".into(),
        tag: "all".into(),
        digest: registry.put_manifest("data/vulndb", "all", OCI_INDEX, &index_bytes),
        media_type: OCI_INDEX.into(),
        bytes: index_bytes,
        artifact_type: Some(VULNDB.into()),
        platforms: Vec::new(),
        carried,
    };
    // cosign's signature of some image, under its tag scheme: an image config, one
    // simple-signing payload layer with the signature in an annotation.
    let subject = format!("sha256:{}", sha256_hex(b"the signed image"));
    let payload = serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": "registry.test/library/alpha"},
            "image": {"docker-manifest-digest": subject},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&payload))]},
    }))
    .unwrap();
    let mut signature = push_manifest(
        registry,
        "library/alpha",
        &format!("{}.sig", subject.replace(':', "-")),
        oci.clone(),
        (IMAGE_CONFIG, &config),
        &[(SIMPLE_SIGNING, &payload)],
        Some(IMAGE_CONFIG),
    );
    // The annotation cosign writes; re-push with it (the tag moves to the annotated bytes).
    let mut manifest: serde_json::Value = serde_json::from_slice(&signature.bytes).unwrap();
    manifest["layers"][0]["annotations"] =
        serde_json::json!({"dev.cosignproject.cosign/signature": "MEUCIQDexample"});
    signature.bytes = serde_json::to_vec(&manifest).unwrap();
    signature.digest = registry.put_manifest(
        "library/alpha",
        &signature.tag,
        OCI_MANIFEST,
        &signature.bytes,
    );
    // An artifact whose config is a large blob that is not JSON: it travels as data, and
    // readers of the bundle's head still find every manifest.
    let model: Vec<u8> = (0u32..5 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let big = push_manifest(
        registry,
        "data/model",
        "1",
        oci.clone(),
        (MODEL_CONFIG, &model),
        &[("application/vnd.example.model.weights.v1", b"weights")],
        Some(MODEL_CONFIG),
    );
    // A runnable image listed under spec.artifacts: pinned as an image all the same.
    let layer_dir = work.join("layer");
    std::fs::create_dir_all(&layer_dir).unwrap();
    std::fs::write(layer_dir.join("tool"), "#!/bin/sh\necho tool\n").unwrap();
    let tar = work.join("layer.tar");
    run_ok(
        Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(&layer_dir)
            .arg("tool"),
    );
    let diff_id = sha256_file(&tar);
    run_ok(Command::new("gzip").arg("-n").arg(&tar));
    let layer = std::fs::read(work.join("layer.tar.gz")).unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let tool = push_manifest(
        registry,
        "library/tool",
        "1",
        oci.clone(),
        (IMAGE_CONFIG, &config),
        &[("application/vnd.oci.image.layer.v1.tar+gzip", &layer)],
        None,
    );
    vec![helm, vulndb, all, signature, big, tool]
}

/// GET `url` (plain HTTP), asserting the manifest `pushed` comes back byte for byte with
/// its own media type and digest.
fn assert_manifest_served(url: &str, pushed: &Pushed) {
    let reply = http(
        "GET",
        url,
        &["-H", &format!("Accept: {}", pushed.media_type)],
    );
    assert_eq!(reply.status, 200, "{url}: {}", reply.text());
    assert!(
        reply.body == pushed.bytes,
        "{url}: other bytes: {}",
        reply.text()
    );
    assert_eq!(
        reply.header("Content-Type").as_deref(),
        Some(pushed.media_type.as_str()),
        "{url}"
    );
    assert_eq!(
        reply.header("Docker-Content-Digest").as_deref(),
        Some(pushed.digest.as_str()),
        "{url}"
    );
}

/// Every blob and child manifest of `pushed` comes back from `base` with its bytes.
fn assert_carried_served(base: &str, pushed: &Pushed) {
    for (digest, bytes) in &pushed.carried {
        let kind = if serde_json::from_slice::<serde_json::Value>(bytes)
            .is_ok_and(|v| v.get("schemaVersion").is_some())
        {
            "manifests"
        } else {
            "blobs"
        };
        let url = format!("{base}/{kind}/{digest}");
        // distribution answers an OCI manifest only to a client that accepts it.
        let reply = http("GET", &url, &["-H", &format!("Accept: {OCI_MANIFEST}")]);
        assert_eq!(reply.status, 200, "{url}");
        assert!(&reply.body == bytes, "{url}: other bytes");
    }
}

#[test]
fn artifacts_lock_bundle_verify_serve_and_push_byte_for_byte() {
    let upstream = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    keys(work);
    let pushed = push_artifacts(&upstream, work);
    // The signature is listed among the images: an artifact there is pinned as one too.
    let (images, artifacts): (Vec<&Pushed>, Vec<&Pushed>) =
        pushed.iter().partition(|p| p.repo == "library/alpha");
    let list = |set: &[&Pushed]| {
        set.iter()
            .map(|p| format!("    - {}\n", p.reference()))
            .collect::<String>()
    };
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  images:\n{}  artifacts:\n{}  upstreams: {{registry.test: \"{}\"}}\n",
            list(&images),
            list(&artifacts),
            upstream.url()
        ),
    )
    .unwrap();

    // lock: each artifact pinned with its artifact type and no platform (the index with
    // every entry); the image with its platform and no artifact type.
    let locked = outpost_ok(work, &["lock", "edge.yaml"]);
    assert_eq!(
        locked.trim(),
        "locked 1 image and 5 artifacts into edge.lock"
    );
    let lock = read_json(&work.join("edge.lock"));
    for p in &pushed {
        let pin = lock["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["reference"] == p.reference().as_str())
            .unwrap_or_else(|| panic!("{} not pinned: {lock}", p.reference()));
        assert_eq!(pin["digest"], p.digest.as_str(), "{}", p.reference());
        assert_eq!(
            pin["media_type"],
            p.media_type.as_str(),
            "{}",
            p.reference()
        );
        assert_eq!(
            pin["artifact_type"],
            serde_json::json!(p.artifact_type),
            "{}",
            p.reference()
        );
        let platforms: Vec<&str> = pin["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["platform"].as_str().unwrap())
            .collect();
        assert_eq!(platforms, p.platforms, "{}", p.reference());
    }
    let index = &pushed[2];
    let entries: Vec<&str> = lock["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["reference"] == index.reference().as_str())
        .unwrap()["also_carried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    let listed: serde_json::Value = serde_json::from_slice(&index.bytes).unwrap();
    let listed: Vec<&str> = listed["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    assert_eq!(entries, listed);

    // bundle build, verify.
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    let verified = outpost_ok(
        work,
        &[
            "bundle",
            "verify",
            "bundles/edge-1.0.tar",
            "--key",
            "keys/outpost.pub",
        ],
    );
    assert!(
        verified.starts_with("OK bundles/edge-1.0.tar"),
        "{verified}"
    );

    // The layout's index.json names each artifact's type on its entry, as OCI 1.1 does.
    let layout = json(&run_ok(Command::new("tar").args([
        "-xOf",
        work.join("bundles/edge-1.0.tar").to_str().unwrap(),
        "index.json",
    ])));
    for p in &pushed {
        let entry = layout["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| {
                m["annotations"]["org.opencontainers.image.ref.name"] == p.reference().as_str()
            })
            .unwrap_or_else(|| panic!("{} not in index.json: {layout}", p.reference()));
        assert_eq!(entry["digest"], p.digest.as_str());
        assert_eq!(entry["artifactType"], serde_json::json!(p.artifact_type));
    }

    // inspect: each artifact with its type and the bytes carried for it.
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    for p in &pushed {
        let listed = inspected["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["reference"] == p.reference().as_str())
            .unwrap_or_else(|| panic!("{} not listed: {inspected}", p.reference()));
        assert_eq!(
            listed["artifact_type"],
            serde_json::json!(p.artifact_type),
            "{}",
            p.reference()
        );
        assert_eq!(listed["size"], p.size(), "{}", p.reference());
        assert_eq!(listed["platforms"], serde_json::json!(p.platforms));
    }
    let text = outpost_ok(work, &["bundle", "inspect", "bundles/edge-1.0.tar"]);
    for p in &pushed {
        assert!(
            text.lines().any(|l| l.starts_with(&p.reference())
                && l.ends_with(p.artifact_type.as_deref().unwrap_or("linux/amd64"))),
            "{}: {text}",
            p.reference()
        );
    }
    assert!(text.contains("1 image, 5 artifacts, 0 files"), "{text}");

    // serve: by tag and by digest, the upstream bytes with their own type; blobs too.
    let server = Server::start(work, &["bundles/edge-1.0.tar"]);
    for p in &pushed {
        let base = format!("{}/v2/registry.test/{}", server.url(), p.repo);
        assert_manifest_served(&format!("{base}/manifests/{}", p.tag), p);
        assert_manifest_served(&format!("{base}/manifests/{}", p.digest), p);
        assert_carried_served(&base, p);
    }
    // A stock client reads the chart's manifest from the mirror as upstream has it.
    let raw = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/registry.test/charts/demo:0.1.0", server.addr()),
    ]));
    assert!(raw.as_bytes() == pushed[0].bytes.as_slice(), "{raw}");

    // push: same digests, same bytes in another registry.
    let target = Registry::start();
    let to = format!("127.0.0.1:{}", target.port);
    let out = outpost_ok(
        work,
        &[
            "push",
            "bundles/edge-1.0.tar",
            "--to",
            &to,
            "--plain-http",
            "--json",
        ],
    );
    let out = json(&out);
    assert_eq!(out["images"], 6, "{out}");
    assert_eq!(out["reduced"], serde_json::json!([]), "{out}");
    for p in &pushed {
        let base = format!("{}/v2/{}", target.url(), p.repo);
        assert_manifest_served(&format!("{base}/manifests/{}", p.tag), p);
        assert_manifest_served(&format!("{base}/manifests/{}", p.digest), p);
        assert_carried_served(&base, p);
    }
}

#[test]
fn an_index_of_indexes_of_artifacts_travels_whole() {
    let site = Site::new();
    let (work, registry) = (site.work(), &site.registry);
    let repo = "nested/policies";
    let (empty, data) = (b"{}".as_slice(), b"policy bytes".as_slice());
    registry.put_blob(repo, empty);
    registry.put_blob(repo, data);
    let put = |media_type: &str, value: serde_json::Value, reference: Option<&str>| {
        let bytes = serde_json::to_vec(&value).unwrap();
        let digest = format!("sha256:{}", sha256_hex(&bytes));
        registry.put_manifest(repo, reference.unwrap_or(&digest), media_type, &bytes);
        bytes
    };
    let leaf = put(
        OCI_MANIFEST,
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": POLICY,
            "config": descriptor(OCI_EMPTY, empty), "layers": [descriptor(POLICY, data)]}),
        None,
    );
    let inner = put(
        OCI_INDEX,
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": POLICY,
            "manifests": [descriptor(OCI_MANIFEST, &leaf)]}),
        None,
    );
    let outer = put(
        OCI_INDEX,
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": POLICY,
            "manifests": [descriptor(OCI_INDEX, &inner)]}),
        Some("1"),
    );
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  artifacts: [registry.test/{repo}:1]\n  upstreams: {{registry.test: \"http://127.0.0.1:{}\"}}\n",
            registry.port
        ),
    )
    .unwrap();
    // The index inside the index and the manifest inside that are fetched and carried too.
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    outpost_ok(work, &["bundle", "verify", "bundles/edge-1.0.tar"]);
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    let artifact = &inspected["images"][0];
    assert_eq!(artifact["artifact_type"], POLICY);
    let whole = [
        outer.len(),
        inner.len(),
        leaf.len(),
        empty.len(),
        data.len(),
    ];
    assert_eq!(
        artifact["size"],
        whole.iter().sum::<usize>() as u64,
        "{inspected}"
    );
}
