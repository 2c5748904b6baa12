//! Blocks and block headers.
//!
//! ```text
//! BlockHeader (version 1):
//!   u8   version = 1
//!   str8 chain_id
//!   u64  height            (genesis is height 0; the first block is 1)
//!   [32] prev_hash         hash of the previous header (the genesis header for height 1)
//!   u64  time_ms           proposer's time, milliseconds since the Unix epoch
//!   [32] proposer          the proposing validator's address
//!   [32] tx_root           RFC 6962 root over the TxIds, in block order
//!   [32] state_root        state root after applying this block
//!   u64  log_size          registry log size after this block
//!   [32] log_root          registry log root after this block
//!   [32] validators_hash   hash of the validator set of this height
//! block hash = SHA-256(header encoding)
//!
//! Block:
//!   header
//!   u32 n, then n × (u32 len, SignedTx encoding)
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::{DecodeError, Reader, Writer};
use crate::keys::{hex_bytes, Address};
use crate::params::{check_chain_id, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_TX_BYTES};
use crate::tx::{SignedTx, TxId};

/// Current header encoding version.
pub const HEADER_VERSION: u8 = 1;

/// A block header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockHeader {
    /// Chain id.
    pub chain_id: String,
    /// Height (genesis 0).
    pub height: u64,
    /// Hash of the previous header.
    #[serde(with = "hex_bytes")]
    pub prev_hash: [u8; 32],
    /// Proposer's time in ms since the Unix epoch (non-decreasing).
    pub time_ms: u64,
    /// Proposer's address (receives the fees).
    pub proposer: Address,
    /// RFC 6962 root over the transaction ids.
    #[serde(with = "hex_bytes")]
    pub tx_root: [u8; 32],
    /// State root after this block.
    #[serde(with = "hex_bytes")]
    pub state_root: [u8; 32],
    /// Registry log size after this block.
    pub log_size: u64,
    /// Registry log root after this block.
    #[serde(with = "hex_bytes")]
    pub log_root: [u8; 32],
    /// Hash of this height's validator set ([`crate::validators_hash`]).
    #[serde(with = "hex_bytes")]
    pub validators_hash: [u8; 32],
}

impl BlockHeader {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        self.encode_into(&mut w);
        w.finish()
    }

    fn encode_into(&self, w: &mut Writer) {
        w.u8(HEADER_VERSION);
        w.str8(&self.chain_id);
        w.u64(self.height);
        w.bytes(&self.prev_hash);
        w.u64(self.time_ms);
        w.bytes(&self.proposer.0);
        w.bytes(&self.tx_root);
        w.bytes(&self.state_root);
        w.u64(self.log_size);
        w.bytes(&self.log_root);
        w.bytes(&self.validators_hash);
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let v = r.u8("header version")?;
        if v != HEADER_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "block header",
                version: v,
            });
        }
        let chain_id = r.str8(crate::params::MAX_CHAIN_ID_BYTES, "chain id")?;
        check_chain_id(&chain_id)?;
        Ok(Self {
            chain_id,
            height: r.u64("height")?,
            prev_hash: r.array("prev hash")?,
            time_ms: r.u64("time")?,
            proposer: Address(r.array("proposer")?),
            tx_root: r.array("tx root")?,
            state_root: r.array("state root")?,
            log_size: r.u64("log size")?,
            log_root: r.array("log root")?,
            validators_hash: r.array("validators hash")?,
        })
    }

    /// Decodes a header (no trailing bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > 1024 {
            return Err(DecodeError::TooLarge {
                what: "block header",
                max: 1024,
            });
        }
        let mut r = Reader::new(bytes);
        let h = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(h)
    }

    /// The block hash: SHA-256 of the header encoding.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }
}

/// A block: header and transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// Header.
    pub header: BlockHeader,
    /// Transactions, applied in order.
    pub txs: Vec<SignedTx>,
}

impl Block {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256 + self.txs.len() * 200);
        self.header.encode_into(&mut w);
        w.u32(self.txs.len() as u32);
        for tx in &self.txs {
            let b = tx.encode();
            w.u32(b.len() as u32);
            w.bytes(&b);
        }
        w.finish()
    }

    /// Decodes only the header at the front of a block encoding (the
    /// transactions after it are not looked at): for callers that need the
    /// header of a block already checked, without decoding thousands of
    /// transactions.
    pub fn decode_header(bytes: &[u8]) -> Result<BlockHeader, DecodeError> {
        if bytes.len() > MAX_BLOCK_BYTES {
            return Err(DecodeError::TooLarge {
                what: "block",
                max: MAX_BLOCK_BYTES,
            });
        }
        BlockHeader::decode_from(&mut Reader::new(bytes))
    }

    /// Decodes a block (at most [`MAX_BLOCK_BYTES`] and [`MAX_BLOCK_TXS`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_BLOCK_BYTES {
            return Err(DecodeError::TooLarge {
                what: "block",
                max: MAX_BLOCK_BYTES,
            });
        }
        let mut r = Reader::new(bytes);
        let header = BlockHeader::decode_from(&mut r)?;
        let n = r.u32("tx count")? as usize;
        // Each transaction takes at least its length prefix and ~100 bytes.
        let n = r.check_count(n, MAX_BLOCK_TXS, 4 + 100, "transactions")?;
        let mut txs = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u32("tx length")? as usize;
            if len > MAX_TX_BYTES {
                return Err(DecodeError::LengthLimit {
                    what: "transaction",
                    len,
                    max: MAX_TX_BYTES,
                });
            }
            txs.push(SignedTx::decode(r.take(len, "transaction")?)?);
        }
        r.finish()?;
        Ok(Self { header, txs })
    }

    /// The block hash (its header's).
    pub fn hash(&self) -> [u8; 32] {
        self.header.hash()
    }
}

/// The RFC 6962 root over transaction ids (leaf = the 32-byte id).
pub fn tx_root(ids: &[TxId]) -> [u8; 32] {
    let mut f = btl_tlog::Frontier::new();
    for id in ids {
        f.push(btl_tlog::leaf_hash(&id.0));
    }
    f.root()
}
