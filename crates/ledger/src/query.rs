//! Typed reads of state, and proofs a light client can check against a
//! block header's state root.
//!
//! ```
//! use btl_ledger::*;
//! use btl_ledger::ed25519_dalek::SigningKey;
//!
//! let me = PublicKey::from_signing_key(&SigningKey::from_bytes(&[1; 32]));
//! let mut state = MemState::new();
//! let (diff, header) = Genesis::single_validator("example", me, 1_000, 0).build().unwrap();
//! state.apply(&diff);
//!
//! // A full node answers with a value and a proof ...
//! let (account, proof) = query::prove_account(&state, &me.address()).unwrap();
//! // ... and a light client that trusts `header.state_root` checks it.
//! query::verify_account(&header.state_root, &me.address(), account.as_ref(), &proof).unwrap();
//! assert_eq!(account.unwrap().bonded, 1_000);
//!
//! // Absence is provable too.
//! let nobody = Address([7; 32]);
//! let (none, proof) = query::prove_account(&state, &nobody).unwrap();
//! assert!(none.is_none());
//! query::verify_account(&header.state_root, &nobody, None, &proof).unwrap();
//! ```

use crate::chain::{self, corrupt, StateError};
use crate::keys::{Address, PublicKey};
use crate::records::{Account, HistoryItem, KeyRecord, KeyStatus, TorrentRecord, TrackerRecord};
use crate::smt::{self, SmtError, StateProof};
use crate::state::{key, StateRead};

/// An account, if it exists.
pub fn account(
    state: &(impl StateRead + ?Sized),
    addr: &Address,
) -> Result<Option<Account>, StateError> {
    chain::load_account(state, addr)
}

/// A torrent by v2 infohash.
pub fn torrent(
    state: &(impl StateRead + ?Sized),
    infohash_v2: &[u8; 32],
) -> Result<Option<TorrentRecord>, StateError> {
    match state.get(&key::torrent(infohash_v2)) {
        None => Ok(None),
        Some(b) => TorrentRecord::decode(&b)
            .map(Some)
            .map_err(corrupt("torrent")),
    }
}

/// Most items in a torrent's history (its registration and amendments).
pub const MAX_HISTORY: u32 = 1024;

/// The number of history items of a torrent.
pub fn history_len(state: &(impl StateRead + ?Sized), infohash_v2: &[u8; 32]) -> u32 {
    let mut n = 0;
    while n < MAX_HISTORY && state.get(&key::torrent_history(infohash_v2, n)).is_some() {
        n += 1;
    }
    n
}

/// A torrent's history, oldest first.
pub fn history(
    state: &(impl StateRead + ?Sized),
    infohash_v2: &[u8; 32],
) -> Result<Vec<HistoryItem>, StateError> {
    let mut out = Vec::new();
    for seq in 0..MAX_HISTORY {
        let Some(b) = state.get(&key::torrent_history(infohash_v2, seq)) else {
            break;
        };
        out.push(HistoryItem::decode(&b).map_err(corrupt("torrent history"))?);
    }
    Ok(out)
}

/// A torrent by v1 infohash (hybrid torrents).
pub fn torrent_by_v1(
    state: &(impl StateRead + ?Sized),
    infohash_v1: &[u8; 20],
) -> Result<Option<TorrentRecord>, StateError> {
    let Some(b) = state.get(&key::torrent_v1(infohash_v1)) else {
        return Ok(None);
    };
    let ih2: [u8; 32] = b
        .try_into()
        .map_err(|_| StateError::Missing("v1 pointer"))?;
    torrent(state, &ih2)
}

/// A key's record, if it was ever rotated in, out or revoked.
pub fn key_record(
    state: &(impl StateRead + ?Sized),
    k: &PublicKey,
) -> Result<Option<KeyRecord>, StateError> {
    match state.get(&key::key_record(&k.0)) {
        None => Ok(None),
        Some(b) => KeyRecord::decode(&b)
            .map(Some)
            .map_err(corrupt("key record")),
    }
}

/// A key's status: its record's, or `Active` for a key without a record (an
/// account's original key, or a key never seen).
pub fn key_status(
    state: &(impl StateRead + ?Sized),
    k: &PublicKey,
) -> Result<KeyStatus, StateError> {
    Ok(key_record(state, k)?.map_or(KeyStatus::Active, |r| r.status()))
}

/// A tracker by URL.
pub fn tracker(
    state: &(impl StateRead + ?Sized),
    url: &str,
) -> Result<Option<TrackerRecord>, StateError> {
    use sha2::Digest as _;
    let h: [u8; 32] = sha2::Sha256::digest(url.as_bytes()).into();
    match state.get(&key::tracker(&h)) {
        None => Ok(None),
        Some(b) => TrackerRecord::decode(&b)
            .map(Some)
            .map_err(corrupt("tracker")),
    }
}

fn prove_raw(
    state: &(impl StateRead + ?Sized),
    k: &[u8],
) -> Result<(Option<Vec<u8>>, StateProof), StateError> {
    let proof = smt::prove(state, k)?;
    Ok((state.get(k), proof))
}

/// An account with its proof.
pub fn prove_account(
    state: &(impl StateRead + ?Sized),
    addr: &Address,
) -> Result<(Option<Account>, StateProof), StateError> {
    let (v, p) = prove_raw(state, &key::account(&addr.0))?;
    let a = v
        .map(|b| Account::decode(&b))
        .transpose()
        .map_err(corrupt("account"))?;
    Ok((a, p))
}

/// Checks an account (or its absence) against a state root.
pub fn verify_account(
    root: &[u8; 32],
    addr: &Address,
    account: Option<&Account>,
    proof: &StateProof,
) -> Result<(), SmtError> {
    let v = account.map(Account::encode);
    proof.verify(root, &key::account(&addr.0), v.as_deref())
}

/// A torrent with its proof.
pub fn prove_torrent(
    state: &(impl StateRead + ?Sized),
    infohash_v2: &[u8; 32],
) -> Result<(Option<TorrentRecord>, StateProof), StateError> {
    let (v, p) = prove_raw(state, &key::torrent(infohash_v2))?;
    let t = v
        .map(|b| TorrentRecord::decode(&b))
        .transpose()
        .map_err(corrupt("torrent"))?;
    Ok((t, p))
}

/// Checks a torrent record (or its absence) against a state root.
pub fn verify_torrent(
    root: &[u8; 32],
    infohash_v2: &[u8; 32],
    record: Option<&TorrentRecord>,
    proof: &StateProof,
) -> Result<(), SmtError> {
    let v = record.map(TorrentRecord::encode);
    proof.verify(root, &key::torrent(infohash_v2), v.as_deref())
}

/// A key record with its proof (absence means: never rotated or revoked).
pub fn prove_key(
    state: &(impl StateRead + ?Sized),
    k: &PublicKey,
) -> Result<(Option<KeyRecord>, StateProof), StateError> {
    let (v, p) = prove_raw(state, &key::key_record(&k.0))?;
    let r = v
        .map(|b| KeyRecord::decode(&b))
        .transpose()
        .map_err(corrupt("key record"))?;
    Ok((r, p))
}

/// Checks a key record (or its absence) against a state root, and returns
/// the key's status.
pub fn verify_key(
    root: &[u8; 32],
    k: &PublicKey,
    record: Option<&KeyRecord>,
    proof: &StateProof,
) -> Result<KeyStatus, SmtError> {
    let v = record.map(KeyRecord::encode);
    proof.verify(root, &key::key_record(&k.0), v.as_deref())?;
    Ok(record.map_or(KeyStatus::Active, KeyRecord::status))
}
