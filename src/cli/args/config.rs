//! Arguments of the `config` commands that render node package-manager configuration
//! (split from args.rs to keep it small).

use super::{ConfigBundleArgs, MirrorArgs, TrustArgs};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DnfArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub mirror: MirrorArgs,
    #[command(flatten)]
    pub bundle: ConfigBundleArgs,
    /// Directory to write the key files and outpost-<release>.repo into.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Where the keys will be on the nodes (the gpgkey= file:// directory).
    #[arg(long, default_value = "/etc/pki/rpm-gpg")]
    pub key_dir: String,
}
