//! The state root: a compressed sparse binary Merkle tree over the state.
//!
//! Each authenticated entry `(key, value)` is a leaf at the path given by the
//! 256 bits of `SHA-256(key)` (most significant bit first). A subtree holding
//! no leaf hashes to 32 zero bytes; a subtree holding exactly one leaf *is*
//! that leaf (it sits as high as possible); any other subtree is an interior
//! node:
//!
//! ```text
//! leaf     = SHA-256(0x00 || SHA-256(key) || SHA-256(value))
//! interior = SHA-256(0x01 || left || right)
//! empty    = 0x00 × 32
//! ```
//!
//! So a tree of n random keys has depth about log2(n), an update costs
//! O(log n) hashes, and a batch of updates shares the work near the root.
//!
//! Nodes are stored in the state itself under auxiliary keys (outside the
//! root), by position, four levels to a record: see [`page`].
//!
//! A [`StateProof`] lists the sibling hashes from the root down to the
//! position where the key's leaf is, or where the search for it ends (an
//! empty subtree, or another key's leaf): it proves presence with a value,
//! or absence.

mod page;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::{DecodeError, Reader, Writer};
use crate::keys::hex_bytes;
use crate::state::StateRead;

/// The version of the tree's storage layout: 1 stored one record per
/// node, 2 stores [`page`]s of four levels.
pub const LAYOUT: u32 = 2;

/// A 32-byte hash.
pub type Hash = [u8; 32];
/// The hash of an empty subtree (and the root of an empty state).
pub const EMPTY: Hash = [0; 32];

/// Errors from the state tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmtError {
    /// A stored node is missing or undecodable: the state is corrupt.
    #[error("state tree node at depth {depth} is missing or corrupt")]
    CorruptNode {
        /// Depth of the node.
        depth: u16,
    },
    /// A proof does not lead to the root, or does not fit the key.
    #[error("state proof does not verify")]
    BadProof,
}

/// SHA-256 of a key: its path in the tree.
pub fn key_hash(key: &[u8]) -> Hash {
    Sha256::digest(key).into()
}

/// SHA-256 of a value.
pub fn value_hash(value: &[u8]) -> Hash {
    Sha256::digest(value).into()
}

/// Hash of a leaf.
pub fn leaf_hash(kh: &Hash, vh: &Hash) -> Hash {
    let mut b = [0u8; 65];
    b[1..33].copy_from_slice(kh);
    b[33..].copy_from_slice(vh);
    Sha256::digest(b).into()
}

/// Hash of an interior node: the RFC 6962 interior hash, as in the
/// registry log.
pub fn interior_hash(l: &Hash, r: &Hash) -> Hash {
    btl_tlog::node_hash(l, r)
}

fn bit(h: &Hash, depth: u16) -> bool {
    let d = usize::from(depth);
    (h[d / 8] >> (7 - d % 8)) & 1 == 1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Empty,
    Leaf(Hash, Hash),
    Interior(Hash, Hash),
}

impl Node {
    fn hash(&self) -> Hash {
        match self {
            Node::Empty => EMPTY,
            Node::Leaf(k, v) => leaf_hash(k, v),
            Node::Interior(l, r) => interior_hash(l, r),
        }
    }

    /// Appends `tag || a || b`; false (nothing appended) for an empty node.
    fn encode_into(&self, out: &mut Vec<u8>) -> bool {
        let (tag, a, b) = match self {
            Node::Empty => return false,
            Node::Leaf(a, b) => (0u8, a, b),
            Node::Interior(a, b) => (1u8, a, b),
        };
        out.push(tag);
        out.extend_from_slice(a);
        out.extend_from_slice(b);
        true
    }

    fn decode(bytes: &[u8], depth: u16) -> Result<Self, SmtError> {
        let bad = SmtError::CorruptNode { depth };
        if bytes.len() != 65 {
            return Err(bad);
        }
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        a.copy_from_slice(&bytes[1..33]);
        b.copy_from_slice(&bytes[33..]);
        match bytes[0] {
            0 => Ok(Node::Leaf(a, b)),
            1 => Ok(Node::Interior(a, b)),
            _ => Err(bad),
        }
    }
}

/// The state root: the hash of the tree's root node.
pub fn root(state: &(impl StateRead + ?Sized)) -> Result<Hash, SmtError> {
    Ok(page::Pages::new(state).get(0, &EMPTY)?.hash())
}

/// One change to the map: a key hash and its new value hash (`None`
/// deletes).
pub type Update = (Hash, Option<Hash>);

struct Ctx<'a, S: ?Sized> {
    pages: page::Pages<'a, S>,
}

impl<S: StateRead + ?Sized> Ctx<'_, S> {
    fn store(&mut self, depth: u16, path: &Hash, node: &Node) -> Result<(), SmtError> {
        self.pages.set(depth, path, *node)
    }

    fn load(&mut self, depth: u16, path: &Hash) -> Result<Node, SmtError> {
        self.pages.get(depth, path)
    }

    /// A child after its sibling's update: `n` if it was updated, else
    /// known by hash `h` only (loaded unless empty).
    fn side(
        &mut self,
        n: Option<Node>,
        h: Hash,
        depth: u16,
        path: &Hash,
    ) -> Result<Node, SmtError> {
        match n {
            Some(n) => Ok(n),
            None if h == EMPTY => Ok(Node::Empty),
            None => self.load(depth, path),
        }
    }

    /// Updates the subtree at (`depth`, `path`) whose current node is
    /// `node`; `ups` is sorted, deduplicated, and shares the path's prefix.
    /// Writes every changed position and returns the new node.
    fn update(
        &mut self,
        depth: u16,
        path: &Hash,
        node: Node,
        ups: &[Update],
    ) -> Result<Node, SmtError> {
        if ups.is_empty() {
            return Ok(node);
        }
        match node {
            Node::Empty => {
                let entries: Vec<(Hash, Hash)> =
                    ups.iter().filter_map(|(k, v)| v.map(|v| (*k, v))).collect();
                self.build(depth, path, &entries)
            }
            Node::Leaf(lk, lv) => {
                let mut entries: Vec<(Hash, Hash)> = Vec::with_capacity(ups.len() + 1);
                let mut placed = false;
                for (k, v) in ups {
                    if !placed && lk < *k {
                        entries.push((lk, lv));
                        placed = true;
                    }
                    if *k == lk {
                        placed = true;
                    }
                    if let Some(v) = v {
                        entries.push((*k, *v));
                    }
                }
                if !placed {
                    entries.push((lk, lv));
                }
                self.build(depth, path, &entries)
            }
            Node::Interior(..) if depth >= 256 => Err(SmtError::CorruptNode { depth }),
            Node::Interior(l, r) => {
                let split = ups.partition_point(|(k, _)| !bit(k, depth));
                let (lu, ru) = ups.split_at(split);
                let d1 = depth + 1;
                let mut rpath = *path;
                set_bit(&mut rpath, depth);
                let mut lpath = *path;
                clear_bit(&mut lpath, depth);
                let mut ln = None;
                let mut rn = None;
                if !lu.is_empty() {
                    let cur = self.load(d1, &lpath)?;
                    ln = Some(self.update(d1, &lpath, cur, lu)?);
                }
                if !ru.is_empty() {
                    let cur = self.load(d1, &rpath)?;
                    rn = Some(self.update(d1, &rpath, cur, ru)?);
                }
                let lnode_hash = ln.map(|n| n.hash()).unwrap_or(l);
                let rnode_hash = rn.map(|n| n.hash()).unwrap_or(r);
                let result = if lnode_hash == EMPTY || rnode_hash == EMPTY {
                    // When one side became empty, see whether the other
                    // (a leaf) must move up.
                    let lnode = self.side(ln, l, d1, &lpath)?;
                    let rnode = self.side(rn, r, d1, &rpath)?;
                    match (lnode, rnode) {
                        (Node::Empty, Node::Empty) => Node::Empty,
                        (Node::Leaf(k, v), Node::Empty) => {
                            self.store(d1, &lpath, &Node::Empty)?;
                            Node::Leaf(k, v)
                        }
                        (Node::Empty, Node::Leaf(k, v)) => {
                            self.store(d1, &rpath, &Node::Empty)?;
                            Node::Leaf(k, v)
                        }
                        (a, b) => Node::Interior(a.hash(), b.hash()),
                    }
                } else {
                    Node::Interior(lnode_hash, rnode_hash)
                };
                self.store(depth, path, &result)?;
                Ok(result)
            }
        }
    }

    /// Builds a fresh subtree at (`depth`, `path`) holding `entries` (sorted
    /// by key hash), over a position with no stored descendants.
    fn build(
        &mut self,
        depth: u16,
        path: &Hash,
        entries: &[(Hash, Hash)],
    ) -> Result<Node, SmtError> {
        let node = match entries {
            [] => Node::Empty,
            [(k, v)] => Node::Leaf(*k, *v),
            _ if depth >= 256 => return Err(SmtError::CorruptNode { depth }),
            _ => {
                let split = entries.partition_point(|(k, _)| !bit(k, depth));
                let (le, re) = entries.split_at(split);
                let mut lpath = *path;
                clear_bit(&mut lpath, depth);
                let mut rpath = *path;
                set_bit(&mut rpath, depth);
                let l = self.build(depth + 1, &lpath, le)?;
                let r = self.build(depth + 1, &rpath, re)?;
                Node::Interior(l.hash(), r.hash())
            }
        };
        self.store(depth, path, &node)?;
        Ok(node)
    }
}

fn set_bit(h: &mut Hash, depth: u16) {
    let d = usize::from(depth);
    h[d / 8] |= 1 << (7 - d % 8);
}

fn clear_bit(h: &mut Hash, depth: u16) {
    let d = usize::from(depth);
    h[d / 8] &= !(1 << (7 - d % 8));
}

/// Applies `updates` (any order; for a repeated key the last one wins) to
/// the tree stored in `state`, calling `write` for every stored page that
/// changes (`None` = delete). Returns the new root.
pub fn update(
    state: &(impl StateRead + ?Sized),
    mut updates: Vec<Update>,
    write: impl FnMut(Vec<u8>, Option<Vec<u8>>),
) -> Result<Hash, SmtError> {
    // Stable sort keeps the order of equal keys; keep the last of each.
    updates.sort_by_key(|u| u.0);
    let mut dedup: Vec<Update> = Vec::with_capacity(updates.len());
    for u in updates {
        match dedup.last_mut() {
            Some(last) if last.0 == u.0 => *last = u,
            _ => dedup.push(u),
        }
    }
    let mut ctx = Ctx {
        pages: page::Pages::new(state),
    };
    let cur = ctx.load(0, &EMPTY)?;
    let new = ctx.update(0, &EMPTY, cur, &dedup)?;
    ctx.pages.flush(write);
    Ok(new.hash())
}

/// Where a proof's search for a key ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Terminal {
    /// An empty subtree: the key is absent.
    Empty,
    /// A leaf: the key's own (presence) or another key's (absence).
    Leaf {
        /// The leaf's key hash.
        #[serde(with = "hex_bytes")]
        key_hash: Hash,
        /// The leaf's value hash.
        #[serde(with = "hex_bytes")]
        value_hash: Hash,
    },
}

/// A proof of a key's value, or of its absence, under a state root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateProof {
    /// Sibling hashes from the root's children down to the terminal's depth.
    #[serde(with = "hex_bytes::vec")]
    pub siblings: Vec<Hash>,
    /// Where the search ended.
    pub terminal: Terminal,
}

/// Proves the value of `key` (or its absence) in `state`.
pub fn prove(state: &(impl StateRead + ?Sized), key: &[u8]) -> Result<StateProof, SmtError> {
    let kh = key_hash(key);
    let mut siblings = Vec::new();
    let mut depth: u16 = 0;
    let mut pages = page::Pages::new(state);
    let mut node = pages.get(0, &kh)?;
    loop {
        match node {
            Node::Empty => {
                return Ok(StateProof {
                    siblings,
                    terminal: Terminal::Empty,
                })
            }
            Node::Leaf(k, v) => {
                return Ok(StateProof {
                    siblings,
                    terminal: Terminal::Leaf {
                        key_hash: k,
                        value_hash: v,
                    },
                })
            }
            Node::Interior(l, r) => {
                if depth >= 256 {
                    return Err(SmtError::CorruptNode { depth });
                }
                let right = bit(&kh, depth);
                siblings.push(if right { l } else { r });
                let child = if right { r } else { l };
                depth += 1;
                node = if child == EMPTY {
                    Node::Empty
                } else {
                    pages.get(depth, &kh)?
                };
                if node == Node::Empty && child != EMPTY {
                    return Err(SmtError::CorruptNode { depth });
                }
            }
        }
    }
}

impl StateProof {
    /// Verifies that under `root`, `key` has `value` (`None`: is absent).
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> Result<(), SmtError> {
        if self.siblings.len() > 256 {
            return Err(SmtError::BadProof);
        }
        let kh = key_hash(key);
        let depth = self.siblings.len() as u16;
        let mut h = match (value, &self.terminal) {
            (
                Some(v),
                Terminal::Leaf {
                    key_hash,
                    value_hash,
                },
            ) if *key_hash == kh && *value_hash == value_hash_of(v) => leaf_hash(&kh, value_hash),
            (None, Terminal::Empty) => EMPTY,
            (
                None,
                Terminal::Leaf {
                    key_hash,
                    value_hash,
                },
            ) if *key_hash != kh && shares_prefix(key_hash, &kh, depth) => {
                leaf_hash(key_hash, value_hash)
            }
            _ => return Err(SmtError::BadProof),
        };
        for (i, sib) in self.siblings.iter().enumerate().rev() {
            h = if bit(&kh, i as u16) {
                interior_hash(sib, &h)
            } else {
                interior_hash(&h, sib)
            };
        }
        if &h != root {
            return Err(SmtError::BadProof);
        }
        Ok(())
    }

    /// Binary encoding: `u16` depth, a 32-byte bitmap of non-empty
    /// siblings, the non-empty siblings, then the terminal (`0x00`, or
    /// `0x01` + key hash + value hash).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let n = self.siblings.len().min(256);
        w.u16(n as u16);
        let mut bitmap = [0u8; 32];
        for (i, s) in self.siblings[..n].iter().enumerate() {
            if *s != EMPTY {
                bitmap[i / 8] |= 1 << (7 - i % 8);
            }
        }
        w.bytes(&bitmap);
        for s in &self.siblings[..n] {
            if *s != EMPTY {
                w.bytes(s);
            }
        }
        match &self.terminal {
            Terminal::Empty => w.u8(0),
            Terminal::Leaf {
                key_hash,
                value_hash,
            } => {
                w.u8(1);
                w.bytes(key_hash);
                w.bytes(value_hash);
            }
        }
        w.finish()
    }

    /// Decodes [`encode`](Self::encode)'s output.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let n = usize::from(r.u16("proof depth")?);
        if n > 256 {
            return Err(DecodeError::LengthLimit {
                what: "proof depth",
                len: n,
                max: 256,
            });
        }
        let bitmap: [u8; 32] = r.array("proof bitmap")?;
        let mut siblings = Vec::with_capacity(n);
        for i in 0..256 {
            let set = (bitmap[i / 8] >> (7 - i % 8)) & 1 == 1;
            if i >= n {
                if set {
                    return Err(DecodeError::Invalid("proof bitmap"));
                }
                continue;
            }
            if set {
                let h: Hash = r.array("sibling")?;
                if h == EMPTY {
                    // One proof, one encoding: an empty sibling is a clear bit.
                    return Err(DecodeError::Invalid("proof sibling"));
                }
                siblings.push(h);
            } else {
                siblings.push(EMPTY);
            }
        }
        let terminal = match r.u8("terminal")? {
            0 => Terminal::Empty,
            1 => Terminal::Leaf {
                key_hash: r.array("key hash")?,
                value_hash: r.array("value hash")?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "proof terminal",
                    tag,
                })
            }
        };
        r.finish()?;
        Ok(Self { siblings, terminal })
    }
}

fn value_hash_of(v: &[u8]) -> Hash {
    value_hash(v)
}

fn shares_prefix(a: &Hash, b: &Hash, bits: u16) -> bool {
    (0..bits).all(|i| bit(a, i) == bit(b, i))
}
