//! The RPM package file format, as far as a repository needs it: the lead (96 bytes), the
//! signature header (padded to 8 bytes) and the main header, each an index of 16-byte
//! entries (tag, type, offset, count; big-endian) over a data store. Follows rpm's
//! `docs/manual/format.md` (v4 package format) and `lib/header.c` for the bounds. Only the
//! bytes up to the end of the main header are read (the payload is not needed), so a ranged
//! download of the first [`Package::header_end`] bytes is enough.
//!
//! The signature check ([`verify_header_signature`]) is `rpm -K`'s header-only part: the
//! OpenPGP signature of tag 268 (RSA) or 267 (DSA, EdDSA, ECDSA), or the base64 signatures
//! of rpm 6's tag 278, over the main header bytes (its 8-byte magic, its index and store),
//! and the header's SHA-256 digest (tag 273) when present.

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::types::KeyDetails;
use std::io::Read;

mod tags;
pub use tags::*;

/// The lead's size and magic.
pub const LEAD_SIZE: usize = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
/// Every header starts with these 8 bytes (magic, version 1, 4 reserved bytes).
const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
/// rpm's bounds (`hdrchkTags`, `hdrchkData` in lib/header_internal.h): at most 0xffff
/// index entries and 256 MiB of data per header.
pub const MAX_INDEX_ENTRIES: u32 = 0xffff;
pub const MAX_DATA_SIZE: u32 = 0x0fff_ffff;
/// At most this many strings in one tag (a package of a million files is far past any real
/// one); bounds the memory a hostile header can make a reader allocate.
pub const MAX_STRINGS: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// More bytes of the file are needed: read at least `needed` from its start.
    #[error("the RPM file is cut short: its headers need {needed} bytes, only {have} were read")]
    Truncated { needed: usize, have: usize },
    #[error("not an RPM package: {0}")]
    Malformed(String),
    #[error("{package}: the package header is not signed (no header OpenPGP signature); sign it with rpmsign, or set gpgcheck: false for its repository")]
    Unsigned { package: String },
    #[error(
        "{package}: signed by key {key_id}, which is not among the repository's keys (gpgkey)"
    )]
    WrongKey { package: String, key_id: String },
    #[error("{package}: the header signature or digest does not verify ({reason}): the package was altered after signing")]
    BadSignature { package: String, reason: String },
    #[error("reading the RPM file: {0}")]
    Io(#[from] std::io::Error),
}

/// One index entry of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: u32,
    count: u32,
}

/// One parsed header (the signature header or the main header).
#[derive(Debug, Clone)]
pub struct Header {
    entries: Vec<Entry>,
    store: Vec<u8>,
}

/// The typed value of a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Strings(Vec<String>),
    Ints(Vec<u64>),
    Bin(Vec<u8>),
}

const TYPE_CHAR: u32 = 1;
const TYPE_INT8: u32 = 2;
const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_INT64: u32 = 5;
const TYPE_STRING: u32 = 6;
const TYPE_BIN: u32 = 7;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The size of the header starting at `at` (magic + 8 + index + store), once its first 16
/// bytes are there.
fn header_size(prefix: &[u8], at: usize, what: &str) -> Result<usize, HeaderError> {
    let have = prefix.len();
    if have < at + 16 {
        return Err(HeaderError::Truncated {
            needed: at + 16,
            have,
        });
    }
    if prefix[at..at + 4] != HEADER_MAGIC[..4] {
        return Err(HeaderError::Malformed(format!(
            "the {what} has no header magic"
        )));
    }
    let (il, dl) = (be32(prefix, at + 8), be32(prefix, at + 12));
    if il == 0 || il > MAX_INDEX_ENTRIES || dl > MAX_DATA_SIZE {
        return Err(HeaderError::Malformed(format!(
            "the {what} claims {il} index entries and {dl} data bytes (rpm allows 1..{MAX_INDEX_ENTRIES} and at most {MAX_DATA_SIZE})"
        )));
    }
    Ok(16 + il as usize * 16 + dl as usize)
}

impl Header {
    /// Parses the header whose 8-byte magic starts `bytes` (exactly its size, see
    /// `header_size`).
    fn parse(bytes: &[u8], what: &str) -> Result<Header, HeaderError> {
        let il = be32(bytes, 8) as usize;
        let data = &bytes[16 + il * 16..];
        let malformed = |m: String| HeaderError::Malformed(format!("{what}: {m}"));
        let mut entries = Vec::with_capacity(il);
        for i in 0..il {
            let at = 16 + i * 16;
            let entry = Entry {
                tag: be32(bytes, at),
                kind: be32(bytes, at + 4),
                offset: be32(bytes, at + 8),
                count: be32(bytes, at + 12),
            };
            if entry.offset as usize > data.len() || entry.count > MAX_DATA_SIZE {
                return Err(malformed(format!(
                    "tag {} points outside the header data",
                    entry.tag
                )));
            }
            entries.push(entry);
        }
        Ok(Header {
            entries,
            store: data.to_vec(),
        })
    }

    fn entry(&self, tag: u32) -> Option<&Entry> {
        self.entries.iter().find(|e| e.tag == tag)
    }

    /// Whether the header has `tag`.
    pub fn has(&self, tag: u32) -> bool {
        self.entry(tag).is_some()
    }

    /// The value of `tag`, typed; `None` when absent or when its data does not fit the
    /// store (a malformed entry reads as absent).
    pub fn get(&self, tag: u32) -> Option<Value> {
        let entry = self.entry(tag)?;
        let data = self.store.get(entry.offset as usize..)?;
        let count = entry.count as usize;
        let ints = |width: usize| -> Option<Value> {
            let bytes = data.get(..count.checked_mul(width)?)?;
            Some(Value::Ints(
                bytes
                    .chunks_exact(width)
                    .map(|c| c.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
                    .collect(),
            ))
        };
        match entry.kind {
            TYPE_CHAR | TYPE_INT8 => ints(1),
            TYPE_INT16 => ints(2),
            TYPE_INT32 => ints(4),
            TYPE_INT64 => ints(8),
            TYPE_BIN => data.get(..count).map(|b| Value::Bin(b.to_vec())),
            TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING => {
                let count = if entry.kind == TYPE_STRING { 1 } else { count };
                // Each string takes at least its NUL; a count past either bound is malformed
                // (and would otherwise build millions of empty strings from a zeroed store).
                if count > data.len() || count > MAX_STRINGS {
                    return None;
                }
                let mut strings = Vec::with_capacity(count.min(data.len()));
                let mut rest = data;
                for _ in 0..count {
                    let end = rest.iter().position(|b| *b == 0)?;
                    strings.push(String::from_utf8_lossy(&rest[..end]).into_owned());
                    rest = &rest[end + 1..];
                }
                Some(Value::Strings(strings))
            }
            _ => None,
        }
    }

    /// A string tag (the first string of an array or i18n string).
    pub fn string(&self, tag: u32) -> Option<String> {
        match self.get(tag)? {
            Value::Strings(s) => s.into_iter().next(),
            _ => None,
        }
    }

    /// A string array (an absent tag is empty).
    pub fn strings(&self, tag: u32) -> Vec<String> {
        match self.get(tag) {
            Some(Value::Strings(s)) => s,
            _ => Vec::new(),
        }
    }

    /// An integer array of any width (an absent tag is empty).
    pub fn ints(&self, tag: u32) -> Vec<u64> {
        match self.get(tag) {
            Some(Value::Ints(v)) => v,
            _ => Vec::new(),
        }
    }

    /// The first integer of an integer tag.
    pub fn int(&self, tag: u32) -> Option<u64> {
        self.ints(tag).first().copied()
    }

    /// A binary tag.
    pub fn bin(&self, tag: u32) -> Option<Vec<u8>> {
        match self.get(tag)? {
            Value::Bin(b) => Some(b),
            _ => None,
        }
    }
}

/// An RPM file's headers.
#[derive(Debug, Clone)]
pub struct Package {
    pub signature: Header,
    pub header: Header,
    /// Byte offset of the main header in the file (`rpm:header-range start`).
    pub header_start: usize,
    /// Byte offset just past the main header (`rpm:header-range end`; the payload starts
    /// here).
    pub header_end: usize,
    /// The main header's bytes as in the file (what its signature covers).
    pub header_bytes: Vec<u8>,
}

/// How many bytes from the file's start hold the lead and both headers, from a prefix of
/// the file. Errors: `Truncated` with the bytes needed to learn more (read that many and
/// ask again), `Malformed`.
pub fn header_end(prefix: &[u8]) -> Result<usize, HeaderError> {
    if prefix.len() < LEAD_SIZE {
        return Err(HeaderError::Truncated {
            needed: LEAD_SIZE,
            have: prefix.len(),
        });
    }
    if prefix[..4] != LEAD_MAGIC {
        return Err(HeaderError::Malformed(
            "the file does not start with the RPM lead magic".into(),
        ));
    }
    let signature_size = header_size(prefix, LEAD_SIZE, "signature header")?;
    let start = LEAD_SIZE + signature_size.div_ceil(8) * 8;
    Ok(start + header_size(prefix, start, "main header")?)
}

/// Parses the lead and both headers from the file's first bytes (at least
/// [`header_end`] of them; more are ignored). Errors: `Truncated`, `Malformed`.
pub fn parse(prefix: &[u8]) -> Result<Package, HeaderError> {
    let end = header_end(prefix)?;
    if prefix.len() < end {
        return Err(HeaderError::Truncated {
            needed: end,
            have: prefix.len(),
        });
    }
    let signature_size = header_size(prefix, LEAD_SIZE, "signature header")?;
    let signature = Header::parse(
        &prefix[LEAD_SIZE..LEAD_SIZE + signature_size],
        "signature header",
    )?;
    let start = LEAD_SIZE + signature_size.div_ceil(8) * 8;
    let header_bytes = prefix[start..end].to_vec();
    let header = Header::parse(&header_bytes, "main header")?;
    if header.string(NAME).is_none() {
        return Err(HeaderError::Malformed("the main header has no name".into()));
    }
    Ok(Package {
        signature,
        header,
        header_start: start,
        header_end: end,
        header_bytes,
    })
}

/// Reads the file's first [`header_end`] bytes from `reader` (in steps: the lead and each
/// header's size first) and parses them; the payload is not read. Errors as [`parse`], and
/// `Io`.
pub fn read(mut reader: impl std::io::Read) -> Result<Package, HeaderError> {
    let mut prefix = Vec::new();
    loop {
        match parse(&prefix) {
            Err(HeaderError::Truncated { needed, have }) => {
                let want = (needed - have) as u64;
                let got = (&mut reader).take(want).read_to_end(&mut prefix)?;
                if got as u64 != want {
                    return Err(HeaderError::Truncated {
                        needed,
                        have: prefix.len(),
                    });
                }
            }
            result => return result,
        }
    }
}

impl Package {
    /// `name-[epoch:]version-release.arch`, as rpm prints it (`src` for a source package).
    pub fn nevra(&self) -> String {
        let h = &self.header;
        let epoch = h
            .int(EPOCH)
            .filter(|e| *e != 0)
            .map(|e| format!("{e}:"))
            .unwrap_or_default();
        let arch = if h.has(SOURCEPACKAGE) || !h.has(SOURCERPM) {
            "src".to_string()
        } else {
            h.string(ARCH).unwrap_or_default()
        };
        format!(
            "{}-{epoch}{}-{}.{arch}",
            h.string(NAME).unwrap_or_default(),
            h.string(VERSION).unwrap_or_default(),
            h.string(RELEASE).unwrap_or_default()
        )
    }
}

/// The header-only OpenPGP signatures of a signature header (binary packets).
fn header_signatures(signature: &Header) -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut found: Vec<Vec<u8>> = [SIGTAG_RSA, SIGTAG_DSA]
        .iter()
        .filter_map(|tag| signature.bin(*tag))
        .collect();
    for text in signature.strings(SIGTAG_OPENPGP) {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            found.push(bytes);
        }
    }
    found
}

/// The `rpm -K` check of a package's header: its SHA-256 header digest (tag 273, when
/// present) and a header-only OpenPGP signature made by one of `keys` (primary key or
/// subkey). `prefix` is at least the file's first [`header_end`] bytes. Returns the
/// fingerprint of the key that verified, upper-case hex.
///
/// Errors: `Truncated`/`Malformed` for a file that is not a whole header; `Unsigned` when
/// there is no header signature; `WrongKey` (with the signature's issuer key ID) when no key
/// given made it; `BadSignature` when the digest or the signature does not match the bytes.
pub fn verify_header_signature(
    prefix: &[u8],
    keys: &[SignedPublicKey],
) -> Result<String, HeaderError> {
    let package = parse(prefix)?;
    let name = package.nevra();
    let bad = |reason: String| HeaderError::BadSignature {
        package: name.clone(),
        reason,
    };
    if let Some(expected) = package.signature.string(SIGTAG_SHA256) {
        let actual = crate::digest::Digest::of(&package.header_bytes)
            .hex()
            .to_string();
        if !expected.eq_ignore_ascii_case(&actual) {
            return Err(bad(format!(
                "header SHA-256 is {actual}, the signature header says {expected}"
            )));
        }
    }
    let signatures = header_signatures(&package.signature);
    if signatures.is_empty() {
        return Err(HeaderError::Unsigned { package: name });
    }
    let mut issuers = Vec::new();
    for bytes in &signatures {
        let signature = DetachedSignature::from_bytes(&bytes[..])
            .map_err(|e| bad(format!("unreadable OpenPGP signature: {e}")))?
            .signature;
        let issuer_ids: Vec<Vec<u8>> = signature
            .issuer_key_id()
            .iter()
            .map(|id| id.as_ref().to_vec())
            .chain(
                signature
                    .issuer_fingerprint()
                    .iter()
                    .map(|fp| fp.as_bytes().to_vec()),
            )
            .collect();
        issuers.extend(
            signature
                .issuer_key_id()
                .iter()
                .map(|id| hex_upper(id.as_ref())),
        );
        for key in keys {
            let primary = (
                key.primary_key.fingerprint(),
                key.primary_key.legacy_key_id(),
                None,
            );
            let subkeys = key
                .public_subkeys
                .iter()
                .map(|sub| (sub.key.fingerprint(), sub.key.legacy_key_id(), Some(sub)));
            for (fingerprint, key_id, subkey) in std::iter::once(primary).chain(subkeys) {
                let named = issuer_ids.is_empty()
                    || issuer_ids.iter().any(|issuer| {
                        issuer[..] == *key_id.as_ref() || issuer[..] == *fingerprint.as_bytes()
                    });
                if !named {
                    continue;
                }
                let data = &package.header_bytes[..];
                let verified = match subkey {
                    Some(sub) => signature.verify(&sub.key, data).is_ok(),
                    None => signature.verify(&key.primary_key, data).is_ok(),
                };
                if verified {
                    return Ok(format!("{:X}", key.primary_key.fingerprint()));
                }
                if !issuer_ids.is_empty() {
                    return Err(bad("the OpenPGP signature does not match the header".into()));
                }
            }
        }
    }
    Err(HeaderError::WrongKey {
        package: name,
        key_id: issuers.join(", "),
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

#[cfg(test)]
mod tests;
