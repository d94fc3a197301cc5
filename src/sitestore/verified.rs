//! The last `outpost store verify` of a store, kept in `DIR/last-verify.json` so that
//! `outpost store report` can tell HQ when the site last checked what it holds and whether
//! it held.

use super::{io, SiteError, SiteStore};
use crate::digest::Digest;
use serde::{Deserialize, Serialize};

const RECORD_FILE: &str = "last-verify.json";

/// One `store verify` run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRecord {
    /// When it ran, seconds since the Unix epoch.
    pub time: u64,
    /// Whether every release's signature and every blob held.
    pub ok: bool,
    /// What failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Fingerprint of the key the signatures were checked with (`sha256:<hex>`).
    pub key: String,
    /// The releases (index digests) the store held when it ran.
    pub releases: Vec<Digest>,
}

impl SiteStore {
    /// Records `record` as the store's last verification (replacing the previous one).
    pub fn record_verify(&self, record: &VerifyRecord) -> Result<(), SiteError> {
        let path = self.root.join(RECORD_FILE);
        let bytes = serde_json::to_vec_pretty(record).unwrap_or_default();
        crate::fsutil::write_atomic(&path, &bytes).map_err(io(&path))
    }

    /// The last verification recorded, if the store was ever verified.
    pub fn last_verify(&self) -> Result<Option<VerifyRecord>, SiteError> {
        let path = self.root.join(RECORD_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SiteError::BadRecord {
                path,
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_record_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = SiteStore::open(dir.path()).unwrap();
        assert_eq!(store.last_verify().unwrap(), None);
        let record = VerifyRecord {
            time: 1_700_000_000,
            ok: false,
            error: Some("blob damaged".into()),
            key: "sha256:00".into(),
            releases: vec![Digest::of(b"index")],
        };
        store.record_verify(&record).unwrap();
        assert_eq!(store.last_verify().unwrap(), Some(record));
        assert!(store.releases().unwrap().is_empty());
    }
}
