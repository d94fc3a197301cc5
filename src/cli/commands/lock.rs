//! `outpost lock`: resolve a manifest into its lockfile, or (`--dry-run`) print the plan of
//! what it would fetch without touching the network. A lock keeps the previous lockfile's
//! image pins (saying which tags moved upstream) unless `--update` moves them.

use super::{print_json, runtime};
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use crate::cli::settings::{LockMode, LockSettings};
use outpost::errors::plural;
use outpost::lock::{lock_path_for, Lockfile};
use outpost::manifest::Release;
use outpost::progress::Reporter;
use outpost::resolve::{self, MovedTag, Previous, ResolveSettings, Update};
use outpost::store::Store;
use outpost::upstream::registry::Registry;
use serde_json::json;
use std::path::{Path, PathBuf};

pub fn lock(settings: &LockSettings) -> Result<(), CliError> {
    let release = Release::load(&settings.manifest)?;
    let (cache, resolve_settings, update) = match &settings.mode {
        LockMode::DryRun => return print_plan(&release, settings),
        LockMode::Resolve {
            cache,
            resolve,
            update,
        } => (cache, resolve, update),
    };
    let store = Store::open(cache)?;
    let (lockfile, path) = runtime()?.block_on(lock_manifest(
        &release,
        &settings.manifest,
        &store,
        resolve_settings,
        update,
        &Bars::new(settings.json),
    ))?;
    if settings.json {
        print_json(&json!({
            "lockfile": path,
            "images": lockfile.images.len(),
            "referrers": referrer_count(&lockfile),
            "signed_images": signed_images(&lockfile),
            "signed_files": signed_files(&lockfile),
            "files": lockfile.files.len(),
            "packages": lockfile.debs.len(),
            "rpms": lockfile.rpms.len(),
            "rpms_unchecked": lockfile.rpms.iter().filter(|r| !r.gpgcheck).count(),
            "charts": lockfile.charts.len(),
            "chart_images": chart_images(&lockfile),
            "manifest_digest": lockfile.manifest_digest,
        }));
    } else {
        println!(
            "locked {} into {}",
            what_was_locked(&lockfile),
            path.display()
        );
        let unchecked = lockfile.rpms.iter().filter(|r| !r.gpgcheck).count();
        if unchecked > 0 {
            println!(
                "WARNING: {} from repositories with `gpgcheck: false` (not signature-checked)",
                plural(unchecked as u64, "rpm package")
            );
        }
        if !lockfile.charts.is_empty() {
            println!(
                "charts deploy {} (each pinned with why it is there)",
                plural(chart_images(&lockfile) as u64, "image")
            );
        }
        let (images, files) = (signed_images(&lockfile), signed_files(&lockfile));
        if images + files > 0 {
            let mut what = Vec::new();
            if images > 0 {
                what.push(plural(images as u64, "image"));
            }
            if files > 0 {
                what.push(plural(files as u64, "file"));
            }
            println!(
                "upstream signatures hold for {} (checked offline)",
                what.join(" and ")
            );
        }
    }
    Ok(())
}

/// Images pinned because a chart deploys them (or is one, for an OCI chart).
fn chart_images(lockfile: &Lockfile) -> usize {
    lockfile
        .images
        .iter()
        .filter(|i| i.why.iter().any(|w| w.starts_with("chart ")))
        .count()
}

/// Images whose upstream signature a `spec.verify` policy required and found.
fn signed_images(lockfile: &Lockfile) -> usize {
    lockfile
        .images
        .iter()
        .filter(|i| !i.signatures.is_empty())
        .count()
}

/// Files whose upstream signature was verified.
fn signed_files(lockfile: &Lockfile) -> usize {
    lockfile
        .files
        .iter()
        .filter(|f| f.signature.is_some())
        .count()
}

/// Referrers pinned under every image (signatures, attestations, SBOMs).
fn referrer_count(lockfile: &Lockfile) -> usize {
    lockfile.images.iter().map(|i| i.referrers.len()).sum()
}

/// `2 images, 1 artifact, 3 referrers, 1 file and 12 packages`, leaving out the kinds
/// with none.
fn what_was_locked(lockfile: &Lockfile) -> String {
    let artifacts = lockfile
        .images
        .iter()
        .filter(|i| i.artifact_type.is_some())
        .count();
    let kinds: Vec<String> = [
        (lockfile.images.len() - artifacts, "image"),
        (artifacts, "artifact"),
        (referrer_count(lockfile), "referrer"),
        (lockfile.files.len(), "file"),
        (lockfile.debs.len(), "package"),
        (lockfile.rpms.len(), "rpm package"),
        (lockfile.charts.len(), "chart"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, noun)| plural(count as u64, noun))
    .collect();
    match kinds.as_slice() {
        [] => "nothing (the manifest lists no images, files or packages)".to_string(),
        [one] => one.clone(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
    }
}

/// Resolves the manifest and writes its lockfile, keeping the previous lockfile's image pins
/// unless `update` moves them; shared by `lock` and `bundle build` (which keeps every pin).
/// Tags that moved upstream are reported on stderr.
pub(super) async fn lock_manifest(
    release: &Release,
    manifest: &Path,
    store: &Store,
    settings: &ResolveSettings,
    update: &Update,
    reporter: &dyn Reporter,
) -> Result<(Lockfile, PathBuf), CliError> {
    let registry = Registry::new(release.upstreams());
    let path = lock_path_for(manifest);
    let previous = previous_lockfile(&path);
    let locked = resolve::lock(
        release,
        &registry,
        store,
        settings,
        &Previous {
            lockfile: previous.as_ref(),
            update,
        },
        reporter,
    )
    .await?;
    for moved in &locked.moved {
        eprintln!("{}", moved_message(moved, manifest));
    }
    locked.lockfile.save(&path)?;
    Ok((locked.lockfile, path))
}

/// The lockfile already beside the manifest, whose pins a new lock keeps; one that cannot be
/// read keeps none (and says so).
fn previous_lockfile(path: &Path) -> Option<Lockfile> {
    if !path.exists() {
        return None;
    }
    match Lockfile::load(path) {
        Ok(lockfile) => Some(lockfile),
        Err(error) => {
            eprintln!("warning: keeping no pins from the previous lockfile: {error}");
            None
        }
    }
}

/// What a lock says about a tag that moved upstream.
fn moved_message(moved: &MovedTag, manifest: &Path) -> String {
    if moved.updated {
        format!(
            "tag moved: {} now names {} upstream; pin updated from {}",
            moved.reference, moved.upstream, moved.locked
        )
    } else {
        format!(
            "tag moved: {} now names {} upstream; keeping the locked {} (`outpost lock {} --update {}` moves the pin)",
            moved.reference,
            moved.upstream,
            moved.locked,
            manifest.display(),
            moved.reference
        )
    }
}

fn print_plan(release: &Release, settings: &LockSettings) -> Result<(), CliError> {
    let plan = resolve::plan(release)?;
    if settings.json {
        print_json(
            &json!({"manifest": settings.manifest, "valid": true, "files": plan.files, "images": plan.images, "charts": plan.charts, "rpms": plan.rpms}),
        );
    } else {
        println!("{} is valid; it would fetch:", settings.manifest.display());
        for url in &plan.files {
            println!("file  {url}");
        }
        for image in &plan.images {
            println!("image {image}");
        }
        for chart in &plan.charts {
            println!("chart {chart} (and the images it deploys)");
        }
        for rpm in &plan.rpms {
            println!("rpm   {rpm} (and their dependencies)");
        }
    }
    Ok(())
}
