//! The Sigstore trusted root (`trusted_root.json`): the Fulcio certificate authorities, the
//! Rekor transparency log keys and the certificate-transparency log keys that keyless
//! signatures are checked against, offline.
//!
//! Parsing only: what the keys are used for is in `keyless` and `rekor`. The production root
//! is the one the `sigstore` crate ships, compiled in; `--trusted-root FILE` gives another.

use super::TrustError;
use base64::Engine as _;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The public-good Sigstore instance's trusted root, as the `sigstore` crate 0.15 ships it.
const PRODUCTION: &[u8] = include_bytes!("trusted_root.json");

/// A parsed trusted root, with the exact bytes it came from (carried in a bundle).
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    bytes: Vec<u8>,
    /// Every certificate of every Fulcio chain, DER (roots and intermediates are anchors).
    pub(super) fulcio_certs: Vec<Vec<u8>>,
    /// Rekor logs by log ID (hex of the key ID).
    pub(super) rekor_logs: BTreeMap<String, LogKey>,
    /// Certificate-transparency logs by log ID (hex of the key ID).
    pub(super) ct_logs: BTreeMap<String, LogKey>,
}

/// One log's public key (SPKI DER) and the time range it signed in (unix seconds).
#[derive(Debug, Clone)]
pub(super) struct LogKey {
    pub spki: Vec<u8>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl LogKey {
    /// Whether the key was in force at `time`.
    pub fn valid_at(&self, time: i64) -> bool {
        self.start.is_none_or(|start| time >= start) && self.end.is_none_or(|end| time <= end)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(default)]
    tlogs: Vec<WireLog>,
    #[serde(default)]
    certificate_authorities: Vec<WireAuthority>,
    #[serde(default)]
    ctlogs: Vec<WireLog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLog {
    public_key: WireKey,
    log_id: WireLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireKey {
    raw_bytes: String,
    #[serde(default)]
    valid_for: Option<WireRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct WireRange {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAuthority {
    cert_chain: WireChain,
}

#[derive(Deserialize)]
struct WireChain {
    certificates: Vec<WireCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCert {
    raw_bytes: String,
}

fn invalid(message: impl std::fmt::Display) -> TrustError {
    TrustError::TrustedRoot {
        message: message.to_string(),
    }
}

fn base64_field(name: &str, value: &str) -> Result<Vec<u8>, TrustError> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| invalid(format!("{name} is not base64: {e}")))
}

fn time_field(value: &Option<String>) -> Result<Option<i64>, TrustError> {
    value
        .as_deref()
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|time| time.timestamp())
                .map_err(|e| invalid(format!("validFor time `{text}`: {e}")))
        })
        .transpose()
}

fn logs(wire: &[WireLog], what: &str) -> Result<BTreeMap<String, LogKey>, TrustError> {
    let mut logs = BTreeMap::new();
    for log in wire {
        let key_id = base64_field(&format!("{what} logId.keyId"), &log.log_id.key_id)?;
        let spki = base64_field(
            &format!("{what} publicKey.rawBytes"),
            &log.public_key.raw_bytes,
        )?;
        let (start, end) = match &log.public_key.valid_for {
            Some(range) => (time_field(&range.start)?, time_field(&range.end)?),
            None => (None, None),
        };
        logs.insert(hex::encode(key_id), LogKey { spki, start, end });
    }
    Ok(logs)
}

impl TrustedRoot {
    /// The public-good Sigstore trusted root compiled into outpost.
    pub fn production() -> TrustedRoot {
        match Self::from_json(PRODUCTION) {
            Ok(root) => root,
            // The compiled-in file is checked by a unit test; an empty root verifies nothing.
            Err(_) => TrustedRoot {
                bytes: PRODUCTION.to_vec(),
                fulcio_certs: Vec::new(),
                rekor_logs: BTreeMap::new(),
                ct_logs: BTreeMap::new(),
            },
        }
    }

    /// Parses a `trusted_root.json` (Sigstore's `TrustedRoot` in its JSON form).
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, TrustError> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(invalid)?;
        let mut fulcio_certs = Vec::new();
        for authority in &wire.certificate_authorities {
            for cert in &authority.cert_chain.certificates {
                fulcio_certs.push(base64_field("certificate rawBytes", &cert.raw_bytes)?);
            }
        }
        if fulcio_certs.is_empty() {
            return Err(invalid("it names no certificate authority"));
        }
        let rekor_logs = logs(&wire.tlogs, "tlogs")?;
        if rekor_logs.is_empty() {
            return Err(invalid("it names no transparency log (tlogs)"));
        }
        let ct_logs = logs(&wire.ctlogs, "ctlogs")?;
        Ok(TrustedRoot {
            bytes: bytes.to_vec(),
            fulcio_certs,
            rekor_logs,
            ct_logs,
        })
    }

    /// The exact JSON this root was read from.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// What the `sigstore` crate's verifier needs: Fulcio anchors and CT log keys. (Rekor keys
/// are checked by `rekor`, against the log ID and signing time.)
impl sigstore::trust::TrustRoot for TrustedRoot {
    fn fulcio_certs(&self) -> sigstore::errors::Result<Vec<CertificateDer<'_>>> {
        Ok(self
            .fulcio_certs
            .iter()
            .map(|der| CertificateDer::from(der.as_slice()))
            .collect())
    }

    fn rekor_keys(&self) -> sigstore::errors::Result<BTreeMap<String, &[u8]>> {
        Ok(self
            .rekor_logs
            .iter()
            .map(|(id, key)| (id.clone(), key.spki.as_slice()))
            .collect())
    }

    fn ctfe_keys(&self) -> sigstore::errors::Result<BTreeMap<String, &[u8]>> {
        Ok(self
            .ct_logs
            .iter()
            .map(|(id, key)| (id.clone(), key.spki.as_slice()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_production_root_parses() {
        let root = TrustedRoot::from_json(PRODUCTION).unwrap();
        assert_eq!(root.bytes(), PRODUCTION);
        assert_eq!(root.fulcio_certs.len(), 3);
        assert_eq!(root.rekor_logs.len(), 1);
        assert_eq!(root.ct_logs.len(), 2);
        let rekor = root
            .rekor_logs
            .get("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d")
            .unwrap();
        assert!(rekor.valid_at(1_780_347_770));
        assert!(!rekor.valid_at(0));
    }

    #[test]
    fn a_bad_root_is_refused_with_the_reason() {
        let err = TrustedRoot::from_json(b"{\"tlogs\": []}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the trusted root is not valid: it names no certificate authority"
        );
        assert!(TrustedRoot::from_json(b"not json").is_err());
    }
}
