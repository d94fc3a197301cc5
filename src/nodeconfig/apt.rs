//! apt on the nodes: the repositories a bundle carries, each with its signing key, and the
//! deb822 sources entry that points apt at the mirror's copy of one. Reading a key checks its
//! digest against the bundle; rendering the entry is pure text. Writing files is the
//! caller's job.

use crate::bundle::aptrepo;
use crate::bundle::open::OpenBundle;
use std::path::PathBuf;

/// One apt repository of a bundle and the public key its metadata is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryKey {
    /// The repository name: nodes reach it under `<mirror>/apt/<repo>`.
    pub repo: String,
    /// The key as nodes need it for `Signed-By` (binary OpenPGP keyring).
    pub keyring: Vec<u8>,
}

impl RepositoryKey {
    /// The key file's name on the nodes (`outpost-<repo>.gpg`).
    pub fn file_name(&self) -> String {
        key_file_name(&self.repo)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AptConfigError {
    #[error("{bundle} carries no Debian packages (its manifest has no spec.packages)")]
    NoRepository { bundle: PathBuf },
    #[error("the key of {repo} is missing from the bundle")]
    KeyMissing { repo: String },
    #[error("{bundle}: the apt key of {repo}: {message}; run `outpost bundle verify`")]
    KeyDamaged {
        bundle: PathBuf,
        repo: String,
        message: String,
    },
}

/// The repository a mirror path of a bundle's key file names (`apt/<repo>/outpost-apt.gpg`).
fn key_repository(path: &str) -> Option<&str> {
    path.strip_prefix("apt/")?
        .strip_suffix(aptrepo::KEYRING)?
        .strip_suffix('/')
        .filter(|repo| !repo.is_empty())
}

/// Every apt repository of `bundle` with its key, read and checked against its digest.
pub fn repository_keys(bundle: &OpenBundle) -> Result<Vec<RepositoryKey>, AptConfigError> {
    let mut keys = Vec::new();
    for file in &bundle.files {
        let Some(repo) = key_repository(&file.path) else {
            continue;
        };
        let location =
            bundle
                .blobs
                .get(&file.digest)
                .copied()
                .ok_or_else(|| AptConfigError::KeyMissing {
                    repo: repo.to_string(),
                })?;
        let keyring = bundle
            .backing
            .read_verified(&file.digest, location)
            .map_err(|message| AptConfigError::KeyDamaged {
                bundle: bundle.path.clone(),
                repo: repo.to_string(),
                message,
            })?;
        keys.push(RepositoryKey {
            repo: repo.to_string(),
            keyring,
        });
    }
    if keys.is_empty() {
        return Err(AptConfigError::NoRepository {
            bundle: bundle.path.clone(),
        });
    }
    Ok(keys)
}

/// The key file's name on the nodes for repository `repo`.
pub fn key_file_name(repo: &str) -> String {
    format!("outpost-{repo}.gpg")
}

/// A deb822 sources entry (ending in a blank line) for repository `repo` on `mirror`
/// (`http(s)://host:port`), trusted through the key file in `key_dir` on the nodes.
pub fn sources_entry(mirror: &str, repo: &str, key_dir: &str) -> String {
    format!(
        "Types: deb\nURIs: {}/apt/{repo}\nSuites: {}\nComponents: {}\nSigned-By: {}/{}\n\n",
        mirror.trim_end_matches('/'),
        aptrepo::SUITE,
        aptrepo::COMPONENT,
        key_dir.trim_end_matches('/'),
        key_file_name(repo)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_name_their_repository() {
        assert_eq!(key_repository("apt/edge/outpost-apt.gpg"), Some("edge"));
        assert_eq!(key_repository("apt/outpost-apt.gpg"), None);
        assert_eq!(key_repository("apt//outpost-apt.gpg"), None);
        assert_eq!(key_repository("dl.k8s.io/apt/x/outpost-apt.gpg"), None);
        assert_eq!(key_repository("apt/edge/Release"), None);
    }

    #[test]
    fn the_sources_entry_is_deb822_with_signed_by() {
        assert_eq!(
            sources_entry("https://mirror.site:5000/", "edge", "/etc/apt/keyrings/"),
            "Types: deb\nURIs: https://mirror.site:5000/apt/edge\nSuites: outpost\nComponents: main\nSigned-By: /etc/apt/keyrings/outpost-edge.gpg\n\n"
        );
    }
}
