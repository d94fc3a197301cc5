//! Plain verification's blob hashing on every core: data blobs are read here, in order, and
//! hashed by a [`HashPool`]; each digest is compared when its worker is done (at the latest
//! when the stream ends), and a mismatch names the blob and where its entry starts.

use super::VerifyError;
use crate::bundle::read::ReadError;
use crate::digest::Digest;
use crate::hashpool::HashPool;
use crate::progress::Reporter;
use std::collections::HashMap;
use std::io::Read;

/// A blob whose digest is being computed: what it should be, whose it is, where it starts.
struct Expected {
    digest: Digest,
    owner: String,
    offset: u64,
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

    /// Reads `size` bytes of one blob from `entry` and hands them to a worker; checks the
    /// digests finished meanwhile.
    pub(super) fn hash(
        &mut self,
        digest: &Digest,
        owner: &str,
        offset: u64,
        size: u64,
        entry: &mut impl Read,
        reporter: &dyn Reporter,
    ) -> Result<(), Mismatch> {
        let ticket = self.pool.begin(size);
        loop {
            let mut buffer = self.pool.buffer();
            let n = match read_full(entry, &mut buffer) {
                Ok(n) => n,
                Err(e) => {
                    self.pool.give_back(buffer);
                    return Err((VerifyError::from(ReadError::from(e)), offset));
                }
            };
            if n == 0 {
                self.pool.give_back(buffer);
                break;
            }
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
        if let Some(expected) = pending.remove(&id) {
            if actual != expected.digest {
                return Err((
                    VerifyError::Damaged {
                        digest: expected.digest,
                        owner: expected.owner,
                        actual,
                    },
                    expected.offset,
                ));
            }
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
