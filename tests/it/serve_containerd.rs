//! A real containerd pulls images by their upstream names through the `hosts.toml` files
//! `outpost config containerd` writes, and the bytes come from outpost: over plain HTTP and
//! over TLS with the site CA that `--tls auto` creates.

use crate::common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private containerd (own root, state and socket; native snapshotter), killed on drop.
pub(crate) struct Containerd {
    child: Child,
    socket: String,
}

impl Containerd {
    pub(crate) fn start(dir: &Path) -> Self {
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

    pub(crate) fn pull(&self, hosts_dir: &Path, image: &str) -> String {
        run_ok(&mut self.pull_command(hosts_dir, image))
    }

    /// `ctr images pull` of `image` through the hosts files in `hosts_dir`, not yet run.
    pub(crate) fn pull_command(&self, hosts_dir: &Path, image: &str) -> Command {
        let mut command = Command::new("ctr");
        command
            .args([
                "-a",
                &self.socket,
                "images",
                "pull",
                "--snapshotter",
                "native",
                "--hosts-dir",
            ])
            .arg(hosts_dir)
            .arg(image);
        command
    }

    pub(crate) fn image_digest(&self, image: &str) -> String {
        let listing = run_ok(Command::new("ctr").args(["-a", &self.socket, "images", "ls"]));
        let line = listing
            .lines()
            .find(|l| l.starts_with(&format!("{image} ")))
            .unwrap_or_else(|| panic!("{image} not in:\n{listing}"));
        line.split_whitespace().nth(2).unwrap().to_string()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn containerd_pulls_through_the_mirror_over_http_and_tls() {
    let site = Site::new();
    let work = site.work();
    let bundle = site.build("linux/amd64", &["library/alpha:1", "library/multi:1"]);
    let containerd_dir = tempfile::Builder::new()
        .prefix("ctd")
        .tempdir_in("/tmp")
        .unwrap();
    let containerd = Containerd::start(containerd_dir.path());

    // Plain HTTP.
    let server = Server::start(work, &[bundle.to_str().unwrap()]);
    let written = outpost_ok(
        work,
        &config_args(
            "containerd",
            &server.url(),
            "bundles/edge-1.0.tar",
            &["--out", "certs-http"],
        ),
    );
    assert!(written.contains("config_path"), "{written}");
    let hosts = std::fs::read_to_string(work.join("certs-http/registry.test/hosts.toml")).unwrap();
    assert!(
        hosts.contains(&format!("[host.\"{}\"]", server.url())),
        "{hosts}"
    );
    containerd.pull(&work.join("certs-http"), "registry.test/library/alpha:1");
    assert_eq!(
        containerd.image_digest("registry.test/library/alpha:1"),
        pinned_digest(work, "edge.lock", "registry.test/library/alpha:1")
    );
    let log = server.log();
    assert!(
        log.contains("/v2/library/alpha/manifests/1?ns=registry.test"),
        "the pull did not come from outpost:\n{log}"
    );
    drop(server);

    // TLS with a site CA created by --tls auto.
    let server = Server::start(
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
    );
    assert!(work.join("state/ca.crt").is_file());
    let ca = work.join("state/ca.crt").display().to_string();
    outpost_ok(
        work,
        &config_args(
            "containerd",
            &server.url(),
            "bundles/edge-1.0.tar",
            &["--ca", &ca, "--out", "certs-tls"],
        ),
    );
    containerd.pull(&work.join("certs-tls"), "registry.test/library/multi:1");
    assert_eq!(
        containerd.image_digest("registry.test/library/multi:1"),
        pinned_digest(work, "edge.lock", "registry.test/library/multi:1")
    );
    let log = server.log();
    assert!(
        log.contains("/v2/library/multi/manifests/1?ns=registry.test"),
        "the pull did not come from outpost:\n{log}"
    );
    // Stock curl trusts the server with the CA, and only with it.
    assert_eq!(
        http(
            "GET",
            &format!("{}/healthz", server.url()),
            &["--cacert", &ca]
        )
        .status,
        200
    );
    assert_eq!(
        http("GET", &format!("{}/healthz", server.url()), &[]).status,
        0
    );
}
