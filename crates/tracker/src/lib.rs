//! bitorrent's BitTorrent tracker server: HTTP and UDP announce and scrape.
//!
//! # Design
//! - **State**: swarms live in [`swarm::Shard`]s, each behind its own
//!   mutex, chosen by the infohash. A request locks one shard for the
//!   time of a hash-map lookup and a peer copy; there is no global lock
//!   on the hot path, and the periodic expiry sweep takes the shards one
//!   at a time. The whitelist is split the same way, so checking it costs
//!   no extra lock.
//! - **HTTP**: a minimal HTTP/1.1 server on tokio (keep-alive,
//!   pipelining, bounded heads, idle timeout, a connection cap), parsing
//!   with `btl-tracker-proto`. The same server runs over TLS (rustls) on
//!   an optional HTTPS port ([`HttpsConfig`]).
//! - **UDP** (BEP 15): one blocking receive loop per core on the same
//!   socket. Connection ids are a keyed hash of the client's address and
//!   a time window ([`conn_id`]), so spoofed ids are refused without
//!   per-client state.
//! - **Abuse**: per-address token buckets ([`ratelimit`]); a UDP announce
//!   reply is at most [`UDP_AMPLIFICATION`] times the size of its request
//!   (the number of peers is capped to fit), and every other UDP reply
//!   (connect, scrape, error) is no larger than its request, so the
//!   tracker cannot amplify a spoofed flood; packets too broken to carry a
//!   transaction id, too large, or over the rate limit get no reply.
//! - **Time** is injected into the pure parts ([`swarm`]); the server reads
//!   a monotonic clock once per request.
//! - **Persistence** (optional): [`persist`] writes every swarm to a file
//!   periodically and on shutdown, and reads it back at start.
//!
//! # Metrics
//! `GET /stats` (JSON) and `GET /metrics` (Prometheus text) on the HTTP
//! port report [`Stats`].

pub mod conn_id;
mod http;
pub mod persist;
pub mod ratelimit;
mod stats;
pub mod swarm;
mod tls;
mod udp;

pub use stats::Stats;

use btl_tracker_proto::{InfoHash, ScrapeStats};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use swarm::{Announce, Peer, Refused, Shard, ShardLimits};

/// A UDP announce reply is at most this many times the size of its
/// request: with a 98-byte request, 392 bytes, i.e. 62 IPv4 or 20 IPv6
/// peers. A client that wants more may pad its request (BEP 41 options).
pub const UDP_AMPLIFICATION: usize = 4;

/// Largest UDP packet accepted; larger ones are dropped unanswered. A
/// full BEP 15 scrape (74 infohashes) is 1,496 bytes.
pub const MAX_UDP_PACKET: usize = 1500;

/// How the tracker runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listening address (port 0: any free port); `None`: no HTTP.
    pub http: Option<SocketAddr>,
    /// UDP listening address; `None`: no UDP.
    pub udp: Option<SocketAddr>,
    /// HTTPS listening address and certificate; `None`: no HTTPS.
    pub https: Option<HttpsConfig>,
    /// File of allowed infohashes (hex, one a line); `None`: any torrent.
    pub whitelist: Option<PathBuf>,
    /// Where swarms are saved and restored; `None`: in memory only.
    pub state_file: Option<PathBuf>,
    /// How often the state file is written.
    pub save_every: Duration,
    /// Seconds between announces, told to clients.
    pub interval: u32,
    /// Seconds a client must wait at least between announces.
    pub min_interval: u32,
    /// Seconds of silence after which a peer is dropped.
    pub peer_timeout: u32,
    /// Peers returned when a client does not say how many it wants.
    pub default_numwant: u32,
    /// Most peers returned to anyone.
    pub max_numwant: u32,
    /// Requests per second allowed per address (0: unlimited).
    pub rate_limit: u32,
    /// Requests allowed at once per address.
    pub rate_burst: u32,
    /// UDP receive loops (0: one per core).
    pub udp_threads: usize,
    /// Most torrents tracked.
    pub max_torrents: usize,
    /// Most peers per torrent.
    pub max_peers_per_torrent: usize,
    /// Most open HTTP connections.
    pub max_connections: usize,
    /// Whether `GET /scrape` without an infohash lists every torrent
    /// (capped at 1,000).
    pub full_scrape: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http: Some(SocketAddr::from(([0, 0, 0, 0], 6969))),
            udp: Some(SocketAddr::from(([0, 0, 0, 0], 6969))),
            https: None,
            whitelist: None,
            state_file: None,
            save_every: Duration::from_secs(300),
            interval: 1800,
            min_interval: 60,
            peer_timeout: 2 * 1800 + 300,
            default_numwant: 50,
            max_numwant: 200,
            rate_limit: 20,
            rate_burst: 100,
            udp_threads: 0,
            max_torrents: 5_000_000,
            max_peers_per_torrent: 200_000,
            max_connections: 20_000,
            full_scrape: false,
        }
    }
}

/// Where and how the tracker serves HTTPS.
#[derive(Debug, Clone)]
pub struct HttpsConfig {
    /// Listening address (port 0: any free port).
    pub addr: SocketAddr,
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the certificate's private key.
    pub key: PathBuf,
}

/// Why the tracker could not start or do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// A listening socket could not be opened.
    #[error("cannot listen on {proto} {addr}: {source}")]
    Bind {
        /// `HTTP` or `UDP`.
        proto: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The whitelist file could not be read or has a bad line.
    #[error("whitelist {path}: {why}")]
    Whitelist {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line number.
        why: String,
    },
    /// The state file could not be read or written.
    #[error("state file {path}: {source}")]
    State {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTPS certificate or key could not be used.
    #[error("TLS: {path}: {why}")]
    Tls {
        /// The certificate or key file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Nothing to listen on.
    #[error("neither HTTP, HTTPS nor UDP is enabled")]
    NothingToServe,
}

/// Reads a whitelist: one infohash a line, as 40 hex digits (a v1
/// infohash, or the truncated v2 infohash of a hybrid) or 64 hex digits
/// (a v2 infohash, truncated to its first 20 bytes as trackers see it).
/// Blank lines and `#` comments are ignored.
pub fn load_whitelist(path: &Path) -> Result<HashSet<InfoHash>, TrackerError> {
    let bad = |why: String| TrackerError::Whitelist {
        path: path.to_path_buf(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut set = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bytes = match line.len() {
            40 | 64 => decode_hex(line),
            _ => None,
        }
        .ok_or_else(|| {
            bad(format!(
                "line {}: `{line}` is not a 40- or 64-digit hex infohash",
                n + 1
            ))
        })?;
        let mut h = [0u8; 20];
        h.copy_from_slice(&bytes[..20]);
        set.insert(h);
    }
    Ok(set)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    (0..b.len())
        .step_by(2)
        .map(|i| {
            let hi = (b[i] as char).to_digit(16)?;
            let lo = (b.get(i + 1).copied()? as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// Request counters (relaxed atomics; exact enough for metrics).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub http_announces: AtomicU64,
    pub http_scrapes: AtomicU64,
    pub http_failures: AtomicU64,
    pub http_connections: AtomicU64,
    pub udp_connects: AtomicU64,
    pub udp_announces: AtomicU64,
    pub udp_scrapes: AtomicU64,
    pub udp_errors: AtomicU64,
    pub udp_bad_connection_id: AtomicU64,
    pub udp_dropped: AtomicU64,
    pub rate_limited: AtomicU64,
    pub peers_expired: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the HTTP and UDP servers share.
pub(crate) struct Ctx {
    pub config: Config,
    shards: Box<[Mutex<Shard>]>,
    pub conn_ids: conn_id::ConnIds,
    pub limiter: ratelimit::RateLimiter,
    pub counters: Counters,
    pub shutdown: AtomicBool,
    start: Instant,
}

const SHARDS: usize = 256;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: fall back to the std hasher's random keys.
        use std::hash::{BuildHasher, Hasher};
        for chunk in b.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0);
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    b
}

impl Ctx {
    fn new(config: Config) -> Ctx {
        let per_shard = ShardLimits {
            max_torrents: (config.max_torrents / SHARDS).max(1),
            max_peers_per_torrent: config.max_peers_per_torrent,
        };
        let seed = u64::from_le_bytes(random_bytes());
        Ctx {
            shards: (0..SHARDS)
                .map(|i| Mutex::new(Shard::new(per_shard, seed ^ i as u64)))
                .collect(),
            conn_ids: conn_id::ConnIds::new(random_bytes()),
            limiter: ratelimit::RateLimiter::new(
                config.rate_limit,
                config.rate_burst,
                1 << 20,
                seed,
            ),
            counters: Counters::default(),
            shutdown: AtomicBool::new(false),
            start: Instant::now(),
            config,
        }
    }

    pub fn now_secs(&self) -> u32 {
        u32::try_from(self.start.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shard(&self, ih: &InfoHash) -> MutexGuard<'_, Shard> {
        let i = usize::from(ih[0]) | usize::from(ih[1]) << 8;
        Ctx::lock(&self.shards[i % SHARDS])
    }

    /// The number of peers a client gets for `numwant` (`None`: default).
    pub fn numwant(&self, asked: Option<u32>) -> usize {
        asked
            .unwrap_or(self.config.default_numwant)
            .min(self.config.max_numwant) as usize
    }

    pub fn announce(&self, a: &Announce, out: &mut Vec<Peer>) -> Result<ScrapeStats, Refused> {
        let now = self.now_secs();
        self.shard(&a.info_hash).announce(a, now, out)
    }

    pub fn scrape(&self, ih: &InfoHash) -> Option<ScrapeStats> {
        let s = self.shard(ih);
        if let Some(w) = &s.whitelist {
            if !w.contains(ih) {
                return None;
            }
        }
        Some(s.scrape(ih))
    }

    /// Up to `max` swarms, for a full scrape.
    pub fn scrape_all(&self, max: usize) -> Vec<(InfoHash, ScrapeStats)> {
        let mut out = Vec::new();
        for m in self.shards.iter() {
            let s = Ctx::lock(m);
            for (h, t) in &s.torrents {
                if out.len() == max {
                    return out;
                }
                out.push((*h, t.stats()));
            }
        }
        out
    }

    fn sweep(&self) {
        let now = self.now_secs();
        let mut n = 0;
        for m in self.shards.iter() {
            n += Ctx::lock(m).sweep(now, self.config.peer_timeout);
        }
        self.counters
            .peers_expired
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    fn set_whitelist(&self, set: Option<HashSet<InfoHash>>) {
        let mut parts: Vec<Option<HashSet<InfoHash>>> = (0..SHARDS)
            .map(|_| set.as_ref().map(|_| HashSet::new()))
            .collect();
        if let Some(set) = &set {
            for h in set {
                let i = (usize::from(h[0]) | usize::from(h[1]) << 8) % SHARDS;
                if let Some(Some(p)) = parts.get_mut(i) {
                    p.insert(*h);
                }
            }
        }
        for (m, part) in self.shards.iter().zip(parts) {
            Ctx::lock(m).whitelist = part;
        }
    }

    /// Swarm totals: (torrents, peers, seeders).
    fn totals(&self) -> (u64, u64, u64) {
        let (mut t, mut p, mut s) = (0u64, 0u64, 0u64);
        for m in self.shards.iter() {
            let sh = Ctx::lock(m);
            t += sh.torrents.len() as u64;
            p += sh.peers as u64;
            s += sh
                .torrents
                .values()
                .map(|t| u64::from(t.seeders))
                .sum::<u64>();
        }
        (t, p, s)
    }

    /// Calls `f` with each shard in turn (persistence).
    fn for_each_shard(&self, mut f: impl FnMut(&mut Shard)) {
        for m in self.shards.iter() {
            f(&mut Ctx::lock(m));
        }
    }

    fn restore(&self, ih: InfoHash, downloaded: u32, peer: Peer) {
        self.shard(&ih).restore(ih, downloaded, peer);
    }
}

/// A running tracker.
pub struct Tracker {
    ctx: Arc<Ctx>,
    http_addr: Option<SocketAddr>,
    https_addr: Option<SocketAddr>,
    udp_addr: Option<SocketAddr>,
    udp_threads: Vec<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Tracker {
    /// Binds the sockets, restores saved swarms, and starts serving on the
    /// current tokio runtime (multi-threaded).
    pub async fn start(config: Config) -> Result<Tracker, TrackerError> {
        if config.http.is_none() && config.udp.is_none() && config.https.is_none() {
            return Err(TrackerError::NothingToServe);
        }
        let tls = match &config.https {
            Some(h) => Some(tls::server_config(&h.cert, &h.key)?),
            None => None,
        };
        let whitelist = match &config.whitelist {
            Some(p) => Some(load_whitelist(p)?),
            None => None,
        };
        let ctx = Arc::new(Ctx::new(config.clone()));
        ctx.set_whitelist(whitelist);
        if let Some(p) = &config.state_file {
            persist::load(&ctx, p)?;
        }
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let mut http_addr = None;
        if let Some(addr) = config.http {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| TrackerError::Bind {
                    proto: "HTTP",
                    addr,
                    source,
                })?;
            http_addr = l.local_addr().ok();
            tasks.push(tokio::spawn(http::serve(
                l,
                ctx.clone(),
                stop_rx.clone(),
                None,
            )));
        }
        let mut https_addr = None;
        if let (Some(h), Some(tls)) = (&config.https, tls) {
            let addr = h.addr;
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| TrackerError::Bind {
                    proto: "HTTPS",
                    addr,
                    source,
                })?;
            https_addr = l.local_addr().ok();
            tasks.push(tokio::spawn(http::serve(
                l,
                ctx.clone(),
                stop_rx.clone(),
                Some(tokio_rustls::TlsAcceptor::from(tls)),
            )));
        }
        let mut udp_addr = None;
        let mut udp_threads = Vec::new();
        if let Some(addr) = config.udp {
            let bind_err = |source| TrackerError::Bind {
                proto: "UDP",
                addr,
                source,
            };
            let sock = std::net::UdpSocket::bind(addr).map_err(bind_err)?;
            udp_addr = sock.local_addr().ok();
            let n = match config.udp_threads {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            };
            udp_threads = udp::spawn(sock, ctx.clone(), n).map_err(bind_err)?;
        }
        tasks.push(tokio::spawn(housekeeping(ctx.clone(), stop_rx)));
        Ok(Tracker {
            ctx,
            http_addr,
            https_addr,
            udp_addr,
            udp_threads,
            tasks,
            stop,
        })
    }

    /// The HTTP address actually bound.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The HTTPS address actually bound.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    /// The UDP address actually bound.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// Current counts.
    pub fn stats(&self) -> Stats {
        Stats::collect(&self.ctx)
    }

    /// Reads the whitelist file again (e.g. on SIGHUP); returns how many
    /// infohashes it lists. Without a configured whitelist, does nothing.
    pub fn reload_whitelist(&self) -> Result<usize, TrackerError> {
        let Some(p) = &self.ctx.config.whitelist else {
            return Ok(0);
        };
        let set = load_whitelist(p)?;
        let n = set.len();
        self.ctx.set_whitelist(Some(set));
        Ok(n)
    }

    /// Stops serving, and saves the swarms when a state file is set.
    pub async fn shutdown(self) -> Result<(), TrackerError> {
        let _ = self.stop.send(true);
        self.ctx.shutdown.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let threads = self.udp_threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        if let Some(p) = &self.ctx.config.state_file {
            let ctx = self.ctx.clone();
            let p = p.clone();
            tokio::task::spawn_blocking(move || persist::save(&ctx, &p))
                .await
                .map_err(|e| TrackerError::State {
                    path: PathBuf::new(),
                    source: std::io::Error::other(e),
                })??;
        }
        Ok(())
    }
}

/// Expiry sweeps and periodic saves.
async fn housekeeping(ctx: Arc<Ctx>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let sweep_every = Duration::from_secs(u64::from((ctx.config.peer_timeout / 4).clamp(1, 60)));
    let mut sweep = tokio::time::interval(sweep_every);
    let mut save = tokio::time::interval(ctx.config.save_every.max(Duration::from_secs(1)));
    sweep.tick().await;
    save.tick().await;
    loop {
        tokio::select! {
            _ = sweep.tick() => {
                let c = ctx.clone();
                let _ = tokio::task::spawn_blocking(move || c.sweep()).await;
            }
            _ = save.tick() => {
                if let Some(p) = ctx.config.state_file.clone() {
                    let c = ctx.clone();
                    match tokio::task::spawn_blocking(move || persist::save(&c, &p)).await {
                        Ok(Err(e)) => tracing::warn!("{e}"),
                        Err(e) => tracing::warn!("saving state: {e}"),
                        Ok(Ok(())) => {}
                    }
                }
            }
            _ = stop.changed() => return,
        }
    }
}
