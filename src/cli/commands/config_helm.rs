//! `outpost config helm`: the `helm` lines, Argo CD repository Secrets and Flux
//! HelmRepository objects that point at the mirror's copies of the bundle's charts (printed).

use super::open_for_config;
use crate::cli::exit::CliError;
use crate::cli::settings::HelmSettings;
use outpost::nodeconfig::helm;

pub fn config_helm(settings: &HelmSettings) -> Result<(), CliError> {
    let bundle = open_for_config(&settings.bundle, &settings.trust)?;
    let charts = helm::site_charts(&bundle)?;
    let target = helm::Target {
        mirror: settings.mirror.url(),
        ca: settings.ca.as_deref(),
    };
    print!("{}", helm::render(target, &charts));
    Ok(())
}
