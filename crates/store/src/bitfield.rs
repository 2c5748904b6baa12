//! A fixed-length set of piece indexes, stored as BEP 3 bitfield bytes.
//!
//! The wire crate validates peers' bitfields but has no owned type, so the
//! store defines one. Bit `i` is bit `7 - i % 8` of byte `i / 8` (the high
//! bit of the first byte is piece 0), exactly the BEP 3 `bitfield` payload;
//! the spare bits of the last byte are always zero.

use std::fmt;

/// A set of piece indexes `0..len`, one bit per piece, in BEP 3 order.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
}

impl Bitfield {
    /// An empty set over `len` pieces.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; byte_len(len)],
            len,
        }
    }

    /// The full set over `len` pieces.
    pub fn full(len: u32) -> Self {
        let mut b = Bitfield {
            bytes: vec![0xff; byte_len(len)],
            len,
        };
        b.clear_spare();
        b
    }

    /// Parses BEP 3 bitfield bytes for `len` pieces. `None` if the length
    /// is not `ceil(len / 8)` or a spare bit past the last piece is set.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Option<Self> {
        if bytes.len() != byte_len(len) {
            return None;
        }
        let b = Bitfield {
            bytes: bytes.to_vec(),
            len,
        };
        let mut cleared = b.clone();
        cleared.clear_spare();
        (cleared == b).then_some(b)
    }

    /// The BEP 3 bytes (`ceil(len / 8)` of them, spare bits zero).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The BEP 3 bytes, owned.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// Number of pieces the set ranges over.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the set ranges over zero pieces.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether piece `i` is in the set (`false` when out of range).
    pub fn get(&self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        let (byte, mask) = pos(i);
        self.bytes.get(byte).is_some_and(|b| b & mask != 0)
    }

    /// Adds (`true`) or removes piece `i`; ignored when out of range.
    /// Returns the previous value.
    pub fn set(&mut self, i: u32, value: bool) -> bool {
        if i >= self.len {
            return false;
        }
        let (byte, mask) = pos(i);
        let Some(b) = self.bytes.get_mut(byte) else {
            return false;
        };
        let old = *b & mask != 0;
        if value {
            *b |= mask;
        } else {
            *b &= !mask;
        }
        old
    }

    /// Number of pieces in the set.
    pub fn count(&self) -> u32 {
        self.bytes.iter().map(|b| b.count_ones()).sum()
    }

    /// Whether every piece is in the set.
    pub fn is_full(&self) -> bool {
        self.count() == self.len
    }

    /// The pieces in the set, in increasing order.
    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.bytes.iter().enumerate().flat_map(|(i, &b)| {
            let base = i as u32 * 8;
            (0..8u32)
                .filter(move |bit| b & (0x80 >> bit) != 0)
                .map(move |bit| base + bit)
        })
    }

    /// Adds every piece of `other` (which must range over the same pieces;
    /// extra bits are ignored).
    pub fn union_with(&mut self, other: &Bitfield) {
        for (a, b) in self.bytes.iter_mut().zip(&other.bytes) {
            *a |= b;
        }
        self.clear_spare();
    }

    fn clear_spare(&mut self) {
        let rem = self.len % 8;
        if rem != 0 {
            if let Some(last) = self.bytes.last_mut() {
                *last &= 0xffu8 << (8 - rem);
            }
        }
    }
}

impl fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bitfield({}/{}: ", self.count(), self.len)?;
        for i in 0..self.len.min(256) {
            f.write_str(if self.get(i) { "1" } else { "0" })?;
        }
        if self.len > 256 {
            f.write_str("…")?;
        }
        f.write_str(")")
    }
}

fn byte_len(len: u32) -> usize {
    len.div_ceil(8) as usize
}

fn pos(i: u32) -> (usize, u8) {
    ((i / 8) as usize, 0x80 >> (i % 8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bep3_bit_order() {
        let mut b = Bitfield::new(10);
        b.set(0, true);
        b.set(9, true);
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![0, 9]);
        assert_eq!(b.count(), 2);
        assert!(!b.get(10));
        assert!(!b.set(10, true));
        assert_eq!(Bitfield::full(10).as_bytes(), &[0xff, 0xc0]);
    }

    #[test]
    fn spare_bits_refused() {
        assert!(Bitfield::from_bytes(&[0xff, 0xc0], 10).is_some());
        assert!(Bitfield::from_bytes(&[0xff, 0xe0], 10).is_none());
        assert!(Bitfield::from_bytes(&[0xff], 10).is_none());
        assert!(Bitfield::from_bytes(&[], 0).is_some());
    }

    proptest! {
        #[test]
        fn round_trip(len in 0u32..200, seed in any::<u64>()) {
            let mut b = Bitfield::new(len);
            let mut x = seed;
            let mut want = Vec::new();
            for i in 0..len {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                if x >> 63 == 1 {
                    b.set(i, true);
                    want.push(i);
                }
            }
            prop_assert_eq!(b.iter_ones().collect::<Vec<_>>(), want.clone());
            prop_assert_eq!(b.count() as usize, want.len());
            let back = Bitfield::from_bytes(b.as_bytes(), len);
            prop_assert_eq!(back, Some(b));
        }
    }
}
