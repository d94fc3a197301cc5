//! Rekor log entries, offline: the signed entry timestamp (SET) checked against the log key
//! the trusted root names for the entry's log ID (in force at the entry's time), and the
//! entry's body checked against the signature, certificate or key and digest it must record.
//!
//! The `sigstore` crate's bundle verifier does neither SET check nor `intoto` bodies; this
//! module does, with the crate's key type and the canonical JSON Rekor signs.

use super::root::TrustedRoot;
use super::{pem, TrustError};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use sigstore::crypto::{CosignVerificationKey, Signature};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One Rekor entry, as a bundle or a cosign `dev.sigstore.cosign/bundle` annotation has it.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// The canonicalized body, base64 (as Rekor signed it).
    pub body_base64: String,
    pub integrated_time: i64,
    pub log_index: i64,
    /// Hex of the log ID (sha256 of the log key).
    pub log_id: String,
    pub signed_entry_timestamp: Vec<u8>,
}

impl LogEntry {
    /// From cosign's bundle annotation: `{"SignedEntryTimestamp": b64, "Payload": {...}}`.
    pub fn from_cosign_annotation(text: &str) -> Result<LogEntry, TrustError> {
        let bad = |message: String| TrustError::LogEntry { message };
        let bundle = serde_json::from_str::<sigstore::cosign::bundle::Bundle>(text)
            .map_err(|e| bad(format!("the cosign bundle annotation is not valid: {e}")))?;
        let set = B64
            .decode(bundle.signed_entry_timestamp.as_bytes())
            .map_err(|e| bad(format!("its SignedEntryTimestamp is not base64: {e}")))?;
        Ok(LogEntry {
            body_base64: bundle.payload.body,
            integrated_time: bundle.payload.integrated_time,
            log_index: bundle.payload.log_index,
            log_id: bundle.payload.log_id.to_ascii_lowercase(),
            signed_entry_timestamp: set,
        })
    }

    pub fn body(&self) -> Result<Value, TrustError> {
        let bytes = B64
            .decode(self.body_base64.as_bytes())
            .map_err(|e| TrustError::LogEntry {
                message: format!("its body is not base64: {e}"),
            })?;
        serde_json::from_slice(&bytes).map_err(|e| TrustError::LogEntry {
            message: format!("its body is not JSON: {e}"),
        })
    }

    /// Checks the SET against the trusted root's key for this log.
    pub fn verify_set(&self, root: &TrustedRoot) -> Result<(), TrustError> {
        let log = root
            .rekor_logs
            .get(&self.log_id)
            .ok_or_else(|| TrustError::UnknownLog {
                log_id: self.log_id.clone(),
            })?;
        if !log.valid_at(self.integrated_time) {
            return Err(TrustError::LogEntry {
                message: format!(
                    "the trusted root's key for log {} was not in force at the entry's time {}",
                    self.log_id, self.integrated_time
                ),
            });
        }
        let payload = json!({
            "body": self.body_base64,
            "integratedTime": self.integrated_time,
            "logIndex": self.log_index,
            "logID": self.log_id,
        });
        let canonical =
            serde_json_canonicalizer::to_vec(&payload).map_err(|e| TrustError::LogEntry {
                message: format!("cannot canonicalize it: {e}"),
            })?;
        let key = CosignVerificationKey::try_from_der(&log.spki).map_err(|e| {
            TrustError::TrustedRoot {
                message: format!("the key of log {} cannot be read: {e}", self.log_id),
            }
        })?;
        key.verify_signature(Signature::Raw(&self.signed_entry_timestamp), &canonical)
            .map_err(|_| TrustError::SignedEntryTimestamp {
                log_index: self.log_index,
                log_id: self.log_id.clone(),
            })
    }
}

/// What an entry's body must record.
pub struct Expected<'a> {
    /// The signature, raw.
    pub signature: &'a [u8],
    /// DER of the signing certificate (keyless) or SPKI of the key.
    pub signer_der: &'a [u8],
    /// sha256 of what was signed (hashedrekord), or of the DSSE payload (intoto, dsse).
    pub sha256: [u8; 32],
}

fn field<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

fn text<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    field(value, path).and_then(Value::as_str)
}

/// Whether a base64 PEM (what Rekor records as a public key or verifier) is `der`.
fn same_signer(recorded_base64: Option<&str>, der: &[u8]) -> bool {
    let Some(recorded) = recorded_base64.and_then(|b| B64.decode(b.as_bytes()).ok()) else {
        return false;
    };
    pem::decode_all(&String::from_utf8_lossy(&recorded))
        .iter()
        .any(|(_, found)| found == der)
}

/// Checks a `hashedrekord`, `intoto` or `dsse` body against what it must record.
pub fn check_body(body: &Value, expected: &Expected) -> Result<(), TrustError> {
    let kind = text(body, &["kind"]).unwrap_or("");
    let mismatch = |what: &str| TrustError::LogEntry {
        message: format!("its {kind} body records another {what} than the signature's"),
    };
    let digest_hex = hex::encode(expected.sha256);
    let signature_b64 = B64.encode(expected.signature);
    match kind {
        "hashedrekord" => {
            if text(body, &["spec", "data", "hash", "value"]) != Some(digest_hex.as_str()) {
                return Err(mismatch("digest"));
            }
            if text(body, &["spec", "signature", "content"]) != Some(signature_b64.as_str()) {
                return Err(mismatch("signature"));
            }
            let key = text(body, &["spec", "signature", "publicKey", "content"]);
            if !same_signer(key, expected.signer_der) {
                return Err(mismatch("certificate or key"));
            }
        }
        "intoto" => {
            let hash = text(body, &["spec", "content", "payloadHash", "value"]);
            if hash != Some(digest_hex.as_str()) {
                return Err(mismatch("payload digest"));
            }
            let first =
                field(body, &["spec", "content", "envelope", "signatures"]).and_then(|s| s.get(0));
            let key = first
                .and_then(|s| s.get("publicKey"))
                .and_then(Value::as_str);
            if !same_signer(key, expected.signer_der) {
                return Err(mismatch("certificate or key"));
            }
        }
        "dsse" => {
            if text(body, &["spec", "payloadHash", "value"]) != Some(digest_hex.as_str()) {
                return Err(mismatch("payload digest"));
            }
            let first = field(body, &["spec", "signatures"]).and_then(|s| s.get(0));
            let sig = first
                .and_then(|s| s.get("signature"))
                .and_then(Value::as_str);
            if sig != Some(signature_b64.as_str()) {
                return Err(mismatch("signature"));
            }
            let verifier = first
                .and_then(|s| s.get("verifier"))
                .and_then(Value::as_str);
            if !same_signer(verifier, expected.signer_der) {
                return Err(mismatch("certificate or key"));
            }
        }
        other => {
            return Err(TrustError::LogEntry {
                message: format!("its kind `{other}` is not hashedrekord, intoto or dsse"),
            })
        }
    }
    Ok(())
}

/// sha256 of `bytes`, as an array.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashedrekord_body_must_record_the_same_digest_signature_and_signer() {
        let der = vec![1u8, 2, 3];
        let key_pem = B64.encode(pem::encode("CERTIFICATE", &der));
        let digest = sha256(b"payload");
        let body = json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
            "signature": {"content": B64.encode(b"sig"), "publicKey": {"content": key_pem}}}});
        let good = Expected {
            signature: b"sig",
            signer_der: &der,
            sha256: digest,
        };
        check_body(&body, &good).unwrap();
        let other_digest = Expected {
            sha256: sha256(b"other"),
            ..good
        };
        assert_eq!(
            check_body(&body, &other_digest).unwrap_err().to_string(),
            "the Rekor log entry does not match: its hashedrekord body records another digest than the signature's"
        );
        let other_signer = Expected {
            signature: b"sig",
            signer_der: &[9],
            sha256: digest,
        };
        assert!(check_body(&body, &other_signer).is_err());
    }
}
