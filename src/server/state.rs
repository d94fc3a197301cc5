//! What every handler shares: the catalog being served (swapped whole on a reload), the
//! counters, the cache of blobs already verified, and when the server started.

use super::audit::AuditLog;
use super::blob::VerifiedBlobs;
use super::catalog::Catalog;
use super::metrics::Metrics;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

pub struct AppState {
    /// Swapped whole on a reload (SIGHUP); requests in flight keep the catalog they took.
    catalog: RwLock<Arc<Catalog>>,
    pub metrics: Arc<Metrics>,
    pub verified_blobs: Arc<VerifiedBlobs>,
    /// When this server started (for `/healthz`'s uptime only: nothing else may depend on
    /// it, so that every instance serving the same releases answers the same).
    pub started: Instant,
    /// The site store served, if any (the dashboard reports the disk space free under it).
    pub store: Option<PathBuf>,
    /// The audit log (`--audit-log`), if any.
    pub audit: Option<Arc<AuditLog>>,
}

impl AppState {
    pub fn new(catalog: Catalog) -> Arc<AppState> {
        AppState::with_store(catalog, None)
    }

    /// As [`AppState::new`], serving the site store at `store`.
    pub fn with_store(catalog: Catalog, store: Option<PathBuf>) -> Arc<AppState> {
        AppState::serving(catalog, store, None, Arc::new(Metrics::default()))
    }

    /// As [`AppState::with_store`], writing the audit log `audit` (whose counters are in
    /// `metrics`).
    pub fn serving(
        catalog: Catalog,
        store: Option<PathBuf>,
        audit: Option<AuditLog>,
        metrics: Arc<Metrics>,
    ) -> Arc<AppState> {
        Arc::new(AppState {
            store,
            audit: audit.map(Arc::new),
            catalog: RwLock::new(Arc::new(catalog)),
            metrics,
            verified_blobs: Arc::new(VerifiedBlobs::default()),
            started: Instant::now(),
        })
    }

    /// The catalog as it is now.
    pub fn catalog(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(catalog) => catalog.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Serves `catalog` from now on.
    pub fn replace_catalog(&self, catalog: Catalog) {
        match self.catalog.write() {
            Ok(mut current) => *current = Arc::new(catalog),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(catalog),
        }
    }
}
