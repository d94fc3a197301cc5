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
