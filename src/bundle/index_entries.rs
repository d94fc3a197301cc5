//! The `index.json` entries a lockfile makes: each image (its index or manifest, the
//! platforms carried, whether it travels whole), each referrer (an artifact entry naming its
//! subject), and the artifacts outpost writes itself: the lockfile, the Sigstore trusted root,
//! each file (its content, then its upstream signature material) and the generated apt
//! repository, and each Helm chart from a chart repository in the OCI form `helm push` writes
//! ([`crate::helm::oci`]). Artifact manifests (and a chart's config) are stored in the cache;
//! pack walks what these entries reach, and fetch walks the same entries to know what to
//! download.

use super::head::{Entry, EntryKind};
use super::pack::PackError;
use super::*;
use crate::digest::Digest;
use crate::lock::Lockfile;
use crate::oci::{self, Descriptor, ANNOTATION_TITLE};
use crate::store::Store;
use std::collections::BTreeMap;

/// Stores an artifact manifest (empty config, `layers`) and returns its `index.json` entry.
fn artifact(
    store: &Store,
    artifact_type: &str,
    layers: Vec<serde_json::Value>,
    kind: EntryKind,
) -> Result<Entry, PackError> {
    let empty = b"{}";
    let empty_digest = Digest::of(empty);
    store.put_bytes(&empty_digest, empty)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": oci::OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": oci::OCI_EMPTY, "digest": empty_digest, "size": 2},
        "layers": layers,
    });
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let manifest_digest = Digest::of(&manifest_bytes);
    store.put_bytes(&manifest_digest, &manifest_bytes)?;
    Ok(Entry {
        descriptor: Descriptor {
            media_type: oci::OCI_MANIFEST.into(),
            digest: manifest_digest,
            size: manifest_bytes.len() as u64,
            platform: None,
            artifact_type: Some(artifact_type.into()),
            annotations: BTreeMap::new(),
            urls: Vec::new(),
        },
        kind,
    })
}

/// The lockfile as an artifact.
pub(super) fn lock_artifact(lock: &Lockfile, store: &Store) -> Result<Entry, PackError> {
    let lock_bytes = lock.to_bytes();
    let lock_digest = Digest::of(&lock_bytes);
    store.put_bytes(&lock_digest, &lock_bytes)?;
    let title = format!("{}-{}.lock", lock.release.name, lock.release.version);
    let layer = serde_json::json!({
        "mediaType": LOCK_ARTIFACT_TYPE,
        "digest": lock_digest,
        "size": lock_bytes.len(),
        "annotations": {ANNOTATION_TITLE: title},
    });
    artifact(store, LOCK_ARTIFACT_TYPE, vec![layer], EntryKind::Lockfile)
}

/// The CycloneDX SBOM of the lockfile ([`crate::sbom::cyclonedx`], at `timestamp`) as an
/// artifact of type `application/vnd.cyclonedx+json` whose one layer is the document.
pub(super) fn sbom_artifact(
    lock: &Lockfile,
    timestamp: &str,
    store: &Store,
) -> Result<Entry, PackError> {
    use crate::sbom::{self, cyclonedx::MEDIA_TYPE};
    let bytes = sbom::render(lock, sbom::Format::CycloneDx, timestamp);
    let digest = Digest::of(&bytes);
    store.put_bytes(&digest, &bytes)?;
    let title = format!("{}-{}.cdx.json", lock.release.name, lock.release.version);
    let layer = serde_json::json!({
        "mediaType": MEDIA_TYPE,
        "digest": digest,
        "size": bytes.len(),
        "annotations": {ANNOTATION_TITLE: title},
    });
    artifact(store, MEDIA_TYPE, vec![layer], EntryKind::Sbom)
}

/// The Sigstore trusted root the lockfile's upstream signatures were checked against, as an
/// artifact: the site checks them again against it. Taken from the cache (lock put it
/// there), else the production root when it is that one.
pub(super) fn trusted_root_artifact(digest: &Digest, store: &Store) -> Result<Entry, PackError> {
    let production = crate::trust::TrustedRoot::production();
    let cached = store
        .read_bytes(digest)
        .ok()
        .filter(|bytes| &Digest::of(bytes) == digest);
    let size = if let Some(bytes) = cached {
        bytes.len() as u64
    } else if &Digest::of(production.bytes()) == digest {
        store.put_bytes(digest, production.bytes())?;
        production.bytes().len() as u64
    } else {
        return Err(PackError::MissingBlob {
            digest: digest.clone(),
            owner: "the Sigstore trusted root (lock again with the same --trusted-root)".into(),
        });
    };
    let layer = serde_json::json!({
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "digest": digest,
        "size": size,
        "annotations": {ANNOTATION_TITLE: "trusted_root.json"},
    });
    artifact(
        store,
        TRUSTED_ROOT_MEDIA_TYPE,
        vec![layer],
        EntryKind::TrustedRoot,
    )
}

/// A file as an artifact whose one layer is the upstream bytes (digest = upstream sha256).
pub(super) fn file_artifact(
    file: &crate::lock::FilePin,
    store: &Store,
) -> Result<Entry, PackError> {
    let layer = serde_json::json!({
        "mediaType": FILE_MEDIA_TYPE,
        "digest": file.sha256,
        "size": file.size,
        "annotations": {
            ANNOTATION_TITLE: crate::file_plan::file_name(&file.url),
            ANNOTATION_FILE_URL: file.url,
        },
    });
    let kind = EntryKind::File {
        path: file.path.clone(),
        insecure: file.insecure,
    };
    // The upstream signature travels beside the file, so the site can check it again.
    let material = file.signature.iter().flat_map(|s| &s.material).map(|m| {
        serde_json::json!({
            "mediaType": material_media_type(&m.role),
            "digest": m.sha256,
            "size": m.size,
            "annotations": {
                ANNOTATION_TITLE: crate::file_plan::file_name(&m.url),
                ANNOTATION_FILE_URL: m.url,
            },
        })
    });
    let layers = std::iter::once(layer).chain(material).collect();
    let signers: Vec<crate::trust::Signer> =
        file.signature.iter().map(|s| s.signer.clone()).collect();
    Ok(artifact(store, FILE_ARTIFACT_TYPE, layers, kind)?.with_signers(&signers))
}

/// The layer media type of one blob of a file's signature material.
fn material_media_type(role: &str) -> &'static str {
    match role {
        "bundle" => "application/vnd.dev.sigstore.bundle.v0.3+json",
        "cert" => "application/x-pem-file",
        _ => "application/vnd.outpost.signature.v1",
    }
}

/// The entries of the charts from classic chart repositories (`pin.repository` set): each
/// in its OCI form (config `Chart.yaml` as JSON, the `.tgz` unchanged, the `.prov` when
/// pinned), an artifact entry under `pin.reference` marked with its site chart repository.
/// Config and manifest are stored in the cache; the `.tgz` and `.prov` are what fetch
/// downloads. A chart from an OCI registry is one of `lock.images` already: none here.
pub(super) fn chart_entries(lock: &Lockfile, store: &Store) -> Result<Vec<Entry>, PackError> {
    use crate::helm::{oci as chart_oci, CONFIG_MEDIA_TYPE};
    let mut entries: Vec<Entry> = Vec::new();
    for pin in &lock.charts {
        let Some(repository) = &pin.repository else {
            continue;
        };
        let provenance = pin.provenance.as_ref().map(|p| (&p.sha256, p.size));
        let chart = chart_oci::manifest_with_created(
            &pin.metadata,
            (&pin.sha256, pin.size),
            provenance,
            pin.created.as_deref(),
        );
        store.put_bytes(&Digest::of(&chart.config), &chart.config)?;
        let digest = chart.digest();
        store.put_bytes(&digest, &chart.manifest)?;
        let descriptor = Descriptor {
            media_type: oci::OCI_MANIFEST.into(),
            digest,
            size: chart.manifest.len() as u64,
            platform: None,
            artifact_type: Some(CONFIG_MEDIA_TYPE.into()),
            annotations: BTreeMap::new(),
            urls: Vec::new(),
        };
        let entry = Entry::artifact(descriptor, &pin.reference, CONFIG_MEDIA_TYPE, None)
            .with_chart_repository(repository);
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// The .debs and the generated, signed apt repository, as files under `apt/<repo>/`.
pub(super) fn apt_repository(
    lock: &Lockfile,
    store: &Store,
    signer: &crate::sign::apt::AptSigner,
) -> Result<Vec<crate::lock::FilePin>, PackError> {
    use super::aptrepo;
    let repo = aptrepo::prefix(&lock.release.name);
    let mut files: Vec<crate::lock::FilePin> = lock
        .debs
        .iter()
        .map(|deb| crate::lock::FilePin {
            url: deb.url.clone(),
            path: format!("{repo}/{}", deb.path),
            sha256: deb.sha256.clone(),
            size: deb.size,
            verified_by: "sha256 in the signed Packages index".into(),
            insecure: false,
            signature: None,
        })
        .collect();
    let mut arches: Vec<String> = lock
        .platforms
        .iter()
        .filter_map(|p| p.parse().ok())
        .map(|p| crate::resolve::apt::debian_arch(&p))
        .collect();
    arches.dedup();
    for generated in aptrepo::generate(&lock.debs, &arches, &lock.release.name, signer)? {
        let digest = Digest::of(&generated.bytes);
        store.put_bytes(&digest, &generated.bytes)?;
        files.push(crate::lock::FilePin {
            url: format!("generated:{repo}/{}", generated.path),
            path: format!("{repo}/{}", generated.path),
            sha256: digest,
            size: generated.bytes.len() as u64,
            verified_by: "generated at build time".into(),
            insecure: false,
            signature: None,
        });
    }
    Ok(files)
}

/// The `index.json` entry of a pinned image or artifact: its index or manifest, with the
/// platforms carried and whether the index travels whole (always, for an artifact, whose
/// descriptor also names its `artifactType` as OCI 1.1 descriptors do). What pack writes,
/// and what fetch walks to know which blobs to download.
pub fn image_entry(pin: &crate::lock::ImagePin) -> Entry {
    let platforms = pin
        .platforms
        .iter()
        .filter_map(|p| p.platform.parse().ok())
        .collect();
    let descriptor = Descriptor {
        media_type: pin.media_type.clone(),
        digest: pin.digest.clone(),
        size: pin.size,
        platform: None,
        artifact_type: pin.artifact_type.clone(),
        annotations: BTreeMap::new(),
        urls: Vec::new(),
    };
    let entry = match &pin.artifact_type {
        // A platform-less artifact travels whole; a referrer would name its subject.
        Some(artifact_type) => Entry::artifact(descriptor, &pin.reference, artifact_type, None),
        None => Entry::image(descriptor, &pin.reference, platforms, pin.whole_index()),
    };
    let mut signers: Vec<crate::trust::Signer> = Vec::new();
    for signature in &pin.signatures {
        if !signers.contains(&signature.signer) {
            signers.push(signature.signer.clone());
        }
    }
    entry.with_signers(&signers)
}

/// The `index.json` entries of every image's referrers (signatures, attestations, SBOMs),
/// each once: an artifact entry with its subject, named `<registry>/<repository>:<tag>` for
/// one found under a cosign tag-scheme tag and `<registry>/<repository>@<digest>` otherwise.
pub fn referrer_entries(images: &[crate::lock::ImagePin]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for pin in images {
        let Ok(image) = crate::reference::parse(&pin.reference) else {
            continue;
        };
        let repository = format!("{}/{}", image.registry(), image.repository());
        for referrer in &pin.referrers {
            let reference = match &referrer.tag {
                Some(tag) => format!("{repository}:{tag}"),
                None => format!("{repository}@{}", referrer.digest),
            };
            let descriptor = Descriptor {
                media_type: referrer.media_type.clone(),
                digest: referrer.digest.clone(),
                size: referrer.size,
                platform: None,
                artifact_type: Some(referrer.artifact_type.clone()),
                annotations: BTreeMap::new(),
                urls: Vec::new(),
            };
            let entry = Entry::artifact(
                descriptor,
                &reference,
                &referrer.artifact_type,
                Some(referrer.subject.clone()),
            );
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{ChartPin, ReleaseId, LOCK_VERSION};

    fn pin(name: &str, repository: Option<&str>) -> ChartPin {
        ChartPin {
            name: name.into(),
            version: "1.0.0".into(),
            source: "https://charts.test/stable".into(),
            repository: repository.map(str::to_string),
            reference: format!("charts.test/stable/{name}:1.0.0"),
            url: Some(format!("https://charts.test/stable/{name}-1.0.0.tgz")),
            sha256: Digest::of(name.as_bytes()),
            size: 4,
            manifest: None,
            created: Some("2024-10-01T12:00:00Z".into()),
            metadata: serde_json::json!({"apiVersion": "v2", "name": name, "version": "1.0.0"}),
            provenance: None,
            dependency_of: None,
            images: Vec::new(),
            unevaluated: Vec::new(),
        }
    }

    #[test]
    fn repository_charts_become_marked_artifact_entries_in_helms_form() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let lock = Lockfile {
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
            charts: vec![pin("demo", Some("stable")), pin("cilium", None)],
            rpms: Vec::new(),
            rpm_repos: Vec::new(),
            trusted_root: None,
        };
        let entries = chart_entries(&lock, &store).unwrap();
        assert_eq!(
            entries.len(),
            1,
            "an OCI chart is an image pin, not a chart entry"
        );
        let entry = &entries[0];
        assert_eq!(entry.chart_repository(), Some("stable"));
        assert_eq!(entry.name(), "charts.test/stable/demo:1.0.0");
        assert!(matches!(
            &entry.kind,
            EntryKind::Image { artifact_type: Some(t), subject: None, .. }
                if t == crate::helm::CONFIG_MEDIA_TYPE
        ));
        // Manifest and config are in the cache; the manifest is Helm's shape.
        let manifest = store.read_bytes(&entry.descriptor.digest).unwrap();
        let layers = crate::helm::oci::layers(&manifest).unwrap();
        assert_eq!(layers.chart.digest, Digest::of(b"demo"));
        assert!(store.has(&layers.config.digest, layers.config.size));
        assert_eq!(
            layers.annotations[crate::helm::oci::ANNOTATION_CREATED],
            "2024-10-01T12:00:00Z"
        );
        // The same pins give the same entry.
        assert_eq!(chart_entries(&lock, &store).unwrap(), entries);
    }
}
