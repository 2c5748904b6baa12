//! Piece and block sizes of a torrent.

use std::collections::BTreeMap;

/// The size of a request block: 16 KiB, what every client uses.
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// Piece layout: a fixed piece length, with some pieces shorter.
///
/// For a v1 (or hybrid) torrent only the last piece can be short; for a
/// v2-only torrent each file's last piece can be. Blocks are [`BLOCK_SIZE`]
/// bytes except the last block of a piece, which can be shorter.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Geometry {
    /// Nominal piece length in bytes.
    pub piece_length: u32,
    /// Number of pieces.
    pub piece_count: u32,
    /// Pieces shorter than `piece_length`: index to length.
    pub short_pieces: BTreeMap<u32, u32>,
}

impl Geometry {
    /// The layout of a v1 torrent of `total_length` bytes (the last piece may
    /// be short). A `piece_length` of 0 gives no pieces.
    pub fn v1(total_length: u64, piece_length: u32) -> Self {
        let mut short_pieces = BTreeMap::new();
        if piece_length == 0 {
            return Geometry::default();
        }
        let count = total_length.div_ceil(u64::from(piece_length));
        let piece_count = u32::try_from(count).unwrap_or(u32::MAX);
        let rest = total_length % u64::from(piece_length);
        if rest != 0 && piece_count > 0 {
            short_pieces.insert(piece_count - 1, rest as u32);
        }
        Geometry {
            piece_length,
            piece_count,
            short_pieces,
        }
    }

    /// Length of piece `i` in bytes; 0 if `i` is out of range.
    pub fn piece_len(&self, i: u32) -> u32 {
        if i >= self.piece_count {
            return 0;
        }
        self.short_pieces
            .get(&i)
            .copied()
            .unwrap_or(self.piece_length)
    }

    /// Number of 16 KiB blocks of piece `i`.
    pub fn block_count(&self, i: u32) -> u32 {
        self.piece_len(i).div_ceil(BLOCK_SIZE)
    }

    /// The byte range `(begin, length)` of block `b` of piece `i`, if it
    /// exists.
    pub fn block(&self, i: u32, b: u32) -> Option<(u32, u32)> {
        let len = self.piece_len(i);
        let begin = b.checked_mul(BLOCK_SIZE)?;
        (begin < len).then(|| (begin, (len - begin).min(BLOCK_SIZE)))
    }

    /// The block index of a request `(begin, length)` if it is exactly one of
    /// our blocks of piece `i`.
    pub fn block_index(&self, i: u32, begin: u32, length: u32) -> Option<u32> {
        if !begin.is_multiple_of(BLOCK_SIZE) {
            return None;
        }
        let b = begin / BLOCK_SIZE;
        (self.block(i, b) == Some((begin, length))).then_some(b)
    }

    /// The largest piece length (the budget always admits one piece).
    pub fn max_piece_len(&self) -> u32 {
        if self.piece_count > self.short_pieces.len() as u32 {
            self.piece_length
        } else {
            self.short_pieces.values().copied().max().unwrap_or(0)
        }
    }

    /// Total bytes of all pieces.
    pub fn total_len(&self) -> u64 {
        let shorts: u64 = self
            .short_pieces
            .iter()
            .filter(|(&i, _)| i < self.piece_count)
            .map(|(_, &l)| u64::from(l))
            .sum();
        let n_short = self
            .short_pieces
            .keys()
            .filter(|&&i| i < self.piece_count)
            .count() as u64;
        (u64::from(self.piece_count) - n_short) * u64::from(self.piece_length) + shorts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_layout() {
        let g = Geometry::v1(100_000, 32 * 1024);
        assert_eq!(g.piece_count, 4);
        assert_eq!(g.piece_len(0), 32768);
        assert_eq!(g.piece_len(3), 100_000 - 3 * 32768);
        assert_eq!(g.piece_len(4), 0);
        assert_eq!(g.block_count(0), 2);
        assert_eq!(g.block_count(3), 1);
        assert_eq!(g.block(3, 0), Some((0, 1696)));
        assert_eq!(g.block(3, 1), None);
        assert_eq!(g.block_index(0, 16384, 16384), Some(1));
        assert_eq!(g.block_index(0, 16384, 100), None);
        assert_eq!(g.block_index(0, 100, 16384), None);
        assert_eq!(g.total_len(), 100_000);
        assert_eq!(g.max_piece_len(), 32768);
        let exact = Geometry::v1(65536, 32768);
        assert!(exact.short_pieces.is_empty());
        assert_eq!(Geometry::v1(10, 0).piece_count, 0);
    }

    #[test]
    fn v2_short_pieces() {
        let g = Geometry {
            piece_length: 65536,
            piece_count: 3,
            short_pieces: [(0, 100), (2, 20000)].into_iter().collect(),
        };
        assert_eq!(g.block_count(0), 1);
        assert_eq!(g.block_count(1), 4);
        assert_eq!(g.block_count(2), 2);
        assert_eq!(g.block(2, 1), Some((16384, 20000 - 16384)));
        assert_eq!(g.total_len(), 100 + 65536 + 20000);
    }
}
