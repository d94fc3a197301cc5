//! Upstream overrides (`spec.upstreams`): where requests for a registry or a file host really
//! go — a scheme, a host and port, and optionally a path (a file host's base path, a
//! registry's repository prefix, as Artifactory, Nexus and Harbor proxies name them). Pure:
//! parsing and the path grammar; the clients in `http` and `registry` apply them.

/// An upstream override: where requests for a registry or file host really go.
///
/// Only where requests go changes: names (pinned references, lockfile URLs, mirror paths,
/// served names) stay the upstream host's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `host[:port]` to connect to.
    pub authority: String,
    /// Plain HTTP (loopback test registries) rather than HTTPS.
    pub plain_http: bool,
    /// The base URL's path without its outer slashes (`artifactory/api/generic/dl-k8s`), or
    /// empty. A file host's URL path is appended to it; for a registry it is a repository
    /// prefix (`dockerhub-proxy` fetches `docker.io/calico/node` as
    /// `dockerhub-proxy/calico/node`, and `docker.io/library/alpine` as
    /// `dockerhub-proxy/library/alpine`, as Harbor's and Nexus's Docker Hub proxies name them).
    pub path: String,
}

impl Upstream {
    /// `path` as a URL path prefix: empty, or `/` followed by the path.
    pub fn url_prefix(&self) -> String {
        if self.path.is_empty() {
            String::new()
        } else {
            format!("/{}", self.path)
        }
    }

    /// `repository` as this upstream names it: behind the repository prefix, if any.
    pub fn repository(&self, repository: &str) -> String {
        if self.path.is_empty() {
            repository.to_string()
        } else {
            format!("{}/{repository}", self.path)
        }
    }
}

/// `http://host:port` or `https://host[:port][/path/]` → an [`Upstream`].
///
/// The path is a plain one (letters, digits, `-._~`, segments split by single `/`): no query,
/// fragment, percent-encoding, `.` or `..` segment, so that appending a request's path to it
/// can never point elsewhere.
pub fn parse_upstream(url: &str) -> Result<Upstream, String> {
    let (plain_http, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (false, rest)
    } else {
        return Err(format!("`{url}` must start with http:// or https://"));
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !ok {
        return Err(format!(
            "`{url}` must be a scheme and host[:port], optionally followed by a path"
        ));
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments_ok = path.is_empty()
        || path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        });
    if !segments_ok {
        return Err(format!(
            "`{url}`: the path must be plain segments (letters, digits, `-._~`) split by single `/`, without `.`, `..`, `%`, `?` or `#`"
        ));
    }
    Ok(Upstream {
        authority: authority.to_string(),
        plain_http,
        path: path.to_string(),
    })
}

/// A registry upstream's path is a repository prefix, so each segment must be a path
/// component of the distribution spec's name grammar (`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`).
pub(crate) fn check_repository_prefix(path: &str) -> Result<(), String> {
    if path.is_empty() || path.split('/').all(crate::reference::is_path_component) {
        return Ok(());
    }
    Err(
        "a registry's path is a repository prefix: each segment must be lowercase letters and digits, separated by `.`, `_`, `__` or `-` (as in `dockerhub-proxy`)"
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_may_carry_a_base_path_or_a_repository_prefix() {
        let files =
            parse_upstream("https://artifactory.corp/artifactory/api/generic/dl-k8s/").unwrap();
        assert_eq!(files.authority, "artifactory.corp");
        assert_eq!(files.path, "artifactory/api/generic/dl-k8s");
        assert_eq!(files.url_prefix(), "/artifactory/api/generic/dl-k8s");
        let harbor = parse_upstream("https://harbor.corp/dockerhub-proxy").unwrap();
        assert_eq!(
            harbor.repository("calico/node"),
            "dockerhub-proxy/calico/node"
        );
        assert_eq!(
            harbor.repository("library/alpine"),
            "dockerhub-proxy/library/alpine"
        );
        let bare = parse_upstream("http://127.0.0.1:5000/").unwrap();
        assert_eq!((bare.path.as_str(), bare.url_prefix()), ("", String::new()));
        assert_eq!(bare.repository("library/alpine"), "library/alpine");
        for bad in [
            "https://h/a//b",
            "https://h/a/../b",
            "https://h/./a",
            "https://h/a%2Fb",
            "https://h/a?b",
            "https://h/a#b",
            "https://h/a b",
            "https:///a",
        ] {
            assert!(parse_upstream(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repository_prefix_components_follow_the_distribution_grammar() {
        for good in [
            "a",
            "dockerhub-proxy",
            "a.b",
            "a_b",
            "a__b",
            "a---b",
            "proxy/docker-hub",
            "0",
        ] {
            assert!(check_repository_prefix(good).is_ok(), "{good}");
        }
        for bad in ["A", "-a", "a-", "a___b", "a._b", "a~b", "a.", "_a"] {
            assert!(check_repository_prefix(bad).is_err(), "{bad}");
        }
    }
}
