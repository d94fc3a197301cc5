//! `outpost store list|prune|verify`: the releases of a site store, pruning old ones, and
//! checking every release's signature and every blob they reference (the result is recorded
//! in the store for `store report`).

use super::{mib, print_json};
use crate::cli::args::StoreArgs;
use crate::cli::exit::CliError;
use outpost::errors::plural;
use outpost::sign::Verifier;
use outpost::sitestore::{SiteStore, VerifyRecord};
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
    let site = SiteStore::open(dir)?;
    let releases = site.releases()?;
    let result = site.check(Some(&verifier));
    let record = VerifyRecord {
        time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        ok: result.is_ok(),
        error: result.as_ref().err().map(|e| outpost::errors::chain(e)),
        key: verifier.fingerprint().to_string(),
        releases: releases.iter().map(|r| r.index_digest.clone()).collect(),
    };
    if let Err(e) = site.record_verify(&record) {
        eprintln!("warning: the result could not be recorded for `store report`: {e}");
    }
    let report = result?;
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
