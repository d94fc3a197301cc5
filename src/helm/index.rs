//! A classic chart repository's `index.yaml` (Helm's `repo.IndexFile`): pick the version of
//! one chart a constraint selects, as `helm pull --version` does (an entry whose version is
//! exactly the constraint's text first, else the highest version the constraint matches),
//! and resolve its download URL against the repository URL.
//!
//! The indexes of the big public repositories are tens of megabytes (15,000+ chart
//! versions); reading all of one into YAML values costs about a second and hundreds of MiB.
//! [`select`] therefore scans the lines of `entries:` as `helm repo index` and chartmuseum
//! write them (block style: one `NAME:` key per chart at one indentation, its versions
//! below) and hands only the wanted chart's block to `serde_norway`. Any other layout (flow
//! style, JSON, anchors, a key written another way) or a block that does not parse falls
//! back to reading the whole document (JSON with `serde_json`, else `serde_norway`), so the
//! result never depends on which path was taken.

use super::version::{parse_version, Constraint};
use serde::Deserialize;
use std::collections::HashMap;

/// One version of a chart as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    /// As the index writes it (`1.2.3`, `v1.2.3`).
    pub version: String,
    /// Download URLs, absolute or relative to the repository URL ([`chart_url`]); never empty
    /// in what [`select`] returns.
    pub urls: Vec<String>,
    /// The `.tgz`'s sha256 as the index gives it (lowercase hex, no `sha256:` prefix).
    pub digest: Option<String>,
    /// RFC 3339 time the index gives.
    pub created: Option<String>,
    pub app_version: Option<String>,
}

/// Why no chart version could be selected.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("not a Helm chart repository index: {message}")]
    Malformed { message: String },
    #[error("the repository has no chart named {chart:?}{}", similar_hint(similar))]
    NoChart { chart: String, similar: Vec<String> },
    #[error(
        "no version of chart {chart} matches {constraint:?}{}",
        available_hint(available)
    )]
    NoVersion {
        chart: String,
        constraint: String,
        /// The highest few versions the index lists, highest first.
        available: Vec<String>,
    },
    #[error("chart URL {url:?}: {message}")]
    BadUrl { url: String, message: String },
}

fn similar_hint(similar: &[String]) -> String {
    if similar.is_empty() {
        " (check the chart name and the repository URL)".into()
    } else {
        format!("; did you mean {}?", similar.join(", "))
    }
}

fn available_hint(available: &[String]) -> String {
    if available.is_empty() {
        " (it lists no versions)".into()
    } else {
        format!("; the highest it lists: {}", available.join(", "))
    }
}

/// How many names or versions an error suggests.
const SUGGESTIONS: usize = 5;

/// One version in the index, only the fields used (the others are skipped unread).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawEntry {
    name: Option<String>,
    version: Option<String>,
    urls: Option<Vec<String>>,
    digest: Option<String>,
    created: Option<String>,
    app_version: Option<String>,
}

/// The whole document, for the fallback.
#[derive(Debug, Deserialize)]
struct FullIndex {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    entries: Option<HashMap<String, Option<Vec<RawEntry>>>>,
}

/// Selects the version of `chart` that `constraint` picks from an `index.yaml` (YAML or
/// JSON, UTF-8): the entry whose version is exactly the constraint's text if there is one
/// (as Helm does, so a non-semver version can be pinned), else the highest version it
/// matches (the first listed among equals).
///
/// Errors: `Malformed` when the document is not an index (no `apiVersion`, not YAML, an
/// entry of the wrong shape, the chosen entry has no `urls`), `NoChart` (with similar
/// names), `NoVersion` (with the highest versions listed).
pub fn select(
    index: &[u8],
    chart: &str,
    constraint: &Constraint,
) -> Result<IndexEntry, IndexError> {
    let text = std::str::from_utf8(index).map_err(|e| IndexError::Malformed {
        message: format!("not UTF-8 text ({e})"),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let entries = match scan(text, chart) {
        Scan::Found(block) => match super::yaml::from_str::<Option<Vec<RawEntry>>>(block) {
            Ok(entries) => entries.unwrap_or_default(),
            Err(_) => full_entries(text, chart)?,
        },
        Scan::Absent(names) => {
            return Err(no_chart(
                chart,
                names.into_iter().map(String::from).collect(),
            ))
        }
        Scan::Unexpected => full_entries(text, chart)?,
        Scan::Duplicate => {
            return Err(IndexError::Malformed {
                message: format!(
                    "it lists chart {chart} twice under entries (Helm refuses such an index)"
                ),
            })
        }
    };
    choose(chart, entries, constraint)
}

/// The chart's versions from a full read of the document.
fn full_entries(text: &str, chart: &str) -> Result<Vec<RawEntry>, IndexError> {
    let malformed = |message: String| IndexError::Malformed { message };
    let parsed: FullIndex = if text.trim_start().starts_with('{') {
        match serde_json::from_str(text) {
            Ok(parsed) => parsed,
            Err(_) => super::yaml::from_str(text).map_err(malformed)?,
        }
    } else {
        super::yaml::from_str(text).map_err(malformed)?
    };
    if parsed.api_version.as_deref().is_none_or(str::is_empty) {
        return Err(malformed("it has no apiVersion".into()));
    }
    let mut entries = parsed.entries.unwrap_or_default();
    match entries.remove(chart) {
        Some(versions) => Ok(versions.unwrap_or_default()),
        None => Err(no_chart(chart, entries.into_keys().collect())),
    }
}

fn choose(
    chart: &str,
    entries: Vec<RawEntry>,
    constraint: &Constraint,
) -> Result<IndexEntry, IndexError> {
    let exact = entries
        .iter()
        .position(|e| e.version.as_deref() == Some(constraint.as_str()));
    let chosen = exact.or_else(|| {
        let mut best: Option<(usize, semver::Version)> = None;
        for (i, entry) in entries.iter().enumerate() {
            let Some(version) = entry.version.as_deref().and_then(parse_version) else {
                continue;
            };
            if constraint.matches_version(&version)
                && best.as_ref().is_none_or(|(_, b)| version > *b)
            {
                best = Some((i, version));
            }
        }
        best.map(|(i, _)| i)
    });
    let Some(index) = chosen else {
        let mut listed = entries
            .iter()
            .filter_map(|e| {
                let text = e.version.as_deref()?;
                Some((parse_version(text)?, text.to_string()))
            })
            .collect::<Vec<_>>();
        listed.sort_by(|a, b| b.0.cmp(&a.0));
        listed.dedup_by(|a, b| a.1 == b.1);
        return Err(IndexError::NoVersion {
            chart: chart.to_string(),
            constraint: constraint.as_str().to_string(),
            available: listed.into_iter().take(SUGGESTIONS).map(|v| v.1).collect(),
        });
    };
    let mut entries = entries;
    let raw = entries.swap_remove(index);
    let version = raw.version.unwrap_or_default();
    let urls = raw.urls.unwrap_or_default();
    if urls.is_empty() {
        return Err(IndexError::Malformed {
            message: format!("chart {chart} version {version} lists no download URL (urls)"),
        });
    }
    Ok(IndexEntry {
        name: raw
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| chart.to_string()),
        version,
        urls,
        digest: raw.digest.filter(|d| !d.is_empty()),
        created: raw.created,
        app_version: raw.app_version,
    })
}

fn no_chart(chart: &str, names: Vec<String>) -> IndexError {
    let wanted = chart.to_lowercase();
    let mut scored = names
        .into_iter()
        .filter_map(|name| {
            let lower = name.to_lowercase();
            let distance = edit_distance(&wanted, &lower);
            let close = distance <= 2.max(wanted.len() / 4)
                || (wanted.len() >= 3 && (lower.contains(&wanted) || wanted.contains(&lower)));
            close.then_some((distance, name))
        })
        .collect::<Vec<_>>();
    scored.sort();
    IndexError::NoChart {
        chart: chart.to_string(),
        similar: scored.into_iter().take(SUGGESTIONS).map(|s| s.1).collect(),
    }
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.chars().collect::<Vec<_>>();
    let mut row = (0..=b.len()).collect::<Vec<_>>();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// What the line scan found.
#[derive(Debug, PartialEq)]
enum Scan<'a> {
    /// The chart's block: its versions, as a YAML sequence (indented as in the file).
    Found(&'a str),
    /// A well-formed block-style index without the chart: the chart names it has.
    Absent(Vec<&'a str>),
    /// Not the layout the scan understands: read the whole document instead.
    Unexpected,
    /// The chart's key appears twice under `entries:`.
    Duplicate,
}

/// Finds `chart`'s block under a top-level `entries:` key written in block style.
fn scan<'a>(text: &'a str, chart: &str) -> Scan<'a> {
    let mut offset = 0;
    let mut api_version = false;
    let mut in_entries = false;
    let mut saw_entries = false;
    // The indentation of the chart names, known at the first one.
    let mut key_indent: Option<usize> = None;
    let mut names = Vec::new();
    let mut found: Option<(usize, Option<usize>)> = None;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        if content.starts_with('\t') {
            return Scan::Unexpected;
        }
        if indent == 0 {
            if let Some((_, end @ None)) = &mut found {
                *end = Some(start);
            }
            in_entries = false;
            if content.starts_with(['-', '%', '{', '[', '?', '&', '*', '!', '"', '\'']) {
                return Scan::Unexpected;
            }
            if let Some(value) = content.strip_prefix("apiVersion:") {
                api_version = !value.trim().is_empty();
            } else if let Some(rest) = content.strip_prefix("entries:") {
                if !rest.trim().is_empty() && !rest.trim_start().starts_with('#') {
                    return Scan::Unexpected; // `entries: {}` or a flow mapping
                }
                in_entries = true;
                saw_entries = true;
            }
            continue;
        }
        if !in_entries {
            continue;
        }
        let k = *key_indent.get_or_insert(indent);
        if indent < k {
            return Scan::Unexpected;
        }
        if indent > k || content == "-" || content.starts_with("- ") {
            if names.is_empty() {
                return Scan::Unexpected; // a sequence directly under `entries:`
            }
            continue;
        }
        let Some(name) = simple_key(content) else {
            return Scan::Unexpected;
        };
        if let Some((_, end @ None)) = &mut found {
            *end = Some(start);
        }
        if name == chart {
            if found.is_some() {
                return Scan::Duplicate;
            }
            found = Some((offset, None));
        }
        names.push(name);
    }
    if !api_version || !saw_entries {
        return Scan::Unexpected;
    }
    match found {
        Some((start, end)) => Scan::Found(&text[start..end.unwrap_or(text.len())]),
        None => Scan::Absent(names),
    }
}

/// The key of a `KEY:` line that opens a block (plain, or quoted without escapes); `None`
/// for anything else (a value on the same line, flow style, anchors, tags, complex keys).
fn simple_key(content: &str) -> Option<&str> {
    let content = match content.find(" #") {
        Some(i) => &content[..i],
        None => content,
    };
    let key = content.trim_end().strip_suffix(':')?;
    for quote in ['"', '\''] {
        if let Some(inner) = key.strip_prefix(quote) {
            let inner = inner.strip_suffix(quote)?;
            return (!inner.contains([quote, '\\'])).then_some(inner);
        }
    }
    let special = |c: char| ":{}[],&*!|>'\"%@`#?".contains(c) || c.is_whitespace();
    (!key.is_empty() && !key.contains(special) && !key.starts_with('-')).then_some(key)
}

/// The URL a chart downloads from, as Helm's `repo.ResolveReferenceURL` makes it: an
/// absolute `entry_url` as is; a relative one resolved against `repo_url` with a trailing
/// `/` (so `charts/x.tgz` lands under the repository, `/x.tgz` at the host root), the
/// repository URL's query string kept. Error: `BadUrl` when either does not parse.
pub fn chart_url(repo_url: &str, entry_url: &str) -> Result<String, IndexError> {
    let bad = |url: &str, message: String| IndexError::BadUrl {
        url: url.to_string(),
        message,
    };
    // Go's `url.IsAbs`: the reference has a scheme.
    let scheme = entry_url.split_once(':').map(|(scheme, _)| scheme);
    if scheme.is_some_and(|s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    }) {
        return Ok(entry_url.to_string());
    }
    let mut base = reqwest::Url::parse(repo_url).map_err(|e| bad(repo_url, e.to_string()))?;
    if base.cannot_be_a_base() {
        return Err(bad(
            repo_url,
            "not a base URL for relative chart URLs".into(),
        ));
    }
    let path = format!("{}/", base.path().trim_end_matches('/'));
    base.set_path(&path);
    let query = base.query().map(str::to_string);
    let mut resolved = base
        .join(entry_url)
        .map_err(|e| bad(entry_url, e.to_string()))?;
    resolved.set_query(query.as_deref());
    Ok(resolved.to_string())
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
