//! Helm charts: the pieces outpost needs to pin, carry and serve them. A chart repository's
//! `index.yaml` and version selection ([`index`], [`version`]), a chart archive read into a
//! [`Chart`] ([`archive`]), its provenance checked ([`provenance`]), the images it deploys
//! found ([`discover`], evaluating the small part of Go templates that names images in
//! [`template`]), and the OCI form charts travel in ([`oci`], Helm's media types). Pure
//! logic: downloading is `crate::resolve::charts`, serving `crate::server::charts`.

pub mod archive;
pub mod discover;
pub mod index;
pub mod metadata;
pub mod oci;
pub mod provenance;
pub mod template;
pub mod version;
pub mod yaml;

/// The config media type of a chart pushed as OCI (`helm push`): Chart.yaml as JSON.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// The layer media type of a chart's `.tgz` in its OCI form.
pub const CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The layer media type of a chart's provenance file in its OCI form.
pub const PROVENANCE_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";

/// A chart read from its archive: metadata, default values, templates, and its subcharts
/// (vendored under `charts/`, or attached by the resolver after pinning them).
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// `Chart.yaml` as JSON (what a chart's OCI config holds).
    pub metadata: serde_json::Value,
    pub name: String,
    pub version: String,
    pub app_version: Option<String>,
    /// `values.yaml` (an empty object when there is none).
    pub values: serde_json::Value,
    /// Every file under `templates/` (path inside the chart, `templates/job.yaml`, and text).
    pub templates: Vec<(String, String)>,
    /// Dependencies `Chart.yaml` (or a v1 chart's `requirements.yaml`) declares, with the
    /// versions `Chart.lock` (or `requirements.lock`) fixed when present.
    pub dependencies: Vec<Dependency>,
    /// Subcharts: vendored under `charts/` (directories or `.tgz`), or attached later.
    pub subcharts: Vec<Subchart>,
}

/// A dependency as `Chart.yaml` declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    /// Version or constraint (`Chart.lock`'s exact version when there is one).
    pub version: String,
    /// `https://…`, `oci://…`, `file://…`, `@alias` or empty.
    pub repository: String,
    pub alias: Option<String>,
    /// The values path that enables it (`redis.enabled`), when it has one.
    pub condition: Option<String>,
}

/// A subchart under the name its parent's values scope it by (alias, else chart name).
#[derive(Debug, Clone, PartialEq)]
pub struct Subchart {
    pub scope: String,
    pub chart: Chart,
}

impl Chart {
    /// The dependencies not vendored under `charts/` (by name, alias taken into account),
    /// which the resolver pins and attaches.
    pub fn missing_dependencies(&self) -> Vec<&Dependency> {
        self.dependencies
            .iter()
            .filter(|d| {
                let scope = d.alias.as_deref().unwrap_or(&d.name);
                !self
                    .subcharts
                    .iter()
                    .any(|s| s.scope == scope || s.chart.name == d.name)
            })
            .collect()
    }
}
