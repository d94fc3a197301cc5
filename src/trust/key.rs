//! Key-based (cosign `--key`) verification: a PEM public key, its fingerprint, and a
//! signature over a message or over a sha256 digest.

use super::{pem, TrustError};
use sha2::{Digest as _, Sha256};
use sigstore::crypto::{CosignVerificationKey, Signature};

/// A policy's public key, parsed.
pub struct PublicKey {
    key: CosignVerificationKey,
    /// SPKI DER.
    pub spki: Vec<u8>,
}

impl PublicKey {
    pub fn from_pem(text: &str) -> Result<PublicKey, TrustError> {
        let invalid = |message: String| TrustError::Policy { message };
        let spki = pem::decode_first(text, "PUBLIC KEY")
            .ok_or_else(|| invalid("the key is not a PEM `PUBLIC KEY` block".into()))?;
        let key = CosignVerificationKey::try_from_der(&spki)
            .map_err(|e| invalid(format!("the public key cannot be used: {e}")))?;
        Ok(PublicKey { key, spki })
    }

    /// sha256 hex of the SPKI DER.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.spki))
    }

    /// Checks `signature` over `message` (hashed as the key's scheme says).
    pub fn verify(&self, signature: &[u8], message: &[u8], what: &str) -> Result<(), TrustError> {
        self.key
            .verify_signature(Signature::Raw(signature), message)
            .map_err(|_| TrustError::BadSignature { what: what.into() })
    }

    /// Checks an ECDSA P-256 `signature` (DER or fixed-size) over a sha256 `digest` of
    /// content this side does not hold whole.
    pub fn verify_digest(
        &self,
        signature: &[u8],
        digest: &[u8; 32],
        what: &str,
    ) -> Result<(), TrustError> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        use p256::pkcs8::DecodePublicKey as _;
        let key = p256::ecdsa::VerifyingKey::from_public_key_der(&self.spki).map_err(|_| {
            TrustError::Unsupported {
                message: "a detached signature is checked with an ECDSA P-256 key only".into(),
            }
        })?;
        let parsed = p256::ecdsa::Signature::from_der(signature)
            .or_else(|_| p256::ecdsa::Signature::from_slice(signature))
            .map_err(|_| TrustError::BadSignature { what: what.into() })?;
        key.verify_prehash(digest, &parsed)
            .map_err(|_| TrustError::BadSignature { what: what.into() })
    }
}
