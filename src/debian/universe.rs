//! The package universe the closure runs over: binary packages read from a verified
//! `Packages` index (`Package::from_paragraph`), kept for one architecture plus `all`, and
//! which of them satisfy a relation (versions, versioned Provides, and apt's Multi-Arch rules
//! for `:any`, `:native` and architecture-qualified names). Pure; the solver is `closure`.
//!
//! A universe over real indexes (~60,000 packages) holds only a compact index: each package's
//! [`Location`] in its index text, name → packages and provided name → providers. A package
//! is read back and parsed (through a [`PackageSource`]) the first time the closure looks at
//! it, and kept from then on; the closure of a node's packages looks at a few hundred.

use super::closure::ClosureError;
use super::control::Paragraph;
use super::index::Location;
use super::relation::{parse_relations, Alternatives, Op, Relation, RelationError};
use super::version::{Version, VersionError};
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiArch {
    No,
    Same,
    Foreign,
    Allowed,
}

/// One binary package from a Packages index.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: Version,
    pub architecture: String,
    pub multi_arch: MultiArch,
    pub pre_depends: Vec<Alternatives>,
    pub depends: Vec<Alternatives>,
    pub recommends: Vec<Alternatives>,
    pub provides: Vec<Relation>,
    pub conflicts: Vec<Alternatives>,
    pub breaks: Vec<Alternatives>,
    pub essential: bool,
    pub priority: String,
    /// Every field as the index had it (Filename, SHA256, Size, …).
    pub fields: Paragraph,
    /// Where the package comes from (archive URI), set by whoever read the index.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("paragraph at line {0}: no `{1}` field")]
    Missing(usize, &'static str),
    #[error("package {0}: {1}")]
    Relation(String, RelationError),
    #[error("package {0}: {1}")]
    Version(String, VersionError),
}

impl Package {
    pub fn from_paragraph(paragraph: Paragraph) -> Result<Self, PackageError> {
        let get = |field: &'static str| {
            paragraph
                .get(field)
                .ok_or(PackageError::Missing(paragraph.line, field))
        };
        let name = get("Package")?.to_string();
        let version =
            Version::parse(get("Version")?).map_err(|e| PackageError::Version(name.clone(), e))?;
        let relations = |field: &str| -> Result<Vec<Alternatives>, PackageError> {
            paragraph
                .get(field)
                .map(parse_relations)
                .transpose()
                .map(Option::unwrap_or_default)
                .map_err(|e| PackageError::Relation(name.clone(), e))
        };
        let provides = relations("Provides")?.into_iter().flatten().collect();
        Ok(Package {
            architecture: get("Architecture")?.to_string(),
            multi_arch: match paragraph.get("Multi-Arch").unwrap_or("no") {
                "same" => MultiArch::Same,
                "foreign" => MultiArch::Foreign,
                "allowed" => MultiArch::Allowed,
                _ => MultiArch::No,
            },
            pre_depends: relations("Pre-Depends")?,
            depends: relations("Depends")?,
            recommends: relations("Recommends")?,
            provides,
            conflicts: relations("Conflicts")?,
            breaks: relations("Breaks")?,
            essential: paragraph.get("Essential") == Some("yes"),
            priority: paragraph.get("Priority").unwrap_or("optional").to_string(),
            origin: String::new(),
            name,
            version,
            fields: paragraph,
        })
    }

    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }
}

/// Reads a package back from where its index text was located (the reader's I/O).
pub trait PackageSource: Send + Sync {
    /// The package whose paragraph is at `location`, parsed as it was when indexed; an error
    /// is a message naming the file and line.
    fn load(&self, location: &Location) -> Result<Package, String>;
}

/// What a universe keeps of a package it has not read back yet.
#[derive(Debug, Clone, Copy)]
struct Entry {
    location: Location,
    /// `Essential: yes` or `Priority: required` (a candidate for [`essential_set`]).
    ///
    /// [`essential_set`]: super::closure::essential_set
    everywhere: bool,
}

/// Packages of one architecture (plus `all`), indexed by name and by what they provide.
pub struct Universe {
    /// The native architecture (`all` packages count as native, as apt treats them).
    arch: String,
    entries: Vec<Entry>,
    /// Packages read back so far, by index.
    loaded: Vec<OnceLock<Box<Package>>>,
    source: Option<Box<dyn PackageSource>>,
    by_name: HashMap<String, Vec<u32>>,
    providers: HashMap<String, Vec<u32>>,
}

/// Builds a [`Universe`] one package at a time, keeping only its index entry.
pub struct UniverseBuilder {
    universe: Universe,
}

impl UniverseBuilder {
    /// A builder keeping the packages of `arch` and `all`.
    pub fn new(arch: &str) -> Self {
        UniverseBuilder {
            universe: Universe {
                arch: arch.to_string(),
                entries: Vec::new(),
                loaded: Vec::new(),
                source: None,
                by_name: HashMap::new(),
                providers: HashMap::new(),
            },
        }
    }

    /// Adds `package`, read from `location`, if it is of the architecture or `all`: its
    /// name, what it provides and whether every system has it are indexed; the package
    /// itself is dropped (the source reads it back). Returns its index, if kept.
    pub fn add(&mut self, package: &Package, location: Location) -> Option<usize> {
        self.universe.insert(package, location)
    }

    /// How many packages are kept so far (a mark for [`UniverseBuilder::truncate`]).
    pub fn len(&self) -> usize {
        self.universe.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.universe.entries.is_empty()
    }

    /// Forgets every package added after the first `len` (a source that failed halfway).
    pub fn truncate(&mut self, len: usize) {
        let universe = &mut self.universe;
        if len >= universe.entries.len() {
            return;
        }
        universe.entries.truncate(len);
        universe.loaded.truncate(len);
        for map in [&mut universe.by_name, &mut universe.providers] {
            map.retain(|_, list| {
                list.retain(|index| (*index as usize) < len);
                !list.is_empty()
            });
        }
    }

    /// The universe, reading packages back through `source`.
    pub fn build(mut self, source: Box<dyn PackageSource>) -> Universe {
        let universe = &mut self.universe;
        universe.source = Some(source);
        universe.entries.shrink_to_fit();
        universe.loaded.shrink_to_fit();
        universe.by_name.shrink_to_fit();
        universe.providers.shrink_to_fit();
        self.universe
    }
}

impl Universe {
    /// Keeps the packages of `arch` and `all`, all held in memory (small universes, tests).
    pub fn new(packages: impl IntoIterator<Item = Package>, arch: &str) -> Self {
        let mut universe = UniverseBuilder::new(arch).universe;
        for package in packages {
            if let Some(index) = universe.insert(&package, Location::default()) {
                let _ = universe.loaded[index].set(Box::new(package));
            }
        }
        universe
    }

    fn insert(&mut self, package: &Package, location: Location) -> Option<usize> {
        if !(package.architecture == self.arch || package.architecture == "all") {
            return None;
        }
        let index = self.entries.len();
        let number = u32::try_from(index).ok()?;
        self.entries.push(Entry {
            location,
            everywhere: package.essential || package.priority == "required",
        });
        self.loaded.push(OnceLock::new());
        match self.by_name.get_mut(&package.name) {
            Some(list) => list.push(number),
            None => {
                self.by_name.insert(package.name.clone(), vec![number]);
            }
        }
        for provided in &package.provides {
            match self.providers.get_mut(&provided.name) {
                Some(list) => list.push(number),
                None => {
                    self.providers.insert(provided.name.clone(), vec![number]);
                }
            }
        }
        Some(index)
    }

    /// How many packages are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The indexes of the packages marked `Essential: yes` or `Priority: required`.
    pub(super) fn everywhere(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.everywhere)
            .map(|(index, _)| index)
    }

    /// Package `index` (an index this universe handed out), read back on first use.
    /// Errors: the source could not read or parse it ([`ClosureError::Read`]).
    pub fn package(&self, index: usize) -> Result<&Package, ClosureError> {
        let unknown = || ClosureError::Read(format!("no package number {index} in the universe"));
        let cell = self.loaded.get(index).ok_or_else(unknown)?;
        if let Some(package) = cell.get() {
            return Ok(package);
        }
        let (entry, source) = match (self.entries.get(index), &self.source) {
            (Some(entry), Some(source)) => (entry, source),
            _ => return Err(unknown()),
        };
        let package = source.load(&entry.location).map_err(ClosureError::Read)?;
        Ok(cell.get_or_init(|| Box::new(package)))
    }

    pub fn knows(&self, name: &str) -> bool {
        self.by_name.contains_key(name) || self.providers.contains_key(name)
    }

    /// Whether `package` may satisfy a relation with `relation`'s architecture
    /// qualifier, by apt's Multi-Arch rules for one native architecture: no qualifier takes
    /// any package here (native or `all`); `:any` only a `Multi-Arch: allowed` one (its own
    /// name or what it provides; `foreign`, `same` and no field do not count); `:native` and
    /// `:<native arch>` a native or `all` one; another architecture's name nothing, since a
    /// node of this architecture installs none of its packages.
    fn arch_qualifier_holds(&self, package: &Package, relation: &Relation) -> bool {
        match relation.arch.as_deref() {
            None => true,
            Some("any") => package.multi_arch == MultiArch::Allowed,
            Some("native") => true,
            Some(arch) => arch == self.arch,
        }
    }

    /// Whether package `index` satisfies `relation` (by name or through a Provides).
    pub(super) fn satisfies(
        &self,
        index: usize,
        relation: &Relation,
    ) -> Result<bool, ClosureError> {
        Ok(self.package_satisfies(self.package(index)?, relation))
    }

    fn package_satisfies(&self, package: &Package, relation: &Relation) -> bool {
        if !self.arch_qualifier_holds(package, relation) {
            return false;
        }
        if package.name == relation.name && relation.accepts(Some(&package.version)) {
            return true;
        }
        package.provides.iter().any(|provided| {
            provided.name == relation.name
                && relation.accepts(
                    provided
                        .constraint
                        .as_ref()
                        .filter(|(op, _)| *op == Op::Eq)
                        .map(|(_, v)| v),
                )
        })
    }

    /// The packages listed under `name` in `map` that satisfy `relation`, read back.
    fn matching<'a>(
        &'a self,
        map: &HashMap<String, Vec<u32>>,
        relation: &Relation,
    ) -> Result<Vec<(usize, &'a Package)>, ClosureError> {
        let mut found = Vec::new();
        for index in map.get(&relation.name).into_iter().flatten() {
            let index = *index as usize;
            let package = self.package(index)?;
            if self.package_satisfies(package, relation) {
                found.push((index, package));
            }
        }
        Ok(found)
    }

    /// The packages that could satisfy `relation`: real ones (highest version first), then
    /// providers (higher priority first, then by name).
    pub(super) fn candidates(&self, relation: &Relation) -> Result<Vec<usize>, ClosureError> {
        let mut real = self.matching(&self.by_name, relation)?;
        real.sort_by(|(_, a), (_, b)| b.version.cmp(&a.version));
        let mut providers: Vec<(usize, &Package)> = self
            .matching(&self.providers, relation)?
            .into_iter()
            .filter(|(i, _)| !real.iter().any(|(r, _)| r == i))
            .collect();
        let rank = |priority: &str| match priority {
            "required" => 0,
            "important" => 1,
            "standard" => 2,
            "optional" => 3,
            _ => 4,
        };
        providers.sort_by(|(_, pa), (_, pb)| {
            rank(&pa.priority)
                .cmp(&rank(&pb.priority))
                .then_with(|| pa.name.cmp(&pb.name))
                .then_with(|| pb.version.cmp(&pa.version))
        });
        Ok(real.into_iter().chain(providers).map(|(i, _)| i).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::closure::{closure, essential_set, Request};
    use crate::debian::control::{parse, parse_each_from, ControlError, Keep};
    use crate::debian::index::locate_all;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const TEXT: &str = "\
Package: base-files
Version: 12.4
Architecture: amd64
Essential: yes
Description: base
 long text the universe never holds

Package: libc6
Version: 2.36-9
Architecture: amd64
Multi-Arch: same

Package: libc6
Version: 2.36-9+deb12u10
Architecture: amd64
Multi-Arch: same

Package: tool
Version: 1
Architecture: amd64
Depends: libc6 (>= 2.36), mta

Package: postfix
Version: 3.7
Architecture: amd64
Provides: mta

Package: exim4
Version: 4.96
Architecture: amd64
Provides: mta
Priority: important

Package: armonly
Version: 1
Architecture: arm64

Package: unrelated
Version: 1
Architecture: all
Depends: libc6
";

    /// The index text in memory, counting the packages read back.
    struct Memory {
        text: &'static str,
        loads: AtomicUsize,
    }

    impl PackageSource for Arc<Memory> {
        fn load(&self, at: &Location) -> Result<Package, String> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            let bytes = &self.text.as_bytes()[at.offset as usize..][..at.len as usize];
            let text = String::from_utf8_lossy(bytes);
            let mut found = None;
            parse_each_from(
                &text,
                at.line as usize,
                |_| Keep::Whole,
                |p| {
                    found = Some(p);
                    Ok::<(), ControlError>(())
                },
            )
            .map_err(|e| e.to_string())?;
            let paragraph = found.ok_or("no paragraph")?;
            Package::from_paragraph(paragraph).map_err(|e| e.to_string())
        }
    }

    fn lazy(source: &Arc<Memory>) -> Universe {
        let mut builder = UniverseBuilder::new("amd64");
        locate_all(source.text.as_bytes(), 0, 1 << 16, |at, bytes| {
            let text = String::from_utf8_lossy(bytes);
            parse_each_from(
                &text,
                at.line as usize,
                |_| Keep::Whole,
                |p| {
                    builder.add(&Package::from_paragraph(p).unwrap(), at);
                    Ok::<(), ControlError>(())
                },
            )
        })
        .unwrap();
        builder.build(Box::new(Arc::clone(source)))
    }

    fn names(u: &Universe, request: &str) -> Vec<(String, String, String)> {
        let installed = essential_set(u).unwrap();
        closure(u, &[Request::parse(request).unwrap()], &installed, false)
            .unwrap()
            .into_iter()
            .map(|c| {
                let p = u.package(c.index).unwrap();
                (p.name.clone(), p.version.to_string(), c.why)
            })
            .collect()
    }

    #[test]
    fn a_lazy_universe_resolves_as_one_held_in_memory_reading_back_only_what_it_visits() {
        let memory = Arc::new(Memory {
            text: TEXT,
            loads: AtomicUsize::new(0),
        });
        let held = Universe::new(
            parse(TEXT)
                .unwrap()
                .into_iter()
                .map(|p| Package::from_paragraph(p).unwrap()),
            "amd64",
        );
        let lazy = lazy(&memory);
        assert_eq!(lazy.len(), held.len());
        assert_eq!(
            memory.loads.load(Ordering::SeqCst),
            0,
            "nothing read while indexing"
        );
        assert_eq!(names(&lazy, "tool"), names(&held, "tool"));
        assert_eq!(
            names(&lazy, "tool"),
            [
                ("exim4".into(), "4.96".into(), "needed by tool".into()),
                (
                    "libc6".into(),
                    "2.36-9+deb12u10".into(),
                    "needed by tool".into()
                ),
                ("tool".into(), "1".into(), "requested".into()),
            ]
        );
        // base-files (essential), tool, both libc6, both mta providers: not `unrelated`.
        assert_eq!(memory.loads.load(Ordering::SeqCst), 6);
        assert!(!lazy.knows("armonly") && lazy.knows("mta"));
    }

    #[test]
    fn truncating_a_builder_forgets_a_failed_source() {
        let mut builder = UniverseBuilder::new("amd64");
        let package = |text: &str| Package::from_paragraph(parse(text).unwrap().remove(0)).unwrap();
        builder.add(
            &package("Package: aa\nVersion: 1\nArchitecture: amd64\n"),
            Location::default(),
        );
        let mark = builder.len();
        builder.add(
            &package("Package: aa\nVersion: 2\nArchitecture: all\nProvides: vv\n"),
            Location::default(),
        );
        builder.add(
            &package("Package: bb\nVersion: 1\nArchitecture: amd64\n"),
            Location::default(),
        );
        assert_eq!(builder.len(), 3);
        builder.truncate(mark);
        let u = builder.build(Box::new(Arc::new(Memory {
            text: "",
            loads: AtomicUsize::new(0),
        })));
        assert_eq!(u.len(), 1);
        assert!(u.knows("aa") && !u.knows("bb") && !u.knows("vv"));
    }
}
