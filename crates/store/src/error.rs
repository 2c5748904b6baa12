//! The error type of the storage layer.

use std::io;
use std::path::{Path, PathBuf};

/// Why a storage, verification or resume operation failed.
///
/// Every variant that comes from the file system names the path that
/// failed, so the message can be shown to a user as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file system call failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What was being done (`"open"`, `"write"`, `"fdatasync"`, …).
        op: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A path would leave the download directory, or passes through a
    /// symbolic link. Paths are checked by the metainfo parser too; this is
    /// the storage layer's own defence.
    #[error("{}: refusing unsafe path ({reason})", path.display())]
    UnsafePath {
        /// The offending path (relative to the download root when it comes
        /// from the torrent, absolute when it was found on disk).
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A piece index, or a `begin`/`len` range inside a piece, is outside
    /// the torrent.
    #[error("piece {piece}, bytes {begin}..+{len}: out of range")]
    OutOfRange {
        /// The piece asked for.
        piece: u32,
        /// Offset inside the piece.
        begin: u64,
        /// Length asked for.
        len: u64,
    },
    /// A file index is outside the torrent's file list.
    #[error("file index {file} out of range ({count} files)")]
    NoSuchFile {
        /// The index given.
        file: usize,
        /// Number of files in the torrent (pad files included).
        count: usize,
    },
    /// A whole-piece buffer has the wrong length.
    #[error("piece {piece}: buffer of {found} bytes, the piece has {expected}")]
    PieceLength {
        /// The piece.
        piece: u32,
        /// The piece's length.
        expected: u64,
        /// The buffer's length.
        found: u64,
    },
    /// An argument does not fit the torrent (for example a file selection
    /// of the wrong length).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The torrent cannot be laid out (more than 2^32 pieces, a piece
    /// length over 4 GiB): only reachable for torrents the metainfo parser
    /// did not build.
    #[error("torrent cannot be stored: {0}")]
    Unsupported(String),
    /// The resume journal is unreadable: a bad magic number, a torn or
    /// corrupt header. The caller should delete it and recheck the data.
    #[error("{}: resume journal is corrupt ({reason}); delete it to start over", path.display())]
    JournalCorrupt {
        /// The journal file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The resume journal was written by a newer (or unknown) format
    /// version.
    #[error("{}: resume journal format version {found} is not supported (this build reads {supported})", path.display())]
    JournalVersion {
        /// The journal file.
        path: PathBuf,
        /// The version found in the header.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The resume journal belongs to another torrent (a different infohash,
    /// piece count or file count).
    #[error("{}: resume journal is for another torrent ({what}: expected {expected}, found {found}); delete it to start over", path.display())]
    JournalMismatch {
        /// The journal file.
        path: PathBuf,
        /// Which header field differs.
        what: &'static str,
        /// The value this torrent has.
        expected: String,
        /// The value in the journal.
        found: String,
    },
}

impl StoreError {
    /// An [`StoreError::Io`] for `path`.
    pub(crate) fn io(path: impl AsRef<Path>, op: &'static str, source: io::Error) -> Self {
        StoreError::Io {
            path: path.as_ref().to_path_buf(),
            op,
            source,
        }
    }

    /// A closure building an [`StoreError::Io`], for `map_err`.
    pub(crate) fn io_with<'a>(
        path: &'a Path,
        op: &'static str,
    ) -> impl FnOnce(io::Error) -> StoreError + 'a {
        move |source| StoreError::io(path, op, source)
    }
}
