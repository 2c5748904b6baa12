//! Node storage in redb: decided blocks with their commit certificates,
//! a transaction index, undecided proposals and a few metadata entries in
//! the chain database; application state in a database of its own
//! ([`state`]), written behind the chain.
//!
//! A decided block is written in one redb transaction of the chain
//! database together with its certificate, its transaction index entries
//! and the new tip, so after a crash the chain is at some committed height
//! and never half-way. redb commits are durable (fsync) when `commit`
//! returns; Malachite's write-ahead log carries the votes and proposals of
//! the height in progress. The block's state writes are visible to reads
//! at once and reach the state database shortly after, off the consensus
//! path; a restart re-executes the blocks whose state was not written yet
//! ([`crate::replay::recover_state`]).
//!
//! Chain tables (keys big-endian so that ranges are in height order):
//!
//! | table     | key                              | value                          |
//! |-----------|----------------------------------|--------------------------------|
//! | `blocks`  | u64 height                       | block bytes                    |
//! | `certs`   | u64 height                       | commit certificate ([`crate::codec`]) |
//! | `txs`     | tx id (32 bytes)                 | u64 height ‖ u32 index         |
//! | `pending` | u64 height ‖ u32 round ‖ hash    | [`PendingProposal`] encoding   |
//! | `meta`    | name                             | bytes (`tip`, `misses`, …)     |
//! | `ext_certs` | u64 height                     | commit certificate with vote extensions |
//! | `cosigned`  | u64 height                     | the app's cosigned-checkpoint record |
//! | `manifests` | id (32 bytes)                  | u64 seq ‖ document bytes       |
//! | `manifest_seq` | u64 seq                     | id (insertion order, for eviction) |
//!
//! The state database (`<chain file name>.state.redb`) has a `state` table
//! (state key → value) and a `meta` entry `height`: the block whose state
//! it holds. Databases written before the split kept `state` in the chain
//! file; [`Store::open`] moves it over.

mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition};

use state::{StateDb, StateView};

use crate::codec::{put_round, DecodeError, Reader, Writer};
use crate::context::{Address, BlockHash, Height};

const BLOCKS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("blocks");
const CERTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("certs");
const STATE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("state");
const TXS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("txs");
const PENDING: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("pending");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
const EXT_CERTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("ext_certs");
const COSIGNED: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("cosigned");
const MANIFESTS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("manifests");
const MANIFEST_SEQ: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("manifest_seq");

/// A state entry.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// State writes: key and value (`None` deletes).
pub type StateDiff = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Bounds of the manifest store.
#[derive(Clone, Copy, Debug)]
pub struct ManifestBounds {
    /// Most stored documents.
    pub max_count: u64,
    /// Most stored bytes.
    pub max_bytes: u64,
}

/// A storage error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// redb failed.
    #[error("database: {0}")]
    Db(String),
    /// Stored bytes did not decode.
    #[error("corrupt stored record: {0}")]
    Corrupt(#[from] DecodeError),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A received (or built) proposal that is not decided yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingProposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: u32,
    /// Valid round (`None` = nil).
    pub valid_round: Option<u32>,
    /// The proposer.
    pub proposer: Address,
    /// The block bytes.
    pub block: Vec<u8>,
}

impl PendingProposal {
    /// The block's hash.
    pub fn hash(&self) -> BlockHash {
        BlockHash::of(&self.block)
    }

    fn key(height: Height, round: u32, hash: &BlockHash) -> Vec<u8> {
        let mut k = Vec::with_capacity(44);
        k.extend_from_slice(&height.0.to_be_bytes());
        k.extend_from_slice(&round.to_be_bytes());
        k.extend_from_slice(&hash.0);
        k
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::versioned();
        w.u64(self.height.0);
        w.u32(self.round);
        let vr = match self.valid_round {
            Some(r) => malachitebft_app_channel::app::types::core::Round::new(r),
            None => malachitebft_app_channel::app::types::core::Round::Nil,
        };
        put_round(&mut w, vr);
        w.raw(&self.proposer.0);
        w.bytes(&self.block);
        w.into_inner()
    }

    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::versioned(b)?;
        let height = Height(r.u64()?);
        let round = r.u32()?;
        let valid_round = match r.u8()? {
            0 => None,
            1 => Some(r.u32()?),
            tag => return Err(DecodeError::Tag { what: "round", tag }),
        };
        let proposer = Address(r.array()?);
        let block = r.bytes()?.to_vec();
        r.finish()?;
        Ok(PendingProposal {
            height,
            round,
            valid_round,
            proposer,
            block,
        })
    }
}

/// Everything written when a block is decided.
#[derive(Debug, Default)]
pub struct CommitBatch {
    /// Height of the block.
    pub height: u64,
    /// Block bytes.
    pub block: Vec<u8>,
    /// Encoded commit certificate.
    pub cert: Vec<u8>,
    /// State writes (value `None` deletes).
    pub diff: StateDiff,
    /// Transaction ids in block order.
    pub tx_ids: Vec<[u8; 32]>,
    /// Encoded proposer miss record after this block.
    pub misses: Vec<u8>,
    /// Encoded commit certificate with its vote extensions (empty: none).
    pub ext_cert: Vec<u8>,
    /// The app's cosigned-checkpoint record for this block, if enough
    /// validators cosigned it.
    pub cosigned: Option<Vec<u8>>,
}

/// The node's databases. Cheap to clone; readers run concurrently with the
/// one writer (the consensus loop) and the state writer thread, which ends
/// (after storing what is queued) when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    state: Arc<StateDb>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// A consistent read view of the committed chain and its state.
pub struct Snapshot {
    txn: ReadTransaction,
    tip: u64,
    state: StateView,
}

impl Snapshot {
    /// A state value.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.state.get(key)
    }

    /// A decided block's bytes.
    pub fn block(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.txn.open_table(BLOCKS)?;
        Ok(t.get(height)?.map(|v| v.value().to_vec()))
    }

    /// The cosigned-checkpoint record of `height`, or the latest one.
    pub fn cosigned(&self, height: Option<u64>) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let t = match self.txn.open_table(COSIGNED) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let e = match height {
            Some(h) => t.get(h)?.map(|v| (h, v.value().to_vec())),
            None => t.last()?.map(|(k, v)| (k.value(), v.value().to_vec())),
        };
        Ok(e)
    }

    /// A stored manifest document.
    pub fn manifest(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = match self.txn.open_table(MANIFESTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(t.get(id.as_slice())?
            .and_then(|v| v.value().get(8..).map(<[u8]>::to_vec)))
    }

    /// State entries whose key starts with `prefix` and sorts after
    /// `after` (exclusive; empty = from the start), at most `limit`.
    pub fn scan(
        &self,
        prefix: &[u8],
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        self.state.scan(prefix, after, limit)
    }

    /// The committed tip height (0 before the first block).
    pub fn tip(&self) -> Result<u64, StoreError> {
        Ok(self.tip)
    }
}

fn read_tip(r: &ReadTransaction) -> Result<u64, StoreError> {
    let t = match r.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    Ok(t.get("tip")?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// Where the state database of the chain database `chain` lives.
pub fn state_path(chain: &Path) -> PathBuf {
    chain.with_extension("state.redb")
}

impl Store {
    /// Opens (or creates) the chain database `path` and its state
    /// database beside it ([`state_path`]); moves state kept in the chain
    /// file by earlier versions into the state database.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let w = db.begin_write()?;
        {
            w.open_table(BLOCKS)?;
            w.open_table(CERTS)?;
            w.open_table(TXS)?;
            w.open_table(PENDING)?;
            w.open_table(META)?;
            w.open_table(EXT_CERTS)?;
            w.open_table(COSIGNED)?;
            w.open_table(MANIFESTS)?;
            w.open_table(MANIFEST_SEQ)?;
        }
        w.commit()?;
        let state = StateDb::open(&state_path(path))?;
        let store = Store {
            db: Arc::new(db),
            state: Arc::new(state),
        };
        store.move_old_state()?;
        Ok(store)
    }

    /// Moves a `state` table left in the chain file (by a version that
    /// kept state there) into the state database, as the state at the
    /// chain's tip.
    fn move_old_state(&self) -> Result<(), StoreError> {
        let r = self.db.begin_read()?;
        let old = match r.open_table(STATE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if self.state.height()?.is_none() {
            let tip = read_tip(&r)?;
            let mut entries = old.iter()?.map(|e| {
                let (k, v) = e?;
                Ok((k.value().to_vec(), v.value().to_vec()))
            });
            let n = self.state.import(tip, &mut entries)?;
            tracing::info!(
                entries = n,
                height = tip,
                "moved state into its own database"
            );
        }
        drop(old);
        drop(r);
        let w = self.db.begin_write()?;
        w.delete_table(STATE)?;
        w.commit()?;
        Ok(())
    }

    /// A read view.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read()?;
        let tip = read_tip(&txn)?;
        let state = self.state.view(tip)?;
        Ok(Snapshot { txn, tip, state })
    }

    /// The committed tip height (0 before the first block).
    pub fn tip(&self) -> Result<u64, StoreError> {
        read_tip(&self.db.begin_read()?)
    }

    /// The height whose state the state database holds on disk (`None`:
    /// none yet); below [`Self::tip`] after a crash, until
    /// [`crate::replay::recover_state`] catches it up.
    pub fn state_height(&self) -> Result<Option<u64>, StoreError> {
        self.state.height()
    }

    /// Writes the state of `height` now (recovery: the blocks above the
    /// state height are re-executed one by one).
    pub fn write_state_now(&self, height: u64, diff: &StateDiff) -> Result<(), StoreError> {
        self.state.write_now(height, diff)
    }

    /// Waits until every committed block's state is on disk.
    pub fn flush_state(&self) -> Result<(), StoreError> {
        self.state.flush()
    }

    /// A metadata entry.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(META)?;
        Ok(t.get(name)?.map(|v| v.value().to_vec()))
    }

    /// Sets a metadata entry.
    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let w = self.db.begin_write()?;
        w.open_table(META)?.insert(name, value)?;
        w.commit()?;
        Ok(())
    }

    /// A decided block's bytes.
    pub fn block(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCKS)?;
        Ok(t.get(height)?.map(|v| v.value().to_vec()))
    }

    /// A decided block's encoded commit certificate.
    pub fn cert(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(CERTS)?;
        Ok(t.get(height)?.map(|v| v.value().to_vec()))
    }

    /// A decided block's commit certificate with its vote extensions.
    pub fn ext_cert(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(EXT_CERTS)?;
        Ok(t.get(height)?.map(|v| v.value().to_vec()))
    }

    /// Where a committed transaction is: (height, index in block).
    pub fn tx_location(&self, id: &[u8; 32]) -> Result<Option<(u64, u32)>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(TXS)?;
        Ok(t.get(id.as_slice())?.and_then(|v| {
            let b = v.value();
            let h = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
            let i = u32::from_be_bytes(b.get(8..12)?.try_into().ok()?);
            Some((h, i))
        }))
    }

    /// Writes a decided block and everything that goes with it:
    /// atomically and durably the chain records (and removes undecided
    /// proposals up to its height); its state writes are visible to reads
    /// when this returns and written to disk in the background.
    pub fn commit(&self, mut b: CommitBatch) -> Result<(), StoreError> {
        let layer = self.state.push(b.height, std::mem::take(&mut b.diff))?;
        if let Err(e) = self.commit_chain(&b) {
            self.state.unpush(&layer);
            return Err(e);
        }
        self.state.send(layer)
    }

    /// The chain part of [`Self::commit`] (everything but `b.diff`).
    fn commit_chain(&self, b: &CommitBatch) -> Result<(), StoreError> {
        let height = b.height;
        let w = self.db.begin_write()?;
        {
            w.open_table(BLOCKS)?.insert(height, b.block.as_slice())?;
            w.open_table(CERTS)?.insert(height, b.cert.as_slice())?;
            if !b.ext_cert.is_empty() {
                w.open_table(EXT_CERTS)?
                    .insert(height, b.ext_cert.as_slice())?;
            }
            if let Some(c) = &b.cosigned {
                w.open_table(COSIGNED)?.insert(height, c.as_slice())?;
            }
            let mut txs = w.open_table(TXS)?;
            for (i, id) in b.tx_ids.iter().enumerate() {
                let mut loc = [0u8; 12];
                loc[..8].copy_from_slice(&height.to_be_bytes());
                loc[8..].copy_from_slice(&(i as u32).to_be_bytes());
                txs.insert(id.as_slice(), loc.as_slice())?;
            }
            let mut pending = w.open_table(PENDING)?;
            let end = (height.saturating_add(1)).to_be_bytes();
            pending.retain_in(&[][..]..&end[..], |_, _| false)?;
            let mut meta = w.open_table(META)?;
            meta.insert("tip", height.to_be_bytes().as_slice())?;
            meta.insert("misses", b.misses.as_slice())?;
        }
        w.commit()?;
        Ok(())
    }

    /// SHA-256 over every state entry in key order
    /// (`u32 len | key | u32 len | value` each), once all of it is on disk.
    pub fn state_digest(&self) -> Result<[u8; 32], StoreError> {
        self.state.digest()
    }

    /// Stores a manifest document under its id (no-op if present). When
    /// over `bounds`, drops the oldest documents for which `referenced`
    /// is false (at most 64 looked at per call). Returns whether it was
    /// stored (false: already there).
    pub fn put_manifest(
        &self,
        id: &[u8; 32],
        doc: &[u8],
        bounds: ManifestBounds,
        referenced: &dyn Fn(&[u8; 32]) -> bool,
    ) -> Result<bool, StoreError> {
        let w = self.db.begin_write()?;
        {
            let mut m = w.open_table(MANIFESTS)?;
            if m.get(id.as_slice())?.is_some() {
                return Ok(false);
            }
            let mut seq_t = w.open_table(MANIFEST_SEQ)?;
            let mut meta = w.open_table(META)?;
            let read_u64 =
                |meta: &redb::Table<'_, &str, &[u8]>, k: &str| -> Result<u64, StoreError> {
                    Ok(meta
                        .get(k)?
                        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
                        .map(u64::from_be_bytes)
                        .unwrap_or(0))
                };
            let seq = read_u64(&meta, "manifest_seq")?;
            let mut count = read_u64(&meta, "manifest_count")? + 1;
            let mut bytes = read_u64(&meta, "manifest_bytes")? + doc.len() as u64;
            let mut v = Vec::with_capacity(8 + doc.len());
            v.extend_from_slice(&seq.to_be_bytes());
            v.extend_from_slice(doc);
            m.insert(id.as_slice(), v.as_slice())?;
            seq_t.insert(seq, id.as_slice())?;
            if count > bounds.max_count || bytes > bounds.max_bytes {
                let mut drop = Vec::new();
                for e in seq_t.iter()?.take(64) {
                    let (k, v) = e?;
                    let Ok(old) = <[u8; 32]>::try_from(v.value()) else {
                        continue;
                    };
                    if old == *id || referenced(&old) {
                        continue;
                    }
                    drop.push((k.value(), old));
                }
                for (k, old) in drop {
                    if count <= bounds.max_count && bytes <= bounds.max_bytes {
                        break;
                    }
                    let len = m
                        .remove(old.as_slice())?
                        .map(|v| v.value().len().saturating_sub(8))
                        .unwrap_or(0);
                    seq_t.remove(k)?;
                    count -= 1;
                    bytes = bytes.saturating_sub(len as u64);
                }
            }
            meta.insert("manifest_seq", (seq + 1).to_be_bytes().as_slice())?;
            meta.insert("manifest_count", count.to_be_bytes().as_slice())?;
            meta.insert("manifest_bytes", bytes.to_be_bytes().as_slice())?;
        }
        w.commit()?;
        Ok(true)
    }

    /// Stores an undecided proposal (durably: it is restored after a crash).
    pub fn put_pending(&self, p: &PendingProposal) -> Result<(), StoreError> {
        let key = PendingProposal::key(p.height, p.round, &p.hash());
        let w = self.db.begin_write()?;
        w.open_table(PENDING)?
            .insert(key.as_slice(), p.encode().as_slice())?;
        w.commit()?;
        Ok(())
    }

    /// Undecided proposals at a height (all rounds).
    pub fn pending_at(&self, height: Height) -> Result<Vec<PendingProposal>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(PENDING)?;
        let lo = height.0.to_be_bytes();
        let hi = height.0.saturating_add(1).to_be_bytes();
        let mut out = Vec::new();
        for e in t.range(&lo[..]..&hi[..])? {
            let (_, v) = e?;
            out.push(PendingProposal::decode(v.value())?);
        }
        Ok(out)
    }

    /// The undecided proposal with this hash at a height, if stored.
    pub fn pending_by_hash(
        &self,
        height: Height,
        hash: &BlockHash,
    ) -> Result<Option<PendingProposal>, StoreError> {
        Ok(self
            .pending_at(height)?
            .into_iter()
            .find(|p| p.hash() == *hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_and_pending() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db")).unwrap();
        assert_eq!(s.tip().unwrap(), 0);
        let p = PendingProposal {
            height: Height(1),
            round: 0,
            valid_round: None,
            proposer: Address([1; 32]),
            block: b"block".to_vec(),
        };
        s.put_pending(&p).unwrap();
        let p2 = PendingProposal {
            height: Height(2),
            ..p.clone()
        };
        s.put_pending(&p2).unwrap();
        assert_eq!(s.pending_at(Height(1)).unwrap(), vec![p.clone()]);
        s.commit(CommitBatch {
            height: 1,
            block: b"block".to_vec(),
            cert: b"cert".to_vec(),
            diff: vec![(b"k".to_vec(), Some(b"v".to_vec()))],
            tx_ids: vec![[7; 32]],
            misses: vec![],
            ext_cert: b"ext".to_vec(),
            cosigned: Some(b"record".to_vec()),
        })
        .unwrap();
        assert_eq!(s.tip().unwrap(), 1);
        assert!(s.pending_at(Height(1)).unwrap().is_empty());
        assert_eq!(s.pending_at(Height(2)).unwrap(), vec![p2]);
        assert_eq!(
            s.snapshot().unwrap().get(b"k").unwrap(),
            Some(b"v".to_vec())
        );
        assert_eq!(s.tx_location(&[7; 32]).unwrap(), Some((1, 0)));
        assert_eq!(s.ext_cert(1).unwrap(), Some(b"ext".to_vec()));
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.cosigned(None).unwrap(), Some((1, b"record".to_vec())));
        assert_eq!(snap.cosigned(Some(2)).unwrap(), None);
        assert_eq!(snap.block(1).unwrap(), Some(b"block".to_vec()));
        drop(snap);
        // Survives reopening.
        drop(s);
        let s = Store::open(&dir.path().join("db")).unwrap();
        assert_eq!(s.block(1).unwrap(), Some(b"block".to_vec()));
    }

    #[test]
    fn state_kept_in_the_chain_file_moves_to_the_state_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        {
            // As a btl that kept state beside the chain left it.
            let db = Database::create(&path).unwrap();
            let w = db.begin_write().unwrap();
            {
                let mut st = w.open_table(STATE).unwrap();
                st.insert(b"a".as_slice(), b"1".as_slice()).unwrap();
                st.insert(b"b".as_slice(), b"2".as_slice()).unwrap();
                w.open_table(META)
                    .unwrap()
                    .insert("tip", 7u64.to_be_bytes().as_slice())
                    .unwrap();
            }
            w.commit().unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.state_height().unwrap(), Some(7));
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.get(b"b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(snap.scan(b"", b"", 10).unwrap().len(), 2);
        drop(snap);
        drop(s);
        // The chain file no longer has the table; reopening changes nothing.
        let db = Database::create(&path).unwrap();
        let r = db.begin_read().unwrap();
        assert!(matches!(
            r.open_table(STATE),
            Err(redb::TableError::TableDoesNotExist(_))
        ));
        drop(r);
        drop(db);
        let s = Store::open(&path).unwrap();
        assert_eq!(
            s.snapshot().unwrap().get(b"a").unwrap(),
            Some(b"1".to_vec())
        );
    }
}
