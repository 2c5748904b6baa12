//! A fixed-length set of piece indices, stored as the BEP 3 bitfield.
//!
//! Bit `i` is bit `7 - i % 8` of byte `i / 8` (most significant bit first),
//! exactly as on the wire, so [`Bitfield::as_bytes`] can be sent as is. The
//! spare bits past the last piece are always zero, and the number of set bits
//! is cached.

use btl_wire::validate_bitfield;

/// Why a peer's bitfield was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BitfieldError {
    /// The byte length is not `ceil(piece_count / 8)`.
    #[error("bitfield is {len} bytes, expected {expected}")]
    Length {
        /// Bytes received.
        len: usize,
        /// Bytes expected for the torrent's piece count.
        expected: usize,
    },
    /// A bit past the last piece is set.
    #[error("bitfield has spare bits set")]
    SpareBits,
}

/// A set of piece indices in `0..len`.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

impl Bitfield {
    /// An empty set for `len` pieces.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; (len as usize).div_ceil(8)],
            len,
            ones: 0,
        }
    }

    /// The full set for `len` pieces.
    pub fn full(len: u32) -> Self {
        let mut b = Bitfield {
            bytes: vec![0xff; (len as usize).div_ceil(8)],
            len,
            ones: len,
        };
        b.clear_spare();
        b
    }

    /// Parses a wire bitfield, checking its length and spare bits.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Self, BitfieldError> {
        validate_bitfield(bytes, len).map_err(|e| match e {
            btl_wire::WireError::BitfieldSpareBits => BitfieldError::SpareBits,
            _ => BitfieldError::Length {
                len: bytes.len(),
                expected: (len as usize).div_ceil(8),
            },
        })?;
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len,
            ones,
        })
    }

    /// Builds a bitfield of `len` pieces from another of any length: bits past
    /// `len` are dropped, missing bits are clear.
    pub fn resized(&self, len: u32) -> Self {
        let mut out = Bitfield::new(len);
        for i in self.iter_ones().take_while(|&i| i < len) {
            out.set(i);
        }
        out
    }

    /// Number of pieces (bits).
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether there are no pieces at all (`len() == 0`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.ones
    }

    /// Whether no bit is set.
    pub fn none(&self) -> bool {
        self.ones == 0
    }

    /// Whether every bit is set (true for a zero-length field).
    pub fn all(&self) -> bool {
        self.ones == self.len
    }

    /// Whether bit `i` is set; `false` past the end.
    pub fn get(&self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        self.bytes
            .get((i / 8) as usize)
            .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    }

    /// Sets bit `i`; returns whether it changed. Out of range: no-op, `false`.
    pub fn set(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        let mask = 0x80 >> (i % 8);
        match self.bytes.get_mut((i / 8) as usize) {
            Some(b) if *b & mask == 0 => {
                *b |= mask;
                self.ones += 1;
                true
            }
            _ => false,
        }
    }

    /// Clears bit `i`; returns whether it changed. Out of range: no-op, `false`.
    pub fn clear(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        let mask = 0x80 >> (i % 8);
        match self.bytes.get_mut((i / 8) as usize) {
            Some(b) if *b & mask != 0 => {
                *b &= !mask;
                self.ones -= 1;
                true
            }
            _ => false,
        }
    }

    /// Sets every bit.
    pub fn set_all(&mut self) {
        *self = Bitfield::full(self.len);
    }

    /// The wire form: `ceil(len / 8)` bytes, spare bits zero.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The set indices in increasing order.
    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b != 0)
            .flat_map(|(byte, &b)| {
                (0..8u32)
                    .filter(move |bit| b & (0x80 >> bit) != 0)
                    .map(move |bit| byte as u32 * 8 + bit)
            })
    }

    fn clear_spare(&mut self) {
        let used = self.len % 8;
        if used != 0 {
            if let Some(last) = self.bytes.last_mut() {
                *last &= !(0xffu8 >> used);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_clear_count() {
        let mut b = Bitfield::new(10);
        assert!(b.none() && !b.all() && b.len() == 10);
        assert!(b.set(0) && b.set(9) && !b.set(9) && !b.set(10));
        assert_eq!(b.as_bytes(), [0x80, 0x40]);
        assert_eq!(b.count_ones(), 2);
        assert!(b.get(9) && !b.get(8) && !b.get(100));
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), [0, 9]);
        assert!(b.clear(0) && !b.clear(0) && !b.clear(99));
        assert_eq!(b.count_ones(), 1);
    }

    #[test]
    fn full_has_zero_spare_bits() {
        let b = Bitfield::full(10);
        assert_eq!(b.as_bytes(), [0xff, 0xc0]);
        assert!(b.all());
        assert_eq!(b.iter_ones().count(), 10);
        assert!(Bitfield::full(0).all() && Bitfield::full(0).is_empty());
        assert_eq!(Bitfield::full(16).as_bytes(), [0xff, 0xff]);
    }

    #[test]
    fn validation() {
        assert_eq!(
            Bitfield::from_bytes(&[0xff], 10),
            Err(BitfieldError::Length {
                len: 1,
                expected: 2
            })
        );
        assert_eq!(
            Bitfield::from_bytes(&[0xff, 0xe0], 10),
            Err(BitfieldError::SpareBits)
        );
        let b = Bitfield::from_bytes(&[0xff, 0xc0], 10).unwrap();
        assert!(b.all());
        assert_eq!(Bitfield::from_bytes(&[], 0).unwrap().len(), 0);
        assert!(Bitfield::from_bytes(&[0], 0).is_err());
    }

    #[test]
    fn resize() {
        let mut b = Bitfield::new(20);
        b.set(3);
        b.set(15);
        let r = b.resized(10);
        assert_eq!(r.iter_ones().collect::<Vec<_>>(), [3]);
        let r = b.resized(30);
        assert_eq!(r.iter_ones().collect::<Vec<_>>(), [3, 15]);
    }
}
