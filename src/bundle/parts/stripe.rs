//! The stripe layout of parity parts: pure arithmetic, no I/O.
//!
//! Each data part is one shard of `shard_size` bytes (the largest part rounded up to an even
//! length, as the Reed-Solomon coder wants; a shorter last part reads as zero-padded). The
//! shards are cut into stripes of `chunk` bytes at the same offset of every part, and each
//! stripe is coded on its own, so coding holds `(data + parity) × chunk` bytes whatever the
//! part size. A parity part is `shard_size` bytes long.

/// The shard length for parts of at most `largest_part` bytes: that, rounded up to even
/// (at least 2).
pub fn shard_size(largest_part: u64) -> u64 {
    (largest_part + (largest_part & 1)).max(2)
}

/// Memory the coder may hold for one stripe of every part.
pub const STRIPE_BUDGET: u64 = 64 << 20;

/// The stripe length for `shards` parts (data + parity): `largest` (1 MiB), or less so that
/// one stripe of every part fits [`STRIPE_BUDGET`]; a multiple of 64 bytes, at least 64.
pub fn chunk_for(shards: usize, largest: u64) -> u64 {
    let share = STRIPE_BUDGET / (shards.max(1) as u64);
    (share.min(largest) / 64 * 64).max(64)
}

/// One stripe: `len` bytes (even, ≤ chunk) at `offset` of every shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stripe {
    pub offset: u64,
    pub len: usize,
}

impl Stripe {
    /// How many of this stripe's bytes a part of `part_size` bytes holds (the rest of its
    /// shard is virtual zero padding).
    pub fn present(&self, part_size: u64) -> usize {
        part_size.saturating_sub(self.offset).min(self.len as u64) as usize
    }
}

/// The stripes covering a shard of `shard_size` bytes, `chunk` bytes each (the last may be
/// shorter). Both must be even and `chunk` non-zero (checked by the caller).
pub fn stripes(shard_size: u64, chunk: u64) -> impl Iterator<Item = Stripe> {
    (0..shard_size.div_ceil(chunk)).map(move |i| {
        let offset = i * chunk;
        Stripe {
            offset,
            len: (shard_size - offset).min(chunk) as usize,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_even() {
        assert_eq!(shard_size(1000), 1000);
        assert_eq!(shard_size(1001), 1002);
        assert_eq!(shard_size(0), 2);
        assert_eq!(shard_size(1), 2);
    }

    #[test]
    fn stripes_cover_the_shard_once() {
        let all: Vec<Stripe> = stripes(10, 4).collect();
        assert_eq!(
            all,
            vec![
                Stripe { offset: 0, len: 4 },
                Stripe { offset: 4, len: 4 },
                Stripe { offset: 8, len: 2 }
            ]
        );
        assert_eq!(stripes(8, 4).count(), 2);
        assert_eq!(stripes(2, 1 << 20).count(), 1);
        let big = 4u64 << 30;
        let total: u64 = stripes(big, 1 << 20).map(|s| s.len as u64).sum();
        assert_eq!(total, big);
        assert!(stripes(big, 1 << 20).all(|s| s.len % 2 == 0));
    }

    #[test]
    fn stripes_fit_the_memory_budget() {
        assert_eq!(chunk_for(10, 1 << 20), 1 << 20);
        assert_eq!(chunk_for(3000, 1 << 20), (STRIPE_BUDGET / 3000) / 64 * 64);
        assert!(chunk_for(3000, 1 << 20) * 3000 <= STRIPE_BUDGET);
        assert_eq!(chunk_for(10_000_000, 1 << 20), 64);
    }

    #[test]
    fn short_parts_are_padded() {
        let s = Stripe { offset: 8, len: 4 };
        assert_eq!(s.present(12), 4);
        assert_eq!(s.present(10), 2);
        assert_eq!(s.present(8), 0);
        assert_eq!(s.present(3), 0);
    }
}
