//! Transactions and their signed encoding.
//!
//! ```text
//! Tx (version 1):
//!   u8   version = 1
//!   [32] from      account address
//!   u64  nonce     = the account's nonce before this tx (starts at 0)
//!   u64  fee       paid to the block's proposer
//!   u8   kind      (below; unknown kinds are a decode error, so new kinds
//!                   can be added later without changing old encodings)
//!   ...  body
//!
//! kind 0x01 Transfer         [32] to, u64 amount
//! kind 0x02 Stake            u64 amount
//! kind 0x03 Unstake          u64 amount
//! kind 0x04 RegisterTorrent  [32] manifest_hash, [32] infohash_v2,
//!                            option [20] infohash_v1, [32] creator,
//!                            u16 n + n×[32] file_roots, str16 name, u64 size,
//!                            str16 license
//! kind 0x05 RegisterTracker  str16 url
//! kind 0x06 RetireTracker    str16 url
//! kind 0x07 RotateKey        [32] new_key, bool revoke_old
//! kind 0x08 RevokeKey        [32] key, u8 reason
//! kind 0x09 AmendLicense     [32] infohash_v2, [32] manifest_hash,
//!                            str16 license
//!
//! SignedTx: Tx || [64] Ed25519 signature
//! signed message: "btl-ledger/tx/v1" || u8 len(chain_id) || chain_id || Tx
//! TxId: SHA-256(signed message)
//! ```
//!
//! The signature is made with the account's *current* key (see
//! [`crate::keys`]). The chain id in the signed message stops a transaction
//! from being replayed on another chain; the nonce stops replay on this one.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::{DecodeError, Reader, Writer};
use crate::keys::{hex_bytes, Address, PublicKey};
use crate::params::MAX_TX_BYTES;

/// Domain tag of transaction signatures.
pub const TX_DOMAIN: &[u8] = b"btl-ledger/tx/v1";
/// Current transaction encoding version.
pub const TX_VERSION: u8 = 1;
/// Longest torrent name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest license summary, in bytes.
pub const MAX_LICENSE_BYTES: usize = 256;
/// Most per-file Merkle roots in one registration.
pub const MAX_FILE_ROOTS: usize = 1800;
/// Longest tracker URL, in bytes.
pub const MAX_URL_BYTES: usize = 512;

/// A transaction id: SHA-256 of the signed message (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct TxId(#[serde(with = "hex_bytes")] pub [u8; 32]);

impl TxId {
    /// The id of the transaction whose [`Tx::signing_message`] is `msg`
    /// (its SHA-256), for callers that already have the message.
    pub fn of_signing_message(msg: &[u8]) -> TxId {
        TxId(Sha256::digest(msg).into())
    }
}

impl std::fmt::Display for TxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for TxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TxId({self})")
    }
}

/// Why a key is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
    /// No reason given.
    Unspecified = 0,
    /// The private key leaked or may have.
    Compromised = 1,
    /// Replaced by a newer key.
    Superseded = 2,
    /// No longer in use.
    Retired = 3,
}

impl RevokeReason {
    /// Decodes the reason byte.
    pub fn from_u8(b: u8) -> Result<Self, DecodeError> {
        Ok(match b {
            0 => Self::Unspecified,
            1 => Self::Compromised,
            2 => Self::Superseded,
            3 => Self::Retired,
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "revoke reason",
                    tag,
                })
            }
        })
    }
}

/// Registration of a torrent (the anchor of its provenance manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterTorrent {
    /// SHA-256 of the signed provenance manifest.
    #[serde(with = "hex_bytes")]
    pub manifest_hash: [u8; 32],
    /// The v2 infohash (SHA-256 of the info dictionary): the torrent's key.
    #[serde(with = "hex_bytes")]
    pub infohash_v2: [u8; 32],
    /// The v1 infohash of a hybrid torrent.
    #[serde(with = "hex_bytes::option", default)]
    pub infohash_v1: Option<[u8; 20]>,
    /// The creator's account; must be the transaction's sender.
    pub creator: Address,
    /// BEP 52 pieces root of each file, in file order.
    #[serde(with = "hex_bytes::vec")]
    pub file_roots: Vec<[u8; 32]>,
    /// Display name.
    pub name: String,
    /// Total content size in bytes.
    pub size: u64,
    /// License summary, e.g. an SPDX expression.
    pub license: String,
}

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum TxBody {
    /// Move `amount` to `to`.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount.
        amount: u64,
    },
    /// Bond `amount` of the balance as stake.
    Stake {
        /// Amount.
        amount: u64,
    },
    /// Start unbonding `amount` of stake; it returns to the balance after
    /// the unbonding period.
    Unstake {
        /// Amount.
        amount: u64,
    },
    /// Register a torrent.
    RegisterTorrent(RegisterTorrent),
    /// Register a tracker URL operated by the sender.
    RegisterTracker {
        /// Announce URL (`http://`, `https://`, `udp://` or `wss://`).
        url: String,
    },
    /// Retire a tracker the sender registered.
    RetireTracker {
        /// Announce URL.
        url: String,
    },
    /// Replace the account's signing key.
    RotateKey {
        /// The new key (must never have been used on this chain).
        new_key: PublicKey,
        /// Also mark the old key revoked (compromise response).
        revoke_old: bool,
    },
    /// Revoke a former key of the account (not its current key).
    RevokeKey {
        /// The key.
        key: PublicKey,
        /// Why.
        reason: RevokeReason,
    },
    /// Change a registered torrent's license (and its signed manifest);
    /// only its creator may. The old terms stay in the torrent's history.
    AmendLicense {
        /// The torrent.
        #[serde(with = "hex_bytes")]
        infohash_v2: [u8; 32],
        /// SHA-256 of the new signed provenance manifest.
        #[serde(with = "hex_bytes")]
        manifest_hash: [u8; 32],
        /// The new license summary.
        license: String,
    },
}

impl TxBody {
    /// The kind byte.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Transfer { .. } => 0x01,
            Self::Stake { .. } => 0x02,
            Self::Unstake { .. } => 0x03,
            Self::RegisterTorrent(_) => 0x04,
            Self::RegisterTracker { .. } => 0x05,
            Self::RetireTracker { .. } => 0x06,
            Self::RotateKey { .. } => 0x07,
            Self::RevokeKey { .. } => 0x08,
            Self::AmendLicense { .. } => 0x09,
        }
    }

    /// A short name of the kind, for logs and errors.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Transfer { .. } => "transfer",
            Self::Stake { .. } => "stake",
            Self::Unstake { .. } => "unstake",
            Self::RegisterTorrent(_) => "register_torrent",
            Self::RegisterTracker { .. } => "register_tracker",
            Self::RetireTracker { .. } => "retire_tracker",
            Self::RotateKey { .. } => "rotate_key",
            Self::RevokeKey { .. } => "revoke_key",
            Self::AmendLicense { .. } => "amend_license",
        }
    }
}

/// An unsigned transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tx {
    /// Sender account.
    pub from: Address,
    /// The sender's nonce before this transaction.
    pub nonce: u64,
    /// Fee offered.
    pub fee: u64,
    /// What it does.
    pub body: TxBody,
}

/// Checks a tracker URL: bounded, printable ASCII, a known scheme.
pub fn check_tracker_url(url: &str) -> Result<(), DecodeError> {
    let ok_scheme = ["http://", "https://", "udp://", "wss://"]
        .iter()
        .any(|s| url.starts_with(s) && url.len() > s.len());
    if !ok_scheme || url.len() > MAX_URL_BYTES || !url.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(DecodeError::Invalid("tracker url"));
    }
    Ok(())
}

fn check_text_field(s: &str, what: &'static str) -> Result<(), DecodeError> {
    if s.chars().any(char::is_control) {
        return Err(DecodeError::Invalid(what));
    }
    Ok(())
}

impl Tx {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128);
        self.encode_into(&mut w);
        w.finish()
    }

    /// Appends the canonical encoding.
    pub fn encode_into(&self, w: &mut Writer) {
        w.u8(TX_VERSION);
        w.bytes(&self.from.0);
        w.u64(self.nonce);
        w.u64(self.fee);
        w.u8(self.body.kind());
        match &self.body {
            TxBody::Transfer { to, amount } => {
                w.bytes(&to.0);
                w.u64(*amount);
            }
            TxBody::Stake { amount } | TxBody::Unstake { amount } => w.u64(*amount),
            TxBody::RegisterTorrent(r) => encode_registration(w, r),
            TxBody::RegisterTracker { url } | TxBody::RetireTracker { url } => w.str16(url),
            TxBody::RotateKey {
                new_key,
                revoke_old,
            } => {
                w.bytes(&new_key.0);
                w.bool(*revoke_old);
            }
            TxBody::RevokeKey { key, reason } => {
                w.bytes(&key.0);
                w.u8(*reason as u8);
            }
            TxBody::AmendLicense {
                infohash_v2,
                manifest_hash,
                license,
            } => {
                w.bytes(infohash_v2);
                w.bytes(manifest_hash);
                w.str16(license);
            }
        }
    }

    /// Decodes one transaction from the reader (not checking for trailing
    /// bytes).
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.u8("tx version")?;
        if version != TX_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "transaction",
                version,
            });
        }
        let from = Address(r.array("from")?);
        let nonce = r.u64("nonce")?;
        let fee = r.u64("fee")?;
        let kind = r.u8("tx kind")?;
        let body = match kind {
            0x01 => TxBody::Transfer {
                to: Address(r.array("to")?),
                amount: r.u64("amount")?,
            },
            0x02 => TxBody::Stake {
                amount: r.u64("amount")?,
            },
            0x03 => TxBody::Unstake {
                amount: r.u64("amount")?,
            },
            0x04 => TxBody::RegisterTorrent(decode_registration(r)?),
            0x05 | 0x06 => {
                let url = r.str16(MAX_URL_BYTES, "tracker url")?;
                check_tracker_url(&url)?;
                if kind == 0x05 {
                    TxBody::RegisterTracker { url }
                } else {
                    TxBody::RetireTracker { url }
                }
            }
            0x07 => TxBody::RotateKey {
                new_key: PublicKey(r.array("new key")?),
                revoke_old: r.bool("revoke old")?,
            },
            0x08 => TxBody::RevokeKey {
                key: PublicKey(r.array("key")?),
                reason: RevokeReason::from_u8(r.u8("reason")?)?,
            },
            0x09 => {
                let infohash_v2 = r.array("infohash v2")?;
                let manifest_hash = r.array("manifest hash")?;
                let license = r.str16(MAX_LICENSE_BYTES, "license")?;
                check_text_field(&license, "license")?;
                TxBody::AmendLicense {
                    infohash_v2,
                    manifest_hash,
                    license,
                }
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "transaction kind",
                    tag,
                })
            }
        };
        Ok(Self {
            from,
            nonce,
            fee,
            body,
        })
    }

    /// Checks the fields that decoding checks, for transactions built in
    /// code (so that what is signed always decodes).
    pub fn validate(&self) -> Result<(), DecodeError> {
        let bytes = self.encode();
        let mut r = Reader::new(&bytes);
        let back = Self::decode_from(&mut r)?;
        r.finish()?;
        if &back != self {
            // Only possible when a field is longer than its length prefix.
            return Err(DecodeError::Invalid("field longer than its maximum"));
        }
        Ok(())
    }

    /// The message that is signed: domain tag, chain id, encoding.
    pub fn signing_message(&self, chain_id: &str) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        w.bytes(TX_DOMAIN);
        w.str8(chain_id);
        self.encode_into(&mut w);
        w.finish()
    }

    /// The transaction id on chain `chain_id`.
    pub fn id(&self, chain_id: &str) -> TxId {
        TxId::of_signing_message(&self.signing_message(chain_id))
    }

    /// Signs with `key` (the sender's current key) for chain `chain_id`.
    pub fn sign(self, chain_id: &str, key: &ed25519_dalek::SigningKey) -> SignedTx {
        use ed25519_dalek::Signer as _;
        let sig = key.sign(&self.signing_message(chain_id)).to_bytes();
        SignedTx {
            tx: self,
            signature: sig,
        }
    }
}

/// A transaction with its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTx {
    /// The transaction.
    pub tx: Tx,
    /// Ed25519 signature by the sender's current key over
    /// [`Tx::signing_message`].
    #[serde(with = "hex_bytes")]
    pub signature: [u8; 64],
}

impl SignedTx {
    /// The canonical encoding: the transaction, then the signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(192);
        self.tx.encode_into(&mut w);
        w.bytes(&self.signature);
        w.finish()
    }

    /// Decodes a signed transaction (at most [`MAX_TX_BYTES`], no trailing
    /// bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(DecodeError::TooLarge {
                what: "transaction",
                max: MAX_TX_BYTES,
            });
        }
        let mut r = Reader::new(bytes);
        let tx = Tx::decode_from(&mut r)?;
        let signature = r.array("signature")?;
        r.finish()?;
        Ok(Self { tx, signature })
    }

    /// The transaction id on chain `chain_id`.
    pub fn id(&self, chain_id: &str) -> TxId {
        self.tx.id(chain_id)
    }

    /// Whether the signature is `key`'s over this transaction on `chain_id`.
    pub fn verify(&self, chain_id: &str, key: &PublicKey) -> bool {
        key.verify(&self.tx.signing_message(chain_id), &self.signature)
    }
}

/// Encodes a registration body (shared by transactions, torrent records and
/// registry log entries).
pub(crate) fn encode_registration(w: &mut Writer, r: &RegisterTorrent) {
    w.bytes(&r.manifest_hash);
    w.bytes(&r.infohash_v2);
    match &r.infohash_v1 {
        Some(h) => {
            w.u8(1);
            w.bytes(h);
        }
        None => w.u8(0),
    }
    w.bytes(&r.creator.0);
    let n = r.file_roots.len().min(usize::from(u16::MAX));
    w.u16(n as u16);
    for root in &r.file_roots[..n] {
        w.bytes(root);
    }
    w.str16(&r.name);
    w.u64(r.size);
    w.str16(&r.license);
}

/// Decodes [`encode_registration`]'s output.
pub(crate) fn decode_registration(r: &mut Reader<'_>) -> Result<RegisterTorrent, DecodeError> {
    let manifest_hash = r.array("manifest hash")?;
    let infohash_v2 = r.array("infohash v2")?;
    let infohash_v1 = if r.option("infohash v1 flag")? {
        Some(r.array("infohash v1")?)
    } else {
        None
    };
    let creator = Address(r.array("creator")?);
    let n = usize::from(r.u16("file root count")?);
    let n = r.check_count(n, MAX_FILE_ROOTS, 32, "file roots")?;
    let mut file_roots = Vec::with_capacity(n);
    for _ in 0..n {
        file_roots.push(r.array("file root")?);
    }
    let name = r.str16(MAX_NAME_BYTES, "name")?;
    check_text_field(&name, "name")?;
    let size = r.u64("size")?;
    let license = r.str16(MAX_LICENSE_BYTES, "license")?;
    check_text_field(&license, "license")?;
    Ok(RegisterTorrent {
        manifest_hash,
        infohash_v2,
        infohash_v1,
        creator,
        file_roots,
        name,
        size,
        license,
    })
}
