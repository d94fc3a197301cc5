//! Helm charts at the site, from a lockfile written by hand (pinning is the resolver's, tested
//! on its own): a chart of a classic chart repository (its `.tgz` and `.prov` downloaded
//! over plain HTTP, checked against their pins) and a chart pushed as OCI to the loopback
//! registry. The bundle carries the first in Helm's OCI form; the mirror serves it as
//! `/charts/stable/index.yaml` (a Helm repository index whose `urls` resolve on the mirror
//! and whose digests equal the bytes served) and under `/v2/` by its reference (an OCI image
//! manifest with Helm's config, fetched by skopeo); `inspect` lists both charts; `config
//! helm` names both; `push` sends the chart; a site store holding two releases with the same
//! chart lists it once.

use crate::common::*;
use std::path::Path;
use std::process::Command;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const VERSION: &str = "1.2.3+build.1";
const TGZ: &str = "demo-1.2.3+build.1.tgz";
const CREATED: &str = "2024-10-01T12:00:00Z";

/// A chart archive of `name` `version` as `helm package` shapes it (`<name>/Chart.yaml`).
fn chart_tgz(work: &Path, name: &str, version: &str) -> Vec<u8> {
    let root = work.join(format!("src-{name}"));
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("values.yaml"),
        "image: registry.test/library/alpha:1\n",
    )
    .unwrap();
    let tgz = work.join(format!("{name}.tgz"));
    run_ok(
        Command::new("tar")
            .arg("-czf")
            .arg(&tgz)
            .arg("-C")
            .arg(&root)
            .arg(name),
    );
    std::fs::read(tgz).unwrap()
}

fn descriptor(media_type: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "mediaType": media_type,
        "digest": format!("sha256:{}", sha256_hex(bytes)),
        "size": bytes.len(),
    })
}

/// The upstreams: `stable/` (the demo chart and its provenance file) over plain HTTP, and
/// `charts/cilium:1.16.1` pushed to the registry as `helm push` does.
struct Upstream {
    files: StaticServer,
    tgz: Vec<u8>,
    prov: Vec<u8>,
    oci_tgz: Vec<u8>,
    oci_digest: String,
}

fn upstream(work: &Path, registry: &Registry) -> Upstream {
    let tgz = chart_tgz(work, "demo", VERSION);
    let prov = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: demo\n".to_vec();
    let root = work.join("upstream");
    std::fs::create_dir_all(root.join("stable")).unwrap();
    std::fs::write(root.join("stable").join(TGZ), &tgz).unwrap();
    std::fs::write(root.join("stable").join(format!("{TGZ}.prov")), &prov).unwrap();
    let files = StaticServer::start(root);

    let oci_tgz = chart_tgz(work, "cilium", "1.16.1");
    let config = br#"{"apiVersion":"v2","name":"cilium","version":"1.16.1"}"#;
    registry.put_blob("charts/cilium", config);
    registry.put_blob("charts/cilium", &oci_tgz);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(HELM_CONFIG, config),
        "layers": [descriptor(HELM_CHART, &oci_tgz)],
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let oci_digest = registry.put_manifest("charts/cilium", "1.16.1", OCI_MANIFEST, &bytes);
    Upstream {
        files,
        tgz,
        prov,
        oci_tgz,
        oci_digest,
    }
}

/// Writes `edge.yaml` at `version` (the OCI chart under `spec.artifacts`), locks it, and adds
/// the two chart pins to the lockfile by hand.
fn lock_release(work: &Path, registry: &Registry, up: &Upstream, version: &str) {
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"{version}\"}}\nspec:\n  platforms: [linux/amd64]\n  artifacts: [registry.test/charts/cilium:1.16.1]\n  upstreams: {{registry.test: \"{}\"}}\n",
            registry.url()
        ),
    )
    .unwrap();
    outpost_ok(work, &["lock", "edge.yaml"]);
    let base = format!("http://127.0.0.1:{}/stable", up.files.port);
    let mut lock = read_json(&work.join("edge.lock"));
    lock["charts"] = serde_json::json!([
        {
            "name": "demo",
            "version": VERSION,
            "source": base,
            "repository": "stable",
            "reference": "charts.test/stable/demo:1.2.3_build.1",
            "url": format!("{base}/{TGZ}"),
            "sha256": format!("sha256:{}", sha256_hex(&up.tgz)),
            "size": up.tgz.len(),
            "created": CREATED,
            "metadata": {"apiVersion": "v2", "name": "demo", "version": VERSION, "description": "A demo: chart"},
            "provenance": {
                "url": format!("{base}/{TGZ}.prov"),
                "sha256": format!("sha256:{}", sha256_hex(&up.prov)),
                "size": up.prov.len(),
                "signer": "Demo <demo@test> (0123456789ABCDEF)",
            },
            "images": ["registry.test/library/alpha:1"],
        },
        {
            "name": "cilium",
            "version": "1.16.1",
            "source": "oci://registry.test/charts/cilium",
            "reference": "registry.test/charts/cilium:1.16.1",
            "sha256": format!("sha256:{}", sha256_hex(&up.oci_tgz)),
            "size": up.oci_tgz.len(),
            "manifest": up.oci_digest,
            "metadata": {"apiVersion": "v2", "name": "cilium", "version": "1.16.1"},
        },
    ]);
    std::fs::write(
        work.join("edge.lock"),
        serde_json::to_vec_pretty(&lock).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_pinned_chart_is_served_as_a_chart_repository_and_as_oci() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    keys(work);
    let up = upstream(work, &registry);
    lock_release(work, &registry, &up, "1.0");
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--locked"]);
    let bundle = "bundles/edge-1.0.tar";
    // The chart's OCI form is built the same way every time.
    outpost_ok(
        work,
        &["bundle", "build", "edge.yaml", "--locked", "--out", "again"],
    );
    assert!(
        std::fs::read(work.join(bundle)).unwrap()
            == std::fs::read(work.join("again/edge-1.0.tar")).unwrap(),
        "two builds of a bundle with a chart differ"
    );

    // inspect lists both charts, from the lockfile the bundle carries.
    let inspected = json(&outpost_ok(work, &["bundle", "inspect", bundle, "--json"]));
    let charts = inspected["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 2, "{inspected:#}");
    let demo = charts.iter().find(|c| c["name"] == "demo").unwrap();
    assert_eq!(demo["version"], VERSION);
    assert_eq!(demo["digest"], format!("sha256:{}", sha256_hex(&up.tgz)));
    assert_eq!(demo["repository"], "stable");
    assert_eq!(demo["images"], 1);
    let cilium = charts.iter().find(|c| c["name"] == "cilium").unwrap();
    assert_eq!(cilium["source"], "oci://registry.test/charts/cilium");
    let text = outpost_ok(work, &["bundle", "inspect", bundle]);
    assert!(text.contains("CHART"), "{text}");
    assert!(text.contains("2 artifacts (2 Helm charts)"), "{text}");

    let server = Server::start(work, &[bundle]);
    let url = server.url();
    let listed = http("GET", &format!("{url}/charts/"), &[]);
    assert_eq!(listed.status, 200);
    assert_eq!(json(&listed.text())["repositories"][0]["name"], "stable");

    // index.yaml is a Helm repository index; its urls resolve and their bytes match.
    let index = http("GET", &format!("{url}/charts/stable/index.yaml"), &[]);
    assert_eq!(index.status, 200, "{}", index.text());
    let index: serde_json::Value = serde_norway::from_slice(&index.body).unwrap();
    assert_eq!(index["apiVersion"], "v1");
    let entries = index["entries"]["demo"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["version"], VERSION);
    assert_eq!(entry["description"], "A demo: chart");
    assert_eq!(entry["created"], CREATED);
    assert_eq!(entry["urls"], serde_json::json!([TGZ]));
    let tgz_url = format!("{url}/charts/stable/{}", entry["urls"][0].as_str().unwrap());
    let tgz = http("GET", &tgz_url, &[]);
    assert_eq!(tgz.status, 200);
    assert_eq!(entry["digest"], sha256_hex(&tgz.body));
    assert!(tgz.body == up.tgz, "the .tgz is served byte for byte");
    assert_eq!(
        tgz.header("Content-Type").as_deref(),
        Some("application/gzip")
    );
    // A percent-encoded `+` names the same file; a range is served as for every blob.
    let encoded = http(
        "GET",
        &format!("{url}/charts/stable/demo-1.2.3%2Bbuild.1.tgz"),
        &["-H", "Range: bytes=0-9"],
    );
    assert_eq!(encoded.status, 206);
    assert!(encoded.body == up.tgz[..10]);
    let prov = http("GET", &format!("{tgz_url}.prov"), &[]);
    assert_eq!(prov.status, 200);
    assert!(prov.body == up.prov);
    assert_eq!(
        http("GET", &format!("{url}/charts/stable/demo-9.9.9.tgz"), &[]).status,
        404
    );
    assert!(server.log().contains("route=\"charts\"") || server.log().contains("route=charts"));

    // The same chart under /v2/: Helm's OCI form, its config Chart.yaml as JSON.
    let manifest = http(
        "GET",
        &format!("{url}/v2/charts.test/stable/demo/manifests/1.2.3_build.1"),
        &["-H", &format!("Accept: {OCI_MANIFEST}")],
    );
    assert_eq!(manifest.status, 200, "{}", manifest.text());
    assert_eq!(
        manifest.header("Content-Type").as_deref(),
        Some(OCI_MANIFEST)
    );
    let parsed = json(&manifest.text());
    assert_eq!(parsed["config"]["mediaType"], HELM_CONFIG);
    assert_eq!(parsed["layers"][0]["mediaType"], HELM_CHART);
    assert_eq!(
        parsed["layers"][0]["digest"],
        format!("sha256:{}", sha256_hex(&up.tgz))
    );
    let config = http(
        "GET",
        &format!(
            "{url}/v2/charts.test/stable/demo/blobs/{}",
            parsed["config"]["digest"].as_str().unwrap()
        ),
        &[],
    );
    assert_eq!(json(&config.text())["name"], "demo");
    let raw = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!(
            "docker://{}/charts.test/stable/demo:1.2.3_build.1",
            server.addr()
        ),
    ]));
    assert!(
        raw.as_bytes() == manifest.body,
        "skopeo gets the same manifest"
    );
    // The OCI chart, as pushed upstream.
    let oci = http(
        "GET",
        &format!("{url}/v2/registry.test/charts/cilium/manifests/1.16.1"),
        &["-H", &format!("Accept: {OCI_MANIFEST}")],
    );
    assert_eq!(oci.status, 200);
    assert_eq!(format!("sha256:{}", sha256_hex(&oci.body)), up.oci_digest);

    // config helm names the chart repository and the OCI chart on this mirror.
    let config = outpost_ok(work, &config_args("helm", &url, bundle, &[]));
    assert!(
        config.contains(&format!("helm repo add stable {url}/charts/stable\n")),
        "{config}"
    );
    assert!(
        config.contains(&format!(
            "helm pull oci://{}/registry.test/charts/cilium --version 1.16.1 --plain-http\n",
            server.addr()
        )),
        "{config}"
    );
    assert!(config.contains("kind: HelmRepository"), "{config}");
    drop(server);

    // push sends the chart like any artifact: the same manifest under its repository path.
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
    let pushed = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{to}/site/stable/demo:1.2.3_build.1"),
    ]));
    assert!(
        pushed.as_bytes() == manifest.body,
        "the pushed chart is the bundled one"
    );

    // Two releases of a site store carrying the same chart version list it once.
    lock_release(work, &registry, &up, "2.0");
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--locked"]);
    outpost_ok(work, &["load", bundle, "--store", "site"]);
    outpost_ok(work, &["load", "bundles/edge-2.0.tar", "--store", "site"]);
    let server = Server::start(work, &["--store", "site"]);
    let index = http(
        "GET",
        &format!("{}/charts/stable/index.yaml", server.url()),
        &[],
    );
    let index: serde_json::Value = serde_norway::from_slice(&index.body).unwrap();
    assert_eq!(index["entries"]["demo"].as_array().unwrap().len(), 1);
    let tgz = http("GET", &format!("{}/charts/stable/{TGZ}", server.url()), &[]);
    assert!(tgz.body == up.tgz);
}

#[test]
fn a_chart_whose_bytes_are_not_the_pinned_ones_fails_the_build() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    keys(work);
    let up = upstream(work, &registry);
    lock_release(work, &registry, &up, "1.0");
    let mut lock = read_json(&work.join("edge.lock"));
    let other = format!("sha256:{}", sha256_hex(b"other bytes"));
    lock["charts"][0]["sha256"] = other.clone().into();
    std::fs::write(
        work.join("edge.lock"),
        serde_json::to_vec_pretty(&lock).unwrap(),
    )
    .unwrap();
    let stderr = outpost_fails(work, &["bundle", "build", "edge.yaml", "--locked"], 4);
    assert!(stderr.contains(TGZ), "{stderr}");
    assert!(stderr.contains(&other), "{stderr}");
    assert!(!work.join("bundles/edge-1.0.tar").exists());
}
