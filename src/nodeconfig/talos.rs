//! Talos machine-config patch: `machine.registries` pointing every registry at the site
//! mirrors, with no fallback to the real registry.
//!
//! Schema followed: Talos `v1alpha1` configuration reference, `machine.registries`:
//! `mirrors.<registry>.endpoints` (URLs, tried in order), `mirrors.<registry>.skipFallback`
//! (do not try the registry itself when every endpoint failed), and
//! `config.<endpoint host:port>.tls.ca` (the CA certificate, PEM, base64-encoded). Talos runs
//! containerd, which asks a mirror for the upstream path with `?ns=<registry>`; the outpost
//! server answers it (see `k3s`), so no `overridePath` is needed. Apply with
//! `talosctl patch machineconfig --patch @FILE` or `talosctl gen config --config-patch @FILE`.

use super::mirrors::SiteMirrors;
use base64::Engine as _;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Patch {
    machine: Machine,
}

#[derive(Serialize)]
struct Machine {
    registries: Registries,
}

#[derive(Serialize)]
struct Registries {
    mirrors: BTreeMap<String, MirrorEntry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    config: BTreeMap<String, ConfigEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MirrorEntry {
    endpoints: Vec<String>,
    skip_fallback: bool,
}

#[derive(Serialize)]
struct ConfigEntry {
    tls: Tls,
}

#[derive(Serialize)]
struct Tls {
    ca: String,
}

/// The patch for `site`: every registry mirrored to every mirror URL in order with
/// `skipFallback: true`, and, when `ca_pem` is given (the CA certificate's PEM bytes, which
/// Talos embeds: it has no CA path), `config.<mirror host:port>.tls.ca` for every TLS
/// mirror. `site.ca` (a path) is not used. Starts with a comment naming the writer.
pub fn machine_config_patch(site: &SiteMirrors, ca_pem: Option<&[u8]>) -> String {
    let endpoints: Vec<String> = site.mirrors.iter().map(|m| m.url().to_string()).collect();
    let mirrors = site
        .registries
        .iter()
        .map(|registry| {
            (
                registry.clone(),
                MirrorEntry {
                    endpoints: endpoints.clone(),
                    skip_fallback: true,
                },
            )
        })
        .collect();
    let config = match ca_pem {
        Some(pem) => {
            let ca = base64::engine::general_purpose::STANDARD.encode(pem);
            site.mirrors
                .iter()
                .filter(|m| m.is_tls())
                .map(|m| {
                    (
                        m.host().to_string(),
                        ConfigEntry {
                            tls: Tls { ca: ca.clone() },
                        },
                    )
                })
                .collect()
        }
        None => BTreeMap::new(),
    };
    let patch = Patch {
        machine: Machine {
            registries: Registries { mirrors, config },
        },
    };
    let body = serde_norway::to_string(&patch).unwrap_or_default();
    format!(
        "# Talos machine-config patch, written by `outpost config talos`: pull {} from the site\n\
         # mirrors only. Apply: talosctl patch machineconfig --nodes <node> --patch @<this file>\n{body}",
        site.registries.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodeconfig::mirrors::Mirror;

    #[test]
    fn every_registry_skips_the_fallback_and_tls_mirrors_carry_the_ca() {
        let site = SiteMirrors {
            registries: vec!["docker.io".into(), "quay.io".into()],
            mirrors: vec![
                Mirror::parse("https://b.site:5000").unwrap(),
                Mirror::parse("http://a.site:5000").unwrap(),
            ],
            ca: None,
        };
        let text = machine_config_patch(&site, Some(b"PEM"));
        assert!(text.starts_with("# Talos machine-config patch, written by `outpost config talos`"));
        let body = "machine:\n  registries:\n    mirrors:\n      \
              docker.io:\n        endpoints:\n        - https://b.site:5000\n        - http://a.site:5000\n        skipFallback: true\n      \
              quay.io:\n        endpoints:\n        - https://b.site:5000\n        - http://a.site:5000\n        skipFallback: true\n    \
            config:\n      b.site:5000:\n        tls:\n          ca: UEVN\n";
        assert!(text.ends_with(body), "{text}");
        assert!(!machine_config_patch(&site, None).contains("config:"));
    }
}
