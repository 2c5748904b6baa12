//! BEP 6 allowed-fast set generation.
//!
//! A peer may request the pieces of its allowed-fast set even while choked.
//! The set depends only on the peer's address, the info hash and the piece
//! count, so both sides can compute it:
//!
//! ```text
//! x = (ip & 0xffffff00) as 4 bytes big-endian || info hash (20 bytes)
//! while |set| < k:
//!     x = SHA1(x)
//!     for i in 0..5 while |set| < k:
//!         y = x[4i .. 4i+4] as u32 big-endian
//!         index = y % piece_count
//!         if index not in set: append index
//! ```
//!
//! BEP 6 leaves IPv6 unspecified; like libtorrent we keep the /48 prefix (the
//! first 6 bytes, the rest zeroed) and hash those 16 bytes followed by the
//! info hash. IPv4-mapped IPv6 addresses are treated as IPv4.

use std::net::IpAddr;

use btl_types::Sha1Hash;
use sha1::{Digest, Sha1};

/// The number of allowed-fast pieces BEP 6 suggests.
pub const DEFAULT_ALLOWED_FAST: usize = 10;

/// Computes the first `k` pieces of the allowed-fast set for a peer at `ip`.
///
/// Returns at most `min(k, piece_count)` distinct indices, in generation
/// order (so the set for `k` is a prefix of the set for `k + 1`).
pub fn allowed_fast_set(info_hash: &Sha1Hash, ip: IpAddr, piece_count: u32, k: usize) -> Vec<u32> {
    let k = k.min(piece_count as usize);
    let mut set = Vec::with_capacity(k);
    if k == 0 {
        return set;
    }
    let mut x: Vec<u8> = match ip.to_canonical() {
        IpAddr::V4(v4) => (u32::from(v4) & 0xffff_ff00).to_be_bytes().to_vec(),
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[6..].fill(0);
            o.to_vec()
        }
    };
    x.extend_from_slice(&info_hash.0);
    while set.len() < k {
        let digest: [u8; 20] = Sha1::digest(&x).into();
        for chunk in digest.chunks_exact(4) {
            if set.len() >= k {
                break;
            }
            let y = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let index = y % piece_count;
            if !set.contains(&index) {
                set.push(index);
            }
        }
        x = digest.to_vec();
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// The test vectors of BEP 6.
    #[test]
    fn bep6_vectors() {
        let ih = Sha1Hash([0xaa; 20]);
        let ip = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 200));
        assert_eq!(
            allowed_fast_set(&ih, ip, 1313, 7),
            [1059, 431, 808, 1217, 287, 376, 1188]
        );
        assert_eq!(
            allowed_fast_set(&ih, ip, 1313, 9),
            [1059, 431, 808, 1217, 287, 376, 1188, 353, 508]
        );
        // Only the /24 matters.
        let other = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 1));
        assert_eq!(
            allowed_fast_set(&ih, other, 1313, 9),
            allowed_fast_set(&ih, ip, 1313, 9)
        );
        let mapped: IpAddr = "::ffff:80.4.4.200".parse().unwrap_or(ip);
        assert_eq!(
            allowed_fast_set(&ih, mapped, 1313, 7),
            [1059, 431, 808, 1217, 287, 376, 1188]
        );
    }

    #[test]
    fn small_torrents_terminate() {
        let ih = Sha1Hash([1; 20]);
        let ip = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
        assert!(allowed_fast_set(&ih, ip, 0, 10).is_empty());
        let mut s = allowed_fast_set(&ih, ip, 3, 10);
        s.sort_unstable();
        assert_eq!(s, [0, 1, 2]);
    }
}
