//! Image references: parsed the way registries and containerd do (`alpine` →
//! `docker.io/library/alpine:latest`), with any digest checked to be one outpost can verify.
//!
//! Used wherever a reference is read: the manifest, the resolver, fetch, the opened bundle,
//! the server's catalog and push. Not for registry paths on the wire (`server::path`).

use crate::digest::Digest;
pub use oci_client::Reference;

/// Parses an image reference, rejecting digests we cannot check.
///
/// Errors: a message naming the text (`` `x` is not an image reference (…) ``).
pub fn parse(text: &str) -> Result<Reference, String> {
    let reference: Reference = text
        .parse()
        .map_err(|e| format!("`{text}` is not an image reference ({e})"))?;
    if let Some(digest) = reference.digest() {
        digest
            .parse::<Digest>()
            .map_err(|e| format!("`{text}`: {e}"))?;
    }
    Ok(reference)
}
