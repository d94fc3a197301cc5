//! `outpost push`: copy a bundle's images (and its lockfile and files, as OCI artifacts) into
//! an existing registry.

use super::{mib, print_json, runtime};
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use crate::cli::settings::PushCommandSettings;
use outpost::bundle::open::OpenBundle;
use outpost::errors::plural;
use outpost::progress::Reporter;
use outpost::push::{self, PushSummary};
use outpost::sign::Verifier;

pub fn push(settings: &PushCommandSettings) -> Result<(), CliError> {
    let verifier = Verifier::load(&settings.key)?;
    let bundle = OpenBundle::open(&settings.bundle, Some(&verifier))?;
    let bars = Bars::new(settings.json);
    let summary = runtime()?.block_on(push::push(&bundle, &settings.push, &bars))?;
    bars.finish();
    if settings.json {
        print_json(&serde_json::to_value(&summary).unwrap_or_default());
    } else {
        print_summary(&summary, &settings.push.registry);
    }
    Ok(())
}

fn print_summary(summary: &PushSummary, registry: &str) {
    println!(
        "pushed {} into {} on {registry}",
        plural(summary.images as u64, "image"),
        plural(summary.repositories as u64, "repository")
    );
    println!(
        "blobs:     {} uploaded ({}), {} mounted, {} already there",
        summary.blobs_pushed,
        mib(summary.bytes_pushed),
        summary.blobs_mounted,
        summary.blobs_skipped
    );
    println!(
        "manifests: {} pushed, {} already there",
        summary.manifests_pushed, summary.manifests_skipped
    );
    if let Some(artifacts) = &summary.artifacts {
        println!("artifacts: lockfile and files in {registry}/{artifacts}");
    }
    for reduced in &summary.reduced {
        println!("reduced:   {reduced}: the registry refused the index as pinned (it lists platforms the bundle does not carry), so the tag names an index of the carried platforms");
    }
}
