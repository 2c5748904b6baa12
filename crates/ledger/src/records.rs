//! State records and their stored encodings (each starts with a version
//! byte, currently 1; fields in declaration order, see [`crate::codec`]).

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, Reader, Writer};
use crate::keys::{hex_bytes, Address, PublicKey};
use crate::tx::{
    decode_registration, encode_registration, RegisterTorrent, RevokeReason, TxId, MAX_URL_BYTES,
};

fn version(r: &mut Reader<'_>, what: &'static str) -> Result<(), DecodeError> {
    match r.u8(what)? {
        1 => Ok(()),
        v => Err(DecodeError::UnsupportedVersion { what, version: v }),
    }
}

fn finish<T>(r: &Reader<'_>, v: T) -> Result<T, DecodeError> {
    r.finish()?;
    Ok(v)
}

/// An account.
///
/// ```text
/// u8 1, u64 balance, u64 nonce, u64 bonded, u64 unbonding, option [32] key
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Spendable balance.
    pub balance: u64,
    /// Number of transactions sent (the next transaction's nonce).
    pub nonce: u64,
    /// Bonded stake.
    pub bonded: u64,
    /// Stake on its way back to the balance.
    pub unbonding: u64,
    /// The current signing key, if rotated away from the address key.
    pub key: Option<PublicKey>,
}

impl Account {
    /// The key that signs for this account.
    pub fn signing_key(&self, addr: &Address) -> PublicKey {
        self.key.unwrap_or(addr.key())
    }

    /// Stored encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(70);
        w.u8(1);
        w.u64(self.balance);
        w.u64(self.nonce);
        w.u64(self.bonded);
        w.u64(self.unbonding);
        match &self.key {
            Some(k) => {
                w.u8(1);
                w.bytes(&k.0);
            }
            None => w.u8(0),
        }
        w.finish()
    }

    /// Decodes the stored encoding.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        version(&mut r, "account")?;
        let a = Self {
            balance: r.u64("balance")?,
            nonce: r.u64("nonce")?,
            bonded: r.u64("bonded")?,
            unbonding: r.u64("unbonding")?,
            key: if r.option("key flag")? {
                Some(PublicKey(r.array("key")?))
            } else {
                None
            },
        };
        finish(&r, a)
    }
}

/// The history of a key that was rotated in, rotated out or revoked. A key
/// with no record that is an account's address key is that account's
/// (unrotated, unrevoked) key.
///
/// ```text
/// u8 1, [32] account, u64 added_height,
/// option (u64 height, [32] successor) rotated,
/// option (u64 height, u8 reason) revoked
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The account the key belongs to.
    pub account: Address,
    /// Height at which it became the account's key (0 for an address key).
    pub added_height: u64,
    /// When and to which key it was rotated out.
    pub rotated: Option<Rotation>,
    /// When and why it was revoked.
    pub revoked: Option<Revocation>,
}

/// A rotation away from a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// Height of the rotation.
    pub height: u64,
    /// The key that replaced it.
    pub successor: PublicKey,
}

/// A revocation of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Height of the revocation.
    pub height: u64,
    /// Why.
    pub reason: RevokeReason,
}

/// A key's status, as a light client asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// The account's current key.
    Active,
    /// Replaced by another key; signatures made before the rotation stand.
    Rotated,
    /// Revoked: nothing it signed should be trusted.
    Revoked,
}

impl KeyRecord {
    /// The status this record gives.
    pub fn status(&self) -> KeyStatus {
        if self.revoked.is_some() {
            KeyStatus::Revoked
        } else if self.rotated.is_some() {
            KeyStatus::Rotated
        } else {
            KeyStatus::Active
        }
    }

    /// Stored encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(100);
        w.u8(1);
        w.bytes(&self.account.0);
        w.u64(self.added_height);
        match &self.rotated {
            Some(r) => {
                w.u8(1);
                w.u64(r.height);
                w.bytes(&r.successor.0);
            }
            None => w.u8(0),
        }
        match &self.revoked {
            Some(r) => {
                w.u8(1);
                w.u64(r.height);
                w.u8(r.reason as u8);
            }
            None => w.u8(0),
        }
        w.finish()
    }

    /// Decodes the stored encoding.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        version(&mut r, "key record")?;
        let account = Address(r.array("account")?);
        let added_height = r.u64("added height")?;
        let rotated = if r.option("rotated flag")? {
            Some(Rotation {
                height: r.u64("rotation height")?,
                successor: PublicKey(r.array("successor")?),
            })
        } else {
            None
        };
        let revoked = if r.option("revoked flag")? {
            let height = r.u64("revocation height")?;
            let reason = RevokeReason::from_u8(r.u8("reason")?)?;
            Some(Revocation { height, reason })
        } else {
            None
        };
        finish(
            &r,
            Self {
                account,
                added_height,
                rotated,
                revoked,
            },
        )
    }
}

/// A registered torrent.
///
/// ```text
/// u8 1, RegisterTorrent body (as in the transaction), [32] tx id,
/// u64 height, u64 log index
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TorrentRecord {
    /// What was registered.
    #[serde(flatten)]
    pub registration: RegisterTorrent,
    /// The registering transaction.
    pub tx_id: TxId,
    /// Block height of the registration.
    pub height: u64,
    /// Leaf index in the registry log (for receipts).
    pub log_index: u64,
}

impl TorrentRecord {
    /// Stored encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(300);
        w.u8(1);
        encode_registration(&mut w, &self.registration);
        w.bytes(&self.tx_id.0);
        w.u64(self.height);
        w.u64(self.log_index);
        w.finish()
    }

    /// Decodes the stored encoding.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        version(&mut r, "torrent record")?;
        let registration = decode_registration(&mut r)?;
        let rec = Self {
            registration,
            tx_id: TxId(r.array("tx id")?),
            height: r.u64("height")?,
            log_index: r.u64("log index")?,
        };
        finish(&r, rec)
    }
}

/// A registered tracker.
///
/// ```text
/// u8 1, str16 url, [32] operator, u64 registered_height, option u64 retired_height
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerRecord {
    /// Announce URL.
    pub url: String,
    /// The operator's account.
    pub operator: Address,
    /// Height of the (latest) registration.
    pub registered_height: u64,
    /// Height of retirement, if retired.
    pub retired_height: Option<u64>,
}

impl TrackerRecord {
    /// Stored encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(100 + self.url.len());
        w.u8(1);
        w.str16(&self.url);
        w.bytes(&self.operator.0);
        w.u64(self.registered_height);
        match self.retired_height {
            Some(h) => {
                w.u8(1);
                w.u64(h);
            }
            None => w.u8(0),
        }
        w.finish()
    }

    /// Decodes the stored encoding.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        version(&mut r, "tracker record")?;
        let rec = Self {
            url: r.str16(MAX_URL_BYTES, "url")?,
            operator: Address(r.array("operator")?),
            registered_height: r.u64("registered height")?,
            retired_height: if r.option("retired flag")? {
                Some(r.u64("retired height")?)
            } else {
                None
            },
        };
        finish(&r, rec)
    }
}

/// A validator: account, consensus key and voting power.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// The validator's account (receives fees as proposer).
    pub address: Address,
    /// The key it signs votes and checkpoints with: the account's current
    /// key when the set was derived.
    pub pubkey: PublicKey,
    /// Voting power: bonded stake × reputation factor (1.0 for now).
    pub power: u64,
}

/// A hex-encoded 32-byte value, for JSON views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hex32(#[serde(with = "hex_bytes")] pub [u8; 32]);

/// Whether a history item registered or amended the torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// `RegisterTorrent`.
    Register,
    /// `AmendLicense`.
    Amend,
}

/// One step of a torrent's registration history (each is a registry log
/// leaf).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// Register or amend.
    pub kind: HistoryKind,
    /// The transaction.
    pub tx_id: TxId,
    /// Its block height.
    pub height: u64,
    /// The signed manifest in force from then on.
    #[serde(with = "hex_bytes")]
    pub manifest_hash: [u8; 32],
    /// The license in force from then on.
    pub license: String,
    /// Its registry log leaf.
    pub log_index: u64,
}

impl HistoryItem {
    /// Stored encoding: `u8 1 | u8 kind (1 register, 2 amend) | [32] tx id |
    /// u64 height | [32] manifest hash | str16 license | u64 log index`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128);
        w.u8(1);
        w.u8(match self.kind {
            HistoryKind::Register => 1,
            HistoryKind::Amend => 2,
        });
        w.bytes(&self.tx_id.0);
        w.u64(self.height);
        w.bytes(&self.manifest_hash);
        w.str16(&self.license);
        w.u64(self.log_index);
        w.finish()
    }

    /// Decodes the stored encoding.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        if r.u8("history version")? != 1 {
            return Err(DecodeError::Invalid("history item version"));
        }
        let kind = match r.u8("history kind")? {
            1 => HistoryKind::Register,
            2 => HistoryKind::Amend,
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "history kind",
                    tag,
                })
            }
        };
        let item = Self {
            kind,
            tx_id: TxId(r.array("tx id")?),
            height: r.u64("height")?,
            manifest_hash: r.array("manifest hash")?,
            license: r.str16(crate::tx::MAX_LICENSE_BYTES, "license")?,
            log_index: r.u64("log index")?,
        };
        r.finish()?;
        Ok(item)
    }
}
