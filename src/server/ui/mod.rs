//! The site dashboard, `/ui/`: server-rendered HTML (no JavaScript, no external assets) for
//! the technician at the mirror. `/ui/` lists the releases served with a health summary,
//! `/ui/release/<name>/<version>` one release's images, charts, files and Debian and RPM packages,
//! `/ui/health` uptime, requests by route, bytes served and disk free under the store.
//! Every list takes `?q=TEXT` (case-insensitive substring of the reference or name) and
//! `?page=N` (1-based, [`model::PAGE_SIZE`] rows). Rows are built once per catalog load
//! ([`model::ReleaseView`], kept in the catalog); a request filters and renders one page.
//! `/ui/release/<name>/<version>/sbom.cdx.json` is the release's CycloneDX 1.5 SBOM, made
//! from its carried lockfile as `bundle sbom` makes it (`crate::sbom`).
//! Off with `serve --ui=false` (the paths then answer 404). Route label `ui`.

pub mod lock_rows;
pub mod model;
mod pages;

use super::access::RouteLabel;
use super::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use model::{human_bytes, page};
use pages::{duration_text, HealthPage, IndexPage, ReleasePage};
use std::collections::HashMap;
use std::sync::Arc;

/// `/ui/`, `/ui/release/{name}/{version}`, `/ui/health` (and `/ui` redirected).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ui", get(to_index))
        .route("/ui/", get(index))
        .route("/ui/health", get(health))
        .route("/ui/release/{name}/{version}", get(release))
        .route("/ui/release/{name}/{version}/sbom.cdx.json", get(sbom))
}

/// The release's CycloneDX SBOM: 404 when no such release is served or it carries no
/// lockfile, 500 naming the error when its lockfile cannot be read (the dashboard's rows
/// read the lockfile leniently, the SBOM needs all of it).
async fn sbom(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    let catalog = state.catalog();
    let at = catalog
        .views()
        .iter()
        .position(|r| r.name == name && r.version == version && r.carries_lock);
    let carried = match at {
        Some(at) => tokio::task::spawn_blocking(move || match catalog.bundles().get(at) {
            Some(bundle) => crate::bundle::upstream::carried_lockfile(bundle)
                .map_err(|e| crate::errors::chain(&e)),
            None => Ok(None),
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string())),
        None => Ok(None),
    };
    let lock = match sbom_source(&name, &version, carried) {
        Ok(lock) => lock,
        Err((status, message)) => {
            return RouteLabel::UI.on((
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                message,
            )
                .into_response())
        }
    };
    let time = crate::sbom::timestamp(None).unwrap_or_default();
    let body = crate::sbom::render(&lock, crate::sbom::Format::CycloneDx, &time);
    RouteLabel::UI.on((
        [(header::CONTENT_TYPE, crate::sbom::cyclonedx::MEDIA_TYPE)],
        body,
    )
        .into_response())
}

/// The lockfile an SBOM is made from, or the status and message to answer instead.
fn sbom_source(
    name: &str,
    version: &str,
    carried: Result<Option<crate::lock::Lockfile>, String>,
) -> Result<crate::lock::Lockfile, (StatusCode, String)> {
    match carried {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => Err((
            StatusCode::NOT_FOUND,
            "no such release is served, or it carries no lockfile; the releases are listed at /ui/"
                .to_string(),
        )),
        Err(error) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "release {name} {version}: its carried lockfile cannot be read for an SBOM: {error}; \
                 `outpost bundle sbom` on the bundle with an outpost as new as the one that built it makes the SBOM"
            ),
        )),
    }
}

/// `?q=` and `?page=`, read leniently: a bad page number is page 1.
fn query(params: &HashMap<String, String>) -> (&str, usize) {
    let q = params.get("q").map(String::as_str).unwrap_or("");
    let page = params.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    (q, page)
}

fn html(result: Result<String, askama::Error>) -> Response {
    let response = match result {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering a dashboard page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the dashboard page could not be rendered; see the server log",
            )
                .into_response()
        }
    };
    RouteLabel::UI.on(response)
}

async fn to_index() -> Response {
    RouteLabel::UI.on(axum::response::Redirect::permanent("/ui/").into_response())
}

/// Space available to unprivileged users on the store's filesystem, as text.
fn disk_free(state: &AppState) -> Option<String> {
    let store = state.store.as_ref()?;
    let free = crate::fsutil::free_space(store).ok()?;
    Some(human_bytes(free.available))
}

async fn index(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let catalog = state.catalog();
    let (q, number) = query(&params);
    let routes = state.metrics.by_route();
    let body = IndexPage {
        q,
        p: page(catalog.views(), q, number, |r| &r.name),
        uptime: duration_text(state.started.elapsed().as_secs()),
        requests: routes.iter().map(|r| r.1).sum(),
        errors: routes.iter().map(|r| r.3).sum(),
        bytes_served: human_bytes(state.metrics.bytes_served()),
        disk_free: disk_free(&state),
    }
    .render();
    html(body)
}

async fn release(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let catalog = state.catalog();
    let Some(r) = catalog
        .views()
        .iter()
        .find(|r| r.name == name && r.version == version)
    else {
        return RouteLabel::UI.on((
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such release is served; the releases are listed at /ui/",
        )
            .into_response());
    };
    let (q, number) = query(&params);
    let body = ReleasePage {
        q,
        r,
        images: page(&r.images, q, number, |i| &i.reference),
        charts: page(&r.charts, q, number, |c| &c.name),
        files: page(&r.files, q, number, |f| &f.path),
        packages: page(&r.packages, q, number, |d| &d.name),
    }
    .render();
    html(body)
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let body = HealthPage {
        uptime: duration_text(state.started.elapsed().as_secs()),
        releases: state.catalog().views().len(),
        bytes_served: human_bytes(state.metrics.bytes_served()),
        disk_free: disk_free(&state),
        routes: state.metrics.by_route(),
    }
    .render();
    html(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_lockfile_is_a_500_that_says_why_not_a_404() {
        let (status, message) = sbom_source(
            "edge",
            "1.0",
            Err("unknown field `x` at line 1 column 30".into()),
        )
        .unwrap_err();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(message.contains("release edge 1.0"), "{message}");
        assert!(
            message.contains("unknown field `x` at line 1 column 30"),
            "{message}"
        );
        let (status, message) = sbom_source("edge", "1.0", Ok(None)).unwrap_err();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(message.contains("carries no lockfile"), "{message}");
    }
}
