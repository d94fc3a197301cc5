//! Docker's `daemon.json` (`dockerd(8)`): `registry-mirrors` apply to Docker Hub
//! (`docker.io`) only, so every other registry is pulled from itself whatever the file
//! says. Each mirror must be a mirror; a TLS one needs a `*.crt` in
//! `/etc/docker/certs.d/<host:port>/`. dockerd also tries Docker Hub when every mirror
//! fails and no setting turns that off, so a Docker node always has that fallback: it is
//! reported (`FALLBACK`), since the node would try the internet.

use super::tree::NodeTree;
use super::{
    endpoint_authority, endpoint_is_tls, At, Check, CheckError, MirrorRule, Runtime, Status,
};

/// Docker's daemon configuration.
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";
const CERTS_D: &str = "/etc/docker/certs.d";
const KEY: &str = "registry-mirrors";

/// One `Check` per registry.
pub fn check(
    tree: &dyn NodeTree,
    registries: &[String],
    rule: &MirrorRule,
) -> Result<Vec<Check>, CheckError> {
    let text = tree.read(DAEMON_JSON)?.unwrap_or_default();
    let parsed = serde_json::from_str::<serde_json::Value>(&text);
    let mut checks = Vec::new();
    for registry in registries {
        let mut check = Check::new(Runtime::Docker, registry, DAEMON_JSON);
        let at = || Some(At::find(&text, KEY, &[&format!("\"{KEY}\"")]));
        match &parsed {
            Err(error) => check.fault(
                Status::Unmirrored,
                DAEMON_JSON,
                None,
                format!("does not parse as JSON (dockerd does not start): {error}"),
            ),
            Ok(_) if registry != "docker.io" => check.fault(
                Status::Unmirrored,
                DAEMON_JSON,
                at(),
                format!("Docker's registry-mirrors apply to docker.io only: dockerd pulls {registry} from {registry} itself"),
            ),
            Ok(doc) => {
                let mirrors: Vec<&str> = doc
                    .get(KEY)
                    .and_then(serde_json::Value::as_array)
                    .map(|l| l.iter().filter_map(serde_json::Value::as_str).collect())
                    .unwrap_or_default();
                check_hub(tree, &mut check, &mirrors, rule, at);
            }
        }
        checks.push(check);
    }
    Ok(checks)
}

fn check_hub(
    tree: &dyn NodeTree,
    check: &mut Check,
    mirrors: &[&str],
    rule: &MirrorRule,
    at: impl Fn() -> Option<At>,
) {
    let mut mirrored = 0;
    for url in mirrors {
        match endpoint_authority(url).filter(|h| rule.is_mirror(h, "docker.io")) {
            Some(host) => {
                mirrored += 1;
                let has_ca = tree
                    .list(&format!("{CERTS_D}/{host}"))
                    .iter()
                    .any(|n| n.ends_with(".crt"));
                if endpoint_is_tls(url) && !has_ca {
                    check.fault(
                        Status::NoCa,
                        DAEMON_JSON,
                        at(),
                        format!("{url} is TLS and {CERTS_D}/{host}/ca.crt is not there"),
                    );
                }
            }
            None => check.fault(
                Status::Fallback,
                DAEMON_JSON,
                at(),
                format!("{url} is not a mirror: dockerd pulls docker.io images from it"),
            ),
        }
    }
    if mirrored == 0 {
        check.fault(
            Status::Unmirrored,
            DAEMON_JSON,
            at(),
            "no mirror: dockerd pulls docker.io images from Docker Hub".to_string(),
        );
    } else {
        check.fault(
            Status::Fallback,
            DAEMON_JSON,
            at(),
            "dockerd tries Docker Hub itself when every mirror fails, and no setting turns that off; where no pull may leave the site use containerd, CRI-O or podman".to_string(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::MemTree;
    use super::*;

    fn run(tree: &MemTree, registry: &str) -> Check {
        check(tree, &[registry.to_string()], &MirrorRule::NotUpstream)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn docker_hub_through_a_mirror_still_falls_back_to_docker_hub() {
        let tree = MemTree::default()
            .file(
                DAEMON_JSON,
                "{\n  \"registry-mirrors\": [\"https://m:5000\"]\n}\n",
            )
            .file("/etc/docker/certs.d/m:5000/ca.crt", "pem");
        let check = run(&tree, "docker.io");
        assert_eq!(check.status(), Status::Fallback);
        assert_eq!(check.faults.len(), 1);
        assert!(check.faults[0].message.contains("Docker Hub itself"));
        // Without the CA.
        let tree =
            MemTree::default().file(DAEMON_JSON, "{\"registry-mirrors\": [\"https://m:5000\"]}");
        let no_ca = run(&tree, "docker.io");
        assert!(
            no_ca.faults.iter().any(|f| f.status == Status::NoCa),
            "{no_ca:?}"
        );
    }

    #[test]
    fn other_registries_and_missing_or_upstream_mirrors_fail() {
        let tree = MemTree::default().file(
            DAEMON_JSON,
            "{\n  \"registry-mirrors\": [\"http://m:5000\"]\n}\n",
        );
        let check = run(&tree, "quay.io");
        assert_eq!(check.status(), Status::Unmirrored);
        assert_eq!(check.faults[0].line, Some(2));
        let none = MemTree::default().file(DAEMON_JSON, "{}");
        assert_eq!(run(&none, "docker.io").status(), Status::Unmirrored);
        let upstream = MemTree::default().file(
            DAEMON_JSON,
            "{\"registry-mirrors\": [\"http://m:5000\", \"https://registry-1.docker.io\"]}",
        );
        assert_eq!(run(&upstream, "docker.io").status(), Status::Fallback);
        let broken = MemTree::default().file(DAEMON_JSON, "{");
        assert!(run(&broken, "docker.io").faults[0]
            .message
            .contains("does not parse"));
    }
}
