//! Unforgeable BEP 15 connection ids, without per-client state.
//!
//! A connection id is the first 8 bytes of
//! `SHA-256(secret ‖ window ‖ client IP ‖ client port)`, where `secret`
//! is 16 random bytes drawn at start-up and `window` is the current time
//! divided by [`WINDOW_SECS`] (8 bytes, big-endian; the IP as 16 bytes,
//! IPv4 mapped). An id is accepted in its own window and the next, so it
//! lives between one and two windows (BEP 15 asks for at least a
//! minute). Nobody without the secret can compute an id for an address
//! whose traffic they do not see, so a spoofed source cannot announce,
//! and the input has a fixed length, so a prefix-keyed hash is a sound
//! MAC here.

use sha2::{Digest, Sha256};
use std::net::SocketAddr;

/// Seconds per connection-id window.
pub const WINDOW_SECS: u64 = 60;

/// Issues and checks connection ids.
#[derive(Clone)]
pub struct ConnIds {
    secret: [u8; 16],
}

impl std::fmt::Debug for ConnIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnIds(..)")
    }
}

impl ConnIds {
    /// Ids keyed by `secret`.
    pub fn new(secret: [u8; 16]) -> ConnIds {
        ConnIds { secret }
    }

    fn id(&self, addr: SocketAddr, window: u64) -> u64 {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(window.to_be_bytes());
        h.update(crate::swarm::ip_key(addr.ip()));
        h.update(addr.port().to_be_bytes());
        let d = h.finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        u64::from_be_bytes(b)
    }

    /// The id for `addr` at `now_secs`.
    pub fn issue(&self, addr: SocketAddr, now_secs: u64) -> u64 {
        self.id(addr, now_secs / WINDOW_SECS)
    }

    /// Whether `id` was issued to `addr` in this window or the previous one.
    pub fn check(&self, id: u64, addr: SocketAddr, now_secs: u64) -> bool {
        let w = now_secs / WINDOW_SECS;
        id == self.id(addr, w) || (w > 0 && id == self.id(addr, w - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bound_to_address_and_time() {
        let c = ConnIds::new([1; 16]);
        let a: SocketAddr = "192.0.2.1:6881".parse().unwrap_or_else(|_| unreachable!());
        let b: SocketAddr = "192.0.2.1:6882".parse().unwrap_or_else(|_| unreachable!());
        let id = c.issue(a, 1000);
        assert!(c.check(id, a, 1000));
        assert!(c.check(id, a, 1000 + WINDOW_SECS));
        assert!(!c.check(id, a, 1000 + 2 * WINDOW_SECS));
        assert!(!c.check(id, b, 1000));
        assert!(!c.check(id ^ 1, a, 1000));
        assert!(!ConnIds::new([2; 16]).check(id, a, 1000));
    }
}
