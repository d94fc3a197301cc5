//! What the server can answer: repositories, tags, manifests and blobs of every open bundle,
//! and the rule that maps a requested name (with containerd's `ns` parameter, Docker Hub's
//! implied `library/`, or a short name) to a repository. `Catalog::open` opens what is served
//! (a site store's releases and bundles, signatures checked); everything else is without I/O
//! but the site chart repositories' build (`charts`), which reads each chart's small config, and
//! the dashboard's views (`ui::model`), which read each release's carried lockfile once.

use crate::bundle::open::{Backing, BlobLocation, OpenBundle, OpenError};
use crate::digest::Digest;
use crate::oci::Descriptor;
use crate::server::path::Reference;
use crate::sign::Verifier;
use crate::sitestore::{SiteError, SiteStore, StoredRelease};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const DOCKER_HUB: &str = "docker.io";

/// One repository (`registry.test/library/alpha`) across every bundle.
#[derive(Debug, Default)]
pub struct Repository {
    pub tags: BTreeMap<String, Digest>,
    /// Blobs reachable from this repository's images, with the bundle that holds each.
    blobs: HashMap<Digest, usize>,
    /// Manifests in this repository that name a subject: subject → descriptors.
    referrers: HashMap<Digest, Vec<Descriptor>>,
}

/// A manifest ready to send.
#[derive(Debug, Clone)]
pub struct ManifestBody {
    /// Shared with the opened bundle (a clone is a reference count).
    pub bytes: bytes::Bytes,
    pub media_type: String,
    pub digest: Digest,
}

/// Where a blob's bytes are.
#[derive(Debug, Clone)]
pub struct BlobSource {
    pub path: PathBuf,
    pub backing: Backing,
    pub digest: Digest,
    pub location: BlobLocation,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("repository name not known to this registry")]
    Unknown,
    #[error("ambiguous short name: it matches {}; ask for one of them by its full name or with ?ns=<registry>", .0.join(", "))]
    Ambiguous(Vec<String>),
}

/// Why the served releases could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The site store, or one of its releases, could not be opened or checked.
    #[error(transparent)]
    Store(#[from] SiteError),
    /// A bundle could not be opened or its signature does not hold.
    #[error(transparent)]
    Bundle(#[from] OpenError),
}

/// A file the mirror serves under `/files/`.
#[derive(Debug, Clone)]
pub struct ServedFile {
    pub digest: Digest,
    pub source: BlobSource,
}

pub struct Catalog {
    bundles: Vec<OpenBundle>,
    files: BTreeMap<String, ServedFile>,
    repositories: BTreeMap<String, Repository>,
    manifests: HashMap<Digest, ManifestBody>,
    charts: super::charts::ChartRepositories,
    /// The site dashboard's view of each bundle (same order), built once per load.
    views: Vec<super::ui::model::ReleaseView>,
}

impl Catalog {
    /// Opens every release of the site store `store` (oldest load first: where releases
    /// differ, a moved tag or a changed file, the newest wins) and then every bundle in
    /// `bundles`, checking signatures when a verifier is given.
    pub fn open(
        store: Option<&Path>,
        bundles: &[PathBuf],
        verifier: Option<&Verifier>,
    ) -> Result<Catalog, CatalogError> {
        let mut opened = Vec::new();
        let mut records = Vec::new();
        if let Some(dir) = store {
            let site = SiteStore::open(dir)?;
            for release in site.releases()? {
                opened.push(site.open_release(&release, verifier)?);
                records.push(Some(release));
            }
        }
        for path in bundles {
            opened.push(OpenBundle::open(path, verifier)?);
            records.push(None);
        }
        Ok(Catalog::with_records(opened, records))
    }

    /// The catalog of `bundles` (bundle files: the dashboard shows each file's mtime).
    pub fn new(bundles: Vec<OpenBundle>) -> Self {
        let records = bundles.iter().map(|_| None).collect();
        Catalog::with_records(bundles, records)
    }

    /// The catalog of `bundles`, each with its site store record when it is a stored
    /// release (`records` in the same order; missing ones count as `None`). Reads each
    /// bundle's carried lockfile once, for the dashboard.
    pub fn with_records(bundles: Vec<OpenBundle>, records: Vec<Option<StoredRelease>>) -> Self {
        let views = bundles
            .iter()
            .enumerate()
            .map(|(i, bundle)| {
                let record = records.get(i).and_then(Option::as_ref);
                let mtime = match record {
                    Some(_) => None,
                    None => modified_seconds(&bundle.path),
                };
                let lock = crate::bundle::upstream::carried_lockfile_as(bundle)
                    .map_err(|e| crate::errors::chain(&e));
                super::ui::model::ReleaseView::build(bundle, record, mtime, lock)
            })
            .collect();
        let mut repositories: BTreeMap<String, Repository> = BTreeMap::new();
        let mut manifests = HashMap::new();
        let mut files = BTreeMap::new();
        for bundle in &bundles {
            for file in &bundle.files {
                if let Some(location) = bundle.blobs.get(&file.digest) {
                    // Later bundles win: with a store, releases come oldest first.
                    files.insert(
                        file.path.clone(),
                        ServedFile {
                            digest: file.digest.clone(),
                            source: BlobSource {
                                path: bundle.path.clone(),
                                backing: bundle.backing.clone(),
                                digest: file.digest.clone(),
                                location: *location,
                            },
                        },
                    );
                }
            }
        }
        for (index, bundle) in bundles.iter().enumerate() {
            for (digest, bytes) in &bundle.manifests {
                let media_type = bundle.media_types.get(digest).cloned().unwrap_or_default();
                manifests
                    .entry(digest.clone())
                    .or_insert_with(|| ManifestBody {
                        bytes: bytes.clone(),
                        media_type,
                        digest: digest.clone(),
                    });
            }
            for image in &bundle.images {
                let Ok(reference) = crate::reference::parse(&image.reference) else {
                    continue;
                };
                let name = format!("{}/{}", reference.registry(), reference.repository());
                let repository = repositories.entry(name).or_default();
                if let Some(tag) = reference.tag() {
                    repository
                        .tags
                        .insert(tag.to_string(), image.digest.clone());
                }
                for carried in &image.reachable {
                    let digest = &carried.descriptor.digest;
                    repository.blobs.entry(digest.clone()).or_insert(index);
                    let media_type = &carried.descriptor.media_type;
                    let listed = bundle
                        .manifests
                        .get(digest)
                        .and_then(|bytes| crate::referrers::listing(bytes, digest, media_type));
                    if let Some((named, referrer)) = listed {
                        // A cosign tag-scheme manifest names its subject only in its entry
                        // (`io.outpost.subject`).
                        let entry_subject = (digest == &image.digest)
                            .then(|| image.subject.clone())
                            .flatten();
                        if let Some(subject) = named.or(entry_subject) {
                            let list = repository.referrers.entry(subject).or_default();
                            if !list.iter().any(|d| &d.digest == digest) {
                                list.push(referrer);
                            }
                        }
                    }
                }
            }
        }
        let charts =
            super::charts::ChartRepositories::build(&bundles, std::time::SystemTime::now());
        Catalog {
            bundles,
            files,
            repositories,
            manifests,
            charts,
            views,
        }
    }

    /// The dashboard's view of each bundle, in serving order.
    pub fn views(&self) -> &[super::ui::model::ReleaseView] {
        &self.views
    }

    pub fn bundles(&self) -> &[OpenBundle] {
        &self.bundles
    }

    /// Files by mirror path, sorted.
    pub fn files(&self) -> &BTreeMap<String, ServedFile> {
        &self.files
    }

    /// The site chart repositories (`/charts/<repository>/`).
    pub fn charts(&self) -> &super::charts::ChartRepositories {
        &self.charts
    }

    pub fn repository_names(&self) -> impl Iterator<Item = &String> {
        self.repositories.keys()
    }

    /// Every repository by full name, sorted (pagination walks it in place).
    pub fn repositories(&self) -> &BTreeMap<String, Repository> {
        &self.repositories
    }

    /// Maps a requested name (and containerd's `ns`) to a repository of this catalog.
    pub fn resolve_name(&self, name: &str, ns: Option<&str>) -> Result<&str, NameError> {
        // Looked up in place: no per-request copy of the (possibly thousands of) names.
        resolve_name(name, ns, &self.repositories)
    }

    pub fn repository(&self, full_name: &str) -> Option<&Repository> {
        self.repositories.get(full_name)
    }

    pub fn manifest(&self, full_name: &str, reference: &Reference) -> Option<ManifestBody> {
        let repository = self.repositories.get(full_name)?;
        let digest = match reference {
            Reference::Tag(tag) => repository.tags.get(tag)?,
            Reference::Digest(digest) => digest.held()?,
        };
        if !repository.blobs.contains_key(digest) {
            return None;
        }
        self.manifests.get(digest).cloned()
    }

    pub fn blob(&self, full_name: &str, digest: &Digest) -> Option<BlobSource> {
        let repository = self.repositories.get(full_name)?;
        let bundle = &self.bundles[*repository.blobs.get(digest)?];
        Some(BlobSource {
            path: bundle.path.clone(),
            backing: bundle.backing.clone(),
            digest: digest.clone(),
            location: *bundle.blobs.get(digest)?,
        })
    }

    pub fn referrers(
        &self,
        full_name: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Vec<Descriptor> {
        self.repositories
            .get(full_name)
            .and_then(|r| r.referrers.get(subject))
            .map(|list| {
                list.iter()
                    .filter(|d| {
                        artifact_type.is_none() || d.artifact_type.as_deref() == artifact_type
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A file's modification time, seconds since the epoch.
fn modified_seconds(path: &Path) -> Option<u64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(
        modified
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs(),
    )
}

/// Whether a path component is a registry host (`docker.io`, `localhost`, `host:5000`).
fn is_host(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

/// `ns` + `name` as a full repository name, with Docker Hub's implied `library/`.
fn qualify(registry: &str, name: &str) -> String {
    if registry == DOCKER_HUB && !name.contains('/') {
        format!("{DOCKER_HUB}/library/{name}")
    } else {
        format!("{registry}/{name}")
    }
}

/// A set of full repository names the naming rule looks names up in (a `BTreeSet<&str>` in
/// tests, the catalog's own map when serving: looked up in place, never copied per request).
pub trait KnownNames<'a> {
    /// The stored spelling of `name`, if known.
    fn find(&self, name: &str) -> Option<&'a str>;
    /// Every known name, sorted.
    fn every(&self) -> Box<dyn Iterator<Item = &'a str> + 'a>;
}

impl<'a> KnownNames<'a> for &'a BTreeSet<&'a str> {
    fn find(&self, name: &str) -> Option<&'a str> {
        self.get(name).copied()
    }
    fn every(&self) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        Box::new(self.iter().copied())
    }
}

impl<'a, V> KnownNames<'a> for &'a BTreeMap<String, V> {
    fn find(&self, name: &str) -> Option<&'a str> {
        self.get_key_value(name).map(|(k, _)| k.as_str())
    }
    fn every(&self) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        Box::new(self.keys().map(String::as_str))
    }
}

/// The naming rule (pure): `ns` first, then a full name, then a unique short name. kubeadm
/// with a custom imageRepository asks for `<repo>/coredns` where registry.k8s.io has
/// `coredns/coredns`; that name falls back to `…/coredns/coredns`.
pub fn resolve_name<'a>(
    name: &str,
    ns: Option<&str>,
    known: impl KnownNames<'a>,
) -> Result<&'a str, NameError> {
    match resolve_exact(name, ns, &known) {
        Err(NameError::Unknown) if name == "coredns" || name.ends_with("/coredns") => {
            resolve_exact(&format!("{name}/coredns"), ns, &known)
        }
        other => other,
    }
}

fn resolve_exact<'a>(
    name: &str,
    ns: Option<&str>,
    known: &impl KnownNames<'a>,
) -> Result<&'a str, NameError> {
    let lookup = |candidate: &str| known.find(candidate);
    if let Some(ns) = ns.filter(|ns| !ns.is_empty()) {
        // A registry host is case-insensitive; repositories hold it in lower case
        // (`reference::parse`).
        return lookup(&qualify(&ns.to_ascii_lowercase(), name)).ok_or(NameError::Unknown);
    }
    if let Some(found) = lookup(name) {
        return Ok(found);
    }
    if let Some((first, rest)) = name.split_once('/') {
        if is_host(first) {
            return lookup(&qualify(first, rest)).ok_or(NameError::Unknown);
        }
    }
    let candidates: Vec<&'a str> = known
        .every()
        .filter(|full| {
            full.split_once('/').is_some_and(|(registry, repository)| {
                repository == name
                    || (registry == DOCKER_HUB && repository == format!("library/{name}"))
            })
        })
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(NameError::Unknown),
        many => Err(NameError::Ambiguous(
            many.iter().map(|s| s.to_string()).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<&'static str> {
        BTreeSet::from([
            "docker.io/calico/node",
            "docker.io/library/alpine",
            "registry.k8s.io/pause",
            "quay.io/pause",
            "registry.test/library/alpha",
        ])
    }

    #[test]
    fn containerd_ns_and_full_names_resolve() {
        let k = known();
        assert_eq!(
            resolve_name("calico/node", Some("docker.io"), &k),
            Ok("docker.io/calico/node")
        );
        assert_eq!(
            resolve_name("docker.io/calico/node", None, &k),
            Ok("docker.io/calico/node")
        );
        assert_eq!(
            resolve_name("library/alpine", Some("docker.io"), &k),
            Ok("docker.io/library/alpine")
        );
        assert_eq!(
            resolve_name("alpine", Some("docker.io"), &k),
            Ok("docker.io/library/alpine")
        );
        assert_eq!(
            resolve_name("docker.io/alpine", None, &k),
            Ok("docker.io/library/alpine")
        );
        assert_eq!(
            resolve_name("pause", Some("registry.k8s.io"), &k),
            Ok("registry.k8s.io/pause")
        );
        assert_eq!(
            resolve_name("library/alpha", Some("registry.test"), &k),
            Ok("registry.test/library/alpha")
        );
        assert_eq!(
            resolve_name("library/alpha", Some("Registry.TEST"), &k),
            Ok("registry.test/library/alpha")
        );
    }

    #[test]
    fn short_names_resolve_when_unique() {
        let k = known();
        assert_eq!(
            resolve_name("calico/node", None, &k),
            Ok("docker.io/calico/node")
        );
        assert_eq!(
            resolve_name("alpine", None, &k),
            Ok("docker.io/library/alpine")
        );
        assert_eq!(
            resolve_name("library/alpine", None, &k),
            Ok("docker.io/library/alpine")
        );
        assert_eq!(
            resolve_name("pause", None, &k),
            Err(NameError::Ambiguous(vec![
                "quay.io/pause".into(),
                "registry.k8s.io/pause".into()
            ]))
        );
        assert_eq!(resolve_name("nope", None, &k), Err(NameError::Unknown));
        assert_eq!(
            resolve_name("calico/node", Some("quay.io"), &k),
            Err(NameError::Unknown)
        );
    }

    #[test]
    fn kubeadm_custom_repository_coredns_path() {
        let k = BTreeSet::from(["registry.k8s.io/coredns/coredns"]);
        assert_eq!(
            resolve_name("registry.k8s.io/coredns", None, &k),
            Ok("registry.k8s.io/coredns/coredns")
        );
        assert_eq!(
            resolve_name("coredns", Some("registry.k8s.io"), &k),
            Ok("registry.k8s.io/coredns/coredns")
        );
    }
}
