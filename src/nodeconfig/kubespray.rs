//! kubespray offline variables (`group_vars/all/offline.yml`) pointing at the mirror: only
//! what the bundle can actually serve, so every URL written resolves.

use crate::file_plan::presets;
use std::collections::BTreeMap;

/// kubespray's variable for each component preset's download URL.
const DOWNLOAD_VARIABLES: [(&str, &str); 5] = [
    ("containerd", "containerd_download_url"),
    ("runc", "runc_download_url"),
    ("cni-plugins", "cni_download_url"),
    ("crictl", "crictl_download_url"),
    ("etcd", "etcd_download_url"),
];

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

/// The offline variables for a bundle's files and registries.
pub fn offline_vars(
    files_url: &str,
    registry_host: &str,
    kubernetes_version: Option<&str>,
    file_paths: &[String],
    registries: &[String],
) -> String {
    let files_url = files_url.trim_end_matches('/');
    let hosts: std::collections::BTreeSet<&str> = file_paths
        .iter()
        .filter_map(|p| p.split('/').next())
        .collect();
    let mut out = String::from("# Written by `outpost config kubespray`: kubespray offline variables pointing at outpost.\n");
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
    out.push_str(&format!("registry_host: \"{registry_host}\"\n"));
    for (registry, variable) in [
        ("registry.k8s.io", "kube_image_repo"),
        ("gcr.io", "gcr_image_repo"),
        ("ghcr.io", "github_image_repo"),
        ("docker.io", "docker_image_repo"),
        ("quay.io", "quay_image_repo"),
    ] {
        if registries.iter().any(|r| r == registry) {
            out.push_str(&format!(
                "{variable}: \"{{{{ registry_host }}}}/{registry}\"\n"
            ));
        }
    }
    if let Some(version) = kubernetes_version {
        out.push_str(&format!("kube_version: \"{version}\"\n"));
        for binary in ["kubeadm", "kubelet", "kubectl"] {
            let wanted = format!("dl.k8s.io/release/{version}/bin/linux/");
            if file_paths
                .iter()
                .any(|p| p.starts_with(&wanted) && p.ends_with(&format!("/{binary}")))
            {
                out.push_str(&format!(
                    "{binary}_download_url: \"{{{{ dl_k8s_io_url }}}}/release/{{{{ kube_version }}}}/bin/linux/{{{{ image_arch }}}}/{binary}\"\n"
                ));
            }
        }
    }
    let presets = presets();
    for (component, variable) in DOWNLOAD_VARIABLES {
        let Some(preset) = presets.get(component) else {
            continue;
        };
        let found = file_paths
            .iter()
            .find_map(|p| match_template(&preset.url, p));
        if let Some(values) = found {
            let version = values.get("version").cloned().unwrap_or_default();
            let template = preset
                .url
                .split_once("://")
                .map(|(_, t)| t)
                .unwrap_or(&preset.url);
            let (host, rest) = template.split_once('/').unwrap_or((template, ""));
            let base = if host == "github.com" {
                "{{ github_url }}".to_string()
            } else {
                format!("{{{{ files_repo }}}}/{host}")
            };
            let url = format!("{base}/{rest}")
                .replace("{version}", &version)
                .replace("{os}", "linux")
                .replace("{arch}", "{{ image_arch }}");
            out.push_str(&format!("{variable}: \"{url}\"\n"));
        }
    }
    out
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

    #[test]
    fn only_what_the_bundle_serves_is_written() {
        let files = vec![
            "dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet".to_string(),
            "github.com/opencontainers/runc/releases/download/v1.1.14/runc.amd64".to_string(),
        ];
        let text = offline_vars(
            "http://m:5000/files",
            "m:5000",
            Some("v1.31.2"),
            &files,
            &["registry.k8s.io".into()],
        );
        assert!(text.contains("dl_k8s_io_url: \"{{ files_repo }}/dl.k8s.io\"\n"));
        assert!(text.contains("kube_image_repo: \"{{ registry_host }}/registry.k8s.io\"\n"));
        assert!(text.contains("kubelet_download_url:"));
        assert!(!text.contains("kubeadm_download_url"));
        assert!(text.contains("runc_download_url: \"{{ github_url }}/opencontainers/runc/releases/download/v1.1.14/runc.{{ image_arch }}\"\n"), "{text}");
        assert!(!text.contains("docker_image_repo"));
        assert!(!text.contains("get_helm_url"));
    }
}
