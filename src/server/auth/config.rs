//! The auth file (`serve --auth FILE`): users (a password hash and/or a client certificate
//! CN), groups and rules, parsed with line/column errors and checked before serving.
//!
//! ```yaml
//! users:
//!   - {name: alice, password: "$2y$05$…"}     # bcrypt (htpasswd -nbB) or argon2id (outpost auth hash)
//!   - {name: node1, certificate: {cn: node1.site.example}}
//! groups: {nodes: [node1, alice]}
//! rules:                                       # first match wins; no match = denied
//!   - {who: [group:nodes], allow: ["registry.k8s.io/*", "/files/*"]}
//!   - {who: [anonymous], allow: ["/files/*"]}
//! ```

use super::password;
use super::policy::{normalise_glob, Policy, Rule, Who};
use crate::manifest::{locate, strip_location};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Largest auth file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("cannot read the auth file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    InvalidNoLocation { path: PathBuf, message: String },
}

/// One user of the auth file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// argon2 PHC string or bcrypt hash.
    pub password: Option<String>,
    /// The client certificate CN (or DNS SAN) that authenticates as this user.
    pub certificate_cn: Option<String>,
}

/// A checked auth file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    pub users: BTreeMap<String, User>,
    pub policy: Policy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    #[serde(default)]
    users: Vec<UserModel>,
    #[serde(default)]
    groups: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    rules: Vec<RuleModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserModel {
    name: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    certificate: Option<CertificateModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateModel {
    cn: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleModel {
    who: OneOrMany,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl AuthConfig {
    /// Reads and checks the auth file at `path`.
    pub fn load(path: &Path) -> Result<AuthConfig, AuthFileError> {
        let read = |source| AuthFileError::Read {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_FILE_BYTES {
            return Err(AuthFileError::InvalidNoLocation {
                path: path.to_path_buf(),
                message: format!(
                    "{size} bytes is too large for an auth file (at most {MAX_FILE_BYTES})"
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        AuthConfig::parse(path, &text)
    }

    /// Parses and checks auth file text; `path` only labels errors.
    pub fn parse(path: &Path, text: &str) -> Result<AuthConfig, AuthFileError> {
        let model: FileModel = serde_norway::from_str(text).map_err(|err| {
            let message = strip_location(&err.to_string());
            match err.location() {
                Some(loc) => AuthFileError::Invalid {
                    path: path.to_path_buf(),
                    line: loc.line(),
                    column: loc.column(),
                    message,
                },
                None => AuthFileError::InvalidNoLocation {
                    path: path.to_path_buf(),
                    message,
                },
            }
        })?;
        let fail = |needle: &str, message: String| match locate(text, needle) {
            Some((line, column)) => AuthFileError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message,
            },
            None => AuthFileError::InvalidNoLocation {
                path: path.to_path_buf(),
                message,
            },
        };
        let mut users = BTreeMap::new();
        let mut cns = BTreeSet::new();
        for user in model.users {
            if user.name.is_empty() || user.name.contains(':') || user.name == "anonymous" {
                return Err(fail(
                    &user.name,
                    format!(
                        "user name `{}` is not allowed (no `:`, not empty, not `anonymous`)",
                        user.name
                    ),
                ));
            }
            if let Some(hash) = &user.password {
                if password::scheme(hash).is_none() {
                    return Err(fail(hash, format!("the password of `{}` is not an argon2 PHC string (outpost auth hash) or a bcrypt hash (htpasswd -nbB): store the hash, never the password", user.name)));
                }
            }
            let cn = user.certificate.map(|c| c.cn);
            if user.password.is_none() && cn.is_none() {
                return Err(fail(
                    &user.name,
                    format!(
                        "user `{}` has neither a password nor a certificate",
                        user.name
                    ),
                ));
            }
            if let Some(cn) = &cn {
                if !cns.insert(cn.clone()) {
                    return Err(fail(
                        cn,
                        format!("certificate CN `{cn}` is given to two users"),
                    ));
                }
            }
            let name = user.name.clone();
            let entry = User {
                name: user.name,
                password: user.password,
                certificate_cn: cn,
            };
            if users.insert(name.clone(), entry).is_some() {
                return Err(fail(
                    &format!("name: {name}"),
                    format!("user `{name}` is defined twice"),
                ));
            }
        }
        let mut groups = BTreeMap::new();
        for (group, members) in model.groups {
            for member in &members {
                if !users.contains_key(member) {
                    return Err(fail(
                        member,
                        format!("group `{group}` lists `{member}`, who is not among the users"),
                    ));
                }
            }
            groups.insert(group, members.into_iter().collect::<BTreeSet<_>>());
        }
        let mut rules = Vec::new();
        for rule in model.rules {
            let who = match rule.who {
                OneOrMany::One(one) => vec![one],
                OneOrMany::Many(many) => many,
            };
            if who.is_empty() {
                return Err(fail("who: []", "a rule's `who` names no one".into()));
            }
            let mut parsed = Vec::new();
            for entry in &who {
                let w = Who::parse(entry);
                match &w {
                    Who::User(name) if !users.contains_key(name) => {
                        return Err(fail(entry, format!("rule names `{name}`, who is not among the users (groups are `group:NAME`, certificates `cert:CN`)")));
                    }
                    Who::Group(name) if !groups.contains_key(name) => {
                        return Err(fail(
                            entry,
                            format!("rule names group `{name}`, which is not among the groups"),
                        ));
                    }
                    _ => {}
                }
                parsed.push(w);
            }
            for glob in rule.allow.iter().chain(&rule.deny) {
                if glob.is_empty() || (!glob.starts_with('/') && !glob.contains('/') && glob != "*")
                {
                    return Err(fail(glob, format!("`{glob}` is neither a repository glob (registry.k8s.io/*) nor a path glob (/files/*)")));
                }
            }
            rules.push(Rule {
                who: parsed,
                allow: rule.allow.iter().map(|g| normalise_glob(g)).collect(),
                deny: rule.deny.iter().map(|g| normalise_glob(g)).collect(),
            });
        }
        Ok(AuthConfig {
            users,
            policy: Policy { rules, groups },
        })
    }

    /// The user a client certificate with these names (CN first, then DNS SANs) is.
    pub fn user_for_certificate(&self, names: &[String]) -> Option<&User> {
        self.users.values().find(|u| {
            u.certificate_cn
                .as_ref()
                .is_some_and(|cn| names.iter().any(|n| n == cn))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
users:
  - {name: alice, password: "$2y$05$abcdefghijklmnopqrstuu5Ut8Xv1mQkzT7yM0W3cXvQZ5X8gYf0a"}
  - {name: node1, certificate: {cn: node1.site.example}}
groups: {nodes: [node1, alice]}
rules:
  - {who: [group:nodes], allow: ["registry.k8s.io/*", "docker.io/calico/*", "/files/*", "/apt/*"]}
  - {who: anonymous, allow: ["/files/*"], deny: ["/files/private/*"]}
"#;

    fn parse(text: &str) -> Result<AuthConfig, AuthFileError> {
        AuthConfig::parse(Path::new("auth.yaml"), text)
    }

    #[test]
    fn the_issue_example_parses() {
        let config = parse(GOOD).unwrap();
        assert_eq!(config.users.len(), 2);
        assert_eq!(config.policy.rules.len(), 2);
        assert_eq!(
            config
                .user_for_certificate(&["node1.site.example".into()])
                .map(|u| u.name.as_str()),
            Some("node1")
        );
    }

    #[test]
    fn a_typo_is_reported_with_line_and_column() {
        let err = parse(&GOOD.replace("allow: [\"registry", "alow: [\"registry")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("auth.yaml:7:"), "{text}");
        assert!(text.contains("alow"), "{text}");
    }

    #[test]
    fn mistakes_name_the_thing() {
        let err = parse(&GOOD.replace("[node1, alice]", "[node1, alicia]")).unwrap_err();
        assert!(err.to_string().contains("auth.yaml:5:"), "{err}");
        assert!(err.to_string().contains("alicia"), "{err}");
        let err = parse(&GOOD.replace("group:nodes", "group:node")).unwrap_err();
        assert!(err.to_string().contains("group `node`"), "{err}");
        let err = parse(&GOOD.replace(
            "\"$2y$05$abcdefghijklmnopqrstuu5Ut8Xv1mQkzT7yM0W3cXvQZ5X8gYf0a\"",
            "hunter2",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("never the password"), "{err}");
        let err = parse(&GOOD.replace("\"/apt/*\"", "\"apt\"")).unwrap_err();
        assert!(err.to_string().contains("`apt`"), "{err}");
    }
}
