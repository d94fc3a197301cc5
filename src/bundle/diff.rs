//! `bundle diff`: what changed between two releases, computed from their lockfiles (and, for
//! bundles and stored releases, their blob sets). Pure: the caller opens each side.
//!
//! Images are matched by reference, charts by source and name, files by mirror path, Debian
//! packages by name and architecture. Every list is sorted by its key, so the same two
//! releases always give the same diff. "Bytes the new release adds" is the total size of the
//! blobs NEW has and OLD has not, by digest: from every blob each bundle carries (exact,
//! layers included) when both sides are bundles or stored releases, else from what the
//! lockfiles pin (manifests, platform manifests, referrers, files, packages and charts; a
//! lockfile records no layer sizes, so the number is then a lower bound).

use crate::debian::version::Version;
use crate::digest::Digest;
use crate::lock::{ChartPin, DebPin, FilePin, ImagePin, Lockfile};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One side of a diff: where it came from, its lockfile, and (bundles, stored releases)
/// its `index.json` digest and every blob it carries with its size in bytes.
#[derive(Debug, Clone)]
pub struct Side {
    /// How the user named it (a path, `store:DIR/NAME/VERSION`).
    pub source: String,
    pub lock: Lockfile,
    pub index_digest: Option<Digest>,
    pub blobs: Option<HashMap<Digest, u64>>,
}

/// A release's identity in a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseSummary {
    pub source: String,
    pub name: String,
    pub version: String,
    /// The signed `index.json`'s digest; none for a lockfile.
    pub index_digest: Option<Digest>,
}

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    /// Same key, different content (digest, platforms, signers, version).
    Changed,
    /// A Debian package at a higher version.
    Upgraded,
    /// A Debian package at a lower version.
    Downgraded,
}

impl Change {
    pub fn word(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
            Change::Upgraded => "upgraded",
            Change::Downgraded => "downgraded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageChange {
    pub reference: String,
    /// For a tag bump (`nginx:1.25` → `nginx:1.26`, the one reference of a repository that
    /// left and the one that came): the old reference, paired as a change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_reference: Option<String>,
    pub change: Change,
    pub old_digest: Option<Digest>,
    pub new_digest: Option<Digest>,
    /// Platforms (`linux/amd64`) NEW carries and OLD did not (changed images only).
    pub platforms_added: Vec<String>,
    pub platforms_dropped: Vec<String>,
    /// Upstream signers (`key sha256:…`, `IDENTITY (ISSUER)`) whose signatures NEW records
    /// and OLD did not, and the reverse (changed images only).
    pub signers_added: Vec<String>,
    pub signers_removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChartChange {
    pub source: String,
    pub name: String,
    pub change: Change,
    pub old_version: Option<String>,
    pub new_version: Option<String>,
    /// sha256 of the `.tgz`.
    pub old_digest: Option<Digest>,
    pub new_digest: Option<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Mirror path (`dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet`).
    pub path: String,
    pub change: Change,
    pub old_sha256: Option<Digest>,
    pub new_sha256: Option<Digest>,
    /// Sizes in bytes.
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebChange {
    pub name: String,
    pub arch: String,
    /// `changed` for the same version with other bytes (a rebuild).
    pub change: Change,
    pub old_version: Option<String>,
    pub new_version: Option<String>,
}

/// How [`AddedBytes`] was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// Every blob both bundles carry: exact.
    Blobs,
    /// What the lockfiles pin: no image layers, so a lower bound.
    Lockfile,
}

/// The blobs NEW has and OLD has not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddedBytes {
    pub bytes: u64,
    pub blobs: usize,
    pub basis: Basis,
}

/// The whole difference between two releases (the `--json` schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub old: ReleaseSummary,
    pub new: ReleaseSummary,
    pub images: Vec<ImageChange>,
    pub charts: Vec<ChartChange>,
    pub files: Vec<FileChange>,
    pub debs: Vec<DebChange>,
    pub added_bytes: AddedBytes,
}

impl Diff {
    /// Whether nothing changed between the pins.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
            && self.charts.is_empty()
            && self.files.is_empty()
            && self.debs.is_empty()
    }
}

/// Compares OLD with NEW.
pub fn diff(old: &Side, new: &Side) -> Diff {
    Diff {
        old: summary(old),
        new: summary(new),
        images: images(&old.lock.images, &new.lock.images),
        charts: charts(&old.lock.charts, &new.lock.charts),
        files: files(&old.lock.files, &new.lock.files),
        debs: debs(&old.lock.debs, &new.lock.debs),
        added_bytes: added_bytes(old, new),
    }
}

fn summary(side: &Side) -> ReleaseSummary {
    ReleaseSummary {
        source: side.source.clone(),
        name: side.lock.release.name.clone(),
        version: side.lock.release.version.clone(),
        index_digest: side.index_digest.clone(),
    }
}

/// Pairs items of both sides by key, in key order: (old, new), either absent.
fn pair<'a, K: Ord, T>(
    old: &'a [T],
    new: &'a [T],
    key: impl Fn(&T) -> K,
) -> Vec<(Option<&'a T>, Option<&'a T>)> {
    let mut map: BTreeMap<K, (Option<&T>, Option<&T>)> = BTreeMap::new();
    for item in old {
        map.entry(key(item)).or_default().0 = Some(item);
    }
    for item in new {
        map.entry(key(item)).or_default().1 = Some(item);
    }
    map.into_values().collect()
}

fn images(old: &[ImagePin], new: &[ImagePin]) -> Vec<ImageChange> {
    let platforms = |i: &ImagePin| -> BTreeSet<String> {
        i.platforms.iter().map(|p| p.platform.clone()).collect()
    };
    let signers = |i: &ImagePin| -> BTreeSet<String> {
        i.signatures
            .iter()
            .map(|s| {
                // Who signed, not which log entry: a re-signature by the same key is no change.
                let mut signer = s.signer.clone();
                signer.log_index = None;
                signer.integrated_time = None;
                signer.to_string()
            })
            .collect()
    };
    let minus = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
        a.difference(b).cloned().collect()
    };
    let mut changes = Vec::new();
    for (o, n) in pair(old, new, |i| i.reference.clone()) {
        let reference = o.or(n).map(|i| i.reference.clone()).unwrap_or_default();
        let mut change = ImageChange {
            reference,
            old_reference: None,
            change: Change::Changed,
            old_digest: o.map(|i| i.digest.clone()),
            new_digest: n.map(|i| i.digest.clone()),
            platforms_added: Vec::new(),
            platforms_dropped: Vec::new(),
            signers_added: Vec::new(),
            signers_removed: Vec::new(),
        };
        match (o, n) {
            (Some(o), Some(n)) => {
                let (po, pn) = (platforms(o), platforms(n));
                let (so, sn) = (signers(o), signers(n));
                change.platforms_added = minus(&pn, &po);
                change.platforms_dropped = minus(&po, &pn);
                change.signers_added = minus(&sn, &so);
                change.signers_removed = minus(&so, &sn);
                let same = o.digest == n.digest
                    && change.platforms_added.is_empty()
                    && change.platforms_dropped.is_empty()
                    && change.signers_added.is_empty()
                    && change.signers_removed.is_empty();
                if same {
                    continue;
                }
            }
            (None, Some(_)) => change.change = Change::Added,
            (Some(_), None) => change.change = Change::Removed,
            (None, None) => continue,
        }
        changes.push(change);
    }
    pair_tag_bumps(changes)
}

/// `registry/repository` of a reference, without tag or digest.
fn repository_of(reference: &str) -> String {
    crate::reference::parse(reference)
        .map(|r| format!("{}/{}", r.registry(), r.repository()))
        .unwrap_or_else(|_| reference.to_string())
}

/// Where a repository lost exactly one reference and gained exactly one (references that
/// stayed the same aside), that removal and addition are one change: a new tag.
fn pair_tag_bumps(changes: Vec<ImageChange>) -> Vec<ImageChange> {
    let mut per_repository: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for c in &changes {
        let counts = per_repository
            .entry(repository_of(&c.reference))
            .or_default();
        match c.change {
            Change::Removed => counts.0 += 1,
            Change::Added => counts.1 += 1,
            _ => counts.2 += 1,
        }
    }
    let bumped = |c: &ImageChange| {
        per_repository
            .get(&repository_of(&c.reference))
            .is_some_and(|&counts| counts == (1, 1, 0))
    };
    let removed: BTreeMap<String, ImageChange> = changes
        .iter()
        .filter(|c| c.change == Change::Removed && bumped(c))
        .map(|c| (repository_of(&c.reference), c.clone()))
        .collect();
    let mut out = Vec::new();
    for mut c in changes {
        if !bumped(&c) {
            out.push(c);
            continue;
        }
        if c.change == Change::Added {
            if let Some(old) = removed.get(&repository_of(&c.reference)) {
                c.change = Change::Changed;
                c.old_reference = Some(old.reference.clone());
                c.old_digest = old.old_digest.clone();
                out.push(c);
            }
        }
    }
    out
}

/// The pins of one key on the old and the new side.
type Sides<'a, T> = (Vec<&'a T>, Vec<&'a T>);

/// Charts by source and name; when a side pins several versions of one chart (dependencies
/// of different parents), by source, name and version.
fn charts(old: &[ChartPin], new: &[ChartPin]) -> Vec<ChartChange> {
    let mut groups: BTreeMap<(String, String), Sides<ChartPin>> = BTreeMap::new();
    for chart in old {
        let key = (chart.source.clone(), chart.name.clone());
        groups.entry(key).or_default().0.push(chart);
    }
    for chart in new {
        let key = (chart.source.clone(), chart.name.clone());
        groups.entry(key).or_default().1.push(chart);
    }
    let mut changes = Vec::new();
    for ((source, name), (o, n)) in groups {
        let pairs: Vec<(Option<&ChartPin>, Option<&ChartPin>)> = if o.len() == 1 && n.len() == 1 {
            vec![(Some(o[0]), Some(n[0]))]
        } else {
            pair(&o, &n, |c| c.version.clone())
                .into_iter()
                .map(|(a, b)| (a.copied(), b.copied()))
                .collect()
        };
        for (o, n) in pairs {
            let change = match (o, n) {
                (Some(o), Some(n)) if o.version == n.version && o.sha256 == n.sha256 => continue,
                (Some(_), Some(_)) => Change::Changed,
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Removed,
                (None, None) => continue,
            };
            changes.push(ChartChange {
                source: source.clone(),
                name: name.clone(),
                change,
                old_version: o.map(|c| c.version.clone()),
                new_version: n.map(|c| c.version.clone()),
                old_digest: o.map(|c| c.sha256.clone()),
                new_digest: n.map(|c| c.sha256.clone()),
            });
        }
    }
    changes
}

fn files(old: &[FilePin], new: &[FilePin]) -> Vec<FileChange> {
    let mut changes = Vec::new();
    for (o, n) in pair(old, new, |f| f.path.clone()) {
        let change = match (o, n) {
            (Some(o), Some(n)) if o.sha256 == n.sha256 => continue,
            (Some(_), Some(_)) => Change::Changed,
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (None, None) => continue,
        };
        changes.push(FileChange {
            path: o.or(n).map(|f| f.path.clone()).unwrap_or_default(),
            change,
            old_sha256: o.map(|f| f.sha256.clone()),
            new_sha256: n.map(|f| f.sha256.clone()),
            old_size: o.map(|f| f.size),
            new_size: n.map(|f| f.size),
        });
    }
    changes
}

fn debs(old: &[DebPin], new: &[DebPin]) -> Vec<DebChange> {
    let mut changes = Vec::new();
    for (o, n) in pair(old, new, |d| (d.name.clone(), d.arch.clone())) {
        let change = match (o, n) {
            (Some(o), Some(n)) if o.version == n.version && o.sha256 == n.sha256 => continue,
            (Some(o), Some(n)) => version_change(&o.version, &n.version),
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (None, None) => continue,
        };
        let Some(any) = o.or(n) else { continue };
        changes.push(DebChange {
            name: any.name.clone(),
            arch: any.arch.clone(),
            change,
            old_version: o.map(|d| d.version.clone()),
            new_version: n.map(|d| d.version.clone()),
        });
    }
    changes
}

/// Upgraded or downgraded by Debian version order; `changed` for equal (or unparsable)
/// versions.
fn version_change(old: &str, new: &str) -> Change {
    match (Version::parse(old), Version::parse(new)) {
        (Ok(o), Ok(n)) if n > o => Change::Upgraded,
        (Ok(o), Ok(n)) if n < o => Change::Downgraded,
        _ => Change::Changed,
    }
}

fn added_bytes(old: &Side, new: &Side) -> AddedBytes {
    let (old_blobs, new_blobs, basis) = match (&old.blobs, &new.blobs) {
        (Some(o), Some(n)) => (o.clone(), n.clone(), Basis::Blobs),
        _ => (
            pinned_blobs(&old.lock),
            pinned_blobs(&new.lock),
            Basis::Lockfile,
        ),
    };
    let added: Vec<u64> = new_blobs
        .iter()
        .filter(|(digest, _)| !old_blobs.contains_key(*digest))
        .map(|(_, size)| *size)
        .collect();
    AddedBytes {
        bytes: added.iter().sum(),
        blobs: added.len(),
        basis,
    }
}

/// Every blob a lockfile pins by digest, with its size.
pub fn pinned_blobs(lock: &Lockfile) -> HashMap<Digest, u64> {
    let mut blobs = HashMap::new();
    for image in &lock.images {
        blobs.insert(image.digest.clone(), image.size);
        for platform in image.platforms.iter().chain(&image.also_carried) {
            blobs.insert(platform.digest.clone(), platform.size);
        }
        for referrer in &image.referrers {
            blobs.insert(referrer.digest.clone(), referrer.size);
        }
    }
    for file in &lock.files {
        blobs.insert(file.sha256.clone(), file.size);
    }
    for deb in &lock.debs {
        blobs.insert(deb.sha256.clone(), deb.size);
    }
    for chart in &lock.charts {
        blobs.insert(chart.sha256.clone(), chart.size);
    }
    blobs
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
