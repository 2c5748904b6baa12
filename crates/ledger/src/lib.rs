//! bitorrent's ledger as a pure state machine: transactions, state,
//! `apply_block`, validator sets, state proofs and registry receipts.
//!
//! No I/O here: state is read through [`StateRead`] and every change comes
//! back as a [`StateDiff`] for the caller (the node, over redb) to commit.
//!
//! - [`tx`]: transactions and their signed encoding; [`block`]: blocks.
//! - [`apply_block`], [`build_block`], [`check_tx`]: the transition.
//! - [`validator_set`]: the set of a height (top K stakers, derived from the
//!   state D blocks earlier), [`validators_hash`].
//! - [`smt`]: the state root and [`StateProof`]s; [`query`]: typed reads and
//!   proofs for accounts, torrents and key status.
//! - [`registry`]: the RFC 6962 registry log, checkpoints cosigned by
//!   validators, and C2SP `tlog-proof` receipts that verify offline.
//! - [`Genesis`]: the JSON genesis and the initial state.
//!
//! Every signed or stored encoding is documented where it is defined and
//! pinned by golden vectors in `tests/golden.rs`.
//!
//! See [`apply_block`] for an end-to-end example.

pub mod apply;
pub mod block;
pub mod chain;
pub mod codec;
pub mod events;
pub mod exec;
#[doc(hidden)]
pub mod fuzz;
pub mod genesis;
pub mod keys;
pub mod params;
pub mod query;
pub mod records;
pub mod registry;
pub mod sig;
pub mod smt;
pub mod state;
pub mod tx;

pub use apply::{
    apply_block, apply_block_with, build_block, check_tx, check_tx_bytes, check_tx_bytes_with,
    preverify, Applied, BlockError, BuildContext, BuiltBlock, TxCheck,
};
pub use block::{tx_root, Block, BlockHeader};
pub use chain::{
    derive_validator_set, last_header, state_root, validator_set, validators_hash, ChainInfo,
    StateError,
};
pub use codec::DecodeError;
pub use events::{Event, EventKind};
pub use exec::{SigCache, TxError, VerifiedSigs, MAX_NONCE_AHEAD};
pub use genesis::{Genesis, GenesisAccount, GenesisError, GenesisValidator};
pub use keys::{Address, KeyParseError, PublicKey};
pub use params::{Params, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_TX_BYTES};
pub use records::{
    Account, HistoryItem, HistoryKind, KeyRecord, KeyStatus, TorrentRecord, TrackerRecord,
    Validator,
};
pub use registry::{ReceiptError, RegistryEntry};
pub use smt::StateProof;
pub use state::{Layered, MemState, StateDiff, StateRead};
pub use tx::{RegisterTorrent, RevokeReason, SignedTx, Tx, TxBody, TxId};

/// The transparency-log crate (notes, checkpoints, receipts).
pub use btl_tlog as tlog;
/// The Ed25519 implementation (re-exported so callers use the same version).
pub use ed25519_dalek;
