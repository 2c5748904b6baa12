//! A torrent's announcer task: keeps the torrent's trackers informed and
//! hands the peers they return to the torrent's actor.
//!
//! BEP 12 tiers: the tiers are tried in order and the URLs of a tier in
//! order; the first URL that answers moves to the front of its tier, and a
//! tier is only left for the next when all its URLs failed. Each of the
//! torrent's ids is announced (a hybrid torrent has the v1 hash and the
//! truncated v2 hash, and v1-only and v2-only peers each use one of them).

use crate::torrent::{Command, State, TorrentStats};
use crate::tracker_client::{announce, AnnounceParams};
use crate::Input;
use btl_tracker_proto::Event;
use btl_types::Sha1Hash;
use btl_wire::PeerId;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot, watch};

/// What the announcer needs to know.
#[derive(Debug, Clone)]
pub struct AnnouncerConfig {
    /// Tracker tiers (BEP 12).
    pub tiers: Vec<Vec<String>>,
    /// The torrent's 20-byte ids.
    pub ids: Vec<Sha1Hash>,
    /// Our peer id.
    pub peer_id: PeerId,
    /// Our listening port.
    pub port: u16,
    /// Our listening address, when it is a specific one (announces are
    /// sent from it).
    pub bind: Option<std::net::IpAddr>,
    /// Bytes in one piece (to turn piece counts into `left`).
    pub piece_length: u64,
    /// Bytes wanted in all.
    pub wanted_bytes: u64,
    /// Which certificates https:// trackers may present.
    pub tls: crate::tracker_client::TrackerTls,
}

/// How announces to one tracker went, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerStatus {
    /// The announce URL.
    pub url: String,
    /// Its BEP 12 tier (0 first).
    pub tier: usize,
    /// Announces that got an answer.
    pub announces: u32,
    /// When the last answer came.
    pub last_success: Option<SystemTime>,
    /// When the last announce was tried.
    pub last_attempt: Option<SystemTime>,
    /// Why the last announce failed (cleared by an answer).
    pub last_error: Option<String>,
    /// Peers in the last answer.
    pub last_peers: usize,
    /// Seeders and leechers in the last answer, when the tracker said.
    pub seeders: Option<u32>,
    /// See `seeders`.
    pub leechers: Option<u32>,
    /// When the next announce is planned.
    pub next_announce: Option<SystemTime>,
}

/// The status of a torrent's trackers, written by its announcer and read
/// by whoever shows it (a short lock, never held across an await).
pub type TrackerBoard = Arc<Mutex<Vec<TrackerStatus>>>;

/// A board listing `tiers`, none announced yet.
pub fn board(tiers: &[Vec<String>]) -> TrackerBoard {
    let list = tiers
        .iter()
        .enumerate()
        .flat_map(|(tier, urls)| {
            urls.iter().map(move |url| TrackerStatus {
                url: url.clone(),
                tier,
                announces: 0,
                last_success: None,
                last_attempt: None,
                last_error: None,
                last_peers: 0,
                seeders: None,
                leechers: None,
                next_announce: None,
            })
        })
        .collect();
    Arc::new(Mutex::new(list))
}

fn update_board(board: &TrackerBoard, url: &str, f: impl FnOnce(&mut TrackerStatus)) {
    if let Ok(mut b) = board.lock() {
        if let Some(t) = b.iter_mut().find(|t| t.url == url) {
            f(t);
        }
    }
}

/// A running announcer.
pub struct AnnouncerHandle {
    stop: oneshot::Sender<()>,
    join: tokio::task::JoinHandle<()>,
}

impl AnnouncerHandle {
    /// Sends `stopped` to the trackers (waiting at most `grace`) and ends.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(grace, self.join).await;
    }
}

/// Per-announce timeout.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(15);
/// Announce interval bounds, whatever the tracker says.
const MIN_INTERVAL: u32 = 30;
const DEFAULT_INTERVAL: u32 = 1800;
/// Retry delay after every tracker failed.
const RETRY: Duration = Duration::from_secs(30);

/// Starts the announcer.
pub fn spawn(
    cfg: AnnouncerConfig,
    stats: watch::Receiver<TorrentStats>,
    actor: mpsc::Sender<Input>,
    board: TrackerBoard,
) -> AnnouncerHandle {
    let (stop, stop_rx) = oneshot::channel();
    let join = tokio::spawn(run(cfg, stats, actor, stop_rx, board));
    AnnouncerHandle { stop, join }
}

async fn run(
    mut cfg: AnnouncerConfig,
    mut stats: watch::Receiver<TorrentStats>,
    actor: mpsc::Sender<Input>,
    mut stop: oneshot::Receiver<()>,
    board: TrackerBoard,
) {
    let key = rand::random::<u32>();
    let mut event = Event::Started;
    // The first snapshot comes once the data is checked: until then `left`
    // is unknown (and would read as 0, making us look like a seed).
    while stats.borrow().state == State::Checking {
        tokio::select! {
            changed = stats.changed() => if changed.is_err() { return },
            _ = &mut stop => return,
        }
    }
    let mut sent_completed = stats.borrow().state == State::Seeding;
    let mut known: HashSet<SocketAddr> = HashSet::new();
    loop {
        let snapshot = stats.borrow().clone();
        let before = known.len();
        let interval =
            announce_all(&mut cfg, &snapshot, event, key, &actor, &mut known, &board).await;
        event = Event::None;
        // A leecher that learnt no new peer asks again soon.
        let starving = known.len() == before && snapshot.state != State::Seeding;
        let wait = match interval {
            Some(_) if starving => Duration::from_secs(u64::from(MIN_INTERVAL)),
            Some(i) => Duration::from_secs(u64::from(i.clamp(MIN_INTERVAL, 24 * 3600))),
            None => RETRY,
        };
        if let Ok(mut b) = board.lock() {
            for t in b.iter_mut() {
                t.next_announce = Some(SystemTime::now() + wait);
            }
        }
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                _ = &mut stop => {
                    let s = stats.borrow().clone();
                    announce_all(&mut cfg, &s, Event::Stopped, key, &actor, &mut known, &board)
                        .await;
                    return;
                }
                changed = stats.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if !sent_completed && stats.borrow().state == State::Seeding {
                        sent_completed = true;
                        event = Event::Completed;
                        break;
                    }
                }
            }
        }
    }
}

/// Announces every id through the tiers; returns the smallest interval a
/// tracker asked for, `None` when no tracker answered.
async fn announce_all(
    cfg: &mut AnnouncerConfig,
    s: &TorrentStats,
    event: Event,
    key: u32,
    actor: &mpsc::Sender<Input>,
    known: &mut HashSet<SocketAddr>,
    board: &TrackerBoard,
) -> Option<u32> {
    let left_pieces = u64::from(s.wanted_pieces.saturating_sub(s.wanted_have));
    let left = (left_pieces * cfg.piece_length).min(cfg.wanted_bytes);
    let mut best: Option<u32> = None;
    for id in cfg.ids.clone() {
        let params = AnnounceParams {
            info_hash: id,
            peer_id: cfg.peer_id,
            port: cfg.port,
            uploaded: s.uploaded,
            downloaded: s.downloaded,
            left,
            event,
            numwant: if event == Event::Stopped { 0 } else { 50 },
            key,
            bind: cfg.bind,
            tls: cfg.tls.clone(),
        };
        'tiers: for tier in &mut cfg.tiers {
            for i in 0..tier.len() {
                let url = tier[i].clone();
                update_board(board, &url, |t| t.last_attempt = Some(SystemTime::now()));
                match announce(&url, &params, ANNOUNCE_TIMEOUT).await {
                    Ok(r) => {
                        update_board(board, &url, |t| {
                            t.announces += 1;
                            t.last_success = Some(SystemTime::now());
                            t.last_error = None;
                            t.last_peers = r.peers.len();
                            t.seeders = Some(r.seeders);
                            t.leechers = Some(r.leechers);
                        });
                        tracing::debug!(%url, peers = r.peers.len(), interval = r.interval, "announced");
                        // The URL that answered goes first in its tier.
                        let u = tier.remove(i);
                        tier.insert(0, u);
                        let interval = if r.interval == 0 {
                            DEFAULT_INTERVAL
                        } else {
                            r.interval
                        };
                        best = Some(best.map_or(interval, |b| b.min(interval)));
                        for addr in r.peers {
                            if known.insert(addr) {
                                let _ = actor.send(Input::Command(Command::AddPeer(addr))).await;
                            }
                        }
                        break 'tiers;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "tracker announce failed");
                        update_board(board, &url, |t| t.last_error = Some(e.to_string()));
                    }
                }
            }
        }
    }
    best
}
