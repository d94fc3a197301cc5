//! Bundle signing keys and signatures, compatible with cosign.
//!
//! `outpost key generate` writes an ECDSA P-256 key pair: `outpost.key` (encrypted with
//! scrypt + secretbox, cosign's format) and `outpost.pub` (PEM). A bundle signature is the
//! base64 of an ASN.1 ECDSA-SHA256 signature over the bytes of `index.json`: exactly what
//! `cosign verify-blob --key outpost.pub --signature index.json.sig index.json` and
//! `openssl dgst -sha256 -verify` check. Signing uses RFC 6979 deterministic nonces (the
//! `p256` crate), so the same `index.json` always gets the same signature and two builds
//! from one lockfile are byte-identical.

use base64::Engine as _;
use p256::pkcs8::DecodePrivateKey;
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{CosignVerificationKey, Signature, SigningScheme};
use std::path::{Path, PathBuf};

pub const PRIVATE_KEY_FILE: &str = "outpost.key";
pub const PUBLIC_KEY_FILE: &str = "outpost.pub";
/// The site's key pair (`outpost key generate --site`), which signs `store report` receipts.
pub const SITE_PRIVATE_KEY_FILE: &str = "site.key";
pub const SITE_PUBLIC_KEY_FILE: &str = "site.pub";

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {path} does not exist: give it with --key (`outpost key generate` writes keys/outpost.key and keys/outpost.pub)")]
    KeyMissing { what: &'static str, path: PathBuf },
    #[error("{path} already exists: refusing to overwrite a key (move it away first)")]
    Exists { path: PathBuf },
    #[error("cannot generate a key: {0}")]
    Generate(String),
    #[error("cannot open private key {path}: wrong password or not a cosign/outpost private key ({message})")]
    PrivateKey { path: PathBuf, message: String },
    #[error("{path} is not a PEM public key (ECDSA P-256, as written by `outpost key generate` or cosign): {message}")]
    PublicKey { path: PathBuf, message: String },
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error("the signature is not valid base64")]
    SignatureEncoding,
    #[error("the signature does not match: the bundle's index.json was changed after signing, or it was signed with another key")]
    Mismatch,
}

/// The two files `outpost key generate` writes.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    pub fingerprint: String,
}

/// Creates a new key pair in `dir` (and the OpenPGP apt key beside it); never overwrites.
pub fn generate(dir: &Path, password: &[u8]) -> Result<KeyFiles, SignError> {
    let files = generate_pair(dir, password, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE)?;
    apt::generate(dir, password)?;
    Ok(files)
}

/// Creates the site's key pair in `dir`: `site.key` (encrypted like `outpost.key`) and
/// `site.pub`; never overwrites.
pub fn generate_site(dir: &Path, password: &[u8]) -> Result<KeyFiles, SignError> {
    generate_pair(dir, password, SITE_PRIVATE_KEY_FILE, SITE_PUBLIC_KEY_FILE)
}

/// An ECDSA P-256 pair: `dir/private_name` (cosign's encrypted PEM) and `dir/public_name`.
fn generate_pair(
    dir: &Path,
    password: &[u8],
    private_name: &str,
    public_name: &str,
) -> Result<KeyFiles, SignError> {
    let private_key = dir.join(private_name);
    let public_key = dir.join(public_name);
    for path in [&private_key, &public_key] {
        if path.exists() {
            return Err(SignError::Exists { path: path.clone() });
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| SignError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .map_err(|e| SignError::Generate(e.to_string()))?;
    let pair = signer
        .to_sigstore_keypair()
        .map_err(|e| SignError::Generate(e.to_string()))?;
    let encrypted = pair
        .private_key_to_encrypted_pem(password)
        .map_err(|e| SignError::Generate(e.to_string()))?;
    let public_pem = pair
        .public_key_to_pem()
        .map_err(|e| SignError::Generate(e.to_string()))?;
    let fingerprint = fingerprint_of_pem(&public_pem)
        .ok_or_else(|| SignError::Generate("unreadable public key".into()))?;
    write_private(&private_key, encrypted.as_bytes())?;
    crate::fsutil::write_atomic(&public_key, public_pem.as_bytes()).map_err(|source| {
        SignError::Io {
            path: public_key.clone(),
            source,
        }
    })?;
    Ok(KeyFiles {
        private_key,
        public_key,
        fingerprint,
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SignError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| SignError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// A loaded private key.
pub struct Signer {
    signer: p256::ecdsa::SigningKey,
    fingerprint: String,
}

impl Signer {
    pub fn load(path: &Path, password: &[u8]) -> Result<Self, SignError> {
        let pem = std::fs::read(path).map_err(|source| read_error("private key", path, source))?;
        let private_error = |message: String| SignError::PrivateKey {
            path: path.to_path_buf(),
            message,
        };
        let pair = SigStoreKeyPair::from_encrypted_pem(&pem, password)
            .map_err(|e| private_error(e.to_string()))?;
        let public_pem = pair
            .public_key_to_pem()
            .map_err(|e| private_error(e.to_string()))?;
        let fingerprint = fingerprint_of_pem(&public_pem)
            .ok_or_else(|| private_error("unreadable public key".into()))?;
        let der = pair
            .private_key_to_der()
            .map_err(|e| private_error(e.to_string()))?;
        let signer = p256::ecdsa::SigningKey::from_pkcs8_der(&der)
            .map_err(|e| private_error(format!("not an ECDSA P-256 key ({e})")))?;
        Ok(Signer {
            signer,
            fingerprint,
        })
    }

    /// `sha256:<hex>` of the public key's DER (SubjectPublicKeyInfo).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The base64 signature over `data`, as cosign writes it.
    pub fn sign(&self, data: &[u8]) -> Result<String, SignError> {
        use p256::ecdsa::signature::Signer as _;
        let signature: p256::ecdsa::Signature = self
            .signer
            .try_sign(data)
            .map_err(|e| SignError::Sign(e.to_string()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes()))
    }
}

/// A loaded public key.
pub struct Verifier {
    key: CosignVerificationKey,
    fingerprint: String,
}

impl Verifier {
    pub fn load(path: &Path) -> Result<Self, SignError> {
        let pem = std::fs::read_to_string(path)
            .map_err(|source| read_error("public key", path, source))?;
        let public_error = |message: String| SignError::PublicKey {
            path: path.to_path_buf(),
            message,
        };
        let fingerprint =
            fingerprint_of_pem(&pem).ok_or_else(|| public_error("no PUBLIC KEY block".into()))?;
        let key =
            CosignVerificationKey::from_pem(pem.as_bytes(), &SigningScheme::ECDSA_P256_SHA256_ASN1)
                .map_err(|e| public_error(e.to_string()))?;
        Ok(Verifier { key, fingerprint })
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Checks a base64 signature over `data`.
    pub fn verify(&self, data: &[u8], signature_base64: &[u8]) -> Result<(), SignError> {
        let trimmed: Vec<u8> = signature_base64
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&trimmed)
            .map_err(|_| SignError::SignatureEncoding)?;
        self.key
            .verify_signature(Signature::Raw(&raw), data)
            .map_err(|_| SignError::Mismatch)
    }
}

/// `sha256:<hex>` of the DER inside the first `PUBLIC KEY` PEM block.
pub fn fingerprint_of_pem(pem: &str) -> Option<String> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PUBLIC KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()?;
    if der.is_empty() {
        return None;
    }
    Some(crate::digest::Digest::of(&der).to_string())
}

/// A key file that cannot be read: a missing one is the user's to give (`--key`).
fn read_error(what: &'static str, path: &Path, source: std::io::Error) -> SignError {
    if source.kind() == std::io::ErrorKind::NotFound {
        SignError::KeyMissing {
            what,
            path: path.to_path_buf(),
        }
    } else {
        SignError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_and_only_its_public_key_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate(dir.path(), b"pw").unwrap();
        let signer = Signer::load(&files.private_key, b"pw").unwrap();
        assert_eq!(signer.fingerprint(), files.fingerprint);
        let signature = signer.sign(b"index").unwrap();
        let verifier = Verifier::load(&files.public_key).unwrap();
        verifier.verify(b"index", signature.as_bytes()).unwrap();
        assert_eq!(
            signer.sign(b"index").unwrap(),
            signature,
            "signatures are deterministic"
        );
        assert!(matches!(
            verifier.verify(b"index!", signature.as_bytes()),
            Err(SignError::Mismatch)
        ));

        assert!(matches!(
            Signer::load(&files.private_key, b"wrong"),
            Err(SignError::PrivateKey { .. })
        ));
        assert!(matches!(
            generate(dir.path(), b"pw"),
            Err(SignError::Exists { .. })
        ));

        let other = tempfile::tempdir().unwrap();
        let other_files = generate(other.path(), b"pw").unwrap();
        let other_verifier = Verifier::load(&other_files.public_key).unwrap();
        assert!(matches!(
            other_verifier.verify(b"index", signature.as_bytes()),
            Err(SignError::Mismatch)
        ));
    }
}

/// The OpenPGP key that signs the apt repositories generated inside bundles.
pub mod apt {
    use super::SignError;
    use pgp::composed::{
        ArmorOptions, CleartextSignedMessage, Deserializable, DetachedSignature, KeyType,
        SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
    };
    use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
    use pgp::ser::Serialize as _;
    use pgp::types::KeyDetails;
    use pgp::types::Password;
    use std::path::{Path, PathBuf};

    /// Encrypted secret key (armored), public key (armored), public key (binary keyring).
    pub const SECRET_FILE: &str = "outpost-apt.key";
    pub const PUBLIC_ARMORED_FILE: &str = "outpost-apt.asc";
    pub const PUBLIC_KEYRING_FILE: &str = "outpost-apt.gpg";

    fn pgp_error(e: impl std::fmt::Display) -> SignError {
        SignError::Generate(e.to_string())
    }

    /// Creates the apt signing key beside the cosign key (Ed25519, v4, which gpgv and apt
    /// accept), the secret part encrypted with `password`.
    pub fn generate(dir: &Path, password: &[u8]) -> Result<(), SignError> {
        for name in [SECRET_FILE, PUBLIC_ARMORED_FILE, PUBLIC_KEYRING_FILE] {
            let path = dir.join(name);
            if path.exists() {
                return Err(SignError::Exists { path });
            }
        }
        let password = String::from_utf8_lossy(password).into_owned();
        let params = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("outpost apt repository <outpost@localhost>".into())
            .passphrase(Some(password))
            .build()
            .map_err(pgp_error)?;
        let secret = params.generate(rand::thread_rng()).map_err(pgp_error)?;
        let public = SignedPublicKey::from(secret.clone());
        let secret_text = secret
            .to_armored_string(ArmorOptions::default())
            .map_err(pgp_error)?;
        let public_text = public
            .to_armored_string(ArmorOptions::default())
            .map_err(pgp_error)?;
        let mut keyring = Vec::new();
        public.to_writer(&mut keyring).map_err(pgp_error)?;
        super::write_private(&dir.join(SECRET_FILE), secret_text.as_bytes())?;
        for (name, bytes) in [
            (PUBLIC_ARMORED_FILE, public_text.as_bytes()),
            (PUBLIC_KEYRING_FILE, &keyring[..]),
        ] {
            let path = dir.join(name);
            crate::fsutil::write_atomic(&path, bytes)
                .map_err(|source| SignError::Io { path, source })?;
        }
        Ok(())
    }

    /// A loaded apt signing key.
    pub struct AptSigner {
        secret: SignedSecretKey,
        password: Password,
        /// The public key as a binary keyring (what nodes use as `Signed-By`).
        pub keyring: Vec<u8>,
    }

    impl AptSigner {
        /// Loads `outpost-apt.key` from the directory of the cosign key.
        pub fn load(cosign_key: &Path, password: &[u8]) -> Result<Self, SignError> {
            let path: PathBuf = cosign_key.with_file_name(SECRET_FILE);
            let text = std::fs::read_to_string(&path).map_err(|source| SignError::Io {
                path: path.clone(),
                source,
            })?;
            let private_error = |message: String| SignError::PrivateKey {
                path: path.clone(),
                message,
            };
            let (secret, _) =
                SignedSecretKey::from_string(&text).map_err(|e| private_error(e.to_string()))?;
            let password = Password::from(String::from_utf8_lossy(password).into_owned());
            let public = SignedPublicKey::from(secret.clone());
            let mut keyring = Vec::new();
            public
                .to_writer(&mut keyring)
                .map_err(|e| private_error(e.to_string()))?;
            let signer = AptSigner {
                secret,
                password,
                keyring,
            };
            // Fail now, not halfway through a build, on a wrong password.
            signer
                .detached(b"check")
                .map_err(|_| private_error("wrong password".into()))?;
            Ok(signer)
        }

        /// A signature configuration whose creation time is the key's own: the same input
        /// always gets the same signature (EdDSA is deterministic), so bundles carrying apt
        /// repositories rebuild byte for byte, and no verifier sees a signature older than
        /// its key.
        fn config(&self, kind: SignatureType) -> Result<SignatureConfig, SignError> {
            let key = &self.secret.primary_key;
            let sign_error = |e: pgp::errors::Error| SignError::Sign(e.to_string());
            let mut config =
                SignatureConfig::from_key(rand::thread_rng(), key, kind).map_err(sign_error)?;
            config.hashed_subpackets = vec![
                Subpacket::regular(SubpacketData::SignatureCreationTime(key.created_at()))
                    .map_err(sign_error)?,
                Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint()))
                    .map_err(sign_error)?,
            ];
            config.unhashed_subpackets =
                vec![
                    Subpacket::regular(SubpacketData::IssuerKeyId(key.legacy_key_id()))
                        .map_err(sign_error)?,
                ];
            Ok(config)
        }

        /// `InRelease`: the Release text clear-signed.
        pub fn clearsign(&self, text: &str) -> Result<String, SignError> {
            let config = self.config(SignatureType::Text)?;
            let message = CleartextSignedMessage::new(
                text.trim_end_matches('\n'),
                config,
                &self.secret.primary_key,
                &self.password,
            )
            .map_err(|e| SignError::Sign(e.to_string()))?;
            message
                .to_armored_string(ArmorOptions::default())
                .map_err(|e| SignError::Sign(e.to_string()))
        }

        /// `Release.gpg`: an armored detached signature.
        pub fn detached(&self, data: &[u8]) -> Result<String, SignError> {
            let config = self.config(SignatureType::Binary)?;
            let signature = config
                .sign(&self.secret.primary_key, &self.password, data)
                .map_err(|e| SignError::Sign(e.to_string()))?;
            DetachedSignature::new(signature)
                .to_armored_string(ArmorOptions::default())
                .map_err(|e| SignError::Sign(e.to_string()))
        }
    }
}

#[cfg(test)]
mod apt_tests {
    use super::apt::*;

    #[test]
    fn the_apt_key_signs_what_gpgv_accepts() {
        let dir = tempfile::tempdir().unwrap();
        super::generate(dir.path(), b"pw").unwrap();
        let signer = AptSigner::load(&dir.path().join("outpost.key"), b"pw").unwrap();
        assert!(AptSigner::load(&dir.path().join("outpost.key"), b"wrong").is_err());
        let release =
            "Origin: outpost\nSuite: outpost\nSHA256:\n abc 1 main/binary-amd64/Packages\n";
        std::fs::write(
            dir.path().join("InRelease"),
            signer.clearsign(release).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join("Release"), release).unwrap();
        std::fs::write(
            dir.path().join("Release.gpg"),
            signer.detached(release.as_bytes()).unwrap(),
        )
        .unwrap();
        let keyring = dir.path().join(PUBLIC_KEYRING_FILE);
        let gpgv = |args: &[&str]| {
            std::process::Command::new("gpgv")
                .arg("--keyring")
                .arg(&keyring)
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("run gpgv (scripts/test.sh installs it)")
                .status
                .success()
        };
        assert!(gpgv(&["InRelease"]), "gpgv rejected InRelease");
        assert!(
            gpgv(&["Release.gpg", "Release"]),
            "gpgv rejected Release.gpg"
        );
        std::fs::write(dir.path().join("Release"), "tampered").unwrap();
        assert!(!gpgv(&["Release.gpg", "Release"]));
        assert_eq!(
            signer.clearsign(release).unwrap(),
            signer.clearsign(release).unwrap(),
            "deterministic"
        );
        // Our own verifier accepts it too.
        let ours = crate::debian::openpgp::Keyring::load(std::slice::from_ref(&keyring)).unwrap();
        let text = ours
            .verify_clearsigned(&std::fs::read_to_string(dir.path().join("InRelease")).unwrap())
            .unwrap();
        assert_eq!(text.trim_end(), release.trim_end());
    }
}
