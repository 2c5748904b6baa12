//! The bitorrent ledger ([`btl_ledger`]) as the node's [`App`].
//!
//! Blocks are [`btl_ledger::Block`] encodings; transactions are
//! [`btl_ledger::SignedTx`] encodings. Signatures verified at mempool
//! admission are remembered (bounded) so that building and checking a
//! block does not verify them again.

use std::sync::{Arc, Mutex};

use btl_ledger::{self as ledger, query, SigCache};
use serde_json::json;

use crate::app::{
    App, BlockSummary, BuildCtx, Built, Executed, QueryError, StateRead, TxLocator, TxMeta,
};

/// Most remembered signature checks.
const MAX_SIG_CACHE: usize = 400_000;

use crate::ledger_receipts::{self as receipts, View};

/// The ledger app.
pub struct LedgerApp {
    genesis: ledger::Genesis,
    sigs: Mutex<ledger::VerifiedSigs>,
}

impl std::fmt::Debug for LedgerApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LedgerApp({})", self.genesis.chain_id)
    }
}

struct Cache<'a>(&'a Mutex<ledger::VerifiedSigs>);

impl SigCache for Cache<'_> {
    fn verified(&self, id: &ledger::TxId, sig: &[u8; 64], key: &ledger::PublicKey) -> bool {
        self.0
            .lock()
            .map(|c| c.verified(id, sig, key))
            .unwrap_or(false)
    }
}

impl LedgerApp {
    /// The app for a ledger genesis (validated).
    pub fn new(genesis: ledger::Genesis) -> Result<Arc<Self>, String> {
        genesis
            .validate()
            .map_err(|e| format!("ledger genesis: {e}"))?;
        Ok(Arc::new(LedgerApp {
            genesis,
            sigs: Mutex::new(ledger::VerifiedSigs::new()),
        }))
    }

    fn forget(&self, ids: &[[u8; 32]]) {
        if let Ok(mut c) = self.sigs.lock() {
            for id in ids {
                c.remove(&ledger::TxId(*id));
            }
        }
    }
}

fn parse32(what: &str, s: &str) -> Result<[u8; 32], QueryError> {
    crate::config::parse_key(s).map_err(|e| QueryError::BadInput(format!("{what}: {e}")))
}

fn state_err(e: impl std::fmt::Display) -> QueryError {
    QueryError::BadInput(format!("state: {e}"))
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

impl App for LedgerApp {
    fn state_layout(&self) -> u32 {
        ledger::smt::LAYOUT
    }

    fn genesis_state(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        match self.genesis.build() {
            Ok((diff, _)) => diff.into_writes().collect(),
            Err(e) => {
                tracing::error!(error = %e, "genesis does not build");
                Vec::new()
            }
        }
    }

    fn build(
        &self,
        state: &dyn StateRead,
        ctx: &BuildCtx,
        candidates: &mut dyn Iterator<Item = Arc<Vec<u8>>>,
    ) -> Result<Built, String> {
        let view = View(state);
        let height = ctx.height;
        let set = ledger::validator_set(&view, height).map_err(|e| e.to_string())?;
        let me = set
            .iter()
            .find(|v| v.pubkey.0 == ctx.proposer)
            .map(|v| v.address)
            .ok_or("this node is not a validator of this height")?;
        let txs = candidates.filter_map(|b| ledger::SignedTx::decode(&b).ok());
        let bctx = ledger::BuildContext {
            time_ms: ctx.time_ms,
            proposer: me,
            max_txs: None,
            max_bytes: None,
        };
        let built = ledger::build_block(&view, &bctx, txs, &Cache(&self.sigs))
            .map_err(|e| e.to_string())?;
        let chain = &built.block.header.chain_id;
        let tx_ids: Vec<[u8; 32]> = built.block.txs.iter().map(|t| t.id(chain).0).collect();
        let rejected = built
            .rejected
            .iter()
            .filter(|(_, e)| e.is_permanent())
            .map(|(id, e)| (id.0, e.to_string()))
            .collect::<Vec<_>>();
        // The mempool drops these: nothing will ask about their signatures.
        self.forget(&rejected.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        Ok(Built {
            block: built.block.encode(),
            executed: Executed {
                diff: built.diff.into_writes().collect(),
                tx_ids,
            },
            rejected,
        })
    }

    fn check(
        &self,
        state: &dyn StateRead,
        height: u64,
        _prev_hash: [u8; 32],
        block: &[u8],
    ) -> Result<Executed, String> {
        let b = ledger::Block::decode(block).map_err(|e| format!("block encoding: {e}"))?;
        if b.header.height != height {
            return Err(format!("block for height {} at {height}", b.header.height));
        }
        let applied = ledger::apply_block_with(&View(state), &b, &Cache(&self.sigs))
            .map_err(|e| e.to_string())?;
        let chain = &b.header.chain_id;
        let tx_ids: Vec<[u8; 32]> = b.txs.iter().map(|t| t.id(chain).0).collect();
        Ok(Executed {
            diff: applied.diff.into_writes().collect(),
            tx_ids,
        })
    }

    fn validators(
        &self,
        state: &dyn StateRead,
        height: u64,
    ) -> Result<Vec<([u8; 32], u64)>, String> {
        let set = ledger::validator_set(&View(state), height).map_err(|e| e.to_string())?;
        Ok(set.iter().map(|v| (v.pubkey.0, v.power)).collect())
    }

    fn state_root(&self, state: &dyn StateRead) -> Option<[u8; 32]> {
        ledger::state_root(&View(state)).ok()
    }

    fn check_tx(&self, state: &dyn StateRead, tx: &[u8]) -> Result<TxMeta, String> {
        let (stx, c) = match ledger::check_tx_bytes_with(&View(state), tx, &Cache(&self.sigs)) {
            Ok(checked) => checked,
            Err(e) => {
                // `preverify` may have cached its signature: a refused
                // transaction (a replay, say) must not stay in the cache,
                // which only commits empty.
                if let Ok(stx) = ledger::SignedTx::decode(tx) {
                    self.forget(&[stx.id(&self.genesis.chain_id).0]);
                }
                return Err(e.to_string());
            }
        };
        if let Ok(mut cache) = self.sigs.lock() {
            if cache.len() < MAX_SIG_CACHE {
                cache.insert(c.id, stx.signature, c.key);
            }
        }
        Ok(TxMeta {
            id: c.id.0,
            sender: stx.tx.from.0,
            nonce: stx.tx.nonce,
        })
    }

    fn preverify(&self, txs: &[&[u8]]) {
        let ok = ledger::preverify(&self.genesis.chain_id, txs);
        if let Ok(mut cache) = self.sigs.lock() {
            for (id, sig, key) in ok {
                if cache.len() >= MAX_SIG_CACHE {
                    break;
                }
                cache.insert(id, sig, key);
            }
        }
    }

    fn summarize(&self, block: &[u8]) -> Result<BlockSummary, String> {
        let b = ledger::Block::decode(block).map_err(|e| e.to_string())?;
        let h = &b.header;
        let chain = h.chain_id.clone();
        let txs: Vec<_> = b
            .txs
            .iter()
            .map(|t| json!({"id": hex::encode(t.id(&chain).0), "tx": to_json(&t.tx)}))
            .collect();
        Ok(BlockSummary {
            height: h.height,
            prev_hash: hex::encode(h.prev_hash),
            time_ms: h.time_ms,
            proposer: h.proposer.to_string(),
            tx_count: b.txs.len(),
            state_root: Some(hex::encode(h.state_root)),
            body: Some(
                json!({"header": to_json(h), "header_hash": hex::encode(h.hash()), "txs": txs}),
            ),
        })
    }

    fn committed(&self, tx_ids: &[[u8; 32]]) {
        self.forget(tx_ids);
    }

    fn max_tx_size(&self) -> usize {
        ledger::MAX_TX_BYTES
    }

    fn cosigns(&self) -> bool {
        true
    }

    fn check_manifest(&self, doc: &[u8]) -> Result<([u8; 32], Vec<u8>), String> {
        crate::ledger_registry::check_manifest(doc)
    }

    fn manifest_referenced(&self, state: &dyn StateRead, id: &[u8; 32]) -> bool {
        crate::ledger_registry::manifest_referenced(state, id)
    }

    fn cosign_message(&self, block: &[u8]) -> Option<Vec<u8>> {
        receipts::cosign_message(block)
    }

    fn cosigned_record(
        &self,
        state: &dyn StateRead,
        block: &[u8],
        cosigs: &[([u8; 32], Vec<u8>)],
    ) -> Option<Vec<u8>> {
        receipts::cosigned_record(state, block, cosigs)
    }

    fn query(
        &self,
        state: &dyn StateRead,
        kind: &str,
        arg: &str,
        tx_location: &TxLocator<'_>,
    ) -> Result<serde_json::Value, QueryError> {
        let view = View(state);
        let root = ledger::state_root(&view).map_err(state_err)?;
        let height = ledger::last_header(&view).map_err(state_err)?.height;
        match kind {
            "account" => {
                let addr: ledger::Address = arg
                    .parse()
                    .or_else(|_| parse32("address", arg).map(ledger::Address))
                    .map_err(|_| {
                        QueryError::BadInput(format!(
                            "address {arg:?}: want btl1… or 64 hex digits"
                        ))
                    })?;
                let a = query::account(&view, &addr)
                    .map_err(state_err)?
                    .ok_or_else(|| QueryError::NotFound(format!("account {addr}")))?;
                Ok(json!({"address": addr.to_string(), "height": height, "account": to_json(&a)}))
            }
            "torrent" => {
                let rec = if arg.len() == 40 {
                    let b = hex::decode(arg)
                        .map_err(|e| QueryError::BadInput(format!("infohash: {e}")))?;
                    let mut v1 = [0u8; 20];
                    v1.copy_from_slice(&b);
                    query::torrent_by_v1(&view, &v1).map_err(state_err)?
                } else {
                    query::torrent(&view, &parse32("infohash", arg)?).map_err(state_err)?
                };
                let rec = rec.ok_or_else(|| QueryError::NotFound(format!("torrent {arg}")))?;
                Ok(json!({"height": height, "torrent": to_json(&rec)}))
            }
            "proof" => {
                let (what, key) = arg
                    .split_once('/')
                    .ok_or_else(|| QueryError::BadInput("want KIND/KEY".into()))?;
                let (value, proof) = match what {
                    "account" => {
                        let addr: ledger::Address = key
                            .parse()
                            .or_else(|_| parse32("address", key).map(ledger::Address))
                            .map_err(|_| QueryError::BadInput(format!("address {key:?}")))?;
                        let (v, p) = query::prove_account(&view, &addr).map_err(state_err)?;
                        (to_json(&v), p)
                    }
                    "torrent" => {
                        let (v, p) = query::prove_torrent(&view, &parse32("infohash", key)?)
                            .map_err(state_err)?;
                        (to_json(&v), p)
                    }
                    "key" => {
                        let (v, p) =
                            query::prove_key(&view, &ledger::PublicKey(parse32("key", key)?))
                                .map_err(state_err)?;
                        (to_json(&v), p)
                    }
                    k => {
                        return Err(QueryError::BadInput(format!(
                            "no proofs of {k:?}: account, torrent or key"
                        )))
                    }
                };
                Ok(json!({
                    "height": height,
                    "state_root": hex::encode(root),
                    "value": value,
                    "proof": to_json(&proof),
                    "proof_hex": hex::encode(proof.encode()),
                }))
            }
            "receipt" => {
                let id = parse32("transaction id", arg)?;
                receipts::receipt(state, &id, tx_location)
            }
            "checkpoint" => receipts::latest_checkpoint(state),
            "registry_key" => {
                let pk = crate::ledger_registry::parse_key(arg)?;
                crate::ledger_registry::key_status(state, &pk)
            }
            "registry_creator" => {
                // ACCOUNT \n AFTER \n LIMIT
                let mut it = arg.split('\n');
                let account = it.next().unwrap_or_default();
                let after = it.next().filter(|a| !a.is_empty());
                let limit = it
                    .next()
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(crate::ledger_registry::MAX_PAGE);
                crate::ledger_registry::creator(state, account, after, limit)
            }
            "registry_manifest" => {
                let id = parse32("manifest id", arg)?;
                let doc = state
                    .manifest(&id)
                    .ok_or_else(|| QueryError::NotFound(format!("manifest {arg}")))?;
                serde_json::from_slice(&doc)
                    .map_err(|e| QueryError::BadInput(format!("stored manifest: {e}")))
            }
            "registry_torrent" => {
                let (mut v, tx_id) = crate::ledger_registry::torrent(state, arg)?;
                let receipt = receipts::receipt(state, &tx_id, tx_location)
                    .ok()
                    .and_then(|r| r["receipt"].as_str().map(str::to_string));
                v["receipt"] = receipt.map_or(serde_json::Value::Null, serde_json::Value::String);
                Ok(v)
            }
            "verifiers" => {
                let h = if arg.is_empty() {
                    None
                } else {
                    Some(arg.parse::<u64>().map_err(|_| {
                        QueryError::BadInput(format!("height {arg:?} is not a number"))
                    })?)
                };
                receipts::verifiers(state, &self.genesis.chain_id, h)
            }
            k => Err(QueryError::Unsupported(k.to_string())),
        }
    }
}
