//! `btl create`: hash a file or directory into a torrent.

use crate::units::{format_bytes, parse_size};
use anyhow::{bail, Context, Result};
use btl_metainfo::create::{self, CreateOptions, TorrentVersion};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Create a .torrent from a file or directory.
///
/// The default is a hybrid torrent (valid as v1 and v2), so that the v2
/// Merkle roots exist for provenance while v1-only clients still join. Use
/// --v1 for audiences whose clients reject hybrids (transmission 3.00,
/// aria2). The piece size defaults to 512 KiB and grows only when the piece
/// count would be unreasonable (see --piece-size).
///
/// Files are hashed on all cores with bounded memory; a progress bar shows
/// on a terminal.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("torrent_version").args(["v1", "v2", "hybrid"])))]
pub struct Args {
    /// The file or directory to share.
    pub path: PathBuf,
    /// Where to write the torrent [default: NAME.torrent in the current directory].
    #[arg(short, long, env = "BTL_OUTPUT")]
    pub output: Option<PathBuf>,
    /// A v1-only torrent (BEP 3), for clients that reject hybrids.
    #[arg(long)]
    pub v1: bool,
    /// A v2-only torrent (BEP 52).
    #[arg(long)]
    pub v2: bool,
    /// A hybrid v1 + v2 torrent (the default).
    #[arg(long)]
    pub hybrid: bool,
    /// Piece size, e.g. 256K, 1M, 4MiB: a power of two of at least 16 KiB
    /// (v1 allows any multiple of 16 KiB). Default: 512 KiB, doubled while
    /// the payload would need more than 8,192 pieces, up to 16 MiB (so up
    /// to 4 GiB gets 512 KiB, 8 GiB 1 MiB, 128 GiB and more 16 MiB).
    #[arg(long, value_parser = parse_size, env = "BTL_PIECE_SIZE")]
    pub piece_size: Option<u64>,
    /// Tracker announce URL; repeat for several tiers (BEP 12).
    #[arg(short, long = "tracker", value_name = "URL")]
    pub trackers: Vec<String>,
    /// Web seed URL (BEP 19); repeat for several.
    #[arg(short, long = "web-seed", value_name = "URL")]
    pub web_seeds: Vec<String>,
    /// Mark the torrent private (no DHT, no PEX: trackers only).
    #[arg(long)]
    pub private: bool,
    /// A free-text comment stored in the torrent.
    #[arg(short, long)]
    pub comment: Option<String>,
    /// Leave out the creation date (for reproducible torrents).
    #[arg(long)]
    pub no_date: bool,
    /// Hashing threads [default: all cores].
    #[arg(long, env = "BTL_THREADS")]
    pub threads: Option<usize>,
    /// Overwrite the output file if it exists.
    #[arg(short, long)]
    pub force: bool,
    /// Print a JSON summary instead of text.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let version = if args.v1 {
        TorrentVersion::V1
    } else if args.v2 {
        TorrentVersion::V2
    } else {
        TorrentVersion::Hybrid
    };
    if !args.path.exists() {
        bail!("{} does not exist", args.path.display());
    }
    let name = torrent_name(&args.path)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}.torrent")));
    if output.exists() && !args.force {
        bail!(
            "{} already exists; pass --force to overwrite it or -o to choose another name",
            output.display()
        );
    }
    let creation_date = if args.no_date {
        None
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
    };
    let opts = CreateOptions {
        version,
        piece_length: args.piece_size,
        trackers: args.trackers.iter().map(|t| vec![t.clone()]).collect(),
        web_seeds: args.web_seeds.clone(),
        private: args.private,
        comment: args.comment.clone(),
        created_by: Some(format!("btl {}", env!("CARGO_PKG_VERSION"))),
        creation_date,
        threads: args.threads,
    };

    let bar = if std::io::stderr().is_terminal() && !args.json {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} hashing [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Some(bar)
    } else {
        None
    };
    let progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let started = Instant::now();
    let created = create::create(&args.path, &opts, &progress)
        .with_context(|| format!("cannot create a torrent from {}", args.path.display()))?;
    let elapsed = started.elapsed();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    write_new(&output, &created.torrent, args.force)?;

    let ih = created.info_hashes;
    let rate = created.total_length as f64 / elapsed.as_secs_f64().max(1e-9);
    if args.json {
        let v = json!({
            "output": output.display().to_string(),
            "name": name,
            "info_hash_v1": ih.v1().map(|h| h.to_hex()),
            "info_hash_v2": ih.v2().map(|h| h.to_hex()),
            "total_length": created.total_length,
            "piece_length": created.piece_length,
            "files": created.files,
            "seconds": elapsed.as_secs_f64(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "created {} ({} in {} file{}, {} pieces) in {:.2}s, {}/s",
            output.display(),
            format_bytes(created.total_length),
            created.files,
            if created.files == 1 { "" } else { "s" },
            format_bytes(created.piece_length),
            elapsed.as_secs_f64(),
            format_bytes(rate as u64),
        );
        if let Some(h) = ih.v1() {
            println!("infohash v1: {h}");
        }
        if let Some(h) = ih.v2() {
            println!("infohash v2: {h}");
        }
    }
    Ok(())
}

fn torrent_name(path: &Path) -> Result<String> {
    let canonical = path
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    canonical
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no usable UTF-8 file name", path.display()))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// crash never leaves a half-written torrent.
pub fn write_new(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", file_name.to_string_lossy()));
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    if !overwrite && path.exists() {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        );
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
