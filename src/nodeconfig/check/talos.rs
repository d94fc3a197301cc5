//! A Talos machine configuration or patch (`--talos FILE`; the `v1alpha1` document's
//! `machine.registries`, <https://www.talos.dev/latest/talos-guides/configuration/pull-through-cache/>):
//! `mirrors.<registry>` (or `"*"`) lists `endpoints`, all mirrors, with `skipFallback: true`
//! (else Talos tries the registry itself after them), and each TLS endpoint has
//! `config.<endpoint host>.tls.ca`, the CA certificate itself, base64-encoded PEM. Several
//! YAML documents may be given; the later set wins.

use super::{
    endpoint_authority, endpoint_is_tls, At, Check, MirrorRule, Runtime, Status, TalosConfig,
};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

/// One `Check` per registry.
pub fn check(talos: TalosConfig<'_>, registries: &[String], rule: &MirrorRule) -> Vec<Check> {
    let (mut mirrors, mut configs) = (Map::new(), Map::new());
    let mut error = None;
    for document in serde_norway::Deserializer::from_str(talos.text) {
        match Value::deserialize(document) {
            Ok(doc) => {
                let registries = doc.pointer("/machine/registries");
                for (key, into) in [("mirrors", &mut mirrors), ("config", &mut configs)] {
                    if let Some(Value::Object(map)) = registries.and_then(|r| r.get(key)) {
                        into.extend(map.clone());
                    }
                }
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    registries
        .iter()
        .map(|registry| {
            let mut check = Check::new(Runtime::Talos, registry, talos.name);
            match &error {
                Some(error) => check.fault(
                    Status::Unmirrored,
                    talos.name,
                    None,
                    format!("does not parse as YAML: {error}"),
                ),
                None => Verdict {
                    check: &mut check,
                    talos: &talos,
                    rule,
                    configs: &configs,
                }
                .run(&mirrors),
            }
            check
        })
        .collect()
}

struct Verdict<'a> {
    check: &'a mut Check,
    talos: &'a TalosConfig<'a>,
    rule: &'a MirrorRule,
    configs: &'a Map<String, Value>,
}

impl Verdict<'_> {
    fn run(mut self, mirrors: &Map<String, Value>) {
        let registry = self.check.registry.clone();
        let (file, text) = (self.talos.name, self.talos.text);
        let Some((name, entry)) = mirrors
            .get_key_value(&registry)
            .or_else(|| mirrors.get_key_value("*"))
        else {
            self.check.fault(
                Status::Unmirrored,
                file,
                Some(At::key(format!(
                    "machine.registries.mirrors.\"{registry}\""
                ))),
                format!("no entry (nor \"*\"): Talos pulls {registry} from {registry} itself"),
            );
            return;
        };
        let key = format!("machine.registries.mirrors.\"{name}\"");
        let entry_at = || {
            At::find(
                text,
                key.clone(),
                &[&format!("{name}:"), &format!("\"{name}\":")],
            )
        };
        let endpoints: Vec<&str> = entry
            .get("endpoints")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut mirrored = 0;
        for endpoint in endpoints {
            match endpoint_authority(endpoint).filter(|h| self.rule.is_mirror(h, &registry)) {
                Some(host) => {
                    mirrored += 1;
                    if endpoint_is_tls(endpoint) {
                        self.ca(&host);
                    }
                }
                None => self.check.fault(
                    Status::Fallback,
                    file,
                    Some(At::find(
                        text,
                        format!("{key}.endpoints"),
                        &[endpoint, &format!("\"{endpoint}\"")],
                    )),
                    format!("{endpoint} is not a mirror: Talos pulls {registry} from it"),
                ),
            }
        }
        if mirrored == 0 {
            self.check.fault(
                Status::Unmirrored,
                file,
                Some(entry_at()),
                "no endpoint is a mirror".to_string(),
            );
            return;
        }
        if entry.get("skipFallback").and_then(Value::as_bool) != Some(true) {
            self.check.fault(
                Status::Fallback,
                file,
                Some(At::find(
                    text,
                    format!("{key}.skipFallback"),
                    &["skipFallback"],
                )),
                format!(
                    "skipFallback is not true: after the mirrors Talos tries {registry} itself"
                ),
            );
        }
    }

    /// `config.<host>.tls.ca`: base64 of a PEM certificate.
    fn ca(&mut self, host: &str) {
        let ca = self
            .configs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(host))
            .and_then(|(_, v)| v.pointer("/tls/ca"))
            .and_then(Value::as_str);
        let pem = ca.and_then(|ca| {
            base64::engine::general_purpose::STANDARD
                .decode(ca.split_whitespace().collect::<String>())
                .ok()
        });
        let is_cert = pem
            .is_some_and(|p| String::from_utf8_lossy(&p).contains("-----BEGIN CERTIFICATE-----"));
        if !is_cert {
            let what = if ca.is_some() {
                "is not a base64-encoded PEM certificate"
            } else {
                "is missing"
            };
            self.check.fault(
                Status::NoCa,
                self.talos.name,
                Some(At::find(
                    self.talos.text,
                    format!("machine.registries.config.\"{host}\".tls.ca"),
                    &["ca:"],
                )),
                format!("{host} is TLS and its CA {what}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_b64() -> String {
        base64::engine::general_purpose::STANDARD
            .encode("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    }

    fn patch(skip: &str, ca: &str) -> String {
        format!(
            "machine:\n  registries:\n    mirrors:\n      docker.io:\n        endpoints:\n          - https://m:5000\n        skipFallback: {skip}\n    config:\n      m:5000:\n        tls:\n          ca: {ca}\n"
        )
    }

    fn run(text: &str, registry: &str) -> Check {
        check(
            TalosConfig {
                name: "patch.yaml",
                text,
            },
            &[registry.to_string()],
            &MirrorRule::NotUpstream,
        )
        .remove(0)
    }

    #[test]
    fn mirrored_without_fallback_with_its_ca_passes() {
        assert_eq!(run(&patch("true", &pem_b64()), "docker.io").faults, []);
    }

    #[test]
    fn fallback_ca_and_missing_entries_fail() {
        let check = run(&patch("false", &pem_b64()), "docker.io");
        assert_eq!(check.status(), Status::Fallback);
        assert_eq!(check.faults[0].line, Some(7));
        assert_eq!(
            run(&patch("true", "bm90IGEgY2VydA=="), "docker.io").status(),
            Status::NoCa
        );
        assert_eq!(
            run(&patch("true", &pem_b64()), "quay.io").status(),
            Status::Unmirrored
        );
        assert!(run("machine: [", "docker.io").faults[0]
            .message
            .contains("does not parse"));
    }

    #[test]
    fn documents_merge_and_a_wildcard_covers_every_registry() {
        let text = format!(
            "version: v1alpha1\nmachine:\n  registries:\n    mirrors:\n      \"*\":\n        endpoints: [\"http://m:5000\"]\n        skipFallback: true\n---\n{}",
            patch("true", &pem_b64())
        );
        assert_eq!(run(&text, "quay.io").faults, []);
        assert_eq!(run(&text, "docker.io").faults, []);
    }
}
