//! Per-address rate limiting: a token bucket per IPv4 address or IPv6
//! /64 prefix, in shards so that two requests contend only when their
//! addresses share a shard.
//!
//! Memory is bounded: each shard holds at most `max_entries` buckets;
//! when it is full, buckets that have refilled completely (idle
//! addresses) are dropped, and if none has, a new address is let through
//! untracked (failing open keeps legitimate clients working during a
//! spoofed-source flood, which the connection ids already make harmless
//! for announces).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f32,
    last_ms: u64,
}

/// Token buckets keyed by address.
#[derive(Debug)]
pub struct RateLimiter {
    shards: Box<[Mutex<HashMap<u64, Bucket>>]>,
    per_sec: f32,
    burst: f32,
    max_entries: usize,
    seed: u64,
}

fn key_of(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u64::from(u32::from(v4)),
            // The /64 prefix, marked so that it cannot equal an IPv4 key.
            None => (u128::from(v6) >> 64) as u64 | 1 << 63 | 1 << 62,
        },
    }
}

impl RateLimiter {
    /// `per_sec` requests per second sustained, `burst` at once; `per_sec
    /// == 0` disables limiting. At most `max_entries` addresses tracked.
    pub fn new(per_sec: u32, burst: u32, max_entries: usize, seed: u64) -> RateLimiter {
        let shards = 64;
        RateLimiter {
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            per_sec: per_sec as f32,
            burst: burst.max(1) as f32,
            max_entries: (max_entries / shards).max(16),
            seed,
        }
    }

    /// Whether limiting is on.
    pub fn enabled(&self) -> bool {
        self.per_sec > 0.0
    }

    /// Takes a token for `ip` at `now_ms`; `false`: over the limit.
    pub fn allow(&self, ip: IpAddr, now_ms: u64) -> bool {
        if !self.enabled() {
            return true;
        }
        let key = key_of(ip);
        let shard = ((key ^ self.seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
        let Some(m) = self.shards.get(shard % self.shards.len()) else {
            return true;
        };
        let Ok(mut m) = m.lock() else { return true };
        let full_after_ms = (self.burst / self.per_sec * 1000.0) as u64;
        if !m.contains_key(&key) && m.len() >= self.max_entries {
            m.retain(|_, b| now_ms.saturating_sub(b.last_ms) < full_after_ms);
            if m.len() >= self.max_entries {
                return true;
            }
        }
        let b = m.entry(key).or_insert(Bucket {
            tokens: self.burst,
            last_ms: now_ms,
        });
        let elapsed = now_ms.saturating_sub(b.last_ms) as f32 / 1000.0;
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.last_ms = now_ms;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let r = RateLimiter::new(10, 5, 1000, 0);
        let ip: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        assert_eq!((0..8).filter(|_| r.allow(ip, 0)).count(), 5);
        assert!(r.allow(other, 0), "limits are per address");
        assert!(!r.allow(ip, 50));
        assert!(r.allow(ip, 100), "one token after 100 ms at 10/s");
        assert!(!r.allow(ip, 100));
        // IPv6: one bucket per /64.
        let a: IpAddr = "2001:db8::1".parse().unwrap_or_else(|_| unreachable!());
        let b: IpAddr = "2001:db8::2".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!((0..5).filter(|_| r.allow(a, 0)).count(), 5);
        assert!(!r.allow(b, 0));
        assert!(RateLimiter::new(0, 0, 0, 0).allow(ip, 0));
    }

    #[test]
    fn memory_is_bounded() {
        let r = RateLimiter::new(1, 1, 64 * 16, 0);
        for i in 0..100_000u32 {
            r.allow(IpAddr::V4(i.into()), 0);
        }
        let total: usize = r
            .shards
            .iter()
            .map(|m| m.lock().map(|m| m.len()).unwrap_or(0))
            .sum();
        assert!(total <= 64 * 16, "{total}");
    }
}
