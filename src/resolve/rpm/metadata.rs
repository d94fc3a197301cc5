//! One rpm-md repository's metadata, fetched and checked: `repodata/repomd.xml`, its
//! detached signature `repomd.xml.asc` against the repository's keys (when
//! `repo_gpgcheck`; a missing signature is then an error), and each metadata file
//! (`primary`, `filelists`) against repomd's checksum of the stored file, decompressed
//! (gzip, bzip2, xz, zstd) with its output bounded. Compressed files checked by sha256 are
//! kept in the cache by that digest.

use super::super::ResolveError;
use crate::debian::openpgp::Keyring;
use crate::digest::Digest;
use crate::rpm::repomd::{DataFile, Repomd};
use crate::store::Store;
use crate::upstream::http::{Http, HttpError};
use sha2::Digest as _;
use std::io::{BufRead, Read};

mod stream;

/// Upper bound on repomd.xml and its signature.
const REPOMD_LIMIT: usize = 4 << 20;
/// Upper bound on one compressed metadata file.
const FILE_LIMIT: usize = 1 << 30;
/// Upper bound on one decompressed metadata file.
const OPEN_LIMIT: u64 = 4 << 30;

pub(super) fn repo_error(url: &str, message: impl std::fmt::Display) -> ResolveError {
    ResolveError::RpmRepo {
        url: url.to_string(),
        message: message.to_string(),
    }
}

fn http_error(error: HttpError) -> ResolveError {
    repo_error(error.url(), error.detail())
}

/// `base` + `path`, with one `/` between.
pub(super) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Fetches repomd.xml and, when `keyring` is given, checks `repomd.xml.asc` with it.
pub(super) async fn read_repomd(
    http: &Http,
    baseurl: &str,
    keyring: Option<&Keyring>,
) -> Result<Repomd, ResolveError> {
    let url = join(baseurl, "repodata/repomd.xml");
    let bytes = http
        .get_small(&url, REPOMD_LIMIT)
        .await
        .map_err(http_error)?;
    if let Some(keyring) = keyring {
        let asc = format!("{url}.asc");
        let signature = match http.get_small(&asc, REPOMD_LIMIT).await {
            Ok(signature) => signature,
            Err(HttpError::Status { status: 404, .. }) => {
                return Err(repo_error(&asc, "the repository is not signed (no repomd.xml.asc) but repo_gpgcheck is on; set `repo_gpgcheck: false` to accept it unsigned"));
            }
            Err(e) => return Err(http_error(e)),
        };
        keyring.verify_detached(&bytes, &signature).map_err(|e| {
            repo_error(
                &asc,
                format!("repomd.xml is not signed by the repository's gpgkey: {e}"),
            )
        })?;
    }
    Repomd::parse(&bytes).map_err(|e| repo_error(&url, e))
}

/// Fetches a metadata file and checks it against repomd: its stored (compressed) bytes,
/// which [`parse_data`] reads.
pub(super) async fn read_data(
    http: &Http,
    store: &Store,
    baseurl: &str,
    data: &DataFile,
) -> Result<Vec<u8>, ResolveError> {
    let url = join(baseurl, &data.location);
    let Some(checksum) = &data.checksum else {
        return Err(repo_error(&url, "repomd.xml gives no checksum for it"));
    };
    let cached = match checksum.kind.as_str() {
        "sha256" => Digest::from_hex(&checksum.hex).ok(),
        _ => None,
    };
    let compressed = match &cached {
        // Verified when it was stored (put_bytes checks the digest).
        Some(digest) if data.size.is_some_and(|size| store.has(digest, size)) => store
            .read_bytes(digest)
            .map_err(|store| ResolveError::RpmCache {
                url: url.clone(),
                store,
            })?,
        _ => {
            let limit = data.size.map_or(FILE_LIMIT, |s| {
                (s as usize).saturating_add(1).min(FILE_LIMIT)
            });
            let bytes = http.get_small(&url, limit).await.map_err(http_error)?;
            let actual = hash(&checksum.kind, &bytes).ok_or_else(|| {
                repo_error(&url, format!("repomd.xml checks it with `{}`, which outpost does not accept (sha256, sha384 or sha512)", checksum.kind))
            })?;
            if actual != checksum.hex {
                return Err(repo_error(&url, format!("{} {actual} does not match repomd.xml's {}; the metadata was changed after the repository was signed (tampered, or a half-synced mirror)", checksum.kind, checksum.hex)));
            }
            if let Some(digest) = &cached {
                store
                    .put_bytes(digest, &bytes)
                    .map_err(|store| ResolveError::RpmCache {
                        url: url.clone(),
                        store,
                    })?;
            }
            bytes
        }
    };
    Ok(compressed)
}

/// Runs `parse` over metadata file `data` (its checked bytes from [`read_data`]),
/// decompressed as a stream bounded by repomd's `open-size`; errors name the file's URL.
pub(super) fn parse_data<T>(
    baseurl: &str,
    data: &DataFile,
    compressed: &[u8],
    parse: impl FnOnce(&mut dyn BufRead) -> Result<T, String>,
) -> Result<T, ResolveError> {
    let limit = data.open_size.map_or(OPEN_LIMIT, |s| s.min(OPEN_LIMIT));
    stream::parse_piped(&data.location, compressed, limit, parse)
        .map_err(|e| repo_error(&join(baseurl, &data.location), e))
}

/// Lower-case hex of `bytes` under `kind`, for the algorithms accepted.
fn hash(kind: &str, bytes: &[u8]) -> Option<String> {
    Some(match kind {
        "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
        "sha384" => hex::encode(sha2::Sha384::digest(bytes)),
        "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
        _ => return None,
    })
}

/// Decompresses by the file name's suffix (`.gz`, `.bz2`, `.xz`, `.zst`, else none), to at
/// most `limit` bytes.
pub fn decompress(name: &str, bytes: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    stream::open(name, bytes, limit)?
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn every_compression_decodes_and_output_is_bounded() {
        let text = b"<metadata packages=\"0\"></metadata>".repeat(20);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&text).unwrap();
        let bz = bz.finish().unwrap();
        let xz = liblzma::encode_all(&text[..], 6).unwrap();
        let zst = ruzstd::encoding::compress_to_vec(
            &text[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        for (name, bytes) in [
            ("p.xml.gz", &gz),
            ("p.xml.bz2", &bz),
            ("p.xml.xz", &xz),
            ("p.xml.zst", &zst),
            ("p.xml", &text.to_vec()),
        ] {
            assert_eq!(decompress(name, bytes, 1 << 20).unwrap(), text, "{name}");
            let error = decompress(name, bytes, 100).unwrap_err();
            assert!(error.contains("more than 100 bytes"), "{name}: {error}");
        }
        assert!(decompress("p.xml.gz", b"not gzip", 1 << 20).is_err());
    }

    #[test]
    fn urls_join_with_one_slash() {
        assert_eq!(join("http://h/r/", "/repodata/x"), "http://h/r/repodata/x");
        assert_eq!(join("http://h/r", "repodata/x"), "http://h/r/repodata/x");
    }
}
