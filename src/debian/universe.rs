//! The package universe the closure runs over: binary packages read from a verified
//! `Packages` index (`Package::from_paragraph`), kept for one architecture plus `all`, and
//! which of them satisfy a relation (versions, versioned Provides, and apt's Multi-Arch rules
//! for `:any`, `:native` and architecture-qualified names). Pure; the solver is `closure`.

use super::control::Paragraph;
use super::relation::{parse_relations, Alternatives, Op, Relation, RelationError};
use super::version::{Version, VersionError};
use std::collections::HashMap;

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

/// Packages of one architecture (plus `all`), indexed by name and by what they provide.
pub struct Universe {
    /// The native architecture (`all` packages count as native, as apt treats them).
    arch: String,
    packages: Vec<Package>,
    by_name: HashMap<String, Vec<usize>>,
    providers: HashMap<String, Vec<usize>>,
}

impl Universe {
    /// Keeps the packages of `arch` and `all`.
    pub fn new(packages: impl IntoIterator<Item = Package>, arch: &str) -> Self {
        let packages: Vec<Package> = packages
            .into_iter()
            .filter(|p| p.architecture == arch || p.architecture == "all")
            .collect();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut providers: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, package) in packages.iter().enumerate() {
            by_name.entry(package.name.clone()).or_default().push(index);
            for provided in &package.provides {
                providers
                    .entry(provided.name.clone())
                    .or_default()
                    .push(index);
            }
        }
        Universe {
            arch: arch.to_string(),
            packages,
            by_name,
            providers,
        }
    }

    /// Every package kept, by index.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    pub fn package(&self, index: usize) -> &Package {
        &self.packages[index]
    }

    pub fn knows(&self, name: &str) -> bool {
        self.by_name.contains_key(name) || self.providers.contains_key(name)
    }

    /// Whether package `index` may satisfy a relation with `relation`'s architecture
    /// qualifier, by apt's Multi-Arch rules for one native architecture: no qualifier takes
    /// any package here (native or `all`); `:any` only a `Multi-Arch: allowed` one (its own
    /// name or what it provides; `foreign`, `same` and no field do not count); `:native` and
    /// `:<native arch>` a native or `all` one; another architecture's name nothing, since a
    /// node of this architecture installs none of its packages.
    pub(super) fn arch_qualifier_holds(&self, index: usize, relation: &Relation) -> bool {
        let package = &self.packages[index];
        match relation.arch.as_deref() {
            None => true,
            Some("any") => package.multi_arch == MultiArch::Allowed,
            Some("native") => true,
            Some(arch) => arch == self.arch,
        }
    }

    /// Whether package `index` satisfies `relation` (by name or through a Provides).
    pub(super) fn satisfies(&self, index: usize, relation: &Relation) -> bool {
        let package = &self.packages[index];
        if !self.arch_qualifier_holds(index, relation) {
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

    /// The packages that could satisfy `relation`: real ones (highest version first), then
    /// providers (higher priority first, then by name).
    pub(super) fn candidates(&self, relation: &Relation) -> Vec<usize> {
        let mut real: Vec<usize> = self
            .by_name
            .get(&relation.name)
            .map(|list| {
                list.iter()
                    .copied()
                    .filter(|i| self.satisfies(*i, relation))
                    .collect()
            })
            .unwrap_or_default();
        real.sort_by(|a, b| self.packages[*b].version.cmp(&self.packages[*a].version));
        let mut providers: Vec<usize> = self
            .providers
            .get(&relation.name)
            .map(|list| {
                list.iter()
                    .copied()
                    .filter(|i| self.satisfies(*i, relation) && !real.contains(i))
                    .collect()
            })
            .unwrap_or_default();
        let rank = |priority: &str| match priority {
            "required" => 0,
            "important" => 1,
            "standard" => 2,
            "optional" => 3,
            _ => 4,
        };
        providers.sort_by(|a, b| {
            let (pa, pb) = (&self.packages[*a], &self.packages[*b]);
            rank(&pa.priority)
                .cmp(&rank(&pb.priority))
                .then_with(|| pa.name.cmp(&pb.name))
                .then_with(|| pb.version.cmp(&pa.version))
        });
        real.extend(providers);
        real
    }
}
