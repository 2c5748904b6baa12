//! Fetching a torrent's provenance document (`.prov`) from peers through
//! the `btl_prov` extension (see [`btl_wire::prov`]).
//!
//! Like [`crate::metadata`], a short-lived connection per peer: the
//! BitTorrent handshake, the extension handshake offering `btl_prov`, then
//! requests for every 16 KiB piece of the size the peer announced in
//! `btl_prov_size`. The assembled document goes to the caller's `verify`
//! function as a whole; only a document it accepts is returned. A peer that
//! does not offer `btl_prov`, announces an oversized document, sends
//! inconsistent pieces, a document that does not verify, or is too slow
//! (each attempt has a deadline) is skipped for the next one.

use crate::conn::ConnError;
use crate::metadata::open_extended;
use crate::Session;
use btl_types::InfoHashes;
use btl_wire::metadata::MetadataMessage;
use btl_wire::prov::{ProvAssembler, ProvMessage, BTL_PROV};
use btl_wire::{ExtendedMessage, ExtensionConfig, FrameDecoder, FrameLimits, Message};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The id we assign to `btl_prov` in our extension handshakes.
pub const PROV_EXT_ID: u8 = 3;

/// Why no peer gave a valid provenance document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvFetchError {
    /// No peer address to ask.
    #[error("no peers to fetch the provenance document from")]
    NoPeers,
    /// Every peer failed; one reason per peer, in the order tried.
    #[error("no peer gave a valid provenance document: {}", .0.join("; "))]
    AllFailed(Vec<String>),
}

impl ProvFetchError {
    /// Whether some peer sent a document that did not verify (as opposed to
    /// no peer having one).
    pub fn any_refused(&self) -> bool {
        matches!(self, ProvFetchError::AllFailed(v) if v.iter().any(|r| r.contains(REFUSED)))
    }
}

const REFUSED: &str = "sent a provenance document that was refused";

#[derive(Debug, thiserror::Error)]
enum PeerFailure {
    #[error(transparent)]
    Conn(#[from] ConnError),
    #[error("does not offer btl_prov")]
    Unsupported,
    #[error("announces a provenance document of {0} bytes (limit {1})")]
    BadSize(u64, u64),
    #[error("rejected piece {0} of the provenance document")]
    Rejected(u32),
    #[error("sent an inconsistent piece: {0}")]
    Inconsistent(btl_wire::WireError),
    #[error("{REFUSED}: {0}")]
    Refused(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// Fetches the `.prov` document for `hashes` from `peers` in order, until
/// one sends a document of at most `max_size` bytes that `verify` accepts.
/// Each attempt is bounded by `per_peer`.
pub async fn fetch_prov<T>(
    session: &Session,
    hashes: InfoHashes,
    peers: &[SocketAddr],
    per_peer: Duration,
    max_size: u64,
    mut verify: impl FnMut(&[u8]) -> Result<T, String>,
) -> Result<(T, SocketAddr), ProvFetchError> {
    if peers.is_empty() {
        return Err(ProvFetchError::NoPeers);
    }
    let mut reasons = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for &addr in peers {
        if !seen.insert(addr) {
            continue;
        }
        let got = tokio::time::timeout(per_peer, from_peer(session, hashes, addr, max_size)).await;
        let failure = match got {
            Ok(Ok(doc)) => match verify(&doc) {
                Ok(v) => return Ok((v, addr)),
                Err(e) => PeerFailure::Refused(e),
            },
            Ok(Err(e)) => e,
            Err(_) => PeerFailure::Timeout(per_peer),
        };
        tracing::debug!(%addr, %failure, "btl_prov attempt failed");
        reasons.push(format!("peer {addr} {failure}"));
    }
    Err(ProvFetchError::AllFailed(reasons))
}

async fn from_peer(
    session: &Session,
    hashes: InfoHashes,
    addr: SocketAddr,
    max_size: u64,
) -> Result<Vec<u8>, PeerFailure> {
    let config = ExtensionConfig {
        btl_prov: Some(PROV_EXT_ID),
        max_prov_size: max_size,
        ..ExtensionConfig::default()
    };
    let (mut rd, mut wr) = open_extended(session, hashes, addr, config.m()).await?;
    let mut decoder = FrameDecoder::new(FrameLimits::default());
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut asm: Option<ProvAssembler> = None;
    loop {
        while let Some(msg) = decoder.decode(&mut buf).map_err(ConnError::Wire)? {
            let Message::Extended { id, payload } = msg else {
                continue;
            };
            match config.decode(id, payload) {
                Ok(ExtendedMessage::Handshake(h)) => {
                    if asm.is_some() {
                        continue;
                    }
                    let pid = h.extension_id(BTL_PROV).ok_or(PeerFailure::Unsupported)?;
                    let size = h.btl_prov_size.ok_or(PeerFailure::Unsupported)?;
                    let a = ProvAssembler::new(size, max_size)
                        .ok_or(PeerFailure::BadSize(size, max_size))?;
                    let mut out = BytesMut::new();
                    for piece in 0..a.piece_count() {
                        ProvMessage(MetadataMessage::Request { piece })
                            .to_message(pid)
                            .encode(&mut out);
                    }
                    wr.write_all(&out).await.map_err(ConnError::Io)?;
                    asm = Some(a);
                }
                Ok(ExtendedMessage::Prov(ProvMessage(MetadataMessage::Data {
                    piece,
                    total_size,
                    data,
                }))) => {
                    let a = asm.as_mut().ok_or(PeerFailure::Unsupported)?;
                    a.add(piece, total_size, data)
                        .map_err(PeerFailure::Inconsistent)?;
                    if let Some(doc) = a.finish() {
                        return Ok(doc);
                    }
                }
                Ok(ExtendedMessage::Prov(ProvMessage(MetadataMessage::Reject { piece }))) => {
                    return Err(PeerFailure::Rejected(piece));
                }
                Err(e) if id == PROV_EXT_ID => return Err(PeerFailure::Inconsistent(e)),
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
