//! A Kubernetes release from a local upstream that reproduces dl.k8s.io's and GitHub's
//! layouts and checksum conventions: markers and binaries are pinned, every checksum
//! convention is checked (and a wrong or missing one fails clearly), the mirror serves every
//! file at its upstream path with `.sha256` sidecars, and the kubespray/kubeadm configuration
//! resolves against the running server.

use crate::common::*;
use std::path::Path;
use std::process::Command;

const VERSION: &str = "v1.31.2";
const ARCHES: [&str; 2] = ["amd64", "arm64"];

fn sha512_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha512::digest(bytes))
}

/// Deterministic pseudo-random content for a fake binary.
fn content(seed: &str, size: usize) -> Vec<u8> {
    let mut state = u64::from_str_radix(&sha256_hex(seed.as_bytes())[..16], 16).unwrap();
    (0..size)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

fn put(root: &Path, path: &str, bytes: &[u8]) -> Vec<u8> {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, bytes).unwrap();
    bytes.to_vec()
}

/// dl.k8s.io and github.com as their release layouts look, with every checksum convention.
fn build_upstreams(work: &Path) -> (StaticServer, StaticServer) {
    let dl = work.join("upstream-dl");
    put(&dl, "release/stable-1.31.txt", VERSION.as_bytes());
    for arch in ARCHES {
        for binary in ["kubeadm", "kubelet", "kubectl"] {
            let path = format!("release/{VERSION}/bin/linux/{arch}/{binary}");
            let bytes = put(&dl, &path, &content(&path, 20_000));
            // dl.k8s.io: bare hex digests.
            put(
                &dl,
                &format!("{path}.sha256"),
                sha256_hex(&bytes).as_bytes(),
            );
            put(
                &dl,
                &format!("{path}.sha512"),
                sha512_hex(&bytes).as_bytes(),
            );
        }
    }
    let gh = work.join("upstream-gh");
    let mut runc_sums = String::new();
    let mut etcd_sums = String::new();
    for arch in ARCHES {
        // containerd: one sha256sum line per asset, in `<asset>.sha256sum`.
        let name = format!("containerd-1.7.22-linux-{arch}.tar.gz");
        let path = format!("containerd/containerd/releases/download/v1.7.22/{name}");
        let bytes = put(&gh, &path, &content(&path, 30_000));
        put(
            &gh,
            &format!("{path}.sha256sum"),
            format!("{}  {name}\n", sha256_hex(&bytes)).as_bytes(),
        );
        // runc: one file listing every asset, binary-mode marks.
        let name = format!("runc.{arch}");
        let bytes = put(
            &gh,
            &format!("opencontainers/runc/releases/download/v1.1.14/{name}"),
            &content(&name, 10_000),
        );
        runc_sums.push_str(&format!("{} *{name}\n", sha256_hex(&bytes)));
        // etcd: SHA256SUMS.
        let name = format!("etcd-v3.5.15-linux-{arch}.tar.gz");
        let bytes = put(
            &gh,
            &format!("etcd-io/etcd/releases/download/v3.5.15/{name}"),
            &content(&name, 15_000),
        );
        etcd_sums.push_str(&format!("{}  {name}\n", sha256_hex(&bytes)));
        // crictl: bare hex in `.sha256`.
        let path = format!("kubernetes-sigs/cri-tools/releases/download/v1.31.1/crictl-v1.31.1-linux-{arch}.tar.gz");
        let bytes = put(&gh, &path, &content(&path, 12_000));
        put(
            &gh,
            &format!("{path}.sha256"),
            format!("{}\n", sha256_hex(&bytes)).as_bytes(),
        );
        // cni-plugins: a sha256sum line in `.sha256`.
        let name = format!("cni-plugins-linux-{arch}-v1.5.1.tgz");
        let path = format!("containernetworking/plugins/releases/download/v1.5.1/{name}");
        let bytes = put(&gh, &path, &content(&path, 11_000));
        put(
            &gh,
            &format!("{path}.sha256"),
            format!("{}  {name}\n", sha256_hex(&bytes)).as_bytes(),
        );
    }
    put(
        &gh,
        "opencontainers/runc/releases/download/v1.1.14/runc.sha256sum",
        runc_sums.as_bytes(),
    );
    put(
        &gh,
        "etcd-io/etcd/releases/download/v3.5.15/SHA256SUMS",
        etcd_sums.as_bytes(),
    );
    // A tool published with a sha512 file only, one pinned inline, one with no checksum.
    let bytes = put(
        &gh,
        "example/tool/releases/download/v2.0.0/tool-linux-amd64",
        &content("tool", 9_000),
    );
    put(
        &gh,
        "example/tool/releases/download/v2.0.0/tool-linux-amd64.sha512",
        format!("{}  tool-linux-amd64\n", sha512_hex(&bytes)).as_bytes(),
    );
    put(
        &gh,
        "example/inline/v1/inline.bin",
        &content("inline", 5_000),
    );
    put(&gh, "example/loose/v1/loose.bin", &content("loose", 4_000));
    (StaticServer::start(dl), StaticServer::start(gh))
}

/// The control-plane images of `VERSION`, built by scripts/testimages.py and pushed.
fn seed_control_plane(registry: &Registry, work: &Path) {
    seed_set(
        registry,
        &work.join("k8s-layouts"),
        &["--set", "kubernetes", "--k8s-version", VERSION],
        None,
    );
}

fn write_release(work: &Path, registry: u16, dl: u16, gh: u16) {
    let inline = sha256_hex(&content("inline", 5_000));
    let text = format!(
        "apiVersion: outpost/v1alpha1
kind: Release
metadata: {{name: k8s, version: \"1.31\"}}
spec:
  platforms: [linux/amd64, linux/arm64]
  kubernetes: {{version: stable-1.31, images: true}}
  components: {{containerd: 1.7.22, runc: v1.1.14, cni-plugins: 1.5.1, crictl: 1.31.1, etcd: 3.5.15}}
  files:
    - url: https://github.com/example/tool/releases/download/v{{version}}/tool-{{os}}-amd64
      version: 2.0.0
      checksum: {{url: \"{{url}}.sha512\"}}
    - url: https://github.com/example/inline/v1/inline.bin
      checksum: {{sha256: {inline}}}
    - url: https://github.com/example/loose/v1/loose.bin
      insecure: true
  upstreams:
    registry.k8s.io: \"http://127.0.0.1:{registry}\"
    dl.k8s.io: \"http://127.0.0.1:{dl}\"
    github.com: \"http://127.0.0.1:{gh}\"
"
    );
    std::fs::write(work.join("k8s.yaml"), text).unwrap();
}

/// A registry with the control-plane images, dl.k8s.io and GitHub layouts, a key and
/// `k8s.yaml` naming them all.
pub(crate) struct K8sSite {
    registry: Registry,
    dl: StaticServer,
    gh: StaticServer,
    dir: tempfile::TempDir,
}

impl K8sSite {
    pub(crate) fn new() -> Self {
        let registry = Registry::start();
        let dir = tempfile::tempdir().unwrap();
        seed_control_plane(&registry, dir.path());
        let (dl, gh) = build_upstreams(dir.path());
        keys(dir.path());
        write_release(dir.path(), registry.port, dl.port, gh.port);
        K8sSite {
            registry,
            dl,
            gh,
            dir,
        }
    }

    pub(crate) fn work(&self) -> &Path {
        self.dir.path()
    }

    fn lock(&self) -> serde_json::Value {
        read_json(&self.work().join("k8s.lock"))
    }
}

#[test]
fn a_marker_pins_the_release_with_its_binaries_images_and_checksums() {
    let site = K8sSite::new();
    let work = site.work();
    outpost_ok(work, &["lock", "k8s.yaml"]);
    let lock = site.lock();
    assert_eq!(
        lock["kubernetes"],
        serde_json::json!({"requested": "stable-1.31", "version": VERSION})
    );
    let files = lock["files"].as_array().unwrap();
    for arch in ARCHES {
        for binary in ["kubeadm", "kubelet", "kubectl"] {
            let path = format!("dl.k8s.io/release/{VERSION}/bin/linux/{arch}/{binary}");
            let pin = files
                .iter()
                .find(|f| f["path"] == path)
                .unwrap_or_else(|| panic!("{path} not pinned"));
            let upstream_sha = std::fs::read_to_string(site.dl.root.join(format!(
                "release/{VERSION}/bin/linux/{arch}/{binary}.sha256"
            )))
            .unwrap();
            assert_eq!(pin["sha256"], format!("sha256:{upstream_sha}"));
            assert_eq!(
                pin["url"],
                format!("https://dl.k8s.io/release/{VERSION}/bin/linux/{arch}/{binary}")
            );
            assert_eq!(pin["verified_by"], format!("sha256 from https://dl.k8s.io/release/{VERSION}/bin/linux/{arch}/{binary}.sha256"));
        }
    }
    assert!(files
        .iter()
        .any(|f| f["path"] == "dl.k8s.io/release/stable-1.31.txt"));
    let images: Vec<&str> = lock["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    for image in [
        "registry.k8s.io/kube-apiserver:v1.31.2",
        "registry.k8s.io/kube-controller-manager:v1.31.2",
        "registry.k8s.io/kube-scheduler:v1.31.2",
        "registry.k8s.io/kube-proxy:v1.31.2",
        "registry.k8s.io/pause:3.10",
        "registry.k8s.io/etcd:3.5.15-0",
        "registry.k8s.io/coredns/coredns:v1.11.3",
    ] {
        assert!(images.contains(&image), "{image} not in {images:?}");
    }
    // Every checksum convention was used, and named in the lock.
    let by = |needle: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str().unwrap().contains(needle))
            .unwrap()["verified_by"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(by("containerd-1.7.22-linux-arm64")
        .ends_with("containerd-1.7.22-linux-arm64.tar.gz.sha256sum"));
    assert!(by("runc.arm64").ends_with("v1.1.14/runc.sha256sum"));
    assert!(by("etcd-v3.5.15-linux-amd64").ends_with("v3.5.15/SHA256SUMS"));
    assert!(by("crictl-v1.31.1-linux-amd64").starts_with("sha256 from "));
    assert!(
        by("tool-linux-amd64").starts_with("sha512 from "),
        "{}",
        by("tool-linux-amd64")
    );
    assert_eq!(by("inline.bin"), "sha256 in the manifest");
    let loose = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("loose.bin"))
        .unwrap();
    assert_eq!(loose["insecure"], true);
    // 6 binaries + marker + 10 component files + 3 others.
    assert_eq!(files.len(), 20, "{files:#?}");
}

#[test]
fn a_wrong_or_missing_checksum_fails_naming_the_url() {
    let site = K8sSite::new();
    let work = site.work();
    let sums = site
        .gh
        .root
        .join("opencontainers/runc/releases/download/v1.1.14/runc.sha256sum");
    let original = std::fs::read_to_string(&sums).unwrap();
    let amd64_line = original
        .lines()
        .find(|l| l.ends_with("runc.amd64"))
        .unwrap();
    let promised = amd64_line.split_whitespace().next().unwrap().to_string();
    let wrong = "0".repeat(64);
    std::fs::write(&sums, original.replace(&promised, &wrong)).unwrap();
    let stderr = outpost_fails(work, &["lock", "k8s.yaml"], 4);
    assert!(
        stderr.contains(
            "https://github.com/opencontainers/runc/releases/download/v1.1.14/runc.amd64"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "upstream promises sha256:{wrong}, the download is sha256:{promised}"
        )),
        "{stderr}"
    );
    assert!(
        !work.join("k8s.lock").exists(),
        "a failed lock must not write the lockfile"
    );

    std::fs::write(&sums, &original).unwrap();
    std::fs::remove_file(
        site.dl
            .root
            .join(format!("release/{VERSION}/bin/linux/arm64/kubectl.sha256")),
    )
    .unwrap();
    let stderr = outpost_fails(work, &["lock", "k8s.yaml"], 4);
    assert!(
        stderr.contains(&format!("https://dl.k8s.io/release/{VERSION}/bin/linux/arm64/kubectl: cannot read its checksum file: https://dl.k8s.io/release/{VERSION}/bin/linux/arm64/kubectl.sha256: the server answered 404")),
        "{stderr}"
    );
}

#[test]
fn the_mirror_serves_every_file_at_its_upstream_path_and_configures_kubespray() {
    require("sha256sum");
    let site = K8sSite::new();
    let work = site.work();
    outpost_ok(work, &["bundle", "build", "k8s.yaml"]);
    outpost_ok(work, &["bundle", "verify", "bundles/k8s-1.31.tar"]);
    let inspected = outpost_ok(work, &["bundle", "inspect", "bundles/k8s-1.31.tar"]);
    assert!(
        inspected.contains("github.com/example/loose/v1/loose.bin")
            && inspected.contains("INSECURE"),
        "{inspected}"
    );
    let server = Server::start(work, &["bundles/k8s-1.31.tar"]);
    let base = server.url();
    let lock = site.lock();
    let download = work.join("download");
    std::fs::create_dir_all(&download).unwrap();
    for file in lock["files"].as_array().unwrap() {
        let path = file["path"].as_str().unwrap();
        let reply = http("GET", &format!("{base}/files/{path}"), &[]);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            format!("sha256:{}", sha256_hex(&reply.body)),
            file["sha256"].as_str().unwrap(),
            "{path}"
        );
        // sha256sum -c with the served sidecar.
        let name = path.rsplit('/').next().unwrap();
        std::fs::write(download.join(name), &reply.body).unwrap();
        let sidecar = http("GET", &format!("{base}/files/{path}.sha256"), &[]);
        std::fs::write(download.join(format!("{name}.sha256")), &sidecar.body).unwrap();
        run_ok(
            Command::new("sha256sum")
                .arg("-c")
                .arg(format!("{name}.sha256"))
                .current_dir(&download),
        );
    }
    // Ranges and HEAD work on files too; directories are browsable.
    let kubelet = format!("{base}/files/dl.k8s.io/release/{VERSION}/bin/linux/amd64/kubelet");
    assert_eq!(
        http("GET", &kubelet, &["-H", "Range: bytes=0-9"])
            .body
            .len(),
        10
    );
    assert_eq!(
        http("HEAD", &kubelet, &[])
            .header("content-length")
            .as_deref(),
        Some("20000")
    );
    let page = http(
        "GET",
        &format!("{base}/files/dl.k8s.io/release/{VERSION}/bin/linux/"),
        &[],
    );
    assert!(
        page.text().contains("href=\"amd64/\"") && page.text().contains("href=\"arm64/\""),
        "{}",
        page.text()
    );
    // Traversal, plain and encoded, never leaves the bundle.
    for bad in [
        "../../../etc/passwd",
        "dl.k8s.io/../../etc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
        "dl.k8s.io/%252e%252e/x",
        "dl.k8s.io//release",
    ] {
        let reply = http("GET", &format!("{base}/files/{bad}"), &[]);
        assert!(
            reply.status == 400 || reply.status == 404,
            "{bad}: {}",
            reply.status
        );
        assert!(!reply.text().contains("root:"), "{bad} leaked a host file");
    }

    // kubespray: YAML whose every URL resolves against the running mirror.
    let vars = outpost_ok(
        work,
        &config_args("kubespray", &base, "bundles/k8s-1.31.tar", &[]),
    );
    let parsed: std::collections::BTreeMap<String, String> =
        serde_norway::from_str(&vars).unwrap_or_else(|e| panic!("{e}:\n{vars}"));
    let expand = |value: &str| -> String {
        let mut out = value.to_string();
        for _ in 0..4 {
            for (key, replacement) in &parsed {
                out = out.replace(&format!("{{{{ {key} }}}}"), replacement);
            }
            out = out.replace("{{ image_arch }}", "arm64");
        }
        out
    };
    for key in [
        "files_repo",
        "dl_k8s_io_url",
        "github_url",
        "kubeadm_download_url",
        "kubelet_download_url",
        "kubectl_download_url",
        "containerd_download_url",
        "runc_download_url",
        "cni_download_url",
        "crictl_download_url",
        "etcd_download_url",
    ] {
        let url = expand(
            parsed
                .get(key)
                .unwrap_or_else(|| panic!("{key} missing:\n{vars}")),
        );
        assert!(!url.contains("{{"), "{key}: {url}");
        assert_eq!(http("GET", &url, &[]).status, 200, "{key}: {url}");
    }
    assert_eq!(parsed["kube_version"], VERSION.trim_start_matches('v'));
    let repo = expand(&parsed["kube_image_repo"]);
    let reply = http(
        "GET",
        &format!(
            "{base}/v2/{}/kube-apiserver/tags/list",
            repo.split_once('/').unwrap().1
        ),
        &[],
    );
    assert_eq!(reply.status, 200);

    // kubeadm: the image repository it would use serves every control-plane image, including
    // coredns under the path kubeadm uses for custom repositories.
    let config = outpost_ok(
        work,
        &config_args("kubeadm", &server.addr(), "bundles/k8s-1.31.tar", &[]),
    );
    assert!(
        config.contains(&format!("kubernetesVersion: {VERSION}")),
        "{config}"
    );
    let repository = format!("{}/registry.k8s.io", server.addr());
    assert!(
        config.contains(&format!("imageRepository: {repository}")),
        "{config}"
    );
    for (name, tag) in [
        ("kube-apiserver", VERSION),
        ("pause", "3.10"),
        ("etcd", "3.5.15-0"),
        ("coredns", "v1.11.3"),
    ] {
        let reply = http(
            "GET",
            &format!("{base}/v2/registry.k8s.io/{name}/manifests/{tag}"),
            &[],
        );
        assert_eq!(reply.status, 200, "{name}:{tag}");
    }
    let _ = &site.registry;
}

#[test]
fn the_real_manifest_validates_offline_and_names_the_real_urls() {
    let work = tempfile::tempdir().unwrap();
    let manifest = repo_root().join("manifests/kubernetes-v1.31.yaml");
    let out = outpost_ok(
        work.path(),
        &["lock", manifest.to_str().unwrap(), "--dry-run"],
    );
    for url in [
        "file  https://dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubeadm",
        "file  https://dl.k8s.io/release/v1.31.2/bin/linux/arm64/kubelet",
        "file  https://github.com/containerd/containerd/releases/download/v1.7.22/containerd-1.7.22-linux-arm64.tar.gz",
        "file  https://github.com/opencontainers/runc/releases/download/v1.1.14/runc.amd64",
        "file  https://github.com/containernetworking/plugins/releases/download/v1.5.1/cni-plugins-linux-amd64-v1.5.1.tgz",
        "file  https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.31.1/crictl-v1.31.1-linux-arm64.tar.gz",
        "file  https://github.com/etcd-io/etcd/releases/download/v3.5.15/etcd-v3.5.15-linux-amd64.tar.gz",
        "image registry.k8s.io/kube-apiserver:v1.31.2",
        "image registry.k8s.io/coredns/coredns:v1.11.3",
    ] {
        assert!(out.lines().any(|l| l == url), "{url} not in:\n{out}");
    }
    assert!(
        !work.path().join("cache").exists(),
        "a dry run must not touch the cache"
    );
    assert!(
        !manifest.with_extension("lock").exists()
            || std::fs::metadata(manifest.with_extension("lock")).is_ok()
    );
}
