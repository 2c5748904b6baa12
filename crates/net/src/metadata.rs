//! Fetching a torrent's info dictionary from peers (BEP 9), for magnets.
//!
//! A short-lived connection per peer: the BitTorrent handshake with the
//! extension bit, the extension handshake, then `ut_metadata` requests for
//! every 16 KiB piece. The assembled bytes are accepted only when they hash
//! to the magnet's infohash (SHA-1 for `btih`, SHA-256 for `btmh`).

use crate::conn::{self, BoxRead, BoxWrite, ConnError};
use crate::Session;
use btl_types::InfoHashes;
use btl_wire::extended::UT_METADATA;
use btl_wire::metadata::{metadata_piece_count, METADATA_PIECE_LEN};
use btl_wire::{
    ExtendedHandshake, ExtendedMessage, ExtensionConfig, FrameDecoder, FrameLimits, Handshake,
    Message, MetadataMessage, Reserved,
};
use bytes::BytesMut;
use sha1::{Digest, Sha1};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why metadata could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// No peer address to ask.
    #[error("no peers to fetch the metadata from (give --peer HOST:PORT, or a magnet with x.pe)")]
    NoPeers,
    /// Every peer failed; the last reason is kept.
    #[error("no peer gave valid metadata (last error: {0})")]
    AllFailed(String),
}

#[derive(Debug, thiserror::Error)]
enum PeerFailure {
    #[error(transparent)]
    Conn(#[from] ConnError),
    #[error("peer does not support metadata exchange (BEP 9)")]
    Unsupported,
    #[error("peer rejected metadata piece {0}")]
    Rejected(u32),
    #[error("metadata size {0} is out of range")]
    BadSize(u64),
    #[error("metadata does not match the infohash")]
    HashMismatch,
    #[error("peer sent an inconsistent metadata piece")]
    Inconsistent,
    #[error("timed out")]
    Timeout,
}

/// Fetches and checks the info dictionary of `hashes` from `peers`, trying
/// them in order. `per_peer` bounds each attempt.
pub async fn fetch_metadata(
    session: &Session,
    hashes: InfoHashes,
    peers: &[SocketAddr],
    per_peer: Duration,
) -> Result<Vec<u8>, MetadataError> {
    if peers.is_empty() {
        return Err(MetadataError::NoPeers);
    }
    let mut last = String::new();
    for &addr in peers {
        match tokio::time::timeout(per_peer, from_peer(session, hashes, addr)).await {
            Ok(Ok(info)) => return Ok(info),
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => last = format!("{addr}: {}", PeerFailure::Timeout),
        }
        tracing::debug!(%last, "metadata attempt failed");
    }
    Err(MetadataError::AllFailed(last))
}

/// Dials `addr`, does the BitTorrent handshake for `hashes` (the peer must
/// support BEP 10) and sends our extension handshake with `m`.
pub(crate) async fn open_extended(
    session: &Session,
    hashes: InfoHashes,
    addr: SocketAddr,
    m: std::collections::BTreeMap<String, u8>,
) -> Result<(BoxRead, BoxWrite), ConnError> {
    let stream = TcpStream::connect(addr).await.map_err(ConnError::Io)?;
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let mut rd: BoxRead = Box::new(rd);
    let mut wr: BoxWrite = Box::new(wr);
    let ours = Handshake {
        reserved: Reserved::ours(hashes.v2().is_some()),
        info_hash: hashes.wire_id(),
        peer_id: session.peer_id(),
    };
    let theirs = conn::handshake_outgoing(
        &mut rd,
        &mut wr,
        &ours,
        hashes
            .v2()
            .filter(|_| hashes.v1().is_some())
            .map(|h| h.truncated()),
        false,
    )
    .await?;
    if !theirs.reserved.extension_protocol() {
        return Err(ConnError::Io(std::io::Error::other(
            "peer does not support the extension protocol (BEP 10)",
        )));
    }
    let our_ext = ExtendedHandshake {
        m,
        client: Some(format!("btl {}", env!("CARGO_PKG_VERSION"))),
        reqq: Some(500),
        ..ExtendedHandshake::default()
    };
    let mut out = BytesMut::new();
    our_ext.to_message().encode(&mut out);
    wr.write_all(&out).await.map_err(ConnError::Io)?;
    Ok((rd, wr))
}

async fn from_peer(
    session: &Session,
    hashes: InfoHashes,
    addr: SocketAddr,
) -> Result<Vec<u8>, PeerFailure> {
    let config = ExtensionConfig::default();
    let (mut rd, mut wr) = open_extended(session, hashes, addr, config.m()).await?;
    let mut decoder = FrameDecoder::new(FrameLimits::default());
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut peer_id: Option<u8> = None;
    let mut total: u64 = 0;
    let mut pieces: Vec<Option<bytes::Bytes>> = Vec::new();
    loop {
        while let Some(msg) = decoder.decode(&mut buf).map_err(ConnError::Wire)? {
            let Message::Extended { id, payload } = msg else {
                continue;
            };
            match config.decode(id, payload) {
                Ok(ExtendedMessage::Handshake(h)) => {
                    let pid = h
                        .extension_id(UT_METADATA)
                        .ok_or(PeerFailure::Unsupported)?;
                    let size = h.metadata_size.ok_or(PeerFailure::Unsupported)?;
                    if size == 0 || size > config.max_metadata_size {
                        return Err(PeerFailure::BadSize(size));
                    }
                    peer_id = Some(pid);
                    total = size;
                    let n = metadata_piece_count(size) as usize;
                    pieces = vec![None; n];
                    let mut out = BytesMut::new();
                    for piece in 0..n as u32 {
                        MetadataMessage::Request { piece }
                            .to_message(pid)
                            .encode(&mut out);
                    }
                    wr.write_all(&out).await.map_err(ConnError::Io)?;
                }
                Ok(ExtendedMessage::Metadata(MetadataMessage::Data {
                    piece,
                    total_size,
                    data,
                })) => {
                    if peer_id.is_none() || total_size != total {
                        return Err(PeerFailure::Inconsistent);
                    }
                    let slot = pieces
                        .get_mut(piece as usize)
                        .ok_or(PeerFailure::Inconsistent)?;
                    let want = (total as usize - piece as usize * METADATA_PIECE_LEN)
                        .min(METADATA_PIECE_LEN);
                    if data.len() != want {
                        return Err(PeerFailure::Inconsistent);
                    }
                    *slot = Some(data);
                    if pieces.iter().all(Option::is_some) {
                        let mut info = Vec::with_capacity(total as usize);
                        for p in pieces.iter().flatten() {
                            info.extend_from_slice(p);
                        }
                        return if matches_hashes(&info, hashes) {
                            Ok(info)
                        } else {
                            Err(PeerFailure::HashMismatch)
                        };
                    }
                }
                Ok(ExtendedMessage::Metadata(MetadataMessage::Reject { piece })) => {
                    return Err(PeerFailure::Rejected(piece));
                }
                _ => {}
            }
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        let n = rd.read_buf(&mut buf).await.map_err(ConnError::Io)?;
        if n == 0 {
            return Err(ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()).into());
        }
    }
}

/// Whether `info` hashes to the given infohashes (every one that is set).
pub fn matches_hashes(info: &[u8], hashes: InfoHashes) -> bool {
    let v1_ok = hashes
        .v1()
        .is_none_or(|h| Sha1::digest(info).as_slice() == h.as_bytes());
    let v2_ok = hashes
        .v2()
        .is_none_or(|h| sha2::Sha256::digest(info).as_slice() == h.as_bytes());
    v1_ok && v2_ok
}
