//! Keyless verification of a Sigstore bundle, offline: the leaf certificate's identity and
//! issuer against the policy, the Rekor entry (SET against the trusted root's log key, body
//! consistent with the signature, integrated time inside the certificate's validity), then
//! the `sigstore` crate's bundle verifier for the Fulcio chain at signing time, the embedded
//! SCT and the signature over the artifact or DSSE envelope.
//!
//! cosign's `.sig`/`.att` layers and detached signatures are turned into bundles by their
//! callers, so there is one path. The crate checks the log entry's body itself for
//! `hashedrekord` and `dsse` entries; for `intoto` entries (cosign attestations) and for
//! detached signatures (no entry) it reports `Transparency` as its last check, after chain,
//! SCT and signature passed: that result is accepted there, and only there, because this
//! module checked the entry itself (or there is none to check).

use super::policy::{CertificateIdentity, Identity, Signer, SignerMethod};
use super::rekor::{check_body, Expected, LogEntry};
use super::root::TrustedRoot;
use super::TrustError;
use sigstore::bundle::verify::{
    policy::PolicyResult, ArtifactDigest as CrateDigest, CertificateErrorKind, SignatureErrorKind,
    VerificationError, VerificationPolicy, Verifier,
};
use sigstore::bundle::Bundle;
use x509_cert::der::Decode;
use x509_cert::Certificate;

/// The identity check is done here, with messages that name both sides; the crate's policy
/// hook accepts every certificate.
struct Checked;

impl VerificationPolicy for Checked {
    fn verify(&self, _cert: &Certificate) -> PolicyResult {
        Ok(())
    }
}

/// How the log entry of a bundle is checked.
pub enum LogCheck {
    /// hashedrekord or dsse: the crate checks the body; the SET is checked here.
    ByCrate,
    /// intoto: body and SET checked here; `sha256` is the DSSE payload's.
    Here { sha256: [u8; 32] },
}

/// The leaf certificate of a bundle, DER.
fn leaf_der(bundle: &Bundle) -> Result<Vec<u8>, TrustError> {
    use sigstore_protobuf_specs::dev::sigstore::bundle::v1::verification_material::Content;
    let material = bundle.verification_material.as_ref();
    match material.and_then(|m| m.content.as_ref()) {
        Some(Content::Certificate(cert)) => Ok(cert.raw_bytes.clone()),
        Some(Content::X509CertificateChain(chain)) => chain
            .certificates
            .first()
            .map(|c| c.raw_bytes.clone())
            .ok_or(TrustError::Missing {
                what: "certificate (keyless needs one)",
            }),
        _ => Err(TrustError::Missing {
            what: "certificate (keyless needs one)",
        }),
    }
}

/// The bundle's single log entry, with its SET.
fn log_entry(bundle: &Bundle) -> Result<LogEntry, TrustError> {
    use base64::Engine as _;
    let entries = bundle
        .verification_material
        .as_ref()
        .map(|m| m.tlog_entries.as_slice())
        .unwrap_or(&[]);
    let [entry] = entries else {
        return Err(TrustError::LogEntry {
            message: format!("the bundle has {} log entries, not one", entries.len()),
        });
    };
    let set = entry
        .inclusion_promise
        .as_ref()
        .map(|p| p.signed_entry_timestamp.clone())
        .filter(|set| !set.is_empty())
        .ok_or(TrustError::Missing {
            what: "signed entry timestamp (inclusion promise) in the log entry",
        })?;
    Ok(LogEntry {
        body_base64: base64::engine::general_purpose::STANDARD.encode(&entry.canonicalized_body),
        integrated_time: entry.integrated_time,
        log_index: entry.log_index,
        log_id: entry
            .log_id
            .as_ref()
            .map(|id| hex::encode(&id.key_id))
            .unwrap_or_default(),
        signed_entry_timestamp: set,
    })
}

/// The raw signature of a bundle (message signature or the DSSE envelope's one).
fn signature(bundle: &Bundle) -> Vec<u8> {
    use sigstore_protobuf_specs::dev::sigstore::bundle::v1::bundle::Content;
    match &bundle.content {
        Some(Content::MessageSignature(m)) => m.signature.clone(),
        Some(Content::DsseEnvelope(e)) => e
            .signatures
            .first()
            .map(|s| s.sig.clone())
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

fn crate_error(error: VerificationError) -> TrustError {
    match error {
        VerificationError::Certificate(CertificateErrorKind::VerificationFailed(e)) => {
            TrustError::Chain {
                message: e.to_string(),
            }
        }
        VerificationError::Certificate(CertificateErrorKind::Sct(e)) => TrustError::Sct {
            message: e.to_string(),
        },
        VerificationError::Certificate(CertificateErrorKind::Expired) => TrustError::LogEntry {
            message: "it was integrated outside the certificate's validity".into(),
        },
        VerificationError::Signature(SignatureErrorKind::VerificationFailed(_)) => {
            TrustError::BadSignature {
                what: "the artifact or envelope".into(),
            }
        }
        VerificationError::Signature(SignatureErrorKind::SubjectDigestMismatch) => {
            TrustError::NoSubject
        }
        VerificationError::Signature(SignatureErrorKind::Transparency) => TrustError::LogEntry {
            message: "its body does not record this signature, certificate and digest".into(),
        },
        other => TrustError::Malformed {
            what: "Sigstore bundle".into(),
            message: other.to_string(),
        },
    }
}

/// Verifies a keyless bundle against `issuer`/`identity` and the trusted root. `digests` are
/// the artifact's digests to try in turn (a DSSE subject may carry either).
pub fn verify(
    bundle: &Bundle,
    digests: &[CrateDigest],
    issuer: &str,
    identity: &Identity,
    log: LogCheck,
    root: &TrustedRoot,
) -> Result<Signer, TrustError> {
    let leaf = leaf_der(bundle)?;
    let cert = Certificate::from_der(&leaf).map_err(|e| TrustError::Certificate {
        message: format!("it cannot be parsed: {e}"),
    })?;
    let found = CertificateIdentity::of(&cert)?;
    found.check(issuer, identity)?;
    let mut signer = Signer {
        method: SignerMethod::Keyless {
            identity: found.identity,
            issuer: found.issuer,
        },
        log_index: None,
        integrated_time: None,
    };
    {
        let entry = log_entry(bundle)?;
        entry.verify_set(root)?;
        check_validity(&cert, entry.integrated_time)?;
        if let LogCheck::Here { sha256 } = log {
            let body = entry.body()?;
            let sig = signature(bundle);
            check_body(
                &body,
                &Expected {
                    signature: &sig,
                    signer_der: &leaf,
                    sha256,
                },
            )?;
        }
        signer.log_index = u64::try_from(entry.log_index).ok();
        signer.integrated_time = Some(entry.integrated_time);
    }
    let verifier =
        Verifier::new(Default::default(), root.clone()).map_err(|e| TrustError::TrustedRoot {
            message: e.to_string(),
        })?;
    let mut last = TrustError::NoSubject;
    for digest in digests {
        let outcome = futures::executor::block_on(verifier.verify_digest_with(
            *digest,
            bundle.clone(),
            &Checked,
            true,
        ));
        match outcome {
            Ok(()) => return Ok(signer),
            Err(VerificationError::Signature(SignatureErrorKind::Transparency))
                if !matches!(log, LogCheck::ByCrate) =>
            {
                return Ok(signer)
            }
            Err(VerificationError::Signature(SignatureErrorKind::SubjectDigestMismatch))
            | Err(VerificationError::Signature(SignatureErrorKind::DigestAlgorithmUnsupported(
                _,
            ))) => {
                last = TrustError::NoSubject;
            }
            Err(other) => return Err(crate_error(other)),
        }
    }
    Err(last)
}

/// The certificate must have been valid when the log integrated the entry.
fn check_validity(cert: &Certificate, integrated_time: i64) -> Result<(), TrustError> {
    let validity = cert.tbs_certificate().validity();
    let not_before = validity.not_before.to_unix_duration().as_secs() as i64;
    let not_after = validity.not_after.to_unix_duration().as_secs() as i64;
    if integrated_time < not_before || integrated_time > not_after {
        return Err(TrustError::Expired {
            integrated_time,
            not_before,
            not_after,
        });
    }
    Ok(())
}

/// Who checks a bundle's log entry body: the crate for `hashedrekord` and `dsse`, this
/// module for `intoto` (`payload_sha256`: the DSSE payload's digest).
pub fn log_check_for(bundle: &Bundle, payload_sha256: [u8; 32]) -> LogCheck {
    let kind = bundle
        .verification_material
        .as_ref()
        .and_then(|m| m.tlog_entries.first())
        .and_then(|e| e.kind_version.as_ref())
        .map(|k| k.kind.as_str());
    if kind == Some("intoto") {
        LogCheck::Here {
            sha256: payload_sha256,
        }
    } else {
        LogCheck::ByCrate
    }
}
