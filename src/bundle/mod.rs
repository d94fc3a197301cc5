//! The bundle: a signed, uncompressed tar holding an OCI image layout.
//!
//! Layout of the tar, in this order: `oci-layout`, `index.json`, `index.json.sig`, the
//! `blobs/` directories, then every blob reachable from `index.json`: metadata (manifests,
//! indexes, configs, the lockfile artifact) first, layers after. One sequential read therefore
//! verifies the signature, then each blob as it passes, knowing which blobs to expect.

pub mod aptrepo;
pub mod delta;
pub mod entries;
pub mod graph;
pub mod inspect;
pub mod open;
pub mod pack;
pub mod parts;
pub mod verify;

/// Annotation on `index.json` entries: the platforms carried for that image (comma separated).
pub const ANNOTATION_PLATFORMS: &str = "io.outpost.platforms";
/// Annotation on `index.json` entries that are not images (`lockfile`).
pub const ANNOTATION_KIND: &str = "io.outpost.kind";
/// `index.json` annotations describing the release and its signer.
pub const ANNOTATION_RELEASE_NAME: &str = "io.outpost.release.name";
pub const ANNOTATION_RELEASE_VERSION: &str = "io.outpost.release.version";
pub const ANNOTATION_MANIFEST_DIGEST: &str = "io.outpost.manifest.digest";
pub const ANNOTATION_SIGNER: &str = "io.outpost.signer";
pub const ANNOTATION_FORMAT: &str = "io.outpost.format";
/// Bundle format version written into `index.json`.
pub const FORMAT_VERSION: &str = "1";

/// Artifact type and layer media type of files (binaries, tarballs, release markers).
pub const FILE_ARTIFACT_TYPE: &str = "application/vnd.outpost.file.v1";
pub const FILE_MEDIA_TYPE: &str = "application/octet-stream";
/// Annotations of file entries: where the mirror serves it, its upstream URL, no checksum.
pub const ANNOTATION_FILE_PATH: &str = "io.outpost.file.path";
pub const ANNOTATION_FILE_URL: &str = "io.outpost.file.url";
pub const ANNOTATION_FILE_INSECURE: &str = "io.outpost.file.insecure";
/// `index.json` annotation: the pinned Kubernetes version, if any.
pub const ANNOTATION_KUBERNETES_VERSION: &str = "io.outpost.kubernetes.version";

/// Artifact type of the lockfile artifact manifest.
pub const LOCK_ARTIFACT_TYPE: &str = crate::lock::LOCK_MEDIA_TYPE;

pub const OCI_LAYOUT_FILE: &str = "oci-layout";
pub const INDEX_FILE: &str = "index.json";
pub const SIGNATURE_FILE: &str = "index.json.sig";
/// `index.json` annotations of a delta bundle: the base's `index.json` digest and release,
/// and what was left out because the base has it.
pub const ANNOTATION_DELTA_BASE: &str = "io.outpost.delta.base";
pub const ANNOTATION_DELTA_BASE_RELEASE: &str = "io.outpost.delta.base.release";
pub const ANNOTATION_DELTA_OMITTED_BLOBS: &str = "io.outpost.delta.omitted.blobs";
pub const ANNOTATION_DELTA_OMITTED_BYTES: &str = "io.outpost.delta.omitted.bytes";
