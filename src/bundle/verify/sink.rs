//! Where verified blobs go as they pass: nowhere ([`HashOnly`], plain verification), or into
//! a site store (`sitestore::load`), which writes each blob as it passes.

use super::VerifyError;
use crate::bundle::graph::Carried;
use crate::bundle::head::BundleHead;
use crate::digest::Digest;

/// Where blobs go as they pass. Plain verification has none ([`HashOnly`]); a site store's
/// load stores them (`sitestore::load`).
pub trait Sink {
    /// Called once the signature held, before any blob: the sink may refuse the bundle
    /// (a delta whose base is not loaded).
    fn accept(&mut self, head: &BundleHead) -> Result<(), VerifyError>;
    /// A writer that keeps this blob's bytes, or `None` when the sink does not need them.
    fn begin(
        &mut self,
        digest: &Digest,
        size: u64,
    ) -> Result<Option<Box<dyn SinkBlob>>, VerifyError>;
    /// The bytes of a blob the bundle left out, if the sink holds it (a delta's base):
    /// `None` when it does not, `Some(None)` when it does but it is not a manifest to read.
    fn held(&self, item: &Carried) -> Option<Result<Option<Vec<u8>>, VerifyError>>;
    /// Where else missing blobs were looked for, for the message (`""` for none).
    fn place(&self) -> &'static str;
    /// Whether a delta's omitted blobs are this sink's to provide (else its signed count
    /// is checked).
    fn provides_base(&self) -> bool;
}

/// One blob being stored by a sink: hashes what it is given and keeps it if it matches.
/// Dropped without [`SinkBlob::commit`], it leaves nothing behind.
pub trait SinkBlob {
    /// From now on the caller hashes the bytes itself (on the hash pool) and calls
    /// [`SinkBlob::commit`] only once they matched: the writer checks their size only.
    fn hashed_by_caller(&mut self) -> Result<(), VerifyError>;
    fn write(&mut self, chunk: &[u8]) -> Result<(), VerifyError>;
    /// Makes the blob visible if its bytes hash to its digest (or were checked by the
    /// caller, see [`SinkBlob::hashed_by_caller`]); else `Damaged`.
    fn commit(self: Box<Self>) -> Result<(), VerifyError>;
}

/// The sink of plain verification: nothing is kept.
pub struct HashOnly;

impl Sink for HashOnly {
    fn accept(&mut self, _head: &BundleHead) -> Result<(), VerifyError> {
        Ok(())
    }
    fn begin(&mut self, _: &Digest, _: u64) -> Result<Option<Box<dyn SinkBlob>>, VerifyError> {
        Ok(None)
    }
    fn held(&self, _: &Carried) -> Option<Result<Option<Vec<u8>>, VerifyError>> {
        None
    }
    fn place(&self) -> &'static str {
        ""
    }
    fn provides_base(&self) -> bool {
        false
    }
}
