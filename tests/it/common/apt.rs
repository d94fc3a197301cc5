//! `apt-get` on an isolated node, for tests that check what a real apt installs from a
//! repository. Not for building repositories: `apt_resolver` builds its own.

use super::{config_args, outpost_ok, require};
use std::path::Path;
use std::process::{Command, Output};

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
