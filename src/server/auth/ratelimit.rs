//! Rate limiting of failed authentications per client address: a token bucket per address
//! (a burst of [`BURST`] failures, then [`PER_SECOND`] a second), in a table of at most
//! [`MAX_CLIENTS`] addresses. Time is passed in, so the logic is tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may have in a burst.
pub const BURST: f64 = 10.0;
/// Failures an address earns back per second.
pub const PER_SECOND: f64 = 1.0;
/// Addresses tracked at once; past it, the ones that have recovered (then the quietest) go.
pub const MAX_CLIENTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn refilled(self, now: Instant) -> Bucket {
        let earned = now.saturating_duration_since(self.updated).as_secs_f64() * PER_SECOND;
        Bucket {
            tokens: (self.tokens + earned).min(BURST),
            updated: now,
        }
    }
}

/// The per-address failure buckets.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    table: Mutex<HashMap<IpAddr, Bucket>>,
}

impl FailureLimiter {
    /// `Err(retry_after)` when `client` has used up its failures.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let table = match self.table.lock() {
            Ok(table) => table,
            Err(poisoned) => poisoned.into_inner(),
        };
        match table.get(&client).map(|b| b.refilled(now)) {
            Some(bucket) if bucket.tokens < 1.0 => Err(Duration::from_secs_f64(
                ((1.0 - bucket.tokens) / PER_SECOND).max(1.0),
            )),
            _ => Ok(()),
        }
    }

    /// Counts one failed authentication from `client`.
    pub fn record_failure(&self, client: IpAddr, now: Instant) {
        let mut table = match self.table.lock() {
            Ok(table) => table,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !table.contains_key(&client) && table.len() >= MAX_CLIENTS {
            table.retain(|_, b| b.refilled(now).tokens < BURST);
            if table.len() >= MAX_CLIENTS {
                if let Some(quietest) = table.iter().min_by_key(|(_, b)| b.updated).map(|(k, _)| *k)
                {
                    table.remove(&quietest);
                }
            }
        }
        let bucket = table.entry(client).or_insert(Bucket {
            tokens: BURST,
            updated: now,
        });
        let mut refilled = bucket.refilled(now);
        refilled.tokens = (refilled.tokens - 1.0).max(0.0);
        *bucket = refilled;
    }

    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        match self.table.lock() {
            Ok(table) => table.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_a_second_per_address() {
        let limiter = FailureLimiter::default();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "127.0.0.1".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..BURST as usize {
            assert!(limiter.check(a, t0).is_ok());
            limiter.record_failure(a, t0);
        }
        let retry = limiter.check(a, t0).unwrap_err();
        assert!(retry >= Duration::from_secs(1));
        assert!(
            limiter.check(b, t0).is_ok(),
            "another address is not limited"
        );
        assert!(limiter.check(a, t0 + Duration::from_millis(1100)).is_ok());
    }

    #[test]
    fn the_table_is_bounded() {
        let limiter = FailureLimiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 50) {
            limiter.record_failure(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(limiter.tracked() <= MAX_CLIENTS);
    }
}
