//! BEP 52 hash exchange, the pure part: the geometry of a file's Merkle
//! tree, answering a `hash request` from a piece layer, and checking the
//! `hashes` a peer sends back against the file's `pieces root`.
//!
//! No sockets, no clock: [`crate::layers`] drives this from the torrent
//! actor.
//!
//! # The tree, the layers and the proofs
//!
//! A file of `n` 16 KiB blocks has `N = n.next_power_of_two()` leaves
//! (layer 0), the missing ones being zero leaves; layer `b` has `N >> b`
//! nodes and the root is layer `H = log2 N`. A node that covers padding only
//! is the root of an all-zero subtree, `pad(b)` ([`merkle::pad_hash`]). The
//! *piece layer* is layer `p = log2(piece_length / 16 KiB)`; its first
//! `ceil(len / piece_length)` nodes are the file's `piece layers` entry, the
//! rest are `pad(p)`.
//!
//! A request `(base layer b, index i, length n, proof layers k)` asks for
//! nodes `i .. i + n` of layer `b` (`n` a power of two, `i` a multiple of
//! `n`) and for *proof layer* `j` (`1 ..= k`), the uncle at layer `b + j`:
//! the sibling of the ancestor of the range at that layer. The range's own
//! subtree reaches up to layer `b + log2 n`, so the uncles of layers
//! `b + 1 .. b + log2 n` are inside it and are omitted (BEP 52: "the first
//! log2(length) - 1 proof layers are omitted"), and there is no uncle at the
//! root layer. The `hashes` message carries the `n` nodes, then the uncles
//! from the bottom up:
//!
//! ```text
//! layer H                 root
//!                     /          \
//! layer b+2        A               U2      <- uncle, proof layer 2
//!                /   \           /   \
//! layer b+1    P      U1       .      .    <- uncle, proof layer 1
//!             / \
//! layer b    h0  h1                        <- requested: i = 0, n = 2
//! ```
//!
//! Answering `(b, 0, 2, 2)` sends `h0 h1 U1 U2`; the requester hashes
//! `h0 h1` into `P`, then `P U1` into `A`, then `A U2` into the root and
//! compares it with the pieces root it knows from the info dictionary.
//!
//! We answer from the piece layer up (`b >= p`), which a `.torrent` or a
//! completed layer fetch gives us. Leaf-layer requests (`b < p`) are
//! rejected: the block hashes are not kept (they would cost 32 bytes per
//! 16 KiB of payload, or a disk read and re-hash per request). libtorrent
//! asks for them only to locate a bad block after a piece failed its check,
//! and falls back to the piece hash when rejected.

use btl_metainfo::merkle::{self, hash_pair, pad_hash, BLOCK_SIZE};
use btl_types::Sha256Hash;
use btl_wire::{HashRequest, Hashes};

/// Most base-layer hashes we put in one `hashes` message (BEP 52: length
/// SHOULD NOT exceed 512; we are lenient as a server, up to what the frame
/// decoder lets a peer receive).
pub const MAX_SERVE_LENGTH: u32 = 8192;

/// Most base-layer hashes we ask for in one request (BEP 52's
/// recommended maximum, and what libtorrent asks for).
pub const MAX_REQUEST_LENGTH: u32 = 512;

/// Why a hash request is refused (for logs; the peer only sees a reject).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// No file of the torrent has this pieces root, or the file is at most
    /// one piece long (its root is its only piece hash).
    #[error("unknown pieces root")]
    UnknownRoot,
    /// We do not know the file's piece layer yet.
    #[error("piece layer not known yet")]
    NoLayer,
    /// The base layer is below the piece layer (block hashes are not kept)
    /// or above the root.
    #[error("base layer {0} not served")]
    Layer(u32),
    /// Length or index do not fit the layer (not a power of two, not
    /// aligned, past the end, over [`MAX_SERVE_LENGTH`]).
    #[error("bad range")]
    Range,
    /// The peer asks too often.
    #[error("rate limited")]
    RateLimited,
}

/// Why a `hashes` message was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashesError {
    /// The message's parameters do not fit the file's tree.
    #[error("range does not fit the file's tree")]
    Range,
    /// Not as many hashes as the request implies.
    #[error("expected {expected} hashes, got {got}")]
    Count {
        /// How many the parameters imply.
        expected: usize,
        /// How many came.
        got: usize,
    },
    /// The hashes and their proof do not hash up to the pieces root.
    #[error("proof does not match the pieces root")]
    Proof,
}

/// The shape of one file's Merkle tree. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTree {
    /// The piece layer `p`.
    pub piece_layer: u32,
    /// The root layer `H`.
    pub height: u32,
    /// Real (non-padding) nodes of the piece layer: the file's piece count.
    pub pieces: u64,
}

impl FileTree {
    /// The tree of a file of `length` bytes with pieces of `piece_length`
    /// bytes; `None` unless the file is longer than one piece (shorter
    /// files have no piece layer) and `piece_length` is a v2 piece length.
    pub fn new(length: u64, piece_length: u64) -> Option<FileTree> {
        let block = BLOCK_SIZE as u64;
        if !piece_length.is_power_of_two() || piece_length < block || length <= piece_length {
            return None;
        }
        let leaves = merkle::leaf_count(length).checked_next_power_of_two()?;
        Some(FileTree {
            piece_layer: (piece_length / block).trailing_zeros(),
            height: leaves.trailing_zeros(),
            pieces: length.div_ceil(piece_length),
        })
    }

    /// Nodes in layer `layer` (padding included); 0 above the root.
    pub fn width(&self, layer: u32) -> u64 {
        if layer > self.height {
            0
        } else {
            1u64 << (self.height - layer)
        }
    }

    /// Real nodes of layer `layer >= piece_layer`: those covering at least
    /// one piece of the file.
    pub fn real_width(&self, layer: u32) -> u64 {
        let up = layer.saturating_sub(self.piece_layer);
        if up >= 64 {
            return 1;
        }
        self.pieces.div_ceil(1u64 << up)
    }

    /// Checks the range of a request or answer against this tree and
    /// returns `log2` of the range's subtree width: the length rounded up to
    /// a power of two, at least 2. A length that is not a power of two is
    /// accepted only when it is cut short by the end of the layer's real
    /// nodes (BEP 52: "unless it gets truncated by the end of the layer").
    fn range(&self, base: u32, index: u32, length: u32, max: u32) -> Option<u32> {
        if base > self.height || length == 0 || length > max {
            return None;
        }
        let span = length.checked_next_power_of_two()?.max(2);
        if !index.is_multiple_of(span) {
            return None;
        }
        let end = u64::from(index) + u64::from(length);
        if end > self.width(base) {
            return None;
        }
        let whole = length >= 2 && length.is_power_of_two();
        if !whole && (base < self.piece_layer || end != self.real_width(base)) {
            return None;
        }
        let k = span.trailing_zeros();
        // The range's subtree must fit under the root.
        (base + k <= self.height).then_some(k)
    }

    /// The layers whose uncles a `hashes` message for this range carries,
    /// given `k` from [`FileTree::range`].
    fn uncle_layers(&self, base: u32, k: u32, proof_layers: u32) -> std::ops::Range<u32> {
        let top = base
            .saturating_add(proof_layers)
            .min(self.height.saturating_sub(1));
        (base + k)..(top + 1).max(base + k)
    }
}

/// The layers of a file's tree above its piece layer, computed once from
/// the piece layer. Nodes covering padding only are not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpperLayers {
    tree: FileTree,
    /// `layers[j]` is layer `piece_layer + 1 + j`, real nodes only.
    layers: Vec<Vec<Sha256Hash>>,
}

impl UpperLayers {
    /// Builds the layers above `piece_layer` (the file's real piece hashes,
    /// exactly `tree.pieces` of them). Returns `None` if the count is wrong.
    /// Costs about `tree.pieces` hashes of 64 bytes and as many 32-byte
    /// nodes of memory: 0.3 s and 32 MiB for a million pieces (a 1 TiB file
    /// of 1 MiB pieces) on the 2-core test machine; an answer then takes
    /// about 15 µs.
    pub fn build(tree: FileTree, piece_layer: &[Sha256Hash]) -> Option<UpperLayers> {
        if piece_layer.len() as u64 != tree.pieces {
            return None;
        }
        let mut layers: Vec<Vec<Sha256Hash>> = Vec::new();
        let mut below: &[Sha256Hash] = piece_layer;
        for layer in tree.piece_layer + 1..=tree.height {
            let pad = pad_hash(layer - 1);
            let next: Vec<Sha256Hash> = below
                .chunks(2)
                .map(|pair| hash_pair(&pair[0], pair.get(1).unwrap_or(&pad)))
                .collect();
            layers.push(next);
            below = layers.last().map(Vec::as_slice).unwrap_or_default();
        }
        Some(UpperLayers { tree, layers })
    }

    /// The file's tree shape.
    pub fn tree(&self) -> FileTree {
        self.tree
    }

    /// The root (the file's pieces root).
    pub fn root(&self, piece_layer: &[Sha256Hash]) -> Option<Sha256Hash> {
        self.node(piece_layer, self.tree.height, 0)
    }

    /// Number of stored nodes, for the cache's memory bound.
    pub fn node_count(&self) -> usize {
        self.layers.iter().map(Vec::len).sum()
    }

    /// Node `index` of `layer` (`>= piece_layer`): stored, or `pad(layer)`
    /// past the real nodes; `None` outside the tree.
    fn node(&self, piece_layer: &[Sha256Hash], layer: u32, index: u64) -> Option<Sha256Hash> {
        if layer < self.tree.piece_layer || index >= self.tree.width(layer) {
            return None;
        }
        let stored = if layer == self.tree.piece_layer {
            piece_layer
        } else {
            self.layers
                .get((layer - self.tree.piece_layer - 1) as usize)
                .map(Vec::as_slice)?
        };
        Some(
            usize::try_from(index)
                .ok()
                .and_then(|i| stored.get(i))
                .copied()
                .unwrap_or_else(|| pad_hash(layer)),
        )
    }

    /// The hashes answering `req` (BEP 52 order: the requested nodes, then
    /// the uncles from the bottom up), or why not. `piece_layer` is the
    /// file's piece layer the layers were built from.
    pub fn answer(
        &self,
        piece_layer: &[Sha256Hash],
        req: &HashRequest,
    ) -> Result<Vec<Sha256Hash>, RejectReason> {
        let t = self.tree;
        if req.base_layer < t.piece_layer || req.base_layer > t.height {
            return Err(RejectReason::Layer(req.base_layer));
        }
        let k = t
            .range(req.base_layer, req.index, req.length, MAX_SERVE_LENGTH)
            .ok_or(RejectReason::Range)?;
        let uncles = t.uncle_layers(req.base_layer, k, req.proof_layers);
        let mut out = Vec::with_capacity(req.length as usize + uncles.len());
        let first = u64::from(req.index);
        for i in first..first + u64::from(req.length) {
            out.push(
                self.node(piece_layer, req.base_layer, i)
                    .ok_or(RejectReason::Range)?,
            );
        }
        for layer in uncles {
            let ancestor = first >> (layer - req.base_layer);
            out.push(
                self.node(piece_layer, layer, ancestor ^ 1)
                    .ok_or(RejectReason::Range)?,
            );
        }
        Ok(out)
    }
}

/// Checks a `hashes` message against the file's tree and its pieces root,
/// and returns the base-layer hashes it carries (without the proof).
///
/// The message must carry exactly the hashes its parameters imply (see the
/// module docs) and its proof must reach the root: a proof cut short
/// cannot be checked on its own and is refused.
pub fn verify_hashes<'a>(
    tree: &FileTree,
    root: &Sha256Hash,
    msg: &'a Hashes,
) -> Result<&'a [Sha256Hash], HashesError> {
    let req = &msg.request;
    if req.base_layer < tree.piece_layer {
        return Err(HashesError::Range);
    }
    let k = tree
        .range(req.base_layer, req.index, req.length, MAX_SERVE_LENGTH)
        .ok_or(HashesError::Range)?;
    let uncles = tree.uncle_layers(req.base_layer, k, req.proof_layers);
    let n = req.length as usize;
    let expected = n + uncles.len();
    if msg.hashes.len() != expected {
        return Err(HashesError::Count {
            expected,
            got: msg.hashes.len(),
        });
    }
    if req.base_layer + k + uncles.len() as u32 != tree.height {
        // The proof stops below the root.
        return Err(HashesError::Proof);
    }
    let (nodes, proof) = msg.hashes.split_at(n);
    let subtree = merkle::root_of_layer(nodes, 1u64 << k, pad_hash(req.base_layer))
        .ok_or(HashesError::Range)?;
    if merkle::verify_proof(&subtree, u64::from(req.index >> k), proof, root) {
        Ok(nodes)
    } else {
        Err(HashesError::Proof)
    }
}

/// The request for chunk `chunk` of a file's piece layer: at most
/// [`MAX_REQUEST_LENGTH`] nodes, aligned, with every uncle up to the root.
pub fn piece_layer_request(tree: &FileTree, root: Sha256Hash, chunk: u32) -> HashRequest {
    let length = chunk_length(tree);
    HashRequest {
        pieces_root: root,
        base_layer: tree.piece_layer,
        index: chunk.saturating_mul(length),
        length,
        // Every layer between the base and the root: the uncles we need
        // (the omitted and the root layer carry none).
        proof_layers: tree.height.saturating_sub(tree.piece_layer + 1),
    }
}

/// Nodes per piece-layer request for this file: the whole (padded) layer
/// when it is small, else [`MAX_REQUEST_LENGTH`].
pub fn chunk_length(tree: &FileTree) -> u32 {
    let width = tree.width(tree.piece_layer);
    u32::try_from(width.min(u64::from(MAX_REQUEST_LENGTH))).unwrap_or(MAX_REQUEST_LENGTH)
}

/// How many piece-layer requests cover the file's real pieces.
pub fn chunk_count(tree: &FileTree) -> u32 {
    let per = u64::from(chunk_length(tree).max(1));
    u32::try_from(tree.pieces.div_ceil(per)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use btl_metainfo::merkle::{hash_block, piece_hash_from_leaves, verify_proof, MerkleTree};

    const PL: u64 = 4 * BLOCK_SIZE as u64; // 4 leaves per piece: p = 2

    /// A file of `len` bytes: its leaves, full tree and piece layer.
    fn file(len: u64) -> (FileTree, MerkleTree, Vec<Sha256Hash>) {
        let leaves: Vec<Sha256Hash> = (0..merkle::leaf_count(len))
            .map(|i| hash_block(&i.to_le_bytes()))
            .collect();
        let full = MerkleTree::from_leaves(&leaves);
        let layer: Vec<Sha256Hash> = leaves
            .chunks(4)
            .map(|c| piece_hash_from_leaves(c, 4).unwrap())
            .collect();
        (FileTree::new(len, PL).unwrap(), full, layer)
    }

    fn req(root: Sha256Hash, base: u32, index: u32, length: u32, proof: u32) -> HashRequest {
        HashRequest {
            pieces_root: root,
            base_layer: base,
            index,
            length,
            proof_layers: proof,
        }
    }

    #[test]
    fn geometry() {
        assert_eq!(FileTree::new(PL, PL), None, "one piece: no layer");
        let t = FileTree::new(PL + 1, PL).unwrap();
        assert_eq!((t.piece_layer, t.height, t.pieces), (2, 3, 2));
        // 9 pieces and a bit: 37 leaves -> 64, piece layer 16 wide.
        let t = FileTree::new(9 * PL + 10, PL).unwrap();
        assert_eq!((t.height, t.pieces, t.width(2)), (6, 10, 16));
        assert_eq!(
            (t.real_width(2), t.real_width(3), t.real_width(6)),
            (10, 5, 1)
        );
    }

    #[test]
    fn upper_layers_match_the_full_tree() {
        for pieces in [2u64, 3, 5, 8, 9, 33] {
            let len = (pieces - 1) * PL + 777;
            let (t, full, layer) = file(len);
            let up = UpperLayers::build(t, &layer).unwrap();
            assert_eq!(up.root(&layer), Some(full.root()));
            for l in t.piece_layer..=t.height {
                let want = full.layer(l as usize).unwrap();
                for (i, h) in want.iter().enumerate() {
                    assert_eq!(up.node(&layer, l, i as u64), Some(*h), "layer {l} node {i}");
                }
                assert_eq!(up.node(&layer, l, want.len() as u64), None);
            }
        }
    }

    /// Every well-formed request: the answer verifies with our checker and
    /// node by node with `merkle::verify_proof`, and has BEP 52's shape.
    #[test]
    fn answers_verify() {
        for pieces in [2u64, 3, 7, 16, 21] {
            let (t, full, layer) = file((pieces - 1) * PL + 1);
            let root = full.root();
            let up = UpperLayers::build(t, &layer).unwrap();
            for base in t.piece_layer..t.height {
                let width = t.width(base) as u32;
                let mut length = 2;
                while length <= width {
                    for index in (0..width).step_by(length as usize) {
                        let need = t.height - base - length.trailing_zeros();
                        let full_proof = t.height - base - 1;
                        for proof in [0, full_proof, full_proof + 3] {
                            let r = req(root, base, index, length, proof);
                            let hashes = up.answer(&layer, &r).unwrap();
                            let uncles = if proof >= full_proof { need } else { 0 };
                            assert_eq!(hashes.len() as u32, length + uncles);
                            let msg = Hashes { request: r, hashes };
                            if proof < full_proof && need > 0 {
                                assert_eq!(verify_hashes(&t, &root, &msg), Err(HashesError::Proof));
                                continue;
                            }
                            let nodes = verify_hashes(&t, &root, &msg).unwrap();
                            assert_eq!(
                                nodes,
                                &full.layer(base as usize).unwrap()
                                    [index as usize..(index + length) as usize]
                            );
                            // Each requested node with the in-range siblings
                            // and the uncles is a plain Merkle proof.
                            let proof_part = &msg.hashes[length as usize..];
                            for (j, node) in nodes.iter().enumerate() {
                                let at = (index as usize + j) as u64;
                                let mut p = full.proof(base as usize, at as usize).unwrap();
                                let inner = length.trailing_zeros() as usize;
                                assert_eq!(&p[inner..], proof_part);
                                p.truncate(inner);
                                p.extend_from_slice(proof_part);
                                assert!(verify_proof(node, at, &p, &root));
                            }
                        }
                    }
                    length *= 2;
                }
            }
        }
    }

    #[test]
    fn partial_proof_layers_follow_the_bep() {
        // 16 pieces (p = 2, H = 6); ask 2 nodes at the piece layer with 2
        // proof layers: uncles of layers 3 and 4 only.
        let (t, full, layer) = file(15 * PL + 1);
        let up = UpperLayers::build(t, &layer).unwrap();
        let hashes = up.answer(&layer, &req(full.root(), 2, 4, 2, 2)).unwrap();
        let l3 = full.layer(3).unwrap();
        let l4 = full.layer(4).unwrap();
        assert_eq!(hashes[2..], [l3[3], l4[0]]);
        // 4 nodes, 2 proof layers: layer 3 is inside the range, omitted.
        let hashes = up.answer(&layer, &req(full.root(), 2, 4, 4, 2)).unwrap();
        assert_eq!(hashes[4..], [l4[0]]);
    }

    #[test]
    fn last_chunk_and_padding() {
        // 600 pieces: padded layer of 1024, two 512-hash chunks; the second
        // covers 88 real pieces and 424 pad nodes.
        let t = FileTree::new(599 * PL + 5, PL).unwrap();
        assert_eq!(
            (t.width(2), chunk_length(&t), chunk_count(&t)),
            (1024, 512, 2)
        );
        let layer: Vec<Sha256Hash> = (0..600u32).map(|i| hash_block(&i.to_be_bytes())).collect();
        let up = UpperLayers::build(t, &layer).unwrap();
        let root = up.root(&layer).unwrap();
        assert_eq!(
            merkle::root_from_piece_layer(&layer, 599 * PL + 5, PL),
            Some(root)
        );
        let mut got = Vec::new();
        for c in 0..chunk_count(&t) {
            let r = piece_layer_request(&t, root, c);
            assert!(r.check_shape(MAX_REQUEST_LENGTH).is_ok());
            let msg = Hashes {
                request: r,
                hashes: up.answer(&layer, &r).unwrap(),
            };
            assert_eq!(msg.hashes.len(), 512 + 1);
            got.extend_from_slice(verify_hashes(&t, &root, &msg).unwrap());
        }
        assert!(got[600..].iter().all(|h| *h == pad_hash(2)));
        assert_eq!(got[..600], layer[..]);
        // A request truncated at the end of the real nodes: 88 from 512.
        let r = req(root, 2, 512, 88, 9);
        let msg = Hashes {
            request: r,
            hashes: up.answer(&layer, &r).unwrap(),
        };
        assert_eq!(verify_hashes(&t, &root, &msg).unwrap(), &layer[512..]);
        // Small files: one request for the whole padded layer, no uncles.
        let t = FileTree::new(2 * PL + 1, PL).unwrap();
        let r = piece_layer_request(&t, Sha256Hash([0; 32]), 0);
        assert_eq!((r.index, r.length, r.proof_layers), (0, 4, 1));
        assert_eq!(chunk_count(&t), 1);
    }

    #[test]
    fn bad_requests_are_rejected() {
        let (t, full, layer) = file(20 * PL);
        let root = full.root();
        let up = UpperLayers::build(t, &layer).unwrap();
        let answer = |b, i, n, p| up.answer(&layer, &req(root, b, i, n, p));
        assert_eq!(answer(0, 0, 2, 3), Err(RejectReason::Layer(0)));
        assert_eq!(
            answer(t.height + 1, 0, 2, 0),
            Err(RejectReason::Layer(t.height + 1))
        );
        assert_eq!(
            answer(2, 0, 3, 0),
            Err(RejectReason::Range),
            "not a power of two"
        );
        assert_eq!(answer(2, 2, 4, 0), Err(RejectReason::Range), "misaligned");
        assert_eq!(
            answer(2, 32, 2, 0),
            Err(RejectReason::Range),
            "past the end"
        );
        assert_eq!(answer(2, 0, 0, 0), Err(RejectReason::Range));
        assert_eq!(
            answer(2, 0, 64, 0),
            Err(RejectReason::Range),
            "wider than the layer"
        );
        assert!(answer(2, 30, 2, 0).is_ok(), "padding nodes are served");
        assert_eq!(
            answer(t.height, 0, 1, 0),
            Err(RejectReason::Range),
            "the root"
        );
        assert_eq!(answer(2, 4, 1, 0), Err(RejectReason::Range), "one node");
        assert!(answer(2, 20, 1, 5).is_err(), "one node, not the last");
        assert!(answer(2, 18, 2, 5).is_ok());
    }

    #[test]
    fn bad_hashes_are_refused() {
        let (t, full, layer) = file(20 * PL);
        let root = full.root();
        let up = UpperLayers::build(t, &layer).unwrap();
        let r = req(root, 2, 8, 8, 10);
        let good = Hashes {
            request: r,
            hashes: up.answer(&layer, &r).unwrap(),
        };
        assert!(verify_hashes(&t, &root, &good).is_ok());
        // A flipped node, a flipped uncle, a missing and an extra hash.
        let mut bad = good.clone();
        bad.hashes[3].0[0] ^= 1;
        assert_eq!(verify_hashes(&t, &root, &bad), Err(HashesError::Proof));
        let mut bad = good.clone();
        let last = bad.hashes.len() - 1;
        bad.hashes[last].0[31] ^= 1;
        assert_eq!(verify_hashes(&t, &root, &bad), Err(HashesError::Proof));
        let mut bad = good.clone();
        bad.hashes.pop();
        assert!(matches!(
            verify_hashes(&t, &root, &bad),
            Err(HashesError::Count { .. })
        ));
        let mut bad = good.clone();
        bad.hashes.push(root);
        assert!(matches!(
            verify_hashes(&t, &root, &bad),
            Err(HashesError::Count { .. })
        ));
        // Right hashes, claimed at another index.
        let mut bad = good.clone();
        bad.request.index = 16;
        assert_eq!(verify_hashes(&t, &root, &bad), Err(HashesError::Proof));
        // Against another root.
        assert_eq!(
            verify_hashes(&t, &pad_hash(9), &good),
            Err(HashesError::Proof)
        );
        // Swapped halves of the range.
        let mut bad = good;
        bad.hashes[..8].rotate_left(4);
        assert_eq!(verify_hashes(&t, &root, &bad), Err(HashesError::Proof));
    }
}
