//! k3s and RKE2 `registries.yaml` (<https://docs.k3s.io/installation/private-registry>):
//! a registry's entry under `mirrors` (or the `"*"` entry) must list endpoints, all mirrors;
//! each TLS endpoint needs `configs.<endpoint host>.tls.ca_file`, a file that exists. After
//! the endpoints k3s and RKE2 try the registry itself (the default endpoint) unless
//! `disable-default-registry-endpoint: true` is set in their `config.yaml` (or a
//! `config.yaml.d/*.yaml` drop-in, the later winning).

use super::tree::{node_path, NodeTree};
use super::{
    endpoint_authority, endpoint_is_tls, At, Check, CheckError, MirrorRule, Runtime, Status,
};
use serde_json::Value;

/// k3s's `registries.yaml`, `config.yaml` and its drop-in directory (where `config k3s`
/// writes `disable-default-registry-endpoint`); any of them present means k3s is checked.
pub const K3S: &[&str] = &[
    "/etc/rancher/k3s/registries.yaml",
    "/etc/rancher/k3s/config.yaml",
    "/etc/rancher/k3s/config.yaml.d",
];
/// RKE2's.
pub const RKE2: &[&str] = &[
    "/etc/rancher/rke2/registries.yaml",
    "/etc/rancher/rke2/config.yaml",
    "/etc/rancher/rke2/config.yaml.d",
];

#[derive(Debug, Clone, Copy)]
pub enum Flavour {
    K3s,
    Rke2,
}

impl Flavour {
    fn runtime(self) -> Runtime {
        match self {
            Flavour::K3s => Runtime::K3s,
            Flavour::Rke2 => Runtime::Rke2,
        }
    }

    fn files(self) -> &'static [&'static str] {
        match self {
            Flavour::K3s => K3S,
            Flavour::Rke2 => RKE2,
        }
    }
}

const DISABLE_DEFAULT: &str = "disable-default-registry-endpoint";

/// One `Check` per registry.
pub fn check(
    tree: &dyn NodeTree,
    registries: &[String],
    rule: &MirrorRule,
    flavour: Flavour,
) -> Result<Vec<Check>, CheckError> {
    let [registries_yaml, config_yaml] = [flavour.files()[0], flavour.files()[1]];
    let text = tree.read(registries_yaml)?;
    let parsed = text
        .as_deref()
        .map(|t| serde_norway::from_str::<Value>(t).map_err(|e| e.to_string()));
    let fallback_off = default_endpoint_disabled(tree, config_yaml)?;
    let mut checks = Vec::new();
    for registry in registries {
        let mut check = Check::new(flavour.runtime(), registry, registries_yaml);
        match (&text, &parsed) {
            (Some(text), Some(Ok(doc))) => {
                let verdict = Verdict {
                    tree,
                    check: &mut check,
                    rule,
                    registry,
                    file: registries_yaml,
                    text,
                    doc,
                };
                if verdict.run() {
                    fallback_off.apply(&mut check, config_yaml, registry);
                }
            }
            (_, Some(Err(error))) => check.fault(
                Status::Unmirrored,
                registries_yaml,
                None,
                format!("does not parse as YAML: {error}"),
            ),
            _ => check.fault(
                Status::Unmirrored,
                registries_yaml,
                None,
                format!(
                    "no such file: {} pulls {registry} from {registry} itself",
                    flavour.runtime().name()
                ),
            ),
        }
        checks.push(check);
    }
    Ok(checks)
}

/// What `config.yaml` says about the default-endpoint fallback.
struct FallbackSetting {
    disabled: bool,
    /// The file and line that set it last, when one did.
    at: Option<(String, Option<usize>)>,
}

impl FallbackSetting {
    fn apply(&self, check: &mut Check, config_yaml: &str, registry: &str) {
        if self.disabled {
            return;
        }
        let (file, line) = self
            .at
            .clone()
            .unwrap_or_else(|| (config_yaml.to_string(), None));
        check.fault(
            Status::Fallback,
            &file,
            Some(At {
                key: DISABLE_DEFAULT.to_string(),
                line,
            }),
            format!(
                "not true: after the mirrors {} tries {registry} itself; set `{DISABLE_DEFAULT}: true` (k3s/RKE2 releases from January 2024 on)",
                check.runtime.name()
            ),
        );
    }
}

fn default_endpoint_disabled(
    tree: &dyn NodeTree,
    config_yaml: &str,
) -> Result<FallbackSetting, CheckError> {
    let drop_ins = format!("{config_yaml}.d");
    let mut files = vec![config_yaml.to_string()];
    files.extend(
        tree.list(&drop_ins)
            .into_iter()
            .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
            .map(|n| format!("{drop_ins}/{n}")),
    );
    let mut setting = FallbackSetting {
        disabled: false,
        at: None,
    };
    for file in files {
        let Some(text) = tree.read(&file)? else {
            continue;
        };
        let Ok(Value::Object(doc)) = serde_norway::from_str::<Value>(&text) else {
            continue;
        };
        if let Some(value) = doc.get(DISABLE_DEFAULT) {
            setting.disabled = value.as_bool() == Some(true) || value.as_str() == Some("true");
            let line = At::find(&text, DISABLE_DEFAULT, &[DISABLE_DEFAULT]).line;
            setting.at = Some((file, line));
        }
    }
    Ok(setting)
}

struct Verdict<'a> {
    tree: &'a dyn NodeTree,
    check: &'a mut Check,
    rule: &'a MirrorRule,
    registry: &'a str,
    file: &'a str,
    text: &'a str,
    doc: &'a Value,
}

impl Verdict<'_> {
    /// Checks the registry's mirror entry; whether it has any mirror (so that the default
    /// endpoint is the question left).
    fn run(mut self) -> bool {
        let mirrors = self.doc.get("mirrors");
        let (name, entry) = match (
            mirrors.and_then(|m| m.get(self.registry)),
            mirrors.and_then(|m| m.get("*")),
        ) {
            (Some(entry), _) => (self.registry, entry),
            (None, Some(entry)) => ("*", entry),
            (None, None) => {
                self.check.fault(
                    Status::Unmirrored,
                    self.file,
                    Some(At::key(format!("mirrors.\"{}\"", self.registry))),
                    format!(
                        "no entry (nor \"*\"): {} pulls {} from {} itself",
                        self.check.runtime.name(),
                        self.registry,
                        self.registry
                    ),
                );
                return false;
            }
        };
        let key = format!("mirrors.\"{name}\".endpoint");
        let entry_at = At::find(
            self.text,
            key.clone(),
            &[
                &format!("{name}:"),
                &format!("\"{name}\":"),
                &format!("'{name}':"),
            ],
        );
        let endpoints: Vec<&str> = entry
            .get("endpoint")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut mirrored = 0;
        for endpoint in &endpoints {
            let at = At::find(
                self.text,
                key.clone(),
                &[endpoint, &format!("\"{endpoint}\"")],
            );
            match endpoint_authority(endpoint) {
                Some(host) if self.rule.is_mirror(&host, self.registry) => {
                    mirrored += 1;
                    if endpoint_is_tls(endpoint) {
                        self.ca(&host);
                    }
                }
                _ => self.check.fault(
                    Status::Fallback,
                    self.file,
                    Some(at),
                    format!(
                        "{endpoint} is not a mirror: {} pulls {} from it",
                        self.check.runtime.name(),
                        self.registry
                    ),
                ),
            }
        }
        if mirrored == 0 {
            self.check.fault(
                Status::Unmirrored,
                self.file,
                Some(entry_at),
                "no endpoint is a mirror".to_string(),
            );
            return false;
        }
        true
    }

    /// `configs.<host>.tls.ca_file`, keyed by the endpoint's host (not the registry's).
    fn ca(&mut self, host: &str) {
        let key = format!("configs.\"{host}\".tls.ca_file");
        let config = self
            .doc
            .get("configs")
            .and_then(Value::as_object)
            .and_then(|configs| {
                configs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(host))
                    .map(|(_, v)| v)
            });
        let ca_file = config
            .and_then(|c| c.get("tls"))
            .and_then(|t| t.get("ca_file"))
            .and_then(Value::as_str);
        match ca_file {
            None => self.check.fault(
                Status::NoCa,
                self.file,
                Some(At::find(self.text, key, &["ca_file"])),
                format!("{host} is TLS and has no CA: set configs.\"{host}\".tls.ca_file (keyed by the mirror's host, not the registry's)"),
            ),
            Some(path) => {
                let on_node = node_path("/", path);
                if !self.tree.is_file(&on_node) {
                    self.check.fault(
                        Status::NoCa,
                        self.file,
                        Some(At::find(self.text, key, &["ca_file"])),
                        format!("the CA file {on_node} is not there"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::MemTree;
    use super::*;
    use crate::nodeconfig::mirrors::Mirror;

    const REGISTRIES: &str = "/etc/rancher/k3s/registries.yaml";
    const CONFIG: &str = "/etc/rancher/k3s/config.yaml";
    const CA: &str = "/etc/rancher/k3s/outpost-ca.crt";

    const GOOD: &str = "mirrors:\n  docker.io:\n    endpoint:\n      - https://a.site:5000\n      - https://b.site:5000\n  \"*\":\n    endpoint: [\"https://a.site:5000\"]\nconfigs:\n  a.site:5000:\n    tls:\n      ca_file: /etc/rancher/k3s/outpost-ca.crt\n  b.site:5000:\n    tls:\n      ca_file: /etc/rancher/k3s/outpost-ca.crt\n";

    fn run(tree: &MemTree, registry: &str, rule: &MirrorRule) -> Check {
        check(tree, &[registry.to_string()], rule, Flavour::K3s)
            .unwrap()
            .remove(0)
    }

    fn good_tree() -> MemTree {
        MemTree::default()
            .file(REGISTRIES, GOOD)
            .file(CA, "pem")
            .file(CONFIG, "disable-default-registry-endpoint: true\n")
    }

    #[test]
    fn mirrored_with_cas_and_the_default_endpoint_off_passes() {
        let tree = good_tree();
        assert_eq!(run(&tree, "docker.io", &MirrorRule::NotUpstream).faults, []);
        // "*" covers every other registry.
        assert_eq!(run(&tree, "quay.io", &MirrorRule::NotUpstream).faults, []);
        let listed = MirrorRule::Listed(vec![
            Mirror::parse("https://a.site:5000").unwrap(),
            Mirror::parse("https://b.site:5000").unwrap(),
        ]);
        assert_eq!(run(&tree, "docker.io", &listed).faults, []);
    }

    #[test]
    fn the_default_endpoint_is_a_fallback_unless_disabled() {
        let tree = MemTree::default().file(REGISTRIES, GOOD).file(CA, "pem");
        let check = run(&tree, "docker.io", &MirrorRule::NotUpstream);
        assert_eq!(check.status(), Status::Fallback);
        assert_eq!(check.faults[0].file, CONFIG);
        assert_eq!(check.faults[0].key.as_deref(), Some(DISABLE_DEFAULT));
        // A drop-in that turns it back on wins, and is named with its line.
        let tree = good_tree().file(
            "/etc/rancher/k3s/config.yaml.d/50-x.yaml",
            "# x\ndisable-default-registry-endpoint: false\n",
        );
        let check = run(&tree, "docker.io", &MirrorRule::NotUpstream);
        assert_eq!(
            check.faults[0].file,
            "/etc/rancher/k3s/config.yaml.d/50-x.yaml"
        );
        assert_eq!(check.faults[0].line, Some(2));
    }

    #[test]
    fn missing_entries_endpoints_and_upstream_endpoints() {
        let tree = good_tree().file(REGISTRIES, "mirrors:\n  docker.io:\n    endpoint: []\n");
        assert_eq!(
            run(&tree, "docker.io", &MirrorRule::NotUpstream).status(),
            Status::Unmirrored
        );
        assert_eq!(
            run(&tree, "quay.io", &MirrorRule::NotUpstream).status(),
            Status::Unmirrored
        );
        let upstream = "mirrors:\n  docker.io:\n    endpoint:\n      - http://m:5000\n      - https://registry-1.docker.io\n";
        let check = run(
            &good_tree().file(REGISTRIES, upstream),
            "docker.io",
            &MirrorRule::NotUpstream,
        );
        assert_eq!(check.status(), Status::Fallback);
        assert_eq!(check.faults[0].line, Some(5));
        let broken = good_tree().file(REGISTRIES, "mirrors: [\n");
        let check = run(&broken, "docker.io", &MirrorRule::NotUpstream);
        assert!(
            check.faults[0].message.contains("does not parse"),
            "{check:?}"
        );
    }

    #[test]
    fn a_ca_keyed_by_the_registry_is_no_ca() {
        let text = "mirrors:\n  docker.io:\n    endpoint: [\"https://m:5000\"]\nconfigs:\n  docker.io:\n    tls:\n      ca_file: /etc/rancher/k3s/outpost-ca.crt\n";
        let check = run(
            &good_tree().file(REGISTRIES, text),
            "docker.io",
            &MirrorRule::NotUpstream,
        );
        assert_eq!(check.status(), Status::NoCa);
        assert!(
            check.faults[0].message.contains("configs.\"m:5000\""),
            "{check:?}"
        );
        let missing_file = good_tree().file(REGISTRIES, &GOOD.replace("outpost-ca", "gone"));
        let check = run(&missing_file, "docker.io", &MirrorRule::NotUpstream);
        assert_eq!(check.status(), Status::NoCa);
        assert!(check.faults[0]
            .message
            .contains("/etc/rancher/k3s/gone.crt"));
    }

    #[test]
    fn rke2_reads_its_own_files() {
        let tree = MemTree::default()
            .file(
                "/etc/rancher/rke2/registries.yaml",
                "mirrors:\n  \"*\":\n    endpoint: [\"http://m:5000\"]\n",
            )
            .file(
                "/etc/rancher/rke2/config.yaml",
                "disable-default-registry-endpoint: true\n",
            );
        let checks = check(
            &tree,
            &["docker.io".into()],
            &MirrorRule::NotUpstream,
            Flavour::Rke2,
        )
        .unwrap();
        assert_eq!(checks[0].runtime, Runtime::Rke2);
        assert_eq!(checks[0].faults, []);
    }
}
