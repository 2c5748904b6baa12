//! State access: a key-value view ([`StateRead`]), the writes a block makes
//! ([`StateDiff`]), and an in-memory store ([`MemState`]).
//!
//! Key space (first byte):
//!
//! | key | value |
//! |---|---|
//! | `a` + address (32) | [`crate::Account`] |
//! | `k` + public key (32) | [`crate::KeyRecord`] (keys that were rotated in, out or revoked) |
//! | `t` + v2 infohash (32) | [`crate::TorrentRecord`] |
//! | `v` + v1 infohash (20) | the v2 infohash (32 bytes) of a hybrid torrent |
//! | `r` + SHA-256(url) (32) | [`crate::TrackerRecord`] |
//! | `s` + name | chain records: `s/chain`, `s/head`, `s/log`, `s/stakers`, `s/vs/<height>`, `s/ub/<height>` |
//! | `x` + … | auxiliary, *not* under the state root: `xp…` state-tree pages, `xl…` registry log nodes |
//!
//! Every key except the `x` ones is a leaf of the authenticated map whose
//! root is the block's state root ([`crate::smt`]).

use std::collections::HashMap;

/// Read access to committed state. The I/O layer implements it over its
/// database; [`MemState`] implements it in memory.
pub trait StateRead {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
}

impl<T: StateRead + ?Sized> StateRead for &T {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        (**self).get(key)
    }
}

/// Key prefixes (see the module docs).
pub mod prefix {
    /// Accounts.
    pub const ACCOUNT: u8 = b'a';
    /// Key records.
    pub const KEY: u8 = b'k';
    /// Torrents by v2 infohash.
    pub const TORRENT: u8 = b't';
    /// v1 infohash → v2 infohash.
    pub const TORRENT_V1: u8 = b'v';
    /// Trackers by SHA-256(url).
    pub const TRACKER: u8 = b'r';
    /// Chain records.
    pub const SYS: u8 = b's';
    /// Auxiliary entries outside the state root.
    pub const AUX: u8 = b'x';
}

/// Key builders.
pub mod key {
    use super::prefix;

    fn k(p: u8, id: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + id.len());
        v.push(p);
        v.extend_from_slice(id);
        v
    }

    /// An account.
    pub fn account(addr: &[u8; 32]) -> Vec<u8> {
        k(prefix::ACCOUNT, addr)
    }
    /// A key record.
    pub fn key_record(key: &[u8; 32]) -> Vec<u8> {
        k(prefix::KEY, key)
    }
    /// A torrent.
    pub fn torrent(ih2: &[u8; 32]) -> Vec<u8> {
        k(prefix::TORRENT, ih2)
    }
    /// A v1 infohash pointer.
    pub fn torrent_v1(ih1: &[u8; 20]) -> Vec<u8> {
        k(prefix::TORRENT_V1, ih1)
    }
    /// A tracker, by SHA-256 of its URL.
    pub fn tracker(url_hash: &[u8; 32]) -> Vec<u8> {
        k(prefix::TRACKER, url_hash)
    }
    /// Chain id and parameters.
    pub const CHAIN: &[u8] = b"s/chain";
    /// The last applied header (without its state root).
    pub const HEAD: &[u8] = b"s/head";
    /// The registry log frontier.
    pub const LOG: &[u8] = b"s/log";
    /// The staker index.
    pub const STAKERS: &[u8] = b"s/stakers";
    /// The validator set of a height.
    pub fn validator_set(height: u64) -> Vec<u8> {
        let mut v = b"s/vs/".to_vec();
        v.extend_from_slice(&height.to_be_bytes());
        v
    }
    /// Unbonding releases due at a height.
    pub fn unbonding(height: u64) -> Vec<u8> {
        let mut v = b"s/ub/".to_vec();
        v.extend_from_slice(&height.to_be_bytes());
        v
    }
    /// Item `seq` of a torrent's registration history (auxiliary: the
    /// history is also in the registry log).
    pub fn torrent_history(ih2: &[u8; 32], seq: u32) -> Vec<u8> {
        let mut v = b"xh".to_vec();
        v.extend_from_slice(ih2);
        v.extend_from_slice(&seq.to_be_bytes());
        v
    }
    /// The creator index: a torrent under its creator's account (value:
    /// u64 registration height).
    pub fn creator_torrent(creator: &crate::Address, ih2: &[u8; 32]) -> Vec<u8> {
        let mut v = b"xc".to_vec();
        v.extend_from_slice(&creator.0);
        v.extend_from_slice(ih2);
        v
    }
    /// The manifest index: a manifest hash in use by a torrent (value: its
    /// v2 infohash).
    pub fn manifest_ref(manifest_hash: &[u8; 32]) -> Vec<u8> {
        let mut v = b"xm".to_vec();
        v.extend_from_slice(manifest_hash);
        v
    }
    /// A registry log node (see `btl_tlog::merkle`).
    pub fn log_node(level: u8, index: u64) -> Vec<u8> {
        let mut v = b"xl".to_vec();
        v.push(level);
        v.extend_from_slice(&index.to_be_bytes());
        v
    }
}

/// Whether a key is under the state root (every key but the auxiliary ones).
pub fn is_authenticated(key: &[u8]) -> bool {
    key.first() != Some(&prefix::AUX)
}

/// The writes of a block: each key set to a value or deleted, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDiff {
    /// Sorted by key, one entry per key.
    writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl StateDiff {
    /// An empty diff.
    pub fn new() -> Self {
        Self::default()
    }

    /// A diff from writes in order; for a repeated key the last one wins.
    pub fn from_writes(writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>) -> Self {
        let mut v: Vec<(Vec<u8>, Option<Vec<u8>>)> = writes.into_iter().collect();
        // Stable: equal keys keep their order, so the last write is last.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::with_capacity(v.len());
        for w in v {
            match out.last_mut() {
                Some(last) if last.0 == w.0 => *last = w,
                _ => out.push(w),
            }
        }
        Self { writes: out }
    }

    /// Sets `key` to `value` (`None` deletes).
    pub fn put(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        match self
            .writes
            .binary_search_by(|(k, _)| k.as_slice().cmp(&key))
        {
            Ok(i) => self.writes[i].1 = value,
            Err(i) => self.writes.insert(i, (key, value)),
        }
    }

    /// The write for `key`, if the diff has one (`Some(None)` = deleted).
    pub fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.writes
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
            .ok()
            .map(|i| self.writes[i].1.as_deref())
    }

    /// The writes, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.writes
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether there are no writes.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The writes, consumed, in key order.
    pub fn into_writes(self) -> impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)> {
        self.writes.into_iter()
    }

    /// Adds `later`'s writes on top of these.
    pub fn merge(&mut self, later: StateDiff) {
        let mut all = std::mem::take(&mut self.writes);
        all.extend(later.writes);
        *self = Self::from_writes(all);
    }
}

/// A state seen through a diff: the diff's writes over `base`. Lets a node
/// look at the state a proposed block would produce before committing it.
#[derive(Debug, Clone, Copy)]
pub struct Layered<'a, S: ?Sized> {
    /// The committed state.
    pub base: &'a S,
    /// The writes on top.
    pub diff: &'a StateDiff,
}

impl<S: StateRead + ?Sized> StateRead for Layered<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.diff.get(key) {
            Some(v) => v.map(<[u8]>::to_vec),
            None => self.base.get(key),
        }
    }
}

/// An in-memory state: for tests, tools and light use.
///
/// ```
/// use btl_ledger::{ed25519_dalek::SigningKey, Genesis, MemState, PublicKey, StateRead};
/// let key = PublicKey::from_signing_key(&SigningKey::from_bytes(&[1; 32]));
/// let genesis = Genesis::single_validator("example", key, 1_000_000, 0);
/// let mut state = MemState::new();
/// let (diff, header) = genesis.build().unwrap();
/// state.apply(&diff);
/// assert_eq!(header.height, 0);
/// assert!(state.get(b"s/chain").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemState {
    map: HashMap<Vec<u8>, Vec<u8>>,
}

impl MemState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a diff.
    pub fn apply(&mut self, diff: &StateDiff) {
        for (k, v) in diff.iter() {
            match v {
                Some(v) => {
                    self.map.insert(k.to_vec(), v.to_vec());
                }
                None => {
                    self.map.remove(k);
                }
            }
        }
    }

    /// Applies a diff, consuming it (no copies).
    pub fn apply_owned(&mut self, diff: StateDiff) {
        for (k, v) in diff.into_writes() {
            match v {
                Some(v) => {
                    self.map.insert(k, v);
                }
                None => {
                    self.map.remove(&k);
                }
            }
        }
    }

    /// Number of entries (auxiliary ones included).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the state is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.map.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
    }
}

impl StateRead for MemState {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.map.get(key).cloned()
    }
}

/// Writes buffered over a base state while a block executes.
pub(crate) struct Overlay<'a, S: ?Sized> {
    base: &'a S,
    writes: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a, S: StateRead + ?Sized> Overlay<'a, S> {
    pub(crate) fn new(base: &'a S) -> Self {
        Self {
            base,
            writes: HashMap::new(),
        }
    }

    pub(crate) fn base(&self) -> &'a S {
        self.base
    }

    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    pub(crate) fn into_writes(self) -> HashMap<Vec<u8>, Option<Vec<u8>>> {
        self.writes
    }
}

impl<S: StateRead + ?Sized> StateRead for Overlay<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.writes.get(key) {
            Some(v) => v.clone(),
            None => self.base.get(key),
        }
    }
}
