//! `outpost store list|prune|verify`: the releases of a site store, pruning old ones, and
//! checking every release's signature and every blob they reference.

use super::{mib, print_json};
use crate::cli::args::StoreArgs;
use crate::cli::exit::CliError;
use outpost::errors::plural;
use outpost::sign::Verifier;
use outpost::sitestore::SiteStore;
use serde_json::json;
use std::path::Path;

pub fn store_list(target: &StoreArgs) -> Result<(), CliError> {
    let dir = target.store.as_path();
    let site = SiteStore::open(dir)?;
    let releases = site.releases()?;
    if target.json.json {
        print_json(&json!({"store": dir, "releases": releases}));
        return Ok(());
    }
    if releases.is_empty() {
        println!("{} holds no release", dir.display());
    }
    for release in &releases {
        println!(
            "{:<20} {:<12} {}  loaded {}{}",
            release.name,
            release.version,
            release.index_digest,
            release.loaded,
            release
                .base
                .as_ref()
                .map(|b| format!("  (delta on {b})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

pub fn store_prune(target: &StoreArgs, keep: usize) -> Result<(), CliError> {
    let dir = target.store.as_path();
    let report = SiteStore::open(dir)?.prune(keep)?;
    if target.json.json {
        print_json(&serde_json::to_value(&report).unwrap_or_default());
        return Ok(());
    }
    for release in &report.removed_releases {
        println!("removed {} {}", release.name, release.version);
    }
    println!(
        "pruned {}: {} and {} removed, {} freed",
        dir.display(),
        plural(report.removed_releases.len() as u64, "release"),
        plural(report.removed_blobs as u64, "blob"),
        mib(report.freed_bytes)
    );
    Ok(())
}

pub fn store_verify(target: &StoreArgs, key: &Path) -> Result<(), CliError> {
    let dir = target.store.as_path();
    let verifier = Verifier::load(key)?;
    let report = SiteStore::open(dir)?.check(Some(&verifier))?;
    if target.json.json {
        print_json(
            &json!({"store": dir, "ok": true, "releases": report.releases, "blobs": report.blobs, "bytes": report.bytes}),
        );
    } else {
        println!(
            "OK {}: {} signed by {}; {} ({}) match their digests",
            dir.display(),
            plural(report.releases as u64, "release"),
            verifier.fingerprint(),
            plural(report.blobs as u64, "blob"),
            mib(report.bytes)
        );
    }
    Ok(())
}
