//! The set of packages dnf would install for a request into an empty root, with why each
//! is there. Pure: the input is the repositories' packages for one architecture.
//!
//! What it follows (libsolv's rules as dnf uses them, `src/policy.c` and `src/rules.c`):
//! - Requires (simple, file and rich), Provides (including each package's own
//!   `name = evr` and its files), Recommends only with `weakdeps`.
//! - Rich dependencies are evaluated against the whole selection and re-evaluated until
//!   nothing changes (a fixpoint), so `(x if y)` takes effect when any package brings y.
//! - A requirement with one candidate is taken before any choice is made (libsolv's unit
//!   propagation); then the first open choice, in the order packages were selected.
//! - Choosing among candidates (`policy_filter_unwanted`): a requirement the selection
//!   already satisfies needs nothing; candidates obsoleted by another candidate drop out;
//!   per name the highest EVR stays (the target architecture before `noarch` at equal
//!   EVR); candidates a selected package recommends come first; then the first name in
//!   byte order (libsolv sorts by `strcmp` of the name and takes the first).
//! - A requested package obsoleted by another package is replaced by it, as dnf's
//!   `install` does ("Package X is obsoleted by Y, trying to install Y instead").
//! - Architectures: the target and `noarch` only (multilib off).
//! - Candidates that would conflict with the selection are skipped; a conflict (or an
//!   obsoletes) left within the selection is an error naming both packages.
//! - `assume_installed`: packages (or bare names) the node already has; they satisfy
//!   requirements and are not selected.

use super::dep::{Dep, Req};
pub use super::universe::Universe;
use std::collections::{HashMap, HashSet};

/// One selected package and why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub index: usize,
    /// `requested`, or `needed by NEVRA (requires DEP)`.
    pub why: String,
}

/// Why no closure could be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClosureError {
    /// A requested package (or provide, or file) nothing in the repositories has.
    #[error("no package in the repositories matches `{0}` (name, provide or file)")]
    Unknown(String),
    #[error("`{request}`: {message}")]
    BadRequest { request: String, message: String },
    /// A requirement no package satisfies: the chain of packages that led to it.
    #[error("{chain} → needs {requirement} → nothing provides it")]
    Unsatisfiable { chain: String, requirement: String },
    /// Two selected packages conflict (or one obsoletes the other).
    /// `detail`: the dependency, and why each of the two is needed.
    #[error("{first} {relation} {second} ({detail})")]
    Conflict {
        first: String,
        relation: String,
        second: String,
        detail: String,
    },
}

impl ClosureError {
    /// Whether the failure is a file dependency (or file request) that filelists.xml
    /// might satisfy.
    pub fn is_file(&self) -> bool {
        match self {
            ClosureError::Unknown(request) => request.starts_with('/'),
            ClosureError::Unsatisfiable { requirement, .. } => requirement.contains('/'),
            _ => false,
        }
    }
}

/// What to resolve.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `name`, `name OP evr`, a provide or a file path.
    pub packages: Vec<String>,
    /// Follow Recommends.
    pub weakdeps: bool,
    /// Names (or `name OP evr`, provides, files) the nodes already have.
    pub assume_installed: Vec<String>,
}

struct Solver<'a> {
    universe: &'a Universe,
    selected: Vec<usize>,
    in_selection: HashSet<usize>,
    names: HashMap<String, usize>,
    why: HashMap<usize, (Option<usize>, String)>,
    assumed: HashSet<usize>,
    assumed_names: Vec<Dep>,
}

/// The closure of `request` in `universe`, in selection order.
pub fn closure(universe: &Universe, request: &Request) -> Result<Vec<Chosen>, ClosureError> {
    let mut solver = Solver {
        universe,
        selected: Vec::new(),
        in_selection: HashSet::new(),
        names: HashMap::new(),
        why: HashMap::new(),
        assumed: HashSet::new(),
        assumed_names: Vec::new(),
    };
    for text in &request.assume_installed {
        let dep = parse_request(text)?;
        match solver.requested_candidates(&dep) {
            Some(found) => solver.assumed.extend(found),
            None => solver.assumed_names.push(dep),
        }
    }
    for text in &request.packages {
        let dep = parse_request(text)?;
        let mut found = solver
            .requested_candidates(&dep)
            .ok_or_else(|| ClosureError::Unknown(text.clone()))?;
        let obsoleters: Vec<usize> = found.iter().flat_map(|&i| universe.obsoleters(i)).collect();
        found.extend(obsoleters.iter().copied());
        let best = solver
            .choose(&found)
            .ok_or_else(|| ClosureError::Unknown(text.clone()))?;
        if solver.in_selection.contains(&best) {
            continue;
        }
        let why = if universe.package(best).name != dep.name && obsoleters.contains(&best) {
            format!("requested as {text}, which it obsoletes")
        } else {
            "requested".into()
        };
        solver.select(best, None, why)?;
    }
    solver.run(request.weakdeps)?;
    solver.check_conflicts()?;
    Ok(solver
        .selected
        .iter()
        .map(|&index| Chosen {
            index,
            why: solver.why_text(index),
        })
        .collect())
}

fn parse_request(text: &str) -> Result<Dep, ClosureError> {
    Dep::parse(text).map_err(|message| ClosureError::BadRequest {
        request: text.to_string(),
        message,
    })
}

impl Solver<'_> {
    /// Packages of that name (and range), else providers of it.
    fn requested_candidates(&self, dep: &Dep) -> Option<Vec<usize>> {
        let by_name: Vec<usize> = self
            .universe
            .providers(dep)
            .into_iter()
            .filter(|&i| self.universe.packages[i].name == dep.name)
            .collect();
        let found = if by_name.is_empty() {
            self.universe.providers(dep)
        } else {
            by_name
        };
        (!found.is_empty()).then_some(found)
    }

    fn select(
        &mut self,
        index: usize,
        parent: Option<usize>,
        via: String,
    ) -> Result<(), ClosureError> {
        let package = &self.universe.packages[index];
        if let Some(&other) = self.names.get(&package.name) {
            if other != index {
                return Err(self.conflict(other, "and", index, "one version of a package".into()));
            }
            return Ok(());
        }
        self.names.insert(package.name.clone(), index);
        self.selected.push(index);
        self.in_selection.insert(index);
        self.why.insert(index, (parent, via));
        Ok(())
    }

    fn has(&self, index: usize) -> bool {
        self.in_selection.contains(&index) || self.assumed.contains(&index)
    }

    /// Whether the selection (with what is assumed installed) satisfies `dep`.
    fn satisfied(&self, dep: &Dep) -> bool {
        dep.name.starts_with("rpmlib(")
            || self.assumed_names.iter().any(|a| a.satisfies(dep))
            || self.universe.providers(dep).iter().any(|&i| self.has(i))
    }

    fn eval(&self, req: &Req) -> bool {
        match req {
            Req::Simple(dep) => self.satisfied(dep),
            Req::And(items) => items.iter().all(|r| self.eval(r)),
            Req::Or(items) => items.iter().any(|r| self.eval(r)),
            Req::If(a, b, c) => {
                if self.eval(b) {
                    self.eval(a)
                } else {
                    c.as_ref().is_none_or(|c| self.eval(c))
                }
            }
            Req::Unless(a, b, c) => {
                if !self.eval(b) {
                    self.eval(a)
                } else {
                    c.as_ref().is_none_or(|c| self.eval(c))
                }
            }
            Req::With(_) | Req::Without(..) => self.one_package(req).iter().any(|&i| self.has(i)),
        }
    }

    /// Packages that satisfy every part of a `with` / `without` (or a simple dependency).
    fn one_package(&self, req: &Req) -> Vec<usize> {
        match req {
            Req::Simple(dep) => self.universe.providers(dep),
            Req::With(items) => {
                let mut sets = items.iter().map(|r| self.one_package(r));
                let first = sets.next().unwrap_or_default();
                sets.fold(first, |acc, set| {
                    acc.into_iter().filter(|i| set.contains(i)).collect()
                })
            }
            Req::Without(a, b) => {
                let exclude = self.one_package(b);
                self.one_package(a)
                    .into_iter()
                    .filter(|i| !exclude.contains(i))
                    .collect()
            }
            _ => self.candidates(req),
        }
    }

    /// For a requirement the selection does not satisfy: packages any one of which moves
    /// it towards satisfied.
    fn candidates(&self, req: &Req) -> Vec<usize> {
        let mut found = match req {
            Req::Simple(dep) => self.universe.providers(dep),
            Req::Or(items) => items.iter().flat_map(|r| self.candidates(r)).collect(),
            Req::And(items) => items
                .iter()
                .find(|r| !self.eval(r))
                .map(|r| self.candidates(r))
                .unwrap_or_default(),
            Req::If(a, b, c) => match (self.eval(b), c) {
                (true, _) => self.candidates(a),
                (false, Some(c)) => self.candidates(c),
                (false, None) => Vec::new(),
            },
            Req::Unless(a, b, c) => match (self.eval(b), c) {
                (false, _) => self.candidates(a),
                (true, Some(c)) => self.candidates(c),
                (true, None) => Vec::new(),
            },
            Req::With(_) | Req::Without(..) => self.one_package(req),
        };
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Whether a Conflicts of either package names the other.
    fn conflicts_between(&self, a: usize, b: usize) -> bool {
        let u = self.universe;
        let hits = |from: usize, to: usize| {
            u.packages[from].conflicts.iter().any(|c| match c {
                Req::Simple(dep) => u.providers(dep).contains(&to),
                _ => false,
            })
        };
        hits(a, b) || hits(b, a)
    }

    /// Whether package `index` conflicts with the selection (either way) or would be a
    /// second version of a selected name.
    fn clashes(&self, index: usize) -> bool {
        let package = &self.universe.packages[index];
        self.names.get(&package.name).is_some_and(|&o| o != index)
            || self
                .selected
                .iter()
                .any(|&s| self.conflicts_between(s, index))
    }

    /// libsolv's choice among candidates (see the module doc).
    fn choose(&self, candidates: &[usize]) -> Option<usize> {
        let u = self.universe;
        let mut list: Vec<usize> = candidates.to_vec();
        list.sort_unstable();
        list.dedup();
        if list.len() > 1 {
            let obsoleted: HashSet<usize> = list
                .iter()
                .flat_map(|&i| u.obsoleters(i).into_iter().map(move |o| (i, o)))
                .filter(|(_, o)| list.contains(o))
                .map(|(i, _)| i)
                .collect();
            if obsoleted.len() < list.len() {
                list.retain(|i| !obsoleted.contains(i));
            }
        }
        // Per name, the highest EVR; at equal EVR the target architecture.
        let mut best: HashMap<&str, usize> = HashMap::new();
        for &i in &list {
            let p = &u.packages[i];
            match best.get(p.name.as_str()) {
                Some(&b) => {
                    let q = &u.packages[b];
                    let order = p
                        .evr
                        .compare(&q.evr)
                        .then_with(|| (p.arch == u.arch).cmp(&(q.arch == u.arch)));
                    if order.is_gt() {
                        best.insert(&p.name, i);
                    }
                }
                None => {
                    best.insert(&p.name, i);
                }
            }
        }
        let mut list: Vec<usize> = best.into_values().collect();
        let recommended: Vec<usize> = list
            .iter()
            .copied()
            .filter(|&i| {
                self.selected.iter().any(|&s| {
                    u.packages[s].recommends.iter().any(|r| match r {
                        Req::Simple(dep) => u.providers(dep).contains(&i),
                        _ => false,
                    })
                })
            })
            .collect();
        if !recommended.is_empty() {
            list = recommended;
        }
        list.sort_by(|&a, &b| u.packages[a].name.cmp(&u.packages[b].name));
        list.first().copied()
    }

    fn run(&mut self, weakdeps: bool) -> Result<(), ClosureError> {
        let mut refused_weak: HashSet<(usize, usize)> = HashSet::new();
        loop {
            let mut progress = false;
            let mut open: Option<(usize, Req, Vec<usize>)> = None;
            let mut at = 0;
            while at < self.selected.len() {
                let owner = self.selected[at];
                at += 1;
                let package = &self.universe.packages[owner];
                let weak = if weakdeps {
                    &package.recommends[..]
                } else {
                    &[]
                };
                let reqs = package.requires.iter().map(|r| (r, false));
                for (n, (req, is_weak)) in reqs.chain(weak.iter().map(|r| (r, true))).enumerate() {
                    if (is_weak && refused_weak.contains(&(owner, n))) || self.eval(req) {
                        continue;
                    }
                    let all = self.candidates(req);
                    let usable: Vec<usize> =
                        all.iter().copied().filter(|&i| !self.clashes(i)).collect();
                    if usable.is_empty() {
                        if is_weak {
                            refused_weak.insert((owner, n));
                            continue;
                        }
                        if let Some(&other) = all.first() {
                            // Every candidate clashes: name the clash.
                            return Err(self.clash_error(other, owner, req));
                        }
                        return Err(ClosureError::Unsatisfiable {
                            chain: self.chain(owner),
                            requirement: req.to_string(),
                        });
                    }
                    let names: HashSet<&str> = usable
                        .iter()
                        .map(|&i| self.universe.packages[i].name.as_str())
                        .collect();
                    if names.len() == 1 {
                        let pick = self.choose(&usable).unwrap_or(usable[0]);
                        self.select(pick, Some(owner), req.to_string())?;
                        progress = true;
                    } else if open.is_none() {
                        open = Some((owner, req.clone(), usable));
                    }
                }
            }
            if progress {
                continue;
            }
            let Some((owner, req, usable)) = open else {
                return Ok(());
            };
            if let Some(pick) = self.choose(&usable) {
                self.select(pick, Some(owner), req.to_string())?;
            }
        }
    }

    fn clash_error(&self, candidate: usize, owner: usize, req: &Req) -> ClosureError {
        let package = &self.universe.packages[candidate];
        if let Some(&other) = self.names.get(&package.name) {
            return ClosureError::Unsatisfiable {
                chain: self.chain(owner),
                requirement: format!(
                    "{req} (only {} has it, but {} is selected)",
                    package.nevra(),
                    self.universe.packages[other].nevra()
                ),
            };
        }
        let other = self
            .selected
            .iter()
            .copied()
            .find(|&s| self.conflicts_between(s, candidate))
            .unwrap_or(owner);
        let first = self.universe.packages[other].nevra();
        ClosureError::Conflict {
            detail: format!(
                "{req}; both are needed: {first} ({}), {} ({} needs {req})",
                self.why_text(other),
                package.nevra(),
                self.chain(owner)
            ),
            first,
            relation: "conflicts with".into(),
            second: package.nevra(),
        }
    }

    fn conflict(&self, a: usize, relation: &str, b: usize, dep: String) -> ClosureError {
        let (first, second) = (
            self.universe.packages[a].nevra(),
            self.universe.packages[b].nevra(),
        );
        ClosureError::Conflict {
            detail: format!(
                "{dep}; both are needed: {first} ({}), {second} ({})",
                self.why_text(a),
                self.why_text(b)
            ),
            first,
            relation: relation.into(),
            second,
        }
    }

    /// Conflicts and Obsoletes between selected packages.
    fn check_conflicts(&self) -> Result<(), ClosureError> {
        for &a in &self.selected {
            let package = &self.universe.packages[a];
            for req in &package.conflicts {
                for b in self.one_package(req) {
                    if b != a && self.in_selection.contains(&b) {
                        return Err(self.conflict(a, "conflicts with", b, req.to_string()));
                    }
                }
            }
            for &b in &self.selected {
                if b != a && self.universe.obsoleters(b).contains(&a) {
                    return Err(self.conflict(a, "obsoletes", b, package.name.clone()));
                }
            }
        }
        Ok(())
    }

    fn why_text(&self, index: usize) -> String {
        match self.why.get(&index) {
            Some((Some(parent), via)) => format!(
                "needed by {} (requires {via})",
                self.universe.packages[*parent].nevra()
            ),
            Some((None, via)) => via.clone(),
            None => "requested".into(),
        }
    }

    /// `a-1-1.x86_64 (requested) → needs b → b-1-1.noarch`.
    fn chain(&self, index: usize) -> String {
        let mut steps = Vec::new();
        let mut at = Some(index);
        while let Some(i) = at {
            let (parent, via) = self.why.get(&i).cloned().unwrap_or((None, String::new()));
            let nevra = self.universe.packages[i].nevra();
            match parent {
                Some(_) => steps.push(format!("needs {via} → {nevra}")),
                None => steps.push(format!("{nevra} (requested)")),
            }
            at = parent;
            if steps.len() > 64 {
                break;
            }
        }
        steps.reverse();
        steps.join(" → ")
    }
}

#[cfg(test)]
#[path = "closure_tests.rs"]
mod tests;
