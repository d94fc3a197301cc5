//! Arguments of the audit trail: `serve --audit-log …`, `store report` and `report verify`.
//! Data only.

use super::JsonArgs;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `serve --audit-log FILE` and its rotation.
#[derive(Debug, Args)]
pub struct AuditLogArgs {
    /// Write one JSON line per request (who, from where, what, digest, status, bytes, time)
    /// to FILE; `outpost store report` counts pulls from it.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Rotate the audit log when it reaches this size (e.g. 100MiB, 1G).
    #[arg(long, value_name = "SIZE", default_value = "100MiB", value_parser = parse_size, requires = "audit_log")]
    pub audit_log_max_size: u64,
    /// Rotated audit logs kept (FILE.1 … FILE.N; the oldest is dropped).
    #[arg(long, value_name = "N", default_value_t = 5, requires = "audit_log")]
    pub audit_log_keep: usize,
}

fn parse_size(text: &str) -> Result<u64, String> {
    match outpost::bundle::parts::parse_size(text)? {
        0 => Err("the size must be above 0".into()),
        size => Ok(size),
    }
}

/// `store report`: the site's signed receipt.
#[derive(Debug, Args)]
pub struct StoreReportArgs {
    /// The site store directory.
    #[arg(long)]
    pub store: PathBuf,
    /// The site's private key (`outpost key generate --site` writes keys/site.key).
    #[arg(long, default_value = "keys/site.key")]
    pub key: PathBuf,
    /// Count only pulls at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Audit logs to count pulls from (repeatable: give the rotated FILE.1 … too).
    #[arg(long = "audit-log", value_name = "FILE")]
    pub audit_logs: Vec<PathBuf>,
    /// Where to write the report; its signature goes beside it as <out>.sig.
    #[arg(long, default_value = "report.json")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Check a site's receipt (report.json and report.json.sig) and print its releases and
    /// pull counts.
    Verify(ReportVerifyArgs),
}

#[derive(Debug, Args)]
pub struct ReportVerifyArgs {
    /// The report (its signature is read from REPORT.sig).
    pub report: PathBuf,
    /// The site's public key (site.pub).
    #[arg(long)]
    pub key: PathBuf,
    #[command(flatten)]
    pub json: JsonArgs,
}
