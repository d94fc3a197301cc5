//! `apt-get` on an isolated node, for tests that check what a real apt installs from a
//! repository; and small archives of `dpkg-deb`-built packages (`build_debs`,
//! `write_signed_indexes`) behind a logging static server (`ArchiveServer`) for tests of
//! archive layouts. `apt_resolver` keeps its own fixed repository.

use super::{config_args, free_port, outpost_ok, require, run_ok, sha256_hex, wait_for_port};
use super::{read_json, PASSWORD};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A dpkg status file holding only the essential `base` package (an otherwise empty node).
pub const BASE_STATUS: &str = "Package: base\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\nEssential: yes\nPriority: required\nMaintainer: t\nDescription: base\n\n";

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

/// Asserts that an apt-get run succeeded, showing what it printed otherwise.
pub fn assert_apt_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `config apt` for `bundle` served at `mirror`, written into `sources` (the deb822 entry as
/// `outpost.sources`, the `Signed-By` key beside it); the entry it printed.
pub fn apt_sources(work: &Path, mirror: &str, bundle: &str, sources: &Path) -> String {
    std::fs::create_dir_all(sources).unwrap();
    let dir = sources.to_str().unwrap();
    let entry = outpost_ok(
        work,
        &config_args("apt", mirror, bundle, &["--out", dir, "--key-dir", dir]),
    );
    std::fs::write(sources.join("outpost.sources"), &entry).unwrap();
    entry
}

/// One package of a test archive: its control fields and the `Filename` its .deb is written
/// at (relative to the archive's root).
pub struct TestDeb {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// Extra control fields, each ending in a newline (`Depends: x\n`).
    pub fields: String,
    pub filename: String,
}

impl TestDeb {
    /// At `pool/<name>_<version>_<arch>.deb`.
    pub fn new(name: &str, version: &str, arch: &str, fields: &str) -> Self {
        TestDeb {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            fields: fields.into(),
            filename: format!("pool/{name}_{version}_{arch}.deb"),
        }
    }

    /// At another `Filename`.
    pub fn at(mut self, filename: &str) -> Self {
        self.filename = filename.into();
        self
    }
}

/// Builds each .deb with dpkg-deb at `root/<filename>`; returns the Packages paragraphs of
/// those whose architecture is `arch` or `all` (every one for `None`).
pub fn build_debs(root: &Path, debs: &[TestDeb], arch: Option<&str>) -> String {
    require("dpkg-deb");
    let scratch = tempfile::tempdir().unwrap();
    let mut packages = String::new();
    for deb in debs {
        let dir = scratch
            .path()
            .join(format!("{}_{}_{}", deb.name, deb.version, deb.arch));
        std::fs::create_dir_all(dir.join("DEBIAN")).unwrap();
        let control = format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: outpost tests <t@localhost>\n{}Description: test package {}\n",
            deb.name, deb.version, deb.arch, deb.fields, deb.name
        );
        std::fs::write(dir.join("DEBIAN/control"), &control).unwrap();
        let target = root.join(&deb.filename);
        if !target.exists() {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            run_ok(
                Command::new("dpkg-deb")
                    .args(["--root-owner-group", "-Zgzip", "--build"])
                    .arg(&dir)
                    .arg(&target),
            );
        }
        if arch.is_none_or(|a| a == deb.arch || deb.arch == "all") {
            let bytes = std::fs::read(&target).unwrap();
            packages.push_str(&format!(
                "{control}Filename: {}\nSize: {}\nSHA256: {}\n\n",
                deb.filename,
                bytes.len(),
                sha256_hex(&bytes)
            ));
        }
    }
    packages
}

/// How a test archive's Release is signed (with the apt key in `work/keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseSignature {
    /// `InRelease`, clear-signed.
    InRelease,
    /// `Release` + an ASCII-armored `Release.gpg`.
    Armored,
    /// `Release` + a binary `Release.gpg`, as `gpg --detach-sign` writes it (an old-format
    /// signature packet).
    Binary,
}

/// Writes `files` (paths relative to `dir`) and a Release in `dir` listing them with their
/// sha256, signed as `signature` says.
pub fn write_signed_indexes(
    work: &Path,
    dir: &Path,
    files: &[(&str, Vec<u8>)],
    signature: ReleaseSignature,
) {
    let mut release =
        "Origin: test\nLabel: test\nDate: Thu, 01 Jan 2026 00:00:00 UTC\nSHA256:\n".to_string();
    for (path, bytes) in files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, bytes).unwrap();
        release.push_str(&format!(" {} {} {path}\n", sha256_hex(bytes), bytes.len()));
    }
    let signer =
        outpost::sign::apt::AptSigner::load(&work.join("keys/outpost.key"), PASSWORD.as_bytes())
            .unwrap();
    std::fs::write(dir.join("Release"), &release).unwrap();
    match signature {
        ReleaseSignature::InRelease => {
            std::fs::write(dir.join("InRelease"), signer.clearsign(&release).unwrap()).unwrap()
        }
        ReleaseSignature::Armored => std::fs::write(
            dir.join("Release.gpg"),
            signer.detached(release.as_bytes()).unwrap(),
        )
        .unwrap(),
        ReleaseSignature::Binary => std::fs::write(
            dir.join("Release.gpg"),
            old_format_packet(&dearmor(&signer.detached(release.as_bytes()).unwrap())),
        )
        .unwrap(),
    }
}

/// The binary packets of an ASCII-armored OpenPGP block (what `gpg --dearmor` writes).
fn dearmor(armored: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = armored
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .skip_while(|l| !l.trim().is_empty())
        .skip(1)
        .take_while(|l| !l.starts_with('=') && !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// One new-format OpenPGP packet rewritten with the old-format header gpg writes (RFC 4880
/// §4.2: tag in bits 5–2, then a one-, two- or four-octet length).
fn old_format_packet(packet: &[u8]) -> Vec<u8> {
    if packet[0] & 0x40 == 0 {
        return packet.to_vec();
    }
    let tag = packet[0] & 0x3f;
    let (length, header) = match packet[1] {
        first @ 0..=191 => (first as usize, 2),
        first @ 192..=223 => (
            (((first as usize) - 192) << 8) + packet[2] as usize + 192,
            3,
        ),
        _ => (
            u32::from_be_bytes([packet[2], packet[3], packet[4], packet[5]]) as usize,
            6,
        ),
    };
    let mut old = vec![0x80 | (tag << 2)];
    if length < 256 {
        old.push(length as u8);
    } else if length < 65536 {
        old[0] |= 1;
        old.extend((length as u16).to_be_bytes());
    } else {
        old[0] |= 2;
        old.extend((length as u32).to_be_bytes());
    }
    old.extend_from_slice(&packet[header..header + length]);
    old
}

/// `Packages` and `Packages.gz` of `text`, as index files for `write_signed_indexes` in
/// `dir` (`""` for a flat repository, `main/binary-amd64/` for a suite).
pub fn packages_files(dir: &str, text: &str) -> Vec<(String, Vec<u8>)> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    vec![
        (format!("{dir}Packages"), text.as_bytes().to_vec()),
        (format!("{dir}Packages.gz"), gz.finish().unwrap()),
    ]
}

/// A static archive on loopback (python3) that logs every request line it receives, killed
/// on drop. With `plus_is_space`, a `+` in a path means a space, as on hosts that decode
/// paths like form data: a raw `+` in a pool name then misses, `%2b` finds it.
pub struct ArchiveServer {
    pub port: u16,
    log: PathBuf,
    child: Child,
}

const ARCHIVE_SERVER: &str = r##"
import http.server, os, sys, urllib.parse
port, root, plus, log = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4]
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def translate_path(self, path):
        with open(log, "a") as f:
            f.write(self.command + " " + self.path + "\n")
        path = path.split("?", 1)[0].split("#", 1)[0]
        path = urllib.parse.unquote_plus(path) if plus else urllib.parse.unquote(path)
        return os.path.join(root, path.lstrip("/"))
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"##;

impl ArchiveServer {
    pub fn start(root: &Path, plus_is_space: bool) -> Self {
        require("python3");
        let port = free_port();
        let log = root.with_extension(format!("{port}.requests"));
        std::fs::write(&log, "").unwrap();
        let child = Command::new("python3")
            .args(["-c", ARCHIVE_SERVER, &port.to_string()])
            .arg(root)
            .arg(if plus_is_space { "1" } else { "0" })
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the archive server");
        wait_for_port(port);
        ArchiveServer { port, log, child }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request lines so far (`GET /pool/a_1.0_all.deb`), in order.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Forgets the requests logged so far.
    pub fn clear_requests(&self) {
        std::fs::write(&self.log, "").unwrap();
    }
}

impl Drop for ArchiveServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Helpers of the field-archive tests (`apt_variants`, `apt_multiarch`).

/// `apt-get` for `arch` on an empty node (only the essential `base`), with the sources in
/// `sources`; its state lives in `state`.
pub fn node(state: &Path, sources: &Path, arch: &str, args: &[&str]) -> std::process::Output {
    std::fs::create_dir_all(state).unwrap();
    let status = state.join("status");
    if !status.exists() {
        std::fs::write(&status, BASE_STATUS).unwrap();
    }
    apt_get(state, sources, &status, arch, args)
}

/// What `apt-get install --simulate` installs (names without architecture), or None when
/// apt cannot satisfy the request.
pub fn apt_simulate_node(
    state: &Path,
    sources: &Path,
    arch: &str,
    packages: &[&str],
) -> Option<BTreeSet<String>> {
    let mut args = vec!["install", "--simulate", "-y"];
    args.extend_from_slice(packages);
    let out = node(state, sources, arch, &args);
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("Inst "))
            .filter_map(|l| l.split_whitespace().next())
            .map(|l| l.split(':').next().unwrap_or(l).to_string())
            .collect(),
    )
}

pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The names of the lockfile's debs.
pub fn locked_names(work: &Path, lock: &str) -> BTreeSet<String> {
    read_json(&work.join(lock))["debs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

pub fn system_manifest(work: &Path, name: &str, packages: &str) {
    std::fs::write(
        work.join(format!("{name}.yaml")),
        format!("apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: {name}, version: \"1\"}}\nspec:\n  platforms: [linux/amd64]\n  packages:\n    apt:\n      - source: system\n        packages: {packages}\n"),
    )
    .unwrap();
}

pub fn url_manifest(work: &Path, name: &str, platform: &str, source: &str, packages: &str) {
    std::fs::write(
        work.join(format!("{name}.yaml")),
        format!("apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: {name}, version: \"1\"}}\nspec:\n  platforms: [{platform}]\n  packages:\n    apt:\n      - {source}\n        keyring: {}\n        packages: {packages}\n", work.join("keys/outpost-apt.gpg").display()),
    )
    .unwrap();
}

pub fn as_refs(files: &[(String, Vec<u8>)]) -> Vec<(&str, Vec<u8>)> {
    files
        .iter()
        .map(|(path, bytes)| (path.as_str(), bytes.clone()))
        .collect()
}
