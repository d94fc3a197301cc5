//! The one model every runtime's configuration is rendered from: which upstream registries
//! the site's bundles hold, the mirrors (in the order nodes try them) that serve them, and
//! the CA file (its path on the nodes) that signs the mirrors' certificates.

/// One mirror as nodes reach it: `http://host[:port]` or `https://host[:port]`, no trailing
/// `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror(String);

impl Mirror {
    /// Parses `--mirror URL`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Mirror, String> {
        let trimmed = text.trim().trim_end_matches('/');
        let authority = trimmed
            .strip_prefix("http://")
            .or_else(|| trimmed.strip_prefix("https://"));
        match authority {
            Some(authority) if !authority.is_empty() && !authority.contains('/') => {
                if !valid_authority(authority) {
                    return Err(format!(
                        "--mirror {text}: `{authority}` is not a host[:port] (a DNS name, an IPv4 address or a bracketed IPv6 address, and a port number)"
                    ));
                }
                Ok(Mirror(trimmed.to_string()))
            }
            Some(authority) if authority.contains('/') => Err(format!(
                "--mirror {text}: give the mirror's scheme, host and port only (no path)"
            )),
            _ => Err(format!(
                "--mirror {text}: give the mirror's URL as nodes reach it (https://host:port or http://host:port)"
            )),
        }
    }

    /// `https://mirror.site:5000`.
    pub fn url(&self) -> &str {
        &self.0
    }

    /// `mirror.site:5000`: the URL without its scheme.
    pub fn host(&self) -> &str {
        self.0.split_once("://").map_or(&self.0, |(_, rest)| rest)
    }

    /// Whether nodes reach it over TLS.
    pub fn is_tls(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl std::fmt::Display for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `host[:port]` with a DNS name, an IPv4 address or a bracketed IPv6 address: nothing a
/// runtime's file would need quoted or would read as user info, a query or a fragment.
fn valid_authority(authority: &str) -> bool {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty()
            || !v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return false;
        }
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return false,
        };
        (None, port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        (Some(host), port)
    };
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    });
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_are_scheme_host_and_port_only() {
        for good in [
            "https://mirror.site:5000/",
            "http://10.0.0.5:5000",
            "https://[fd00::1]:5000",
            "https://m",
        ] {
            assert!(Mirror::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "https://a b",
            "https://m\"x:5000",
            "https://user@m:5000",
            "https://m:5000?x",
            "https://m:port",
            "https://[fd00::1",
            "https://m:5000/path",
            "ftp://m",
        ] {
            assert!(Mirror::parse(bad).is_err(), "{bad}");
        }
    }
}

/// Which registries are mirrored where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteMirrors {
    /// Upstream registry hosts the bundles hold images of (`docker.io`, `registry.k8s.io`),
    /// sorted, lower case.
    pub registries: Vec<String>,
    /// The mirrors, in the order nodes try them (at least one).
    pub mirrors: Vec<Mirror>,
    /// The CA file that signs the mirrors' certificates, as a path on the nodes.
    pub ca: Option<String>,
}

/// `text` as a TOML basic string (quoted; `"`, `\\` and control characters escaped): the
/// one quoting of every TOML file outpost writes (containerd `hosts.toml`, `registries.conf`).
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl SiteMirrors {
    /// Where each TLS mirror's CA goes under a `certs.d` directory (`/etc/containers/certs.d`,
    /// `/etc/docker/certs.d`): `<certs_d>/<host:port>/ca.crt`, in mirror order; none for
    /// `http://` mirrors.
    pub fn ca_paths(&self, certs_d: &str) -> Vec<String> {
        self.mirrors
            .iter()
            .filter(|m| m.is_tls())
            .map(|m| format!("{certs_d}/{}/ca.crt", m.host()))
            .collect()
    }
}
