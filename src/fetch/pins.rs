//! The lockfile's platform pins of an index, checked against what its platforms select.

use super::FetchError;
use crate::oci::Parsed;
use crate::resolve::image::pins_select_themselves;
use crate::store::Store;

/// A lockfile's children of an index must be what its recorded platforms select (what the
/// bundle's graph carries): one written before outpost followed containerd's platform rule
/// may have pinned another entry.
pub(super) fn check_platform_pins(
    store: &Store,
    pin: &crate::lock::ImagePin,
) -> Result<(), FetchError> {
    if pin.artifact_type.is_some() {
        // An artifact has no platforms: every entry of its index travels.
        return Ok(());
    }
    let bytes = store
        .read_bytes(&pin.digest)
        .map_err(|e| FetchError::Manifest {
            image: pin.reference.clone(),
            digest: pin.digest.clone(),
            message: e.to_string(),
        })?;
    let Ok(Parsed::Index { manifests, .. }) = Parsed::from_bytes(&bytes, Some(&pin.media_type))
    else {
        return Ok(());
    };
    if pins_select_themselves(&manifests, &pin.platforms) {
        return Ok(());
    }
    Err(FetchError::PlatformPins {
        image: pin.reference.clone(),
        digest: pin.digest.clone(),
        pinned: pin
            .platforms
            .iter()
            .map(|p| format!("{} {}", p.platform, p.digest))
            .collect(),
    })
}
