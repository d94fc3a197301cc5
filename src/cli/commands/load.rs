//! `outpost load`: verify a bundle and import it into a site store in one pass.

use super::estimate::print_places;
use super::{mib, print_json};
use crate::cli::args::LoadArgs;
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use outpost::bundle::open::OpenBundle;
use outpost::progress::Reporter;
use outpost::sign::Verifier;
use outpost::sitestore::SiteStore;
use outpost::space::{self, Place};
use serde_json::json;

pub fn load(args: &LoadArgs) -> Result<(), CliError> {
    let (bundle, key) = (&args.bundle.bundle, &args.key.key);
    let verifier = Verifier::load(key)?;
    if args.dry_run {
        return dry_run(args, &verifier);
    }
    let site = SiteStore::open(&args.store)?;
    // A bundle that does not open is left to the load, which names the problem itself.
    if let Ok(opened) = OpenBundle::open(bundle, Some(&verifier)) {
        let (_, _, needed) = missing_blobs(&opened, &site);
        space::check(&[("store", args.store.as_path(), needed)])?;
    }
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

/// Bytes a load writes besides blobs: the release's record (signed head, lockfile copy).
const RELEASE_ALLOWANCE: u64 = 1 << 20;

/// `(blobs the store holds, blobs it lacks, bytes it will write)` for `bundle`.
fn missing_blobs(bundle: &OpenBundle, site: &SiteStore) -> (usize, usize, u64) {
    let (mut held, mut lacking, mut bytes) = (0, 0, RELEASE_ALLOWANCE);
    for (digest, location) in &bundle.blobs {
        if site.blobs().has(digest, location.size) {
            held += 1;
        } else {
            lacking += 1;
            bytes += location.size;
        }
    }
    (held, lacking, bytes)
}

/// `load --dry-run`: what the store lacks, and whether it fits; nothing written (a store that
/// does not exist yet is not created).
fn dry_run(args: &LoadArgs, verifier: &Verifier) -> Result<(), CliError> {
    let bundle = OpenBundle::open(&args.bundle.bundle, Some(verifier))?;
    let (held, lacking, needed) = if args.store.join("releases").is_dir() {
        missing_blobs(&bundle, &SiteStore::open(&args.store)?)
    } else {
        let bytes = bundle.blobs.values().map(|l| l.size).sum::<u64>();
        (0, bundle.blobs.len(), bytes + RELEASE_ALLOWANCE)
    };
    let places = space::measure(&[("store", args.store.as_path(), needed)])?;
    if args.json.json {
        print_json(&json!({
            "dry_run": true,
            "bundle": args.bundle.bundle,
            "store": args.store,
            "blobs": bundle.blobs.len(),
            "held_blobs": held,
            "new_blobs": lacking,
            "write_bytes": needed,
            "space": places,
            "fits": places.iter().all(Place::fits),
        }));
        return Ok(());
    }
    println!("dry run: signature holds; nothing stored");
    println!(
        "store:    {} of {} blobs already held; {} new, {} to write ({needed} bytes)",
        held,
        bundle.blobs.len(),
        lacking,
        mib(needed)
    );
    print_places(&places);
    Ok(())
}
