//! apt source entries: the one-line `sources.list` format and deb822 `.sources` files, and
//! the host's own configuration (`/etc/apt/sources.list`, `sources.list.d/*`). Parsing is
//! pure; `system_sources` only reads those files.

use super::control;
use std::path::{Path, PathBuf};

/// One `deb` source: an archive URI, a suite and its components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
    /// Keyring path from `signed-by` / `Signed-By` (None: the system's trusted keys).
    pub signed_by: Option<PathBuf>,
    pub trusted: bool,
}

/// Parses the one-line format (`deb [options] uri suite component…`); `deb-src` is skipped.
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut sources = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        else {
            continue;
        };
        let mut rest = rest.trim();
        let mut signed_by = None;
        let mut trusted = false;
        if let Some(options) = rest.strip_prefix('[') {
            let Some((options, after)) = options.split_once(']') else {
                continue;
            };
            for option in options.split_whitespace() {
                match option.split_once('=') {
                    Some(("signed-by", value)) => signed_by = Some(PathBuf::from(value)),
                    Some(("trusted", value)) => trusted = value == "yes",
                    _ => {}
                }
            }
            rest = after.trim();
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        if words.len() < 2 {
            continue;
        }
        sources.push(AptSource {
            uri: words[0].trim_end_matches('/').to_string(),
            suite: words[1].to_string(),
            components: words[2..].iter().map(|c| c.to_string()).collect(),
            signed_by,
            trusted,
        });
    }
    sources
}

/// Parses deb822 `.sources` (every URI × Suite, `Types` must include `deb`).
pub fn parse_deb822(text: &str) -> Result<Vec<AptSource>, control::ControlError> {
    let mut sources = Vec::new();
    for paragraph in control::parse(text)? {
        let types = paragraph.get("Types").unwrap_or("");
        if !types.split_whitespace().any(|t| t == "deb") || paragraph.get("Enabled") == Some("no") {
            continue;
        }
        let components: Vec<String> = paragraph
            .get("Components")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        // Signed-By may name keyring files or embed a key; an embedded key (or a fingerprint)
        // is kept as given and refused when read, rather than widening trust to apt's
        // global keys.
        let signed_by = paragraph.get("Signed-By").map(|value| {
            if value.contains("BEGIN PGP") || !value.trim_start().starts_with('/') {
                PathBuf::from(format!(
                    "unsupported Signed-By value: {}",
                    value.lines().next().unwrap_or("")
                ))
            } else {
                PathBuf::from(value.split_whitespace().next().unwrap_or(""))
            }
        });
        let trusted = paragraph.get("Trusted") == Some("yes");
        for uri in paragraph.get("URIs").unwrap_or("").split_whitespace() {
            for suite in paragraph.get("Suites").unwrap_or("").split_whitespace() {
                sources.push(AptSource {
                    uri: uri.trim_end_matches('/').to_string(),
                    suite: suite.to_string(),
                    components: components.clone(),
                    signed_by: signed_by.clone(),
                    trusted,
                });
            }
        }
    }
    Ok(sources)
}

/// The sources configured on this host under `etc_apt` (normally `/etc/apt`).
pub fn system_sources(etc_apt: &Path) -> std::io::Result<Vec<AptSource>> {
    let mut sources = Vec::new();
    if let Ok(text) = std::fs::read_to_string(etc_apt.join("sources.list")) {
        sources.extend(parse_one_line(&text));
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(etc_apt.join("sources.list.d")) {
        Ok(dir) => dir.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    entries.sort();
    for path in entries {
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("list") | Some("sources") => std::fs::read_to_string(&path)?,
            _ => continue,
        };
        if path.extension().and_then(|e| e.to_str()) == Some("list") {
            sources.extend(parse_one_line(&text));
        } else {
            sources.extend(
                parse_deb822(&text)
                    .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?,
            );
        }
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_sources() {
        let text = "# comment\ndeb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://archive.test/debian/ bookworm main contrib\ndeb-src http://archive.test/debian bookworm main\ndeb http://security.test/debian-security bookworm-security main # trailing\n";
        let sources = parse_one_line(text);
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].uri, "http://archive.test/debian");
        assert_eq!(sources[0].components, ["main", "contrib"]);
        assert_eq!(
            sources[0].signed_by.as_deref(),
            Some(Path::new("/usr/share/keyrings/k.gpg"))
        );
        assert_eq!(sources[1].suite, "bookworm-security");
    }

    #[test]
    fn deb822_sources() {
        let text = "Types: deb deb-src\nURIs: http://archive.test/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb-src\nURIs: http://x.test\nSuites: y\nComponents: main\n";
        let sources = parse_deb822(text).unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[1].suite, "bookworm-updates");
        assert_eq!(
            sources[0].signed_by.as_deref(),
            Some(Path::new("/usr/share/keyrings/debian-archive-keyring.gpg"))
        );
    }
}
