//! Token-bucket rate limits for peer traffic.
//!
//! A [`RateLimiter`] is shared by every connection it governs (all of a
//! session's, or all of a torrent's). A connection asks for the bytes it
//! just read, or is about to write, and waits until the bucket has them.
//! Buckets hold at most a quarter of a second of traffic (at least 64 KiB),
//! so bursts stay short.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A shared bytes-per-second limit; a rate of 0 means unlimited.
#[derive(Debug)]
pub struct RateLimiter {
    rate: AtomicU64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A limiter of `bytes_per_second` (0: unlimited).
    pub fn new(bytes_per_second: u64) -> Self {
        RateLimiter {
            rate: AtomicU64::new(bytes_per_second),
            state: Mutex::new(Bucket {
                tokens: 0.0,
                last: Instant::now(),
            }),
        }
    }

    /// The configured rate (0: unlimited).
    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Changes the rate (0: unlimited); connections see it at their next
    /// read or write.
    pub fn set_rate(&self, bytes_per_second: u64) {
        self.rate.store(bytes_per_second, Ordering::Relaxed);
    }

    fn burst(rate: u64) -> f64 {
        (rate as f64 / 4.0).max(64.0 * 1024.0)
    }

    /// Takes `n` bytes from the bucket and says how long to wait before
    /// they may be used (zero when they are there already).
    pub fn reserve(&self, n: usize, now: Instant) -> Duration {
        let rate = self.rate();
        if rate == 0 {
            return Duration::ZERO;
        }
        let Ok(mut b) = self.state.lock() else {
            return Duration::ZERO;
        };
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate as f64).min(Self::burst(rate));
        b.last = now;
        b.tokens -= n as f64;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / rate as f64)
        }
    }
}

/// Waits until every limiter in `limits` allows `n` more bytes.
pub async fn acquire(limits: &[std::sync::Arc<RateLimiter>], n: usize) {
    let now = Instant::now();
    let wait = limits
        .iter()
        .map(|l| l.reserve(n, now))
        .max()
        .unwrap_or_default();
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let l = RateLimiter::new(0);
        assert_eq!(l.reserve(1 << 30, Instant::now()), Duration::ZERO);
    }

    #[test]
    fn waits_in_proportion_to_the_debt() {
        let l = RateLimiter::new(1_000_000);
        let t0 = Instant::now();
        // Empty bucket at start: 500 kB cost half a second.
        let w = l.reserve(500_000, t0);
        assert!((w.as_secs_f64() - 0.5).abs() < 1e-6, "{w:?}");
        // A second later the debt is paid and 250 kB (the burst) are back.
        let w = l.reserve(
            250_000,
            t0 + Duration::from_secs(1) + Duration::from_millis(500),
        );
        assert_eq!(w, Duration::ZERO);
        // The bucket never holds more than the burst.
        let w = l.reserve(500_000, t0 + Duration::from_secs(100));
        assert!((w.as_secs_f64() - 0.25).abs() < 1e-6, "{w:?}");
    }
}
