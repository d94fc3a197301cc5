//! A file's upstream signature at lock time: its material is downloaded (same retried client
//! as files), kept in the cache by sha256, and verified offline (`trust`) against the file's
//! digests. A verified signature stands in for an upstream checksum.

use super::files::get_small;
use super::ResolveError;
use crate::digest::Digest;
use crate::file_plan::{PlannedFile, PlannedSignature, SignatureMaterial, VerifySource};
use crate::lock::{FilePin, FileSignature, SignatureMaterialPin};
use crate::progress::Reporter;
use crate::store::Store;
use crate::trust::{self, ArtifactDigest, Policy, Signer, SignerMethod, TrustedRoot};
use crate::upstream::http::Http;
use std::io::Read as _;
use std::path::Path;

fn failed(url: &str, message: impl std::fmt::Display) -> ResolveError {
    ResolveError::FileSignature {
        url: url.to_string(),
        message: message.to_string(),
    }
}

/// Downloads one blob of material and keeps it in the cache.
async fn material(
    http: &Http,
    store: &Store,
    file_url: &str,
    role: &str,
    url: &str,
    reporter: &dyn Reporter,
) -> Result<(SignatureMaterialPin, Vec<u8>), ResolveError> {
    let bytes = get_small(http, url, reporter).await.map_err(|e| {
        failed(
            file_url,
            format!("cannot read its {role} {url}: {}", e.describe()),
        )
    })?;
    let sha256 = Digest::of(&bytes);
    store
        .put_bytes(&sha256, &bytes)
        .map_err(|e| failed(file_url, e))?;
    let pin = SignatureMaterialPin {
        role: role.into(),
        url: url.into(),
        sha256,
        size: bytes.len() as u64,
    };
    Ok((pin, bytes))
}

/// sha512 of a cached blob (DSSE subjects may name only it).
fn sha512_of(store: &Store, digest: &Digest) -> std::io::Result<String> {
    use sha2::Digest as _;
    let mut file = std::fs::File::open(store.blob_path(digest))?;
    let mut hasher = sha2::Sha512::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The policy a `verify:` names, reading a key file relative to the manifest.
///
/// Errors: the key file cannot be read (the message names it).
pub fn load_policy(source: &VerifySource, manifest_dir: &Path) -> Result<Policy, String> {
    match source {
        VerifySource::Policy(policy) => Ok(policy.clone()),
        VerifySource::KeyFile(path) => {
            let full = manifest_dir.join(path);
            std::fs::read_to_string(&full)
                .map(|pem| Policy::Key { pem })
                .map_err(|e| format!("cannot read the public key {}: {e}", full.display()))
        }
    }
}

/// What `verified_by` says of a signer.
pub fn describe(signer: &Signer) -> String {
    let mut text = match &signer.method {
        SignerMethod::Keyless { identity, issuer } => {
            format!("keyless signature by {identity} ({issuer})")
        }
        SignerMethod::Key { fingerprint } => format!("signature by key sha256:{fingerprint}"),
    };
    if let Some(index) = signer.log_index {
        text.push_str(&format!(", Rekor log index {index}"));
    }
    text
}

/// Verifies `file`'s signature against its pinned content and records it in the pin.
#[allow(clippy::too_many_arguments)]
pub async fn verify(
    http: &Http,
    store: &Store,
    root: &TrustedRoot,
    manifest_dir: &Path,
    file: &PlannedFile,
    signature: &PlannedSignature,
    mut pin: FilePin,
    reporter: &dyn Reporter,
) -> Result<FilePin, ResolveError> {
    let url = &file.url;
    let policy = load_policy(&signature.verify, manifest_dir).map_err(|e| failed(url, e))?;
    let (materials, signer) = match &signature.material {
        SignatureMaterial::Bundle(bundle_url) => {
            let (bundle_pin, bytes) =
                material(http, store, url, "bundle", bundle_url, reporter).await?;
            let sha512 = sha512_of(store, &pin.sha256).map_err(|e| failed(url, e))?;
            let artifact = ArtifactDigest {
                sha256: pin.sha256.clone(),
                sha512: Some(sha512),
            };
            let signer = trust::verify_bundle(&bytes, &artifact, &policy, root)
                .map_err(|e| failed(url, format!("bundle {bundle_url}: {e}")))?;
            (vec![bundle_pin], signer)
        }
        SignatureMaterial::Detached { sig, cert } => {
            let (sig_pin, sig_bytes) = material(http, store, url, "sig", sig, reporter).await?;
            let mut pins = vec![sig_pin];
            if let Some(cert) = cert {
                let (cert_pin, _) = material(http, store, url, "cert", cert, reporter).await?;
                pins.push(cert_pin);
            }
            let artifact = ArtifactDigest {
                sha256: pin.sha256.clone(),
                sha512: None,
            };
            let signer = trust::verify_detached(&sig_bytes, &artifact, &policy)
                .map_err(|e| failed(url, format!("signature {sig}: {e}")))?;
            (pins, signer)
        }
    };
    let by = describe(&signer);
    pin.verified_by = if pin.verified_by == "its signature" {
        by
    } else {
        format!("{} and {by}", pin.verified_by)
    };
    pin.signature = Some(FileSignature {
        material: materials,
        policy,
        signer,
    });
    Ok(pin)
}
