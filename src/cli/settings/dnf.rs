//! Settings of `config dnf` (split from settings.rs to keep it small).

use super::{mirror, SettingsError, Trust};
use crate::cli::args::DnfArgs;
use outpost::nodeconfig::mirrors::Mirror;
use std::path::PathBuf;

pub struct DnfSettings {
    pub trust: Trust,
    pub mirror: Mirror,
    pub bundle: PathBuf,
    pub out: PathBuf,
    pub key_dir: String,
}

impl DnfSettings {
    pub fn resolve(args: &DnfArgs) -> Result<Self, SettingsError> {
        Ok(DnfSettings {
            trust: Trust::from_args(&args.trust),
            mirror: mirror(&args.mirror.mirror)?,
            bundle: args.bundle.bundle.clone(),
            out: args.out.clone(),
            key_dir: args.key_dir.clone(),
        })
    }
}
