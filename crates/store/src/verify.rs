//! Piece verification: SHA-1 for v1, BEP 52 Merkle subtrees for v2, both
//! for hybrids.
//!
//! [`PieceHashes`] holds, per piece, what the piece must hash to. It is
//! built once from a [`Torrent`] (and rebuilt after piece layers arrive
//! from peers, see [`Torrent::insert_piece_layer`]).
//!
//! - **v1**: `SHA-1(piece bytes) == pieces[i]`. In a hybrid the piece bytes
//!   include the zeros of any pad file at its end.
//! - **v2**: the piece's bytes *of its file* (so without trailing pad
//!   zeros, and only up to the file's end for a file's last piece) are cut
//!   into 16 KiB leaves. For a file longer than one piece, the subtree root
//!   over those leaves, padded with zero leaves to `piece_length / 16 KiB`
//!   ([`merkle::piece_hash_from_leaves`]), must equal the piece layer
//!   entry. For a file of at most one piece there is no layer: the tree
//!   over its leaves ([`merkle::root_from_leaves`]) must equal its
//!   `pieces root`.
//! - **Hybrid**: both checks must pass. When the v2 piece layer of a file
//!   is not known yet (a torrent from a magnet link), only v1 is checked.
//!
//! [`PieceCheck`] does the same incrementally, so a recheck can hash a
//! piece in small reads without holding it whole.

use btl_metainfo::merkle::{self, BLOCK_SIZE};
use btl_metainfo::torrent::{Torrent, Version};
use btl_types::{Sha1Hash, Sha256Hash};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use crate::StoreError;

/// What a piece's v2 bytes must hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V2Expect {
    /// The piece layer entry (file longer than one piece).
    Layer(Sha256Hash),
    /// The file's pieces root (file of at most one piece).
    Root(Sha256Hash),
    /// The file's piece layer is not known yet.
    Unknown,
}

/// The v2 facts of one piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct V2Piece {
    /// Bytes of the piece that belong to its file (the rest is pad).
    len: u32,
    expect: V2Expect,
}

/// The expected hashes of every piece of a torrent. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceHashes {
    piece_length: u32,
    piece_count: u32,
    /// v1/hybrid: end of the contiguous piece space.
    space_len: u64,
    per_file: bool,
    v1: Vec<Sha1Hash>,
    /// Per piece; empty for v1-only torrents, `None` for a piece that holds
    /// no v2 file bytes.
    v2: Vec<Option<V2Piece>>,
}

impl PieceHashes {
    /// Collects the expected hashes of every piece of `torrent`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unsupported`] if the piece count or length does not
    /// fit in 32 bits (never for a torrent the parser accepted).
    pub fn from_torrent(torrent: &Torrent) -> Result<PieceHashes, StoreError> {
        let unsupported = || {
            StoreError::Unsupported(format!(
                "{} pieces of {} bytes",
                torrent.piece_count(),
                torrent.piece_length()
            ))
        };
        let piece_length = u32::try_from(torrent.piece_length()).map_err(|_| unsupported())?;
        let piece_count = u32::try_from(torrent.piece_count()).map_err(|_| unsupported())?;
        let pl = u64::from(piece_length);
        let version = torrent.version();
        let space_len = torrent
            .files()
            .iter()
            .map(|f| f.offset.saturating_add(f.length))
            .max()
            .unwrap_or(0);
        let mut v2 = Vec::new();
        if version.has_v2() && pl > 0 {
            v2 = vec![None; piece_count as usize];
            for f in torrent.files() {
                let Some(root) = f.pieces_root else { continue };
                if f.is_pad() || f.length == 0 {
                    continue;
                }
                let layer = torrent.piece_layer(&root);
                let first = f.offset / pl;
                let n = f.length.div_ceil(pl);
                for k in 0..n {
                    let len = (f.length - k * pl).min(pl);
                    let expect = if f.length <= pl {
                        V2Expect::Root(root)
                    } else {
                        layer
                            .and_then(|l| l.get(k as usize))
                            .map_or(V2Expect::Unknown, |h| V2Expect::Layer(*h))
                    };
                    let slot = usize::try_from(first + k)
                        .ok()
                        .and_then(|i| v2.get_mut(i))
                        .ok_or_else(unsupported)?;
                    *slot = Some(V2Piece {
                        len: u32::try_from(len).map_err(|_| unsupported())?,
                        expect,
                    });
                }
            }
        }
        Ok(PieceHashes {
            piece_length,
            piece_count,
            space_len,
            per_file: version == Version::V2,
            v1: torrent.v1_piece_hashes().to_vec(),
            v2,
        })
    }

    /// Takes in the piece layer of the files whose pieces root is
    /// `pieces_root`, from `torrent` (after
    /// [`Torrent::insert_piece_layer`]): their pieces become verifiable
    /// (v2-only) or checked against both hashes (hybrid). Costs the file's
    /// piece count, not the torrent's. Returns how many pieces changed.
    pub fn add_piece_layer(&mut self, torrent: &Torrent, pieces_root: &Sha256Hash) -> u32 {
        let Some(layer) = torrent.piece_layer(pieces_root) else {
            return 0;
        };
        let pl = u64::from(self.piece_length);
        let mut changed = 0;
        if pl == 0 || self.v2.is_empty() {
            return 0;
        }
        for f in torrent.files() {
            if f.pieces_root.as_ref() != Some(pieces_root) || f.length <= pl || f.is_pad() {
                continue;
            }
            let first = f.offset / pl;
            for (k, h) in layer.iter().enumerate() {
                let slot = usize::try_from(first + k as u64)
                    .ok()
                    .and_then(|i| self.v2.get_mut(i));
                if let Some(Some(p)) = slot {
                    p.expect = V2Expect::Layer(*h);
                    changed += 1;
                }
            }
        }
        changed
    }

    /// Number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.piece_count
    }

    /// Length of piece `piece` (as [`Layout::piece_len`](crate::Layout::piece_len));
    /// `None` when out of range.
    pub fn piece_len(&self, piece: u32) -> Option<u32> {
        if piece >= self.piece_count {
            return None;
        }
        if self.per_file {
            return self.v2_piece(piece).map(|p| p.len);
        }
        let start = u64::from(piece) * u64::from(self.piece_length);
        let len = self
            .space_len
            .checked_sub(start)?
            .min(u64::from(self.piece_length));
        u32::try_from(len).ok()
    }

    /// The v1 SHA-1 of piece `piece` (v1 and hybrid torrents).
    pub fn v1_hash(&self, piece: u32) -> Option<Sha1Hash> {
        self.v1.get(piece as usize).copied()
    }

    /// The v2 hash piece `piece` is checked against: its piece layer entry,
    /// or for a file of at most one piece the file's pieces root. `None`
    /// for v1-only torrents and when the layer is not known.
    pub fn v2_hash(&self, piece: u32) -> Option<Sha256Hash> {
        match self.v2_piece(piece)?.expect {
            V2Expect::Layer(h) | V2Expect::Root(h) => Some(h),
            V2Expect::Unknown => None,
        }
    }

    /// How many leading bytes of piece `piece` are v2 file bytes (the rest
    /// of the piece, if any, is pad). `None` for v1-only torrents.
    pub fn v2_len(&self, piece: u32) -> Option<u32> {
        self.v2_piece(piece).map(|p| p.len)
    }

    /// Whether piece `piece` can be verified now (some expected hash is
    /// known).
    pub fn can_verify(&self, piece: u32) -> bool {
        self.v1_hash(piece).is_some() || self.v2_hash(piece).is_some()
    }

    /// Whether `data` is exactly piece `piece`. See [`verify_piece`].
    pub fn verify(&self, piece: u32, data: &[u8]) -> bool {
        let mut check = PieceCheck::new(self, piece);
        check.update(data);
        check.finish()
    }

    fn v2_piece(&self, piece: u32) -> Option<V2Piece> {
        self.v2.get(piece as usize).copied().flatten()
    }
}

/// Whether `data` is exactly piece `piece` of the torrent `hashes` was
/// built from: the right length, and every known hash (v1, v2, or both for
/// a hybrid) matches. `false` when no hash of the piece is known (see
/// [`PieceHashes::can_verify`]) or the piece does not exist.
pub fn verify_piece(hashes: &PieceHashes, piece: u32, data: &[u8]) -> bool {
    hashes.verify(piece, data)
}

/// The SHA-256 of each 16 KiB block of `data` (the last may be shorter):
/// the v2 Merkle leaves, for telling which block of a failed piece was bad
/// when the leaf hashes are known.
pub fn block_leaves(data: &[u8]) -> Vec<Sha256Hash> {
    data.chunks(BLOCK_SIZE).map(merkle::hash_block).collect()
}

/// Incremental verification of one piece: feed its bytes in order with
/// [`PieceCheck::update`], in pieces of any size, then
/// [`PieceCheck::finish`]. Memory use is one hash state plus one 32-byte
/// leaf per 16 KiB.
#[derive(Debug, Clone)]
pub struct PieceCheck {
    expected_len: Option<u32>,
    fed: u64,
    v1: Option<(Sha1, Sha1Hash)>,
    v2: Option<LeafHasher>,
}

/// Hashes the first `limit` bytes fed into 16 KiB leaves.
#[derive(Debug, Clone)]
struct LeafHasher {
    limit: u64,
    fed: u64,
    block: Sha256,
    in_block: usize,
    leaves: Vec<Sha256Hash>,
    expect: V2Expect,
    blocks_per_piece: u64,
}

impl LeafHasher {
    fn update(&mut self, mut data: &[u8]) {
        let room = self.limit.saturating_sub(self.fed);
        if (data.len() as u64) > room {
            data = data.get(..room as usize).unwrap_or_default();
        }
        self.fed += data.len() as u64;
        while !data.is_empty() {
            let take = (BLOCK_SIZE - self.in_block).min(data.len());
            let (now, rest) = data.split_at(take);
            self.block.update(now);
            self.in_block += take;
            data = rest;
            if self.in_block == BLOCK_SIZE {
                self.end_block();
            }
        }
    }

    fn end_block(&mut self) {
        let h = std::mem::take(&mut self.block).finalize();
        self.leaves.push(Sha256Hash(h.into()));
        self.in_block = 0;
    }

    fn finish(mut self) -> bool {
        if self.fed != self.limit {
            return false;
        }
        if self.in_block > 0 {
            self.end_block();
        }
        match self.expect {
            V2Expect::Layer(h) => {
                merkle::piece_hash_from_leaves(&self.leaves, self.blocks_per_piece) == Some(h)
            }
            V2Expect::Root(h) => merkle::root_from_leaves(&self.leaves) == Some(h),
            V2Expect::Unknown => false,
        }
    }
}

impl PieceCheck {
    /// Starts checking piece `piece` against `hashes`.
    pub fn new(hashes: &PieceHashes, piece: u32) -> PieceCheck {
        let v1 = hashes.v1_hash(piece).map(|h| (Sha1::new(), h));
        let v2 = hashes
            .v2_piece(piece)
            .filter(|p| p.expect != V2Expect::Unknown)
            .map(|p| LeafHasher {
                limit: u64::from(p.len),
                fed: 0,
                block: Sha256::new(),
                in_block: 0,
                leaves: Vec::new(),
                expect: p.expect,
                blocks_per_piece: (u64::from(hashes.piece_length) / BLOCK_SIZE as u64).max(1),
            });
        PieceCheck {
            expected_len: hashes.piece_len(piece),
            fed: 0,
            v1,
            v2,
        }
    }

    /// Feeds the next bytes of the piece.
    pub fn update(&mut self, data: &[u8]) {
        self.fed += data.len() as u64;
        if let Some((h, _)) = &mut self.v1 {
            h.update(data);
        }
        if let Some(l) = &mut self.v2 {
            l.update(data);
        }
    }

    /// Whether the bytes fed are exactly the piece (see [`verify_piece`]).
    pub fn finish(self) -> bool {
        if self.expected_len.map(u64::from) != Some(self.fed) {
            return false;
        }
        if self.v1.is_none() && self.v2.is_none() {
            return false;
        }
        let v1_ok = self
            .v1
            .is_none_or(|(h, want)| Sha1Hash(h.finalize().into()) == want);
        v1_ok && self.v2.is_none_or(LeafHasher::finish)
    }
}
