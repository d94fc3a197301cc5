//! cosign's forms: a `.sig` layer (simple-signing payload + layer annotations), a `.att`
//! layer (DSSE envelope of an in-toto statement + the same annotations), and a detached
//! signature with an optional certificate (dl.k8s.io's `<binary>.sig` and `.cert`).
//!
//! The payload checks (which digest is signed, which predicate) are here; keyless material
//! is turned into a Sigstore bundle and verified by `keyless`, keys by `key`. The certificate
//! chain annotation is not used: intermediates come from the trusted root only.

use super::key::PublicKey;
use super::keyless::{self, LogCheck};
use super::policy::{Policy, Signer, SignerMethod};
use super::rekor::{check_body, sha256, Expected, LogEntry};
use super::root::TrustedRoot;
use super::{pem, ArtifactDigest, TrustError};
use crate::digest::Digest;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

const BUNDLE_V01: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";

fn malformed(what: &str, message: impl std::fmt::Display) -> TrustError {
    TrustError::Malformed {
        what: what.into(),
        message: message.to_string(),
    }
}

/// The digest a simple-signing payload names (`critical.image.docker-manifest-digest`).
pub fn signed_digest(payload: &[u8]) -> Result<String, TrustError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| malformed("simple-signing payload", e))?;
    value
        .pointer("/critical/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            malformed(
                "simple-signing payload",
                "it has no critical.image.docker-manifest-digest",
            )
        })
}

/// The log entry a layer's bundle annotation carries, if any.
fn annotated_entry(annotations: &BTreeMap<String, String>) -> Result<Option<LogEntry>, TrustError> {
    annotations
        .get(BUNDLE_ANNOTATION)
        .map(|text| LogEntry::from_cosign_annotation(text))
        .transpose()
}

/// A bundle `tlogEntries` item for a log entry (kind and version from its body).
fn tlog_json(entry: &LogEntry) -> Result<Value, TrustError> {
    let body = entry.body()?;
    let log_id = hex::decode(&entry.log_id).map_err(|e| TrustError::LogEntry {
        message: format!("its log ID is not hex: {e}"),
    })?;
    Ok(json!({
        "logIndex": entry.log_index.to_string(),
        "logId": {"keyId": B64.encode(log_id)},
        "kindVersion": {
            "kind": body.get("kind").and_then(Value::as_str).unwrap_or(""),
            "version": body.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
        },
        "integratedTime": entry.integrated_time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": B64.encode(&entry.signed_entry_timestamp)},
        "canonicalizedBody": entry.body_base64,
    }))
}

fn bundle(
    leaf: &[u8],
    tlog: Value,
    content: (&str, Value),
) -> Result<sigstore::bundle::Bundle, TrustError> {
    let mut value = json!({
        "mediaType": BUNDLE_V01,
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": B64.encode(leaf)}]},
            "tlogEntries": [tlog],
        },
    });
    value[content.0] = content.1;
    serde_json::from_value(value).map_err(|e| malformed("signature material", e))
}

fn leaf_from_annotations(annotations: &BTreeMap<String, String>) -> Result<Vec<u8>, TrustError> {
    let text = annotations
        .get(CERTIFICATE_ANNOTATION)
        .ok_or(TrustError::Missing {
            what: "certificate annotation (keyless needs one)",
        })?;
    pem::decode_first(text, "CERTIFICATE")
        .ok_or_else(|| malformed("certificate annotation", "it is not a PEM certificate"))
}

/// A layer signed with a policy's key: `signature` over `message` (`what` names it in
/// messages). It may carry a log entry too (`logged` is the sha256 the entry records): then
/// its SET and body must hold.
fn key_signed(
    pem: &str,
    signature: &[u8],
    message: &[u8],
    what: &str,
    logged: [u8; 32],
    entry: Option<&LogEntry>,
    root: &TrustedRoot,
) -> Result<Signer, TrustError> {
    let key = PublicKey::from_pem(pem)?;
    key.verify(signature, message, what)?;
    if let Some(entry) = entry {
        entry.verify_set(root)?;
        check_body(
            &entry.body()?,
            &Expected {
                signature,
                signer_der: &key.spki,
                sha256: logged,
            },
        )?;
    }
    Ok(key_signer(&key, entry))
}

fn key_signer(key: &PublicKey, entry: Option<&LogEntry>) -> Signer {
    Signer {
        method: SignerMethod::Key {
            fingerprint: key.fingerprint(),
        },
        log_index: entry.and_then(|e| u64::try_from(e.log_index).ok()),
        integrated_time: entry.map(|e| e.integrated_time),
    }
}

/// A keyless layer's log entry, which it must have.
fn required_entry(entry: Option<LogEntry>) -> Result<LogEntry, TrustError> {
    entry.ok_or(TrustError::Missing {
        what: "Rekor bundle annotation (dev.sigstore.cosign/bundle)",
    })
}

/// A cosign `.sig` layer: simple-signing JSON payload plus layer annotations. The payload's
/// `critical.image.docker-manifest-digest` must equal `subject`.
pub fn verify_simple_signing(
    payload: &[u8],
    annotations: &BTreeMap<String, String>,
    subject: &Digest,
    policy: &Policy,
    root: &TrustedRoot,
) -> Result<Signer, TrustError> {
    let named = signed_digest(payload)?;
    if named != subject.to_string() {
        return Err(TrustError::OtherDigest {
            expected: subject.to_string(),
            found: named,
        });
    }
    let signature = annotations
        .get(SIGNATURE_ANNOTATION)
        .map(|s| pem::base64_or_raw(s.as_bytes()))
        .filter(|s| !s.is_empty())
        .ok_or(TrustError::Missing {
            what: "signature annotation (dev.cosignproject.cosign/signature)",
        })?;
    let entry = annotated_entry(annotations)?;
    match policy {
        Policy::Key { pem } => key_signed(
            pem,
            &signature,
            payload,
            "the simple-signing payload",
            sha256(payload),
            entry.as_ref(),
            root,
        ),
        Policy::Keyless { issuer, identity } => {
            let entry = required_entry(entry)?;
            let leaf = leaf_from_annotations(annotations)?;
            let digest = sha256(payload);
            let content = json!({
                "messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(digest)},
                "signature": B64.encode(&signature),
            });
            let bundle = bundle(&leaf, tlog_json(&entry)?, ("messageSignature", content))?;
            let digests = [sigstore::bundle::verify::ArtifactDigest::Sha256(digest)];
            keyless::verify(&bundle, &digests, issuer, identity, LogCheck::ByCrate, root)
        }
    }
}

/// DSSE pre-authentication encoding (what a DSSE signature covers).
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A cosign `.att` layer: a DSSE envelope of an in-toto statement, one of whose subjects'
/// sha256 must equal `subject`, with predicate type `predicate_type`.
pub fn verify_attestation(
    envelope: &[u8],
    annotations: &BTreeMap<String, String>,
    subject: &Digest,
    predicate_type: &str,
    policy: &Policy,
    root: &TrustedRoot,
) -> Result<Signer, TrustError> {
    let envelope: Value =
        serde_json::from_slice(envelope).map_err(|e| malformed("DSSE envelope", e))?;
    let payload_type = envelope
        .get("payloadType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let payload = envelope
        .get("payload")
        .and_then(Value::as_str)
        .and_then(|p| B64.decode(p).ok())
        .ok_or_else(|| malformed("DSSE envelope", "it has no base64 payload"))?;
    let signature = envelope
        .pointer("/signatures/0/sig")
        .and_then(Value::as_str)
        .and_then(|s| B64.decode(s).ok())
        .ok_or_else(|| malformed("DSSE envelope", "it has no signature"))?;
    let statement: Value =
        serde_json::from_slice(&payload).map_err(|e| malformed("in-toto statement", e))?;
    let found_type = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if found_type != predicate_type {
        return Err(TrustError::PredicateType {
            expected: predicate_type.into(),
            found: found_type.into(),
        });
    }
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names_subject = subjects
        .iter()
        .any(|s| s.pointer("/digest/sha256").and_then(Value::as_str) == Some(subject.hex()));
    if !names_subject {
        return Err(TrustError::NoSubject);
    }
    let entry = annotated_entry(annotations)?;
    match policy {
        Policy::Key { pem } => key_signed(
            pem,
            &signature,
            &pae(&payload_type, &payload),
            "the DSSE envelope",
            sha256(&payload),
            entry.as_ref(),
            root,
        ),
        Policy::Keyless { issuer, identity } => {
            let entry = required_entry(entry)?;
            let leaf = leaf_from_annotations(annotations)?;
            let content = json!({
                "payload": B64.encode(&payload),
                "payloadType": payload_type,
                "signatures": [{"sig": B64.encode(&signature), "keyid": ""}],
            });
            let bundle = bundle(&leaf, tlog_json(&entry)?, ("dsseEnvelope", content))?;
            let log = keyless::log_check_for(&bundle, sha256(&payload));
            let digests = ArtifactDigest {
                sha256: subject.clone(),
                sha512: None,
            }
            .crate_digests();
            keyless::verify(&bundle, &digests, issuer, identity, log, root)
        }
    }
}

/// A detached signature (base64 or raw) over the artifact, checked with a key policy. Keyless
/// is refused ([`TrustError::NoLogEntry`]): a bare signature and certificate carry no
/// transparency-log entry, so nothing proves the signature was made while the certificate
/// was valid; a Sigstore bundle carries it.
pub fn verify_detached(
    signature: &[u8],
    artifact: &ArtifactDigest,
    policy: &Policy,
) -> Result<Signer, TrustError> {
    let signature = pem::base64_or_raw(signature);
    let digest = artifact.sha256_bytes();
    match policy {
        Policy::Key { pem } => {
            let key = PublicKey::from_pem(pem)?;
            key.verify_digest(&signature, &digest, "the file")?;
            Ok(key_signer(&key, None))
        }
        // A Fulcio certificate is valid for minutes: without the log entry that proves the
        // signature was made then, anyone holding the throwaway key could sign later.
        Policy::Keyless { .. } => Err(TrustError::NoLogEntry),
    }
}
