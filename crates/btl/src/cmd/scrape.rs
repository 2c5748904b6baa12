//! `btl scrape`: ask a tracker how many peers a swarm has.

use crate::input::{self, Source};
use anyhow::{bail, Context, Result};
use btl_net::tracker_client;
use btl_types::Sha1Hash;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// Ask a tracker for the seeders, leechers and completed downloads of
/// swarms (BEP 48 over http:// and https://, BEP 15 over udp://).
///
/// Each SWARM is a .torrent, a .btl, a magnet link or a 40-digit hex
/// infohash. A hybrid torrent is asked about under both of its ids.
///
/// Example: btl scrape https://tracker.example/announce movie.torrent
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tracker's announce URL (its scrape URL is derived from it).
    #[arg(value_name = "TRACKER_URL")]
    pub url: String,
    /// What to ask about.
    #[arg(value_name = "SWARM", required = true)]
    pub swarms: Vec<String>,
    /// Also trust the CA certificates in this PEM file for https://
    /// trackers (besides the built-in Mozilla roots).
    #[arg(long, env = "BTL_TRACKER_CA", value_name = "PEM")]
    pub tracker_ca: Option<PathBuf>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    pub timeout: u64,
    /// Print one JSON object instead of a table.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let mut ids: Vec<Sha1Hash> = Vec::new();
    for s in &args.swarms {
        if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            let raw = hex::decode(s).context("bad hex infohash")?;
            let mut h = [0u8; 20];
            h.copy_from_slice(&raw);
            ids.push(Sha1Hash(h));
            continue;
        }
        let hashes = match input::load(s)? {
            Source::Torrent { torrent, .. } => torrent.info_hashes(),
            Source::Magnet(m) => m.infohashes().context("the magnet link has no infohash")?,
        };
        ids.push(hashes.wire_id());
        if let btl_types::InfoHashes::Hybrid(_, v2) = hashes {
            ids.push(v2.truncated());
        }
    }
    if ids.is_empty() {
        bail!("nothing to scrape");
    }
    let tls = crate::cmd::engine::tracker_tls(args.tracker_ca.as_deref())?;
    let rt = crate::cmd::engine::runtime()?;
    let files = rt
        .block_on(tracker_client::scrape(
            &args.url,
            &ids,
            None,
            &tls,
            Duration::from_secs(args.timeout.max(1)),
        ))
        .with_context(|| format!("cannot scrape {}", args.url))?;
    if args.json {
        let swarms: Vec<_> = files
            .iter()
            .map(|(h, s)| {
                json!({
                    "info_hash": hex::encode(h),
                    "complete": s.complete,
                    "incomplete": s.incomplete,
                    "downloaded": s.downloaded,
                })
            })
            .collect();
        println!("{}", json!({ "tracker": args.url, "swarms": swarms }));
    } else {
        println!(
            "{:<40}  {:>8}  {:>8}  {:>10}",
            "infohash", "seeders", "leechers", "downloads"
        );
        for (h, s) in &files {
            println!(
                "{:<40}  {:>8}  {:>8}  {:>10}",
                hex::encode(h),
                s.complete,
                s.incomplete,
                s.downloaded
            );
        }
        if files.is_empty() {
            eprintln!("the tracker knows none of these swarms");
        }
    }
    Ok(())
}
