//! The bundle's descriptor graph: which blobs a bundle carries, and the one walker over them.
//!
//! From an `index.json` entry, an image index carries only the child manifests of the
//! platforms recorded on the entry (the index itself is kept byte for byte), or every
//! child when the entry says the index travels whole (a digest-pinned index); an image or
//! artifact manifest carries its config and layers. [`Frontier`] holds what is known to be
//! reachable, in discovery order, and what has been visited; [`walk`] drives it breadth-first
//! when the bytes of any manifest can be had on demand (open, inspect, pack, the site store),
//! and `verify` drives it in tar order as blobs stream past. No other module walks
//! descriptors.

use super::head::Entry;
use crate::digest::Digest;
use crate::oci::{carried_children, is_manifest_type, Descriptor, OciError, Parsed};
use crate::platform::Platform;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Whether a blob is small metadata (kept early in the tar and read into memory) or data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A manifest or index: it has children.
    Manifest,
    /// An image config or other small JSON read by clients first.
    Config,
    /// Layer content (or any artifact payload).
    Data,
}

impl Role {
    /// The word for this role in messages (`manifest`, `config`, `layer`).
    pub fn noun(self) -> &'static str {
        match self {
            Role::Manifest => "manifest",
            Role::Config => "config",
            Role::Data => "layer",
        }
    }
}

/// A blob the bundle must contain, with what needs it (for error messages).
#[derive(Debug, Clone)]
pub struct Carried {
    pub descriptor: Descriptor,
    pub role: Role,
    /// The `index.json` entry that reaches it (`registry/repo:tag`, a file path, `lockfile`);
    /// shared by every blob under the entry (a release of thousands of images holds one
    /// record per blob).
    pub owner: Arc<str>,
    /// Platforms carried under that entry (shared like `owner`).
    pub platforms: Arc<[Platform]>,
    /// Every entry of an index under that entry travels, whatever its platform.
    pub whole_index: bool,
}

impl Carried {
    /// The root of an `index.json` entry's graph.
    pub fn root(entry: &Entry) -> Carried {
        let descriptor = entry.descriptor.clone();
        Carried {
            role: if is_manifest_type(&descriptor.media_type) {
                Role::Manifest
            } else {
                Role::Data
            },
            owner: entry.name().into(),
            platforms: entry.platforms().into(),
            whole_index: entry.whole_index(),
            descriptor,
        }
    }

    /// The children this manifest carries, given its bytes.
    ///
    /// Errors: the bytes are not a manifest or index this bundle format can walk.
    pub fn children(&self, bytes: &[u8]) -> Result<Vec<Carried>, OciError> {
        let parsed = Parsed::from_bytes(bytes, Some(&self.descriptor.media_type))?;
        let child = |descriptor: &Descriptor, role: Role| Carried {
            descriptor: descriptor.clone(),
            role,
            owner: self.owner.clone(),
            platforms: self.platforms.clone(),
            whole_index: self.whole_index,
        };
        Ok(match &parsed {
            Parsed::Index { manifests, .. } if self.whole_index => {
                let mut every: Vec<Carried> = Vec::new();
                for d in manifests {
                    if !every.iter().any(|c| c.descriptor.digest == d.digest) {
                        every.push(child(d, Role::Manifest));
                    }
                }
                every
            }
            Parsed::Index { manifests, .. } => carried_children(manifests, &self.platforms)
                .into_iter()
                .map(|d| child(d, Role::Manifest))
                .collect(),
            Parsed::Image { config, layers, .. } => std::iter::once(child(config, Role::Config))
                .chain(layers.iter().map(|l| child(l, Role::Data)))
                .collect(),
        })
    }
}

/// What is known to be reachable (each digest once, first discovery wins) and what has been
/// visited. Discovery order is breadth-first from the roots.
#[derive(Debug, Default)]
pub struct Frontier {
    known: HashMap<Digest, Carried>,
    order: Vec<Digest>,
    visited: HashSet<Digest>,
}

impl Frontier {
    /// A frontier holding `roots`, in order.
    pub fn new(roots: impl IntoIterator<Item = Carried>) -> Frontier {
        let mut frontier = Frontier::default();
        for root in roots {
            frontier.expect(root);
        }
        frontier
    }

    /// Adds a blob to what is reachable, unless its digest is known already.
    ///
    /// A blob reached again by another path (one index named by tag and by digest, so once
    /// for some platforms and once whole) must carry what either path promises: its record
    /// takes the union of the platforms, `whole_index` if either has it, and the manifest
    /// role if either has it (so its bytes are parsed and its children checked). Roots are
    /// all known before anything is visited, so their children follow the merged record.
    pub fn expect(&mut self, item: Carried) {
        match self.known.get_mut(&item.descriptor.digest) {
            None => {
                self.order.push(item.descriptor.digest.clone());
                self.known.insert(item.descriptor.digest.clone(), item);
            }
            Some(known) => {
                if item.role == Role::Manifest {
                    known.role = Role::Manifest;
                }
                known.whole_index |= item.whole_index;
                // The shared list is copied only when this path adds a platform to it.
                if item.platforms.iter().any(|p| !known.platforms.contains(p)) {
                    let mut platforms = known.platforms.to_vec();
                    for platform in item.platforms.iter() {
                        if !platforms.contains(platform) {
                            platforms.push(platform.clone());
                        }
                    }
                    known.platforms = platforms.into();
                }
            }
        }
    }

    /// The record of a reachable blob.
    pub fn get(&self, digest: &Digest) -> Option<&Carried> {
        self.known.get(digest)
    }

    /// Marks `digest` visited; false if it already was.
    pub fn visit(&mut self, digest: &Digest) -> bool {
        self.visited.insert(digest.clone())
    }

    pub fn is_visited(&self, digest: &Digest) -> bool {
        self.visited.contains(digest)
    }

    /// Adds the children of manifest `item`, read from `bytes`.
    pub fn expand(&mut self, item: &Carried, bytes: &[u8]) -> Result<(), OciError> {
        for child in item.children(bytes)? {
            self.expect(child);
        }
        Ok(())
    }

    /// Every reachable blob's digest, in discovery order.
    pub fn order(&self) -> &[Digest] {
        &self.order
    }

    /// Reachable blobs not visited, in discovery order.
    pub fn unvisited(&self) -> Vec<&Carried> {
        self.order
            .iter()
            .filter(|d| !self.visited.contains(*d))
            .map(|d| &self.known[d])
            .collect()
    }

    /// Number of blobs visited.
    pub fn visited_count(&self) -> usize {
        self.visited.len()
    }

    /// Visits every known blob not yet visited, breadth-first, until nothing new is found.
    /// `visit` returns a manifest's bytes to descend into it, or `None` to leave it (a blob
    /// that is not a manifest, or one whose bytes are not at hand); `bad` names a manifest
    /// that cannot be parsed. Returns the blobs visited by this call, in order.
    pub fn walk<E>(
        &mut self,
        mut visit: impl FnMut(&Carried) -> Result<Option<Vec<u8>>, E>,
        bad: impl Fn(&Carried, OciError) -> E,
    ) -> Result<Vec<Carried>, E> {
        let mut walked = Vec::new();
        let mut next = 0;
        while next < self.order.len() {
            let digest = self.order[next].clone();
            next += 1;
            if !self.visited.insert(digest.clone()) {
                continue;
            }
            let item = self.known[&digest].clone();
            if let Some(bytes) = visit(&item)? {
                if item.role == Role::Manifest {
                    self.expand(&item, &bytes).map_err(|e| bad(&item, e))?;
                }
            }
            walked.push(item);
        }
        Ok(walked)
    }
}

/// Walks the graph of `roots` breadth-first (see [`Frontier::walk`]); each blob is visited
/// once even when several roots reach it. Returns every blob visited, in order.
pub fn walk<E>(
    roots: impl IntoIterator<Item = Carried>,
    visit: impl FnMut(&Carried) -> Result<Option<Vec<u8>>, E>,
    bad: impl Fn(&Carried, OciError) -> E,
) -> Result<Vec<Carried>, E> {
    Frontier::new(roots).walk(visit, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::head::EntryKind;
    use crate::oci::{OCI_INDEX, OCI_MANIFEST};
    use std::collections::BTreeMap;

    fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            platform: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
            urls: Vec::new(),
        }
    }

    fn manifest(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
        let d = |b: &[u8]| serde_json::to_value(descriptor("application/octet-stream", b)).unwrap();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": d(config), "layers": layers.iter().map(|l| d(l)).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    fn index(children: &[(&[u8], &str)]) -> Vec<u8> {
        let manifests: Vec<serde_json::Value> = children
            .iter()
            .map(|(bytes, platform)| {
                let (os, arch) = platform.split_once('/').unwrap();
                let mut d = serde_json::to_value(descriptor(OCI_MANIFEST, bytes)).unwrap();
                d["platform"] = serde_json::json!({"os": os, "architecture": arch});
                d
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})).unwrap()
    }

    fn image_root(bytes: &[u8], platforms: &[&str]) -> Carried {
        Carried::root(&Entry {
            descriptor: descriptor(OCI_INDEX, bytes),
            kind: EntryKind::Image {
                reference: "r.test/app:1".into(),
                platforms: platforms.iter().map(|p| p.parse().unwrap()).collect(),
                whole_index: false,
                artifact_type: None,
                subject: None,
            },
        })
    }

    #[test]
    fn walks_only_the_platforms_carried_and_each_blob_once() {
        let amd = manifest(b"cfg-a", &[b"shared", b"only-a"]);
        let arm = manifest(b"cfg-b", &[b"shared"]);
        let top = index(&[(&amd, "linux/amd64"), (&arm, "linux/arm64")]);
        let blobs: HashMap<Digest, Vec<u8>> = [&amd, &arm, &top]
            .iter()
            .map(|b| (Digest::of(b), b.to_vec()))
            .collect();
        let fetch = |c: &Carried| Ok::<_, String>(blobs.get(&c.descriptor.digest).cloned());
        let bad = |c: &Carried, e: OciError| format!("{}: {e}", c.descriptor.digest);

        let one = walk([image_root(&top, &["linux/amd64"])], fetch, bad).unwrap();
        let roles: Vec<Role> = one.iter().map(|c| c.role).collect();
        assert_eq!(
            roles,
            [
                Role::Manifest,
                Role::Manifest,
                Role::Config,
                Role::Data,
                Role::Data
            ]
        );
        assert!(one.iter().all(|c| &*c.owner == "r.test/app:1"));

        let both = walk(
            [image_root(&top, &["linux/amd64", "linux/arm64"])],
            fetch,
            bad,
        )
        .unwrap();
        // index, two manifests, two configs, two distinct layers (the shared one once)
        assert_eq!(both.len(), 7);
        let shared = Digest::of(b"shared");
        assert_eq!(
            both.iter()
                .filter(|c| c.descriptor.digest == shared)
                .count(),
            1
        );
    }

    /// An index of an amd64 and an arm64 manifest, each with its own config and layer; the
    /// index's bytes, and a walk of `roots` over every blob (7: the index, two manifests,
    /// two configs, two layers, when everything is carried).
    fn two_platform_index() -> (Vec<u8>, impl Fn(Vec<Carried>) -> Vec<Carried>) {
        let amd = manifest(b"cfg-a", &[b"only-a"]);
        let arm = manifest(b"cfg-b", &[b"only-b"]);
        let top = index(&[(&amd, "linux/amd64"), (&arm, "linux/arm64")]);
        let blobs: HashMap<Digest, Vec<u8>> = [&amd, &arm, &top]
            .iter()
            .map(|b| (Digest::of(b), b.to_vec()))
            .collect();
        let walk_all = move |roots: Vec<Carried>| {
            walk(
                roots,
                |c: &Carried| Ok::<_, String>(blobs.get(&c.descriptor.digest).cloned()),
                |c, e| format!("{}: {e}", c.descriptor.digest),
            )
            .unwrap()
        };
        (top, walk_all)
    }

    fn carries_arm64(walked: &[Carried]) -> bool {
        walked
            .iter()
            .any(|c| c.descriptor.digest == Digest::of(b"only-b"))
    }

    #[test]
    fn a_whole_index_carries_every_entry() {
        let (top, walk_all) = two_platform_index();
        let mut root = image_root(&top, &["linux/amd64"]);
        root.whole_index = true;
        let walked = walk_all(vec![root]);
        // the index, both manifests, both configs and both layers: the arm64 ones too
        assert_eq!(walked.len(), 7);
        assert!(carries_arm64(&walked));
    }

    #[test]
    fn one_index_named_by_tag_and_by_digest_carries_what_either_promises() {
        let (top, walk_all) = two_platform_index();
        // The tag entry comes first (the lockfile sorts `:` before `@`) and carries amd64
        // only; the digest entry promises the whole index.
        let by_tag = image_root(&top, &["linux/amd64"]);
        let mut by_digest = image_root(&top, &["linux/amd64"]);
        by_digest.whole_index = true;
        let walked = walk_all(vec![by_tag, by_digest]);
        assert_eq!(walked.len(), 7);
        assert!(carries_arm64(&walked));
    }

    #[test]
    fn a_manifest_that_cannot_be_parsed_is_named() {
        let top = index(&[]);
        let err = walk(
            [image_root(b"not json", &["linux/amd64"])],
            |_| Ok::<_, String>(Some(b"not json".to_vec())),
            |c, e| format!("{} ({}): {e}", c.descriptor.digest, c.owner),
        )
        .unwrap_err();
        assert!(err.contains("r.test/app:1"), "{err}");
        // An index with no platform carried has no children.
        let walked = walk(
            [image_root(&top, &["linux/amd64"])],
            |_| Ok::<_, String>(Some(top.clone())),
            |_, e| e.to_string(),
        )
        .unwrap();
        assert_eq!(walked.len(), 1);
    }

    #[test]
    fn streaming_arrivals_find_what_is_missing() {
        let m = manifest(b"cfg", &[b"layer"]);
        let mut frontier = Frontier::new([Carried::root(&Entry {
            descriptor: descriptor(OCI_MANIFEST, &m),
            kind: EntryKind::Lockfile,
        })]);
        let root = frontier.get(&Digest::of(&m)).unwrap().clone();
        assert!(frontier.visit(&root.descriptor.digest));
        assert!(!frontier.visit(&root.descriptor.digest));
        frontier.expand(&root, &m).unwrap();
        frontier.visit(&Digest::of(b"cfg"));
        let missing: Vec<&Digest> = frontier
            .unvisited()
            .iter()
            .map(|c| &c.descriptor.digest)
            .collect();
        assert_eq!(missing, [&Digest::of(b"layer")]);
        assert_eq!(frontier.get(missing[0]).unwrap().role.noun(), "layer");
    }
}
