//! The dependency closure of requested packages over a package universe (one architecture
//! plus `all`), the way apt picks: Pre-Depends and Depends (Recommends when asked), the first
//! satisfiable alternative unless another is already chosen, the highest version of a real
//! package before providers of a virtual one, versioned Provides, and Conflicts/Breaks checked
//! across the chosen set. What every system has (Priority `required`, `Essential: yes`) is
//! assumed installed and not carried.

use super::relation::{parse_relations, Alternatives, Relation, RelationError};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

pub use super::universe::{MultiArch, Package, PackageError, Universe};

/// What to install: a name, optionally with a version constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub relation: Relation,
}

impl Request {
    /// `name`, `name=version` or `name (>= version)`.
    pub fn parse(text: &str) -> Result<Self, RelationError> {
        let normalized = match text.split_once('=') {
            Some((name, version)) if !text.contains('(') => {
                format!("{} (= {})", name.trim(), version.trim())
            }
            _ => text.to_string(),
        };
        let mut groups = parse_relations(&normalized)?;
        match (groups.len(), groups.first().map(Vec::len)) {
            (1, Some(1)) => Ok(Request {
                relation: groups.remove(0).remove(0),
            }),
            _ => Err(RelationError::Empty(text.to_string())),
        }
    }
}

/// A chosen package and why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub index: usize,
    /// `requested`, or `needed by <package>`.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClosureError {
    #[error("unknown package `{0}`: no package or virtual package of that name in the sources for this architecture")]
    Unknown(String),
    #[error("{}: no candidate", chain.join(" → "))]
    Unsatisfiable { chain: Vec<String> },
    #[error("{a} conflicts with {b} ({relation}); both are needed")]
    Conflict {
        a: String,
        b: String,
        relation: String,
    },
    /// A package could not be read back from its index (the message names the file).
    #[error("{0}")]
    Read(String),
}

/// Which packages every target system already has.
/// Only the highest version of each such package counts: older versions from other suites
/// (main beside updates/security) are not installed anywhere.
pub fn essential_set(universe: &Universe) -> Result<HashSet<usize>, ClosureError> {
    let mut newest: HashMap<&str, (usize, &Package)> = HashMap::new();
    for index in universe.everywhere() {
        let package = universe.package(index)?;
        if !(package.essential || package.priority == "required") {
            continue;
        }
        let keep = newest
            .get(package.name.as_str())
            .is_none_or(|(_, current)| current.version < package.version);
        if keep {
            newest.insert(&package.name, (index, package));
        }
    }
    Ok(newest.into_values().map(|(index, _)| index).collect())
}

/// The state of one closure run: what is chosen so far and what is left to satisfy.
struct Run<'a> {
    universe: &'a Universe,
    installed: &'a HashSet<usize>,
    recommends: bool,
    chosen: BTreeMap<usize, String>,
    chosen_names: HashMap<String, usize>,
    queue: VecDeque<(Alternatives, Vec<String>)>,
}

impl Run<'_> {
    /// Whether a package chosen or installed satisfies one of the group's alternatives.
    fn satisfied(&self, group: &Alternatives) -> Result<bool, ClosureError> {
        for relation in group {
            for index in self.chosen.keys().chain(self.installed.iter()) {
                if self.universe.satisfies(*index, relation)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn choose(&mut self, index: usize, why: String, chain: &[String]) -> Result<(), ClosureError> {
        if self.chosen.contains_key(&index) || self.installed.contains(&index) {
            return Ok(());
        }
        let package = self.universe.package(index)?;
        if let Some(other) = self.chosen_names.get(package.name.as_str()) {
            let mut failed = chain.to_vec();
            failed.push(format!(
                "{} (already chose {})",
                package.label(),
                self.universe.package(*other)?.label()
            ));
            return Err(ClosureError::Unsatisfiable { chain: failed });
        }
        self.chosen.insert(index, why);
        self.chosen_names.insert(package.name.clone(), index);
        let mut next_chain = chain.to_vec();
        next_chain.push(package.name.clone());
        let groups = package
            .pre_depends
            .iter()
            .chain(&package.depends)
            .chain(if self.recommends {
                package.recommends.iter()
            } else {
                [].iter()
            });
        for group in groups {
            self.queue.push_back((group.clone(), next_chain.clone()));
        }
        Ok(())
    }

    /// The first alternative with a candidate that does not clash with a package of the
    /// same name chosen earlier (apt moves on to the next alternative likewise).
    fn pick(&self, group: &Alternatives) -> Result<Option<usize>, ClosureError> {
        for relation in group {
            for candidate in self.universe.candidates(relation)? {
                let name = self.universe.package(candidate)?.name.as_str();
                if self
                    .chosen_names
                    .get(name)
                    .is_none_or(|chosen| *chosen == candidate)
                {
                    return Ok(Some(candidate));
                }
            }
        }
        Ok(None)
    }

    /// Conflicts and Breaks across everything that will be installed.
    fn check_conflicts(&self) -> Result<(), ClosureError> {
        let everything: Vec<usize> = self
            .chosen
            .keys()
            .chain(self.installed.iter())
            .copied()
            .collect();
        for index in self.chosen.keys() {
            let package = self.universe.package(*index)?;
            for relation in package.conflicts.iter().chain(&package.breaks).flatten() {
                for other in &everything {
                    let other_package = self.universe.package(*other)?;
                    if other == index || other_package.name == package.name {
                        continue;
                    }
                    if self.universe.satisfies(*other, relation)? {
                        return Err(ClosureError::Conflict {
                            a: package.label(),
                            b: other_package.label(),
                            relation: relation.to_string(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Resolves the closure of `requests`; `installed` are packages assumed present (they satisfy
/// dependencies but are not returned). Packages are read back from the universe's source as
/// the closure reaches them ([`ClosureError::Read`] when one cannot be).
pub fn closure(
    universe: &Universe,
    requests: &[Request],
    installed: &HashSet<usize>,
    recommends: bool,
) -> Result<Vec<Chosen>, ClosureError> {
    let mut run = Run {
        universe,
        installed,
        recommends,
        chosen: BTreeMap::new(),
        chosen_names: HashMap::new(),
        queue: VecDeque::new(),
    };

    for request in requests {
        if !universe.knows(&request.relation.name) {
            return Err(ClosureError::Unknown(request.relation.name.clone()));
        }
        let group = vec![request.relation.clone()];
        if run.satisfied(&group)? {
            continue;
        }
        let index = *universe
            .candidates(&request.relation)?
            .first()
            .ok_or_else(|| ClosureError::Unsatisfiable {
                chain: vec![request.relation.to_string()],
            })?;
        run.choose(index, "requested".to_string(), &[])?;
    }

    while let Some((group, chain)) = run.queue.pop_front() {
        if run.satisfied(&group)? {
            continue;
        }
        let needed_by = chain.last().cloned().unwrap_or_default();
        match run.pick(&group)? {
            Some(index) => run.choose(index, format!("needed by {needed_by}"), &chain)?,
            None => {
                let mut failed = chain.clone();
                failed.push(
                    group
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(" | "),
                );
                return Err(ClosureError::Unsatisfiable { chain: failed });
            }
        }
    }

    run.check_conflicts()?;
    let mut result = Vec::new();
    for (index, why) in run.chosen {
        result.push((
            universe.package(index)?.name.as_str(),
            Chosen { index, why },
        ));
    }
    result.sort_by_key(|(name, _)| *name);
    Ok(result.into_iter().map(|(_, chosen)| chosen).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::control::parse;

    const INDEX: &str = "\
Package: libc6
Version: 2.36-9
Architecture: amd64
Multi-Arch: same
Priority: optional

Package: base-files
Version: 12.4
Architecture: amd64
Essential: yes
Priority: required

Package: kubelet
Version: 1.31.2-1.1
Architecture: amd64
Pre-Depends: init-system-helpers (>= 1.18)
Depends: iptables (>= 1.4.21), libc6 (>= 2.34), conntrack, mail-transport-agent | exim4, ebtables | nftables

Package: init-system-helpers
Version: 1.65
Architecture: all

Package: iptables
Version: 1.8.9-2
Architecture: amd64
Depends: libxtables12 (= 1.8.9-2), libc6

Package: libxtables12
Version: 1.8.9-2
Architecture: amd64
Multi-Arch: same

Package: conntrack
Version: 1:1.4.7-1
Architecture: amd64
Depends: libc6, conntrack-helper

Package: conntrack-helper
Version: 1.0
Architecture: amd64
Depends: conntrack

Package: postfix
Version: 3.7.9
Architecture: amd64
Provides: mail-transport-agent
Conflicts: exim4

Package: exim4
Version: 4.96
Architecture: amd64
Provides: mail-transport-agent

Package: nftables
Version: 1.0.6
Architecture: amd64

Package: ebtables
Version: 2.0.11
Architecture: amd64
Provides: ebtables-api (= 2.0)

Package: needs-api
Version: 1
Architecture: amd64
Depends: ebtables-api (>= 2.0)

Package: needs-new-api
Version: 1
Architecture: amd64
Depends: ebtables-api (>= 3.0)

Package: broken
Version: 1
Architecture: amd64
Depends: iptables (>= 1.8), libmissing (= 9)

Package: libc6
Version: 2.36-9
Architecture: arm64
Multi-Arch: same
";

    fn universe() -> Universe {
        let packages = parse(INDEX)
            .unwrap()
            .iter()
            .map(|p| Package::from_paragraph(p.clone()).unwrap())
            .collect::<Vec<_>>();
        Universe::new(packages, "amd64")
    }

    fn names(u: &Universe, chosen: &[Chosen]) -> Vec<String> {
        chosen
            .iter()
            .map(|c| u.package(c.index).unwrap().name.clone())
            .collect()
    }

    fn run(u: &Universe, requests: &[&str]) -> Result<Vec<Chosen>, ClosureError> {
        let requests: Vec<Request> = requests
            .iter()
            .map(|r| Request::parse(r).unwrap())
            .collect();
        closure(u, &requests, &essential_set(u).unwrap(), false)
    }

    #[test]
    fn closure_follows_pre_depends_alternatives_virtuals_and_cycles() {
        let u = universe();
        let chosen = run(&u, &["kubelet"]).unwrap();
        assert_eq!(
            names(&u, &chosen),
            [
                "conntrack",
                "conntrack-helper",
                "ebtables",
                "exim4",
                "init-system-helpers",
                "iptables",
                "kubelet",
                "libc6",
                "libxtables12"
            ]
        );
        let why = |name: &str| {
            chosen
                .iter()
                .find(|c| u.package(c.index).unwrap().name == name)
                .unwrap()
                .why
                .clone()
        };
        assert_eq!(why("kubelet"), "requested");
        assert_eq!(why("libxtables12"), "needed by iptables");
        assert_eq!(
            why("exim4"),
            "needed by kubelet",
            "a provider of the virtual first alternative"
        );
        assert!(
            !names(&u, &chosen).contains(&"base-files".to_string()),
            "essential packages are assumed installed"
        );
    }

    #[test]
    fn an_alternative_already_chosen_is_preferred() {
        let u = universe();
        let chosen = run(&u, &["nftables", "kubelet"]).unwrap();
        let list = names(&u, &chosen);
        assert!(
            list.contains(&"nftables".to_string()) && !list.contains(&"ebtables".to_string()),
            "{list:?}"
        );
    }

    #[test]
    fn versioned_provides_and_unsatisfiable_chains() {
        let u = universe();
        assert!(names(&u, &run(&u, &["needs-api"]).unwrap()).contains(&"ebtables".to_string()));
        let err = run(&u, &["needs-new-api"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "needs-new-api → ebtables-api (>= 3.0): no candidate"
        );
        let err = run(&u, &["broken"]).unwrap_err();
        assert_eq!(err.to_string(), "broken → libmissing (= 9): no candidate");
        assert!(matches!(
            run(&u, &["nosuchpackage"]),
            Err(ClosureError::Unknown(_))
        ));
        assert_eq!(
            run(&u, &["iptables (>= 2.0)"]).unwrap_err().to_string(),
            "iptables (>= 2.0): no candidate"
        );
        assert!(run(&u, &["iptables=1.8.9-2"]).is_ok());
    }

    #[test]
    fn conflicts_are_checked_across_the_set() {
        let u = universe();
        let err = run(&u, &["exim4", "postfix"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "postfix 3.7.9 conflicts with exim4 4.96 (exim4); both are needed"
        );
    }

    #[test]
    fn other_architectures_are_not_candidates() {
        let packages = parse(INDEX)
            .unwrap()
            .iter()
            .map(|p| Package::from_paragraph(p.clone()).unwrap())
            .collect::<Vec<_>>();
        let arm = Universe::new(packages, "arm64");
        let chosen = run(&arm, &["libc6"]).unwrap();
        assert_eq!(arm.package(chosen[0].index).unwrap().architecture, "arm64");
        assert!(matches!(
            run(&arm, &["kubelet"]),
            Err(ClosureError::Unknown(_))
        ));
    }

    fn universe_of(text: &str) -> Universe {
        let packages = parse(text)
            .unwrap()
            .into_iter()
            .map(|p| Package::from_paragraph(p).unwrap())
            .collect::<Vec<_>>();
        Universe::new(packages, "amd64")
    }

    #[test]
    fn only_the_newest_required_version_counts_as_installed() {
        let u = universe_of(
            "Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nPriority: required\n\nPackage: libc6\nVersion: 2.36-9+deb12u10\nArchitecture: amd64\nPriority: required\n\nPackage: foo\nVersion: 1\nArchitecture: amd64\nBreaks: libc6 (<< 2.36-9+deb12u4)\n",
        );
        assert_eq!(essential_set(&u).unwrap().len(), 1);
        assert!(
            run(&u, &["foo"]).is_ok(),
            "an old libc6 from another suite is not installed"
        );
    }

    #[test]
    fn a_clashing_first_alternative_falls_back_to_the_next() {
        let u = universe_of(
            "Package: aa\nVersion: 1\nArchitecture: amd64\nDepends: libx (= 1)\n\nPackage: bb\nVersion: 1\nArchitecture: amd64\nDepends: libx (>= 2) | liby\n\nPackage: libx\nVersion: 1\nArchitecture: amd64\n\nPackage: libx\nVersion: 2\nArchitecture: amd64\n\nPackage: liby\nVersion: 1\nArchitecture: amd64\n",
        );
        let chosen = run(&u, &["aa", "bb"]).unwrap();
        assert_eq!(names(&u, &chosen), ["aa", "bb", "libx", "liby"]);
    }

    /// The Multi-Arch matrix apt 2.6 gives (`apt-get install --simulate`, one native
    /// architecture); `tests/it/apt_variants.rs` checks it against apt itself.
    #[test]
    fn architecture_qualifiers_follow_apt_multi_arch_rules() {
        let mut index = String::new();
        for (name, arch, fields) in [
            ("ma-allowed", "amd64", "Multi-Arch: allowed\n"),
            ("ma-none", "amd64", ""),
            ("ma-foreign", "amd64", "Multi-Arch: foreign\n"),
            ("ma-same", "amd64", "Multi-Arch: same\n"),
            ("all-allowed", "all", "Multi-Arch: allowed\n"),
            ("all-none", "all", ""),
            (
                "prov-allowed",
                "amd64",
                "Multi-Arch: allowed\nProvides: virt-a\n",
            ),
            ("prov-none", "amd64", "Provides: virt-n\n"),
            ("armonly", "arm64", ""),
        ] {
            index.push_str(&format!(
                "Package: {name}\nVersion: 1\nArchitecture: {arch}\n{fields}\n"
            ));
        }
        let u = universe_of(&index);
        let satisfiable = |relation: &str| run(&u, &[relation]).is_ok();
        for yes in [
            "ma-allowed:any",
            "all-allowed:any",
            "virt-a:any",
            "ma-none:native",
            "all-none:native",
            "virt-n:native",
            "ma-none:amd64",
            "all-none:amd64",
            "virt-n:amd64",
            "ma-foreign",
        ] {
            assert!(satisfiable(yes), "{yes} should be satisfiable");
        }
        for no in [
            "ma-none:any",
            "ma-foreign:any",
            "ma-same:any",
            "all-none:any",
            "virt-n:any",
            "ma-none:arm64",
            "armonly",
            "armonly:arm64",
        ] {
            assert!(!satisfiable(no), "{no} should not be satisfiable");
        }
    }
}
