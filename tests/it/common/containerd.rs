//! A private containerd (own root, state and socket; native snapshotter) and `ctr`, the real
//! node-side client: pull through `hosts.toml` files, list what was pulled. Not for what the
//! mirror serves: assertions live in the test modules.

use super::{require, run_ok};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running containerd, killed on drop.
pub struct Containerd {
    child: Child,
    socket: String,
}

impl Containerd {
    /// Starts containerd with its root, state, socket and log under `dir` (keep `dir` short:
    /// the socket path must fit in a Unix socket address).
    pub fn start(dir: &Path) -> Self {
        require("containerd");
        require("ctr");
        let socket = dir.join("containerd.sock").display().to_string();
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{}\"\nstate = \"{}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{socket}\"\n",
                dir.join("root").display(),
                dir.join("state").display()
            ),
        )
        .unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("containerd.log")).unwrap())
            .spawn()
            .expect("start containerd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !Command::new("ctr")
            .args(["-a", &socket, "version"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(Instant::now() < deadline, "containerd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Containerd { child, socket }
    }

    /// `ctr -a SOCKET`, for any other ctr command.
    pub fn ctr(&self) -> Command {
        let mut command = Command::new("ctr");
        command.args(["-a", &self.socket]);
        command
    }

    /// `ctr images pull [OPTIONS] --hosts-dir HOSTS_DIR IMAGE` (native snapshotter), not yet
    /// run.
    pub fn pull_with(&self, hosts_dir: &Path, options: &[&str], image: &str) -> Command {
        let mut command = Command::new("ctr");
        command
            .args([
                "-a",
                &self.socket,
                "images",
                "pull",
                "--snapshotter",
                "native",
            ])
            .args(options)
            .arg("--hosts-dir")
            .arg(hosts_dir)
            .arg(image);
        command
    }

    /// `ctr images pull` of `image` for the host's platform, not yet run.
    pub fn pull_command(&self, hosts_dir: &Path, image: &str) -> Command {
        self.pull_with(hosts_dir, &[], image)
    }

    /// Pulls `image` for the host's platform, asserting success; returns ctr's output.
    pub fn pull(&self, hosts_dir: &Path, image: &str) -> String {
        run_ok(&mut self.pull_command(hosts_dir, image))
    }

    /// Pulls `image` for `platform`, asserting success; returns ctr's output.
    pub fn pull_platform(&self, hosts_dir: &Path, platform: &str, image: &str) -> String {
        run_ok(&mut self.pull_with(hosts_dir, &["--platform", platform], image))
    }

    /// The digest `ctr images ls` lists for `image`.
    pub fn image_digest(&self, image: &str) -> String {
        let listing = run_ok(Command::new("ctr").args(["-a", &self.socket, "images", "ls"]));
        let line = listing
            .lines()
            .find(|l| l.starts_with(&format!("{image} ")))
            .unwrap_or_else(|| panic!("{image} not in:\n{listing}"));
        line.split_whitespace().nth(2).unwrap().to_string()
    }

    /// Whether containerd's content store holds `digest` (what a pull fetched).
    pub fn has_content(&self, digest: &str) -> bool {
        let listing = run_ok(Command::new("ctr").args(["-a", &self.socket, "content", "ls", "-q"]));
        listing.lines().any(|l| l.trim() == digest)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
