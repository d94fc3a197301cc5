//! Which blobs a bundle carries: the one rule shared by pack, verify and inspect.
//!
//! From an `index.json` entry, an image index carries only the child manifests of the
//! platforms recorded in the entry's `io.outpost.platforms` annotation (the index itself is
//! kept byte for byte); an image or artifact manifest carries its config and layers.

use super::ANNOTATION_PLATFORMS;
use crate::oci::{is_manifest_type, select_platform, Descriptor, OciError, Parsed};
use crate::platform::Platform;

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

/// A blob the bundle must contain, with what needs it (for error messages).
#[derive(Debug, Clone)]
pub struct Carried {
    pub descriptor: Descriptor,
    pub role: Role,
    /// The `index.json` entry that reaches it (`registry/repo:tag`, or `lockfile`).
    pub owner: String,
    /// Platforms carried under that entry.
    pub platforms: Vec<Platform>,
}

/// The role of an `index.json` entry itself.
pub fn top_role(descriptor: &Descriptor) -> Role {
    if is_manifest_type(&descriptor.media_type) {
        Role::Manifest
    } else {
        Role::Data
    }
}

/// Platforms recorded on an `index.json` entry.
pub fn entry_platforms(descriptor: &Descriptor) -> Vec<Platform> {
    descriptor
        .annotations
        .get(ANNOTATION_PLATFORMS)
        .map(|list| {
            list.split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The name an `index.json` entry goes by in messages.
pub fn entry_owner(descriptor: &Descriptor) -> String {
    descriptor
        .annotations
        .get(crate::oci::ANNOTATION_REF_NAME)
        .or_else(|| descriptor.annotations.get(super::ANNOTATION_FILE_PATH))
        .or_else(|| descriptor.annotations.get(super::ANNOTATION_KIND))
        .cloned()
        .unwrap_or_else(|| descriptor.digest.to_string())
}

/// The children a manifest blob carries. `parent` is the manifest's own record.
pub fn carried_children(parent: &Carried, bytes: &[u8]) -> Result<Vec<Carried>, OciError> {
    let parsed = Parsed::from_bytes(bytes, Some(&parent.descriptor.media_type))?;
    let child = |descriptor: &Descriptor, role: Role| Carried {
        descriptor: descriptor.clone(),
        role,
        owner: parent.owner.clone(),
        platforms: parent.platforms.clone(),
    };
    Ok(match &parsed {
        Parsed::Index { manifests, .. } => {
            let mut chosen: Vec<Carried> = Vec::new();
            for platform in &parent.platforms {
                if let Some(d) = select_platform(manifests, platform) {
                    if !chosen.iter().any(|c| c.descriptor.digest == d.digest) {
                        chosen.push(child(d, Role::Manifest));
                    }
                }
            }
            chosen
        }
        Parsed::Image { config, layers, .. } => std::iter::once(child(config, Role::Config))
            .chain(layers.iter().map(|l| child(l, Role::Data)))
            .collect(),
    })
}
