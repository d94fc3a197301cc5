//! Docker Engine `daemon.json` (`/etc/docker/daemon.json`): `registry-mirrors` for Docker Hub.
//!
//! Schema followed: dockerd(8) / "daemon configuration file": `registry-mirrors` (URLs,
//! tried in order) and `insecure-registries` (`host:port` reached over plain HTTP). JSON has
//! no comments, so the notes go to the terminal ([`limits`]).
//!
//! Limits, said plainly: Docker mirrors Docker Hub (`docker.io`) only; images of any other
//! registry are pulled from that registry itself, which in an air gap fails. Pull them by
//! their site name instead (`<mirror host:port>/<registry>/<repo>:<tag>`, which the outpost
//! server serves). Docker also falls back to Docker Hub when every mirror failed; no setting
//! switches that off. Docker asks a mirror for `/v2/<repo>` without the registry: the outpost
//! server finds the Docker Hub image when no other registry of the site holds the same path.

use super::mirrors::SiteMirrors;

/// The text of `daemon.json` for `site`: `registry-mirrors` lists every mirror in order, and
/// `insecure-registries` the `http://` ones. Merge it into an existing `daemon.json` by hand.
pub fn daemon_json(site: &SiteMirrors) -> String {
    let mirrors: Vec<&str> = site.mirrors.iter().map(|m| m.url()).collect();
    let insecure: Vec<&str> = site
        .mirrors
        .iter()
        .filter(|m| !m.is_tls())
        .map(|m| m.host())
        .collect();
    let mut value = serde_json::json!({ "registry-mirrors": mirrors });
    if !insecure.is_empty() {
        value["insecure-registries"] = serde_json::json!(insecure);
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Where each TLS mirror's CA goes on a Docker host: `/etc/docker/certs.d/<host:port>/ca.crt`.
pub fn ca_paths(site: &SiteMirrors) -> Vec<String> {
    site.ca_paths("/etc/docker/certs.d")
}

/// The notes to print with `daemon.json`: what Docker mirrors and what it does not, and how
/// to pull the other registries' images from the site.
pub fn limits(site: &SiteMirrors) -> String {
    let first = site.mirrors.first().map_or("", |m| m.host());
    let mut text = String::from(
        "Docker mirrors Docker Hub (docker.io) only, and falls back to Docker Hub when every mirror fails.\n",
    );
    let others: Vec<&str> = site
        .registries
        .iter()
        .map(String::as_str)
        .filter(|r| *r != "docker.io")
        .collect();
    if !others.is_empty() {
        text.push_str(&format!(
            "Not mirrored for Docker: {}. Pull those images by their site name, e.g. `docker pull {first}/{}/<repo>:<tag>`.\n",
            others.join(", "),
            others[0]
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodeconfig::mirrors::Mirror;

    fn site() -> SiteMirrors {
        SiteMirrors {
            registries: vec!["docker.io".into(), "registry.k8s.io".into()],
            mirrors: vec![
                Mirror::parse("https://a.site:5000").unwrap(),
                Mirror::parse("http://b.site:5000").unwrap(),
            ],
            ca: None,
        }
    }

    #[test]
    fn mirrors_in_order_and_plain_http_ones_insecure() {
        assert_eq!(
            daemon_json(&site()),
            "{\n  \"registry-mirrors\": [\n    \"https://a.site:5000\",\n    \"http://b.site:5000\"\n  ],\n  \"insecure-registries\": [\n    \"b.site:5000\"\n  ]\n}\n"
        );
        assert_eq!(
            ca_paths(&site()),
            ["/etc/docker/certs.d/a.site:5000/ca.crt"]
        );
    }

    #[test]
    fn the_limits_name_the_registries_docker_cannot_mirror() {
        let text = limits(&site());
        assert!(text.contains("Docker Hub (docker.io) only"), "{text}");
        assert!(
            text.contains("Not mirrored for Docker: registry.k8s.io."),
            "{text}"
        );
        assert!(
            text.contains("docker pull a.site:5000/registry.k8s.io/<repo>:<tag>"),
            "{text}"
        );
        let hub_only = SiteMirrors {
            registries: vec!["docker.io".into()],
            ..site()
        };
        assert!(!limits(&hub_only).contains("Not mirrored"));
    }
}
