//! Application state, stored apart from the chain and written behind it.
//!
//! A decided block's state writes become an in-memory *layer* that a writer
//! thread stores in the state database (`<chain file>.state.redb`) while
//! consensus goes on with the next height. Reads see the database with the
//! layers not yet written above it, so they never notice the lag. The chain
//! database (blocks, certificates, transaction index) is still written,
//! durably, before a decision is acknowledged; after a crash the state
//! database is at some height at or below the chain's tip, and the node
//! re-executes the blocks above it ([`crate::replay::recover_state`]).
//! That is also why the writer syncs to disk only every few heights
//! ([`DURABLE_EVERY`]) and stores layers a few at a time ([`BATCH`]):
//! state is a function of the chain, so a lost state commit costs a
//! re-execution, never data.
//!
//! One writer owns the state database: the thread, or (while no layer is
//! queued) [`StateDb::write_now`] during recovery.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition};

use super::{KeyValue, StateDiff, StoreError};

const STATE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("state");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");

/// The meta entry holding the height whose state the database holds.
const HEIGHT: &str = "height";

/// Most decided layers held in memory; a commit beyond waits for the writer.
const MAX_LAYERS: usize = 12;

/// The writer stores layers this many to a transaction: consecutive blocks
/// rewrite many of the same state-tree records and database pages, which
/// one transaction then writes once.
const BATCH: usize = 4;

/// ... or fewer, once the oldest has waited this long (a quiet chain).
const BATCH_WAIT: Duration = Duration::from_millis(500);

/// The writer makes its commits durable (fsync) once this many heights
/// have been written since the last durable one, and when it stops. The
/// commits in between are atomic but may be lost in a crash, which costs
/// only the re-execution of those blocks at the next start: the chain
/// database holds them durably.
const DURABLE_EVERY: usize = 8;

/// What the writer thread is told.
enum ToWriter {
    /// Store this layer (in a batch).
    Layer(Arc<Layer>),
    /// Store what is waiting now.
    Flush,
}

/// The state writes of one decided block, sorted by key, one per key.
#[derive(Debug)]
pub(crate) struct Layer {
    height: u64,
    diff: StateDiff,
    /// A Bloom filter of the keys (two bits each, from [`key_hash`]): a
    /// read tries several layers before the database, and most keys are in
    /// none of them.
    filter: Vec<u64>,
}

/// A 64-bit hash of a state key for the layer filters (not for anything
/// an adversary could exploit: a collision only costs a binary search).
fn key_hash(key: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in chunks.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let mut w = [0u8; 8];
    w[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    h ^ (h >> 29)
}

/// The two filter bits of a key hash in a filter of `words` 64-bit words
/// (a power of two).
fn filter_bits(h: u64, words: usize) -> [usize; 2] {
    let mask = words * 64 - 1;
    [(h as usize) & mask, ((h >> 32) as usize) & mask]
}

impl Layer {
    /// A layer; `diff` is sorted by key if it is not (the last write of a
    /// key wins).
    pub(crate) fn new(height: u64, mut diff: StateDiff) -> Layer {
        if !diff.is_sorted_by(|a, b| a.0 < b.0) {
            diff.reverse();
            diff.sort_by(|a, b| a.0.cmp(&b.0)); // stable: later writes first
            diff.dedup_by(|later, first| later.0 == first.0);
        }
        // About 16 bits per key: a few per cent false positives.
        let words = (diff.len() / 4).next_power_of_two().max(16);
        let mut filter = vec![0u64; words];
        for (k, _) in &diff {
            for b in filter_bits(key_hash(k), words) {
                filter[b / 64] |= 1 << (b % 64);
            }
        }
        Layer {
            height,
            diff,
            filter,
        }
    }

    /// The layer's write of `key` (whose [`key_hash`] is `h`): `Some(None)`
    /// for a delete.
    fn get(&self, key: &[u8], h: u64) -> Option<Option<&[u8]>> {
        let words = self.filter.len();
        if !filter_bits(h, words)
            .iter()
            .all(|b| self.filter[b / 64] & (1 << (b % 64)) != 0)
        {
            return None;
        }
        let i = self
            .diff
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
            .ok()?;
        Some(self.diff[i].1.as_deref())
    }
}

/// Layers not yet written, oldest first, and the writer's failure if any.
#[derive(Default)]
struct Queue {
    layers: VecDeque<Arc<Layer>>,
    failed: Option<String>,
}

/// What the store and its writer thread share.
#[derive(Default)]
struct Lag {
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl Lag {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The state database, its layers and its writer thread.
pub(crate) struct StateDb {
    db: Arc<Database>,
    lag: Arc<Lag>,
    to_writer: Option<mpsc::Sender<ToWriter>>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for StateDb {
    fn drop(&mut self) {
        // Closing the channel lets the writer store what is queued and end.
        self.to_writer = None;
        if let Some(t) = self.writer.take() {
            let _ = t.join();
        }
    }
}

/// Stores `diffs` in order, in one transaction, as the state of `height`.
fn write<'a>(
    db: &Database,
    height: u64,
    diffs: impl IntoIterator<Item = &'a StateDiff>,
    durable: bool,
) -> Result<(), StoreError> {
    let mut w = db.begin_write()?;
    if !durable {
        w.set_durability(redb::Durability::None)
            .map_err(|e| StoreError::Db(e.to_string()))?;
    }
    {
        let mut st = w.open_table(STATE)?;
        for diff in diffs {
            for (k, v) in diff {
                match v {
                    Some(v) => {
                        st.insert(k.as_slice(), v.as_slice())?;
                    }
                    None => {
                        st.remove(k.as_slice())?;
                    }
                }
            }
        }
        w.open_table(META)?
            .insert(HEIGHT, height.to_be_bytes().as_slice())?;
    }
    w.commit()?;
    Ok(())
}

/// Stores layers [`BATCH`] to a transaction (fewer after [`BATCH_WAIT`] or
/// when asked to flush); when the channel closes, stores and makes durable
/// what it has, and ends.
fn writer_loop(db: Arc<Database>, lag: Arc<Lag>, rx: mpsc::Receiver<ToWriter>) {
    let mut since_durable = 0;
    let mut batch: Vec<Arc<Layer>> = Vec::new();
    let mut oldest = Instant::now();
    loop {
        let msg = if batch.is_empty() {
            rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout((oldest + BATCH_WAIT).saturating_duration_since(Instant::now()))
        };
        let closed = match msg {
            Ok(ToWriter::Layer(l)) => {
                if batch.is_empty() {
                    oldest = Instant::now();
                }
                batch.push(l);
                if batch.len() < BATCH {
                    continue;
                }
                false
            }
            Ok(ToWriter::Flush) | Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => true,
        };
        if let Some(height) = batch.last().map(|l| l.height) {
            since_durable += batch.len();
            let durable = closed || since_durable >= DURABLE_EVERY;
            let r = write(&db, height, batch.iter().map(|l| &l.diff), durable);
            let mut q = lag.lock();
            if let Err(e) = r {
                tracing::error!(height, error = %e, "writing state failed");
                q.failed = Some(e.to_string());
                lag.changed.notify_all();
                return;
            }
            if durable {
                since_durable = 0;
            }
            for layer in batch.drain(..) {
                if q.layers.front().is_some_and(|l| Arc::ptr_eq(l, &layer)) {
                    q.layers.pop_front();
                }
            }
            lag.changed.notify_all();
        }
        if closed {
            break;
        }
    }
    if since_durable > 0 {
        if let Err(e) = make_durable(&db) {
            tracing::error!(error = %e, "making state durable at close failed");
        }
    }
}

/// An empty durable commit: persists the non-durable ones before it.
fn make_durable(db: &Database) -> Result<(), StoreError> {
    db.begin_write()?.commit()?;
    Ok(())
}

impl StateDb {
    /// Opens (or creates) the state database at `path` and starts its
    /// writer.
    pub(crate) fn open(path: &Path) -> Result<StateDb, StoreError> {
        let db = Arc::new(Database::create(path)?);
        let w = db.begin_write()?;
        {
            w.open_table(STATE)?;
            w.open_table(META)?;
        }
        w.commit()?;
        let lag = Arc::new(Lag::default());
        let (tx, rx) = mpsc::channel();
        let (d, l) = (db.clone(), lag.clone());
        let writer = std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || writer_loop(d, l, rx))
            .map_err(|e| StoreError::Db(format!("cannot start the state writer: {e}")))?;
        Ok(StateDb {
            db,
            lag,
            to_writer: Some(tx),
            writer: Some(writer),
        })
    }

    /// The height whose state the database holds (`None`: none yet), not
    /// counting layers still queued.
    pub(crate) fn height(&self) -> Result<Option<u64>, StoreError> {
        let r = self.db.begin_read()?;
        read_height(&r)
    }

    /// Queues a decided block's writes, after waiting while too many are
    /// queued. The layer is visible to reads at once; it is written once
    /// [`Self::send`] hands it to the writer.
    pub(crate) fn push(&self, height: u64, diff: StateDiff) -> Result<Arc<Layer>, StoreError> {
        let layer = Arc::new(Layer::new(height, diff));
        let mut q = self.lag.lock();
        loop {
            if let Some(e) = &q.failed {
                return Err(StoreError::Db(format!("state writer stopped: {e}")));
            }
            if q.layers.len() < MAX_LAYERS {
                break;
            }
            q = self.lag.changed.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        q.layers.push_back(layer.clone());
        Ok(layer)
    }

    /// Takes back the newest layer (its block was not stored after all).
    pub(crate) fn unpush(&self, layer: &Arc<Layer>) {
        let mut q = self.lag.lock();
        if q.layers.back().is_some_and(|l| Arc::ptr_eq(l, layer)) {
            q.layers.pop_back();
        }
    }

    /// Hands a pushed layer to the writer.
    pub(crate) fn send(&self, layer: Arc<Layer>) -> Result<(), StoreError> {
        self.to_writer
            .as_ref()
            .and_then(|t| t.send(ToWriter::Layer(layer)).ok())
            .ok_or_else(|| StoreError::Db("state writer stopped".into()))
    }

    /// Has the writer store what is queued now, and waits until it has.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        if let Some(t) = &self.to_writer {
            let _ = t.send(ToWriter::Flush);
        }
        let mut q = self.lag.lock();
        loop {
            if let Some(e) = &q.failed {
                return Err(StoreError::Db(format!("state writer stopped: {e}")));
            }
            if q.layers.is_empty() {
                return Ok(());
            }
            q = self.lag.changed.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Writes a height's state now, on this thread (recovery and
    /// migration; nothing may be queued).
    pub(crate) fn write_now(&self, height: u64, diff: &StateDiff) -> Result<(), StoreError> {
        self.flush()?;
        write(&self.db, height, [diff], true)
    }

    /// Copies `entries` in as the state of `height` (migration from a
    /// database that kept state beside the chain).
    pub(crate) fn import(
        &self,
        height: u64,
        entries: &mut dyn Iterator<Item = Result<KeyValue, StoreError>>,
    ) -> Result<u64, StoreError> {
        self.flush()?;
        let w = self.db.begin_write()?;
        let mut n = 0;
        {
            let mut st = w.open_table(STATE)?;
            for e in entries {
                let (k, v) = e?;
                st.insert(k.as_slice(), v.as_slice())?;
                n += 1;
            }
            w.open_table(META)?
                .insert(HEIGHT, height.to_be_bytes().as_slice())?;
        }
        w.commit()?;
        Ok(n)
    }

    /// A read view of state at chain height `tip`: the database plus the
    /// layers above it up to `tip`. The caller read `tip` from the chain
    /// before calling, so every layer up to it is queued or written.
    pub(crate) fn view(&self, tip: u64) -> Result<StateView, StoreError> {
        // Layers first, then the database: a layer leaves the queue only
        // after the database holds it, so none is missed in between.
        let layers: Vec<Arc<Layer>> = self.lag.lock().layers.iter().cloned().collect();
        let txn = self.db.begin_read()?;
        let at = read_height(&txn)?;
        let layers = layers
            .into_iter()
            .filter(|l| at.is_none_or(|h| l.height > h) && l.height <= tip)
            .collect();
        Ok(StateView {
            txn,
            layers,
            table: OnceLock::new(),
        })
    }

    /// SHA-256 over every state entry in key order
    /// (`u32 len | key | u32 len | value` each), after a flush.
    pub(crate) fn digest(&self) -> Result<[u8; 32], StoreError> {
        use sha2::Digest;
        self.flush()?;
        let r = self.db.begin_read()?;
        let t = r.open_table(STATE)?;
        let mut h = sha2::Sha256::new();
        for e in t.iter()? {
            let (k, v) = e?;
            h.update((k.value().len() as u32).to_be_bytes());
            h.update(k.value());
            h.update((v.value().len() as u32).to_be_bytes());
            h.update(v.value());
        }
        Ok(h.finalize().into())
    }
}

fn read_height(r: &ReadTransaction) -> Result<Option<u64>, StoreError> {
    let t = r.open_table(META)?;
    Ok(t.get(HEIGHT)?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map(u64::from_be_bytes))
}

/// The state table as read by a view.
type StateTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// State at one height: a database read and the layers above it.
pub(crate) struct StateView {
    txn: ReadTransaction,
    /// Newest last.
    layers: Vec<Arc<Layer>>,
    /// Opened on first use: executing a block reads state thousands of
    /// times, and opening the table once per view instead of once per read
    /// matters.
    table: OnceLock<StateTable>,
}

impl StateView {
    fn table(&self) -> Result<&StateTable, StoreError> {
        if let Some(t) = self.table.get() {
            return Ok(t);
        }
        let t = self.txn.open_table(STATE)?;
        Ok(self.table.get_or_init(|| t))
    }

    /// A state value.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.layers.is_empty() {
            let h = key_hash(key);
            for l in self.layers.iter().rev() {
                if let Some(v) = l.get(key, h) {
                    return Ok(v.map(<[u8]>::to_vec));
                }
            }
        }
        Ok(self.table()?.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Entries whose key starts with `prefix` and sorts after `after`
    /// (exclusive; empty = from the start), at most `limit`.
    pub(crate) fn scan(
        &self,
        prefix: &[u8],
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let wanted = |k: &[u8]| k.starts_with(prefix) && (after.is_empty() || k > after);
        // The layers' writes in range, newest winning.
        let mut over: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
        for l in &self.layers {
            let from = l.diff.partition_point(|(k, _)| k.as_slice() < prefix);
            for (k, v) in l.diff[from..]
                .iter()
                .take_while(|(k, _)| k.starts_with(prefix))
            {
                if wanted(k) {
                    over.insert(k.as_slice(), v.as_deref());
                }
            }
        }
        let mut over = over.into_iter().peekable();
        let mut out = Vec::new();
        let start: &[u8] = if after.is_empty() { prefix } else { after };
        let mut stored = self.table()?.range(start..)?;
        let mut next_stored = || -> Result<Option<KeyValue>, StoreError> {
            for e in stored.by_ref() {
                let (k, v) = e?;
                let k = k.value();
                if !k.starts_with(prefix) {
                    return Ok(None);
                }
                if wanted(k) {
                    return Ok(Some((k.to_vec(), v.value().to_vec())));
                }
            }
            Ok(None)
        };
        let mut s = next_stored()?;
        while out.len() < limit {
            let take_layer = match (&s, over.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((sk, _)), Some((ok, _))) => ok <= &sk.as_slice(),
            };
            if take_layer {
                let Some((k, v)) = over.next() else { break };
                if s.as_ref().is_some_and(|(sk, _)| sk.as_slice() == k) {
                    s = next_stored()?; // overwritten or deleted
                }
                if let Some(v) = v {
                    out.push((k.to_vec(), v.to_vec()));
                }
            } else if let Some(e) = s.take() {
                out.push(e);
                s = next_stored()?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: Option<&str>) -> (Vec<u8>, Option<Vec<u8>>) {
        (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))
    }

    #[test]
    fn an_unsorted_layer_is_sorted_and_its_last_write_wins() {
        let l = Layer::new(
            1,
            vec![kv("b", Some("1")), kv("a", Some("2")), kv("b", None)],
        );
        assert_eq!(l.diff, vec![kv("a", Some("2")), kv("b", None)]);
        assert_eq!(l.get(b"b", key_hash(b"b")), Some(None));
        assert_eq!(l.get(b"c", key_hash(b"c")), None);
        // Every key of a big layer passes its filter; most others do not.
        let keys: Vec<Vec<u8>> = (0u32..5000)
            .map(|i| format!("key {i}").into_bytes())
            .collect();
        let big = Layer::new(2, keys.iter().map(|k| (k.clone(), Some(vec![]))).collect());
        for k in &keys {
            assert_eq!(big.get(k, key_hash(k)), Some(Some(&[][..])));
        }
        let passed = (0u32..10_000)
            .map(|i| format!("other {i}").into_bytes())
            .filter(|k| {
                let words = big.filter.len();
                filter_bits(key_hash(k), words)
                    .iter()
                    .all(|b| big.filter[b / 64] & (1 << (b % 64)) != 0)
            })
            .count();
        assert!(
            passed < 1_000,
            "{passed} of 10000 absent keys pass the filter"
        );
    }

    #[test]
    fn views_see_queued_layers_and_scans_merge_them() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDb::open(&dir.path().join("s")).unwrap();
        s.write_now(
            0,
            &vec![
                kv("p/a", Some("0")),
                kv("p/b", Some("0")),
                kv("p/d", Some("0")),
                kv("q", Some("0")),
            ],
        )
        .unwrap();
        // Two layers not handed to the writer: reads see them anyway.
        s.push(1, vec![kv("p/b", None), kv("p/c", Some("1"))])
            .unwrap();
        let l2 = s
            .push(2, vec![kv("p/c", Some("2")), kv("p/e", Some("2"))])
            .unwrap();
        let v = s.view(2).unwrap();
        assert_eq!(v.get(b"p/b").unwrap(), None);
        assert_eq!(v.get(b"p/c").unwrap(), Some(b"2".to_vec()));
        assert_eq!(v.get(b"q").unwrap(), Some(b"0".to_vec()));
        let keys = |r: Vec<KeyValue>| {
            r.into_iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(&k),
                        String::from_utf8_lossy(&v)
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(v.scan(b"p/", b"", 10).unwrap()),
            ["p/a=0", "p/c=2", "p/d=0", "p/e=2"]
        );
        assert_eq!(keys(v.scan(b"p/", b"p/a", 2).unwrap()), ["p/c=2", "p/d=0"]);
        assert_eq!(keys(v.scan(b"p/", b"p/d", 10).unwrap()), ["p/e=2"]);
        // A view at height 1 leaves out layer 2.
        let v1 = s.view(1).unwrap();
        assert_eq!(v1.get(b"p/c").unwrap(), Some(b"1".to_vec()));
        assert_eq!(v1.get(b"p/e").unwrap(), None);
        s.unpush(&l2);
        assert_eq!(s.view(2).unwrap().get(b"p/e").unwrap(), None);
    }

    #[test]
    fn the_writer_stores_layers_in_order_and_flush_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let s = StateDb::open(&path).unwrap();
        for h in 0..20u64 {
            let l = s
                .push(
                    h,
                    vec![
                        kv("k", Some(&h.to_string())),
                        kv(&format!("h{h}"), Some("x")),
                    ],
                )
                .unwrap();
            s.send(l).unwrap();
        }
        s.flush().unwrap();
        assert_eq!(s.height().unwrap(), Some(19));
        assert_eq!(s.view(19).unwrap().get(b"k").unwrap(), Some(b"19".to_vec()));
        drop(s);
        // Reopened: all of it is on disk.
        let s = StateDb::open(&path).unwrap();
        let v = s.view(19).unwrap();
        assert_eq!(v.get(b"k").unwrap(), Some(b"19".to_vec()));
        assert_eq!(v.scan(b"h", b"", 100).unwrap().len(), 20);
    }

    proptest::proptest! {
        /// Reads through any stack of layers equal reads of a map with
        /// every write applied in order, whatever the writer has stored.
        #[test]
        fn views_equal_a_map_model(
            base in proptest::collection::btree_map(0u8..16, 0u8..4, 0..12),
            layers in proptest::collection::vec(
                proptest::collection::vec((0u8..16, proptest::option::of(0u8..4)), 0..8),
                0..5,
            ),
            written in 0usize..5,
            after in proptest::option::of(0u8..16),
            limit in 1usize..20,
        ) {
            let key = |k: u8| vec![b'p', k];
            let dir = tempfile::tempdir().unwrap();
            let s = StateDb::open(&dir.path().join("s")).unwrap();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> =
                base.iter().map(|(k, v)| (key(*k), vec![*v])).collect();
            let mut diff0: StateDiff = model.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
            diff0.push((b"q".to_vec(), Some(vec![9]))); // outside the prefix
            s.write_now(0, &diff0).unwrap();
            for (i, l) in layers.iter().enumerate() {
                let diff: StateDiff = l.iter().map(|(k, v)| (key(*k), v.map(|v| vec![v]))).collect();
                for (k, v) in &diff {
                    match v {
                        Some(v) => model.insert(k.clone(), v.clone()),
                        None => model.remove(k),
                    };
                }
                let layer = s.push(i as u64 + 1, diff).unwrap();
                if i < written {
                    s.send(layer).unwrap();
                }
            }
            if written > 0 && written >= layers.len() {
                s.flush().unwrap();
            }
            let v = s.view(layers.len() as u64).unwrap();
            for k in 0u8..16 {
                proptest::prop_assert_eq!(v.get(&key(k)).unwrap(), model.get(&key(k)).cloned());
            }
            let after = after.map(key).unwrap_or_default();
            let want: Vec<KeyValue> = model
                .iter()
                .filter(|(k, _)| after.is_empty() || k.as_slice() > after.as_slice())
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            proptest::prop_assert_eq!(v.scan(b"p", &after, limit).unwrap(), want);
        }
    }
}
