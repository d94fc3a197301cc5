//! `outpost serve`: bundles as a read-only OCI registry (`/v2/`), a binary mirror (`/files/`),
//! apt repositories (`/apt/`), dnf repositories (`/rpm/`) and Helm chart repositories (`/charts/`), with health, metrics, an access log, an audit log, TLS, a bound on
//! concurrent requests, graceful shutdown and reload on SIGHUP.
//!
//! Router assembly only. The `/v2/` handlers are in `distribution` (URL grammar in `path`,
//! naming rules in `catalog`, errors in `error`), `/files/`, `/apt/` and `/rpm/` in `mirror`,
//! `/charts/` in `chartrepo`, the site dashboard `/ui/` in `ui` (what it serves, built per catalog, in `charts`), blob
//! bytes and their verification in `blob` (byte ranges in `range`, `ETag` and
//! `If-None-Match` in `conditional`), `/metrics` and `/healthz` in `metrics`, the access log in `access`, the audit log in `audit`, the shared state in `state`, the
//! socket, signals and reload in `lifecycle`, certificates in `tls`, client certificates
//! (mTLS) in `client_cert`, authentication, the access rules and the token endpoint in
//! `auth`.

mod access;
pub mod audit;
pub mod auth;
mod blob;
pub mod catalog;
pub mod chartrepo;
pub mod charts;
pub mod client_cert;
mod conditional;
pub mod distribution;
pub mod error;
pub mod identity;
mod lifecycle;
mod metrics;
pub mod mirror;
pub mod path;
pub mod range;
mod state;
pub mod tls;
pub mod ui;

pub use lifecycle::{serve, Reload, ServeError, ServeSettings};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{middleware, Router};
use catalog::Catalog;
use state::AppState;
use std::sync::Arc;
use tower::limit::GlobalConcurrencyLimitLayer;

/// The router, for tests and for `serve` (with the site dashboard).
pub fn router(catalog: Catalog, max_concurrent_requests: usize) -> Router {
    router_for(AppState::new(catalog), max_concurrent_requests, true, None)
}

/// As [`router`], with authentication and the access rules of `auth` (tests).
pub fn router_with_auth(
    catalog: Catalog,
    max_concurrent_requests: usize,
    auth: Arc<auth::Auth>,
) -> Router {
    router_for(
        AppState::new(catalog),
        max_concurrent_requests,
        true,
        Some(auth),
    )
}

fn router_for(
    state: Arc<AppState>,
    max_concurrent_requests: usize,
    ui: bool,
    auth: Option<Arc<auth::Auth>>,
) -> Router {
    let areas = if ui {
        Router::new().merge(ui::routes())
    } else {
        Router::new()
    };
    let mut areas = areas
        .merge(distribution::routes())
        .merge(mirror::routes())
        .merge(chartrepo::routes())
        .merge(metrics::routes());
    let context = auth.map(|auth| auth::AuthContext {
        app: state.clone(),
        auth,
    });
    if let Some(context) = &context {
        areas = areas.merge(auth::token_routes(context.clone()));
    }
    let mut app = areas
        .method_not_allowed_fallback(read_only)
        .fallback(not_found);
    // Authentication runs inside the bound on concurrent requests (a flood of guesses waits
    // like any other request) and inside the access log, so refusals are logged and counted
    // and the identity it attaches to the response is seen by the outer layers.
    if let Some(context) = context {
        app = app.layer(middleware::from_fn_with_state(
            context,
            auth::authenticate_and_authorise,
        ));
    }
    app.layer(GlobalConcurrencyLimitLayer::new(max_concurrent_requests))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            access::log_and_count,
        ))
        .layer(middleware::map_response(distribution::api_version_header))
        .with_state(state)
}

/// Read-only is a routing decision: the areas route only GET and HEAD, and every other method
/// lands here.
async fn read_only() -> Response {
    access::RouteLabel::WRITE.on(error::OciError::read_only().into_response())
}

/// A path outside every area.
async fn not_found() -> Response {
    error::OciError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such endpoint: this server answers /v2/, /files/, /apt/, /rpm/, /charts/, /ui/, /healthz and /metrics",
    )
    .into_response()
}

#[cfg(test)]
mod tests;
