//! The seam between the consensus node and the state machine it runs.
//!
//! The node owns consensus, storage, the mempool and the HTTP API; an
//! [`App`] owns the meaning of blocks and transactions: it builds a block
//! from candidate transactions, checks and executes a proposed block
//! against committed state, and says which validators run each height. It
//! never touches the disk: it reads committed state through [`StateRead`]
//! and returns the writes a block causes, which the node stores atomically
//! with the block. The bitorrent ledger
//! ([`crate::ledger_app::LedgerApp`]) is the app `btl ledger run` runs.

use std::sync::Arc;

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

    /// The version of the app's stored state layout. A database is stamped
    /// with it when first started, and a node refuses a database stamped
    /// with another version (databases from before stamping count as 1).
    fn state_layout(&self) -> u32 {
        1
    }

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

    /// The state root of committed state (what the next block header
    /// would commit to), if the app has one. Replay compares it with the
    /// tip header's.
    fn state_root(&self, state: &dyn StateRead) -> Option<[u8; 32]> {
        let _ = state;
        None
    }

    /// Admission check for the mempool.
    fn check_tx(&self, state: &dyn StateRead, tx: &[u8]) -> Result<TxMeta, String>;

    /// Checks the signatures of transactions about to be admitted together,
    /// as one batch, so that [`Self::check_tx`] then need not check them one
    /// by one. Only a speed-up: `check_tx` must give the same answers
    /// without it.
    fn preverify(&self, txs: &[&[u8]]) {
        let _ = txs;
    }

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
