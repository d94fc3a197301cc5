//! `outpost config containerd`: a `certs.d/<registry>/hosts.toml` for every registry in the
//! bundles, listing every mirror in order and never the internet (unless `--allow-upstream`).

use super::{site_mirrors, write_file};
use crate::cli::exit::CliError;
use crate::cli::settings::ContainerdSettings;
use outpost::nodeconfig::containerd;

pub fn config_containerd(settings: &ContainerdSettings) -> Result<(), CliError> {
    let site = site_mirrors(
        &settings.bundles,
        &settings.trust,
        &settings.mirrors,
        settings.ca.clone(),
    )?;
    for registry in &site.registries {
        let path = settings.out.join(registry).join("hosts.toml");
        let text = containerd::hosts_toml(
            registry,
            &site.mirrors,
            site.ca.as_deref(),
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
