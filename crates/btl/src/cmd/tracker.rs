//! `btl tracker`: run a BitTorrent tracker (HTTP, HTTPS and UDP).

use anyhow::{Context, Result};
use btl_tracker::{Config, Tracker};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Run a BitTorrent tracker: HTTP, HTTPS and UDP (BEP 15) announce and
/// scrape.
///
/// HTTPS is off unless --https is given with --tls-cert and --tls-key,
/// e.g. `--https 0.0.0.0:443 --tls-cert fullchain.pem --tls-key key.pem`;
/// clients then announce to https://HOST/announce.
///
/// Stats are at http://HTTP_ADDR/stats (JSON) and /metrics (Prometheus),
/// and on the HTTPS port too.
/// Stops on Ctrl-C or SIGTERM (saving swarms with --state); SIGHUP
/// reloads the whitelist.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// HTTP address to listen on (port 0: any free port).
    #[arg(
        long,
        default_value = "0.0.0.0:6969",
        env = "BTL_TRACKER_HTTP",
        value_name = "ADDR"
    )]
    pub http: SocketAddr,
    /// UDP address to listen on (port 0: any free port).
    #[arg(
        long,
        default_value = "0.0.0.0:6969",
        env = "BTL_TRACKER_UDP",
        value_name = "ADDR"
    )]
    pub udp: SocketAddr,
    /// Do not serve UDP.
    #[arg(long, env = "BTL_TRACKER_NO_UDP")]
    pub no_udp: bool,
    /// Do not serve plain HTTP (e.g. HTTPS and UDP only).
    #[arg(long, env = "BTL_TRACKER_NO_HTTP")]
    pub no_http: bool,
    /// Also serve HTTPS on this address (port 0: any free port); needs
    /// --tls-cert and --tls-key.
    #[arg(
        long,
        env = "BTL_TRACKER_HTTPS",
        value_name = "ADDR",
        requires_all = ["tls_cert", "tls_key"]
    )]
    pub https: Option<SocketAddr>,
    /// PEM file with the HTTPS certificate chain (leaf first).
    #[arg(
        long,
        env = "BTL_TRACKER_TLS_CERT",
        value_name = "PEM",
        requires = "https"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the HTTPS certificate's private key.
    #[arg(
        long,
        env = "BTL_TRACKER_TLS_KEY",
        value_name = "PEM",
        requires = "https"
    )]
    pub tls_key: Option<PathBuf>,
    /// Track only the infohashes listed in FILE (hex, one a line).
    #[arg(long, env = "BTL_TRACKER_WHITELIST", value_name = "FILE")]
    pub whitelist: Option<PathBuf>,
    /// Save swarms to FILE periodically and on exit, and restore them at
    /// start.
    #[arg(long, env = "BTL_TRACKER_STATE", value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Seconds between two saves of --state (a crash loses at most this
    /// much).
    #[arg(
        long,
        default_value_t = 300,
        env = "BTL_TRACKER_STATE_EVERY",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub state_every: u64,
    /// Seconds between announces, told to clients.
    #[arg(long, default_value_t = 1800, env = "BTL_TRACKER_INTERVAL")]
    pub interval: u32,
    /// Seconds of silence after which a peer is forgotten [default:
    /// 2 × interval + 300].
    #[arg(long, env = "BTL_TRACKER_PEER_TIMEOUT")]
    pub peer_timeout: Option<u32>,
    /// Requests per second allowed per address (IPv6: per /64); 0: no
    /// limit.
    #[arg(long, default_value_t = 20, env = "BTL_TRACKER_RATE_LIMIT")]
    pub rate_limit: u32,
    /// Requests allowed at once per address before the rate applies.
    #[arg(long, default_value_t = 100, env = "BTL_TRACKER_RATE_BURST")]
    pub rate_burst: u32,
    /// Most peers returned in one reply.
    #[arg(long, default_value_t = 200, env = "BTL_TRACKER_MAX_NUMWANT")]
    pub max_numwant: u32,
    /// UDP receive threads (0: one per core).
    #[arg(long, default_value_t = 0, env = "BTL_TRACKER_UDP_THREADS")]
    pub udp_threads: usize,
    /// Allow scrapes without an info_hash (lists up to 1,000 torrents).
    #[arg(long, env = "BTL_TRACKER_FULL_SCRAPE")]
    pub full_scrape: bool,
    /// Print events as JSON lines (the first says where it listens).
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let rt = crate::cmd::engine::runtime()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: Args) -> Result<()> {
    let config = Config {
        http: (!args.no_http).then_some(args.http),
        udp: (!args.no_udp).then_some(args.udp),
        https: match (args.https, &args.tls_cert, &args.tls_key) {
            (Some(addr), Some(cert), Some(key)) => Some(btl_tracker::HttpsConfig {
                addr,
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
        whitelist: args.whitelist.clone(),
        state_file: args.state.clone(),
        interval: args.interval.max(1),
        min_interval: (args.interval / 30).clamp(1, 60),
        peer_timeout: args
            .peer_timeout
            .unwrap_or(args.interval.saturating_mul(2).saturating_add(300)),
        rate_limit: args.rate_limit,
        rate_burst: args.rate_burst,
        max_numwant: args.max_numwant,
        default_numwant: 50.min(args.max_numwant),
        udp_threads: args.udp_threads,
        full_scrape: args.full_scrape,
        save_every: Duration::from_secs(args.state_every),
        ..Config::default()
    };
    let tracker = Tracker::start(config)
        .await
        .context("cannot start the tracker")?;
    let http = tracker.http_addr().map(|a| a.to_string());
    let udp = tracker.udp_addr().map(|a| a.to_string());
    let https = tracker.https_addr().map(|a| a.to_string());
    if args.json {
        println!(
            "{}",
            json!({"event": "listening", "http": http, "https": https, "udp": udp})
        );
    } else {
        if let Some(a) = &http {
            eprintln!("tracker: http://{a}/announce (stats: http://{a}/stats)");
        }
        if let Some(a) = &https {
            eprintln!("tracker: https://{a}/announce");
        }
        if let Some(a) = &udp {
            eprintln!("tracker: udp://{a}/announce");
        }
    }
    wait_for_stop(&tracker, args.json).await?;
    let s = tracker.stats();
    tracker.shutdown().await.context("stopping the tracker")?;
    if args.json {
        println!(
            "{}",
            json!({"event": "stopped", "torrents": s.torrents, "peers": s.peers})
        );
    }
    Ok(())
}

#[cfg(unix)]
async fn wait_for_stop(tracker: &Tracker, json: bool) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => match tracker.reload_whitelist() {
                Ok(n) if json => println!("{}", json!({"event": "whitelist", "torrents": n})),
                Ok(n) => eprintln!("tracker: whitelist reloaded, {n} torrents"),
                Err(e) => eprintln!("tracker: {e} (keeping the previous whitelist)"),
            },
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(_tracker: &Tracker, _json: bool) -> Result<()> {
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")
}
