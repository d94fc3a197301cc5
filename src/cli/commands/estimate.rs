//! What a build or a load will download and write, and whether it fits: `bundle build
//! --dry-run`, `load --dry-run`, and the space check a real build or load makes first.

use super::{mib, print_json};
use crate::cli::exit::CliError;
use crate::cli::settings::BuildSettings;
use outpost::fetch::{FetchPlan, FetchSummary};
use outpost::space::{self, Place};
use serde_json::json;
use std::path::{Path, PathBuf};

/// A build's estimate: download, bundle size, parts, and the places it writes to.
pub struct Estimate {
    summary: FetchSummary,
    bundle_bytes: u64,
    /// `(data parts, parity parts, part size)` of a split build.
    parts: Option<(u64, u64, u64)>,
    out: PathBuf,
    cache: PathBuf,
}

impl Estimate {
    pub fn of_build(plan: &FetchPlan<'_>, settings: &BuildSettings) -> Estimate {
        let bundle_bytes = plan.bundle_bytes;
        let parts = settings.split_size.map(|split| {
            let parity = settings.parity.unwrap_or(0) as u64;
            (
                bundle_bytes.div_ceil(split),
                parity,
                split.min(bundle_bytes),
            )
        });
        Estimate {
            summary: plan.summary,
            bundle_bytes,
            parts,
            out: settings.out.clone(),
            cache: settings.cache.clone(),
        }
    }

    /// Bytes written at `--out`: the bundle, plus its parity parts.
    fn out_bytes(&self) -> u64 {
        let parity = self.parts.map_or(0, |(_, p, size)| p * (size + (size & 1)));
        self.bundle_bytes + parity
    }

    /// What the build writes where: the bundle at `--out`, the downloads in the cache.
    pub fn needs(&self) -> Vec<(&str, &Path, u64)> {
        vec![
            ("bundle", self.out.as_path(), self.out_bytes()),
            ("cache", self.cache.as_path(), self.summary.downloaded_bytes),
        ]
    }

    /// Prints the dry run (text or `--json`).
    pub fn print(&self, json: bool) -> Result<(), CliError> {
        let places = space::measure(&self.needs())?;
        let fits = places.iter().all(Place::fits);
        let s = &self.summary;
        if json {
            print_json(&json!({
                "dry_run": true,
                "blobs": s.blobs,
                "download_blobs": s.downloaded_blobs,
                "download_bytes": s.downloaded_bytes,
                "cached_bytes": s.cached_bytes,
                "bundle_bytes": self.bundle_bytes,
                "parts": self.parts.map(|(count, parity, size)| json!({"count": count, "parity": parity, "part_size": size})),
                "space": places,
                "fits": fits,
            }));
            return Ok(());
        }
        println!("dry run: no blob downloaded, no bundle written");
        println!(
            "download: {} of {} blobs, {} ({} bytes; cache misses), {} already in the cache",
            s.downloaded_blobs,
            s.blobs,
            mib(s.downloaded_bytes),
            s.downloaded_bytes,
            mib(s.cached_bytes)
        );
        println!(
            "bundle:   about {} ({} bytes, estimated)",
            mib(self.bundle_bytes),
            self.bundle_bytes
        );
        if let Some((count, parity, size)) = self.parts {
            let parity = match parity {
                0 => String::new(),
                p => format!(" + {}", outpost::errors::plural(p, "parity part")),
            };
            println!(
                "parts:    {}{parity} of at most {}",
                outpost::errors::plural(count, "part"),
                mib(size)
            );
        }
        print_places(&places);
        Ok(())
    }
}

/// `space:` lines, one per place, and whether all fit.
pub fn print_places(places: &[Place]) {
    for place in places {
        let shared = if place.needed_on_filesystem > place.needed {
            format!(
                " ({} with the rest on this filesystem)",
                mib(place.needed_on_filesystem)
            )
        } else {
            String::new()
        };
        println!(
            "space:    {} at {} needs {}{shared}, {} free{}",
            place.what,
            place.path.display(),
            mib(place.needed),
            mib(place.free),
            if place.fits() { "" } else { ": NOT ENOUGH" }
        );
    }
    if places.iter().all(Place::fits) {
        println!("fits:     yes");
    } else {
        println!("fits:     no; a real run stops before downloading or writing anything");
    }
}
