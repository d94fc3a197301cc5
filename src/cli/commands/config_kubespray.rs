//! `outpost config kubespray`: kubespray's offline variables, naming only what the bundle
//! serves.

use super::open_for_config;
use crate::cli::exit::CliError;
use crate::cli::settings::KubespraySettings;
use outpost::nodeconfig::kubespray;

pub fn config_kubespray(settings: &KubespraySettings) -> Result<(), CliError> {
    let bundle = open_for_config(&settings.bundle, &settings.trust)?;
    let paths: Vec<String> = bundle.files.iter().map(|f| f.path.clone()).collect();
    let files_url = format!("{}/files", settings.mirror);
    print!(
        "{}",
        kubespray::offline_vars(
            &files_url,
            settings.mirror.authority(),
            bundle.head.kubernetes_version.as_deref(),
            &paths,
            &bundle.registries(),
        )
    );
    Ok(())
}
