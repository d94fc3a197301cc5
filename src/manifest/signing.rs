//! Upstream signature policies in the release manifest: `spec.verify` (who must have signed
//! the images), a file's `signature` and `verify`, and their validation (one signer form, a
//! valid glob and identity regexp, keyless only with a log entry). Pure.

use super::FileSpec;
use serde::{Deserialize, Serialize};

/// One `spec.verify` policy: which images (`match`, a glob over the full reference), who
/// must have signed them (`keyless` or `key`, as a file's `verify`), and what
/// (`require: signature`, the default, or `attestation:<predicateType>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePolicySpec {
    #[serde(rename = "match")]
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless: Option<KeylessSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<String>,
}

impl ImagePolicySpec {
    /// Who must have signed, in the form a file's `verify:` has.
    pub fn signer(&self) -> VerifySpec {
        VerifySpec {
            keyless: self.keyless.clone(),
            key: self.key.clone(),
        }
    }
}

/// Where a file's signature is: a Sigstore bundle, or a detached signature with an optional
/// certificate. URLs may use `{url}` (the file's URL), `{version}`, `{os}`, `{arch}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
}

/// Who must have signed: keyless (issuer and identity) or a cosign public key (PEM file,
/// relative to the manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless: Option<KeylessSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeylessSpec {
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_regexp: Option<String>,
}

/// A `spec.verify` policy: a valid glob, one signer form, a known requirement.
pub(super) fn check_image_policy(policy: &ImagePolicySpec) -> Result<(), String> {
    glob::Pattern::new(&policy.pattern).map_err(|e| format!("`match` is not a valid glob: {e}"))?;
    check_signer(&policy.signer())?;
    if let Some(require) = &policy.require {
        require.parse::<crate::trust::Requirement>()?;
    }
    Ok(())
}

/// A `verify:` names one signer: keyless with exactly one identity form, or a key.
fn check_signer(verify: &VerifySpec) -> Result<(), String> {
    match (&verify.keyless, &verify.key) {
        (Some(keyless), None)
            if keyless.identity.is_some() != keyless.identity_regexp.is_some() =>
        {
            match &keyless.identity_regexp {
                Some(pattern) => regex::Regex::new(pattern).map(|_| ()).map_err(|e| {
                    format!("`identityRegexp` is not a valid regular expression: {e}")
                }),
                None => Ok(()),
            }
        }
        (Some(_), None) => {
            Err("`keyless` needs exactly one of `identity` and `identityRegexp`".into())
        }
        (None, Some(_)) => Ok(()),
        _ => Err("name one signer: `keyless: {issuer, identity}` or `key: FILE`".into()),
    }
}

/// A `files:` entry's `signature` and `verify` go together, each in one form.
pub(super) fn check_file_signature(file: &FileSpec) -> Result<(), String> {
    match (&file.signature, &file.verify) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(
            "`signature` needs `verify: {keyless: {issuer, identity}}` or `verify: {key: FILE}`"
                .into(),
        ),
        (None, Some(_)) => Err(
            "`verify` needs `signature: {bundle: URL}` or `signature: {sig: URL, cert: URL}`"
                .into(),
        ),
        (Some(signature), Some(verify)) => {
            match (&signature.bundle, &signature.sig, &signature.cert) {
                (Some(_), None, None) | (None, Some(_), _) => {}
                _ => return Err("`signature` is either `{bundle: URL}` or `{sig: URL}` with an optional `cert: URL`".into()),
            }
            match (&verify.keyless, &verify.key) {
                (Some(_), None) => {
                    check_signer(verify)?;
                    if signature.sig.is_some() {
                        return Err("a keyless signature needs its transparency-log entry to prove when it was made: give the Sigstore bundle (`signature: {bundle: URL}`, as `cosign sign-blob --bundle` writes it), not a bare `sig`/`cert`".into());
                    }
                    Ok(())
                }
                (None, Some(_)) => Ok(()),
                _ => Err(
                    "`verify` is either `{keyless: {issuer, identity}}` or `{key: FILE}`".into(),
                ),
            }
        }
    }
}
