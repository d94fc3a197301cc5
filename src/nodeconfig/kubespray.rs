//! kubespray offline variables (`group_vars/all/offline.yml`) pointing at the mirror: only
//! what the bundle can actually serve, so every URL written resolves, and kubespray's
//! `*_version` variables set to the versions of the files (and CNI images) the bundle holds,
//! each download checked against the bundle's own sha256, so kubespray never asks for its
//! default versions nor checks a download against their checksums.
//!
//! Versions are written the way the kubespray release in use writes them
//! (`roles/kubespray_defaults/defaults/main/download.yml`): 2.24 to 2.27 prefix some with `v`
//! (`kube_version: v1.31.2`, `runc_version: v1.1.14`) and not others
//! (`containerd_version: 1.7.22`), with bare hex checksums; 2.28 and later drop every `v`
//! and write checksums as `sha256:<hex>`.

use crate::digest::Digest;
use crate::file_plan::presets;
use std::collections::BTreeMap;

/// How a kubespray release writes versions and checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionFormat {
    /// kubespray 2.24 to 2.27: `v` on some versions, checksums as bare hex.
    Prefixed,
    /// kubespray 2.28 and later: no `v`, checksums as `sha256:<hex>`.
    Bare,
}

/// The oldest kubespray minor (2.x) whose variables outpost writes.
pub const OLDEST_MINOR: u32 = 24;
/// The first kubespray minor (2.x) that writes versions without `v`.
const BARE_FROM_MINOR: u32 = 28;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kubespray `{0}`: outpost writes variables for kubespray 2.24 and later (give a version such as 2.27 or v2.28.1)")]
pub struct UnsupportedRelease(pub String);

impl VersionFormat {
    /// The format of kubespray release `release` (`2.27`, `v2.28.1`).
    pub fn of_release(release: &str) -> Result<Self, UnsupportedRelease> {
        let unsupported = || UnsupportedRelease(release.to_string());
        let mut parts = release.trim_start_matches('v').split('.');
        let major = parts.next().and_then(|p| p.parse::<u32>().ok());
        let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
        if parts.any(|p| p.parse::<u32>().is_err()) {
            return Err(unsupported());
        }
        match (major, minor) {
            (Some(2), Some(minor)) if minor >= BARE_FROM_MINOR => Ok(VersionFormat::Bare),
            (Some(2), Some(minor)) if minor >= OLDEST_MINOR => Ok(VersionFormat::Prefixed),
            _ => Err(unsupported()),
        }
    }

    /// `version` (with or without `v`) as this format writes a variable that 2.24–2.27 prefix
    /// with `v` when `prefixed` holds.
    fn write(self, version: &str, prefixed: bool) -> String {
        let bare = version.trim_start_matches('v');
        match self {
            VersionFormat::Prefixed if prefixed => format!("v{bare}"),
            _ => bare.to_string(),
        }
    }

    /// A sha256 as kubespray's checksum variables hold it.
    fn checksum(self, digest: &Digest) -> String {
        match self {
            VersionFormat::Prefixed => digest.hex().to_string(),
            VersionFormat::Bare => digest.to_string(),
        }
    }
}

/// One downloadable component: its preset, and kubespray's variables for it.
struct Component {
    preset: &'static str,
    version: &'static str,
    /// Whether kubespray 2.24–2.27 write this version with a `v`.
    prefixed: bool,
    download_url: &'static str,
    checksum: &'static str,
}

/// kubespray's variables for each component preset (`data/components.yaml`).
const COMPONENTS: [Component; 7] = [
    Component {
        preset: "containerd",
        version: "containerd_version",
        prefixed: false,
        download_url: "containerd_download_url",
        checksum: "containerd_archive_checksum",
    },
    Component {
        preset: "runc",
        version: "runc_version",
        prefixed: true,
        download_url: "runc_download_url",
        checksum: "runc_binary_checksum",
    },
    Component {
        preset: "cni-plugins",
        version: "cni_version",
        prefixed: true,
        download_url: "cni_download_url",
        checksum: "cni_binary_checksum",
    },
    Component {
        preset: "crictl",
        version: "crictl_version",
        prefixed: true,
        download_url: "crictl_download_url",
        checksum: "crictl_binary_checksum",
    },
    Component {
        preset: "etcd",
        version: "etcd_version",
        prefixed: true,
        download_url: "etcd_download_url",
        checksum: "etcd_binary_checksum",
    },
    Component {
        preset: "nerdctl",
        version: "nerdctl_version",
        prefixed: false,
        download_url: "nerdctl_download_url",
        checksum: "nerdctl_archive_checksum",
    },
    Component {
        preset: "helm",
        version: "helm_version",
        prefixed: true,
        download_url: "helm_download_url",
        checksum: "helm_archive_checksum",
    },
];

/// The Kubernetes binaries on dl.k8s.io, and where they are.
const KUBERNETES_BINARIES: [&str; 3] = ["kubeadm", "kubelet", "kubectl"];
const KUBERNETES_TEMPLATE: &str = "dl.k8s.io/release/{version}/bin/{os}/{arch}/{binary}";

/// CNI images whose tag is a kubespray version variable (`<repository suffix>`, variable,
/// prefixed in 2.24–2.27).
const IMAGE_VERSIONS: [(&str, &str, bool); 2] = [
    ("/calico/node", "calico_version", true),
    ("/cilium/cilium", "cilium_version", true),
];

/// What the variables are written from: the mirror, and what one bundle holds.
pub struct OfflineInputs<'a> {
    /// `<mirror>/files`.
    pub files_url: &'a str,
    /// `host:port` of the mirror's registry.
    pub registry_host: &'a str,
    /// The Kubernetes version the bundle pins, if any (used when it carries no binaries).
    pub kubernetes_version: Option<&'a str>,
    /// Every file the bundle serves: mirror path and digest.
    pub files: &'a [(String, Digest)],
    /// Every image reference the bundle carries.
    pub images: &'a [String],
    pub format: VersionFormat,
}

/// A component's files in one version: digest per architecture.
type ByArch = BTreeMap<String, Digest>;

/// Numeric-aware order of versions (`1.7.9` < `1.7.22`), for choosing the newest carried.
fn version_key(version: &str) -> Vec<(u64, String)> {
    version
        .trim_start_matches('v')
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            (
                digits.parse().unwrap_or(0),
                part[digits.len()..].to_string(),
            )
        })
        .collect()
}

/// The newest version among `found` (version → digests by architecture).
fn newest(found: BTreeMap<String, ByArch>) -> Option<(String, ByArch)> {
    found
        .into_iter()
        .max_by(|(a, _), (b, _)| version_key(a).cmp(&version_key(b)))
}

/// The files matching `template` (without scheme) on Linux, by version and architecture.
fn carried(template: &str, files: &[(String, Digest)]) -> BTreeMap<String, ByArch> {
    let mut found: BTreeMap<String, ByArch> = BTreeMap::new();
    for (path, digest) in files {
        let Some(values) = match_template(template, path) else {
            continue;
        };
        if values.get("os").is_some_and(|os| os != "linux") {
            continue;
        }
        if let (Some(version), Some(arch)) = (values.get("version"), values.get("arch")) {
            found
                .entry(version.clone())
                .or_default()
                .insert(arch.clone(), digest.clone());
        }
    }
    found
}

/// `"{{ {'amd64': '…', 'arm64': '…'}[image_arch] }}"`: the bundle's checksum for the node's
/// architecture.
fn checksum_by_arch(format: VersionFormat, by_arch: &ByArch) -> String {
    let entries: Vec<String> = by_arch
        .iter()
        .map(|(arch, digest)| format!("'{arch}': '{}'", format.checksum(digest)))
        .collect();
    format!("\"{{{{ {{{}}}[image_arch] }}}}\"", entries.join(", "))
}

/// A preset URL as a kubespray variable: the host through `github_url` or `files_repo`, the
/// version through `{{ <version variable> }}`, the architecture through `{{ image_arch }}`.
fn download_url(preset_url: &str, variable: &str, written_with_v: bool) -> String {
    let template = preset_url
        .split_once("://")
        .map(|(_, t)| t)
        .unwrap_or(preset_url);
    let (host, rest) = template.split_once('/').unwrap_or((template, ""));
    let base = match host {
        "github.com" => "{{ github_url }}".to_string(),
        "get.helm.sh" => "{{ get_helm_url }}".to_string(),
        "dl.k8s.io" => "{{ dl_k8s_io_url }}".to_string(),
        _ => format!("{{{{ files_repo }}}}/{host}"),
    };
    let version = format!("{{{{ {variable} }}}}");
    let rest = if written_with_v {
        rest.replace("v{version}", &version).replace(
            "{version}",
            &format!("{{{{ {variable} | regex_replace('^v', '') }}}}"),
        )
    } else {
        rest.replace("{version}", &version)
    };
    format!(
        "{base}/{}",
        rest.replace("{os}", "linux")
            .replace("{arch}", "{{ image_arch }}")
    )
}

/// Matches `path` against a URL template without scheme; returns the placeholder values.
/// A placeholder matches one or more characters within a path segment, and the same
/// placeholder must take the same value everywhere (tried by backtracking).
pub fn match_template(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let template = template
        .split_once("://")
        .map(|(_, t)| t)
        .unwrap_or(template);
    let mut values = BTreeMap::new();
    match_from(template, path, &mut values).then_some(values)
}

fn match_from(template: &str, path: &str, values: &mut BTreeMap<String, String>) -> bool {
    let Some(start) = template.find('{') else {
        return template == path;
    };
    let (literal, rest) = template.split_at(start);
    let Some(path) = path.strip_prefix(literal) else {
        return false;
    };
    let Some(end) = rest.find('}') else {
        return false;
    };
    let name = &rest[1..end];
    let after = &rest[end + 1..];
    if let Some(known) = values.get(name).cloned() {
        return path
            .strip_prefix(known.as_str())
            .is_some_and(|p| match_from(after, p, values));
    }
    let segment_end = path.find('/').unwrap_or(path.len());
    for length in (1..=segment_end).filter(|l| path.is_char_boundary(*l)) {
        values.insert(name.to_string(), path[..length].to_string());
        if match_from(after, &path[length..], values) {
            return true;
        }
    }
    values.remove(name);
    false
}

/// The offline variables for a bundle's files and images.
pub fn offline_vars(inputs: &OfflineInputs) -> String {
    let format = inputs.format;
    let files_url = inputs.files_url.trim_end_matches('/');
    let hosts: std::collections::BTreeSet<&str> = inputs
        .files
        .iter()
        .filter_map(|(path, _)| path.split('/').next())
        .collect();
    let release = match format {
        VersionFormat::Prefixed => "kubespray 2.24 to 2.27",
        VersionFormat::Bare => "kubespray 2.28 and later",
    };
    let mut out = format!("# Written by `outpost config kubespray` for {release}: offline variables pointing at outpost.\n");
    out.push_str(&format!("files_repo: \"{files_url}\"\n"));
    for (host, variable) in [
        ("dl.k8s.io", "dl_k8s_io_url"),
        ("github.com", "github_url"),
        ("storage.googleapis.com", "storage_googleapis_url"),
        ("get.helm.sh", "get_helm_url"),
    ] {
        if hosts.contains(host) {
            out.push_str(&format!("{variable}: \"{{{{ files_repo }}}}/{host}\"\n"));
        }
    }
    out.push_str(&format!("registry_host: \"{}\"\n", inputs.registry_host));
    let registries: std::collections::BTreeSet<String> = inputs
        .images
        .iter()
        .filter_map(|image| crate::reference::parse(image).ok())
        .map(|reference| reference.registry().to_string())
        .collect();
    for (registry, variable) in [
        ("registry.k8s.io", "kube_image_repo"),
        ("gcr.io", "gcr_image_repo"),
        ("ghcr.io", "github_image_repo"),
        ("docker.io", "docker_image_repo"),
        ("quay.io", "quay_image_repo"),
    ] {
        if registries.contains(registry) {
            out.push_str(&format!(
                "{variable}: \"{{{{ registry_host }}}}/{registry}\"\n"
            ));
        }
    }
    out.push_str("# The versions the bundle carries; each download is checked against the bundle's sha256.\n");
    write_kubernetes(&mut out, inputs);
    let presets = presets();
    for component in &COMPONENTS {
        let Some(preset) = presets.get(component.preset) else {
            continue;
        };
        let template = preset
            .url
            .split_once("://")
            .map(|(_, t)| t)
            .unwrap_or(&preset.url);
        let Some((version, by_arch)) = newest(carried(template, inputs.files)) else {
            continue;
        };
        let written = format.write(&version, component.prefixed);
        out.push_str(&format!("{}: \"{written}\"\n", component.version));
        out.push_str(&format!(
            "{}: \"{}\"\n",
            component.download_url,
            download_url(&preset.url, component.version, written.starts_with('v'))
        ));
        out.push_str(&format!(
            "{}: {}\n",
            component.checksum,
            checksum_by_arch(format, &by_arch)
        ));
    }
    for (suffix, variable, prefixed) in IMAGE_VERSIONS {
        let tags: BTreeMap<String, ByArch> = inputs
            .images
            .iter()
            .filter_map(|image| crate::reference::parse(image).ok())
            .filter(|reference| format!("/{}", reference.repository()).ends_with(suffix))
            .filter_map(|reference| reference.tag().map(|t| (t.to_string(), ByArch::new())))
            .collect();
        if let Some((tag, _)) = newest(tags) {
            out.push_str(&format!(
                "{variable}: \"{}\"\n",
                format.write(&tag, prefixed)
            ));
        }
    }
    out
}

/// `kube_version` and the kubeadm, kubelet and kubectl downloads (with checksums) the bundle
/// carries; `kube_version` from the bundle's pin when it carries no binaries.
fn write_kubernetes(out: &mut String, inputs: &OfflineInputs) {
    let format = inputs.format;
    let mut binaries: Vec<(&str, String, ByArch)> = Vec::new();
    for binary in KUBERNETES_BINARIES {
        let template = KUBERNETES_TEMPLATE.replace("{binary}", binary);
        if let Some((version, by_arch)) = newest(carried(&template, inputs.files)) {
            binaries.push((binary, version, by_arch));
        }
    }
    let version = binaries
        .iter()
        .map(|(_, version, _)| version.as_str())
        .max_by_key(|version| version_key(version))
        .or(inputs.kubernetes_version);
    let Some(version) = version else {
        return;
    };
    let written = format.write(version, true);
    out.push_str(&format!("kube_version: \"{written}\"\n"));
    let release = if written.starts_with('v') {
        "{{ kube_version }}"
    } else {
        "v{{ kube_version }}"
    };
    for (binary, carried_version, by_arch) in &binaries {
        if carried_version.trim_start_matches('v') != version.trim_start_matches('v') {
            continue;
        }
        out.push_str(&format!(
            "{binary}_download_url: \"{{{{ dl_k8s_io_url }}}}/release/{release}/bin/linux/{{{{ image_arch }}}}/{binary}\"\n"
        ));
        out.push_str(&format!(
            "{binary}_binary_checksum: {}\n",
            checksum_by_arch(format, by_arch)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_paths() {
        let values = match_template(
            "https://github.com/containerd/containerd/releases/download/v{version}/containerd-{version}-{os}-{arch}.tar.gz",
            "github.com/containerd/containerd/releases/download/v1.7.22/containerd-1.7.22-linux-amd64.tar.gz",
        )
        .unwrap();
        assert_eq!(values["version"], "1.7.22");
        assert_eq!(values["arch"], "amd64");
        assert!(match_template("https://x/v{version}/a-{version}", "x/v1/a-2").is_none());
        let cni = match_template(
            "https://github.com/containernetworking/plugins/releases/download/v{version}/cni-plugins-{os}-{arch}-v{version}.tgz",
            "github.com/containernetworking/plugins/releases/download/v1.5.1/cni-plugins-linux-arm64-v1.5.1.tgz",
        )
        .unwrap();
        assert_eq!(
            (cni["version"].as_str(), cni["arch"].as_str()),
            ("1.5.1", "arm64")
        );
        assert!(match_template("https://x/{version}/a", "y/1/a").is_none());
        assert!(match_template("https://x/v{version}/a", "x/vé/a").is_some());
    }

    fn digest(seed: &str) -> Digest {
        Digest::of(seed.as_bytes())
    }

    fn inputs<'a>(
        files: &'a [(String, Digest)],
        images: &'a [String],
        format: VersionFormat,
    ) -> OfflineInputs<'a> {
        OfflineInputs {
            files_url: "http://m:5000/files",
            registry_host: "m:5000",
            kubernetes_version: Some("v1.31.2"),
            files,
            images,
            format,
        }
    }

    #[test]
    fn only_what_the_bundle_serves_is_written() {
        let files = vec![
            (
                "dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet".to_string(),
                digest("kubelet"),
            ),
            (
                "github.com/opencontainers/runc/releases/download/v1.1.14/runc.amd64".to_string(),
                digest("runc"),
            ),
        ];
        let images = vec!["registry.k8s.io/pause:3.10".to_string()];
        let text = offline_vars(&inputs(&files, &images, VersionFormat::Bare));
        assert!(text.contains("dl_k8s_io_url: \"{{ files_repo }}/dl.k8s.io\"\n"));
        assert!(text.contains("kube_image_repo: \"{{ registry_host }}/registry.k8s.io\"\n"));
        assert!(text.contains("kubelet_download_url:"));
        assert!(!text.contains("kubeadm_download_url"));
        assert!(text.contains("runc_version: \"1.1.14\"\nrunc_download_url: \"{{ github_url }}/opencontainers/runc/releases/download/v{{ runc_version }}/runc.{{ image_arch }}\"\n"), "{text}");
        assert!(!text.contains("docker_image_repo"));
        assert!(!text.contains("get_helm_url"));
        assert!(!text.contains("containerd_version"));
    }

    #[test]
    fn kubespray_releases_choose_the_version_format() {
        for (release, format) in [
            ("2.24", VersionFormat::Prefixed),
            ("v2.27.1", VersionFormat::Prefixed),
            ("2.28", VersionFormat::Bare),
            ("v2.31.0", VersionFormat::Bare),
        ] {
            assert_eq!(VersionFormat::of_release(release), Ok(format), "{release}");
        }
        for release in ["2.23", "3.0", "two", "2", "2.28.x"] {
            assert_eq!(
                VersionFormat::of_release(release),
                Err(UnsupportedRelease(release.to_string())),
                "{release}"
            );
        }
    }

    #[test]
    fn versions_and_checksums_follow_the_release_format() {
        let files = vec![
            (
                "dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubeadm".to_string(),
                digest("kubeadm-amd64"),
            ),
            (
                "dl.k8s.io/release/v1.31.2/bin/linux/arm64/kubeadm".to_string(),
                digest("kubeadm-arm64"),
            ),
            (
                "github.com/containerd/containerd/releases/download/v1.7.22/containerd-1.7.22-linux-amd64.tar.gz".to_string(),
                digest("containerd"),
            ),
            (
                "github.com/containernetworking/plugins/releases/download/v1.5.1/cni-plugins-linux-amd64-v1.5.1.tgz".to_string(),
                digest("cni"),
            ),
        ];
        let images = vec!["quay.io/calico/node:v3.28.0".to_string()];
        let amd64 = digest("kubeadm-amd64").hex().to_string();
        let arm64 = digest("kubeadm-arm64").hex().to_string();

        let old = offline_vars(&inputs(&files, &images, VersionFormat::Prefixed));
        assert!(old.contains("\nkube_version: \"v1.31.2\"\nkubeadm_download_url: \"{{ dl_k8s_io_url }}/release/{{ kube_version }}/bin/linux/{{ image_arch }}/kubeadm\"\n"), "{old}");
        assert!(old.contains(&format!("\nkubeadm_binary_checksum: \"{{{{ {{'amd64': '{amd64}', 'arm64': '{arm64}'}}[image_arch] }}}}\"\n")), "{old}");
        assert!(old.contains("\ncontainerd_version: \"1.7.22\"\ncontainerd_download_url: \"{{ github_url }}/containerd/containerd/releases/download/v{{ containerd_version }}/containerd-{{ containerd_version }}-linux-{{ image_arch }}.tar.gz\"\n"), "{old}");
        assert!(old.contains("\ncni_version: \"v1.5.1\"\ncni_download_url: \"{{ github_url }}/containernetworking/plugins/releases/download/{{ cni_version }}/cni-plugins-linux-{{ image_arch }}-{{ cni_version }}.tgz\"\n"), "{old}");
        assert!(old.contains("\ncalico_version: \"v3.28.0\"\n"), "{old}");

        let new = offline_vars(&inputs(&files, &images, VersionFormat::Bare));
        assert!(new.contains("\nkube_version: \"1.31.2\"\nkubeadm_download_url: \"{{ dl_k8s_io_url }}/release/v{{ kube_version }}/bin/linux/{{ image_arch }}/kubeadm\"\n"), "{new}");
        assert!(new.contains(&format!("'amd64': 'sha256:{amd64}'")), "{new}");
        assert!(new.contains("\ncni_version: \"1.5.1\"\ncni_download_url: \"{{ github_url }}/containernetworking/plugins/releases/download/v{{ cni_version }}/cni-plugins-linux-{{ image_arch }}-v{{ cni_version }}.tgz\"\n"), "{new}");
        assert!(new.contains("\ncalico_version: \"3.28.0\"\n"), "{new}");
    }

    #[test]
    fn the_newest_carried_version_wins() {
        let files = vec![
            (
                "github.com/opencontainers/runc/releases/download/v1.1.9/runc.amd64".to_string(),
                digest("old"),
            ),
            (
                "github.com/opencontainers/runc/releases/download/v1.1.14/runc.amd64".to_string(),
                digest("new"),
            ),
        ];
        let text = offline_vars(&inputs(&files, &[], VersionFormat::Bare));
        assert!(text.contains("runc_version: \"1.1.14\"\n"), "{text}");
        assert!(text.contains(&digest("new").hex().to_string()), "{text}");
    }
}
