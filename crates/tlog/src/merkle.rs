//! RFC 6962 Merkle hash trees: hashing, appending, inclusion and consistency
//! proofs.
//!
//! ```text
//! leaf hash  = SHA-256(0x00 || data)
//! node hash  = SHA-256(0x01 || left || right)
//! empty tree = SHA-256("")
//! MTH(D[0:n]) = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])),  k = largest power of two < n
//! ```
//!
//! A log keeps its *stored nodes*: node `(level, index)` is the root of the
//! perfect subtree over leaves `[index·2^level, (index+1)·2^level)`. Appending
//! a leaf creates one new stored node per level it completes ([`Frontier::push`]
//! returns them), about two per leaf. Every hash that a proof needs can be
//! computed from O(log n) stored nodes ([`inclusion_proof`],
//! [`consistency_proof`] read them through [`NodeSource`]).
//!
//! Proofs verify with the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2
//! ([`verify_inclusion`], [`verify_consistency`]).

use sha2::{Digest, Sha256};

/// A SHA-256 hash (a leaf hash, a node hash or a tree root).
pub type Hash = [u8; 32];

/// Largest number of hashes in any proof for a tree of at most 2^64 leaves.
pub const MAX_PROOF_HASHES: usize = 64;

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 1;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Errors from proof generation and verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The first size of a consistency proof is larger than the second.
    #[error("tree size {old} is larger than {new}")]
    SizeOrder {
        /// The older (smaller) size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// A stored node needed for the proof is missing from the node source.
    #[error("stored node (level {level}, index {index}) is missing")]
    MissingNode {
        /// Level of the node (0 = leaves).
        level: u8,
        /// Index of the node at its level.
        index: u64,
    },
    /// The proof has the wrong number of hashes for the sizes involved.
    #[error("proof has the wrong length")]
    WrongLength,
    /// The proof does not lead to the expected root.
    #[error("proof does not match the root hash")]
    RootMismatch,
}

/// Read access to a log's stored nodes (see the module docs).
pub trait NodeSource {
    /// The stored node `(level, index)`, if present.
    fn node(&self, level: u8, index: u64) -> Option<Hash>;
}

impl<F: Fn(u8, u64) -> Option<Hash>> NodeSource for F {
    fn node(&self, level: u8, index: u64) -> Option<Hash> {
        self(level, index)
    }
}

/// The right edge of an append-only tree: its size and the roots of the
/// perfect subtrees that make it up, largest (leftmost) first.
///
/// This is all a log needs to append and to compute its root; it holds at
/// most 64 hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// One root per set bit of `size`, from the highest bit down.
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from its parts; `None` if `hashes` does not have
    /// one entry per set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Self> {
        (hashes.len() == size.count_ones() as usize).then_some(Self { size, hashes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf (by its leaf hash). Returns the stored nodes that the
    /// append completed, as `(level, index, hash)`, the leaf itself first.
    ///
    /// # Panics
    /// Never in practice: a log of 2^64 leaves cannot be built.
    pub fn push(&mut self, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        let mut out = Vec::with_capacity(2);
        let mut index = self.size;
        let mut level = 0u8;
        let mut cur = leaf;
        out.push((0, index, cur));
        // Each trailing 1 bit of the old size is a subtree that now merges.
        while index & 1 == 1 {
            let left = self.hashes.pop().unwrap_or([0; 32]);
            cur = node_hash(&left, &cur);
            index >>= 1;
            level += 1;
            out.push((level, index, cur));
        }
        self.hashes.push(cur);
        self.size = self.size.saturating_add(1);
        out
    }

    /// The tree root (RFC 6962 MTH).
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, h| node_hash(h, &acc))
    }
}

/// Largest power of two strictly below `n` (for `n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `[lo, hi)` where `lo` is a multiple of a power of two at
/// least `hi - lo` (true of every range in RFC 6962 proofs), from stored nodes.
fn range_hash(src: &impl NodeSource, lo: u64, hi: u64) -> Result<Hash, ProofError> {
    debug_assert!(hi > lo);
    // Walk down the right edge: perfect left parts are stored nodes.
    let mut parts: Vec<Hash> = Vec::new();
    let mut start = lo;
    while start < hi {
        let n = hi - start;
        let width = if n.is_power_of_two() {
            n
        } else {
            split_point(n)
        };
        let level = width.trailing_zeros() as u8;
        let index = start >> level;
        let h = src
            .node(level, index)
            .ok_or(ProofError::MissingNode { level, index })?;
        parts.push(h);
        start += width;
    }
    let mut it = parts.into_iter().rev();
    let last = it.next().ok_or(ProofError::WrongLength)?;
    Ok(it.fold(last, |acc, h| node_hash(&h, &acc)))
}

/// The root of the tree of `size` leaves, from stored nodes.
pub fn root_from_nodes(src: &impl NodeSource, size: u64) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}

/// The inclusion proof (RFC 6962 §2.1.1 `PATH`) of leaf `index` in the tree
/// of `size` leaves, leaf's sibling first.
pub fn inclusion_proof(
    src: &impl NodeSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    let (mut lo, mut hi, mut m) = (0u64, size, index);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            out.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            out.push(range_hash(src, lo, lo + k)?);
            lo += k;
            m -= k;
        }
    }
    out.reverse();
    Ok(out)
}

/// The consistency proof (RFC 6962 §2.1.2 `PROOF`) between the trees of
/// `old` and `new` leaves. Empty when `old == 0` or `old == new`.
pub fn consistency_proof(
    src: &impl NodeSource,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let (mut lo, mut hi, mut m, mut whole) = (0u64, new, old, true);
    loop {
        if m == hi - lo {
            if !whole {
                out.push(range_hash(src, lo, hi)?);
            }
            break;
        }
        let k = split_point(hi - lo);
        if m <= k {
            out.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            out.push(range_hash(src, lo, lo + k)?);
            lo += k;
            m -= k;
            whole = false;
        }
    }
    out.reverse();
    Ok(out)
}

/// Verifies that `leaf` (a leaf hash) is at `index` in the tree of `size`
/// leaves with root `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(ProofError::WrongLength);
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix of
/// the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(ProofError::WrongLength);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if old == 0 {
        // Every tree extends the empty tree.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// An in-memory log that keeps every stored node: for tests, tools and small
/// logs. Implements [`NodeSource`].
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    frontier: Frontier,
    /// `levels[l][i]` is stored node `(l, i)`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf's data; returns its index.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        self.append_hash(leaf_hash(data))
    }

    /// Appends a leaf by its leaf hash; returns its index.
    pub fn append_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.frontier.size();
        for (level, _, h) in self.frontier.push(leaf) {
            let l = usize::from(level);
            if self.levels.len() <= l {
                self.levels.push(Vec::new());
            }
            self.levels[l].push(h);
        }
        index
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The current frontier.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}

impl NodeSource for MemoryLog {
    fn node(&self, level: u8, index: u64) -> Option<Hash> {
        let i = usize::try_from(index).ok()?;
        self.levels.get(usize::from(level))?.get(i).copied()
    }
}
