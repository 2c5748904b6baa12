//! `btl info`: everything a user needs to know about a torrent.

use crate::input::{self, Source};
use crate::units::format_bytes;
use anyhow::Result;
use btl_metainfo::magnet::Magnet;
use btl_metainfo::torrent::{Torrent, Version};
use serde_json::{json, Value};

/// Show what a .torrent, .btl or magnet link contains.
///
/// Prints the name, infohashes, version, piece size and count, files with
/// sizes, trackers, web seeds and a magnet link. BEP 47 pad files are hidden
/// unless --pad-files is given.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .torrent file, a .btl file, or a magnet link (quote it in the shell).
    pub input: String,
    /// Print one JSON object instead of text (for scripts).
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
    /// Also list BEP 47 pad files.
    #[arg(long)]
    pub pad_files: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    match input::load(&args.input)? {
        Source::Torrent { torrent, btl, .. } => {
            let magnet = magnet_for(&torrent).to_string();
            if args.json {
                let mut v = torrent_json(&torrent, args.pad_files);
                v["magnet"] = json!(magnet);
                v["format"] = json!(if btl.is_some() { "btl" } else { "torrent" });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_torrent(&torrent, &magnet, args.pad_files, btl.is_some());
            }
        }
        Source::Magnet(m) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&magnet_json(&m))?);
            } else {
                print_magnet(&m);
            }
        }
    }
    Ok(())
}

/// The magnet link for a torrent: both infohashes for a hybrid, its name,
/// trackers (all tiers, in order) and web seeds.
pub fn magnet_for(t: &Torrent) -> Magnet {
    let mut m = Magnet::new(t.info_hashes());
    m.name = Some(t.name().to_string());
    m.trackers = t.trackers().iter().flatten().cloned().collect();
    m.web_seeds = t.web_seeds().to_vec();
    m
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::V1 => "v1",
        Version::V2 => "v2",
        Version::Hybrid => "hybrid",
    }
}

/// The JSON description of a torrent (also used by other subcommands).
pub fn torrent_json(t: &Torrent, pad_files: bool) -> Value {
    let ih = t.info_hashes();
    let files: Vec<Value> = t
        .files()
        .iter()
        .filter(|f| pad_files || !f.attr.pad)
        .map(|f| {
            json!({
                "path": f.path.join("/"),
                "length": f.length,
                "offset": f.offset,
                "pad": f.attr.pad,
                "executable": f.attr.executable,
                "hidden": f.attr.hidden,
                "symlink": f.attr.symlink,
                "pieces_root": f.pieces_root.map(|r| r.to_hex()),
            })
        })
        .collect();
    json!({
        "name": t.name(),
        "version": version_name(t.version()),
        "info_hash_v1": ih.v1().map(|h| h.to_hex()),
        "info_hash_v2": ih.v2().map(|h| h.to_hex()),
        "piece_length": t.piece_length(),
        "piece_count": t.piece_count(),
        "total_length": t.total_length(),
        "file_count": t.files().iter().filter(|f| !f.attr.pad).count(),
        "private": t.is_private(),
        "trackers": t.trackers(),
        "web_seeds": t.web_seeds(),
        "comment": t.comment(),
        "created_by": t.created_by(),
        "creation_date": t.creation_date(),
        "files": files,
    })
}

fn print_torrent(t: &Torrent, magnet: &str, pad_files: bool, from_btl: bool) {
    let ih = t.info_hashes();
    let row = |k: &str, v: &dyn std::fmt::Display| println!("{k:<13}{v}");
    row("Name:", &t.name());
    let version = match t.version() {
        Version::V1 => "v1 (BEP 3)",
        Version::V2 => "v2 (BEP 52)",
        Version::Hybrid => "hybrid (v1 + v2)",
    };
    row("Version:", &version);
    if from_btl {
        row("Format:", &"compact .btl");
    }
    if let Some(h) = ih.v1() {
        row("Infohash v1:", &h);
    }
    if let Some(h) = ih.v2() {
        row("Infohash v2:", &h);
    }
    let real: Vec<_> = t.files().iter().filter(|f| !f.attr.pad).collect();
    row(
        "Size:",
        &format!(
            "{} ({} bytes) in {} file{}",
            format_bytes(t.total_length()),
            t.total_length(),
            real.len(),
            if real.len() == 1 { "" } else { "s" }
        ),
    );
    row(
        "Pieces:",
        &format!("{} of {}", t.piece_count(), format_bytes(t.piece_length())),
    );
    row("Private:", &if t.is_private() { "yes" } else { "no" });
    for (i, tier) in t.trackers().iter().enumerate() {
        row(
            if i == 0 { "Trackers:" } else { "" },
            &format!("tier {}: {}", i + 1, tier.join(", ")),
        );
    }
    for (i, ws) in t.web_seeds().iter().enumerate() {
        row(if i == 0 { "Web seeds:" } else { "" }, ws);
    }
    if let Some(c) = t.comment() {
        row("Comment:", &c);
    }
    if let Some(c) = t.created_by() {
        row("Created by:", &c);
    }
    if let Some(d) = t.creation_date() {
        row("Created on:", &format!("{d} (unix time)"));
    }
    row("Magnet:", &magnet);
    println!("Files:");
    for f in t.files().iter().filter(|f| pad_files || !f.attr.pad) {
        let mut flags = String::new();
        if f.attr.pad {
            flags.push_str(" [pad]");
        }
        if f.attr.executable {
            flags.push_str(" [x]");
        }
        if f.attr.hidden {
            flags.push_str(" [hidden]");
        }
        if f.attr.symlink {
            flags.push_str(" [symlink]");
        }
        let path = if f.path.is_empty() {
            t.name().to_string()
        } else {
            f.path.join("/")
        };
        println!("  {:>12}  {path}{flags}", format_bytes(f.length));
    }
}

fn magnet_json(m: &Magnet) -> Value {
    let ih = m.infohashes();
    json!({
        "format": "magnet",
        "name": m.name,
        "info_hash_v1": ih.and_then(|h| h.v1()).map(|h| h.to_hex()),
        "info_hash_v2": ih.and_then(|h| h.v2()).map(|h| h.to_hex()),
        "trackers": m.trackers,
        "web_seeds": m.web_seeds,
        "peers": m.peers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "ledger_ref": m.ledger_ref.map(|r| r.to_hex()),
        "magnet": m.to_string(),
    })
}

fn print_magnet(m: &Magnet) {
    let row = |k: &str, v: &dyn std::fmt::Display| println!("{k:<13}{v}");
    row("Name:", &m.name.as_deref().unwrap_or("(not given)"));
    if let Some(ih) = m.infohashes() {
        if let Some(h) = ih.v1() {
            row("Infohash v1:", &h);
        }
        if let Some(h) = ih.v2() {
            row("Infohash v2:", &h);
        }
    }
    for (i, t) in m.trackers.iter().enumerate() {
        row(if i == 0 { "Trackers:" } else { "" }, t);
    }
    for (i, w) in m.web_seeds.iter().enumerate() {
        row(if i == 0 { "Web seeds:" } else { "" }, w);
    }
    for (i, p) in m.peers.iter().enumerate() {
        row(if i == 0 { "Peers:" } else { "" }, p);
    }
    if let Some(r) = &m.ledger_ref {
        row("Ledger ref:", r);
    }
    println!("(a magnet link carries no file list: the metadata comes from peers)");
}
