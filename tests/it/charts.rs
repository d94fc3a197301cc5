//! Helm charts end to end. `scripts/testcharts.py` builds a chart repository (web 1.2.3,
//! 1.2.7 and 1.3.0, its dependency cache 0.1.0 and 0.1.2, and `liar`, whose index digest is
//! wrong) served over plain HTTP by `python3 -m http.server`, and an OCI chart pushed into a
//! real distribution registry by the registry API; `scripts/testimages.py --set charts`
//! pushes the images the charts deploy. Lock pins the charts and every image they deploy
//! with why; the bundle carries both; the site serves a chart repository that parses as
//! Helm's index and the OCI chart by the distribution API; push sends them on.

use crate::common::*;
use std::path::Path;
use std::process::Command;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// An upstream registry with the charts' images and the OCI chart, a chart repository on
/// loopback, and a work directory with a signing key.
struct Upstream {
    registry: Registry,
    charts: StaticServer,
    dir: tempfile::TempDir,
}

impl Upstream {
    fn start() -> Self {
        Self::start_signed(None)
    }

    /// Like [`Upstream::start`], each repository chart with a `.prov` signed by the default
    /// key of the gpg home `gnupghome`.
    fn start_signed(gnupghome: Option<&Path>) -> Self {
        let registry = Registry::start();
        let dir = tempfile::tempdir().unwrap();
        seed_set(
            &registry,
            &dir.path().join("layouts"),
            &["--set", "charts"],
            None,
        );
        keys(dir.path());
        let root = dir.path().join("upstream");
        let mut charts = Command::new("python3");
        charts
            .arg(repo_root().join("scripts/testcharts.py"))
            .arg(&root);
        if let Some(home) = gnupghome {
            charts.arg("--sign").arg(home);
        }
        run_ok(&mut charts);
        // The OCI chart, pushed as `helm push` does: Chart.yaml as JSON, then the .tgz.
        let config = std::fs::read(root.join("oci/ocidemo.json")).unwrap();
        let chart = std::fs::read(root.join("oci/ocidemo-0.3.0.tgz")).unwrap();
        let repo = "charts/ocidemo";
        registry.put_blob(repo, &config);
        registry.put_blob(repo, &chart);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": HELM_CONFIG, "digest": format!("sha256:{}", sha256_hex(&config)), "size": config.len()},
            "layers": [{"mediaType": HELM_CHART, "digest": format!("sha256:{}", sha256_hex(&chart)), "size": chart.len()}],
        });
        registry.put_manifest(
            repo,
            "0.3.0",
            OCI_MANIFEST,
            &serde_json::to_vec(&manifest).unwrap(),
        );
        let charts = StaticServer::start(root);
        Upstream {
            registry,
            charts,
            dir,
        }
    }

    fn work(&self) -> &Path {
        self.dir.path()
    }

    fn chart_bytes(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.charts.root.join("stable").join(file)).unwrap()
    }

    /// Writes `edge.yaml` with `charts` (YAML list items, indented 4) and returns its path.
    fn manifest(&self, charts: &str) {
        let text = format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  upstreams:\n    registry.test: \"http://127.0.0.1:{}\"\n    charts.test: \"http://127.0.0.1:{}\"\n  charts:\n{charts}",
            self.registry.port, self.charts.port
        );
        std::fs::write(self.work().join("edge.yaml"), text).unwrap();
    }

    fn lockfile(&self) -> serde_json::Value {
        read_json(&self.work().join("edge.lock"))
    }
}

/// web with the values, additions and exclusions the discovery test needs, and the OCI chart.
const WEB_AND_OCI: &str = "    - repo: https://charts.test/stable
      name: web
      version: \"1.2.*\"
      values: {global: {imageRegistry: registry.test}}
      images:
        add: [registry.test/team/computed:1]
        exclude: [\"registry.test/team/debug*\"]
    - oci: oci://registry.test/charts/ocidemo
      version: 0.3.0
";

fn chart<'a>(lock: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    lock["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("chart {name} not pinned: {lock}"))
}

/// Each image reference pinned, with its whys.
fn whys(lock: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    lock["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let why = i["why"]
                .as_array()
                .map(|w| w.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            (i["reference"].as_str().unwrap().to_string(), why)
        })
        .collect()
}

#[test]
fn a_range_pins_the_highest_release_and_the_dependency_it_does_not_vendor() {
    let upstream = Upstream::start();
    let work = upstream.work();
    upstream.manifest(
        "    - {repo: \"https://charts.test/stable\", name: web, version: \"1.2.*\", images: {discover: false}}\n",
    );
    let out = outpost_ok(work, &["lock", "edge.yaml"]);
    assert!(out.contains("2 charts"), "{out}");
    let lock = upstream.lockfile();
    let web = chart(&lock, "web");
    assert_eq!(web["version"], "1.2.7", "{web}");
    assert_eq!(web["source"], "https://charts.test/stable");
    assert_eq!(web["repository"], "stable");
    assert_eq!(web["url"], "https://charts.test/stable/web-1.2.7.tgz");
    assert_eq!(
        web["sha256"].as_str().unwrap(),
        format!(
            "sha256:{}",
            sha256_hex(&upstream.chart_bytes("web-1.2.7.tgz"))
        )
    );
    // cache is declared in Chart.yaml (`0.1.*`) and not vendored under charts/: pinned too.
    let cache = chart(&lock, "cache");
    assert_eq!(cache["version"], "0.1.2", "{cache}");
    assert_eq!(cache["dependency_of"], "web 1.2.7");
    assert_eq!(
        cache["sha256"].as_str().unwrap(),
        format!(
            "sha256:{}",
            sha256_hex(&upstream.chart_bytes("cache-0.1.2.tgz"))
        )
    );
    assert_eq!(
        lock["images"],
        serde_json::json!([]),
        "discover: false pins no image"
    );

    // A chart whose bytes are not what the index says fails, naming both digests.
    upstream.manifest("    - {repo: \"https://charts.test/stable\", name: liar, version: 1.0.0}\n");
    std::fs::remove_file(work.join("edge.lock")).unwrap();
    let err = outpost_fails(work, &["lock", "edge.yaml"], 4);
    let actual = sha256_hex(&upstream.chart_bytes("liar-1.0.0.tgz"));
    let claimed = sha256_hex(b"other");
    assert!(err.contains("chart liar 1.0.0"), "{err}");
    assert!(err.contains(&actual) && err.contains(&claimed), "{err}");
    assert!(!work.join("edge.lock").exists(), "nothing is written");

    // Charts that depend on each other are named as a cycle, not followed forever.
    upstream
        .manifest("    - {repo: \"https://charts.test/stable\", name: loop-a, version: 1.0.0}\n");
    let err = outpost_fails(work, &["lock", "edge.yaml"], 2);
    assert!(
        err.contains("dependency cycle: loop-a 1.0.0 (https://charts.test/stable) → loop-b 1.0.0 (https://charts.test/stable) → loop-a 1.0.0"),
        "{err}"
    );

    // A version no release matches is named with what the repository has.
    upstream
        .manifest("    - {repo: \"https://charts.test/stable\", name: web, version: \"2.x\"}\n");
    let err = outpost_fails(work, &["lock", "edge.yaml"], 2);
    assert!(err.contains("web") && err.contains("1.3.0"), "{err}");
}

#[test]
fn every_image_a_chart_deploys_is_pinned_with_why() {
    let upstream = Upstream::start();
    let work = upstream.work();
    upstream.manifest(WEB_AND_OCI);
    let output = outpost(work, &["lock", "edge.yaml"]);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    let lock = upstream.lockfile();
    let label = "chart web 1.2.7";
    let expected = [
        (
            "registry.test/team/tool:0.9",
            format!("{label}: annotation artifacthub.io/images"),
        ),
        (
            "registry.test/team/web:1.0",
            format!("{label}: values image"),
        ),
        (
            "registry.test/team/sidecar:2.1",
            format!("{label}: values sidecar.image"),
        ),
        // values.yaml says docker.io; global.imageRegistry in the manifest's values wins.
        (
            "registry.test/team/metrics:3.0",
            format!("{label}: values metrics.image"),
        ),
        (
            "registry.test/team/hook:5.0",
            format!("{label}: templates/hooks/job-migrate.yaml"),
        ),
        (
            "registry.test/team/cache:0.1.2",
            format!("{label}: subchart cache: values image (tag from appVersion)"),
        ),
        (
            "registry.test/team/computed:1",
            format!("{label}: images.add"),
        ),
        (
            "registry.test/team/ocidemo:1",
            "chart ocidemo 0.3.0: values image".to_string(),
        ),
        (
            "registry.test/charts/ocidemo:0.3.0",
            "chart ocidemo 0.3.0: the chart itself (OCI)".to_string(),
        ),
    ];
    let pinned = whys(&lock);
    for (reference, why) in &expected {
        let (_, found) = pinned
            .iter()
            .find(|(r, _)| r == reference)
            .unwrap_or_else(|| panic!("{reference} not pinned: {pinned:?}"));
        assert!(found.contains(why), "{reference}: {found:?}, wanted {why}");
    }
    assert_eq!(pinned.len(), expected.len(), "{pinned:?}");
    // Excluded on purpose: not pinned.
    assert!(!pinned.iter().any(|(r, _)| r.contains("team/debug")));
    // The template that computes an image with `include` is named.
    assert!(
        stderr.contains("templates/deployment.yaml") && stderr.contains("images.add"),
        "{stderr}"
    );
    let web = chart(&lock, "web");
    assert!(
        web["unevaluated"][0]
            .as_str()
            .unwrap()
            .contains("templates/deployment.yaml"),
        "{web}"
    );
    let oci = chart(&lock, "ocidemo");
    assert_eq!(oci["source"], "oci://registry.test/charts/ocidemo");
    assert_eq!(
        oci["manifest"].as_str().unwrap(),
        upstream_digest(upstream.registry.port, "charts/ocidemo:0.3.0")
    );

    // A new lock keeps the chart version the lockfile pinned while it still matches.
    upstream.manifest(&WEB_AND_OCI.replace("\"1.2.*\"", "\">=1.2.0\""));
    let output = outpost(work, &["lock", "edge.yaml"]);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    assert_eq!(chart(&upstream.lockfile(), "web")["version"], "1.2.7");
    assert!(
        stderr.contains("1.3.0 matches `>=1.2.0` upstream now"),
        "{stderr}"
    );
    outpost_ok(work, &["lock", "edge.yaml", "--update"]);
    assert_eq!(chart(&upstream.lockfile(), "web")["version"], "1.3.0");

    // Without `add`, the computed image is not carried; without `exclude`, debug is.
    upstream.manifest(
        "    - {repo: \"https://charts.test/stable\", name: web, version: \"1.2.*\", values: {global: {imageRegistry: registry.test}}}\n",
    );
    outpost_ok(work, &["lock", "edge.yaml"]);
    let pinned = whys(&upstream.lockfile());
    assert!(pinned
        .iter()
        .any(|(r, _)| r == "registry.test/team/debug:9"));
    assert!(!pinned.iter().any(|(r, _)| r.contains("team/computed")));

    // An image the chart deploys that upstream does not have fails the lock, naming the chart.
    upstream
        .manifest("    - {repo: \"https://charts.test/stable\", name: web, version: \"1.2.*\"}\n");
    let err = outpost_fails(work, &["lock", "edge.yaml"], 4);
    assert!(
        err.contains("chart web 1.2.7: values metrics.image")
            && err.contains("docker.io/team/metrics:3.0"),
        "{err}"
    );
    assert!(
        err.contains("images.exclude") || err.contains("exclude"),
        "{err}"
    );
}

#[test]
fn the_site_serves_a_chart_repository_and_the_oci_chart() {
    require("skopeo");
    let upstream = Upstream::start();
    let work = upstream.work();
    upstream.manifest(WEB_AND_OCI);
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    outpost_ok(work, &["bundle", "verify", "bundles/edge-1.0.tar"]);
    let lock = upstream.lockfile();
    let server = Server::start(work, &["bundles/edge-1.0.tar"]);

    // A Helm repository index whose URLs resolve on the mirror to the upstream bytes.
    let base = format!("{}/charts/stable", server.url());
    let reply = http("GET", &format!("{base}/index.yaml"), &[]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let index: serde_json::Value = serde_norway::from_slice(&reply.body).unwrap();
    assert_eq!(index["apiVersion"], "v1", "{index}");
    for (name, version) in [("web", "1.2.7"), ("cache", "0.1.2")] {
        let entries = index["entries"][name].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{index}");
        let entry = &entries[0];
        assert_eq!(entry["version"], version);
        assert_eq!(entry["name"], name);
        let url = entry["urls"][0].as_str().unwrap();
        let served = http("GET", &format!("{base}/{url}"), &[]);
        assert_eq!(served.status, 200, "{url}");
        assert_eq!(
            served.body,
            upstream.chart_bytes(&format!("{name}-{version}.tgz"))
        );
        assert_eq!(entry["digest"].as_str().unwrap(), sha256_hex(&served.body));
        assert_eq!(
            format!("sha256:{}", sha256_hex(&served.body)),
            chart(&lock, name)["sha256"].as_str().unwrap()
        );
    }

    // The OCI chart by the distribution API: manifest type, Helm's config, the same bytes.
    let manifest_url = format!(
        "{}/v2/registry.test/charts/ocidemo/manifests/0.3.0",
        server.url()
    );
    let reply = http(
        "GET",
        &manifest_url,
        &["-H", &format!("Accept: {OCI_MANIFEST}")],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Type").as_deref(), Some(OCI_MANIFEST));
    let manifest: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(manifest["config"]["mediaType"], HELM_CONFIG);
    let raw = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!(
            "docker://{}/registry.test/charts/ocidemo:0.3.0",
            server.addr()
        ),
    ]));
    assert_eq!(raw.as_bytes(), reply.body.as_slice());
    // The repository chart is served as OCI too, under its repository's path.
    let raw = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/charts.test/stable/web:1.2.7", server.addr()),
    ]));
    let web: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(web["config"]["mediaType"], HELM_CONFIG, "{raw}");
    assert_eq!(
        web["layers"][0]["digest"].as_str().unwrap(),
        chart(&lock, "web")["sha256"].as_str().unwrap()
    );

    // The images the charts deploy pull through the mirror.
    let dest = work.join("pulled");
    for image in ["team/hook:5.0", "team/cache:0.1.2", "team/metrics:3.0"] {
        run_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{}/registry.test/{image}", server.addr()),
            &format!("oci:{}:{}", dest.display(), image.replace(['/', ':'], "-")),
        ]));
    }

    // inspect lists the charts with what they deploy.
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    let charts = inspected["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 3, "{inspected}");

    // config helm: the repository at the mirror.
    let config = outpost_ok(
        work,
        &[
            "config",
            "helm",
            "--mirror",
            &server.url(),
            "--bundle",
            "bundles/edge-1.0.tar",
        ],
    );
    assert!(
        config.contains(&format!(
            "helm repo add stable {}/charts/stable",
            server.url()
        )),
        "{config}"
    );
}

#[test]
fn push_sends_the_charts_and_their_images_once() {
    let upstream = Upstream::start();
    let work = upstream.work();
    upstream.manifest(WEB_AND_OCI);
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    let target = Registry::start();
    let to = format!("127.0.0.1:{}", target.port);
    let args = [
        "push",
        "bundles/edge-1.0.tar",
        "--to",
        &to,
        "--plain-http",
        "--json",
    ];
    let first = json(&outpost_ok(work, &args));
    assert!(first["blobs_pushed"].as_u64().unwrap() > 0, "{first}");
    let lock = upstream.lockfile();
    // The OCI chart, under its path, with the upstream digest; the repository chart too.
    assert_eq!(
        upstream_digest(target.port, "charts/ocidemo:0.3.0"),
        chart(&lock, "ocidemo")["manifest"].as_str().unwrap()
    );
    let raw = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://127.0.0.1:{}/stable/web:1.2.7", target.port),
    ]));
    assert!(
        raw.contains(chart(&lock, "web")["sha256"].as_str().unwrap()),
        "{raw}"
    );
    for image in ["team/hook:5.0", "team/computed:1", "team/cache:0.1.2"] {
        assert_eq!(
            upstream_digest(target.port, image),
            upstream_digest(upstream.registry.port, image)
        );
    }
    let second = json(&outpost_ok(work, &args));
    assert_eq!(second["blobs_pushed"], 0, "{second}");
    assert_eq!(second["bytes_pushed"], 0, "{second}");
}

/// A gpg home (short path: gpg-agent's socket lives in it) with one signing key, and that
/// key's public keyring exported to `keyring`.
fn gpg_key(name: &str, keyring: &Path) -> tempfile::TempDir {
    require("gpg");
    let home = tempfile::Builder::new()
        .prefix("g")
        .tempdir_in("/tmp")
        .unwrap();
    let gpg = |args: &[&str]| {
        let mut command = Command::new("gpg");
        command
            .env("GNUPGHOME", home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args);
        command
    };
    run_ok(&mut gpg(&[
        "--quick-gen-key",
        &format!("{name} <{name}@example.test>"),
        "ed25519",
        "sign",
        "never",
    ]));
    let exported = gpg(&["--export"]).output().unwrap();
    assert!(exported.status.success() && !exported.stdout.is_empty());
    std::fs::write(keyring, exported.stdout).unwrap();
    home
}

#[test]
fn a_chart_provenance_is_checked_against_the_keyring_and_travels() {
    let keys = tempfile::tempdir().unwrap();
    let (good, other) = (
        keys.path().join("publisher.gpg"),
        keys.path().join("other.gpg"),
    );
    let publisher = gpg_key("publisher", &good);
    let _other = gpg_key("stranger", &other);
    let upstream = Upstream::start_signed(Some(publisher.path()));
    let work = upstream.work();
    let entry = |keyring: &Path| {
        format!(
            "    - {{repo: \"https://charts.test/stable\", name: web, version: \"1.2.*\", images: {{discover: false}}, verify: {{keyring: \"{}\"}}}}\n",
            keyring.display()
        )
    };
    upstream.manifest(&entry(&good));
    outpost_ok(work, &["lock", "edge.yaml"]);
    let lock = upstream.lockfile();
    let provenance = &chart(&lock, "web")["provenance"];
    let prov = upstream.chart_bytes("web-1.2.7.tgz.prov");
    assert!(
        provenance["signer"]
            .as_str()
            .unwrap()
            .contains("publisher@example.test"),
        "{provenance}"
    );
    assert_eq!(
        provenance["url"],
        "https://charts.test/stable/web-1.2.7.tgz.prov"
    );
    assert_eq!(
        provenance["sha256"].as_str().unwrap(),
        format!("sha256:{}", sha256_hex(&prov))
    );

    // The .prov travels in the bundle and is served beside the chart.
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--locked"]);
    let server = Server::start(work, &["bundles/edge-1.0.tar"]);
    let served = http(
        "GET",
        &format!("{}/charts/stable/web-1.2.7.tgz.prov", server.url()),
        &[],
    );
    assert_eq!(served.status, 200);
    assert_eq!(served.body, prov);

    // Signed by a key the keyring does not hold: refused, naming the chart; nothing written.
    upstream.manifest(&entry(&other));
    std::fs::remove_file(work.join("edge.lock")).unwrap();
    let err = outpost_fails(work, &["lock", "edge.yaml"], 3);
    assert!(
        err.contains("chart web 1.2.7: provenance not verified"),
        "{err}"
    );
    assert!(err.contains("not in the keyring"), "{err}");
    assert!(!work.join("edge.lock").exists());
}
