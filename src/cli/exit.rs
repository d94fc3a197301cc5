//! Exit codes: one `ExitStatus` for the whole binary and one exhaustive mapping per library
//! error type (`HasExitStatus`), so the code an error leaves with is decided where its type
//! is listed here, never at a call site. Adding a variant to a library error fails to compile
//! until its exit code is chosen below. Not for rendering: messages are the errors' own.

mod site;

use super::commands::CommandError;
use super::settings::SettingsError;
use outpost::bundle::delta::DeltaError;
use outpost::bundle::inspect::InspectError;
use outpost::bundle::open::OpenError;
use outpost::bundle::pack::PackError;
use outpost::bundle::parts::PartsError;
use outpost::bundle::upstream::UpstreamError;
use outpost::bundle::verify::VerifyError;
use outpost::debian::closure::ClosureError;
use outpost::fetch::FetchError;
use outpost::kubernetes::KubernetesError;
use outpost::lock::LockError;
use outpost::manifest::ManifestError;
use outpost::push::PushError;
use outpost::resolve::ResolveError;
use outpost::sbom::SbomError;
use outpost::server::catalog::CatalogError;
use outpost::sign::SignError;
use outpost::sitestore::load::LoadError;
use outpost::sitestore::SiteError;
use outpost::space::SpaceError;
use outpost::store::StoreError;
use outpost::upstream::http::HttpError;
use std::path::Path;

/// How the process ends (documented in `--help` and the README; keep the numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success = 0,
    /// Something failed that is not one of the cases below (I/O, disk full, …).
    Failure = 1,
    /// The input is wrong: command line, manifest, lockfile, key or password, a Debian package
    /// that does not exist or cannot be satisfied, no apt source, a missing keyring.
    Input = 2,
    /// A bundle, a site store or a site receipt failed verification: tampered, truncated,
    /// wrong key, missing blobs or parts.
    Verify = 3,
    /// An upstream (registry, file host, Debian archive) failed or sent bad content.
    Upstream = 4,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// What the exit-code table says about one error value.
pub trait HasExitStatus {
    fn exit_status(&self) -> ExitStatus;
}

/// An error with the exit status it leaves with.
#[derive(Debug)]
pub struct CliError {
    pub status: ExitStatus,
    pub error: anyhow::Error,
}

impl CliError {
    /// Prefixes the message with what it is about (`<bundle>: <error>`, as one line) unless
    /// it names it already.
    pub fn about(self, subject: &Path) -> Self {
        let subject = subject.display().to_string();
        let message = self.error.to_string();
        if message.contains(&subject) {
            return self;
        }
        CliError {
            status: self.status,
            error: anyhow::anyhow!("{subject}: {message}"),
        }
    }
}

impl<E> From<E> for CliError
where
    E: HasExitStatus + std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        CliError {
            status: error.exit_status(),
            error: anyhow::Error::new(error),
        }
    }
}

/// Errors the binary itself raises with context (writing a file it was asked to write).
impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        CliError {
            status: ExitStatus::Failure,
            error,
        }
    }
}

impl HasExitStatus for std::io::Error {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Failure
    }
}

impl HasExitStatus for SettingsError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            SettingsError::NoCacheDir
            | SettingsError::NoPassword
            | SettingsError::PasswordsDiffer
            | SettingsError::BadCreds
            | SettingsError::BadMirror(_)
            | SettingsError::MirrorTwice(_)
            | SettingsError::RegistryIsUrl(_)
            | SettingsError::KubesprayRelease(_)
            | SettingsError::ClientCaWithoutTls => ExitStatus::Input,
            SettingsError::PasswordRead(_) => ExitStatus::Failure,
        }
    }
}

impl HasExitStatus for CommandError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            CommandError::NotSplit(_)
            | CommandError::EmptyStore(_)
            | CommandError::NoKubernetes(_)
            | CommandError::CaUnreadable(..)
            | CommandError::CaTooLarge(..)
            | CommandError::CaNotPem(_)
            | CommandError::DiffSide(_)
            | CommandError::NoStoredRelease { .. }
            | CommandError::EmptyPassword => ExitStatus::Input,
            CommandError::NoLockfile(_) => ExitStatus::Verify,
            CommandError::PullsPastMirrors { .. } => ExitStatus::Verify,
        }
    }
}

impl HasExitStatus for ManifestError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            ManifestError::Read { .. }
            | ManifestError::Invalid { .. }
            | ManifestError::InvalidNoLocation { .. } => ExitStatus::Input,
        }
    }
}

impl HasExitStatus for LockError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            LockError::Write { .. } => ExitStatus::Failure,
            LockError::Read { .. }
            | LockError::Malformed { .. }
            | LockError::Version { .. }
            | LockError::Stale { .. } => ExitStatus::Input,
        }
    }
}

impl HasExitStatus for SignError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            SignError::Io { .. } | SignError::Generate(_) | SignError::Sign(_) => {
                ExitStatus::Failure
            }
            SignError::Exists { .. }
            | SignError::KeyMissing { .. }
            | SignError::PrivateKey { .. }
            | SignError::PublicKey { .. }
            | SignError::SignatureEncoding
            | SignError::Mismatch => ExitStatus::Input,
        }
    }
}

impl HasExitStatus for KubernetesError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            KubernetesError::BadVersion(_) | KubernetesError::UnsupportedMinor { .. } => {
                ExitStatus::Input
            }
        }
    }
}

/// Resolving: an upstream that fails or lies is `Upstream`; what the manifest asks for that
/// cannot exist (a platform an image lacks, a Debian package no source has or whose
/// dependencies cannot be met, a source or keyring that is not there) is `Input`.
impl HasExitStatus for ResolveError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            ResolveError::Registry(_)
            | ResolveError::LockedPinGone { .. }
            | ResolveError::Referrers { .. }
            | ResolveError::Config { .. }
            | ResolveError::File { .. }
            | ResolveError::ChartDigest { .. }
            | ResolveError::ChartRepublished { .. }
            | ResolveError::AptSignature { .. }
            | ResolveError::AptIndex { .. }
            | ResolveError::AptHttp { .. }
            | ResolveError::AptSourceNeeded { .. }
            | ResolveError::RpmRepo { .. } => ExitStatus::Upstream,
            ResolveError::ChartImage { source, .. } => source.exit_status(),
            ResolveError::Chart { .. } => ExitStatus::Input,
            ResolveError::FileSignature { .. }
            | ResolveError::Unsigned { .. }
            | ResolveError::ChartProvenance { .. } => ExitStatus::Verify,
            ResolveError::PlatformMissing { .. }
            | ResolveError::TrustedRoot { .. }
            | ResolveError::Policy { .. }
            | ResolveError::PlatformAmbiguous { .. }
            | ResolveError::UpdateUnknown { .. }
            | ResolveError::Reference(_)
            | ResolveError::AptSources { .. }
            | ResolveError::AptNoHostSource { .. }
            | ResolveError::AptNoSource
            | ResolveError::AptKeyring { .. }
            | ResolveError::AptRequest { .. }
            | ResolveError::AptVersionClash(_)
            | ResolveError::AptMalformedSource(_)
            | ResolveError::RpmKey { .. }
            | ResolveError::RpmNoHostRepo { .. }
            | ResolveError::RpmClosure { .. } => ExitStatus::Input,
            ResolveError::Kubernetes(error) => error.exit_status(),
            ResolveError::Http(error) => error.exit_status(),
            ResolveError::AptClosure { closure, .. } => closure.exit_status(),
            ResolveError::Store { .. }
            | ResolveError::AptCache { .. }
            | ResolveError::RpmCache { .. } => ExitStatus::Failure,
        }
    }
}

/// The closure runs over a verified index: whatever it cannot do is about the request, but
/// for reading a package back from the index in the local cache (this machine's failure).
impl HasExitStatus for ClosureError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            ClosureError::Unknown(_)
            | ClosureError::Unsatisfiable { .. }
            | ClosureError::Conflict { .. } => ExitStatus::Input,
            ClosureError::Read(_) => ExitStatus::Failure,
        }
    }
}

impl HasExitStatus for HttpError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            HttpError::Request { .. } | HttpError::Status { .. } | HttpError::TooLarge { .. } => {
                ExitStatus::Upstream
            }
        }
    }
}

/// Fetching pinned content: everything that stops it is the upstream's (a full cache
/// included, as before: the message says what to do), but a lockfile whose pins its own
/// platforms do not select, which is bad input.
impl HasExitStatus for FetchError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            FetchError::Manifest { .. }
            | FetchError::Blob { .. }
            | FetchError::Store { .. }
            | FetchError::ForeignLayer { .. } => ExitStatus::Upstream,
            FetchError::PlatformPins { .. } | FetchError::ChartUrl { .. } => ExitStatus::Input,
        }
    }
}

/// The cache only receives downloads: content that does not match is the upstream's.
impl HasExitStatus for StoreError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            StoreError::Io { .. } | StoreError::Busy { .. } => ExitStatus::Failure,
            StoreError::DigestMismatch { .. }
            | StoreError::TooLarge { .. }
            | StoreError::ChecksumMismatch { .. }
            | StoreError::SizeMismatch { .. } => ExitStatus::Upstream,
        }
    }
}

impl HasExitStatus for DeltaError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            DeltaError::Base { .. } | DeltaError::BaseIsDelta { .. } => ExitStatus::Input,
        }
    }
}

/// Packing reads a cache the build just filled: what fails there is a failure.
impl HasExitStatus for PackError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            PackError::MissingBlob { .. }
            | PackError::BadManifest { .. }
            | PackError::Io { .. }
            | PackError::Sign(_)
            | PackError::IndexTooLarge(_)
            | PackError::NoAptKey
            | PackError::RpmHeader { .. }
            | PackError::Store(_) => ExitStatus::Failure,
            PackError::RpmPath { .. } | PackError::Repodata(_) => ExitStatus::Input,
            PackError::Parity(e) => e.exit_status(),
        }
    }
}

/// Sequential verification (and loading into a store): damage is `Verify`; the reader's or
/// the store's I/O is `Failure`; a delta whose base is not loaded is `Input`.
impl HasExitStatus for VerifyError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            VerifyError::Io { .. } | VerifyError::DiskFull { .. } | VerifyError::Store { .. } => {
                ExitStatus::Failure
            }
            VerifyError::BaseNotLoaded { .. } => ExitStatus::Input,
            VerifyError::Truncated(_)
            | VerifyError::Parts(_)
            | VerifyError::InPart { .. }
            | VerifyError::BadEntry(_)
            | VerifyError::Duplicate(_)
            | VerifyError::MissingHead(_)
            | VerifyError::BadIndex(_)
            | VerifyError::Signature { .. }
            | VerifyError::Unexpected { .. }
            | VerifyError::Size { .. }
            | VerifyError::Damaged { .. }
            | VerifyError::BadManifest { .. }
            | VerifyError::Missing { .. }
            | VerifyError::DeltaMismatch { .. } => ExitStatus::Verify,
        }
    }
}

/// Loading into a site store: the store's own failures, else what verification said.
impl HasExitStatus for LoadError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            LoadError::Site(e) => e.exit_status(),
            LoadError::Verify { source, .. } => source.exit_status(),
            LoadError::Upstream(e) => e.exit_status(),
        }
    }
}

/// Writing a bill of materials: a bundle whose lockfile cannot be read is as in
/// re-verification; one with none, or a bad `SOURCE_DATE_EPOCH`, is wrong input.
impl HasExitStatus for SbomError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            SbomError::Upstream(e) => e.exit_status(),
            SbomError::NoLockfile { .. } | SbomError::BadEpoch { .. } => ExitStatus::Input,
        }
    }
}

/// Checking a bundle's upstream signatures again at the site: whatever fails, the bundle's
/// content does not hold as signed upstream.
impl HasExitStatus for UpstreamError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            UpstreamError::Open(e) => e.exit_status(),
            UpstreamError::Invalid { .. } | UpstreamError::Failed { .. } => ExitStatus::Verify,
        }
    }
}

/// Opening a bundle to serve, push or configure from it: a bundle that cannot be opened
/// whole and signed is refused as unverified, whatever the cause.
impl HasExitStatus for OpenError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            OpenError::Io { .. }
            | OpenError::Invalid { .. }
            | OpenError::Signature { .. }
            | OpenError::Parts(_) => ExitStatus::Verify,
        }
    }
}

/// Reading the parts of a split bundle (`bundle join`).
impl HasExitStatus for SpaceError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            SpaceError::NoSpace(_) | SpaceError::Measure { .. } => ExitStatus::Failure,
        }
    }
}

impl HasExitStatus for PartsError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            PartsError::Io { .. } => ExitStatus::Failure,
            PartsError::BadList { .. }
            | PartsError::Missing { .. }
            | PartsError::Size { .. }
            | PartsError::Damaged { .. }
            | PartsError::NoList { .. }
            | PartsError::Unhealthy(_)
            | PartsError::RepairMismatch { .. } => ExitStatus::Verify,
            PartsError::Parity { .. } => ExitStatus::Input,
        }
    }
}

impl HasExitStatus for InspectError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            InspectError::Io { .. } => ExitStatus::Failure,
            InspectError::Invalid { .. } => ExitStatus::Verify,
        }
    }
}

/// The site store: its I/O and locks are `Failure`; a damaged record or blob, or a release
/// that does not open signed, is `Verify`.
impl HasExitStatus for SiteError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            SiteError::Io { .. } | SiteError::Busy { .. } | SiteError::Serving { .. } => {
                ExitStatus::Failure
            }
            SiteError::Store(error) => match error {
                StoreError::Io { .. } | StoreError::Busy { .. } => ExitStatus::Failure,
                StoreError::DigestMismatch { .. }
                | StoreError::TooLarge { .. }
                | StoreError::ChecksumMismatch { .. }
                | StoreError::SizeMismatch { .. } => ExitStatus::Verify,
            },
            SiteError::BadRecord { .. } | SiteError::DamagedBlob { .. } => ExitStatus::Verify,
            SiteError::Open(error) => error.exit_status(),
        }
    }
}

impl HasExitStatus for CatalogError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            CatalogError::Store(error) => error.exit_status(),
            CatalogError::Bundle(error) => error.exit_status(),
        }
    }
}

/// Pushing: a prefix or a name clash is the operator's to fix; the target registry failing,
/// or a bundle blob that cannot be read on the way, is `Upstream` (as before).
impl HasExitStatus for PushError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            PushError::BadPrefix(_) | PushError::Conflict { .. } => ExitStatus::Input,
            PushError::Registry { .. }
            | PushError::Read { .. }
            | PushError::PinsNotResolved { .. } => ExitStatus::Upstream,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_numbers_hold() {
        assert_eq!(ExitStatus::Success.code(), 0);
        assert_eq!(ExitStatus::Failure.code(), 1);
        assert_eq!(ExitStatus::Input.code(), 2);
        assert_eq!(ExitStatus::Verify.code(), 3);
        assert_eq!(ExitStatus::Upstream.code(), 4);
    }

    #[test]
    fn apt_failures_are_input_or_upstream_on_purpose() {
        let unknown = ResolveError::AptClosure {
            arch: "amd64".into(),
            closure: ClosureError::Unknown("nope".into()),
        };
        assert_eq!(unknown.exit_status(), ExitStatus::Input);
        let chain = ResolveError::AptClosure {
            arch: "amd64".into(),
            closure: ClosureError::Unsatisfiable {
                chain: vec!["a".into(), "b".into(), "c".into()],
            },
        };
        assert_eq!(chain.exit_status(), ExitStatus::Input);
        assert_eq!(ResolveError::AptNoSource.exit_status(), ExitStatus::Input);
        let lying = ResolveError::AptIndex {
            url: "http://archive.test/dists/x/main/binary-amd64/Packages".into(),
            message: "does not match the signed Release".into(),
        };
        assert_eq!(lying.exit_status(), ExitStatus::Upstream);
        // A package the usable sources lack while another source was skipped: that source
        // is needed and failed upstream.
        let needed = ResolveError::AptSourceNeeded {
            arch: "amd64".into(),
            closure: ClosureError::Unknown("vendor-tool".into()),
            skipped: vec![outpost::resolve::error::SkippedSource {
                name: "http://vendor.test ./".into(),
                reason: "connection refused".into(),
            }],
        };
        assert_eq!(needed.exit_status(), ExitStatus::Upstream);
    }
}
