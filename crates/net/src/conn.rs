//! One peer connection: the handshake, then a reader task that decodes frames
//! and a writer task that encodes messages and serves blocks.
//!
//! Each connection is owned by two tasks:
//!
//! ```text
//!            +---------------- torrent actor ----------------+
//!  events    |  Input::Message / Input::Closed / Served     |   Out::Msg / Serve / CancelServe
//!   <------- reader task <-- socket --> writer task <------- |
//! ```
//!
//! The reader never blocks on anything but the socket and the actor's
//! bounded channel (back-pressure: a slow actor slows the peer down). The
//! writer batches whatever is queued into one write, and reads blocks it has
//! to serve from the [`BlockSource`] in a blocking task, a batch at a time.

use crate::ratelimit::{self, RateLimiter};
use crate::{BlockSource, Input, PeerKey};
use btl_wire::{BlockRequest, FrameDecoder, Handshake, Message, WireError};
use bytes::BytesMut;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// What the torrent actor asks a connection's writer to do.
#[derive(Debug)]
pub enum Out {
    /// Send a message.
    Msg(Message),
    /// Read a block from disk and send it as a `piece` message.
    Serve(BlockRequest),
    /// Forget a queued `Serve` if it has not been sent yet.
    CancelServe(BlockRequest),
    /// Flush what is queued and close the connection.
    Close,
}

/// A peer whose handshakes are done, handed to the torrent actor.
#[derive(Debug)]
pub struct Connected {
    /// The session-unique key of this connection.
    pub key: PeerKey,
    /// The peer's address.
    pub addr: std::net::SocketAddr,
    /// The peer's BitTorrent handshake.
    pub handshake: Handshake,
    /// The queue to the connection's writer.
    pub out: mpsc::UnboundedSender<Out>,
    /// Whether we dialled the peer.
    pub outgoing: bool,
}

/// How long a peer may take to complete the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest batch of blocks the writer reads in one blocking call.
const SERVE_BATCH: usize = 16;

/// Errors of a connection, for logs and for the reason a peer was dropped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something the wire codec refuses.
    #[error("protocol: {0}")]
    Wire(#[from] WireError),
    /// The handshake named a torrent we do not have.
    #[error("unknown torrent {0}")]
    UnknownTorrent(btl_types::Sha1Hash),
    /// The peer answered with another torrent's infohash.
    #[error("peer answered for another torrent")]
    WrongTorrent,
    /// We connected to ourselves.
    #[error("connected to ourselves")]
    SelfConnection,
    /// The handshake did not finish in time.
    #[error("handshake timed out")]
    Timeout,
    /// The encryption handshake (MSE/PE) failed.
    #[error("encryption handshake: {0}")]
    Mse(#[from] btl_wire::mse::MseError),
    /// The peer speaks TLS, which this build does not accept yet.
    #[error("TLS peers are not supported yet")]
    Tls,
}

/// The reading half of a connection, plaintext or decrypting.
pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of a connection, plaintext or encrypting.
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// Sends our handshake and reads the peer's (outgoing connections).
///
/// The peer may answer with `ours.info_hash` or with `also_accept` (the
/// other infohash of a hybrid torrent).
pub async fn handshake_outgoing(
    rd: &mut BoxRead,
    wr: &mut BoxWrite,
    ours: &Handshake,
    also_accept: Option<btl_types::Sha1Hash>,
    already_sent: bool,
) -> Result<Handshake, ConnError> {
    let fut = async {
        if !already_sent {
            wr.write_all(&ours.to_bytes()).await?;
        }
        wr.flush().await?;
        let mut buf = [0u8; Handshake::LEN];
        rd.read_exact(&mut buf).await?;
        let theirs = Handshake::decode(&buf)?.ok_or(ConnError::Timeout)?;
        // A hybrid torrent's peer may answer with the other infohash (BEP
        // 52: a v2-capable peer upgrades a v1 handshake to the truncated v2
        // hash).
        if theirs.info_hash != ours.info_hash && Some(theirs.info_hash) != also_accept {
            return Err(ConnError::WrongTorrent);
        }
        if theirs.peer_id == ours.peer_id {
            return Err(ConnError::SelfConnection);
        }
        Ok(theirs)
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
        .await
        .map_err(|_| ConnError::Timeout)?
}

/// Reads the peer's handshake, looks the torrent up with `accept`, and
/// answers with the handshake `accept` returns (incoming connections).
/// Returns the peer's handshake and the caller's value.
pub async fn handshake_incoming<T, F>(
    rd: &mut BoxRead,
    wr: &mut BoxWrite,
    accept: F,
) -> Result<(Handshake, T), ConnError>
where
    F: FnOnce(&btl_types::Sha1Hash) -> Option<(Handshake, T)>,
{
    let fut = async {
        let mut buf = [0u8; Handshake::LEN];
        rd.read_exact(&mut buf).await?;
        let theirs = Handshake::decode(&buf)?.ok_or(ConnError::Timeout)?;
        let (ours, value) =
            accept(&theirs.info_hash).ok_or(ConnError::UnknownTorrent(theirs.info_hash))?;
        if theirs.peer_id == ours.peer_id {
            return Err(ConnError::SelfConnection);
        }
        wr.write_all(&ours.to_bytes()).await?;
        wr.flush().await?;
        Ok((theirs, value))
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
        .await
        .map_err(|_| ConnError::Timeout)?
}

/// Reads frames until the socket closes, the peer breaks the protocol, or
/// the connection's writer ends (`writer` is a handle on its queue, used
/// only to notice that), and hands every message to the actor.
pub async fn read_loop<R>(
    mut rd: R,
    key: PeerKey,
    mut decoder: FrameDecoder,
    mut buf: BytesMut,
    tx: mpsc::Sender<Input>,
    limits: Vec<Arc<RateLimiter>>,
    writer: mpsc::UnboundedSender<Out>,
) where
    R: AsyncRead + Unpin,
{
    let reason = loop {
        // Decode everything buffered first.
        let mut fatal = None;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(msg)) => {
                    tracing::trace!(peer = key, ?msg, "received");
                    if tx.send(Input::Message(key, msg)).await.is_err() {
                        return; // the actor is gone
                    }
                }
                Ok(None) => break,
                Err(e) if !e.is_fatal() => {
                    tracing::debug!(peer = key, error = %e, "ignored a bad message");
                }
                Err(e) => {
                    fatal = Some(ConnError::Wire(e));
                    break;
                }
            }
        }
        if let Some(e) = fatal {
            break e;
        }
        if buf.capacity() - buf.len() < 32 * 1024 {
            buf.reserve(128 * 1024);
        }
        // Stop reading as soon as the writer is gone (the actor closed the
        // connection): dropping the read half then closes the socket even
        // if the peer keeps sending.
        let read = tokio::select! {
            r = rd.read_buf(&mut buf) => r,
            () = writer.closed() => return,
            () = tx.closed() => return,
        };
        match read {
            Ok(0) => break ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => ratelimit::acquire(&limits, n).await,
            Err(e) => break ConnError::Io(e),
        }
    };
    let _ = tx.send(Input::Closed(key, reason.to_string())).await;
}

/// Writes what the actor queues; serves block requests from `source`.
pub async fn write_loop<W>(
    mut wr: W,
    key: PeerKey,
    mut rx: mpsc::UnboundedReceiver<Out>,
    source: Arc<dyn BlockSource>,
    tx: mpsc::Sender<Input>,
    limits: Vec<Arc<RateLimiter>>,
) where
    W: AsyncWrite + Unpin,
{
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut serves: VecDeque<BlockRequest> = VecDeque::new();
    let mut closing = false;
    loop {
        // Wait for work if there is none.
        if serves.is_empty() && out.is_empty() {
            match rx.recv().await {
                Some(o) => apply(o, &mut out, &mut serves, &mut closing),
                None => break,
            }
        }
        // Take everything else already queued.
        while let Ok(o) = rx.try_recv() {
            apply(o, &mut out, &mut serves, &mut closing);
        }
        if !serves.is_empty() && !closing {
            let batch: Vec<BlockRequest> = serves.drain(..serves.len().min(SERVE_BATCH)).collect();
            let src = source.clone();
            let read = tokio::task::spawn_blocking(move || {
                let mut blocks = Vec::with_capacity(batch.len());
                for req in batch {
                    let mut data = vec![0u8; req.length as usize];
                    match src.read(req.index, req.begin, &mut data) {
                        Ok(()) => blocks.push((req, Ok(data))),
                        Err(e) => blocks.push((req, Err(e))),
                    }
                }
                blocks
            })
            .await;
            let Ok(blocks) = read else { break };
            for (req, data) in blocks {
                match data {
                    Ok(data) => {
                        Message::Piece(btl_wire::Block {
                            index: req.index,
                            begin: req.begin,
                            data: data.into(),
                        })
                        .encode(&mut out);
                        if tx.send(Input::Served(key, req)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(peer = key, piece = req.index, error = %e, "cannot read a block to serve");
                        let _ = tx
                            .send(Input::Closed(key, format!("disk read failed: {e}")))
                            .await;
                        return;
                    }
                }
            }
        }
        if !out.is_empty() {
            ratelimit::acquire(&limits, out.len()).await;
            if wr.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
            if out.capacity() > 1 << 20 {
                out = BytesMut::with_capacity(64 * 1024);
            }
        }
        if closing {
            let _ = wr.shutdown().await;
            break;
        }
    }
}

fn apply(o: Out, out: &mut BytesMut, serves: &mut VecDeque<BlockRequest>, closing: &mut bool) {
    tracing::trace!(?o, "to send");
    match o {
        Out::Msg(m) => m.encode(out),
        Out::Serve(r) => serves.push_back(r),
        Out::CancelServe(r) => serves.retain(|s| *s != r),
        Out::Close => *closing = true,
    }
}
