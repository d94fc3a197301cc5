//! `outpost bundle inspect`: what a bundle holds (images, files, sizes, signer), read from its
//! head only; it does not verify.

use super::{mib, print_json};
use crate::cli::args::InspectArgs;
use crate::cli::exit::CliError;
use outpost::bundle::inspect::{self, Inspection};
use outpost::errors::plural;

pub fn inspect(args: &InspectArgs) -> Result<(), CliError> {
    let found = inspect::inspect(&args.bundle.bundle)?;
    if args.json.json {
        print_json(&serde_json::to_value(&found).unwrap_or_default());
        return Ok(());
    }
    print_head(&found);
    print_images(&found);
    print_files(&found);
    println!();
    println!(
        "{}, {}, {}, {} of content",
        plural(found.images.len() as u64, "image"),
        plural(found.files.len() as u64, "file"),
        plural(found.blobs as u64, "unique blob"),
        mib(found.unique_bytes)
    );
    Ok(())
}

fn print_head(found: &Inspection) {
    println!(
        "bundle:    {} ({})",
        found.path.display(),
        mib(found.file_size)
    );
    if let Some(parts) = found.parts {
        println!("parts:     {parts}");
    }
    println!("release:   {} {}", found.release, found.version);
    if let Some(delta) = &found.delta {
        println!(
            "delta on:  {} ({}); {} blobs, {} saved (the base has them)",
            delta.base_release.trim(),
            delta.base,
            delta.omitted_blobs,
            mib(delta.saved_bytes)
        );
    }
    if let Some(version) = &found.kubernetes_version {
        println!("kubernetes: {version}");
    }
    println!(
        "signer:    {} (as the bundle claims; `bundle verify` checks it)",
        found.signer
    );
    println!("manifest:  {}", found.manifest_digest);
    println!("index:     {}", found.index_digest);
    if let Some(lock) = &found.lockfile {
        println!("lockfile:  artifact {lock}");
    }
    println!();
}

fn print_images(found: &Inspection) {
    let width = found
        .images
        .iter()
        .map(|i| i.reference.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:width$}  {:<19}  {:>10}  {:>6}  PLATFORMS",
        "IMAGE", "DIGEST", "SIZE", "LAYERS"
    );
    for image in &found.images {
        println!(
            "{:width$}  {:<19}  {:>10}  {:>6}  {}{}",
            image.reference,
            &image.digest.to_string()[..19],
            mib(image.size),
            image.layers,
            image.platforms.join(","),
            if image.whole_index {
                " (and every other entry of the index: pinned by digest)"
            } else {
                ""
            }
        );
    }
}

fn print_files(found: &Inspection) {
    if found.files.is_empty() {
        return;
    }
    println!();
    let width = found
        .files
        .iter()
        .map(|f| f.path.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:width$}  {:>10}  NOTE", "FILE", "SIZE");
    for file in &found.files {
        let note = if file.insecure {
            "INSECURE: no upstream checksum"
        } else {
            ""
        };
        println!("{:width$}  {:>10}  {note}", file.path, mib(file.size));
    }
}
