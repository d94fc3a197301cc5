//! Platforms (`os[(os.version)]/arch[/variant]`) as written in manifests, lockfiles and
//! `index.json`, and the one rule that decides which entries of an OCI index serve a
//! requested platform.
//!
//! Pure logic. The rule is containerd's (`platforms.Only`, which its image pull uses):
//! platforms are normalised first (`x86_64` → `amd64`, `amd64/v1` → `amd64`, `arm64/v8` →
//! `arm64`, `arm` → `arm/v7`), a request takes its own variant and then the older variants
//! of the same architecture that its CPU also runs (`amd64/v3` → v2 → baseline, `arm/v7` →
//! v6 → v5, `arm64/v8.2` → v8.1 → v8), never a newer one: a plain `linux/amd64` is what a
//! baseline amd64 node pulls, so `linux/amd64/v2` does not serve it. Among entries that serve
//! a request equally, the one written exactly as asked comes first, then index order. Unlike
//! containerd, no other architecture stands in (`386` for `amd64`, `arm` for `arm64`): a
//! bundle carries those only when they are listed. Not for the walk over descriptors
//! (`bundle::graph`) nor the JSON fields (`oci`).

use std::cmp::Reverse;
use std::fmt;
use std::str::FromStr;

/// A platform such as `linux/amd64`, `linux/arm/v7` or `windows(10.0.20348)/amd64`.
///
/// As a request (`spec.platforms`), `os_version` chooses Windows builds by prefix; as a pin
/// (lockfile, `index.json`), it is the `os.version` of the entry carried.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub os_version: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{0}` is not a platform: write os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7 (or windows(10.0.20348)/amd64 for one Windows build)"
)]
pub struct PlatformError(pub String);

fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// containerd's normalised architecture and variant (`normalizeArch`); the default variant
/// of amd64 (v1) and arm64 (v8) is the empty string, arm's is `v7`.
fn normalized(architecture: &str, variant: Option<&str>) -> (String, String) {
    let arch = architecture.to_ascii_lowercase();
    let variant = variant.unwrap_or_default().to_ascii_lowercase();
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let variant = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), variant)
        }
        "aarch64" | "arm64" => {
            let variant = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".into(),
                _ => variant,
            };
            ("arm64".into(), variant)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let variant = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), variant)
        }
        _ => (arch, variant),
    }
}

/// The variants a request for normalised `(arch, variant)` takes, best first
/// (containerd's `platformVector`, same architecture only), each normalised.
fn compatible_variants(arch: &str, variant: &str) -> Vec<String> {
    let numbered = |v: &str| v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok());
    let mut vector = vec![variant.to_string()];
    match arch {
        "amd64" => {
            if let Some(level) = numbered(variant).filter(|l| *l > 1) {
                vector.extend((2..level).rev().map(|l| format!("v{l}")));
                vector.push(String::new());
            }
        }
        "arm" => {
            if let Some(level) = numbered(variant).filter(|l| *l > 5) {
                vector.extend((5..level).rev().map(|l| format!("v{l}")));
            }
        }
        "arm64" => {
            let full = if variant.is_empty() { "v8" } else { variant };
            let (major, minor) = match full.split_once('.') {
                Some((major, minor)) => (numbered(major), minor.parse::<u32>().ok()),
                None => (numbered(full), Some(0)),
            };
            let arm64 = |major: u32, minor: u32| match (major, minor) {
                (8, 0) => String::new(),
                (major, 0) => format!("v{major}"),
                (major, minor) => format!("v{major}.{minor}"),
            };
            if let (Some(mut major), Some(mut minor)) = (major, minor) {
                if major == 9 {
                    vector.extend((0..minor).rev().map(|m| arm64(9, m)));
                    // v9.x runs what v8.(x+5) runs (up to v8.9).
                    major = 8;
                    minor = (minor + 5).min(9);
                    vector.push(arm64(8, minor));
                }
                if major == 8 {
                    vector.extend((0..minor).rev().map(|m| arm64(8, m)));
                }
            }
        }
        _ => {}
    }
    vector.dedup();
    vector
}

/// The revision (fourth field) of a Windows `os.version`; a higher one is preferred.
fn revision(os_version: Option<&str>) -> u64 {
    os_version
        .and_then(|v| v.split('.').nth(3))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// How well an entry serves a request: lower is better.
type Rank = (usize, bool, Reverse<u64>);

impl Platform {
    /// `os/arch[/variant]` with no Windows build.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: normalize_arch(architecture).to_string(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
            os_version: None,
        }
    }

    /// The same platform with a Windows build (`os.version`), when there is one.
    pub fn with_os_version(mut self, os_version: Option<&str>) -> Platform {
        self.os_version = os_version.filter(|v| !v.is_empty()).map(str::to_string);
        self
    }

    /// How well `offered` (an index entry or an image config) serves this request, or
    /// `None` when a node asking for this platform would not take it.
    fn rank(&self, offered: &Platform) -> Option<Rank> {
        if !self.os.eq_ignore_ascii_case(&offered.os) {
            return None;
        }
        if let Some(build) = &self.os_version {
            let version = offered.os_version.as_deref()?;
            let prefix_ok = version
                .strip_prefix(build.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
            if !prefix_ok {
                return None;
            }
        }
        let (arch, variant) = normalized(&self.architecture, self.variant.as_deref());
        let (offered_arch, offered_variant) =
            normalized(&offered.architecture, offered.variant.as_deref());
        if arch != offered_arch {
            return None;
        }
        let position = compatible_variants(&arch, &variant)
            .iter()
            .position(|v| *v == offered_variant)?;
        let exact = self.architecture == offered.architecture && self.variant == offered.variant;
        let preferred_build = match self.os_version {
            Some(_) => revision(offered.os_version.as_deref()),
            None => 0,
        };
        Some((position, !exact, Reverse(preferred_build)))
    }

    /// Whether a node asking for this platform takes `offered`.
    pub fn serves(&self, offered: &Platform) -> bool {
        self.rank(offered).is_some()
    }

    /// Whether `offered` is the same OS and architecture, whatever its variant or build.
    pub fn same_architecture(&self, offered: &Platform) -> bool {
        self.os.eq_ignore_ascii_case(&offered.os)
            && normalized(&self.architecture, None).0 == normalized(&offered.architecture, None).0
    }

    /// The entries of an index (in index order; `None` for an entry with no platform) that a
    /// node asking for this platform takes, as positions in index order: the best entry, or,
    /// when the request names no Windows build, the best entry of each `os.version` listed
    /// (a node runs only its own build, and the site's builds are not known here). Empty
    /// when none serves it.
    pub fn select(&self, offered: &[Option<Platform>]) -> Vec<usize> {
        let mut best: Vec<(Option<&str>, Rank, usize)> = Vec::new();
        for (position, entry) in offered.iter().enumerate() {
            let Some((entry, rank)) = entry.as_ref().and_then(|e| Some((e, self.rank(e)?))) else {
                continue;
            };
            // A request naming a build takes its best entry; one naming none, one per build.
            let build = match self.os_version {
                Some(_) => None,
                None => entry.os_version.as_deref(),
            };
            match best.iter_mut().find(|(b, _, _)| *b == build) {
                Some(slot) if rank < slot.1 => *slot = (build, rank, position),
                Some(_) => {}
                None => best.push((build, rank, position)),
            }
        }
        let mut chosen: Vec<usize> = best.into_iter().map(|(_, _, position)| position).collect();
        chosen.sort_unstable();
        chosen
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = || PlatformError(s.to_string());
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &str, extra: &[u8]| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b) || extra.contains(&b))
        };
        if !(2..=3).contains(&parts.len()) {
            return Err(fail());
        }
        let (os, os_version) = match parts[0].split_once('(') {
            Some((os, rest)) => {
                let version = rest.strip_suffix(')').ok_or_else(fail)?;
                if !version.is_empty() && !valid(version, b".") {
                    return Err(fail());
                }
                (os, Some(version))
            }
            None => (parts[0], None),
        };
        if !valid(os, b"") || !parts[1..].iter().all(|p| valid(p, b".")) {
            return Err(fail());
        }
        Ok(Platform::new(os, parts[1], parts.get(2).copied()).with_os_version(os_version))
    }
}

impl fmt::Display for Platform {
    /// containerd's `FormatAll`: `os[(os.version)]/arch[/variant]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.os)?;
        if let Some(build) = &self.os_version {
            write!(f, "({build})")?;
        }
        write!(f, "/{}", self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    /// What `wanted` selects from an index listing `offered`, as written.
    fn select(wanted: &str, offered: &[&str]) -> Vec<String> {
        let entries: Vec<Option<Platform>> = offered.iter().map(|o| Some(p(o))).collect();
        p(wanted)
            .select(&entries)
            .into_iter()
            .map(|i| offered[i].to_string())
            .collect()
    }

    #[test]
    fn parses_normalises_and_prints_back() {
        assert_eq!(p("linux/aarch64").to_string(), "linux/arm64");
        assert_eq!(p("linux/x86_64/v2").to_string(), "linux/amd64/v2");
        assert_eq!(p("linux/arm/v7").variant.as_deref(), Some("v7"));
        assert_eq!(p("linux/arm64/v8.2").to_string(), "linux/arm64/v8.2");
        let windows = p("windows(10.0.20348.2655)/amd64");
        assert_eq!(windows.os, "windows");
        assert_eq!(windows.os_version.as_deref(), Some("10.0.20348.2655"));
        assert_eq!(windows.to_string(), "windows(10.0.20348.2655)/amd64");
        assert_eq!(p("windows()/amd64").to_string(), "windows/amd64");
        for bad in [
            "linux",
            "linux/amd64/v2/x",
            "linux//v7",
            "windows(10.0/amd64",
            "windows(1 0)/amd64",
            "lin.ux/amd64",
            "windows(10.0)x/amd64",
        ] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_plain_request_is_a_baseline_node() {
        // containerd on a baseline amd64 node takes amd64 and amd64/v1, never v2 or v3.
        assert!(p("linux/amd64").serves(&p("linux/amd64")));
        assert!(p("linux/amd64").serves(&p("linux/amd64/v1")));
        assert!(p("linux/amd64").serves(&p("linux/x86_64")));
        assert!(!p("linux/amd64").serves(&p("linux/amd64/v2")));
        assert!(!p("linux/amd64").serves(&p("linux/amd64/v3")));
        assert!(!p("linux/amd64").serves(&p("linux/arm64")));
        assert!(!p("linux/amd64").serves(&p("windows/amd64")));
        assert!(!p("linux/amd64").serves(&p("linux/386")));
        assert!(p("linux/arm64").serves(&p("linux/arm64/v8")));
        assert!(p("linux/arm64/v8").serves(&p("linux/arm64")));
        assert!(!p("linux/arm64").serves(&p("linux/arm64/v9")));
        assert!(!p("linux/arm64").serves(&p("linux/arm/v7")));
        // arm's default variant is v7, which also runs v6 and v5.
        assert!(p("linux/arm").serves(&p("linux/arm/v7")));
        assert!(p("linux/arm").serves(&p("linux/arm/v6")));
        assert!(p("linux/arm/v7").serves(&p("linux/arm")));
        assert!(p("linux/arm/7").serves(&p("linux/arm/v7")));
        assert!(!p("linux/arm/v6").serves(&p("linux/arm/v7")));
        assert!(!p("linux/arm/v7").serves(&p("linux/arm/v8")));
    }

    #[test]
    fn the_exact_variant_comes_first_never_the_first_entry_by_accident() {
        assert_eq!(
            select("linux/amd64", &["linux/amd64/v2", "linux/amd64"]),
            ["linux/amd64"]
        );
        assert_eq!(
            select("linux/amd64", &["linux/amd64/v1", "linux/amd64"]),
            ["linux/amd64"]
        );
        assert_eq!(
            select("linux/amd64", &["linux/amd64/v3", "linux/amd64/v1"]),
            ["linux/amd64/v1"]
        );
        assert_eq!(
            select("linux/arm/v7", &["linux/arm/v6", "linux/arm/v7"]),
            ["linux/arm/v7"]
        );
        assert_eq!(
            select("linux/arm", &["linux/arm/v6", "linux/arm/v7"]),
            ["linux/arm/v7"]
        );
        assert_eq!(
            select("linux/arm64", &["linux/arm/v7", "linux/arm64/v8"]),
            ["linux/arm64/v8"]
        );
        assert!(select("linux/amd64", &["linux/amd64/v3", "linux/arm64"]).is_empty());
    }

    #[test]
    fn a_newer_variant_request_falls_back_to_older_ones_in_order() {
        let index = ["linux/amd64", "linux/amd64/v2", "linux/amd64/v3"];
        assert_eq!(select("linux/amd64/v3", &index), ["linux/amd64/v3"]);
        assert_eq!(select("linux/amd64/v4", &index), ["linux/amd64/v3"]);
        assert_eq!(select("linux/amd64/v2", &index), ["linux/amd64/v2"]);
        assert_eq!(select("linux/amd64/v3", &index[..1]), ["linux/amd64"]);
        assert_eq!(
            select("linux/arm/v7", &["linux/arm/v5", "linux/arm/v6"]),
            ["linux/arm/v6"]
        );
        assert_eq!(
            select("linux/arm64/v8.2", &["linux/arm64", "linux/arm64/v8.1"]),
            ["linux/arm64/v8.1"]
        );
        assert_eq!(
            select("linux/arm64/v9.1", &["linux/arm64", "linux/arm64/v8.6"]),
            ["linux/arm64/v8.6"]
        );
    }

    #[test]
    fn windows_takes_one_entry_per_build_or_the_build_asked_for() {
        let index = [
            "linux/amd64",
            "windows(10.0.17763.6189)/amd64",
            "windows(10.0.20348.2655)/amd64",
            "windows(10.0.20348.2700)/amd64",
        ];
        assert_eq!(
            select("windows/amd64", &index),
            [
                "windows(10.0.17763.6189)/amd64",
                "windows(10.0.20348.2655)/amd64",
                "windows(10.0.20348.2700)/amd64"
            ]
        );
        // One build: its highest revision, as containerd on that host prefers.
        assert_eq!(
            select("windows(10.0.20348)/amd64", &index),
            ["windows(10.0.20348.2700)/amd64"]
        );
        assert_eq!(
            select("windows(10.0.20348.2655)/amd64", &index),
            ["windows(10.0.20348.2655)/amd64"]
        );
        assert!(select("windows(10.0.2034)/amd64", &index).is_empty());
        assert!(select("windows(10.0.26100)/amd64", &index).is_empty());
    }

    #[test]
    fn a_recorded_entry_selects_itself_again() {
        // What the lockfile records for an entry is a request that selects that entry.
        let index = [
            "linux/amd64/v2",
            "linux/amd64",
            "linux/amd64/v1",
            "linux/arm/v6",
            "linux/arm",
            "linux/arm64/v8",
            "windows(10.0.17763.1)/amd64",
            "windows(10.0.20348.1)/amd64",
        ];
        for (position, entry) in index.iter().enumerate() {
            let recorded = p(entry).to_string();
            let entries: Vec<Option<Platform>> = index.iter().map(|o| Some(p(o))).collect();
            assert_eq!(p(&recorded).select(&entries), [position], "{recorded}");
        }
    }
}
