//! Upstream signatures checked again at the site, offline, from the bundle alone.
//!
//! At lock, each image a `spec.verify` policy matched and each signed `files:` entry was
//! checked against its publisher's signature; the lockfile records which signature held,
//! under which policy, and the Sigstore trusted root it was checked against. The bundle
//! carries all of it under its own signature: the lockfile, the trusted root, the signature
//! manifests and layers (as referrers of their images) and the files' signature material
//! (as layers beside each file). [`reverify`] reads them from an opened bundle or store
//! release and runs the same checks (`crate::resolve::verify::check_signature`,
//! `crate::trust`), with no network. A swapped or altered signature fails here even when the
//! bundle's own signature holds.

use super::head::EntryKind;
use super::open::{BlobLocation, OpenBundle};
use crate::digest::Digest;
use crate::lock::{FilePin, ImagePin, Lockfile};
use crate::oci::Parsed;
use crate::trust::{self, ArtifactDigest, Signer, TrustedRoot};
use std::path::PathBuf;

/// The lockfile and the trusted root are read whole; larger ones are refused.
const MAX_METADATA_SIZE: u64 = 64 << 20;

/// One upstream signature that held again.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rechecked {
    /// The image reference or the file's mirror path.
    pub name: String,
    /// The digest signed (an image's index or manifest, a platform manifest, or a file's
    /// sha256).
    pub subject: Digest,
    pub signer: Signer,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The bundle (or stored release) could not be opened to read its signatures.
    #[error(transparent)]
    Open(#[from] super::open::OpenError),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "{path}: {name}: the upstream signature carried for {subject} does not hold: {message}"
    )]
    Failed {
        path: PathBuf,
        name: String,
        subject: Digest,
        message: String,
    },
}

/// Checks every upstream signature the bundle's lockfile records; returns each that held.
/// A bundle whose lockfile records none returns an empty list.
///
/// Errors: the lockfile, the trusted root or a signature blob is missing or unreadable
/// ([`UpstreamError::Invalid`]); a signature does not hold ([`UpstreamError::Failed`],
/// naming the image or file).
pub fn reverify(bundle: &OpenBundle) -> Result<Vec<Rechecked>, UpstreamError> {
    let invalid = |message: String| UpstreamError::Invalid {
        path: bundle.path.clone(),
        message,
    };
    let lock = carried_lockfile(bundle)?
        .ok_or_else(|| invalid("the bundle carries no lockfile".into()))?;
    let signed_images: Vec<&ImagePin> = lock
        .images
        .iter()
        .filter(|i| !i.signatures.is_empty())
        .collect();
    let signed_files: Vec<&FilePin> = lock
        .files
        .iter()
        .filter(|f| f.signature.is_some())
        .collect();
    if signed_images.is_empty() && signed_files.is_empty() {
        return Ok(Vec::new());
    }
    let root_bytes = artifact_content(bundle, &EntryKind::TrustedRoot)?
        .ok_or_else(|| invalid("the bundle carries no Sigstore trusted root".into()))?;
    if lock.trusted_root.as_ref() != Some(&Digest::of(&root_bytes)) {
        return Err(invalid(
            "the trusted root carried is not the one the lockfile names".into(),
        ));
    }
    let root = TrustedRoot::from_json(&root_bytes)
        .map_err(|e| invalid(format!("its trusted root: {e}")))?;
    let mut checked = Vec::new();
    for image in signed_images {
        checked.extend(reverify_image(bundle, image, &root)?);
    }
    for file in signed_files {
        checked.extend(reverify_file(bundle, file, &root)?);
    }
    Ok(checked)
}

fn reverify_image(
    bundle: &OpenBundle,
    image: &ImagePin,
    root: &TrustedRoot,
) -> Result<Vec<Rechecked>, UpstreamError> {
    let mut checked = Vec::new();
    for signature in &image.signatures {
        let failed = |message: String| UpstreamError::Failed {
            path: bundle.path.clone(),
            name: image.reference.clone(),
            subject: signature.subject.clone(),
            message,
        };
        let ours = signature.subject == image.digest
            || image
                .platforms
                .iter()
                .any(|p| p.digest == signature.subject);
        if !ours {
            return Err(failed("its subject is not this image".into()));
        }
        let manifest = bundle
            .manifests
            .get(&signature.signature)
            .ok_or_else(|| failed(format!("signature {} is not carried", signature.signature)))?;
        let layers = match Parsed::from_bytes(manifest, None) {
            Ok(Parsed::Image { layers, .. }) => layers,
            _ => {
                return Err(failed(format!(
                    "{} is not a signature manifest",
                    signature.signature
                )))
            }
        };
        let layer = layers
            .iter()
            .find(|l| l.digest == signature.layer)
            .ok_or_else(|| {
                failed(format!(
                    "signature {} has no layer {}",
                    signature.signature, signature.layer
                ))
            })?;
        let bytes = blob(
            bundle,
            &layer.digest,
            crate::resolve::verify::MAX_SIGNATURE_SIZE,
        )
        .map_err(&failed)?;
        let signer = crate::resolve::verify::check_signature(
            &bytes,
            layer,
            &signature.subject,
            &signature.policy,
            &signature.require,
            root,
        )
        .map_err(|e| failed(e.to_string()))?;
        checked.push(Rechecked {
            name: image.reference.clone(),
            subject: signature.subject.clone(),
            signer,
        });
    }
    Ok(checked)
}

fn reverify_file(
    bundle: &OpenBundle,
    file: &FilePin,
    root: &TrustedRoot,
) -> Result<Option<Rechecked>, UpstreamError> {
    let Some(signature) = &file.signature else {
        return Ok(None);
    };
    let failed = |message: String| UpstreamError::Failed {
        path: bundle.path.clone(),
        name: file.path.clone(),
        subject: file.sha256.clone(),
        message,
    };
    let material = |role: &str| -> Result<Option<Vec<u8>>, UpstreamError> {
        signature
            .material
            .iter()
            .find(|m| m.role == role)
            .map(|m| {
                blob(
                    bundle,
                    &m.sha256,
                    crate::resolve::verify::MAX_SIGNATURE_SIZE,
                )
            })
            .transpose()
            .map_err(&failed)
    };
    let signer = if let Some(sigstore_bundle) = material("bundle")? {
        let artifact = ArtifactDigest {
            sha256: file.sha256.clone(),
            sha512: Some(sha512(bundle, &file.sha256).map_err(&failed)?),
        };
        trust::verify_bundle(&sigstore_bundle, &artifact, &signature.policy, root)
    } else if let Some(sig) = material("sig")? {
        let artifact = ArtifactDigest {
            sha256: file.sha256.clone(),
            sha512: None,
        };
        trust::verify_detached(&sig, &artifact, &signature.policy)
    } else {
        return Err(failed("no signature material is carried".into()));
    }
    .map_err(|e| failed(e.to_string()))?;
    Ok(Some(Rechecked {
        name: file.path.clone(),
        subject: file.sha256.clone(),
        signer,
    }))
}

/// The lockfile a bundle (or stored release) carries, read and checked against its digest;
/// `None` when it carries none. The one reader of it for every view of a release (upstream
/// re-verification, the site dashboard, `bundle diff`, `bundle sbom`).
pub fn carried_lockfile(bundle: &OpenBundle) -> Result<Option<Lockfile>, UpstreamError> {
    carried_lockfile_as(bundle)
}

/// As [`carried_lockfile`], parsed as `T`: a view that reads only some of the lockfile's
/// fields ([`crate::lock::parse_versioned`]; the dashboard's rows hold a fraction of what a
/// whole [`Lockfile`] of thousands of images costs).
pub fn carried_lockfile_as<T: serde::de::DeserializeOwned>(
    bundle: &OpenBundle,
) -> Result<Option<T>, UpstreamError> {
    let Some(bytes) = artifact_content(bundle, &EntryKind::Lockfile)? else {
        return Ok(None);
    };
    crate::lock::parse_versioned(&bundle.path, &bytes)
        .map(Some)
        .map_err(|e| UpstreamError::Invalid {
            path: bundle.path.clone(),
            message: format!("its lockfile: {e}"),
        })
}

/// The content (first layer) of the bundle's artifact of `kind`, read whole and checked.
fn artifact_content(
    bundle: &OpenBundle,
    kind: &EntryKind,
) -> Result<Option<Vec<u8>>, UpstreamError> {
    let invalid = |message: String| UpstreamError::Invalid {
        path: bundle.path.clone(),
        message,
    };
    let Some(entry) = bundle.head.entries.iter().find(|e| &e.kind == kind) else {
        return Ok(None);
    };
    let name = entry.name();
    let manifest = bundle
        .manifests
        .get(&entry.descriptor.digest)
        .ok_or_else(|| invalid(format!("the {name} manifest is not carried")))?;
    let layer = match Parsed::from_bytes(manifest, None) {
        Ok(Parsed::Image { layers, .. }) => layers.into_iter().next(),
        _ => None,
    }
    .ok_or_else(|| invalid(format!("the {name} manifest has no content")))?;
    blob(bundle, &layer.digest, MAX_METADATA_SIZE)
        .map(Some)
        .map_err(invalid)
}

/// A carried blob's bytes, at most `max` of them, checked against its digest.
fn blob(bundle: &OpenBundle, digest: &Digest, max: u64) -> Result<Vec<u8>, String> {
    bundle
        .backing
        .read_verified_up_to(digest, location(bundle, digest)?, max)
}

/// The sha512 (hex) of a carried blob, streamed (files may be large), its sha256 checked in
/// the same pass.
fn sha512(bundle: &OpenBundle, digest: &Digest) -> Result<String, String> {
    use sha2::Digest as _;
    let mut sha256 = sha2::Sha256::new();
    let location = location(bundle, digest)?;
    let (file, offset) = bundle
        .backing
        .open_blob(digest, location)
        .map_err(|e| e.to_string())?;
    let mut hasher = sha2::Sha512::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < location.size {
        let n = buffer.len().min((location.size - done) as usize);
        file.read_exact_at(&mut buffer[..n], offset + done)
            .map_err(|e| format!("blob {digest}: {e}"))?;
        hasher.update(&buffer[..n]);
        sha256.update(&buffer[..n]);
        done += n as u64;
    }
    let actual = hex::encode(sha256.finalize());
    if actual != digest.hex() {
        return Err(format!(
            "blob {digest} is damaged (hashes to sha256:{actual})"
        ));
    }
    Ok(hex::encode(hasher.finalize()))
}

fn location(bundle: &OpenBundle, digest: &Digest) -> Result<BlobLocation, String> {
    bundle
        .blobs
        .get(digest)
        .copied()
        .ok_or_else(|| format!("blob {digest} is not carried"))
}
