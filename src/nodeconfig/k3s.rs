//! k3s and RKE2 `registries.yaml` (the same format; k3s reads
//! `/etc/rancher/k3s/registries.yaml`, RKE2 `/etc/rancher/rke2/registries.yaml`), and the
//! `config.yaml` line that switches off their default-endpoint fallback.
//!
//! Format followed: the k3s/RKE2 "Private Registry Configuration" documentation: `mirrors:
//! <registry>: {endpoint: [URL…], rewrite: {regex: replacement}}` and `configs: <endpoint
//! host[:port]>: {tls: {ca_file: PATH}}`. The `configs` key is each MIRROR's host, the host
//! containerd connects to (k3s turns it into that endpoint's `ca` in containerd's
//! `hosts.toml`); a `configs` entry keyed by the upstream registry's name never reaches a
//! mirror endpoint.
//!
//! No `rewrite` is written: k3s/RKE2 run containerd, whose resolver asks a mirror endpoint
//! for the upstream path and always appends `?ns=<registry>` when the endpoint's host is not
//! the registry's own (`/v2/library/alpine/manifests/3?ns=docker.io`); the outpost server
//! answers exactly that path (`server::catalog::resolve_name`: `ns` first). A rewrite to
//! `<registry>/$1` would not be safer: containerd still appends `ns=`, so the mirror would be
//! asked for `<registry>/<registry>/<repo>`. Without `ns` (a client that does not send it)
//! the server still resolves the upstream path when only one registry of the site holds it.
//!
//! Limits (also in the README):
//! - The default-endpoint fallback (containerd tries the real registry after every mirror)
//!   is only switched off by `disable-default-registry-endpoint: true` in k3s/RKE2's
//!   `config.yaml`, available from the January 2024 releases (k3s v1.26.13+k3s1,
//!   v1.27.10+k3s1, v1.28.6+k3s1, v1.29.1+k3s1; RKE2 v1.26.13+rke2r1, v1.27.10+rke2r1,
//!   v1.28.6+rke2r1, v1.29.1+rke2r1). Older releases keep trying the internet last.
//! - RKE2 pulls its own system images (`rke2-runtime`, which carries containerd itself, and
//!   the control-plane images it starts before the cluster runs) before containerd is
//!   configured from this file: an air-gapped RKE2 node needs the release's airgap images
//!   tarball in `/var/lib/rancher/rke2/agent/images/` (k3s likewise needs
//!   `k3s-airgap-images-<arch>.tar*` in `/var/lib/rancher/k3s/agent/images/` for its
//!   bundled system images unless the bundle carries them).

use super::mirrors::SiteMirrors;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which Rancher distribution reads the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    K3s,
    Rke2,
}

impl Distribution {
    /// `k3s` or `rke2`: the command name and the directory under `/etc/rancher`.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::K3s => "k3s",
            Distribution::Rke2 => "rke2",
        }
    }

    /// `/etc/rancher/<name>/registries.yaml`.
    pub fn registries_path(self) -> String {
        format!("/etc/rancher/{}/registries.yaml", self.name())
    }

    /// `/etc/rancher/<name>/config.yaml.d/50-outpost-registries.yaml`: a drop-in both read
    /// after `config.yaml`.
    pub fn config_dropin_path(self) -> String {
        format!(
            "/etc/rancher/{}/config.yaml.d/50-outpost-registries.yaml",
            self.name()
        )
    }

    /// The first releases (one per minor) that accept `disable-default-registry-endpoint`.
    pub fn fallback_switch_releases(self) -> &'static str {
        match self {
            Distribution::K3s => "v1.26.13+k3s1, v1.27.10+k3s1, v1.28.6+k3s1, v1.29.1+k3s1",
            Distribution::Rke2 => {
                "v1.26.13+rke2r1, v1.27.10+rke2r1, v1.28.6+rke2r1, v1.29.1+rke2r1"
            }
        }
    }
}

#[derive(Serialize)]
struct RegistriesYaml {
    mirrors: BTreeMap<String, MirrorEntry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    configs: BTreeMap<String, ConfigEntry>,
}

#[derive(Serialize)]
struct MirrorEntry {
    endpoint: Vec<String>,
}

#[derive(Serialize)]
struct ConfigEntry {
    tls: Tls,
}

#[derive(Serialize)]
struct Tls {
    ca_file: String,
}

/// The text of `registries.yaml`: every registry of `site` mirrored to every mirror URL in
/// order, and, when `site.ca` is set, `configs.<mirror host:port>.tls.ca_file` for every
/// TLS mirror (`site.ca` is the CA's path on the nodes). Starts with a comment naming the
/// file and the writer.
pub fn registries_yaml(site: &SiteMirrors, distribution: Distribution) -> String {
    let endpoint: Vec<String> = site.mirrors.iter().map(|m| m.url().to_string()).collect();
    let mirrors = site
        .registries
        .iter()
        .map(|registry| {
            (
                registry.clone(),
                MirrorEntry {
                    endpoint: endpoint.clone(),
                },
            )
        })
        .collect();
    let configs = match &site.ca {
        Some(ca) => site
            .mirrors
            .iter()
            .filter(|m| m.is_tls())
            .map(|m| {
                (
                    m.host().to_string(),
                    ConfigEntry {
                        tls: Tls {
                            ca_file: ca.clone(),
                        },
                    },
                )
            })
            .collect(),
        None => BTreeMap::new(),
    };
    let body = serde_norway::to_string(&RegistriesYaml { mirrors, configs }).unwrap_or_default();
    format!(
        "# {path}, written by `outpost config {name}`: pull {registries} from the site mirrors only,\n\
         # in the order listed. Also set `disable-default-registry-endpoint: true` (see {dropin}).\n{body}",
        path = distribution.registries_path(),
        name = distribution.name(),
        registries = site.registries.join(", "),
        dropin = distribution.config_dropin_path(),
    )
}

/// The `config.yaml` snippet (a drop-in for `config.yaml.d/`) that stops containerd from
/// trying the real registry after the mirrors, with the release note in its comment.
pub fn config_snippet(distribution: Distribution) -> String {
    format!(
        "# {path}, written by `outpost config {name}`: never fall back to the real registries.\n\
         # Needs {name} {releases} or later (older releases refuse or ignore it and keep trying\n\
         # the internet after the mirrors).\n\
         disable-default-registry-endpoint: true\n",
        path = distribution.config_dropin_path(),
        name = distribution.name(),
        releases = distribution.fallback_switch_releases(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodeconfig::mirrors::Mirror;

    fn site(ca: Option<&str>) -> SiteMirrors {
        SiteMirrors {
            registries: vec!["docker.io".into(), "registry.k8s.io".into()],
            mirrors: vec![
                Mirror::parse("https://b.site:5000").unwrap(),
                Mirror::parse("https://a.site:5000").unwrap(),
                Mirror::parse("http://plain.site:5000").unwrap(),
            ],
            ca: ca.map(str::to_string),
        }
    }

    #[test]
    fn every_registry_lists_every_mirror_in_order_and_configs_are_keyed_by_mirror_host() {
        let text = registries_yaml(
            &site(Some("/etc/rancher/k3s/outpost-ca.crt")),
            Distribution::K3s,
        );
        assert!(
            text.starts_with("# /etc/rancher/k3s/registries.yaml, written by `outpost config k3s`"),
            "{text}"
        );
        let body = "mirrors:\n  \
              docker.io:\n    endpoint:\n    - https://b.site:5000\n    - https://a.site:5000\n    - http://plain.site:5000\n  \
              registry.k8s.io:\n    endpoint:\n    - https://b.site:5000\n    - https://a.site:5000\n    - http://plain.site:5000\n\
            configs:\n  \
              a.site:5000:\n    tls:\n      ca_file: /etc/rancher/k3s/outpost-ca.crt\n  \
              b.site:5000:\n    tls:\n      ca_file: /etc/rancher/k3s/outpost-ca.crt\n";
        assert!(text.ends_with(body), "{text}");
        assert!(!text.contains("rewrite"), "{text}");
        assert!(!text.contains("docker.io:\n    tls"), "{text}");
    }

    #[test]
    fn no_ca_no_configs() {
        let text = registries_yaml(&site(None), Distribution::Rke2);
        assert!(
            text.starts_with("# /etc/rancher/rke2/registries.yaml"),
            "{text}"
        );
        assert!(!text.contains("configs"), "{text}");
    }

    #[test]
    fn the_snippet_switches_the_fallback_off_with_its_release_note() {
        let text = config_snippet(Distribution::Rke2);
        assert!(
            text.ends_with("\ndisable-default-registry-endpoint: true\n"),
            "{text}"
        );
        assert!(text.contains("v1.26.13+rke2r1"), "{text}");
        assert!(
            text.starts_with("# /etc/rancher/rke2/config.yaml.d/50-outpost-registries.yaml"),
            "{text}"
        );
    }
}
