//! Upstream signature verification, offline: cosign simple-signing `.sig` layers and `.att`
//! attestations, Sigstore bundles, and detached signatures (with a certificate or a key),
//! checked against a [`Policy`] and a Sigstore [`TrustedRoot`].
//!
//! Pure logic and cryptography, no network: callers fetch the material and hand over the
//! bytes. Certificate chains, SCTs and signatures are the `sigstore` crate's; this module
//! adds what it lacks (the Rekor SET, `intoto` entry bodies, the identity messages).

mod cosign;
mod key;
mod keyless;
mod pem;
mod policy;
mod rekor;
mod root;
#[cfg(test)]
mod tests;

pub use cosign::{verify_attestation, verify_detached, verify_simple_signing};
pub use policy::{Identity, Policy, Requirement, Signer, SignerMethod};
pub use root::TrustedRoot;

use crate::digest::Digest;

/// The artifact a signature must cover: its sha256, and its sha512 (hex) when known (DSSE
/// subjects such as npm provenance name only a sha512).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactDigest {
    pub sha256: Digest,
    pub sha512: Option<String>,
}

impl ArtifactDigest {
    /// Both digests of `bytes`.
    pub fn of(bytes: &[u8]) -> ArtifactDigest {
        use sha2::Digest as _;
        ArtifactDigest {
            sha256: Digest::of(bytes),
            sha512: Some(hex::encode(sha2::Sha512::digest(bytes))),
        }
    }

    fn sha256_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Ok(bytes) = hex::decode(self.sha256.hex()) {
            if bytes.len() == 32 {
                out.copy_from_slice(&bytes);
            }
        }
        out
    }

    /// The digests the `sigstore` crate matches DSSE subjects against, sha256 first.
    fn crate_digests(&self) -> Vec<sigstore::bundle::verify::ArtifactDigest> {
        let mut digests = vec![sigstore::bundle::verify::ArtifactDigest::Sha256(
            self.sha256_bytes(),
        )];
        if let Some(sha512) = self.sha512.as_deref().and_then(|h| hex::decode(h).ok()) {
            if let Ok(bytes) = <[u8; 64]>::try_from(sha512.as_slice()) {
                digests.push(sigstore::bundle::verify::ArtifactDigest::Sha512(bytes));
            }
        }
        digests
    }
}

impl std::fmt::Display for ArtifactDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.sha256)?;
        if let Some(sha512) = &self.sha512 {
            write!(f, " (sha512:{sha512})")?;
        }
        Ok(())
    }
}

/// Why a signature does not verify: what was expected and what was found.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("the trusted root is not valid: {message}")]
    TrustedRoot { message: String },
    #[error("the verification policy is not valid: {message}")]
    Policy { message: String },
    #[error("the {what} is not valid: {message}")]
    Malformed { what: String, message: String },
    #[error("the signature has no {what}")]
    Missing { what: &'static str },
    #[error("the signing certificate is not valid: {message}")]
    Certificate { message: String },
    #[error("the signing certificate was issued for issuer `{found}`, but the policy expects issuer `{expected}`")]
    Issuer { expected: String, found: String },
    #[error("the signing certificate was issued to `{found}`, but the policy expects {expected}")]
    Identity { expected: String, found: String },
    #[error("the signing certificate does not chain to a Fulcio certificate authority of the trusted root: {message}")]
    Chain { message: String },
    #[error("the signing certificate's SCT does not verify against the trusted root's CT logs: {message}")]
    Sct { message: String },
    #[error("the signature over {what} does not verify with the expected key (another key made it, or what it signs changed)")]
    BadSignature { what: String },
    #[error("the signature is for {found}, but the artifact is {expected}")]
    OtherDigest { expected: String, found: String },
    #[error("no subject of the attestation has the artifact's digest")]
    NoSubject,
    #[error("the attestation's predicate type is `{found}`, but `{expected}` is required")]
    PredicateType { expected: String, found: String },
    #[error("the Rekor log entry does not match: {message}")]
    LogEntry { message: String },
    #[error("the Rekor log entry is from log {log_id}, which the trusted root does not name")]
    UnknownLog { log_id: String },
    #[error("the Rekor signed entry timestamp of log index {log_index} does not verify with the key of log {log_id} in the trusted root")]
    SignedEntryTimestamp { log_index: i64, log_id: String },
    #[error("the signing certificate was not valid when Rekor logged the signature (integrated at {integrated_time}; valid from {not_before} to {not_after})")]
    Expired {
        integrated_time: i64,
        not_before: i64,
        not_after: i64,
    },
    #[error("{message}")]
    Unsupported { message: String },
    #[error("a keyless signature needs its transparency-log entry to prove when it was made (its certificate was valid for minutes only): use the Sigstore bundle (`signature: {{bundle: URL}}`, as `cosign sign-blob --bundle` writes it) instead of a bare signature and certificate")]
    NoLogEntry,
    #[error("a {found} does not meet `require: attestation:{predicate_type}`: an attestation (a DSSE in-toto statement) of that predicate type is needed")]
    NotAnAttestation {
        found: String,
        predicate_type: String,
    },
}

/// Verifies a Sigstore bundle that must hold an attestation: a DSSE in-toto statement of
/// `predicate_type`, one of whose subjects is the artifact (then as [`verify_bundle`]).
///
/// Errors: [`TrustError::NotAnAttestation`] for a message signature or another predicate
/// type; otherwise as [`verify_bundle`].
pub fn verify_bundle_attestation(
    bundle: &[u8],
    artifact: &ArtifactDigest,
    predicate_type: &str,
    policy: &Policy,
    root: &TrustedRoot,
) -> Result<Signer, TrustError> {
    use base64::Engine as _;
    let not = |found: String| TrustError::NotAnAttestation {
        found,
        predicate_type: predicate_type.to_string(),
    };
    let value: serde_json::Value =
        serde_json::from_slice(bundle).map_err(|e| TrustError::Malformed {
            what: "Sigstore bundle".into(),
            message: e.to_string(),
        })?;
    let payload = value
        .pointer("/dsseEnvelope/payload")
        .and_then(serde_json::Value::as_str)
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
        .ok_or_else(|| not("Sigstore bundle with a message signature".into()))?;
    let statement: serde_json::Value = serde_json::from_slice(&payload).map_err(|_| {
        not("Sigstore bundle whose DSSE payload is not an in-toto statement".into())
    })?;
    let found = statement
        .get("predicateType")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if found != predicate_type {
        return Err(TrustError::PredicateType {
            expected: predicate_type.to_string(),
            found: found.to_string(),
        });
    }
    verify_bundle(bundle, artifact, policy, root)
}

/// Verifies a Sigstore bundle (`application/vnd.dev.sigstore.bundle*+json`, v0.1 to v0.3):
/// a message signature over the artifact, or a DSSE in-toto statement one of whose subjects
/// has the artifact's sha256 or sha512.
pub fn verify_bundle(
    bundle: &[u8],
    artifact: &ArtifactDigest,
    policy: &Policy,
    root: &TrustedRoot,
) -> Result<Signer, TrustError> {
    let parsed: sigstore::bundle::Bundle =
        serde_json::from_slice(bundle).map_err(|e| TrustError::Malformed {
            what: "Sigstore bundle".into(),
            message: e.to_string(),
        })?;
    let Policy::Keyless { issuer, identity } = policy else {
        return Err(TrustError::Unsupported {
            message: "a Sigstore bundle is verified with a keyless policy (issuer and identity), not a key".into(),
        });
    };
    use sigstore_protobuf_specs::dev::sigstore::bundle::v1::bundle::Content;
    let log = match &parsed.content {
        Some(Content::DsseEnvelope(envelope)) => {
            keyless::log_check_for(&parsed, rekor::sha256(&envelope.payload))
        }
        _ => keyless::LogCheck::ByCrate,
    };
    keyless::verify(
        &parsed,
        &artifact.crate_digests(),
        issuer,
        identity,
        log,
        root,
    )
}

/// The fingerprint (sha256 hex of the SPKI DER) of a PEM public key, as signers show it.
///
/// Errors: the text is not a usable PEM `PUBLIC KEY`.
pub fn key_fingerprint(pem: &str) -> Result<String, TrustError> {
    key::PublicKey::from_pem(pem).map(|key| key.fingerprint())
}
