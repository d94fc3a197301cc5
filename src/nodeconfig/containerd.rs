//! containerd `hosts.toml` files (`/etc/containerd/certs.d/<registry>/hosts.toml`).
//!
//! Each upstream registry gets a file whose only host is the mirror (pull + resolve), and
//! whose `server` (the entry containerd tries after every host) is the mirror too, with the
//! same trust settings: a tag the bundle does not hold ends in the mirror's own "not found",
//! never in a TLS error from an entry without the CA, and a node never falls back to the
//! internet. Only [`Fallback::Upstream`] (opt-in) names the real registry as `server`.

/// What containerd tries after the mirror's `[host]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The mirror again, with its CA: the site stays closed.
    Mirror,
    /// The real upstream registry (its public certificate), for sites that may reach it.
    Upstream,
}

/// Where containerd reaches `registry` itself: `https://<registry>`, and Docker Hub's API
/// host for `docker.io`, as containerd's own default.
fn upstream_server(registry: &str) -> String {
    if registry == "docker.io" {
        "https://registry-1.docker.io".to_string()
    } else {
        format!("https://{registry}")
    }
}

/// The text of `certs.d/<registry>/hosts.toml` for one upstream registry. `ca` is the CA
/// file (its path on the nodes) that signs the mirror's certificate: it is set on every entry
/// that is the mirror, the top-level `server` entry included (containerd reads that entry's
/// `ca` from the top level of the file, not from the `[host]` tables).
pub fn hosts_toml(registry: &str, mirror: &str, ca: Option<&str>, fallback: Fallback) -> String {
    let mirror = mirror.trim_end_matches('/');
    let ca_line = |indent: &str| {
        ca.map(|ca| format!("{indent}ca = \"{ca}\"\n"))
            .unwrap_or_default()
    };
    let mut text = match fallback {
        Fallback::Mirror => format!(
            "# Written by `outpost config containerd`: pull {registry} images from the site mirror only.\n\
             server = \"{mirror}\"\n\
             capabilities = [\"pull\", \"resolve\"]\n{}",
            ca_line("")
        ),
        Fallback::Upstream => format!(
            "# Written by `outpost config containerd --allow-upstream`: pull {registry} images from the site mirror, then from {registry} itself.\n\
             server = \"{}\"\n",
            upstream_server(registry)
        ),
    };
    text.push_str(&format!(
        "\n[host.\"{mirror}\"]\n  capabilities = [\"pull\", \"resolve\"]\n{}",
        ca_line("  ")
    ));
    text
}

/// The line to set in containerd's config so it reads the hosts files.
pub fn config_path_hint(dir: &str) -> String {
    format!(
        "Set in /etc/containerd/config.toml (containerd 1.x):\n  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n    config_path = \"{dir}\"\n\
         or (containerd 2.x):\n  [plugins.\"io.containerd.cri.v1.images\".registry]\n    config_path = \"{dir}\"\n\
         then `systemctl restart containerd`. For ctr: `ctr images pull --hosts-dir {dir} <image>`."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "/etc/containerd/certs.d/outpost-ca.crt";

    #[test]
    fn every_entry_is_the_mirror_with_its_ca() {
        assert_eq!(
            hosts_toml(
                "docker.io",
                "https://mirror.site:5000/",
                Some(CA),
                Fallback::Mirror
            ),
            "# Written by `outpost config containerd`: pull docker.io images from the site mirror only.\n\
             server = \"https://mirror.site:5000\"\n\
             capabilities = [\"pull\", \"resolve\"]\n\
             ca = \"/etc/containerd/certs.d/outpost-ca.crt\"\n\
             \n\
             [host.\"https://mirror.site:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"/etc/containerd/certs.d/outpost-ca.crt\"\n"
        );
    }

    #[test]
    fn plain_http_mirrors_have_no_ca() {
        let text = hosts_toml("r.test", "http://m:5000", None, Fallback::Mirror);
        assert!(!text.contains("ca ="), "{text}");
        assert!(text.contains("server = \"http://m:5000\"\n"), "{text}");
    }

    #[test]
    fn only_the_opt_in_names_the_upstream() {
        let text = hosts_toml("docker.io", "https://m:5000", Some(CA), Fallback::Upstream);
        assert_eq!(
            text,
            "# Written by `outpost config containerd --allow-upstream`: pull docker.io images from the site mirror, then from docker.io itself.\n\
             server = \"https://registry-1.docker.io\"\n\
             \n\
             [host.\"https://m:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"/etc/containerd/certs.d/outpost-ca.crt\"\n"
        );
        assert!(
            hosts_toml("quay.io", "https://m:5000", None, Fallback::Upstream)
                .contains("server = \"https://quay.io\"\n")
        );
    }
}
