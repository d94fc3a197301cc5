//! A chart archive (`.tgz`: a gzip tar with one top directory, `<name>/`) read into a
//! [`Chart`], as Helm's `chart/loader` reads it: `Chart.yaml`, `values.yaml`, every file
//! under `templates/`, dependencies from `Chart.yaml` (apiVersion v2) or `requirements.yaml`
//! (v1) with the versions `Chart.lock` / `requirements.lock` fixed, and the subcharts
//! vendored under `charts/` (unpacked directories and nested `.tgz` files; names starting
//! with `_` or `.` are skipped, as Helm skips them).
//!
//! Bounded, since archives come from the network: at most [`MAX_UNPACKED_BYTES`] unpacked
//! (nested archives included), [`MAX_ENTRIES`] tar entries, subcharts [`MAX_DEPTH`] deep; no
//! absolute paths or `..`. Only regular files are read (directories, links and tar extension
//! headers are skipped).

use super::{Chart, Dependency, Subchart};
use serde::Deserialize;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;

/// The most bytes a chart may unpack to, nested archives included.
pub const MAX_UNPACKED_BYTES: u64 = 64 << 20;
/// The most tar entries, nested archives included.
pub const MAX_ENTRIES: usize = 10_000;
/// The deepest subchart nesting (a chart's subchart is at depth 1).
pub const MAX_DEPTH: usize = 5;

/// Why a chart archive cannot be read; `file` is the path inside the chart (`Chart.yaml`,
/// `charts/redis-19.0.0.tgz/values.yaml` for a file of a nested archive).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{file}: not a gzip-compressed tar archive: {message}")]
    Format { file: String, message: String },
    #[error("{file}: the chart unpacks to more than {limit} bytes")]
    TooBig { file: String, limit: u64 },
    #[error("{file}: the chart has more than {limit} archive entries")]
    TooManyEntries { file: String, limit: usize },
    #[error("{file}: subcharts nested more than {limit} deep")]
    TooDeep { file: String, limit: usize },
    #[error("{file:?}: {reason}; refusing the chart archive")]
    UnsafePath { file: String, reason: &'static str },
    #[error("{file}: missing; a chart archive holds <name>/Chart.yaml")]
    MissingChartYaml { file: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

/// The limits one load works within (the public constants; smaller in tests).
#[derive(Debug, Clone, Copy)]
struct Limits {
    bytes: u64,
    entries: usize,
    depth: usize,
}

/// What is left of the limits while unpacking.
struct Budget {
    limits: Limits,
    bytes: u64,
    entries: usize,
}

/// Reads a chart archive (errors: see [`ArchiveError`]).
pub fn load(tgz: &[u8]) -> Result<Chart, ArchiveError> {
    load_limited(
        tgz,
        Limits {
            bytes: MAX_UNPACKED_BYTES,
            entries: MAX_ENTRIES,
            depth: MAX_DEPTH,
        },
    )
}

fn load_limited(tgz: &[u8], limits: Limits) -> Result<Chart, ArchiveError> {
    let mut budget = Budget {
        limits,
        bytes: limits.bytes,
        entries: limits.entries,
    };
    let files = unpack(tgz, "chart archive", "", &mut budget)?;
    build(files, "", 0, &mut budget)
}

/// The regular files of a `.tgz`, keyed by path below its top directory. `name` labels the
/// archive in errors, `prefix` is put before paths in errors.
fn unpack(
    tgz: &[u8],
    name: &str,
    prefix: &str,
    budget: &mut Budget,
) -> Result<BTreeMap<String, Vec<u8>>, ArchiveError> {
    let exceeded = Cell::new(false);
    // Tar headers and padding come on top of the content the budget counts.
    let slack = (budget.entries as u64 + 16) * 1536;
    let stream = Limited {
        inner: flate2::read::MultiGzDecoder::new(tgz),
        remaining: budget.bytes + slack,
        exceeded: &exceeded,
    };
    let limit = budget.limits.bytes;
    let too_big = |file: &str| ArchiveError::TooBig {
        file: format!("{prefix}{file}"),
        limit,
    };
    let format = |e: std::io::Error| {
        if exceeded.get() {
            too_big(name)
        } else {
            ArchiveError::Format {
                file: name.to_string(),
                message: e.to_string(),
            }
        }
    };
    let mut archive = tar::Archive::new(stream);
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(format)? {
        let mut entry = entry.map_err(format)?;
        if budget.entries == 0 {
            return Err(ArchiveError::TooManyEntries {
                file: name.to_string(),
                limit: budget.limits.entries,
            });
        }
        budget.entries -= 1;
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let size = entry.size();
        if size > budget.bytes {
            return Err(too_big(&raw_path));
        }
        budget.bytes -= size;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue;
        }
        let path = entry
            .path()
            .map_err(format)?
            .to_str()
            .map(str::to_string)
            .ok_or(ArchiveError::UnsafePath {
                file: format!("{prefix}{raw_path}"),
                reason: "the path is not UTF-8",
            })?;
        let Some(inner) = inner_path(&path).map_err(|reason| ArchiveError::UnsafePath {
            file: format!("{prefix}{path}"),
            reason,
        })?
        else {
            continue;
        };
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry.read_to_end(&mut data).map_err(format)?;
        files.insert(inner, data);
    }
    Ok(files)
}

/// A path in the archive below its top directory (`nginx/templates/a.yaml` →
/// `templates/a.yaml`); `None` for the top directory itself and files beside it.
fn inner_path(path: &str) -> Result<Option<String>, &'static str> {
    let path = path.replace('\\', "/");
    if path.starts_with('/') {
        return Err("absolute paths are not allowed in a chart");
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("paths may not leave the chart's directory (..)"),
            part => parts.push(part),
        }
    }
    match parts.as_slice() {
        [] => Ok(None),
        ["Chart.yaml"] => Err("Chart.yaml is not inside the chart's directory"),
        [_] => Ok(None),
        [_, rest @ ..] => Ok(Some(rest.join("/"))),
    }
}

/// A reader that fails once more than `remaining` bytes came through, and says so.
struct Limited<'a, R> {
    inner: R,
    remaining: u64,
    exceeded: &'a Cell<bool>,
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let allowed = usize::try_from(self.remaining.saturating_add(1)).unwrap_or(usize::MAX);
        let len = buf.len().min(allowed);
        let n = self.inner.read(&mut buf[..len])?;
        if n as u64 > self.remaining {
            self.exceeded.set(true);
            return Err(std::io::Error::other("the archive unpacks too big"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ChartYaml {
    api_version: Option<String>,
    name: Option<String>,
    version: Option<String>,
    app_version: Option<String>,
    kube_version: Option<String>,
    dependencies: Option<Vec<DependencyYaml>>,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DependencyYaml {
    name: Option<String>,
    version: Option<String>,
    repository: Option<String>,
    alias: Option<String>,
    condition: Option<String>,
}

/// `requirements.yaml`, and the lock files (`Chart.lock`, `requirements.lock`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DependencyList {
    dependencies: Option<Vec<DependencyYaml>>,
}

fn yaml<T: for<'de> Deserialize<'de> + Default>(
    files: &BTreeMap<String, Vec<u8>>,
    name: &str,
    prefix: &str,
) -> Result<Option<T>, ArchiveError> {
    let Some(data) = files.get(name) else {
        return Ok(None);
    };
    let parsed: Option<T> = super::yaml::from_slice(data).map_err(|e| ArchiveError::Invalid {
        file: format!("{prefix}{name}"),
        message: format!("not valid YAML for this file: {e}"),
    })?;
    Ok(Some(parsed.unwrap_or_default()))
}

/// The chart in `files` (paths below its directory); `prefix` is its path in errors.
fn build(
    files: BTreeMap<String, Vec<u8>>,
    prefix: &str,
    depth: usize,
    budget: &mut Budget,
) -> Result<Chart, ArchiveError> {
    let invalid = |name: &str, message: String| ArchiveError::Invalid {
        file: format!("{prefix}{name}"),
        message,
    };
    let Some(typed) = yaml::<ChartYaml>(&files, "Chart.yaml", prefix)? else {
        return Err(ArchiveError::MissingChartYaml {
            file: format!("{prefix}Chart.yaml"),
        });
    };
    let mut metadata = match yaml::<serde_json::Value>(&files, "Chart.yaml", prefix)? {
        Some(serde_json::Value::Object(map)) => map,
        _ => return Err(invalid("Chart.yaml", "not a mapping".into())),
    };
    // Scalars as written (YAML would read `version: 1.10` as the number 1.1).
    let strings = [
        ("apiVersion", &typed.api_version),
        ("name", &typed.name),
        ("version", &typed.version),
        ("appVersion", &typed.app_version),
        ("kubeVersion", &typed.kube_version),
    ];
    for (key, value) in strings {
        if let Some(value) = value {
            metadata.insert(key.into(), value.clone().into());
        }
    }
    if let Some(annotations) = &typed.annotations {
        metadata.insert("annotations".into(), serde_json::json!(annotations));
    }
    let name = typed.name.clone().filter(|n| !n.is_empty());
    let Some(name) = name else {
        return Err(invalid("Chart.yaml", "no name".into()));
    };
    let Some(version) = typed.version.clone().filter(|v| !v.is_empty()) else {
        return Err(invalid(
            "Chart.yaml",
            format!("chart {name} has no version"),
        ));
    };

    let values = match yaml::<serde_json::Value>(&files, "values.yaml", prefix)? {
        None | Some(serde_json::Value::Null) => serde_json::json!({}),
        Some(values @ serde_json::Value::Object(_)) => values,
        Some(_) => return Err(invalid("values.yaml", "not a mapping".into())),
    };
    let templates = files
        .iter()
        .filter(|(path, _)| path.starts_with("templates/"))
        .map(|(path, data)| (path.clone(), String::from_utf8_lossy(data).into_owned()))
        .collect();
    let dependencies = dependencies(&files, typed.dependencies, prefix)?;

    let mut chart = Chart {
        metadata: serde_json::Value::Object(metadata),
        name,
        version,
        app_version: typed.app_version,
        values,
        templates,
        dependencies,
        subcharts: Vec::new(),
    };
    chart.subcharts = subcharts(&chart, files, prefix, depth, budget)?;
    Ok(chart)
}

/// Declared dependencies (`requirements.yaml`'s replace `Chart.yaml`'s, as in Helm) with
/// the lock file's versions.
fn dependencies(
    files: &BTreeMap<String, Vec<u8>>,
    declared: Option<Vec<DependencyYaml>>,
    prefix: &str,
) -> Result<Vec<Dependency>, ArchiveError> {
    let requirements = yaml::<DependencyList>(files, "requirements.yaml", prefix)?;
    let (declared, from) = match requirements.and_then(|r| r.dependencies) {
        Some(list) => (list, "requirements.yaml"),
        None => (declared.unwrap_or_default(), "Chart.yaml"),
    };
    let lock = match yaml::<DependencyList>(files, "Chart.lock", prefix)? {
        Some(lock) => Some(lock),
        None => yaml::<DependencyList>(files, "requirements.lock", prefix)?,
    };
    let mut locked = lock.and_then(|l| l.dependencies).unwrap_or_default();
    let mut out = Vec::new();
    for (index, d) in declared.into_iter().enumerate() {
        let Some(name) = d.name.filter(|n| !n.is_empty()) else {
            return Err(ArchiveError::Invalid {
                file: format!("{prefix}{from}"),
                message: format!("dependency {} has no name", index + 1),
            });
        };
        let repository = d.repository.unwrap_or_default();
        let mut version = d.version.unwrap_or_default();
        // The lock's entry for it: same name and repository, else the same name.
        let same_name = |l: &DependencyYaml| l.name.as_deref() == Some(&name);
        let fixed = locked
            .iter()
            .position(|l| same_name(l) && l.repository.as_deref() == Some(&repository))
            .or_else(|| locked.iter().position(same_name));
        if let Some(fixed) = fixed {
            if let Some(v) = locked.remove(fixed).version.filter(|v| !v.is_empty()) {
                version = v;
            }
        }
        out.push(Dependency {
            name,
            version,
            repository,
            alias: d.alias.filter(|a| !a.is_empty()),
            condition: d.condition.filter(|c| !c.is_empty()),
        });
    }
    Ok(out)
}

/// The charts vendored under `charts/`, each under every scope its parent's dependencies
/// give it (an alias, else its name; one copy per alias, as Helm makes them).
fn subcharts(
    parent: &Chart,
    files: BTreeMap<String, Vec<u8>>,
    prefix: &str,
    depth: usize,
    budget: &mut Budget,
) -> Result<Vec<Subchart>, ArchiveError> {
    let mut directories: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    let mut archives = Vec::new();
    for (path, data) in files {
        let Some(rest) = path.strip_prefix("charts/") else {
            continue;
        };
        if rest.starts_with(['_', '.']) {
            continue;
        }
        match rest.split_once('/') {
            Some((dir, inner)) => {
                directories
                    .entry(dir.to_string())
                    .or_default()
                    .insert(inner.to_string(), data);
            }
            None if rest.ends_with(".tgz") => archives.push((rest.to_string(), data)),
            None => {} // a stray file (README, .prov): not a chart
        }
    }
    let mut found = Vec::new();
    for (dir, inner) in directories {
        let at = format!("{prefix}charts/{dir}/");
        check_depth(&at, depth, budget)?;
        found.push(build(inner, &at, depth + 1, budget)?);
    }
    for (file, data) in archives {
        let at = format!("{prefix}charts/{file}/");
        check_depth(&at, depth, budget)?;
        let label = format!("{prefix}charts/{file}");
        let inner = unpack(&data, &label, &at, budget)?;
        found.push(build(inner, &at, depth + 1, budget)?);
    }
    let mut out = Vec::new();
    for chart in found {
        let scopes = parent
            .dependencies
            .iter()
            .filter(|d| d.name == chart.name)
            .map(|d| d.alias.clone().unwrap_or_else(|| d.name.clone()))
            .collect::<Vec<_>>();
        if scopes.is_empty() {
            out.push(Subchart {
                scope: chart.name.clone(),
                chart,
            });
            continue;
        }
        // Each alias is a copy (Helm copies the subchart per alias): copies count against
        // the unpacked-bytes budget, so aliases of aliases cannot multiply a small archive.
        let weight = weight(&chart);
        for (i, scope) in scopes.into_iter().enumerate() {
            if i > 0 {
                if weight > budget.bytes {
                    return Err(ArchiveError::TooBig {
                        file: format!("{prefix}charts/{} (alias {scope})", chart.name),
                        limit: budget.limits.bytes,
                    });
                }
                budget.bytes -= weight;
            }
            out.push(Subchart {
                scope,
                chart: chart.clone(),
            });
        }
    }
    Ok(out)
}

/// About how many bytes a chart holds (templates and values text, and its subcharts).
fn weight(chart: &Chart) -> u64 {
    let own: usize = chart
        .templates
        .iter()
        .map(|(p, t)| p.len() + t.len())
        .sum::<usize>()
        + chart.values.to_string().len()
        + chart.metadata.to_string().len();
    own as u64
        + chart
            .subcharts
            .iter()
            .map(|s| weight(&s.chart))
            .sum::<u64>()
}

fn check_depth(at: &str, depth: usize, budget: &Budget) -> Result<(), ArchiveError> {
    if depth + 1 > budget.limits.depth {
        return Err(ArchiveError::TooDeep {
            file: at.trim_end_matches('/').to_string(),
            limit: budget.limits.depth,
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
