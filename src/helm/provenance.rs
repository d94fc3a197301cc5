//! Helm provenance files (`<chart>-<version>.tgz.prov`, what `helm package --sign` writes
//! and `helm verify` checks): an OpenPGP clear-signed message whose body is the chart's
//! `Chart.yaml`, a line `...`, then a YAML document `files: {<chart>-<version>.tgz:
//! "sha256:<hex>"}`. [`verify`] checks the signature against a keyring (the clear-sign
//! check is `crate::debian::openpgp`'s, shared with apt's `InRelease`), then that the body
//! names the archive with its digest, as Helm's `provenance.Signatory.Verify` does.

use crate::debian::openpgp::{Keyring, PgpError};
use crate::digest::Digest;
use pgp::composed::{CleartextSignedMessage, SignedPublicKey};
use pgp::types::KeyDetails;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Why a provenance file does not vouch for an archive.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error("the provenance file is not valid: {message}")]
    Malformed { message: String },
    #[error("the keyring cannot be used: {message}")]
    Keyring { message: String },
    #[error(
        "the provenance signature (by key {}) does not verify with the keyring's keys",
        key_list(key_ids)
    )]
    BadSignature {
        /// Issuer key ids the signatures name (16 hex digits), if any.
        key_ids: Vec<String>,
    },
    #[error(
        "the provenance is signed by key {}, which is not in the keyring (add its public key)",
        key_list(key_ids)
    )]
    NoKey { key_ids: Vec<String> },
    #[error("the provenance lists no digest for {file} (it lists: {})", listed.join(", "))]
    NotListed { file: String, listed: Vec<String> },
    #[error("{file}: the provenance says {expected}, the file is {actual}")]
    DigestMismatch {
        file: String,
        expected: String,
        actual: String,
    },
}

fn key_list(key_ids: &[String]) -> String {
    if key_ids.is_empty() {
        "unknown".into()
    } else {
        key_ids.join(", ")
    }
}

/// The body's second document.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Sums {
    files: Option<BTreeMap<String, String>>,
}

/// Checks that `prov` is signed by a key (or subkey) of `keyring` (binary or armored) and
/// lists `file_name` (the archive's base name, `nginx-1.2.3.tgz`) with digest `sha256`.
/// Returns the signer as `"<user id> (<fingerprint, uppercase hex>)"`.
///
/// Errors: `Malformed` (not a clear-signed message, no `...` separator, no `files:`),
/// `Keyring`, `NoKey` (no key of the keyring has the signature's issuer key id),
/// `BadSignature` (names the issuer key ids), `NotListed`, `DigestMismatch`.
pub fn verify(
    prov: &[u8],
    keyring: &[u8],
    file_name: &str,
    sha256: &Digest,
) -> Result<String, ProvenanceError> {
    let malformed = |message: String| ProvenanceError::Malformed { message };
    let text = std::str::from_utf8(prov).map_err(|e| malformed(format!("not text ({e})")))?;
    let keys = Keyring::from_bytes("keyring", keyring).map_err(|e| ProvenanceError::Keyring {
        message: e.to_string(),
    })?;
    let (body, signer) = match keys.verify_clearsigned_by(text) {
        Ok(verified) => verified,
        Err(PgpError::Format(message)) => {
            return Err(malformed(format!("not a clear-signed message: {message}")))
        }
        Err(_) => return Err(signature_error(text, keys.keys())),
    };
    let Some((_, sums)) = body.split_once("\n...\n") else {
        return Err(malformed(
            "the signed text has no `...` line between Chart.yaml and the files".into(),
        ));
    };
    let sums: Option<Sums> = super::yaml::from_str(sums)
        .map_err(|e| malformed(format!("the files section is not YAML: {e}")))?;
    let files = sums.and_then(|s| s.files).unwrap_or_default();
    let Some(expected) = files.get(file_name) else {
        return Err(ProvenanceError::NotListed {
            file: file_name.to_string(),
            listed: files.into_keys().collect(),
        });
    };
    let matches = expected
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.eq_ignore_ascii_case(sha256.hex()));
    if !matches {
        return Err(ProvenanceError::DigestMismatch {
            file: file_name.to_string(),
            expected: expected.clone(),
            actual: sha256.to_string(),
        });
    }
    Ok(signer_name(signer))
}

/// `NoKey` when no key of the keyring has an issuer id the signatures name, else
/// `BadSignature`.
fn signature_error(text: &str, keys: &[SignedPublicKey]) -> ProvenanceError {
    let Ok((message, _)) = CleartextSignedMessage::from_string(text) else {
        return ProvenanceError::BadSignature { key_ids: vec![] };
    };
    let mut issuers = Vec::new();
    for signature in message.signatures() {
        for id in signature.issuer_key_id() {
            issuers.push(id.to_string());
        }
        for fingerprint in signature.issuer_fingerprint() {
            // A v4 key id is the fingerprint's last 8 bytes (a v6 one its first 8).
            let bytes = fingerprint.as_bytes();
            let id = match fingerprint.version() {
                Some(pgp::types::KeyVersion::V6) => &bytes[..8.min(bytes.len())],
                _ => &bytes[bytes.len().saturating_sub(8)..],
            };
            issuers.push(hex::encode(id));
        }
    }
    issuers.sort();
    issuers.dedup();
    let known = keys
        .iter()
        .flat_map(|key| {
            std::iter::once(key.primary_key.legacy_key_id())
                .chain(key.public_subkeys.iter().map(|sub| sub.legacy_key_id()))
        })
        .map(|id| id.to_string())
        .collect::<Vec<_>>();
    if !issuers.is_empty() && !issuers.iter().any(|id| known.contains(id)) {
        ProvenanceError::NoKey { key_ids: issuers }
    } else {
        ProvenanceError::BadSignature { key_ids: issuers }
    }
}

fn signer_name(key: &SignedPublicKey) -> String {
    let user = key
        .details
        .users
        .first()
        .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
        .unwrap_or_else(|| "(no user id)".into());
    format!("{user} ({:X})", key.primary_key.fingerprint())
}

#[cfg(test)]
#[path = "provenance_tests.rs"]
mod tests;
