//! CRI-O and podman: `registries.conf` and `registries.conf.d/*.conf`
//! (`containers-registries.conf(5)`, version 2; a drop-in's `[[registry]]` replaces an
//! earlier one with the same prefix). A registry needs a `[[registry]]` whose `prefix` (or
//! `location`) is its host (or a `*.domain` wildcard matching it), with at least one
//! `[[registry.mirror]]`, every mirror a mirror; pulls by tag must be allowed on the mirrors
//! (no `mirror-by-digest-only = true`, no `pull-from-mirror = "digest-only"` on all of
//! them). After the mirrors the registry's `location` is tried, which is the internet unless
//! it is a mirror itself or the entry is `blocked = true` (containers/image then refuses the
//! location but still pulls from the mirrors). A TLS (not `insecure`) mirror needs a `*.crt`
//! in `/etc/containers/certs.d/<host:port>/` (or `/etc/docker/certs.d/…`).

use super::tree::NodeTree;
use super::{endpoint_authority, At, Check, CheckError, MirrorRule, Runtime, Status};

/// The main file.
pub const CONF: &str = "/etc/containers/registries.conf";
/// Its drop-in directory.
pub const CONF_D: &str = "/etc/containers/registries.conf.d";
/// Where containers/image looks for a registry's CA files, in its order.
const CERTS_DIRS: [&str; 2] = ["/etc/containers/certs.d", "/etc/docker/certs.d"];

/// One `[[registry]]` and where it is.
struct Entry {
    prefix: String,
    table: toml::Table,
    file: String,
    text: String,
}

/// One `Check` per registry.
pub fn check(
    tree: &dyn NodeTree,
    registries: &[String],
    rule: &MirrorRule,
) -> Result<Vec<Check>, CheckError> {
    let mut files = vec![CONF.to_string()];
    files.extend(
        tree.list(CONF_D)
            .into_iter()
            .filter(|n| n.ends_with(".conf"))
            .map(|n| format!("{CONF_D}/{n}")),
    );
    let mut entries: Vec<Entry> = Vec::new();
    let mut broken = None;
    for file in files {
        let Some(text) = tree.read(&file)? else {
            continue;
        };
        let table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(error) => {
                broken = Some((file, error.message().to_string()));
                break;
            }
        };
        let list = table.get("registry").and_then(toml::Value::as_array);
        for item in list.into_iter().flatten().filter_map(toml::Value::as_table) {
            let prefix = str_of(item, "prefix")
                .or_else(|| str_of(item, "location"))
                .unwrap_or_default()
                .to_ascii_lowercase();
            entries.retain(|e| e.prefix != prefix);
            entries.push(Entry {
                prefix,
                table: item.clone(),
                file: file.clone(),
                text: text.clone(),
            });
        }
    }
    let mut checks = Vec::new();
    for registry in registries {
        let mut check = Check::new(Runtime::Containers, registry, CONF);
        if let Some((file, error)) = &broken {
            check.fault(
                Status::Unmirrored,
                file,
                None,
                format!("does not parse as TOML (CRI-O and podman refuse every pull): {error}"),
            );
            checks.push(check);
            continue;
        }
        let mine: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                covers(&e.prefix, registry) || e.prefix.starts_with(&format!("{registry}/"))
            })
            .collect();
        if let Some(entry) = mine.iter().find(|e| covers(&e.prefix, registry)) {
            check.file = entry.file.clone();
        } else {
            check.fault(
                Status::Unmirrored,
                CONF,
                Some(At::key(format!("[[registry]] prefix = \"{registry}\""))),
                format!("no [[registry]] for {registry}: CRI-O and podman pull it from {registry} itself"),
            );
        }
        for entry in mine {
            check_entry(tree, &mut check, entry, rule);
        }
        checks.push(check);
    }
    Ok(checks)
}

fn str_of<'a>(table: &'a toml::Table, key: &str) -> Option<&'a str> {
    table
        .get(key)
        .and_then(toml::Value::as_str)
        .filter(|s| !s.is_empty())
}

fn bool_of(table: &toml::Table, key: &str) -> bool {
    table.get(key).and_then(toml::Value::as_bool) == Some(true)
}

/// Whether a `[[registry]]` prefix covers the whole of `registry`: the host itself, or a
/// `*.domain` wildcard.
fn covers(prefix: &str, registry: &str) -> bool {
    if prefix == registry {
        return true;
    }
    let host = registry.split(':').next().unwrap_or(registry);
    prefix
        .strip_prefix("*.")
        .is_some_and(|domain| host.ends_with(&format!(".{domain}")))
}

fn check_entry(tree: &dyn NodeTree, check: &mut Check, entry: &Entry, rule: &MirrorRule) {
    let registry = check.registry.clone();
    let prefix = &entry.prefix;
    let quoted = format!("\"{prefix}\"");
    let at = |key: String| {
        let line = entry
            .text
            .lines()
            .position(|l| {
                let l = l.trim_start();
                (l.starts_with("prefix") || l.starts_with("location")) && l.contains(&quoted)
            })
            .map(|i| i + 1);
        Some(At { key, line })
    };
    let key = format!("[[registry]] prefix = {quoted}");
    let blocked = bool_of(&entry.table, "blocked");
    let digest_only = bool_of(&entry.table, "mirror-by-digest-only");
    let mirrors: Vec<&toml::Table> = entry
        .table
        .get("mirror")
        .and_then(toml::Value::as_array)
        .map(|list| list.iter().filter_map(toml::Value::as_table).collect())
        .unwrap_or_default();
    let mut tag_mirrors = 0;
    for mirror in &mirrors {
        let location = str_of(mirror, "location").unwrap_or_default();
        let mirror_at = || {
            let line = entry
                .text
                .lines()
                .position(|l| {
                    l.trim_start().starts_with("location") && l.contains(&format!("\"{location}\""))
                })
                .map(|i| i + 1);
            Some(At {
                key: format!("{key} [[registry.mirror]] location"),
                line,
            })
        };
        let Some(host) = endpoint_authority(location).filter(|h| rule.is_mirror(h, &registry))
        else {
            check.fault(
                Status::Fallback,
                &entry.file,
                mirror_at(),
                format!("mirror {location:?} is not a mirror: pulls of {registry} go to it"),
            );
            continue;
        };
        let digests_only = bool_of(mirror, "mirror-by-digest-only")
            || str_of(mirror, "pull-from-mirror") == Some("digest-only");
        if !digest_only && !digests_only {
            tag_mirrors += 1;
        }
        if !bool_of(mirror, "insecure") {
            ca(tree, check, &entry.file, &host, mirror_at());
        }
    }
    // A wildcard entry has no location: the image's own registry is it.
    let location = match str_of(&entry.table, "location") {
        Some(location) => location,
        None if prefix.starts_with("*.") => registry.as_str(),
        None => prefix,
    };
    let location_is_mirror =
        endpoint_authority(location).is_some_and(|h| rule.is_mirror(&h, &registry));
    if !location_is_mirror && tag_mirrors == 0 {
        let why = if mirrors.is_empty() {
            "no [[registry.mirror]]".to_string()
        } else {
            "its mirrors serve pulls by digest only (mirror-by-digest-only / pull-from-mirror = \"digest-only\")".to_string()
        };
        let outcome = if blocked {
            format!("{why}: blocked, so pulls of {registry} fail")
        } else {
            format!("{why}: pulls of {registry} go to {location}")
        };
        check.fault(Status::Unmirrored, &entry.file, at(key.clone()), outcome);
        return;
    }
    if digest_only && !location_is_mirror {
        check.fault(
            Status::Fallback,
            &entry.file,
            at(format!("{key} mirror-by-digest-only")),
            format!(
                "mirror-by-digest-only = true: pulls by tag skip the mirrors and go to {location}"
            ),
        );
    }
    if !blocked && !location_is_mirror {
        check.fault(
            Status::Fallback,
            &entry.file,
            at(format!("{key} location")),
            format!("after the mirrors CRI-O and podman try {location} itself: set blocked = true, or location to a mirror"),
        );
    }
    if location_is_mirror && !bool_of(&entry.table, "insecure") {
        if let Some(host) = endpoint_authority(location) {
            ca(
                tree,
                check,
                &entry.file,
                &host,
                at(format!("{key} location")),
            );
        }
    }
}

/// A TLS mirror's CA: a `*.crt` in `certs.d/<host:port>/`.
fn ca(tree: &dyn NodeTree, check: &mut Check, file: &str, host: &str, at: Option<At>) {
    let found = CERTS_DIRS.iter().any(|dir| {
        tree.list(&format!("{dir}/{host}"))
            .iter()
            .any(|n| n.ends_with(".crt"))
    });
    if !found {
        check.fault(
            Status::NoCa,
            file,
            at,
            format!(
                "{host} is TLS (not insecure) and {}/{host}/ca.crt is not there",
                CERTS_DIRS[0]
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::MemTree;
    use super::*;

    const CA: &str = "/etc/containers/certs.d/m.site:5000/ca.crt";

    fn conf(extra: &str) -> String {
        format!(
            "unqualified-search-registries = []\n\n[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n{extra}\n[[registry.mirror]]\nlocation = \"m.site:5000/docker.io\"\n"
        )
    }

    fn run(tree: &MemTree, registry: &str) -> Check {
        check(tree, &[registry.to_string()], &MirrorRule::NotUpstream)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn a_blocked_registry_with_a_tls_mirror_and_its_ca_passes() {
        let tree = MemTree::default()
            .file(CONF, &conf("blocked = true\n"))
            .file(CA, "pem");
        assert_eq!(run(&tree, "docker.io").faults, []);
        // A location that is a mirror needs no block.
        let text = "[[registry]]\nprefix = \"docker.io\"\nlocation = \"m.site:5000/docker.io\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"m.site:5000/docker.io\"\ninsecure = true\n";
        assert_eq!(
            run(&MemTree::default().file(CONF, text), "docker.io").faults,
            []
        );
    }

    #[test]
    fn an_unblocked_upstream_location_is_a_fallback_on_its_line() {
        let tree = MemTree::default().file(CONF, &conf("")).file(CA, "pem");
        let check = run(&tree, "docker.io");
        assert_eq!(check.status(), Status::Fallback);
        assert_eq!(check.faults.len(), 1, "{check:?}");
        assert_eq!(check.faults[0].line, Some(4));
        assert!(check.faults[0].message.contains("blocked = true"));
    }

    #[test]
    fn digest_only_sends_tags_past_the_mirrors() {
        let tree = MemTree::default()
            .file(
                CONF,
                &conf("blocked = true\nmirror-by-digest-only = true\n"),
            )
            .file(CA, "pem");
        assert_eq!(run(&tree, "docker.io").status(), Status::Unmirrored);
        let text = conf("") + "pull-from-mirror = \"digest-only\"\n";
        let check = run(
            &MemTree::default().file(CONF, &text).file(CA, "pem"),
            "docker.io",
        );
        assert_eq!(check.status(), Status::Unmirrored, "{check:?}");
        assert!(check.faults[0].message.contains("docker.io"), "{check:?}");
    }

    #[test]
    fn no_entry_no_mirror_and_no_ca() {
        let tree = MemTree::default()
            .file(CONF, &conf("blocked = true\n"))
            .file(CA, "pem");
        assert_eq!(run(&tree, "quay.io").status(), Status::Unmirrored);
        let bare = "[[registry]]\nprefix = \"docker.io\"\nblocked = true\n";
        assert_eq!(
            run(&MemTree::default().file(CONF, bare), "docker.io").status(),
            Status::Unmirrored
        );
        let check = run(
            &MemTree::default().file(CONF, &conf("blocked = true\n")),
            "docker.io",
        );
        assert_eq!(check.status(), Status::NoCa);
        assert_eq!(check.faults[0].line, Some(9));
        // The CA may be in Docker's directory too.
        let docker_ca = MemTree::default()
            .file(CONF, &conf("blocked = true\n"))
            .file("/etc/docker/certs.d/m.site:5000/site.crt", "pem");
        assert_eq!(run(&docker_ca, "docker.io").faults, []);
    }

    #[test]
    fn drop_ins_replace_entries_and_wildcards_cover_subdomains() {
        let tree = MemTree::default()
            .file(CONF, &conf("blocked = true\n"))
            .file(CA, "pem")
            .file(&format!("{CONF_D}/50-open.conf"), &conf(""));
        let check = run(&tree, "docker.io");
        assert_eq!(check.status(), Status::Fallback);
        assert_eq!(check.faults[0].file, format!("{CONF_D}/50-open.conf"));
        let wildcard = "[[registry]]\nprefix = \"*.example.com\"\nblocked = true\n[[registry.mirror]]\nlocation = \"m:5000\"\ninsecure = true\n";
        assert_eq!(
            run(&MemTree::default().file(CONF, wildcard), "r.example.com").faults,
            []
        );
        let broken = MemTree::default().file(CONF, "[[registry]\n");
        assert!(run(&broken, "docker.io").faults[0]
            .message
            .contains("does not parse"));
    }

    #[test]
    fn a_namespace_entry_is_checked_beside_the_host_entry() {
        let text = conf("blocked = true\n")
            + "\n[[registry]]\nprefix = \"docker.io/library\"\nlocation = \"docker.io/library\"\n";
        let check = run(
            &MemTree::default().file(CONF, &text).file(CA, "pem"),
            "docker.io",
        );
        assert_eq!(check.status(), Status::Unmirrored, "{check:?}");
        assert!(check.faults[0]
            .key
            .as_deref()
            .unwrap()
            .contains("docker.io/library"));
    }
}
