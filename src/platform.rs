//! Platforms (`os/arch[/variant]`) as written in manifests and matched against OCI indexes.
//!
//! Pure logic: parsing, normalising (`aarch64` → `arm64`, arm64's default `v8` variant) and
//! deciding whether an index entry serves a requested platform.

use std::fmt;
use std::str::FromStr;

/// A requested platform such as `linux/amd64` or `linux/arm/v7`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{0}` is not a platform: write os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7"
)]
pub struct PlatformError(pub String);

fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The variant to compare with: arm64 images omit `v8`, which is the only arm64 variant.
fn effective_variant<'a>(arch: &str, variant: Option<&'a str>) -> Option<&'a str> {
    match (arch, variant) {
        ("arm64", Some("v8")) | ("arm64", None) => None,
        (_, Some("")) => None,
        (_, v) => v,
    }
}

impl Platform {
    /// Whether an index entry (or image config) with these fields serves this platform.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        let arch = normalize_arch(architecture);
        if self.os != os || self.architecture != arch {
            return false;
        }
        let wanted = effective_variant(&self.architecture, self.variant.as_deref());
        let offered = effective_variant(arch, variant);
        // A request without a variant takes any variant; a request with one needs that one.
        wanted.is_none() || wanted == offered
    }

    /// `os/arch[/variant]` for an entry that is not a request (used to list what is on offer).
    pub fn describe(os: &str, architecture: &str, variant: Option<&str>) -> String {
        match variant.filter(|v| !v.is_empty()) {
            Some(v) => format!("{os}/{architecture}/{v}"),
            None => format!("{os}/{architecture}"),
        }
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &&str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(valid) {
            return Err(PlatformError(s.to_string()));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: normalize_arch(parts[1]).to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Self::describe(
            &self.os,
            &self.architecture,
            self.variant.as_deref(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(p("linux/aarch64").to_string(), "linux/arm64");
        assert_eq!(p("linux/arm/v7").variant.as_deref(), Some("v7"));
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux/amd64/v2/x".parse::<Platform>().is_err());
        assert!("linux//v7".parse::<Platform>().is_err());
    }

    #[test]
    fn matching_follows_variant_rules() {
        assert!(p("linux/amd64").matches("linux", "amd64", None));
        assert!(!p("linux/amd64").matches("linux", "arm64", None));
        assert!(!p("linux/amd64").matches("windows", "amd64", None));
        assert!(p("linux/arm64").matches("linux", "arm64", Some("v8")));
        assert!(p("linux/arm64/v8").matches("linux", "arm64", None));
        assert!(p("linux/arm/v7").matches("linux", "arm", Some("v7")));
        assert!(!p("linux/arm/v7").matches("linux", "arm", Some("v6")));
        assert!(p("linux/arm").matches("linux", "arm", Some("v6")));
    }
}
