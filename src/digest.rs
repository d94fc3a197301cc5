//! Content digests: the one `Digest` type for blobs, manifests, lockfiles and bundles.
//!
//! Only `sha256` is accepted (it is what every registry and the OCI layout use). This module
//! parses and prints digests and hashes bytes; it does no I/O beyond the `Read` it is given.

use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::Read;
use std::str::FromStr;
use std::sync::Arc;

/// A `sha256:<64 lowercase hex>` content digest.
///
/// The hex digits are shared, not copied, by clones (`Arc<str>`): a bundle of thousands of
/// images names each blob in several maps and records, and a server holds them all.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: Arc<str>,
}

/// Why a string is not a digest we accept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("`{0}` is not a digest: expected `sha256:` followed by 64 lowercase hex digits")]
    Malformed(String),
    #[error("digest `{0}` uses an unsupported algorithm: only sha256 is supported")]
    Algorithm(String),
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// Finishes a running sha256.
    pub fn from_hasher(hasher: Sha256) -> Self {
        Digest {
            hex: hex::encode(hasher.finalize()).into(),
        }
    }

    /// Parses a bare 64-digit lowercase hex string (a blob file name).
    pub fn from_hex(hex: &str) -> Result<Self, DigestError> {
        if hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Digest { hex: hex.into() })
        } else {
            Err(DigestError::Malformed(hex.to_string()))
        }
    }

    /// The 64 hex digits, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Where the blob lives inside an OCI image layout: `blobs/sha256/<hex>`.
    pub fn layout_path(&self) -> String {
        format!("blobs/sha256/{}", self.hex)
    }

    /// Hashes everything `reader` yields; returns the digest and the byte count.
    pub fn of_reader(reader: &mut impl Read) -> std::io::Result<(Self, u64)> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok((Self::from_hasher(hasher), total));
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("sha256", hex)) => {
                Self::from_hex(hex).map_err(|_| DigestError::Malformed(s.to_string()))
            }
            Some((algorithm, _)) if !algorithm.is_empty() && !algorithm.contains('/') => {
                Err(DigestError::Algorithm(s.to_string()))
            }
            _ => Err(DigestError::Malformed(s.to_string())),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_is_the_well_known_one() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parses_and_rejects() {
        let good = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            good.parse::<Digest>().map(|d| d.to_string()),
            Ok(good.to_string())
        );
        assert!(matches!(
            "sha512:abcd".parse::<Digest>(),
            Err(DigestError::Algorithm(_))
        ));
        assert!(matches!(
            "sha256:ABCD".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            "sha256:../../etc/passwd".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            "e3b0".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
    }

    #[test]
    fn hashing_a_reader_matches_hashing_bytes() {
        let data = vec![7u8; 3 << 20];
        let (digest, size) = Digest::of_reader(&mut &data[..]).unwrap();
        assert_eq!(digest, Digest::of(&data));
        assert_eq!(size, data.len() as u64);
    }
}
