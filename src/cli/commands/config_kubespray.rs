//! `outpost config kubespray`: kubespray's offline variables, naming only what the bundle
//! serves, with the versions (and checksums) of the files it carries in the format of the
//! kubespray release given.

use super::open_for_config;
use crate::cli::exit::CliError;
use crate::cli::settings::KubespraySettings;
use outpost::digest::Digest;
use outpost::nodeconfig::kubespray;

pub fn config_kubespray(settings: &KubespraySettings) -> Result<(), CliError> {
    let bundle = open_for_config(&settings.bundle, &settings.trust)?;
    let files: Vec<(String, Digest)> = bundle
        .files
        .iter()
        .map(|f| (f.path.clone(), f.digest.clone()))
        .collect();
    // Images only: a referrer's cosign tag (`sha256-<hex>.sig`) is not a version.
    let images: Vec<String> = bundle
        .images
        .iter()
        .filter(|i| i.subject.is_none())
        .map(|i| i.reference.clone())
        .collect();
    let files_url = format!("{}/files", settings.mirror);
    print!(
        "{}",
        kubespray::offline_vars(&kubespray::OfflineInputs {
            files_url: &files_url,
            registry_host: settings.mirror.host(),
            kubernetes_version: bundle.head.kubernetes_version.as_deref(),
            files: &files,
            images: &images,
            format: settings.format,
        })
    );
    Ok(())
}
