//! `apply_block`, `build_block`, `check_tx`: the ledger's state transition.

use btl_tlog::Frontier;

use crate::block::{tx_root, Block, BlockHeader};
use crate::chain::{self, ChainInfo, StateError};
use crate::codec::DecodeError;
use crate::events::Event;
use crate::exec::{Exec, NonceRule, SigCache, TxError};
use crate::keys::{Address, PublicKey};
use crate::records::Validator;
use crate::smt;
use crate::state::{is_authenticated, key, StateDiff, StateRead};
use crate::tx::{SignedTx, TxId};

/// Why a block is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// The encoding is malformed.
    #[error("malformed block: {0}")]
    Malformed(#[from] DecodeError),
    /// The header names another chain.
    #[error("block is for chain {found:?}, this is {expected:?}")]
    WrongChain {
        /// This chain.
        expected: String,
        /// The header's.
        found: String,
    },
    /// The height is not the next one.
    #[error("block height {found}, expected {expected}")]
    WrongHeight {
        /// The next height.
        expected: u64,
        /// The header's.
        found: u64,
    },
    /// The previous hash is not the last block's hash.
    #[error("previous block hash does not match")]
    WrongPrevHash,
    /// The time is before the previous block's.
    #[error("block time {found} ms is before the previous block's {prev} ms")]
    TimeTooEarly {
        /// The previous block's time.
        prev: u64,
        /// The header's.
        found: u64,
    },
    /// The proposer is not in this height's validator set.
    #[error("proposer {0} is not a validator at this height")]
    UnknownValidator(Address),
    /// The validators hash does not match this height's set.
    #[error("validators hash does not match this height's validator set")]
    WrongValidatorsHash,
    /// Too many transactions.
    #[error("{found} transactions, the limit is {max}")]
    TooManyTxs {
        /// Found.
        found: usize,
        /// Limit.
        max: usize,
    },
    /// The transactions are too large in total.
    #[error("transactions take {found} bytes, the limit is {max}")]
    Oversize {
        /// Found.
        found: usize,
        /// Limit.
        max: usize,
    },
    /// The transaction root does not match the transactions.
    #[error("transaction root does not match")]
    WrongTxRoot,
    /// A transaction is invalid.
    #[error("transaction {index} ({id}): {error}")]
    Tx {
        /// Index in the block.
        index: usize,
        /// Its id.
        id: TxId,
        /// Why.
        error: TxError,
    },
    /// The registry log size or root does not match.
    #[error("registry log size/root does not match")]
    WrongLog,
    /// The state root does not match.
    #[error("state root does not match (computed {computed})")]
    WrongStateRoot {
        /// The root this node computed, hex.
        computed: String,
    },
    /// The state is corrupt (not the block's fault).
    #[error("state error: {0}")]
    State(#[from] StateError),
}

/// The result of applying (or building) a block.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The header (for `apply_block`, the block's own).
    pub header: BlockHeader,
    /// State writes, including state-tree and log nodes.
    pub diff: StateDiff,
    /// What happened.
    pub events: Vec<Event>,
}

/// A block built by a proposer, with its effects.
#[derive(Debug, Clone)]
pub struct BuiltBlock {
    /// The block, with a complete header.
    pub block: Block,
    /// Its state writes.
    pub diff: StateDiff,
    /// Its events.
    pub events: Vec<Event>,
    /// Candidates left out, with the reason. Permanent reasons
    /// ([`TxError::is_permanent`]) mean the mempool should drop them.
    pub rejected: Vec<(TxId, TxError)>,
}

/// What the proposer supplies to [`build_block`]; height and previous hash
/// come from the state.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// Block time, ms since the Unix epoch (raised to the previous block's
    /// time if earlier).
    pub time_ms: u64,
    /// The proposer's address.
    pub proposer: Address,
    /// Optional lower limit on transactions than the chain's.
    pub max_txs: Option<usize>,
    /// Optional lower limit on total transaction bytes than the chain's.
    pub max_bytes: Option<usize>,
}

/// What admission found about a valid transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxCheck {
    /// Its id.
    pub id: TxId,
    /// The key its signature verified with (for a [`SigCache`]).
    pub key: PublicKey,
    /// Its encoded size.
    pub len: usize,
}

struct Prepared {
    info: ChainInfo,
    prev: BlockHeader,
    height: u64,
    set: Vec<Validator>,
}

fn prepare(state: &(impl StateRead + ?Sized)) -> Result<Prepared, BlockError> {
    let info = ChainInfo::load(state)?;
    let prev = chain::last_header(state)?;
    let height = prev.height + 1;
    let set = chain::validator_set(state, height)?;
    Ok(Prepared {
        info,
        prev,
        height,
        set,
    })
}

/// Finishes a block: end-of-block effects, head, state tree. Returns the
/// header (with `state_root`), the diff and the events.
fn seal<S: StateRead + ?Sized>(
    mut exec: Exec<'_, S>,
    mut header: BlockHeader,
) -> Result<Applied, BlockError> {
    exec.finish_block(&header.proposer).map_err(|e| match e {
        TxError::State(s) => BlockError::State(s),
        _ => BlockError::State(StateError::Missing("end-of-block effects")),
    })?;
    let log: Frontier = exec.log_frontier().map_err(|e| match e {
        TxError::State(s) => BlockError::State(s),
        _ => BlockError::State(StateError::Missing("log")),
    })?;
    header.log_size = log.size();
    header.log_root = log.root();
    exec.st.put(key::HEAD.to_vec(), chain::encode_head(&header));
    let events = std::mem::take(&mut exec.events);
    let base = exec.st.base();
    let writes = exec.st.into_writes();
    let mut updates = Vec::with_capacity(writes.len());
    for (k, v) in &writes {
        if is_authenticated(k) {
            updates.push((smt::key_hash(k), v.as_deref().map(smt::value_hash)));
        }
    }
    let mut all: Vec<(Vec<u8>, Option<Vec<u8>>)> = writes.into_iter().collect();
    let root = smt::update(base, updates, |k, v| all.push((k, v)))
        .map_err(|e| BlockError::State(StateError::Tree(e)))?;
    header.state_root = root;
    let diff = StateDiff::from_writes(all);
    Ok(Applied {
        header,
        diff,
        events,
    })
}

/// Applies a block to `state`: checks the header (chain, height, previous
/// hash, time, proposer, validators hash, transaction root, log, state
/// root) and every transaction. Pure: the caller commits the returned diff.
///
/// ```
/// use btl_ledger::*;
/// use btl_ledger::ed25519_dalek::SigningKey;
///
/// let key = SigningKey::from_bytes(&[1; 32]);
/// let me = PublicKey::from_signing_key(&key);
/// let genesis = Genesis::single_validator("example", me, 1_000, 0);
/// let mut state = MemState::new();
/// state.apply(&genesis.build().unwrap().0);
///
/// // The proposer builds a block from candidate transactions ...
/// let tx = Tx {
///     from: me.address(),
///     nonce: 0,
///     fee: 1,
///     body: TxBody::Transfer { to: Address([9; 32]), amount: 5 },
/// }
/// .sign("example", &key);
/// let ctx = BuildContext { time_ms: 1_000, proposer: me.address(), max_txs: None, max_bytes: None };
/// let built = build_block(&state, &ctx, vec![tx], &()).unwrap();
/// assert!(built.rejected.is_empty());
///
/// // ... and every validator applies it and gets the same diff.
/// let applied = apply_block(&state, &built.block).unwrap();
/// assert_eq!(applied.diff, built.diff);
/// state.apply(&applied.diff);
/// assert_eq!(query::account(&state, &Address([9; 32])).unwrap().unwrap().balance, 5);
/// ```
pub fn apply_block(
    state: &(impl StateRead + ?Sized),
    block: &Block,
) -> Result<Applied, BlockError> {
    apply_block_with(state, block, &())
}

/// [`apply_block`] with a cache of signatures verified at admission.
pub fn apply_block_with(
    state: &(impl StateRead + ?Sized),
    block: &Block,
    cache: &dyn SigCache,
) -> Result<Applied, BlockError> {
    let p = prepare(state)?;
    let h = &block.header;
    if h.chain_id != p.info.chain_id {
        return Err(BlockError::WrongChain {
            expected: p.info.chain_id,
            found: h.chain_id.clone(),
        });
    }
    let params = &p.info.params;
    if block.txs.len() > params.max_block_txs as usize {
        return Err(BlockError::TooManyTxs {
            found: block.txs.len(),
            max: params.max_block_txs as usize,
        });
    }
    if h.height != p.height {
        return Err(BlockError::WrongHeight {
            expected: p.height,
            found: h.height,
        });
    }
    if h.prev_hash != p.prev.hash() {
        return Err(BlockError::WrongPrevHash);
    }
    if h.time_ms < p.prev.time_ms {
        return Err(BlockError::TimeTooEarly {
            prev: p.prev.time_ms,
            found: h.time_ms,
        });
    }
    if !p.set.iter().any(|v| v.address == h.proposer) {
        return Err(BlockError::UnknownValidator(h.proposer));
    }
    if h.validators_hash != chain::validators_hash(&p.set) {
        return Err(BlockError::WrongValidatorsHash);
    }
    let chain_id = &p.info.chain_id;
    let mut ids = Vec::with_capacity(block.txs.len());
    let mut lens = Vec::with_capacity(block.txs.len());
    let mut total = 0usize;
    for stx in &block.txs {
        let len = stx.encode().len();
        total += len;
        lens.push(len);
        ids.push(stx.id(chain_id));
    }
    if total > params.max_block_bytes as usize {
        return Err(BlockError::Oversize {
            found: total,
            max: params.max_block_bytes as usize,
        });
    }
    if tx_root(&ids) != h.tx_root {
        return Err(BlockError::WrongTxRoot);
    }
    let mut exec = Exec::new(state, chain_id.clone(), params.clone(), p.height);
    exec.release_unbonding()?;
    for (i, stx) in block.txs.iter().enumerate() {
        exec.run(stx, lens[i], Some(i as u32), NonceRule::Exact, cache, true)
            .map_err(|error| match error {
                TxError::State(s) => BlockError::State(s),
                error => BlockError::Tx {
                    index: i,
                    id: ids[i],
                    error,
                },
            })?;
    }
    let mut expect = h.clone();
    expect.state_root = [0; 32];
    let applied = seal(exec, expect)?;
    if applied.header.log_size != h.log_size || applied.header.log_root != h.log_root {
        return Err(BlockError::WrongLog);
    }
    if applied.header.state_root != h.state_root {
        return Err(BlockError::WrongStateRoot {
            computed: hex::encode(applied.header.state_root),
        });
    }
    Ok(applied)
}

/// Builds the next block from `candidates` (in order; invalid ones are left
/// out and reported). Pure: the caller proposes the block and, once it is
/// decided, commits the diff.
pub fn build_block(
    state: &(impl StateRead + ?Sized),
    ctx: &BuildContext,
    candidates: impl IntoIterator<Item = SignedTx>,
    cache: &dyn SigCache,
) -> Result<BuiltBlock, BlockError> {
    let p = prepare(state)?;
    if !p.set.iter().any(|v| v.address == ctx.proposer) {
        return Err(BlockError::UnknownValidator(ctx.proposer));
    }
    let params = &p.info.params;
    let chain_id = p.info.chain_id.clone();
    let max_txs = ctx
        .max_txs
        .unwrap_or(usize::MAX)
        .min(params.max_block_txs as usize);
    let max_bytes = ctx
        .max_bytes
        .unwrap_or(usize::MAX)
        .min(params.max_block_bytes as usize);
    let mut exec = Exec::new(state, chain_id.clone(), params.clone(), p.height);
    exec.release_unbonding()?;
    let mut txs = Vec::new();
    let mut ids = Vec::new();
    let mut rejected = Vec::new();
    let mut total = 0usize;
    for stx in candidates {
        if txs.len() >= max_txs {
            break;
        }
        let len = stx.encode().len();
        if total + len > max_bytes {
            if total + 200 > max_bytes {
                break;
            }
            continue;
        }
        let idx = txs.len() as u32;
        match exec.run(&stx, len, Some(idx), NonceRule::Exact, cache, true) {
            Ok((id, _)) => {
                total += len;
                ids.push(id);
                txs.push(stx);
            }
            Err(TxError::State(s)) => return Err(BlockError::State(s)),
            Err(e) => rejected.push((stx.id(&chain_id), e)),
        }
    }
    let header = BlockHeader {
        chain_id,
        height: p.height,
        prev_hash: p.prev.hash(),
        time_ms: ctx.time_ms.max(p.prev.time_ms),
        proposer: ctx.proposer,
        tx_root: tx_root(&ids),
        state_root: [0; 32],
        log_size: 0,
        log_root: [0; 32],
        validators_hash: chain::validators_hash(&p.set),
    };
    let applied = seal(exec, header)?;
    Ok(BuiltBlock {
        block: Block {
            header: applied.header,
            txs,
        },
        diff: applied.diff,
        events: applied.events,
        rejected,
    })
}

/// Checks a transaction for mempool admission against committed state:
/// size, fee, signature, nonce (not used yet, and at most
/// [`crate::exec::MAX_NONCE_AHEAD`] ahead), funds, and the type's rules.
/// A transaction that passes may still fail in a block (state changes).
pub fn check_tx(state: &(impl StateRead + ?Sized), stx: &SignedTx) -> Result<TxCheck, TxError> {
    check_tx_with(state, stx, &())
}

fn check_tx_with(
    state: &(impl StateRead + ?Sized),
    stx: &SignedTx,
    sigs: &impl SigCache,
) -> Result<TxCheck, TxError> {
    let info = ChainInfo::load(state)?;
    let len = stx.encode().len();
    let mut exec = Exec::new(state, info.chain_id, info.params, 0);
    let (id, key) = exec.run(stx, len, None, NonceRule::Window, sigs, false)?;
    Ok(TxCheck { id, key, len })
}

/// Decodes and checks a transaction from bytes (see [`check_tx`]).
pub fn check_tx_bytes(
    state: &(impl StateRead + ?Sized),
    bytes: &[u8],
) -> Result<(SignedTx, TxCheck), TxError> {
    check_tx_bytes_with(state, bytes, &())
}

/// [`check_tx_bytes`], trusting the signatures `sigs` already verified
/// (for instance by [`preverify`]).
pub fn check_tx_bytes_with(
    state: &(impl StateRead + ?Sized),
    bytes: &[u8],
    sigs: &impl SigCache,
) -> Result<(SignedTx, TxCheck), TxError> {
    let stx = SignedTx::decode(bytes)?;
    let c = check_tx_with(state, &stx, sigs)?;
    Ok((stx, c))
}

/// Verifies the signatures of many encoded transactions at once
/// ([`crate::sig::verify_batch`]), each against the key its sender
/// address names, and returns the ones that verified, for a
/// [`crate::VerifiedSigs`] cache. Undecodable transactions are skipped;
/// so is a sender whose key was rotated (the entry would not match its
/// current key, and the transaction is then checked alone).
pub fn preverify(chain_id: &str, txs: &[&[u8]]) -> Vec<(TxId, [u8; 64], PublicKey)> {
    let decoded: Vec<(SignedTx, Vec<u8>)> = txs
        .iter()
        .filter_map(|b| SignedTx::decode(b).ok())
        .map(|stx| {
            let msg = stx.tx.signing_message(chain_id);
            (stx, msg)
        })
        .collect();
    let items: Vec<crate::sig::Item<'_>> = decoded
        .iter()
        .map(|(stx, msg)| crate::sig::Item {
            key: &stx.tx.from.0,
            msg,
            sig: &stx.signature,
        })
        .collect();
    let ok = crate::sig::verify_batch(&items);
    decoded
        .iter()
        .zip(ok)
        .filter(|(_, ok)| *ok)
        .map(|((stx, msg), _)| {
            let id = TxId::of_signing_message(msg);
            (id, stx.signature, stx.tx.from.key())
        })
        .collect()
}
