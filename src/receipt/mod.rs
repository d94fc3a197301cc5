//! The site's receipt for HQ (`outpost store report`, checked by `outpost report verify`): a
//! JSON statement of what a site store holds (each release's index digest, signer and load
//! time), the last `store verify` and how often each image was pulled (from the audit logs),
//! signed with the site key. The signature is cosign's blob format, like a bundle's
//! `index.json.sig`: the base64 of an ASN.1 ECDSA-SHA256 signature over the exact bytes of
//! `report.json`, so `openssl dgst -sha256 -verify site.pub -signature <(base64 -d
//! report.json.sig) report.json` and `cosign verify-blob` check it too.
//!
//! Pull counting over audit lines is in `pulls`.

pub mod pulls;

use crate::sign::{SignError, Signer, Verifier};
use crate::sitestore::{SiteError, SiteStore};
use chrono::{DateTime, FixedOffset};
use pulls::PullCounts;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `format` of the statements this version writes.
pub const FORMAT: &str = "outpost.dev/receipt/v1";
/// Largest report `report verify` reads.
pub const MAX_REPORT_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit log {path}: {source}; give the files `serve --audit-log` wrote")]
    AuditLog {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store {path} does not exist: give the --store that `outpost load` filled")]
    NoStore { path: PathBuf },
    #[error("--since {text}: not an RFC 3339 time (example: 2026-11-01T00:00:00Z)")]
    BadSince { text: String },
    #[error(transparent)]
    Site(#[from] SiteError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("{signature} is missing: a receipt travels as {report} with its signature beside it")]
    SignatureMissing { report: PathBuf, signature: PathBuf },
    #[error("{report} does not match its signature {signature}: the receipt was changed after the site signed it, or it was signed with another site key")]
    Tampered { report: PathBuf, signature: PathBuf },
    #[error("{path} is larger than {MAX_REPORT_BYTES} bytes: not a receipt")]
    TooLarge { path: PathBuf },
    #[error("{path} is signed but is not an outpost receipt ({message})")]
    NotReceipt { path: PathBuf, message: String },
}

/// The statement `report.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// [`FORMAT`].
    pub format: String,
    pub store: StoreInfo,
    /// When the report was written (RFC 3339, UTC).
    pub generated: String,
    /// Fingerprint of the site key that signed it (`sha256:<hex>` of its DER public key).
    pub site_key: String,
    /// Pulls are counted from this time on (RFC 3339), or over the whole logs.
    pub since: Option<String>,
    /// The audit logs pulls were counted from, as given.
    pub audit_logs: Vec<String>,
    /// Every release in the store, oldest load first.
    pub releases: Vec<ReleaseReceipt>,
    /// Pulls whose digest no release in the store holds (a release pruned since).
    pub other_pulls: u64,
    /// Audit log lines that could not be read (cut by a crash): not counted.
    pub skipped_lines: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoreInfo {
    /// The store directory, absolute.
    pub path: String,
    /// Its last path component (the site's name for it).
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseReceipt {
    pub name: String,
    pub version: String,
    /// Digest of the release's signed `index.json`.
    pub index: String,
    /// Fingerprint of the key its signature was checked with at load.
    pub signer: String,
    /// When it was loaded (RFC 3339, UTC).
    pub loaded: String,
    /// The last `store verify` that covered this release, if any.
    pub last_verify: Option<VerifyReceipt>,
    /// Image pulls (sum of the images' `pulls`).
    pub pulls: u64,
    pub images: Vec<ImagePulls>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerifyReceipt {
    pub ok: bool,
    /// When it ran (RFC 3339, UTC).
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImagePulls {
    /// `registry/repository:tag` as built.
    pub reference: String,
    /// The digest the tag names (manifest or index).
    pub digest: String,
    /// Manifest GETs answered with `digest`: one per client pull.
    pub pulls: u64,
    /// Manifest GETs of one of its platform manifests (what a client fetches after the
    /// index of a multi-platform image, or a pull by platform digest).
    pub platform_pulls: u64,
}

/// What to report on.
pub struct ReportInput<'a> {
    pub store: &'a Path,
    pub audit_logs: &'a [PathBuf],
    /// `--since`, as given (RFC 3339).
    pub since: Option<&'a str>,
    /// When the report is made.
    pub now: std::time::SystemTime,
}

/// Builds the statement for the store at `input.store`, counting pulls from its audit logs.
/// An image both releases hold counts in both.
pub fn build(input: &ReportInput, site_key: &str) -> Result<Receipt, ReceiptError> {
    let since = match input.since {
        Some(text) => Some(parse_time(text)?),
        None => None,
    };
    if !input.store.is_dir() {
        return Err(ReceiptError::NoStore {
            path: input.store.to_path_buf(),
        });
    }
    let mut counts = PullCounts::default();
    for path in input.audit_logs {
        pulls::count_file(path, since.as_ref(), &mut counts).map_err(|source| {
            ReceiptError::AuditLog {
                path: path.clone(),
                source,
            }
        })?;
    }
    let site = SiteStore::open(input.store)?;
    let last_verify = site.last_verify()?;
    let mut attributed = std::collections::HashSet::new();
    let mut releases = Vec::new();
    for release in site.releases()? {
        let open = site.open_release(&release, None)?;
        let mut images = Vec::new();
        for image in &open.images {
            let digest = image.digest.to_string();
            let mut platform_pulls = 0;
            for carried in &image.reachable {
                let child = carried.descriptor.digest.to_string();
                if child != digest && carried.role == crate::bundle::graph::Role::Manifest {
                    platform_pulls += counts.of(&child);
                    attributed.insert(child);
                }
            }
            attributed.insert(digest.clone());
            images.push(ImagePulls {
                reference: image.reference.clone(),
                pulls: counts.of(&digest),
                digest,
                platform_pulls,
            });
        }
        let verify = last_verify
            .as_ref()
            .filter(|record| record.releases.contains(&release.index_digest))
            .map(|record| VerifyReceipt {
                ok: record.ok,
                time: rfc3339(record.time),
                error: record.error.clone(),
            });
        releases.push(ReleaseReceipt {
            name: release.name,
            version: release.version,
            index: release.index_digest.to_string(),
            signer: release.signer,
            loaded: rfc3339(release.loaded),
            last_verify: verify,
            pulls: images.iter().map(|i| i.pulls).sum(),
            images,
        });
    }
    let other_pulls = counts
        .by_digest
        .iter()
        .filter(|(digest, _)| !attributed.contains(*digest))
        .map(|(_, n)| n)
        .sum();
    let absolute = std::path::absolute(input.store).unwrap_or_else(|_| input.store.into());
    Ok(Receipt {
        format: FORMAT.to_string(),
        store: StoreInfo {
            path: absolute.display().to_string(),
            name: absolute
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        },
        generated: chrono::DateTime::<chrono::Utc>::from(input.now)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        site_key: site_key.to_string(),
        since: since.map(|t| t.to_rfc3339()),
        audit_logs: input
            .audit_logs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        releases,
        other_pulls,
        skipped_lines: counts.skipped_lines,
    })
}

/// `PATH.sig`.
pub fn signature_path(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Writes `receipt` to `out` (pretty JSON and a newline) and its signature to `out.sig`,
/// each by a rename. Returns the signature path.
pub fn write_signed(
    receipt: &Receipt,
    signer: &Signer,
    out: &Path,
) -> Result<PathBuf, ReceiptError> {
    let mut bytes = serde_json::to_vec_pretty(receipt).unwrap_or_default();
    bytes.push(b'\n');
    let signature = signer.sign(&bytes)?;
    let sig_path = signature_path(out);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReceiptError::Io { path, source }
    };
    crate::fsutil::write_atomic(out, &bytes).map_err(io(out))?;
    crate::fsutil::write_atomic(&sig_path, signature.as_bytes()).map_err(io(&sig_path))?;
    Ok(sig_path)
}

/// Reads `report` and `report.sig`, checks the signature with `verifier`, then parses the
/// statement (only once the signature holds).
pub fn verify(report: &Path, verifier: &Verifier) -> Result<Receipt, ReceiptError> {
    let signature = signature_path(report);
    let bytes = read_bounded(report)?;
    let sig = match std::fs::read(&signature) {
        Ok(sig) => sig,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReceiptError::SignatureMissing {
                report: report.to_path_buf(),
                signature,
            })
        }
        Err(source) => {
            return Err(ReceiptError::Io {
                path: signature,
                source,
            })
        }
    };
    match verifier.verify(&bytes, &sig) {
        Ok(()) => {}
        Err(SignError::Mismatch) | Err(SignError::SignatureEncoding) => {
            return Err(ReceiptError::Tampered {
                report: report.to_path_buf(),
                signature,
            })
        }
        Err(e) => return Err(e.into()),
    }
    let receipt: Receipt =
        serde_json::from_slice(&bytes).map_err(|e| ReceiptError::NotReceipt {
            path: report.to_path_buf(),
            message: e.to_string(),
        })?;
    if receipt.format != FORMAT {
        return Err(ReceiptError::NotReceipt {
            path: report.to_path_buf(),
            message: format!("format {} (this outpost reads {FORMAT})", receipt.format),
        });
    }
    Ok(receipt)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, ReceiptError> {
    use std::io::Read;
    let io = |source| ReceiptError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        return Err(ReceiptError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

fn parse_time(text: &str) -> Result<DateTime<FixedOffset>, ReceiptError> {
    DateTime::parse_from_rfc3339(text.trim()).map_err(|_| ReceiptError::BadSince {
        text: text.to_string(),
    })
}

/// Seconds since the epoch as RFC 3339 UTC.
fn rfc3339(seconds: u64) -> String {
    chrono::DateTime::from_timestamp(seconds as i64, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_must_be_rfc3339_and_times_render_in_utc() {
        assert!(parse_time("2026-11-01T00:00:00Z").is_ok());
        assert!(parse_time("2026-11-01T02:00:00+02:00").is_ok());
        assert!(matches!(
            parse_time("yesterday"),
            Err(ReceiptError::BadSince { .. })
        ));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            signature_path(Path::new("out/report.json")),
            Path::new("out/report.json.sig")
        );
    }

    #[test]
    fn a_signed_receipt_verifies_and_a_one_byte_edit_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let keys = crate::sign::generate_site(dir.path(), b"pw").unwrap();
        let signer = Signer::load(&keys.private_key, b"pw").unwrap();
        let verifier = Verifier::load(&keys.public_key).unwrap();
        let store = dir.path().join("store");
        let input_missing = ReportInput {
            store: &store,
            audit_logs: &[],
            since: None,
            now: std::time::UNIX_EPOCH,
        };
        assert!(matches!(
            build(&input_missing, signer.fingerprint()),
            Err(ReceiptError::NoStore { .. })
        ));
        std::fs::create_dir_all(&store).unwrap();
        let input = ReportInput {
            store: &store,
            audit_logs: &[],
            since: None,
            now: std::time::UNIX_EPOCH,
        };
        let receipt = build(&input, signer.fingerprint()).unwrap();
        assert!(receipt.releases.is_empty());
        let out = dir.path().join("report.json");
        write_signed(&receipt, &signer, &out).unwrap();
        assert_eq!(verify(&out, &verifier).unwrap(), receipt);
        let mut bytes = std::fs::read(&out).unwrap();
        let at = bytes.iter().position(|b| *b == b'Z').unwrap();
        bytes[at] = b'X';
        std::fs::write(&out, &bytes).unwrap();
        assert!(matches!(
            verify(&out, &verifier),
            Err(ReceiptError::Tampered { .. })
        ));
    }
}
