//! The JSON shapes of the ledger node's routes, as the client reads them.
//!
//! Unknown members are ignored (the server may add some); what is read is
//! checked (hex lengths, address forms) when it is used.

use btl_ledger::registry::validator_key_name;
use btl_ledger::{Address, PublicKey, RegisterTorrent, TxId};
use btl_tlog::{NoteVerifier, VerifierSet};
use serde::{Deserialize, Serialize};

/// `GET /status` (the members a client uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Chain id.
    pub chain_id: String,
    /// Height of the last committed block.
    pub height: u64,
}

/// `GET /tx/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxStatus {
    /// Transaction id (hex).
    pub id: String,
    /// `pending`, `committed` or `rejected`.
    pub status: String,
    /// Block height, once committed.
    #[serde(default)]
    pub height: Option<u64>,
    /// Index in the block, once committed.
    #[serde(default)]
    pub index: Option<u64>,
    /// Why it was rejected.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `GET /account/{addr}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The address (`btl1…`).
    pub address: String,
    /// Height of the state read.
    pub height: u64,
    /// The account.
    pub account: btl_ledger::Account,
}

/// `GET /receipt/{tx}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    /// Transaction id (hex).
    pub tx_id: String,
    /// Block height of the transaction.
    pub height: u64,
    /// Leaf index in the registry log.
    pub log_index: u64,
    /// Size of the checkpoint the receipt proves against.
    pub checkpoint_size: u64,
    /// The C2SP `tlog-proof` text.
    pub receipt: String,
}

/// One validator in [`Verifiers`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierKey {
    /// Ed25519 consensus key (hex).
    pub public_key: String,
    /// Voting power.
    pub power: u64,
    /// The C2SP note verifier key (`name+id+base64`).
    #[serde(default)]
    pub vkey: Option<String>,
}

/// `GET /registry/verifiers`: the validators whose cosignatures make a
/// receipt valid. Saved to a file, it is the trust root of `btl verify
/// --offline --trust FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verifiers {
    /// Chain id.
    pub chain_id: String,
    /// Registry log origin (`btl-ledger/<chain_id>/registry`).
    #[serde(default)]
    pub origin: Option<String>,
    /// Height of the validator set.
    #[serde(default)]
    pub height: Option<u64>,
    /// The validators.
    pub validators: Vec<VerifierKey>,
}

/// Largest trust file / verifiers answer.
pub const MAX_VERIFIERS_BYTES: usize = 1 << 20;

impl Verifiers {
    /// Parses a trust file (bounded).
    ///
    /// # Errors
    ///
    /// Names the problem.
    pub fn parse(bytes: &[u8]) -> Result<Verifiers, String> {
        if bytes.len() > MAX_VERIFIERS_BYTES {
            return Err(format!("over {MAX_VERIFIERS_BYTES} bytes"));
        }
        serde_json::from_slice(bytes).map_err(|e| format!("not a verifiers document: {e}"))
    }

    /// The note verifier set: each validator's key under its registry key
    /// name, weighted by power, threshold more than two thirds of the total.
    ///
    /// # Errors
    ///
    /// A key that is not 32 bytes of hex or not an Ed25519 point, or a
    /// `vkey` that disagrees with its `public_key`.
    pub fn verifier_set(&self) -> Result<VerifierSet, String> {
        let mut keys = Vec::new();
        let mut total: u128 = 0;
        for v in &self.validators {
            let pk: PublicKey = v
                .public_key
                .parse()
                .map_err(|e| format!("validator key {:?}: {e}", v.public_key))?;
            let vk = btl_tlog::ed25519_dalek::VerifyingKey::from_bytes(&pk.0)
                .map_err(|_| format!("validator key {} is not an Ed25519 key", v.public_key))?;
            let name = validator_key_name(&self.chain_id, &pk.address());
            let nv = NoteVerifier::new(&name, vk).map_err(|e| format!("validator key: {e}"))?;
            if let Some(text) = &v.vkey {
                let given =
                    NoteVerifier::from_vkey(text).map_err(|e| format!("vkey {text:?}: {e}"))?;
                if given.to_vkey() != nv.to_vkey() {
                    return Err(format!(
                        "vkey {text:?} does not match public key {}",
                        v.public_key
                    ));
                }
            }
            total += u128::from(v.power);
            keys.push((nv, v.power));
        }
        if keys.is_empty() {
            return Err("no validators".into());
        }
        let threshold = (total * 2 / 3 + 1).min(u128::from(u64::MAX)) as u64;
        Ok(VerifierSet::weighted(keys, threshold))
    }
}

/// The torrent record the ledger holds (`torrent` of `/registry/torrent`
/// and `/torrent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
    /// The registration (manifest hash, infohashes, creator, roots, ...).
    #[serde(flatten)]
    pub registration: RegistrationView,
    /// The registering transaction.
    pub tx_id: TxId,
    /// Height of the registration.
    pub height: u64,
    /// Leaf index in the registry log.
    #[serde(default)]
    pub log_index: Option<u64>,
}

/// The fields of a registration (like [`RegisterTorrent`], tolerant of
/// added members).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationView {
    /// SHA-256 of the signed manifest (hex).
    pub manifest_hash: String,
    /// v2 infohash (hex).
    pub infohash_v2: String,
    /// v1 infohash of a hybrid (hex).
    #[serde(default)]
    pub infohash_v1: Option<String>,
    /// The creator's account.
    pub creator: Address,
    /// Pieces roots (hex), in file order.
    #[serde(default)]
    pub file_roots: Vec<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Size.
    #[serde(default)]
    pub size: u64,
    /// License.
    #[serde(default)]
    pub license: String,
}

impl From<&RegisterTorrent> for RegistrationView {
    fn from(r: &RegisterTorrent) -> Self {
        RegistrationView {
            manifest_hash: hex::encode(r.manifest_hash),
            infohash_v2: hex::encode(r.infohash_v2),
            infohash_v1: r.infohash_v1.map(hex::encode),
            creator: r.creator,
            file_roots: r.file_roots.iter().map(hex::encode).collect(),
            name: r.name.clone(),
            size: r.size,
            license: r.license.clone(),
        }
    }
}

/// One record of a torrent's license history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Height.
    pub height: u64,
    /// Transaction id (hex).
    pub tx_id: String,
    /// The manifest of this record (hex).
    pub manifest_hash: String,
    /// License.
    pub license: String,
    /// `register` or `amend`.
    pub kind: String,
}

/// `GET /registry/key/{pk}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStatusView {
    /// The key (hex).
    #[serde(default)]
    pub public_key: Option<String>,
    /// Its account.
    #[serde(default)]
    pub account: Option<String>,
    /// `current`, `rotated`, `revoked` or `unknown`.
    pub status: String,
    /// Height of the status change.
    #[serde(default)]
    pub since_height: Option<u64>,
    /// The key that replaced it (rotated).
    #[serde(default)]
    pub replaced_by: Option<String>,
    /// Why it was revoked.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `GET /registry/torrent/{infohash}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorrentView {
    /// Height of the state read.
    pub height: u64,
    /// The record.
    pub torrent: RecordView,
    /// The registering transaction (hex).
    #[serde(default)]
    pub tx_id: Option<String>,
    /// The signed manifest, when the node has it.
    #[serde(default)]
    pub manifest: Option<serde_json::Value>,
    /// The receipt, when a cosigned checkpoint covers it.
    #[serde(default)]
    pub receipt: Option<String>,
    /// License history, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// The creator key's status.
    #[serde(default)]
    pub creator_key: Option<KeyStatusView>,
}

/// Fuzzing entry point: the trust-file parser and the decoding of every
/// ledger reply the client reads. None may panic; a parsed trust file's
/// verifier set is built too.
#[doc(hidden)]
pub fn fuzz_replies(data: &[u8]) {
    if let Ok(v) = Verifiers::parse(data) {
        let _ = v.verifier_set();
    }
    let _ = serde_json::from_slice::<TorrentView>(data);
    let _ = serde_json::from_slice::<KeyStatusView>(data);
    let _ = serde_json::from_slice::<RecordView>(data);
    let _ = serde_json::from_slice::<TxStatus>(data);
}
