//! The `Reporter` trait: how long-running library work reports progress.
//!
//! The library calls it; only the command line implements it (with indicatif bars). Every
//! method has a no-op default so tests and scripts can pass [`NoProgress`].

/// Receives progress of one phase at a time (fetch, pack, verify).
pub trait Reporter: Send + Sync {
    /// A phase starts; `total_bytes` is what it will move or read (0 when unknown).
    fn start(&self, _phase: &str, _total_bytes: u64) {}
    /// `bytes` more were moved or read.
    fn advance(&self, _bytes: u64) {}
    /// `bytes` counted earlier must be counted again (a download restarts or resumes).
    fn rewind(&self, _bytes: u64) {}
    /// A human note worth a line (a retry, a resumed download).
    fn note(&self, _message: &str) {}
    /// The current phase is over.
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Reporter for NoProgress {}
