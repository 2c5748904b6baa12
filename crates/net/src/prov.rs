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
/// one sends a document of at most `max_size` bytes that `verify` accepts
/// (it may ask a ledger, hence async). Each transfer is bounded by
/// `per_peer`; each document is verified once.
pub async fn fetch_prov<T, F>(
    session: &Session,
    hashes: InfoHashes,
    peers: &[SocketAddr],
    per_peer: Duration,
    max_size: u64,
    mut verify: impl FnMut(Vec<u8>) -> F,
) -> Result<(T, SocketAddr), ProvFetchError>
where
    F: std::future::Future<Output = Result<T, String>>,
{
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
            Ok(Ok(doc)) => match verify(doc).await {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::SessionConfig;
    use btl_types::Sha1Hash;
    use btl_wire::{ExtendedHandshake, Handshake, PeerId, Reserved};
    use tokio::net::TcpListener;

    const IH: Sha1Hash = Sha1Hash([7; 20]);

    #[derive(Clone, Copy)]
    enum Kind {
        /// Accepts and never answers.
        Silent,
        /// Announces a document over the limit.
        Oversized,
        /// Serves `doc` (which the verifier may refuse).
        Serves(&'static [u8]),
        /// Does not offer btl_prov.
        Plain,
    }

    /// A fake peer on loopback; returns its address.
    async fn peer(kind: Kind) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut hs = [0u8; 68];
            s.read_exact(&mut hs).await.unwrap();
            if matches!(kind, Kind::Silent) {
                let mut sink = [0u8; 1024];
                while s.read(&mut sink).await.is_ok_and(|n| n > 0) {}
                return;
            }
            let ours = Handshake {
                reserved: Reserved::ours(false),
                info_hash: IH,
                peer_id: PeerId([1; 20]),
            };
            s.write_all(&ours.to_bytes()).await.unwrap();
            let (m, size) = match kind {
                Kind::Oversized => (true, btl_wire::prov::MAX_PROV_SIZE + 1),
                Kind::Serves(d) => (true, d.len() as u64),
                _ => (false, 0),
            };
            let ext = ExtendedHandshake {
                m: if m {
                    [(BTL_PROV.to_owned(), 9)].into_iter().collect()
                } else {
                    Default::default()
                },
                btl_prov_size: m.then_some(size),
                ..ExtendedHandshake::default()
            };
            let mut out = BytesMut::new();
            ext.to_message().encode(&mut out);
            s.write_all(&out).await.unwrap();
            let mut dec = FrameDecoder::new(FrameLimits::default());
            let mut buf = BytesMut::new();
            loop {
                while let Ok(Some(msg)) = dec.decode(&mut buf) {
                    if let (Message::Extended { id: 9, payload }, Kind::Serves(d)) = (msg, kind) {
                        if let Ok(ProvMessage(MetadataMessage::Request { piece })) =
                            ProvMessage::decode(payload, u64::MAX)
                        {
                            let mut out = BytesMut::new();
                            ProvMessage::serve(d, piece).to_message(3).encode(&mut out);
                            let _ = s.write_all(&out).await;
                        }
                    }
                }
                if s.read_buf(&mut buf).await.map_or(true, |n| n == 0) {
                    return;
                }
            }
        });
        addr
    }

    #[tokio::test]
    async fn bad_slow_and_plain_peers_are_skipped() {
        let session = Session::bind(SessionConfig {
            listen: vec![],
            ..SessionConfig::default()
        })
        .await
        .unwrap();
        static GOOD: [u8; 40_000] = [b'g'; 40_000];
        let peers = vec![
            peer(Kind::Silent).await,
            peer(Kind::Oversized).await,
            peer(Kind::Plain).await,
            peer(Kind::Serves(b"forged")).await,
            peer(Kind::Serves(&GOOD)).await,
        ];
        let verify = |d: Vec<u8>| async move {
            if d.iter().all(|&b| b == b'g') {
                Ok(d.len())
            } else {
                Err("signature does not verify".to_string())
            }
        };
        let (len, from) = fetch_prov(
            &session,
            InfoHashes::V1(IH),
            &peers,
            Duration::from_millis(1500),
            btl_wire::prov::MAX_PROV_SIZE,
            verify,
        )
        .await
        .unwrap();
        assert_eq!((len, from), (40_000, peers[4]));

        // Without the good peer: every reason is reported, in order.
        let peers2 = vec![
            peer(Kind::Silent).await,
            peer(Kind::Oversized).await,
            peer(Kind::Plain).await,
            peer(Kind::Serves(b"forged")).await,
        ];
        let err = fetch_prov(
            &session,
            InfoHashes::V1(IH),
            &peers2,
            Duration::from_millis(1500),
            btl_wire::prov::MAX_PROV_SIZE,
            verify,
        )
        .await
        .unwrap_err();
        assert!(err.any_refused());
        let ProvFetchError::AllFailed(r) = err else {
            panic!("{err}")
        };
        assert!(r[0].contains("timed out"), "{r:?}");
        assert!(r[1].contains("announces a provenance document of"), "{r:?}");
        assert!(r[2].contains("does not offer btl_prov"), "{r:?}");
        assert!(r[3].contains("refused: signature does not verify"), "{r:?}");
    }
}
