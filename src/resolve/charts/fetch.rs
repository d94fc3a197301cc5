//! Fetching one chart for `crate::resolve::charts`: from a classic repository (its
//! `index.yaml`, read once per lock, and the `.tgz` checked against the index's digest) or
//! from an OCI registry (a tag chosen by the constraint, the chart layer by digest); the
//! archive kept in the cache and read; its provenance checked; the site repository names
//! and OCI references repository charts travel under.

use super::{Context, Fetched};
use crate::digest::Digest;
use crate::helm::version::Constraint;
use crate::helm::{self, Chart};
use crate::lock::{ChartPin, ProvenancePin};
use crate::manifest::{default_repository_name, Release};
use crate::resolve::files::get_limited;
use crate::resolve::ResolveError;
use futures::StreamExt;

/// A repository's `index.yaml` larger than this is refused (the largest public ones are
/// about 30 MB).
const INDEX_LIMIT: usize = 256 << 20;
/// A chart archive larger than this is refused (real ones are well under 1 MiB).
const CHART_LIMIT: usize = 32 << 20;
/// A provenance file larger than this is refused.
const PROVENANCE_LIMIT: usize = 1 << 20;

/// The site repository a dependency's chart repository is served as: the name `spec.charts`
/// gives that URL, else its last path segment (its host if none), made a path segment; a
/// name another URL already has gets the host in front (`grafana.github.io-helm-charts`).
pub(super) fn site_repository_name(context: &Context<'_>, url: &str) -> String {
    let Ok(mut names) = context.names.lock() else {
        return default_repository_name(url);
    };
    if let Some(name) = names.get(url) {
        return name.clone();
    }
    let segment = |text: &str| -> String {
        crate::fsutil::path_safe(text)
            .trim_matches(|c| c == '.' || c == '-')
            .to_string()
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
pub(super) async fn fetch_repo_chart(
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
pub(super) async fn fetch_oci_chart(
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

/// Keeps the archive in the cache and reads it.
pub(super) fn read_chart(
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
pub(super) async fn check_provenance(
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
pub(super) async fn repository_index(
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
pub(super) fn base(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// The OCI reference a repository chart travels under: `HOST[:PORT]/PATH/NAME:TAG`, lower
/// case, with characters OCI repository names do not allow replaced by `-`.
pub fn repository_reference(repo: &str, name: &str, version: &str) -> Result<String, String> {
    let rest = repo.split_once("://").map_or(repo, |(_, rest)| rest);
    let clean = |segment: &str| -> String {
        crate::fsutil::path_safe(&segment.to_ascii_lowercase())
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
