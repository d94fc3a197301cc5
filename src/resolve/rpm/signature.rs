//! The `rpm -K` check at lock time: each selected package of a `gpgcheck` repository has
//! its header signature verified against the repository's `gpgkey`, from a ranged download
//! of the file's headers only (primary.xml's `rpm:header-range` end, or as many bytes as
//! the lead and signature header say are needed). The header carries the payload's digest,
//! and the pin carries the whole file's sha256, so the builder's download is bound to the
//! header checked here.

use super::ResolveError;
use crate::debian::openpgp::Keyring;
use crate::lock::RpmPin;
use crate::rpm::header::{verify_header_signature, HeaderError};
use crate::upstream::http::Http;

/// A first guess when primary.xml gives no header range: most headers fit.
const FIRST_READ: usize = 256 << 10;
/// rpm's own bound on a header's data, plus the lead and index: no package needs more.
const MAX_HEADERS: usize = 0x1000_0000 + (1 << 20);

/// Verifies `pin`'s header signature with `keys` and records the signer's fingerprint.
///
/// Errors: `RpmRepo` naming the package's URL when it cannot be read, is not an RPM, is
/// unsigned, signed by a key that is not the repository's, or altered after signing, or
/// when its header names another package than primary.xml did.
pub async fn check(http: &Http, keys: &Keyring, pin: &mut RpmPin) -> Result<(), ResolveError> {
    let failed = |message: String| ResolveError::RpmRepo {
        url: pin.url.clone(),
        message,
    };
    let mut want = pin
        .header_end
        .map(|end| usize::try_from(end).unwrap_or(MAX_HEADERS))
        .unwrap_or(FIRST_READ)
        .min(MAX_HEADERS);
    for _ in 0..3 {
        let prefix = http
            .get_prefix(&pin.url, want)
            .await
            .map_err(|e| failed(e.detail()))?;
        match verify_header_signature(&prefix, keys.keys()) {
            Ok(fingerprint) => {
                let package =
                    crate::rpm::header::parse(&prefix).map_err(|e| failed(e.to_string()))?;
                let found = package.nevra();
                if found != pin.nevra() {
                    return Err(failed(format!(
                        "the file's header is {found}, primary.xml says {}",
                        pin.nevra()
                    )));
                }
                pin.signer = fingerprint;
                return Ok(());
            }
            Err(HeaderError::Truncated { needed, have })
                if needed > want && needed <= MAX_HEADERS && have == want =>
            {
                want = needed;
            }
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    Err(failed("its headers could not be read whole".into()))
}
