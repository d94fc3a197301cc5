//! `spec.packages.rpm`: RPM packages with their dependency closure, from an rpm-md
//! repository (`baseurl` + `gpgkey`) or from the host's `/etc/yum.repos.d` (`source:
//! system`). The model and its check; resolving is `crate::resolve::rpm`.

use serde::{Deserialize, Serialize};

/// One or several strings (`gpgkey: FILE` or `gpgkey: [FILE, URL]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one.clone()],
            OneOrMany::Many(many) => many.clone(),
        }
    }
}

/// RPM packages from one repository (or the host's repositories).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RpmSpec {
    /// The site repository they are served from (`/rpm/<name>/`); default: derived from
    /// the baseurl (`system` for `source: system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `system`: the host's `/etc/yum.repos.d/*.repo` (enabled repositories with a baseurl).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The repository's base URL (the directory holding `repodata/`); `$basearch` and
    /// `$releasever` are expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseurl: Option<String>,
    /// `$releasever` in `baseurl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub releasever: Option<String>,
    /// Packager keys (armored OpenPGP), files relative to the manifest or URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpgkey: Option<OneOrMany>,
    /// `name`, `name >= 1.2`, `name = 1:2.0-1`, a file (`/usr/bin/foo`) or a provide.
    pub packages: Vec<String>,
    /// RPM architectures (`x86_64`, `aarch64`); default: those of `spec.platforms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch: Vec<String>,
    /// Follow Recommends (dnf's `install_weak_deps`), default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub weakdeps: bool,
    /// Packages (or provides) the nodes already have: not carried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assume_installed: Vec<String>,
    /// Check each package's header signature against `gpgkey` (default true).
    #[serde(default = "yes")]
    pub gpgcheck: bool,
    /// Check `repodata/repomd.xml.asc` against `gpgkey` (default true).
    #[serde(default = "yes", alias = "repo_gpgcheck")]
    pub repo_gpgcheck: bool,
}

fn yes() -> bool {
    true
}

/// RPM architectures outpost resolves for.
pub const RPM_ARCHES: [&str; 4] = ["x86_64", "aarch64", "ppc64le", "s390x"];

/// The RPM architecture of a platform's architecture (`amd64` → `x86_64`).
pub fn rpm_arch(architecture: &str) -> Option<&'static str> {
    Some(match architecture {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        _ => return None,
    })
}

/// Checks every entry, and that no two baseurls would be served under one `/rpm/<name>/`;
/// the error is `(text to locate, message)`.
pub(super) fn check_entries<'a>(
    entries: impl Iterator<Item = &'a RpmSpec>,
) -> Result<(), (String, String)> {
    let mut names: std::collections::BTreeMap<String, &str> = Default::default();
    for entry in entries {
        entry.check()?;
        let Some(baseurl) = &entry.baseurl else {
            continue;
        };
        let name = entry.repo_name();
        match names.insert(name.clone(), baseurl) {
            Some(other) if other != baseurl.as_str() => {
                return Err((
                    baseurl.clone(),
                    format!("spec.packages.rpm: `{baseurl}` and `{other}` would both be served as /rpm/{name}/: give one of them another `name:`"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

impl RpmSpec {
    /// Checks the entry; the error is `(text to locate, message)`.
    fn check(&self) -> Result<(), (String, String)> {
        let needle = self
            .baseurl
            .clone()
            .or_else(|| self.source.clone())
            .unwrap_or_else(|| "rpm".into());
        let fail = |message: String| Err((needle.clone(), format!("spec.packages.rpm: {message}")));
        match (&self.source, &self.baseurl) {
            (Some(source), None) if source == "system" => {}
            (Some(source), None) => {
                return fail(format!(
                    "source `{source}` is not known: use `system` or give `baseurl:`"
                ))
            }
            (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {}
            (None, Some(url)) => return fail(format!("baseurl `{url}` is not an http(s) URL")),
            (Some(_), Some(_)) => {
                return fail("give `source: system` or `baseurl:`, not both".into())
            }
            (None, None) => {
                return fail("give `baseurl:` (with `gpgkey:`) or `source: system`".into())
            }
        }
        if let Some(name) = &self.name {
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return fail(format!("name `{name}` must use only letters, digits, `.`, `_`, `-` (it is a path at the site)"));
            }
        }
        // An entry with no packages is a repository the others' packages may need (dnf
        // solves over every repository); `source: system` must name some.
        if self.packages.is_empty() && self.baseurl.is_none() {
            return fail("`packages:` is empty: name at least one package".into());
        }
        for text in self.packages.iter().chain(&self.assume_installed) {
            crate::rpm::dep::Dep::parse(text)
                .map_err(|m| (text.clone(), format!("spec.packages.rpm: {m}")))?;
        }
        for arch in &self.arch {
            if !RPM_ARCHES.contains(&arch.as_str()) {
                return Err((
                    arch.clone(),
                    format!(
                        "spec.packages.rpm: arch `{arch}` is not one of {}",
                        RPM_ARCHES.join(", ")
                    ),
                ));
            }
        }
        let keys = self
            .gpgkey
            .as_ref()
            .map(OneOrMany::to_vec)
            .unwrap_or_default();
        if self.baseurl.is_some() && (self.gpgcheck || self.repo_gpgcheck) && keys.is_empty() {
            return fail("`gpgkey:` is needed to check signatures (or set `gpgcheck: false` and `repo_gpgcheck: false`, flagged in the lockfile)".into());
        }
        Ok(())
    }

    /// The site repository name: `name`, else `system`, else the baseurl's path segments
    /// without `$` variables, joined by `-`.
    pub fn repo_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let Some(url) = &self.baseurl else {
            return "system".into();
        };
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
        let path = rest.split_once('/').map(|(_, p)| p).unwrap_or(rest);
        let name: Vec<&str> = path
            .split('/')
            .filter(|s| !s.is_empty() && !s.contains('$'))
            .collect();
        let name = name.join("-");
        let name = crate::fsutil::path_safe(&name);
        if name.is_empty() {
            "rpm".into()
        } else {
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> RpmSpec {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn entries_are_checked_and_named() {
        let ok = spec("{baseurl: 'https://mirror.test/rocky/9/BaseOS/$basearch/os/', gpgkey: key.asc, packages: [container-selinux, 'iptables >= 1.8']}");
        assert!(ok.check().is_ok());
        assert!(ok.gpgcheck && ok.repo_gpgcheck);
        assert_eq!(ok.repo_name(), "rocky-9-BaseOS-os");
        let keys = spec(
            "{baseurl: 'https://m.test/r', gpgkey: [a.asc, 'https://m.test/k'], packages: [a]}",
        );
        assert_eq!(keys.gpgkey.unwrap().to_vec().len(), 2);
        let unsigned = spec(
            "{baseurl: 'https://m.test/r', packages: [a], gpgcheck: false, repo_gpgcheck: false}",
        );
        assert!(unsigned.check().is_ok());
        for bad in [
            "{baseurl: 'https://m.test/r', packages: [a]}",
            "{baseurl: 'ftp://m.test/r', gpgkey: k, packages: [a]}",
            "{source: system, baseurl: 'https://m.test/r', packages: [a]}",
            "{source: host, packages: [a]}",
            "{source: system, packages: []}",
            "{source: system, packages: ['a ~ 1']}",
            "{source: system, packages: [a], arch: [i386]}",
            "{source: system, name: 'a/b', packages: [a]}",
        ] {
            assert!(spec(bad).check().is_err(), "{bad}");
        }
        assert!(serde_norway::from_str::<RpmSpec>(
            "{source: system, packages: [a], weakdep: true}"
        )
        .is_err());
    }
}
