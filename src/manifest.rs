//! The release manifest (`manifests/*.yaml`): model, parsing with line/column errors, validation.
//!
//! Pure: it reads text and returns a validated [`Release`]. Resolving what the manifest names
//! is `resolve`'s job; pinning it is the lockfile's.

use crate::digest::Digest;
use crate::platform::Platform;
use crate::upstream::endpoint::check_repository_prefix;
pub use crate::upstream::endpoint::{parse_upstream, Upstream};
pub use charts::{default_repository_name, ChartImages, ChartSource, ChartSpec, ChartVerify};
pub use referrers::{ReferrerClass, ReferrerRule, ReferrersSpec};
pub use rpm::{rpm_arch, OneOrMany, RpmSpec};
use signing::{check_file_signature, check_image_policy};
pub use signing::{ImagePolicySpec, KeylessSpec, SignatureSpec, VerifySpec};

mod charts;
mod referrers;
mod rpm;
mod signing;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const API_VERSION: &str = "outpost/v1alpha1";
pub const KIND: &str = "Release";

/// A release manifest as written, after validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Release {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
    /// The directory the manifest was read from (key paths are relative to it).
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Platforms every image must be carried for (default `linux/amd64`).
    #[serde(default = "default_platforms")]
    pub platforms: Vec<String>,
    /// Image references, by tag or by digest.
    #[serde(default)]
    pub images: Vec<String>,
    /// Platform-less OCI artifacts listed on their own (a Helm chart, a vulnerability
    /// database, a policy bundle), by tag or by digest: pinned whole, with no platform
    /// selection (a reference that turns out to be a runnable image is pinned as one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
    /// Registry or file host → base URL (`http://127.0.0.1:5000`), for loopback upstreams
    /// and internal proxies; a path is a file host's base path
    /// (`https://artifactory.corp/artifactory/api/generic/dl-k8s/`) or a registry's
    /// repository prefix (`https://harbor.corp/dockerhub-proxy`).
    #[serde(default)]
    pub upstreams: BTreeMap<String, String>,
    /// A Kubernetes release: its binaries, and optionally kubeadm's control-plane images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesSpec>,
    /// Node components by preset name and version (`containerd: 1.7.22`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, String>,
    /// Any other files, by URL template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSpec>,
    /// OS packages with their dependency closure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<PackagesSpec>,
    /// Who must have signed the images: the first policy whose `match` glob matches an
    /// image's full reference applies; images no policy matches are not checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<ImagePolicySpec>,
    /// Which referrers of each image (signatures, attestations, SBOMs) travel with it
    /// (default: signatures and attestations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrers: Option<ReferrersSpec>,
    /// Helm charts, from chart repositories and OCI registries, with the images they deploy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<ChartSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagesSpec {
    #[serde(default)]
    pub apt: Vec<AptSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rpm: Vec<RpmSpec>,
}

/// Debian packages from one source: the host's own apt sources, or an explicit archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AptSpec {
    /// `system`: the host's apt sources (`/etc/apt/sources.list`, `sources.list.d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Archive keyring (binary `.gpg` or armored `.asc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring: Option<String>,
    /// Accept an unsigned or badly signed source (not recommended).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trusted: bool,
    /// `name`, `name=version` or `name (>= version)`.
    pub packages: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recommends: bool,
    /// Packages assumed present on the nodes (default: Priority required and Essential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_installed: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSpec {
    /// `v1.31.2`, or a marker such as `stable-1.31` or `stable`.
    pub version: String,
    #[serde(default = "default_binaries")]
    pub binaries: Vec<String>,
    /// Also carry the control-plane images kubeadm pulls for this version.
    #[serde(default)]
    pub images: bool,
    /// Check each binary's keyless signature (`<binary>.sig`, `<binary>.cert`) by the
    /// Kubernetes release team: refused at validation until the Rekor entries those need are
    /// looked up (a bare signature and certificate prove nothing about when it was made).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verify: bool,
}

fn default_binaries() -> Vec<String> {
    crate::kubernetes::DEFAULT_BINARIES
        .iter()
        .map(|b| b.to_string())
        .collect()
}

/// A file by URL; `{version}`, `{os}` and `{arch}` are expanded per platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<ChecksumSpec>,
    /// Accept the file without an upstream checksum (pinned by what was downloaded).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// The file's upstream signature; with `verify`, it stands in for a checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureSpec>,
    /// Who must have signed the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
}

/// Where a file's checksum comes from: a checksum file URL (`{url}` is the file's URL) or an
/// inline digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksumSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha512: Option<String>,
}

fn default_platforms() -> Vec<String> {
    vec!["linux/amd64".to_string()]
}

/// What is wrong with a manifest, with where it is.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    InvalidNoLocation { path: PathBuf, message: String },
}

impl Release {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut release = Self::parse(path, &text)?;
        release.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(release)
    }

    /// Parses and validates manifest text; `path` only labels errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ManifestError> {
        let release: Release = serde_norway::from_str(text).map_err(|err| {
            let message = strip_location(&err.to_string());
            match err.location() {
                Some(loc) => ManifestError::Invalid {
                    path: path.to_path_buf(),
                    line: loc.line(),
                    column: loc.column(),
                    message,
                },
                None => ManifestError::InvalidNoLocation {
                    path: path.to_path_buf(),
                    message,
                },
            }
        })?;
        release.validate(path, text)?;
        Ok(release)
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), ManifestError> {
        let fail = |needle: &str, message: String| match locate(text, needle) {
            Some((line, column)) => ManifestError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message,
            },
            None => ManifestError::InvalidNoLocation {
                path: path.to_path_buf(),
                message,
            },
        };
        if self.api_version != API_VERSION {
            return Err(fail(
                &self.api_version,
                format!(
                    "apiVersion `{}` is not supported: use `{API_VERSION}`",
                    self.api_version
                ),
            ));
        }
        if self.kind != KIND {
            return Err(fail(
                &self.kind,
                format!("kind `{}` is not supported: use `{KIND}`", self.kind),
            ));
        }
        for (field, value) in [
            ("name", &self.metadata.name),
            ("version", &self.metadata.version),
        ] {
            let ok = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
            if !ok {
                return Err(fail(
                    value,
                    format!("metadata.{field} `{value}` must be non-empty and use only letters, digits, `.`, `_`, `-`, `+` (it names the bundle file)"),
                ));
            }
        }
        if self.spec.kubernetes.as_ref().is_some_and(|k| k.verify) {
            return Err(fail(
                "verify",
                "kubernetes.verify: dl.k8s.io publishes a bare `.sig` and `.cert` beside each binary, without the transparency-log entry that proves when it was signed, and outpost does not look such entries up in Rekor yet; leave it off (each binary is pinned by dl.k8s.io's .sha256)".into(),
            ));
        }
        if self.spec.platforms.is_empty() {
            return Err(fail(
                "platforms",
                "spec.platforms is empty: name at least one, e.g. linux/amd64".into(),
            ));
        }
        for platform in &self.spec.platforms {
            platform
                .parse::<Platform>()
                .map_err(|e| fail(platform, format!("spec.platforms: {e}")))?;
        }
        for image in &self.spec.images {
            crate::reference::parse(image)
                .map_err(|message| fail(image, format!("spec.images: {message}")))?;
        }
        for artifact in &self.spec.artifacts {
            crate::reference::parse(artifact)
                .map_err(|message| fail(artifact, format!("spec.artifacts: {message}")))?;
        }
        for file in &self.spec.files {
            check_file_signature(file).map_err(|message| {
                fail(&file.url, format!("spec.files: `{}`: {message}", file.url))
            })?;
        }
        for policy in &self.spec.verify {
            check_image_policy(policy).map_err(|message| {
                fail(
                    &policy.pattern,
                    format!("spec.verify: `{}`: {message}", policy.pattern),
                )
            })?;
        }
        if let Some(referrers) = &self.spec.referrers {
            referrers
                .check()
                .map_err(|(pattern, message): (String, String)| fail(&pattern, message))?;
        }
        let mut repositories: BTreeMap<String, &str> = BTreeMap::new();
        for chart in &self.spec.charts {
            chart
                .check()
                .map_err(|(needle, message)| fail(&needle, message))?;
            if let (Some(name), Some(repo)) = (chart.site_repository(), chart.repo.as_deref()) {
                match repositories.get(&name) {
                    Some(other) if other.trim_end_matches('/') != repo.trim_end_matches('/') => {
                        return Err(fail(repo, format!("spec.charts: `{repo}` and `{other}` would both be served as /charts/{name}/: give one of them `repoName:`")));
                    }
                    _ => {
                        repositories.insert(name, repo);
                    }
                }
            }
        }
        rpm::check_entries(self.spec.packages.iter().flat_map(|p| &p.rpm))
            .map_err(|(needle, message)| fail(&needle, message))?;
        for (host, url) in &self.spec.upstreams {
            let upstream = parse_upstream(url)
                .map_err(|message| fail(url, format!("spec.upstreams.{host}: {message}")))?;
            if self.registry_hosts().contains(host.as_str()) {
                check_repository_prefix(&upstream.path).map_err(|message| {
                    fail(url, format!("spec.upstreams.{host}: `{url}`: {message}"))
                })?;
            }
        }
        Ok(())
    }

    /// The registry hosts `spec.images` and `spec.artifacts` name (whose upstream path is a
    /// repository prefix).
    fn registry_hosts(&self) -> std::collections::BTreeSet<String> {
        self.references()
            .filter_map(|image| crate::reference::parse(image).ok())
            .map(|reference| reference.registry().to_string())
            .collect()
    }

    /// Every registry reference the manifest names itself: `spec.images`, then
    /// `spec.artifacts`.
    pub fn references(&self) -> impl Iterator<Item = &String> {
        self.spec.images.iter().chain(&self.spec.artifacts)
    }

    /// Platforms, parsed (validated at load).
    pub fn platforms(&self) -> Vec<Platform> {
        self.spec
            .platforms
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// Upstream overrides, parsed (validated at load).
    pub fn upstreams(&self) -> BTreeMap<String, Upstream> {
        self.spec
            .upstreams
            .iter()
            .filter_map(|(host, url)| {
                // Host names are case-insensitive; references are looked up lower-cased.
                parse_upstream(url)
                    .ok()
                    .map(|u| (host.to_ascii_lowercase(), u))
            })
            .collect()
    }

    /// The digest the lockfile records: sha256 of the manifest's canonical JSON form, so
    /// comments and formatting do not make a lockfile stale but any change of meaning does.
    pub fn canonical_digest(&self) -> Digest {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        Digest::of(&canonical)
    }

    /// The bundle's base file name: `NAME-VERSION`.
    pub fn bundle_stem(&self) -> String {
        format!("{}-{}", self.metadata.name, self.metadata.version)
    }
}

/// serde_norway appends " at line L column C" to messages; we print the location first.
pub(crate) fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// 1-based line and column of the first occurrence of `needle` in `text`.
pub(crate) fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    if needle.is_empty() {
        return None;
    }
    let offset = text.find(needle)?;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const GOOD: &str = "apiVersion: outpost/v1alpha1
kind: Release
metadata: {name: edge, version: \"1.0\"}
spec:
  platforms: [linux/amd64, linux/arm64]
  images:
    - registry.test/library/alpha:1
    - alpine
  upstreams: {registry.test: \"http://127.0.0.1:5000\"}
";

    pub(crate) fn parse(text: &str) -> Result<Release, ManifestError> {
        Release::parse(Path::new("m.yaml"), text)
    }

    #[test]
    fn parses_a_good_manifest() {
        let release = parse(GOOD).unwrap();
        assert_eq!(release.bundle_stem(), "edge-1.0");
        assert_eq!(release.platforms().len(), 2);
        assert_eq!(
            release.upstreams()["registry.test"],
            Upstream {
                authority: "127.0.0.1:5000".into(),
                plain_http: true,
                path: String::new(),
            }
        );
    }

    #[test]
    fn a_bad_upstream_path_is_located() {
        let text = GOOD.replace("http://127.0.0.1:5000", "http://127.0.0.1:5000/a/../b");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("m.yaml:9:31: spec.upstreams.registry.test: `http://127.0.0.1:5000/a/../b`: the path must be plain segments"),
            "{err}"
        );
        // A registry's path is a repository prefix: lowercase path components only.
        let text = GOOD.replace(
            "http://127.0.0.1:5000",
            "http://127.0.0.1:5000/Docker_-Proxy",
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("m.yaml:9:31: spec.upstreams.registry.test: `http://127.0.0.1:5000/Docker_-Proxy`: a registry's path is a repository prefix"),
            "{err}"
        );
        // The same path is fine for a file host (no image names it).
        let text = format!("{}  kubernetes: {{version: v1.31.2}}\n", GOOD.replace(
            "upstreams: {registry.test: \"http://127.0.0.1:5000\"}",
            "upstreams: {registry.test: \"http://127.0.0.1:5000\", dl.k8s.io: \"https://a.corp/Generic/dl-k8s/\"}",
        ));
        parse(&text).unwrap();
    }

    #[test]
    fn a_typo_is_reported_with_line_and_column() {
        let text = GOOD.replace("  images:", "  imagez:");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("m.yaml:6:3: spec: unknown field `imagez`"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_platform_is_located() {
        let text = GOOD.replace("linux/arm64", "linux-arm64");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("m.yaml:5:28: spec.platforms: `linux-arm64` is not a platform"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_image_and_upstream_are_located() {
        let err = parse(&GOOD.replace("alpine", "Alpine!"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.yaml:8:7: spec.images: `Alpine!`"),
            "{err}"
        );
        let err = parse(&GOOD.replace("http://127", "ftp://127"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must start with http:// or https://"), "{err}");
    }

    #[test]
    fn artifacts_are_listed_and_located() {
        let text = GOOD.replace(
            "  upstreams:",
            "  artifacts: [registry.test/charts/app:1.2.0]\n  upstreams:",
        );
        let release = parse(&text).unwrap();
        assert_eq!(release.spec.artifacts, ["registry.test/charts/app:1.2.0"]);
        assert_eq!(release.references().count(), 3);
        // No `artifacts` field: the canonical form (and so every lockfile) is unchanged.
        assert!(
            !String::from_utf8(serde_json::to_vec(&parse(GOOD).unwrap()).unwrap())
                .unwrap()
                .contains("artifacts")
        );
        let err = parse(&text.replace("charts/app:1.2.0", "Charts!"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.yaml:9:15: spec.artifacts: `registry.test/Charts!`"),
            "{err}"
        );
        let err = parse(&text.replace("artifacts:", "artefacts:"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.yaml:9:3: spec: unknown field `artefacts`"),
            "{err}"
        );
    }

    #[test]
    fn canonical_digest_ignores_formatting_but_not_meaning() {
        let a = parse(GOOD).unwrap().canonical_digest();
        let b = parse(&format!("# a comment\n{GOOD}"))
            .unwrap()
            .canonical_digest();
        let c = parse(&GOOD.replace("alpha:1", "alpha:2"))
            .unwrap()
            .canonical_digest();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn signed_files_need_a_signature_and_a_policy_in_one_form() {
        let entry =
            |extra: &str| format!("{GOOD}  files:\n    - url: https://files.test/tool\n{extra}");
        let ok = entry("      signature: {bundle: \"{url}.sigstore.json\"}\n      verify: {keyless: {issuer: \"https://i.test\", identity: me@x.test}}\n");
        parse(&ok).unwrap();
        let typo = entry("      signature: {bundel: x}\n      verify: {key: k.pub}\n");
        let err = parse(&typo).unwrap_err().to_string();
        assert!(
            err.starts_with("m.yaml:12:19: spec.files[0].signature: unknown field `bundel`"),
            "{err}"
        );
        let alone = entry("      signature: {sig: \"{url}.sig\"}\n");
        let err = parse(&alone).unwrap_err().to_string();
        assert!(err.contains("`signature` needs `verify:"), "{err}");
        // Keyless needs the log entry a Sigstore bundle carries: a bare signature and
        // certificate prove nothing about when the signature was made.
        let bare = entry("      signature: {sig: \"{url}.sig\", cert: \"{url}.cert\"}\n      verify: {keyless: {issuer: \"https://i.test\", identity: me}}\n");
        let err = parse(&bare).unwrap_err().to_string();
        assert!(
            err.contains("a keyless signature needs its transparency-log entry"),
            "{err}"
        );
        let bad_regexp = entry("      signature: {bundle: \"{url}.sigstore.json\"}\n      verify: {keyless: {issuer: \"https://i.test\", identityRegexp: \"(\"}}\n");
        let err = parse(&bad_regexp).unwrap_err().to_string();
        assert!(
            err.contains("`identityRegexp` is not a valid regular expression"),
            "{err}"
        );
    }
}
