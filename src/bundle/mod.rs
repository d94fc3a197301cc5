//! The bundle: a signed, uncompressed tar holding an OCI image layout.
//!
//! Layout of the tar, in this order: `oci-layout`, `index.json`, `index.json.sig`, the
//! `blobs/` directories, then every blob reachable from `index.json`: metadata (manifests,
//! indexes, configs, the lockfile artifact) first, layers after. One sequential read therefore
//! verifies the signature, then each blob as it passes, knowing which blobs to expect.
//!
//! Modules: `head` (the signed `index.json`, typed), `graph` (the one walker over
//! descriptors), `entries` (tar member names and the writer's headers), `read` (the one tar
//! reader), `parts` (split bundles), `pack` (write), `verify` (check in one read), `open`
//! (index in place for serving), `inspect`, `delta`, `aptrepo` (the generated apt
//! repository), `rpmrepo` (the packages and generated dnf repositories).

pub mod aptrepo;
pub mod delta;
pub mod diff;
pub mod diff_render;
pub mod entries;
pub mod graph;
pub mod head;
pub mod index_entries;
pub mod inspect;
pub mod open;
pub mod pack;
pub mod parts;
pub mod prefetch;
pub mod read;
pub mod rpmrepo;
pub mod upstream;
pub mod verify;

/// Artifact type and layer media type of files (binaries, tarballs, release markers).
pub const FILE_ARTIFACT_TYPE: &str = "application/vnd.outpost.file.v1";
pub const FILE_MEDIA_TYPE: &str = "application/octet-stream";
/// Layer annotation of a file artifact: its upstream URL.
pub const ANNOTATION_FILE_URL: &str = "io.outpost.file.url";

/// Artifact type and layer media type of the Sigstore trusted root a bundle carries.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

/// Artifact type of the lockfile artifact manifest.
pub const LOCK_ARTIFACT_TYPE: &str = crate::lock::LOCK_MEDIA_TYPE;

pub const OCI_LAYOUT_FILE: &str = "oci-layout";
pub const INDEX_FILE: &str = "index.json";
/// The largest signed `index.json` a bundle may carry (64 MiB): about 100,000 images with
/// annotations, well over the releases outpost carries, and still a bound a hostile bundle
/// cannot use to exhaust memory. Each other member of the head (`oci-layout`, the signature)
/// stays under [`crate::oci::MAX_MANIFEST_SIZE`].
pub const MAX_INDEX_SIZE: u64 = 64 << 20;
pub const SIGNATURE_FILE: &str = "index.json.sig";
