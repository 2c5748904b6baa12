//! What applying a block did, for indexes, APIs and subscribers.

use serde::{Deserialize, Serialize};

use crate::keys::{hex_bytes, Address, PublicKey};
use crate::tx::{RevokeReason, TxId};

/// One event. Transaction events carry the transaction's id and its index in
/// the block; block-level events (unbonding releases, fees) carry neither.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The transaction that caused it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tx: Option<TxId>,
    /// Its index in the block.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tx_index: Option<u32>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A transaction was applied (one per transaction, first).
    TxApplied {
        /// Sender.
        from: Address,
        /// Its nonce.
        nonce: u64,
        /// Fee paid.
        fee: u64,
    },
    /// Funds moved.
    Transfer {
        /// Sender.
        from: Address,
        /// Recipient.
        to: Address,
        /// Amount.
        amount: u64,
    },
    /// Stake bonded.
    Staked {
        /// Account.
        account: Address,
        /// Amount.
        amount: u64,
    },
    /// Unbonding started.
    UnstakeStarted {
        /// Account.
        account: Address,
        /// Amount.
        amount: u64,
        /// Height at which it returns to the balance.
        release_height: u64,
    },
    /// Unbonded stake returned to the balance.
    Unbonded {
        /// Account.
        account: Address,
        /// Amount.
        amount: u64,
    },
    /// A torrent was registered and logged.
    TorrentRegistered {
        /// v2 infohash.
        #[serde(with = "hex_bytes")]
        infohash_v2: [u8; 32],
        /// Creator.
        creator: Address,
        /// Leaf index in the registry log.
        log_index: u64,
    },
    /// A torrent's license was amended by its creator.
    LicenseAmended {
        /// v2 infohash.
        #[serde(with = "hex_bytes")]
        infohash_v2: [u8; 32],
        /// Creator.
        creator: Address,
        /// Leaf index of the amendment in the registry log.
        log_index: u64,
    },
    /// A tracker was registered (or re-activated).
    TrackerRegistered {
        /// URL.
        url: String,
        /// Operator.
        operator: Address,
    },
    /// A tracker was retired.
    TrackerRetired {
        /// URL.
        url: String,
    },
    /// An account's key was rotated.
    KeyRotated {
        /// Account.
        account: Address,
        /// Old key.
        old: PublicKey,
        /// New key.
        new: PublicKey,
    },
    /// A key was revoked.
    KeyRevoked {
        /// Account.
        account: Address,
        /// The key.
        key: PublicKey,
        /// Why.
        reason: RevokeReason,
    },
    /// The block's fees went to its proposer.
    FeesPaid {
        /// Proposer.
        proposer: Address,
        /// Total.
        amount: u64,
    },
}
