//! `outpost config kubeadm`: a ClusterConfiguration that pulls the control-plane images from
//! the mirror, at the Kubernetes version the bundle pins.

use super::{open_for_config, CommandError};
use crate::cli::exit::CliError;
use crate::cli::settings::KubeadmSettings;
use outpost::nodeconfig::kubeadm;

pub fn config_kubeadm(settings: &KubeadmSettings) -> Result<(), CliError> {
    let bundle = open_for_config(&settings.bundle, &settings.trust)?;
    let version = bundle
        .head
        .kubernetes_version
        .as_deref()
        .ok_or_else(|| CommandError::NoKubernetes(settings.bundle.clone()))?;
    print!(
        "{}",
        kubeadm::cluster_configuration(&settings.registry, version)
    );
    Ok(())
}
