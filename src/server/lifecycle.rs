//! Running the server: binding the socket, plain or TLS connections with bounded request
//! heads and header timeouts, graceful shutdown on SIGTERM or Ctrl-C, and the SIGHUP reload
//! that swaps in a new catalog. Not for what is answered (the router in `mod.rs`).

use super::audit::{AuditError, AuditLog, AuditSettings};
use super::catalog::Catalog;
use super::metrics::Metrics;
use super::state::AppState;
use super::tls;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Builds a fresh catalog (re-reading a store's releases) when the server gets SIGHUP.
pub type Reload = Box<dyn Fn() -> Result<Catalog, String> + Send + Sync>;

/// How to serve.
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub tls: Option<tls::TlsFiles>,
    pub max_concurrent_requests: usize,
    pub shutdown_grace: Duration,
    /// Whether `/ui/` (the site dashboard) is served.
    pub ui: bool,
    /// The site store served, if any (the dashboard reports the space free under it).
    pub store: Option<PathBuf>,
    /// Where the audit log goes (`--audit-log`), if anywhere.
    pub audit: Option<AuditSettings>,
    /// `--auth`: authentication and the access rules (off when `None`).
    pub auth: Option<super::auth::AuthSettings>,
    /// `--client-ca` (with TLS only): client certificates accepted, and whether required.
    pub client_auth: Option<super::client_cert::ClientAuth>,
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
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Auth(#[from] super::auth::AuthError),
    #[error(transparent)]
    ClientCa(#[from] super::client_cert::ClientCaError),
}

/// Backlog of the listening socket: long enough for a site's nodes all starting at once
/// (std's default of 128 refuses connections in a burst).
const BACKLOG: u32 = 4096;
/// Largest request head accepted; a larger one is refused.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Time a client has to send one request head; slow clients are dropped.
const HEAD_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish (up to the grace time).
/// With `reload`, SIGHUP swaps in the catalog it builds (a failed reload keeps the old one).
/// `on_ready` is called with the bound address once the socket is listening.
pub async fn serve(
    catalog: Catalog,
    settings: ServeSettings,
    reload: Option<Reload>,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let metrics = Arc::new(Metrics::default());
    let audit = match settings.audit.clone() {
        Some(audit) => Some(AuditLog::open(audit, metrics.audit.clone())?),
        None => None,
    };
    let state = AppState::serving(catalog, settings.store.clone(), audit, metrics);
    let audit = state.audit.clone();
    if let Some(reload) = reload {
        tokio::spawn(reload_on_hangup(state.clone(), Arc::new(reload)));
    }
    let auth = match &settings.auth {
        Some(auth) => Some(Arc::new(super::auth::Auth::load(auth)?)),
        None => None,
    };
    let app = super::router_for(state, settings.max_concurrent_requests, settings.ui, auth);
    let listener = listen(settings.listen).map_err(|source| ServeError::Bind {
        addr: settings.listen,
        source,
    })?;
    let _ = listener.set_nonblocking(true);
    let bound = listener.local_addr().unwrap_or(settings.listen);
    let bind_error = |source| ServeError::Bind {
        addr: bound,
        source,
    };
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    let grace = settings.shutdown_grace;
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        shutdown.graceful_shutdown(Some(grace));
    });
    on_ready(bound);
    // The client address (rate limiting of failed logins, the log) comes from the connection.
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let result = match settings.tls {
        Some(files) if settings.client_auth.is_some() => {
            let config = super::client_cert::server_config(
                &files.cert,
                &files.key,
                settings.client_auth.as_ref(),
            )?;
            let mut server = axum_server::from_tcp(listener)
                .map_err(bind_error)?
                .acceptor(super::client_cert::ClientCertAcceptor::new(config))
                .handle(handle);
            bound_http(server.http_builder());
            server.serve(service).await
        }
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
                .map_err(bind_error)?
                .handle(handle);
            bound_http(server.http_builder());
            server.serve(service).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .map_err(bind_error)?
                .handle(handle);
            bound_http(server.http_builder());
            server.serve(service).await
        }
    };
    if let Some(audit) = audit {
        // Lines of the last requests reach the disk before the process ends.
        let _ = tokio::task::spawn_blocking(move || audit.sync(Duration::from_secs(5))).await;
    }
    result.map_err(bind_error)
}

/// A listening socket with a long backlog.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)?.into_std()
}

/// Bounds what one connection may make the server hold: the size of request heads and the
/// time to send one.
fn bound_http(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
) {
    builder
        .http1()
        .max_buf_size(MAX_HEAD_BYTES)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT);
    builder.http2().max_header_list_size(MAX_HEAD_BYTES as u32);
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
                state.replace_catalog(catalog);
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
