//! One module per command: each takes its resolved settings (or, when its arguments are only
//! paths, its clap struct), calls the library and renders the result. Helpers every command
//! shares live here: the async runtime, loading a verifier, opening a bundle for `config`,
//! and the small formatting functions.

mod auth_hash;
mod build;
mod config_apt;
mod config_check;
mod config_containerd;
mod config_dnf;
mod config_helm;
mod config_kubeadm;
mod config_kubespray;
mod config_runtime;
mod diff;
mod estimate;
mod inspect;
mod join;
mod key_generate;
mod load;
mod lock;
mod parity;
mod push;
mod report;
mod sbom;
mod serve;
mod store;
mod verify;

pub use auth_hash::auth_hash;
pub use build::build;
pub use config_apt::config_apt;
pub use config_check::config_check;
pub use config_containerd::config_containerd;
pub use config_dnf::config_dnf;
pub use config_helm::config_helm;
pub use config_kubeadm::config_kubeadm;
pub use config_kubespray::config_kubespray;
pub use config_runtime::{config_containers, config_docker, config_rancher, config_talos};
pub use diff::diff;
pub use inspect::inspect;
pub use join::join;
pub use key_generate::key_generate;
pub use load::load;
pub use lock::lock;
pub use parity::{parity, repair};
pub use push::push;
pub use report::{report_verify, store_report};
pub use sbom::sbom;
pub use serve::serve;
pub use store::{store_list, store_prune, store_verify};
pub use verify::verify;

use super::exit::CliError;
use super::settings::Trust;
use anyhow::Context;
use outpost::bundle::open::OpenBundle;
use outpost::nodeconfig::mirrors::{Mirror, SiteMirrors};
use outpost::sign::Verifier;
use std::path::{Path, PathBuf};

/// What a command itself finds wrong with its input, after the library has answered.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{} is a whole tar, not a split bundle; give NAME.parts.json or a part (NAME.tar.001)", .0.display())]
    NotSplit(PathBuf),
    #[error("store {} holds no release; `outpost load BUNDLE --store {}` first", .0.display(), .0.display())]
    EmptyStore(PathBuf),
    #[error("{} carries no Kubernetes release (its manifest has no spec.kubernetes)", .0.display())]
    NoKubernetes(PathBuf),
    #[error("--ca {path}: cannot read it here ({source}); give the CA certificate file as it is where outpost runs", path = .0.display(), source = .1)]
    CaUnreadable(PathBuf, std::io::Error),
    #[error("--ca {path}: {size} bytes is no CA certificate (at most {MAX_CA_BYTES} bytes)", path = .0.display(), size = .1)]
    CaTooLarge(PathBuf, u64),
    #[error("--ca {}: not a PEM certificate (no -----BEGIN CERTIFICATE----- line)", .0.display())]
    CaNotPem(PathBuf),
    #[error("{0}: give a bundle (NAME.tar, NAME.parts.json or a part), a lockfile (NAME.lock) or a stored release (store:DIR/NAME/VERSION)")]
    DiffSide(String),
    #[error("store {store} holds no release {name} {version}; `outpost store list --store {store}` shows what it holds")]
    NoStoredRelease {
        store: String,
        name: String,
        version: String,
    },
    #[error("{0} carries no lockfile (built by an older outpost?); diff its lockfile (NAME.lock) instead")]
    NoLockfile(String),
    #[error("the password is empty: give one on standard input or at the prompt")]
    EmptyPassword,
    #[error("{failing} of {checked} runtime × registry checks fail: a node with this configuration would pull past the mirrors")]
    PullsPastMirrors { failing: usize, checked: usize },
}

/// The largest `--ca` file read (a CA bundle of a few certificates is a few KiB).
pub const MAX_CA_BYTES: u64 = 1024 * 1024;

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::from)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Writes `bytes` to `path` atomically, naming the file in the error.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    outpost::fsutil::write_atomic(path, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Opens a bundle for a `config` command: its signature must hold, since what it says
/// becomes node configuration (and, for apt, a trust anchor).
fn open_for_config(path: &Path, trust: &Trust) -> Result<OpenBundle, CliError> {
    let verifier = match &trust.key {
        None => {
            eprintln!("WARNING: --insecure-skip-verify: the bundle's signature is NOT checked");
            None
        }
        Some(key) => Some(Verifier::load(key)?),
    };
    Ok(OpenBundle::open(path, verifier.as_ref())?)
}

/// The one model every runtime's configuration is rendered from: the registries of every
/// bundle (each opened and checked as `open_for_config` does), the mirrors in order, the CA.
fn site_mirrors(
    bundles: &[PathBuf],
    trust: &Trust,
    mirrors: &[Mirror],
    ca: Option<String>,
) -> Result<SiteMirrors, CliError> {
    let mut registries = std::collections::BTreeSet::new();
    for path in bundles {
        let bundle = open_for_config(path, trust)?;
        registries.extend(bundle.registries());
    }
    Ok(SiteMirrors {
        registries: registries.into_iter().collect(),
        mirrors: mirrors.to_vec(),
        ca,
    })
}

/// Reads a `--ca` file given where outpost runs: at most [`MAX_CA_BYTES`], PEM.
fn read_ca(path: &Path) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|e| CommandError::CaUnreadable(path.to_path_buf(), e))?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CommandError::CaUnreadable(path.to_path_buf(), e))?;
    if bytes.len() as u64 > MAX_CA_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(CommandError::CaTooLarge(path.to_path_buf(), size).into());
    }
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        return Err(CommandError::CaNotPem(path.to_path_buf()).into());
    }
    Ok(bytes)
}
