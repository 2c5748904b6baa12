//! Loading what the user points at: a `.torrent`, a `.btl` or a magnet link.

use anyhow::{bail, Context, Result};
use btl_metainfo::compact::{self, BtlHeader};
use btl_metainfo::magnet::Magnet;
use btl_metainfo::torrent::Torrent;
use std::path::Path;

/// Largest torrent file we read (a .torrent of a multi-terabyte payload is
/// tens of MiB).
pub const MAX_TORRENT_FILE: u64 = 64 << 20;

/// What an argument named.
pub enum Source {
    /// A parsed torrent, with the `.btl` header if it came from one.
    Torrent {
        torrent: Box<Torrent>,
        /// The `.btl` header, when the input was a `.btl` file.
        btl: Option<BtlHeader>,
    },
    /// A magnet link.
    Magnet(Box<Magnet>),
}

/// Reads a file with a size cap, naming the file in errors.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    if meta.is_dir() {
        bail!("{} is a directory, not a torrent file", path.display());
    }
    if meta.len() > cap {
        bail!(
            "{} is {} bytes, larger than the {} byte limit for torrent files",
            path.display(),
            meta.len(),
            cap
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Loads a `.torrent`, `.btl` or magnet link.
pub fn load(arg: &str) -> Result<Source> {
    if arg.starts_with("magnet:") {
        let m: Magnet = arg.parse().context("invalid magnet link")?;
        if m.infohashes().is_none() {
            bail!("the magnet link has no infohash (it needs xt=urn:btih:... or xt=urn:btmh:...)");
        }
        return Ok(Source::Magnet(Box::new(m)));
    }
    let path = Path::new(arg);
    let raw = read_capped(path, MAX_TORRENT_FILE)?;
    let (bytes, btl) = if compact::is_btl(&raw) {
        let (header, bytes) = compact::btl_to_torrent(&raw)
            .with_context(|| format!("{} is not a valid .btl file", path.display()))?;
        (bytes, Some(header))
    } else {
        (raw, None)
    };
    let torrent = Torrent::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid torrent", path.display()))?;
    Ok(Source::Torrent {
        torrent: Box::new(torrent),
        btl,
    })
}
