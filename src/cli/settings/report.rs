//! Settings of `store report`: the store, the site key and where its password comes from,
//! the audit logs and the time window.

use super::{Environment, PasswordSource};
use crate::cli::args::StoreReportArgs;
use std::path::PathBuf;

/// `store report`: the store, the site key and its password, what to count.
pub struct StoreReportSettings {
    pub store: PathBuf,
    pub key: PathBuf,
    pub password: PasswordSource,
    pub since: Option<String>,
    pub audit_logs: Vec<PathBuf>,
    pub out: PathBuf,
}

impl StoreReportSettings {
    pub fn resolve(args: &StoreReportArgs, env: &Environment) -> Self {
        StoreReportSettings {
            store: args.store.clone(),
            key: args.key.clone(),
            password: env.password(false),
            since: args.since.clone(),
            audit_logs: args.audit_logs.clone(),
            out: args.out.clone(),
        }
    }
}
