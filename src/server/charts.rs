//! The site's classic Helm chart repositories: what `/charts/<repository>/` serves, built once
//! per catalog load from the bundles' chart entries (those marked with a site chart
//! repository, see `bundle::head::Entry::chart_repository`). Each chart is read from its OCI
//! form (the manifest, in memory, and its config, a small blob read and checked against its
//! digest) into one entry of the repository's `index.yaml`, Helm's repository index format
//! (<https://helm.sh/docs/topics/chart_repository/#the-index-file>): `apiVersion: v1`,
//! `entries` by chart name (each version the chart's `Chart.yaml` plus `digest`, the hex
//! sha256 of the `.tgz`, `urls`, relative to the repository, and `created`), and `generated`.
//! Releases are taken oldest first: a chart version two releases carry is listed once, from
//! the newest. Rendering and naming are pure and unit tested; the HTTP side is `chartrepo`.

use super::catalog::BlobSource;
use crate::bundle::open::{Backing, OpenBundle};
use crate::digest::Digest;
use crate::helm::oci::{self as chart_oci, ANNOTATION_CREATED};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest repository, chart name or version accepted in a path (bytes).
const MAX_NAME_LEN: usize = 255;

/// One chart version a site chart repository serves.
#[derive(Debug, Clone)]
pub struct ServedChart {
    /// `Chart.yaml` as JSON (the chart's OCI config).
    pub metadata: serde_json::Value,
    pub name: String,
    pub version: String,
    /// sha256 of the `.tgz`.
    pub digest: Digest,
    /// When it was created (RFC 3339): the chart repository's `created`, else the bundle's
    /// time (its file's modification time, or when a site store loaded its release).
    pub created: String,
    pub tgz: BlobSource,
    /// The provenance file (`<name>-<version>.tgz.prov`), when the chart carries one.
    pub provenance: Option<(Digest, BlobSource)>,
}

impl ServedChart {
    /// `<name>-<version>.tgz`, the file name Helm gives a packaged chart.
    pub fn file_name(&self) -> String {
        chart_file_name(&self.name, &self.version)
    }
}

/// One site chart repository: its charts by `(name, version)` and its rendered `index.yaml`.
#[derive(Debug, Default)]
pub struct SiteRepository {
    pub charts: BTreeMap<(String, String), ServedChart>,
    pub index_yaml: Arc<Vec<u8>>,
}

impl SiteRepository {
    /// The chart (`.tgz`) or provenance file (`.tgz.prov`) of this file name: the blob, its
    /// digest, and whether it is a provenance file.
    pub fn file(&self, file_name: &str) -> Option<(&BlobSource, &Digest, bool)> {
        let (tgz, provenance) = match file_name.strip_suffix(".prov") {
            Some(tgz) => (tgz, true),
            None => (file_name, false),
        };
        let chart = self.charts.values().find(|c| c.file_name() == tgz)?;
        match (provenance, &chart.provenance) {
            (false, _) => Some((&chart.tgz, &chart.digest, false)),
            (true, Some((digest, source))) => Some((source, digest, true)),
            (true, None) => None,
        }
    }
}

/// Every site chart repository, by name.
#[derive(Debug, Default)]
pub struct ChartRepositories {
    pub repositories: BTreeMap<String, SiteRepository>,
}

impl ChartRepositories {
    /// Reads the chart entries of `bundles` (oldest first; a chart version carried twice is
    /// taken from the newest) and renders each repository's `index.yaml`, `generated` at the
    /// newest `created` of its charts (not the time of the build: every server of the same
    /// releases serves the same bytes); `now` stands in only for a time that cannot be read. A chart entry that cannot be read (damaged config, a name unfit for a path) is
    /// logged and left out: the rest is served.
    pub fn build(bundles: &[OpenBundle], now: SystemTime) -> ChartRepositories {
        let mut repositories: BTreeMap<String, SiteRepository> = BTreeMap::new();
        for bundle in bundles {
            let bundle_time = bundle_time(bundle).unwrap_or(now);
            for entry in &bundle.head.entries {
                let Some(repository) = entry.chart_repository() else {
                    continue;
                };
                match read_chart(bundle, &entry.descriptor.digest, repository, bundle_time) {
                    Ok(chart) => {
                        let key = (chart.name.clone(), chart.version.clone());
                        let site = repositories.entry(repository.to_string()).or_default();
                        site.charts.insert(key, chart);
                    }
                    Err(message) => tracing::error!(
                        bundle = %bundle.path.display(),
                        chart = %entry.name(),
                        repository,
                        "chart left out of /charts/: {message}"
                    ),
                }
            }
        }
        for site in repositories.values_mut() {
            let charts: Vec<&ServedChart> = site.charts.values().collect();
            let generated = newest_created(&charts).unwrap_or_else(|| rfc3339(now));
            site.index_yaml = Arc::new(render_index(&charts, &generated));
        }
        ChartRepositories { repositories }
    }

    pub fn get(&self, repository: &str) -> Option<&SiteRepository> {
        self.repositories.get(repository)
    }
}

/// One chart entry of a bundle, read from its manifest and config.
fn read_chart(
    bundle: &OpenBundle,
    manifest: &Digest,
    repository: &str,
    bundle_time: SystemTime,
) -> Result<ServedChart, String> {
    if !is_path_name(repository) {
        return Err(format!(
            "the repository name {repository:?} cannot be a URL path segment"
        ));
    }
    let bytes = bundle
        .manifests
        .get(manifest)
        .ok_or_else(|| format!("manifest {manifest} is not in the bundle"))?;
    let layers = chart_oci::layers(bytes).map_err(|e| e.to_string())?;
    let source = |digest: &Digest| -> Result<BlobSource, String> {
        let location = bundle
            .blobs
            .get(digest)
            .copied()
            .ok_or_else(|| format!("blob {digest} is not in the bundle"))?;
        Ok(BlobSource {
            path: bundle.path.clone(),
            backing: bundle.backing.clone(),
            digest: digest.clone(),
            location,
        })
    };
    let config = source(&layers.config.digest)?;
    let config_bytes = bundle
        .backing
        .read_verified(&config.digest, config.location)?;
    let metadata: serde_json::Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| format!("its config is not JSON: {e}"))?;
    let field = |key: &str| {
        metadata
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|v| is_path_name(v))
            .map(str::to_string)
            .ok_or_else(|| format!("its Chart.yaml has no `{key}` fit for a file name"))
    };
    let (name, version) = (field("name")?, field("version")?);
    let created = layers
        .annotations
        .get(ANNOTATION_CREATED)
        .filter(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
        .cloned()
        .unwrap_or_else(|| rfc3339(bundle_time));
    let provenance = match &layers.provenance {
        Some(prov) => Some((prov.digest.clone(), source(&prov.digest)?)),
        None => None,
    };
    Ok(ServedChart {
        tgz: source(&layers.chart.digest)?,
        digest: layers.chart.digest,
        metadata,
        name,
        version,
        created,
        provenance,
    })
}

/// The newest `created` of `charts` (RFC 3339, UTC), if any parses.
fn newest_created(charts: &[&ServedChart]) -> Option<String> {
    charts
        .iter()
        .filter_map(|chart| chrono::DateTime::parse_from_rfc3339(&chart.created).ok())
        .max()
        .map(|newest| rfc3339(newest.into()))
}

/// When a bundle was made available: its file's modification time, or for a release of a
/// site store the load time its `release.json` records.
fn bundle_time(bundle: &OpenBundle) -> Option<SystemTime> {
    match &bundle.backing {
        Backing::Bundle(_) => std::fs::metadata(&bundle.path).ok()?.modified().ok(),
        Backing::Store(store) => {
            let record = store
                .root()
                .join("releases")
                .join(bundle.index_digest.hex())
                .join("release.json");
            let bytes = std::fs::read(record).ok()?;
            let release: crate::sitestore::StoredRelease = serde_json::from_slice(&bytes).ok()?;
            Some(UNIX_EPOCH + Duration::from_secs(release.loaded))
        }
    }
}

/// A time as RFC 3339 in UTC, to the second (`2024-10-01T12:00:00Z`).
pub fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `<name>-<version>.tgz`, as `helm package` names a chart archive.
pub fn chart_file_name(name: &str, version: &str) -> String {
    format!("{name}-{version}.tgz")
}

/// Whether `text` can be one URL path segment and file name as it is: not empty, at most
/// [`MAX_NAME_LEN`] bytes, no `/`, `\`, `%`, `?`, `#`, whitespace or control characters, and
/// not starting with a dot.
pub fn is_path_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_NAME_LEN
        && !text.starts_with('.')
        && text
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"/\\%?#".contains(c))
}

/// A repository's `index.yaml`: every chart's `Chart.yaml` with `digest`, `urls` (the file
/// name, relative to the repository URL), and `created`; names sorted, each name's versions
/// highest first (SemVer order, as Helm sorts them; versions that are not SemVer after
/// those, by text).
pub fn render_index(charts: &[&ServedChart], generated: &str) -> Vec<u8> {
    let mut entries: BTreeMap<&str, Vec<&ServedChart>> = BTreeMap::new();
    for chart in charts {
        entries.entry(chart.name.as_str()).or_default().push(chart);
    }
    let mut listed = serde_json::Map::new();
    for (name, mut versions) in entries {
        versions.sort_by(|a, b| version_order(&b.version, &a.version));
        let rendered: Vec<serde_json::Value> = versions.iter().map(|c| index_entry(c)).collect();
        listed.insert(name.to_string(), serde_json::Value::Array(rendered));
    }
    let index = serde_json::json!({
        "apiVersion": "v1",
        "entries": listed,
        "generated": generated,
    });
    serde_norway::to_string(&index)
        .unwrap_or_default()
        .into_bytes()
}

/// One version's entry: its metadata, then what the repository adds.
fn index_entry(chart: &ServedChart) -> serde_json::Value {
    // Helm reads index.yaml strictly: only its own fields, in its own types.
    let mut entry = match crate::helm::metadata::helm_metadata(&chart.metadata) {
        serde_json::Value::Object(fields) => fields,
        _ => serde_json::Map::new(),
    };
    for key in ["digest", "urls", "created", "removed"] {
        entry.remove(key);
    }
    entry.insert("created".into(), chart.created.clone().into());
    entry.insert("digest".into(), chart.digest.hex().into());
    entry.insert("urls".into(), serde_json::json!([chart.file_name()]));
    serde_json::Value::Object(entry)
}

/// SemVer order; a version that is not SemVer sorts below every one that is.
fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |v: &str| semver::Version::parse(v.trim_start_matches('v')).ok();
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::open::BlobLocation;
    use crate::store::Store;

    fn served(name: &str, version: &str, created: &str) -> ServedChart {
        // Never read: only the store's path is kept.
        let dir = tempfile::tempdir().unwrap();
        let backing = Backing::Store(Store::open(dir.path()).unwrap());
        let digest = Digest::of(format!("{name}-{version}").as_bytes());
        ServedChart {
            metadata: serde_json::json!({
                "apiVersion": "v2",
                "name": name,
                "version": version,
                "description": "A chart: with a colon",
                "digest": "upstream's, replaced",
            }),
            name: name.into(),
            version: version.into(),
            created: created.into(),
            tgz: BlobSource {
                path: "/b.tar".into(),
                backing,
                digest: digest.clone(),
                location: BlobLocation { offset: 0, size: 1 },
            },
            provenance: None,
            digest,
        }
    }

    #[test]
    fn generated_is_the_newest_chart_not_the_clock() {
        let charts = [
            served("demo", "1.0.0", "2024-10-01T12:00:00Z"),
            served("demo", "1.1.0", "2024-11-01T13:00:00+01:00"),
            served("other", "0.1.0", "2024-09-01T00:00:00Z"),
        ];
        let refs: Vec<&ServedChart> = charts.iter().collect();
        assert_eq!(
            newest_created(&refs).as_deref(),
            Some("2024-11-01T12:00:00Z")
        );
        assert_eq!(newest_created(&[]), None);
    }

    #[test]
    fn the_index_is_a_helm_repository_index() {
        let charts = [
            served("demo", "1.2.3", "2024-10-01T12:00:00Z"),
            served("demo", "1.10.0+build.1", "2024-11-01T12:00:00Z"),
            served("demo", "1.9.0-rc.1", "2024-09-01T12:00:00Z"),
            served("alpha", "0.1.0", "2024-01-01T00:00:00Z"),
        ];
        let refs: Vec<&ServedChart> = charts.iter().collect();
        let yaml = render_index(&refs, "2025-01-01T00:00:00Z");
        let index: serde_json::Value = serde_norway::from_slice(&yaml).unwrap();
        assert_eq!(index["apiVersion"], "v1");
        assert_eq!(index["generated"], "2025-01-01T00:00:00Z");
        let names: Vec<&String> = index["entries"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["alpha", "demo"]);
        let demo = index["entries"]["demo"].as_array().unwrap();
        let versions: Vec<&str> = demo
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert_eq!(versions, ["1.10.0+build.1", "1.9.0-rc.1", "1.2.3"]);
        let first = &demo[0];
        assert_eq!(
            first["urls"],
            serde_json::json!(["demo-1.10.0+build.1.tgz"])
        );
        assert_eq!(first["digest"], Digest::of(b"demo-1.10.0+build.1").hex());
        assert_eq!(first["created"], "2024-11-01T12:00:00Z");
        // Chart.yaml's own fields stay, the chart's apiVersion among them.
        assert_eq!(first["apiVersion"], "v2");
        assert_eq!(first["description"], "A chart: with a colon");
        let text = String::from_utf8(yaml).unwrap();
        assert!(text.starts_with("apiVersion: v1\nentries:\n"), "{text}");
    }

    #[test]
    fn an_empty_repository_still_has_an_index() {
        let yaml = render_index(&[], "2025-01-01T00:00:00Z");
        let index: serde_json::Value = serde_norway::from_slice(&yaml).unwrap();
        assert_eq!(index["entries"], serde_json::json!({}));
    }

    #[test]
    fn files_are_found_by_their_helm_names() {
        let mut repository = SiteRepository::default();
        let mut chart = served("demo", "1.2.3", "2024-10-01T12:00:00Z");
        repository
            .charts
            .insert(("demo".into(), "1.2.3".into()), chart.clone());
        assert!(repository.file("demo-1.2.3.tgz").is_some_and(|f| !f.2));
        assert!(repository.file("demo-1.2.3.tgz.prov").is_none());
        assert!(repository.file("demo-1.2.4.tgz").is_none());
        let prov = Digest::of(b"prov");
        chart.provenance = Some((prov.clone(), chart.tgz.clone()));
        repository
            .charts
            .insert(("demo".into(), "1.2.3".into()), chart);
        let (_, digest, is_prov) = repository.file("demo-1.2.3.tgz.prov").unwrap();
        assert_eq!((digest, is_prov), (&prov, true));
    }

    #[test]
    fn names_must_be_path_segments() {
        for good in ["stable", "ingress-nginx", "1.2.3+build.1", "a_b"] {
            assert!(is_path_name(good), "{good}");
        }
        for bad in [
            "", ".", "..", ".hidden", "a/b", "a\\b", "a b", "a%2f", "a?b", "a\nb",
        ] {
            assert!(!is_path_name(bad), "{bad:?}");
        }
        assert!(!is_path_name(&"a".repeat(256)));
    }

    #[test]
    fn times_are_rfc3339_utc_seconds() {
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_727_784_000)),
            "2024-10-01T12:00:00Z"
        );
    }
}
