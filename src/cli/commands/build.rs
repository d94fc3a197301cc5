//! `outpost bundle build`: lock (unless `--locked`), fetch into the cache, pack and sign the
//! bundle, optionally split into parts or as a delta on an older release.

use super::lock::lock_manifest;
use super::{mib, print_json, runtime};
use crate::cli::exit::CliError;
use crate::cli::progress::Bars;
use crate::cli::settings::BuildSettings;
use outpost::bundle::delta::Base;
use outpost::bundle::pack::{self, PackOptions, PackSummary};
use outpost::fetch::{self, FetchSummary};
use outpost::lock::{lock_path_for, Lockfile};
use outpost::manifest::Release;
use outpost::sign::apt::AptSigner;
use outpost::sign::Signer;
use outpost::space;
use outpost::store::Store;
use outpost::upstream::http::Http;
use outpost::upstream::registry::Registry;
use serde_json::json;
use std::path::{Path, PathBuf};

pub fn build(settings: &BuildSettings) -> Result<(), CliError> {
    let release = Release::load(&settings.manifest)?;
    let password = settings.password.read()?;
    let signer = Signer::load(&settings.key, &password)?;
    let store = Store::open(&settings.cache)?;
    let bars = Bars::new(settings.json);
    let rt = runtime()?;
    let (lockfile, lock_path) = if settings.locked {
        let path = lock_path_for(&settings.manifest);
        let lockfile = Lockfile::load(&path)?;
        lockfile.check_fresh(&path, &release.canonical_digest())?;
        (lockfile, path)
    } else {
        rt.block_on(lock_manifest(
            &release,
            &settings.manifest,
            &store,
            &settings.resolve,
            &outpost::resolve::Update::Nothing,
            &bars,
        ))?
    };
    let registry = Registry::new(release.upstreams());
    let http = Http::new(release.upstreams())?;
    let plan = rt.block_on(fetch::plan_fetch(
        &lockfile,
        &registry,
        &http,
        &store,
        settings.foreign_layers,
        &bars,
    ))?;
    let estimate = super::estimate::Estimate::of_build(&plan, settings);
    if settings.dry_run {
        return estimate.print(settings.json);
    }
    space::check(&estimate.needs())?;
    let fetched = rt.block_on(plan.run(&store, &bars))?;
    let out = settings.out.join(format!("{}.tar", release.bundle_stem()));
    let apt_signer =
        if lockfile.debs.is_empty() && lockfile.rpms.is_empty() && lockfile.rpm_repos.is_empty() {
            None
        } else {
            Some(AptSigner::load(&settings.key, &password)?)
        };
    let base =
        match &settings.base {
            None => None,
            Some(path) if path.extension().is_some_and(|e| e == "lock") => Some(
                Base::from_lockfile(path, &store, signer.fingerprint(), apt_signer.as_ref())?,
            ),
            Some(path) => Some(Base::from_bundle(path)?),
        };
    let sbom = if settings.sbom {
        Some(outpost::sbom::timestamp_from_env()?)
    } else {
        None
    };
    let options = PackOptions {
        split_size: settings.split_size,
        parity: settings.parity,
        base,
        sbom,
    };
    let packed = pack::pack(
        &lockfile,
        &store,
        &signer,
        apt_signer.as_ref(),
        &out,
        &options,
        &bars,
    )?;
    let built = Built {
        lock_path: &lock_path,
        fetched: &fetched,
        packed: &packed,
        base: options.base.as_ref(),
        signer: signer.fingerprint(),
    };
    if settings.json {
        print_json(&built.json());
    } else {
        built.print();
    }
    Ok(())
}

/// What a build produced, for rendering.
struct Built<'a> {
    lock_path: &'a Path,
    fetched: &'a FetchSummary,
    packed: &'a PackSummary,
    base: Option<&'a Base>,
    signer: &'a str,
}

impl Built<'_> {
    fn json(&self) -> serde_json::Value {
        let (fetched, packed) = (self.fetched, self.packed);
        json!({
            "bundle": packed.path,
            "bytes": packed.bytes,
            "index_digest": packed.index_digest,
            "lockfile": self.lock_path,
            "images": packed.images,
            "blobs": packed.blobs,
            "downloaded_blobs": fetched.downloaded_blobs,
            "downloaded_bytes": fetched.downloaded_bytes,
            "cached_bytes": fetched.cached_bytes,
            "signer": self.signer,
            "unchanged": packed.unchanged,
            "parts": packed.parts.as_ref().map(|(count, list)| json!({"count": count, "parity": packed.parity, "list": list})),
            "delta": packed.omitted.map(|(blobs, bytes)| json!({"omitted_blobs": blobs, "omitted_bytes": bytes})),
        })
    }

    fn print(&self) {
        let (fetched, packed) = (self.fetched, self.packed);
        println!("lockfile: {}", self.lock_path.display());
        println!(
            "fetched:  {} of {} blobs ({} downloaded, {} from the cache)",
            fetched.downloaded_blobs,
            fetched.blobs,
            mib(fetched.downloaded_bytes),
            mib(fetched.cached_bytes)
        );
        println!(
            "bundle:   {} ({}, {}, {} blobs){}",
            packed.path.display(),
            mib(packed.bytes),
            outpost::errors::plural(packed.images as u64, "image"),
            packed.blobs,
            if packed.unchanged {
                ", unchanged: the same signed head and size are already there; `bundle verify` checks the content"
            } else {
                ""
            }
        );
        if let Some((count, list)) = &packed.parts {
            let parity = match packed.parity {
                0 => String::new(),
                p => format!(
                    " + {} (any {p} lost parts can be rebuilt with `outpost bundle repair`)",
                    outpost::errors::plural(p as u64, "parity part")
                ),
            };
            println!(
                "parts:    {count} parts{parity} listed in {} (carry them all, with the list)",
                list.display()
            );
        }
        if let (Some((blobs, bytes)), Some(base)) = (packed.omitted, self.base) {
            println!(
                "delta:    on {} ({}): {blobs} blobs, {} left out; load it into a store that holds the base",
                base.release.trim(),
                base.index_digest,
                mib(bytes)
            );
        }
        println!(
            "index:    {} signed by {}",
            packed.index_digest, self.signer
        );
        let shown: PathBuf = packed
            .parts
            .as_ref()
            .map_or(packed.path.clone(), |(_, list)| list.clone());
        println!(
            "next:     carry it to the site and run `outpost bundle verify {} --key <outpost.pub>`",
            shown.display()
        );
    }
}
