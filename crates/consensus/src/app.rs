//! The seam between the consensus node and the state machine it runs.
//!
//! The node owns consensus, storage, the mempool and the HTTP API; an
//! [`App`] owns the meaning of blocks and transactions: it builds a block
//! from candidate transactions, checks and executes a proposed block
//! against committed state, and says which validators run each height. It
//! never touches the disk: it reads committed state through [`StateRead`]
//! and returns the writes a block causes, which the node stores atomically
//! with the block.
//!
//! [`DemoApp`] is a minimal state machine (a block = a list of opaque
//! transactions, fixed validators from the genesis) used to run and test
//! the node on its own.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::codec::{Reader, Writer};
use crate::store::Snapshot;

/// Read access to committed state.
pub trait StateRead {
    /// The value of a state key, if set.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;

    /// A committed block's bytes (queries that need a transaction's body).
    fn block(&self, height: u64) -> Option<Vec<u8>> {
        let _ = height;
        None
    }

    /// The stored cosigned-checkpoint record ([`App::cosigned_record`]) of
    /// `height`, or the latest one: (height, record).
    fn cosigned(&self, height: Option<u64>) -> Option<(u64, Vec<u8>)> {
        let _ = height;
        None
    }

    /// A stored (off-chain) manifest document by id.
    fn manifest(&self, id: &[u8; 32]) -> Option<Vec<u8>> {
        let _ = id;
        None
    }

    /// State entries under `prefix`, after the key `after` (exclusive),
    /// at most `limit`, in key order.
    fn scan(&self, prefix: &[u8], after: &[u8], limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        let _ = (prefix, after, limit);
        Vec::new()
    }
}

fn logged<T>(r: Result<Option<T>, crate::store::StoreError>) -> Option<T> {
    match r {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "state read failed");
            None
        }
    }
}

impl StateRead for Snapshot {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        logged(Snapshot::get(self, key))
    }

    fn block(&self, height: u64) -> Option<Vec<u8>> {
        logged(Snapshot::block(self, height))
    }

    fn cosigned(&self, height: Option<u64>) -> Option<(u64, Vec<u8>)> {
        logged(Snapshot::cosigned(self, height))
    }

    fn manifest(&self, id: &[u8; 32]) -> Option<Vec<u8>> {
        logged(Snapshot::manifest(self, id))
    }

    fn scan(&self, prefix: &[u8], after: &[u8], limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        logged(Snapshot::scan(self, prefix, after, limit).map(Some)).unwrap_or_default()
    }
}

/// What the proposer knows when it builds a block.
#[derive(Clone, Debug)]
pub struct BuildCtx {
    /// Height of the new block.
    pub height: u64,
    /// Consensus round.
    pub round: u32,
    /// Block time (ms since the Unix epoch), never below the parent's.
    pub time_ms: u64,
    /// The proposer's public key.
    pub proposer: [u8; 32],
    /// Hash of the block at `height - 1` (zero for height 1).
    pub prev_hash: [u8; 32],
}

/// The effect of a block on state.
#[derive(Clone, Debug, Default)]
pub struct Executed {
    /// State writes (value `None` deletes), sorted by key.
    pub diff: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Ids of the block's transactions, in block order.
    pub tx_ids: Vec<[u8; 32]>,
}

/// A block built by the proposer.
#[derive(Clone, Debug, Default)]
pub struct Built {
    /// The block bytes.
    pub block: Vec<u8>,
    /// Its effect on state.
    pub executed: Executed,
    /// Candidate transactions left out, with the reason.
    pub rejected: Vec<([u8; 32], String)>,
}

/// What the mempool needs to know about a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxMeta {
    /// Transaction id.
    pub id: [u8; 32],
    /// Sender account (for rate limits and nonce order).
    pub sender: [u8; 32],
    /// Sender nonce.
    pub nonce: u64,
}

/// A short description of a block, for the API and logs.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct BlockSummary {
    /// Height.
    pub height: u64,
    /// Hash of the previous block (hex).
    pub prev_hash: String,
    /// Block time (ms since the Unix epoch).
    pub time_ms: u64,
    /// Proposer (hex public key).
    pub proposer: String,
    /// Number of transactions.
    pub tx_count: usize,
    /// State root after the block (hex), if the app has one.
    pub state_root: Option<String>,
    /// Full block as JSON, if the app can render it.
    pub body: Option<serde_json::Value>,
}

/// A state machine the node runs.
pub trait App: Send + Sync + 'static {
    /// State writes applied before height 1 (from the genesis).
    fn genesis_state(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)>;

    /// Builds a block on top of committed state from candidates in
    /// mempool order.
    fn build(
        &self,
        state: &dyn StateRead,
        ctx: &BuildCtx,
        candidates: &mut dyn Iterator<Item = Arc<Vec<u8>>>,
    ) -> Result<Built, String>;

    /// Checks a proposed block for `height` on top of committed state
    /// (whose last block hash is `prev_hash`) and returns its effect.
    fn check(
        &self,
        state: &dyn StateRead,
        height: u64,
        prev_hash: [u8; 32],
        block: &[u8],
    ) -> Result<Executed, String>;

    /// The validators (public key, voting power) of `height`, given
    /// committed state up to `height - 1`.
    fn validators(
        &self,
        state: &dyn StateRead,
        height: u64,
    ) -> Result<Vec<([u8; 32], u64)>, String>;

    /// Admission check for the mempool.
    fn check_tx(&self, state: &dyn StateRead, tx: &[u8]) -> Result<TxMeta, String>;

    /// Describes a block.
    fn summarize(&self, block: &[u8]) -> Result<BlockSummary, String>;

    /// Whether validators cosign every decided block: their precommits then
    /// must carry a vote extension (Malachite's `Required` policy) holding
    /// an Ed25519 signature, with their consensus key, of
    /// [`Self::cosign_message`].
    fn cosigns(&self) -> bool {
        false
    }

    /// The message validators sign when they precommit `block` (for the
    /// ledger: the text of the registry checkpoint in its header).
    fn cosign_message(&self, block: &[u8]) -> Option<Vec<u8>> {
        let _ = block;
        None
    }

    /// The record stored with a decided block from its validators'
    /// cosignatures (public key, signature of [`Self::cosign_message`]);
    /// `state` is committed state before the block. `None`: nothing worth
    /// storing (no cosignatures, or less than the threshold).
    fn cosigned_record(
        &self,
        state: &dyn StateRead,
        block: &[u8],
        cosigs: &[([u8; 32], Vec<u8>)],
    ) -> Option<Vec<u8>> {
        let _ = (state, block, cosigs);
        None
    }

    /// Checks an off-chain document the registry stores next to the chain
    /// (a signed manifest): returns its id and the bytes to store.
    fn check_manifest(&self, doc: &[u8]) -> Result<([u8; 32], Vec<u8>), String> {
        let _ = doc;
        Err("this ledger stores no manifests".into())
    }

    /// Whether committed state refers to the stored document `id` (kept
    /// when the store is full).
    fn manifest_referenced(&self, state: &dyn StateRead, id: &[u8; 32]) -> bool {
        let _ = (state, id);
        false
    }

    /// Called after a block is committed with its transaction ids (the
    /// app may drop what it remembered about them, e.g. verified
    /// signatures).
    fn committed(&self, tx_ids: &[[u8; 32]]) {
        let _ = tx_ids;
    }

    /// Largest transaction accepted, in bytes.
    fn max_tx_size(&self) -> usize {
        64 * 1024
    }

    /// Answers an API query about committed state: `kind` is `account`,
    /// `torrent`, `proof` or `receipt` (more may come); `arg` is the path
    /// argument as given. `tx_location` finds a committed transaction.
    fn query(
        &self,
        state: &dyn StateRead,
        kind: &str,
        arg: &str,
        tx_location: &TxLocator<'_>,
    ) -> Result<serde_json::Value, QueryError> {
        let _ = (state, arg, tx_location);
        Err(QueryError::Unsupported(kind.to_string()))
    }
}

/// Finds a committed transaction: (height, index in block).
pub type TxLocator<'a> = dyn Fn(&[u8; 32]) -> Option<(u64, u32)> + 'a;

/// Why a query has no answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// Nothing by that key.
    #[error("not found: {0}")]
    NotFound(String),
    /// The argument is malformed.
    #[error("bad request: {0}")]
    BadInput(String),
    /// The app does not answer this kind of query.
    #[error("this ledger does not answer {0} queries")]
    Unsupported(String),
    /// Not available yet; retry after this many seconds.
    #[error("not available yet: {0}")]
    NotYet(String, u32),
}

/// Largest demo transaction.
pub const DEMO_MAX_TX: usize = 4096;

/// A minimal app: a block is `version 1 | u64 height | prev hash | u64 time
/// | proposer | list of bytes (transactions)`. A transaction is any 40 to
/// 4096 bytes whose first 32 bytes name the sender and next 8 its nonce;
/// state counts transactions per sender. A transaction whose payload (after
/// the nonce) is `"power" | validator key[32] | u64 power` sets that
/// validator's voting power from height `h + VALIDATOR_DELAY` on, where `h`
/// is the height that commits it.
#[derive(Clone, Debug)]
pub struct DemoApp {
    /// The validators, every height.
    pub validators: Vec<([u8; 32], u64)>,
}

/// A decoded demo block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoBlock {
    /// Height.
    pub height: u64,
    /// Previous block hash.
    pub prev_hash: [u8; 32],
    /// Time (ms).
    pub time_ms: u64,
    /// Proposer.
    pub proposer: [u8; 32],
    /// Transactions.
    pub txs: Vec<Vec<u8>>,
}

impl DemoBlock {
    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::versioned();
        w.u64(self.height);
        w.raw(&self.prev_hash);
        w.u64(self.time_ms);
        w.raw(&self.proposer);
        w.count(self.txs.len());
        for t in &self.txs {
            w.bytes(t);
        }
        w.into_inner()
    }

    /// Decodes (bounded by the input).
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        let f = || -> Result<DemoBlock, crate::codec::DecodeError> {
            let mut r = Reader::versioned(b)?;
            let height = r.u64()?;
            let prev_hash = r.array()?;
            let time_ms = r.u64()?;
            let proposer = r.array()?;
            let n = r.count("transactions", 4, 1_000_000)?;
            let mut txs = Vec::with_capacity(n);
            for _ in 0..n {
                txs.push(r.bytes()?.to_vec());
            }
            r.finish()?;
            Ok(DemoBlock {
                height,
                prev_hash,
                time_ms,
                proposer,
                txs,
            })
        };
        f().map_err(|e| format!("bad block encoding: {e}"))
    }
}

fn demo_meta(tx: &[u8]) -> Result<TxMeta, String> {
    if tx.len() < 40 || tx.len() > DEMO_MAX_TX {
        return Err(format!(
            "transaction size {} outside 40..={DEMO_MAX_TX}",
            tx.len()
        ));
    }
    let mut sender = [0u8; 32];
    sender.copy_from_slice(&tx[..32]);
    let mut n = [0u8; 8];
    n.copy_from_slice(&tx[32..40]);
    Ok(TxMeta {
        id: Sha256::digest(tx).into(),
        sender,
        nonce: u64::from_be_bytes(n),
    })
}

/// Heights between a committed validator change and its effect.
pub const VALIDATOR_DELAY: u64 = 2;

fn encode_vset(vs: &[([u8; 32], u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(vs.len() * 40);
    for (k, p) in vs {
        out.extend_from_slice(k);
        out.extend_from_slice(&p.to_be_bytes());
    }
    out
}

fn decode_vset(b: &[u8]) -> Vec<([u8; 32], u64)> {
    b.chunks_exact(40)
        .filter_map(|c| {
            let k: [u8; 32] = c[..32].try_into().ok()?;
            let p = u64::from_be_bytes(c[32..].try_into().ok()?);
            Some((k, p))
        })
        .collect()
}

fn power_change(tx: &[u8]) -> Option<([u8; 32], u64)> {
    let p = tx.get(40..)?;
    if p.len() != 5 + 32 + 8 || &p[..5] != b"power" {
        return None;
    }
    Some((
        p[5..37].try_into().ok()?,
        u64::from_be_bytes(p[37..45].try_into().ok()?),
    ))
}

fn count_key(sender: &[u8; 32]) -> Vec<u8> {
    let mut k = b"demo/count/".to_vec();
    k.extend_from_slice(sender);
    k
}

impl DemoApp {
    /// The validators of `height` (at least the next height to commit):
    /// state keeps the latest change (`demo/vset/latest` = u64 effective
    /// height ‖ set) and the set before it (`demo/vset/prev`).
    fn validators_at(&self, state: &dyn StateRead, height: u64) -> Vec<([u8; 32], u64)> {
        if let Some(v) = state.get(b"demo/vset/latest") {
            if v.len() >= 8 {
                let mut e = [0u8; 8];
                e.copy_from_slice(&v[..8]);
                if u64::from_be_bytes(e) <= height {
                    return decode_vset(&v[8..]);
                }
                if let Some(p) = state.get(b"demo/vset/prev") {
                    return decode_vset(&p);
                }
            }
        }
        self.validators.clone()
    }

    fn execute(&self, state: &dyn StateRead, b: &DemoBlock) -> Result<Executed, String> {
        let mut counts: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
        let mut ids = Vec::with_capacity(b.txs.len());
        let mut vset: Option<Vec<([u8; 32], u64)>> = None;
        for t in &b.txs {
            let m = demo_meta(t)?;
            let k = count_key(&m.sender);
            let cur = match counts.get(&k) {
                Some(c) => *c,
                None => state
                    .get(&k)
                    .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0),
            };
            if m.nonce != cur {
                return Err(format!("nonce {} where {} expected", m.nonce, cur));
            }
            counts.insert(k, cur + 1);
            ids.push(m.id);
            if let Some((key, power)) = power_change(t) {
                let mut vs = match &vset {
                    Some(v) => v.clone(),
                    None => self.validators_at(state, b.height + VALIDATOR_DELAY),
                };
                match vs.iter_mut().find(|(k, _)| *k == key) {
                    Some(e) => e.1 = power,
                    None => vs.push((key, power)),
                }
                vs.retain(|(_, p)| *p > 0);
                if vs.is_empty() {
                    return Err("a validator change would leave no validators".into());
                }
                vset = Some(vs);
            }
        }
        let mut diff: Vec<_> = counts
            .into_iter()
            .map(|(k, v)| (k, Some(v.to_be_bytes().to_vec())))
            .collect();
        if let Some(vs) = vset {
            let eff = b.height + VALIDATOR_DELAY;
            let mut latest = eff.to_be_bytes().to_vec();
            latest.extend_from_slice(&encode_vset(&vs));
            let prev = encode_vset(&self.validators_at(state, b.height + 1));
            diff.push((b"demo/vset/latest".to_vec(), Some(latest)));
            diff.push((b"demo/vset/prev".to_vec(), Some(prev)));
            diff.sort();
        }
        Ok(Executed { diff, tx_ids: ids })
    }
}

impl App for DemoApp {
    fn genesis_state(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        Vec::new()
    }

    fn build(
        &self,
        state: &dyn StateRead,
        ctx: &BuildCtx,
        candidates: &mut dyn Iterator<Item = Arc<Vec<u8>>>,
    ) -> Result<Built, String> {
        let mut txs = Vec::new();
        let mut rejected = Vec::new();
        let mut next: std::collections::BTreeMap<[u8; 32], u64> = Default::default();
        for t in candidates.take(20_000) {
            let Ok(m) = demo_meta(&t) else { continue };
            let expect = *next.entry(m.sender).or_insert_with(|| {
                state
                    .get(&count_key(&m.sender))
                    .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0)
            });
            if m.nonce == expect {
                next.insert(m.sender, expect + 1);
                txs.push(t.to_vec());
            } else if m.nonce < expect {
                rejected.push((m.id, format!("stale nonce {}", m.nonce)));
            }
        }
        let b = DemoBlock {
            height: ctx.height,
            prev_hash: ctx.prev_hash,
            time_ms: ctx.time_ms,
            proposer: ctx.proposer,
            txs,
        };
        let executed = self.execute(state, &b)?;
        Ok(Built {
            block: b.encode(),
            executed,
            rejected,
        })
    }

    fn check(
        &self,
        state: &dyn StateRead,
        height: u64,
        prev_hash: [u8; 32],
        block: &[u8],
    ) -> Result<Executed, String> {
        let b = DemoBlock::decode(block)?;
        if b.height != height {
            return Err(format!("block height {} at height {height}", b.height));
        }
        if b.prev_hash != prev_hash {
            return Err("wrong previous block hash".into());
        }
        self.execute(state, &b)
    }

    fn validators(
        &self,
        state: &dyn StateRead,
        height: u64,
    ) -> Result<Vec<([u8; 32], u64)>, String> {
        Ok(self.validators_at(state, height))
    }

    fn check_tx(&self, state: &dyn StateRead, tx: &[u8]) -> Result<TxMeta, String> {
        let m = demo_meta(tx)?;
        let cur = state
            .get(&count_key(&m.sender))
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        if m.nonce < cur {
            return Err(format!("nonce {} already used (next is {cur})", m.nonce));
        }
        Ok(m)
    }

    fn summarize(&self, block: &[u8]) -> Result<BlockSummary, String> {
        let b = DemoBlock::decode(block)?;
        Ok(BlockSummary {
            height: b.height,
            prev_hash: hex::encode(b.prev_hash),
            time_ms: b.time_ms,
            proposer: hex::encode(b.proposer),
            tx_count: b.txs.len(),
            state_root: None,
            body: None,
        })
    }

    fn max_tx_size(&self) -> usize {
        DEMO_MAX_TX
    }

    fn query(
        &self,
        state: &dyn StateRead,
        kind: &str,
        arg: &str,
        _: &TxLocator<'_>,
    ) -> Result<serde_json::Value, QueryError> {
        match kind {
            "account" => {
                let k = crate::config::parse_key(arg).map_err(QueryError::BadInput)?;
                let n = state
                    .get(&count_key(&k))
                    .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                Ok(serde_json::json!({"address": arg, "nonce": n}))
            }
            k => Err(QueryError::Unsupported(k.to_string())),
        }
    }
}
