//! The server's counters and the `/metrics` (Prometheus text) and `/healthz` (JSON: the
//! releases served, by index digest) endpoints. Not for naming a request's route: handlers attach that (for `/v2/…`, from `path::parse`) and
//! `access` counts it here.

use super::access::RouteLabel;
use super::audit::AuditCounters;
use super::catalog::Catalog;
use super::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters behind `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests answered, by route label and status.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    bytes_served: AtomicU64,
    in_flight: AtomicU64,
    damaged_blobs: AtomicU64,
    /// The audit log's counters (zero without `--audit-log`).
    pub audit: Arc<AuditCounters>,
}

impl Metrics {
    pub fn count_request(&self, route: &'static str, status: u16) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route, status)).or_default() += 1;
        }
    }

    pub fn add_bytes_served(&self, bytes: u64) {
        self.bytes_served.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn count_damaged_blob(&self) {
        self.damaged_blobs.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests answered so far by route label: `(route, requests, client errors (4xx),
    /// server errors (5xx))`, sorted by route.
    pub fn by_route(&self) -> Vec<(&'static str, u64, u64, u64)> {
        let mut out: Vec<(&'static str, u64, u64, u64)> = Vec::new();
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), count) in requests.iter() {
                if out.last().is_none_or(|last| last.0 != *route) {
                    out.push((route, 0, 0, 0));
                }
                if let Some(last) = out.last_mut() {
                    last.1 += count;
                    match status {
                        400..=499 => last.2 += count,
                        500.. => last.3 += count,
                        _ => {}
                    }
                }
            }
        }
        out
    }

    /// Blob and file bytes sent so far.
    pub fn bytes_served(&self) -> u64 {
        self.bytes_served.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of the counters and of what `catalog` serves.
    pub fn render(&self, catalog: &Catalog) -> String {
        let mut out = String::new();
        out.push_str("# HELP outpost_requests_total HTTP requests by route and status.\n# TYPE outpost_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), count) in requests.iter() {
                out.push_str(&format!(
                    "outpost_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}\n"
                ));
            }
        }
        out.push_str(&format!(
            "# HELP outpost_bytes_served_total Blob bytes sent.\n# TYPE outpost_bytes_served_total counter\noutpost_bytes_served_total {}\n",
            self.bytes_served.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP outpost_requests_in_flight Requests being answered.\n# TYPE outpost_requests_in_flight gauge\noutpost_requests_in_flight {}\n",
            self.in_flight.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP outpost_damaged_blobs_total Blob responses aborted because the bundle's bytes did not match the digest.\n# TYPE outpost_damaged_blobs_total counter\noutpost_damaged_blobs_total {}\n",
            self.damaged_blobs.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP outpost_bundles Bundles served.\n# TYPE outpost_bundles gauge\noutpost_bundles {}\n# HELP outpost_repositories Repositories served.\n# TYPE outpost_repositories gauge\noutpost_repositories {}\n",
            catalog.bundles().len(),
            catalog.repository_names().count()
        ));
        let audit = [
            (
                "outpost_audit_lines_total",
                "Audit log lines handed to the file (lines buffered when a write fails are lost: see the write errors).",
                &self.audit.lines,
            ),
            (
                "outpost_audit_lines_dropped_total",
                "Audit log lines dropped because the writer fell behind (full queue).",
                &self.audit.dropped,
            ),
            (
                "outpost_audit_write_errors_total",
                "Audit log writes, fsyncs or rotations that failed (a full disk).",
                &self.audit.write_errors,
            ),
        ];
        for (name, help, counter) in audit {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                counter.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// `/metrics` and `/healthz`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/metrics", any(metrics))
        .route("/healthz", any(healthz))
}

/// `/healthz`: `{"status":"ok","releases":[{"name","version","index"}…],"uptime_seconds":N}`
/// as `application/json`. Cheap: read from the catalog built at start or on the last reload.
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let body = health(&state.catalog(), state.started.elapsed().as_secs());
    let response = (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    RouteLabel::HEALTHZ.on(response)
}

/// The `/healthz` document: `status` (`"ok"` while serving), `releases` in the order they
/// are served (a store's releases oldest load first, then the bundles given), each with its
/// `name`, `version` and `index` (the digest of the release's signed `index.json`, as checked
/// when it was opened), and `uptime_seconds` since this server started. Two servers of the
/// same releases list the same `releases`; a load balancer or an operator compares them.
pub fn health(catalog: &Catalog, uptime_seconds: u64) -> serde_json::Value {
    let releases: Vec<serde_json::Value> = catalog
        .bundles()
        .iter()
        .map(|bundle| {
            serde_json::json!({
                "name": bundle.head.release.name,
                "version": bundle.head.release.version,
                "index": bundle.index_digest.to_string(),
            })
        })
        .collect();
    serde_json::json!({
        "status": "ok",
        "releases": releases,
        "uptime_seconds": uptime_seconds,
    })
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state.metrics.render(&state.catalog());
    let response = ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response();
    RouteLabel::METRICS.on(response)
}
