//! `outpost config containerd`: a `certs.d/<registry>/hosts.toml` for every registry in the
//! bundles, pointing containerd at the mirror only.

use super::{open_for_config, write_file};
use crate::cli::exit::CliError;
use crate::cli::settings::ContainerdSettings;
use outpost::nodeconfig::containerd;
use std::collections::BTreeSet;

pub fn config_containerd(settings: &ContainerdSettings) -> Result<(), CliError> {
    let mut registries = BTreeSet::new();
    for path in &settings.bundles {
        let bundle = open_for_config(path, &settings.trust)?;
        registries.extend(bundle.registries());
    }
    for registry in &registries {
        let path = settings.out.join(registry).join("hosts.toml");
        let mirror = outpost::nodeconfig::mirrors::Mirror::parse(settings.mirror.as_str())
            .map_err(|message| CliError {
                status: crate::cli::exit::ExitStatus::Input,
                error: anyhow::anyhow!(message),
            })?;
        let text = containerd::hosts_toml(
            registry,
            &[mirror],
            settings.ca.as_deref(),
            settings.fallback,
        );
        write_file(&path, text.as_bytes())?;
        println!("wrote {}", path.display());
    }
    println!(
        "{}",
        containerd::config_path_hint("/etc/containerd/certs.d")
    );
    Ok(())
}
