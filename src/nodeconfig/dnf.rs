//! dnf/yum on the nodes: the RPM repositories a bundle carries (`rpm/<repo>/` with its
//! `RPM-GPG-KEY-*` files, see [`crate::bundle::rpmrepo`]) and the `.repo` file (dnf.conf(5)
//! repository sections) that points dnf at the mirror's copy: `baseurl`, `gpgcheck=1` (the
//! packagers' keys check each package's header signature), `repo_gpgcheck=1` (the bundle's
//! key checks `repomd.xml.asc`), `gpgkey=` the key files as taken from the bundle and
//! installed on the node (`file://`), so the mirror cannot swap them, as apt's `Signed-By`.
//! Reading a key checks its digest against the bundle; rendering is pure text.

use crate::bundle::open::OpenBundle;
use crate::rpm::repodata::BUNDLE_KEY;
use std::path::PathBuf;

/// One RPM repository of a bundle and its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnfRepository {
    /// Nodes reach it under `<mirror>/rpm/<repo>/`.
    pub repo: String,
    /// Its keys: the packager keys (`RPM-GPG-KEY-<FINGERPRINT>`, sorted), then the
    /// bundle's key ([`BUNDLE_KEY`]).
    pub keys: Vec<RepositoryKeyFile>,
    /// False when the manifest said `gpgcheck: false` for it (its packages were never
    /// signature-checked): the `.repo` file then says `gpgcheck=0`, and the metadata is
    /// still checked with the bundle's key.
    pub gpgcheck: bool,
}

/// One key of a repository: its file name in the repository and its armored bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryKeyFile {
    pub name: String,
    pub armored: Vec<u8>,
}

impl DnfRepository {
    /// The key files' names on the nodes: the packager keys keep their name (the same key
    /// is one file for every repository), the bundle key is `RPM-GPG-KEY-outpost-<repo>`.
    pub fn node_key_names(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| node_key_name(&self.repo, &k.name))
            .collect()
    }
}

/// The name on the nodes of key file `name` of repository `repo`.
pub fn node_key_name(repo: &str, name: &str) -> String {
    if name == BUNDLE_KEY {
        format!("{BUNDLE_KEY}-{repo}")
    } else {
        name.to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DnfConfigError {
    #[error("{bundle} carries no RPM packages (its manifest has no spec.packages.rpm)")]
    NoRepository { bundle: PathBuf },
    #[error("{bundle}: repository {repo} has no {BUNDLE_KEY}, so dnf could not check its metadata; build the bundle again with this outpost")]
    KeyMissing { bundle: PathBuf, repo: String },
    #[error("{bundle}: key {path}: {message}; run `outpost bundle verify`")]
    KeyDamaged {
        bundle: PathBuf,
        path: String,
        message: String,
    },
}

/// The repository and key file a mirror path names (`rpm/<repo>/RPM-GPG-KEY-…`).
fn key_path(path: &str) -> Option<(&str, &str)> {
    let (repo, file) = path.strip_prefix("rpm/")?.split_once('/')?;
    (!repo.is_empty()
        && file.starts_with(crate::bundle::rpmrepo::KEY_FILE_PREFIX)
        && !file.ends_with(".rpm")
        && !file.contains('/'))
    .then_some((repo, file))
}

/// Every RPM repository of `bundle` with its key files, in name order.
///
/// Errors: `NoRepository` when it has none, `KeyMissing` when one lacks the bundle key.
pub fn repositories(bundle: &OpenBundle) -> Result<Vec<DnfRepository>, DnfConfigError> {
    let mut repos: Vec<DnfRepository> = Vec::new();
    let mut files: Vec<_> = bundle.files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for file in files {
        let Some((repo, name)) = key_path(&file.path) else {
            continue;
        };
        let damaged = |message: String| DnfConfigError::KeyDamaged {
            bundle: bundle.path.clone(),
            path: file.path.clone(),
            message,
        };
        let location = bundle
            .blobs
            .get(&file.digest)
            .copied()
            .ok_or_else(|| damaged("not in the bundle".into()))?;
        let armored = bundle
            .backing
            .read_verified(&file.digest, location)
            .map_err(damaged)?;
        let key = RepositoryKeyFile {
            name: name.to_string(),
            armored,
        };
        match repos.iter_mut().find(|r| r.repo == repo) {
            Some(found) => found.keys.push(key),
            None => repos.push(DnfRepository {
                repo: repo.to_string(),
                keys: vec![key],
                gpgcheck: true,
            }),
        }
    }
    if repos.is_empty() {
        return Err(DnfConfigError::NoRepository {
            bundle: bundle.path.clone(),
        });
    }
    // The lockfile the bundle carries says which repositories had their checks off.
    let lock = crate::bundle::upstream::carried_lockfile(bundle)
        .ok()
        .flatten();
    for repo in &mut repos {
        if let Some(lock) = &lock {
            repo.gpgcheck = lock
                .rpm_repos
                .iter()
                .filter(|r| r.name == repo.repo)
                .all(|r| r.gpgcheck)
                && lock
                    .rpms
                    .iter()
                    .filter(|p| p.repo == repo.repo)
                    .all(|p| p.gpgcheck);
        }
        let Some(at) = repo.keys.iter().position(|k| k.name == BUNDLE_KEY) else {
            return Err(DnfConfigError::KeyMissing {
                bundle: bundle.path.clone(),
                repo: repo.repo.clone(),
            });
        };
        let bundle_key = repo.keys.remove(at);
        repo.keys.push(bundle_key);
    }
    Ok(repos)
}

/// The `.repo` file for `repos` on `mirror` (`http(s)://host[:port]`): one section
/// `[outpost-<repo>]` each, named after `release`, its `gpgkey=` the key files in
/// `key_dir` on the nodes (see [`DnfRepository::node_key_names`]).
pub fn repo_file(mirror: &str, release: &str, key_dir: &str, repos: &[DnfRepository]) -> String {
    let mirror = mirror.trim_end_matches('/');
    let key_dir = key_dir.trim_end_matches('/');
    let mut text = String::new();
    for repo in repos {
        let base = format!("{mirror}/rpm/{}/", repo.repo);
        let keys: Vec<String> = repo
            .node_key_names()
            .iter()
            .map(|k| format!("file://{key_dir}/{k}"))
            .collect();
        let gpgcheck = if repo.gpgcheck {
            "gpgcheck=1"
        } else {
            "# the manifest said gpgcheck: false: these packages' signatures were never checked\ngpgcheck=0"
        };
        text.push_str(&format!(
            "[outpost-{name}]\nname=outpost {release}: {name}\nbaseurl={base}\nenabled=1\n{gpgcheck}\nrepo_gpgcheck=1\ngpgkey={}\nskip_if_unavailable=0\n\n",
            keys.join(" "),
            name = repo.repo,
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_name_their_repository() {
        assert_eq!(
            key_path("rpm/baseos/RPM-GPG-KEY-outpost"),
            Some(("baseos", "RPM-GPG-KEY-outpost"))
        );
        assert_eq!(key_path("rpm/baseos/Packages/RPM-GPG-KEY-x"), None);
        assert_eq!(key_path("rpm//RPM-GPG-KEY-x"), None);
        assert_eq!(key_path("apt/x/RPM-GPG-KEY-x"), None);
        assert_eq!(key_path("rpm/baseos/repodata/repomd.xml"), None);
    }

    #[test]
    fn the_repo_file_checks_packages_and_metadata() {
        let key = |name: &str| RepositoryKeyFile {
            name: name.into(),
            armored: Vec::new(),
        };
        let repos = vec![
            DnfRepository {
                repo: "baseos".into(),
                keys: vec![key("RPM-GPG-KEY-0123ABCD"), key(BUNDLE_KEY)],
                gpgcheck: true,
            },
            DnfRepository {
                repo: "extras".into(),
                keys: vec![key(BUNDLE_KEY)],
                gpgcheck: false,
            },
        ];
        insta::assert_snapshot!(repo_file(
            "https://mirror.site:5000/",
            "edge 1",
            "/etc/pki/rpm-gpg/",
            &repos
        ));
    }
}
