use super::*;
use crate::rpm::testkit::{build, Key, ALPHA};
use std::path::Path;
use std::process::Command;

const BETA: &str = r#"Name: beta
Version: 1.4
Release: 1
Summary: Beta
License: MIT
Provides: /usr/bin/betatool
%description
Beta.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/var/lib/beta
echo hi > %{buildroot}/usr/bin/beta
touch %{buildroot}/var/lib/beta/state
%files
/usr/bin/beta
%ghost /var/lib/beta/state
"#;

/// Writes the generated files under `root`.
fn write(root: &Path, files: &[Generated]) {
    for file in files {
        let path = root.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.bytes).unwrap();
    }
}

fn dnf(dir: &Path, repo: &Path, args: &[&str]) -> String {
    let output = Command::new("dnf")
        .args([
            "-q",
            "--installroot",
            &dir.join("root").display().to_string(),
            "--setopt=reposdir=/nonexistent",
            "--setopt=cachedir=",
        ])
        .arg(format!("--setopt=cachedir={}", dir.join("cache").display()))
        .arg(format!("--repofrompath=t,file://{}", repo.display()))
        .args(["--repo=t", "--releasever=9", "--forcearch=x86_64"])
        .args(["--setopt=t.gpgcheck=0"])
        .args(args)
        .output()
        .expect("dnf (scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "dnf {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The lines of a repository's `<kind>.xml.gz`, sorted, with what may differ between two
/// equivalent documents normalized: `<time>` (file times), `&quot;` in text.
fn sorted_lines(repo: &Path, kind: &str) -> Vec<String> {
    let repodata = repo.join("repodata");
    let file = std::fs::read_dir(&repodata)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with(&format!("-{kind}.xml.gz"))
        })
        .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap()),
        &mut text,
    )
    .unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("<time "))
        .map(|l| l.trim().replace("&quot;", "\""))
        .collect();
    lines.sort();
    lines
}

#[test]
fn dnf_reads_the_generated_repository() {
    let dir = tempfile::tempdir().unwrap();
    let key = Key::generate(dir.path(), "packager");
    let repo = dir.path().join("repo");
    let mut rpms = Vec::new();
    for (spec, arch) in [(ALPHA, "noarch"), (BETA, "x86_64")] {
        let build_dir = dir.path().join(arch);
        std::fs::create_dir_all(&build_dir).unwrap();
        for rpm in build(&build_dir, spec, arch) {
            key.sign(&rpm);
            let name = rpm.file_name().unwrap().to_str().unwrap().to_string();
            let location = format!("Packages/{name}");
            let target = repo.join(&location);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&rpm, &target).unwrap();
            let bytes = std::fs::read(&target).unwrap();
            let package = header::parse(&bytes).unwrap();
            rpms.push((package, Digest::of(&bytes), bytes.len() as u64, location));
        }
    }
    crate::sign::generate(dir.path(), b"pw").unwrap();
    let signer = AptSigner::load(&dir.path().join("outpost.key"), b"pw").unwrap();
    let mut packages: Vec<RepoPackage> = rpms
        .iter()
        .rev()
        .map(|(package, sha256, size, location)| RepoPackage {
            package,
            sha256,
            size: *size,
            location,
        })
        .collect();
    let files = generate(&mut packages, &signer).unwrap();
    // The same packages in another order give the same bytes.
    let mut reversed: Vec<RepoPackage> = packages.into_iter().rev().collect();
    let again = generate(&mut reversed, &signer).unwrap();
    assert!(files
        .iter()
        .zip(&again)
        .all(|(a, b)| a.path == b.path && a.bytes == b.bytes));
    write(&repo, &files);
    let keys = key_files("t", &[key.armored.clone(), key.armored.clone()], &signer).unwrap();
    let names: Vec<&str> = keys.iter().map(|k| k.path.as_str()).collect();
    assert_eq!(
        names,
        [
            BUNDLE_KEY.to_string(),
            format!("RPM-GPG-KEY-{}", key.fingerprint)
        ]
    );
    write(&repo, &keys);

    // dnf reads every field a resolver needs.
    let listed = dnf(
        dir.path(),
        &repo,
        &["repoquery", "--qf", "%{name}-%{evr}.%{arch}"],
    );
    assert!(listed.contains("alpha-2:1.2~rc1-3.noarch"), "{listed}");
    assert!(listed.contains("beta-1.4-1.x86_64"), "{listed}");
    let requires = dnf(dir.path(), &repo, &["repoquery", "--requires", "alpha"]);
    for expected in ["beta >= 1.0", "/usr/bin/betatool", "(gamma or delta)"] {
        assert!(requires.contains(expected), "{expected} in {requires}");
    }
    let provides = dnf(dir.path(), &repo, &["repoquery", "--provides", "alpha"]);
    assert!(provides.contains("virtual-alpha = 5"), "{provides}");
    let obsoletes = dnf(dir.path(), &repo, &["repoquery", "--obsoletes", "alpha"]);
    assert!(obsoletes.contains("oldalpha < 2"), "{obsoletes}");
    let conflicts = dnf(dir.path(), &repo, &["repoquery", "--conflicts", "alpha"]);
    assert!(conflicts.contains("badalpha"), "{conflicts}");
    let recommends = dnf(dir.path(), &repo, &["repoquery", "--recommends", "alpha"]);
    assert!(recommends.contains("extra"), "{recommends}");
    let whatprovides = dnf(
        dir.path(),
        &repo,
        &["repoquery", "--whatprovides", "/usr/bin/betatool"],
    );
    assert!(whatprovides.contains("beta-"), "{whatprovides}");
    let list = dnf(dir.path(), &repo, &["repoquery", "-l", "beta"]);
    assert!(list.contains("/var/lib/beta/state"), "filelists: {list}");
    let changelog = dnf(dir.path(), &repo, &["repoquery", "--changelog", "alpha"]);
    assert!(changelog.contains("first"), "other: {changelog}");

    // The XML says what createrepo_c says for the same packages (the time a file was
    // written aside, which outpost takes from the build time).
    let reference = dir.path().join("createrepo");
    std::fs::create_dir_all(&reference).unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(repo.join("Packages"))
        .arg(&reference)
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new("createrepo_c")
        .arg("-q")
        .arg(&reference)
        .status()
        .expect("createrepo_c (scripts/test.sh installs createrepo-c)");
    assert!(status.success());
    for kind in ["primary", "filelists", "other"] {
        let ours = sorted_lines(&repo, kind);
        let theirs = sorted_lines(&reference, kind);
        assert_eq!(ours, theirs, "{kind}.xml differs from createrepo_c's");
    }

    // repomd.xml.asc verifies with the bundle key (gpg, as dnf's repo_gpgcheck does).
    let home = dir.path().join("verify-home");
    std::fs::create_dir_all(&home).unwrap();
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", &home)
            .arg("--batch")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(
        gpg(&["--import", &repo.join(BUNDLE_KEY).display().to_string()])
            .status
            .success()
    );
    let verified = gpg(&[
        "--verify",
        &repo.join("repodata/repomd.xml.asc").display().to_string(),
        &repo.join("repodata/repomd.xml").display().to_string(),
    ]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}
