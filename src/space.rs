//! Space checks before work starts: what a step will write where, against the free space
//! of each filesystem, so a build or a load that would not fit stops before downloading or
//! writing anything, naming the space needed and free at each place.
//!
//! Needs on one filesystem (the cache and `--out` on the same disk) add up; [`shortfalls`]
//! is the pure part, [`check`] measures with [`crate::fsutil::free_space`].

use crate::fsutil::{free_space, FreeSpace};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One place a step writes to, what it will write there, and what is free.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Place {
    /// What is written there (`bundle`, `cache`, `store`).
    pub what: String,
    pub path: PathBuf,
    /// Bytes this step writes here.
    pub needed: u64,
    /// Bytes free on its filesystem.
    pub free: u64,
    /// Bytes all places on the same filesystem need together (`needed` when alone).
    pub needed_on_filesystem: u64,
    #[serde(skip)]
    pub device: u64,
}

impl Place {
    pub fn fits(&self) -> bool {
        self.needed_on_filesystem <= self.free
    }
}

/// Fills in `needed_on_filesystem` of each place: the sum over the places of its device.
pub fn shortfalls(places: &mut [Place]) -> Vec<Place> {
    let totals: Vec<u64> = places
        .iter()
        .map(|p| {
            places
                .iter()
                .filter(|q| q.device == p.device)
                .map(|q| q.needed)
                .sum()
        })
        .collect();
    for (place, total) in places.iter_mut().zip(totals) {
        place.needed_on_filesystem = total;
    }
    places.iter().filter(|p| !p.fits()).cloned().collect()
}

/// Measures each `(what, path, bytes needed)` and returns the places, sums per filesystem
/// filled in.
///
/// Errors: [`SpaceError::Measure`] when a filesystem cannot be measured.
pub fn measure(needs: &[(&str, &Path, u64)]) -> Result<Vec<Place>, SpaceError> {
    let mut places = Vec::with_capacity(needs.len());
    for (what, path, needed) in needs {
        let FreeSpace { available, device } =
            free_space(path).map_err(|source| SpaceError::Measure {
                path: path.to_path_buf(),
                source,
            })?;
        places.push(Place {
            what: what.to_string(),
            path: path.to_path_buf(),
            needed: *needed,
            free: available,
            needed_on_filesystem: *needed,
            device,
        });
    }
    shortfalls(&mut places);
    Ok(places)
}

/// [`measure`], then fails naming every place that does not fit.
///
/// Errors: [`SpaceError::NoSpace`], [`SpaceError::Measure`].
pub fn check(needs: &[(&str, &Path, u64)]) -> Result<Vec<Place>, SpaceError> {
    let mut places = measure(needs)?;
    let short = shortfalls(&mut places);
    if short.is_empty() {
        Ok(places)
    } else {
        Err(SpaceError::NoSpace(short))
    }
}

/// `12.3 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn describe(places: &[Place]) -> String {
    places
        .iter()
        .map(|p| {
            let shared = if p.needed_on_filesystem > p.needed {
                format!(
                    " ({} with the others on the same filesystem)",
                    mib(p.needed_on_filesystem)
                )
            } else {
                String::new()
            };
            format!(
                "{} at {} needs {}{shared}, {} free",
                p.what,
                p.path.display(),
                mib(p.needed),
                mib(p.free)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error("not enough space, nothing was downloaded or written: {}; free space or choose another place", describe(.0))]
    NoSpace(Vec<Place>),
    #[error("cannot measure the free space at {path}: {source}")]
    Measure {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(what: &str, device: u64, needed: u64, free: u64) -> Place {
        Place {
            what: what.into(),
            path: PathBuf::from(what),
            needed,
            free,
            needed_on_filesystem: needed,
            device,
        }
    }

    #[test]
    fn needs_on_one_filesystem_add_up() {
        let mut places = vec![place("bundle", 1, 60, 100), place("cache", 1, 50, 100)];
        let short = shortfalls(&mut places);
        assert_eq!(short.len(), 2);
        assert_eq!(places[0].needed_on_filesystem, 110);
        let mut apart = vec![place("bundle", 1, 60, 100), place("cache", 2, 50, 100)];
        assert!(shortfalls(&mut apart).is_empty());
        let mut one = vec![place("bundle", 1, 101, 100), place("cache", 2, 0, 0)];
        let short = shortfalls(&mut one);
        assert_eq!(short.len(), 1);
        let message = SpaceError::NoSpace(short).to_string();
        assert!(
            message.contains("bundle at bundle needs 0.0 MiB, 0.0 MiB free"),
            "{message}"
        );
    }

    #[test]
    fn free_space_is_measured_where_a_path_will_be() {
        let dir = tempfile::tempdir().unwrap();
        let here = free_space(dir.path()).unwrap();
        let later = free_space(&dir.path().join("a/b/c")).unwrap();
        assert_eq!(here.device, later.device);
        assert!(here.available > 0);
    }
}
