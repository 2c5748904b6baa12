//! The torrent actor: one task per torrent that owns its swarm state, its
//! piece buffers and its peers' queues.
//!
//! ```text
//! peers' readers ──Input──▶ actor ──Out──▶ peers' writers
//! hashing tasks  ──Input──▶   │  ──────▶ journal thread (resume records)
//! user / session ──Command──▶ │  ──────▶ stats (watch channel)
//! ```
//!
//! Data path of a block: reader → `Swarm::peer_message` → `StoreBlock` → the
//! piece's buffer; when the piece is whole, `VerifyPiece` → a blocking task
//! hashes it and writes it with one positional write → `Input::Verified` →
//! journal record → `Swarm::piece_verified` → `have` to peers.

use crate::conn::{Connected, Out};
use crate::session::Registered;
use crate::{BlockSource, Input, PeerKey, Session};
use btl_metainfo::torrent::Torrent;
use btl_store::{Layout, PieceHashes, Resume, Storage, StorageOptions, StoreError};
use btl_swarm::{Action, Geometry, PeerCaps, Swarm, SwarmConfig, Verdict};
use btl_types::Sha1Hash;
use btl_wire::extended::{UT_METADATA, UT_PEX};
use btl_wire::metadata::METADATA_PIECE_LEN;
use btl_wire::{
    ExtendedHandshake, ExtendedMessage, ExtensionConfig, Message, MetadataMessage, Reserved,
};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// What to run.
#[derive(Debug, Clone)]
pub struct AddTorrent {
    /// The torrent.
    pub torrent: Arc<Torrent>,
    /// Directory the payload lives in (the torrent's name is created inside).
    pub save_dir: PathBuf,
    /// Where the resume journal is kept.
    pub resume_path: PathBuf,
    /// Peers to dial.
    pub peers: Vec<SocketAddr>,
    /// Which files to download (indices into `Torrent::files`); `None`: all.
    pub wanted_files: Option<Vec<bool>>,
    /// Per-file priorities (0 skip, 1..=7 higher first), indices into
    /// `Torrent::files`; a piece gets the highest priority of its files.
    /// `None`: priority 1 for every wanted file. Files with priority 0
    /// should also be unwanted in `wanted_files` (not created on disk).
    pub file_priorities: Option<Vec<u8>>,
    /// Download pieces in order (streaming).
    pub sequential: bool,
    /// Hash every piece on disk before starting.
    pub recheck: bool,
    /// This torrent's download limit, bytes/s (0: only the session's).
    pub max_download_rate: u64,
    /// This torrent's upload limit, bytes/s (0: only the session's).
    pub max_upload_rate: u64,
    /// Where to keep the torrent's metadata (a `.torrent`) up to date: a
    /// magnet's piece layers, once fetched from peers, are saved there
    /// before any piece that needs them is written (see
    /// [`crate::layers`]). `None`: not saved.
    pub metadata_path: Option<PathBuf>,
    /// Tracker tiers to announce to (BEP 12); empty: no trackers.
    pub trackers: Vec<Vec<String>>,
    /// Which certificates https:// trackers may present.
    pub tracker_tls: crate::tracker_client::TrackerTls,
    /// Local service discovery (BEP 14) to announce the torrent on and
    /// learn peers from; ignored for a private torrent (BEP 27).
    pub lsd: Option<crate::lsd::Lsd>,
    /// The DHT node to find peers through and announce to (BEP 5); `None`
    /// or a private torrent (BEP 27): no DHT.
    pub dht: Option<crate::dht::Dht>,
}

/// A snapshot of a torrent's progress, published a few times a second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TorrentStats {
    /// What the torrent is doing.
    pub state: State,
    /// Pieces verified on disk.
    pub have_pieces: u32,
    /// Pieces wanted (all pieces unless files were deselected).
    pub wanted_pieces: u32,
    /// Wanted pieces verified on disk.
    pub wanted_have: u32,
    /// Payload bytes downloaded this session (verified pieces).
    pub downloaded: u64,
    /// Payload bytes uploaded this session.
    pub uploaded: u64,
    /// Download rate, bytes/s.
    pub down_rate: f64,
    /// Upload rate, bytes/s.
    pub up_rate: f64,
    /// Connected peers.
    pub peers: usize,
    /// Pieces that failed their hash check.
    pub hash_failures: u32,
    /// Peers banned for bad data.
    pub banned: usize,
    /// Pieces checked so far while checking.
    pub checked: u32,
}

/// The lifecycle of a torrent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum State {
    /// Verifying data on disk.
    #[default]
    Checking,
    /// Fetching wanted pieces.
    Downloading,
    /// Every wanted piece is here; serving others.
    Seeding,
    /// Stopped by an error.
    Failed(String),
}

/// Requests to a torrent actor.
#[derive(Debug)]
pub enum Command {
    /// Dial a peer.
    AddPeer(SocketAddr),
    /// A dial failed (from the session).
    DialFailed(SocketAddr),
    /// Save state and stop; the reply comes when the journal is closed.
    Shutdown(oneshot::Sender<Result<(), String>>),
    /// The torrent as it is now: with the piece layers fetched from peers
    /// (BEP 52) since it started.
    Metadata(oneshot::Sender<Arc<Torrent>>),
    /// The connected peers.
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    /// The pieces verified on disk.
    Have(oneshot::Sender<btl_swarm::Bitfield>),
    /// Serve this provenance document (`.prov`) to peers that ask through
    /// `btl_prov`, and advertise it (again) to every connected peer.
    SetProvenance(bytes::Bytes),
}

/// One connected peer, as [`TorrentHandle::peers`] reports it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer's address (its listening address when we dialled it).
    pub addr: SocketAddr,
    /// We dialled the peer (else it connected to us).
    pub outgoing: bool,
    /// The client name from its extension handshake (at most 64 bytes).
    pub client: Option<String>,
    /// What the swarm knows of the connection (rates, choking, pieces).
    pub stats: Option<btl_swarm::PeerStats>,
}

/// The result of hashing (and writing) a piece.
#[derive(Debug)]
pub struct VerifyResult {
    piece: u32,
    verdict: Verdict,
    error: Option<String>,
    /// The piece's buffer, handed back for reuse.
    buffer: Vec<u8>,
}

/// Errors starting a torrent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TorrentError {
    /// The disk layer refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task failed.
    #[error("internal task failed: {0}")]
    Task(String),
    /// The actor stopped.
    #[error("the torrent stopped: {0}")]
    Stopped(String),
}

/// A running torrent.
pub struct TorrentHandle {
    tx: mpsc::Sender<Input>,
    stats: watch::Receiver<TorrentStats>,
    down_limit: Arc<crate::ratelimit::RateLimiter>,
    up_limit: Arc<crate::ratelimit::RateLimiter>,
    trackers: crate::announce::TrackerBoard,
}

impl TorrentHandle {
    /// A receiver of progress snapshots.
    pub fn stats(&self) -> watch::Receiver<TorrentStats> {
        self.stats.clone()
    }

    /// Changes this torrent's download and upload limits, bytes/s (0: only
    /// the session's limits apply).
    pub fn set_rate_limits(&self, download: u64, upload: u64) {
        self.down_limit.set_rate(download);
        self.up_limit.set_rate(upload);
    }

    /// This torrent's (download, upload) limits, bytes/s (0: none).
    pub fn rate_limits(&self) -> (u64, u64) {
        (self.down_limit.rate(), self.up_limit.rate())
    }

    /// The shared board of the torrent's trackers' status.
    pub fn tracker_board(&self) -> crate::announce::TrackerBoard {
        self.trackers.clone()
    }

    /// The torrent's trackers and how their announces went.
    pub fn trackers(&self) -> Vec<crate::announce::TrackerStatus> {
        self.trackers.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, TorrentError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Command(Command::Peers(reply)))
            .await
            .map_err(|_| TorrentError::Stopped("already stopped".into()))?;
        rx.await
            .map_err(|_| TorrentError::Stopped("actor ended".into()))
    }

    /// The pieces verified on disk.
    pub async fn have(&self) -> Result<btl_swarm::Bitfield, TorrentError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Command(Command::Have(reply)))
            .await
            .map_err(|_| TorrentError::Stopped("already stopped".into()))?;
        rx.await
            .map_err(|_| TorrentError::Stopped("actor ended".into()))
    }

    /// Dials another peer.
    pub async fn add_peer(&self, addr: SocketAddr) {
        let _ = self.tx.send(Input::Command(Command::AddPeer(addr))).await;
    }

    /// The torrent's metadata as it is now: a magnet download's gains the
    /// piece layers fetched from peers (see [`crate::layers`]).
    pub async fn metadata(&self) -> Result<Arc<Torrent>, TorrentError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Command(Command::Metadata(reply)))
            .await
            .map_err(|_| TorrentError::Stopped("already stopped".into()))?;
        rx.await
            .map_err(|_| TorrentError::Stopped("actor ended".into()))
    }

    /// Serves `doc` (a `.prov` file, at most
    /// [`btl_wire::prov::MAX_PROV_SIZE`] bytes) to peers through the
    /// `btl_prov` extension: advertised in the extension handshake of every
    /// new peer, and in a new handshake to those already connected. Plain
    /// peers ignore the advertisement. A larger document is not served.
    pub async fn set_provenance(&self, doc: Vec<u8>) -> Result<(), TorrentError> {
        if doc.is_empty() || doc.len() as u64 > btl_wire::prov::MAX_PROV_SIZE {
            return Err(TorrentError::Stopped(format!(
                "a provenance document of {} bytes cannot be served",
                doc.len()
            )));
        }
        self.tx
            .send(Input::Command(Command::SetProvenance(doc.into())))
            .await
            .map_err(|_| TorrentError::Stopped("already stopped".into()))
    }

    /// Saves progress durably and stops the torrent.
    pub async fn shutdown(self) -> Result<(), TorrentError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Command(Command::Shutdown(reply)))
            .await
            .map_err(|_| TorrentError::Stopped("already stopped".into()))?;
        rx.await
            .map_err(|_| TorrentError::Stopped("actor ended".into()))?
            .map_err(TorrentError::Stopped)
    }
}

struct StorageSource(Arc<Storage>);
impl BlockSource for StorageSource {
    /// Reads a block; bytes past the end of a short piece (a v2 file's last
    /// piece, which some peers see as padded to full length) read as zeros.
    fn read(&self, piece: u32, begin: u32, buf: &mut [u8]) -> std::io::Result<()> {
        let piece_len = self.0.layout().piece_len(piece).unwrap_or(0);
        let data_len = (piece_len.saturating_sub(begin) as usize).min(buf.len());
        let (data, pad) = buf.split_at_mut(data_len);
        pad.fill(0);
        if data.is_empty() {
            return Ok(());
        }
        self.0
            .read(piece, begin, data)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// Starts a torrent in `session`: opens (and if need be checks) its data,
/// registers it for incoming peers, dials the given peers.
pub async fn add_torrent(
    session: &Session,
    add: AddTorrent,
) -> Result<TorrentHandle, TorrentError> {
    let (stats_tx, stats_rx) = watch::channel(TorrentStats::default());
    let torrent = add.torrent.clone();
    let save_dir = add.save_dir.clone();
    let resume_path = add.resume_path.clone();
    let force_recheck = add.recheck;
    let wanted_files = add.wanted_files.clone();
    let wire_id = torrent.info_hashes().wire_id();
    let progress_tx = stats_tx.clone();
    let opened = tokio::task::spawn_blocking(move || {
        open_data(
            &torrent,
            &save_dir,
            &resume_path,
            force_recheck,
            wanted_files,
            wire_id,
            &progress_tx,
        )
    })
    .await
    .map_err(|e| TorrentError::Task(e.to_string()))??;
    let (layout, storage, hashes, resume, have) = opened;

    let mut short_pieces = std::collections::BTreeMap::new();
    for p in 0..layout.piece_count() {
        let len = layout.piece_len(p).unwrap_or(0);
        if len != layout.piece_length() {
            short_pieces.insert(p, len);
        }
    }
    let geometry = Geometry {
        piece_length: layout.piece_length(),
        piece_count: layout.piece_count(),
        short_pieces,
    };
    let mut swarm_have = btl_swarm::Bitfield::new(layout.piece_count());
    for p in have.iter_ones() {
        swarm_have.set(p);
    }
    let config = SwarmConfig {
        info_hash: Some(wire_id),
        max_peer_upload_queue: UPLOAD_QUEUE,
        // Pieces in progress live in memory until verified: 12 MiB keeps a
        // fast loopback transfer fed and the process small.
        max_partial_bytes: 12 << 20,
        serve_padded_pieces: matches!(add.torrent.info_hashes(), btl_types::InfoHashes::V2(_)),
        ..SwarmConfig::default()
    };
    let mut swarm = Swarm::new(geometry, swarm_have, config, Instant::now());
    let priorities = match &add.file_priorities {
        Some(p) => file_piece_priorities(&layout, p),
        None => piece_priorities(&layout, add.wanted_files.as_deref()),
    };
    // Pieces that cannot be verified yet (piece layer not known) wait.
    swarm.set_wanted(crate::layers::effective_priorities(&priorities, &hashes));
    swarm.set_sequential(add.sequential);

    let (tx, rx) = mpsc::channel::<Input>(1024);
    let v2 = add.torrent.info_hashes().v2().is_some();
    let reserved = Reserved::ours(v2);
    let source: Arc<dyn BlockSource> = Arc::new(StorageSource(storage.clone()));
    let down_limit = Arc::new(crate::ratelimit::RateLimiter::new(add.max_download_rate));
    let up_limit = Arc::new(crate::ratelimit::RateLimiter::new(add.max_upload_rate));
    let trackers = crate::announce::board(&add.trackers);
    session.register(
        wire_id,
        Registered {
            tx: tx.clone(),
            source,
            reserved,
            piece_count: layout.piece_count(),
            down_limit: down_limit.clone(),
            up_limit: up_limit.clone(),
            alt_id: match add.torrent.info_hashes() {
                btl_types::InfoHashes::Hybrid(_, v2) => Some(v2.truncated()),
                _ => None,
            },
        },
    );
    let disk = DiskWriter::start(resume, storage.clone(), tx.clone());
    let mut actor = Actor {
        session: session.clone(),
        wire_id,
        torrent: add.torrent.clone(),
        layout,
        hashes,
        swarm,
        tx: tx.clone(),
        peers: HashMap::new(),
        buffers: HashMap::new(),
        spare_buffers: Vec::new(),
        banned: HashSet::new(),
        disk,
        stats: stats_tx,
        priorities,
        downloaded: 0,
        uploaded: 0,
        hash_failures: 0,
        down_meter: RateMeter::default(),
        up_meter: RateMeter::default(),
        failed: None,
        // BEP 27: a private torrent's peers come from its trackers only.
        ext: ExtensionConfig {
            ut_pex: (!add.torrent.is_private())
                .then_some(ExtensionConfig::default().ut_pex)
                .flatten(),
            ..ExtensionConfig::default()
        },
        known: HashMap::new(),
        announcer: None,
        lsd: None,
        dht: None,
        v2: crate::layers::HashExchange::new(
            &add.torrent,
            add.wanted_files.as_deref(),
            add.metadata_path.clone(),
        ),
        prov: None,
    };
    for addr in &add.peers {
        actor.known.insert(*addr, Redial::default());
        session.connect(wire_id, *addr);
    }
    if let Some(lsd) = add.lsd.as_ref().filter(|_| !add.torrent.is_private()) {
        actor.lsd = Some(lsd.add(swarm_ids(&add.torrent), tx.clone()));
    }
    if !add.trackers.is_empty() {
        let ids = swarm_ids(&add.torrent);
        let wanted_bytes = wanted_payload_bytes(&add.torrent, add.wanted_files.as_deref());
        let cfg = crate::announce::AnnouncerConfig {
            tiers: add.trackers.clone(),
            ids,
            peer_id: session.peer_id(),
            port: session.local_addrs().first().map_or(0, |a| a.port()),
            bind: session
                .local_addrs()
                .first()
                .map(|a| a.ip())
                .filter(|ip| !ip.is_unspecified()),
            piece_length: add.torrent.piece_length(),
            wanted_bytes,
            tls: add.tracker_tls.clone(),
        };
        actor.announcer = Some(crate::announce::spawn(
            cfg,
            actor.stats.subscribe(),
            tx.clone(),
            trackers.clone(),
        ));
    }
    if let Some(dht) = add.dht.clone().filter(|_| !add.torrent.is_private()) {
        let port = session.local_addrs().first().map_or(0, |a| a.port());
        actor.dht = Some(crate::dht::announcer::spawn(
            dht,
            crate::dht::torrent_ids(&add.torrent.info_hashes()),
            port,
            actor.stats.subscribe(),
            tx.clone(),
        ));
    }
    tokio::spawn(actor.run(rx));
    Ok(TorrentHandle {
        tx,
        stats: stats_rx,
        down_limit,
        up_limit,
        trackers,
    })
}

/// The 20-byte ids a torrent's swarm goes by: the wire id, and for a
/// hybrid the truncated v2 hash too.
fn swarm_ids(t: &Torrent) -> Vec<Sha1Hash> {
    let hashes = t.info_hashes();
    let mut ids = vec![hashes.wire_id()];
    if let btl_types::InfoHashes::Hybrid(_, v2) = hashes {
        ids.push(v2.truncated());
    }
    ids
}

type Opened = (
    Layout,
    Arc<Storage>,
    Arc<PieceHashes>,
    Resume,
    btl_store::Bitfield,
);

/// Opens the files and the journal, and hashes whatever cannot be trusted
/// without it: everything on disk for a new journal (or `--recheck`), only
/// the suspect pieces after a crash.
fn open_data(
    torrent: &Torrent,
    save_dir: &std::path::Path,
    resume_path: &std::path::Path,
    force_recheck: bool,
    wanted_files: Option<Vec<bool>>,
    wire_id: Sha1Hash,
    progress: &watch::Sender<TorrentStats>,
) -> Result<Opened, TorrentError> {
    let layout = Layout::from_torrent(torrent)?;
    // Which files already hold data, before opening creates the others.
    let existing: Vec<usize> = layout
        .real_files()
        .filter(|(_, f)| {
            f.length > 0 && std::fs::metadata(save_dir.join(&f.path)).is_ok_and(|m| m.len() > 0)
        })
        .map(|(i, _)| i)
        .collect();
    let options = StorageOptions {
        wanted: wanted_files,
        ..StorageOptions::default()
    };
    let storage = Storage::open(save_dir, layout.clone(), options)?;
    let hashes = PieceHashes::from_torrent(torrent)?;
    let (mut resume, recovered) = match Resume::open(resume_path, wire_id, &storage) {
        Ok(x) => x,
        Err(e) if !matches!(e, StoreError::Io { .. }) => {
            // A journal of another torrent or a corrupt one: start over
            // (with a full check of what is on disk).
            tracing::warn!(error = %e, path = %resume_path.display(), "discarding resume data");
            std::fs::remove_file(resume_path).map_err(|e| {
                TorrentError::Task(format!("cannot remove {}: {e}", resume_path.display()))
            })?;
            Resume::open(resume_path, wire_id, &storage)?
        }
        Err(e) => return Err(e.into()),
    };
    let full = force_recheck || recovered.fresh;
    let mut have = if full {
        btl_store::Bitfield::new(layout.piece_count())
    } else {
        recovered.have.clone()
    };
    let mut check: Vec<u32> = if full {
        let mut v: Vec<u32> = existing
            .iter()
            .flat_map(|&f| layout.file_pieces(f))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    } else {
        let mut v = recovered.recheck.clone();
        for &f in &recovered.changed_files {
            v.extend(layout.file_pieces(f));
        }
        v.sort_unstable();
        v.dedup();
        v
    };
    check.retain(|&p| p < layout.piece_count());
    for &p in &check {
        have.set(p, false);
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let good = btl_store::recheck(
        &storage,
        &hashes,
        check.iter().copied(),
        threads,
        &|done, _| {
            let pieces = (done / u64::from(layout.piece_length().max(1))) as u32;
            progress.send_modify(|s| s.checked = pieces);
        },
    );
    for &p in &check {
        if good.get(p) {
            have.set(p, true);
            resume.record(p)?;
        } else if full {
            // Nothing to forget in a new journal.
        } else {
            resume.forget(p)?;
        }
    }
    resume.barrier(&storage)?;
    Ok((layout, Arc::new(storage), Arc::new(hashes), resume, have))
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate_utf8(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Piece buffers kept for reuse.
const SPARE_BUFFERS: usize = 8;

/// A buffer of `len` bytes: a spare one when the length matches (its old
/// bytes are all overwritten before the piece is verified, since every
/// block of the piece is stored into it), else a new zeroed one.
fn take_buffer(pool: &mut Vec<Vec<u8>>, len: usize) -> Vec<u8> {
    match pool.iter().position(|b| b.len() == len) {
        Some(i) => pool.swap_remove(i),
        None => vec![0; len],
    }
}

/// Payload bytes of the wanted files (pad files excluded).
fn wanted_payload_bytes(t: &Torrent, wanted: Option<&[bool]>) -> u64 {
    t.files()
        .iter()
        .enumerate()
        .filter(|(i, f)| !f.attr.pad && wanted.is_none_or(|w| w.get(*i).copied().unwrap_or(false)))
        .map(|(_, f)| f.length)
        .sum()
}

/// Piece priorities from file priorities: each piece gets the highest
/// priority among its files (missing entries count as 0).
fn file_piece_priorities(layout: &Layout, files: &[u8]) -> Vec<u8> {
    let mut prio = vec![0u8; layout.piece_count() as usize];
    for (file, &p) in files.iter().enumerate() {
        if p == 0 {
            continue;
        }
        for piece in layout.file_pieces(file) {
            if let Some(x) = prio.get_mut(piece as usize) {
                *x = (*x).max(p.min(7));
            }
        }
    }
    prio
}

fn piece_priorities(layout: &Layout, wanted: Option<&[bool]>) -> Vec<u8> {
    let count = layout.piece_count() as usize;
    let Some(wanted) = wanted else {
        return vec![1; count];
    };
    let mut prio = vec![0u8; count];
    for (file, &on) in wanted.iter().enumerate() {
        if on {
            for p in layout.file_pieces(file) {
                if let Some(x) = prio.get_mut(p as usize) {
                    *x = 1;
                }
            }
        }
    }
    prio
}

struct Peer {
    out: mpsc::UnboundedSender<Out>,
    addr: SocketAddr,
    metadata_id: Option<u8>,
    /// Whether the peer speaks BEP 10 (we sent it our handshake).
    extended: bool,
    /// The peer's id for `btl_prov`, if it offers it.
    prov_id: Option<u8>,
    /// `btl_prov` pieces served to this peer (bounded per connection).
    prov_served: u32,
    /// Where the peer accepts connections: its address when we dialled it,
    /// else its address with the port from its extension handshake.
    listen: Option<SocketAddr>,
    outgoing: bool,
    /// BEP 11 state, when the peer speaks `ut_pex` and the torrent is public.
    pex: Option<crate::pex::PeerPex>,
    /// The client name from the extension handshake.
    client: Option<String>,
}

struct Actor {
    /// The tracker announcer, stopped (with a `stopped` announce) with us.
    announcer: Option<crate::announce::AnnouncerHandle>,
    /// Our LSD membership; dropping it stops the announces.
    lsd: Option<crate::lsd::LsdEntry>,
    /// The DHT lookups and announces, stopped with us.
    dht: Option<crate::dht::announcer::DhtAnnouncerHandle>,
    session: Session,
    wire_id: Sha1Hash,
    torrent: Arc<Torrent>,
    layout: Layout,
    hashes: Arc<PieceHashes>,
    swarm: Swarm,
    tx: mpsc::Sender<Input>,
    peers: HashMap<PeerKey, Peer>,
    buffers: HashMap<u32, Vec<u8>>,
    /// Piece buffers to reuse: allocating (and zeroing) a fresh one per
    /// piece cost more CPU than the copy into it.
    spare_buffers: Vec<Vec<u8>>,
    banned: HashSet<IpAddr>,
    disk: DiskWriter,
    stats: watch::Sender<TorrentStats>,
    priorities: Vec<u8>,
    downloaded: u64,
    uploaded: u64,
    hash_failures: u32,
    down_meter: RateMeter,
    up_meter: RateMeter,
    failed: Option<String>,
    ext: ExtensionConfig,
    /// Addresses we dial (given by the user or learnt), and when to retry.
    known: HashMap<SocketAddr, Redial>,
    /// BEP 52 hash requests: served, and sent for missing piece layers.
    v2: crate::layers::HashExchange,
    /// The provenance document served through `btl_prov`, if any.
    prov: Option<bytes::Bytes>,
}

/// Dialling state of a known address.
#[derive(Debug, Default)]
struct Redial {
    failures: u32,
    /// When to dial again; `None` while connected or dialling.
    next_try: Option<Instant>,
}

/// Retry delay after `failures` consecutive failures: 1 s doubling to 60 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// Give up on an address after this many consecutive failures.
const MAX_DIAL_FAILURES: u32 = 10;

/// Most addresses in a torrent's address book: what peers tell us (PEX)
/// beyond this is ignored.
const MAX_KNOWN: usize = 500;

/// Bytes per second over a sliding window of about two seconds.
#[derive(Default)]
struct RateMeter {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl RateMeter {
    fn add(&mut self, now: Instant, bytes: u64) {
        self.samples.push_back((now, bytes));
        self.trim(now);
    }
    fn trim(&mut self, now: Instant) {
        while let Some(&(t, _)) = self.samples.front() {
            if now.duration_since(t) > Duration::from_secs(2) {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }
    fn rate(&mut self, now: Instant) -> f64 {
        self.trim(now);
        let total: u64 = self.samples.iter().map(|s| s.1).sum();
        total as f64 / 2.0
    }
}

/// Requests a peer may have pending with us (advertised as `reqq`).
const UPLOAD_QUEUE: u32 = 500;

const STATS_EVERY: Duration = Duration::from_millis(250);
const BARRIER_EVERY: Duration = Duration::from_secs(5);

impl Actor {
    async fn run(mut self, mut rx: mpsc::Receiver<Input>) {
        let mut next_stats = Instant::now();
        let mut next_barrier = Instant::now() + BARRIER_EVERY;
        self.publish(Instant::now());
        loop {
            let now = Instant::now();
            let mut wake = next_stats.min(next_barrier);
            if let Some(t) = self.swarm.poll_timeout() {
                wake = wake.min(t);
            }
            if let Some(t) = self.known.values().filter_map(|r| r.next_try).min() {
                wake = wake.min(t);
            }
            if let Some(t) = self
                .peers
                .values()
                .filter_map(|p| p.pex.as_ref())
                .map(|x| x.due())
                .min()
            {
                wake = wake.min(t);
            }
            let input = tokio::select! {
                i = rx.recv() => match i {
                    Some(i) => Some(i),
                    // Cannot happen while we hold a sender; stop cleanly anyway.
                    None => return,
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake.max(now))) => None,
            };
            let now = Instant::now();
            if let Some(input) = input {
                if let Some(reply) = self.handle(input, now) {
                    self.stop(reply).await;
                    return;
                }
                // Take whatever else is queued before acting, to batch.
                for _ in 0..256 {
                    match rx.try_recv() {
                        Ok(i) => {
                            if let Some(reply) = self.handle(i, now) {
                                self.stop(reply).await;
                                return;
                            }
                        }
                        Err(_) => break,
                    }
                }
            }
            if self.swarm.poll_timeout().is_some_and(|t| t <= now) {
                self.swarm.handle_timeout(now);
            }
            self.redial_due(now);
            self.poll_pex(now);
            self.poll_layers(now);
            self.drain_actions(now);
            if now >= next_stats {
                self.publish(now);
                next_stats = now + STATS_EVERY;
            }
            if now >= next_barrier {
                self.disk.barrier();
                next_barrier = now + BARRIER_EVERY;
            }
        }
    }

    /// Handles one input; returns a reply channel when asked to stop.
    fn handle(
        &mut self,
        input: Input,
        now: Instant,
    ) -> Option<oneshot::Sender<Result<(), String>>> {
        match input {
            Input::Connected(c) => self.connected(*c, now),
            Input::Message(peer, msg) => {
                if !self.peers.contains_key(&peer) {
                    return None;
                }
                match msg {
                    Message::Extended { id, payload } => self.extended(peer, id, payload, now),
                    Message::Piece(ref b) => {
                        self.down_meter.add(now, b.data.len() as u64);
                        self.swarm.peer_message(peer, msg, now);
                    }
                    Message::HashRequest(_) | Message::Hashes(_) | Message::HashReject(_) => {
                        if let Some(reply) = self.v2.on_message(peer, msg, &self.torrent, now) {
                            self.send(peer, Out::Msg(reply));
                        }
                    }
                    other => self.swarm.peer_message(peer, other, now),
                }
            }
            Input::Closed(peer, reason) => {
                if let Some(p) = self.peers.remove(&peer) {
                    tracing::debug!(peer, %reason, "peer closed");
                    self.swarm.peer_disconnected(peer, now);
                    self.v2.peer_closed(peer);
                    self.schedule_redial(p.addr, now, false);
                }
            }
            Input::Served(peer, req) => {
                self.uploaded += u64::from(req.length);
                self.up_meter.add(now, u64::from(req.length));
                self.swarm.served(peer, req, now);
            }
            Input::Verified(v) => self.verified(v, now),
            Input::Command(Command::AddPeer(addr)) => self.add_known(addr),
            Input::Command(Command::DialFailed(addr)) => self.schedule_redial(addr, now, true),
            Input::Command(Command::Shutdown(reply)) => return Some(reply),
            Input::Command(Command::Metadata(reply)) => {
                let _ = reply.send(self.torrent.clone());
            }
            Input::Command(Command::Peers(reply)) => {
                let list = self
                    .peers
                    .iter()
                    .map(|(k, p)| PeerInfo {
                        addr: p.listen.unwrap_or(p.addr),
                        outgoing: p.outgoing,
                        client: p.client.clone(),
                        stats: self.swarm.peer_stats(*k),
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Input::Command(Command::SetProvenance(doc)) => self.set_provenance(doc),
            Input::Command(Command::Have(reply)) => {
                let _ = reply.send(self.swarm.have().clone());
            }
        }
        None
    }

    /// Plans another dial of a known address after a failure or a lost
    /// connection (a seed keeps dialling too: the peer may be a leecher).
    /// Peers dropped on purpose (both seeds, banned) are not redialled: that
    /// path never comes here.
    fn schedule_redial(&mut self, addr: SocketAddr, now: Instant, failed: bool) {
        let done = self.failed.is_some();
        let Some(r) = self.known.get_mut(&addr) else {
            return;
        };
        if failed {
            r.failures += 1;
        } else {
            r.failures = r.failures.max(1);
        }
        r.next_try = (!done && r.failures < MAX_DIAL_FAILURES && !self.banned.contains(&addr.ip()))
            .then(|| now + backoff(r.failures));
    }

    /// Adds an address to the address book and dials it, unless it is
    /// banned, already known, ours, or the book is full.
    fn add_known(&mut self, addr: SocketAddr) {
        if self.banned.contains(&addr.ip())
            || self.known.contains_key(&addr)
            || self.known.len() >= MAX_KNOWN
            || !crate::pex::acceptable(addr, self.session.local_addrs())
            || self.peers.values().any(|p| p.listen == Some(addr))
        {
            return;
        }
        self.known.insert(addr, Redial::default());
        self.session.connect(self.wire_id, addr);
    }

    /// BEP 11: sends each `ut_pex` peer whose message is due the changes in
    /// our connected peers' listen addresses.
    fn poll_pex(&mut self, now: Instant) {
        if !self
            .peers
            .values()
            .any(|p| p.pex.as_ref().is_some_and(|x| x.due() <= now))
        {
            return;
        }
        let piece_count = self.layout.piece_count();
        let connected: HashMap<SocketAddr, btl_wire::PexFlags> = self
            .peers
            .iter()
            .filter_map(|(k, p)| {
                let listen = p.listen?;
                let mut f = 0;
                if p.outgoing {
                    f |= btl_wire::PexFlags::REACHABLE;
                }
                if self
                    .swarm
                    .peer_stats(*k)
                    .is_some_and(|s| s.pieces >= piece_count)
                {
                    f |= btl_wire::PexFlags::SEED;
                }
                Some((listen, btl_wire::PexFlags(f)))
            })
            .collect();
        for p in self.peers.values_mut() {
            if let Some(msg) = p.pex.as_mut().and_then(|x| x.poll(now, &connected)) {
                let _ = p.out.send(Out::Msg(msg));
            }
        }
    }

    fn redial_due(&mut self, now: Instant) {
        let due: Vec<SocketAddr> = self
            .known
            .iter_mut()
            .filter(|(_, r)| r.next_try.is_some_and(|t| t <= now))
            .map(|(a, r)| {
                r.next_try = None;
                *a
            })
            .collect();
        for addr in due {
            tracing::debug!(%addr, "dialling again");
            self.session.connect(self.wire_id, addr);
        }
    }

    fn connected(&mut self, c: Connected, now: Instant) {
        if let Some(r) = self.known.get_mut(&c.addr) {
            r.failures = 0;
            r.next_try = None;
        }
        if self.banned.contains(&c.addr.ip()) {
            let _ = c.out.send(Out::Close);
            return;
        }
        let r = c.handshake.reserved;
        let caps = PeerCaps {
            fast: r.fast(),
            extended: r.extension_protocol(),
            v2: r.v2(),
            ip: c.addr.ip(),
            outgoing: c.outgoing,
        };
        let out = c.out.clone();
        self.peers.insert(
            c.key,
            Peer {
                out: c.out,
                addr: c.addr,
                metadata_id: None,
                extended: caps.extended,
                prov_id: None,
                prov_served: 0,
                listen: c.outgoing.then_some(c.addr),
                outgoing: c.outgoing,
                pex: None,
                client: None,
            },
        );
        self.swarm.peer_connected(c.key, caps, now);
        self.v2.peer_connected(c.key, &c.handshake, now);
        // The swarm's first message (bitfield / have all / have none) goes
        // out before the extension handshake.
        self.drain_actions(now);
        if caps.extended {
            let _ = out.send(Out::Msg(self.our_handshake(c.addr).to_message()));
        }
    }

    /// Our extension handshake for a peer at `addr`.
    fn our_handshake(&self, addr: SocketAddr) -> ExtendedHandshake {
        ExtendedHandshake {
            m: self.ext.m(),
            client: Some(format!("btl {}", env!("CARGO_PKG_VERSION"))),
            // What we queue for a peer before refusing: peers that
            // respect `reqq` never look like a flood.
            reqq: Some(UPLOAD_QUEUE),
            metadata_size: Some(self.torrent.info_bytes().len() as u64),
            btl_prov_size: self.prov.as_ref().map(|d| d.len() as u64),
            your_ip: Some(addr.ip()),
            port: self.session.local_addrs().first().map(|a| a.port()),
            ..ExtendedHandshake::default()
        }
    }

    /// Starts serving a provenance document: advertised to every connected
    /// BEP 10 peer in a new extension handshake (BEP 10 allows several).
    fn set_provenance(&mut self, doc: bytes::Bytes) {
        self.prov = Some(doc);
        self.ext.btl_prov = Some(crate::prov::PROV_EXT_ID);
        for p in self.peers.values() {
            if p.extended {
                let _ = p
                    .out
                    .send(Out::Msg(self.our_handshake(p.addr).to_message()));
            }
        }
    }

    /// Answers a `btl_prov` request: a data piece, or a reject when there is
    /// no such piece or the peer asked for more than twice the document.
    fn serve_prov(&mut self, peer: PeerKey, piece: u32) {
        let (Some(doc), Some(p)) = (self.prov.as_ref(), self.peers.get_mut(&peer)) else {
            return;
        };
        let Some(their_id) = p.prov_id else {
            return;
        };
        let budget = 2 * btl_wire::metadata::metadata_piece_count(doc.len() as u64) + 4;
        p.prov_served = p.prov_served.saturating_add(1);
        let reply = if u64::from(p.prov_served) > budget {
            btl_wire::ProvMessage(MetadataMessage::Reject { piece })
        } else {
            btl_wire::ProvMessage::serve(doc, piece)
        };
        let _ = p.out.send(Out::Msg(reply.to_message(their_id)));
    }

    fn extended(&mut self, peer: PeerKey, id: u8, payload: bytes::Bytes, now: Instant) {
        match self.ext.decode(id, payload) {
            Ok(ExtendedMessage::Handshake(h)) => {
                if let Some(n) = h.reqq {
                    self.swarm.set_peer_reqq(peer, n);
                }
                let pex_on = self.ext.ut_pex.is_some();
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.metadata_id = h.extension_id(UT_METADATA);
                    p.prov_id = h.extension_id(btl_wire::prov::BTL_PROV);
                    if let Some(c) = &h.client {
                        p.client = Some(truncate_utf8(c, 64));
                    }
                    if !p.outgoing {
                        p.listen = h
                            .port
                            .filter(|&port| port != 0)
                            .map(|port| SocketAddr::new(p.addr.ip(), port));
                    }
                    // A second handshake may change the id; keep what was told.
                    match (h.extension_id(UT_PEX).filter(|_| pex_on), p.pex.as_mut()) {
                        (Some(their), None) => {
                            p.pex = Some(crate::pex::PeerPex::new(their, p.listen, now));
                        }
                        (Some(their), Some(x)) => x.set_id(their),
                        (None, _) => p.pex = None,
                    }
                }
            }
            Ok(ExtendedMessage::Pex(m)) => {
                if self.ext.ut_pex.is_none() {
                    return;
                }
                let learnt = crate::pex::received(&m, self.session.local_addrs());
                tracing::debug!(peer, learnt = learnt.len(), "ut_pex");
                for addr in learnt {
                    self.add_known(addr);
                }
            }
            Ok(ExtendedMessage::Metadata(MetadataMessage::Request { piece })) => {
                let Some(p) = self.peers.get(&peer) else {
                    return;
                };
                let Some(their_id) = p.metadata_id else {
                    return;
                };
                let info = self.torrent.info_bytes();
                let start = piece as usize * METADATA_PIECE_LEN;
                let reply = if start < info.len() {
                    let end = (start + METADATA_PIECE_LEN).min(info.len());
                    MetadataMessage::Data {
                        piece,
                        total_size: info.len() as u64,
                        data: bytes::Bytes::copy_from_slice(&info[start..end]),
                    }
                } else {
                    MetadataMessage::Reject { piece }
                };
                let _ = p.out.send(Out::Msg(reply.to_message(their_id)));
            }
            Ok(ExtendedMessage::Prov(btl_wire::ProvMessage(MetadataMessage::Request {
                piece,
            }))) => self.serve_prov(peer, piece),
            Ok(_) => {}
            Err(e) => tracing::debug!(peer, error = %e, "bad extended message"),
        }
    }

    fn verified(&mut self, mut v: VerifyResult, now: Instant) {
        self.recycle(std::mem::take(&mut v.buffer));
        if let Some(e) = v.error {
            // A disk write failed: stop downloading, keep what we have.
            tracing::error!(piece = v.piece, error = %e, "cannot write piece");
            self.failed = Some(e);
            self.swarm
                .piece_verified(v.piece, Verdict::Bad { bad_blocks: None }, now);
            return;
        }
        match v.verdict {
            Verdict::Ok => {
                self.downloaded += u64::from(self.layout.piece_len(v.piece).unwrap_or(0));
            }
            Verdict::Bad { .. } => self.hash_failures += 1,
        }
        self.swarm.piece_verified(v.piece, v.verdict, now);
    }

    /// Keeps a finished piece buffer for the next piece (a few at most).
    fn recycle(&mut self, buf: Vec<u8>) {
        if buf.len() == self.layout.piece_length() as usize
            && self.spare_buffers.len() < SPARE_BUFFERS
        {
            self.spare_buffers.push(buf);
        }
    }

    fn drain_actions(&mut self, now: Instant) {
        while let Some(action) = self.swarm.poll_action() {
            match action {
                Action::Send { peer, msg } => self.send(peer, Out::Msg(msg)),
                Action::StoreBlock {
                    piece, begin, data, ..
                } => {
                    let len = self.layout.piece_len(piece).unwrap_or(0) as usize;
                    let pool = &mut self.spare_buffers;
                    let buf = self
                        .buffers
                        .entry(piece)
                        .or_insert_with(|| take_buffer(pool, len));
                    let start = begin as usize;
                    if let Some(dst) = buf.get_mut(start..start + data.len()) {
                        dst.copy_from_slice(&data);
                    }
                }
                Action::VerifyPiece { piece } => {
                    let data = self.buffers.remove(&piece).unwrap_or_default();
                    self.spawn_verify(piece, data);
                }
                Action::DiscardPiece { piece } => {
                    if let Some(b) = self.buffers.remove(&piece) {
                        self.recycle(b);
                    }
                }
                Action::Serve { peer, req } => self.send(peer, Out::Serve(req)),
                Action::CancelServe { peer, req } => self.send(peer, Out::CancelServe(req)),
                Action::Disconnect { peer, reason } => {
                    tracing::debug!(peer, ?reason, "disconnecting");
                    self.drop_peer(peer, now);
                }
                Action::Ban { peer, ip, reason } => {
                    tracing::warn!(peer, %ip, %reason, "banning peer");
                    self.banned.insert(ip);
                    self.drop_peer(peer, now);
                }
                Action::Completed => {
                    tracing::info!("download complete");
                    self.disk.barrier();
                }
                _ => {}
            }
        }
    }

    fn send(&self, peer: PeerKey, out: Out) {
        if let Some(p) = self.peers.get(&peer) {
            let _ = p.out.send(out);
        }
    }

    fn drop_peer(&mut self, peer: PeerKey, now: Instant) {
        if let Some(p) = self.peers.remove(&peer) {
            let _ = p.out.send(Out::Close);
            self.swarm.peer_disconnected(peer, now);
            self.v2.peer_closed(peer);
        }
    }

    /// BEP 52: asks v2 peers for the piece layers still missing; once a
    /// layer is proven, its file's pieces become verifiable, and wanted
    /// again as the user asked.
    fn poll_layers(&mut self, now: Instant) {
        if self.v2.fetching() {
            let swarm = &self.swarm;
            let asks = self
                .v2
                .poll(now, |k| swarm.peer_stats(k).map_or(0, |s| s.pieces));
            for (peer, msg) in asks {
                self.send(peer, Out::Msg(msg));
            }
        }
        if self
            .v2
            .apply_completed(&mut self.torrent, &mut self.hashes, now)
        {
            let wanted = crate::layers::effective_priorities(&self.priorities, &self.hashes);
            self.swarm.set_wanted(wanted);
        }
    }

    /// Hashes a whole piece off the actor; a good piece goes on to the disk
    /// writer (which reports `Verified` once it is written and recorded), a
    /// bad one is reported at once.
    fn spawn_verify(&self, piece: u32, data: Vec<u8>) {
        let hashes = self.hashes.clone();
        let tx = self.tx.clone();
        let disk = self.disk.tx.clone();
        let expected_len = self.layout.piece_len(piece).unwrap_or(0) as usize;
        tokio::task::spawn_blocking(move || {
            let ok = data.len() == expected_len && hashes.verify(piece, &data);
            if ok {
                let _ = disk.send(DiskCmd::Write(piece, data));
            } else {
                let _ = tx.blocking_send(Input::Verified(VerifyResult {
                    piece,
                    verdict: Verdict::Bad { bad_blocks: None },
                    error: None,
                    buffer: data,
                }));
            }
        });
    }

    fn publish(&mut self, now: Instant) {
        let have = self.swarm.have();
        let have_pieces = have.count_ones();
        let mut wanted = 0;
        let mut wanted_have = 0;
        for (i, &p) in self.priorities.iter().enumerate() {
            if p > 0 {
                wanted += 1;
                if have.get(i as u32) {
                    wanted_have += 1;
                }
            }
        }
        let state = if let Some(e) = &self.failed {
            State::Failed(e.clone())
        } else if wanted_have == wanted {
            State::Seeding
        } else {
            State::Downloading
        };
        let snapshot = TorrentStats {
            state,
            have_pieces,
            wanted_pieces: wanted,
            wanted_have,
            downloaded: self.downloaded,
            uploaded: self.uploaded,
            down_rate: self.down_meter.rate(now),
            up_rate: self.up_meter.rate(now),
            peers: self.peers.len(),
            hash_failures: self.hash_failures,
            banned: self.banned.len(),
            checked: self.stats.borrow().checked,
        };
        self.stats.send_replace(snapshot);
    }

    async fn stop(mut self, reply: oneshot::Sender<Result<(), String>>) {
        self.session.unregister(&self.wire_id);
        for (_, p) in self.peers.drain() {
            let _ = p.out.send(Out::Close);
        }
        let result = self.disk.close().await;
        self.publish(Instant::now());
        if let Some(d) = self.dht.take() {
            d.stop().await;
        }
        if let Some(a) = self.announcer.take() {
            a.stop(Duration::from_secs(3)).await;
        }
        let _ = reply.send(result);
    }
}

/// The disk writer: a thread that owns the resume journal and writes
/// verified pieces, so that the order "announce the file dirty, write the
/// data, record the piece" holds and fsyncs never block the actor.
struct DiskWriter {
    tx: std::sync::mpsc::Sender<DiskCmd>,
}

enum DiskCmd {
    Write(u32, Vec<u8>),
    Barrier,
    Close(oneshot::Sender<Result<(), String>>),
}

impl DiskWriter {
    fn start(mut resume: Resume, storage: Arc<Storage>, actor: mpsc::Sender<Input>) -> DiskWriter {
        let (tx, rx) = std::sync::mpsc::channel::<DiskCmd>();
        let spawned = std::thread::Builder::new()
            .name("btl-disk".into())
            .spawn(move || {
                let mut failed: Option<String> = None;
                while let Ok(cmd) = rx.recv() {
                    match cmd {
                        DiskCmd::Write(piece, data) => {
                            let r = resume
                                .before_write(&storage, piece)
                                .and_then(|()| storage.write_piece(piece, &data))
                                .and_then(|()| resume.record(piece));
                            let error = r.err().map(|e| e.to_string());
                            if let Some(e) = &error {
                                failed.get_or_insert(e.clone());
                            }
                            let _ = actor.blocking_send(Input::Verified(VerifyResult {
                                piece,
                                verdict: Verdict::Ok,
                                error,
                                buffer: data,
                            }));
                        }
                        DiskCmd::Barrier => {
                            if let Err(e) = resume.barrier(&storage) {
                                failed.get_or_insert(e.to_string());
                            }
                        }
                        DiskCmd::Close(reply) => {
                            let r = resume.close(&storage).map_err(|e| e.to_string());
                            let r = match failed.take() {
                                Some(e) => Err(e),
                                None => r,
                            };
                            let _ = reply.send(r);
                            return;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the disk thread");
        }
        DiskWriter { tx }
    }

    fn barrier(&self) {
        let _ = self.tx.send(DiskCmd::Barrier);
    }

    async fn close(&self) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(DiskCmd::Close(reply)).is_err() {
            return Err("the disk thread is gone".into());
        }
        rx.await
            .unwrap_or_else(|_| Err("the disk thread is gone".into()))
    }
}
