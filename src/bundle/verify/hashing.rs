//! Data blobs hashed on every core: read here, in order, and hashed by a [`HashPool`]; each
//! digest is compared when its worker is done (at the latest when the stream ends), and a
//! mismatch names the blob and where its entry starts. A blob a sink stores (load) is
//! written by the sink as its bytes pass and committed only once its digest held; one that
//! did not hold is dropped (its partial file removed), never made visible.

use super::{SinkBlob, VerifyError};
use crate::bundle::read::ReadError;
use crate::digest::Digest;
use crate::hashpool::HashPool;
use crate::progress::Reporter;
use std::collections::HashMap;
use std::io::Read;

/// A blob whose digest is being computed: what it should be, whose it is, where it starts,
/// and the sink's writer waiting to commit it.
struct Expected {
    digest: Digest,
    owner: String,
    offset: u64,
    stored: Option<Box<dyn SinkBlob>>,
}

/// One data blob to hash: its name, owner, where its entry starts, and the sink's writer for
/// it (`None`: only hashed).
pub(super) struct Blob<'a> {
    pub digest: &'a Digest,
    pub owner: &'a str,
    pub offset: u64,
    pub size: u64,
    pub stored: Option<Box<dyn SinkBlob>>,
}

/// Data blobs handed to the hashing threads, checked as their digests come back.
pub(super) struct Hashing {
    pool: HashPool,
    pending: HashMap<u64, Expected>,
}

/// A mismatch: the error and the offset of the damaged blob's entry.
pub(super) type Mismatch = (VerifyError, u64);

impl Hashing {
    pub(super) fn new() -> Self {
        Hashing {
            pool: HashPool::for_this_machine(),
            pending: HashMap::new(),
        }
    }

    /// Reads one blob from `entry` to its end, hands its bytes to a worker (and to the sink's
    /// writer first, if any); checks and commits the digests finished meanwhile.
    pub(super) fn hash(
        &mut self,
        blob: Blob<'_>,
        entry: &mut impl Read,
        reporter: &dyn Reporter,
    ) -> Result<(), Mismatch> {
        let Blob {
            digest,
            owner,
            offset,
            size,
            mut stored,
        } = blob;
        let ticket = self.pool.begin(size);
        loop {
            let mut buffer = self.pool.buffer();
            let read =
                read_full(entry, &mut buffer).map_err(|e| VerifyError::from(ReadError::from(e)));
            let written = read.and_then(|n| match stored.as_mut() {
                Some(sink) if n > 0 => sink.write(&buffer[..n]).map(|()| n),
                _ => Ok(n),
            });
            let n = match written {
                Ok(0) => {
                    self.pool.give_back(buffer);
                    break;
                }
                Ok(n) => n,
                Err(e) => {
                    self.pool.give_back(buffer);
                    return Err((e, offset));
                }
            };
            self.pool.send(&ticket, buffer, n);
            reporter.advance(n as u64);
        }
        let id = self.pool.end(ticket);
        self.pending.insert(
            id,
            Expected {
                digest: digest.clone(),
                owner: owner.to_string(),
                offset,
                stored,
            },
        );
        let finished = self.pool.finished();
        self.check(finished)
    }

    /// Waits for every digest and checks them.
    pub(super) fn close(self) -> Result<(), Mismatch> {
        let Hashing { pool, mut pending } = self;
        let finished = pool.close();
        check(&mut pending, finished)
    }

    fn check(&mut self, finished: Vec<(u64, Digest)>) -> Result<(), Mismatch> {
        check(&mut self.pending, finished)
    }
}

fn check(
    pending: &mut HashMap<u64, Expected>,
    finished: Vec<(u64, Digest)>,
) -> Result<(), Mismatch> {
    for (id, actual) in finished {
        let Some(expected) = pending.remove(&id) else {
            continue;
        };
        if actual != expected.digest {
            // The sink's writer, if any, is dropped here: nothing of the blob stays.
            return Err((
                VerifyError::Damaged {
                    digest: expected.digest,
                    owner: expected.owner,
                    actual,
                },
                expected.offset,
            ));
        }
        if let Some(stored) = expected.stored {
            stored.commit().map_err(|e| (e, expected.offset))?;
        }
    }
    Ok(())
}

/// Fills `buffer` as far as the entry goes (fewer bytes only at its end).
fn read_full(entry: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match entry.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
