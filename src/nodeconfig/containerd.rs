//! containerd `hosts.toml` files (`/etc/containerd/certs.d/<registry>/hosts.toml`).
//!
//! Each upstream registry gets a file whose only host is the mirror (pull + resolve), and
//! whose `server` is the mirror too, so a node never falls back to the internet.

/// The text of `certs.d/<registry>/hosts.toml` for one upstream registry.
pub fn hosts_toml(registry: &str, mirror: &str, ca: Option<&str>) -> String {
    let mirror = mirror.trim_end_matches('/');
    let mut text = format!(
        "# Written by `outpost config containerd`: pull {registry} images from the site mirror only.\n\
         server = \"{mirror}\"\n\n[host.\"{mirror}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
    );
    if let Some(ca) = ca {
        text.push_str(&format!("  ca = \"{ca}\"\n"));
    }
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

    #[test]
    fn hosts_file_names_the_mirror_as_only_host_and_server() {
        let text = hosts_toml(
            "docker.io",
            "https://mirror.site:5000/",
            Some("/etc/containerd/certs.d/outpost-ca.crt"),
        );
        assert_eq!(
            text,
            "# Written by `outpost config containerd`: pull docker.io images from the site mirror only.\n\
             server = \"https://mirror.site:5000\"\n\n[host.\"https://mirror.site:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"/etc/containerd/certs.d/outpost-ca.crt\"\n"
        );
    }
}
