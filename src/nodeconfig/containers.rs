//! CRI-O and podman `registries.conf` (containers-registries.conf(5), version 2 TOML) and the
//! CA files they read from `/etc/containers/certs.d/<host:port>/` (containers-certs.d(5)).
//!
//! One `[[registry]]` per upstream registry (`prefix` = the registry) with one
//! `[[registry.mirror]]` per site mirror, in order, at `<mirror host:port>/<registry>`: the
//! outpost server serves every image at `/v2/<registry>/<repo>` (a full name,
//! `server::catalog::resolve_name`), so no `ns=` parameter (which containers/image never
//! sends) is needed. `mirror-by-digest-only = false`: a digest-only mirror would send every
//! pull by tag past the mirrors. `insecure = true` only for `http://` mirrors.
//!
//! containers/image tries the registry's own `location` after every mirror failed, so
//! `location` is the first mirror too (`<mirror host:port>/<registry>`, `insecure` as that
//! mirror is): the last attempt stays on the site mirrors and never reaches the internet,
//! whatever the version does with `blocked`.

use super::mirrors::SiteMirrors;

/// Which engine reads the file: they read the same format and differ in where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    CriO,
    Podman,
}

impl Engine {
    /// `crio` or `podman`: the command name.
    pub fn name(self) -> &'static str {
        match self {
            Engine::CriO => "crio",
            Engine::Podman => "podman",
        }
    }

    /// Where the file goes on a node: podman's system-wide
    /// `/etc/containers/registries.conf`; for CRI-O a drop-in,
    /// `/etc/containers/registries.conf.d/50-outpost.conf`, which replaces the distribution's
    /// entries for the same prefixes and leaves its other settings alone.
    pub fn registries_path(self) -> &'static str {
        match self {
            Engine::CriO => "/etc/containers/registries.conf.d/50-outpost.conf",
            Engine::Podman => "/etc/containers/registries.conf",
        }
    }

    /// What to do after writing the files.
    pub fn reload_hint(self) -> &'static str {
        match self {
            Engine::CriO => "then `systemctl reload crio` (or restart it) on every node",
            Engine::Podman => {
                "podman reads it at every run (rootless podman reads ~/.config/containers/registries.conf first)"
            }
        }
    }
}

/// The text of `registries.conf` for `site`: a `[[registry]]` per registry with every
/// mirror in order. Starts with a comment naming the file and the writer.
pub fn registries_conf(site: &SiteMirrors, engine: Engine) -> String {
    let mut text = format!(
        "# {path}, written by `outpost config {name}`: pull {registries} from the site mirrors,\n\
         # in the order listed (containers-registries.conf(5), version 2).\n",
        path = engine.registries_path(),
        name = engine.name(),
        registries = site.registries.join(", "),
    );
    for registry in &site.registries {
        let first = site.mirrors.first();
        let location = first.map_or(registry.clone(), |m| format!("{}/{registry}", m.host()));
        text.push_str(&format!(
            "\n[[registry]]\nprefix = {}\nlocation = {}\n{}blocked = false\nmirror-by-digest-only = false\n",
            crate::nodeconfig::mirrors::toml_string(registry),
            crate::nodeconfig::mirrors::toml_string(&location),
            if first.is_some_and(|m| !m.is_tls()) { "insecure = true\n" } else { "" },
        ));
        for mirror in &site.mirrors {
            text.push_str(&format!(
                "\n[[registry.mirror]]\nlocation = {}\n",
                crate::nodeconfig::mirrors::toml_string(&format!("{}/{registry}", mirror.host()))
            ));
            if !mirror.is_tls() {
                text.push_str("insecure = true\n");
            }
        }
    }
    text
}

/// Where each TLS mirror's CA goes on the nodes: `/etc/containers/certs.d/<host:port>/ca.crt`
/// (one per TLS mirror, in mirror order; none for `http://` mirrors).
pub fn ca_paths(site: &SiteMirrors) -> Vec<String> {
    site.ca_paths("/etc/containers/certs.d")
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
            ca: Some("/srv/ca.crt".into()),
        }
    }

    #[test]
    fn every_registry_has_every_mirror_at_its_upstream_path() {
        let text = registries_conf(&site(), Engine::Podman);
        assert!(
            text.starts_with(
                "# /etc/containers/registries.conf, written by `outpost config podman`"
            ),
            "{text}"
        );
        let docker = "\n[[registry]]\nprefix = \"docker.io\"\nlocation = \"a.site:5000/docker.io\"\nblocked = false\nmirror-by-digest-only = false\n\
             \n[[registry.mirror]]\nlocation = \"a.site:5000/docker.io\"\n\
             \n[[registry.mirror]]\nlocation = \"b.site:5000/docker.io\"\ninsecure = true\n";
        assert!(text.contains(docker), "{text}");
        assert!(
            text.ends_with("location = \"b.site:5000/registry.k8s.io\"\ninsecure = true\n"),
            "{text}"
        );
    }

    #[test]
    fn crio_writes_a_drop_in() {
        let text = registries_conf(&site(), Engine::CriO);
        assert!(
            text.starts_with("# /etc/containers/registries.conf.d/50-outpost.conf, written by `outpost config crio`"),
            "{text}"
        );
    }

    #[test]
    fn only_tls_mirrors_get_a_ca_file() {
        assert_eq!(
            ca_paths(&site()),
            ["/etc/containers/certs.d/a.site:5000/ca.crt"]
        );
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(
            crate::nodeconfig::mirrors::toml_string("a\"b\\c\n"),
            "\"a\\\"b\\\\c\\u000A\""
        );
    }
}
