//! dnf/yum on the nodes: the RPM repositories a bundle carries (`rpm/<repo>/` with its
//! `RPM-GPG-KEY-*` files, see [`crate::bundle::rpmrepo`]) and the `.repo` file (dnf.conf(5)
//! repository sections) that points dnf at the mirror's copy: `baseurl`, `gpgcheck=1` (the
//! packagers' keys check each package's header signature), `repo_gpgcheck=1` (the bundle's
//! key checks `repomd.xml.asc`), `gpgkey=` the keys as the mirror serves them. Listing reads
//! the bundle's signed index only; rendering is pure text.

use crate::bundle::open::OpenBundle;
use crate::rpm::repodata::BUNDLE_KEY;
use std::path::PathBuf;

/// One RPM repository of a bundle and the key files it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnfRepository {
    /// Nodes reach it under `<mirror>/rpm/<repo>/`.
    pub repo: String,
    /// Key file names below the repository: the packager keys (`RPM-GPG-KEY-<FINGERPRINT>`,
    /// sorted), then the bundle's key ([`BUNDLE_KEY`]).
    pub keys: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DnfConfigError {
    #[error("{bundle} carries no RPM packages (its manifest has no spec.packages.rpm)")]
    NoRepository { bundle: PathBuf },
    #[error("{bundle}: repository {repo} has no {BUNDLE_KEY}, so dnf could not check its metadata; build the bundle again with this outpost")]
    KeyMissing { bundle: PathBuf, repo: String },
}

/// The repository and key file a mirror path names (`rpm/<repo>/RPM-GPG-KEY-…`).
fn key_path(path: &str) -> Option<(&str, &str)> {
    let (repo, file) = path.strip_prefix("rpm/")?.split_once('/')?;
    (!repo.is_empty() && file.starts_with("RPM-GPG-KEY-") && !file.contains('/'))
        .then_some((repo, file))
}

/// Every RPM repository of `bundle` with its key files, in name order.
///
/// Errors: `NoRepository` when it has none, `KeyMissing` when one lacks the bundle key.
pub fn repositories(bundle: &OpenBundle) -> Result<Vec<DnfRepository>, DnfConfigError> {
    let mut repos: Vec<DnfRepository> = Vec::new();
    let mut paths: Vec<&str> = bundle.files.iter().map(|f| f.path.as_str()).collect();
    paths.sort();
    for path in paths {
        let Some((repo, file)) = key_path(path) else {
            continue;
        };
        match repos.iter_mut().find(|r| r.repo == repo) {
            Some(found) => found.keys.push(file.to_string()),
            None => repos.push(DnfRepository {
                repo: repo.to_string(),
                keys: vec![file.to_string()],
            }),
        }
    }
    if repos.is_empty() {
        return Err(DnfConfigError::NoRepository {
            bundle: bundle.path.clone(),
        });
    }
    for repo in &mut repos {
        let Some(at) = repo.keys.iter().position(|k| k == BUNDLE_KEY) else {
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
/// `[outpost-<repo>]` each, named after `release`.
pub fn repo_file(mirror: &str, release: &str, repos: &[DnfRepository]) -> String {
    let mirror = mirror.trim_end_matches('/');
    let mut text = String::new();
    for repo in repos {
        let base = format!("{mirror}/rpm/{}/", repo.repo);
        let keys: Vec<String> = repo.keys.iter().map(|k| format!("{base}{k}")).collect();
        text.push_str(&format!(
            "[outpost-{name}]\nname=outpost {release}: {name}\nbaseurl={base}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey={}\nskip_if_unavailable=0\n\n",
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
        let repos = vec![
            DnfRepository {
                repo: "baseos".into(),
                keys: vec!["RPM-GPG-KEY-0123ABCD".into(), BUNDLE_KEY.into()],
            },
            DnfRepository {
                repo: "extras".into(),
                keys: vec![BUNDLE_KEY.into()],
            },
        ];
        insta::assert_snapshot!(repo_file("https://mirror.site:5000/", "edge 1", &repos));
    }
}
