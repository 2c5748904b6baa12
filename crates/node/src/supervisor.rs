//! One task per torrent that owns its lifecycle: fetching a magnet's
//! metadata, starting the engine's torrent actor, pausing (stopping the
//! actor, which saves its journal), resuming (starting it again), changing
//! file priorities (a restart with the new priorities: a clean journal
//! makes it quick), removing.
//!
//! ```text
//!            ┌────────── Resume ──────────┐
//!            ▼                            │
//! FetchingMetadata ──▶ Starting ──▶ Running ──Pause──▶ Paused
//!        │                 │           │
//!        └── Stop / Remove ┴───────────┴──▶ (task ends)
//! ```
//!
//! The task publishes a [`View`] on a watch channel (what the API reads
//! without asking the task) and answers [`Cmd`]s (what changes state, or
//! needs the engine's actor).

use crate::persist::{DataDir, Record};
use crate::types::Limits;
use crate::ApiError;
use btl_metainfo::magnet::Magnet;
use btl_metainfo::torrent::Torrent;
use btl_net::announce::TrackerBoard;
use btl_net::torrent::{add_torrent, AddTorrent, PeerInfo, TorrentHandle, TorrentStats};
use btl_net::Session;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};

/// How long a magnet's metadata fetch waits before trying again.
const METADATA_RETRY: Duration = Duration::from_secs(10);
/// Most peer addresses a torrent's record keeps.
const MAX_SAVED_PEERS: usize = 50;
/// How long one peer may take to send the metadata.
const METADATA_PER_PEER: Duration = Duration::from_secs(20);

/// Requests to a torrent's task.
#[derive(Debug)]
pub(crate) enum Cmd {
    /// Stop the torrent (saving its state) and keep it stopped.
    Pause(oneshot::Sender<()>),
    /// Start it again (also retries a failed one).
    Resume(oneshot::Sender<()>),
    /// New file priority levels (one per file).
    SetPriorities(Vec<u8>, oneshot::Sender<()>),
    /// New limits.
    SetLimits(Limits, oneshot::Sender<()>),
    /// More peers to dial (and remember).
    AddPeers(Vec<SocketAddr>, oneshot::Sender<()>),
    /// The connected peers.
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    /// Which pieces are verified (`None` when not running).
    Have(oneshot::Sender<Option<Vec<bool>>>),
    /// Save and end (the node stops).
    Stop(oneshot::Sender<()>),
    /// Stop, forget the torrent's state, optionally delete its data, end.
    Remove {
        /// Also delete the downloaded files.
        delete_data: bool,
        /// Answered when done.
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
}

/// Where the task is in the lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    FetchingMetadata,
    Starting,
    Running,
    Paused,
    Failed,
    Ended,
}

/// What the task publishes.
#[derive(Clone)]
pub(crate) struct View {
    /// The saved part.
    pub record: Record,
    /// The metadata, once known.
    pub torrent: Option<Arc<Torrent>>,
    pub phase: Phase,
    /// The engine's last snapshot (zeros before the first run).
    pub stats: TorrentStats,
    /// The last error (failure, or why the metadata could not be fetched).
    pub error: Option<String>,
    /// The trackers' status while running.
    pub trackers: Option<TrackerBoard>,
}

/// A running supervisor, as the node holds it.
pub(crate) struct Slot {
    pub tx: mpsc::Sender<Cmd>,
    pub view: watch::Receiver<View>,
}

enum Flow {
    /// Go round the lifecycle loop again (the record says what next).
    Again,
    /// The task ends.
    Exit,
}

/// Peer discovery shared by every torrent (each clone is a handle).
#[derive(Clone, Default)]
pub(crate) struct Discovery {
    /// The DHT node.
    pub dht: Option<btl_net::dht::Dht>,
    /// Local service discovery.
    pub lsd: Option<btl_net::lsd::Lsd>,
}

pub(crate) struct Supervisor {
    session: Session,
    discovery: Discovery,
    data: DataDir,
    view: watch::Sender<View>,
    rx: mpsc::Receiver<Cmd>,
    /// Wakes the node's saver when the record changed on its own.
    dirty: Arc<Notify>,
    /// The last start failed; `Resume` retries.
    failed: bool,
}

/// Starts the task of a torrent.
pub(crate) fn spawn(
    session: Session,
    discovery: Discovery,
    data: DataDir,
    record: Record,
    torrent: Option<Arc<Torrent>>,
    dirty: Arc<Notify>,
) -> Slot {
    let (tx, rx) = mpsc::channel(32);
    let (view_tx, view_rx) = watch::channel(View {
        record,
        torrent,
        phase: Phase::Starting,
        stats: TorrentStats::default(),
        error: None,
        trackers: None,
    });
    let sup = Supervisor {
        session,
        discovery,
        data,
        view: view_tx,
        rx,
        dirty,
        failed: false,
    };
    tokio::spawn(sup.run());
    Slot { tx, view: view_rx }
}

impl Supervisor {
    fn record(&self) -> Record {
        self.view.borrow().record.clone()
    }

    fn set_phase(&self, phase: Phase) {
        self.view.send_modify(|v| {
            v.phase = phase;
            if v.phase != Phase::Running {
                v.stats.down_rate = 0.0;
                v.stats.up_rate = 0.0;
                v.stats.peers = 0;
            }
        });
    }

    async fn run(mut self) {
        loop {
            let flow = if self.record().paused {
                self.set_phase(Phase::Paused);
                self.idle().await
            } else if self.failed {
                self.set_phase(Phase::Failed);
                self.idle().await
            } else if self.view.borrow().torrent.is_none() {
                self.fetch_metadata().await
            } else {
                self.run_torrent().await
            };
            if let Flow::Exit = flow {
                self.set_phase(Phase::Ended);
                return;
            }
        }
    }

    /// Paused or failed: answers commands until one changes that.
    async fn idle(&mut self) -> Flow {
        loop {
            let Some(cmd) = self.rx.recv().await else {
                return Flow::Exit;
            };
            if let Some(flow) = self.handle_stopped(cmd).await {
                return flow;
            }
        }
    }

    /// Handles a command while no engine actor runs; `Some` leaves the
    /// current phase.
    async fn handle_stopped(&mut self, cmd: Cmd) -> Option<Flow> {
        match cmd {
            Cmd::Pause(reply) => {
                let was = self.record().paused;
                self.view.send_modify(|v| v.record.paused = true);
                let _ = reply.send(());
                (!was).then_some(Flow::Again)
            }
            Cmd::Resume(reply) => {
                let was_paused = self.record().paused;
                let was_failed = self.failed;
                self.failed = false;
                self.view.send_modify(|v| {
                    v.record.paused = false;
                    v.error = None;
                });
                let _ = reply.send(());
                (was_paused || was_failed).then_some(Flow::Again)
            }
            Cmd::SetPriorities(p, reply) => {
                self.view
                    .send_modify(|v| v.record.file_priorities = Some(p));
                let _ = reply.send(());
                None
            }
            Cmd::SetLimits(l, reply) => {
                self.view.send_modify(|v| {
                    v.record.max_download_rate = l.download;
                    v.record.max_upload_rate = l.upload;
                });
                let _ = reply.send(());
                None
            }
            Cmd::AddPeers(peers, reply) => {
                self.remember_peers(&peers);
                let _ = reply.send(());
                None
            }
            Cmd::Peers(reply) => {
                let _ = reply.send(Vec::new());
                None
            }
            Cmd::Have(reply) => {
                let _ = reply.send(None);
                None
            }
            Cmd::Stop(reply) => {
                let _ = reply.send(());
                Some(Flow::Exit)
            }
            Cmd::Remove { delete_data, reply } => {
                let r = self.remove_files(delete_data).await;
                let _ = reply.send(r);
                Some(Flow::Exit)
            }
        }
    }

    /// A magnet: asks trackers for peers and peers for the info
    /// dictionary, retrying until it comes (or the user pauses or removes
    /// the torrent).
    async fn fetch_metadata(&mut self) -> Flow {
        self.set_phase(Phase::FetchingMetadata);
        let record = self.record();
        let Some(magnet) = record
            .magnet
            .as_deref()
            .and_then(|m| m.parse::<Magnet>().ok())
        else {
            // Cannot happen for records the node wrote; say so if it does.
            self.failed = true;
            self.view.send_modify(|v| {
                v.error = Some("no metadata and no valid magnet link to fetch it with".into())
            });
            return Flow::Again;
        };
        let Some(hashes) = magnet.infohashes() else {
            self.failed = true;
            return Flow::Again;
        };
        loop {
            // Read again each round: peers may have been added meanwhile.
            let record = self.record();
            let session = self.session.clone();
            let fetch = fetch_once(&session, hashes, &record);
            tokio::pin!(fetch);
            let result = loop {
                tokio::select! {
                    r = &mut fetch => break r,
                    cmd = self.rx.recv() => {
                        let Some(cmd) = cmd else { return Flow::Exit };
                        if let Some(flow) = self.handle_stopped(cmd).await {
                            return flow;
                        }
                    }
                }
            };
            match result {
                Ok(t) => {
                    let path = self.data.torrent_path(&record.id);
                    let t2 = t.clone();
                    let saved = tokio::task::spawn_blocking(move || {
                        btl_net::layers::save_metadata(&path, &t2)
                    })
                    .await;
                    if !matches!(saved, Ok(Ok(()))) {
                        tracing::warn!(id = %record.id, "cannot save the fetched metadata");
                    }
                    let name = t.name().to_string();
                    self.view.send_modify(|v| {
                        v.torrent = Some(Arc::new(t));
                        v.record.name = name;
                        v.error = None;
                    });
                    self.dirty.notify_one();
                    return Flow::Again;
                }
                Err(e) => {
                    tracing::info!(id = %record.id, error = %e, "metadata not fetched yet");
                    self.view.send_modify(|v| v.error = Some(e));
                    let sleep = tokio::time::sleep(METADATA_RETRY);
                    tokio::pin!(sleep);
                    loop {
                        tokio::select! {
                            _ = &mut sleep => break,
                            cmd = self.rx.recv() => {
                                let Some(cmd) = cmd else { return Flow::Exit };
                                // New peers: try them now.
                                let retry = matches!(cmd, Cmd::AddPeers(..));
                                if let Some(flow) = self.handle_stopped(cmd).await {
                                    return flow;
                                }
                                if retry {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Starts the engine's actor and serves commands while it runs.
    async fn run_torrent(&mut self) -> Flow {
        self.set_phase(Phase::Starting);
        let record = self.record();
        let Some(torrent) = self.view.borrow().torrent.clone() else {
            return Flow::Again;
        };
        let add = self.add_request(&record, torrent).await;
        if let Err(e) = tokio::fs::create_dir_all(&record.save_dir).await {
            return self.start_failed(format!("cannot create {}: {e}", record.save_dir.display()));
        }
        let session = self.session.clone();
        let start = add_torrent(&session, add);
        tokio::pin!(start);
        let handle = loop {
            tokio::select! {
                r = &mut start => break r,
                cmd = self.rx.recv() => {
                    let Some(cmd) = cmd else { return Flow::Exit };
                    // Leaving drops the start: the check in progress ends
                    // with its task, and the journal stays consistent.
                    if let Some(flow) = self.handle_stopped(cmd).await {
                        return flow;
                    }
                }
            }
        };
        let handle = match handle {
            Ok(h) => h,
            Err(e) => return self.start_failed(format!("cannot start: {e}")),
        };
        let board = handle.tracker_board();
        self.view.send_modify(|v| {
            v.trackers = Some(board);
            v.error = None;
        });
        self.set_phase(Phase::Running);
        let mut stats = handle.stats();
        loop {
            tokio::select! {
                changed = stats.changed() => {
                    if changed.is_err() {
                        return self.start_failed("the torrent stopped unexpectedly".into());
                    }
                    let s = stats.borrow_and_update().clone();
                    let done = s.state == btl_net::torrent::State::Seeding
                        && s.wanted_pieces > 0
                        && self.view.borrow().record.done_at.is_none();
                    let error = match &s.state {
                        btl_net::torrent::State::Failed(e) => Some(e.clone()),
                        _ => None,
                    };
                    self.view.send_modify(|v| {
                        v.stats = s;
                        if error.is_some() {
                            v.error = error;
                        }
                        if done {
                            v.record.done_at = Some(crate::unix_now());
                        }
                    });
                    if done {
                        self.dirty.notify_one();
                    }
                }
                cmd = self.rx.recv() => {
                    let Some(cmd) = cmd else {
                        stop(handle).await;
                        return Flow::Exit;
                    };
                    match cmd {
                        Cmd::Pause(reply) => {
                            stop(handle).await;
                            self.view.send_modify(|v| v.record.paused = true);
                            let _ = reply.send(());
                            return Flow::Again;
                        }
                        Cmd::Resume(reply) => {
                            let _ = reply.send(());
                        }
                        Cmd::SetPriorities(p, reply) => {
                            // A restart with the new priorities.
                            stop(handle).await;
                            self.view.send_modify(|v| v.record.file_priorities = Some(p));
                            let _ = reply.send(());
                            return Flow::Again;
                        }
                        Cmd::SetLimits(l, reply) => {
                            handle.set_rate_limits(l.download, l.upload);
                            self.view.send_modify(|v| {
                                v.record.max_download_rate = l.download;
                                v.record.max_upload_rate = l.upload;
                            });
                            let _ = reply.send(());
                        }
                        Cmd::AddPeers(peers, reply) => {
                            self.remember_peers(&peers);
                            for p in peers {
                                handle.add_peer(p).await;
                            }
                            let _ = reply.send(());
                        }
                        Cmd::Peers(reply) => {
                            let _ = reply.send(handle.peers().await.unwrap_or_default());
                        }
                        Cmd::Have(reply) => {
                            let have = handle.have().await.ok().map(|b| {
                                (0..b.len()).map(|i| b.get(i)).collect()
                            });
                            let _ = reply.send(have);
                        }
                        Cmd::Stop(reply) => {
                            stop(handle).await;
                            let _ = reply.send(());
                            return Flow::Exit;
                        }
                        Cmd::Remove { delete_data, reply } => {
                            stop(handle).await;
                            let r = self.remove_files(delete_data).await;
                            let _ = reply.send(r);
                            return Flow::Exit;
                        }
                    }
                }
            }
        }
    }

    /// Keeps peers in the record (at most [`MAX_SAVED_PEERS`], newest
    /// last).
    fn remember_peers(&self, peers: &[SocketAddr]) {
        self.view.send_modify(|v| {
            for p in peers {
                let s = p.to_string();
                if !v.record.peers.contains(&s) {
                    v.record.peers.push(s);
                }
            }
            let excess = v.record.peers.len().saturating_sub(MAX_SAVED_PEERS);
            v.record.peers.drain(..excess);
        });
    }

    fn start_failed(&mut self, e: String) -> Flow {
        tracing::warn!(id = %self.record().id, error = %e, "torrent failed");
        self.failed = true;
        self.view.send_modify(|v| {
            v.error = Some(e);
            v.trackers = None;
        });
        Flow::Again
    }

    /// What to give the engine.
    async fn add_request(&self, record: &Record, torrent: Arc<Torrent>) -> AddTorrent {
        let peers = resolve_peers(&record.peers).await;
        let levels = record.file_priorities.clone();
        let wanted_files = levels.as_ref().map(|l| {
            (0..torrent.files().len())
                .map(|i| l.get(i).copied().unwrap_or(2) > 0)
                .collect()
        });
        let file_priorities = levels.map(|l| {
            (0..torrent.files().len())
                .map(|i| l.get(i).copied().unwrap_or(2))
                .collect()
        });
        let mut trackers = torrent.trackers().to_vec();
        for t in &record.trackers {
            if !trackers.iter().flatten().any(|x| x == t) {
                trackers.push(vec![t.clone()]);
            }
        }
        trackers.retain(|t| !t.is_empty());
        let metadata_path = (torrent.version().has_v2() && !torrent.has_piece_layers())
            .then(|| self.data.torrent_path(&record.id));
        AddTorrent {
            torrent,
            save_dir: record.save_dir.clone(),
            resume_path: self.data.resume_path(&record.id),
            peers,
            wanted_files,
            file_priorities,
            sequential: false,
            recheck: false,
            max_download_rate: record.max_download_rate,
            max_upload_rate: record.max_upload_rate,
            metadata_path,
            trackers,
            // The default TLS roots for https trackers.
            tracker_tls: Default::default(),
            lsd: self.discovery.lsd.clone(),
            dht: self.discovery.dht.clone(),
        }
    }

    /// Forgets the torrent's state (journal, metadata) and, if asked,
    /// deletes its files (only the torrent's own files, then directories
    /// left empty).
    async fn remove_files(&self, delete_data: bool) -> Result<(), ApiError> {
        let record = self.record();
        let torrent = self.view.borrow().torrent.clone();
        let resume = self.data.resume_path(&record.id);
        let meta = self.data.torrent_path(&record.id);
        tokio::task::spawn_blocking(move || {
            for p in [&resume, &meta] {
                remove_if_exists(p).map_err(|e| {
                    ApiError::Internal(format!("cannot delete {}: {e}", p.display()))
                })?;
            }
            if let (true, Some(t)) = (delete_data, torrent) {
                delete_payload(&t, &record.save_dir)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
    }
}

async fn stop(handle: TorrentHandle) {
    if let Err(e) = handle.shutdown().await {
        tracing::warn!(error = %e, "torrent did not stop cleanly");
    }
}

fn remove_if_exists(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Deletes the files of `t` under `save_dir`, then the directories they
/// leave empty (never `save_dir` itself, never other files).
fn delete_payload(t: &Torrent, save_dir: &Path) -> Result<(), ApiError> {
    let layout = btl_store::Layout::from_torrent(t)
        .map_err(|e| ApiError::Internal(format!("cannot list the files: {e}")))?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for f in layout.files().iter().filter(|f| f.is_stored()) {
        let path = save_dir.join(&f.path);
        remove_if_exists(&path)
            .map_err(|e| ApiError::Internal(format!("cannot delete {}: {e}", path.display())))?;
        let mut dir = f.path.parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            dirs.push(save_dir.join(d));
            dir = d.parent();
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.dedup();
    for d in dirs {
        // Fails (and stays) when something else is inside: that is fine.
        let _ = std::fs::remove_dir(&d);
    }
    Ok(())
}

async fn resolve_peers(list: &[String]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for p in list {
        match tokio::net::lookup_host(p.as_str()).await {
            Ok(mut a) => out.extend(a.next()),
            Err(e) => tracing::info!(peer = %p, error = %e, "cannot resolve peer"),
        }
    }
    out
}

/// One round of metadata fetching: peers from the magnet and its
/// trackers, then BEP 9 from each in turn.
async fn fetch_once(
    session: &Session,
    hashes: btl_types::InfoHashes,
    record: &Record,
) -> Result<Torrent, String> {
    let mut peers = resolve_peers(&record.peers).await;
    let port = session.local_addrs().first().map_or(0, |a| a.port());
    for url in &record.trackers {
        let params = btl_net::tracker_client::AnnounceParams {
            info_hash: hashes.wire_id(),
            peer_id: session.peer_id(),
            port,
            uploaded: 0,
            downloaded: 0,
            left: u64::MAX >> 1,
            event: btl_tracker_proto::Event::None,
            numwant: 50,
            key: 0,
            bind: session
                .local_addrs()
                .first()
                .map(|a| a.ip())
                .filter(|ip| !ip.is_unspecified()),
            tls: Default::default(),
        };
        match btl_net::tracker_client::announce(url, &params, Duration::from_secs(15)).await {
            Ok(r) => peers.extend(r.peers),
            Err(e) => tracing::info!(tracker = %url, error = %e, "announce for metadata failed"),
        }
    }
    peers.sort_unstable();
    peers.dedup();
    if peers.is_empty() {
        return Err(if record.trackers.is_empty() {
            "waiting for peers to fetch the metadata from: the magnet names none (x.pe) and has no \
             trackers; add peers through the API (`peers`)"
                .to_string()
        } else {
            "waiting for peers to fetch the metadata from: the magnet's trackers gave none yet"
                .to_string()
        });
    }
    let info = btl_net::metadata::fetch_metadata(session, hashes, &peers, METADATA_PER_PEER)
        .await
        .map_err(|e| format!("fetching metadata: {e}"))?;
    Torrent::from_info_bytes(&info)
        .map_err(|e| format!("the metadata from peers is not a valid torrent: {e}"))
}
