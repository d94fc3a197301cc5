//! `outpost config apt`: for each apt repository of the bundle, its key file (written to
//! `--out`) and a deb822 sources entry (printed) that points apt at the mirror.

use super::{open_for_config, write_file};
use crate::cli::exit::CliError;
use crate::cli::settings::AptSettings;
use outpost::nodeconfig::apt;

pub fn config_apt(settings: &AptSettings) -> Result<(), CliError> {
    let bundle = open_for_config(&settings.bundle, &settings.trust)?;
    for key in apt::repository_keys(&bundle)? {
        let path = settings.out.join(key.file_name());
        write_file(&path, &key.keyring)?;
        eprintln!(
            "wrote {} (copy it to {} on every node)",
            path.display(),
            settings.key_dir
        );
        print!(
            "{}",
            apt::sources_entry(settings.mirror.url(), &key.repo, &settings.key_dir)
        );
    }
    Ok(())
}
