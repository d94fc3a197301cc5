//! Software bills of materials of a release: everything its lockfile pins (images and their
//! platform manifests, Helm charts, files, Debian packages), as CycloneDX 1.5 JSON
//! ([`cyclonedx`]) or SPDX 2.3 JSON ([`spdx`]), each with its purl ([`purl`]) and SHA-256.
//!
//! The documents are built from the lockfile a bundle carries
//! ([`crate::bundle::upstream::carried_lockfile`]), by pure functions: the same lockfile and
//! time give the same bytes. A bundle records no time of its own (it is reproducible), so the
//! time is `SOURCE_DATE_EPOCH` (the reproducible-builds convention) when set, else the Unix
//! epoch, as in the generated apt repository's `Release` ([`timestamp`]). `bundle build
//! --sbom` carries the CycloneDX document in the bundle, under its signature.

pub mod cyclonedx;
pub mod purl;
pub mod spdx;

use crate::bundle::open::OpenBundle;
use crate::bundle::upstream::UpstreamError;
use crate::lock::Lockfile;
use std::path::PathBuf;

/// The environment variable the document time is taken from (seconds since 1970, UTC).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// Which document to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CycloneDX 1.5 JSON.
    CycloneDx,
    /// SPDX 2.3 JSON.
    Spdx,
}

#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// The bundle could not be opened, or its lockfile not read.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("{}: the bundle carries no lockfile, so there is no inventory to list (build it again with this outpost)", path.display())]
    NoLockfile { path: PathBuf },
    #[error("{SOURCE_DATE_EPOCH}={value}: not a whole number of seconds since 1970-01-01 UTC; unset it or give one (e.g. 1700000000)")]
    BadEpoch { value: String },
}

/// The CycloneDX 1.5 document of `lock` (a JSON object), at `timestamp` (RFC 3339 UTC,
/// `2024-01-01T00:00:00Z`). The function the site dashboard links.
pub fn cyclonedx(lock: &Lockfile, timestamp: &str) -> serde_json::Value {
    cyclonedx::document(lock, timestamp)
}

/// The SPDX 2.3 document of `lock`, at `timestamp` (RFC 3339 UTC).
pub fn spdx(lock: &Lockfile, timestamp: &str) -> serde_json::Value {
    spdx::document(lock, timestamp)
}

/// The document in `format`, as pretty JSON with a trailing newline.
pub fn render(lock: &Lockfile, format: Format, timestamp: &str) -> Vec<u8> {
    let value = match format {
        Format::CycloneDx => cyclonedx(lock, timestamp),
        Format::Spdx => spdx(lock, timestamp),
    };
    let mut bytes = serde_json::to_vec_pretty(&value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The document time from `SOURCE_DATE_EPOCH`'s value (`None`: unset, the epoch), as RFC 3339
/// UTC with seconds (`1970-01-01T00:00:00Z`).
///
/// Errors: [`SbomError::BadEpoch`] for a value that is not a whole number of seconds in range.
pub fn timestamp(source_date_epoch: Option<&str>) -> Result<String, SbomError> {
    let seconds = match source_date_epoch.map(str::trim) {
        None | Some("") => 0,
        Some(text) => text.parse::<i64>().map_err(|_| SbomError::BadEpoch {
            value: text.to_string(),
        })?,
    };
    let time = chrono::DateTime::from_timestamp(seconds, 0).ok_or_else(|| SbomError::BadEpoch {
        value: seconds.to_string(),
    })?;
    Ok(time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The time from this process's `SOURCE_DATE_EPOCH` ([`timestamp`]).
pub fn timestamp_from_env() -> Result<String, SbomError> {
    let value = std::env::var(SOURCE_DATE_EPOCH).ok();
    timestamp(value.as_deref())
}

/// A stable `urn:uuid:` (RFC 4122 form, version 5 bits) from the lockfile's canonical bytes:
/// the same lockfile always names the same document.
pub(crate) fn serial_number(lock: &Lockfile) -> String {
    let digest = crate::digest::Digest::of(&lock.to_bytes());
    let hex = digest.hex();
    let mut bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex::encode(bytes);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The lockfile an opened bundle (or stored release) carries, for a document.
///
/// Errors: [`SbomError::Upstream`] when it cannot be read, [`SbomError::NoLockfile`] when the
/// bundle carries none.
pub fn bundle_lockfile(bundle: &OpenBundle) -> Result<Lockfile, SbomError> {
    crate::bundle::upstream::carried_lockfile(bundle)?.ok_or_else(|| SbomError::NoLockfile {
        path: bundle.path.clone(),
    })
}

#[cfg(test)]
mod tests;
