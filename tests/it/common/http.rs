//! HTTP on both sides: `http` (one exchange made with stock curl, as a client would) and
//! `StaticServer` (an upstream's file tree behind `python3 -m http.server`). Not for raw,
//! hostile requests: the attack suite writes those to the socket itself.

use super::{free_port, require, wait_for_port};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

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
