//! The seam where the ledger (issue 5) plugs into the node.
//!
//! A node runs with or without the ledger: [`crate::Node`] holds an
//! `Option<LedgerHandle>`, and every ledger query of the [`crate::Api`]
//! answers [`crate::ApiError::LedgerNotEnabled`] while it is `None`. The
//! queries are typed here and answered by the ledger node's own HTTP API
//! (`btl ledger run`'s routes): the ledger that `btl up` embeds serves it
//! on loopback, a remote one anywhere. One code path for both: the node
//! never reads the ledger's database itself, so the ledger keeps one
//! owner.

use crate::fetch::get_json;
use crate::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// Largest ledger reply read (a block with its transactions).
const MAX_REPLY: usize = 16 << 20;
/// Each ledger request must finish within this.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Most blocks in one [`LedgerQuery::Blocks`] answer.
pub const MAX_BLOCKS: u32 = 100;

/// A handle on the ledger this node runs or follows: the base URL of its
/// HTTP API.
#[derive(Debug, Clone)]
pub struct LedgerHandle {
    base: String,
    embedded: bool,
}

impl LedgerHandle {
    /// A ledger whose API is at `base` (`http://HOST:PORT`, no trailing
    /// slash needed); `embedded` says whether this node runs it (shown in
    /// the status).
    pub fn new(base: &str, embedded: bool) -> Result<LedgerHandle, String> {
        let base = base.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(format!(
                "ledger URL {base:?}: want http://HOST:PORT (https is not supported)"
            ));
        }
        Ok(LedgerHandle { base, embedded })
    }

    /// The ledger API's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Whether this node runs the ledger itself.
    pub fn embedded(&self) -> bool {
        self.embedded
    }

    /// GETs `path` from the ledger: the JSON of a 2xx reply; 404 becomes
    /// [`ApiError::NotFound`], 400 [`ApiError::BadRequest`], anything else
    /// (or no answer) [`ApiError::LedgerUnavailable`].
    async fn get(&self, path: &str) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        let (status, v) = get_json(&url, MAX_REPLY, TIMEOUT)
            .await
            .map_err(|e| ApiError::LedgerUnavailable(format!("{url}: {e}")))?;
        let msg = || {
            v.get("error")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_string()
        };
        match status {
            200..=299 => Ok(v),
            404 => Err(ApiError::NotFound(format!("ledger: {}", msg()))),
            400 | 422 => Err(ApiError::BadRequest(format!("ledger: {}", msg()))),
            s => Err(ApiError::LedgerUnavailable(format!(
                "{url}: HTTP {s}: {}",
                msg()
            ))),
        }
    }

    /// Answers one query.
    pub async fn query(&self, q: &LedgerQuery) -> Result<Value, ApiError> {
        match q {
            LedgerQuery::Status => {
                let mut v = self.get("/status").await?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("embedded".into(), json!(self.embedded));
                    o.insert("url".into(), json!(self.base));
                }
                Ok(v)
            }
            LedgerQuery::Blocks { before, limit } => {
                let status = self.get("/status").await?;
                let tip = status.get("height").and_then(Value::as_u64).unwrap_or(0);
                let top = match before {
                    Some(b) => b.saturating_sub(1).min(tip),
                    None => tip,
                };
                let n = u64::from((*limit).clamp(1, MAX_BLOCKS));
                let mut blocks = Vec::new();
                let mut h = top;
                while h >= 1 && (blocks.len() as u64) < n {
                    let b = self.get(&format!("/block/{h}")).await?;
                    blocks.push(block_summary(&b));
                    h -= 1;
                }
                Ok(json!({"height": tip, "blocks": blocks}))
            }
            LedgerQuery::Block { height } => {
                let mut b = self.get(&format!("/block/{height}")).await?;
                if let Some(o) = b.as_object_mut() {
                    // The raw bytes are for verifiers; people read the header.
                    o.remove("block_hex");
                    o.remove("certificate_hex");
                }
                Ok(b)
            }
            LedgerQuery::Account { id } => {
                self.get(&format!("/account/{}", path_segment(id)?)).await
            }
            LedgerQuery::Validators => self.get("/validators").await,
            LedgerQuery::Torrent { id } => {
                self.get(&format!("/torrent/{}", path_segment(id)?)).await
            }
            LedgerQuery::Reputation { id } => {
                path_segment(id)?;
                // Reputation is not kept by the ledger yet: every identity
                // is neutral.
                Ok(json!({
                    "id": id,
                    "score": 0,
                    "level": "neutral",
                    "note": "reputation is not recorded on the ledger yet; every identity is neutral",
                }))
            }
        }
    }
}

/// A block as listed: height, hash, time, proposer, transactions count.
fn block_summary(b: &Value) -> Value {
    let header = b.get("header").cloned().unwrap_or(Value::Null);
    json!({
        "height": b.get("height"),
        "hash": b.get("hash"),
        "time_ms": header.get("time_ms"),
        "proposer": header.get("proposer"),
        "tx_count": header.get("tx_count"),
        "signers": b.get("signers").and_then(Value::as_array).map_or(0, Vec::len),
    })
}

/// An id that goes into a URL path: letters, digits and `:_-.` only.
fn path_segment(id: &str) -> Result<&str, ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_-.".contains(&b));
    if ok {
        Ok(id)
    } else {
        Err(ApiError::BadRequest(format!(
            "{id:?} is not a valid id (letters, digits and :_-. only)"
        )))
    }
}

/// A ledger query, as the explorer asks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LedgerQuery {
    /// Height, latest block hash, validators' count.
    Status,
    /// Recent blocks, newest first.
    Blocks {
        /// Start below this height (default: the tip).
        before: Option<u64>,
        /// How many (at most 100).
        limit: u32,
    },
    /// One block.
    Block {
        /// Its height.
        height: u64,
    },
    /// An account's balance, stake and keys.
    Account {
        /// The account id.
        id: String,
    },
    /// The current validator set.
    Validators,
    /// A torrent's registration (its manifest and receipt).
    Torrent {
        /// The torrent's id.
        id: String,
    },
    /// An identity's reputation score.
    Reputation {
        /// The identity (account id).
        id: String,
    },
}
