//! A whole `.rpm` file checked as `rpm -K` checks it: the header-only OpenPGP signature
//! (and SHA-256 header digest) by one of the repository's keys, then the payload against the
//! digest the signed header carries (`PAYLOADDIGEST`, tag 5092, in the algorithm of
//! `PAYLOADDIGESTALGO`, tag 5093: 8 = SHA-256, 9 = SHA-384, 10 = SHA-512; rpm ≥ 4.14 writes
//! them). The header names the package, so a file whose signed header and payload both hold
//! is the packager's package, whatever the repository's metadata said.

use super::header::{self, HeaderError, Package};
use pgp::composed::SignedPublicKey;
use sha2::Digest as _;
use std::io::Read;

/// `PAYLOADDIGEST`: hex digests of the compressed payload.
const PAYLOADDIGEST: u32 = 5092;
/// `PAYLOADDIGESTALGO`: the OpenPGP hash algorithm number of `PAYLOADDIGEST`.
const PAYLOADDIGESTALGO: u32 = 5093;

/// Reads a whole package from `reader`: verifies its header signature with `keys` and its
/// payload against the signed header's payload digest, streaming (the payload is hashed in
/// 64 KiB pieces, never held). Returns the parsed headers and the signer's fingerprint
/// (upper-case hex).
///
/// Errors: those of [`header::verify_header_signature`]; `BadSignature` when the payload
/// does not match the signed digest, or when the header carries no payload digest (a
/// package from before rpm 4.14, whose payload the header signature does not cover).
pub fn verify_file(
    mut reader: impl Read,
    keys: &[SignedPublicKey],
) -> Result<(Package, String), HeaderError> {
    let mut prefix = Vec::new();
    let package = loop {
        let want = match header::header_end(&prefix) {
            Ok(end) => end,
            Err(HeaderError::Truncated { needed, .. }) => needed,
            Err(e) => return Err(e),
        };
        if want <= prefix.len() {
            break header::parse(&prefix)?;
        }
        let have = prefix.len();
        (&mut reader)
            .take((want - have) as u64)
            .read_to_end(&mut prefix)?;
        if prefix.len() < want {
            return Err(HeaderError::Truncated {
                needed: want,
                have: prefix.len(),
            });
        }
    };
    let fingerprint = header::verify_header_signature(&prefix[..package.header_end], keys)?;
    let name = package.nevra();
    let bad = |reason: String| HeaderError::BadSignature {
        package: name.clone(),
        reason,
    };
    let expected = package
        .header
        .strings(PAYLOADDIGEST)
        .into_iter()
        .next()
        .ok_or_else(|| {
            bad("the signed header carries no payload digest (rpm before 4.14), so the signature does not cover the files; set gpgcheck: false for its repository to carry it unchecked".into())
        })?;
    let algorithm = package.header.int(PAYLOADDIGESTALGO).unwrap_or(8);
    let mut hasher = PayloadHasher::new(algorithm)
        .ok_or_else(|| bad(format!("unknown payload digest algorithm {algorithm}")))?;
    hasher.update(&prefix[package.header_end..]);
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let actual = hasher.finish();
    if !actual.eq_ignore_ascii_case(expected.trim()) {
        return Err(bad(format!(
            "the payload's digest is {actual}, the signed header says {expected}: the files were changed after signing"
        )));
    }
    Ok((package, fingerprint))
}

enum PayloadHasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl PayloadHasher {
    fn new(algorithm: u64) -> Option<Self> {
        match algorithm {
            8 => Some(Self::Sha256(sha2::Sha256::new())),
            9 => Some(Self::Sha384(sha2::Sha384::new())),
            10 => Some(Self::Sha512(sha2::Sha512::new())),
            _ => None,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha384(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    fn finish(self) -> String {
        match self {
            Self::Sha256(h) => hex::encode(h.finalize()),
            Self::Sha384(h) => hex::encode(h.finalize()),
            Self::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpm::testkit::{build, Key, ALPHA};

    #[test]
    fn a_signed_package_verifies_whole_and_a_changed_payload_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let rpm = build(dir.path(), ALPHA, "noarch").remove(0);
        let key = Key::generate(dir.path(), "packager");
        key.sign(&rpm);
        let signed = std::fs::read(&rpm).unwrap();
        let (package, signer) = verify_file(&signed[..], &key.public()).unwrap();
        assert_eq!(signer, key.fingerprint);
        assert_eq!(package.nevra(), "alpha-2:1.2~rc1-3.noarch");

        // The signed header with another payload: the header signature still holds, the
        // payload digest it carries does not.
        let mut tampered = signed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        let err = verify_file(&tampered[..], &key.public()).unwrap_err();
        assert!(
            matches!(&err, HeaderError::BadSignature { reason, .. } if reason.contains("payload")),
            "{err}"
        );
        // Cut short inside the headers.
        let err = verify_file(&signed[..200], &key.public()).unwrap_err();
        assert!(matches!(err, HeaderError::Truncated { .. }), "{err}");
    }
}
