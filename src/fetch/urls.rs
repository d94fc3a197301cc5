//! What fetch downloads from a URL rather than from a registry: files and their upstream
//! signature material, Debian and RPM packages, and the Helm charts of classic chart repositories
//! (each chart's `.tgz` from `pin.url`, and its `.prov` from `provenance.url` when one is
//! pinned). Each blob is checked against its pinned sha256 and size as it enters the store,
//! like every other; a chart from an OCI registry is an image pin, fetched as one.

use super::FetchError;
use crate::digest::Digest;
use crate::lock::{ChartPin, Lockfile};

/// One blob to download from a URL: its pinned sha256, its size in bytes, and the URL.
pub(super) type UrlBlob<'a> = (&'a Digest, u64, &'a String);

/// Every blob of `lock` that comes from a URL, in lockfile order (a blob may repeat).
///
/// Errors: a chart of a chart repository whose pin gives no `.tgz` URL.
pub(super) fn url_blobs(lock: &Lockfile) -> Result<Vec<UrlBlob<'_>>, FetchError> {
    let files = lock.files.iter().map(|f| (&f.sha256, f.size, &f.url));
    let material = lock
        .files
        .iter()
        .filter_map(|f| f.signature.as_ref())
        .flat_map(|s| &s.material)
        .map(|m| (&m.sha256, m.size, &m.url));
    let debs = lock.debs.iter().map(|d| (&d.sha256, d.size, &d.url));
    let rpms = lock.rpms.iter().map(|r| (&r.sha256, r.size, &r.url));
    let mut blobs: Vec<UrlBlob> = files.chain(debs).chain(rpms).chain(material).collect();
    for pin in &lock.charts {
        blobs.extend(chart_blobs(pin)?);
    }
    Ok(blobs)
}

/// The `.tgz` and `.prov` of a chart from a chart repository; nothing for an OCI chart.
fn chart_blobs(pin: &ChartPin) -> Result<Vec<UrlBlob<'_>>, FetchError> {
    if pin.repository.is_none() {
        return Ok(Vec::new());
    }
    let url = pin.url.as_ref().ok_or_else(|| FetchError::ChartUrl {
        chart: format!("{} {} ({})", pin.name, pin.version, pin.source),
    })?;
    let mut blobs = vec![(&pin.sha256, pin.size, url)];
    if let Some(provenance) = &pin.provenance {
        blobs.push((&provenance.sha256, provenance.size, &provenance.url));
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{ProvenancePin, ReleaseId, LOCK_VERSION};

    fn chart(repository: Option<&str>, url: Option<&str>, prov: bool) -> ChartPin {
        ChartPin {
            name: "demo".into(),
            version: "1.2.3".into(),
            source: "https://charts.test/stable".into(),
            repository: repository.map(str::to_string),
            reference: "charts.test/stable/demo:1.2.3".into(),
            url: url.map(str::to_string),
            sha256: Digest::of(b"tgz"),
            size: 3,
            manifest: None,
            created: None,
            metadata: serde_json::json!({"name": "demo", "version": "1.2.3"}),
            provenance: prov.then(|| ProvenancePin {
                url: "https://charts.test/stable/demo-1.2.3.tgz.prov".into(),
                sha256: Digest::of(b"prov"),
                size: 4,
                signer: "Demo <demo@test>".into(),
            }),
            dependency_of: None,
            images: Vec::new(),
            unevaluated: Vec::new(),
        }
    }

    fn lock(charts: Vec<ChartPin>) -> Lockfile {
        Lockfile {
            version: LOCK_VERSION,
            release: ReleaseId {
                name: "edge".into(),
                version: "1".into(),
            },
            manifest_digest: Digest::of(b"m"),
            platforms: Vec::new(),
            kubernetes: None,
            images: Vec::new(),
            files: Vec::new(),
            debs: Vec::new(),
            charts,
            rpms: Vec::new(),
            rpm_repos: Vec::new(),
            trusted_root: None,
        }
    }

    #[test]
    fn repository_charts_download_their_tgz_and_prov_oci_charts_nothing() {
        let url = "https://charts.test/stable/demo-1.2.3.tgz";
        let lock = lock(vec![
            chart(Some("stable"), Some(url), true),
            chart(None, None, false),
        ]);
        let blobs = url_blobs(&lock).unwrap();
        let listed: Vec<(String, u64, &str)> = blobs
            .iter()
            .map(|(d, size, url)| (d.to_string(), *size, url.as_str()))
            .collect();
        assert_eq!(
            listed,
            vec![
                (Digest::of(b"tgz").to_string(), 3, url),
                (
                    Digest::of(b"prov").to_string(),
                    4,
                    "https://charts.test/stable/demo-1.2.3.tgz.prov"
                ),
            ]
        );
    }

    #[test]
    fn a_repository_chart_without_a_url_is_named() {
        let err = url_blobs(&lock(vec![chart(Some("stable"), None, false)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "chart demo 1.2.3 (https://charts.test/stable): the lockfile gives no URL to download its .tgz from; run `outpost lock` again"
        );
    }
}
