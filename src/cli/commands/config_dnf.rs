//! `outpost config dnf`: the `.repo` file that points dnf at the mirror's copies of the
//! bundle's RPM repositories (printed, or written to `--out`).

use super::{open_for_config, write_file};
use crate::cli::exit::CliError;
use crate::cli::settings::DnfSettings;
use outpost::nodeconfig::dnf;

pub fn config_dnf(settings: &DnfSettings) -> Result<(), CliError> {
    let bundle = open_for_config(&settings.bundle, &settings.trust)?;
    let repos = dnf::repositories(&bundle)?;
    let release = bundle.head.release.to_string();
    let text = dnf::repo_file(settings.mirror.url(), &release, &repos);
    match &settings.out {
        None => print!("{text}"),
        Some(dir) => {
            let path = dir.join(format!("outpost-{}.repo", bundle.head.release.name));
            write_file(&path, text.as_bytes())?;
            eprintln!(
                "wrote {} (copy it to /etc/yum.repos.d/ on every node)",
                path.display()
            );
        }
    }
    Ok(())
}
