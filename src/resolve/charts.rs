//! `spec.charts` → chart pins, and the images the charts deploy.
//!
//! A chart from a classic repository is chosen in the repository's `index.yaml` (highest
//! version matching the constraint), its `.tgz` downloaded and checked against the index's
//! digest; a chart from an OCI registry is chosen among the repository's tags, and its
//! manifest and chart layer fetched. Either way the `.tgz` is kept in the cache by sha256,
//! its provenance checked when the entry names a keyring, and each dependency that the
//! archive does not vendor is pinned too (recursively) and attached as a subchart, so
//! discovery ([`crate::helm::discover`]) sees the chart as Helm would install it.

use super::files::get_limited;
use super::ResolveError;
use crate::digest::Digest;
use crate::helm::version::Constraint;
use crate::helm::{self, Chart, Subchart};
use crate::lock::{ChartPin, ProvenancePin};
use crate::manifest::{default_repository_name, ChartSource, ChartSpec, Release};
use crate::progress::Reporter;
use crate::store::Store;
use crate::upstream::http::Http;
use crate::upstream::registry::Registry;
use futures::future::BoxFuture;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Mutex;

/// A repository's `index.yaml` larger than this is refused (the largest public ones are
/// about 30 MB).
const INDEX_LIMIT: usize = 256 << 20;
/// A chart archive larger than this is refused (real ones are well under 1 MiB).
const CHART_LIMIT: usize = 32 << 20;
/// A provenance file larger than this is refused.
const PROVENANCE_LIMIT: usize = 1 << 20;
/// How deep dependencies of dependencies are followed.
const MAX_DEPTH: usize = 5;

/// What `spec.charts` resolved to.
#[derive(Debug, Default)]
pub struct Resolved {
    pub charts: Vec<ChartPin>,
    /// Every image to carry for the charts, with why: `(reference, why)`; references in
    /// full (`docker.io/library/nginx:1.27`).
    pub images: Vec<(String, String)>,
}

/// A pinned chart and its archive, read.
#[derive(Clone)]
struct Fetched {
    pin: ChartPin,
    chart: Chart,
}

/// What every chart of one lock shares: clients, the cache, and each repository's index
/// (fetched once).
struct Context<'a> {
    http: &'a Http,
    registry: &'a Registry,
    store: &'a Store,
    reporter: &'a dyn Reporter,
    indexes: Mutex<HashMap<String, std::sync::Arc<Vec<u8>>>>,
    /// Base URL → site repository name: from `spec.charts` first (dependencies from the same
    /// repository are served beside them), then one per dependency repository, unique.
    names: Mutex<HashMap<String, String>>,
    /// Dependencies fetched in this lock, by (repository, name, constraint): a dependency
    /// named under several aliases, or by several charts, is downloaded once.
    fetched: Mutex<HashMap<(String, String, String), Fetched>>,
    /// Subcharts attached under the current `spec.charts` entry (bounded).
    attached: Mutex<usize>,
}

/// The most subcharts attached under one `spec.charts` entry, all levels together.
const MAX_ATTACHED: usize = 256;

/// Resolves every chart of `release`.
pub async fn resolve(
    release: &Release,
    http: &Http,
    registry: &Registry,
    store: &Store,
    previous: &super::Previous<'_>,
    reporter: &dyn Reporter,
) -> Result<Resolved, ResolveError> {
    let names = release
        .spec
        .charts
        .iter()
        .filter_map(|spec| Some((base(spec.repo.as_deref()?), spec.site_repository()?)))
        .collect();
    let context = Context {
        http,
        registry,
        store,
        reporter,
        indexes: Mutex::new(HashMap::new()),
        names: Mutex::new(names),
        fetched: Mutex::new(HashMap::new()),
        attached: Mutex::new(0),
    };
    let mut resolved = Resolved::default();
    for spec in &release.spec.charts {
        resolve_one(&context, release, spec, previous, &mut resolved).await?;
    }
    Ok(resolved)
}

/// One entry of `spec.charts`: the chart, its missing dependencies, its images.
async fn resolve_one(
    context: &Context<'_>,
    release: &Release,
    spec: &ChartSpec,
    previous: &super::Previous<'_>,
    resolved: &mut Resolved,
) -> Result<(), ResolveError> {
    let wanted = Constraint::parse(&spec.version).map_err(|message| ResolveError::Chart {
        chart: spec.label(),
        message,
    })?;
    // Like image tags, a chart keeps the version the previous lockfile pinned while it still
    // matches, unless the lock was asked to update (`lock --update`).
    let locked = locked_pin(spec, previous).filter(|pin| wanted.matches(&pin.version));
    let constraint = match locked {
        Some(pin) => Constraint::parse(&pin.version).unwrap_or_else(|_| wanted.clone()),
        None => wanted.clone(),
    };
    let mut fetched = match spec.source() {
        Some(ChartSource::Repo { url, name }) => {
            let repository = spec.site_repository().unwrap_or_else(|| name.to_string());
            fetch_repo_chart(context, url, name, &constraint, &repository, None).await?
        }
        Some(ChartSource::Oci { reference }) => {
            fetch_oci_chart(context, reference, &constraint, None).await?
        }
        None => {
            return Err(ResolveError::Chart {
                chart: spec.label(),
                message: "give either `repo:` with `name:`, or `oci:`".into(),
            })
        }
    };
    let label = format!("chart {} {}", fetched.pin.name, fetched.pin.version);
    if let Some(pin) = locked {
        if pin.sha256 != fetched.pin.sha256 {
            return Err(ResolveError::ChartRepublished {
                chart: format!("{} {}", pin.name, pin.version),
                locked: pin.sha256.clone(),
                upstream: fetched.pin.sha256.clone(),
            });
        }
        if let Some(ChartSource::Repo { url, name }) = spec.source() {
            let index = repository_index(context, &base(url)).await?;
            if let Ok(newest) = helm::index::select(&index, name, &wanted) {
                if newest.version != pin.version {
                    context.reporter.note(&format!(
                        "{label}: kept from the lockfile; {} matches `{}` upstream now (`outpost lock --update` moves it)",
                        newest.version, spec.version
                    ));
                }
            }
        }
    }
    if let Some(verify) = &spec.verify {
        check_provenance(context, release, &verify.keyring, &mut fetched, &label).await?;
    }
    let mut dependencies = Vec::new();
    if let Ok(mut attached) = context.attached.lock() {
        *attached = 0;
    }
    let chain = vec![chain_link(&fetched.pin)];
    attach_dependencies(context, &mut fetched, &label, &chain, &mut dependencies).await?;
    if fetched.pin.repository.is_none() {
        resolved.images.push((
            fetched.pin.reference.clone(),
            format!("{label}: the chart itself (OCI)"),
        ));
    }
    for dependency in &dependencies {
        if dependency.repository.is_none() {
            resolved.images.push((
                dependency.reference.clone(),
                format!(
                    "{label}: dependency {} {} (OCI)",
                    dependency.name, dependency.version
                ),
            ));
        }
    }
    let images = spec.images();
    let mut found: Vec<(String, String)> = Vec::new();
    if images.discover {
        let overrides = user_values(release, spec)?;
        let discovery = helm::discover::discover(&fetched.chart, &label, &overrides);
        let excluded: Vec<glob::Pattern> = images
            .exclude
            .iter()
            .filter_map(|g| glob::Pattern::new(g).ok())
            .collect();
        for image in discovery.images {
            if excluded.iter().any(|g| g.matches(&image.reference)) {
                context.reporter.note(&format!(
                    "{label}: {} left out (images.exclude)",
                    image.reference
                ));
                continue;
            }
            found.push((image.reference, image.why));
        }
        for unevaluated in &discovery.unevaluated {
            context.reporter.note(&format!(
                "{unevaluated}: outpost cannot evaluate this image; if the chart deploys it, list it under images.add"
            ));
        }
        fetched.pin.unevaluated = discovery.unevaluated;
    }
    for add in &images.add {
        let reference = crate::reference::parse(add)
            .map_err(|message| ResolveError::Chart {
                chart: label.clone(),
                message: format!("images.add `{add}`: {message}"),
            })?
            .whole();
        found.push((reference, format!("{label}: images.add")));
    }
    let mut references: Vec<String> = found.iter().map(|(r, _)| r.clone()).collect();
    references.sort();
    references.dedup();
    fetched.pin.images = references;
    resolved.images.extend(found);
    resolved.charts.push(fetched.pin);
    resolved.charts.extend(dependencies);
    Ok(())
}

/// The entry's values for discovery: each of `valuesFiles` in order, then `values`.
fn user_values(release: &Release, spec: &ChartSpec) -> Result<serde_json::Value, ResolveError> {
    let mut values = serde_json::json!({});
    for file in &spec.values_files {
        let path = release.dir.join(file);
        let bad = |message: String| ResolveError::Chart {
            chart: spec.label(),
            message: format!("valuesFiles {}: {message}", path.display()),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let value: serde_json::Value = if text.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_norway::from_str(&text).map_err(|e| bad(e.to_string()))?
        };
        helm::discover::merge_values(&mut values, &value);
    }
    if let Some(over) = &spec.values {
        helm::discover::merge_values(&mut values, over);
    }
    Ok(values)
}

/// The pin the previous lockfile has for `spec` (a listed chart, not a dependency), unless
/// the lock updates every pin.
fn locked_pin<'a>(spec: &ChartSpec, previous: &super::Previous<'a>) -> Option<&'a ChartPin> {
    if matches!(previous.update, super::Update::All) {
        return None;
    }
    let (source, name) = match spec.source()? {
        ChartSource::Repo { url, name } => (base(url), Some(name)),
        ChartSource::Oci { reference } => (format!("oci://{reference}"), None),
    };
    previous.lockfile?.charts.iter().find(|pin| {
        pin.dependency_of.is_none()
            && pin.source == source
            && name.is_none_or(|name| pin.name == name)
    })
}

/// `NAME VERSION (SOURCE)`: one link of a dependency chain, for cycles and messages.
fn chain_link(pin: &ChartPin) -> String {
    format!("{} {} ({})", pin.name, pin.version, pin.source)
}

/// Pins each dependency `fetched` does not vendor, attaches it as a subchart, and does the
/// same for its own dependencies (to [`MAX_DEPTH`]; `chain` is the path from the listed
/// chart, to name a cycle); the pins go to `pins`.
fn attach_dependencies<'a>(
    context: &'a Context<'a>,
    fetched: &'a mut Fetched,
    label: &'a str,
    chain: &'a [String],
    pins: &'a mut Vec<ChartPin>,
) -> BoxFuture<'a, Result<(), ResolveError>> {
    Box::pin(async move {
        let depth = chain.len() - 1;
        let parent = format!("{} {}", fetched.pin.name, fetched.pin.version);
        let missing: Vec<helm::Dependency> = fetched
            .chart
            .missing_dependencies()
            .into_iter()
            .cloned()
            .collect();
        if !missing.is_empty() && depth >= MAX_DEPTH {
            return Err(ResolveError::Chart {
                chart: parent,
                message: format!("dependencies nest deeper than {MAX_DEPTH} levels"),
            });
        }
        for dependency in missing {
            let bad = |message: String| ResolveError::Chart {
                chart: parent.clone(),
                message: format!(
                    "dependency {} {}: {message}",
                    dependency.name, dependency.version
                ),
            };
            let constraint = Constraint::parse(&dependency.version).map_err(bad)?;
            let repository = dependency.repository.trim();
            let attached = context.attached.lock().map(|mut n| {
                *n += 1;
                *n
            });
            if attached.is_ok_and(|n| n > MAX_ATTACHED) {
                return Err(bad(format!(
                    "more than {MAX_ATTACHED} subcharts to attach under {label}; refusing the chart"
                )));
            }
            let key = (
                repository.to_string(),
                dependency.name.clone(),
                dependency.version.clone(),
            );
            let memo = context
                .fetched
                .lock()
                .ok()
                .and_then(|m| m.get(&key).cloned());
            let mut child = if let Some(known) = memo {
                known
            } else if let Some(oci) = repository.strip_prefix("oci://") {
                let reference = format!("{}/{}", oci.trim_end_matches('/'), dependency.name);
                fetch_oci_chart(context, &reference, &constraint, Some(parent.clone())).await?
            } else if repository.starts_with("https://") || repository.starts_with("http://") {
                let url = base(repository);
                let name = site_repository_name(context, &url);
                fetch_repo_chart(
                    context,
                    &url,
                    &dependency.name,
                    &constraint,
                    &name,
                    Some(parent.clone()),
                )
                .await?
            } else {
                return Err(bad(format!(
                    "it is not vendored under charts/ and its repository `{repository}` is not a URL outpost can fetch; vendor it (`helm dependency build`) or give its https:// or oci:// URL in Chart.yaml"
                )));
            };
            if let Ok(mut fetched) = context.fetched.lock() {
                fetched.entry(key).or_insert_with(|| child.clone());
            }
            let link = chain_link(&child.pin);
            if chain.contains(&link) {
                let path: Vec<&str> = chain.iter().map(String::as_str).collect();
                return Err(bad(format!(
                    "dependency cycle: {} → {link}",
                    path.join(" → ")
                )));
            }
            let mut longer = chain.to_vec();
            longer.push(link);
            attach_dependencies(context, &mut child, label, &longer, pins).await?;
            let scope = dependency.alias.clone().unwrap_or(dependency.name.clone());
            fetched.chart.subcharts.push(Subchart {
                scope,
                chart: child.chart,
            });
            context.reporter.note(&format!(
                "{label}: dependency {} {} pinned from {}",
                child.pin.name, child.pin.version, child.pin.source
            ));
            pins.push(child.pin);
        }
        Ok(())
    })
}

/// The site repository a dependency's chart repository is served as: the name `spec.charts`
/// gives that URL, else its last path segment (its host if none), made a path segment; a
/// name another URL already has gets the host in front (`grafana.github.io-helm-charts`).
fn site_repository_name(context: &Context<'_>, url: &str) -> String {
    let Ok(mut names) = context.names.lock() else {
        return default_repository_name(url);
    };
    if let Some(name) = names.get(url) {
        return name.clone();
    }
    let segment = |text: &str| -> String {
        let cleaned: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        cleaned.trim_matches(|c| c == '.' || c == '-').to_string()
    };
    let mut name = segment(&default_repository_name(url));
    if name.is_empty() || names.values().any(|n| n == &name) {
        let host = url.split_once("://").map_or(url, |(_, r)| r);
        let host = host.split('/').next().unwrap_or(host);
        name = segment(&format!("{host}-{name}"));
    }
    let mut unique = name.clone();
    let mut n = 2;
    while names.values().any(|v| v == &unique) {
        unique = format!("{name}-{n}");
        n += 1;
    }
    names.insert(url.to_string(), unique.clone());
    unique
}

/// A chart from a classic repository: `index.yaml`, the `.tgz` checked against its digest.
async fn fetch_repo_chart(
    context: &Context<'_>,
    repo: &str,
    name: &str,
    constraint: &Constraint,
    repository: &str,
    dependency_of: Option<String>,
) -> Result<Fetched, ResolveError> {
    let repo = base(repo);
    let index = repository_index(context, &repo).await?;
    let chart_label = format!("{name} from {repo}");
    let entry = helm::index::select(&index, name, constraint).map_err(|e| ResolveError::Chart {
        chart: chart_label.clone(),
        message: e.to_string(),
    })?;
    let first = entry.urls.first().ok_or_else(|| ResolveError::Chart {
        chart: format!("{name} {}", entry.version),
        message: format!("{repo}/index.yaml lists no URL for it"),
    })?;
    let url = helm::index::chart_url(&repo, first).map_err(|e| ResolveError::Chart {
        chart: format!("{name} {}", entry.version),
        message: e.to_string(),
    })?;
    let tgz = get_limited(context.http, &url, CHART_LIMIT, context.reporter)
        .await
        .map_err(|e| ResolveError::Http(e.error))?;
    let sha256 = Digest::of(&tgz);
    if let Some(expected) = &entry.digest {
        let expected = expected.strip_prefix("sha256:").unwrap_or(expected);
        if !expected.eq_ignore_ascii_case(sha256.hex()) {
            return Err(ResolveError::ChartDigest {
                chart: format!("{name} {}", entry.version),
                url,
                expected: expected.to_string(),
                actual: sha256.hex().to_string(),
            });
        }
    }
    let chart = read_chart(context, &tgz, &sha256, &format!("{name} {}", entry.version))?;
    if chart.name != name
        || helm::version::parse_version(&chart.version)
            != helm::version::parse_version(&entry.version)
    {
        return Err(ResolveError::Chart {
            chart: format!("{name} {}", entry.version),
            message: format!(
                "{url} holds chart {} {}, not what {repo}/index.yaml lists it as",
                chart.name, chart.version
            ),
        });
    }
    let reference = repository_reference(&repo, name, &entry.version).map_err(|message| {
        ResolveError::Chart {
            chart: format!("{name} {}", entry.version),
            message,
        }
    })?;
    Ok(Fetched {
        pin: ChartPin {
            name: name.to_string(),
            version: entry.version.clone(),
            source: repo.clone(),
            repository: Some(repository.to_string()),
            reference,
            url: Some(url),
            sha256,
            size: tgz.len() as u64,
            manifest: None,
            created: entry.created.clone(),
            metadata: helm::metadata::helm_metadata(&chart.metadata),
            provenance: None,
            dependency_of,
            images: Vec::new(),
            unevaluated: Vec::new(),
        },
        chart,
    })
}

/// A chart from an OCI registry: `reference` is `REGISTRY/PATH/NAME` (no tag).
async fn fetch_oci_chart(
    context: &Context<'_>,
    reference: &str,
    constraint: &Constraint,
    dependency_of: Option<String>,
) -> Result<Fetched, ResolveError> {
    let label = format!("oci://{reference}");
    let bad = |message: String| ResolveError::Chart {
        chart: label.clone(),
        message,
    };
    let exact = constraint.as_str().trim_start_matches('v');
    let version = if semver::Version::parse(exact).is_ok() {
        constraint.as_str().to_string()
    } else {
        let repository = crate::reference::parse(&format!("{reference}:latest")).map_err(&bad)?;
        let tags = context.registry.tags(&repository).await?;
        let versions: Vec<String> = tags.iter().map(|t| t.replace('_', "+")).collect();
        constraint
            .highest(versions.iter().map(String::as_str))
            .map(str::to_string)
            .ok_or_else(|| {
                bad(format!(
                    "no tag matches version `{}` (tags: {})",
                    constraint.as_str(),
                    shortlist(&versions)
                ))
            })?
    };
    let tagged = format!("{reference}:{}", helm::oci::tag(&version));
    let image = crate::reference::parse(&tagged).map_err(&bad)?;
    let raw = context
        .registry
        .manifest_retried(&image, context.reporter)
        .await?;
    let layers = helm::oci::layers(&raw.bytes).map_err(|e| bad(e.to_string()))?;
    let layer = layers.chart;
    if layer.size > CHART_LIMIT as u64 {
        return Err(bad(format!(
            "its chart layer is {} bytes, over the {CHART_LIMIT}-byte limit",
            layer.size
        )));
    }
    let mut download = context.registry.blob(&image, &layer.digest, 0).await?;
    let mut tgz = Vec::with_capacity(layer.size as usize);
    while let Some(chunk) = download.stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("chart layer {}: {e}", layer.digest)))?;
        tgz.extend_from_slice(&chunk);
        if tgz.len() > CHART_LIMIT {
            return Err(bad(format!(
                "chart layer {} is over {CHART_LIMIT} bytes",
                layer.digest
            )));
        }
    }
    let sha256 = Digest::of(&tgz);
    if sha256 != layer.digest {
        return Err(ResolveError::ChartDigest {
            chart: format!("{label} {version}"),
            url: format!("{tagged} layer"),
            expected: layer.digest.hex().to_string(),
            actual: sha256.hex().to_string(),
        });
    }
    let chart = read_chart(context, &tgz, &sha256, &format!("{label} {version}"))?;
    let name = reference
        .rsplit('/')
        .next()
        .unwrap_or(reference)
        .to_string();
    Ok(Fetched {
        pin: ChartPin {
            name: chart.name.clone(),
            version: version.clone(),
            source: format!("oci://{reference}"),
            repository: None,
            reference: image.whole(),
            url: None,
            sha256,
            size: tgz.len() as u64,
            manifest: Some(raw.digest.clone()),
            created: None,
            metadata: helm::metadata::helm_metadata(&chart.metadata),
            provenance: None,
            dependency_of,
            images: Vec::new(),
            unevaluated: Vec::new(),
        },
        chart: if chart.name == name {
            chart
        } else {
            return Err(bad(format!(
                "the chart in it is named {}, not {name}",
                chart.name
            )));
        },
    })
}

/// An image resolution that failed on an image a chart deploys, said as that chart's
/// problem (the why names the chart and where the image was found).
pub fn blame(error: ResolveError, images: &[(String, String)]) -> ResolveError {
    let text = error.to_string();
    match images
        .iter()
        .find(|(reference, _)| text.contains(reference.as_str()))
    {
        Some((_, why)) => ResolveError::ChartImage {
            why: why.clone(),
            source: Box::new(error),
        },
        None => error,
    }
}

/// Records on each image pin why the charts brought it, and checks that each OCI chart's
/// image pin is the manifest the chart was read from.
pub fn explain(
    images: &mut [crate::lock::ImagePin],
    resolved: &Resolved,
) -> Result<(), ResolveError> {
    for pin in images.iter_mut() {
        for (reference, why) in &resolved.images {
            if &pin.reference == reference && !pin.why.contains(why) {
                pin.why.push(why.clone());
            }
        }
    }
    for chart in &resolved.charts {
        let Some(manifest) = &chart.manifest else {
            continue;
        };
        if let Some(pin) = images.iter().find(|p| p.reference == chart.reference) {
            if &pin.digest != manifest {
                return Err(ResolveError::Chart {
                    chart: format!("{} {}", chart.name, chart.version),
                    message: format!(
                        "{} is pinned to {} by the previous lockfile, but the chart was read from {manifest}; run `outpost lock --update {}`",
                        chart.reference, pin.digest, chart.reference
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Keeps the archive in the cache and reads it.
fn read_chart(
    context: &Context<'_>,
    tgz: &[u8],
    sha256: &Digest,
    label: &str,
) -> Result<Chart, ResolveError> {
    context
        .store
        .put_bytes(sha256, tgz)
        .map_err(|source| ResolveError::Store {
            image: format!("chart {label}"),
            source,
        })?;
    helm::archive::load(tgz).map_err(|e| ResolveError::Chart {
        chart: label.to_string(),
        message: e.to_string(),
    })
}

/// Checks the chart's `.prov` against the entry's keyring and records it.
async fn check_provenance(
    context: &Context<'_>,
    release: &Release,
    keyring: &str,
    fetched: &mut Fetched,
    label: &str,
) -> Result<(), ResolveError> {
    let bad = |message: String| ResolveError::ChartProvenance {
        chart: label.to_string(),
        message,
    };
    let keyring_path = release.dir.join(keyring);
    let keys = std::fs::read(&keyring_path)
        .map_err(|e| bad(format!("keyring {}: {e}", keyring_path.display())))?;
    let Some(url) = fetched.pin.url.clone() else {
        return Err(bad(
            "provenance is checked for charts from chart repositories (the .prov beside the .tgz); an OCI chart's signature is checked with spec.verify".into(),
        ));
    };
    let prov_url = format!("{url}.prov");
    let prov = get_limited(context.http, &prov_url, PROVENANCE_LIMIT, context.reporter)
        .await
        .map_err(|e| bad(format!("{prov_url}: {}", e.error)))?;
    let file = crate::file_plan::file_name(&url);
    let signer = helm::provenance::verify(&prov, &keys, file, &fetched.pin.sha256)
        .map_err(|e| bad(format!("{prov_url}: {e}")))?;
    let digest = Digest::of(&prov);
    context
        .store
        .put_bytes(&digest, &prov)
        .map_err(|source| ResolveError::Store {
            image: format!("provenance of {label}"),
            source,
        })?;
    fetched.pin.provenance = Some(ProvenancePin {
        url: prov_url,
        sha256: digest,
        size: prov.len() as u64,
        signer,
    });
    Ok(())
}

/// A repository's `index.yaml`, fetched once per lock.
async fn repository_index(
    context: &Context<'_>,
    repo: &str,
) -> Result<std::sync::Arc<Vec<u8>>, ResolveError> {
    if let Some(index) = context
        .indexes
        .lock()
        .ok()
        .and_then(|m| m.get(repo).cloned())
    {
        return Ok(index);
    }
    let url = format!("{repo}/index.yaml");
    let bytes = get_limited(context.http, &url, INDEX_LIMIT, context.reporter)
        .await
        .map_err(|e| ResolveError::Http(e.error))?;
    let index = std::sync::Arc::new(bytes);
    if let Ok(mut indexes) = context.indexes.lock() {
        indexes.insert(repo.to_string(), index.clone());
    }
    Ok(index)
}

/// A repository URL without its trailing `/`.
fn base(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// The OCI reference a repository chart travels under: `HOST[:PORT]/PATH/NAME:TAG`, lower
/// case, with characters OCI repository names do not allow replaced by `-`.
pub fn repository_reference(repo: &str, name: &str, version: &str) -> Result<String, String> {
    let rest = repo.split_once("://").map_or(repo, |(_, rest)| rest);
    let clean = |segment: &str| -> String {
        segment
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string()
    };
    let mut parts = rest.split('/').filter(|s| !s.is_empty());
    let host = parts.next().unwrap_or_default().to_ascii_lowercase();
    let mut path: Vec<String> = parts.map(clean).filter(|s| !s.is_empty()).collect();
    path.push(clean(name));
    let text = format!("{host}/{}:{}", path.join("/"), helm::oci::tag(version));
    crate::reference::parse(&text).map(|r| r.whole())
}

/// At most ten of `versions`, for a message.
fn shortlist(versions: &[String]) -> String {
    if versions.is_empty() {
        return "none".into();
    }
    let mut list: Vec<&str> = versions.iter().map(String::as_str).take(10).collect();
    if versions.len() > 10 {
        list.push("…");
    }
    list.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_charts_travel_under_their_repository_path() {
        assert_eq!(
            repository_reference(
                "https://charts.example.com/stable",
                "ingress-nginx",
                "4.11.3+up1"
            )
            .unwrap(),
            "charts.example.com/stable/ingress-nginx:4.11.3_up1"
        );
        assert_eq!(
            repository_reference("http://127.0.0.1:8080/", "Demo", "1.0.0").unwrap(),
            "127.0.0.1:8080/demo:1.0.0"
        );
        assert_eq!(
            repository_reference("https://Example.org/Helm Charts/", "x", "1.0.0").unwrap(),
            "example.org/helm-charts/x:1.0.0"
        );
    }
}
