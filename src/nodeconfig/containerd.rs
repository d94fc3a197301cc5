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

/// The text of `certs.d/<registry>/hosts.toml` for one upstream registry: one `[host]`
/// entry per mirror, in the order given (containerd tries them in turn, so a lost mirror is
/// skipped). `ca` is the CA file (its path on the nodes) that signs the mirrors'
/// certificates: it is set on every entry that is a TLS mirror, the top-level `server` entry
/// included (containerd reads that entry's `ca` from the top level of the file, not from
/// the `[host]` tables), which is the first mirror.
pub fn hosts_toml(
    registry: &str,
    mirrors: &[super::mirrors::Mirror],
    ca: Option<&str>,
    fallback: Fallback,
) -> String {
    use super::mirrors::toml_string;
    // The CA goes on TLS mirrors only (a plain-http entry has no certificate to check).
    let ca_line = |indent: &str, tls: bool| match ca {
        Some(ca) if tls => format!("{indent}ca = {}\n", toml_string(ca)),
        _ => String::new(),
    };
    let first = mirrors.first();
    let mut text = match fallback {
        Fallback::Mirror => format!(
            "# Written by `outpost config containerd`: pull {registry} images from the site mirror only.\n\
             server = {}\n\
             capabilities = [\"pull\", \"resolve\"]\n{}",
            toml_string(first.map_or("", |m| m.url())),
            ca_line("", first.is_some_and(|m| m.is_tls()))
        ),
        Fallback::Upstream => format!(
            "# Written by `outpost config containerd --allow-upstream`: pull {registry} images from the site mirror, then from {registry} itself.\n\
             server = {}\n",
            toml_string(&upstream_server(registry))
        ),
    };
    for mirror in mirrors {
        text.push_str(&format!(
            "\n[host.{}]\n  capabilities = [\"pull\", \"resolve\"]\n{}",
            toml_string(mirror.url()),
            ca_line("  ", mirror.is_tls())
        ));
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
    use crate::nodeconfig::mirrors::Mirror;

    fn one(url: &str) -> Vec<Mirror> {
        vec![Mirror::parse(url).unwrap()]
    }

    const CA: &str = "/etc/containerd/certs.d/outpost-ca.crt";

    #[test]
    fn every_entry_is_the_mirror_with_its_ca() {
        assert_eq!(
            hosts_toml(
                "docker.io",
                &one("https://mirror.site:5000/"),
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
    fn every_mirror_is_a_host_in_order_each_with_the_ca() {
        let mirrors = [
            Mirror::parse("https://a.site:5000").unwrap(),
            Mirror::parse("https://b.site:5000").unwrap(),
        ];
        let text = hosts_toml("docker.io", &mirrors, Some(CA), Fallback::Mirror);
        let a = text.find("[host.\"https://a.site:5000\"]").unwrap();
        let b = text.find("[host.\"https://b.site:5000\"]").unwrap();
        assert!(a < b, "{text}");
        assert_eq!(text.matches("ca = ").count(), 3, "{text}");
        assert!(
            text.contains("server = \"https://a.site:5000\"\n"),
            "{text}"
        );
    }

    #[test]
    fn plain_http_mirrors_have_no_ca() {
        let text = hosts_toml("r.test", &one("http://m:5000"), None, Fallback::Mirror);
        assert!(!text.contains("ca ="), "{text}");
        assert!(text.contains("server = \"http://m:5000\"\n"), "{text}");
    }

    #[test]
    fn only_the_opt_in_names_the_upstream() {
        let text = hosts_toml(
            "docker.io",
            &one("https://m:5000"),
            Some(CA),
            Fallback::Upstream,
        );
        assert_eq!(
            text,
            "# Written by `outpost config containerd --allow-upstream`: pull docker.io images from the site mirror, then from docker.io itself.\n\
             server = \"https://registry-1.docker.io\"\n\
             \n\
             [host.\"https://m:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"/etc/containerd/certs.d/outpost-ca.crt\"\n"
        );
        assert!(
            hosts_toml("quay.io", &one("https://m:5000"), None, Fallback::Upstream)
                .contains("server = \"https://quay.io\"\n")
        );
    }
}
