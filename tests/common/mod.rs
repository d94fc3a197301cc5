//! Shared test harness: the real `outpost` binary, a real CNCF distribution registry on
//! loopback seeded with images the test builds, stock clients, and a fault-injecting proxy.
//!
//! A missing tool fails the test (never skips): `scripts/test.sh` installs every one.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub const PASSWORD: &str = "test-password";

/// Fails with an actionable message when a tool the tests drive is not installed.
pub fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is required by the integration tests: run scripts/test.sh, which installs it"
    );
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} did not open");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the outpost binary in `dir` with the test key password.
pub fn outpost(dir: &Path, args: &[&str]) -> Output {
    outpost_env(dir, args, &[])
}

/// Runs the outpost binary in `dir` with extra environment variables.
pub fn outpost_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(args)
        .envs(env.iter().copied())
        .env("DOCKER_CONFIG", dir.join("docker-config"))
        .current_dir(dir)
        .env("OUTPOST_KEY_PASSWORD", PASSWORD)
        .env("OUTPOST_CACHE", dir.join("cache"))
        .stdin(Stdio::null())
        .output()
        .expect("run outpost")
}

/// Runs outpost and asserts success, returning stdout.
pub fn outpost_ok(dir: &Path, args: &[&str]) -> String {
    let out = outpost(dir, args);
    assert!(
        out.status.success(),
        "outpost {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs outpost and asserts it fails with `code`, returning stderr.
pub fn outpost_fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = outpost(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "outpost {args:?}: unexpected exit; stderr:\n{stderr}"
    );
    stderr
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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
        let port = free_port();
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
        wait_for_port(port);
        Registry {
            port,
            child,
            _root: root,
        }
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
    /// Digests of the layers of this image's (first) manifest, read from its OCI layout.
    pub fn layer_digests(&self) -> Vec<String> {
        let read_json = |digest: &str| -> serde_json::Value {
            let hex = digest.trim_start_matches("sha256:");
            serde_json::from_slice(
                &std::fs::read(self.layout.join("blobs/sha256").join(hex)).unwrap(),
            )
            .unwrap()
        };
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.layout.join("index.json")).unwrap())
                .unwrap();
        let mut manifest = read_json(index["manifests"][0]["digest"].as_str().unwrap());
        if manifest.get("manifests").is_some() {
            manifest = read_json(manifest["manifests"][0]["digest"].as_str().unwrap());
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
        copy.arg(format!("docker://127.0.0.1:{}/{name}", registry.port));
        run_ok(&mut copy);
        seeded.push(Seeded {
            layout: PathBuf::from(dir),
            name: name.to_string(),
        });
    }
    seeded
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
}

/// Generates a key pair in `work/keys`.
pub fn keys(work: &Path) {
    outpost_ok(work, &["key", "generate", "--out", "keys"]);
}

/// What the proxy does to GETs of one blob.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Flip one byte in the middle of the body, every time.
    CorruptAlways,
    /// Send half the body, then close the connection, the first `n` times.
    DropFirst(usize),
}

/// An HTTP proxy in front of the registry that damages responses for one blob.
pub struct FaultProxy {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub fn start(upstream: u16, blob_digest: &str, fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let target = format!("/blobs/{blob_digest}");
        let counter = hits.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let target = target.clone();
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let _ = proxy_one(client, upstream, &target, fault, &counter);
                });
            }
        });
        FaultProxy { port, hits }
    }
}

fn proxy_one(
    mut client: TcpStream,
    upstream: u16,
    target: &str,
    fault: Fault,
    hits: &AtomicUsize,
) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        request.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    let mut lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
    let is_target = lines[0].starts_with("GET ") && lines[0].contains(target);
    let forwarded = format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n"));
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(forwarded.as_bytes())?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(response.len());
    if is_target && response.len() > split {
        let hit = hits.fetch_add(1, Ordering::SeqCst);
        let body_len = response.len() - split;
        match fault {
            Fault::CorruptAlways => response[split + body_len / 2] ^= 0xff,
            Fault::DropFirst(n) if hit < n => {
                client.write_all(&response[..split + body_len / 2])?;
                return client.shutdown(std::net::Shutdown::Both);
            }
            Fault::DropFirst(_) => {}
        }
    }
    client.write_all(&response)?;
    client.shutdown(std::net::Shutdown::Both)
}

/// Byte ranges of every entry's data in a tar: (path, data offset, size).
pub fn tar_entries(path: &Path) -> Vec<(String, u64, u64)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.raw_file_position(),
                e.size(),
            )
        })
        .collect()
}

impl Site {
    /// Builds a signed bundle of `images` (names under `registry.test`) and returns its path.
    pub fn build(&self, platforms: &str, images: &[&str]) -> PathBuf {
        write_manifest(
            self.work(),
            "edge.yaml",
            platforms,
            images,
            self.registry.port,
        );
        outpost_ok(self.work(), &["bundle", "build", "edge.yaml"]);
        self.work().join("bundles/edge-1.0.tar")
    }
}

/// A running `outpost serve`, killed on drop. Its stderr (request logs) goes to a file.
pub struct Server {
    pub port: u16,
    pub scheme: &'static str,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `outpost serve ARGS --listen 127.0.0.1:<free port>` in `work`.
    pub fn start(work: &Path, args: &[&str]) -> Self {
        let port = free_port();
        let log = work.join(format!("serve-{port}.log"));
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .arg("serve")
            .args(args)
            .args(["--listen", &listen])
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(work.join(format!("serve-{port}.out"))).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start outpost serve");
        let scheme = if args.contains(&"--tls") || args.contains(&"--tls-cert") {
            "https"
        } else {
            "http"
        };
        let mut server = Server {
            port,
            scheme,
            child,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("outpost serve exited ({status}):\n{}", server.log());
            }
            assert!(Instant::now() < deadline, "outpost serve did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the process; returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP exchange made with curl.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }

    /// The first OCI error code in the body.
    pub fn error_code(&self) -> String {
        let value: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        value["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// `curl -X METHOD URL` with extra arguments (headers, --cacert …).
pub fn http(method: &str, url: &str, extra: &[&str]) -> Reply {
    require("curl");
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("headers");
    let body = dir.path().join("body");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--path-as-is", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers);
    cmd.args(["-w", "%{http_code}"]);
    if method == "HEAD" {
        cmd.arg("-I");
    } else {
        cmd.args(["-X", method]);
    }
    cmd.args(extra).arg(url);
    let out = cmd.output().expect("run curl");
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Reply {
        status,
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

/// A static file server (`python3 -m http.server`) for an upstream's tree, killed on drop.
pub struct StaticServer {
    pub port: u16,
    pub root: PathBuf,
    child: Child,
}

impl StaticServer {
    pub fn start(root: PathBuf) -> Self {
        require("python3");
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        wait_for_port(port);
        StaticServer { port, root, child }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `apt-get` on an isolated node: its own state, lists and cache under `state`, sources from
/// `sources` only, the given dpkg `status` file and architecture.
pub fn apt_get(state: &Path, sources: &Path, status: &Path, arch: &str, args: &[&str]) -> Output {
    require("apt-get");
    for dir in ["lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(state.join(dir)).unwrap();
    }
    Command::new("apt-get")
        .arg("-o")
        .arg(format!("Dir::State={}", state.display()))
        .arg("-o")
        .arg(format!(
            "Dir::State::Lists={}",
            state.join("lists").display()
        ))
        .arg("-o")
        .arg(format!("Dir::State::status={}", status.display()))
        .arg("-o")
        .arg(format!("Dir::Cache={}", state.join("cache").display()))
        .args(["-o", "Dir::Etc::SourceList=/dev/null"])
        .arg("-o")
        .arg(format!("Dir::Etc::SourceParts={}", sources.display()))
        .args(["-o", "Debug::NoLocking=1"])
        .arg("-o")
        .arg(format!("APT::Architecture={arch}"))
        .arg("-o")
        .arg(format!("APT::Architectures={arch}"))
        .args(args)
        .output()
        .expect("run apt-get")
}

/// `(reference, digest)` of every image pinned in the lockfile `work/lock`.
pub fn pins(work: &Path, lock: &str) -> Vec<(String, String)> {
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join(lock)).unwrap()).unwrap();
    lock["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["reference"].as_str().unwrap().to_string(),
                p["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// skopeo copies every pinned image from the server; its digest must equal the pin.
pub fn pull_all(server: &Server, work: &Path, pins: &[(String, String)]) {
    for (reference, digest) in pins {
        let name = reference.trim_start_matches("registry.test/");
        let dest = work.join(format!("pulled-{}", sha256_hex(reference.as_bytes())));
        let _ = std::fs::remove_dir_all(&dest);
        run_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--preserve-digests",
            "--src-tls-verify=false",
            &format!("docker://{}/registry.test/{name}", server.addr()),
            &format!("oci:{}", dest.display()),
        ]));
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
        assert_eq!(
            index["manifests"][0]["digest"],
            digest.as_str(),
            "{reference}"
        );
    }
}
