//! The `outpost` binary under test: one-shot runs (`outpost`, `outpost_ok`, `outpost_fails`)
//! and a running `outpost serve` (`Server`). Not for upstream servers: see `registry` and
//! `http`.

use super::PASSWORD;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the outpost binary in `dir` with the test key password, its own cache and Docker
/// config.
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

/// Generates a key pair in `work/keys`.
pub fn keys(work: &Path) {
    outpost_ok(work, &["key", "generate", "--out", "keys"]);
}

/// How many releases `store list --store STORE --json` lists.
pub fn store_releases(work: &Path, store: &str) -> usize {
    let listed = outpost_ok(work, &["store", "list", "--store", store, "--json"]);
    super::json(&listed)["releases"].as_array().unwrap().len()
}

/// `bundle verify BUNDLE --key KEY`, which must fail with exit 3; its message.
pub fn verify_fails(work: &Path, bundle: &Path, key: &str) -> String {
    let bundle = bundle.to_str().unwrap();
    outpost_fails(work, &["bundle", "verify", bundle, "--key", key], 3)
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
        let port = super::free_port();
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

    /// `outpost serve BUNDLE --tls auto` for 127.0.0.1, the site CA in `work/state/ca.crt`.
    pub fn start_tls_auto(work: &Path, bundle: &Path) -> Self {
        Server::start(
            work,
            &[
                bundle.to_str().unwrap(),
                "--tls",
                "auto",
                "--hostname",
                "127.0.0.1",
                "--state-dir",
                "state",
            ],
        )
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

/// `config KIND --mirror MIRROR --bundle BUNDLE EXTRA…`: a node-configuration command's
/// arguments.
pub fn config_args<'a>(
    kind: &'a str,
    mirror: &'a str,
    bundle: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["config", kind, "--mirror", mirror, "--bundle", bundle];
    args.extend_from_slice(extra);
    args
}

/// `outpost serve BUNDLE` (run in `work`) must exit, not serve, within 20 s: its exit code
/// and stderr. `why` says in the failure what should have stopped it.
pub fn serve_exits(work: &Path, bundle: &str, why: &str) -> (Option<i32>, String) {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["serve", bundle, "--listen", "127.0.0.1:0"])
        .current_dir(work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = serve.kill();
            panic!("serve started on {bundle} ({why})");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut err).unwrap();
    (status.code(), err)
}
