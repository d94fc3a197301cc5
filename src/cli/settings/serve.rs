//! `outpost serve`'s settings, resolved from its arguments before any I/O (split from
//! settings.rs to keep it small).

use super::SettingsError;
use crate::cli::args::{ServeArgs, TlsMode};
use outpost::server::audit::AuditSettings;
use outpost::server::tls::TlsFiles;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How `serve` speaks TLS.
pub enum TlsSettings {
    /// Plain HTTP.
    Off,
    /// A site CA under `state_dir` (created once) and a server certificate for `hostnames`.
    Auto {
        state_dir: PathBuf,
        hostnames: Vec<String>,
    },
    /// The operator's certificate and key.
    Files(TlsFiles),
}

pub struct ServeCommandSettings {
    pub bundles: Vec<PathBuf>,
    pub store: Option<PathBuf>,
    pub listen: SocketAddr,
    /// `None`: `--insecure-skip-verify`.
    pub key: Option<PathBuf>,
    pub tls: TlsSettings,
    pub max_concurrent_requests: usize,
    /// Whether `/ui/` is served.
    pub ui: bool,
    /// `--audit-log` and its rotation.
    pub audit: Option<AuditSettings>,
    /// `--auth FILE`, with `--token-ttl`.
    pub auth: Option<(PathBuf, std::time::Duration)>,
    /// `--state-dir` (the site CA for `--tls auto`, the token key for `--auth`).
    pub state_dir: PathBuf,
    /// `--client-ca`, `--require-client-cert`.
    pub client_auth: Option<outpost::server::client_cert::ClientAuth>,
}

impl ServeCommandSettings {
    pub fn resolve(args: &ServeArgs) -> Result<Self, SettingsError> {
        let tls = match (&args.tls, &args.tls_cert, &args.tls_key) {
            (Some(TlsMode::Auto), _, _) => TlsSettings::Auto {
                state_dir: args.state_dir.clone(),
                hostnames: args.hostnames.clone(),
            },
            (None, Some(cert), Some(key)) => TlsSettings::Files(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => TlsSettings::Off,
        };
        if args.client_ca.is_some() && matches!(tls, TlsSettings::Off) {
            return Err(SettingsError::ClientCaWithoutTls);
        }
        Ok(ServeCommandSettings {
            bundles: args.bundles.clone(),
            store: args.store.clone(),
            listen: args.listen,
            key: (!args.insecure_skip_verify).then(|| args.key.key.clone()),
            tls,
            max_concurrent_requests: args.max_concurrent_requests.max(1),
            ui: args.ui,
            audit: args.audit.audit_log.as_ref().map(|path| AuditSettings {
                path: path.clone(),
                max_size: args.audit.audit_log_max_size,
                keep: args.audit.audit_log_keep,
            }),
            auth: args
                .auth
                .clone()
                .map(|file| (file, std::time::Duration::from_secs(args.token_ttl))),
            state_dir: args.state_dir.clone(),
            client_auth: args.client_ca.clone().map(|ca| {
                outpost::server::client_cert::ClientAuth {
                    ca,
                    required: args.require_client_cert,
                }
            }),
        })
    }
}
