//! The mempool: transactions waiting for a block, bounded in count and
//! bytes, with a token-bucket rate limit per sender account.
//!
//! Order is arrival order, except that a sender's transactions are handed
//! to the block builder in nonce order.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use crate::app::TxMeta;

/// Mempool limits.
#[derive(Clone, Debug)]
pub struct MempoolConfig {
    /// Most transactions held.
    pub max_txs: usize,
    /// Most bytes held.
    pub max_bytes: usize,
    /// Transactions per second allowed per sender (sustained).
    pub rate_per_sender: f64,
    /// Transactions a sender may submit at once before the rate applies.
    pub burst_per_sender: f64,
    /// Most transactions held per sender.
    pub max_per_sender: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 200_000,
            max_bytes: 256 * 1024 * 1024,
            rate_per_sender: 2_000.0,
            burst_per_sender: 20_000.0,
            max_per_sender: 20_000,
        }
    }
}

/// Why a transaction was not admitted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdmitError {
    /// Already in the mempool.
    #[error("transaction already pending")]
    Duplicate,
    /// The mempool is full.
    #[error("mempool full ({0} transactions); retry later")]
    Full(usize),
    /// The sender submits too fast.
    #[error("rate limit for this sender exceeded; retry later")]
    RateLimited,
    /// The sender holds too many pending transactions.
    #[error("sender has {0} pending transactions (the limit)")]
    SenderFull(usize),
}

struct Entry {
    tx: Arc<Vec<u8>>,
    meta: TxMeta,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Outcome of a transaction that left the mempool without a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Transaction id.
    pub id: [u8; 32],
    /// Why.
    pub reason: String,
}

/// The mempool.
pub struct Mempool {
    cfg: MempoolConfig,
    /// id → entry
    txs: HashMap<[u8; 32], Entry>,
    /// sender → nonce → id
    by_sender: HashMap<[u8; 32], BTreeMap<u64, [u8; 32]>>,
    /// arrival order of senders' first pending tx (may hold stale ids)
    order: VecDeque<[u8; 32]>,
    bytes: usize,
    buckets: HashMap<[u8; 32], Bucket>,
    rejected: VecDeque<Rejection>,
}

const MAX_REJECTIONS: usize = 10_000;

impl Mempool {
    /// An empty mempool.
    pub fn new(cfg: MempoolConfig) -> Self {
        Mempool {
            cfg,
            txs: HashMap::new(),
            by_sender: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            buckets: HashMap::new(),
            rejected: VecDeque::new(),
        }
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Whether a transaction is pending.
    pub fn contains(&self, id: &[u8; 32]) -> bool {
        self.txs.contains_key(id)
    }

    /// Why a transaction was dropped, if it was recently.
    pub fn rejection(&self, id: &[u8; 32]) -> Option<&str> {
        self.rejected
            .iter()
            .rev()
            .find(|r| &r.id == id)
            .map(|r| r.reason.as_str())
    }

    fn take_token(&mut self, sender: &[u8; 32], now: Instant) -> bool {
        if self.buckets.len() > 100_000 {
            // Forget full buckets (idle senders) to stay bounded.
            let burst = self.cfg.burst_per_sender;
            let rate = self.cfg.rate_per_sender;
            self.buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = self.buckets.entry(*sender).or_insert(Bucket {
            tokens: self.cfg.burst_per_sender,
            at: now,
        });
        let dt = now.duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + dt * self.cfg.rate_per_sender).min(self.cfg.burst_per_sender);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Admits a checked transaction; returns it as the mempool holds it.
    pub fn admit(
        &mut self,
        tx: Vec<u8>,
        meta: TxMeta,
        now: Instant,
    ) -> Result<Arc<Vec<u8>>, AdmitError> {
        if self.txs.contains_key(&meta.id) {
            return Err(AdmitError::Duplicate);
        }
        if self.txs.len() >= self.cfg.max_txs || self.bytes + tx.len() > self.cfg.max_bytes {
            return Err(AdmitError::Full(self.txs.len()));
        }
        let held = self.by_sender.get(&meta.sender).map_or(0, |m| m.len());
        if held >= self.cfg.max_per_sender {
            return Err(AdmitError::SenderFull(held));
        }
        if !self.take_token(&meta.sender, now) {
            return Err(AdmitError::RateLimited);
        }
        let slot = self.by_sender.entry(meta.sender).or_default();
        if let Some(old) = slot.insert(meta.nonce, meta.id) {
            // Same nonce again: the newer one replaces the older.
            if let Some(e) = self.txs.remove(&old) {
                self.bytes -= e.tx.len();
            }
        }
        if slot.len() == 1 {
            self.order.push_back(meta.sender);
        }
        self.bytes += tx.len();
        let tx = Arc::new(tx);
        self.txs.insert(
            meta.id,
            Entry {
                tx: tx.clone(),
                meta,
            },
        );
        Ok(tx)
    }

    /// Up to `max` candidates for a block: senders in arrival order, each
    /// sender's transactions in nonce order.
    pub fn candidates(&self, max: usize) -> Vec<Arc<Vec<u8>>> {
        let mut out = Vec::with_capacity(max.min(self.txs.len()));
        let mut seen = std::collections::HashSet::new();
        for s in &self.order {
            if out.len() >= max {
                break;
            }
            if !seen.insert(*s) {
                continue;
            }
            if let Some(m) = self.by_sender.get(s) {
                for id in m.values() {
                    if out.len() >= max {
                        break;
                    }
                    if let Some(e) = self.txs.get(id) {
                        out.push(e.tx.clone());
                    }
                }
            }
        }
        out
    }

    fn remove(&mut self, id: &[u8; 32]) -> Option<Entry> {
        let e = self.txs.remove(id)?;
        self.bytes -= e.tx.len();
        if let Some(m) = self.by_sender.get_mut(&e.meta.sender) {
            m.remove(&e.meta.nonce);
            if m.is_empty() {
                self.by_sender.remove(&e.meta.sender);
            }
        }
        Some(e)
    }

    /// Removes transactions that made it into a block.
    pub fn committed(&mut self, ids: &[[u8; 32]]) {
        for id in ids {
            self.remove(id);
        }
        self.compact_order();
    }

    /// Drops transactions the block builder refused, remembering why.
    pub fn reject(&mut self, rejected: &[([u8; 32], String)]) {
        for (id, reason) in rejected {
            if self.remove(id).is_some() {
                if self.rejected.len() >= MAX_REJECTIONS {
                    self.rejected.pop_front();
                }
                self.rejected.push_back(Rejection {
                    id: *id,
                    reason: reason.clone(),
                });
            }
        }
        self.compact_order();
    }

    fn compact_order(&mut self) {
        let by = &self.by_sender;
        let mut seen = std::collections::HashSet::new();
        self.order.retain(|s| by.contains_key(s) && seen.insert(*s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(sender: u8, nonce: u64) -> TxMeta {
        let mut id = [0u8; 32];
        id[0] = sender;
        id[1..9].copy_from_slice(&nonce.to_be_bytes());
        TxMeta {
            id,
            sender: [sender; 32],
            nonce,
        }
    }

    #[test]
    fn order_limits_and_rates() {
        let cfg = MempoolConfig {
            max_txs: 5,
            burst_per_sender: 3.0,
            rate_per_sender: 1.0,
            ..Default::default()
        };
        let mut m = Mempool::new(cfg);
        let now = Instant::now();
        m.admit(b"a1".to_vec(), meta(1, 1), now).unwrap();
        m.admit(b"a0".to_vec(), meta(1, 0), now).unwrap();
        m.admit(b"b0".to_vec(), meta(2, 0), now).unwrap();
        assert_eq!(
            m.admit(b"a0".to_vec(), meta(1, 0), now),
            Err(AdmitError::Duplicate)
        );
        m.admit(b"a2".to_vec(), meta(1, 2), now).unwrap();
        assert_eq!(
            m.admit(b"a3".to_vec(), meta(1, 3), now),
            Err(AdmitError::RateLimited)
        );
        let c: Vec<_> = m.candidates(10).iter().map(|t| t.to_vec()).collect();
        assert_eq!(
            c,
            vec![
                b"a0".to_vec(),
                b"a1".to_vec(),
                b"a2".to_vec(),
                b"b0".to_vec()
            ]
        );
        m.admit(b"c0".to_vec(), meta(3, 0), now).unwrap();
        assert_eq!(
            m.admit(b"d0".to_vec(), meta(4, 0), now),
            Err(AdmitError::Full(5))
        );
        m.committed(&[meta(1, 0).id, meta(1, 1).id]);
        m.reject(&[(meta(2, 0).id, "bad".into())]);
        assert_eq!(m.len(), 2);
        assert_eq!(m.rejection(&meta(2, 0).id), Some("bad"));
        let c: Vec<_> = m.candidates(10).iter().map(|t| t.to_vec()).collect();
        assert_eq!(c, vec![b"a2".to_vec(), b"c0".to_vec()]);
    }
}
