//! The session: one listening port for every torrent, the registry of
//! running torrents, and the dialling and accepting of peers.

use crate::conn::{self, BoxRead, BoxWrite, ConnError, Connected, Out};
use crate::crypt::{CryptRead, CryptWrite};
use crate::ratelimit::RateLimiter;
use crate::{BlockSource, Input, PeerKey};
use btl_types::Sha1Hash;
use btl_wire::mse::{
    classify_incoming, CryptoMethod, Incoming, KnownTorrents, MseInitiator, MsePolicy,
    MseResponder, Progress, CLASSIFY_MAX_BYTES,
};
use btl_wire::{FrameDecoder, FrameLimits, Handshake, PeerId, Reserved};
use bytes::BytesMut;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    /// Download limit over all torrents, bytes/s (0: unlimited).
    pub max_download_rate: u64,
    /// Upload limit over all torrents, bytes/s (0: unlimited).
    pub max_upload_rate: u64,
    /// When an MSE/PE peer offers both, pick RC4 over plaintext.
    pub prefer_rc4: bool,
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
            max_download_rate: 0,
            max_upload_rate: 0,
            prefer_rc4: false,
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
    /// The other 20-byte id of a hybrid torrent (truncated v2 when
    /// registered under v1), accepted in handshakes too.
    pub alt_id: Option<Sha1Hash>,
    /// The torrent's own download and upload limits.
    pub down_limit: Arc<RateLimiter>,
    /// See `down_limit`.
    pub up_limit: Arc<RateLimiter>,
}

pub(crate) struct Inner {
    pub config: SessionConfig,
    pub torrents: RwLock<HashMap<Sha1Hash, Registered>>,
    next_key: AtomicU64,
    connections: AtomicUsize,
    local_addrs: Vec<SocketAddr>,
    down_limit: Arc<RateLimiter>,
    up_limit: Arc<RateLimiter>,
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
            down_limit: Arc::new(RateLimiter::new(config.max_download_rate)),
            up_limit: Arc::new(RateLimiter::new(config.max_upload_rate)),
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

    /// Changes the session-wide download and upload limits, bytes/s (0:
    /// unlimited); running connections follow at once.
    pub fn set_rate_limits(&self, download: u64, upload: u64) {
        self.inner.down_limit.set_rate(download);
        self.inner.up_limit.set_rate(upload);
    }

    /// The session-wide (download, upload) limits, bytes/s (0: unlimited).
    pub fn rate_limits(&self) -> (u64, u64) {
        (self.inner.down_limit.rate(), self.inner.up_limit.rate())
    }

    /// Open peer connections over all torrents (handshaking ones included).
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Registers a torrent under its id (and its other id, for hybrids).
    pub(crate) fn register(&self, id: Sha1Hash, r: Registered) {
        if let Ok(mut t) = self.inner.torrents.write() {
            if let Some(alt) = r.alt_id {
                t.insert(
                    alt,
                    Registered {
                        alt_id: Some(id),
                        ..r.clone()
                    },
                );
            }
            t.insert(id, r);
        }
    }

    pub(crate) fn unregister(&self, id: &Sha1Hash) {
        if let Ok(mut t) = self.inner.torrents.write() {
            if let Some(alt) = t.remove(id).and_then(|r| r.alt_id) {
                t.remove(&alt);
            }
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
    let ours = Handshake {
        reserved: reg.reserved,
        info_hash: id,
        peer_id: inner.config.peer_id,
    };
    // Plaintext first (cheapest); a peer that insists on encryption closes
    // the connection at our handshake, and then we retry with MSE/PE.
    let plain = async {
        let stream = connect(inner, addr).await?;
        let (rd, wr) = stream.into_split();
        let mut rd: BoxRead = Box::new(rd);
        let mut wr: BoxWrite = Box::new(wr);
        let theirs = conn::handshake_outgoing(&mut rd, &mut wr, &ours, reg.alt_id, false).await?;
        Ok::<_, ConnError>((rd, wr, theirs))
    };
    let (rd, wr, theirs) = match plain.await {
        Ok(x) => x,
        Err(ConnError::Io(_)) => {
            let stream = connect(inner, addr).await?;
            let (mut rd, mut wr, theirs) =
                mse_outgoing(stream, &ours, mse_policy(&inner.config)).await?;
            let theirs = match theirs {
                Some(t) => t,
                None => conn::handshake_outgoing(&mut rd, &mut wr, &ours, reg.alt_id, true).await?,
            };
            (rd, wr, theirs)
        }
        Err(e) => return Err(e),
    };
    start_peer(inner, rd, wr, addr, theirs, reg, true, guard).await;
    Ok(())
}

async fn connect(inner: &Arc<Inner>, addr: SocketAddr) -> Result<TcpStream, ConnError> {
    let stream = tokio::time::timeout(inner.config.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| ConnError::Timeout)??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Our MSE/PE policy: RC4 and plaintext both allowed; when the peer offers
/// both, plaintext is chosen unless `prefer_rc4` (as libtorrent does by
/// default: the handshake is obfuscated either way, and RC4 on every byte
/// costs CPU).
fn mse_policy(config: &SessionConfig) -> MsePolicy {
    MsePolicy {
        prefer: if config.prefer_rc4 {
            CryptoMethod::Rc4
        } else {
            CryptoMethod::Plaintext
        },
        ..MsePolicy::default()
    }
}

fn fill_random(buf: &mut [u8]) {
    use rand::RngCore;
    rand::rng().fill_bytes(buf);
}

/// Runs the MSE/PE handshake as initiator, with our BitTorrent handshake
/// as its initial payload. Returns the wrapped halves (the peer's handshake
/// is read by the caller).
async fn mse_outgoing(
    stream: TcpStream,
    ours: &Handshake,
    policy: MsePolicy,
) -> Result<(BoxRead, BoxWrite, Option<Handshake>), ConnError> {
    let (mut rd, mut wr) = stream.into_split();
    let mut mse = MseInitiator::new(ours.info_hash, &ours.to_bytes(), policy, &mut fill_random)?;
    let fut = async {
        let mut buf = vec![0u8; 4096];
        loop {
            while let Some(out) = mse.poll_send() {
                wr.write_all(&out).await?;
            }
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return Err(ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            if let Progress::Established(e) = mse.receive(&buf[..n])? {
                while let Some(out) = mse.poll_send() {
                    wr.write_all(&out).await?;
                }
                return Ok(e);
            }
        }
    };
    let mut est = tokio::time::timeout(conn::HANDSHAKE_TIMEOUT, fut)
        .await
        .map_err(|_| ConnError::Timeout)??;
    let prefix = est.take_received();
    let (send, recv) = est.cipher.split();
    let rd: BoxRead = Box::new(CryptRead::new(rd, Some(recv), prefix));
    let wr: BoxWrite = Box::new(CryptWrite::new(wr, send));
    Ok((rd, wr, None))
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
    stream: TcpStream,
    addr: SocketAddr,
) -> Result<(), ConnError> {
    let Some(guard) = admit(inner) else {
        return Ok(()); // over the limit: just close
    };
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let fut = async {
        // Read until the first bytes tell plain BitTorrent from TLS from MSE.
        let mut head = Vec::with_capacity(CLASSIFY_MAX_BYTES);
        loop {
            match classify_incoming(&head) {
                Incoming::NeedMore => {
                    let mut b = [0u8; CLASSIFY_MAX_BYTES];
                    let want = CLASSIFY_MAX_BYTES - head.len();
                    let n = rd.read(&mut b[..want.max(1)]).await?;
                    if n == 0 {
                        return Err(ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                    }
                    head.extend_from_slice(&b[..n]);
                }
                Incoming::PlainBitTorrent => {
                    let rd: BoxRead = Box::new(CryptRead::new(rd, None, head));
                    let wr: BoxWrite = Box::new(wr);
                    return Ok((rd, wr));
                }
                Incoming::Tls => return Err(ConnError::Tls),
                Incoming::Mse => {
                    let mut known = KnownTorrents::new();
                    if let Ok(t) = inner.torrents.read() {
                        for id in t.keys() {
                            known.insert(*id);
                        }
                    }
                    let mut mse =
                        MseResponder::new(known, mse_policy(&inner.config), &mut fill_random);
                    let mut chunk = head;
                    let mut buf = vec![0u8; 4096];
                    let mut est = loop {
                        let progress = mse.receive(&chunk)?;
                        while let Some(out) = mse.poll_send() {
                            wr.write_all(&out).await?;
                        }
                        if let Progress::Established(e) = progress {
                            break e;
                        }
                        let n = rd.read(&mut buf).await?;
                        if n == 0 {
                            return Err(ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                        }
                        chunk = buf[..n].to_vec();
                    };
                    let prefix = est.take_received();
                    let (send, recv) = est.cipher.split();
                    let rd: BoxRead = Box::new(CryptRead::new(rd, Some(recv), prefix));
                    let wr: BoxWrite = Box::new(CryptWrite::new(wr, send));
                    return Ok((rd, wr));
                }
            }
        }
    };
    let (mut rd, mut wr) = tokio::time::timeout(conn::HANDSHAKE_TIMEOUT, fut)
        .await
        .map_err(|_| ConnError::Timeout)??;
    let peer_id = inner.config.peer_id;
    let torrents = &inner.torrents;
    let (theirs, reg) = conn::handshake_incoming(&mut rd, &mut wr, |ih| {
        let reg = torrents.read().ok()?.get(ih).cloned()?;
        let ours = Handshake {
            reserved: reg.reserved,
            info_hash: *ih,
            peer_id,
        };
        Some((ours, reg))
    })
    .await?;
    start_peer(inner, rd, wr, addr, theirs, reg, false, guard).await;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn start_peer(
    inner: &Arc<Inner>,
    rd: BoxRead,
    wr: BoxWrite,
    addr: SocketAddr,
    theirs: Handshake,
    reg: Registered,
    outgoing: bool,
    guard: ConnGuard,
) {
    let key: PeerKey = inner.next_key.fetch_add(1, Ordering::Relaxed);
    let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Out>();
    let writer_alive = out_tx.clone();
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
    let up = vec![inner.up_limit.clone(), reg.up_limit.clone()];
    let down = vec![inner.down_limit.clone(), reg.down_limit.clone()];
    tokio::spawn(conn::write_loop(
        wr,
        key,
        out_rx,
        reg.source.clone(),
        reg.tx.clone(),
        up,
    ));
    tokio::spawn(async move {
        conn::read_loop(
            rd,
            key,
            FrameDecoder::new(limits),
            BytesMut::with_capacity(64 * 1024),
            tx,
            down,
            writer_alive,
        )
        .await;
        drop(guard);
    });
}
