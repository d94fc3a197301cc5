//! The access log, request counting and the audit log: one middleware around every request.
//! The route label it records is the one the handler attached to its response (for `/v2/…`,
//! from the single `path::parse` of the request), so no path is classified twice.

use super::audit;
use super::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// The route a response answered, for metrics and the access log (a bounded set of values).
/// Handlers attach it to their response; a response without one counts as `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteLabel(pub &'static str);

impl RouteLabel {
    pub const FILES: RouteLabel = RouteLabel("files");
    pub const APT: RouteLabel = RouteLabel("apt");
    pub const RPM: RouteLabel = RouteLabel("rpm");
    pub const CHARTS: RouteLabel = RouteLabel("charts");
    pub const HEALTHZ: RouteLabel = RouteLabel("healthz");
    pub const METRICS: RouteLabel = RouteLabel("metrics");
    /// The site dashboard (`/ui/`).
    pub const UI: RouteLabel = RouteLabel("ui");
    /// A method other than GET or HEAD, refused wherever it was sent.
    pub const WRITE: RouteLabel = RouteLabel("write");
    pub const OTHER: RouteLabel = RouteLabel("other");
    /// Refused by authentication or the access rules (401, 403, 429) before any handler ran.
    pub const AUTH: RouteLabel = RouteLabel("auth");
    /// The registry token endpoint (`/token`).
    pub const TOKEN: RouteLabel = RouteLabel("token");

    /// `response`, labelled with this route.
    pub fn on(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }

    fn of(response: &Response) -> RouteLabel {
        response
            .extensions()
            .get::<RouteLabel>()
            .copied()
            .unwrap_or(RouteLabel::OTHER)
    }
}

/// Counts the request (in flight, then by route and status), writes its access log line and,
/// with `--audit-log`, has its audit line written when the response body ends.
pub async fn log_and_count(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let arrived = SystemTime::now();
    let method = request.method().clone();
    let client = match state.audit {
        Some(_) => request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.to_string()),
        None => None,
    };
    let target = match request.uri().path_and_query() {
        Some(target) => target.to_string(),
        None => request.uri().path().to_string(),
    };
    state.metrics.request_started();
    let response = next.run(request).await;
    state.metrics.request_finished();
    let status = response.status().as_u16();
    let RouteLabel(route) = RouteLabel::of(&response);
    state.metrics.count_request(route, status);
    tracing::info!(target: "outpost::access", %method, path = %target, status, route, ms = started.elapsed().as_millis() as u64, "request");
    match &state.audit {
        Some(log) => {
            let request = audit::Request {
                arrived,
                started,
                client,
                method: method.to_string(),
            };
            audit::track(response, request, route, log.clone())
        }
        None => response,
    }
}
