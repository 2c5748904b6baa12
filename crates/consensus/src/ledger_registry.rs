//! The `/registry/*` queries of the [`LedgerApp`]: a torrent with its
//! history, receipt, manifest and the status of the key that signed it; a creator's torrents; a key's
//! status.
//!
//! [`LedgerApp`]: crate::ledger_app::LedgerApp

use btl_ledger::{self as ledger, query, HistoryKind, KeyStatus, PublicKey};
use serde_json::{json, Value};

use crate::app::{QueryError, StateRead};
use crate::ledger_receipts::View;

fn state_err(e: impl std::fmt::Display) -> QueryError {
    QueryError::BadInput(format!("state: {e}"))
}

/// Parses a public key given as 64 hex digits or as a `did:key`.
pub fn parse_key(arg: &str) -> Result<PublicKey, QueryError> {
    if arg.starts_with("did:key:") {
        let did = btl_manifest::DidKey::from_verification_method(arg)
            .or_else(|_| btl_manifest::DidKey::from_multikey(&arg["did:key:".len()..]))
            .map_err(|e| QueryError::BadInput(format!("key {arg:?}: {e}")))?;
        return Ok(PublicKey(did.public_bytes()));
    }
    crate::config::parse_key(arg).map(PublicKey).map_err(|e| {
        QueryError::BadInput(format!("key {arg:?}: want 64 hex digits or did:key ({e})"))
    })
}

/// A key's status: `current` (an account's signing key), `rotated`,
/// `revoked` or `unknown`.
pub fn key_status(state: &dyn StateRead, pk: &PublicKey) -> Result<Value, QueryError> {
    let view = View(state);
    let rec = query::key_record(&view, pk).map_err(state_err)?;
    let (status, account, since, replaced_by, reason) = match &rec {
        Some(r) => {
            let (status, since) = match r.status() {
                KeyStatus::Revoked => ("revoked", r.revoked.map(|x| x.height)),
                KeyStatus::Rotated => ("rotated", r.rotated.map(|x| x.height)),
                KeyStatus::Active => ("current", Some(r.added_height)),
            };
            (
                status,
                Some(r.account),
                since,
                r.rotated.map(|x| hex::encode(x.successor.0)),
                r.revoked
                    .map(|x| serde_json::to_value(x.reason).unwrap_or(Value::Null)),
            )
        }
        None => {
            // A key without a record is current if it is the original key
            // of its own address's account.
            let addr = pk.address();
            let acct = query::account(&view, &addr).map_err(state_err)?;
            match acct {
                Some(a) if a.signing_key(&addr) == *pk => {
                    ("current", Some(addr), Some(0), None, None)
                }
                _ => ("unknown", None, None, None, None),
            }
        }
    };
    Ok(json!({
        "public_key": hex::encode(pk.0),
        "account": account.map(|a| a.to_string()),
        "status": status,
        "since_height": since,
        "replaced_by": replaced_by,
        "reason": reason,
    }))
}

/// The torrent by v2 (64 hex) or v1 (40 hex) infohash, with its history,
/// its stored manifest (the record's current one, or null) and the status
/// of the key that signed that manifest (null without a stored manifest:
/// after a rotation the account's current key is another key, so only the
/// manifest says which key signed). `receipt` is filled in by the caller.
pub fn torrent(state: &dyn StateRead, arg: &str) -> Result<(Value, [u8; 32]), QueryError> {
    let view = View(state);
    let rec = match arg.len() {
        40 => {
            let b = hex::decode(arg).map_err(|e| QueryError::BadInput(format!("infohash: {e}")))?;
            let mut v1 = [0u8; 20];
            v1.copy_from_slice(&b);
            query::torrent_by_v1(&view, &v1).map_err(state_err)?
        }
        64 => {
            let ih = crate::config::parse_key(arg)
                .map_err(|e| QueryError::BadInput(format!("infohash: {e}")))?;
            query::torrent(&view, &ih).map_err(state_err)?
        }
        _ => {
            return Err(QueryError::BadInput(format!(
                "infohash {arg:?}: want 64 (v2) or 40 (v1) hex digits"
            )))
        }
    };
    let rec =
        rec.ok_or_else(|| QueryError::NotFound(format!("torrent {arg} is not registered")))?;
    let ih = rec.registration.infohash_v2;
    let history: Vec<Value> = query::history(&view, &ih)
        .map_err(state_err)?
        .into_iter()
        .map(|i| {
            json!({
                "height": i.height,
                "tx_id": hex::encode(i.tx_id.0),
                "manifest_hash": hex::encode(i.manifest_hash),
                "license": i.license,
                "log_index": i.log_index,
                "kind": match i.kind { HistoryKind::Register => "register", HistoryKind::Amend => "amend" },
            })
        })
        .collect();
    let manifest = state
        .manifest(&rec.registration.manifest_hash)
        .and_then(|d| serde_json::from_slice::<Value>(&d).ok())
        .unwrap_or(Value::Null);
    let creator_key = match signer(&manifest) {
        Some(pk) => key_status(state, &pk)?,
        None => Value::Null,
    };
    let height = ledger::last_header(&view).map_err(state_err)?.height;
    Ok((
        json!({
            "height": height,
            "torrent": serde_json::to_value(&rec).unwrap_or(Value::Null),
            "tx_id": hex::encode(rec.tx_id.0),
            "manifest_hash": hex::encode(rec.registration.manifest_hash),
            "history": history,
            "manifest": manifest,
            "creator_key": creator_key,
        }),
        rec.tx_id.0,
    ))
}

/// The key that signed a stored manifest: its `creator` (a `did:key`; the
/// node verified on upload that the proof is the creator's).
fn signer(manifest: &Value) -> Option<PublicKey> {
    let did = manifest.get("creator")?.as_str()?;
    parse_key(did).ok()
}

/// Most torrents in one creator listing page.
pub const MAX_PAGE: usize = 100;

/// A creator's torrents (`?after=INFOHASH&limit=N`), in infohash order.
pub fn creator(
    state: &dyn StateRead,
    account: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Value, QueryError> {
    let addr: ledger::Address = account
        .parse()
        .or_else(|_| crate::config::parse_key(account).map(ledger::Address))
        .map_err(|_| {
            QueryError::BadInput(format!("account {account:?}: want btl1… or 64 hex digits"))
        })?;
    let prefix = ledger::state::key::creator_torrent(&addr, &[0; 32]);
    let prefix = &prefix[..prefix.len() - 32];
    let after_key = match after {
        Some(a) => {
            let ih = crate::config::parse_key(a)
                .map_err(|e| QueryError::BadInput(format!("after: {e}")))?;
            ledger::state::key::creator_torrent(&addr, &ih)
        }
        None => Vec::new(),
    };
    let view = View(state);
    let mut out = Vec::new();
    for (k, _) in state.scan(prefix, &after_key, limit.clamp(1, MAX_PAGE)) {
        let Some(ih) = k
            .get(prefix.len()..)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
        else {
            continue;
        };
        if let Some(rec) = query::torrent(&view, &ih).map_err(state_err)? {
            out.push(json!({
                "infohash": hex::encode(ih),
                "name": rec.registration.name,
                "height": rec.height,
                "license": rec.registration.license,
            }));
        }
    }
    Ok(json!({"account": addr.to_string(), "torrents": out}))
}

/// Checks a signed manifest document (full verification); returns its id
/// and canonical (JCS) bytes.
pub fn check_manifest(doc: &[u8]) -> Result<([u8; 32], Vec<u8>), String> {
    let m = btl_manifest::SignedManifest::parse(doc).map_err(|e| e.to_string())?;
    Ok((m.id().0, m.canonical_bytes()))
}

/// Whether a torrent's registration or amendment names this manifest.
pub fn manifest_referenced(state: &dyn StateRead, id: &[u8; 32]) -> bool {
    state.get(&ledger::state::key::manifest_ref(id)).is_some()
}
