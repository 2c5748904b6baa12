//! Transaction execution over a block's overlay.
//!
//! Each handler checks every precondition before it writes anything, so a
//! rejected transaction leaves no trace (this is what lets `build_block`
//! skip bad candidates without rolling back).

use std::collections::{BTreeMap, HashMap};

use btl_tlog::Frontier;
use sha2::{Digest, Sha256};

use crate::chain::{self, StateError};
use crate::codec::DecodeError;
use crate::events::{Event, EventKind};
use crate::keys::{Address, PublicKey};
use crate::params::Params;
use crate::records::{
    Account, HistoryItem, HistoryKind, KeyRecord, Revocation, Rotation, TorrentRecord,
    TrackerRecord,
};
use crate::registry::RegistryEntry;
use crate::state::{key, Overlay, StateRead};
use crate::tx::{SignedTx, TxBody, TxId};

/// How far ahead of the account's nonce [`crate::check_tx`] accepts a
/// transaction (for a mempool holding several from one sender).
pub const MAX_NONCE_AHEAD: u64 = 64;

/// Why a transaction is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// The encoding is malformed.
    #[error("malformed transaction: {0}")]
    Malformed(#[from] DecodeError),
    /// Larger than the chain's limit.
    #[error("transaction is {len} bytes, the limit is {max}")]
    Oversize {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The fee is below the minimum.
    #[error("fee {fee} is below the minimum {min}")]
    FeeTooLow {
        /// Offered.
        fee: u64,
        /// Required.
        min: u64,
    },
    /// The sender has no account (it has never received funds).
    #[error("sender account {0} does not exist")]
    UnknownAccount(Address),
    /// The signature is not the sender's current key's.
    #[error("bad signature (not by the account's current key, or for another chain)")]
    BadSignature,
    /// The nonce was already used: a replay or a duplicate.
    #[error("nonce {got} already used (replay?); the account's next nonce is {expected}")]
    NonceTooLow {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The nonce is ahead of the account's next nonce.
    #[error("nonce {got} is ahead of the account's next nonce {expected}")]
    NonceTooHigh {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// Not enough balance for the fee and amount (an overdraft).
    #[error("insufficient funds: need {need}, have {have}")]
    InsufficientFunds {
        /// Needed.
        need: u64,
        /// Available.
        have: u64,
    },
    /// An amount of zero.
    #[error("amount must be positive")]
    ZeroAmount,
    /// An amount or balance would overflow.
    #[error("amount overflows")]
    Overflow,
    /// The sender address is a key that belongs to another account.
    #[error("address is a key of another account, not an account")]
    SenderIsForeignKey,
    /// The recipient address is a key that belongs to another account.
    #[error("recipient is a key of another account, not an account")]
    RecipientIsForeignKey,
    /// Not enough bonded stake to unstake.
    #[error("insufficient stake: need {need}, bonded {have}")]
    InsufficientStake {
        /// Asked.
        need: u64,
        /// Bonded.
        have: u64,
    },
    /// The staker index is full.
    #[error("the staker index is full ({0} stakers)")]
    StakerSetFull(u32),
    /// A registration's creator is not the sender.
    #[error("creator must be the sender")]
    CreatorMismatch,
    /// The v2 infohash is already registered.
    #[error("torrent already registered")]
    AlreadyRegistered,
    /// The v1 infohash is already registered (by another torrent).
    #[error("v1 infohash already registered")]
    InfohashV1Taken,
    /// The name is empty.
    #[error("torrent name is empty")]
    EmptyName,
    /// An amendment names a torrent that is not registered.
    #[error("torrent is not registered")]
    UnknownTorrent,
    /// Only a torrent's creator may amend it.
    #[error("only the torrent's creator may amend it")]
    NotCreator,
    /// The torrent has been amended too many times.
    #[error("the torrent's history is full")]
    HistoryFull,
    /// The tracker URL belongs to another operator.
    #[error("tracker URL is registered to another operator")]
    TrackerTaken,
    /// The tracker is already registered and active.
    #[error("tracker is already registered")]
    TrackerActive,
    /// No such tracker.
    #[error("tracker is not registered")]
    UnknownTracker,
    /// The sender does not operate the tracker.
    #[error("only the tracker's operator can retire it")]
    NotTrackerOperator,
    /// The tracker is already retired.
    #[error("tracker is already retired")]
    TrackerRetired,
    /// The new key is not a valid Ed25519 key.
    #[error("not a valid Ed25519 public key")]
    InvalidKey,
    /// The new key was used before on this chain.
    #[error("key was already used on this chain")]
    KeyInUse,
    /// No record of the key for this account.
    #[error("key does not belong to this account")]
    NotKeyOwner,
    /// The key is the account's current key (rotate first).
    #[error("cannot revoke the current key; rotate to a new key first")]
    KeyIsCurrent,
    /// Already revoked.
    #[error("key is already revoked")]
    AlreadyRevoked,
    /// The state is corrupt (not the transaction's fault).
    #[error("state error: {0}")]
    State(#[from] StateError),
}

impl TxError {
    /// Whether the transaction can never become valid (a mempool drops it);
    /// `false` for errors that later state may fix (a nonce gap, funds).
    pub fn is_permanent(&self) -> bool {
        !matches!(
            self,
            Self::NonceTooHigh { .. }
                | Self::InsufficientFunds { .. }
                | Self::UnknownAccount(_)
                | Self::InsufficientStake { .. }
                | Self::StakerSetFull(_)
                | Self::UnknownTorrent
                | Self::State(_)
        )
    }
}

/// Signatures already verified (by [`crate::check_tx`] at admission), so a
/// block need not verify them again. An entry counts only for the exact
/// signature bytes and key it was checked with.
pub trait SigCache {
    /// Whether `sig` by `key` over the transaction `id` was verified.
    fn verified(&self, id: &TxId, sig: &[u8; 64], key: &PublicKey) -> bool;
}

/// No cache: verify everything.
impl SigCache for () {
    fn verified(&self, _: &TxId, _: &[u8; 64], _: &PublicKey) -> bool {
        false
    }
}

/// A simple cache: transaction id → (signature, key) that verified.
#[derive(Debug, Clone, Default)]
pub struct VerifiedSigs {
    map: HashMap<TxId, ([u8; 64], PublicKey)>,
}

impl VerifiedSigs {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a verified signature.
    pub fn insert(&mut self, id: TxId, sig: [u8; 64], key: PublicKey) {
        self.map.insert(id, (sig, key));
    }

    /// Forgets a transaction (once committed).
    pub fn remove(&mut self, id: &TxId) {
        self.map.remove(id);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl SigCache for VerifiedSigs {
    fn verified(&self, id: &TxId, sig: &[u8; 64], key: &PublicKey) -> bool {
        self.map.get(id).is_some_and(|(s, k)| s == sig && k == key)
    }
}

/// Nonce rule: a block needs the exact next nonce; the mempool accepts a
/// window ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceRule {
    Exact,
    Window,
}

/// Executes transactions of one block over an overlay.
pub(crate) struct Exec<'a, S: StateRead + ?Sized> {
    pub(crate) st: Overlay<'a, S>,
    pub(crate) chain_id: String,
    pub(crate) params: Params,
    pub(crate) height: u64,
    pub(crate) events: Vec<Event>,
    pub(crate) fees: u64,
    log: Option<Frontier>,
    stakers: Option<BTreeMap<Address, u64>>,
    stakers_dirty: bool,
    unbond: BTreeMap<u64, Vec<(Address, u64)>>,
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

impl<'a, S: StateRead + ?Sized> Exec<'a, S> {
    pub(crate) fn new(base: &'a S, chain_id: String, params: Params, height: u64) -> Self {
        Self {
            st: Overlay::new(base),
            chain_id,
            params,
            height,
            events: Vec::new(),
            fees: 0,
            log: None,
            stakers: None,
            stakers_dirty: false,
            unbond: BTreeMap::new(),
        }
    }

    pub(crate) fn account(&self, a: &Address) -> Result<Option<Account>, TxError> {
        Ok(chain::load_account(&self.st, a)?)
    }

    fn put_account(&mut self, a: &Address, acc: &Account) {
        self.st.put(key::account(&a.0), acc.encode());
    }

    fn key_record(&self, k: &PublicKey) -> Result<Option<KeyRecord>, TxError> {
        match self.st.get(&key::key_record(&k.0)) {
            None => Ok(None),
            Some(b) => Ok(Some(
                KeyRecord::decode(&b).map_err(chain::corrupt("key record"))?,
            )),
        }
    }

    /// Appends a registry log leaf for `entry` (storing the new nodes);
    /// returns its index.
    fn append_log(&mut self, entry: &RegistryEntry) -> Result<u64, TxError> {
        let leaf = btl_tlog::leaf_hash(&entry.encode());
        let log = self.log()?;
        let log_index = log.size();
        let nodes = log.push(leaf);
        for (level, idx, hash) in nodes {
            self.st.put(key::log_node(level, idx), hash.to_vec());
        }
        Ok(log_index)
    }

    fn log(&mut self) -> Result<&mut Frontier, TxError> {
        if self.log.is_none() {
            self.log = Some(chain::load_log(&self.st)?);
        }
        // Just set above.
        self.log
            .as_mut()
            .ok_or(TxError::State(StateError::Missing("log")))
    }

    fn stakers(&mut self) -> Result<&mut BTreeMap<Address, u64>, TxError> {
        if self.stakers.is_none() {
            self.stakers = Some(chain::load_stakers(&self.st)?);
        }
        self.stakers
            .as_mut()
            .ok_or(TxError::State(StateError::Missing("stakers")))
    }

    /// The log frontier after this block's appends.
    pub(crate) fn log_frontier(&mut self) -> Result<Frontier, TxError> {
        Ok(self.log()?.clone())
    }

    /// Checks a transaction against the current overlay and, if `apply`,
    /// executes it. Returns its id.
    pub(crate) fn run(
        &mut self,
        stx: &SignedTx,
        encoded_len: usize,
        index: Option<u32>,
        rule: NonceRule,
        cache: &dyn SigCache,
        apply: bool,
    ) -> Result<(TxId, PublicKey), TxError> {
        let tx = &stx.tx;
        let p = &self.params;
        if encoded_len > p.max_tx_bytes as usize {
            return Err(TxError::Oversize {
                len: encoded_len,
                max: p.max_tx_bytes as usize,
            });
        }
        let min = p.min_fee_for(encoded_len);
        if tx.fee < min {
            return Err(TxError::FeeTooLow { fee: tx.fee, min });
        }
        let from = tx.from;
        if let Some(rec) = self.key_record(&from.key())? {
            if rec.account != from {
                return Err(TxError::SenderIsForeignKey);
            }
        }
        let mut acc = self.account(&from)?.ok_or(TxError::UnknownAccount(from))?;
        let id = stx.id(&self.chain_id);
        let signer = acc.signing_key(&from);
        if !cache.verified(&id, &stx.signature, &signer) && !stx.verify(&self.chain_id, &signer) {
            return Err(TxError::BadSignature);
        }
        match rule {
            NonceRule::Exact if tx.nonce > acc.nonce => {
                return Err(TxError::NonceTooHigh {
                    expected: acc.nonce,
                    got: tx.nonce,
                })
            }
            NonceRule::Window if tx.nonce >= acc.nonce.saturating_add(MAX_NONCE_AHEAD) => {
                return Err(TxError::NonceTooHigh {
                    expected: acc.nonce,
                    got: tx.nonce,
                })
            }
            _ if tx.nonce < acc.nonce => {
                return Err(TxError::NonceTooLow {
                    expected: acc.nonce,
                    got: tx.nonce,
                })
            }
            _ => {}
        }
        let spend = match &tx.body {
            TxBody::Transfer { amount, .. } | TxBody::Stake { amount } => *amount,
            _ => 0,
        };
        let need = tx.fee.checked_add(spend).ok_or(TxError::Overflow)?;
        if acc.balance < need {
            return Err(TxError::InsufficientFunds {
                need,
                have: acc.balance,
            });
        }
        // Type-specific checks, then effects.
        let effects = self.check_body(stx, &acc)?;
        if !apply {
            return Ok((id, signer));
        }
        acc.balance -= need;
        acc.nonce += 1;
        self.fees = self.fees.saturating_add(tx.fee);
        self.events.push(Event {
            tx: Some(id),
            tx_index: index,
            kind: EventKind::TxApplied {
                from,
                nonce: tx.nonce,
                fee: tx.fee,
            },
        });
        self.apply_body(stx, id, index, &mut acc, effects)?;
        self.put_account(&from, &acc);
        Ok((id, signer))
    }

    fn check_body(&mut self, stx: &SignedTx, acc: &Account) -> Result<Effects, TxError> {
        let tx = &stx.tx;
        let from = tx.from;
        Ok(match &tx.body {
            TxBody::Transfer { to, amount } => {
                if *amount == 0 {
                    return Err(TxError::ZeroAmount);
                }
                if let Some(rec) = self.key_record(&to.key())? {
                    if rec.account != *to {
                        return Err(TxError::RecipientIsForeignKey);
                    }
                }
                if *to != from {
                    let to_acc = self.account(to)?.unwrap_or_default();
                    to_acc
                        .balance
                        .checked_add(*amount)
                        .ok_or(TxError::Overflow)?;
                }
                Effects::None
            }
            TxBody::Stake { amount } => {
                if *amount == 0 {
                    return Err(TxError::ZeroAmount);
                }
                acc.bonded.checked_add(*amount).ok_or(TxError::Overflow)?;
                let max = self.params.max_stakers;
                let stakers = self.stakers()?;
                if !stakers.contains_key(&from) && stakers.len() >= max as usize {
                    return Err(TxError::StakerSetFull(max));
                }
                Effects::None
            }
            TxBody::Unstake { amount } => {
                if *amount == 0 {
                    return Err(TxError::ZeroAmount);
                }
                if acc.bonded < *amount {
                    return Err(TxError::InsufficientStake {
                        need: *amount,
                        have: acc.bonded,
                    });
                }
                acc.unbonding
                    .checked_add(*amount)
                    .ok_or(TxError::Overflow)?;
                Effects::None
            }
            TxBody::RegisterTorrent(reg) => {
                if reg.creator != from {
                    return Err(TxError::CreatorMismatch);
                }
                if reg.name.is_empty() {
                    return Err(TxError::EmptyName);
                }
                if self.st.get(&key::torrent(&reg.infohash_v2)).is_some() {
                    return Err(TxError::AlreadyRegistered);
                }
                if let Some(v1) = &reg.infohash_v1 {
                    if self.st.get(&key::torrent_v1(v1)).is_some() {
                        return Err(TxError::InfohashV1Taken);
                    }
                }
                Effects::None
            }
            TxBody::AmendLicense { infohash_v2, .. } => {
                let b = self
                    .st
                    .get(&key::torrent(infohash_v2))
                    .ok_or(TxError::UnknownTorrent)?;
                let rec = TorrentRecord::decode(&b).map_err(chain::corrupt("torrent record"))?;
                if rec.registration.creator != from {
                    return Err(TxError::NotCreator);
                }
                if crate::query::history_len(&self.st, infohash_v2) >= crate::query::MAX_HISTORY {
                    return Err(TxError::HistoryFull);
                }
                Effects::Torrent(Box::new(rec))
            }
            TxBody::RegisterTracker { url } => {
                let k = key::tracker(&sha256(url.as_bytes()));
                match self.st.get(&k) {
                    None => Effects::Tracker(None),
                    Some(b) => {
                        let rec =
                            TrackerRecord::decode(&b).map_err(chain::corrupt("tracker record"))?;
                        if rec.operator != from {
                            return Err(TxError::TrackerTaken);
                        }
                        if rec.retired_height.is_none() {
                            return Err(TxError::TrackerActive);
                        }
                        Effects::Tracker(Some(rec))
                    }
                }
            }
            TxBody::RetireTracker { url } => {
                let k = key::tracker(&sha256(url.as_bytes()));
                let b = self.st.get(&k).ok_or(TxError::UnknownTracker)?;
                let rec = TrackerRecord::decode(&b).map_err(chain::corrupt("tracker record"))?;
                if rec.operator != from {
                    return Err(TxError::NotTrackerOperator);
                }
                if rec.retired_height.is_some() {
                    return Err(TxError::TrackerRetired);
                }
                Effects::Tracker(Some(rec))
            }
            TxBody::RotateKey { new_key, .. } => {
                if ed25519_dalek::VerifyingKey::from_bytes(&new_key.0).is_err() {
                    return Err(TxError::InvalidKey);
                }
                if self.key_record(new_key)?.is_some()
                    || self.st.get(&key::account(&new_key.0)).is_some()
                {
                    return Err(TxError::KeyInUse);
                }
                let old = acc.signing_key(&from);
                let old_rec = self.key_record(&old)?;
                Effects::Key(old, old_rec)
            }
            TxBody::RevokeKey { key: k, .. } => {
                if *k == acc.signing_key(&from) {
                    return Err(TxError::KeyIsCurrent);
                }
                let rec = self.key_record(k)?.ok_or(TxError::NotKeyOwner)?;
                if rec.account != from {
                    return Err(TxError::NotKeyOwner);
                }
                if rec.revoked.is_some() {
                    return Err(TxError::AlreadyRevoked);
                }
                Effects::Key(*k, Some(rec))
            }
        })
    }

    fn apply_body(
        &mut self,
        stx: &SignedTx,
        id: TxId,
        index: Option<u32>,
        acc: &mut Account,
        effects: Effects,
    ) -> Result<(), TxError> {
        let from = stx.tx.from;
        let h = self.height;
        let ev = |kind| Event {
            tx: Some(id),
            tx_index: index,
            kind,
        };
        match (&stx.tx.body, effects) {
            (TxBody::Transfer { to, amount }, _) => {
                if *to == from {
                    acc.balance += amount;
                } else {
                    let mut to_acc = self.account(to)?.unwrap_or_default();
                    to_acc.balance += amount;
                    self.put_account(to, &to_acc);
                }
                self.events.push(ev(EventKind::Transfer {
                    from,
                    to: *to,
                    amount: *amount,
                }));
            }
            (TxBody::Stake { amount }, _) => {
                acc.bonded += amount;
                let bonded = acc.bonded;
                self.stakers()?.insert(from, bonded);
                self.stakers_dirty = true;
                self.events.push(ev(EventKind::Staked {
                    account: from,
                    amount: *amount,
                }));
            }
            (TxBody::Unstake { amount }, _) => {
                acc.bonded -= amount;
                acc.unbonding += amount;
                let bonded = acc.bonded;
                let stakers = self.stakers()?;
                if bonded == 0 {
                    stakers.remove(&from);
                } else {
                    stakers.insert(from, bonded);
                }
                self.stakers_dirty = true;
                let release = h.saturating_add(self.params.unbonding_blocks.max(1));
                self.unbond
                    .entry(release)
                    .or_default()
                    .push((from, *amount));
                self.events.push(ev(EventKind::UnstakeStarted {
                    account: from,
                    amount: *amount,
                    release_height: release,
                }));
            }
            (TxBody::RegisterTorrent(reg), _) => {
                let entry = RegistryEntry {
                    chain_id: self.chain_id.clone(),
                    tx_id: id,
                    height: h,
                    registration: reg.clone(),
                };
                let log_index = self.append_log(&entry)?;
                let rec = TorrentRecord {
                    registration: reg.clone(),
                    tx_id: id,
                    height: h,
                    log_index,
                };
                self.st.put(key::torrent(&reg.infohash_v2), rec.encode());
                if let Some(v1) = &reg.infohash_v1 {
                    self.st.put(key::torrent_v1(v1), reg.infohash_v2.to_vec());
                }
                self.st.put(
                    key::creator_torrent(&from, &reg.infohash_v2),
                    h.to_be_bytes().to_vec(),
                );
                let item = HistoryItem {
                    kind: HistoryKind::Register,
                    tx_id: id,
                    height: h,
                    manifest_hash: reg.manifest_hash,
                    license: reg.license.clone(),
                    log_index,
                };
                self.st
                    .put(key::torrent_history(&reg.infohash_v2, 0), item.encode());
                self.st.put(
                    key::manifest_ref(&reg.manifest_hash),
                    reg.infohash_v2.to_vec(),
                );
                self.events.push(ev(EventKind::TorrentRegistered {
                    infohash_v2: reg.infohash_v2,
                    creator: from,
                    log_index,
                }));
            }
            (
                TxBody::AmendLicense {
                    infohash_v2,
                    manifest_hash,
                    license,
                },
                Effects::Torrent(old),
            ) => {
                let mut registration = old.registration.clone();
                registration.manifest_hash = *manifest_hash;
                registration.license = license.clone();
                let entry = RegistryEntry {
                    chain_id: self.chain_id.clone(),
                    tx_id: id,
                    height: h,
                    registration: registration.clone(),
                };
                let log_index = self.append_log(&entry)?;
                let seq = crate::query::history_len(&self.st, infohash_v2);
                let item = HistoryItem {
                    kind: HistoryKind::Amend,
                    tx_id: id,
                    height: h,
                    manifest_hash: *manifest_hash,
                    license: license.clone(),
                    log_index,
                };
                self.st
                    .put(key::torrent_history(infohash_v2, seq), item.encode());
                self.st
                    .put(key::manifest_ref(manifest_hash), infohash_v2.to_vec());
                let rec = TorrentRecord {
                    registration,
                    tx_id: id,
                    height: h,
                    log_index,
                };
                self.st.put(key::torrent(infohash_v2), rec.encode());
                self.events.push(ev(EventKind::LicenseAmended {
                    infohash_v2: *infohash_v2,
                    creator: from,
                    log_index,
                }));
            }
            (TxBody::RegisterTracker { url }, Effects::Tracker(old)) => {
                let rec = TrackerRecord {
                    url: url.clone(),
                    operator: from,
                    registered_height: h,
                    retired_height: None,
                };
                let _ = old;
                self.st
                    .put(key::tracker(&sha256(url.as_bytes())), rec.encode());
                self.events.push(ev(EventKind::TrackerRegistered {
                    url: url.clone(),
                    operator: from,
                }));
            }
            (TxBody::RetireTracker { url }, Effects::Tracker(Some(mut rec))) => {
                rec.retired_height = Some(h);
                self.st
                    .put(key::tracker(&sha256(url.as_bytes())), rec.encode());
                self.events
                    .push(ev(EventKind::TrackerRetired { url: url.clone() }));
            }
            (
                TxBody::RotateKey {
                    new_key,
                    revoke_old,
                },
                Effects::Key(old, old_rec),
            ) => {
                let mut rec = old_rec.unwrap_or(KeyRecord {
                    account: from,
                    added_height: 0,
                    rotated: None,
                    revoked: None,
                });
                rec.rotated = Some(Rotation {
                    height: h,
                    successor: *new_key,
                });
                if *revoke_old {
                    rec.revoked = Some(Revocation {
                        height: h,
                        reason: crate::tx::RevokeReason::Compromised,
                    });
                }
                self.st.put(key::key_record(&old.0), rec.encode());
                let new_rec = KeyRecord {
                    account: from,
                    added_height: h,
                    rotated: None,
                    revoked: None,
                };
                self.st.put(key::key_record(&new_key.0), new_rec.encode());
                acc.key = Some(*new_key);
                self.events.push(ev(EventKind::KeyRotated {
                    account: from,
                    old,
                    new: *new_key,
                }));
                if *revoke_old {
                    self.events.push(ev(EventKind::KeyRevoked {
                        account: from,
                        key: old,
                        reason: crate::tx::RevokeReason::Compromised,
                    }));
                }
            }
            (TxBody::RevokeKey { key: k, reason }, Effects::Key(_, Some(mut rec))) => {
                rec.revoked = Some(Revocation {
                    height: h,
                    reason: *reason,
                });
                self.st.put(key::key_record(&k.0), rec.encode());
                self.events.push(ev(EventKind::KeyRevoked {
                    account: from,
                    key: *k,
                    reason: *reason,
                }));
            }
            _ => {
                return Err(TxError::State(StateError::Missing(
                    "transaction effects (internal error)",
                )))
            }
        }
        Ok(())
    }

    /// Releases the unbonding entries due at this height (block start).
    pub(crate) fn release_unbonding(&mut self) -> Result<(), StateError> {
        let k = key::unbonding(self.height);
        let Some(b) = self.st.get(&k) else {
            return Ok(());
        };
        let list = chain::decode_pair_list(&b, 1_000_000).map_err(chain::corrupt("unbonding"))?;
        for (addr, amount) in list {
            let mut acc = chain::load_account(&self.st, &addr)?.unwrap_or_default();
            acc.unbonding = acc.unbonding.saturating_sub(amount);
            acc.balance = acc.balance.saturating_add(amount);
            self.put_account(&addr, &acc);
            self.events.push(Event {
                tx: None,
                tx_index: None,
                kind: EventKind::Unbonded {
                    account: addr,
                    amount,
                },
            });
        }
        self.st.delete(k);
        Ok(())
    }

    /// Block end: pay fees, write the unbonding queue, stakers, log, and the
    /// validator set for `height + D`.
    pub(crate) fn finish_block(&mut self, proposer: &Address) -> Result<(), TxError> {
        if self.fees > 0 {
            let mut acc = self.account(proposer)?.unwrap_or_default();
            acc.balance = acc.balance.saturating_add(self.fees);
            self.put_account(proposer, &acc);
            self.events.push(Event {
                tx: None,
                tx_index: None,
                kind: EventKind::FeesPaid {
                    proposer: *proposer,
                    amount: self.fees,
                },
            });
        }
        let unbond = std::mem::take(&mut self.unbond);
        for (height, mut entries) in unbond {
            let k = key::unbonding(height);
            if let Some(b) = self.st.get(&k) {
                let mut old =
                    chain::decode_pair_list(&b, 1_000_000).map_err(chain::corrupt("unbonding"))?;
                old.append(&mut entries);
                entries = old;
            }
            let v = chain::encode_pairs(entries.into_iter());
            self.st.put(k, v);
        }
        if let Some(log) = &self.log {
            let v = chain::encode_log(log);
            self.st.put(key::LOG.to_vec(), v);
        }
        if self.stakers_dirty {
            let v = chain::encode_pairs(self.stakers()?.iter().map(|(a, s)| (*a, *s)));
            self.st.put(key::STAKERS.to_vec(), v);
        }
        // The set for h + D comes from the state after this block.
        let stakers = self.stakers()?.clone();
        let mut keys = Vec::new();
        let set = {
            let st = &self.st;
            chain::derive_validator_set(&stakers, &self.params, |a| {
                match chain::load_account(st, a) {
                    Ok(Some(acc)) => acc.signing_key(a),
                    Ok(None) | Err(_) => {
                        keys.push(*a);
                        a.key()
                    }
                }
            })
        };
        if !keys.is_empty() {
            return Err(TxError::State(StateError::Missing("validator account")));
        }
        let d = self.params.validator_delay;
        // A chain without validators could never make another block: if no
        // account qualifies any more, the last set stays in office.
        let set = if set.is_empty() {
            chain::validator_set(&self.st, self.height + d - 1)?
        } else {
            set
        };
        self.st.put(
            key::validator_set(self.height + d),
            chain::encode_validators(&set),
        );
        if self.height > d {
            self.st.delete(key::validator_set(self.height - d));
        }
        Ok(())
    }
}

/// What the checks found that the effects need.
pub(crate) enum Effects {
    None,
    Tracker(Option<TrackerRecord>),
    Key(PublicKey, Option<KeyRecord>),
    Torrent(Box<TorrentRecord>),
}
