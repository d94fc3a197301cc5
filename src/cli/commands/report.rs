//! `outpost store report` (the site signs a receipt of what it holds, verified and served)
//! and `outpost report verify` (HQ checks it and reads it as a table).

use super::print_json;
use crate::cli::args::ReportVerifyArgs;
use crate::cli::exit::CliError;
use crate::cli::settings::StoreReportSettings;
use outpost::errors::plural;
use outpost::receipt::{self, Receipt, ReportInput};
use outpost::sign::{Signer, Verifier};

pub fn store_report(settings: &StoreReportSettings) -> Result<(), CliError> {
    let password = settings.password.read()?;
    let signer = Signer::load(&settings.key, &password)?;
    let input = ReportInput {
        store: &settings.store,
        audit_logs: &settings.audit_logs,
        since: settings.since.as_deref(),
        now: std::time::SystemTime::now(),
    };
    let statement = receipt::build(&input, signer.fingerprint())?;
    let signature = receipt::write_signed(&statement, &signer, &settings.out)?;
    let pulls: u64 = statement.releases.iter().map(|r| r.pulls).sum();
    println!(
        "wrote {} and {}: {}, {} counted from {}; signed by {}",
        settings.out.display(),
        signature.display(),
        plural(statement.releases.len() as u64, "release"),
        plural(pulls, "pull"),
        plural(settings.audit_logs.len() as u64, "audit log"),
        signer.fingerprint()
    );
    if statement.skipped_lines > 0 {
        eprintln!(
            "warning: {} of the audit logs could not be read and were not counted",
            plural(statement.skipped_lines, "line")
        );
    }
    Ok(())
}

pub fn report_verify(args: &ReportVerifyArgs) -> Result<(), CliError> {
    let verifier = Verifier::load(&args.key)?;
    let statement = receipt::verify(&args.report, &verifier)?;
    if args.json.json {
        print_json(&serde_json::to_value(&statement).unwrap_or_default());
        return Ok(());
    }
    println!(
        "OK {}: signed by the site key {}",
        args.report.display(),
        verifier.fingerprint()
    );
    print!("{}", table(&statement));
    Ok(())
}

/// The receipt as a reader at HQ sees it: the store, then each release with its last
/// verification and its images' pull counts.
fn table(statement: &Receipt) -> String {
    let mut out = String::new();
    let window = match &statement.since {
        Some(since) => format!("since {since}"),
        None => "over the whole audit logs".to_string(),
    };
    out.push_str(&format!(
        "store {} ({}), reported {}; pulls {window}\n",
        statement.store.name, statement.store.path, statement.generated
    ));
    for release in &statement.releases {
        let verified = match &release.last_verify {
            Some(v) if v.ok => format!("verified OK {}", v.time),
            Some(v) => format!(
                "verification FAILED {}: {}",
                v.time,
                v.error.as_deref().unwrap_or("")
            ),
            None => "never verified".to_string(),
        };
        out.push_str(&format!(
            "\n{} {}  {}\n  signed by {}, loaded {}, {}\n  {}\n",
            release.name,
            release.version,
            release.index,
            release.signer,
            release.loaded,
            verified,
            plural(release.pulls, "pull")
        ));
        let width = release
            .images
            .iter()
            .map(|i| i.reference.len())
            .max()
            .unwrap_or(0)
            .max("IMAGE".len());
        out.push_str(&format!(
            "  {:<width$}  {:>6}  {:>14}\n",
            "IMAGE", "PULLS", "PLATFORM PULLS"
        ));
        for image in &release.images {
            out.push_str(&format!(
                "  {:<width$}  {:>6}  {:>14}\n",
                image.reference, image.pulls, image.platform_pulls
            ));
        }
    }
    if statement.other_pulls > 0 {
        out.push_str(&format!(
            "\n{} of digests no release in the store holds (pruned since)\n",
            plural(statement.other_pulls, "pull")
        ));
    }
    out
}
