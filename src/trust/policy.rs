//! Who may sign: a verification policy (a cosign public key, or a keyless identity and
//! issuer), who did sign (the signer a verification found), and the pure matching of a
//! Fulcio certificate's identity (SAN) and OIDC issuer extension against a policy.
//!
//! Both types are recorded in the lockfile and shown by `inspect`.

use super::TrustError;
use serde::{Deserialize, Serialize};
use x509_cert::der::{asn1::Utf8StringRef, Decode};
use x509_cert::ext::pkix::{name::GeneralName, SubjectAltName};
use x509_cert::Certificate;

/// Fulcio's OIDC issuer extension, v1 (raw string).
const ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
/// Fulcio's OIDC issuer extension, v2 (DER UTF8String).
const ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";

/// What a signature must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Policy {
    /// Signed with the private half of this public key (PEM, SPKI).
    Key { pem: String },
    /// Signed keyless: a Fulcio certificate for `identity`, issued on a token from `issuer`.
    Keyless { issuer: String, identity: Identity },
}

/// What a policy requires of an image: a signature, or an attestation of one predicate type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Requirement {
    Signature,
    Attestation(String),
}

impl Requirement {
    /// The thing required, in words (`signature`, `attestation`).
    pub fn noun(&self) -> &'static str {
        match self {
            Requirement::Signature => "signature",
            Requirement::Attestation(_) => "attestation",
        }
    }
}

impl std::str::FromStr for Requirement {
    type Err = String;

    /// `signature`, or `attestation:<predicateType>`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            None if text == "signature" => Ok(Requirement::Signature),
            Some(("attestation", predicate)) if !predicate.is_empty() => {
                Ok(Requirement::Attestation(predicate.to_string()))
            }
            _ => Err(format!(
                "`require: {text}` is not `signature` or `attestation:<predicateType>`"
            )),
        }
    }
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Requirement::Signature => write!(f, "signature"),
            Requirement::Attestation(predicate) => write!(f, "attestation of type {predicate}"),
        }
    }
}

/// The certificate identity (SAN: an email or a URI) a keyless policy accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Identity {
    Exact(String),
    /// A regular expression the whole identity must match.
    Regexp(String),
}

/// Who signed, as a verification found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Signer {
    pub method: SignerMethod,
    /// The Rekor log index of the signature's entry, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// When Rekor logged it (unix seconds), when it has an entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum SignerMethod {
    /// A public key: sha256 hex of its SPKI DER.
    Key {
        fingerprint: String,
    },
    Keyless {
        identity: String,
        issuer: String,
    },
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.method {
            SignerMethod::Key { fingerprint } => write!(f, "key sha256:{fingerprint}")?,
            SignerMethod::Keyless { identity, issuer } => write!(f, "{identity} ({issuer})")?,
        }
        if let Some(index) = self.log_index {
            write!(f, ", Rekor log index {index}")?;
        }
        Ok(())
    }
}

impl Identity {
    /// Whether `found` is this identity (a regexp must match the whole string).
    pub fn matches(&self, found: &str) -> Result<bool, TrustError> {
        match self {
            Identity::Exact(expected) => Ok(expected == found),
            Identity::Regexp(pattern) => {
                let anchored = format!("^(?:{pattern})$");
                let re = regex::Regex::new(&anchored).map_err(|e| TrustError::Policy {
                    message: format!("identityRegexp `{pattern}` is not a regular expression: {e}"),
                })?;
                Ok(re.is_match(found))
            }
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Exact(identity) => write!(f, "`{identity}`"),
            Identity::Regexp(pattern) => write!(f, "an identity matching `{pattern}`"),
        }
    }
}

/// The identity (SAN email or URI) and OIDC issuer of a Fulcio certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    pub identity: String,
    pub issuer: String,
}

impl CertificateIdentity {
    pub fn of(cert: &Certificate) -> Result<Self, TrustError> {
        let bad = |message: &str| TrustError::Certificate {
            message: message.to_string(),
        };
        let san = cert
            .tbs_certificate()
            .get_extension::<SubjectAltName>()
            .map_err(|e| bad(&format!("its subject alternative name cannot be read: {e}")))?
            .ok_or_else(|| bad("it has no subject alternative name (no identity)"))?
            .1;
        let identity = san
            .0
            .iter()
            .find_map(|name| match name {
                GeneralName::Rfc822Name(email) => Some(email.to_string()),
                GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
                _ => None,
            })
            .ok_or_else(|| bad("its subject alternative name has no email or URI"))?;
        let issuer = issuer_extension(cert)
            .ok_or_else(|| bad("it has no OIDC issuer extension (1.3.6.1.4.1.57264.1.8)"))?;
        // Not yet proven (the chain is checked after): shown in messages, so without control
        // characters.
        let printable = |text: String| -> String {
            text.chars()
                .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                .collect()
        };
        Ok(CertificateIdentity {
            identity: printable(identity),
            issuer: printable(issuer),
        })
    }

    /// Checks this identity and issuer against a keyless policy's.
    pub fn check(&self, issuer: &str, identity: &Identity) -> Result<(), TrustError> {
        if self.issuer != issuer {
            return Err(TrustError::Issuer {
                expected: issuer.to_string(),
                found: self.issuer.clone(),
            });
        }
        if !identity.matches(&self.identity)? {
            return Err(TrustError::Identity {
                expected: identity.to_string(),
                found: self.identity.clone(),
            });
        }
        Ok(())
    }
}

fn issuer_extension(cert: &Certificate) -> Option<String> {
    let extensions = cert.tbs_certificate().extensions()?;
    let value = |oid: &str| {
        extensions
            .iter()
            .find(|ext| ext.extn_id.to_string() == oid)
            .map(|ext| ext.extn_value.as_bytes())
    };
    if let Some(der) = value(ISSUER_V2) {
        if let Ok(text) = Utf8StringRef::from_der(der) {
            return Some(text.as_str().to_string());
        }
    }
    value(ISSUER_V1).and_then(|raw| std::str::from_utf8(raw).ok().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regexp_matches_the_whole_identity() {
        let re = Identity::Regexp("https://github.com/acme/.*".into());
        assert!(re
            .matches("https://github.com/acme/x/.github/workflows/r.yml@refs/heads/main")
            .unwrap());
        assert!(!re.matches("evil https://github.com/acme/x").unwrap());
        let partial = Identity::Regexp("acme".into());
        assert!(!partial.matches("https://github.com/acme/x").unwrap());
        let bad = Identity::Regexp("(".into()).matches("x").unwrap_err();
        assert!(bad.to_string().contains("identityRegexp `(`"), "{bad}");
    }

    #[test]
    fn policy_and_signer_round_trip_as_json() {
        let policy = Policy::Keyless {
            issuer: "https://accounts.google.com".into(),
            identity: Identity::Exact("krel@example.com".into()),
        };
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            json,
            r#"{"keyless":{"issuer":"https://accounts.google.com","identity":{"exact":"krel@example.com"}}}"#
        );
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), policy);
        let signer = Signer {
            method: SignerMethod::Keyless {
                identity: "krel@example.com".into(),
                issuer: "https://accounts.google.com".into(),
            },
            log_index: Some(7),
            integrated_time: Some(1),
        };
        assert_eq!(
            signer.to_string(),
            "krel@example.com (https://accounts.google.com), Rekor log index 7"
        );
    }
}
