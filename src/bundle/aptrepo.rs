//! The apt repository generated inside a bundle for its pinned .debs: `Packages` and
//! `Packages.gz` per architecture, `Release` with their sha256, `InRelease` and `Release.gpg`
//! signed with the bundle's apt key, and that key as a keyring. Served under `/apt/<repo>/`.

use crate::lock::DebPin;
use crate::sign::apt::AptSigner;
use crate::sign::SignError;
use std::io::Write;

/// The suite and component every generated repository uses.
pub const SUITE: &str = "outpost";
pub const COMPONENT: &str = "main";
/// The keyring file name inside the repository.
pub const KEYRING: &str = "outpost-apt.gpg";

/// One generated file: its path below `apt/<repo>/` and its bytes.
pub struct Generated {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// The mirror path prefix of a repository.
pub fn prefix(repo: &str) -> String {
    format!("apt/{repo}")
}

/// `Packages` text for one architecture (`all` packages are listed for every architecture).
pub fn packages_text(debs: &[DebPin], arch: &str) -> String {
    let mut chosen: Vec<&DebPin> = debs
        .iter()
        .filter(|d| d.arch == arch || d.arch == "all")
        .collect();
    chosen.sort_by(|a, b| a.name.cmp(&b.name));
    let mut text = String::new();
    for deb in chosen {
        text.push_str(deb.control.trim_end_matches('\n'));
        text.push_str(&format!(
            "\nFilename: {}\nSize: {}\nSHA256: {}\n\n",
            deb.path,
            deb.size,
            deb.sha256.hex()
        ));
    }
    text
}

/// Generates the repository's index files, signed with `signer`.
pub fn generate(
    debs: &[DebPin],
    arches: &[String],
    repo: &str,
    signer: &AptSigner,
) -> Result<Vec<Generated>, SignError> {
    let mut files = Vec::new();
    let mut release_entries = String::new();
    for arch in arches {
        let packages = packages_text(debs, arch).into_bytes();
        let mut gz = Vec::new();
        {
            let mut encoder = flate2::GzBuilder::new()
                .mtime(0)
                .write(&mut gz, flate2::Compression::best());
            encoder
                .write_all(&packages)
                .map_err(|e| SignError::Sign(e.to_string()))?;
            encoder
                .finish()
                .map_err(|e| SignError::Sign(e.to_string()))?;
        }
        for (name, bytes) in [("Packages", packages), ("Packages.gz", gz)] {
            let relative = format!("{COMPONENT}/binary-{arch}/{name}");
            release_entries.push_str(&format!(
                " {} {} {relative}\n",
                crate::digest::Digest::of(&bytes).hex(),
                bytes.len()
            ));
            files.push(Generated {
                path: format!("dists/{SUITE}/{relative}"),
                bytes,
            });
        }
    }
    let release = format!(
        "Origin: outpost\nLabel: outpost {repo}\nSuite: {SUITE}\nCodename: {SUITE}\nDate: Thu, 01 Jan 1970 00:00:00 UTC\nArchitectures: {}\nComponents: {COMPONENT}\nDescription: packages carried by the outpost bundle {repo}\nSHA256:\n{release_entries}",
        arches.join(" ")
    );
    files.push(Generated {
        path: format!("dists/{SUITE}/InRelease"),
        bytes: signer.clearsign(&release)?.into_bytes(),
    });
    files.push(Generated {
        path: format!("dists/{SUITE}/Release.gpg"),
        bytes: signer.detached(release.as_bytes())?.into_bytes(),
    });
    files.push(Generated {
        path: format!("dists/{SUITE}/Release"),
        bytes: release.into_bytes(),
    });
    files.push(Generated {
        path: KEYRING.to_string(),
        bytes: signer.keyring.clone(),
    });
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    #[test]
    fn packages_lists_arch_and_all() {
        let deb = |name: &str, arch: &str| DebPin {
            name: name.into(),
            version: "1.0".into(),
            arch: arch.into(),
            path: format!("pool/main/{name}_{arch}.deb"),
            url: String::new(),
            sha256: Digest::of(name.as_bytes()),
            size: 10,
            source: String::new(),
            why: "requested".into(),
            control: format!("Package: {name}\nVersion: 1.0\nArchitecture: {arch}\n"),
        };
        let debs = vec![deb("zz", "amd64"), deb("aa", "all"), deb("mm", "arm64")];
        let text = packages_text(&debs, "amd64");
        assert!(text.starts_with("Package: aa\n"), "{text}");
        assert!(text.contains("Package: zz\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/main/zz_amd64.deb\nSize: 10\nSHA256: "));
        assert!(!text.contains("Package: mm"));
    }
}
