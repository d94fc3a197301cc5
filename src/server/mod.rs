//! `outpost serve`: bundles as a read-only OCI registry, with health, metrics, request logs,
//! TLS, a bound on concurrent requests and graceful shutdown.
//!
//! Router assembly only; the URL grammar is in `path`, naming rules in `catalog`, handlers in
//! `oci`, byte ranges in `range`, certificates in `tls`.

pub mod catalog;
pub mod distribution;
pub mod error;
pub mod mirror;
pub mod path;
pub mod range;
pub mod tls;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use catalog::Catalog;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counters behind `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    pub bytes_served: AtomicU64,
    pub in_flight: AtomicU64,
    pub damaged_blobs: AtomicU64,
    /// Blobs whose bytes were hashed and matched, per bundle file version (not exported):
    /// (digest, bundle path, offset, (inode, mtime)).
    pub verified_blobs: Mutex<
        std::collections::HashSet<(
            crate::digest::Digest,
            PathBuf,
            u64,
            distribution::FileVersion,
        )>,
    >,
}

impl Metrics {
    fn render(&self, catalog: &Catalog) -> String {
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
        out
    }
}

struct AppState {
    /// Swapped whole on a reload (SIGHUP); requests in flight keep the catalog they took.
    catalog: std::sync::RwLock<Arc<Catalog>>,
    metrics: Arc<Metrics>,
}

impl AppState {
    fn catalog(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(catalog) => catalog.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Builds a fresh catalog (re-reading a store's releases) when the server gets SIGHUP.
pub type Reload = Box<dyn Fn() -> Result<Catalog, String> + Send + Sync>;

/// How to serve.
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub tls: Option<tls::TlsFiles>,
    pub max_concurrent_requests: usize,
    pub shutdown_grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS certificate {cert} / key {key}: {source}")]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        source: std::io::Error,
    },
}

/// The route label for metrics (bounded set of values).
fn route_label(path: &str) -> &'static str {
    match path {
        "/healthz" => "healthz",
        "/metrics" => "metrics",
        _ if path == "/files" || path.starts_with("/files/") => "files",
        _ if path == "/apt" || path.starts_with("/apt/") => "apt",
        _ => match path.strip_prefix("/v2/").map(path::parse) {
            Some(Ok(path::Route::Base)) => "base",
            Some(Ok(path::Route::Catalog)) => "catalog",
            Some(Ok(path::Route::Tags { .. })) => "tags",
            Some(Ok(path::Route::Manifest { .. })) => "manifest",
            Some(Ok(path::Route::Blob { .. })) => "blob",
            Some(Ok(path::Route::Referrers { .. })) => "referrers",
            Some(Ok(path::Route::Upload { .. })) => "upload",
            _ if path == "/v2" => "base",
            _ => "other",
        },
    }
}

async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = route_label(&path);
    let target = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.clone(),
    };
    state.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let response = next.run(request).await;
    state.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    let status = response.status().as_u16();
    if let Ok(mut requests) = state.metrics.requests.lock() {
        *requests.entry((route, status)).or_default() += 1;
    }
    tracing::info!(target: "outpost::access", %method, path = %target, status, route, ms = started.elapsed().as_millis() as u64, "request");
    response
}

async fn v2(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let path = request.uri().path();
    let rest = path
        .strip_prefix("/v2/")
        .or_else(|| path.strip_prefix("/v2"))
        .unwrap_or("");
    distribution::handle(
        &state.catalog(),
        &state.metrics,
        request.method(),
        rest,
        request.uri().query(),
        request.headers(),
    )
    .await
}

/// `/files/…` and `/apt/…` both answer from the bundles' files: the generated apt
/// repositories are files under `apt/<repo>/`.
async fn files_under(
    state: Arc<AppState>,
    request: Request,
    route: &str,
    prefix: &str,
) -> Response {
    let path = request.uri().path();
    let rest = path
        .strip_prefix(&format!("{route}/"))
        .or_else(|| path.strip_prefix(route))
        .unwrap_or("");
    let raw = format!("{prefix}{rest}");
    mirror::handle(
        &state.catalog(),
        &state.metrics,
        request.method(),
        &raw,
        request.headers(),
    )
    .await
}

async fn files_route(State(state): State<Arc<AppState>>, request: Request) -> Response {
    files_under(state, request, "/files", "").await
}

async fn apt_route(State(state): State<Arc<AppState>>, request: Request) -> Response {
    files_under(state, request, "/apt", "apt/").await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&state.catalog()),
    )
        .into_response()
}

async fn not_found() -> Response {
    error::OciError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such endpoint: this server answers /v2/, /files/, /apt/, /healthz and /metrics",
    )
    .into_response()
}

/// The router, for tests and for `serve`.
pub fn router(catalog: Catalog, max_concurrent_requests: usize) -> Router {
    router_for(state_for(catalog), max_concurrent_requests)
}

fn state_for(catalog: Catalog) -> Arc<AppState> {
    Arc::new(AppState {
        catalog: std::sync::RwLock::new(Arc::new(catalog)),
        metrics: Arc::new(Metrics::default()),
    })
}

fn router_for(state: Arc<AppState>, max_concurrent_requests: usize) -> Router {
    Router::new()
        .route("/v2", any(v2))
        .route("/v2/", any(v2))
        .route("/v2/{*rest}", any(v2))
        .route("/files", any(files_route))
        .route("/files/", any(files_route))
        .route("/files/{*path}", any(files_route))
        .route("/apt", any(apt_route))
        .route("/apt/", any(apt_route))
        .route("/apt/{*path}", any(apt_route))
        .route("/healthz", any(healthz))
        .route("/metrics", any(metrics))
        .fallback(not_found)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            max_concurrent_requests,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish (up to the grace time).
/// With `reload`, SIGHUP swaps in the catalog it builds (a failed reload keeps the old one).
/// `on_ready` is called with the bound address once the socket is listening.
pub async fn serve(
    catalog: Catalog,
    settings: ServeSettings,
    reload: Option<Reload>,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let state = state_for(catalog);
    if let Some(reload) = reload {
        tokio::spawn(reload_on_hangup(state.clone(), Arc::new(reload)));
    }
    let app = router_for(state, settings.max_concurrent_requests);
    let listener = listen(settings.listen).map_err(|source| ServeError::Bind {
        addr: settings.listen,
        source,
    })?;
    let _ = listener.set_nonblocking(true);
    let bound = listener.local_addr().unwrap_or(settings.listen);
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    let grace = settings.shutdown_grace;
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        shutdown.graceful_shutdown(Some(grace));
    });
    on_ready(bound);
    let service = app.into_make_service();
    let result = match settings.tls {
        Some(files) => {
            let config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(|source| ServeError::Tls {
                        cert: files.cert.clone(),
                        key: files.key.clone(),
                        source,
                    })?;
            let mut server = axum_server::from_tcp_rustls(listener, config)
                .map_err(|source| ServeError::Bind {
                    addr: bound,
                    source,
                })?
                .handle(handle);
            bound_http(server.http_builder());
            server.serve(service).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .map_err(|source| ServeError::Bind {
                    addr: bound,
                    source,
                })?
                .handle(handle);
            bound_http(server.http_builder());
            server.serve(service).await
        }
    };
    result.map_err(|source| ServeError::Bind {
        addr: bound,
        source,
    })
}

/// A listening socket with a backlog long enough for a site's nodes all starting at once
/// (std's default of 128 refuses connections in a burst).
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)?.into_std()
}

/// Bounds what one connection may make the server hold: request heads up to 64 KiB
/// (a larger head is refused), and 20 s to send one (slow clients are dropped).
fn bound_http(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
) {
    builder
        .http1()
        .max_buf_size(64 * 1024)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(20));
    builder.http2().max_header_list_size(64 * 1024);
}

/// On every SIGHUP: build a new catalog off the async threads and swap it in.
async fn reload_on_hangup(state: Arc<AppState>, reload: Arc<Reload>) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return;
    };
    while hangup.recv().await.is_some() {
        let reload = reload.clone();
        match tokio::task::spawn_blocking(move || reload()).await {
            Ok(Ok(catalog)) => {
                let (bundles, repositories) =
                    (catalog.bundles().len(), catalog.repository_names().count());
                match state.catalog.write() {
                    Ok(mut current) => *current = Arc::new(catalog),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(catalog),
                }
                tracing::info!(releases = bundles, repositories, "reloaded on SIGHUP");
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "reload failed; still serving the previous releases")
            }
            Err(e) => {
                tracing::error!(error = %e, "reload failed; still serving the previous releases")
            }
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
