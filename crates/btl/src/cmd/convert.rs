//! `btl convert`: `.torrent` <-> `.btl`, losslessly.

use crate::cmd::create::write_new;
use crate::input::{read_capped, MAX_TORRENT_FILE};
use anyhow::{Context, Result};
use btl_metainfo::compact::{self, BtlHeader};
use btl_metainfo::torrent::Torrent;
use serde_json::json;
use std::path::PathBuf;

/// Convert between .torrent and the compact binary .btl format.
///
/// The direction follows the input: a .torrent becomes a .btl and a .btl
/// becomes a .torrent. The conversion is lossless: the infohash, and every
/// key (unknown ones included), survive a round trip.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .torrent or .btl file.
    pub input: PathBuf,
    /// Output path [default: the input with its extension swapped].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(short, long)]
    pub force: bool,
    /// Print a JSON summary instead of text.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let raw = read_capped(&args.input, MAX_TORRENT_FILE)?;
    let to_btl = !compact::is_btl(&raw);
    let (out_bytes, torrent_bytes) = if to_btl {
        // Validate first so that a broken torrent is reported as such.
        Torrent::from_bytes(&raw)
            .with_context(|| format!("{} is not a valid torrent", args.input.display()))?;
        let btl = compact::torrent_to_btl(&raw, &BtlHeader::default())
            .with_context(|| format!("cannot convert {}", args.input.display()))?;
        (btl, raw.clone())
    } else {
        let (_, torrent) = compact::btl_to_torrent(&raw)
            .with_context(|| format!("{} is not a valid .btl file", args.input.display()))?;
        Torrent::from_bytes(&torrent)
            .with_context(|| format!("{} decodes to an invalid torrent", args.input.display()))?;
        (torrent.clone(), torrent)
    };
    let info_hashes = Torrent::from_bytes(&torrent_bytes)?.info_hashes();
    let output = args.output.clone().unwrap_or_else(|| {
        args.input
            .with_extension(if to_btl { "btl" } else { "torrent" })
    });
    write_new(&output, &out_bytes, args.force)?;
    let (torrent_len, btl_len) = if to_btl {
        (raw.len(), out_bytes.len())
    } else {
        (out_bytes.len(), raw.len())
    };
    let saved = 100.0 * (1.0 - btl_len as f64 / torrent_len.max(1) as f64);
    if args.json {
        let v = json!({
            "output": output.display().to_string(),
            "direction": if to_btl { "torrent-to-btl" } else { "btl-to-torrent" },
            "torrent_bytes": torrent_len,
            "btl_bytes": btl_len,
            "info_hash_v1": info_hashes.v1().map(|h| h.to_hex()),
            "info_hash_v2": info_hashes.v2().map(|h| h.to_hex()),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "wrote {}: .torrent {} bytes, .btl {} bytes ({saved:.1}% smaller)",
            output.display(),
            torrent_len,
            btl_len
        );
    }
    Ok(())
}
