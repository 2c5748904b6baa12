//! A torrent's DHT task: looks the torrent's ids up, hands the peers found
//! to the torrent's actor (as `AddPeer`, like the tracker announcer), and
//! announces our port for each id.
//!
//! A hybrid torrent has two ids (the v1 hash and the truncated v2 hash);
//! both are looked up and announced, since v1-only and v2-only peers each
//! use one of them. A seeder only announces (a lookup still runs first:
//! `mainline` needs the closest nodes' write tokens from it).
//!
//! Rhythm: again after [`REANNOUNCE`] (BEP 5 nodes forget peers after
//! about 30 minutes), sooner while a leecher finds no new peer: after 5 s,
//! then twice as long each time up to [`MAX_STARVING_WAIT`].

use super::Dht;
use crate::torrent::{Command, State, TorrentStats};
use crate::Input;
use btl_types::Sha1Hash;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Interval between announces of a torrent that has peers.
pub const REANNOUNCE: Duration = Duration::from_secs(15 * 60);
/// First retry of a leecher that found no peer.
pub const FIRST_STARVING_WAIT: Duration = Duration::from_secs(5);
/// Longest wait of a leecher that finds no peer.
pub const MAX_STARVING_WAIT: Duration = Duration::from_secs(120);
/// How long one lookup may take.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(30);
/// Peers remembered per torrent (to hand each to the actor once).
const MAX_KNOWN: usize = 4096;

/// A running DHT task of one torrent; it ends with [`DhtAnnouncerHandle::stop`]
/// or when the torrent's stats channel closes.
pub struct DhtAnnouncerHandle {
    stop: oneshot::Sender<()>,
    join: tokio::task::JoinHandle<()>,
}

impl DhtAnnouncerHandle {
    /// Stops the task (an announce in flight is abandoned).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.join.await;
    }
}

/// Starts the task for a torrent with the given ids, served on TCP `port`.
pub fn spawn(
    dht: Dht,
    ids: Vec<Sha1Hash>,
    port: u16,
    stats: watch::Receiver<TorrentStats>,
    actor: mpsc::Sender<Input>,
) -> DhtAnnouncerHandle {
    let (stop, stop_rx) = oneshot::channel();
    let join = tokio::spawn(async move {
        tokio::select! {
            _ = run(dht, ids, port, stats, actor) => {}
            _ = stop_rx => {}
        }
    });
    DhtAnnouncerHandle { stop, join }
}

async fn run(
    dht: Dht,
    ids: Vec<Sha1Hash>,
    port: u16,
    mut stats: watch::Receiver<TorrentStats>,
    actor: mpsc::Sender<Input>,
) {
    // Wait for the data check: a seeder need not look for peers.
    while stats.borrow().state == State::Checking {
        if stats.changed().await.is_err() {
            return;
        }
    }
    let mut known: HashSet<SocketAddr> = HashSet::new();
    let mut starving_wait = FIRST_STARVING_WAIT;
    loop {
        let seeding = stats.borrow().state == State::Seeding;
        let before = known.len();
        for id in &ids {
            let mut fresh = Vec::new();
            dht.lookup(*id, LOOKUP_DEADLINE, |batch| {
                for a in batch {
                    if known.len() < MAX_KNOWN && known.insert(a) {
                        fresh.push(a);
                    }
                }
            })
            .await;
            if !seeding {
                for a in fresh {
                    if actor
                        .send(Input::Command(Command::AddPeer(a)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            match dht.announce(*id, port).await {
                Ok(()) => tracing::debug!(%id, port, "announced to the DHT"),
                Err(e) => tracing::debug!(%id, error = %e, "DHT announce failed"),
            }
        }
        let starving = !seeding && known.len() == before;
        let wait = if starving {
            let w = starving_wait;
            starving_wait = (starving_wait * 2).min(MAX_STARVING_WAIT);
            w
        } else {
            starving_wait = FIRST_STARVING_WAIT;
            REANNOUNCE
        };
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                changed = stats.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
