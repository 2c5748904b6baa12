//! Chain parameters and the chain id.

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, Reader, Writer};

/// Largest encoded signed transaction this build accepts, in bytes.
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// Largest encoded block this build accepts, in bytes.
pub const MAX_BLOCK_BYTES: usize = 32 * 1024 * 1024;
/// Most transactions in a block this build accepts.
pub const MAX_BLOCK_TXS: usize = 100_000;
/// Longest chain id, in bytes.
pub const MAX_CHAIN_ID_BYTES: usize = 64;

/// Checks a chain id: 1 to 64 bytes of `a-z 0-9 . _ -`.
pub fn check_chain_id(id: &str) -> Result<(), DecodeError> {
    if id.is_empty()
        || id.len() > MAX_CHAIN_ID_BYTES
        || !id
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
    {
        return Err(DecodeError::Invalid("chain id (1-64 of a-z 0-9 . _ -)"));
    }
    Ok(())
}

/// Consensus parameters, fixed at genesis and stored in state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Minimum fee of any transaction.
    pub min_fee: u64,
    /// Additional minimum fee per byte of the signed transaction.
    pub fee_per_byte: u64,
    /// Largest signed transaction, in bytes (at most [`MAX_TX_BYTES`]).
    pub max_tx_bytes: u32,
    /// Most transactions per block (at most [`MAX_BLOCK_TXS`]).
    pub max_block_txs: u32,
    /// Largest sum of signed transaction sizes per block (at most
    /// [`MAX_BLOCK_BYTES`] minus room for the header).
    pub max_block_bytes: u32,
    /// Blocks between an unstake and the release of the funds.
    pub unbonding_blocks: u64,
    /// The validator set size K: the top K stakers validate.
    pub max_validators: u32,
    /// Smallest bonded stake that makes an account a validator candidate.
    pub min_validator_stake: u64,
    /// D: the validator set for height `h + D` is derived from the state
    /// committed at height `h` (at least 1).
    pub validator_delay: u64,
    /// Most accounts with bonded stake (bounds the staker index).
    pub max_stakers: u32,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            min_fee: 1,
            fee_per_byte: 0,
            max_tx_bytes: MAX_TX_BYTES as u32,
            max_block_txs: 20_000,
            max_block_bytes: 16 * 1024 * 1024,
            unbonding_blocks: 100,
            max_validators: 100,
            min_validator_stake: 1,
            validator_delay: 2,
            max_stakers: 10_000,
        }
    }
}

impl Params {
    /// Checks the values against this build's hard limits.
    pub fn validate(&self) -> Result<(), DecodeError> {
        if self.max_tx_bytes as usize > MAX_TX_BYTES || self.max_tx_bytes < 128 {
            return Err(DecodeError::Invalid("max_tx_bytes (128..=65536)"));
        }
        if self.max_block_txs == 0 || self.max_block_txs as usize > MAX_BLOCK_TXS {
            return Err(DecodeError::Invalid("max_block_txs (1..=100000)"));
        }
        if (self.max_block_bytes as usize) < self.max_tx_bytes as usize
            || self.max_block_bytes as usize > MAX_BLOCK_BYTES - 64 * 1024
        {
            return Err(DecodeError::Invalid(
                "max_block_bytes (max_tx_bytes..=32 MiB - 64 KiB)",
            ));
        }
        if self.validator_delay == 0 || self.validator_delay > 1000 {
            return Err(DecodeError::Invalid("validator_delay (1..=1000)"));
        }
        if self.max_validators == 0 || self.max_validators > 1000 {
            return Err(DecodeError::Invalid("max_validators (1..=1000)"));
        }
        if self.max_stakers < self.max_validators || self.max_stakers > 100_000 {
            return Err(DecodeError::Invalid(
                "max_stakers (max_validators..=100000)",
            ));
        }
        Ok(())
    }

    /// Minimum fee for a signed transaction of `len` bytes.
    pub fn min_fee_for(&self, len: usize) -> u64 {
        self.min_fee
            .saturating_add(self.fee_per_byte.saturating_mul(len as u64))
    }

    /// Binary encoding (version byte 1, then the fields in declaration order).
    pub fn encode(&self, w: &mut Writer) {
        w.u8(1);
        w.u64(self.min_fee);
        w.u64(self.fee_per_byte);
        w.u32(self.max_tx_bytes);
        w.u32(self.max_block_txs);
        w.u32(self.max_block_bytes);
        w.u64(self.unbonding_blocks);
        w.u32(self.max_validators);
        w.u64(self.min_validator_stake);
        w.u64(self.validator_delay);
        w.u32(self.max_stakers);
    }

    /// Decodes [`encode`](Self::encode)'s output.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let v = r.u8("params version")?;
        if v != 1 {
            return Err(DecodeError::UnsupportedVersion {
                what: "params",
                version: v,
            });
        }
        let p = Self {
            min_fee: r.u64("min_fee")?,
            fee_per_byte: r.u64("fee_per_byte")?,
            max_tx_bytes: r.u32("max_tx_bytes")?,
            max_block_txs: r.u32("max_block_txs")?,
            max_block_bytes: r.u32("max_block_bytes")?,
            unbonding_blocks: r.u64("unbonding_blocks")?,
            max_validators: r.u32("max_validators")?,
            min_validator_stake: r.u64("min_validator_stake")?,
            validator_delay: r.u64("validator_delay")?,
            max_stakers: r.u32("max_stakers")?,
        };
        p.validate()?;
        Ok(p)
    }
}
