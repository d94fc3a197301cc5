//! `outpost lock`: resolve a manifest into its lockfile, or (`--dry-run`) print the plan of
//! what it would fetch without touching the network.

use super::{print_json, runtime};
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use crate::cli::settings::{LockMode, LockSettings};
use outpost::lock::{lock_path_for, Lockfile};
use outpost::manifest::Release;
use outpost::progress::Reporter;
use outpost::resolve::{self, ResolveSettings};
use outpost::store::Store;
use outpost::upstream::registry::Registry;
use serde_json::json;
use std::path::{Path, PathBuf};

pub fn lock(settings: &LockSettings) -> Result<(), CliError> {
    let release = Release::load(&settings.manifest)?;
    let (cache, resolve_settings) = match &settings.mode {
        LockMode::DryRun => return print_plan(&release, settings),
        LockMode::Resolve { cache, resolve } => (cache, resolve),
    };
    let store = Store::open(cache)?;
    let (lockfile, path) = runtime()?.block_on(lock_manifest(
        &release,
        &settings.manifest,
        &store,
        resolve_settings,
        &Bars::new(settings.json),
    ))?;
    if settings.json {
        print_json(
            &json!({"lockfile": path, "images": lockfile.images.len(), "manifest_digest": lockfile.manifest_digest}),
        );
    } else {
        println!(
            "locked {} image(s) into {}",
            lockfile.images.len(),
            path.display()
        );
    }
    Ok(())
}

/// Resolves the manifest and writes its lockfile; shared by `lock` and `bundle build`.
pub(super) async fn lock_manifest(
    release: &Release,
    manifest: &Path,
    store: &Store,
    settings: &ResolveSettings,
    reporter: &dyn Reporter,
) -> Result<(Lockfile, PathBuf), CliError> {
    let registry = Registry::new(release.upstreams());
    let lockfile = resolve::lock(release, &registry, store, settings, reporter).await?;
    let path = lock_path_for(manifest);
    lockfile.save(&path)?;
    Ok((lockfile, path))
}

fn print_plan(release: &Release, settings: &LockSettings) -> Result<(), CliError> {
    let plan = resolve::plan(release)?;
    if settings.json {
        print_json(
            &json!({"manifest": settings.manifest, "valid": true, "files": plan.files, "images": plan.images}),
        );
    } else {
        println!("{} is valid; it would fetch:", settings.manifest.display());
        for url in &plan.files {
            println!("file  {url}");
        }
        for image in &plan.images {
            println!("image {image}");
        }
    }
    Ok(())
}
