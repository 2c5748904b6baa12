//! bitorrent's node: what `btl up` runs.
//!
//! A [`Node`] composes the peer engine (one `btl-net` session for every
//! torrent), the embedded tracker (`btl-tracker`), and — once they are
//! built in — the ledger and provenance checks, and persists its torrents
//! under one data directory (see [`persist`]). Everything a user can do is
//! a method of the one typed facade, [`Api`]: the HTTP routes, the
//! Transmission RPC shim and the web UI call it, nothing else.
//!
//! # State
//! Each torrent has one task (a supervisor) that owns its lifecycle and
//! publishes a snapshot; the [`Api`] reads snapshots without locking and
//! sends commands for changes. The torrent table maps numbers to those
//! tasks and is locked only for lookups and inserts. The list on disk is
//! written whole, atomically, after each change and before the call that
//! made it returns.
//!
//! # Seams for the trust layer
//! - [`ledger::LedgerHandle`]: the node holds an `Option`; ledger queries
//!   answer [`ApiError::LedgerNotEnabled`] while it is `None`.
//! - [`types::Provenance`]: every torrent has a provenance status, `unknown`
//!   until manifests are checked.

mod api;
pub mod config;
mod error;
pub mod fetch;
pub mod ledger;
pub mod persist;
pub mod provenance;
mod summary;
mod supervisor;
pub mod types;

pub use api::{Api, MAX_TORRENT_BYTES};
pub use config::{FileConfig, NodeConfig};
pub use error::{ApiError, NodeError};
pub use types::*;

use api::{Entry, Inner};
use btl_metainfo::torrent::Torrent;
use btl_net::{Session, SessionConfig};
use persist::DataDir;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A running node.
pub struct Node {
    api: Api,
    token: String,
    saver: tokio::task::JoinHandle<()>,
    checker: tokio::task::JoinHandle<()>,
}

/// Keeps every torrent's provenance status fresh: a pass every few
/// seconds computes the missing or stale ones.
async fn check_provenance(api: Api) {
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    loop {
        tick.tick().await;
        api.refresh_provenance().await;
    }
}

impl Node {
    /// Opens the data directory, binds the peer listener and the tracker,
    /// and starts every saved torrent (paused ones stay paused). The node
    /// runs without the ledger.
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        Self::start_with_ledger(config, None).await
    }

    /// [`Node::start`] with a ledger handle: the seam where the embedded
    /// (or a remote) ledger plugs in; its queries answer through
    /// [`Api::ledger`].
    pub async fn start_with_ledger(
        config: NodeConfig,
        ledger: Option<ledger::LedgerHandle>,
    ) -> Result<Node, NodeError> {
        let data = DataDir::open(&config.data_dir)?;
        std::fs::create_dir_all(&config.download_dir).map_err(|source| NodeError::Io {
            what: "download directory",
            path: config.download_dir.clone(),
            source,
        })?;
        let token = data.load_or_create_token()?;
        let list = data.load_list()?;
        let session = bind_session(&config).await?;
        let discovery = supervisor::Discovery {
            dht: start_dht(&config, &session, &data).await?,
            lsd: start_lsd(&config, &session).await,
        };
        let tracker = if config.tracker {
            Some(start_tracker(&config, &data).await?)
        } else {
            None
        };
        let dirty = Arc::new(Notify::new());
        let mut slots = BTreeMap::new();
        let mut next_num = list.next_num.max(1);
        for record in list.torrents {
            next_num = next_num.max(record.num.saturating_add(1));
            let torrent = load_torrent(&data, &record.id);
            let id = record.id.clone();
            let num = record.num;
            let slot = supervisor::spawn(
                session.clone(),
                discovery.clone(),
                data.clone(),
                record,
                torrent,
                dirty.clone(),
            );
            slots.insert(num, Entry { id, slot });
        }
        let inner = Arc::new(Inner {
            tracker_http: tracker.as_ref().and_then(|t| t.http_addr()),
            tracker_udp: tracker.as_ref().and_then(|t| t.udp_addr()),
            tracker: Mutex::new(tracker),
            config,
            data,
            session,
            discovery,
            slots: Mutex::new(slots),
            next_num: AtomicU32::new(next_num),
            save_lock: tokio::sync::Mutex::new(()),
            dirty: dirty.clone(),
            started: Instant::now(),
            ledger,
            provenance: provenance::Cache::default(),
            shutting_down: AtomicBool::new(false),
        });
        let api = Api { inner };
        let saver = {
            let api = api.clone();
            tokio::spawn(async move {
                loop {
                    dirty.notified().await;
                    if let Err(e) = api.save_list().await {
                        tracing::warn!(error = %e, "cannot save the torrent list");
                    }
                }
            })
        };
        let checker = tokio::spawn(check_provenance(api.clone()));
        Ok(Node {
            api,
            token,
            saver,
            checker,
        })
    }

    /// The node's API.
    pub fn api(&self) -> Api {
        self.api.clone()
    }

    /// The HTTP API token (kept in `DATA/api-token`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Stops every torrent (each saves its journal), saves the list, and
    /// stops the tracker (which saves its swarms).
    pub async fn shutdown(self) -> Result<(), NodeError> {
        let inner = &self.api.inner;
        inner.shutting_down.store(true, Ordering::Release);
        let txs: Vec<_> = inner
            .slots
            .lock()
            .map(|s| s.values().map(|e| e.slot.tx.clone()).collect())
            .unwrap_or_default();
        let stops = txs.into_iter().map(|tx| async move {
            let (reply, rx) = tokio::sync::oneshot::channel();
            if tx.send(supervisor::Cmd::Stop(reply)).await.is_ok() {
                // A torrent still checking its data stops at once; one
                // saving its journal takes a moment.
                let _ = tokio::time::timeout(Duration::from_secs(30), rx).await;
            }
        });
        futures_join_all(stops).await;
        self.saver.abort();
        self.checker.abort();
        let saved = self.api.save_list().await;
        if let Some(d) = &inner.discovery.dht {
            if let Err(e) = d.save_nodes().await {
                tracing::warn!(error = %e, "cannot save the DHT nodes");
            }
        }
        let tracker = inner.tracker.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = tracker {
            t.shutdown()
                .await
                .map_err(|e| NodeError::Tracker(e.to_string()))?;
        }
        saved.map_err(|e| NodeError::Io {
            what: "torrent list",
            path: inner.data.list_path(),
            source: std::io::Error::other(e.to_string()),
        })
    }
}

/// Runs futures concurrently and waits for all (no extra dependency).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    futs: impl IntoIterator<Item = F>,
) {
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

fn load_torrent(data: &DataDir, id: &str) -> Option<Arc<Torrent>> {
    let path = data.torrent_path(id);
    let meta = std::fs::metadata(&path).ok()?;
    if meta.len() > MAX_TORRENT_BYTES as u64 {
        tracing::warn!(path = %path.display(), "saved torrent too large; ignored");
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    match Torrent::from_bytes(&bytes) {
        Ok(t) => Some(Arc::new(t)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "saved torrent unreadable; fetching again");
            None
        }
    }
}

async fn bind_session(config: &NodeConfig) -> Result<Session, NodeError> {
    let mut sc = SessionConfig {
        listen: vec![config.peer_listen],
        max_download_rate: config.max_download_rate,
        max_upload_rate: config.max_upload_rate,
        max_connections: config.max_connections,
        ..SessionConfig::default()
    };
    match Session::bind(sc.clone()).await {
        Ok(s) => Ok(s),
        Err(e)
            if config.peer_listen.port() == 6881 && e.kind() == std::io::ErrorKind::AddrInUse =>
        {
            let any = SocketAddr::new(config.peer_listen.ip(), 0);
            tracing::warn!("peer port 6881 is taken; listening on a free port");
            sc.listen = vec![any];
            Session::bind(sc)
                .await
                .map_err(|source| NodeError::PeerListen { addr: any, source })
        }
        Err(source) => Err(NodeError::PeerListen {
            addr: config.peer_listen,
            source,
        }),
    }
}

/// Starts the DHT node when configured: IPv4 only, on the peer port (or
/// any free port when taken) unless a port is set; its routing table is
/// kept in `DATA/dht.nodes`. Without a set port, failing to start is a
/// warning.
async fn start_dht(
    config: &NodeConfig,
    session: &Session,
    data: &DataDir,
) -> Result<Option<btl_net::dht::Dht>, NodeError> {
    use btl_net::dht::{Dht, DhtConfig, DhtError};
    use std::net::{IpAddr, Ipv4Addr};
    let Some(s) = &config.dht else {
        return Ok(None);
    };
    let bind = match config.peer_listen.ip() {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(ip) if ip.is_unspecified() => Ipv4Addr::UNSPECIFIED,
        IpAddr::V6(_) => {
            tracing::warn!("the DHT is IPv4 only and the peer address is IPv6: no DHT");
            return Ok(None);
        }
    };
    let peer_port = session.local_addrs().first().map_or(0, |a| a.port());
    let mut dc = DhtConfig::new(bind, s.port.unwrap_or(peer_port));
    if !s.bootstrap.is_empty() {
        dc.bootstrap = s.bootstrap.clone();
    }
    dc.nodes_file = Some(data.root().join("dht.nodes"));
    let started = match Dht::start(dc.clone()).await {
        Err(DhtError::Bind { .. }) if s.port.is_none() && dc.port != 0 => {
            dc.port = 0;
            Dht::start(dc).await
        }
        r => r,
    };
    match started {
        Ok(d) => Ok(Some(d)),
        Err(e) if s.port.is_none() => {
            tracing::warn!(error = %e, "no DHT");
            Ok(None)
        }
        Err(e) => Err(NodeError::Config(format!(
            "cannot start the DHT node: {e} (set another dht port)"
        ))),
    }
}

/// Starts local service discovery when configured; a failure is a warning.
async fn start_lsd(config: &NodeConfig, session: &Session) -> Option<btl_net::lsd::Lsd> {
    if !config.lsd {
        return None;
    }
    let lc = btl_net::lsd::LsdConfig {
        peer_port: session.local_addrs().first().map_or(0, |a| a.port()),
        interface: config.peer_listen.ip(),
    };
    match btl_net::lsd::Lsd::start(lc).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "local peer discovery is off: cannot join the multicast group");
            None
        }
    }
}

async fn start_tracker(
    config: &NodeConfig,
    data: &DataDir,
) -> Result<btl_tracker::Tracker, NodeError> {
    let tc = btl_tracker::Config {
        http: config.tracker_http,
        udp: config.tracker_udp,
        state_file: Some(data.tracker_state_path()),
        ..btl_tracker::Config::default()
    };
    match btl_tracker::Tracker::start(tc.clone()).await {
        Ok(t) => Ok(t),
        Err(btl_tracker::TrackerError::Bind { .. })
            if [config.tracker_http, config.tracker_udp]
                .iter()
                .flatten()
                .any(|a| a.to_string() == config::DEFAULT_TRACKER) =>
        {
            // The default port is taken (another tracker?): any free port.
            tracing::warn!("tracker port 6969 is taken; the tracker uses a free port");
            let free = |a: Option<SocketAddr>| a.map(|a| SocketAddr::new(a.ip(), 0));
            let tc = btl_tracker::Config {
                http: free(tc.http),
                udp: free(tc.udp),
                ..tc
            };
            btl_tracker::Tracker::start(tc)
                .await
                .map_err(|e| NodeError::Tracker(e.to_string()))
        }
        Err(e) => Err(NodeError::Tracker(e.to_string())),
    }
}

/// For the fuzzer: the node's own parsers on arbitrary bytes (the config
/// file, the saved torrent list, an HTTP reply). Never panics.
#[doc(hidden)]
pub fn fuzz_inputs(data: &[u8]) {
    // An HTTP reply from the ledger or a node (`btl remote`).
    let _ = fetch::status_body(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = FileConfig::parse(text);
    }
    if let Ok(list) = serde_json::from_slice::<persist::ListFile>(data) {
        // What loading does with a list: every record's paths and peers.
        for r in &list.torrents {
            let _ = r.id.parse::<btl_types::Sha1Hash>();
            let _ = r
                .magnet
                .as_deref()
                .map(str::parse::<btl_metainfo::magnet::Magnet>);
            let _ = r.save_dir.is_absolute();
        }
    }
}
