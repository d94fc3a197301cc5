//! The dashboard's lean view of a release's carried lockfile: only the fields its image, file,
//! chart and package rows show, parsed straight from the lockfile's bytes (schema version
//! checked first, [`crate::lock::parse_versioned`]) and moved into the rows. The whole
//! [`crate::lock::Lockfile`] of a release of 5,000 images costs the server about 10 MiB at
//! start-up, held or not; this view about a tenth of that. Fields are read leniently (others
//! are skipped): the full, strict parse is for the commands that use the whole lockfile
//! (`bundle sbom`, `bundle diff`, the dashboard's SBOM link).

use super::model::{ChartRow, FileRow, ImageRow, PackageRow};
use serde::Deserialize;

/// What the rows need of a lockfile (field names as in [`crate::lock::Lockfile`]).
#[derive(Debug, Default, Deserialize)]
pub struct LockRows {
    #[serde(default)]
    images: Vec<ImageFields>,
    #[serde(default)]
    files: Vec<FileFields>,
    #[serde(default)]
    charts: Vec<ChartFields>,
    #[serde(default)]
    debs: Vec<PackageFields>,
    #[serde(default)]
    rpms: Vec<PackageFields>,
}

#[derive(Debug, Deserialize)]
struct ImageFields {
    reference: String,
    digest: String,
    size: u64,
    #[serde(default)]
    platforms: Vec<PlatformFields>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    signatures: Vec<SignatureFields>,
}

#[derive(Debug, Deserialize)]
struct PlatformFields {
    platform: String,
}

#[derive(Debug, Deserialize)]
struct SignatureFields {
    signer: crate::trust::Signer,
}

#[derive(Debug, Deserialize)]
struct FileFields {
    path: String,
    url: String,
    sha256: String,
    size: u64,
}

#[derive(Debug, Deserialize)]
struct ChartFields {
    name: String,
    version: String,
    sha256: String,
    #[serde(default)]
    metadata: Option<ChartMetadata>,
}

#[derive(Debug, Deserialize)]
struct ChartMetadata {
    #[serde(default)]
    description: Option<serde_json::Value>,
}

/// A Debian package (`version` as is) or an RPM (`epoch`, `version`, `release`).
#[derive(Debug, Deserialize)]
struct PackageFields {
    name: String,
    version: String,
    arch: String,
    #[serde(default)]
    epoch: u32,
    #[serde(default)]
    release: Option<String>,
}

/// The rows of a lockfile's view: images, files, charts, packages (Debian, then RPM).
pub type Rows = (Vec<ImageRow>, Vec<FileRow>, Vec<ChartRow>, Vec<PackageRow>);

impl LockRows {
    /// The dashboard's rows, the strings moved (not copied) out of the view.
    pub fn into_rows(self) -> Rows {
        let images = self.images.into_iter().map(image_row).collect();
        let files = self
            .files
            .into_iter()
            .map(|f| FileRow {
                path: f.path,
                url: f.url,
                sha256: f.sha256,
                size: f.size,
            })
            .collect();
        let charts = self
            .charts
            .into_iter()
            .map(|c| ChartRow {
                description: c
                    .metadata
                    .and_then(|m| m.description)
                    .and_then(|d| d.as_str().map(str::to_string))
                    .unwrap_or_default(),
                name: c.name,
                version: c.version,
                sha256: c.sha256,
            })
            .collect();
        let packages = self
            .debs
            .into_iter()
            .map(|d| PackageRow {
                name: d.name,
                version: d.version,
                arch: d.arch,
            })
            .chain(self.rpms.into_iter().map(|r| {
                PackageRow {
                    version: crate::rpm::version::Evr {
                        epoch: r.epoch,
                        version: r.version,
                        release: r.release,
                    }
                    .to_string(),
                    name: r.name,
                    arch: r.arch,
                }
            }))
            .collect();
        (images, files, charts, packages)
    }
}

/// An RPM's `[epoch:]version-release` as the dashboard shows it (no `0:`).
fn image_row(pin: ImageFields) -> ImageRow {
    let platforms = if pin.platforms.is_empty() {
        pin.artifact_type.unwrap_or_default()
    } else {
        pin.platforms
            .iter()
            .map(|p| p.platform.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut signers: Vec<String> = pin
        .signatures
        .iter()
        .map(|s| s.signer.to_string())
        .collect();
    signers.dedup();
    ImageRow {
        reference: pin.reference,
        digest: pin.digest,
        platforms,
        size: Some(pin.size),
        signer: signers.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::lock::{DebPin, FilePin, ImagePin, Lockfile, PlatformPin, ReleaseId, RpmPin};
    use std::path::Path;

    /// A whole lockfile, written as `outpost lock` writes it, read back through the view.
    #[test]
    fn rows_from_a_whole_lockfile() {
        let d = Digest::of(b"m");
        let manifest = "application/vnd.oci.image.manifest.v1+json";
        let lock = Lockfile {
            version: crate::lock::LOCK_VERSION,
            release: ReleaseId {
                name: "r".into(),
                version: "1".into(),
            },
            manifest_digest: d.clone(),
            platforms: vec!["linux/amd64".into()],
            kubernetes: None,
            images: vec![ImagePin {
                reference: "registry.test/app:1".into(),
                digest: d.clone(),
                media_type: manifest.into(),
                size: 321,
                platforms: vec![PlatformPin {
                    platform: "linux/amd64".into(),
                    digest: d.clone(),
                    media_type: manifest.into(),
                    size: 321,
                }],
                also_carried: Vec::new(),
                artifact_type: None,
                referrers: Vec::new(),
                signatures: Vec::new(),
                why: Vec::new(),
            }],
            files: vec![FilePin {
                url: "https://dl.test/kubelet".into(),
                path: "dl.test/kubelet".into(),
                sha256: d.clone(),
                size: 7,
                verified_by: "sha256 in the manifest".into(),
                insecure: false,
                signature: None,
            }],
            debs: vec![DebPin {
                name: "socat".into(),
                version: "1.7".into(),
                arch: "amd64".into(),
                path: "pool/s/socat.deb".into(),
                url: "http://deb.test/socat.deb".into(),
                sha256: d.clone(),
                size: 1,
                source: "main".into(),
                why: "requested".into(),
                control: String::new(),
            }],
            charts: Vec::new(),
            rpms: vec![RpmPin {
                name: "tar".into(),
                epoch: 2,
                version: "1.34".into(),
                release: "6.el9".into(),
                arch: "x86_64".into(),
                repo: "baseos".into(),
                path: "t.rpm".into(),
                url: "http://rpm.test/t.rpm".into(),
                sha256: d.clone(),
                size: 1,
                source: "baseos".into(),
                why: "requested".into(),
                signer: String::new(),
                gpgcheck: true,
                header_end: None,
            }],
            rpm_repos: Vec::new(),
            trusted_root: None,
        };
        let view: LockRows =
            crate::lock::parse_versioned(Path::new("l"), &lock.to_bytes()).unwrap();
        let (images, files, charts, packages) = view.into_rows();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].reference, "registry.test/app:1");
        assert_eq!(images[0].digest, d.to_string());
        assert_eq!(images[0].platforms, "linux/amd64");
        assert_eq!(images[0].size, Some(321));
        assert_eq!(images[0].signer, "");
        assert_eq!(
            (files[0].path.as_str(), files[0].size),
            ("dl.test/kubelet", 7)
        );
        assert_eq!(files[0].sha256, d.to_string());
        assert!(charts.is_empty());
        let versions: Vec<&str> = packages.iter().map(|p| p.version.as_str()).collect();
        assert_eq!(versions, ["1.7", "2:1.34-6.el9"]);
    }

    #[test]
    fn a_later_schema_is_refused_by_version() {
        let bytes = br#"{"version": 99, "images": []}"#;
        let err = crate::lock::parse_versioned::<LockRows>(Path::new("l"), bytes).unwrap_err();
        assert!(err.to_string().contains("v99"), "{err}");
    }

    #[test]
    fn chart_description_only_when_a_string() {
        let bytes = br#"{"version": 1, "charts": [
            {"name": "a", "version": "1", "sha256": "s", "metadata": {"description": "web"}},
            {"name": "b", "version": "1", "sha256": "s", "metadata": {"description": 3}}]}"#;
        let view: LockRows = crate::lock::parse_versioned(Path::new("l"), bytes).unwrap();
        let (_, _, charts, _) = view.into_rows();
        assert_eq!(charts[0].description, "web");
        assert_eq!(charts[1].description, "");
    }
}
