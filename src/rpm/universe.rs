//! The packages a closure is chosen from: one architecture's (the target's and `noarch`),
//! indexed by what they provide (their own `name = evr`, their Provides, their files) and by
//! what they obsolete.

use super::dep::{evr_satisfies, Dep};
use super::primary::Package;
use std::hash::BuildHasher;
use std::sync::Arc;

/// The packages of one architecture (target and `noarch`), indexed by what they provide.
pub struct Universe {
    pub(super) arch: String,
    pub(super) packages: Vec<Arc<Package>>,
    /// Hashes names for the indexes (`foldhash`, randomly seeded per universe, so metadata
    /// cannot choose collisions).
    hasher: foldhash::fast::RandomState,
    /// Provide name → (package, which provide: [`OWN`] for the package's own
    /// `name = EVR`, else its index in `provides`).
    provides: NameIndex,
    /// File path → (package, index in `files`).
    files: NameIndex,
    /// Obsoleted name → (package, index in `obsoletes`).
    obsoletes: NameIndex,
}

/// `which` of a package's own `name = EVR` in the provides index.
const OWN: u32 = u32::MAX;

/// An index from names to (package, item) pairs, keyed by a hash of the name: one sorted
/// vector for the whole index, no name copied. A lookup yields every pair whose name
/// hashes alike; the caller compares the names (the package holds them).
struct NameIndex(Vec<(u64, u32, u32)>);

impl NameIndex {
    fn new(mut entries: Vec<(u64, u32, u32)>) -> NameIndex {
        entries.sort_unstable();
        NameIndex(entries)
    }

    /// The (package, item) pairs under `hash`, by package then item.
    fn get(&self, hash: u64) -> impl Iterator<Item = (usize, u32)> + '_ {
        let start = self.0.partition_point(|e| e.0 < hash);
        self.0[start..]
            .iter()
            .take_while(move |e| e.0 == hash)
            .map(|e| (e.1 as usize, e.2))
    }
}

/// `i` as an index entry (no universe held in memory has `u32::MAX` packages or provides).
fn small(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl Universe {
    /// Keeps the packages of `arch` and `noarch` and indexes them.
    pub fn new(packages: Vec<Package>, arch: &str) -> Universe {
        Universe::shared(packages.into_iter().map(Arc::new).collect(), arch)
    }

    /// As [`Universe::new`], over packages shared with the repositories they were read from
    /// (each solve indexes them without copying a package).
    pub fn shared(packages: Vec<Arc<Package>>, arch: &str) -> Universe {
        let packages: Vec<Arc<Package>> = packages
            .into_iter()
            .filter(|p| p.arch == arch || p.arch == "noarch")
            .collect();
        let hasher = foldhash::fast::RandomState::default();
        let hash = |name: &str| hasher.hash_one(name);
        let mut provides = Vec::with_capacity(packages.len() * 3);
        let mut files = Vec::new();
        let mut obsoletes = Vec::new();
        for (i, p) in packages.iter().enumerate() {
            let i = small(i);
            provides.push((hash(&p.name), i, OWN));
            for (j, dep) in p.provides.iter().enumerate() {
                provides.push((hash(&dep.name), i, small(j)));
            }
            for (j, file) in p.files.iter().enumerate() {
                files.push((hash(file), i, small(j)));
            }
            for (j, dep) in p.obsoletes.iter().enumerate() {
                obsoletes.push((hash(&dep.name), i, small(j)));
            }
        }
        Universe {
            arch: arch.to_string(),
            packages,
            provides: NameIndex::new(provides),
            files: NameIndex::new(files),
            obsoletes: NameIndex::new(obsoletes),
            hasher,
        }
    }

    fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    pub fn package(&self, index: usize) -> &Package {
        &self.packages[index]
    }

    pub fn len(&self) -> usize {
        self.packages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// Packages providing `dep` (a file path matches the package's files).
    pub fn providers(&self, dep: &Dep) -> Vec<usize> {
        let hash = self.hash(&dep.name);
        let mut found: Vec<usize> = self
            .provides
            .get(hash)
            .filter(|&(i, which)| {
                let package = &self.packages[i];
                match which {
                    OWN => evr_satisfies(&package.name, &package.evr, dep),
                    j => package
                        .provides
                        .get(j as usize)
                        .is_some_and(|provide| provide.satisfies(dep)),
                }
            })
            .map(|(i, _)| i)
            .collect();
        if dep.name.starts_with('/') {
            found.extend(
                self.files
                    .get(hash)
                    .filter(|&(i, j)| {
                        self.packages[i]
                            .files
                            .get(j as usize)
                            .is_some_and(|file| *file == dep.name)
                    })
                    .map(|(i, _)| i),
            );
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Packages that obsolete package `index` (by its name and EVR, as rpm matches
    /// Obsoletes), other than ones of its own name.
    pub(super) fn obsoleters(&self, index: usize) -> Vec<usize> {
        let package = &self.packages[index];
        self.obsoletes
            .get(self.hash(&package.name))
            .filter(|&(i, j)| {
                let obsoleter = &self.packages[i];
                obsoleter.name != package.name
                    && obsoleter
                        .obsoletes
                        .get(j as usize)
                        .is_some_and(|dep| evr_satisfies(&package.name, &package.evr, dep))
            })
            .map(|(i, _)| i)
            .collect()
    }
}
