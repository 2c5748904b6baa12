//! BEP 52 Merkle trees.
//!
//! A v2 file is cut into 16 KiB blocks; each block's SHA-256 is a leaf (the
//! last block may be shorter and is hashed as it is). The leaf count is
//! padded up to a power of two with *zero leaves* (32 zero bytes), and each
//! inner node is `SHA-256(left || right)`. The root is the file's
//! `pieces root`.
//!
//! A piece of `piece_length = 2^k * 16 KiB` bytes covers `2^k` leaves; the
//! node above them is that piece's entry in the file's *piece layer*. A
//! file's last piece is padded with zero leaves to the full `2^k`, so the
//! piece layer of a file spans `ceil(len / piece_length)` entries and the
//! root is the tree over those entries padded with the root of an all-zero
//! subtree of `2^k` leaves ([`pad_hash`]).
//!
//! ```text
//!                    root
//!              /             \
//!          p0                  p1          <- piece layer (k = 1)
//!        /    \              /    \
//!      L0      L1          L2      0       <- leaves; 0 = zero leaf
//! ```

use btl_types::Sha256Hash;
use sha2::{Digest, Sha256};

/// Size of a Merkle leaf block: 16 KiB.
pub const BLOCK_SIZE: usize = 16 * 1024;

/// SHA-256 of one block of data (a leaf).
pub fn hash_block(data: &[u8]) -> Sha256Hash {
    Sha256Hash(Sha256::digest(data).into())
}

/// An inner node: SHA-256 of the concatenation of two children.
pub fn hash_pair(left: &Sha256Hash, right: &Sha256Hash) -> Sha256Hash {
    let mut h = Sha256::new();
    h.update(left.0);
    h.update(right.0);
    Sha256Hash(h.finalize().into())
}

/// The root of a subtree of `2^levels` zero leaves (level 0 is the zero
/// leaf itself).
pub fn pad_hash(levels: u32) -> Sha256Hash {
    let mut h = Sha256Hash([0; 32]);
    for _ in 0..levels {
        h = hash_pair(&h, &h);
    }
    h
}

/// Number of leaves (16 KiB blocks) in a file of `len` bytes.
pub fn leaf_count(len: u64) -> u64 {
    len.div_ceil(BLOCK_SIZE as u64)
}

/// The root of a tree whose bottom layer is `nodes` padded up to `width`
/// entries (a power of two, at least `nodes.len()`) with `pad`, where `pad`
/// is the hash of a missing node at that layer.
///
/// Returns `None` if `width` is not a power of two or is too small.
pub fn root_of_layer(nodes: &[Sha256Hash], width: u64, pad: Sha256Hash) -> Option<Sha256Hash> {
    if !width.is_power_of_two() || (nodes.len() as u64) > width {
        return None;
    }
    if nodes.is_empty() {
        // A tree of pad nodes only.
        let mut h = pad;
        let mut w = width;
        while w > 1 {
            h = hash_pair(&h, &h);
            w /= 2;
        }
        return Some(h);
    }
    let mut layer: Vec<Sha256Hash> = nodes.to_vec();
    let mut pad = pad;
    let mut w = width;
    while w > 1 {
        let mut next = Vec::with_capacity(layer.len().div_ceil(2));
        for pair in layer.chunks(2) {
            let right = pair.get(1).unwrap_or(&pad);
            next.push(hash_pair(&pair[0], right));
        }
        pad = hash_pair(&pad, &pad);
        layer = next;
        w /= 2;
    }
    layer.first().copied()
}

/// The root of a file's tree from its leaves (block hashes).
pub fn root_from_leaves(leaves: &[Sha256Hash]) -> Option<Sha256Hash> {
    let width = (leaves.len() as u64).max(1).next_power_of_two();
    root_of_layer(leaves, width, Sha256Hash([0; 32]))
}

/// The hash of one piece from its leaves: the leaves padded with zero leaves
/// to `blocks_per_piece` (a power of two).
pub fn piece_hash_from_leaves(leaves: &[Sha256Hash], blocks_per_piece: u64) -> Option<Sha256Hash> {
    root_of_layer(leaves, blocks_per_piece, Sha256Hash([0; 32]))
}

/// The file root from its piece layer.
///
/// `file_len` is the file's length and `piece_length` the torrent's piece
/// length (a power of two, at least 16 KiB). Returns `None` if the inputs
/// are inconsistent (wrong number of entries, bad piece length).
pub fn root_from_piece_layer(
    layer: &[Sha256Hash],
    file_len: u64,
    piece_length: u64,
) -> Option<Sha256Hash> {
    if !piece_length.is_power_of_two() || piece_length < BLOCK_SIZE as u64 {
        return None;
    }
    if layer.len() as u64 != file_len.div_ceil(piece_length) || layer.is_empty() {
        return None;
    }
    let blocks_per_piece = piece_length / BLOCK_SIZE as u64;
    let levels = blocks_per_piece.trailing_zeros();
    let padded_leaves = leaf_count(file_len).next_power_of_two();
    let width = (padded_leaves / blocks_per_piece).max(1);
    root_of_layer(layer, width, pad_hash(levels))
}

/// Checks an uncle-hash proof: that `node`, at position `index` of its
/// layer, hashes up through `proof` (the siblings, from the bottom up) to
/// `root`.
pub fn verify_proof(
    node: &Sha256Hash,
    mut index: u64,
    proof: &[Sha256Hash],
    root: &Sha256Hash,
) -> bool {
    let mut h = *node;
    for sibling in proof {
        h = if index.is_multiple_of(2) {
            hash_pair(&h, sibling)
        } else {
            hash_pair(sibling, &h)
        };
        index /= 2;
    }
    index == 0 && h == *root
}

/// All the layers of a tree, from the leaves (layer 0, padded to a power of
/// two) up to the root. Used by a seeder to answer hash requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    layers: Vec<Vec<Sha256Hash>>,
}

impl MerkleTree {
    /// Builds the full tree over `leaves` padded with zero leaves to a power
    /// of two.
    pub fn from_leaves(leaves: &[Sha256Hash]) -> Self {
        let width = leaves.len().max(1).next_power_of_two();
        let mut base = leaves.to_vec();
        base.resize(width, Sha256Hash([0; 32]));
        let mut layers = vec![base];
        while let Some(last) = layers.last() {
            if last.len() <= 1 {
                break;
            }
            let next = last.chunks(2).map(|p| hash_pair(&p[0], &p[1])).collect();
            layers.push(next);
        }
        MerkleTree { layers }
    }

    /// The root.
    pub fn root(&self) -> Sha256Hash {
        self.layers
            .last()
            .and_then(|l| l.first())
            .copied()
            .unwrap_or(Sha256Hash([0; 32]))
    }

    /// The layer `level` above the leaves (0 = leaves), if it exists.
    pub fn layer(&self, level: usize) -> Option<&[Sha256Hash]> {
        self.layers.get(level).map(Vec::as_slice)
    }

    /// The sibling hashes from node `index` of layer `level` up to (not
    /// including) the root.
    pub fn proof(&self, level: usize, mut index: usize) -> Option<Vec<Sha256Hash>> {
        let mut out = Vec::new();
        for layer in self.layers.get(level..)?.iter() {
            if layer.len() == 1 {
                break;
            }
            out.push(*layer.get(index ^ 1)?);
            index /= 2;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u8) -> Sha256Hash {
        hash_block(&[i; 100])
    }

    #[test]
    fn single_leaf_is_its_own_root() {
        let l = leaf(1);
        assert_eq!(root_from_leaves(&[l]), Some(l));
    }

    #[test]
    fn three_leaves_pad_with_zero() {
        let (a, b, c) = (leaf(1), leaf(2), leaf(3));
        let z = Sha256Hash([0; 32]);
        let want = hash_pair(&hash_pair(&a, &b), &hash_pair(&c, &z));
        assert_eq!(root_from_leaves(&[a, b, c]), Some(want));
        assert_eq!(MerkleTree::from_leaves(&[a, b, c]).root(), want);
    }

    #[test]
    fn piece_layer_matches_leaves() {
        // 4 blocks per piece (64 KiB), a file of 9 blocks: 3 pieces, padded
        // to 16 leaves.
        let leaves: Vec<_> = (0..9).map(leaf).collect();
        let file_len = 8 * BLOCK_SIZE as u64 + 10;
        let pieces: Vec<_> = leaves
            .chunks(4)
            .map(|c| piece_hash_from_leaves(c, 4).unwrap())
            .collect();
        assert_eq!(pieces.len(), 3);
        let from_layer = root_from_piece_layer(&pieces, file_len, 4 * BLOCK_SIZE as u64);
        assert_eq!(from_layer, root_from_leaves(&leaves));
        // A wrong entry count is refused.
        assert_eq!(
            root_from_piece_layer(&pieces[..2], file_len, 4 * BLOCK_SIZE as u64),
            None
        );
    }

    #[test]
    fn proofs_verify() {
        let leaves: Vec<_> = (0..6).map(leaf).collect();
        let tree = MerkleTree::from_leaves(&leaves);
        for (i, l) in leaves.iter().enumerate() {
            let proof = tree.proof(0, i).unwrap();
            assert_eq!(proof.len(), 3);
            assert!(verify_proof(l, i as u64, &proof, &tree.root()));
            assert!(!verify_proof(l, (i as u64) ^ 1, &proof, &tree.root()));
        }
        let p = tree.layer(1).unwrap()[2];
        assert!(verify_proof(
            &p,
            2,
            &tree.proof(1, 2).unwrap(),
            &tree.root()
        ));
    }

    #[test]
    fn pad_hash_levels() {
        let z = Sha256Hash([0; 32]);
        assert_eq!(pad_hash(0), z);
        assert_eq!(pad_hash(1), hash_pair(&z, &z));
    }
}
