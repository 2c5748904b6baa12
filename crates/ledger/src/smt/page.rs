//! Storage of the state tree in pages of four levels.
//!
//! The tree's nodes are not stored one per record: a *page* holds the nodes
//! of the 4-level subtree below a position whose depth `b` is a multiple of
//! 4, so a path from the root to a leaf at depth 17 touches 5 records
//! instead of 18. Hashes and proofs do not depend on this layout.
//!
//! ```text
//! key   = "xp" || b (u16 BE) || first b bits of the path (⌈b/8⌉ bytes, unused bits zero)
//! value = bitmap (u16 BE, bit i = slot i is present; bit 15 zero)
//!         || for each present slot, in slot order:
//!              0x00 || key hash || value hash     (a leaf)
//!              0x01 || left hash || right hash    (an interior node)
//! ```
//!
//! The node at depth `b + r` (`r` in 0..4) whose path continues below the
//! page's position with the `r` bits `p` sits in slot `2^r − 1 + p`. A page
//! with no node is not stored.

use std::collections::BTreeMap;

use super::{bit, Hash, Node, SmtError, EMPTY};
use crate::state::StateRead;

/// Levels per page.
const LEVELS: u16 = 4;
/// Node slots per page: 1 + 2 + 4 + 8.
const SLOTS: usize = 15;
/// Bytes of one stored node.
const NODE_LEN: usize = 65;

/// A page's identity: its top depth and its path prefix (bits below the
/// depth cleared).
type PageId = (u16, Hash);

/// The page holding the node at `depth` on the path of `path`, and its
/// slot there (a depth past the tree's 256 levels is corrupt state).
fn page_of(depth: u16, path: &Hash) -> Result<(PageId, usize), SmtError> {
    if depth > 256 {
        return Err(SmtError::CorruptNode { depth });
    }
    let base = depth - depth % LEVELS;
    let mut prefix = EMPTY;
    let full = usize::from(base / 8);
    prefix[..full].copy_from_slice(&path[..full]);
    if !base.is_multiple_of(8) {
        prefix[full] = path[full] & (0xffu8 << (8 - base % 8));
    }
    let mut pos = 0usize;
    for d in base..depth {
        pos = (pos << 1) | usize::from(bit(path, d));
    }
    let r = depth - base;
    Ok(((base, prefix), (1usize << r) - 1 + pos))
}

fn page_key(id: &PageId) -> Vec<u8> {
    let (base, prefix) = id;
    let nbytes = usize::from(*base).div_ceil(8);
    let mut k = Vec::with_capacity(4 + nbytes);
    k.extend_from_slice(b"xp");
    k.extend_from_slice(&base.to_be_bytes());
    k.extend_from_slice(&prefix[..nbytes]);
    k
}

/// The nodes of one page (absent slots are [`Node::Empty`]).
#[derive(Clone, Copy)]
struct Page([Node; SLOTS]);

impl Page {
    const EMPTY: Page = Page([Node::Empty; SLOTS]);

    fn decode(bytes: &[u8], base: u16) -> Result<Self, SmtError> {
        let bad = SmtError::CorruptNode { depth: base };
        let (map, rest) = bytes.split_first_chunk::<2>().ok_or_else(|| bad.clone())?;
        let map = u16::from_be_bytes(*map);
        if map == 0 || map >> SLOTS != 0 || rest.len() != map.count_ones() as usize * NODE_LEN {
            return Err(bad);
        }
        let mut page = Page::EMPTY;
        let mut chunks = rest.chunks_exact(NODE_LEN);
        for (i, slot) in page.0.iter_mut().enumerate() {
            if (map >> i) & 1 == 1 {
                let c = chunks.next().ok_or_else(|| bad.clone())?;
                *slot = Node::decode(c, base)?;
            }
        }
        Ok(page)
    }

    /// `None` when the page holds no node.
    fn encode(&self) -> Option<Vec<u8>> {
        let mut map = 0u16;
        let mut v = Vec::with_capacity(2 + SLOTS * NODE_LEN);
        v.extend_from_slice(&[0, 0]);
        for (i, n) in self.0.iter().enumerate() {
            if n.encode_into(&mut v) {
                map |= 1 << i;
            }
        }
        if map == 0 {
            return None;
        }
        v[..2].copy_from_slice(&map.to_be_bytes());
        Some(v)
    }
}

/// The pages read (and changed) during one pass over the tree.
pub(super) struct Pages<'a, S: ?Sized> {
    state: &'a S,
    /// Loaded pages, and whether each was changed.
    cache: BTreeMap<PageId, (Page, bool)>,
}

impl<'a, S: StateRead + ?Sized> Pages<'a, S> {
    pub(super) fn new(state: &'a S) -> Self {
        Self {
            state,
            cache: BTreeMap::new(),
        }
    }

    fn page(&mut self, id: PageId) -> Result<&mut (Page, bool), SmtError> {
        use std::collections::btree_map::Entry;
        match self.cache.entry(id) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let page = match self.state.get(&page_key(e.key())) {
                    None => Page::EMPTY,
                    Some(b) => Page::decode(&b, e.key().0)?,
                };
                Ok(e.insert((page, false)))
            }
        }
    }

    /// The node at `depth` on the path of `path`.
    pub(super) fn get(&mut self, depth: u16, path: &Hash) -> Result<Node, SmtError> {
        let (id, slot) = page_of(depth, path)?;
        Ok(self.page(id)?.0 .0[slot])
    }

    /// Sets the node at `depth` on the path of `path`.
    pub(super) fn set(&mut self, depth: u16, path: &Hash, node: Node) -> Result<(), SmtError> {
        let (id, slot) = page_of(depth, path)?;
        let entry = self.page(id)?;
        if entry.0 .0[slot] != node {
            entry.0 .0[slot] = node;
            entry.1 = true;
        }
        Ok(())
    }

    /// Hands every changed page to `write` (`None`: the page is now empty).
    pub(super) fn flush(self, mut write: impl FnMut(Vec<u8>, Option<Vec<u8>>)) {
        for (id, (page, dirty)) in self.cache {
            if dirty {
                write(page_key(&id), page.encode());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_keys() {
        let mut path = [0u8; 32];
        path[0] = 0b1011_0110;
        path[1] = 0b1100_0000;
        assert_eq!(page_of(0, &path), Ok(((0, EMPTY), 0)));
        assert_eq!(page_of(1, &path).unwrap().1, 2); // 2^1 - 1 + 1
        assert_eq!(page_of(3, &path).unwrap().1, 7 + 0b101);
        let ((base, prefix), slot) = page_of(6, &path).unwrap();
        assert_eq!((base, slot), (4, 3 + 0b01));
        assert_eq!(prefix[0], 0b1011_0000);
        assert_eq!(page_key(&(base, prefix)), b"xp\x00\x04\xb0".to_vec());
        let ((base, prefix), slot) = page_of(10, &path).unwrap();
        assert_eq!((base, slot), (8, 3 + 0b11));
        assert_eq!(page_key(&(base, prefix)), b"xp\x00\x08\xb6".to_vec());
        let ((base, _), slot) = page_of(256, &[0xff; 32]).unwrap();
        assert_eq!((base, slot), (256, 0));
        assert!(page_of(257, &path).is_err());
    }

    #[test]
    fn pages_round_trip_and_reject_bad_bytes() {
        let mut p = Page::EMPTY;
        assert_eq!(p.encode(), None);
        p.0[0] = Node::Interior([1; 32], [2; 32]);
        p.0[14] = Node::Leaf([3; 32], [4; 32]);
        let b = p.encode().unwrap();
        assert_eq!(&b[..2], &[0x40, 0x01]);
        assert_eq!(b.len(), 2 + 2 * NODE_LEN);
        let back = Page::decode(&b, 8).unwrap();
        assert_eq!(back.0, p.0);
        for bad in [&b[..b.len() - 1], &[0u8, 0][..], &[0x80u8, 0][..], &[][..]] {
            assert_eq!(
                Page::decode(bad, 8).err(),
                Some(SmtError::CorruptNode { depth: 8 })
            );
        }
        let mut tag = b.clone();
        tag[2] = 7;
        assert!(Page::decode(&tag, 8).is_err());
    }
}
