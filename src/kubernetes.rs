//! Kubernetes release knowledge: version markers, binary URLs on dl.k8s.io, and the
//! control-plane image set kubeadm uses per minor version (from `data/kubernetes.yaml`).
//! Pure: nothing here touches the network.

use serde::Deserialize;
use std::collections::BTreeMap;

const TABLE: &str = include_str!("data/kubernetes.yaml");
/// Where Kubernetes publishes binaries and release markers.
pub const DL_HOST: &str = "https://dl.k8s.io";
/// The binaries a node set needs when the manifest does not say.
pub const DEFAULT_BINARIES: [&str; 3] = ["kubeadm", "kubelet", "kubectl"];

#[derive(Debug, Deserialize)]
struct Table {
    repository: String,
    components: Vec<String>,
    minors: BTreeMap<String, Vec<Row>>,
}

#[derive(Debug, Clone, Deserialize)]
struct Row {
    from: u32,
    pause: String,
    etcd: String,
    coredns: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubernetesError {
    #[error("`{0}` is not a Kubernetes version: write an exact version such as v1.31.2 or a marker such as stable-1.31 or stable")]
    BadVersion(String),
    #[error("Kubernetes {version}: control-plane images are known for minors {supported}; list the images under spec.images instead of `images: true`")]
    UnsupportedMinor { version: String, supported: String },
}

fn table() -> Table {
    // The table is compiled in and checked by a unit test; an empty one only disables images.
    serde_norway::from_str(TABLE).unwrap_or(Table {
        repository: String::new(),
        components: Vec::new(),
        minors: BTreeMap::new(),
    })
}

/// Whether `version` is a release marker (`stable`, `stable-1.31`, `latest`, `latest-1.31`)
/// to be resolved through `release/<marker>.txt`.
pub fn is_marker(version: &str) -> bool {
    let (name, minor) = match version.split_once('-') {
        Some((name, minor)) => (name, Some(minor)),
        None => (version, None),
    };
    matches!(name, "stable" | "latest")
        && minor.is_none_or(|m| {
            let parts: Vec<&str> = m.split('.').collect();
            parts.len() == 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// `v1.31.2` (or `v1.31.0-rc.1`) → (1, 31, 2).
pub fn parse_exact(version: &str) -> Result<(u32, u32, u32), KubernetesError> {
    let bad = || KubernetesError::BadVersion(version.to_string());
    let rest = version.strip_prefix('v').ok_or_else(bad)?;
    let core = rest.split(['-', '+']).next().unwrap_or_default();
    let numbers: Vec<u32> = core
        .split('.')
        .map(|p| p.parse::<u32>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    match numbers.as_slice() {
        [major, minor, patch] => Ok((*major, *minor, *patch)),
        _ => Err(bad()),
    }
}

/// Validates the manifest's `kubernetes.version` (exact or marker).
pub fn validate_version(version: &str) -> Result<(), KubernetesError> {
    if is_marker(version) {
        Ok(())
    } else {
        parse_exact(version).map(|_| ())
    }
}

/// The URL of a release marker file.
pub fn marker_url(marker: &str) -> String {
    format!("{DL_HOST}/release/{marker}.txt")
}

/// The URL of a Kubernetes binary.
pub fn binary_url(version: &str, os: &str, arch: &str, binary: &str) -> String {
    format!("{DL_HOST}/release/{version}/bin/{os}/{arch}/{binary}")
}

/// Reads a marker file's content: the version it names (`v1.31.2`).
pub fn parse_marker(content: &str) -> Result<String, KubernetesError> {
    let version = content.trim();
    parse_exact(version)?;
    Ok(version.to_string())
}

/// The images `kubeadm init` pulls for an exact version.
pub fn control_plane_images(version: &str) -> Result<Vec<String>, KubernetesError> {
    let (major, minor, patch) = parse_exact(version)?;
    let table = table();
    let key = format!("{major}.{minor}");
    let unsupported = || KubernetesError::UnsupportedMinor {
        version: version.to_string(),
        supported: table.minors.keys().cloned().collect::<Vec<_>>().join(", "),
    };
    let rows = table.minors.get(&key).ok_or_else(unsupported)?;
    let row = rows
        .iter()
        .filter(|r| r.from <= patch)
        .max_by_key(|r| r.from)
        .ok_or_else(unsupported)?;
    let repo = &table.repository;
    let mut images: Vec<String> = table
        .components
        .iter()
        .map(|component| format!("{repo}/{component}:{version}"))
        .collect();
    images.push(format!("{repo}/pause:{}", row.pause));
    images.push(format!("{repo}/etcd:{}", row.etcd));
    images.push(format!("{repo}/coredns/coredns:{}", row.coredns));
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_1_29_to_1_34() {
        let table = table();
        for minor in 29..=34 {
            assert!(
                table.minors.contains_key(&format!("1.{minor}")),
                "1.{minor} missing"
            );
        }
        assert_eq!(table.repository, "registry.k8s.io");
    }

    #[test]
    fn images_follow_kubeadm_per_patch() {
        assert_eq!(
            control_plane_images("v1.31.2").unwrap(),
            vec![
                "registry.k8s.io/kube-apiserver:v1.31.2",
                "registry.k8s.io/kube-controller-manager:v1.31.2",
                "registry.k8s.io/kube-scheduler:v1.31.2",
                "registry.k8s.io/kube-proxy:v1.31.2",
                "registry.k8s.io/pause:3.10",
                "registry.k8s.io/etcd:3.5.15-0",
                "registry.k8s.io/coredns/coredns:v1.11.3",
            ]
        );
        assert!(control_plane_images("v1.31.0")
            .unwrap()
            .contains(&"registry.k8s.io/coredns/coredns:v1.11.1".to_string()));
        assert!(control_plane_images("v1.29.10")
            .unwrap()
            .contains(&"registry.k8s.io/etcd:3.5.15-0".to_string()));
        assert!(control_plane_images("v1.34.1")
            .unwrap()
            .contains(&"registry.k8s.io/pause:3.10.1".to_string()));
        assert!(matches!(
            control_plane_images("v1.20.0"),
            Err(KubernetesError::UnsupportedMinor { .. })
        ));
    }

    #[test]
    fn versions_and_markers() {
        assert!(is_marker("stable"));
        assert!(is_marker("stable-1.31"));
        assert!(is_marker("latest-1.30"));
        assert!(!is_marker("stable-1"));
        assert!(!is_marker("v1.31.2"));
        assert_eq!(parse_exact("v1.31.2"), Ok((1, 31, 2)));
        assert_eq!(parse_exact("v1.31.0-rc.1"), Ok((1, 31, 0)));
        assert!(parse_exact("1.31.2").is_err());
        assert!(validate_version("stable-1.31").is_ok());
        assert!(validate_version("banana").is_err());
        assert_eq!(parse_marker("v1.31.2\n"), Ok("v1.31.2".into()));
        assert_eq!(
            binary_url("v1.31.2", "linux", "arm64", "kubelet"),
            "https://dl.k8s.io/release/v1.31.2/bin/linux/arm64/kubelet"
        );
    }
}
