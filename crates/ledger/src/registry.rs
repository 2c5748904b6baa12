//! The registry log and its receipts.
//!
//! Every torrent registration appends one leaf to an RFC 6962 log whose size
//! and root are in every block header. The leaf is the
//! [`RegistryEntry`] encoding:
//!
//! ```text
//! u8 1, str8 chain_id, [32] tx id, u64 height, RegisterTorrent body
//! leaf hash = SHA-256(0x00 || entry)
//! ```
//!
//! The log's checkpoint is a C2SP signed note with origin
//! `btl-ledger/<chain_id>/registry`, **cosigned by the validators** with
//! their consensus keys (plain Ed25519 note signatures, key name
//! `btl-ledger/<chain_id>/validator/<first 16 hex digits of the address>`).
//! A receipt is a C2SP `tlog-proof` whose `extra` line carries the entry, so
//! it verifies offline with only the validators' keys ([`verify_receipt`]).

use btl_tlog::ed25519_dalek::{SigningKey, VerifyingKey};
use btl_tlog::{
    inclusion_proof, leaf_hash, Checkpoint, Hash, NodeSource, Note, NoteSignature, NoteSigner,
    NoteVerifier, TlogProof, TlogProofError, VerifierSet,
};

use crate::block::BlockHeader;
use crate::codec::{DecodeError, Reader, Writer};
use crate::params::{check_chain_id, MAX_CHAIN_ID_BYTES};
use crate::records::Validator;
use crate::state::{key, StateRead};
use crate::tx::{decode_registration, encode_registration, RegisterTorrent, TxId};

/// One leaf of the registry log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegistryEntry {
    /// Chain id.
    pub chain_id: String,
    /// The registering transaction.
    pub tx_id: TxId,
    /// Block height.
    pub height: u64,
    /// What was registered.
    pub registration: RegisterTorrent,
}

impl RegistryEntry {
    /// The leaf data.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        w.u8(1);
        w.str8(&self.chain_id);
        w.bytes(&self.tx_id.0);
        w.u64(self.height);
        encode_registration(&mut w, &self.registration);
        w.finish()
    }

    /// Decodes the leaf data.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() > crate::params::MAX_TX_BYTES + 128 {
            return Err(DecodeError::TooLarge {
                what: "registry entry",
                max: crate::params::MAX_TX_BYTES + 128,
            });
        }
        let mut r = Reader::new(b);
        if r.u8("entry version")? != 1 {
            return Err(DecodeError::Invalid("registry entry version"));
        }
        let chain_id = r.str8(MAX_CHAIN_ID_BYTES, "chain id")?;
        check_chain_id(&chain_id)?;
        let e = Self {
            chain_id,
            tx_id: TxId(r.array("tx id")?),
            height: r.u64("height")?,
            registration: decode_registration(&mut r)?,
        };
        r.finish()?;
        Ok(e)
    }

    /// The RFC 6962 leaf hash.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

/// The log's origin line for a chain.
pub fn log_origin(chain_id: &str) -> String {
    format!("btl-ledger/{chain_id}/registry")
}

/// A validator's note key name.
pub fn validator_key_name(chain_id: &str, address: &crate::Address) -> String {
    format!(
        "btl-ledger/{chain_id}/validator/{}",
        &hex::encode(address.0)[..16]
    )
}

/// The checkpoint a header commits to.
pub fn checkpoint(header: &BlockHeader) -> Checkpoint {
    Checkpoint::new(
        &log_origin(&header.chain_id),
        header.log_size,
        header.log_root,
    )
}

/// A validator's cosignature over the checkpoint of `header`, made with its
/// consensus key.
pub fn cosign_checkpoint(
    header: &BlockHeader,
    validator: &crate::Address,
    key: &SigningKey,
) -> Result<NoteSignature, btl_tlog::NoteError> {
    let signer = NoteSigner::new(
        &validator_key_name(&header.chain_id, validator),
        key.clone(),
    )?;
    signer.sign(&checkpoint(header).to_text())
}

/// The note verifiers of a validator set, weighted by power, with the BFT
/// threshold (more than two thirds of the total power).
pub fn validator_verifiers(chain_id: &str, set: &[Validator]) -> VerifierSet {
    let mut keys = Vec::new();
    let mut total: u128 = 0;
    for v in set {
        let Ok(vk) = VerifyingKey::from_bytes(&v.pubkey.0) else {
            continue;
        };
        let Ok(nv) = NoteVerifier::new(&validator_key_name(chain_id, &v.address), vk) else {
            continue;
        };
        total += u128::from(v.power);
        keys.push((nv, v.power));
    }
    let threshold = (total * 2 / 3 + 1).min(u128::from(u64::MAX)) as u64;
    VerifierSet::weighted(keys, threshold)
}

/// Reads registry log nodes from state (they are auxiliary `xl…` entries).
pub struct LogNodes<'a, S: ?Sized>(pub &'a S);

impl<S: StateRead + ?Sized> NodeSource for LogNodes<'_, S> {
    fn node(&self, level: u8, index: u64) -> Option<Hash> {
        self.0
            .get(&key::log_node(level, index))
            .and_then(|v| v.try_into().ok())
    }
}

/// Errors making or checking receipts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The torrent is not registered.
    #[error("torrent is not registered")]
    NotRegistered,
    /// The checkpoint does not cover the entry.
    #[error("checkpoint of size {size} does not cover log index {index}")]
    NotCovered {
        /// Checkpoint size.
        size: u64,
        /// Entry index.
        index: u64,
    },
    /// The checkpoint note is not a checkpoint of this chain's log.
    #[error("bad checkpoint: {0}")]
    Checkpoint(#[from] btl_tlog::CheckpointError),
    /// A log node is missing from state (corrupt state).
    #[error("log proof: {0}")]
    Proof(#[from] btl_tlog::ProofError),
    /// The receipt has no entry in its extra line, or it is malformed.
    #[error("receipt entry: {0}")]
    Entry(#[from] DecodeError),
    /// The receipt has no extra data (the entry).
    #[error("receipt carries no registry entry")]
    NoEntry,
    /// The entry belongs to another chain.
    #[error("receipt is for chain {0:?}")]
    WrongChain(String),
    /// The proof or its signatures do not verify.
    #[error(transparent)]
    Verify(#[from] TlogProofError),
    /// State error.
    #[error(transparent)]
    State(#[from] crate::StateError),
}

/// Builds the receipt of the torrent `infohash_v2` against a signed
/// checkpoint note (cosigned by validators) that covers it. `state` must be
/// at or after the checkpoint's height (log nodes are append-only).
pub fn make_receipt(
    state: &(impl StateRead + ?Sized),
    infohash_v2: &[u8; 32],
    checkpoint_note: &Note,
) -> Result<TlogProof, ReceiptError> {
    let info = crate::ChainInfo::load(state)?;
    let rec = crate::query::torrent(state, infohash_v2)?.ok_or(ReceiptError::NotRegistered)?;
    let cp = Checkpoint::parse(checkpoint_note.text())?;
    if cp.origin != log_origin(&info.chain_id) {
        return Err(btl_tlog::CheckpointError::WrongOrigin {
            expected: log_origin(&info.chain_id),
            found: cp.origin,
        }
        .into());
    }
    if rec.log_index >= cp.size {
        return Err(ReceiptError::NotCovered {
            size: cp.size,
            index: rec.log_index,
        });
    }
    let entry = RegistryEntry {
        chain_id: info.chain_id,
        tx_id: rec.tx_id,
        height: rec.height,
        registration: rec.registration,
    };
    let path = inclusion_proof(&LogNodes(state), rec.log_index, cp.size)?;
    Ok(TlogProof {
        extra: Some(entry.encode()),
        index: rec.log_index,
        path,
        checkpoint: checkpoint_note.clone(),
    })
}

/// Builds the receipt of registry transaction `tx_id` (a registration or
/// an amendment of the torrent `infohash_v2`, see its history) against a
/// cosigned checkpoint note that covers it.
pub fn make_tx_receipt(
    state: &(impl StateRead + ?Sized),
    infohash_v2: &[u8; 32],
    tx_id: &TxId,
    checkpoint_note: &Note,
) -> Result<(TlogProof, u64), ReceiptError> {
    let info = crate::ChainInfo::load(state)?;
    let rec = crate::query::torrent(state, infohash_v2)?.ok_or(ReceiptError::NotRegistered)?;
    let history = crate::query::history(state, infohash_v2)?;
    let (height, index, registration) = match history.iter().find(|i| i.tx_id == *tx_id) {
        Some(item) => {
            let mut r = rec.registration.clone();
            r.manifest_hash = item.manifest_hash;
            r.license = item.license.clone();
            (item.height, item.log_index, r)
        }
        None if rec.tx_id == *tx_id => (rec.height, rec.log_index, rec.registration.clone()),
        None => return Err(ReceiptError::NotRegistered),
    };
    let cp = Checkpoint::parse(checkpoint_note.text())?;
    if cp.origin != log_origin(&info.chain_id) {
        return Err(btl_tlog::CheckpointError::WrongOrigin {
            expected: log_origin(&info.chain_id),
            found: cp.origin,
        }
        .into());
    }
    if index >= cp.size {
        return Err(ReceiptError::NotCovered {
            size: cp.size,
            index,
        });
    }
    let entry = RegistryEntry {
        chain_id: info.chain_id,
        tx_id: *tx_id,
        height,
        registration,
    };
    let path = inclusion_proof(&LogNodes(state), index, cp.size)?;
    Ok((
        TlogProof {
            extra: Some(entry.encode()),
            index,
            path,
            checkpoint: checkpoint_note.clone(),
        },
        index,
    ))
}

/// Verifies a receipt offline: the entry in its extra line is at its index
/// in the log of `chain_id`, under a checkpoint cosigned by validators of
/// `set` holding more than two thirds of its power. Returns the entry and
/// the checkpoint.
pub fn verify_receipt(
    receipt: &[u8],
    chain_id: &str,
    set: &VerifierSet,
) -> Result<(RegistryEntry, Checkpoint), ReceiptError> {
    let proof = TlogProof::parse(receipt)?;
    let extra = proof.extra.as_deref().ok_or(ReceiptError::NoEntry)?;
    let entry = RegistryEntry::decode(extra)?;
    if entry.chain_id != chain_id {
        return Err(ReceiptError::WrongChain(entry.chain_id));
    }
    let cp = proof.verify(&entry.leaf_hash(), &log_origin(chain_id), set)?;
    Ok((entry, cp))
}
