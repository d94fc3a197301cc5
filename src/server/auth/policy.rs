//! Authorisation rules (pure): who may reach which repository or path.
//!
//! A rule is `{who: [..], allow: [globs], deny: [globs]}`. Rules are tried in order; the first
//! rule that names the subject AND has a glob (in `allow` or `deny`) matching the resource
//! decides, `deny` winning within a rule. When no rule decides, access is denied.
//!
//! `who` entries: a user name, `group:NAME`, `cert:NAME` (a client certificate's CN or DNS
//! SAN) or `anonymous`. `anonymous` names every request, authenticated or not: a user may
//! always do what an anonymous client may.
//!
//! Globs: `*` matches any run of characters (`/` included), `?` one character. A glob
//! starting with `/` matches request paths (`/files/*`, `/apt/*`, `/charts/*`, `/ui/*`,
//! `/metrics`; `/files/*` also matches `/files` itself); any other glob matches full
//! repository names (`registry.k8s.io/*`, `docker.io/calico/*`), with Docker Hub's implied
//! `library/` added as the catalog names repositories (`docker.io/nginx` is
//! `docker.io/library/nginx`).

use std::collections::{BTreeMap, BTreeSet};

/// Who is asking, as the rules see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// The auth file's user (by password, token, or a certificate mapped to the user).
    pub user: Option<String>,
    /// The client certificate's CN and DNS SANs, when one was presented.
    pub certificate: Vec<String>,
}

impl Subject {
    pub fn anonymous() -> Subject {
        Subject::default()
    }

    pub fn user(name: &str) -> Subject {
        Subject {
            user: Some(name.to_string()),
            certificate: Vec::new(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.user.is_none() && self.certificate.is_empty()
    }
}

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A full repository name as the catalog holds it (`registry.test/library/alpha`).
    Repository(&'a str),
    /// A request path (`/files/kubectl`).
    Path(&'a str),
}

/// One entry of a rule's `who`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Anonymous,
    User(String),
    Group(String),
    Certificate(String),
}

impl Who {
    /// Parses `anonymous`, `group:NAME`, `cert:NAME` or a user name.
    pub fn parse(text: &str) -> Who {
        if text == "anonymous" {
            Who::Anonymous
        } else if let Some(group) = text.strip_prefix("group:") {
            Who::Group(group.to_string())
        } else if let Some(cert) = text.strip_prefix("cert:") {
            Who::Certificate(cert.to_string())
        } else {
            Who::User(text.to_string())
        }
    }
}

/// One rule, its globs normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub who: Vec<Who>,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// The rules and the groups they name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
    /// Group name to its members (user names).
    pub groups: BTreeMap<String, BTreeSet<String>>,
}

impl Policy {
    /// Whether `subject` may read `resource`.
    pub fn allows(&self, subject: &Subject, resource: Resource<'_>) -> bool {
        for rule in &self.rules {
            if !rule.who.iter().any(|who| self.names(who, subject)) {
                continue;
            }
            if rule
                .deny
                .iter()
                .any(|glob| glob_matches_resource(glob, resource))
            {
                return false;
            }
            if rule
                .allow
                .iter()
                .any(|glob| glob_matches_resource(glob, resource))
            {
                return true;
            }
        }
        false
    }

    /// Whether `subject` may pull at least one repository (decides whether `/v2/` asks an
    /// anonymous client to log in).
    pub fn allows_any_repository(&self, subject: &Subject) -> bool {
        self.rules.iter().any(|rule| {
            rule.who.iter().any(|who| self.names(who, subject))
                && rule.allow.iter().any(|glob| !glob.starts_with('/'))
        })
    }

    fn names(&self, who: &Who, subject: &Subject) -> bool {
        match who {
            Who::Anonymous => true,
            Who::User(name) => subject.user.as_deref() == Some(name.as_str()),
            Who::Group(group) => match (&subject.user, self.groups.get(group)) {
                (Some(user), Some(members)) => members.contains(user),
                _ => false,
            },
            Who::Certificate(name) => subject.certificate.iter().any(|n| n == name),
        }
    }
}

/// A glob as written in the auth file, normalised: repository globs get Docker Hub's
/// `library/` (`docker.io/nginx` → `docker.io/library/nginx`).
pub fn normalise_glob(glob: &str) -> String {
    if let Some(rest) = glob.strip_prefix("docker.io/") {
        if !rest.contains('/') && !rest.contains('*') && !rest.contains('?') {
            return format!("docker.io/library/{rest}");
        }
    }
    glob.to_string()
}

fn glob_matches_resource(glob: &str, resource: Resource<'_>) -> bool {
    match resource {
        Resource::Repository(name) => !glob.starts_with('/') && glob_matches(glob, name),
        Resource::Path(path) => {
            glob.starts_with('/')
                && (glob_matches(glob, path)
                    || glob
                        .strip_suffix("/*")
                        .is_some_and(|dir| path == dir || path.strip_suffix('/') == Some(dir)))
        }
    }
}

/// `*` matches any run of characters, `?` exactly one; everything else matches itself.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let (g, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    // Iterative matching with backtracking to the last `*` (linear in practice).
    let (mut gi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == t[ti]) {
            gi += 1;
            ti += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some((gi, ti));
            gi += 1;
        } else if let Some((star_g, star_t)) = star {
            gi = star_g + 1;
            ti = star_t + 1;
            star = Some((star_g, star_t + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let rule = |who: &[&str], allow: &[&str], deny: &[&str]| Rule {
            who: who.iter().map(|w| Who::parse(w)).collect(),
            allow: allow.iter().map(|g| normalise_glob(g)).collect(),
            deny: deny.iter().map(|g| normalise_glob(g)).collect(),
        };
        Policy {
            rules: vec![
                rule(
                    &["group:nodes"],
                    &[
                        "registry.k8s.io/*",
                        "docker.io/calico/*",
                        "/files/*",
                        "/apt/*",
                    ],
                    &[],
                ),
                rule(
                    &["carol"],
                    &["registry.test/team-a/*", "docker.io/nginx"],
                    &["registry.test/team-a/secret"],
                ),
                rule(&["cert:builder.site"], &["*"], &[]),
                rule(&["anonymous"], &["/files/*"], &["/files/private/*"]),
            ],
            groups: BTreeMap::from([(
                "nodes".to_string(),
                BTreeSet::from(["node1".to_string(), "alice".to_string()]),
            )]),
        }
    }

    #[test]
    fn globs() {
        assert!(glob_matches(
            "registry.k8s.io/*",
            "registry.k8s.io/coredns/coredns"
        ));
        assert!(!glob_matches("registry.k8s.io/*", "registry.k8s.io.evil/x"));
        assert!(glob_matches("a?c", "abc"));
        assert!(glob_matches("*b*c", "xxbyyc"));
        assert!(!glob_matches("*b*c", "xxbyy"));
        assert!(glob_matches("/metrics", "/metrics"));
        assert!(!glob_matches("/metrics", "/metricsx"));
    }

    #[test]
    fn first_match_wins_and_nothing_matching_is_denied() {
        let p = policy();
        let alice = Subject::user("alice");
        assert!(p.allows(&alice, Resource::Repository("registry.k8s.io/pause")));
        assert!(p.allows(&alice, Resource::Path("/files/kubectl")));
        assert!(!p.allows(&alice, Resource::Repository("registry.test/team-a/x")));
        assert!(!p.allows(&alice, Resource::Path("/metrics")));
        let carol = Subject::user("carol");
        assert!(p.allows(&carol, Resource::Repository("registry.test/team-a/x")));
        assert!(!p.allows(&carol, Resource::Repository("registry.test/team-a/secret")));
        assert!(!p.allows(&carol, Resource::Repository("registry.test/team-b/x")));
        assert!(p.allows(&carol, Resource::Repository("docker.io/library/nginx")));
        // Anonymous rules apply to users too.
        assert!(p.allows(&carol, Resource::Path("/files/kubectl")));
        assert!(p.allows(&carol, Resource::Path("/files")));
        assert!(!p.allows(&carol, Resource::Path("/files/private/key")));
        let anonymous = Subject::anonymous();
        assert!(!p.allows(&anonymous, Resource::Repository("registry.k8s.io/pause")));
        assert!(!p.allows_any_repository(&anonymous));
        assert!(p.allows_any_repository(&carol));
    }

    #[test]
    fn certificates_match_by_cn_or_san() {
        let p = policy();
        let builder = Subject {
            user: None,
            certificate: vec!["builder".into(), "builder.site".into()],
        };
        assert!(p.allows(&builder, Resource::Repository("quay.io/x")));
        assert!(!p.allows(&builder, Resource::Path("/apt/dists")));
        let node = Subject {
            user: Some("node1".into()),
            certificate: vec!["node1.site.example".into()],
        };
        assert!(p.allows(&node, Resource::Path("/apt/dists/x")));
    }
}
