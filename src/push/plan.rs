//! What `push` sends where: every target repository with its manifests (children first),
//! tags and blobs, worked out from the opened bundle; tag and prefix grammar; the reduced
//! index for a tag carried for some platforms only. Pure: no network.

use super::PushError;
use crate::bundle::graph::{Carried, Role};
use crate::bundle::open::OpenBundle;
use crate::digest::Digest;
use crate::oci::Descriptor;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One target repository and what it must hold.
#[derive(Debug, Default)]
pub(super) struct RepoPlan {
    /// Manifests in push order (children before parents), with their media types.
    pub(super) manifests: Vec<(Digest, String)>,
    /// Tags to point at top-level manifests.
    pub(super) tags: Vec<(String, Digest, String)>,
    /// Non-manifest blobs (configs, layers).
    pub(super) blobs: Vec<(Digest, u64)>,
    /// Referrers (signatures, attestations, SBOMs), pushed after every manifest and tag
    /// above, each after its subject.
    pub(super) referrers: Vec<ReferrerPlan>,
}

/// One referrer to push, and how a registry without the referrers API finds it.
#[derive(Debug, Clone)]
pub(super) struct ReferrerPlan {
    /// Its manifests in push order (children first, itself last), with media types.
    pub(super) manifests: Vec<(Digest, String)>,
    pub(super) digest: Digest,
    pub(super) media_type: String,
    /// The cosign tag-scheme tag it travels under, if any.
    pub(super) tag: Option<String>,
    /// What it refers to.
    pub(super) subject: Digest,
    /// For an OCI 1.1 referrer (its manifest names the subject): its descriptor in the
    /// referrers tag-schema index.
    pub(super) listed: Option<Descriptor>,
}

pub(super) fn valid_prefix(prefix: &str) -> bool {
    prefix.split('/').all(|c| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    })
}

pub(super) fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        path.to_string()
    } else {
        format!("{prefix}/{path}")
    }
}

/// A tag for a release version (`1.31.2+site` → `1.31.2_site`), within the spec's grammar.
pub fn version_tag(version: &str) -> String {
    let mut tag: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    if tag.is_empty() || tag.starts_with(['.', '-']) {
        tag.insert(0, 'v');
    }
    tag
}

pub(super) fn add_reachable(plan: &mut RepoPlan, reachable: &[Carried], bundle: &OpenBundle) {
    let mut seen: HashSet<Digest> = plan.blobs.iter().map(|(d, _)| d.clone()).collect();
    let known: HashSet<Digest> = plan.manifests.iter().map(|(d, _)| d.clone()).collect();
    let mut manifests = Vec::new();
    for item in reachable {
        let digest = &item.descriptor.digest;
        match item.role {
            Role::Manifest => {
                if !known.contains(digest) && bundle.manifests.contains_key(digest) {
                    manifests.push((digest.clone(), item.descriptor.media_type.clone()));
                }
            }
            Role::Config | Role::Data => {
                if seen.insert(digest.clone()) {
                    plan.blobs.push((digest.clone(), item.descriptor.size));
                }
            }
        }
    }
    // `reachable` is breadth-first from the top: reversed, children come before parents.
    manifests.reverse();
    let mut added = HashSet::new();
    for m in manifests {
        if added.insert(m.0.clone()) {
            plan.manifests.push(m);
        }
    }
    // Entries met later may add children of an index already listed (one index named by tag
    // for some platforms and by digest whole): image manifests go before every index, so a
    // registry that checks an index's entries on push finds them all.
    plan.manifests
        .sort_by_key(|(_, media_type)| crate::oci::is_index_type(media_type));
}

/// A referrer's push: its blobs join the repository's (all blobs go before any manifest),
/// its manifests are its own.
fn referrer_plan(
    repo: &mut RepoPlan,
    image: &crate::bundle::open::IndexedImage,
    subject: &Digest,
    tag: Option<String>,
    bundle: &OpenBundle,
) -> ReferrerPlan {
    let mut own = RepoPlan::default();
    add_reachable(&mut own, &image.reachable, bundle);
    for blob in own.blobs {
        if !repo.blobs.contains(&blob) {
            repo.blobs.push(blob);
        }
    }
    let listed = bundle
        .manifests
        .get(&image.digest)
        .and_then(|bytes| crate::referrers::referrer_descriptor(bytes, &image.media_type))
        .filter(|(named, _)| named == subject)
        .map(|(_, descriptor)| descriptor);
    ReferrerPlan {
        manifests: own.manifests,
        digest: image.digest.clone(),
        media_type: image.media_type.clone(),
        tag,
        subject: subject.clone(),
        listed,
    }
}

/// Puts each referrer after the referrer it refers to (a signature of an SBOM after the
/// SBOM), keeping the order otherwise.
pub(super) fn order_referrers(referrers: &mut Vec<ReferrerPlan>) {
    let carried: HashSet<Digest> = referrers.iter().map(|r| r.digest.clone()).collect();
    let mut placed: HashSet<Digest> = HashSet::new();
    let mut ordered: Vec<ReferrerPlan> = Vec::with_capacity(referrers.len());
    let mut waiting = std::mem::take(referrers);
    loop {
        let before = waiting.len();
        let (ready, rest): (Vec<ReferrerPlan>, Vec<ReferrerPlan>) = waiting
            .into_iter()
            .partition(|r| !carried.contains(&r.subject) || placed.contains(&r.subject));
        placed.extend(ready.iter().map(|r| r.digest.clone()));
        ordered.extend(ready);
        waiting = rest;
        if waiting.is_empty() || waiting.len() == before {
            // Nothing left, or a cycle (digests name their content, so none can be).
            ordered.append(&mut waiting);
            break;
        }
    }
    *referrers = ordered;
}

/// Works out every target repository from the bundle.
pub(super) fn plan(
    bundle: &OpenBundle,
    prefix: &str,
) -> Result<(BTreeMap<String, RepoPlan>, Option<String>), PushError> {
    let mut repos: BTreeMap<String, RepoPlan> = BTreeMap::new();
    let mut sources: HashMap<String, String> = HashMap::new();
    for image in &bundle.images {
        let Ok(reference) = crate::reference::parse(&image.reference) else {
            continue;
        };
        let target = join(prefix, reference.repository());
        let tag = reference.tag().map(str::to_string);
        let key = format!(
            "{target}{}",
            tag.as_ref()
                .map_or(format!("@{}", image.digest), |t| format!(":{t}"))
        );
        if let Some(first) = sources.get(&key).filter(|s| **s != image.reference) {
            return Err(PushError::Conflict {
                target: key,
                first: first.clone(),
                second: image.reference.clone(),
            });
        }
        sources.insert(key, image.reference.clone());
        let repo = repos.entry(target).or_default();
        if let Some(subject) = &image.subject {
            let referrer = referrer_plan(repo, image, subject, tag, bundle);
            repo.referrers.push(referrer);
            continue;
        }
        add_reachable(repo, &image.reachable, bundle);
        match tag {
            Some(tag) => repo
                .tags
                .push((tag, image.digest.clone(), image.media_type.clone())),
            // Pinned by digest only: pushed by digest, children first, like any manifest.
            None => repo
                .manifests
                .push((image.digest.clone(), image.media_type.clone())),
        }
    }
    for repo in repos.values_mut() {
        order_referrers(&mut repo.referrers);
    }
    let mut artifacts_ref = None;
    if !bundle.artifacts.is_empty() {
        let name: String = bundle
            .head
            .release
            .name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let name = name.trim_matches('-');
        let name = if name.is_empty() { "release" } else { name };
        let target = join(prefix, &format!("outpost/{name}"));
        let repo = repos.entry(target.clone()).or_default();
        for artifact in &bundle.artifacts {
            add_reachable(repo, &artifact.reachable, bundle);
        }
        artifacts_ref = Some(format!(
            "{target}:{}",
            version_tag(&bundle.head.release.version)
        ));
    }
    Ok((repos, artifacts_ref))
}

/// The index tagged with the release version in the artifacts repository: the bundle's
/// non-image entries (lockfile, files) with their annotations.
pub(super) fn artifact_index(bundle: &OpenBundle) -> Vec<u8> {
    let manifests: Vec<&crate::oci::Descriptor> =
        bundle.artifacts.iter().map(|a| &a.descriptor).collect();
    let annotations = bundle.head.release_annotations(&bundle.index_digest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::oci::OCI_INDEX,
        "artifactType": "application/vnd.outpost.release.v1",
        "manifests": manifests,
        "annotations": annotations,
    });
    serde_json::to_vec(&index).unwrap_or_default()
}

/// For an index that lists manifests the bundle does not carry (other platforms), the same
/// index with only the carried entries; `None` for anything else.
pub(super) fn reduced_index(
    bytes: &[u8],
    carried: &HashMap<Digest, bytes::Bytes>,
) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let entries = value.get_mut("manifests")?.as_array_mut()?;
    let before = entries.len();
    entries.retain(|entry| {
        entry
            .get("digest")
            .and_then(|d| d.as_str())
            .and_then(|d| d.parse::<Digest>().ok())
            .is_some_and(|d| carried.contains_key(&d))
    });
    if entries.len() == before || entries.is_empty() {
        return None;
    }
    serde_json::to_vec(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referrer(digest: &[u8], subject: &[u8]) -> ReferrerPlan {
        ReferrerPlan {
            manifests: Vec::new(),
            digest: Digest::of(digest),
            media_type: crate::oci::OCI_MANIFEST.into(),
            tag: None,
            subject: Digest::of(subject),
            listed: None,
        }
    }

    #[test]
    fn referrers_of_referrers_come_after_them() {
        let mut list = vec![
            referrer(b"sig-of-sbom", b"sbom"),
            referrer(b"sbom", b"image"),
            referrer(b"sig", b"image"),
        ];
        order_referrers(&mut list);
        let order: Vec<Digest> = list.iter().map(|r| r.digest.clone()).collect();
        assert_eq!(
            order,
            [
                Digest::of(b"sbom"),
                Digest::of(b"sig"),
                Digest::of(b"sig-of-sbom")
            ]
        );
    }

    #[test]
    fn prefixes_and_tags() {
        assert!(valid_prefix("mirror/k8s"));
        assert!(!valid_prefix("Mirror"));
        assert!(!valid_prefix("a//b"));
        assert_eq!(join("", "calico/node"), "calico/node");
        assert_eq!(join("site", "calico/node"), "site/calico/node");
        assert_eq!(version_tag("1.31.2+site"), "1.31.2_site");
        assert_eq!(version_tag(".x"), "v.x");
    }
}
