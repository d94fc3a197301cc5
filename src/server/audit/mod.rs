//! The audit log (`serve --audit-log FILE`): one JSON line per request with who asked
//! (`Identity`), from where, what (route, repository, reference, resolved digest), the
//! status, the body bytes sent and the time taken; `pull: true` marks a successful manifest
//! GET. The line is written when the response body ends or is dropped, so an aborted
//! download logs the bytes that went out.
//!
//! Handlers describe what a request was about by attaching an [`AuditTarget`] to their
//! response (as they attach the `RouteLabel`); `access::log_and_count` wraps every response
//! with [`track`]. The line format is in `line`, the counting body in `body`, the bounded
//! queue, batched fsync and rotation in `writer`.

mod body;
pub mod line;
pub mod writer;

pub use line::AuditLine;
pub use writer::{AuditCounters, AuditError, AuditLog, AuditSettings};

use super::identity::Identity;
use axum::body::Body;
use axum::response::Response;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// What a request was about, attached by its handler to the response: the repository and
/// reference asked for (or, for `/files`, `/apt` and `/charts`, the path below the area as
/// `reference`) and the digest it resolved to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditTarget {
    pub repository: Option<String>,
    pub reference: Option<String>,
    pub digest: Option<String>,
}

impl AuditTarget {
    /// A path below `/files`, `/apt` or `/charts`.
    pub fn path(path: &str) -> AuditTarget {
        AuditTarget {
            reference: Some(path.to_string()),
            ..AuditTarget::default()
        }
    }

    /// `response`, carrying this target.
    pub fn on(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// The request facts the middleware saw before the handler ran.
pub struct Request {
    pub arrived: SystemTime,
    pub started: Instant,
    pub client: Option<String>,
    pub method: String,
}

/// `response` with a body that sends its audit line to `log` when it ends or is dropped.
pub fn track(
    mut response: Response,
    request: Request,
    route: &'static str,
    log: Arc<AuditLog>,
) -> Response {
    let status = response.status().as_u16();
    let target = response
        .extensions_mut()
        .remove::<AuditTarget>()
        .unwrap_or_default();
    let line = AuditLine {
        time: String::new(),
        identity: Identity::of(&response).name(),
        client: request.client,
        pull: line::is_pull(&request.method, route, status),
        method: request.method,
        route: route.to_string(),
        repository: target.repository,
        reference: target.reference,
        digest: target.digest,
        status,
        bytes: 0,
        ms: 0,
    };
    let pending = body::Pending {
        arrived: request.arrived,
        started: request.started,
        line,
    };
    let (parts, inner) = response.into_parts();
    Response::from_parts(parts, Body::new(body::Counted::new(inner, pending, log)))
}
