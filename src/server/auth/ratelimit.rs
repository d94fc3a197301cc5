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
    /// Takes one attempt from `client`'s bucket before its credentials are checked, so
    /// attempts in flight at once count too (a check that takes the token only after a slow
    /// password hash lets a burst through). `Err` holds how long to wait. Give the attempt
    /// back with [`FailureLimiter::give_back`] when the credentials held.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
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
        let refilled = bucket.refilled(now);
        if refilled.tokens < 1.0 {
            *bucket = refilled;
            return Err(Duration::from_secs_f64(
                ((1.0 - refilled.tokens) / PER_SECOND).max(1.0),
            ));
        }
        *bucket = Bucket {
            tokens: refilled.tokens - 1.0,
            updated: now,
        };
        Ok(())
    }

    /// Returns the attempt [`FailureLimiter::take`] took: the credentials held.
    pub fn give_back(&self, client: IpAddr, now: Instant) {
        let mut table = match self.table.lock() {
            Ok(table) => table,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(bucket) = table.get_mut(&client) {
            let mut refilled = bucket.refilled(now);
            refilled.tokens = (refilled.tokens + 1.0).min(BURST);
            *bucket = refilled;
        }
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
        // Attempts in flight at once count: ten taken before any fails.
        for _ in 0..BURST as usize {
            assert!(limiter.take(a, t0).is_ok());
        }
        let retry = limiter.take(a, t0).unwrap_err();
        assert!(retry >= Duration::from_secs(1));
        assert!(
            limiter.take(b, t0).is_ok(),
            "another address is not limited"
        );
        limiter.give_back(b, t0);
        assert!(limiter.take(a, t0 + Duration::from_millis(1100)).is_ok());
        assert!(limiter.take(a, t0 + Duration::from_millis(1100)).is_err());
        // Good credentials give their attempt back: a client that logs in right is never
        // limited.
        let c: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..100 {
            assert!(limiter.take(c, t0).is_ok());
            limiter.give_back(c, t0);
        }
    }

    #[test]
    fn the_table_is_bounded() {
        let limiter = FailureLimiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 50) {
            let _ = limiter.take(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(limiter.tracked() <= MAX_CLIENTS);
    }
}
