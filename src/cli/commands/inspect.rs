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
    print_artifacts(&found);
    print_charts(&found);
    print_rpms(&found);
    print_files(&found);
    println!();
    let artifacts = found.images.iter().filter(|i| i.is_artifact()).count() as u64;
    let images = found.images.len() as u64 - artifacts;
    let charts = match found.charts.len() as u64 {
        0 => String::new(),
        n => format!(" ({})", plural(n, "Helm chart")),
    };
    let artifacts = if artifacts > 0 {
        format!("{}{charts}, ", plural(artifacts, "artifact"))
    } else {
        String::new()
    };
    println!(
        "{}, {artifacts}{}, {}, {} of content",
        plural(images, "image"),
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
    if let Some(sbom) = &found.sbom {
        println!("sbom:      CycloneDX 1.5 document {sbom} (`bundle sbom` writes it)");
    }
    if let Some(root) = &found.trusted_root {
        println!("trust:     Sigstore trusted root {root} (`bundle verify --upstream` checks the publishers' keyless signatures against it)");
    }
    println!();
}

/// Runnable images (the table is left out for a bundle of artifacts only).
fn print_images(found: &Inspection) {
    let only_artifacts = found.images.iter().all(|i| i.is_artifact());
    if only_artifacts && !found.images.is_empty() {
        return;
    }
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
    for image in found.images.iter().filter(|i| !i.is_artifact()) {
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
        for signer in &image.signers {
            println!("  signed upstream by {}{}", signer, signed_at(signer));
        }
        for referrer in &image.referrers {
            // A referrer of a platform manifest or of another referrer says which.
            let of = if referrer.subject == image.digest {
                String::new()
            } else {
                format!(" of {}", &referrer.subject.to_string()[..19])
            };
            println!(
                "  referrer: {:<11}  {:<19}  {:>10}  {}{of}{}",
                outpost::referrers::kind_name(referrer.kind),
                &referrer.digest.to_string()[..19],
                mib(referrer.size),
                referrer.artifact_type,
                referrer
                    .tag
                    .as_ref()
                    .map(|tag| format!(" (tag {tag})"))
                    .unwrap_or_default()
            );
        }
    }
}

/// Platform-less OCI artifacts: reference, digest, size and artifact type.
fn print_artifacts(found: &Inspection) {
    let artifacts: Vec<_> = found.images.iter().filter(|i| i.is_artifact()).collect();
    if artifacts.is_empty() {
        return;
    }
    if artifacts.len() < found.images.len() {
        println!();
    }
    let width = artifacts
        .iter()
        .map(|a| a.reference.len())
        .max()
        .unwrap_or(8)
        .max(8);
    println!(
        "{:width$}  {:<19}  {:>10}  ARTIFACT TYPE",
        "ARTIFACT", "DIGEST", "SIZE"
    );
    for artifact in artifacts {
        println!(
            "{:width$}  {:<19}  {:>10}  {}",
            artifact.reference,
            &artifact.digest.to_string()[..19],
            size_text(artifact.size),
            artifact.artifact_type.as_deref().unwrap_or_default(),
        );
    }
}

/// Helm charts: name, version, the `.tgz`'s digest, where it came from, images found in it.
fn print_charts(found: &Inspection) {
    if found.charts.is_empty() {
        return;
    }
    println!();
    let width = |f: &dyn Fn(&inspect::ChartInfo) -> usize, min: usize| {
        found.charts.iter().map(f).max().unwrap_or(min).max(min)
    };
    let name = width(&|c| c.name.len(), 5);
    let version = width(&|c| c.version.len(), 7);
    let source = width(&|c| c.source.len(), 6);
    println!(
        "{:name$}  {:version$}  {:<19}  {:source$}  IMAGES",
        "CHART", "VERSION", "DIGEST", "SOURCE"
    );
    for chart in &found.charts {
        println!(
            "{:name$}  {:version$}  {:<19}  {:source$}  {}",
            chart.name,
            chart.version,
            &chart.digest.to_string()[..19],
            chart.source,
            chart
                .images
                .map_or_else(|| "?".to_string(), |n| n.to_string()),
        );
    }
}

/// RPM packages: NEVRA, site repository, size, and the key that signed it (or that its
/// signature was never checked).
fn print_rpms(found: &Inspection) {
    if found.rpms.is_empty() {
        return;
    }
    println!();
    let nevra = found
        .rpms
        .iter()
        .map(|r| r.nevra.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let repo = found
        .rpms
        .iter()
        .map(|r| r.repo.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:nevra$}  {:repo$}  {:>10}  SIGNER", "RPM", "REPO", "SIZE");
    for rpm in &found.rpms {
        let signer = if rpm.gpgcheck {
            rpm.signer.as_str()
        } else {
            "NOT SIGNATURE-CHECKED (gpgcheck: false)"
        };
        println!(
            "{:nevra$}  {:repo$}  {:>10}  {signer}",
            rpm.nevra,
            rpm.repo,
            size_text(rpm.size)
        );
    }
}

/// Bytes, KiB or MiB: artifacts are often a few hundred bytes.
fn size_text(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1048576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => mib(bytes),
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
        for signer in &file.signers {
            println!("  signed upstream by {}{}", signer, signed_at(signer));
        }
    }
}

/// `, logged <UTC time>` for a signer with a transparency-log entry.
fn signed_at(signer: &outpost::trust::Signer) -> String {
    signer
        .integrated_time
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| format!(", logged {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
        .unwrap_or_default()
}
