//! The OCI form of a Helm chart, as `helm push` writes it (Helm's registry support,
//! <https://helm.sh/docs/topics/registries/>): an OCI image manifest (image-spec v1.1,
//! `application/vnd.oci.image.manifest.v1+json`) whose config is `Chart.yaml` as compact JSON
//! ([`CONFIG_MEDIA_TYPE`]), whose first layer is the chart's `.tgz` byte for byte
//! ([`CHART_LAYER_MEDIA_TYPE`]) and whose optional second layer is its provenance file
//! ([`PROVENANCE_LAYER_MEDIA_TYPE`]). Writing ([`manifest`]) gives the same bytes for the
//! same input; reading ([`layers`]) checks the shape `helm pull` relies on. Pure: storing the
//! bytes is the caller's job.

use super::{CHART_LAYER_MEDIA_TYPE, CONFIG_MEDIA_TYPE, PROVENANCE_LAYER_MEDIA_TYPE};
use crate::digest::Digest;
use crate::oci::{Descriptor, MAX_MANIFEST_SIZE, OCI_MANIFEST};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The chart layer media type of charts pushed by Helm before 3.7, still accepted by
/// `helm pull`.
pub const LEGACY_CHART_LAYER_MEDIA_TYPE: &str = "application/tar+gzip";

/// Manifest annotation: when the chart was created (RFC 3339), as `helm push` writes it.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Manifest annotations `helm push` writes from `Chart.yaml`: the chart's name and version.
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
pub const ANNOTATION_VERSION: &str = "org.opencontainers.image.version";

/// A chart's OCI config and manifest bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciChart {
    /// `Chart.yaml` as compact JSON (media type [`CONFIG_MEDIA_TYPE`]).
    pub config: Vec<u8>,
    /// The image manifest (media type `application/vnd.oci.image.manifest.v1+json`).
    pub manifest: Vec<u8>,
}

impl OciChart {
    /// The manifest's digest.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.manifest)
    }
}

/// What a chart manifest holds: its config, its chart layer, its provenance layer if any,
/// and the manifest's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartLayers {
    pub chart: Descriptor,
    pub provenance: Option<Descriptor>,
    /// The config descriptor (`Chart.yaml` as JSON, [`CONFIG_MEDIA_TYPE`]).
    pub config: Descriptor,
    /// The manifest's annotations ([`ANNOTATION_CREATED`], …).
    pub annotations: BTreeMap<String, String>,
}

/// Why bytes are not a chart manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OciChartError {
    #[error("the chart manifest is {size} bytes, over the {MAX_MANIFEST_SIZE}-byte limit")]
    TooLarge { size: usize },
    #[error("not an OCI image manifest: {message}")]
    Json { message: String },
    #[error("not a Helm chart: the manifest's media type is {media_type}, not {OCI_MANIFEST}")]
    MediaType { media_type: String },
    #[error("not a Helm chart: the config's media type is {media_type}, not {CONFIG_MEDIA_TYPE}")]
    Config { media_type: String },
    #[error("not a Helm chart: the manifest has {count} chart layers ({CHART_LAYER_MEDIA_TYPE}), not exactly one")]
    ChartLayers { count: usize },
    #[error("not a Helm chart: the manifest has {count} provenance layers ({PROVENANCE_LAYER_MEDIA_TYPE}), at most one is allowed")]
    ProvenanceLayers { count: usize },
}

/// The OCI tag of a chart version: Helm writes a SemVer `+` (build metadata) as `_`, which
/// OCI tags do not allow (`1.2.3+build.1` → `1.2.3_build.1`).
pub fn tag(version: &str) -> String {
    version.replace('+', "_")
}

/// The config and manifest of a chart: `metadata` is `Chart.yaml` as JSON (written compact,
/// keys in their order), `chart` the `.tgz`'s sha256 and size in bytes, `provenance` the
/// `.prov`'s. The same input always gives the same bytes.
pub fn manifest(
    metadata: &serde_json::Value,
    chart: (&Digest, u64),
    provenance: Option<(&Digest, u64)>,
) -> OciChart {
    manifest_with_created(metadata, chart, provenance, None)
}

/// [`manifest`], with the chart's creation time (RFC 3339, as a chart repository's index
/// gives it) recorded as the [`ANNOTATION_CREATED`] annotation, as `helm push` does. The
/// name and version annotations come from `metadata`.
pub fn manifest_with_created(
    metadata: &serde_json::Value,
    chart: (&Digest, u64),
    provenance: Option<(&Digest, u64)>,
    created: Option<&str>,
) -> OciChart {
    let config = serde_json::to_vec(metadata).unwrap_or_default();
    let descriptor = |media_type: &str, digest: &Digest, size: u64| serde_json::json!({"mediaType": media_type, "digest": digest, "size": size});
    let mut layers = vec![descriptor(CHART_LAYER_MEDIA_TYPE, chart.0, chart.1)];
    if let Some((digest, size)) = provenance {
        layers.push(descriptor(PROVENANCE_LAYER_MEDIA_TYPE, digest, size));
    }
    let mut annotations = serde_json::Map::new();
    if let Some(created) = created {
        annotations.insert(ANNOTATION_CREATED.into(), created.into());
    }
    for (key, field) in [(ANNOTATION_TITLE, "name"), (ANNOTATION_VERSION, "version")] {
        if let Some(value) = metadata.get(field).and_then(|v| v.as_str()) {
            annotations.insert(key.into(), value.into());
        }
    }
    let mut manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(CONFIG_MEDIA_TYPE, &Digest::of(&config), config.len() as u64),
        "layers": layers,
    });
    if !annotations.is_empty() {
        manifest["annotations"] = serde_json::Value::Object(annotations);
    }
    OciChart {
        manifest: serde_json::to_vec(&manifest).unwrap_or_default(),
        config,
    }
}

/// The fields of a manifest a chart reader needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChartManifest {
    #[serde(default)]
    media_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Reads a chart manifest: its media type (when given) must be the OCI image manifest's, its
/// config [`CONFIG_MEDIA_TYPE`], with exactly one chart layer ([`CHART_LAYER_MEDIA_TYPE`], or
/// the legacy `application/tar+gzip`) and at most one provenance layer; other layers are
/// ignored, as `helm pull` does. At most [`MAX_MANIFEST_SIZE`] bytes are read.
pub fn layers(manifest: &[u8]) -> Result<ChartLayers, OciChartError> {
    if manifest.len() as u64 > MAX_MANIFEST_SIZE {
        return Err(OciChartError::TooLarge {
            size: manifest.len(),
        });
    }
    let parsed: ChartManifest =
        serde_json::from_slice(manifest).map_err(|e| OciChartError::Json {
            message: e.to_string(),
        })?;
    if let Some(media_type) = parsed.media_type.filter(|m| m != OCI_MANIFEST) {
        return Err(OciChartError::MediaType { media_type });
    }
    if parsed.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(OciChartError::Config {
            media_type: parsed.config.media_type,
        });
    }
    let of_type = |types: &[&str]| -> Vec<Descriptor> {
        parsed
            .layers
            .iter()
            .filter(|l| types.contains(&l.media_type.as_str()))
            .cloned()
            .collect()
    };
    let mut charts = of_type(&[CHART_LAYER_MEDIA_TYPE, LEGACY_CHART_LAYER_MEDIA_TYPE]);
    let mut provenances = of_type(&[PROVENANCE_LAYER_MEDIA_TYPE]);
    if charts.len() != 1 {
        return Err(OciChartError::ChartLayers {
            count: charts.len(),
        });
    }
    if provenances.len() > 1 {
        return Err(OciChartError::ProvenanceLayers {
            count: provenances.len(),
        });
    }
    Ok(ChartLayers {
        chart: charts.remove(0),
        provenance: provenances.pop(),
        config: parsed.config,
        annotations: parsed.annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> serde_json::Value {
        serde_json::json!({"apiVersion": "v2", "name": "ingress-nginx", "version": "4.11.3+up1", "appVersion": "1.11.3"})
    }

    #[test]
    fn tags_write_build_metadata_with_an_underscore() {
        assert_eq!(tag("4.11.3"), "4.11.3");
        assert_eq!(tag("1.2.3+build.1"), "1.2.3_build.1");
        assert_eq!(tag("1.2.3-rc.1+a+b"), "1.2.3-rc.1_a_b");
    }

    #[test]
    fn the_manifest_is_helms_shape_and_deterministic() {
        let tgz = Digest::of(b"chart");
        let prov = Digest::of(b"prov");
        let made = manifest(&metadata(), (&tgz, 5), Some((&prov, 4)));
        assert_eq!(made, manifest(&metadata(), (&tgz, 5), Some((&prov, 4))));
        // The config is Chart.yaml as compact JSON, keys in their order.
        assert_eq!(
            String::from_utf8(made.config.clone()).unwrap(),
            r#"{"apiVersion":"v2","name":"ingress-nginx","version":"4.11.3+up1","appVersion":"1.11.3"}"#
        );
        let value: serde_json::Value = serde_json::from_slice(&made.manifest).unwrap();
        assert_eq!(value["schemaVersion"], 2);
        assert_eq!(value["mediaType"], OCI_MANIFEST);
        assert_eq!(value["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(
            value["config"]["digest"],
            Digest::of(&made.config).to_string()
        );
        assert_eq!(value["config"]["size"], made.config.len());
        assert_eq!(value["layers"][0]["mediaType"], CHART_LAYER_MEDIA_TYPE);
        assert_eq!(value["layers"][0]["digest"], tgz.to_string());
        assert_eq!(value["layers"][0]["size"], 5);
        assert_eq!(value["layers"][1]["mediaType"], PROVENANCE_LAYER_MEDIA_TYPE);
        assert_eq!(value["annotations"][ANNOTATION_TITLE], "ingress-nginx");
        assert_eq!(value["annotations"][ANNOTATION_VERSION], "4.11.3+up1");
        assert!(value["annotations"].get(ANNOTATION_CREATED).is_none());
        assert!(value.get("artifactType").is_none());
        assert_eq!(made.digest(), Digest::of(&made.manifest));
    }

    #[test]
    fn written_manifests_read_back() {
        let tgz = Digest::of(b"chart");
        let prov = Digest::of(b"prov");
        let created = "2024-10-01T12:00:00Z";
        let made = manifest_with_created(&metadata(), (&tgz, 5), Some((&prov, 4)), Some(created));
        let read = layers(&made.manifest).unwrap();
        assert_eq!((read.chart.digest, read.chart.size), (tgz.clone(), 5));
        let provenance = read.provenance.unwrap();
        assert_eq!((provenance.digest, provenance.size), (prov, 4));
        assert_eq!(read.config.digest, Digest::of(&made.config));
        assert_eq!(read.annotations[ANNOTATION_CREATED], created);

        let plain = layers(&manifest(&metadata(), (&tgz, 5), None).manifest).unwrap();
        assert!(plain.provenance.is_none());
    }

    #[test]
    fn manifests_that_are_not_charts_are_named() {
        let d = Digest::of(b"x");
        let with = |config: &str, layers: &[&str]| {
            let layers: Vec<serde_json::Value> = layers
                .iter()
                .map(|m| serde_json::json!({"mediaType": m, "digest": d, "size": 1}))
                .collect();
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "config": {"mediaType": config, "digest": d, "size": 1},
                "layers": layers,
            }))
            .unwrap()
        };
        let image = with(
            "application/vnd.oci.image.config.v1+json",
            &["application/vnd.oci.image.layer.v1.tar+gzip"],
        );
        assert_eq!(
            layers(&image).unwrap_err().to_string(),
            "not a Helm chart: the config's media type is application/vnd.oci.image.config.v1+json, not application/vnd.cncf.helm.config.v1+json"
        );
        assert_eq!(
            layers(&with(CONFIG_MEDIA_TYPE, &[])),
            Err(OciChartError::ChartLayers { count: 0 })
        );
        assert_eq!(
            layers(&with(
                CONFIG_MEDIA_TYPE,
                &[CHART_LAYER_MEDIA_TYPE, LEGACY_CHART_LAYER_MEDIA_TYPE]
            )),
            Err(OciChartError::ChartLayers { count: 2 })
        );
        assert_eq!(
            layers(&with(
                CONFIG_MEDIA_TYPE,
                &[
                    CHART_LAYER_MEDIA_TYPE,
                    PROVENANCE_LAYER_MEDIA_TYPE,
                    PROVENANCE_LAYER_MEDIA_TYPE
                ]
            )),
            Err(OciChartError::ProvenanceLayers { count: 2 })
        );
        // A legacy chart layer and unknown layers are accepted, as helm pull accepts them.
        let legacy = layers(&with(
            CONFIG_MEDIA_TYPE,
            &[LEGACY_CHART_LAYER_MEDIA_TYPE, "application/x-other"],
        ))
        .unwrap();
        assert_eq!(legacy.chart.media_type, LEGACY_CHART_LAYER_MEDIA_TYPE);
        assert!(matches!(
            layers(b"not json"),
            Err(OciChartError::Json { .. })
        ));
        let index = format!(
            r#"{{"mediaType":"application/vnd.oci.image.index.v1+json","config":{{"mediaType":"{CONFIG_MEDIA_TYPE}","digest":"{d}","size":1}}}}"#
        );
        assert!(matches!(
            layers(index.as_bytes()),
            Err(OciChartError::MediaType { .. })
        ));
        let huge = vec![b' '; MAX_MANIFEST_SIZE as usize + 1];
        assert!(matches!(layers(&huge), Err(OciChartError::TooLarge { .. })));
    }
}
