//! What `btl get` and `btl seed` share: the runtime, the session, the state
//! directory, the DHT node, progress display and Ctrl-C handling.

use crate::units::format_bytes;
use anyhow::{bail, Context, Result};
use btl_net::dht::{Dht, DhtConfig, DhtError, DhtStats};
use btl_net::torrent::{State, TorrentStats};
use btl_net::{Session, SessionConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flags shared by the engine subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// TCP port to listen on for peers (0: any free port).
    #[arg(long, default_value_t = 6881, env = "BTL_PORT")]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0", env = "BTL_LISTEN")]
    pub listen: std::net::IpAddr,
    /// A peer to connect to, as HOST:PORT; repeat for several.
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub peers: Vec<String>,
    /// Where resume data is kept [default: $XDG_STATE_HOME/btl or ~/.local/state/btl].
    #[arg(long, env = "BTL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print progress as JSON lines (one object per event) instead of a bar.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
    /// Download limit per second, e.g. 500K or 10M (binary units); 0 or
    /// absent: unlimited.
    #[arg(long, value_parser = crate::units::parse_size, env = "BTL_MAX_DOWN", value_name = "RATE")]
    pub max_down: Option<u64>,
    /// Do not announce to the torrent's trackers.
    #[arg(long, env = "BTL_NO_TRACKERS")]
    pub no_trackers: bool,
    /// An extra tracker to announce to (http://, https:// or udp://);
    /// repeat for several. Used even with --no-trackers.
    #[arg(long = "tracker", value_name = "URL")]
    pub extra_trackers: Vec<String>,
    /// Also trust the CA certificates in this PEM file for https://
    /// trackers (besides the built-in Mozilla roots), e.g. a private
    /// tracker's own CA.
    #[arg(long, env = "BTL_TRACKER_CA", value_name = "PEM")]
    pub tracker_ca: Option<PathBuf>,
    /// Upload limit per second, e.g. 500K or 10M; 0 or absent: unlimited.
    #[arg(long, value_parser = crate::units::parse_size, env = "BTL_MAX_UP", value_name = "RATE")]
    pub max_up: Option<u64>,
    /// Do not look for peers on the local network (BEP 14 local service
    /// discovery). It is on by default for public torrents: announces go
    /// to the multicast group 239.192.152.143:6771 (IPv6:
    /// [ff15::efc0:988f]:6771) on the interface of --listen (the default
    /// interface when --listen is a wildcard address).
    /// BTL_NO_LSD takes 1/0, yes/no, true/false.
    #[arg(long, env = "BTL_NO_LSD", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_lsd: bool,
    #[command(flatten)]
    pub dht: DhtArgs,
}

/// DHT flags (BEP 5), shared by the engine subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct DhtArgs {
    /// Do not use the DHT: find peers only through trackers, --peer, peer
    /// exchange and local discovery, and do not announce to the DHT.
    /// BTL_NO_DHT takes 1/0, yes/no, true/false.
    #[arg(long, env = "BTL_NO_DHT", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_dht: bool,
    /// A DHT node to join through, as HOST:PORT; repeat (or separate with
    /// commas in the variable) for several. Replaces the public routers
    /// (router.bittorrent.com:6881, router.utorrent.com:6881,
    /// dht.transmissionbt.com:6881, dht.libtorrent.org:25401). Nodes
    /// remembered from the last run (in the state directory) are used too.
    #[arg(
        long = "dht-bootstrap",
        value_name = "HOST:PORT",
        env = "BTL_DHT_BOOTSTRAP",
        value_delimiter = ','
    )]
    pub dht_bootstrap: Vec<String>,
    /// UDP port of the DHT node [default: the same number as the peer
    /// port, or any free port when that one is taken].
    #[arg(long, env = "BTL_DHT_PORT", value_name = "PORT")]
    pub dht_port: Option<u16>,
}

impl DhtArgs {
    /// Starts the DHT node (IPv4 only) unless --no-dht: on `listen` when it
    /// is an IPv4 address, on UDP port --dht-port or `peer_port`. Its
    /// routing table is restored from and saved to `STATE_DIR/dht.nodes`.
    /// Without --dht-port, a node that cannot start is a warning, not an
    /// error: the download goes on without the DHT.
    pub async fn start(
        &self,
        listen: std::net::IpAddr,
        peer_port: u16,
        state_dir: &std::path::Path,
    ) -> Result<Option<Dht>> {
        use std::net::{IpAddr, Ipv4Addr};
        if self.no_dht {
            return Ok(None);
        }
        for b in &self.dht_bootstrap {
            let ok = b
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                bail!("--dht-bootstrap {b}: not a HOST:PORT address");
            }
        }
        let bind = match listen {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(ip) if ip.is_unspecified() => Ipv4Addr::UNSPECIFIED,
            IpAddr::V6(ip) => {
                eprintln!("warning: the DHT is IPv4 only and --listen {ip} is IPv6: no DHT");
                return Ok(None);
            }
        };
        let mut config = DhtConfig::new(bind, self.dht_port.unwrap_or(peer_port));
        if !self.dht_bootstrap.is_empty() {
            config.bootstrap = self.dht_bootstrap.clone();
        }
        config.nodes_file = Some(state_dir.join("dht.nodes"));
        let started = match Dht::start(config.clone()).await {
            Err(DhtError::Bind { .. }) if self.dht_port.is_none() && config.port != 0 => {
                config.port = 0;
                Dht::start(config).await
            }
            r => r,
        };
        match started {
            Ok(d) => Ok(Some(d)),
            Err(e) if self.dht_port.is_none() => {
                eprintln!("warning: no DHT: {e}");
                Ok(None)
            }
            Err(e) => Err(e).context("cannot start the DHT node (use another --dht-port)"),
        }
    }
}

/// Saves the DHT's routing table for the next run (a warning on failure).
pub async fn save_dht(dht: Option<&Dht>) {
    if let Some(d) = dht {
        if let Err(e) = d.save_nodes().await {
            eprintln!("warning: cannot save the DHT nodes: {e}");
        }
    }
}

/// The next change of the DHT's statistics; never resolves without a DHT.
pub async fn dht_changed(rx: &mut Option<tokio::sync::watch::Receiver<DhtStats>>) -> DhtStats {
    if let Some(r) = rx {
        if r.changed().await.is_ok() {
            return r.borrow_and_update().clone();
        }
        // The node is gone: no more changes.
        *rx = None;
    }
    std::future::pending().await
}

/// Prints a `dht` JSON event: what the DHT node has done so far.
pub fn dht_event(s: &DhtStats) {
    event(serde_json::json!({
        "event": "dht",
        "lookups": s.lookups,
        "peers_found": s.peers_found,
        "announces": s.announces,
        "announce_failures": s.announce_failures,
    }));
}

impl EngineArgs {
    /// Resolves `--peer` values (host names included).
    pub fn peer_addrs(&self) -> Result<Vec<SocketAddr>> {
        use std::net::ToSocketAddrs;
        let mut out = Vec::new();
        for p in &self.peers {
            let mut addrs = p
                .to_socket_addrs()
                .with_context(|| format!("--peer {p}: not a HOST:PORT address"))?;
            let a = addrs
                .next()
                .with_context(|| format!("--peer {p}: the name has no address"))?;
            out.push(a);
        }
        Ok(out)
    }

    /// The state directory, created if missing.
    pub fn state_dir(&self) -> Result<PathBuf> {
        let dir = match &self.state_dir {
            Some(d) => d.clone(),
            None => {
                if let Some(x) = std::env::var_os("XDG_STATE_HOME") {
                    PathBuf::from(x).join("btl")
                } else {
                    let home = std::env::var_os("HOME")
                        .context("cannot find a state directory: set --state-dir or HOME")?;
                    PathBuf::from(home).join(".local/state/btl")
                }
            }
        };
        std::fs::create_dir_all(dir.join("resume"))
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        Ok(dir)
    }

    /// Binds the session, falling back to a free port when the default
    /// port is taken.
    pub async fn session(&self) -> Result<Session> {
        let mut config = SessionConfig {
            listen: vec![SocketAddr::new(self.listen, self.port)],
            max_download_rate: self.max_down.unwrap_or(0),
            max_upload_rate: self.max_up.unwrap_or(0),
            ..SessionConfig::default()
        };
        match Session::bind(config.clone()).await {
            Ok(s) => Ok(s),
            Err(e) if self.port == 6881 && e.kind() == std::io::ErrorKind::AddrInUse => {
                config.listen = vec![SocketAddr::new(self.listen, 0)];
                Session::bind(config)
                    .await
                    .context("cannot listen for peers")
            }
            Err(e) => Err(e).with_context(|| {
                format!(
                    "cannot listen on {}:{} (use --port)",
                    self.listen, self.port
                )
            }),
        }
    }
}

impl EngineArgs {
    /// Starts local service discovery for `session` unless --no-lsd; a
    /// failure to join the multicast group is a warning, not an error.
    pub async fn lsd(&self, session: &Session) -> Option<btl_net::lsd::Lsd> {
        if self.no_lsd {
            return None;
        }
        let config = btl_net::lsd::LsdConfig {
            peer_port: session.local_addrs().first().map_or(0, |a| a.port()),
            interface: self.listen,
        };
        match btl_net::lsd::Lsd::start(config).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("warning: local peer discovery is off: cannot join the multicast group on {}: {e}", self.listen);
                None
            }
        }
    }

    /// The tracker tiers to use: the torrent's (unless --no-trackers), then
    /// each --tracker as a tier of its own.
    pub fn tracker_tiers(&self, from_torrent: &[Vec<String>]) -> Vec<Vec<String>> {
        let mut tiers: Vec<Vec<String>> = if self.no_trackers {
            Vec::new()
        } else {
            from_torrent.to_vec()
        };
        for t in &self.extra_trackers {
            tiers.push(vec![t.clone()]);
        }
        tiers.retain(|t| !t.is_empty());
        tiers
    }
}

/// The TLS trust for https:// trackers: the Mozilla roots, plus the CAs
/// in `extra_ca` when given.
pub fn tracker_tls(
    extra_ca: Option<&std::path::Path>,
) -> Result<btl_net::tracker_client::TrackerTls> {
    match extra_ca {
        None => Ok(btl_net::tracker_client::TrackerTls::default()),
        Some(p) => btl_net::tracker_client::TrackerTls::with_extra_ca(p)
            .context("--tracker-ca: cannot use this CA file"),
    }
}

/// A multi-threaded runtime sized to the machine.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("btl")
        .build()
        .context("cannot start the async runtime")
}

/// Shows progress: a bar on a terminal, JSON lines with `--json`, nothing
/// otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    json: bool,
    total_bytes: u64,
}

impl Progress {
    /// A display for a payload of `total_bytes` wanted bytes.
    pub fn new(json: bool, total_bytes: u64, what: &str) -> Progress {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(total_bytes);
            b.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% {msg} ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(what.to_string());
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Progress {
            bar,
            json,
            total_bytes,
        }
    }

    /// Updates the display from a stats snapshot.
    pub fn update(&self, s: &TorrentStats, piece_bytes: impl Fn(u32) -> u64) {
        let done = piece_bytes(s.wanted_have).min(self.total_bytes);
        if let Some(b) = &self.bar {
            b.set_position(done);
            let state = match &s.state {
                State::Checking => format!("checking {} pieces", s.checked),
                _ => format!(
                    "↓ {}/s ↑ {}/s, {} peer{}",
                    format_bytes(s.down_rate as u64),
                    format_bytes(s.up_rate as u64),
                    s.peers,
                    if s.peers == 1 { "" } else { "s" }
                ),
            };
            b.set_message(state);
        }
        if self.json {
            event(serde_json::json!({
                "event": "progress",
                "state": state_name(&s.state),
                "have_pieces": s.have_pieces,
                "wanted_pieces": s.wanted_pieces,
                "wanted_have": s.wanted_have,
                "downloaded": s.downloaded,
                "uploaded": s.uploaded,
                "down_rate": s.down_rate,
                "up_rate": s.up_rate,
                "peers": s.peers,
                "hash_failures": s.hash_failures,
                "banned": s.banned,
            }));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Prints one JSON event line on stdout.
pub fn event(v: serde_json::Value) {
    println!("{v}");
}

/// A short name of a state for JSON.
pub fn state_name(s: &State) -> &'static str {
    match s {
        State::Checking => "checking",
        State::Downloading => "downloading",
        State::Seeding => "seeding",
        State::Failed(_) => "failed",
    }
}

/// Resolves when the user presses Ctrl-C or the process gets SIGTERM.
pub async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
