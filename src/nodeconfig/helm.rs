//! Helm, Argo CD and Flux at the site: the charts a bundle carries ([`site_charts`], read
//! from its chart entries) and the text that points those tools at the mirror's copies
//! ([`render`], pure). Charts of classic chart repositories are served as
//! `<mirror>/charts/<repository>` (`helm repo add`, an Argo CD repository Secret of type
//! `helm`, a Flux `HelmRepository`); charts from OCI registries under `/v2/` at their
//! upstream path (`helm pull oci://…`, a Flux `HelmRepository` of `type: oci`). Kubernetes
//! objects follow Argo CD's declarative repository Secrets
//! (<https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#repositories>)
//! and Flux's `source.toolkit.fluxcd.io/v1` `HelmRepository`.

use crate::bundle::head::Entry;
use crate::bundle::open::OpenBundle;
use crate::helm::oci as chart_oci;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The secret Flux reads the mirror's CA from (key `ca.crt`), when there is one.
pub const FLUX_CA_SECRET: &str = "outpost-mirror-ca";

/// One chart version: `name`, `version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChartVersion {
    pub name: String,
    pub version: String,
}

/// A chart from an OCI registry, served under `/v2/<repository>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OciChart {
    /// `registry/path/name` as upstream (`registry.example.com/charts/cilium`).
    pub repository: String,
    pub chart: ChartVersion,
}

/// The charts a bundle carries, as the site serves them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteCharts {
    /// Site chart repositories (`/charts/<name>`), each with its chart versions, sorted.
    pub repositories: BTreeMap<String, Vec<ChartVersion>>,
    /// Charts from OCI registries, sorted.
    pub oci: Vec<OciChart>,
}

#[derive(Debug, thiserror::Error)]
pub enum HelmConfigError {
    #[error("{bundle} carries no Helm charts (its manifest has no spec.charts)")]
    NoCharts { bundle: PathBuf },
    #[error("{bundle}: chart {chart}: {message}; run `outpost bundle verify`")]
    ChartDamaged {
        bundle: PathBuf,
        chart: String,
        message: String,
    },
}

/// Every chart of `bundle`: the entries marked with a site chart repository, and the OCI
/// artifacts whose config is a Helm chart's. Each chart's config (`Chart.yaml` as JSON) is
/// read and checked against its digest for its name and version.
///
/// Errors: no chart at all; a chart whose manifest or config is missing or damaged.
pub fn site_charts(bundle: &OpenBundle) -> Result<SiteCharts, HelmConfigError> {
    let mut charts = SiteCharts::default();
    for entry in &bundle.head.entries {
        let Some(reference) = entry.helm_chart() else {
            continue;
        };
        let chart = chart_version(bundle, entry)?;
        match entry.chart_repository() {
            Some(repository) => charts
                .repositories
                .entry(repository.to_string())
                .or_default()
                .push(chart),
            None => {
                let Ok(parsed) = crate::reference::parse(reference) else {
                    continue;
                };
                let repository = format!("{}/{}", parsed.registry(), parsed.repository());
                charts.oci.push(OciChart { repository, chart });
            }
        }
    }
    if charts.repositories.is_empty() && charts.oci.is_empty() {
        return Err(HelmConfigError::NoCharts {
            bundle: bundle.path.clone(),
        });
    }
    for versions in charts.repositories.values_mut() {
        versions.sort();
        versions.dedup();
    }
    charts.oci.sort();
    charts.oci.dedup();
    Ok(charts)
}

/// A chart entry's name and version, from its config.
fn chart_version(bundle: &OpenBundle, entry: &Entry) -> Result<ChartVersion, HelmConfigError> {
    let damaged = |message: String| HelmConfigError::ChartDamaged {
        bundle: bundle.path.clone(),
        chart: entry.name(),
        message,
    };
    let manifest = bundle
        .manifests
        .get(&entry.descriptor.digest)
        .ok_or_else(|| damaged("its manifest is missing".into()))?;
    let layers = chart_oci::layers(manifest).map_err(|e| damaged(e.to_string()))?;
    let location = bundle
        .blobs
        .get(&layers.config.digest)
        .copied()
        .ok_or_else(|| damaged("its config is missing".into()))?;
    let config = bundle
        .backing
        .read_verified(&layers.config.digest, location)
        .map_err(damaged)?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&config).map_err(|e| damaged(format!("its config: {e}")))?;
    let field = |key: &str| {
        metadata
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| damaged(format!("its Chart.yaml has no `{key}`")))
    };
    Ok(ChartVersion {
        name: field("name")?,
        version: field("version")?,
    })
}

/// What the text is for: the mirror's URL as the cluster reaches it (`http(s)://host:port`),
/// and the CA file that signs its certificate (its path where the commands run).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub mirror: &'a str,
    pub ca: Option<&'a str>,
}

impl Target<'_> {
    fn url(&self) -> &str {
        self.mirror.trim_end_matches('/')
    }

    /// `host:port`, what an `oci://` reference starts with.
    fn authority(&self) -> &str {
        let url = self.url();
        url.split_once("://").map_or(url, |(_, rest)| rest)
    }

    fn plain_http(&self) -> bool {
        self.url().starts_with("http://")
    }

    /// The host alone (Argo CD keys TLS certificates by it).
    fn host(&self) -> &str {
        let authority = self.authority();
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        }
    }
}

/// The `helm` commands, then the Argo CD repository Secrets, then the Flux `HelmRepository`
/// objects (one per site chart repository, one `type: oci` per OCI chart's parent path), as
/// one text: shell lines and comments first, then YAML documents after `---`.
pub fn render(target: Target, charts: &SiteCharts) -> String {
    let mut out = String::new();
    let ca_flag = target
        .ca
        .map(|ca| format!(" --ca-file {}", shell_word(ca)))
        .unwrap_or_default();
    if !charts.repositories.is_empty() {
        out.push_str("# helm: the site chart repositories\n");
    }
    for (repository, versions) in &charts.repositories {
        let listed: Vec<String> = versions
            .iter()
            .map(|c| format!("{} {}", c.name, c.version))
            .collect();
        out.push_str(&format!("#   {repository}: {}\n", listed.join(", ")));
        out.push_str(&format!(
            "helm repo add {} {}{ca_flag}\n",
            shell_word(repository),
            shell_word(&repository_url(target, repository))
        ));
    }
    if !charts.oci.is_empty() {
        out.push_str("# helm: the charts from OCI registries\n");
    }
    let plain = if target.plain_http() {
        " --plain-http"
    } else {
        ""
    };
    for chart in &charts.oci {
        out.push_str(&format!(
            "helm pull {} --version {}{plain}{ca_flag}\n",
            shell_word(&format!(
                "oci://{}/{}",
                target.authority(),
                chart.repository
            )),
            shell_word(&chart.chart.version)
        ));
    }
    if !charts.repositories.is_empty() {
        out.push_str(
            "\n# Argo CD: a repository Secret per site chart repository (kubectl apply -f -)\n",
        );
        if let Some(ca) = target.ca {
            out.push_str(&format!(
                "# Argo CD trusts the mirror once its CA is added: argocd cert add-tls {} --from {}\n",
                target.host(),
                shell_word(ca)
            ));
        }
        for repository in charts.repositories.keys() {
            out.push_str(&yaml_document(&serde_json::json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": object_name(repository),
                    "namespace": "argocd",
                    "labels": {"argocd.argoproj.io/secret-type": "repository"},
                },
                "stringData": {
                    "type": "helm",
                    "name": repository,
                    "url": repository_url(target, repository),
                },
            })));
        }
    }
    out.push_str("\n# Flux: a HelmRepository per chart repository (kubectl apply -f -)\n");
    if let Some(ca) = target.ca {
        out.push_str(&format!(
            "# Flux reads the mirror's CA from a secret: kubectl -n flux-system create secret generic {FLUX_CA_SECRET} --from-file=ca.crt={}\n",
            shell_word(ca)
        ));
    }
    for repository in charts.repositories.keys() {
        let url = repository_url(target, repository);
        out.push_str(&yaml_document(&flux_repository(
            target, repository, &url, false,
        )));
    }
    let mut parents: Vec<&str> = charts
        .oci
        .iter()
        .map(|c| {
            c.repository
                .rsplit_once('/')
                .map_or("", |(parent, _)| parent)
        })
        .collect();
    parents.dedup();
    for parent in parents {
        let url = format!("oci://{}/{parent}", target.authority());
        out.push_str(&yaml_document(&flux_repository(target, parent, &url, true)));
    }
    out
}

/// `<mirror>/charts/<repository>`.
fn repository_url(target: Target, repository: &str) -> String {
    format!("{}/charts/{repository}", target.url())
}

/// A Flux `HelmRepository` named after `source` (a repository name or an OCI path).
fn flux_repository(target: Target, source: &str, url: &str, oci: bool) -> serde_json::Value {
    let mut spec = serde_json::Map::new();
    if oci {
        spec.insert("type".into(), "oci".into());
        if target.plain_http() {
            // Flux's switch for an OCI registry over plain HTTP.
            spec.insert("insecure".into(), true.into());
        }
    }
    spec.insert("interval".into(), "1h".into());
    spec.insert("url".into(), url.into());
    if target.ca.is_some() {
        spec.insert(
            "certSecretRef".into(),
            serde_json::json!({"name": FLUX_CA_SECRET}),
        );
    }
    serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": object_name(source), "namespace": "flux-system"},
        "spec": spec,
    })
}

/// `---` and the value as YAML.
fn yaml_document(value: &serde_json::Value) -> String {
    format!(
        "---\n{}",
        serde_norway::to_string(value).unwrap_or_default()
    )
}

/// A Kubernetes object name (RFC 1123 label: lowercase letters, digits, `-`; at most 63)
/// for `source`: `outpost-` and the source with every other character as `-`.
pub fn object_name(source: &str) -> String {
    let mut name = String::from("outpost-");
    for c in source.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

/// A word for a POSIX shell: as it is when it holds only safe characters, else in single
/// quotes.
fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(name: &str, version: &str) -> ChartVersion {
        ChartVersion {
            name: name.into(),
            version: version.into(),
        }
    }

    fn charts() -> SiteCharts {
        SiteCharts {
            repositories: BTreeMap::from([
                (
                    "ingress-nginx".to_string(),
                    vec![chart("ingress-nginx", "4.11.3")],
                ),
                (
                    "stable".to_string(),
                    vec![chart("redis", "17.0.1"), chart("web", "1.2.3+build.1")],
                ),
            ]),
            oci: vec![
                OciChart {
                    repository: "registry.example.com/charts/cilium".into(),
                    chart: chart("cilium", "1.16.1"),
                },
                OciChart {
                    repository: "registry.example.com/charts/tetragon".into(),
                    chart: chart("tetragon", "1.2.0"),
                },
            ],
        }
    }

    #[test]
    fn config_over_https_with_a_ca() {
        let target = Target {
            mirror: "https://mirror.site:5000/",
            ca: Some("/etc/outpost/ca.crt"),
        };
        insta::assert_snapshot!(render(target, &charts()));
    }

    #[test]
    fn config_over_plain_http() {
        let target = Target {
            mirror: "http://10.0.0.5:5000",
            ca: None,
        };
        insta::assert_snapshot!(render(target, &charts()));
    }

    #[test]
    fn every_yaml_document_parses_as_the_object_it_is() {
        let target = Target {
            mirror: "https://mirror.site:5000",
            ca: Some("/ca.crt"),
        };
        let text = render(target, &charts());
        let documents: Vec<serde_json::Value> = text
            .split("---\n")
            .skip(1)
            .map(|doc| serde_norway::from_str(doc).unwrap())
            .collect();
        let kinds: Vec<&str> = documents
            .iter()
            .map(|d| d["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "Secret",
                "Secret",
                "HelmRepository",
                "HelmRepository",
                "HelmRepository"
            ]
        );
        assert_eq!(
            documents[1]["stringData"]["url"],
            "https://mirror.site:5000/charts/stable"
        );
        assert_eq!(documents[4]["spec"]["type"], "oci");
        assert_eq!(
            documents[4]["spec"]["url"],
            "oci://mirror.site:5000/registry.example.com/charts"
        );
        assert_eq!(
            documents[4]["metadata"]["name"],
            "outpost-registry-example-com-charts"
        );
    }

    #[test]
    fn names_and_words_are_made_safe() {
        assert_eq!(object_name("stable"), "outpost-stable");
        assert_eq!(object_name("My_Repo..x"), "outpost-my-repo-x");
        assert_eq!(object_name(&"a".repeat(100)).len(), 63);
        assert_eq!(
            shell_word("https://m:5000/charts/a"),
            "https://m:5000/charts/a"
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
