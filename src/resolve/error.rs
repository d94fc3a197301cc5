//! Why resolving a release into pins failed: one enum for images, files and Debian packages,
//! each variant carrying the values a user needs to act on it (the URL, the package, the
//! chain of dependencies). Nothing here chooses an exit code: the binary maps every variant
//! in one place (`cli/exit.rs`).

use crate::debian::closure::ClosureError;
use crate::debian::openpgp::PgpError;
use crate::debian::relation::RelationError;
use crate::debian::sources::MalformedSource;
use crate::digest::Digest;
use crate::store::StoreError;
use crate::upstream::http::HttpError;
use crate::upstream::registry::RegistryError;
use std::path::PathBuf;

fn other_variants_hint(wanted: &str, other_variants: &[String]) -> String {
    if other_variants.is_empty() {
        return String::new();
    }
    format!(
        " (a node asking for {wanted} does not pull {}: to carry one, name it in spec.platforms)",
        other_variants.join(" or ")
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{image}: no manifest for platform {wanted}; the image has {}{}", available.join(", "), other_variants_hint(wanted, other_variants))]
    PlatformMissing {
        image: String,
        wanted: String,
        available: Vec<String>,
        /// Entries of the same OS and architecture that a node asking for `wanted` does not
        /// take (another variant or Windows build).
        other_variants: Vec<String>,
    },
    /// The entries chosen for these platforms are not what the same platforms, as the
    /// lockfile records them, choose again (an index listing one platform several ways).
    #[error("{image}: the index lists {} in a way outpost cannot pin unambiguously (the entries chosen for {} are not what the recorded platforms {} choose again); name the exact platforms in spec.platforms", available.join(", "), requested.join(", "), recorded.join(", "))]
    PlatformAmbiguous {
        image: String,
        available: Vec<String>,
        requested: Vec<String>,
        recorded: Vec<String>,
    },
    #[error("{image}: image config {digest}: {message}")]
    Config {
        image: String,
        digest: Digest,
        message: String,
    },
    #[error("{image}: {source}")]
    Store { image: String, source: StoreError },
    #[error("`{0}` is not a valid image reference")]
    Reference(String),
    /// The referrers of an image (or of one of its manifests or referrers) could not be
    /// listed or fetched upstream.
    #[error("{image}: referrers of {subject}: {message}")]
    Referrers {
        image: String,
        subject: Digest,
        message: String,
    },
    /// A tag moved upstream, and the digest the lockfile pinned is gone from the registry.
    #[error("{image}: the locked digest {locked} is no longer available upstream (the tag now names {upstream}): {message}; run `outpost lock MANIFEST --update {image}` to move the pin")]
    LockedPinGone {
        image: String,
        locked: Digest,
        upstream: Digest,
        message: String,
    },
    /// `lock --update IMAGE` names no image of the manifest.
    #[error("--update {name}: the manifest has no such image (its images: {})", images.join(", "))]
    UpdateUnknown { name: String, images: Vec<String> },
    #[error("{url}: {message}")]
    File { url: String, message: String },
    /// A chart of `spec.charts` (or a dependency) cannot be pinned: not in its repository's
    /// index, no matching version, a malformed archive or index, an unreachable dependency.
    #[error("chart {chart}: {message}")]
    Chart { chart: String, message: String },
    /// A chart's bytes are not what its repository's index (or OCI manifest) says.
    #[error("chart {chart}: {url} has sha256 {actual}, but the repository says {expected}; the repository or something between changed it: do not use it, and tell the repository's owner")]
    ChartDigest {
        chart: String,
        url: String,
        expected: String,
        actual: String,
    },
    /// A chart version the previous lockfile pinned has other bytes upstream now.
    #[error("chart {chart}: the lockfile pinned sha256 {locked}, but upstream now serves sha256 {upstream} for the same version (republished); find out why, then `outpost lock --update` to accept it")]
    ChartRepublished {
        chart: String,
        locked: Digest,
        upstream: Digest,
    },
    /// A chart's provenance file is missing, or does not verify with the keyring.
    #[error("chart {chart}: provenance not verified: {message}")]
    ChartProvenance { chart: String, message: String },
    /// An image a chart deploys could not be pinned.
    #[error("{why}: {source}; if the chart does not need it, leave it out with `images: {{exclude: [...]}}` in that chart's entry")]
    ChartImage {
        why: String,
        source: Box<ResolveError>,
    },
    /// A file's upstream signature does not verify (or its material cannot be had).
    #[error("{url}: signature not verified: {message}")]
    FileSignature { url: String, message: String },
    #[error("{image}{}: no valid upstream {}: expected {expected}; found {found}", if platforms.is_empty() { String::new() } else { format!(" ({})", platforms.join(", ")) }, if expected.contains("attestation") { "attestation" } else { "signature" })]
    Unsigned {
        image: String,
        /// The platforms whose manifests lack one (when neither the index is signed nor
        /// every platform manifest).
        platforms: Vec<String>,
        expected: String,
        found: String,
    },
    #[error("spec.verify `{pattern}`: {message}")]
    Policy { pattern: String, message: String },
    #[error("trusted root {path}: {message} (give a Sigstore trusted_root.json)")]
    TrustedRoot {
        path: std::path::PathBuf,
        message: String,
    },
    /// A file host could not be reached or answered with an error (the error names the URL).
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Kubernetes(crate::kubernetes::KubernetesError),

    // Debian packages (`spec.packages.apt`).
    /// The host's apt configuration (`source: system`) could not be read.
    #[error("{etc}: {message}")]
    AptSources { etc: PathBuf, message: String },
    /// `source: system`, but the host lists no `deb` source.
    #[error("{etc}: no `deb` sources are configured on this host")]
    AptNoHostSource { etc: PathBuf },
    /// An apt entry names neither `source: system` nor a `url:`.
    #[error("spec.packages.apt: no source")]
    AptNoSource,
    /// The keyring a source is checked with is missing, unreadable or holds no key.
    #[error("{url}: {pgp}")]
    AptKeyring { url: String, pgp: PgpError },
    /// The archive's InRelease / Release.gpg is missing or does not verify with the keyring.
    #[error("{url}: {message}")]
    AptSignature { url: String, message: String },
    /// The archive's Release or Packages index is malformed, expired, or does not match the
    /// signed Release (tampered, or a half-updated mirror).
    #[error("{url}: {message}")]
    AptIndex { url: String, message: String },
    /// The archive could not be reached or answered with an error.
    #[error("{url}: {message}")]
    AptHttp { url: String, message: String },
    /// The local cache failed while keeping an index.
    #[error("{url}: {store}")]
    AptCache { url: String, store: StoreError },
    /// A requested package is not a valid `name`, `name=version` or `name (op version)`.
    #[error("{request}: {relation}")]
    AptRequest {
        request: String,
        relation: RelationError,
    },
    /// The dependency closure failed: an unknown package, an unsatisfiable dependency (with
    /// the chain of packages that led to it) or a conflict.
    #[error("packages for {arch}: {closure}")]
    AptClosure { arch: String, closure: ClosureError },
    /// Two apt entries resolved one package to two versions.
    #[error(transparent)]
    AptVersionClash(Box<VersionClash>),
    /// An explicit `url:` entry that apt would refuse (a flat suite with components, no
    /// suite).
    #[error("spec.packages.apt: {0}")]
    AptMalformedSource(MalformedSource),
    /// The closure failed while some sources could not be used: what it lacks may be in
    /// one of them, so they are named with why each was skipped.
    #[error("packages for {arch}: {closure}; {} could not be used and may have it: {}", if skipped.len() == 1 { "this apt source" } else { "these apt sources" }, skipped.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    AptSourceNeeded {
        arch: String,
        closure: ClosureError,
        skipped: Vec<SkippedSource>,
    },

    // RPM packages (`spec.packages.rpm`).
    /// A `gpgkey` could not be read, or is not an ASCII-armored OpenPGP public key.
    #[error("gpgkey {key}: {message}")]
    RpmKey { key: String, message: String },
    /// `source: system`, but the host has no usable dnf repository.
    #[error("{dir}: {message}")]
    RpmNoHostRepo { dir: PathBuf, message: String },
    /// A repository's metadata is unreachable, not signed (or not by its key), malformed,
    /// or does not match repomd.xml's checksums; the URL names the file.
    #[error("{url}: {message}")]
    RpmRepo { url: String, message: String },
    /// The local cache failed while keeping a metadata file.
    #[error("{url}: {store}")]
    RpmCache { url: String, store: StoreError },
    /// The dependency closure failed: an unknown package, an unsatisfiable dependency (with
    /// the chain that led to it) or a conflict.
    #[error("rpm packages from {repo} for {arch}: {closure}")]
    RpmClosure {
        repo: String,
        arch: String,
        closure: Box<crate::rpm::closure::ClosureError>,
    },
}

/// A source left out of a resolution because it could not be used (unreachable, unsigned,
/// malformed, its index damaged): which, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} ({reason})")]
pub struct SkippedSource {
    /// `URI SUITE [COMPONENT…]` and where it is configured, or the malformed entry's place.
    pub name: String,
    pub reason: String,
}

/// One package and architecture resolved to two versions by different apt entries.
#[derive(Debug, thiserror::Error)]
#[error("package {name} ({arch}): resolved to both {first} ({first_why}) and {second} ({second_why}) by different spec.packages.apt entries; pin one version")]
pub struct VersionClash {
    pub name: String,
    pub arch: String,
    pub first: String,
    pub first_why: String,
    pub second: String,
    pub second_why: String,
}
