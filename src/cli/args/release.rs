//! Arguments of the commands that describe a release for audits: `bundle diff` and
//! `bundle sbom`. Data only.

use super::{BundleArgs, TrustArgs};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old release: a bundle (NAME.tar, NAME.parts.json or any part), a lockfile
    /// (NAME.lock), or a release in a site store (store:DIR/NAME/VERSION).
    pub old: String,
    /// The new release, given the same ways.
    pub new: String,
    /// Key the bundles and stored releases must be signed with (their carried lockfile is
    /// read only once the signature holds).
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print the diff as JSON.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print the diff as Markdown tables (for a pull request or an audit record).
    #[arg(long)]
    pub markdown: bool,
}

/// The SBOM document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    #[command(flatten)]
    pub bundle: BundleArgs,
    /// Document format.
    #[arg(long, value_enum, default_value = "cyclonedx")]
    pub format: SbomFormat,
    /// Write the document to FILE instead of standard output. Its time is SOURCE_DATE_EPOCH
    /// when set, else 1970-01-01T00:00:00Z (a bundle records no time of its own).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}
