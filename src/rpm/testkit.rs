//! Test packages built with the real tools: `rpmbuild` for tiny spec files and `rpmsign`
//! (through `gpg`) with throwaway keys. The tools are required (scripts/test.sh installs
//! them).

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e} (scripts/test.sh installs rpm and gnupg)"));
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A throwaway signing key in its own GnuPG home.
pub struct Key {
    pub home: PathBuf,
    pub name: String,
    pub fingerprint: String,
    pub armored: String,
}

impl Key {
    pub fn generate(dir: &Path, name: &str) -> Key {
        let home = dir.join(format!("gnupg-{name}"));
        std::fs::create_dir_all(&home).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let uid = format!("{name} <{name}@test>");
        let gpg = || {
            let mut c = Command::new("gpg");
            c.env("GNUPGHOME", &home)
                .args(["--batch", "--passphrase", ""]);
            c
        };
        run(gpg().args(["--quick-gen-key", &uid, "ed25519", "sign", "never"]));
        let colons = run(gpg().args(["--with-colons", "--list-keys"]));
        let fingerprint = colons
            .lines()
            .find_map(|l| l.strip_prefix("fpr:::::::::"))
            .map(|l| l.trim_end_matches(':').to_string())
            .unwrap();
        let armored = run(gpg().args(["--armor", "--export"]));
        Key {
            home,
            name: name.into(),
            fingerprint,
            armored,
        }
    }

    /// Signs `rpm` in place (header-only signature, as rpm ≥ 4.16 writes it).
    pub fn sign(&self, rpm: &Path) {
        run(Command::new("rpmsign")
            .env("GNUPGHOME", &self.home)
            .arg("--define")
            .arg("__gpg /usr/bin/gpg")
            .arg("--define")
            .arg(format!("_gpg_name {}", self.name))
            .arg("--addsign")
            .arg(rpm)
            .stdin(std::process::Stdio::null()));
    }

    pub fn public(&self) -> Vec<pgp::composed::SignedPublicKey> {
        crate::debian::openpgp::Keyring::from_bytes("test key", self.armored.as_bytes())
            .unwrap()
            .keys()
            .to_vec()
    }
}

/// Builds the packages of `spec` (text) for `arch` (`noarch` specs ignore it); returns the
/// binary packages.
pub fn build(dir: &Path, spec: &str, arch: &str) -> Vec<PathBuf> {
    let top = dir.join("rpmbuild");
    let spec_path = dir.join("package.spec");
    std::fs::write(&spec_path, spec).unwrap();
    run(Command::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg("--define")
        .arg("_binary_payload w2.gzdio")
        .arg("--target")
        .arg(arch)
        .arg("-bb")
        .arg(&spec_path));
    let mut found = Vec::new();
    for dir in std::fs::read_dir(top.join("RPMS")).unwrap() {
        for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            found.push(file.unwrap().path());
        }
    }
    found.sort();
    found
}

/// A spec with the features a repository must describe.
pub const ALPHA: &str = r#"Name: alpha
Version: 1.2~rc1
Release: 3
Epoch: 2
Summary: Alpha & <omega> "quoted"
License: MIT
BuildArch: noarch
Requires: beta >= 1.0
Requires(pre): /usr/bin/betatool
Requires: (gamma or delta)
Provides: virtual-alpha = 5
Obsoletes: oldalpha < 2
Conflicts: badalpha
Recommends: extra
%description
Alpha package.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/alpha %{buildroot}/usr/share/alpha
echo hi > %{buildroot}/usr/bin/alpha
echo c > %{buildroot}/etc/alpha/alpha.conf
echo d > %{buildroot}/usr/share/alpha/data
%files
/usr/bin/alpha
%dir /etc/alpha
%config /etc/alpha/alpha.conf
/usr/share/alpha
%changelog
* Mon Jan 01 2024 Someone <s@test> - 2:1.2~rc1-3
- first
"#;
