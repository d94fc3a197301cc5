//! The packages a closure is chosen from: one architecture's (the target's and `noarch`),
//! indexed by what they provide (their own `name = evr`, their Provides, their files) and by
//! what they obsolete.

use super::dep::Dep;
use super::primary::Package;
use std::collections::HashMap;
use std::sync::Arc;

/// The packages of one architecture (target and `noarch`), indexed by what they provide.
pub struct Universe {
    pub(super) arch: String,
    pub(super) packages: Vec<Arc<Package>>,
    /// Provide name → (package, which provide: `None` for the package's own
    /// `name = EVR`, else its index in `provides`); the provides are read from the packages,
    /// not copied.
    provides: HashMap<String, Vec<(usize, Option<u32>)>>,
    files: HashMap<String, Vec<usize>>,
    obsoletes: HashMap<String, Vec<(usize, Dep)>>,
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
        let mut provides: HashMap<String, Vec<(usize, Option<u32>)>> = HashMap::new();
        let mut files: HashMap<String, Vec<usize>> = HashMap::new();
        let mut obsoletes: HashMap<String, Vec<(usize, Dep)>> = HashMap::new();
        for (i, p) in packages.iter().enumerate() {
            match provides.get_mut(&p.name) {
                Some(list) => list.push((i, None)),
                None => {
                    provides.insert(p.name.clone(), vec![(i, None)]);
                }
            }
            for (j, dep) in p.provides.iter().enumerate() {
                let which = Some(u32::try_from(j).unwrap_or(u32::MAX));
                match provides.get_mut(&dep.name) {
                    Some(list) => list.push((i, which)),
                    None => {
                        provides.insert(dep.name.clone(), vec![(i, which)]);
                    }
                }
            }
            for file in &p.files {
                files.entry(file.clone()).or_default().push(i);
            }
            for dep in &p.obsoletes {
                obsoletes
                    .entry(dep.name.clone())
                    .or_default()
                    .push((i, dep.clone()));
            }
        }
        for list in files.values_mut() {
            list.dedup();
        }
        Universe {
            arch: arch.to_string(),
            packages,
            provides,
            files,
            obsoletes,
        }
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
        let mut found: Vec<usize> = self
            .provides
            .get(&dep.name)
            .into_iter()
            .flatten()
            .filter(|(i, which)| {
                let package = &self.packages[*i];
                match which {
                    None => package.self_provide().satisfies(dep),
                    Some(j) => package
                        .provides
                        .get(*j as usize)
                        .is_some_and(|provide| provide.satisfies(dep)),
                }
            })
            .map(|(i, _)| *i)
            .collect();
        if dep.name.starts_with('/') {
            found.extend(self.files.get(&dep.name).into_iter().flatten().copied());
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Packages that obsolete package `index` (by its name and EVR, as rpm matches
    /// Obsoletes), other than ones of its own name.
    pub(super) fn obsoleters(&self, index: usize) -> Vec<usize> {
        let package = &self.packages[index];
        let own = package.self_provide();
        self.obsoletes
            .get(&package.name)
            .into_iter()
            .flatten()
            .filter(|(i, dep)| self.packages[*i].name != package.name && own.satisfies(dep))
            .map(|(i, _)| *i)
            .collect()
    }
}
