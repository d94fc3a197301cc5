//! apt source entries: the one-line `sources.list` format and deb822 `.sources` files, and
//! the host's own configuration (`/etc/apt/sources.list`, `sources.list.d/*`), with where
//! each source's files live as apt computes it: `<uri>/dists/<suite>/…` for a suite, and
//! `<uri>/<suite>…` for a flat repository (a suite ending in `/`: `./`, `subdir/`, with no
//! components), and apt's encoding of pool file names in URLs. An entry apt would refuse is
//! kept as a [`MalformedSource`] naming its file and line, so one bad line does not hide the
//! others. Parsing is pure; `system_sources` only reads those files.

use super::control;
use std::path::{Path, PathBuf};

/// One `deb` source: an archive URI, a suite and its components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// Without a trailing slash.
    pub uri: String,
    /// A suite (`bookworm`), or a flat repository's directory ending in `/` (`./`).
    pub suite: String,
    /// Empty for a flat repository.
    pub components: Vec<String>,
    /// Keyring path from `signed-by` / `Signed-By` (None: the system's trusted keys).
    pub signed_by: Option<PathBuf>,
    pub trusted: bool,
    /// Where it is configured (`/etc/apt/sources.list.d/vendor.list:3`).
    pub origin: String,
}

/// A `deb` entry apt refuses (`Malformed entry …`): named, and skipped by the resolver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct MalformedSource {
    pub origin: String,
    pub message: String,
}

/// A parsed entry: a usable source, or one apt would refuse.
pub type SourceEntry = Result<AptSource, MalformedSource>;

impl AptSource {
    /// A flat repository: the suite is a path ending in `/` (apt's `isDebianFlatDist`).
    pub fn is_flat(&self) -> bool {
        self.suite.ends_with('/')
    }

    /// How apt names the source in its output: `URI SUITE [COMPONENT…]`.
    pub fn describe(&self) -> String {
        let mut name = format!("{} {}", self.uri, self.suite);
        for component in &self.components {
            name.push(' ');
            name.push_str(component);
        }
        name.trim_end().to_string()
    }

    /// The URL of a file of the suite's metadata (`InRelease`, `Release`, an index path
    /// as the Release lists it): `<uri>/dists/<suite>/<file>`, or `<uri>/<suite><file>` for
    /// a flat repository (`<uri>/<file>` when the suite is `/`), as apt builds them.
    pub fn meta_url(&self, file: &str) -> String {
        if self.suite == "/" {
            format!("{}/{file}", self.uri)
        } else if self.is_flat() {
            format!("{}/{}{file}", self.uri, self.suite)
        } else {
            format!("{}/dists/{}/{file}", self.uri, self.suite)
        }
    }

    /// The directories (relative to the metadata, as the Release lists them) holding the
    /// `Packages` index of `arch`: `<component>/binary-<arch>/` per component, or the
    /// metadata directory itself (`""`) for a flat repository, whose one index lists every
    /// architecture.
    pub fn index_dirs(&self, arch: &str) -> Vec<String> {
        if self.is_flat() {
            vec![String::new()]
        } else {
            self.components
                .iter()
                .map(|component| format!("{component}/binary-{arch}/"))
                .collect()
        }
    }

    /// apt's rule for an entry: a URI and a suite; a flat suite takes no components, any
    /// other suite needs one.
    pub fn check(self) -> SourceEntry {
        let malformed = |message: &str| MalformedSource {
            origin: self.origin.clone(),
            message: format!("{message}: {}", self.describe()),
        };
        if self.uri.is_empty() {
            return Err(malformed("no URI"));
        }
        if self.suite.is_empty() {
            return Err(malformed("no suite"));
        }
        match (self.is_flat(), self.components.is_empty()) {
            (true, false) => Err(malformed(
                "a flat repository (suite ending in `/`) takes no components",
            )),
            (false, true) => Err(malformed("no component")),
            _ => Ok(self),
        }
    }
}

/// The URL apt fetches a package's `Filename` from: relative to the source's URI (not to a
/// flat repository's directory), encoded as apt encodes it (`uri_encode`).
pub fn archive_url(uri: &str, filename: &str) -> String {
    format!("{uri}/{}", uri_encode(filename))
}

/// Where a package's `Filename` lives below a repository, as a plain relative path: the
/// `./` that flat repositories made with `dpkg-scanpackages .` write (`./tool_1.0_all.deb`)
/// and empty segments are dropped (apt's request path has them, and every server resolves
/// them away); the names themselves stay as the index lists them. A `..` segment or an
/// empty path is refused: it would leave the repository.
pub fn pool_path(filename: &str) -> Result<String, &'static str> {
    let mut segments = Vec::new();
    for segment in filename.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err("a `..` segment leaves the repository"),
            name => segments.push(name),
        }
    }
    if segments.is_empty() {
        return Err("no file name");
    }
    Ok(segments.join("/"))
}

/// apt's encoding of a file path in an archive URL (`pkgAcquire::URIEncode`, a
/// `QuoteString` with `Acquire::URIEncode` = `+~ `): `%`, `+`, `~`, space, control
/// characters and every byte outside printable ASCII become `%xx` in lowercase hex;
/// everything else, `/` included, is sent as it is.
pub fn uri_encode(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if b"+~ %".contains(&byte) || !(0x21..0x7f).contains(&byte) {
            encoded.push_str(&format!("%{byte:02x}"));
        } else {
            encoded.push(byte as char);
        }
    }
    encoded
}

/// Parses the one-line format (`deb [options] uri suite [component…]`); `deb-src` is
/// skipped. `file` names the file in messages.
pub fn parse_one_line(text: &str, file: &str) -> Vec<SourceEntry> {
    let mut sources = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let origin = format!("{file}:{}", index + 1);
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
                sources.push(Err(MalformedSource {
                    origin,
                    message: format!("unclosed `[` in `{line}`"),
                }));
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
        let source = AptSource {
            uri: words
                .first()
                .map(|uri| uri.trim_end_matches('/').to_string())
                .unwrap_or_default(),
            suite: words.get(1).map(|s| s.to_string()).unwrap_or_default(),
            components: words.iter().skip(2).map(|c| c.to_string()).collect(),
            signed_by,
            trusted,
            origin,
        };
        sources.push(source.check());
    }
    sources
}

/// Parses deb822 `.sources` (every URI × Suite, `Types` must include `deb`). `file` names
/// the file in messages; a file that is not deb822 is one malformed entry.
pub fn parse_deb822(text: &str, file: &str) -> Vec<SourceEntry> {
    let paragraphs = match control::parse(text) {
        Ok(paragraphs) => paragraphs,
        Err(e) => {
            return vec![Err(MalformedSource {
                origin: file.to_string(),
                message: e.to_string(),
            })]
        }
    };
    let mut sources = Vec::new();
    for paragraph in paragraphs {
        let types = paragraph.get("Types").unwrap_or("");
        if !types.split_whitespace().any(|t| t == "deb") || paragraph.get("Enabled") == Some("no") {
            continue;
        }
        let origin = format!("{file}:{}", paragraph.line);
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
        let uris: Vec<&str> = paragraph
            .get("URIs")
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let suites: Vec<&str> = paragraph
            .get("Suites")
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if uris.is_empty() || suites.is_empty() {
            sources.push(Err(MalformedSource {
                origin,
                message: "a deb822 entry needs URIs and Suites".to_string(),
            }));
            continue;
        }
        for uri in &uris {
            for suite in &suites {
                let source = AptSource {
                    uri: uri.trim_end_matches('/').to_string(),
                    suite: suite.to_string(),
                    components: components.clone(),
                    signed_by: signed_by.clone(),
                    trusted,
                    origin: origin.clone(),
                };
                sources.push(source.check());
            }
        }
    }
    sources
}

/// The sources configured on this host under `etc_apt` (normally `/etc/apt`).
pub fn system_sources(etc_apt: &Path) -> std::io::Result<Vec<SourceEntry>> {
    let mut sources = Vec::new();
    let list = etc_apt.join("sources.list");
    if let Ok(text) = std::fs::read_to_string(&list) {
        sources.extend(parse_one_line(&text, &list.display().to_string()));
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(etc_apt.join("sources.list.d")) {
        Ok(dir) => dir.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    entries.sort();
    for path in entries {
        let name = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some("list") => sources.extend(parse_one_line(&std::fs::read_to_string(&path)?, &name)),
            Some("sources") => {
                sources.extend(parse_deb822(&std::fs::read_to_string(&path)?, &name))
            }
            _ => continue,
        }
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(entries: Vec<SourceEntry>) -> Vec<AptSource> {
        entries.into_iter().map(Result::unwrap).collect()
    }

    #[test]
    fn one_line_sources() {
        let text = "# comment\ndeb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://archive.test/debian/ bookworm main contrib\ndeb-src http://archive.test/debian bookworm main\ndeb http://security.test/debian-security bookworm-security main # trailing\n";
        let sources = ok(parse_one_line(text, "sources.list"));
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].uri, "http://archive.test/debian");
        assert_eq!(sources[0].components, ["main", "contrib"]);
        assert_eq!(
            sources[0].signed_by.as_deref(),
            Some(Path::new("/usr/share/keyrings/k.gpg"))
        );
        assert_eq!(sources[1].suite, "bookworm-security");
        assert_eq!(sources[1].origin, "sources.list:4");
    }

    #[test]
    fn deb822_sources() {
        let text = "Types: deb deb-src\nURIs: http://archive.test/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb-src\nURIs: http://x.test\nSuites: y\nComponents: main\n";
        let sources = ok(parse_deb822(text, "debian.sources"));
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[1].suite, "bookworm-updates");
        assert_eq!(
            sources[0].signed_by.as_deref(),
            Some(Path::new("/usr/share/keyrings/debian-archive-keyring.gpg"))
        );
    }

    #[test]
    fn flat_repositories_are_located_as_apt_locates_them() {
        let text = "deb http://vendor.test/repo ./\ndeb [trusted=yes] http://obs.test/home:x/Debian_12/ sub/dir/\ndeb http://root.test /\ndeb http://archive.test/debian bookworm main\n";
        let sources = ok(parse_one_line(text, "vendor.list"));
        let urls: Vec<String> = sources.iter().map(|s| s.meta_url("InRelease")).collect();
        assert_eq!(
            urls,
            [
                "http://vendor.test/repo/./InRelease",
                "http://obs.test/home:x/Debian_12/sub/dir/InRelease",
                "http://root.test/InRelease",
                "http://archive.test/debian/dists/bookworm/InRelease",
            ]
        );
        assert_eq!(sources[0].index_dirs("amd64"), [""]);
        assert_eq!(sources[3].index_dirs("arm64"), ["main/binary-arm64/"]);
        assert_eq!(
            archive_url(&sources[1].uri, "pool/a_1.0_all.deb"),
            "http://obs.test/home:x/Debian_12/pool/a_1.0_all.deb",
            "Filename is relative to the URI, not to the flat directory"
        );
        assert_eq!(sources[0].describe(), "http://vendor.test/repo ./");
        // deb822: `Suites: ./` with no Components.
        let flat = ok(parse_deb822(
            "Types: deb\nURIs: http://vendor.test/repo\nSuites: ./\n",
            "vendor.sources",
        ));
        assert_eq!(
            flat[0].meta_url("Release"),
            "http://vendor.test/repo/./Release"
        );
    }

    #[test]
    fn entries_apt_refuses_are_named_and_do_not_hide_the_others() {
        let text = "deb http://a.test/debian ./ main\ndeb http://b.test/debian bookworm\ndeb [signed-by=/k.gpg http://c.test bookworm main\ndeb http://d.test/debian bookworm main\ndeb http://e.test\n";
        let entries = parse_one_line(text, "x.list");
        let refused: Vec<String> = entries
            .iter()
            .filter_map(|e| e.as_ref().err().map(|e| e.to_string()))
            .collect();
        assert_eq!(
            refused,
            [
                "x.list:1: a flat repository (suite ending in `/`) takes no components: http://a.test/debian ./ main",
                "x.list:2: no component: http://b.test/debian bookworm",
                "x.list:3: unclosed `[` in `deb [signed-by=/k.gpg http://c.test bookworm main`",
                "x.list:5: no suite: http://e.test",
            ]
        );
        assert_eq!(entries[3].as_ref().unwrap().uri, "http://d.test/debian");
        let broken = parse_deb822("Types: deb\n continuation\n", "bad.sources");
        assert!(broken[0].is_err(), "{broken:?}");
    }

    #[test]
    fn pool_paths_are_plain_relative_paths() {
        assert_eq!(pool_path("./tool_1.0_all.deb").unwrap(), "tool_1.0_all.deb");
        assert_eq!(
            pool_path("pool/main/p/pct%2bname_1.0_all.deb").unwrap(),
            "pool/main/p/pct%2bname_1.0_all.deb"
        );
        assert_eq!(
            pool_path("Debian_12//all/./x.deb").unwrap(),
            "Debian_12/all/x.deb"
        );
        assert!(pool_path("../../etc/passwd").is_err());
        assert!(pool_path("./").is_err());
    }

    #[test]
    fn pool_names_are_encoded_as_apt_encodes_them() {
        // What apt 2.6.1 sent for these Filename values (request lines of a local server).
        assert_eq!(
            uri_encode("pool/plusy_1.2+dfsg-1~bpo1_all.deb"),
            "pool/plusy_1.2%2bdfsg-1%7ebpo1_all.deb"
        );
        assert_eq!(
            uri_encode("pool/pct%2bname_1.0_all.deb"),
            "pool/pct%252bname_1.0_all.deb"
        );
        assert_eq!(
            uri_encode("pool/sp ace_1.0_all.deb"),
            "pool/sp%20ace_1.0_all.deb"
        );
        assert_eq!(
            uri_encode("pool/a~b=c,d;e@f&g$h!i(j)k_1.0_all.deb"),
            "pool/a%7eb=c,d;e@f&g$h!i(j)k_1.0_all.deb"
        );
        assert_eq!(uri_encode("pool/é\t"), "pool/%c3%a9%09");
    }
}
