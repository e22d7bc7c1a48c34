//! Failed authentications, limited per source address.
//!
//! Each address (an IPv6 address by its /64, which one host usually holds
//! whole) may fail `burst` times in a row; after that it regains one attempt
//! every `refill`, and a request that presents credentials meanwhile is
//! refused (429 `too_many_failures`, with `Retry-After`) before they are
//! looked at. This is the generic cell rate algorithm: one instant per
//! address, the time at which its account would be clear again.
//!
//! Successes do not clear an address's failures: otherwise a client holding
//! one valid token could interleave it with guesses and guess without limit.
//!
//! Memory is bounded: at most `capacity` addresses are tracked; when the
//! table is full, addresses whose failures have all been forgiven are dropped
//! first, then the eighth closest to being forgiven.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses tracked at once by default (about 48 bytes each).
pub const DEFAULT_CAPACITY: usize = 65_536;

/// What failures are counted under: an IPv4 address, or an IPv6 /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Source {
    V4(u32),
    V6Net(u64),
}

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                // The upper 64 bits: the network part of the address.
                Self::V6Net(u64::try_from(bits >> 64).unwrap_or(u64::MAX))
            }
        }
    }
}

/// Limits failed authentications per source address (see the module docs).
#[derive(Debug)]
pub struct FailureLimiter {
    burst: u32,
    refill: Duration,
    capacity: usize,
    /// When each tracked source's failures will all have been forgiven.
    clear_at: Mutex<HashMap<Source, Instant>>,
}

impl FailureLimiter {
    /// `burst` failures in a row, then one more per `refill`; both must be
    /// non-zero (a zero is taken as one, and as one second).
    pub fn new(burst: u32, refill: Duration) -> Self {
        Self::with_capacity(burst, refill, DEFAULT_CAPACITY)
    }

    /// [`new`](Self::new), tracking at most `capacity` sources (at least 8).
    pub fn with_capacity(burst: u32, refill: Duration, capacity: usize) -> Self {
        Self {
            burst: burst.max(1),
            refill: if refill.is_zero() {
                Duration::from_secs(1)
            } else {
                refill
            },
            capacity: capacity.max(8),
            clear_at: Mutex::new(HashMap::new()),
        }
    }

    /// How far ahead of `now` a source's account may run before it is
    /// refused: `burst` failures' worth of forgiveness.
    fn tolerance(&self) -> Duration {
        self.refill.saturating_mul(self.burst)
    }

    /// Whether `ip` may try to authenticate at `now`: `Err` holds how long it
    /// must wait first.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let table = self
            .clear_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(&clear_at) = table.get(&Source::from(ip)) else {
            return Ok(());
        };
        // One more failure would push the account past the tolerance.
        let owed = clear_at.saturating_duration_since(now) + self.refill;
        match owed.checked_sub(self.tolerance()) {
            Some(wait) if !wait.is_zero() => Err(wait),
            _ => Ok(()),
        }
    }

    /// Count a failed authentication from `ip` at `now`. Returns true when
    /// this failure exhausted the address's allowance (its next attempt is
    /// refused), so that the caller can log the moment once.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) -> bool {
        let source = Source::from(ip);
        let mut table = self
            .clear_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !table.contains_key(&source) && table.len() >= self.capacity {
            self.make_room(&mut table, now);
        }
        let entry = table.entry(source).or_insert(now);
        *entry = (*entry).max(now) + self.refill;
        let owed = entry.saturating_duration_since(now) + self.refill;
        owed > self.tolerance()
    }

    /// Sources tracked now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.clear_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Drop sources that owe nothing; if that frees nothing, drop the eighth
    /// of them closest to being forgiven (cost spread over that many inserts).
    fn make_room(&self, table: &mut HashMap<Source, Instant>, now: Instant) {
        table.retain(|_, clear_at| *clear_at > now);
        if table.len() < self.capacity {
            return;
        }
        let mut times: Vec<Instant> = table.values().copied().collect();
        let cut = (times.len() / 8).max(1);
        let (_, &mut threshold, _) = times.select_nth_unstable(cut - 1);
        let mut dropped = 0;
        table.retain(|_, clear_at| {
            if dropped < cut && *clear_at <= threshold {
                dropped += 1;
                false
            } else {
                true
            }
        });
        tracing::warn!(
            dropped,
            capacity = self.capacity,
            "failed-authentication table full: forgetting the addresses closest to being forgiven"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const SECOND: Duration = Duration::from_secs(1);

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn a_burst_then_one_per_refill() {
        let limiter = FailureLimiter::new(3, 3 * SECOND);
        let t0 = Instant::now();
        let ip = v4(1);
        for i in 0..3 {
            assert_eq!(limiter.check(ip, t0), Ok(()), "attempt {i}");
            let exhausted = limiter.record_failure(ip, t0);
            assert_eq!(exhausted, i == 2, "failure {i}");
        }
        // The fourth attempt waits one refill.
        assert_eq!(limiter.check(ip, t0), Err(3 * SECOND));
        assert_eq!(limiter.check(ip, t0 + SECOND), Err(2 * SECOND));
        // After one refill, exactly one more attempt.
        let t1 = t0 + 3 * SECOND;
        assert_eq!(limiter.check(ip, t1), Ok(()));
        assert!(limiter.record_failure(ip, t1));
        assert_eq!(limiter.check(ip, t1), Err(3 * SECOND));
        // A quiet spell forgives everything.
        let later = t1 + 12 * SECOND;
        for _ in 0..3 {
            assert_eq!(limiter.check(ip, later), Ok(()));
            limiter.record_failure(ip, later);
        }
        assert!(limiter.check(ip, later).is_err());
    }

    #[test]
    fn addresses_are_counted_apart() {
        let limiter = FailureLimiter::new(1, 60 * SECOND);
        let t0 = Instant::now();
        limiter.record_failure(v4(1), t0);
        assert!(limiter.check(v4(1), t0).is_err());
        assert_eq!(limiter.check(v4(2), t0), Ok(()));
    }

    #[test]
    fn ipv6_is_grouped_by_its_64_and_mapped_ipv4_is_ipv4() {
        let limiter = FailureLimiter::new(2, 60 * SECOND);
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_net: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        limiter.record_failure(a, t0);
        limiter.record_failure(b, t0);
        assert!(limiter.check(a, t0).is_err(), "same /64");
        assert_eq!(limiter.check(other_net, t0), Ok(()));

        let mapped = IpAddr::V6(Ipv4Addr::new(198, 51, 100, 7).to_ipv6_mapped());
        let plain = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        limiter.record_failure(mapped, t0);
        limiter.record_failure(plain, t0);
        assert!(limiter.check(plain, t0).is_err());
        // ::ffff:0:0/96 is not one /64 of everybody else.
        let v6_neighbour = IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0xc633, 0x6408));
        assert_eq!(limiter.check(v6_neighbour, t0), Ok(()));
    }

    #[test]
    fn a_flood_of_addresses_stays_within_capacity() {
        let limiter = FailureLimiter::with_capacity(5, 60 * SECOND, 1000);
        let t0 = Instant::now();
        // The address under attack fails often: it is far from forgiven.
        let target = v4(200);
        for _ in 0..5 {
            limiter.record_failure(target, t0);
        }
        for i in 0..100_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            limiter.record_failure(ip, t0 + Duration::from_micros(u64::from(i)));
            assert!(limiter.len() <= 1000, "after {i}: {}", limiter.len());
        }
        // The flood was evicted before the address that owes the most.
        assert!(limiter.check(target, t0 + SECOND).is_err());
    }

    #[test]
    fn forgiven_sources_are_dropped_first() {
        let limiter = FailureLimiter::with_capacity(5, SECOND, 8);
        let t0 = Instant::now();
        for i in 0..8 {
            limiter.record_failure(v4(i), t0);
        }
        assert_eq!(limiter.len(), 8);
        // Ten seconds on, all eight are forgiven: one new source replaces them.
        limiter.record_failure(v4(100), t0 + 10 * SECOND);
        assert_eq!(limiter.len(), 1);
    }
}
