//! `outpost config k3s|rke2|crio|podman|talos|docker`: each runtime's registry configuration,
//! rendered from the one `SiteMirrors` of the bundles and `--mirror`s. With `--out DIR` the
//! files are written under DIR as on a node (DIR/etc/…); without it they are printed. Notes
//! for the operator (what to copy where, the runtime's limits) go to stderr.

use super::{read_ca, site_mirrors, write_file};
use crate::cli::exit::CliError;
use crate::cli::settings::RuntimeSettings;
use outpost::nodeconfig::containers::{self, Engine};
use outpost::nodeconfig::k3s::{self, Distribution};
use outpost::nodeconfig::mirrors::SiteMirrors;
use outpost::nodeconfig::{docker, talos};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the Talos patch goes under `--out` (it is applied with talosctl, not copied).
const TALOS_PATCH_FILE: &str = "talos-registries-patch.yaml";

/// `node_path` (absolute, on a node) under the node-root directory `root`.
fn under(root: &Path, node_path: &str) -> PathBuf {
    root.join(node_path.trim_start_matches('/'))
}

/// Writes `text` at `node_path` under `--out`, or prints it when there is no `--out`.
fn emit(out: Option<&Path>, node_path: &str, text: &str) -> Result<(), CliError> {
    match out {
        Some(root) => {
            let path = under(root, node_path);
            write_file(&path, text.as_bytes())?;
            eprintln!("wrote {} (copy it to {node_path})", path.display());
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(anyhow::Error::from)?;
        }
    }
    Ok(())
}

/// The site of `settings` with `ca` as the CA path the renderer names.
fn site(settings: &RuntimeSettings, ca: Option<String>) -> Result<SiteMirrors, CliError> {
    site_mirrors(&settings.bundles, &settings.trust, &settings.mirrors, ca)
}

/// Copies the CA (read here) to every path in `node_paths` under `--out`, or says where to
/// copy it; says when `--ca` has no https mirror to apply to, or https mirrors have no CA.
fn place_ca(
    settings: &RuntimeSettings,
    ca: Option<&[u8]>,
    node_paths: &[String],
) -> Result<(), CliError> {
    match (ca, &settings.ca) {
        (Some(bytes), Some(given)) => {
            if node_paths.is_empty() {
                eprintln!(
                    "note: --ca {} is not used: no mirror is https",
                    given.display()
                );
            }
            for node_path in node_paths {
                match &settings.out {
                    Some(root) => {
                        let path = under(root, node_path);
                        write_file(&path, bytes)?;
                        eprintln!("wrote {} (copy it to {node_path})", path.display());
                    }
                    None => eprintln!("copy {} to {node_path} on every node", given.display()),
                }
            }
        }
        _ if !node_paths.is_empty() => {
            eprintln!("note: no --ca: nodes must already trust the https mirrors' certificates")
        }
        _ => {}
    }
    Ok(())
}

/// `config k3s` / `config rke2`: registries.yaml, and the config.yaml drop-in that switches
/// the default endpoint off (printed; also written under `--out`).
pub fn config_rancher(
    settings: &RuntimeSettings,
    distribution: Distribution,
) -> Result<(), CliError> {
    let ca = settings.ca.as_ref().map(|p| p.display().to_string());
    let site = site(settings, ca.clone())?;
    let registries = k3s::registries_yaml(&site, distribution);
    let snippet = k3s::config_snippet(distribution);
    match &settings.out {
        Some(root) => {
            emit(Some(root), &distribution.registries_path(), &registries)?;
            emit(Some(root), &distribution.config_dropin_path(), &snippet)?;
            print!("{snippet}");
        }
        None => print!("{registries}---\n{snippet}"),
    }
    if let Some(ca) = ca {
        eprintln!("copy the site CA to {ca} on every node");
    }
    let name = distribution.name();
    eprintln!(
        "then restart {name} on every node (systemctl restart {name}-server or {name}-agent{})",
        if distribution == Distribution::K3s {
            "; plain k3s installs: systemctl restart k3s"
        } else {
            ""
        }
    );
    if distribution == Distribution::Rke2 {
        eprintln!(
            "note: RKE2 starts its own runtime (rke2-runtime) and system images before containerd reads registries.yaml: put the release's airgap images tarball in /var/lib/rancher/rke2/agent/images/ on every node"
        );
    }
    Ok(())
}

/// `config crio` / `config podman`: registries.conf and the certs.d CA copies.
pub fn config_containers(settings: &RuntimeSettings, engine: Engine) -> Result<(), CliError> {
    let ca = settings.ca.as_deref().map(read_ca).transpose()?;
    let site = site(settings, None)?;
    emit(
        settings.out.as_deref(),
        engine.registries_path(),
        &containers::registries_conf(&site, engine),
    )?;
    place_ca(settings, ca.as_deref(), &containers::ca_paths(&site))?;
    eprintln!("{}", engine.reload_hint());
    Ok(())
}

/// `config talos`: the machine-config patch (the CA embedded).
pub fn config_talos(settings: &RuntimeSettings) -> Result<(), CliError> {
    let ca = settings.ca.as_deref().map(read_ca).transpose()?;
    let site = site(settings, None)?;
    let patch = talos::machine_config_patch(&site, ca.as_deref());
    match &settings.out {
        Some(root) => {
            let path = root.join(TALOS_PATCH_FILE);
            write_file(&path, patch.as_bytes())?;
            eprintln!(
                "wrote {}: talosctl patch machineconfig --nodes <node> --patch @{}",
                path.display(),
                path.display()
            );
        }
        None => print!("{patch}"),
    }
    Ok(())
}

/// `config docker`: daemon.json, the certs.d CA copies, and Docker's limits said plainly.
pub fn config_docker(settings: &RuntimeSettings) -> Result<(), CliError> {
    let ca = settings.ca.as_deref().map(read_ca).transpose()?;
    let site = site(settings, None)?;
    emit(
        settings.out.as_deref(),
        "/etc/docker/daemon.json",
        &docker::daemon_json(&site),
    )?;
    place_ca(settings, ca.as_deref(), &docker::ca_paths(&site))?;
    eprint!("{}", docker::limits(&site));
    eprintln!("merge it into an existing /etc/docker/daemon.json, then systemctl restart docker");
    Ok(())
}
