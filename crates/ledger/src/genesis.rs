//! The genesis: the chain's initial accounts, validators and parameters.
//!
//! JSON form (what `btl ledger init` writes):
//!
//! ```json
//! {
//!   "chain_id": "btl-local",
//!   "genesis_time_ms": 1700000000000,
//!   "validators": [{ "pubkey": "<64 hex>", "stake": 1000000 }],
//!   "accounts": [{ "address": "btl1…", "balance": 5000 }],
//!   "params": { "min_fee": 1, "fee_per_byte": 0, … }
//! }
//! ```
//!
//! Each validator gets an account (address = its key) with `stake` bonded;
//! an `accounts` entry for the same address adds a balance. The validator
//! sets of heights 1 to D come from the genesis stakes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::block::{tx_root, BlockHeader};
use crate::chain::{self, ChainInfo};
use crate::keys::{Address, PublicKey};
use crate::params::{check_chain_id, Params};
use crate::records::Account;
use crate::smt;
use crate::state::{is_authenticated, key, StateDiff};

/// A genesis validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Its Ed25519 key (also its account address).
    pub pubkey: PublicKey,
    /// Bonded stake.
    pub stake: u64,
}

/// A genesis account balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// The account.
    pub address: Address,
    /// Its balance.
    pub balance: u64,
}

/// The genesis document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Chain id (1-64 of `a-z 0-9 . _ -`).
    pub chain_id: String,
    /// Genesis time, ms since the Unix epoch (block 1 may not be earlier).
    pub genesis_time_ms: u64,
    /// Initial validators.
    pub validators: Vec<GenesisValidator>,
    /// Initial balances.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// Parameters.
    #[serde(default)]
    pub params: Params,
}

/// Why a genesis is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// Bad chain id or parameters.
    #[error("invalid genesis: {0}")]
    Invalid(#[from] crate::codec::DecodeError),
    /// No validator.
    #[error("genesis needs at least one validator")]
    NoValidators,
    /// A validator key is not a valid Ed25519 key.
    #[error("validator {0} is not a valid Ed25519 key")]
    BadValidatorKey(PublicKey),
    /// A validator appears twice, or an account appears twice.
    #[error("duplicate entry for {0}")]
    Duplicate(Address),
    /// A validator's stake is below the minimum.
    #[error("validator {0} stakes less than min_validator_stake")]
    StakeTooLow(PublicKey),
    /// Balances and stakes add up to more than 2^64 - 1.
    #[error("total supply overflows")]
    SupplyOverflow,
    /// More validators than `max_validators`.
    #[error("more genesis validators than max_validators")]
    TooManyValidators,
    /// JSON syntax or fields.
    #[error("genesis JSON: {0}")]
    Json(String),
}

impl Genesis {
    /// One validator with `stake`, default parameters.
    pub fn single_validator(
        chain_id: &str,
        validator: PublicKey,
        stake: u64,
        time_ms: u64,
    ) -> Self {
        Self {
            chain_id: chain_id.to_owned(),
            genesis_time_ms: time_ms,
            validators: vec![GenesisValidator {
                pubkey: validator,
                stake,
            }],
            accounts: vec![GenesisAccount {
                address: validator.address(),
                balance: stake,
            }],
            params: Params::default(),
        }
    }

    /// Parses the JSON form.
    pub fn from_json(s: &str) -> Result<Self, GenesisError> {
        let g: Self = serde_json::from_str(s).map_err(|e| GenesisError::Json(e.to_string()))?;
        g.validate()?;
        Ok(g)
    }

    /// The JSON form (pretty-printed).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks the document.
    pub fn validate(&self) -> Result<(), GenesisError> {
        self.accounts_map().map(|_| ())
    }

    fn accounts_map(&self) -> Result<BTreeMap<Address, Account>, GenesisError> {
        check_chain_id(&self.chain_id)?;
        self.params.validate()?;
        if self.validators.is_empty() {
            return Err(GenesisError::NoValidators);
        }
        if self.validators.len() > self.params.max_validators as usize {
            return Err(GenesisError::TooManyValidators);
        }
        let mut accounts: BTreeMap<Address, Account> = BTreeMap::new();
        let mut supply: u64 = 0;
        for v in &self.validators {
            if ed25519_dalek::VerifyingKey::from_bytes(&v.pubkey.0).is_err() {
                return Err(GenesisError::BadValidatorKey(v.pubkey));
            }
            if v.stake < self.params.min_validator_stake.max(1) {
                return Err(GenesisError::StakeTooLow(v.pubkey));
            }
            let a = v.pubkey.address();
            if accounts.contains_key(&a) {
                return Err(GenesisError::Duplicate(a));
            }
            supply = supply
                .checked_add(v.stake)
                .ok_or(GenesisError::SupplyOverflow)?;
            accounts.insert(
                a,
                Account {
                    bonded: v.stake,
                    ..Account::default()
                },
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for g in &self.accounts {
            if !seen.insert(g.address) {
                return Err(GenesisError::Duplicate(g.address));
            }
            supply = supply
                .checked_add(g.balance)
                .ok_or(GenesisError::SupplyOverflow)?;
            accounts.entry(g.address).or_default().balance = g.balance;
        }
        Ok(accounts)
    }

    /// The genesis state (as a diff onto an empty state) and the genesis
    /// header (height 0), whose hash is block 1's `prev_hash`.
    pub fn build(&self) -> Result<(StateDiff, BlockHeader), GenesisError> {
        let accounts = self.accounts_map()?;
        let mut writes: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let info = ChainInfo {
            chain_id: self.chain_id.clone(),
            params: self.params.clone(),
        };
        writes.insert(key::CHAIN.to_vec(), info.encode());
        let mut stakers = BTreeMap::new();
        for (a, acc) in &accounts {
            writes.insert(key::account(&a.0), acc.encode());
            if acc.bonded > 0 {
                stakers.insert(*a, acc.bonded);
            }
        }
        writes.insert(
            key::STAKERS.to_vec(),
            chain::encode_pairs(stakers.iter().map(|(a, s)| (*a, *s))),
        );
        writes.insert(
            key::LOG.to_vec(),
            chain::encode_log(&btl_tlog::Frontier::new()),
        );
        let set = chain::derive_validator_set(&stakers, &self.params, |a| a.key());
        let enc = chain::encode_validators(&set);
        for h in 1..=self.params.validator_delay {
            writes.insert(key::validator_set(h), enc.clone());
        }
        let mut header = BlockHeader {
            chain_id: self.chain_id.clone(),
            height: 0,
            prev_hash: [0; 32],
            time_ms: self.genesis_time_ms,
            proposer: Address::default(),
            tx_root: tx_root(&[]),
            state_root: [0; 32],
            log_size: 0,
            log_root: btl_tlog::empty_root(),
            validators_hash: chain::validators_hash(&set),
        };
        writes.insert(key::HEAD.to_vec(), chain::encode_head(&header));
        let updates = writes
            .iter()
            .filter(|(k, _)| is_authenticated(k))
            .map(|(k, v)| (smt::key_hash(k), Some(smt::value_hash(v))))
            .collect();
        let empty = crate::state::MemState::new();
        let mut all: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            writes.into_iter().map(|(k, v)| (k, Some(v))).collect();
        let root = smt::update(&empty, updates, |k, v| all.push((k, v)))
            .map_err(|_| GenesisError::Json("state tree".into()))?;
        let diff = StateDiff::from_writes(all);
        header.state_root = root;
        Ok((diff, header))
    }
}
