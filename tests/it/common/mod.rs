//! Shared test harness: the real `outpost` binary, a real CNCF distribution registry on
//! loopback seeded with images the test builds, stock clients, and a fault-injecting proxy.
//! Not for assertions about a feature: those live in the test modules that use it.
//!
//! A missing tool fails the test (never skips): `scripts/test.sh` installs every one.

mod apt;
mod bundle;
mod containerd;
mod fault_proxy;
mod http;
mod outpost;
mod registry;
mod snapshot;
mod tmpfs;

pub use apt::*;
pub use bundle::*;
pub use containerd::*;
pub use fault_proxy::*;
pub use http::*;
pub use outpost::*;
pub use registry::*;
pub use snapshot::*;
pub use tmpfs::*;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The password of every key the tests generate (`OUTPOST_KEY_PASSWORD`).
pub const PASSWORD: &str = "test-password";

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `sha256:<hex>` of a file, as stock `sha256sum` computes it.
pub fn sha256_file(path: &Path) -> String {
    let out = run_ok(Command::new("sha256sum").arg(path));
    format!("sha256:{}", out.split_whitespace().next().unwrap())
}

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

/// Runs `cmd`, asserts it succeeded, and returns its stdout.
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

/// An EC P-256 key pair as cosign and openssl make it: `NAME.key` (private, PEM) and
/// `NAME.pub` (SPKI PEM) in `dir`.
pub fn ec_key_pair(dir: &Path, name: &str) {
    require("openssl");
    let key = dir.join(format!("{name}.key"));
    run_ok(
        Command::new("openssl")
            .args([
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
            ])
            .arg(&key),
    );
    run_ok(
        Command::new("openssl")
            .args(["ec", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(dir.join(format!("{name}.pub"))),
    );
}

/// The fingerprint outpost shows for a PEM public key: the sha256 (hex) of its SPKI DER, as
/// openssl writes it.
pub fn key_fingerprint(public_pem: &Path) -> String {
    require("openssl");
    let der = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER", "-in"])
        .arg(public_pem)
        .output()
        .unwrap();
    assert!(
        der.status.success(),
        "openssl pkey failed on {}",
        public_pem.display()
    );
    sha256_hex(&der.stdout)
}

/// Parses JSON a command printed.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// Reads and parses a JSON file (a lockfile, a parts list, an OCI index).
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A `/proc/<pid>/status` memory figure in KiB: `VmRSS` (now) or `VmHWM` (peak).
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}
