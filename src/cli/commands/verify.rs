//! `outpost bundle verify`: the signature, then every part and blob, in one sequential read.

use super::{mib, print_json};
use crate::cli::args::VerifyArgs;
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use outpost::bundle::verify;
use outpost::progress::Reporter;
use outpost::sign::Verifier;
use serde_json::json;

pub fn verify(args: &VerifyArgs) -> Result<(), CliError> {
    let (bundle, json) = (&args.bundle.bundle, args.json.json);
    let verifier = Verifier::load(&args.key.key)?;
    let bars = Bars::new(json);
    let report =
        verify::verify(bundle, &verifier, &bars).map_err(|e| CliError::from(e).about(bundle))?;
    bars.finish();
    if json {
        print_json(&json!({
            "bundle": bundle,
            "ok": true,
            "signer": report.signer,
            "index_digest": report.index_digest,
            "blobs": report.blobs,
            "bytes": report.bytes,
        }));
    } else {
        println!(
            "OK {}: signature by {} holds; {} blobs ({}) match their digests",
            bundle.display(),
            report.signer,
            report.blobs,
            mib(report.bytes)
        );
    }
    Ok(())
}
