//! The RPM packages a bundle carries, as `bundle inspect` lists them: from the lockfile the
//! bundle carries (each package's NEVRA, site repository, size, digest and signer, and
//! whether its signature was checked at all).

use crate::digest::Digest;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct RpmInfo {
    /// `name-[epoch:]version-release.arch`.
    pub nevra: String,
    /// Served under `/rpm/<repo>/`.
    pub repo: String,
    /// Below the repository (`Packages/…`).
    pub path: String,
    pub size: u64,
    pub sha256: Digest,
    /// Fingerprint of the key whose header signature was checked at lock time (empty with
    /// `gpgcheck: false`).
    pub signer: String,
    /// False when the manifest turned signature checks off for its repository.
    pub gpgcheck: bool,
}

/// The lockfile's RPM pins, in lockfile order.
pub fn rpms_from_lock(lock: &crate::lock::Lockfile) -> Vec<RpmInfo> {
    lock.rpms
        .iter()
        .map(|pin| RpmInfo {
            nevra: pin.nevra(),
            repo: pin.repo.clone(),
            path: pin.path.clone(),
            size: pin.size,
            sha256: pin.sha256.clone(),
            signer: pin.signer.clone(),
            gpgcheck: pin.gpgcheck,
        })
        .collect()
}
