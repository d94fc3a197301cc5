//! The lockfile (`manifests/NAME.lock`): every pin a release needs, written canonically.
//!
//! The same pins always give the same bytes (sorted, fixed field order, 2-space JSON, one
//! trailing newline), so the lockfile reviews well as a diff. It records its format version
//! and the digest of the manifest it came from, so `--locked` can tell when it is stale.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The format version this build writes and reads.
pub const LOCK_VERSION: u32 = 1;

/// Media type of the lockfile when it travels inside a bundle.
pub const LOCK_MEDIA_TYPE: &str = "application/vnd.outpost.lock.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    pub version: u32,
    pub release: ReleaseId,
    /// Canonical digest of the manifest this lockfile was resolved from.
    pub manifest_digest: Digest,
    pub platforms: Vec<String>,
    /// The Kubernetes version the manifest's `kubernetes.version` resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesPin>,
    pub images: Vec<ImagePin>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FilePin>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub debs: Vec<DebPin>,
    /// Helm charts (and the dependencies they do not vendor).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<ChartPin>,
    /// RPM packages (the closure of `packages.rpm`), served as signed dnf repositories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rpms: Vec<RpmPin>,
    /// The RPM repositories those packages come from, with the packager keys their
    /// signatures were checked against (carried so dnf at the site checks them too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rpm_repos: Vec<RpmRepoPin>,
    /// sha256 of the Sigstore trusted root upstream signatures were checked against (kept
    /// in the cache; the bundle carries it), when any were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root: Option<Digest>,
}

/// One Helm chart, pinned by the sha256 of its `.tgz` (and, from an OCI registry, by its
/// manifest digest too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartPin {
    pub name: String,
    pub version: String,
    /// Where it came from: the chart repository's base URL, or `oci://REGISTRY/PATH/NAME`.
    pub source: String,
    /// The site chart repository it is served in (`/charts/<repository>/`); none for an
    /// OCI chart, served only under `/v2/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The OCI reference it travels and is served under (`charts.example.com/stable/
    /// ingress-nginx:4.11.3`; a version's `+` is `_` in a tag, as Helm writes it).
    pub reference: String,
    /// The `.tgz` URL (chart repositories), as the index gave it, made absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// sha256 of the `.tgz`.
    pub sha256: Digest,
    pub size: u64,
    /// The upstream manifest digest (OCI charts; also one of `images`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Digest>,
    /// `created` from the repository's index, when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `Chart.yaml` as JSON (the OCI config; the site's index.yaml entry).
    pub metadata: serde_json::Value,
    /// The provenance file, when `verify.keyring` asked for it to be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ProvenancePin>,
    /// For a dependency pinned because its parent does not vendor it: `NAME VERSION` of
    /// the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_of: Option<String>,
    /// References of the images found in it (each an image pin with its `why`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Templates that compute an image outpost cannot evaluate (`templates/x.yaml:12:
    /// {{ include "img" . }}`); `images.add` covers them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unevaluated: Vec<String>,
}

/// A chart's checked provenance file (Helm's clear-signed `.prov`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenancePin {
    pub url: String,
    pub sha256: Digest,
    pub size: u64,
    /// Who signed: the key's user id and fingerprint.
    pub signer: String,
}

/// One RPM package, pinned by the sha256 of the `.rpm` file (the file is carried unchanged;
/// the bundle's `rpm/<repo>/repodata/` is generated from the packages' own headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpmPin {
    pub name: String,
    /// RPM epoch; 0 when the package has none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u32,
    pub version: String,
    pub release: String,
    /// `x86_64`, `aarch64`, `noarch`, …
    pub arch: String,
    /// The repository it is served from at the site: `/rpm/<repo>/` (the manifest entry's
    /// `name`, or one derived from its baseurl).
    pub repo: String,
    /// `location href` in the upstream repository (`Packages/c/container-selinux-….rpm`);
    /// also its path under `/rpm/<repo>/` at the site.
    pub path: String,
    /// Where it was fetched from (baseurl + path, `$basearch` expanded).
    pub url: String,
    pub sha256: Digest,
    pub size: u64,
    /// The repository's baseurl with `$basearch` expanded.
    pub source: String,
    /// `requested`, or the chain that pulled it in (`needed by X (requires Y)`).
    pub why: String,
    /// Fingerprint of the OpenPGP key whose header signature was checked (upper-case hex),
    /// empty when the manifest entry said `gpgcheck: false`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signer: String,
    /// False when the manifest turned signature checks off for this repository (flagged by
    /// `inspect`).
    pub gpgcheck: bool,
    /// `rpm:header-range end` from primary.xml: the byte offset where the package's
    /// signature header and header end (what a header signature check reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_end: Option<u64>,
}

/// One RPM repository of the manifest, as the site serves it at `/rpm/<name>/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpmRepoPin {
    pub name: String,
    /// Upstream baseurls, `$basearch` expanded, one per architecture resolved.
    pub sources: Vec<String>,
    /// ASCII-armored OpenPGP public keys the packages' header signatures were checked
    /// against (the manifest's `gpgkey`), in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// False when the manifest said `gpgcheck: false`.
    pub gpgcheck: bool,
}

impl RpmPin {
    /// `name-[epoch:]version-release.arch`, as rpm and dnf print a package.
    pub fn nevra(&self) -> String {
        if self.epoch == 0 {
            format!(
                "{}-{}-{}.{}",
                self.name, self.version, self.release, self.arch
            )
        } else {
            format!(
                "{}-{}:{}-{}.{}",
                self.name, self.epoch, self.version, self.release, self.arch
            )
        }
    }
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// One Debian package, pinned by the sha256 its signed index gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebPin {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// Path in the archive (`pool/main/s/socat/socat_1.7.4.4-2_amd64.deb`).
    pub path: String,
    pub url: String,
    pub sha256: Digest,
    pub size: u64,
    /// `<archive uri> <suite>`.
    pub source: String,
    /// `requested`, or `needed by <package>`.
    pub why: String,
    /// The package's control fields from the signed index (what the generated apt
    /// repository lists; `Filename`, `Size` and `SHA256` are added at build time).
    pub control: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesPin {
    /// As written in the manifest (`stable-1.31`).
    pub requested: String,
    /// What it resolved to (`v1.31.2`).
    pub version: String,
}

/// One file, pinned by the sha256 of its upstream bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePin {
    /// The real upstream URL.
    pub url: String,
    /// Where the mirror serves it: `/files/<path>` (upstream host and path).
    pub path: String,
    pub sha256: Digest,
    pub size: u64,
    /// How the content was checked: `sha256 from <checksum url>`, `sha512 in the manifest`, …
    pub verified_by: String,
    /// No upstream checksum: pinned by what was downloaded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// The upstream signature that was verified, when the manifest asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<FileSignature>,
}

/// A file's verified upstream signature: its material (kept in the cache by sha256, so a
/// bundle can carry it and the site can re-verify), the policy, and who signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSignature {
    pub material: Vec<SignatureMaterialPin>,
    pub policy: crate::trust::Policy,
    pub signer: crate::trust::Signer,
}

/// One blob of signature material: `bundle`, `sig` or `cert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureMaterialPin {
    pub role: String,
    pub url: String,
    pub sha256: Digest,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseId {
    pub name: String,
    pub version: String,
}

/// One image: what the manifest asked for, and what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePin {
    /// Fully qualified reference as requested (`docker.io/library/alpine:3.20`).
    pub reference: String,
    /// Digest of the manifest or index the reference resolved to (stored unchanged).
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// The manifest carried for each requested platform.
    pub platforms: Vec<PlatformPin>,
    /// The index's other entries, carried too because the reference pins the index by
    /// digest (that digest promises exactly this index, and registries that check an
    /// index's entries on push, distribution and Harbor, accept it only whole), or because
    /// the index is an artifact (every entry of it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_carried: Vec<PlatformPin>,
    /// Set for a platform-less OCI artifact (a Helm chart pushed as OCI, a signature, an
    /// SBOM, any OCI 1.1 artifact): the manifest's `artifactType`, else its config's media
    /// type. Such a pin has no `platforms` and travels whole, byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// What refers to this image upstream (signatures, attestations, SBOMs, and what refers
    /// to those, to a bounded depth), carried with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referrers: Vec<ReferrerPin>,
    /// The upstream signatures a `spec.verify` policy required, as they held at lock: one
    /// for the image's own digest, or one per platform manifest carried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<ImageSignature>,
    /// Why the image is here when the manifest does not list it (`chart ingress-nginx
    /// 4.11.3: values controller.image`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
}

/// An upstream signature (or attestation) of an image that held under a policy at lock; the
/// site checks it again, offline, from the bundle ([`crate::bundle::upstream`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSignature {
    /// The digest signed: the image's index or manifest, or one platform manifest.
    pub subject: Digest,
    /// The referrer that holds the signature (one of the image's `referrers`).
    pub signature: Digest,
    /// The referrer's layer that verified (simple-signing payload, DSSE envelope or
    /// Sigstore bundle).
    pub layer: Digest,
    pub policy: crate::trust::Policy,
    pub require: crate::trust::Requirement,
    pub signer: crate::trust::Signer,
}

/// One referrer of an image (or of another referrer): an OCI 1.1 artifact whose `subject`
/// is `subject`, or a cosign tag-scheme artifact (`sha256-<hex>.sig`, `.att`, `.sbom`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferrerPin {
    /// The digest this artifact refers to: the image's index, one of its platform
    /// manifests, or another referrer (a signature of an SBOM).
    pub subject: Digest,
    pub digest: Digest,
    pub media_type: String,
    /// The artifact's `artifactType` (else its config's media type).
    pub artifact_type: String,
    pub size: u64,
    pub kind: ReferrerKind,
    /// The cosign tag-scheme tag it was found under (`sha256-<hex>.sig`); none for a
    /// referrer found through the referrers API or the referrers tag schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// What a referrer is, for `spec.referrers: {include: […]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReferrerKind {
    Signature,
    Attestation,
    Sbom,
    Other,
}

impl ImagePin {
    /// Whether every entry of the pinned index travels (a digest-pinned index), rather
    /// than only the requested platforms' manifests.
    pub fn whole_index(&self) -> bool {
        !self.also_carried.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformPin {
    pub platform: String,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read lockfile {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write lockfile {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("lockfile {path} is not valid: {message} (delete it and run `outpost lock` again)")]
    Malformed { path: PathBuf, message: String },
    #[error("unsupported lockfile schema version in {path} (v{found}, but only v{LOCK_VERSION} is supported): run `outpost lock` again")]
    Version { path: PathBuf, found: u64 },
    #[error("lockfile {path} is stale: it was resolved from a manifest with digest {locked}, but the manifest is now {current}; run `outpost lock` (or build without --locked) to update it")]
    Stale {
        path: PathBuf,
        locked: Digest,
        current: Digest,
    },
}

impl Lockfile {
    /// Puts the pins in canonical order (images by reference, platforms as requested).
    pub fn canonicalize(&mut self) {
        self.images.sort_by(|a, b| a.reference.cmp(&b.reference));
        self.images.dedup_by(|a, b| a.reference == b.reference);
        for image in &mut self.images {
            image
                .referrers
                .sort_by(|a, b| (&a.subject, &a.digest).cmp(&(&b.subject, &b.digest)));
            image
                .referrers
                .dedup_by(|a, b| a.subject == b.subject && a.digest == b.digest);
        }
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        self.files.dedup_by(|a, b| a.path == b.path);
        // A chart both listed and pinned as another's dependency keeps the listed pin (its
        // images, its provenance): it sorts first and dedup keeps the first.
        self.charts.sort_by(|a, b| {
            let key = |c: &ChartPin| {
                (
                    c.source.clone(),
                    c.name.clone(),
                    c.version.clone(),
                    c.dependency_of.is_some(),
                )
            };
            key(a).cmp(&key(b))
        });
        self.charts
            .dedup_by(|a, b| a.source == b.source && a.name == b.name && a.version == b.version);
        self.debs
            .sort_by(|a, b| (&a.arch, &a.name).cmp(&(&b.arch, &b.name)));
        self.debs
            .dedup_by(|a, b| a.arch == b.arch && a.name == b.name);
        self.rpms.sort_by(|a, b| {
            (&a.repo, &a.arch, &a.name, &a.path).cmp(&(&b.repo, &b.arch, &b.name, &b.path))
        });
        self.rpms
            .dedup_by(|a, b| a.repo == b.repo && a.path == b.path);
        self.rpm_repos.sort_by(|a, b| a.name.cmp(&b.name));
        self.rpm_repos.dedup_by(|a, b| a.name == b.name);
    }

    /// The canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut copy = self.clone();
        copy.canonicalize();
        let mut bytes = serde_json::to_vec_pretty(&copy).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Parses lockfile bytes; `path` labels errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, LockError> {
        parse_versioned(path, bytes)
    }

    pub fn load(path: &Path) -> Result<Self, LockError> {
        let bytes = std::fs::read(path).map_err(|source| LockError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Writes the canonical bytes atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        crate::fsutil::write_atomic(path, &self.to_bytes()).map_err(|source| LockError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Fails when the manifest changed since this lockfile was written.
    pub fn check_fresh(&self, path: &Path, current: &Digest) -> Result<(), LockError> {
        if &self.manifest_digest == current {
            Ok(())
        } else {
            Err(LockError::Stale {
                path: path.to_path_buf(),
                locked: self.manifest_digest.clone(),
                current: current.clone(),
            })
        }
    }
}

/// Where the lockfile of a manifest lives: beside it, `.yaml`/`.yml` replaced by `.lock`.
pub fn lock_path_for(manifest: &Path) -> PathBuf {
    manifest.with_extension("lock")
}

/// Lockfile bytes as `T`: the whole [`Lockfile`], or a view that reads only some fields (the
/// dashboard's rows). The schema version is checked first (a later schema gets its own
/// message, [`LockError::Version`]), then `T` is parsed straight from the bytes, with no
/// `serde_json::Value` tree of the whole file in between. `path` labels errors.
pub fn parse_versioned<T: serde::de::DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
) -> Result<T, LockError> {
    let malformed = |message: String| LockError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    #[derive(serde::Deserialize)]
    struct Head {
        version: Option<serde_json::Value>,
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    match head.version.as_ref().and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(LOCK_VERSION) => {}
        Some(found) => {
            return Err(LockError::Version {
                path: path.to_path_buf(),
                found,
            })
        }
        None => return Err(malformed("no `version` field".into())),
    }
    serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))
}

#[cfg(test)]
mod tests;
