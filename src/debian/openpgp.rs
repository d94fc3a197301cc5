//! OpenPGP checks of archive metadata: `InRelease` (clear-signed) and `Release` +
//! `Release.gpg` (detached), against the keys of one or more keyring files (binary `.gpg`
//! keyrings or armored `.asc`), with the `pgp` crate. A signature made by a subkey counts.

use pgp::composed::{
    CleartextSignedMessage, Deserializable, DetachedSignature, PublicOrSecret, SignedPublicKey,
};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PgpError {
    #[error("keyring {path}: {message}")]
    Keyring { path: PathBuf, message: String },
    #[error("no usable keyring: {0}")]
    NoKeys(String),
    #[error("not a clear-signed document: {0}")]
    Format(String),
    #[error("no signature on it verifies with the keys of {0}")]
    BadSignature(String),
}

/// Public keys trusted for one source.
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
    names: String,
}

impl Keyring {
    /// Loads every key of every file (missing files are errors).
    pub fn load(paths: &[PathBuf]) -> Result<Self, PgpError> {
        let mut keys = Vec::new();
        for path in paths {
            keys.extend(load_file(path)?);
        }
        let names = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if keys.is_empty() {
            return Err(PgpError::NoKeys(names));
        }
        Ok(Keyring { keys, names })
    }

    /// Verifies a clear-signed `InRelease` and returns the signed text (LF line ends).
    pub fn verify_clearsigned(&self, text: &str) -> Result<String, PgpError> {
        let (message, _) = CleartextSignedMessage::from_string(text)
            .map_err(|e| PgpError::Format(e.to_string()))?;
        let verified = self.keys.iter().any(|key| {
            message.verify(&key.primary_key).is_ok()
                || key
                    .public_subkeys
                    .iter()
                    .any(|sub| message.verify(sub).is_ok())
        });
        if !verified {
            return Err(PgpError::BadSignature(self.names.clone()));
        }
        Ok(message.signed_text().replace("\r\n", "\n"))
    }

    /// Verifies a detached (armored or binary) signature over `data`.
    pub fn verify_detached(&self, data: &[u8], signature: &[u8]) -> Result<(), PgpError> {
        let parsed = if signature.starts_with(b"-----BEGIN") {
            DetachedSignature::from_armor_single(signature).map(|(s, _)| s)
        } else {
            DetachedSignature::from_bytes(signature)
        }
        .map_err(|e| PgpError::Format(e.to_string()))?;
        let verified = self.keys.iter().any(|key| {
            parsed.verify(&key.primary_key, data).is_ok()
                || key
                    .public_subkeys
                    .iter()
                    .any(|sub| parsed.verify(sub, data).is_ok())
        });
        if verified {
            Ok(())
        } else {
            Err(PgpError::BadSignature(self.names.clone()))
        }
    }
}

fn load_file(path: &Path) -> Result<Vec<SignedPublicKey>, PgpError> {
    let keyring_error = |message: String| PgpError::Keyring {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| keyring_error(e.to_string()))?;
    let (items, _) =
        PublicOrSecret::from_reader_many(file).map_err(|e| keyring_error(e.to_string()))?;
    let mut keys = Vec::new();
    for item in items {
        match item {
            Ok(PublicOrSecret::Public(key)) => keys.push(key),
            Ok(PublicOrSecret::Secret(key)) => keys.push(key.to_public_key()),
            Err(_) => continue,
        }
    }
    Ok(keys)
}
