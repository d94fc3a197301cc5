//! `outpost bundle verify`: the signature, then every part and blob, in one sequential read.

use super::{mib, print_json};
use crate::cli::args::VerifyArgs;
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use outpost::bundle::open::OpenBundle;
use outpost::bundle::{upstream, verify};
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
    let upstream = if args.upstream {
        let opened = OpenBundle::open(bundle, Some(&verifier))?;
        Some(upstream::reverify(&opened)?)
    } else {
        None
    };
    if json {
        let mut out = json!({
            "bundle": bundle,
            "ok": true,
            "signer": report.signer,
            "index_digest": report.index_digest,
            "blobs": report.blobs,
            "bytes": report.bytes,
        });
        if let Some(checked) = &upstream {
            out["upstream"] = json!(checked);
        }
        print_json(&out);
    } else {
        println!(
            "OK {}: signature by {} holds; {} blobs ({}) match their digests",
            bundle.display(),
            report.signer,
            report.blobs,
            mib(report.bytes)
        );
        match &upstream {
            Some(checked) if checked.is_empty() => {
                println!("upstream: the bundle records no upstream signatures to check")
            }
            Some(checked) => {
                let (count, verb) = match checked.len() {
                    1 => ("1 signature".to_string(), "holds"),
                    n => (format!("{n} signatures"), "hold"),
                };
                println!("upstream: {count} {verb}, checked again offline (keyless ones against the carried Sigstore trusted root):");
                for one in checked {
                    println!("  {} ({}): {}", one.name, one.subject, one.signer);
                }
            }
            None => {}
        }
    }
    Ok(())
}
