//! Torrent creation: hashing a file or directory into a v1, v2 or hybrid
//! torrent.
//!
//! [`create`] walks the path, lays the files out, hashes them on all cores
//! and returns the encoded `.torrent`. The info dictionary it writes is
//! byte-for-byte the one libtorrent 2.0.8's `create_torrent` writes for the
//! same files and piece length (default flags; `v1_only` / `v2_only` for
//! the single-version kinds), so both produce the same infohashes. The
//! interop test `tests/create_libtorrent.rs` checks this.
//!
//! # What goes into the info dictionary
//!
//! | key | v1 | v2 | hybrid |
//! |---|---|---|---|
//! | `name` | ✓ | ✓ | ✓ |
//! | `piece length` | ✓ | ✓ | ✓ |
//! | `private` (`1`, only when set) | ✓ | ✓ | ✓ |
//! | `length` (path is a file) or `files` (path is a directory) | ✓ | | ✓ |
//! | `pieces` (SHA-1 of each piece) | ✓ | | ✓ |
//! | `file tree`, `meta version` = 2 | | ✓ | ✓ |
//!
//! `piece layers` (v2, hybrid) lives *outside* the info dictionary, as BEP 52
//! says, and holds the piece layer of every file longer than one piece,
//! keyed by its `pieces root` (identical files share one entry). So do
//! `announce`, `announce-list`, `comment`, `created by`, `creation date` and
//! `url-list`.
//!
//! # Files: order, attributes, pad files
//!
//! - **Which files**: see the walk rules below; in short, everything under
//!   the directory, hidden files included, symbolic links followed, empty
//!   directories dropped.
//! - **Order**: sorted by path components, byte-wise, one component at a time
//!   (`a/x` < `a b` < `b`). This is the key order of the v2 `file tree`, and
//!   libtorrent sorts v2 and hybrid torrents the same way. v1-only torrents
//!   use the same order (libtorrent keeps the order it was given there).
//! - **Layout**: a file given directly makes a single-file torrent (`length`
//!   in v1, `file tree` = `{name: {"": {...}}}` in v2). A directory makes a
//!   multi-file torrent (`files` in v1, one `file tree` entry per path
//!   component in v2), even if it holds a single file; `name` is the
//!   directory's name.
//! - **Empty files** are listed (`length` 0) and have no `pieces root`.
//! - **Executable files** (owner-execute bit; for symbolic links, the bit of
//!   the link itself) get BEP 47 `attr` = `"x"`, in
//!   the v1 `files` entry and in the v2 `file tree` leaf.
//! - **Pad files** (BEP 47, hybrid only, and only when the torrent lists
//!   more than one file): after *every* file whose end is not on a piece
//!   boundary, the last one included, a pad entry `{attr: "p", length: n,
//!   path: [".pad", "<n>"]}` fills the piece with `n` zero bytes. The zeros
//!   count in the v1 piece hash. So every file starts a new piece, and a
//!   piece's bytes serve both the v1 and the v2 hash. v1-only torrents have
//!   no pad files: pieces run across file boundaries (as mktorrent and
//!   libtorrent's `v1_only` do). v2-only torrents have none either: BEP 52
//!   aligns files by itself.
//!
//! # Walk rules
//!
//! - Symbolic links are followed (a link to a file is hashed as the target;
//!   a link to a directory is walked). A linked file's executable bit is
//!   the link's own, as libtorrent reads it, and a link's mode is `0o777`
//!   on Linux: linked files are marked `attr` "x".
//!   Broken links are skipped, and so is a link back to a directory that is
//!   already being walked (a loop).
//! - FIFOs, sockets and devices are skipped (libtorrent would list them as
//!   empty files).
//! - File names are taken as raw bytes (on Unix); they are not normalized.
//!
//! # Speed and memory
//!
//! Every byte is read once (positional reads, no mmap) and hashed once per
//! algorithm, while it is in the L1 cache: each 16 KiB block goes through
//! SHA-1 (v1) and SHA-256 (the v2 leaf) back to back. Worker threads (all
//! cores by default) claim the next piece from an atomic counter. Each
//! thread owns one 64 KiB read buffer (small reads keep the kernel's copy
//! out of the page cache cheap; see `hasher.rs`), so memory does not grow
//! with the payload, only the hash lists do (20 + 32 bytes per piece).

mod encode;
mod hasher;
mod layout;
mod walk;

use btl_types::InfoHashes;
use std::path::{Path, PathBuf};

pub use layout::{default_piece_length, MAX_PIECE_LENGTH, MIN_PIECE_LENGTH};

/// Which kind of torrent to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TorrentVersion {
    /// BEP 3 only: `pieces` of SHA-1 hashes, no pad files.
    V1,
    /// BEP 52 only: `file tree` with SHA-256 Merkle roots.
    V2,
    /// Both, in one info dictionary, with BEP 47 pad files so that files
    /// start on piece boundaries. Readable by v1 and v2 clients alike.
    #[default]
    Hybrid,
}

impl TorrentVersion {
    /// Whether the torrent has v1 metadata (`pieces`).
    pub fn has_v1(self) -> bool {
        matches!(self, Self::V1 | Self::Hybrid)
    }

    /// Whether the torrent has v2 metadata (`file tree`).
    pub fn has_v2(self) -> bool {
        matches!(self, Self::V2 | Self::Hybrid)
    }
}

/// What to put into the torrent, besides the files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// v1, v2 or hybrid (the default).
    pub version: TorrentVersion,
    /// Bytes per piece; `None` picks [`default_piece_length`]. v2 and hybrid
    /// need a power of two of at least 16 KiB; v1 a multiple of 16 KiB. At
    /// most [`MAX_PIECE_LENGTH`].
    pub piece_length: Option<u64>,
    /// Tracker URLs grouped in tiers (BEP 12). The first URL is also written
    /// as `announce`; `announce-list` is written when there is more than
    /// one URL. Empty strings and empty tiers are dropped.
    pub trackers: Vec<Vec<String>>,
    /// Web seed URLs (BEP 19), written as the `url-list` list.
    pub web_seeds: Vec<String>,
    /// Sets `private` = 1 in the info dictionary (BEP 27).
    pub private: bool,
    /// The `comment` field.
    pub comment: Option<String>,
    /// The `created by` field.
    pub created_by: Option<String>,
    /// The `creation date` field, seconds since the Unix epoch. `None`
    /// leaves it out (reproducible output).
    pub creation_date: Option<i64>,
    /// Hashing threads; `None` means one per available core.
    pub threads: Option<usize>,
}

/// A created torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The whole `.torrent` file, bencoded.
    pub torrent: Vec<u8>,
    /// Its infohashes (v1, v2, or both for a hybrid).
    pub info_hashes: InfoHashes,
    /// Payload bytes: the sum of the file lengths, pad files not counted.
    pub total_length: u64,
    /// The piece length used.
    pub piece_length: u64,
    /// Number of files in the torrent, pad files not counted.
    pub files: usize,
}

/// Why a torrent could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// Reading the file system failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path is neither a regular file nor a directory.
    #[error("{}: not a regular file or a directory", path.display())]
    NotAFileOrDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The path has no last component to name the torrent after (e.g. `/`).
    #[error("{}: cannot name a torrent after this path", path.display())]
    NoName {
        /// The path given.
        path: PathBuf,
    },
    /// There are no files, or all of them are empty.
    #[error(
        "{}: nothing to hash (no files, or only empty ones); a torrent needs at least one byte",
        path.display()
    )]
    NothingToHash {
        /// The path given.
        path: PathBuf,
    },
    /// The requested piece length is not allowed for this kind of torrent.
    #[error("invalid piece length {piece_length}: {reason}")]
    InvalidPieceLength {
        /// The piece length asked for.
        piece_length: u64,
        /// What is required instead.
        reason: &'static str,
    },
    /// A file's length changed between the walk and the hashing (or during
    /// it); the hashes would not match the file. Try again once it is
    /// stable.
    #[error("{}: file changed while hashing (length was {expected}, now {found})", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Its length when the directory was walked.
        expected: u64,
        /// Its length now.
        found: u64,
    },
    /// The payload has too many pieces to index (more than 2^32).
    #[error("too many pieces ({pieces}); use a larger piece length")]
    TooManyPieces {
        /// The number of pieces it would need.
        pieces: u64,
    },
}

/// Creates a torrent from the file or directory at `path`.
///
/// See the [module documentation](self) for the exact layout.
///
/// `progress` receives `(bytes hashed so far, total bytes)`, pad bytes not
/// counted. It is called from the hashing threads, one call at a time,
/// with increasing values, about every 4 MiB, and a last time with
/// `(total, total)`. Keep it cheap; pass `&|_, _| {}` to ignore it.
///
/// # Errors
///
/// [`CreateError`] if the path cannot be read, holds nothing to hash, the
/// piece length is invalid for the version, or a file changes while it is
/// hashed.
pub fn create(
    path: &Path,
    opts: &CreateOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Created, CreateError> {
    if let Some(pl) = opts.piece_length {
        layout::check_piece_length(pl, opts.version)?;
    }
    let walked = walk::walk(path)?;
    let total: u64 = walked.files.iter().map(|f| f.len).sum();
    if total == 0 {
        return Err(CreateError::NothingToHash {
            path: path.to_path_buf(),
        });
    }
    let piece_length = opts
        .piece_length
        .unwrap_or_else(|| default_piece_length(total));
    let layout = layout::Layout::new(walked, opts.version, piece_length)?;
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let hashes = hasher::hash(&layout, threads, progress)?;
    Ok(encode::encode(&layout, &hashes, opts))
}
