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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::audit::writer::{AuditCounters, AuditSettings};
    use http_body::Body as _;

    fn pending() -> Pending {
        Pending {
            arrived: SystemTime::now(),
            started: Instant::now(),
            line: AuditLine {
                time: String::new(),
                identity: "anonymous".into(),
                client: None,
                method: "GET".into(),
                route: "blob".into(),
                repository: None,
                reference: None,
                digest: None,
                status: 200,
                bytes: 0,
                ms: 0,
                pull: false,
            },
        }
    }

    /// The lines of `path` once the writer has written `count`.
    fn lines(path: &std::path::Path, counters: &AuditCounters, count: u64) -> Vec<AuditLine> {
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while counters.lines.load(std::sync::atomic::Ordering::Relaxed) < count
            && Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter_map(AuditLine::parse)
            .collect()
    }

    #[tokio::test]
    async fn an_aborted_body_logs_the_bytes_that_went_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let counters = Arc::new(AuditCounters::default());
        let settings = AuditSettings {
            path: path.clone(),
            max_size: 1 << 20,
            keep: 1,
        };
        let log = Arc::new(AuditLog::open(settings, counters.clone()).unwrap());
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            (0..4).map(|_| Ok(Bytes::from(vec![7u8; 1000]))).collect();
        let inner = Body::from_stream(futures::stream::iter(chunks));
        let mut body = Counted::new(inner, pending(), log.clone());
        for _ in 0..2 {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            assert!(frame.unwrap().unwrap().is_data());
        }
        drop(body); // the client went away after two chunks

        let whole = Counted::new(Body::from(vec![1u8; 123]), pending(), log.clone());
        let collected = axum::body::to_bytes(Body::new(whole), 1 << 20)
            .await
            .unwrap();
        assert_eq!(collected.len(), 123);
        drop(log);
        let written = lines(&path, &counters, 2);
        let bytes: Vec<u64> = written.iter().map(|l| l.bytes).collect();
        assert_eq!(bytes, [2000, 123]);
        assert!(written.iter().all(|l| l.time.ends_with('Z')));
    }
}
