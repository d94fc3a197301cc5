//! The dnf (rpm-md) repository a bundle generates for its pinned RPM packages, as
//! createrepo_c writes one: `repodata/<sha256>-primary.xml.gz`, `…-filelists.xml.gz`,
//! `…-other.xml.gz`, and `repodata/repomd.xml` naming each with its `checksum` and
//! `open-checksum` (sha256), `size`, `open-size` and `timestamp`, signed with the bundle's
//! OpenPGP key as the ASCII-armored detached `repodata/repomd.xml.asc` (what dnf checks
//! with `repo_gpgcheck=1`). Beside it travel the keys a node imports: the bundle's key as
//! [`BUNDLE_KEY`] and each packager key as `RPM-GPG-KEY-<FINGERPRINT>` (upper-case hex).
//!
//! Everything is a function of the packages: timestamps are the newest package's build
//! time and gzip headers carry no time, so two builds of the same lockfile agree.

mod xml;

pub use xml::escape;

use crate::bundle::aptrepo::Generated;
use crate::digest::Digest;
use crate::rpm::header::{self, Package};
use crate::sign::apt::AptSigner;
use crate::sign::SignError;
use pgp::composed::{ArmorOptions, Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;
use std::io::Write;

/// The bundle key's file name in every repository.
pub const BUNDLE_KEY: &str = "RPM-GPG-KEY-outpost";

/// One package of a repository: its headers, the sha256 and size of the whole file, and
/// its path below the repository root (`location href`).
pub struct RepoPackage<'a> {
    pub package: &'a Package,
    pub sha256: &'a Digest,
    pub size: u64,
    pub location: &'a str,
}

impl RepoPackage<'_> {
    /// The package's architecture (`src` for a source package).
    pub fn arch(&self) -> String {
        let hd = &self.package.header;
        if hd.has(header::SOURCEPACKAGE) || !hd.has(header::SOURCERPM) {
            "src".into()
        } else {
            hd.string(header::ARCH).unwrap_or_default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RepodataError {
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(
        "repository {repo}: packager key {index} (gpgkey) is not an OpenPGP public key: {message}"
    )]
    Key {
        repo: String,
        index: usize,
        message: String,
    },
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, SignError> {
    let mut gz = Vec::new();
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(&mut gz, flate2::Compression::default());
    encoder
        .write_all(bytes)
        .map_err(|e| SignError::Sign(e.to_string()))?;
    encoder
        .finish()
        .map_err(|e| SignError::Sign(e.to_string()))?;
    Ok(gz)
}

/// An armored public key's upper-case hex fingerprint and its armor, re-armored from the
/// parsed key.
fn armored_key(bytes: &[u8]) -> Result<(String, String), String> {
    let key = match SignedPublicKey::from_armor_single(bytes) {
        Ok((key, _)) => key,
        Err(_) => SignedPublicKey::from_bytes(bytes).map_err(|e| e.to_string())?,
    };
    let armored = key
        .to_armored_string(ArmorOptions::default())
        .map_err(|e| e.to_string())?;
    Ok((format!("{:X}", key.primary_key.fingerprint()), armored))
}

/// The key files of repository `repo`: [`BUNDLE_KEY`] (the bundle's key, armored), then
/// `RPM-GPG-KEY-<FINGERPRINT>` for each packager key (armored text), in order, each once.
pub fn key_files(
    repo: &str,
    packager_keys: &[String],
    signer: &AptSigner,
) -> Result<Vec<Generated>, RepodataError> {
    let (_, bundle) = armored_key(&signer.keyring).map_err(|message| RepodataError::Key {
        repo: repo.into(),
        index: 0,
        message,
    })?;
    let mut files = vec![Generated {
        path: BUNDLE_KEY.into(),
        bytes: bundle.into_bytes(),
    }];
    for (index, key) in packager_keys.iter().enumerate() {
        let (fingerprint, armored) =
            armored_key(key.as_bytes()).map_err(|message| RepodataError::Key {
                repo: repo.into(),
                index: index + 1,
                message,
            })?;
        let path = format!("RPM-GPG-KEY-{fingerprint}");
        if !files.iter().any(|f| f.path == path) {
            files.push(Generated {
                path,
                bytes: armored.into_bytes(),
            });
        }
    }
    Ok(files)
}

/// The `repodata/` files (paths relative to the repository root) for `packages`, sorted by
/// location so the order of the input does not matter; `repomd.xml.asc` signed by `signer`.
pub fn generate(
    packages: &mut [RepoPackage],
    signer: &AptSigner,
) -> Result<Vec<Generated>, SignError> {
    packages.sort_by(|a, b| a.location.cmp(b.location));
    let timestamp = packages
        .iter()
        .filter_map(|p| p.package.header.int(header::BUILDTIME))
        .max()
        .unwrap_or(0);
    let mut files = Vec::new();
    let mut data = String::new();
    for (kind, text) in [
        ("primary", xml::primary(packages)),
        ("filelists", xml::filelists(packages)),
        ("other", xml::other(packages)),
    ] {
        let open = text.into_bytes();
        let gz = gzip(&open)?;
        let checksum = Digest::of(&gz);
        let path = format!("repodata/{}-{kind}.xml.gz", checksum.hex());
        data.push_str(&format!(
            "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{}</checksum>\n    <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"{path}\"/>\n    <timestamp>{timestamp}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            checksum.hex(),
            Digest::of(&open).hex(),
            gz.len(),
            open.len()
        ));
        files.push(Generated { path, bytes: gz });
    }
    let repomd = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n  <revision>{timestamp}</revision>\n{data}</repomd>\n"
    );
    files.push(Generated {
        path: "repodata/repomd.xml.asc".into(),
        bytes: signer.detached(repomd.as_bytes())?.into_bytes(),
    });
    files.push(Generated {
        path: "repodata/repomd.xml".into(),
        bytes: repomd.into_bytes(),
    });
    Ok(files)
}

#[cfg(test)]
mod tests;
