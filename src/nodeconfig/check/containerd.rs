//! containerd's `certs.d` (`hosts.toml`, containerd's `docs/hosts.md`), read as containerd
//! does: the first of `<host>_<port>_/`, `<registry>/`, `_default/` that is a directory is
//! the registry's; without a `hosts.toml` there (or one that does not parse, which containerd
//! logs and ignores) containerd pulls from the registry itself. Every `[host]` used for
//! pulls (capabilities default to pull, resolve and push) and the top-level `server` must
//! be mirrors: a missing `server` is the registry itself (`registry-1.docker.io` for
//! `docker.io`), tried after the hosts. A TLS mirror needs a `ca` (the server's at the top
//! level) whose file exists; a relative path is taken from the `hosts.toml` directory.

use super::tree::{node_path, NodeTree};
use super::{
    endpoint_authority, endpoint_is_tls, At, Check, CheckError, MirrorRule, Runtime, Status,
};

/// Where containerd's hosts directories are.
pub const CERTS_D: &str = "/etc/containerd/certs.d";

/// One `Check` per registry.
pub fn check(
    tree: &dyn NodeTree,
    registries: &[String],
    rule: &MirrorRule,
) -> Result<Vec<Check>, CheckError> {
    registries
        .iter()
        .map(|registry| check_registry(tree, registry, rule))
        .collect()
}

/// The directories containerd looks in for `registry`, in its order.
fn host_dirs(registry: &str) -> Vec<String> {
    let mut dirs = Vec::new();
    if let Some((host, port)) = registry.rsplit_once(':') {
        dirs.push(format!("{CERTS_D}/{host}_{port}_"));
    }
    dirs.push(format!("{CERTS_D}/{registry}"));
    dirs.push(format!("{CERTS_D}/_default"));
    dirs
}

/// Where containerd reaches `registry` when nothing else is said.
fn upstream_url(registry: &str) -> String {
    if registry == "docker.io" {
        "https://registry-1.docker.io".to_string()
    } else {
        format!("https://{registry}")
    }
}

fn check_registry(
    tree: &dyn NodeTree,
    registry: &str,
    rule: &MirrorRule,
) -> Result<Check, CheckError> {
    let upstream = upstream_url(registry);
    let Some(dir) = host_dirs(registry).into_iter().find(|d| tree.is_dir(d)) else {
        let file = format!("{CERTS_D}/{registry}/hosts.toml");
        let mut check = Check::new(Runtime::Containerd, registry, &file);
        check.fault(
            Status::Unmirrored,
            &file,
            None,
            format!("no such file (nor {CERTS_D}/_default/hosts.toml): containerd pulls {registry} from {upstream}"),
        );
        return Ok(check);
    };
    let file = format!("{dir}/hosts.toml");
    let mut check = Check::new(Runtime::Containerd, registry, &file);
    let Some(text) = tree.read(&file)? else {
        check.fault(
            Status::Unmirrored,
            &file,
            None,
            format!(
                "no such file, and containerd uses {dir}/ for {registry}: it pulls from {upstream}"
            ),
        );
        return Ok(check);
    };
    let table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(error) => {
            check.fault(
                Status::Unmirrored,
                &file,
                None,
                format!(
                    "does not parse as TOML (containerd ignores it and pulls from {upstream}): {}",
                    error.message()
                ),
            );
            return Ok(check);
        }
    };
    let verdict = Verdict {
        tree,
        check: &mut check,
        rule,
        registry,
        file: &file,
        dir: &dir,
        text: &text,
    };
    verdict.run(&table, &upstream)?;
    Ok(check)
}

/// The checks of one parsed `hosts.toml`.
struct Verdict<'a> {
    tree: &'a dyn NodeTree,
    check: &'a mut Check,
    rule: &'a MirrorRule,
    registry: &'a str,
    file: &'a str,
    dir: &'a str,
    text: &'a str,
}

impl Verdict<'_> {
    fn run(mut self, table: &toml::Table, upstream: &str) -> Result<(), CheckError> {
        let mut mirrors = 0;
        let hosts = table.get("host").and_then(toml::Value::as_table);
        for (url, entry) in hosts.into_iter().flatten() {
            let entry = entry.as_table();
            if !pulls(entry.and_then(|e| e.get("capabilities"))) {
                continue;
            }
            let key = format!("[host.\"{url}\"]");
            let at = || At::find(self.text, key.clone(), &[&key, &format!("[host.'{url}']")]);
            if self.is_mirror(url) {
                mirrors += 1;
                self.ca(
                    url,
                    entry.and_then(|e| e.get("ca")),
                    &format!("{key} ca"),
                    at().line,
                );
            } else {
                self.check.fault(
                    Status::Fallback,
                    self.file,
                    Some(at()),
                    format!(
                        "{url} is not a mirror: containerd pulls {} from it",
                        self.registry
                    ),
                );
            }
        }
        let server = table.get("server").and_then(toml::Value::as_str);
        let server_at = || At::find(self.text, "server", &["server"]);
        match server {
            None => self.check.fault(
                Status::Fallback,
                self.file,
                Some(At::key("server")),
                format!("no `server`: containerd tries {upstream} after the hosts; set server to the mirror"),
            ),
            Some(url) if self.is_mirror(url) => {
                if pulls(table.get("capabilities")) {
                    mirrors += 1;
                }
                self.ca(url, table.get("ca"), "ca", server_at().line);
            }
            Some(url) => self.check.fault(
                Status::Fallback,
                self.file,
                Some(server_at()),
                format!("{url} is not a mirror: containerd tries it after the hosts"),
            ),
        }
        if mirrors == 0 {
            self.check.fault(
                Status::Unmirrored,
                self.file,
                None,
                format!(
                    "no host and no server is a mirror: containerd pulls {} from upstream",
                    self.registry
                ),
            );
        }
        Ok(())
    }

    fn is_mirror(&self, url: &str) -> bool {
        endpoint_authority(url).is_some_and(|a| self.rule.is_mirror(&a, self.registry))
    }

    /// A TLS mirror's `ca` (a string or a list of them) must name files that exist.
    fn ca(&mut self, url: &str, ca: Option<&toml::Value>, key: &str, line: Option<usize>) {
        if !endpoint_is_tls(url) {
            return;
        }
        let paths: Vec<&str> = match ca {
            Some(toml::Value::String(path)) => vec![path.as_str()],
            Some(toml::Value::Array(list)) => list.iter().filter_map(toml::Value::as_str).collect(),
            _ => Vec::new(),
        };
        let at = || {
            Some(At {
                key: key.to_string(),
                line,
            })
        };
        if paths.is_empty() {
            self.check.fault(
                Status::NoCa,
                self.file,
                at(),
                format!("{url} is TLS and has no `ca`: set the file of the CA that signs the mirror's certificate"),
            );
        }
        for path in paths {
            let on_node = node_path(self.dir, path);
            if !self.tree.is_file(&on_node) {
                self.check.fault(
                    Status::NoCa,
                    self.file,
                    at(),
                    format!("the CA file {on_node} is not there"),
                );
            }
        }
    }
}

/// Whether an entry with these `capabilities` is used for pulls (pull or resolve; all three
/// when absent).
fn pulls(capabilities: Option<&toml::Value>) -> bool {
    match capabilities.and_then(toml::Value::as_array) {
        None => true,
        Some(list) if list.is_empty() => true,
        Some(list) => list
            .iter()
            .filter_map(toml::Value::as_str)
            .any(|c| c.eq_ignore_ascii_case("pull") || c.eq_ignore_ascii_case("resolve")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::MemTree;
    use super::*;
    use crate::nodeconfig::containerd::{hosts_toml, Fallback};
    use crate::nodeconfig::mirrors::Mirror;

    const CA: &str = "/etc/containerd/certs.d/ca.crt";
    const FILE: &str = "/etc/containerd/certs.d/docker.io/hosts.toml";

    fn mirrors() -> Vec<Mirror> {
        vec![
            Mirror::parse("https://a.site:5000").unwrap(),
            Mirror::parse("https://b.site:5000").unwrap(),
        ]
    }

    fn run(tree: &MemTree, rule: &MirrorRule) -> Check {
        check_registry(tree, "docker.io", rule).unwrap()
    }

    fn statuses(check: &Check) -> Vec<(Status, Option<usize>, String)> {
        check
            .faults
            .iter()
            .map(|f| (f.status, f.line, f.key.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn what_config_containerd_writes_passes_under_either_rule() {
        let text = hosts_toml("docker.io", &mirrors(), Some(CA), Fallback::Mirror);
        let tree = MemTree::default().file(FILE, &text).file(CA, "pem");
        assert_eq!(run(&tree, &MirrorRule::NotUpstream).faults, []);
        assert_eq!(run(&tree, &MirrorRule::Listed(mirrors())).faults, []);
        // A mirror the list does not name is a fallback past the mirrors.
        let only_a = MirrorRule::Listed(vec![Mirror::parse("https://a.site:5000").unwrap()]);
        let check = run(&tree, &only_a);
        assert_eq!(check.status(), Status::Fallback);
        assert_eq!(check.faults.len(), 1, "{check:?}");
        assert_eq!(check.faults[0].line, Some(10));
    }

    #[test]
    fn an_upstream_server_is_a_fallback_on_its_line() {
        let text = hosts_toml("docker.io", &mirrors(), Some(CA), Fallback::Upstream);
        let tree = MemTree::default().file(FILE, &text).file(CA, "pem");
        let check = run(&tree, &MirrorRule::NotUpstream);
        assert_eq!(
            statuses(&check),
            [(Status::Fallback, Some(2), "server".into())]
        );
        assert!(check.faults[0].message.contains("registry-1.docker.io"));
    }

    #[test]
    fn a_missing_server_is_the_registry_itself() {
        let text = "[host.\"http://m:5000\"]\n  capabilities = [\"pull\"]\n";
        let tree = MemTree::default().file(FILE, text);
        let check = run(&tree, &MirrorRule::NotUpstream);
        assert_eq!(
            statuses(&check),
            [(Status::Fallback, None, "server".into())]
        );
        assert!(check.faults[0]
            .message
            .contains("https://registry-1.docker.io"));
    }

    #[test]
    fn no_file_or_no_mirror_is_unmirrored() {
        let check = run(&MemTree::default(), &MirrorRule::NotUpstream);
        assert_eq!(check.status(), Status::Unmirrored);
        assert_eq!(check.faults[0].file, FILE);
        // A directory without hosts.toml: containerd does not look further, at _default.
        let tree = MemTree::default()
            .file("/etc/containerd/certs.d/docker.io/ca.crt", "pem")
            .file(
                "/etc/containerd/certs.d/_default/hosts.toml",
                "server = \"http://m\"\n",
            );
        let check = run(&tree, &MirrorRule::NotUpstream);
        assert_eq!(check.status(), Status::Unmirrored);
        assert!(
            check.faults[0].message.contains("no such file"),
            "{check:?}"
        );
        let upstream_only = MemTree::default().file(FILE, "server = \"https://docker.io\"\n");
        assert_eq!(
            run(&upstream_only, &MirrorRule::NotUpstream).status(),
            Status::Unmirrored
        );
        let broken = MemTree::default().file(FILE, "server = \n");
        let check = run(&broken, &MirrorRule::NotUpstream);
        assert_eq!(check.status(), Status::Unmirrored);
        assert!(
            check.faults[0].message.contains("does not parse"),
            "{check:?}"
        );
    }

    #[test]
    fn default_and_port_directories_are_found_in_containerds_order() {
        let tree = MemTree::default().file(
            "/etc/containerd/certs.d/_default/hosts.toml",
            "server = \"http://m:5000\"\n",
        );
        let check = run(&tree, &MirrorRule::NotUpstream);
        assert_eq!(check.faults, []);
        assert_eq!(check.file, "/etc/containerd/certs.d/_default/hosts.toml");
        assert_eq!(
            host_dirs("r.test:5000")[0],
            "/etc/containerd/certs.d/r.test_5000_"
        );
    }

    #[test]
    fn a_tls_mirror_needs_a_ca_file_that_exists() {
        let text = hosts_toml("docker.io", &mirrors()[..1], Some(CA), Fallback::Mirror);
        let tree = MemTree::default().file(FILE, &text);
        let check = run(&tree, &MirrorRule::NotUpstream);
        assert_eq!(check.status(), Status::NoCa);
        assert_eq!(check.faults.len(), 2, "{check:?}");
        assert!(check.faults[0].message.contains(CA));
        let no_ca = hosts_toml("docker.io", &mirrors()[..1], None, Fallback::Mirror);
        let check = run(
            &MemTree::default().file(FILE, &no_ca),
            &MirrorRule::NotUpstream,
        );
        assert_eq!(check.status(), Status::NoCa);
        // Relative to the hosts.toml directory; a list of files.
        let relative = "server = \"https://m\"\nca = [\"ca.crt\", \"../x.crt\"]\n";
        let tree = MemTree::default()
            .file(FILE, relative)
            .file("/etc/containerd/certs.d/docker.io/ca.crt", "pem");
        let check = run(&tree, &MirrorRule::NotUpstream);
        assert_eq!(check.faults.len(), 1, "{check:?}");
        assert!(check.faults[0]
            .message
            .contains("/etc/containerd/certs.d/x.crt"));
    }

    #[test]
    fn push_only_hosts_are_not_pulled_from() {
        let text =
            "server = \"http://m\"\n[host.\"https://docker.io\"]\n  capabilities = [\"push\"]\n";
        let tree = MemTree::default().file(FILE, text);
        assert_eq!(run(&tree, &MirrorRule::NotUpstream).faults, []);
    }
}
