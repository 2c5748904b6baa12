//! The BitTorrent DHT (BEP 5): finding peers of a torrent without a
//! tracker, and telling the DHT where we are.
//!
//! The node itself is the `mainline` crate (pinned in the workspace): its
//! own thread owns the UDP socket and the routing table, and answers through
//! channels. This module is the one place the rest of bitorrent meets it:
//!
//! - [`Dht`]: a running node (start, look up, announce, save the routing
//!   table, statistics);
//! - [`announcer`]: one task per torrent that looks its ids up and announces
//!   them, feeding found peers to the torrent's actor exactly as the tracker
//!   announcer does;
//! - [`items`]: BEP 44 immutable and signed mutable items, a typed surface
//!   for the trust layer.
//!
//! # Facts about `mainline` 8 that shape this module
//!
//! - IPv4 only (BEP 32 is not implemented): the node binds an IPv4 address.
//! - It parses only 4-byte KRPC transaction ids. libtorrent sends 2-byte ids
//!   in its *queries*, which `mainline` drops, so a libtorrent node cannot
//!   query us; replies to *our* queries echo our 4-byte ids and work. A
//!   `btl` node therefore finds peers through, and announces to, libtorrent
//!   (and other) nodes, while libtorrent finds `btl`'s announces stored on
//!   those nodes.
//! - A node starts read-only (a "client") and answers queries only after
//!   about 15 minutes without being firewalled ("adaptive mode"), unless
//!   [`DhtConfig::server`] asks for it from the start.
//! - Loopback and private addresses are neither filtered nor subject to the
//!   BEP 42 node-id check, so a DHT of nodes on 127.0.0.1 works.
//!
//! # Saved routing table
//!
//! [`Dht::save_nodes`] writes the addresses of the routing table's live
//! nodes to [`DhtConfig::nodes_file`] (format: [`btl_store::dht_nodes`]);
//! the next [`Dht::start`] adds up to [`RESTORED_NODES`] of them to the
//! bootstrap nodes. `mainline` cannot be handed node ids, so the table is
//! rebuilt from their answers.

pub mod announcer;
pub mod items;

use btl_store::dht_nodes;
use btl_types::Sha1Hash;
use futures_lite::StreamExt;
use mainline::async_dht::AsyncDht;
use mainline::Id;
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The public DHT routers a node bootstraps from when none are given.
pub const PUBLIC_ROUTERS: [&str; 4] = [
    "router.bittorrent.com:6881",
    "router.utorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "dht.libtorrent.org:25401",
];

/// Saved nodes added to the bootstrap nodes at start. `mainline` asks every
/// bootstrap node in each lookup while its routing table knows fewer nodes
/// close to the target than there are bootstrap nodes, so the list stays
/// short.
pub const RESTORED_NODES: usize = 16;

/// Most peers one lookup returns (the rest are dropped).
pub const MAX_LOOKUP_PEERS: usize = 2000;

/// How to run a node.
#[derive(Debug, Clone)]
pub struct DhtConfig {
    /// IPv4 address to bind (`0.0.0.0`: all).
    pub bind: Ipv4Addr,
    /// UDP port (0: any free port).
    pub port: u16,
    /// Nodes to bootstrap from, as `HOST:PORT` (names are resolved at
    /// start; one that does not resolve is skipped with a warning).
    pub bootstrap: Vec<String>,
    /// Where the routing table is saved and restored from (`None`: not
    /// kept).
    pub nodes_file: Option<PathBuf>,
    /// Answer other nodes' queries from the start, instead of after
    /// `mainline`'s adaptive-mode delay.
    pub server: bool,
}

impl DhtConfig {
    /// A node on `bind:port` bootstrapping from [`PUBLIC_ROUTERS`].
    pub fn new(bind: Ipv4Addr, port: u16) -> DhtConfig {
        DhtConfig {
            bind,
            port,
            bootstrap: PUBLIC_ROUTERS.iter().map(|s| s.to_string()).collect(),
            nodes_file: None,
            server: false,
        }
    }
}

/// What the node has done so far, for progress displays and scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhtStats {
    /// Peer lookups (`get_peers`) finished.
    pub lookups: u64,
    /// Peers found by lookups (distinct within a lookup, summed over
    /// lookups).
    pub peers_found: u64,
    /// Announces (`announce_peer`) that at least one node stored.
    pub announces: u64,
    /// Announces that no node stored.
    pub announce_failures: u64,
}

/// Why a DHT operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DhtError {
    /// The UDP socket could not be bound.
    #[error("cannot bind the DHT's UDP socket on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddrV4,
        /// What the system said.
        source: std::io::Error,
    },
    /// The routing table is empty: no bootstrap node answered.
    #[error("no DHT node to send to (did any bootstrap node answer?)")]
    NoNodes,
    /// No node answered in time.
    #[error("no DHT node answered in time")]
    Timeout,
    /// Nodes refused the request.
    #[error("DHT nodes refused the request: {0}")]
    Refused(String),
    /// A mutable item lost a race with another writer (BEP 44 `cas`/`seq`).
    #[error("the mutable item changed meanwhile: {0}")]
    Conflict(String),
    /// Bad input to a BEP 44 call.
    #[error("{0}")]
    Item(#[from] items::ItemError),
    /// The saved node list.
    #[error(transparent)]
    Nodes(#[from] dht_nodes::DhtNodesError),
    /// The node's thread is gone.
    #[error("the DHT node stopped")]
    Stopped,
}

impl From<mainline::errors::PutQueryError> for DhtError {
    fn from(e: mainline::errors::PutQueryError) -> Self {
        use mainline::errors::PutQueryError as P;
        match e {
            P::NoClosestNodes => DhtError::NoNodes,
            P::Timeout => DhtError::Timeout,
            P::ErrorResponse(e) => DhtError::Refused(format!("{} {}", e.code, e.description)),
        }
    }
}

/// A running DHT node; clones share it. The node stops when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Dht {
    inner: Arc<Inner>,
}

struct Inner {
    dht: AsyncDht,
    local: SocketAddrV4,
    nodes_file: Option<PathBuf>,
    stats: watch::Sender<DhtStats>,
}

impl std::fmt::Debug for Dht {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dht")
            .field("local", &self.inner.local)
            .finish_non_exhaustive()
    }
}

impl Dht {
    /// Binds the node and starts it. Bootstrapping goes on in the
    /// background (the first lookup also asks the bootstrap nodes).
    pub async fn start(config: DhtConfig) -> Result<Dht, DhtError> {
        let addr = SocketAddrV4::new(config.bind, config.port);
        let mut bootstrap = resolve(&config.bootstrap).await;
        let built = tokio::task::spawn_blocking(move || -> Result<_, DhtError> {
            if let Some(path) = &config.nodes_file {
                match dht_nodes::load(path) {
                    Ok(saved) => bootstrap.extend(pick_restored(saved, &bootstrap)),
                    Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring the saved DHT nodes"),
                }
            }
            if bootstrap.is_empty() {
                tracing::warn!("no DHT bootstrap node: this node waits to be contacted");
            }
            let mut b = mainline::Dht::builder();
            b.bind_address(config.bind).bootstrap(&bootstrap);
            if config.port != 0 {
                b.port(config.port);
            }
            if config.server {
                b.server_mode();
            }
            let dht = b
                .build()
                .map_err(|source| DhtError::Bind { addr, source })?;
            Ok((dht.as_async(), config.nodes_file))
        })
        .await
        .map_err(|_| DhtError::Stopped)??;
        let (dht, nodes_file) = built;
        let local = dht.info().await.local_addr();
        tracing::info!(%local, "DHT node listening");
        Ok(Dht {
            inner: Arc::new(Inner {
                dht,
                local,
                nodes_file,
                stats: watch::channel(DhtStats::default()).0,
            }),
        })
    }

    /// The UDP address the node listens on.
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.inner.local
    }

    /// Statistics, updated as lookups and announces finish.
    pub fn stats(&self) -> watch::Receiver<DhtStats> {
        self.inner.stats.subscribe()
    }

    /// The addresses of the live nodes in the routing table.
    pub async fn routing_nodes(&self) -> Vec<SocketAddrV4> {
        self.inner
            .dht
            .to_bootstrap()
            .await
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    /// Whether the node answers queries (server mode).
    pub async fn is_server(&self) -> bool {
        self.inner.dht.info().await.server_mode()
    }

    /// Saves the routing table's nodes to [`DhtConfig::nodes_file`], if
    /// one was given; returns how many were saved.
    pub async fn save_nodes(&self) -> Result<usize, DhtError> {
        let Some(path) = self.inner.nodes_file.clone() else {
            return Ok(0);
        };
        let mut nodes = self.routing_nodes().await;
        nodes.retain(dht_nodes::usable);
        nodes.truncate(dht_nodes::MAX_NODES);
        if nodes.is_empty() {
            // Keep an older list rather than replace it with nothing.
            return Ok(0);
        }
        let n = nodes.len();
        tokio::task::spawn_blocking(move || dht_nodes::save(&path, &nodes))
            .await
            .map_err(|_| DhtError::Stopped)??;
        Ok(n)
    }

    /// Looks up the peers of `id`, calling `found` with each batch of peers
    /// not seen before in this lookup, until the lookup ends or `deadline`
    /// passes. Returns how many distinct peers were found.
    pub async fn lookup(
        &self,
        id: Sha1Hash,
        deadline: Duration,
        mut found: impl FnMut(Vec<SocketAddr>),
    ) -> usize {
        let mut seen: HashSet<SocketAddrV4> = HashSet::new();
        let mut stream = self.inner.dht.get_peers(Id::from(id.0));
        let _ = tokio::time::timeout(deadline, async {
            while let Some(batch) = stream.next().await {
                let mut new = Vec::new();
                for a in batch {
                    if seen.len() >= MAX_LOOKUP_PEERS {
                        break;
                    }
                    if a.port() != 0 && !a.ip().is_unspecified() && seen.insert(a) {
                        new.push(SocketAddr::V4(a));
                    }
                }
                if !new.is_empty() {
                    found(new);
                }
            }
        })
        .await;
        let n = seen.len();
        self.inner.stats.send_modify(|s| {
            s.lookups += 1;
            s.peers_found += n as u64;
        });
        n
    }

    /// Looks up the peers of `id` and returns them all (see [`Dht::lookup`]).
    pub async fn get_peers(&self, id: Sha1Hash, deadline: Duration) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        self.lookup(id, deadline, |batch| out.extend(batch)).await;
        out
    }

    /// Tells the nodes closest to `id` that we serve it on TCP `port`.
    pub async fn announce(&self, id: Sha1Hash, port: u16) -> Result<(), DhtError> {
        let r = self
            .inner
            .dht
            .announce_peer(Id::from(id.0), Some(port))
            .await;
        self.inner.stats.send_modify(|s| match r {
            Ok(_) => s.announces += 1,
            Err(_) => s.announce_failures += 1,
        });
        r.map(|_| ()).map_err(DhtError::from)
    }

    pub(crate) fn mainline(&self) -> &AsyncDht {
        &self.inner.dht
    }
}

/// The ids a torrent is looked up and announced under: the v1 hash and,
/// for a v2 or hybrid torrent, the truncated v2 hash.
pub fn torrent_ids(hashes: &btl_types::InfoHashes) -> Vec<Sha1Hash> {
    let mut ids = vec![hashes.wire_id()];
    if let btl_types::InfoHashes::Hybrid(_, v2) = hashes {
        ids.push(v2.truncated());
    }
    ids
}

/// How long resolving the bootstrap names may take in all (an offline
/// machine's resolver can take much longer to give up).
const RESOLVE_DEADLINE: Duration = Duration::from_secs(5);

/// Resolves `HOST:PORT` names to IPv4 addresses (the DHT is IPv4 only),
/// all at once, giving up on those not resolved within
/// [`RESOLVE_DEADLINE`].
async fn resolve(names: &[String]) -> Vec<SocketAddrV4> {
    let mut set = tokio::task::JoinSet::new();
    for (i, name) in names.iter().enumerate() {
        let name = name.clone();
        set.spawn(async move { (i, tokio::net::lookup_host(name).await) });
    }
    let mut found: Vec<(usize, Vec<SocketAddrV4>)> = Vec::new();
    let deadline = tokio::time::sleep(RESOLVE_DEADLINE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = set.join_next() => match next {
                None => break,
                Some(Ok((i, Ok(addrs)))) => {
                    let v4: Vec<SocketAddrV4> = addrs
                        .filter_map(|a| match a {
                            SocketAddr::V4(a) => Some(a),
                            SocketAddr::V6(_) => None,
                        })
                        .collect();
                    if v4.is_empty() {
                        tracing::warn!(node = %names[i], "DHT bootstrap node has no IPv4 address");
                    }
                    found.push((i, v4));
                }
                Some(Ok((i, Err(e)))) => {
                    tracing::warn!(node = %names[i], error = %e, "cannot resolve DHT bootstrap node");
                }
                Some(Err(_)) => {}
            },
            _ = &mut deadline => {
                tracing::warn!("DHT bootstrap names not resolved in {RESOLVE_DEADLINE:?}: skipped");
                break;
            }
        }
    }
    // In the order given.
    found.sort_by_key(|(i, _)| *i);
    let mut out: Vec<SocketAddrV4> = Vec::new();
    for a in found.into_iter().flat_map(|(_, v)| v) {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// Up to [`RESTORED_NODES`] of the saved nodes, chosen at random, that are
/// not bootstrap nodes already.
fn pick_restored(mut saved: Vec<SocketAddrV4>, bootstrap: &[SocketAddrV4]) -> Vec<SocketAddrV4> {
    use rand::seq::SliceRandom;
    saved.retain(|a| !bootstrap.contains(a));
    saved.shuffle(&mut rand::rng());
    saved.truncate(RESTORED_NODES);
    saved
}

#[cfg(test)]
mod tests;
