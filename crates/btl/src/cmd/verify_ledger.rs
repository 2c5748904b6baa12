//! `btl verify`'s ledger checks: the receipt (against the validators' keys,
//! offline from a trust file or fetched from the ledger), the ledger's
//! record and the creator key's status. The decisions are
//! [`btl_registry::verdict::check`]'s; this module gathers the inputs.

use std::path::Path;

use anyhow::Result;
use btl_manifest::SignedManifest;
use btl_registry::api::{HistoryEntry, KeyStatusView, RecordView, Verifiers};
use btl_registry::verdict::{self, CheckStatus, LedgerInput, ReceiptInput, VerdictInput};
use btl_registry::{ClientError, RegistryClient};

/// One check's outcome, for the caller's report.
pub struct Outcome {
    /// Check name.
    pub name: &'static str,
    /// `Some(true)` pass, `Some(false)` fail, `None` not checked.
    pub ok: Option<bool>,
    /// Why.
    pub detail: String,
}

fn out(name: &'static str, ok: Option<bool>, detail: impl Into<String>) -> Outcome {
    Outcome {
        name,
        ok,
        detail: detail.into(),
    }
}

/// Where the ledger checks look.
pub struct Sources<'a> {
    /// Never contact the ledger.
    pub offline: bool,
    /// The ledger API.
    pub ledger: &'a str,
    /// A saved `/registry/verifiers` document.
    pub trust: Option<&'a Path>,
}

/// What the ledger holds about a torrent.
struct Online {
    chain_id: String,
    record: Option<RecordView>,
    history: Vec<HistoryEntry>,
    key: Option<KeyStatusView>,
    key_note: String,
    verifiers: Result<Verifiers, String>,
}

async fn fetch(client: &RegistryClient, signed: &SignedManifest) -> Result<Online, ClientError> {
    let m = signed.manifest();
    let ih = m.infohash_v2.to_hex();
    let chain_id = client.status().await?.chain_id;
    // The registry view has the history and key status; the plain ledger
    // route is the fallback of a node without the registry routes.
    let view = client.torrent(&ih).await.ok().flatten();
    let (record, history, mut key) = match view {
        Some(v) => (Some(v.torrent), v.history, v.creator_key),
        None => (client.ledger_record(&ih).await?, Vec::new(), None),
    };
    // The status that matters is the signing key's. The registry's
    // `creator_key` is that of the key that signed its stored manifest,
    // which is this one unless the .prov holds another manifest (an
    // earlier one of the license history) or the node stores none (or is
    // older and describes the account's current key): only then ask.
    let signer = hex::encode(m.creator.public_bytes());
    if key.as_ref().and_then(|k| k.public_key.as_deref()) != Some(signer.as_str()) {
        key = None;
    }
    let mut key_note = String::new();
    if key.is_none() {
        match client.key_status(&signer).await {
            Ok(k) => key = Some(k),
            Err(e) => key_note = format!("the ledger did not say ({e})"),
        }
    }
    let verifiers = client
        .verifiers(None)
        .await
        .map_err(|e| format!("cannot fetch the validators' keys: {e}"));
    Ok(Online {
        chain_id,
        record,
        history,
        key,
        key_note,
        verifiers,
    })
}

/// Runs the receipt, ledger and creator key checks.
pub fn checks(
    signed: &SignedManifest,
    receipt: Option<&str>,
    src: &Sources<'_>,
) -> Result<Vec<Outcome>> {
    let mut res = Vec::new();
    let trust = match src.trust {
        Some(p) => {
            let bytes =
                crate::input::read_capped(p, btl_registry::api::MAX_VERIFIERS_BYTES as u64)?;
            Some(
                Verifiers::parse(&bytes)
                    .map_err(|e| anyhow::anyhow!("--trust {}: {e}", p.display()))?,
            )
        }
        None => None,
    };
    let online = if src.offline {
        None
    } else {
        let rt = crate::cmd::registry_common::runtime()?;
        let client = RegistryClient::new(src.ledger)?;
        match rt.block_on(fetch(&client, signed)) {
            Ok(o) => Some(o),
            Err(e) => {
                res.push(out(
                    "ledger",
                    None,
                    format!("not consulted: {e} (say --offline to not try)"),
                ));
                None
            }
        }
    };
    let verifiers: Result<Verifiers, String> = match (trust, &online) {
        (Some(t), _) => Ok(t),
        (None, Some(o)) => o.verifiers.clone(),
        (None, None) => Err("no validators' keys to check it against: give --trust FILE (a saved /registry/verifiers document) or let btl verify ask the ledger".into()),
    };
    let set = verifiers
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|v| v.verifier_set().map(|s| (v.chain_id.clone(), s)));
    if let (Some(o), Ok((chain, _))) = (&online, &set) {
        if &o.chain_id != chain {
            res.push(out(
                "receipt",
                Some(false),
                format!(
                    "the trust file is for chain {chain:?}, the ledger is {:?}",
                    o.chain_id
                ),
            ));
            return Ok(res);
        }
    }
    let bytes = signed.canonical_bytes();
    let receipt_input = match (receipt, &set) {
        (Some(text), Ok((chain, s))) => Some(ReceiptInput {
            text,
            chain_id: chain,
            verifiers: s,
        }),
        _ => None,
    };
    let ledger = online.as_ref().and_then(|o| {
        o.record.as_ref().map(|r| LedgerInput {
            record: r,
            history: &o.history,
        })
    });
    let v = verdict::check(&VerdictInput {
        manifest: &bytes,
        torrent: None,
        receipt: receipt_input,
        key_status: online.as_ref().and_then(|o| o.key.as_ref()),
        ledger,
    });
    let conv = |s: CheckStatus| match s {
        CheckStatus::Pass => Some(true),
        CheckStatus::Fail => Some(false),
        CheckStatus::Skipped => None,
    };
    // The receipt.
    match (receipt, &set, v.get("receipt")) {
        (None, _, _) => res.push(out(
            "receipt",
            None,
            "none in the .prov file (btl publish writes it)",
        )),
        (Some(_), Err(e), _) => {
            res.push(out("receipt", None, format!("present, not checked: {e}")))
        }
        (Some(_), Ok(_), Some(c)) => res.push(out("receipt", conv(c.status), c.detail.clone())),
        (Some(_), Ok(_), None) => {}
    }
    if let Some(o) = &online {
        match (&o.record, v.get("ledger")) {
            (None, _) => res.push(out(
                "ledger",
                Some(false),
                format!(
                    "{} is not registered on {:?} (publish it with btl publish)",
                    signed.manifest().infohash_v2,
                    o.chain_id
                ),
            )),
            (Some(_), Some(c)) => res.push(out("ledger", conv(c.status), c.detail.clone())),
            (Some(_), None) => {}
        }
        match (&o.key, v.get("creator_key")) {
            (Some(_), Some(c)) => {
                res.push(out("creator key status", conv(c.status), c.detail.clone()))
            }
            _ => res.push(out(
                "creator key status",
                None,
                format!("not checked: {}", o.key_note),
            )),
        }
    } else if src.offline {
        res.push(out(
            "creator key status",
            None,
            "not checked (--offline): rotation and revocation are on the ledger",
        ));
    }
    Ok(res)
}
