//! `outpost bundle verify`: the signature, then every part and blob, in one sequential read.

use super::{mib, print_json};
use crate::cli::args::VerifyArgs;
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use outpost::bundle::open::OpenBundle;
use outpost::bundle::parts::{self, PartsError};
use outpost::bundle::verify::VerifyError;
use outpost::bundle::{upstream, verify};
use outpost::progress::Reporter;
use outpost::sign::Verifier;
use serde_json::json;

pub fn verify(args: &VerifyArgs) -> Result<(), CliError> {
    let (bundle, json) = (&args.bundle.bundle, args.json.json);
    let verifier = Verifier::load(&args.key.key)?;
    let bars = Bars::new(json);
    let list_path = parts::locate_list(bundle)?;
    let result = verify::verify(bundle, &verifier, &bars);
    bars.finish();
    // A split bundle: name every lost or damaged part (data and parity) and whether the
    // parity can rebuild them. After a good read only the parity parts are left to hash.
    let survey = match (&list_path, &result) {
        (Some(list), Err(VerifyError::Parts(_) | VerifyError::InPart { .. })) => {
            Some(parts::survey(list, true, &bars)?)
        }
        (Some(list), Ok(_)) => Some(parts::survey(list, false, &bars)?),
        _ => None,
    };
    bars.finish();
    if let Some(survey) = survey.as_ref().filter(|s| s.bad().next().is_some()) {
        if json {
            print_json(&json!({
                "bundle": bundle,
                "ok": false,
                "blobs_ok": result.is_ok(),
                "repairable": survey.repairable(),
                "data_parts": survey.data,
                "parity_parts": survey.parity,
                "parts": survey.parts,
            }));
        }
        return Err(PartsError::Unhealthy(Box::new(survey.clone())).into());
    }
    let report = result.map_err(|e| CliError::from(e).about(bundle))?;
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
        if let Some(survey) = &survey {
            out["data_parts"] = json!(survey.data);
            out["parity_parts"] = json!(survey.parity);
            out["parts"] = json!(survey.parts);
        }
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
        if let Some(survey) = survey.as_ref().filter(|s| s.parity > 0) {
            println!("parts: {}", survey.summary());
        }
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
