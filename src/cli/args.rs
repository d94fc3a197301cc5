//! Command-line arguments. Data only: no I/O happens here.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const AFTER_HELP: &str =
    "Exit codes: 0 success, 1 failure, 2 bad input (arguments, manifest, lockfile, key), \
3 bundle verification failed, 4 upstream registry failed.\n\
Environment: OUTPOST_KEY_PASSWORD (private key password), OUTPOST_CACHE (cache directory), \
RUST_LOG (log filter, e.g. outpost=debug).";

/// Carry a Kubernetes release into sites with no internet.
///
/// At HQ: `outpost key generate`, then `outpost bundle build manifests/NAME.yaml` pins every
/// image into manifests/NAME.lock and writes a signed bundles/NAME-VERSION.tar. At the site:
/// `outpost bundle verify` proves nothing changed on the way.
#[derive(Debug, Parser)]
#[command(name = "outpost", version, about, long_about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Resolve a release manifest into its lockfile (NAME.lock beside it) without building.
    Lock(LockArgs),
    /// Build, verify and inspect bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a cosign-compatible ECDSA P-256 key pair: outpost.key (encrypted) and outpost.pub.
    ///
    /// The password comes from OUTPOST_KEY_PASSWORD, or is asked for on the terminal.
    Generate {
        /// Directory to write outpost.key and outpost.pub into.
        #[arg(long, default_value = "keys")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Content-addressed cache of downloaded blobs [default: ~/.cache/outpost].
    #[arg(long, env = "OUTPOST_CACHE")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The release manifest (YAML).
    pub manifest: PathBuf,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Lock (unless --locked), fetch into the cache, and write a signed bundle.
    Build(BuildArgs),
    /// Check a bundle's signature and every blob's digest in one sequential read.
    Verify(VerifyArgs),
    /// Show what a bundle holds: images, platforms, sizes, signer. Does not verify.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The release manifest (YAML).
    pub manifest: PathBuf,
    /// Private key to sign with.
    #[arg(long, default_value = "keys/outpost.key")]
    pub key: PathBuf,
    /// Directory for the bundle (written as NAME-VERSION.tar).
    #[arg(long, default_value = "bundles")]
    pub out: PathBuf,
    /// Use the existing lockfile as it is; fail if it is missing or stale.
    #[arg(long)]
    pub locked: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle (.tar).
    pub bundle: PathBuf,
    /// Public key the bundle must be signed with.
    #[arg(long, default_value = "keys/outpost.pub")]
    pub key: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The bundle (.tar).
    pub bundle: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
