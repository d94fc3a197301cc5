//! `outpost config dnf`: the keys of the bundle's RPM repositories and the `.repo` file that
//! points dnf at the mirror's copies of them, written to `--out` (the `.repo` file printed
//! too).

use super::{open_for_config, write_file};
use crate::cli::exit::CliError;
use crate::cli::settings::DnfSettings;
use outpost::nodeconfig::dnf;

pub fn config_dnf(settings: &DnfSettings) -> Result<(), CliError> {
    let bundle = open_for_config(&settings.bundle, &settings.trust)?;
    let repos = dnf::repositories(&bundle)?;
    for repo in &repos {
        for (key, name) in repo.keys.iter().zip(repo.node_key_names()) {
            let path = settings.out.join(&name);
            write_file(&path, &key.armored)?;
            eprintln!(
                "wrote {} (copy it to {} on every node)",
                path.display(),
                settings.key_dir
            );
        }
    }
    let release = bundle.head.release.to_string();
    let text = dnf::repo_file(settings.mirror.url(), &release, &settings.key_dir, &repos);
    let path = settings
        .out
        .join(format!("outpost-{}.repo", bundle.head.release.name));
    write_file(&path, text.as_bytes())?;
    eprintln!(
        "wrote {} (copy it to /etc/yum.repos.d/ on every node)",
        path.display()
    );
    print!("{text}");
    Ok(())
}
