//! Cosigned registry checkpoints and receipts for the [`LedgerApp`].
//!
//! Every validator's precommit carries, as its vote extension, its Ed25519
//! signature (consensus key) of the registry checkpoint text in the header
//! of the block it precommits ([`btl_ledger::registry::checkpoint`]). When
//! a block is decided the node keeps the valid signatures of the validators
//! that signed its commit certificate and, if they hold more than two
//! thirds of the height's voting power, stores a [`CosignedRecord`]: the
//! checkpoint as a C2SP signed note plus the validator set that signed it
//! (the verifiers a client needs). Receipts are built against the latest
//! record.
//!
//! [`LedgerApp`]: crate::ledger_app::LedgerApp

use btl_ledger::registry::{checkpoint, log_origin, make_tx_receipt, validator_key_name};
use btl_ledger::tlog::ed25519_dalek::VerifyingKey;
use btl_ledger::tlog::{key_id, Note, NoteSignature, NoteVerifier};
use btl_ledger::{self as ledger};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::{QueryError, StateRead, TxLocator};

/// Adapts our state view to the ledger's.
pub(crate) struct View<'a>(pub &'a dyn StateRead);

impl ledger::StateRead for View<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key)
    }
}

/// One validator of a cosigning set, as served by `/registry/verifiers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierEntry {
    /// Consensus public key (hex).
    pub public_key: String,
    /// Validator account (btl1…).
    pub address: String,
    /// Voting power.
    pub power: u64,
    /// The C2SP vkey of its checkpoint signatures.
    pub vkey: String,
}

/// The record stored with a decided block whose checkpoint validators
/// holding more than two thirds of the power cosigned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosignedRecord {
    /// Block height.
    pub height: u64,
    /// Log size of the checkpoint.
    pub size: u64,
    /// The cosigned checkpoint (C2SP signed note text).
    pub note: String,
    /// The validator set of the height (all of it, signers or not).
    pub validators: Vec<VerifierEntry>,
}

/// The verifier entries of a validator set.
pub fn verifier_entries(chain_id: &str, set: &[ledger::Validator]) -> Vec<VerifierEntry> {
    set.iter()
        .filter_map(|v| {
            let vk = VerifyingKey::from_bytes(&v.pubkey.0).ok()?;
            let nv = NoteVerifier::new(&validator_key_name(chain_id, &v.address), vk).ok()?;
            Some(VerifierEntry {
                public_key: hex::encode(v.pubkey.0),
                address: v.address.to_string(),
                power: v.power,
                vkey: nv.to_vkey(),
            })
        })
        .collect()
}

/// The checkpoint note text of a block (what validators cosign).
pub fn cosign_message(block: &[u8]) -> Option<Vec<u8>> {
    let h = ledger::Block::decode_header(block).ok()?;
    Some(checkpoint(&h).to_text().into_bytes())
}

/// Builds the record of a decided block from its cosignatures (already
/// checked against the message); `state` is committed state before it.
pub fn cosigned_record(
    state: &dyn StateRead,
    block: &[u8],
    cosigs: &[([u8; 32], Vec<u8>)],
) -> Option<Vec<u8>> {
    let h = &ledger::Block::decode_header(block).ok()?;
    let set = ledger::validator_set(&View(state), h.height).ok()?;
    let text = checkpoint(h).to_text();
    let mut note = Note::new(&text).ok()?;
    let total: u128 = set.iter().map(|v| u128::from(v.power)).sum();
    let mut signed: u128 = 0;
    for v in &set {
        let Some((_, sig)) = cosigs.iter().find(|(pk, _)| *pk == v.pubkey.0) else {
            continue;
        };
        let name = validator_key_name(&h.chain_id, &v.address);
        let sig = NoteSignature {
            key_id: key_id(&name, &v.pubkey.0),
            name,
            signature: sig.clone(),
        };
        if note.add_signature(sig).is_ok() {
            signed += u128::from(v.power);
        }
    }
    if signed * 3 <= total * 2 {
        return None;
    }
    let rec = CosignedRecord {
        height: h.height,
        size: h.log_size,
        note: note.to_text(),
        validators: verifier_entries(&h.chain_id, &set),
    };
    serde_json::to_vec(&rec).ok()
}

fn record(state: &dyn StateRead, height: Option<u64>) -> Option<CosignedRecord> {
    let (_, b) = state.cosigned(height)?;
    serde_json::from_slice(&b).ok()
}

fn no_checkpoint() -> QueryError {
    QueryError::NotYet("no cosigned checkpoint yet".into(), 1)
}

/// `GET /checkpoint`: the latest cosigned checkpoint.
pub fn latest_checkpoint(state: &dyn StateRead) -> Result<Value, QueryError> {
    let r = record(state, None).ok_or_else(no_checkpoint)?;
    Ok(json!({"height": r.height, "size": r.size, "note": r.note}))
}

/// `GET /registry/verifiers[?height=H]`: the validators whose
/// cosignatures a receipt needs (those of the cosigned checkpoint at
/// `H`, or of the latest one).
pub fn verifiers(
    state: &dyn StateRead,
    chain_id: &str,
    height: Option<u64>,
) -> Result<Value, QueryError> {
    let (h, validators) = match record(state, height) {
        Some(r) => (r.height, r.validators),
        None => {
            let view = View(state);
            let h = match height {
                Some(h) => h,
                None => ledger::last_header(&view)
                    .map_err(|e| QueryError::BadInput(format!("state: {e}")))?
                    .height
                    .saturating_add(1),
            };
            let set = ledger::validator_set(&view, h).map_err(|_| {
                QueryError::NotFound(format!(
                    "no cosigned checkpoint or validator set at height {h}"
                ))
            })?;
            (h, verifier_entries(chain_id, &set))
        }
    };
    Ok(json!({
        "chain_id": chain_id,
        "origin": log_origin(chain_id),
        "height": h,
        "validators": validators,
    }))
}

/// Parses a verifiers document (the JSON of `/registry/verifiers`) into
/// the set [`btl_ledger::registry::verify_receipt`] needs.
pub fn verifier_set_from_json(v: &Value) -> Result<btl_ledger::tlog::VerifierSet, String> {
    let entries: Vec<VerifierEntry> =
        serde_json::from_value(v["validators"].clone()).map_err(|e| format!("verifiers: {e}"))?;
    let mut keys = Vec::new();
    let mut total: u128 = 0;
    for e in entries {
        let nv = NoteVerifier::from_vkey(&e.vkey).map_err(|x| format!("vkey {}: {x}", e.vkey))?;
        total += u128::from(e.power);
        keys.push((nv, e.power));
    }
    let threshold = (total * 2 / 3 + 1).min(u128::from(u64::MAX)) as u64;
    Ok(btl_ledger::tlog::VerifierSet::weighted(keys, threshold))
}

/// `GET /receipt/{tx}`: the C2SP tlog-proof of a registration.
pub fn receipt(
    state: &dyn StateRead,
    tx_id: &[u8; 32],
    tx_location: &TxLocator<'_>,
) -> Result<Value, QueryError> {
    let (h, idx) = tx_location(tx_id)
        .ok_or_else(|| QueryError::NotFound("transaction not committed".into()))?;
    let block = state
        .block(h)
        .ok_or_else(|| QueryError::NotFound(format!("block {h} not stored")))?;
    let b = ledger::Block::decode(&block)
        .map_err(|e| QueryError::BadInput(format!("stored block {h}: {e}")))?;
    let stx = b
        .txs
        .get(idx as usize)
        .ok_or_else(|| QueryError::NotFound("transaction not in its block".into()))?;
    let infohash = match &stx.tx.body {
        ledger::TxBody::RegisterTorrent(r) => r.infohash_v2,
        ledger::TxBody::AmendLicense { infohash_v2, .. } => *infohash_v2,
        _ => {
            return Err(QueryError::NotFound(
                "not a registry transaction (no receipt)".into(),
            ))
        }
    };
    let rec = record(state, None).ok_or_else(no_checkpoint)?;
    if rec.height < h {
        return Err(QueryError::NotYet(
            format!(
                "committed at height {h}; the latest cosigned checkpoint is at height {}",
                rec.height
            ),
            1,
        ));
    }
    let note = Note::parse(rec.note.as_bytes())
        .map_err(|e| QueryError::BadInput(format!("stored checkpoint: {e}")))?;
    let view = View(state);
    let (proof, log_index) = make_tx_receipt(&view, &infohash, &ledger::TxId(*tx_id), &note)
        .map_err(|e| match e {
            ledger::ReceiptError::NotRegistered => {
                QueryError::NotFound("not in the torrent's registry history".into())
            }
            e => QueryError::BadInput(format!("receipt: {e}")),
        })?;
    Ok(json!({
        "tx_id": hex::encode(tx_id),
        "height": h,
        "log_index": log_index,
        "checkpoint_height": rec.height,
        "checkpoint_size": rec.size,
        "receipt": proof.to_text(),
    }))
}
