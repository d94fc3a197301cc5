//! The connected side: a real CNCF distribution registry on loopback, seeded with the images
//! `scripts/testimages.py` builds, release manifests naming them, and `Site` (registry, work
//! directory and key: every build test's start). Not for what outpost serves: see `outpost`.

use super::{keys, outpost_ok, read_json, repo_root, require, run_ok};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A CNCF distribution registry (Debian `docker-registry`) on a loopback port.
pub struct Registry {
    pub port: u16,
    child: Child,
    _root: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Self {
        Self::start_with_login(None)
    }

    /// A registry that demands HTTP basic authentication with `user`/`password` (htpasswd).
    pub fn start_with_login(login: Option<(&str, &str)>) -> Self {
        require("docker-registry");
        let root = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let config = root.path().join("config.yml");
        let mut text = format!(
            "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n",
            root.path().join("data").display()
        );
        if let Some((user, password)) = login {
            require("htpasswd");
            let htpasswd = root.path().join("htpasswd");
            let line = run_ok(Command::new("htpasswd").args(["-Bbn", user, password]));
            std::fs::write(&htpasswd, line.trim()).unwrap();
            text.push_str(&format!(
                "auth: {{htpasswd: {{realm: test, path: {}}}}}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(&config, text).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        super::wait_for_port(port);
        Registry {
            port,
            child,
            _root: root,
        }
    }
}

impl Registry {
    /// Stops the registry (what a site without the internet sees of it).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The registry's filesystem storage root (`docker/registry/v2/...` below it): a test may
    /// write thousands of images there directly instead of pushing them.
    pub fn storage(&self) -> PathBuf {
        self._root.path().join("data")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Uploads `bytes` as a blob of `repo` the way the distribution spec's monolithic upload
    /// goes (POST for a session, one PUT with the bytes and the digest); returns the digest.
    pub fn put_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = format!("sha256:{}", super::sha256_hex(bytes));
        let started = super::http(
            "POST",
            &format!("{}/v2/{repo}/blobs/uploads/", self.url()),
            &["-H", "Content-Length: 0"],
        );
        assert_eq!(started.status, 202, "upload to {repo}: {}", started.text());
        let location = started.header("Location").unwrap();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.url())
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("blob");
        std::fs::write(&file, bytes).unwrap();
        let data = format!("@{}", file.display());
        let put = super::http(
            "PUT",
            &format!("{location}{separator}digest={digest}"),
            &[
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
                &data,
            ],
        );
        assert_eq!(put.status, 201, "blob {digest} to {repo}: {}", put.text());
        digest
    }

    /// PUTs manifest `bytes` (of `media_type`) as `repo:reference`; returns their digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("manifest");
        std::fs::write(&file, bytes).unwrap();
        let data = format!("@{}", file.display());
        let content_type = format!("Content-Type: {media_type}");
        let put = super::http(
            "PUT",
            &format!("{}/v2/{repo}/manifests/{reference}", self.url()),
            &["-H", &content_type, "--data-binary", &data],
        );
        assert_eq!(
            put.status,
            201,
            "manifest {repo}:{reference}: {}",
            put.text()
        );
        format!("sha256:{}", super::sha256_hex(bytes))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One image the test built and pushed.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub layout: PathBuf,
    /// `library/alpha:1`
    pub name: String,
}

impl Seeded {
    /// A JSON blob (manifest, index, config) of this image's OCI layout, by digest.
    pub fn blob_json(&self, digest: &str) -> serde_json::Value {
        let hex = digest.trim_start_matches("sha256:");
        read_json(&self.layout.join("blobs/sha256").join(hex))
    }

    /// The image's top manifest or index, as its OCI layout's `index.json` names it.
    pub fn top_json(&self) -> serde_json::Value {
        let index = read_json(&self.layout.join("index.json"));
        self.blob_json(index["manifests"][0]["digest"].as_str().unwrap())
    }

    /// Digests of the layers of this image's (first) manifest, read from its OCI layout.
    pub fn layer_digests(&self) -> Vec<String> {
        let mut manifest = self.top_json();
        if manifest.get("manifests").is_some() {
            manifest = self.blob_json(manifest["manifests"][0]["digest"].as_str().unwrap());
        }
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Builds the test image set with scripts/testimages.py and pushes it with skopeo.
pub fn seed(registry: &Registry, work: &Path) -> Vec<Seeded> {
    seed_with_login(registry, work, None)
}

/// Like [`seed`], logging in to the registry as `user:password`.
pub fn seed_with_login(registry: &Registry, work: &Path, login: Option<&str>) -> Vec<Seeded> {
    seed_set(registry, &work.join("layouts"), &["--set", "test"], login)
}

/// Builds an image set with scripts/testimages.py (`args`) into `layouts` and pushes it.
pub fn seed_set(
    registry: &Registry,
    layouts: &Path,
    args: &[&str],
    login: Option<&str>,
) -> Vec<Seeded> {
    seed_set_under(registry, layouts, args, login, "")
}

/// Like [`seed_set`], pushing every image under repository prefix `prefix` (`proxy/` puts
/// `library/alpha:1` at `proxy/library/alpha:1`, as a Harbor proxy-cache project holds it);
/// the names returned are without the prefix.
pub fn seed_set_under(
    registry: &Registry,
    layouts: &Path,
    args: &[&str],
    login: Option<&str>,
    prefix: &str,
) -> Vec<Seeded> {
    require("skopeo");
    require("python3");
    let listing = run_ok(
        Command::new("python3")
            .arg(repo_root().join("scripts/testimages.py"))
            .arg(layouts)
            .args(args),
    );
    let mut seeded = Vec::new();
    for line in listing.lines() {
        let (dir, name) = line.split_once(' ').unwrap();
        let mut copy = Command::new("skopeo");
        copy.args([
            "copy",
            "-q",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
        ]);
        if let Some(login) = login {
            copy.arg(format!("--dest-creds={login}"));
        }
        copy.arg(format!("oci:{dir}"));
        copy.arg(format!(
            "docker://127.0.0.1:{}/{prefix}{name}",
            registry.port
        ));
        run_ok(&mut copy);
        seeded.push(Seeded {
            layout: PathBuf::from(dir),
            name: name.to_string(),
        });
    }
    seeded
}

/// `sha256:<hex>` of the manifest `docker://127.0.0.1:PORT/NAME` serves, read with skopeo.
pub fn upstream_digest(port: u16, name: &str) -> String {
    let raw = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://127.0.0.1:{port}/{name}"),
    ]));
    format!("sha256:{}", super::sha256_hex(raw.as_bytes()))
}

/// Writes a release manifest naming `images` under `registry.test`, served by `port`.
pub fn write_manifest(
    work: &Path,
    file: &str,
    platforms: &str,
    images: &[&str],
    port: u16,
) -> PathBuf {
    write_release(work, file, "1.0", platforms, images, port)
}

/// Like [`write_manifest`], for release `edge` at `version`.
pub fn write_release(
    work: &Path,
    file: &str,
    version: &str,
    platforms: &str,
    images: &[&str],
    port: u16,
) -> PathBuf {
    let list: Vec<String> = images
        .iter()
        .map(|i| format!("    - registry.test/{i}\n"))
        .collect();
    let text = format!(
        "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"{version}\"}}\nspec:\n  platforms: [{platforms}]\n  images:\n{}  upstreams: {{registry.test: \"http://127.0.0.1:{port}\"}}\n",
        list.concat()
    );
    let path = work.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// A seeded upstream registry, a work directory and a signing key: every build test's start.
pub struct Site {
    pub registry: Registry,
    pub seeded: Vec<Seeded>,
    dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Self {
        let registry = Registry::start();
        let dir = tempfile::tempdir().unwrap();
        let seeded = seed(&registry, dir.path());
        keys(dir.path());
        Site {
            registry,
            seeded,
            dir,
        }
    }

    pub fn work(&self) -> &Path {
        self.dir.path()
    }

    pub fn image(&self, name: &str) -> &Seeded {
        self.seeded.iter().find(|s| s.name == name).unwrap()
    }

    /// Writes `edge.yaml` naming `images` (under `registry.test`) for `platforms`.
    pub fn manifest(&self, platforms: &str, images: &[&str]) -> PathBuf {
        write_manifest(
            self.work(),
            "edge.yaml",
            platforms,
            images,
            self.registry.port,
        )
    }

    /// Builds a signed bundle of `images` (names under `registry.test`) and returns its path.
    pub fn build(&self, platforms: &str, images: &[&str]) -> PathBuf {
        self.manifest(platforms, images);
        outpost_ok(self.work(), &["bundle", "build", "edge.yaml"]);
        self.work().join("bundles/edge-1.0.tar")
    }
}

/// A registry with three images `bench/app0..2:1`, each a 30 MiB base they share plus a
/// `layer_mib` MiB layer of its own, and a work directory with keys: a bundle of tens of MiB
/// for split, parity and space tests.
pub fn big_site(layer_mib: u32) -> (Registry, tempfile::TempDir) {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let layer = layer_mib.to_string();
    seed_set(
        &registry,
        &dir.path().join("layouts"),
        &[
            "--set",
            "bench",
            "--count",
            "3",
            "--base-mib",
            "30",
            "--layer-mib",
            &layer,
        ],
        None,
    );
    super::keys(dir.path());
    (registry, dir)
}
