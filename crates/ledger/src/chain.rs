//! Chain records kept in state (`s/…` keys) and the validator set.
//!
//! ```text
//! s/chain      u8 1, str8 chain_id, Params
//! s/head       the last applied BlockHeader, encoded with state_root = 0
//!              (the real state root is the tree's root, computed from state)
//! s/log        u8 1, u64 size, popcount(size) × [32] frontier hashes
//! s/stakers    u8 1, u32 n, n × ([32] address, u64 bonded), by address
//! s/vs/<h>     u8 1, u32 n, n × ([32] address, [32] key, u64 power),
//!              by power (descending), then address
//! s/ub/<h>     u8 1, u32 n, n × ([32] address, u64 amount)
//! ```

use std::collections::BTreeMap;

use btl_tlog::Frontier;
use sha2::{Digest, Sha256};

use crate::block::BlockHeader;
use crate::codec::{DecodeError, Reader, Writer};
use crate::keys::{Address, PublicKey};
use crate::params::{check_chain_id, Params, MAX_CHAIN_ID_BYTES};
use crate::records::{Account, Validator};
use crate::smt;
use crate::state::{key, StateRead};

/// Errors reading chain records: the state is missing them or they are
/// corrupt (a bug or a damaged database, never user input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A required record is missing (was genesis applied?).
    #[error("state has no {0} record (was the genesis applied?)")]
    Missing(&'static str),
    /// A record does not decode.
    #[error("state record {what} is corrupt: {error}")]
    Corrupt {
        /// The record.
        what: &'static str,
        /// The decode error.
        error: DecodeError,
    },
    /// The state tree is corrupt.
    #[error(transparent)]
    Tree(#[from] smt::SmtError),
}

pub(crate) fn corrupt(what: &'static str) -> impl FnOnce(DecodeError) -> StateError {
    move |error| StateError::Corrupt { what, error }
}

/// Chain id and parameters (`s/chain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInfo {
    /// Chain id.
    pub chain_id: String,
    /// Parameters.
    pub params: Params,
}

impl ChainInfo {
    /// Stored encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(1);
        w.str8(&self.chain_id);
        self.params.encode(&mut w);
        w.finish()
    }

    /// Decodes the stored encoding.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        if r.u8("chain info version")? != 1 {
            return Err(DecodeError::Invalid("chain info version"));
        }
        let chain_id = r.str8(MAX_CHAIN_ID_BYTES, "chain id")?;
        check_chain_id(&chain_id)?;
        let params = Params::decode(&mut r)?;
        r.finish()?;
        Ok(Self { chain_id, params })
    }

    /// Reads `s/chain`.
    pub fn load(state: &(impl StateRead + ?Sized)) -> Result<Self, StateError> {
        let b = state.get(key::CHAIN).ok_or(StateError::Missing("chain"))?;
        Self::decode(&b).map_err(corrupt("chain"))
    }
}

/// The header of the last applied block (genesis: height 0), with its state
/// root filled in from the state tree.
pub fn last_header(state: &(impl StateRead + ?Sized)) -> Result<BlockHeader, StateError> {
    let b = state.get(key::HEAD).ok_or(StateError::Missing("head"))?;
    let mut h = BlockHeader::decode(&b).map_err(corrupt("head"))?;
    h.state_root = smt::root(state)?;
    Ok(h)
}

/// The state root of a state.
pub fn state_root(state: &(impl StateRead + ?Sized)) -> Result<[u8; 32], StateError> {
    Ok(smt::root(state)?)
}

pub(crate) fn encode_head(h: &BlockHeader) -> Vec<u8> {
    let mut h = h.clone();
    h.state_root = [0; 32];
    h.encode()
}

/// Reads the registry log frontier (`s/log`).
pub fn load_log(state: &(impl StateRead + ?Sized)) -> Result<Frontier, StateError> {
    let b = state.get(key::LOG).ok_or(StateError::Missing("log"))?;
    decode_log(&b).map_err(corrupt("log"))
}

pub(crate) fn encode_log(f: &Frontier) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(1);
    w.u64(f.size());
    for h in f.hashes() {
        w.bytes(h);
    }
    w.finish()
}

fn decode_log(b: &[u8]) -> Result<Frontier, DecodeError> {
    let mut r = Reader::new(b);
    if r.u8("log version")? != 1 {
        return Err(DecodeError::Invalid("log version"));
    }
    let size = r.u64("log size")?;
    let mut hashes = Vec::new();
    for _ in 0..size.count_ones() {
        hashes.push(r.array("log hash")?);
    }
    r.finish()?;
    Frontier::from_parts(size, hashes).ok_or(DecodeError::Invalid("log frontier"))
}

/// Reads the staker index: address → bonded stake.
pub fn load_stakers(
    state: &(impl StateRead + ?Sized),
) -> Result<BTreeMap<Address, u64>, StateError> {
    let Some(b) = state.get(key::STAKERS) else {
        return Ok(BTreeMap::new());
    };
    decode_pairs(&b, 100_000).map_err(corrupt("stakers"))
}

pub(crate) fn encode_pairs(m: impl ExactSizeIterator<Item = (Address, u64)>) -> Vec<u8> {
    let mut w = Writer::with_capacity(5 + m.len() * 40);
    w.u8(1);
    w.u32(m.len() as u32);
    for (a, v) in m {
        w.bytes(&a.0);
        w.u64(v);
    }
    w.finish()
}

pub(crate) fn decode_pairs(b: &[u8], max: usize) -> Result<BTreeMap<Address, u64>, DecodeError> {
    let v = decode_pair_list(b, max)?;
    Ok(v.into_iter().collect())
}

pub(crate) fn decode_pair_list(b: &[u8], max: usize) -> Result<Vec<(Address, u64)>, DecodeError> {
    let mut r = Reader::new(b);
    if r.u8("list version")? != 1 {
        return Err(DecodeError::Invalid("list version"));
    }
    let n = r.u32("count")? as usize;
    let n = r.check_count(n, max, 40, "entries")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push((Address(r.array("address")?), r.u64("amount")?));
    }
    r.finish()?;
    Ok(out)
}

/// Encodes a validator set (`s/vs/<h>` value).
pub fn encode_validators(set: &[Validator]) -> Vec<u8> {
    let mut w = Writer::with_capacity(5 + set.len() * 72);
    w.u8(1);
    w.u32(set.len() as u32);
    for v in set {
        w.bytes(&v.address.0);
        w.bytes(&v.pubkey.0);
        w.u64(v.power);
    }
    w.finish()
}

/// Decodes a validator set.
pub fn decode_validators(b: &[u8]) -> Result<Vec<Validator>, DecodeError> {
    let mut r = Reader::new(b);
    if r.u8("validator set version")? != 1 {
        return Err(DecodeError::Invalid("validator set version"));
    }
    let n = r.u32("validator count")? as usize;
    let n = r.check_count(n, 1000, 72, "validators")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Validator {
            address: Address(r.array("address")?),
            pubkey: PublicKey(r.array("key")?),
            power: r.u64("power")?,
        });
    }
    r.finish()?;
    Ok(out)
}

/// The hash committed in block headers:
/// `SHA-256("btl-ledger/validators/v1" || encoding)`.
pub fn validators_hash(set: &[Validator]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"btl-ledger/validators/v1");
    h.update(encode_validators(set));
    h.finalize().into()
}

/// The validator set of `height`, as stored in `state`. A state committed
/// at height h holds the sets of heights up to h + D (D =
/// `validator_delay`), so a node at h knows the next D sets.
pub fn validator_set(
    state: &(impl StateRead + ?Sized),
    height: u64,
) -> Result<Vec<Validator>, StateError> {
    let b = state
        .get(&key::validator_set(height))
        .ok_or(StateError::Missing("validator set for that height"))?;
    decode_validators(&b).map_err(corrupt("validator set"))
}

/// Reputation factor applied to stake, in thousandths (1000 = 1.0; neutral
/// until reputation exists).
pub const REPUTATION_FACTOR_PERMILLE: u64 = 1000;

/// Derives a validator set from stakes: accounts with at least
/// `min_validator_stake` bonded, the top `max_validators` by stake (ties by
/// address), power = stake × reputation factor. `key_of` gives each
/// account's current key.
pub fn derive_validator_set(
    stakers: &BTreeMap<Address, u64>,
    params: &Params,
    mut key_of: impl FnMut(&Address) -> PublicKey,
) -> Vec<Validator> {
    let mut cands: Vec<(Address, u64)> = stakers
        .iter()
        .filter(|(_, s)| **s >= params.min_validator_stake.max(1))
        .map(|(a, s)| (*a, *s))
        .collect();
    cands.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    cands.truncate(params.max_validators as usize);
    cands
        .into_iter()
        .map(|(address, stake)| Validator {
            address,
            pubkey: key_of(&address),
            power: ((u128::from(stake) * u128::from(REPUTATION_FACTOR_PERMILLE)) / 1000)
                .min(u128::from(u64::MAX)) as u64,
        })
        .collect()
}

/// Reads an account (`None` if it does not exist).
pub fn load_account(
    state: &(impl StateRead + ?Sized),
    addr: &Address,
) -> Result<Option<Account>, StateError> {
    match state.get(&key::account(&addr.0)) {
        None => Ok(None),
        Some(b) => Account::decode(&b).map(Some).map_err(corrupt("account")),
    }
}
