//! What the site dashboard shows of one release, computed once per catalog load (start or
//! SIGHUP reload) from the opened bundle and the lockfile it carries, so that a request only
//! filters and pages rows already built. Also the pure paging and filtering rules.

use super::lock_rows::LockRows;
use crate::bundle::open::OpenBundle;
use crate::digest::Digest;
use crate::sitestore::StoredRelease;

/// Rows per page of every list (`?page=N`).
pub const PAGE_SIZE: usize = 100;

/// One image of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub reference: String,
    pub digest: String,
    /// Platforms carried (`linux/amd64`), or the artifact type for a platform-less artifact.
    pub platforms: String,
    /// Bytes of the manifest or index (the lockfile's `size`), or `None` without a lockfile.
    pub size: Option<u64>,
    /// Upstream signers that held at lock, joined; empty when none is carried.
    pub signer: String,
}

/// One Helm chart of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartRow {
    pub name: String,
    pub version: String,
    pub description: String,
    pub sha256: String,
}

/// One file of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// Mirror path (`/files/<path>`).
    pub path: String,
    /// Where it was fetched from (empty without a lockfile).
    pub url: String,
    pub sha256: String,
    pub size: u64,
}

/// One Debian or RPM package of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRow {
    pub name: String,
    pub version: String,
    pub arch: String,
}

/// One release as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseView {
    pub name: String,
    pub version: String,
    pub index: String,
    /// Fingerprint of the key the release's signature was checked with (the store's record)
    /// or that the bundle names.
    pub signer: String,
    /// Load time (store) or the bundle file's modification time, seconds since the epoch.
    pub loaded: Option<u64>,
    /// The base release's index digest, for a delta.
    pub base: Option<String>,
    /// Whether the release's signature was checked when it was opened.
    pub verified: bool,
    /// Why the carried lockfile could not be read (lists then come from the index only).
    pub lock_error: Option<String>,
    pub images: Vec<ImageRow>,
    pub charts: Vec<ChartRow>,
    pub files: Vec<FileRow>,
    pub packages: Vec<PackageRow>,
    /// Whether the release carries a readable lockfile (its SBOM, `…/sbom.cdx.json`, is
    /// rendered from it on request, read again from the bundle: a lockfile of thousands of
    /// images held for a rare request would cost the server megabytes).
    pub carries_lock: bool,
}

impl ReleaseView {
    /// The view of `bundle`, with `stored` (its store record, when served from a store),
    /// `mtime` (the bundle file's modification time, seconds since the epoch) and the
    /// dashboard's view of the lockfile it carries (`Err` holds why it could not be read;
    /// without one, images and files come from the index). Pure.
    pub fn build(
        bundle: &OpenBundle,
        stored: Option<&StoredRelease>,
        mtime: Option<u64>,
        lock: Result<Option<LockRows>, String>,
    ) -> ReleaseView {
        let (lock, lock_error) = match lock {
            Ok(lock) => (lock, None),
            Err(error) => (None, Some(error)),
        };
        let carries_lock = lock.is_some();
        let (images, files, charts, packages) = match lock {
            Some(lock) => lock.into_rows(),
            None => (
                bundle
                    .images
                    .iter()
                    .filter(|i| i.subject.is_none())
                    .map(|i| ImageRow {
                        reference: i.reference.clone(),
                        digest: i.digest.to_string(),
                        platforms: String::new(),
                        size: None,
                        signer: String::new(),
                    })
                    .collect(),
                bundle
                    .files
                    .iter()
                    .map(|f| FileRow {
                        path: f.path.clone(),
                        url: String::new(),
                        sha256: f.digest.to_string(),
                        size: f.size,
                    })
                    .collect(),
                Vec::new(),
                Vec::new(),
            ),
        };
        ReleaseView {
            name: bundle.head.release.name.clone(),
            version: bundle.head.release.version.clone(),
            index: bundle.index_digest.to_string(),
            signer: stored
                .map(|s| s.signer.clone())
                .unwrap_or_else(|| bundle.head.signer.clone()),
            loaded: stored.map(|s| s.loaded).or(mtime),
            base: stored
                .and_then(|s| s.base.as_ref())
                .or(bundle.head.delta.as_ref().map(|d| &d.base))
                .map(Digest::to_string),
            verified: bundle.verified,
            lock_error,
            images,
            charts,
            files,
            packages,
            carries_lock,
        }
    }
}

/// One page of a filtered list: the rows, and where it sits.
#[derive(Debug, PartialEq, Eq)]
pub struct Page<'a, T> {
    pub rows: Vec<&'a T>,
    /// 1-based page number shown (clamped to the last page).
    pub number: usize,
    pub pages: usize,
    /// Rows that match the filter, over every page.
    pub matching: usize,
}

/// Rows of `rows` whose `key` contains `query` (case-insensitive; every row when empty),
/// page `page` (1-based, clamped) of [`PAGE_SIZE`]. Work is one pass over `rows` comparing
/// keys; only the page's rows are rendered.
pub fn page<'a, T>(
    rows: &'a [T],
    query: &str,
    page: usize,
    key: impl Fn(&T) -> &str,
) -> Page<'a, T> {
    let needle = query.trim().to_lowercase();
    let matching: Vec<&T> = if needle.is_empty() {
        rows.iter().collect()
    } else {
        rows.iter()
            .filter(|row| contains_ignoring_case(key(row), &needle))
            .collect()
    };
    let pages = matching.len().div_ceil(PAGE_SIZE).max(1);
    let number = page.clamp(1, pages);
    let total = matching.len();
    let rows = matching
        .into_iter()
        .skip((number - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    Page {
        rows,
        number,
        pages,
        matching: total,
    }
}

fn contains_ignoring_case(haystack: &str, lower_needle: &str) -> bool {
    if haystack.is_ascii() && lower_needle.is_ascii() {
        haystack
            .as_bytes()
            .windows(lower_needle.len())
            .any(|w| w.eq_ignore_ascii_case(lower_needle.as_bytes()))
    } else {
        haystack.to_lowercase().contains(lower_needle)
    }
}

/// `bytes` as a short human figure (`1.5 MiB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_time(seconds: u64) -> String {
    chrono::DateTime::from_timestamp(seconds as i64, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("registry.test/app{i}:1")).collect()
    }

    #[test]
    fn pages_of_a_hundred_clamped() {
        let rows = names(250);
        let first = page(&rows, "", 1, String::as_str);
        assert_eq!(
            (first.rows.len(), first.pages, first.matching),
            (100, 3, 250)
        );
        let last = page(&rows, "", 9, String::as_str);
        assert_eq!((last.number, last.rows.len()), (3, 50));
        assert_eq!(page(&rows, "", 0, String::as_str).number, 1);
        let empty: Vec<String> = Vec::new();
        let none = page(&empty, "x", 1, String::as_str);
        assert_eq!((none.number, none.pages, none.rows.len()), (1, 1, 0));
    }

    #[test]
    fn filter_is_a_case_insensitive_substring() {
        let rows = names(250);
        let found = page(&rows, "APP24", 1, String::as_str);
        assert_eq!(found.matching, 11); // app24, app240..app249
        assert!(found.rows.iter().all(|r| r.contains("app24")));
        assert_eq!(page(&rows, "  ", 1, String::as_str).matching, 250);
        let unicode = vec!["Ünïcode".to_string()];
        assert_eq!(page(&unicode, "ünï", 1, String::as_str).matching, 1);
    }

    #[test]
    fn figures() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
    }
}
