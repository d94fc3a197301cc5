//! `spec.charts` → chart pins, and the images the charts deploy.
//!
//! A chart from a classic repository is chosen in the repository's `index.yaml` (highest
//! version matching the constraint), its `.tgz` downloaded and checked against the index's
//! digest; a chart from an OCI registry is chosen among the repository's tags, and its
//! manifest and chart layer fetched. Either way the `.tgz` is kept in the cache by sha256,
//! its provenance checked when the entry names a keyring, and each dependency that the
//! archive does not vendor is pinned too (recursively) and attached as a subchart, so
//! discovery ([`crate::helm::discover`]) sees the chart as Helm would install it.

mod fetch;

use super::ResolveError;
use crate::helm::version::Constraint;
use crate::helm::{self, Chart, Subchart};
use crate::lock::ChartPin;
use crate::manifest::{ChartSource, ChartSpec, Release};
use crate::progress::Reporter;
use crate::store::Store;
use crate::upstream::http::Http;
use crate::upstream::registry::Registry;
pub use fetch::repository_reference;
use fetch::{
    base, check_provenance, fetch_oci_chart, fetch_repo_chart, repository_index,
    site_repository_name,
};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;

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
