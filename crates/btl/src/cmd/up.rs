//! `btl up`: run a node (peer engine, tracker, HTTP API, web UI).

use crate::cmd::engine;
use anyhow::{anyhow, bail, Context, Result};
use btl_node::config::{FileConfig, NodeConfig, DEFAULT_API};
use btl_node::ledger::LedgerHandle;
use btl_node::Node;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Run a node: the peer engine for every torrent you add, a tracker, the
/// ledger, the HTTP API and the web UI.
///
/// The ledger: on first start the node creates a one-validator chain of
/// its own (`btl-local`, key and genesis in DATA/ledger/) and runs it with
/// real consensus; its HTTP API (what `btl publish`/`btl verify` use by
/// default) is at 127.0.0.1:26657, consensus at 127.0.0.1:26656 (free
/// ports when those are taken). --ledger-url follows another ledger
/// instead; --no-ledger runs without one.
///
/// Open the web UI at the API address (default http://127.0.0.1:9091/).
/// `transmission-remote` works against it with no arguments. Torrents and
/// their progress are kept in the data directory: stop with Ctrl-C (or
/// SIGTERM) and run `btl up` again to carry on; even after a crash, every
/// torrent resumes.
///
/// Settings come from the config file (DATA/config.toml, or --config),
/// then BTL_* environment variables, then flags. Clients on other machines
/// (or naming a non-local host) need the token in DATA/api-token.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory [default: $XDG_DATA_HOME/btl or ~/.local/share/btl].
    #[arg(long, env = "BTL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (TOML) [default: DATA/config.toml if it exists].
    #[arg(long, env = "BTL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTP API and web UI address [default: 127.0.0.1:9091].
    #[arg(long, env = "BTL_API", value_name = "ADDR")]
    pub api: Option<SocketAddr>,
    /// Peer listening address [default: 0.0.0.0:6881; a free port if 6881
    /// is taken].
    #[arg(long, env = "BTL_PEER_LISTEN", value_name = "ADDR")]
    pub peer_listen: Option<SocketAddr>,
    /// Where new torrents are saved [default: DATA/downloads].
    #[arg(long, env = "BTL_DOWNLOAD_DIR", value_name = "DIR")]
    pub download_dir: Option<PathBuf>,
    /// Tracker HTTP address [default: 127.0.0.1:6969].
    #[arg(long, env = "BTL_TRACKER_HTTP", value_name = "ADDR")]
    pub tracker_http: Option<SocketAddr>,
    /// Tracker UDP address [default: 127.0.0.1:6969].
    #[arg(long, env = "BTL_TRACKER_UDP", value_name = "ADDR")]
    pub tracker_udp: Option<SocketAddr>,
    /// Do not run the embedded tracker.
    #[arg(long, env = "BTL_NO_TRACKER")]
    pub no_tracker: bool,
    /// Require the API token from every client, loopback ones included.
    #[arg(long, env = "BTL_REQUIRE_TOKEN")]
    pub require_token: bool,
    /// A host name (besides localhost and loopback addresses) whose
    /// requests need no token, e.g. your machine's name on a trusted LAN;
    /// repeat for several.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Session download limit, e.g. 500K or 10M (0: unlimited).
    #[arg(long, value_parser = crate::units::parse_size, env = "BTL_MAX_DOWN", value_name = "RATE")]
    pub max_down: Option<u64>,
    /// Session upload limit, e.g. 500K or 10M (0: unlimited).
    #[arg(long, value_parser = crate::units::parse_size, env = "BTL_MAX_UP", value_name = "RATE")]
    pub max_up: Option<u64>,
    /// Print events as JSON lines (the first, `listening`, says where
    /// everything is).
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
    /// Do not look for peers on the local network (BEP 14 local service
    /// discovery, on the peer address's interface).
    /// BTL_NO_LSD takes 1/0, yes/no, true/false.
    #[arg(long, env = "BTL_NO_LSD", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_lsd: bool,
    #[command(flatten)]
    pub dht: engine::DhtArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

/// Which ledger the node keeps or follows.
#[derive(Debug, clap::Args)]
pub struct LedgerArgs {
    /// Run without a ledger (the explorer answers 503; no provenance
    /// lookups). BTL_NO_LEDGER takes 1/0, yes/no, true/false.
    #[arg(long, env = "BTL_NO_LEDGER", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_ledger: bool,
    /// Follow the ledger whose HTTP API is at this URL (a validator or
    /// full node, e.g. http://10.0.0.5:26657) instead of running one.
    #[arg(
        long,
        env = "BTL_LEDGER_URL",
        value_name = "URL",
        conflicts_with = "no_ledger"
    )]
    pub ledger_url: Option<String>,
    /// The embedded ledger's HTTP API address [default: 127.0.0.1:26657].
    #[arg(long, env = "BTL_LEDGER_HTTP", value_name = "ADDR")]
    pub ledger_http: Option<SocketAddr>,
    /// The embedded ledger's consensus address [default: 127.0.0.1:26656].
    #[arg(long, env = "BTL_LEDGER_P2P", value_name = "ADDR")]
    pub ledger_p2p: Option<SocketAddr>,
    /// With no transactions, the embedded ledger commits one empty block
    /// this often, in milliseconds [default: 30000]. Transactions are
    /// committed as soon as they arrive whatever this says.
    #[arg(long, env = "BTL_LEDGER_IDLE_MS", value_name = "MS")]
    pub ledger_idle_ms: Option<u64>,
}

/// The ledger setting after merging file, environment and flags.
#[derive(Debug, Clone)]
enum LedgerMode {
    Off,
    Remote(String),
    Embedded(crate::cmd::up_ledger::Ports),
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let rt = engine::runtime()?;
    rt.block_on(run_async(args))
}

/// The merged settings: file, then environment and flags (clap has
/// already put environment variables under flags).
struct Settings {
    node: NodeConfig,
    api: SocketAddr,
    require_token: bool,
    allowed_hosts: Vec<String>,
    ledger: LedgerMode,
}

fn settings(args: &Args) -> Result<Settings> {
    let data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => NodeConfig::default_data_dir()
            .context("cannot find a data directory: set --data-dir or HOME")?,
    };
    let (file, data_dir) = match &args.config {
        Some(path) => {
            let f = FileConfig::load(path)?;
            // A data_dir in an explicit config file applies unless a flag
            // (or BTL_DATA_DIR) says otherwise.
            let d = match (&args.data_dir, &f.data_dir) {
                (None, Some(d)) => d.clone(),
                _ => data_dir,
            };
            (f, d)
        }
        None => {
            let path = data_dir.join("config.toml");
            if path.exists() {
                let f = FileConfig::load(&path)?;
                if f.data_dir.is_some() {
                    anyhow::bail!(
                        "{}: data_dir cannot be set in the data directory's own config file",
                        path.display()
                    );
                }
                (f, data_dir)
            } else {
                (FileConfig::default(), data_dir)
            }
        }
    };
    let data_dir = absolute(&data_dir)?;
    let ledger = ledger_mode(&args.ledger, &file)?;
    let mut node = NodeConfig::with_data_dir(data_dir);
    if let Some(d) = args.download_dir.clone().or(file.download_dir) {
        node.download_dir = absolute(&d)?;
    }
    if let Some(a) = args.peer_listen.or(file.peer_listen) {
        node.peer_listen = a;
    }
    node.tracker = !args.no_tracker && file.tracker.unwrap_or(true);
    if let Some(a) = args.tracker_http.or(file.tracker_http) {
        node.tracker_http = Some(a);
    }
    if let Some(a) = args.tracker_udp.or(file.tracker_udp) {
        node.tracker_udp = Some(a);
    }
    node.max_download_rate = args.max_down.or(file.max_download_rate).unwrap_or(0);
    node.max_upload_rate = args.max_up.or(file.max_upload_rate).unwrap_or(0);
    if let Some(n) = file.max_connections {
        node.max_connections = n;
    }
    node.lsd = !args.no_lsd && file.lsd.unwrap_or(true);
    if !args.dht.no_dht && file.dht.unwrap_or(true) {
        let bootstrap = if args.dht.dht_bootstrap.is_empty() {
            file.dht_bootstrap.clone().unwrap_or_default()
        } else {
            args.dht.dht_bootstrap.clone()
        };
        for b in &bootstrap {
            let ok = b
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                anyhow::bail!("DHT bootstrap node {b}: not a HOST:PORT address");
            }
        }
        node.dht = Some(btl_node::config::DhtSettings {
            bootstrap,
            port: args.dht.dht_port,
        });
    }
    let mut allowed_hosts = file.allowed_hosts.unwrap_or_default();
    allowed_hosts.extend(args.allow_hosts.iter().cloned());
    Ok(Settings {
        node,
        api: args.api.or(file.api).unwrap_or_else(|| {
            DEFAULT_API
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9091)))
        }),
        require_token: args.require_token || file.require_token.unwrap_or(false),
        allowed_hosts,
        ledger,
    })
}

fn ledger_mode(a: &LedgerArgs, file: &FileConfig) -> Result<LedgerMode> {
    use crate::cmd::up_ledger::{Ports, DEFAULT_HTTP, DEFAULT_IDLE_MS, DEFAULT_P2P};
    if a.no_ledger {
        return Ok(LedgerMode::Off);
    }
    if let Some(u) = a.ledger_url.clone().or(file.ledger_url.clone()) {
        return Ok(LedgerMode::Remote(u));
    }
    if file.ledger == Some(false) {
        return Ok(LedgerMode::Off);
    }
    let parse = |s: &str| -> Result<SocketAddr> { Ok(s.parse()?) };
    Ok(LedgerMode::Embedded(Ports {
        http: match a.ledger_http.or(file.ledger_http) {
            Some(x) => x,
            None => parse(DEFAULT_HTTP)?,
        },
        p2p: match a.ledger_p2p.or(file.ledger_p2p) {
            Some(x) => x,
            None => parse(DEFAULT_P2P)?,
        },
        idle_ms: match a.ledger_idle_ms.or(file.ledger_idle_ms) {
            Some(0) => bail!("--ledger-idle-ms must be at least 1"),
            Some(ms) => ms,
            None => DEFAULT_IDLE_MS,
        },
    }))
}

fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("cannot read the current directory")?
        .join(p))
}

async fn run_async(args: Args) -> Result<()> {
    let s = settings(&args)?;
    // Bind the API first: a taken port is the likeliest failure, and it
    // should stop us before anything else starts.
    let listener = tokio::net::TcpListener::bind(s.api)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for the API (another program, e.g. transmission-daemon, may \
             use it): choose another address with --api",
                s.api
            )
        })?;
    let api_addr = listener.local_addr().context("API address")?;
    let data_dir = s.node.data_dir.clone();
    let (ledger_node, ledger) = match &s.ledger {
        LedgerMode::Off => (None, None),
        LedgerMode::Remote(url) => {
            let h = LedgerHandle::new(url, false).map_err(|e| anyhow!(e))?;
            (None, Some(h))
        }
        LedgerMode::Embedded(ports) => {
            let n = crate::cmd::up_ledger::start(&data_dir, *ports).await?;
            let url = format!("http://{}", n.http_addr);
            let h = LedgerHandle::new(&url, true).map_err(|e| anyhow!(e))?;
            (Some(n), Some(h))
        }
    };
    let ledger_url = ledger.as_ref().map(|l| l.url().to_string());
    let node = match Node::start_with_ledger(s.node, ledger).await {
        Ok(n) => n,
        Err(e) => {
            if let Some(l) = ledger_node {
                l.stop().await;
            }
            return Err(e).context("cannot start the node");
        }
    };
    let api = node.api();
    let info = api.session();
    let router = btl_http::router(
        api.clone(),
        btl_http::AuthConfig {
            token: node.token().to_string(),
            require_token: s.require_token,
            allowed_hosts: s.allowed_hosts,
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(btl_http::serve(listener, router, async {
        let _ = stop_rx.await;
    }));
    let token_file = data_dir.join("api-token");
    if args.json {
        engine::event(json!({
            "event": "listening",
            "api": api_addr.to_string(),
            "web_ui": format!("http://{api_addr}/"),
            "peer": info.peer_addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "tracker_http": info.tracker_http.map(|a| a.to_string()),
            "tracker_udp": info.tracker_udp.map(|a| a.to_string()),
            "dht": info.dht_addr.map(|a| a.to_string()),
            "lsd": info.lsd,
            "data_dir": data_dir,
            "token_file": token_file,
            "torrents": info.torrents,
            "ledger": ledger_url,
            "ledger_embedded": ledger_node.is_some(),
        }));
    } else {
        eprintln!("btl node running; data in {}", data_dir.display());
        eprintln!("  web UI and API: http://{api_addr}/  (OpenAPI: /api/v1/openapi.json)");
        eprintln!("  Transmission RPC: http://{api_addr}/transmission/rpc");
        eprintln!("  metrics: http://{api_addr}/metrics");
        for a in &info.peer_addrs {
            eprintln!("  peers: {a}");
        }
        if let Some(a) = info.tracker_http {
            eprintln!("  tracker: http://{a}/announce");
        }
        if let Some(a) = info.tracker_udp {
            eprintln!("  tracker: udp://{a}/announce");
        }
        match info.dht_addr {
            Some(a) => eprintln!("  DHT: udp {a}"),
            None => eprintln!("  DHT: off"),
        }
        eprintln!(
            "  local peer discovery: {}",
            if info.lsd { "on" } else { "off" }
        );
        match (&ledger_url, ledger_node.is_some()) {
            (Some(u), true) => eprintln!("  ledger (embedded, chain btl-local): {u}"),
            (Some(u), false) => eprintln!("  ledger (followed): {u}"),
            (None, _) => eprintln!("  ledger: off"),
        }
        eprintln!("  API token for other machines: {}", token_file.display());
        eprintln!("  {} torrent(s); Ctrl-C to stop", info.torrents);
    }
    engine::interrupted().await;
    if !args.json {
        eprintln!("stopping: saving every torrent's state...");
    }
    let _ = stop_tx.send(());
    let saved = node.shutdown().await;
    if let Some(l) = ledger_node {
        let height = l.shared.store.tip().unwrap_or(0);
        l.stop().await;
        if !args.json {
            eprintln!("ledger stopped at height {height}");
        }
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
    saved.context("stopping the node")?;
    if args.json {
        engine::event(json!({"event": "stopped"}));
    } else {
        eprintln!("stopped");
    }
    Ok(())
}
