//! Transaction relay between validators.
//!
//! A validator forwards the transactions its clients submit to the other
//! validators' mempools, so that whichever validator proposes next can
//! include them. Without it a transaction waits for the turn of the
//! validator it was submitted to: up to N heights with N validators.
//!
//! Relayed transactions go to the peer's `POST /txs/relay` as one binary
//! body per batch ([`encode_frames`]): each transaction is a 4-byte
//! big-endian length followed by its bytes. The receiver checks each one
//! exactly as a client submission (signature, nonce, funds, rate limits),
//! so a relay needs no trust. A node does not forward what it was relayed:
//! with every validator listing every other one (`relay_to` in
//! `node.json`, which `btl ledger init --validators N` writes), one hop
//! reaches them all.
//!
//! Best effort: a peer that is down or slow loses the batches it could not
//! take (each peer has a bounded queue and its own task, so one slow peer
//! never holds back the others), and the transaction still commits through
//! the validator it was submitted to.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use tokio::sync::mpsc;

/// Most transactions in one relayed body.
pub const MAX_FRAMES: usize = crate::http::MAX_BATCH;

/// A relayed body stops growing once it reaches this many bytes, so it is
/// at most this plus one framed transaction (what `POST /txs/relay`
/// accepts).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Transactions queued per peer before new ones are dropped for it.
const QUEUE: usize = 20_000;

/// How long a relay task waits after the first transaction of a batch for
/// more to join it.
const LINGER: Duration = Duration::from_millis(5);

/// After a failed connection, how long before the next attempt.
const RETRY: Duration = Duration::from_millis(500);

/// Most bytes of a peer's reply read (it is a small JSON object).
const MAX_REPLY: usize = 64 * 1024;

/// Deadline of one relayed request (connect, send, reply).
const TIMEOUT: Duration = Duration::from_secs(5);

/// Encodes transactions as relay frames.
pub fn encode_frames<'a>(txs: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let len: usize = txs.clone().map(|t| t.len() + 4).sum();
    let mut out = Vec::with_capacity(len);
    for t in txs {
        // A transaction over u32::MAX bytes never reaches the mempool.
        out.extend_from_slice(&u32::try_from(t.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(t);
    }
    out
}

/// Why a relay body was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The body ends inside a length prefix or a transaction.
    #[error("relay body truncated at byte {0}")]
    Truncated(usize),
    /// A transaction is larger than the ledger allows.
    #[error("relayed transaction of {len} bytes at byte {at} (the limit is {max})")]
    TooLarge {
        /// Its stated length.
        len: usize,
        /// Where its prefix starts.
        at: usize,
        /// The limit.
        max: usize,
    },
    /// More transactions than one body may carry.
    #[error("more than {0} transactions in one relay body")]
    TooMany(usize),
}

/// Splits a relay body into transactions, each at most `max_tx` bytes and
/// at most `max_frames` of them. Borrows from `body`; allocates only the
/// list.
pub fn decode_frames(
    body: &[u8],
    max_tx: usize,
    max_frames: usize,
) -> Result<Vec<&[u8]>, FrameError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < body.len() {
        if out.len() >= max_frames {
            return Err(FrameError::TooMany(max_frames));
        }
        let prefix: [u8; 4] = body
            .get(at..at + 4)
            .and_then(|p| p.try_into().ok())
            .ok_or(FrameError::Truncated(at))?;
        let len = u32::from_be_bytes(prefix) as usize;
        if len > max_tx {
            return Err(FrameError::TooLarge {
                len,
                at,
                max: max_tx,
            });
        }
        let tx = body
            .get(at + 4..at + 4 + len)
            .ok_or(FrameError::Truncated(at))?;
        out.push(tx);
        at += 4 + len;
    }
    Ok(out)
}

/// Fuzz entry point: [`decode_frames`] on any input stays within its
/// bounds, and what it accepts re-encodes to the same bytes.
pub fn fuzz_frames(data: &[u8]) {
    let (max_tx, max_frames) = (512, 64);
    if let Ok(frames) = decode_frames(data, max_tx, max_frames) {
        assert!(frames.len() <= max_frames);
        assert!(frames.iter().all(|f| f.len() <= max_tx));
        assert_eq!(encode_frames(frames.iter().copied()), data);
    }
}

/// What the relay to one validator did since the node started (part of
/// the API's `/status`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PeerStats {
    /// The peer's HTTP API address.
    pub peer: String,
    /// Transactions it took.
    pub sent: u64,
    /// Transactions it did not get (queue full, peer down or failing).
    pub dropped: u64,
    /// Whether the last attempt to reach it succeeded.
    pub up: bool,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    up: AtomicBool,
}

struct Peer {
    addr: SocketAddr,
    queue: mpsc::Sender<Arc<Vec<u8>>>,
    counters: Arc<Counters>,
}

/// The relay: one queue and one task per peer.
pub struct Relay {
    peers: Vec<Peer>,
}

impl Relay {
    /// Starts relaying to the HTTP APIs at `peers` (on the current tokio
    /// runtime). `None` when there is nobody to relay to.
    pub fn start(peers: &[SocketAddr]) -> Option<Relay> {
        if peers.is_empty() {
            return None;
        }
        let peers = peers
            .iter()
            .map(|&addr| {
                let (queue, rx) = mpsc::channel(QUEUE);
                let counters = Arc::new(Counters::default());
                tokio::spawn(run_peer(addr, rx, counters.clone()));
                Peer {
                    addr,
                    queue,
                    counters,
                }
            })
            .collect();
        Some(Relay { peers })
    }

    /// Queues a transaction for every peer (dropped for a peer whose queue
    /// is full).
    pub fn send(&self, tx: &Arc<Vec<u8>>) {
        for p in &self.peers {
            if p.queue.try_send(tx.clone()).is_err() {
                p.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Each peer's counters.
    pub fn stats(&self) -> Vec<PeerStats> {
        self.peers
            .iter()
            .map(|p| PeerStats {
                peer: p.addr.to_string(),
                sent: p.counters.sent.load(Ordering::Relaxed),
                dropped: p.counters.dropped.load(Ordering::Relaxed),
                up: p.counters.up.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// Sends one peer its queue, in batches, over one kept-alive connection.
async fn run_peer(addr: SocketAddr, mut rx: mpsc::Receiver<Arc<Vec<u8>>>, c: Arc<Counters>) {
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    let mut batch: Vec<Arc<Vec<u8>>> = Vec::new();
    while let Some(first) = rx.recv().await {
        tokio::time::sleep(LINGER).await;
        batch.clear();
        let mut bytes = first.len() + 4;
        batch.push(first);
        while batch.len() < MAX_FRAMES && bytes < MAX_BODY {
            match rx.try_recv() {
                Ok(t) => {
                    bytes += t.len() + 4;
                    batch.push(t);
                }
                Err(_) => break,
            }
        }
        let body = Bytes::from(encode_frames(batch.iter().map(|t| t.as_slice())));
        let n = batch.len() as u64;
        let error = match tokio::time::timeout(TIMEOUT, post(&mut conn, addr, body)).await {
            Ok(Ok(())) => {
                c.sent.fetch_add(n, Ordering::Relaxed);
                if !c.up.swap(true, Ordering::Relaxed) {
                    tracing::info!(peer = %addr, "relaying transactions");
                }
                continue;
            }
            Ok(Err(e)) => e,
            Err(_) => "timed out".to_string(),
        };
        conn = None;
        c.dropped.fetch_add(n, Ordering::Relaxed);
        if c.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(peer = %addr, %error, "cannot relay transactions; retrying");
        } else {
            tracing::debug!(peer = %addr, %error, dropped = n, "relay failed");
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Posts one body, connecting first if needed.
async fn post(
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    addr: SocketAddr,
    body: Bytes,
) -> Result<(), String> {
    if conn.as_ref().is_none_or(|c| c.is_closed()) {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (send, c) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = c.await;
        });
        *conn = Some(send);
    }
    let Some(send) = conn.as_mut() else {
        return Err("no connection".into());
    };
    send.ready().await.map_err(|e| e.to_string())?;
    let req = hyper::Request::post("/txs/relay")
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    // Read the (small, bounded) reply so the connection can carry the
    // next request.
    let _ = http_body_util::Limited::new(resp.into_body(), MAX_REPLY)
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bounds() {
        let body = encode_frames([&b"abc"[..], &[][..], &[7u8; 300][..]].into_iter());
        let back = decode_frames(&body, 300, 3).unwrap();
        assert_eq!(back, vec![&b"abc"[..], &[][..], &[7u8; 300][..]]);
        assert_eq!(decode_frames(&[], 10, 1).unwrap().len(), 0);
        assert_eq!(
            decode_frames(&body, 299, 3),
            Err(FrameError::TooLarge {
                len: 300,
                at: 11,
                max: 299
            })
        );
        assert_eq!(decode_frames(&body, 300, 2), Err(FrameError::TooMany(2)));
        assert_eq!(
            decode_frames(&body[..body.len() - 1], 300, 3),
            Err(FrameError::Truncated(11))
        );
        assert_eq!(
            decode_frames(&body[..2], 300, 3),
            Err(FrameError::Truncated(0))
        );
        // A huge stated length is refused before anything is read.
        assert!(matches!(
            decode_frames(&[0xff, 0xff, 0xff, 0xff], 1 << 20, 1),
            Err(FrameError::TooLarge { .. })
        ));
    }
}
