//! Registry tokens: JWTs signed with ES256 (RFC 7515/7518/7519) as the distribution token
//! specification describes them (`access: [{type, name, actions}]`), and the signing key
//! kept under the state directory.
//!
//! Encoding and the signature check are the `jsonwebtoken` crate's (ES256 only: a token
//! naming any other `alg` is refused); the header names the key by `kid` (the first 16 bytes
//! of the SHA-256 of the public key's SPKI DER, base64url). Lifetime and audience are checked
//! here, with [`LEEWAY_SECS`], on every use (also of a remembered token).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// File name of the token-signing key under the state directory.
pub const KEY_FILE: &str = "token.key";
/// Clock skew tolerated on `exp` and `nbf`, seconds.
pub const LEEWAY_SECS: i64 = 5;
/// Tokens whose signature was checked, remembered at once.
pub const MAX_VERIFIED_TOKENS: usize = 4096;
/// Largest token accepted, bytes.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("token-signing key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("token-signing key {path} is not a PKCS#8 P-256 key ({message}); move it away to make a new one (tokens issued so far become invalid)")]
    Bad { path: PathBuf, message: String },
}

/// Why a token was refused (the reason goes in the log; clients get one 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token's signature does not verify (signed by another key or changed)")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for another service ({0})")]
    Audience(String),
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

/// One grant: `{"type":"repository","name":"registry.test/library/alpha","actions":["pull"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// The claims of a registry token (times in seconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The user name, or `cert:<CN>` for a certificate no user claims.
    pub sub: String,
    /// The service (`host[:port]` of the mirror).
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub access: Vec<Access>,
}

/// The key tokens are signed and checked with.
pub struct TokenKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    /// Tokens (whole, as sent) whose signature held.
    verified: RwLock<HashMap<String, Arc<Claims>>>,
}

impl TokenKey {
    /// Loads `state_dir/token.key`, creating it (mode 0600, temp file + rename) on first use.
    pub fn load_or_create(state_dir: &Path) -> Result<TokenKey, KeyError> {
        let path = state_dir.join(KEY_FILE);
        let io = |source| KeyError::Io {
            path: path.clone(),
            source,
        };
        let pem = match std::fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pair = rcgen::KeyPair::generate().map_err(|e| KeyError::Bad {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                let pem = pair.serialize_pem();
                crate::fsutil::write_atomic_private(&path, pem.as_bytes()).map_err(io)?;
                pem
            }
            Err(e) => return Err(io(e)),
        };
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Bad {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(TokenKey::from_signing(signing))
    }

    /// A key from a signing key (tests).
    pub fn from_signing(signing: SigningKey) -> TokenKey {
        let verifying = *signing.verifying_key();
        let spki = verifying
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&spki)[..16]);
        let pkcs8 = signing
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        // The public key as JWK coordinates: SEC1 uncompressed is 0x04 || x || y.
        let point = verifying.to_sec1_point(false);
        let point = point.as_bytes();
        let (x, y) = (
            point.get(1..33).unwrap_or_default(),
            point.get(33..65).unwrap_or_default(),
        );
        // A key that loaded always has both coordinates; were it not so, no token would
        // verify (an HMAC key with an empty secret is never used with ES256).
        let decoding =
            DecodingKey::from_ec_components(&URL_SAFE_NO_PAD.encode(x), &URL_SAFE_NO_PAD.encode(y))
                .unwrap_or_else(|_| DecodingKey::from_secret(&[]));
        TokenKey {
            encoding: EncodingKey::from_ec_der(&pkcs8),
            decoding,
            kid,
            verified: RwLock::new(HashMap::new()),
        }
    }

    /// A fresh random key (tests).
    pub fn generate() -> Option<TokenKey> {
        let pair = rcgen::KeyPair::generate().ok()?;
        SigningKey::from_pkcs8_pem(&pair.serialize_pem())
            .ok()
            .map(TokenKey::from_signing)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The compact JWS of `claims`.
    ///
    /// Errors: `Signing` if the key cannot sign (a key that loaded always can).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// As [`TokenKey::verify`], remembering tokens whose signature held (at most
    /// [`MAX_VERIFIED_TOKENS`]), so a client sending the same token on every request costs
    /// one signature check, not one per request; lifetime and audience are checked every time.
    pub fn verify_cached(
        &self,
        token: &str,
        service: &str,
        now: i64,
    ) -> Result<Arc<Claims>, TokenError> {
        let cached = match self.verified.read() {
            Ok(map) => map.get(token).cloned(),
            Err(poisoned) => poisoned.into_inner().get(token).cloned(),
        };
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.verify_signature(token)?);
                let mut map = match self.verified.write() {
                    Ok(map) => map,
                    Err(poisoned) => poisoned.into_inner(),
                };
                if map.len() >= MAX_VERIFIED_TOKENS {
                    map.retain(|_, c| now <= c.exp + LEEWAY_SECS);
                    if map.len() >= MAX_VERIFIED_TOKENS {
                        map.clear();
                    }
                }
                map.insert(token.to_string(), claims.clone());
                claims
            }
        };
        check_times_and_audience(&claims, service, now)?;
        Ok(claims)
    }

    /// `token` checked against the remembered ones only: `None` when its signature was
    /// never checked (then use [`TokenKey::verify_cached`]).
    pub fn cached(
        &self,
        token: &str,
        service: &str,
        now: i64,
    ) -> Option<Result<Arc<Claims>, TokenError>> {
        let claims = match self.verified.read() {
            Ok(map) => map.get(token).cloned(),
            Err(poisoned) => poisoned.into_inner().get(token).cloned(),
        }?;
        Some(check_times_and_audience(&claims, service, now).map(|()| claims))
    }

    /// The claims of `token` once its signature, `alg`, `exp`/`nbf` (at `now`, with
    /// [`LEEWAY_SECS`]) and `aud` (= `service`) check out.
    pub fn verify(&self, token: &str, service: &str, now: i64) -> Result<Claims, TokenError> {
        let claims = self.verify_signature(token)?;
        check_times_and_audience(&claims, service, now)?;
        Ok(claims)
    }

    /// The claims of `token` once its signature and `alg` check out (nothing else).
    fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        // ES256 only; times and audience are checked by `check_times_and_audience`, also
        // for remembered tokens.
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature
                | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey => TokenError::Signature,
                _ => TokenError::Malformed,
            })
    }
}

fn check_times_and_audience(claims: &Claims, service: &str, now: i64) -> Result<(), TokenError> {
    if now > claims.exp + LEEWAY_SECS {
        return Err(TokenError::Expired);
    }
    if now + LEEWAY_SECS < claims.nbf {
        return Err(TokenError::NotYetValid);
    }
    if claims.aud != service {
        return Err(TokenError::Audience(claims.aud.clone()));
    }
    Ok(())
}

impl Claims {
    /// Whether the token grants `pull` on repository `name` (as the client names it).
    pub fn may_pull(&self, name: &str) -> bool {
        self.access.iter().any(|a| {
            a.kind == "repository" && a.name == name && a.actions.iter().any(|x| x == "pull")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            iss: "outpost".into(),
            sub: "alice".into(),
            aud: "mirror:5000".into(),
            exp: now + 300,
            nbf: now,
            iat: now,
            jti: "1".into(),
            access: vec![Access {
                kind: "repository".into(),
                name: "library/alpha".into(),
                actions: vec!["pull".into()],
            }],
        }
    }

    #[test]
    fn a_token_verifies_with_its_key_only() {
        let key = TokenKey::generate().unwrap();
        let token = key.sign(&claims(1000)).unwrap();
        let got = key.verify(&token, "mirror:5000", 1000).unwrap();
        assert!(got.may_pull("library/alpha"));
        assert!(!got.may_pull("library/beta"));
        let other = TokenKey::generate().unwrap();
        assert_eq!(
            other.verify(&token, "mirror:5000", 1000),
            Err(TokenError::Signature)
        );
        assert_eq!(
            key.verify(&token, "other:5000", 1000),
            Err(TokenError::Audience("mirror:5000".into()))
        );
        // One changed claim byte breaks the signature.
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut payload = URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
        let text = String::from_utf8(payload.clone())
            .unwrap()
            .replace("alpha", "betaa");
        payload = text.into_bytes();
        parts[1] = URL_SAFE_NO_PAD.encode(payload);
        assert_eq!(
            key.verify(&parts.join("."), "mirror:5000", 1000),
            Err(TokenError::Signature)
        );
        assert_eq!(
            key.verify("a.b", "mirror:5000", 1000),
            Err(TokenError::Malformed)
        );
        // Only ES256: the same claims under `alg: none` or `HS256` are refused.
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!("{{\"typ\":\"JWT\",\"alg\":\"{alg}\"}}"));
            let parts: Vec<&str> = token.split('.').collect();
            let swapped = format!("{header}.{}.{}", parts[1], parts[2]);
            assert!(key.verify(&swapped, "mirror:5000", 1000).is_err(), "{alg}");
        }
    }

    #[test]
    fn a_cached_token_is_still_checked_for_lifetime_and_audience() {
        let key = TokenKey::generate().unwrap();
        let token = key.sign(&claims(1000)).unwrap();
        assert!(key.verify_cached(&token, "mirror:5000", 1000).is_ok());
        assert!(key.verify_cached(&token, "mirror:5000", 1001).is_ok());
        assert_eq!(
            key.verify_cached(&token, "other:5000", 1001).unwrap_err(),
            TokenError::Audience("mirror:5000".into())
        );
        assert_eq!(
            key.verify_cached(&token, "mirror:5000", 1301 + LEEWAY_SECS)
                .unwrap_err(),
            TokenError::Expired
        );
        let mut forged = token.clone();
        forged.push('A');
        assert!(key.verify_cached(&forged, "mirror:5000", 1000).is_err());
    }

    #[test]
    fn expiry_and_not_before_have_a_small_leeway() {
        let key = TokenKey::generate().unwrap();
        let token = key.sign(&claims(1000)).unwrap();
        assert!(key
            .verify(&token, "mirror:5000", 1300 + LEEWAY_SECS)
            .is_ok());
        assert_eq!(
            key.verify(&token, "mirror:5000", 1301 + LEEWAY_SECS),
            Err(TokenError::Expired)
        );
        assert_eq!(
            key.verify(&token, "mirror:5000", 999 - LEEWAY_SECS),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn the_key_is_made_once_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = TokenKey::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = TokenKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.kid(), second.kid());
    }
}
