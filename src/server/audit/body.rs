//! A response body that counts the bytes it hands to the connection and, when it is done or
//! dropped (the client went away), sends the request's audit line with that count.

use super::line::{format_time, AuditLine};
use super::writer::AuditLog;
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

/// Everything about the request but the bytes sent and the time taken.
#[derive(Debug, Clone)]
pub struct Pending {
    pub arrived: SystemTime,
    pub started: Instant,
    pub line: AuditLine,
}

impl Pending {
    /// The line, with `bytes` sent and the time since arrival.
    fn finish(mut self, bytes: u64) -> AuditLine {
        self.line.bytes = bytes;
        self.line.ms = self.started.elapsed().as_millis() as u64;
        self.line.time = format_time(self.arrived);
        self.line
    }
}

/// `inner`, counted; the line goes to `log` on drop.
pub struct Counted {
    inner: Body,
    sent: u64,
    pending: Option<Pending>,
    log: Arc<AuditLog>,
}

impl Counted {
    pub fn new(inner: Body, pending: Pending, log: Arc<AuditLog>) -> Counted {
        Counted {
            inner,
            sent: 0,
            pending: Some(pending),
            log,
        }
    }
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                this.sent += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.log.send(pending.finish(self.sent).render());
        }
    }
}
