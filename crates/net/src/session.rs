//! The session: one listening port for every torrent, the registry of
//! running torrents, and the dialling and accepting of peers.

use crate::conn::{self, ConnError, Connected, Out};
use crate::{BlockSource, Input, PeerKey};
use btl_types::Sha1Hash;
use btl_wire::{FrameDecoder, FrameLimits, Handshake, PeerId, Reserved};
use bytes::BytesMut;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How a session listens and identifies itself.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Addresses to listen on (port 0 picks a free port). Empty: no
    /// listener (outgoing connections only).
    pub listen: Vec<SocketAddr>,
    /// Our peer id; [`SessionConfig::random_peer_id`] makes one.
    pub peer_id: PeerId,
    /// Most simultaneous peer connections over all torrents.
    pub max_connections: usize,
    /// How long dialling a peer may take.
    pub connect_timeout: Duration,
}

impl SessionConfig {
    /// A peer id in the Azureus style: `-BL0100-` and 12 random bytes.
    pub fn random_peer_id() -> PeerId {
        let mut id = *b"-BL0100-000000000000";
        for b in &mut id[8..] {
            *b = rand::random::<u8>();
        }
        PeerId(id)
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 6881))],
            peer_id: Self::random_peer_id(),
            max_connections: 200,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A running torrent as the session sees it: where to send its peers.
#[derive(Clone)]
pub(crate) struct Registered {
    pub tx: mpsc::Sender<Input>,
    pub source: Arc<dyn BlockSource>,
    pub reserved: Reserved,
    pub piece_count: u32,
}

pub(crate) struct Inner {
    pub config: SessionConfig,
    pub torrents: RwLock<HashMap<Sha1Hash, Registered>>,
    next_key: AtomicU64,
    connections: AtomicUsize,
    local_addrs: Vec<SocketAddr>,
}

/// The peer engine's session. Cheap to clone.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

impl Session {
    /// Binds the listeners and starts accepting peers.
    pub async fn bind(config: SessionConfig) -> std::io::Result<Session> {
        let mut listeners = Vec::new();
        let mut local_addrs = Vec::new();
        for addr in &config.listen {
            let l = TcpListener::bind(addr).await?;
            local_addrs.push(l.local_addr()?);
            listeners.push(l);
        }
        let inner = Arc::new(Inner {
            config,
            torrents: RwLock::new(HashMap::new()),
            next_key: AtomicU64::new(1),
            connections: AtomicUsize::new(0),
            local_addrs,
        });
        for l in listeners {
            tokio::spawn(accept_loop(l, Arc::downgrade(&inner)));
        }
        Ok(Session { inner })
    }

    /// The addresses the session listens on (with the real ports).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.inner.local_addrs
    }

    /// Our peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.config.peer_id
    }

    pub(crate) fn register(&self, id: Sha1Hash, r: Registered) {
        if let Ok(mut t) = self.inner.torrents.write() {
            t.insert(id, r);
        }
    }

    pub(crate) fn unregister(&self, id: &Sha1Hash) {
        if let Ok(mut t) = self.inner.torrents.write() {
            t.remove(id);
        }
    }

    /// Dials `addr` for torrent `id` in the background; the torrent's actor
    /// gets an [`Input::Connected`] on success.
    pub(crate) fn connect(&self, id: Sha1Hash, addr: SocketAddr) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = dial(&inner, id, addr).await {
                tracing::debug!(%addr, error = %e, "outgoing connection failed");
                let tx = inner
                    .torrents
                    .read()
                    .ok()
                    .and_then(|t| t.get(&id).map(|r| r.tx.clone()));
                if let Some(tx) = tx {
                    let _ = tx
                        .send(Input::Command(crate::torrent::Command::DialFailed(addr)))
                        .await;
                }
            }
        });
    }
}

struct ConnGuard(Arc<Inner>);
impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

fn admit(inner: &Arc<Inner>) -> Option<ConnGuard> {
    let n = inner.connections.fetch_add(1, Ordering::Relaxed);
    let guard = ConnGuard(inner.clone());
    (n < inner.config.max_connections).then_some(guard)
}

async fn dial(inner: &Arc<Inner>, id: Sha1Hash, addr: SocketAddr) -> Result<(), ConnError> {
    let reg = inner
        .torrents
        .read()
        .ok()
        .and_then(|t| t.get(&id).cloned())
        .ok_or(ConnError::UnknownTorrent(id))?;
    let guard = admit(inner).ok_or(ConnError::Io(std::io::Error::other(
        "connection limit reached",
    )))?;
    let mut stream = tokio::time::timeout(inner.config.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| ConnError::Timeout)??;
    let _ = stream.set_nodelay(true);
    let ours = Handshake {
        reserved: reg.reserved,
        info_hash: id,
        peer_id: inner.config.peer_id,
    };
    let theirs = conn::handshake_outgoing(&mut stream, &ours).await?;
    start_peer(inner, stream, addr, theirs, reg, true, guard).await;
    Ok(())
}

async fn accept_loop(listener: TcpListener, inner: std::sync::Weak<Inner>) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(inner) = inner.upgrade() else { return };
        tokio::spawn(async move {
            if let Err(e) = incoming(&inner, stream, addr).await {
                tracing::debug!(%addr, error = %e, "incoming connection dropped");
            }
        });
    }
}

async fn incoming(
    inner: &Arc<Inner>,
    mut stream: TcpStream,
    addr: SocketAddr,
) -> Result<(), ConnError> {
    let Some(guard) = admit(inner) else {
        return Ok(()); // over the limit: just close
    };
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    tokio::time::timeout(conn::HANDSHAKE_TIMEOUT, stream.read_exact(&mut first))
        .await
        .map_err(|_| ConnError::Timeout)??;
    if first[0] != 19 {
        // 0x16 would be TLS, anything else MSE/PE: not handled here yet.
        return Err(ConnError::Io(std::io::Error::other(
            "not a plain BitTorrent handshake",
        )));
    }
    let peer_id = inner.config.peer_id;
    let torrents = &inner.torrents;
    let (theirs, reg) = conn::handshake_incoming(&mut stream, &first, |ih| {
        let reg = torrents.read().ok()?.get(ih).cloned()?;
        let ours = Handshake {
            reserved: reg.reserved,
            info_hash: *ih,
            peer_id,
        };
        Some((ours, reg))
    })
    .await?;
    start_peer(inner, stream, addr, theirs, reg, false, guard).await;
    Ok(())
}

async fn start_peer(
    inner: &Arc<Inner>,
    stream: TcpStream,
    addr: SocketAddr,
    theirs: Handshake,
    reg: Registered,
    outgoing: bool,
    guard: ConnGuard,
) {
    let key: PeerKey = inner.next_key.fetch_add(1, Ordering::Relaxed);
    let (rd, wr) = stream.into_split();
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Out>();
    let connected = Connected {
        key,
        addr,
        handshake: theirs,
        out: out_tx,
        outgoing,
    };
    if reg
        .tx
        .send(Input::Connected(Box::new(connected)))
        .await
        .is_err()
    {
        return;
    }
    let limits = FrameLimits::with_piece_count(reg.piece_count);
    let tx = reg.tx.clone();
    tokio::spawn(conn::write_loop(
        wr,
        key,
        out_rx,
        reg.source.clone(),
        reg.tx.clone(),
    ));
    tokio::spawn(async move {
        conn::read_loop(
            rd,
            key,
            FrameDecoder::new(limits),
            BytesMut::with_capacity(64 * 1024),
            tx,
        )
        .await;
        drop(guard);
    });
}
