//! `outpost config check`: reads a node's runtime configuration and says, per runtime and
//! per registry a bundle holds, whether every pull goes to a mirror only: no registry left
//! unmirrored, no fallback to the upstream registry, the mirrors' CA present.
//!
//! The node's files are read through a [`NodeTree`] (its paths are the node's own, such as
//! `/etc/containerd/certs.d`; [`tree::RootDir`] maps them under a directory), so every
//! verdict here is pure and unit tested on small texts. One submodule per runtime:
//! containerd `hosts.toml` ([`containerd`]), k3s/RKE2 `registries.yaml` ([`k3s`]), CRI-O and
//! podman `registries.conf` ([`containers`]), a Talos machine config ([`talos`]) and Docker's
//! `daemon.json` ([`docker`]). A runtime none of whose files is present is not checked.

mod containerd;
mod containers;
mod docker;
mod k3s;
mod talos;
pub mod tree;

use super::mirrors::Mirror;
pub use tree::NodeTree;

/// A node runtime whose configuration is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Runtime {
    Containerd,
    K3s,
    Rke2,
    /// CRI-O and podman (`containers-registries.conf(5)`).
    Containers,
    Talos,
    Docker,
}

impl Runtime {
    /// The name in the table and the JSON: `containerd`, `k3s`, `rke2`, `cri-o/podman`,
    /// `talos`, `docker`.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::K3s => "k3s",
            Runtime::Rke2 => "rke2",
            Runtime::Containers => "cri-o/podman",
            Runtime::Talos => "talos",
            Runtime::Docker => "docker",
        }
    }
}

/// The verdict on one registry for one runtime, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// No mirror is configured: pulls go to the registry itself.
    Unmirrored,
    /// Mirrors are configured, but a non-mirror (the upstream registry) is tried too.
    Fallback,
    /// A TLS mirror has no CA, or the CA file is not there.
    NoCa,
    /// Every pull goes to the mirrors only.
    Ok,
}

impl Status {
    /// `OK`, `UNMIRRORED`, `FALLBACK`, `NO CA`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Unmirrored => "UNMIRRORED",
            Status::Fallback => "FALLBACK",
            Status::NoCa => "NO CA",
        }
    }
}

/// One thing wrong, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: Status,
    /// The file at fault, as a path on the node (or as given, for `--talos`).
    pub file: String,
    /// Its line (1-based), when the key is found in the text.
    pub line: Option<usize>,
    /// The key at fault (`server`, `[host."https://m:5000"]`, `mirrors."docker.io".endpoint`).
    pub key: Option<String>,
    pub message: String,
}

/// One runtime × registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub runtime: Runtime,
    pub registry: String,
    /// The file that configures this registry for this runtime (for an `OK` row).
    pub file: String,
    pub faults: Vec<Fault>,
    /// What is true but not a failure (Docker's own fallback to Docker Hub).
    pub notes: Vec<String>,
}

impl Check {
    fn new(runtime: Runtime, registry: &str, file: &str) -> Check {
        Check {
            runtime,
            registry: registry.to_string(),
            file: file.to_string(),
            faults: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The worst fault's status, `Ok` when there is none.
    pub fn status(&self) -> Status {
        self.faults
            .iter()
            .map(|f| f.status)
            .min()
            .unwrap_or(Status::Ok)
    }

    fn fault(&mut self, status: Status, file: &str, at: Option<At>, message: String) {
        let (key, line) = at.map_or((None, None), |at| (Some(at.key), at.line));
        self.faults.push(Fault {
            status,
            file: file.to_string(),
            line,
            key,
            message,
        });
    }
}

/// A key and the line it is on.
struct At {
    key: String,
    line: Option<usize>,
}

impl At {
    /// `key`, on the first line of `text` (not a comment) that starts with any of
    /// `needles` once indentation and a YAML list's `- ` are set aside.
    fn find(text: &str, key: impl Into<String>, needles: &[&str]) -> At {
        let line = text
            .lines()
            .map(|line| line.trim_start().trim_start_matches("- "))
            .position(|line| !line.starts_with('#') && needles.iter().any(|n| line.starts_with(n)))
            .map(|i| i + 1);
        At {
            key: key.into(),
            line,
        }
    }

    fn key(key: impl Into<String>) -> At {
        At {
            key: key.into(),
            line: None,
        }
    }
}

/// Which hosts count as mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorRule {
    /// Only these (`--mirror`), compared by `host[:port]`.
    Listed(Vec<Mirror>),
    /// Any host that is not the upstream registry itself.
    NotUpstream,
}

impl MirrorRule {
    /// Whether `authority` (`host[:port]`, any case) is a mirror for `registry`.
    pub fn is_mirror(&self, authority: &str, registry: &str) -> bool {
        let authority = normal_authority(authority);
        match self {
            MirrorRule::Listed(mirrors) => mirrors
                .iter()
                .any(|m| normal_authority(m.host()) == authority),
            MirrorRule::NotUpstream => !upstream_hosts(registry)
                .iter()
                .any(|u| normal_authority(u) == authority),
        }
    }

    /// One line that says which rule applied.
    pub fn describe(&self) -> String {
        match self {
            MirrorRule::Listed(mirrors) => format!(
                "mirrors: {} (--mirror)",
                mirrors
                    .iter()
                    .map(|m| m.host())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            MirrorRule::NotUpstream => {
                "mirrors: any host that is not the upstream registry itself (no --mirror given)"
                    .to_string()
            }
        }
    }
}

/// `host[:port]` in lower case, without a default port (`:443`, `:80`).
fn normal_authority(authority: &str) -> String {
    let lower = authority.trim().trim_end_matches('/').to_ascii_lowercase();
    lower
        .strip_suffix(":443")
        .or_else(|| lower.strip_suffix(":80"))
        .map_or_else(|| lower.clone(), str::to_string)
}

/// The hosts that are `registry` itself: its name, and Docker Hub's API and index hosts for
/// `docker.io`.
fn upstream_hosts(registry: &str) -> Vec<String> {
    let mut hosts = vec![registry.to_string()];
    if registry == "docker.io" {
        hosts.extend(
            [
                "registry-1.docker.io",
                "index.docker.io",
                "registry.hub.docker.com",
            ]
            .map(str::to_string),
        );
    }
    hosts
}

/// `host[:port]` of an endpoint written as `https://host:port/path`, `host:port/path` or
/// `host`; `None` for an empty one.
fn endpoint_authority(endpoint: &str) -> Option<String> {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or("").trim();
    (!authority.is_empty()).then(|| authority.to_string())
}

/// Whether `endpoint` is reached over TLS: `https://…` or no scheme (every runtime here
/// defaults to https).
fn endpoint_is_tls(endpoint: &str) -> bool {
    !endpoint.trim().to_ascii_lowercase().starts_with("http://")
}

/// What a node's configuration says about every registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// [`MirrorRule::describe`] of the rule that applied.
    pub rule: String,
    /// Runtime × registry, in runtime order then registry order.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every pull of every checked runtime stays on the mirrors.
    pub fn passes(&self) -> bool {
        self.checks.iter().all(|c| c.status() == Status::Ok)
    }
}

/// A Talos machine config (or patch) to check: its name as given, and its text.
pub struct TalosConfig<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "{root}: no runtime configuration found (looked for {}); give the node's root directory, or --talos FILE",
        looked_for.join(", ")
    )]
    NothingToCheck {
        root: String,
        looked_for: Vec<String>,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is larger than {limit} bytes: not a runtime configuration file")]
    TooLarge { path: String, limit: u64 },
    #[error("{path} is not UTF-8 text")]
    NotText { path: String },
}

/// Checks every runtime whose files are present under `tree` (and `talos`, when given) for
/// every registry in `registries` (lower-case hosts such as `docker.io`).
///
/// Errors: no runtime configuration present and no Talos config ([`CheckError::NothingToCheck`],
/// naming every file looked for); a file that cannot be read.
pub fn check_node(
    tree: &dyn NodeTree,
    registries: &[String],
    rule: &MirrorRule,
    talos: Option<TalosConfig<'_>>,
) -> Result<Report, CheckError> {
    let mut checks = Vec::new();
    let mut found = false;
    let runtimes: [(&[&str], CheckFn); 5] = [
        (&[containerd::CERTS_D], containerd::check),
        (k3s::K3S, |t, r, rule| {
            k3s::check(t, r, rule, k3s::Flavour::K3s)
        }),
        (k3s::RKE2, |t, r, rule| {
            k3s::check(t, r, rule, k3s::Flavour::Rke2)
        }),
        (&[containers::CONF, containers::CONF_D], containers::check),
        (&[docker::DAEMON_JSON], docker::check),
    ];
    let mut looked_for = Vec::new();
    for (paths, check) in runtimes {
        looked_for.extend(paths.iter().map(|p| p.to_string()));
        if paths.iter().any(|p| tree.is_file(p) || tree.is_dir(p)) {
            found = true;
            checks.extend(check(tree, registries, rule)?);
        }
    }
    if let Some(talos) = talos {
        found = true;
        checks.extend(talos::check(talos, registries, rule));
    }
    if !found {
        return Err(CheckError::NothingToCheck {
            root: tree.root(),
            looked_for,
        });
    }
    checks.sort_by(|a, b| (a.runtime, &a.registry).cmp(&(b.runtime, &b.registry)));
    Ok(Report {
        rule: rule.describe(),
        checks,
    })
}

type CheckFn = fn(&dyn NodeTree, &[String], &MirrorRule) -> Result<Vec<Check>, CheckError>;

#[cfg(test)]
mod tests {
    use super::tree::MemTree;
    use super::*;

    #[test]
    fn the_rules_say_which_hosts_are_mirrors() {
        let listed = MirrorRule::Listed(vec![Mirror::parse("https://Mirror.site:5000").unwrap()]);
        assert!(listed.is_mirror("mirror.site:5000", "docker.io"));
        assert!(!listed.is_mirror("other.site:5000", "docker.io"));
        let any = MirrorRule::NotUpstream;
        assert!(any.is_mirror("mirror.site:5000", "docker.io"));
        for upstream in ["docker.io", "registry-1.docker.io", "Index.Docker.io:443"] {
            assert!(!any.is_mirror(upstream, "docker.io"), "{upstream}");
        }
        assert!(!any.is_mirror("quay.io:443", "quay.io"));
        assert!(any.describe().contains("no --mirror given"));
        assert_eq!(listed.describe(), "mirrors: Mirror.site:5000 (--mirror)");
    }

    #[test]
    fn endpoints_give_their_authority_and_scheme() {
        assert_eq!(
            endpoint_authority("https://m:5000/v2/x").as_deref(),
            Some("m:5000")
        );
        assert_eq!(
            endpoint_authority("m:5000/docker.io").as_deref(),
            Some("m:5000")
        );
        assert_eq!(endpoint_authority(""), None);
        assert!(endpoint_is_tls("m:5000"));
        assert!(!endpoint_is_tls("HTTP://m:5000"));
    }

    #[test]
    fn a_node_with_no_runtime_files_is_an_error_naming_what_was_looked_for() {
        let error = check_node(
            &MemTree::default(),
            &["docker.io".into()],
            &MirrorRule::NotUpstream,
            None,
        )
        .unwrap_err();
        let text = error.to_string();
        for path in [
            "/etc/containerd/certs.d",
            "/etc/rancher/k3s/registries.yaml",
            "/etc/rancher/rke2/registries.yaml",
            "/etc/containers/registries.conf",
            "/etc/docker/daemon.json",
            "--talos",
        ] {
            assert!(text.contains(path), "{path}: {text}");
        }
    }

    #[test]
    fn a_k3s_drop_in_without_registries_yaml_is_checked_and_unmirrored() {
        let tree = MemTree::default().file(
            "/etc/rancher/k3s/config.yaml.d/50-outpost-registries.yaml",
            "disable-default-registry-endpoint: true\n",
        );
        let report =
            check_node(&tree, &["docker.io".into()], &MirrorRule::NotUpstream, None).unwrap();
        assert_eq!(report.checks.len(), 1);
        assert_eq!(report.checks[0].runtime, Runtime::K3s);
        assert_eq!(report.checks[0].status(), Status::Unmirrored);
    }

    #[test]
    fn only_present_runtimes_are_checked_and_the_worst_fault_decides() {
        let tree = MemTree::default().file(
            "/etc/docker/daemon.json",
            r#"{"registry-mirrors": ["http://m:5000"]}"#,
        );
        let report = check_node(
            &tree,
            &["docker.io".into(), "quay.io".into()],
            &MirrorRule::NotUpstream,
            None,
        )
        .unwrap();
        let rows: Vec<_> = report
            .checks
            .iter()
            .map(|c| (c.runtime, c.registry.as_str(), c.status()))
            .collect();
        assert_eq!(
            rows,
            [
                (Runtime::Docker, "docker.io", Status::Fallback),
                (Runtime::Docker, "quay.io", Status::Unmirrored)
            ]
        );
        assert!(!report.passes());
        let mut check = Check::new(Runtime::K3s, "r", "f");
        check.fault(Status::NoCa, "f", None, "x".into());
        check.fault(Status::Fallback, "f", None, "y".into());
        assert_eq!(check.status(), Status::Fallback);
    }
}
