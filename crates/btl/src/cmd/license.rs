//! `btl license`: a published torrent's license records.

use anyhow::{bail, Result};
use serde_json::json;

use crate::cmd::registry_common::{self as rc, LedgerArgs};
use crate::input::{self, Source};

/// A published torrent's license: show its history (every record the
/// ledger holds, oldest first).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LicenseCommand,
}

/// The `btl license` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LicenseCommand {
    /// Show the license history of a published torrent.
    History(HistoryArgs),
}

/// Show the license records of a published torrent, oldest first: the
/// registration, then every amendment. Earlier records stay valid for what
/// was licensed under them.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The torrent: a .torrent/.btl file, a magnet link, or its v2
    /// infohash (64 hex digits).
    pub torrent: String,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Print JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        LicenseCommand::History(a) => history(a),
    }
}

/// The v2 infohash (hex) named by a file, a magnet or a hex string.
pub fn infohash_arg(arg: &str) -> Result<String> {
    if arg.len() == 64 && arg.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(arg.to_ascii_lowercase());
    }
    let hashes = match input::load(arg)? {
        Source::Torrent { torrent, .. } => torrent.info_hashes(),
        Source::Magnet(m) => match m.infohashes() {
            Some(h) => h,
            None => bail!("the magnet link has no infohash"),
        },
    };
    match hashes.v2() {
        Some(h) => Ok(h.to_hex()),
        None => bail!(
            "{arg} has no v2 infohash: only v2 and hybrid torrents are published \
             (btl create --hybrid or --v2)"
        ),
    }
}

fn history(a: HistoryArgs) -> Result<()> {
    let ih = infohash_arg(&a.torrent)?;
    let rt = rc::runtime()?;
    let (client, chain_id) = rt.block_on(rc::connect(&a.ledger.ledger))?;
    let Some(view) = rt.block_on(client.torrent(&ih))? else {
        bail!("torrent {ih} is not registered on {chain_id}");
    };
    if a.json {
        let v = json!({
            "infohash_v2": ih,
            "chain_id": chain_id,
            "name": view.torrent.registration.name,
            "creator": view.torrent.registration.creator.to_string(),
            "license": view.torrent.registration.license,
            "history": view.history,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{} ({ih}) on {chain_id}, creator {}",
        view.torrent.registration.name, view.torrent.registration.creator
    );
    println!("Current license: {}", view.torrent.registration.license);
    for h in &view.history {
        println!(
            "  height {:>8}  {:<8}  {:<24}  manifest {}  tx {}",
            h.height, h.kind, h.license, h.manifest_hash, h.tx_id
        );
    }
    Ok(())
}
