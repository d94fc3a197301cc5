//! OpenPGP checks of archive metadata: `InRelease` (clear-signed) and `Release` +
//! `Release.gpg` (detached), against the keys of one or more keyring files (binary `.gpg`
//! keyrings or armored `.asc`), with the `pgp` crate. A signature made by a subkey counts.
//! A detached signature must be ASCII-armored, as apt 2.6 requires (`detached_format`).

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
    /// A detached signature apt refuses before checking it (binary, or not only armor).
    #[error("{0}; apt refuses it, so the source is treated as not signed")]
    Detached(DetachedFormat),
}

/// Why apt (2.6, `apt-pkg/contrib/gpgv.cc`) refuses a detached signature file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DetachedFormat {
    #[error("the detached signature is in unsupported binary format (apt accepts only ASCII-armored signatures)")]
    Binary,
    #[error("the detached signature holds no ASCII-armored signature")]
    NoSignature,
    #[error("the detached signature contains lines not belonging to a signature")]
    ForeignLines,
    #[error("the detached signature contains an unexpected line starting with a dash")]
    DashLine,
    #[error("the detached signature contains an unclosed signature")]
    Unclosed,
}

/// apt's check of a detached signature file before gpgv sees it, line for line: lines are
/// compared without their line end and trailing blanks; outside a
/// `-----BEGIN PGP SIGNATURE-----` … `-----END PGP SIGNATURE-----` block nothing else may
/// appear; inside one no line may start with a dash. A file with no block whose first byte
/// is an old-format OpenPGP packet tag is a binary signature, which apt refuses.
pub fn detached_format(signature: &[u8]) -> Result<(), DetachedFormat> {
    let (mut open, mut bad_content, mut found) = (false, false, 0usize);
    let mut lines = signature.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if lines.peek().is_none() && line.is_empty() {
            break; // the end of the last line, not a line
        }
        let end = line
            .iter()
            .rposition(|b| !b"\r\n \t".contains(b))
            .map_or(0, |i| i + 1);
        let line = &line[..end];
        if open {
            if line == b"-----END PGP SIGNATURE-----" {
                open = false;
            } else if line.starts_with(b"-") {
                return Err(DetachedFormat::DashLine);
            }
        } else if line == b"-----BEGIN PGP SIGNATURE-----" {
            open = true;
            found += 1;
            if bad_content {
                break;
            }
        } else {
            bad_content = true;
            if found != 0 {
                break;
            }
        }
    }
    if found == 0 {
        let old_format_tag = signature
            .first()
            .is_some_and(|tag| tag & 0x80 != 0 && tag & 0x40 == 0);
        return Err(if bad_content && old_format_tag {
            DetachedFormat::Binary
        } else {
            DetachedFormat::NoSignature
        });
    }
    if bad_content {
        return Err(DetachedFormat::ForeignLines);
    }
    if open {
        return Err(DetachedFormat::Unclosed);
    }
    Ok(())
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

    /// Loads every key of an in-memory keyring (binary or armored); `name` stands for it in
    /// errors.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, PgpError> {
        let keys = read_keys(bytes).map_err(|message| PgpError::Keyring {
            path: PathBuf::from(name),
            message,
        })?;
        if keys.is_empty() {
            return Err(PgpError::NoKeys(name.to_string()));
        }
        Ok(Keyring {
            keys,
            names: name.to_string(),
        })
    }

    /// The keys (each with its subkeys).
    pub fn keys(&self) -> &[SignedPublicKey] {
        &self.keys
    }

    /// Verifies a clear-signed `InRelease` and returns the signed text (LF line ends).
    pub fn verify_clearsigned(&self, text: &str) -> Result<String, PgpError> {
        self.verify_clearsigned_by(text).map(|(text, _)| text)
    }

    /// Verifies a clear-signed document; returns the signed text (LF line ends) and the key
    /// whose primary key or subkey made a signature that verifies.
    pub fn verify_clearsigned_by(
        &self,
        text: &str,
    ) -> Result<(String, &SignedPublicKey), PgpError> {
        let (message, _) = CleartextSignedMessage::from_string(text)
            .map_err(|e| PgpError::Format(e.to_string()))?;
        let signer = self.keys.iter().find(|key| {
            message.verify(&key.primary_key).is_ok()
                || key
                    .public_subkeys
                    .iter()
                    .any(|sub| message.verify(sub).is_ok())
        });
        let Some(signer) = signer else {
            return Err(PgpError::BadSignature(self.names.clone()));
        };
        Ok((message.signed_text().replace("\r\n", "\n"), signer))
    }

    /// Verifies an ASCII-armored detached signature over `data` (a binary one is refused,
    /// as apt refuses it: see `detached_format`).
    pub fn verify_detached(&self, data: &[u8], signature: &[u8]) -> Result<(), PgpError> {
        detached_format(signature).map_err(PgpError::Detached)?;
        let parsed = DetachedSignature::from_armor_single(signature)
            .map(|(s, _)| s)
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
    read_keys(file).map_err(keyring_error)
}

/// The public keys of a keyring (binary or armored; secret keys count as their public part).
fn read_keys(reader: impl std::io::Read) -> Result<Vec<SignedPublicKey>, String> {
    let (items, _) = PublicOrSecret::from_reader_many(reader).map_err(|e| e.to_string())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    const ARMORED: &str = "-----BEGIN PGP SIGNATURE-----\n\niHUEABYIAB0WIQRMYQe6WIiNV2aU/0W83tap4j22YwUCaSrBJgAKCRC83tap4j22\n=AbCd\n-----END PGP SIGNATURE-----\n";

    #[test]
    fn detached_signatures_must_be_armored_as_apt_requires() {
        assert_eq!(detached_format(ARMORED.as_bytes()), Ok(()));
        assert_eq!(
            detached_format(ARMORED.replace('\n', "\r\n").as_bytes()),
            Ok(())
        );
        let twice = format!("{ARMORED}{ARMORED}");
        assert_eq!(detached_format(twice.as_bytes()), Ok(()));
        // gpg --detach-sign without --armor: an old-format signature packet (0x88).
        let binary = [0x88, 0x75, 0x04, 0x00, 0x16, 0x08, 0x00, 0x1d, 0x0a, 0x2d];
        assert_eq!(detached_format(&binary), Err(DetachedFormat::Binary));
        assert_eq!(detached_format(b""), Err(DetachedFormat::NoSignature));
        assert_eq!(
            detached_format(b"<html>paywall</html>\n"),
            Err(DetachedFormat::NoSignature)
        );
        assert_eq!(
            detached_format(format!("{ARMORED}trailing words\n").as_bytes()),
            Err(DetachedFormat::ForeignLines)
        );
        assert_eq!(
            detached_format(ARMORED.replace("=AbCd", "-AbCd").as_bytes()),
            Err(DetachedFormat::DashLine)
        );
        assert_eq!(
            detached_format(
                ARMORED
                    .replace("-----END PGP SIGNATURE-----\n", "")
                    .as_bytes()
            ),
            Err(DetachedFormat::Unclosed)
        );
    }
}
