//! Arguments of `outpost serve` (split from args.rs to keep it small). Data only.

use super::{AuditLogArgs, PublicKeyArgs};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Bundles to serve (NAME.tar, NAME.parts.json or any part); signatures are checked first.
    #[arg(required_unless_present = "store")]
    pub bundles: Vec<PathBuf>,
    /// Also serve every release in this site store (see `outpost load`).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:5000")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub key: PublicKeyArgs,
    /// Serve bundles without checking their signature (DANGEROUS: for recovery only).
    #[arg(long)]
    pub insecure_skip_verify: bool,
    /// TLS certificate chain (PEM); with --tls-key.
    #[arg(long, requires = "tls_key", conflicts_with = "tls")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); with --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// `auto`: create a site CA and a server certificate (see --hostname, --state-dir).
    #[arg(long, value_enum)]
    pub tls: Option<TlsMode>,
    /// Names and IP addresses nodes use to reach this server (for --tls auto; repeatable).
    #[arg(long = "hostname")]
    pub hostnames: Vec<String>,
    /// Where --tls auto keeps the site CA and server certificate, and --auth the
    /// token-signing key (token.key, created on first start).
    #[arg(long, default_value = "outpost-state")]
    pub state_dir: PathBuf,
    /// Auth file (YAML: users, groups, rules): turns on authentication, the access rules
    /// and the registry token endpoint /token. See "Securing the mirror" in the README.
    #[arg(long, value_name = "FILE")]
    pub auth: Option<PathBuf>,
    /// Lifetime of registry tokens issued by /token, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, requires = "auth", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub token_ttl: u64,
    /// CA certificates (PEM) whose client certificates are accepted (mTLS; needs TLS). The
    /// certificate's CN and DNS names are the client's identity (`cert:NAME` in rules, or
    /// the user whose `certificate: {cn: ...}` matches).
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// Refuse connections without a client certificate from --client-ca.
    #[arg(long, requires = "client_ca")]
    pub require_client_cert: bool,
    /// Requests answered at once; more wait their turn.
    #[arg(long, default_value_t = 512)]
    pub max_concurrent_requests: usize,
    /// Serve the site dashboard at /ui/ (`--ui=false` turns it off).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ui: bool,
    #[command(flatten)]
    pub audit: AuditLogArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    /// Create a site CA once (under --state-dir) and a server certificate for --hostname.
    Auto,
}
