//! `btl license`: a published torrent's license records.

use std::path::PathBuf;

use anyhow::{bail, Result};
use btl_ledger::TxBody;
use serde_json::json;

use crate::cmd::publish::{submit_manifest, write_prov, SignerArgs};
use crate::cmd::registry_common::{self as rc, LedgerArgs};
use crate::input::{self, Source};

/// A published torrent's license: amend it (a new record; the old ones stay
/// visible), or show its history (every record the ledger holds, oldest
/// first).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LicenseCommand,
}

/// The `btl license` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LicenseCommand {
    /// Record new license terms for a torrent you published.
    Amend(AmendArgs),
    /// Show the license history of a published torrent.
    History(HistoryArgs),
}

/// Record new license terms for a torrent you published.
///
/// Signs a new manifest with the new license and terms, registers it on
/// the ledger as an amendment (an AmendLicense transaction from the
/// creator's account, which pays --fee), waits until it is final, and
/// rewrites <v2 infohash>.prov beside the torrent with the new manifest and
/// its receipt. The earlier records stay on the ledger: `btl license
/// history` lists them all.
///
/// Example: btl license amend album.torrent --key me --license CC-BY-SA-4.0
#[derive(Debug, clap::Args)]
pub struct AmendArgs {
    /// The published .torrent or .btl file.
    pub torrent: PathBuf,
    /// The creator's key (the one that published it) and the new terms.
    #[command(flatten)]
    pub signer: SignerArgs,
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
        LicenseCommand::Amend(a) => amend(a),
        LicenseCommand::History(a) => history(a),
    }
}

fn amend(args: AmendArgs) -> Result<()> {
    let a = &args.signer;
    let p = a.prepare(&args.torrent)?;
    let (torrent, chain_id, client, rt) = (&p.torrent, &p.chain_id, &p.client, &p.rt);
    let ih = p.manifest.infohash_v2;
    let Some(rec) = &p.record else {
        bail!(
            "{} is not registered on {chain_id}: publish it first (btl publish)",
            torrent.name()
        );
    };
    let account = btl_manifest::Account::of(&p.manifest.creator).to_string();
    if rec.registration.creator.to_string() != account {
        bail!(
            "{} was registered by {}, not by key {} ({account}): only its creator can amend it",
            torrent.name(),
            rec.registration.creator,
            a.key
        );
    }
    let (signing, signed) = p.sign(a)?;
    let body = TxBody::AmendLicense {
        infohash_v2: ih.0,
        manifest_hash: signed.id().0,
        license: signed.manifest().license.spdx.clone(),
    };
    let pb = rc::spinner(a.json);
    let result = rt.block_on(submit_manifest(
        client, chain_id, &signing, &signed, body, &a.ledger, &pb,
    ));
    pb.finish_and_clear();
    let crate::cmd::publish::Submitted {
        tx_id,
        height,
        receipt,
        warning,
        ..
    } = result?;
    let out = write_prov(&args.torrent, &signed, receipt.clone())?;
    let license = &signed.manifest().license.spdx;
    if a.json {
        let v = json!({
            "infohash_v2": ih.to_hex(),
            "tx_id": tx_id.to_string(),
            "height": height,
            "chain_id": chain_id,
            "manifest_id": signed.id().to_hex(),
            "license": license,
            "previous_license": rec.registration.license,
            "prov": out.display().to_string(),
            "receipt": receipt.is_some(),
            "warning": warning,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "Amended {} on {chain_id}: {} -> {license}",
            torrent.name(),
            rec.registration.license
        );
        println!("Transaction:  {tx_id} (height {height})");
        println!("Wrote:        {}", out.display());
        if let Some(w) = &warning {
            println!("Warning:      {w}");
        }
        println!(
            "History:      btl license history {}",
            args.torrent.display()
        );
    }
    Ok(())
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
