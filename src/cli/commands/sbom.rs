//! `outpost bundle sbom`: the bill of materials of a bundle, from the lockfile it carries, as
//! CycloneDX or SPDX JSON, to standard output or `--out`. Reads the bundle's head and lockfile;
//! it does not verify the signature (`bundle verify` does).

use crate::cli::args::{SbomArgs, SbomFormat};
use crate::cli::exit::CliError;
use anyhow::Context;
use outpost::bundle::open::OpenBundle;
use outpost::sbom::{self, Format};
use std::io::Write;

pub fn sbom(args: &SbomArgs) -> Result<(), CliError> {
    let path = &args.bundle.bundle;
    let bundle = OpenBundle::open(path, None)?;
    let lock = sbom::bundle_lockfile(&bundle)?;
    let format = match args.format {
        SbomFormat::Cyclonedx => Format::CycloneDx,
        SbomFormat::Spdx => Format::Spdx,
    };
    let bytes = sbom::render(&lock, format, &sbom::timestamp_from_env()?);
    match &args.out {
        Some(out) => std::fs::write(out, &bytes)
            .with_context(|| format!("cannot write the SBOM to {}", out.display()))?,
        None => std::io::stdout()
            .write_all(&bytes)
            .context("cannot write the SBOM to standard output")?,
    }
    Ok(())
}
