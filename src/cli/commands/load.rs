//! `outpost load`: verify a bundle and import it into a site store in one pass.

use super::{mib, print_json};
use crate::cli::args::LoadArgs;
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use outpost::progress::Reporter;
use outpost::sign::Verifier;
use outpost::sitestore::SiteStore;
use serde_json::json;

pub fn load(args: &LoadArgs) -> Result<(), CliError> {
    let (bundle, key) = (&args.bundle.bundle, &args.key.key);
    let verifier = Verifier::load(key)?;
    let site = SiteStore::open(&args.store)?;
    let bars = Bars::new(args.json.json);
    let loaded = site.load(bundle, &verifier, &bars)?;
    bars.finish();
    let (release, new, report) = (loaded.release, loaded.new, loaded.verified);
    let upstream = loaded.upstream;
    if args.json.json {
        print_json(&json!({
            "bundle": bundle,
            "store": args.store,
            "release": release,
            "new": new,
            "stored_blobs": report.stored_blobs,
            "stored_bytes": report.stored_bytes,
            "blobs": report.blobs,
            "upstream": upstream,
        }));
    } else {
        println!(
            "loaded {} {} ({}) into {}: {} new blobs ({}), {} blobs in the release{}",
            release.name,
            release.version,
            release.index_digest,
            args.store.display(),
            report.stored_blobs,
            mib(report.stored_bytes),
            report.blobs,
            if new { "" } else { "; it was already loaded" }
        );
        if !upstream.is_empty() {
            println!(
                "upstream: {} publisher signature{} checked again offline: all hold",
                upstream.len(),
                if upstream.len() == 1 { "" } else { "s" }
            );
        }
        println!(
            "next: outpost serve --store {} --key {}",
            args.store.display(),
            key.display()
        );
    }
    Ok(())
}
