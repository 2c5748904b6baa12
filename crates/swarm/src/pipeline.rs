//! Request pipeline: transfer-rate estimation and the adaptive queue depth.
//!
//! The number of block requests we keep outstanding with a peer should cover
//! the bandwidth-delay product of the link: with a rate of `r` bytes/s and a
//! horizon of one second, `r / 16 KiB` blocks. The depth is clamped to
//! `[min_queue, max_queue]`, to the peer's advertised `reqq`, and drops to 1
//! for a snubbed peer.

use std::time::Instant;

use crate::geometry::BLOCK_SIZE;

/// Time constant of the rate estimate, in seconds.
pub(crate) const RATE_TAU_SECS: f64 = 5.0;

/// How much data the request queue should cover, in seconds.
pub(crate) const REQUEST_HORIZON_SECS: f64 = 1.0;

/// An exponentially decaying transfer-rate estimate.
///
/// Each `add(bytes)` contributes `bytes / tau` to the rate, and the rate
/// decays by `exp(-dt / tau)`: for a steady stream of `r` bytes/s the
/// estimate converges to `r`, and it forgets a burst within a few `tau`.
#[derive(Clone, Debug, Default)]
pub(crate) struct RateMeter {
    rate: f64,
    last: Option<Instant>,
    total: u64,
}

impl RateMeter {
    /// Records `bytes` transferred at `now`.
    pub(crate) fn add(&mut self, bytes: u64, now: Instant) {
        self.rate = self.rate_at(now) + bytes as f64 / RATE_TAU_SECS;
        self.last = Some(now.max(self.last.unwrap_or(now)));
        self.total = self.total.saturating_add(bytes);
    }

    /// The estimate at `now`, in bytes per second.
    pub(crate) fn rate_at(&self, now: Instant) -> f64 {
        match self.last {
            Some(last) => {
                let dt = now.saturating_duration_since(last).as_secs_f64();
                self.rate * (-dt / RATE_TAU_SECS).exp()
            }
            None => 0.0,
        }
    }

    /// Total bytes recorded.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }
}

/// The request queue depth for a peer.
///
/// `rate` is the download rate from the peer in bytes/s; `reqq` the peer's
/// advertised limit, if any. Never 0.
pub(crate) fn queue_depth(rate: f64, min: u32, max: u32, reqq: Option<u32>, snubbed: bool) -> u32 {
    if snubbed {
        return 1;
    }
    let max = max.max(1);
    let min = min.clamp(1, max);
    let want = (rate * REQUEST_HORIZON_SECS / f64::from(BLOCK_SIZE)).ceil();
    let want = if want.is_finite() && want > 0.0 {
        want.min(f64::from(u32::MAX)) as u32
    } else {
        0
    };
    let depth = want.clamp(min, max);
    match reqq {
        Some(r) => depth.min(r.max(1)),
        None => depth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn depth_follows_rate_within_bounds() {
        assert_eq!(queue_depth(0.0, 4, 250, None, false), 4);
        // 1 MiB/s over one second is 64 blocks.
        assert_eq!(queue_depth(1024.0 * 1024.0, 4, 250, None, false), 64);
        assert_eq!(queue_depth(1e12, 4, 250, None, false), 250);
        assert_eq!(queue_depth(1e12, 4, 250, Some(100), false), 100);
        assert_eq!(queue_depth(1e12, 4, 250, Some(0), false), 1);
        assert_eq!(queue_depth(1e12, 4, 250, None, true), 1);
        assert_eq!(queue_depth(f64::NAN, 4, 250, None, false), 4);
        // Inverted bounds are tolerated.
        assert_eq!(queue_depth(0.0, 10, 2, None, false), 2);
        assert_eq!(queue_depth(0.0, 0, 0, None, false), 1);
    }

    #[test]
    fn rate_converges_and_decays() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        assert_eq!(m.rate_at(t0), 0.0);
        // 100 KB every 100 ms = 1 MB/s for 60 s.
        for i in 0..600u64 {
            m.add(100_000, t0 + Duration::from_millis(100 * i));
        }
        let end = t0 + Duration::from_secs(60);
        let r = m.rate_at(end);
        assert!((900_000.0..1_100_000.0).contains(&r), "{r}");
        assert!(m.rate_at(end + Duration::from_secs(30)) < 10_000.0);
        assert_eq!(m.total(), 60_000_000);
        // A `now` in the past does not inflate the rate.
        assert!(m.rate_at(t0) <= r * 1.2);
    }
}
