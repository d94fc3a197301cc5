//! The dnf repositories a bundle carries for its pinned RPM packages, as files under
//! `rpm/<repo>/`: each `.rpm` unchanged at its upstream path (`rpm/<repo>/<path>`), the
//! generated `rpm/<repo>/repodata/` signed with the bundle's OpenPGP key
//! ([`crate::rpm::repodata`]), the bundle key as `rpm/<repo>/RPM-GPG-KEY-outpost` and each
//! packager key of the repository as `rpm/<repo>/RPM-GPG-KEY-<FINGERPRINT>`. Served under
//! `/rpm/<repo>/`. The packages' headers are read from the cache, where fetch put them.

use super::aptrepo::Generated;
use super::pack::PackError;
use crate::debian::openpgp::Keyring;
use crate::digest::Digest;
use crate::lock::{FilePin, Lockfile, RpmPin};
use crate::rpm::{header, repodata};
use crate::sign::apt::AptSigner;
use crate::store::Store;
use std::collections::BTreeSet;

/// The start of every key file's name directly under `rpm/<repo>/`.
pub const KEY_FILE_PREFIX: &str = "RPM-GPG-KEY-";

/// The mirror path prefix of a repository.
pub fn prefix(repo: &str) -> String {
    format!("rpm/{repo}")
}

/// Whether `repo` is usable as one path segment (`[A-Za-z0-9._-]`, not `.` or `..`).
pub fn valid_repo_name(repo: &str) -> bool {
    !repo.is_empty()
        && repo != "."
        && repo != ".."
        && repo
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Whether a package path stays inside its repository and leaves `repodata/` and the key
/// files alone: relative, no empty, `.` or `..` segment, not `repodata/…` nor named like a
/// key file (`RPM-GPG-KEY-…`, which `config dnf` installs as a trusted key), ends in `.rpm`.
fn valid_package_path(path: &str) -> bool {
    path.ends_with(".rpm")
        && !path.starts_with("repodata/")
        && !path.starts_with(KEY_FILE_PREFIX)
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'))
}

/// The repositories of the lockfile: those of `rpm_repos`, then any a package names that
/// `rpm_repos` does not (with no packager keys).
fn repositories(lock: &Lockfile) -> Vec<(String, Vec<String>)> {
    let mut repos: Vec<(String, Vec<String>)> = lock
        .rpm_repos
        .iter()
        .map(|r| (r.name.clone(), r.keys.clone()))
        .collect();
    let named: BTreeSet<&str> = lock.rpms.iter().map(|p| p.repo.as_str()).collect();
    for name in named {
        if !repos.iter().any(|(r, _)| r == name) {
            repos.push((name.to_string(), Vec::new()));
        }
    }
    repos
}

fn generated_pin(repo: &str, generated: Generated, store: &Store) -> Result<FilePin, PackError> {
    let digest = Digest::of(&generated.bytes);
    store.put_bytes(&digest, &generated.bytes)?;
    let path = format!("{}/{}", prefix(repo), generated.path);
    Ok(FilePin {
        url: format!("generated:{path}"),
        path,
        sha256: digest,
        size: generated.bytes.len() as u64,
        verified_by: "generated at build time".into(),
        insecure: false,
        signature: None,
    })
}

/// Reads one cached package's headers. With `keys` (a `gpgcheck` repository), the whole
/// file is checked as `rpm -K` does: header signature by the key the lockfile names, payload
/// against the signed header, and the header must be the package the pin names, so the file
/// carried is the packager's whatever the upstream metadata said.
fn cached_header(
    pin: &RpmPin,
    store: &Store,
    keys: Option<&Keyring>,
) -> Result<header::Package, PackError> {
    let path = store.blob_path(&pin.sha256);
    let file = std::fs::File::open(&path).map_err(|_| PackError::MissingBlob {
        digest: pin.sha256.clone(),
        owner: format!("RPM package {}", pin.nevra()),
    })?;
    let failed = |source| PackError::RpmHeader {
        package: pin.nevra(),
        source,
    };
    let reader = std::io::BufReader::new(file);
    let Some(keys) = keys else {
        return header::read(reader).map_err(failed);
    };
    let (package, signer) =
        crate::rpm::package::verify_file(reader, keys.keys()).map_err(failed)?;
    let wrong = |reason: String| {
        failed(header::HeaderError::BadSignature {
            package: pin.nevra(),
            reason,
        })
    };
    if !signer.eq_ignore_ascii_case(&pin.signer) {
        return Err(wrong(format!(
            "signed by {signer}, the lockfile says {}",
            if pin.signer.is_empty() {
                "nothing (run `outpost lock` again)"
            } else {
                pin.signer.as_str()
            }
        )));
    }
    if package.nevra() != pin.nevra() {
        return Err(wrong(format!("the file is {}", package.nevra())));
    }
    Ok(package)
}

/// The packages and the generated, signed dnf repositories, as files under `rpm/<repo>/`.
///
/// Errors: `RpmPath` for a repository name or package path that would leave its directory;
/// `MissingBlob` for a package not in the cache; `RpmHeader` for a cached package whose
/// headers do not parse; `Repodata` for a packager key that is not a key; `Sign`.
pub fn files(
    lock: &Lockfile,
    store: &Store,
    signer: &AptSigner,
) -> Result<Vec<FilePin>, PackError> {
    let mut files = Vec::new();
    for (repo, keys) in repositories(lock) {
        if !valid_repo_name(&repo) {
            return Err(PackError::RpmPath {
                path: repo,
                message:
                    "a repository name is one path segment of letters, digits, '.', '_' and '-'"
                        .into(),
            });
        }
        let pins: Vec<&RpmPin> = lock.rpms.iter().filter(|p| p.repo == repo).collect();
        let keyring = if pins.iter().any(|p| p.gpgcheck) {
            Some(
                Keyring::from_bytes(&repo, keys.join("\n").as_bytes()).map_err(|e| {
                    PackError::RpmPath {
                        path: repo.clone(),
                        message: format!("its packager keys in the lockfile do not read: {e}"),
                    }
                })?,
            )
        } else {
            None
        };
        let mut headers = Vec::with_capacity(pins.len());
        for pin in &pins {
            if !valid_package_path(&pin.path) {
                return Err(PackError::RpmPath {
                    path: format!("{repo}/{}", pin.path),
                    message: format!("package {}: a package path is relative, without '.' or '..' segments, outside repodata/, and ends in .rpm", pin.nevra()),
                });
            }
            headers.push(cached_header(
                pin,
                store,
                keyring.as_ref().filter(|_| pin.gpgcheck),
            )?);
            files.push(FilePin {
                url: pin.url.clone(),
                path: format!("{}/{}", prefix(&repo), pin.path),
                sha256: pin.sha256.clone(),
                size: pin.size,
                verified_by: if pin.gpgcheck {
                    format!("header signature by {}, sha256 in the lockfile", pin.signer)
                } else {
                    "sha256 in the lockfile (gpgcheck off)".into()
                },
                insecure: false,
                signature: None,
            });
        }
        let mut packages: Vec<repodata::RepoPackage> = pins
            .iter()
            .zip(&headers)
            .map(|(pin, package)| repodata::RepoPackage {
                package,
                sha256: &pin.sha256,
                size: pin.size,
                location: &pin.path,
            })
            .collect();
        let generated = repodata::generate(&mut packages, signer)?;
        let keys = repodata::key_files(&repo, &keys, signer)?;
        for file in generated.into_iter().chain(keys) {
            files.push(generated_pin(&repo, file, store)?);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_stay_inside_the_repository() {
        assert!(valid_repo_name("baseos-9") && valid_repo_name("el9.x86_64"));
        for bad in ["", ".", "..", "a/b", "a b", "a\\b"] {
            assert!(!valid_repo_name(bad), "{bad}");
        }
        assert!(valid_package_path(
            "Packages/c/container-selinux-2.1-1.noarch.rpm"
        ));
        for bad in [
            "../x.rpm",
            "/abs.rpm",
            "Packages//x.rpm",
            "repodata/x.rpm",
            "Packages/./x.rpm",
            "x.txt",
            // A key file's name: `config dnf` would install it as a trusted key.
            "RPM-GPG-KEY-x.rpm",
        ] {
            assert!(!valid_package_path(bad), "{bad}");
        }
    }
}
