//! SHA-256 of independent blobs on every core while one thread reads sequentially.
//!
//! One stream's SHA-256 cannot be split, but a bundle holds many blobs: the reader hands each
//! blob's bytes, in buffers it takes from a fixed pool, to one of `workers` hashing threads
//! (the one with the fewest bytes queued), and learns each blob's digest when its worker is
//! done. Every byte is hashed once; memory stays at `workers × QUEUE` buffers of
//! [`BUFFER_SIZE`] bytes whatever the blob sizes. A reader faster than one core's SHA-256 then
//! goes up to `workers` times as fast over many blobs (a single blob is still one core's rate).

use crate::digest::Digest;
use sha2::{Digest as _, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Bytes per buffer handed to a worker (1 MiB).
pub const BUFFER_SIZE: usize = 1 << 20;
/// Buffers in flight per worker.
const QUEUE: usize = 4;

enum Job {
    Data(Vec<u8>, usize),
    End(u64),
}

struct Worker {
    jobs: SyncSender<Job>,
    queued: Arc<AtomicU64>,
    handle: JoinHandle<()>,
}

/// A blob being hashed: its bytes go to one worker.
pub struct Ticket {
    worker: usize,
    id: u64,
}

/// A pool of hashing threads fed by one reader.
pub struct HashPool {
    workers: Vec<Worker>,
    free: Receiver<Vec<u8>>,
    /// Where buffers not handed to a worker go back.
    give_back: Sender<Vec<u8>>,
    done: Receiver<(u64, Digest)>,
    next_id: u64,
}

impl HashPool {
    /// A pool of `workers` threads (at least 1); [`HashPool::for_this_machine`] picks one per
    /// core.
    pub fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        let (free_tx, free) = channel::<Vec<u8>>();
        for _ in 0..workers * QUEUE {
            let _ = free_tx.send(vec![0u8; BUFFER_SIZE]);
        }
        let (done_tx, done) = channel::<(u64, Digest)>();
        let workers = (0..workers)
            .map(|_| spawn(free_tx.clone(), done_tx.clone()))
            .collect();
        HashPool {
            workers,
            free,
            give_back: free_tx,
            done,
            next_id: 0,
        }
    }

    /// One worker per available core.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Starts a blob of `size` bytes on the least-loaded worker.
    pub fn begin(&mut self, size: u64) -> Ticket {
        let worker = (0..self.workers.len())
            .min_by_key(|&i| self.workers[i].queued.load(Ordering::Relaxed))
            .unwrap_or(0);
        self.workers[worker]
            .queued
            .fetch_add(size, Ordering::Relaxed);
        self.next_id += 1;
        Ticket {
            worker,
            id: self.next_id,
        }
    }

    /// An empty buffer of [`BUFFER_SIZE`] bytes to read into (waits while all are in flight).
    pub fn buffer(&self) -> Vec<u8> {
        self.free.recv().unwrap_or_else(|_| vec![0u8; BUFFER_SIZE])
    }

    /// Returns a buffer taken with [`HashPool::buffer`] but not sent (nothing was read into
    /// it): every buffer taken must come back, by [`HashPool::send`] or here.
    pub fn give_back(&self, buffer: Vec<u8>) {
        let _ = self.give_back.send(buffer);
    }

    /// Hands the first `len` bytes of `buffer` to the ticket's worker.
    pub fn send(&self, ticket: &Ticket, buffer: Vec<u8>, len: usize) {
        let _ = self.workers[ticket.worker]
            .jobs
            .send(Job::Data(buffer, len));
    }

    /// The blob is complete; its digest comes back from [`HashPool::finished`] with the
    /// ticket's id, which this returns.
    pub fn end(&self, ticket: Ticket) -> u64 {
        let _ = self.workers[ticket.worker].jobs.send(Job::End(ticket.id));
        ticket.id
    }

    /// Digests finished so far (without waiting), as `(id, digest)`.
    pub fn finished(&self) -> Vec<(u64, Digest)> {
        self.done.try_iter().collect()
    }

    /// Waits for every blob handed over, stops the workers, returns the digests not yet taken.
    pub fn close(self) -> Vec<(u64, Digest)> {
        let HashPool { workers, done, .. } = self;
        // Workers hold the other senders of `free`; they end when their inbox closes.
        for worker in workers {
            drop(worker.jobs);
            let _ = worker.handle.join();
        }
        done.try_iter().collect()
    }
}

fn spawn(free: Sender<Vec<u8>>, done: Sender<(u64, Digest)>) -> Worker {
    let (jobs, inbox) = sync_channel::<Job>(QUEUE);
    let queued = Arc::new(AtomicU64::new(0));
    let counter = queued.clone();
    let handle = std::thread::spawn(move || {
        let mut hasher = Sha256::new();
        for job in inbox {
            match job {
                Job::Data(buffer, len) => {
                    hasher.update(&buffer[..len]);
                    counter.fetch_sub(
                        (len as u64).min(counter.load(Ordering::Relaxed)),
                        Ordering::Relaxed,
                    );
                    let _ = free.send(buffer);
                }
                Job::End(id) => {
                    let finished = std::mem::replace(&mut hasher, Sha256::new());
                    let _ = done.send((id, Digest::from_hasher(finished)));
                }
            }
        }
    });
    Worker {
        jobs,
        queued,
        handle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn digests_match_one_thread_hashing_for_many_blobs_of_mixed_sizes() {
        // 40 blobs through 3 x QUEUE buffers: a buffer not given back would hang this test.
        let blobs: Vec<Vec<u8>> = (0..40u32)
            .map(|i| {
                let len = (i as usize * 97_531) % (3 * BUFFER_SIZE + 17);
                (0..len).map(|j| (j as u32 ^ i) as u8).collect()
            })
            .collect();
        let mut pool = HashPool::new(3);
        let mut ids = HashMap::new();
        let mut got = HashMap::new();
        for (n, blob) in blobs.iter().enumerate() {
            let ticket = pool.begin(blob.len() as u64);
            for chunk in blob.chunks(BUFFER_SIZE) {
                let mut buffer = pool.buffer();
                buffer[..chunk.len()].copy_from_slice(chunk);
                pool.send(&ticket, buffer, chunk.len());
            }
            // The reader's last, empty read: the buffer goes back unsent.
            pool.give_back(pool.buffer());
            ids.insert(pool.end(ticket), n);
            got.extend(pool.finished());
        }
        got.extend(pool.close());
        assert_eq!(got.len(), blobs.len());
        for (id, digest) in got {
            assert_eq!(digest, Digest::of(&blobs[ids[&id]]));
        }
    }

    #[test]
    fn an_empty_blob_has_the_empty_digest() {
        let mut pool = HashPool::new(1);
        let ticket = pool.begin(0);
        let id = pool.end(ticket);
        assert_eq!(pool.close(), vec![(id, Digest::of(b""))]);
    }
}
